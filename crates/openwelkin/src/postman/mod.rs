//! A Postman Collection (v2.1) generated from the OpenAPI document, for `openwelkin postman`.
//!
//! One folder per OpenAPI tag (in the document's tag order), one request per path and
//! method. `{tenant}`, `{instance}` and `{clientName}` become collection variables; every
//! other path parameter becomes a Postman path variable (`:patientId`) whose value is the
//! collection variable of the same name (`{{patientId}}`). Query parameters are listed,
//! disabled, with their descriptions. The first item, "Get token", issues a token and
//! stores it in the `token` collection variable that every other request sends as a
//! bearer token.
//!
//! So that the collection runs top to bottom against `serve --demo`: bodies are the
//! schemas' examples, with the example patient and user ids replaced by `{{patientId}}`
//! and `{{userId}}`; a create (`POST /things` where `/things/{thingId}` exists) stores
//! the new record's id in `thingId` from its answer; every DELETE moves to a last folder,
//! "Clean-up", deepest path first, so that a record is deleted after what needs it.

mod demo;

use serde_json::{json, Map, Value};

pub const SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";

/// The path and method of the token request, which "Get token" stands for.
const TOKEN_PATH: &str = "/{tenant}/admin/api_clients/{clientName}";
const TOKEN_METHOD: &str = "post";

const METHODS: [&str; 8] = ["get", "post", "put", "patch", "delete", "head", "options", "trace"];

/// The ids the schemas' examples use for "a patient" and "a user" (api/schemas/).
const EXAMPLE_PATIENT_ID: &str = "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab";
const EXAMPLE_USER_ID: &str = "0b6f7a9e-1c2d-4e3f-8a9b-0c1d2e3f4a5b";

/// The folder every DELETE moves to.
const CLEAN_UP: &str = "Clean-up";

/// Path parameters filled from collection variables of the same name.
const COLLECTION_PATH_VARIABLES: [&str; 3] = ["tenant", "instance", "clientName"];

/// A folder of the collection: its name, its description, its requests with their rank
/// (the order they run in, see `demo::rank`).
type Folder = (String, Option<String>, Vec<(i32, Value)>);

/// The collection for an OpenAPI document (as JSON), with `base_url` as the default of
/// the `baseUrl` variable.
pub fn collection(doc: &Value, base_url: &str) -> Value {
    let mut folders: Vec<Folder> = Vec::new();
    for tag in doc["tags"].as_array().into_iter().flatten() {
        if let Some(name) = tag["name"].as_str() {
            let description = tag["description"].as_str().map(str::to_owned);
            folders.push((name.to_owned(), description, Vec::new()));
        }
    }

    let empty = Map::new();
    let paths = doc["paths"].as_object().unwrap_or(&empty);
    let mut deletes: Vec<(usize, Value)> = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            if path == TOKEN_PATH && method == TOKEN_METHOD {
                continue;
            }
            let mut request = request_item(doc, path, method, item, op);
            if method == "delete" {
                deletes.push((path.matches('/').count(), request));
                continue;
            }
            let created = if method == "post" { created_id(paths, path) } else { None };
            let mut stores: Vec<(String, String)> =
                created.iter().map(|id| (id.clone(), format!("body.{}", stored_key(id)))).collect();
            stores.extend(demo::stores(method, path).map(|(k, v)| (k.to_owned(), v.to_owned())));
            if created.as_deref() == Some("userKey") {
                stores.push(("userId".to_owned(), "body.id".to_owned()));
            }
            if !stores.is_empty() {
                request["event"] = store_script(&stores);
            }
            let rank = demo::rank(method, path, created.is_some());
            let tag = op["tags"].get(0).and_then(Value::as_str).unwrap_or("Other");
            match folders.iter_mut().find(|(name, _, _)| name == tag) {
                Some((_, _, items)) => items.push((rank, request)),
                None => folders.push((tag.to_owned(), None, vec![(rank, request)])),
            }
        }
    }

    // Creates first within a folder, so that reads and updates find their record (a
    // stable sort: otherwise document order, but for the demo's ranks).
    for (_, _, requests) in folders.iter_mut() {
        requests.sort_by_key(|(rank, _)| *rank);
    }
    folders.sort_by_key(|(name, _, _)| !demo::EARLY_FOLDERS.contains(&name.as_str()));
    deletes.sort_by_key(|d| std::cmp::Reverse(d.0));
    folders.push((
        CLEAN_UP.to_owned(),
        Some("Every delete, deepest path first, after the requests that need the records".to_owned()),
        deletes.into_iter().map(|(_, r)| (0, r)).collect(),
    ));

    let mut items = vec![token_item()];
    for (name, description, requests) in folders {
        if requests.is_empty() {
            continue;
        }
        let requests: Vec<Value> = requests.into_iter().map(|(_, r)| r).collect();
        let mut folder = json!({ "name": name, "item": requests });
        if let Some(description) = description {
            folder["description"] = json!(description);
        }
        items.push(folder);
    }

    let mut variables = vec![
        variable("baseUrl", base_url),
        variable("tenant", "demo"),
        variable("instance", "sandbox"),
        variable("clientName", "DEMOAPICLIENT"),
        variable("clientSecret", "demo-secret"),
        variable("token", ""),
    ];
    variables.extend(record_variables(paths).into_iter().map(|(k, v)| variable(&k, &v)));
    let info = &doc["info"];
    json!({
        "info": {
            "name": info["title"].as_str().unwrap_or("openwelkin"),
            "description": info["description"].as_str().unwrap_or(""),
            "version": info["version"].as_str().unwrap_or(""),
            "schema": SCHEMA,
        },
        "item": items,
        "variable": variables,
    })
}

/// One collection variable per path parameter that is not a fixed one: empty until a
/// create stores an id in it, or a demo designer name.
fn record_variables(paths: &Map<String, Value>) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for path in paths.keys() {
        for segment in path.split('/') {
            let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else { continue };
            if COLLECTION_PATH_VARIABLES.contains(&name) {
                continue;
            }
            let name = demo::variable_for(path, name);
            let default = demo::NAMED_DEFAULTS.iter().find(|(k, _)| *k == name).map(|(_, v)| *v).unwrap_or("");
            out.insert(name, default.to_owned());
        }
    }
    out.entry("userId".to_owned()).or_default();
    out
}

/// The path parameter that names what `POST path` creates: `{x}` when `path/{x}` is a
/// path of the document.
fn created_id(paths: &Map<String, Value>, path: &str) -> Option<String> {
    let prefix = format!("{}/{{", path.trim_end_matches('/'));
    paths.keys().find_map(|p| {
        let rest = p.strip_prefix(&prefix)?;
        let name = rest.strip_suffix('}')?;
        (!name.contains('/') && !COLLECTION_PATH_VARIABLES.contains(&name)).then(|| demo::variable_for(p, name))
    })
}

/// The field of a created record that addresses it: a user's `username` (`userKey`), the
/// `name` of what is addressed by name, else the `id`.
fn stored_key(variable: &str) -> &'static str {
    if variable == "userKey" {
        "username"
    } else if variable == "name" || variable.ends_with("Name") {
        "name"
    } else {
        "id"
    }
}

/// A test script that stores values of the answer in collection variables: (variable,
/// JavaScript expression of the parsed answer `body`). A value that is not there (an
/// error answer) leaves the variable as it was.
fn store_script(stores: &[(String, String)]) -> Value {
    let mut exec = vec!["var body = {};".to_owned(), "try { body = pm.response.json(); } catch (e) {}".to_owned()];
    for (name, expr) in stores {
        exec.push(format!(
            "try {{ var v = {expr}; if (v !== undefined && v !== null) {{ pm.collectionVariables.set({name:?}, v); }} }} catch (e) {{}}"
        ));
    }
    json!([{ "listen": "test", "script": { "type": "text/javascript", "exec": exec } }])
}

fn variable(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": value, "type": "string" })
}

fn bearer() -> Value {
    json!({ "type": "bearer", "bearer": [{ "key": "token", "value": "{{token}}", "type": "string" }] })
}

fn json_body(raw: &str) -> Value {
    json!({ "mode": "raw", "raw": raw, "options": { "raw": { "language": "json" } } })
}

fn token_item() -> Value {
    json!({
        "name": "Get token",
        "event": [{
            "listen": "test",
            "script": {
                "type": "text/javascript",
                "exec": [
                    "pm.test(\"token issued\", function () {",
                    "    pm.expect(pm.response.code).to.be.oneOf([200, 201]);",
                    "});",
                    "pm.collectionVariables.set(\"token\", pm.response.json().token);",
                ],
            },
        }],
        "request": {
            "method": "POST",
            "auth": { "type": "noauth" },
            "header": [{ "key": "Content-Type", "value": "application/json" }],
            "body": json_body("{\n  \"secret\": \"{{clientSecret}}\"\n}"),
            "url": url("{{baseUrl}}", TOKEN_PATH, Vec::new(), Vec::new()),
            "description": "Issue a bearer token for the API client {{clientName}} and store it in the \
                            `token` collection variable used by every other request.",
        },
        "response": [],
    })
}

/// The parameters of an operation, with those declared on the path item first.
fn parameters<'a>(doc: &'a Value, item: &'a Value, op: &'a Value) -> Vec<&'a Value> {
    item.get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(op.get("parameters").and_then(Value::as_array).into_iter().flatten())
        .map(|p| resolve(doc, p))
        .collect()
}

fn request_item(doc: &Value, path: &str, method: &str, item: &Value, op: &Value) -> Value {
    let params = parameters(doc, item, op);
    let described = |p: &Value| -> Value {
        let mut v = json!({ "key": p["name"], "value": "" });
        if p["in"] == "path" {
            v["value"] = json!(format!("{{{{{}}}}}", demo::variable_for(path, p["name"].as_str().unwrap_or(""))));
        }
        if let Some(d) = p["description"].as_str() {
            v["description"] = json!(d);
        }
        v
    };
    let query: Vec<Value> = params
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| {
            let mut v = described(p);
            match demo::queries(method, path).find(|(k, _)| p["name"] == *k) {
                Some((_, value)) => v["value"] = json!(value),
                None => v["disabled"] = json!(true),
            }
            v
        })
        .collect();
    let path_variables: Vec<Value> = params
        .iter()
        .filter(|p| p["in"] == "path")
        .filter(|p| !COLLECTION_PATH_VARIABLES.contains(&p["name"].as_str().unwrap_or("")))
        .map(|p| described(p))
        .collect();
    let headers: Vec<Value> = params
        .iter()
        .filter(|p| p["in"] == "header")
        .map(|p| {
            let mut v = described(p);
            v["disabled"] = json!(true);
            v
        })
        .collect();

    let summary = op["summary"].as_str().unwrap_or("");
    let name = match summary.lines().next().map(str::trim).filter(|s| !s.is_empty()) {
        Some(first) => first.trim_end_matches('.').to_owned(),
        None => {
            op["operationId"].as_str().map(str::to_owned).unwrap_or_else(|| format!("{} {path}", method.to_uppercase()))
        }
    };
    let description = [summary, op["description"].as_str().unwrap_or("")]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n\n");

    let mut request = json!({
        "method": method.to_uppercase(),
        "auth": bearer(),
        "header": headers,
        "url": url("{{baseUrl}}", path, query, path_variables),
        "description": format!("{description}\n\n`{} {path}`", method.to_uppercase()).trim().to_owned(),
    });
    if let Some(body) = op.get("requestBody").map(|b| resolve(doc, b)) {
        let content = &body["content"];
        if let Some(media) = content.get("application/json") {
            let raw = match demo::body(method, path) {
                Some(raw) => pretty(raw),
                None => {
                    let example =
                        media.get("example").cloned().unwrap_or_else(|| placeholder(doc, &media["schema"], 0));
                    serde_json::to_string_pretty(&example)
                        .unwrap_or_else(|_| "{}".into())
                        .replace(EXAMPLE_PATIENT_ID, "{{patientId}}")
                        .replace(EXAMPLE_USER_ID, "{{userId}}")
                }
            };
            request["header"]
                .as_array_mut()
                .expect("array")
                .push(json!({ "key": "Content-Type", "value": "application/json" }));
            request["body"] = json_body(&raw);
        } else if let Some(media) = content.get("multipart/form-data") {
            request["body"] = json!({ "mode": "formdata", "formdata": form_fields(doc, &media["schema"], true) });
        } else if let Some(media) = content.get("application/x-www-form-urlencoded") {
            request["body"] = json!({ "mode": "urlencoded", "urlencoded": form_fields(doc, &media["schema"], false) });
        } else {
            request["body"] = json_body("{}");
        }
    }
    json!({ "name": name, "request": request, "response": [] })
}

/// A demo body laid out as the generated ones; a body that is only a variable (written
/// back from an earlier answer) is kept as it is.
fn pretty(raw: &str) -> String {
    match serde_json::from_str::<Value>(raw) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_else(|_| raw.to_owned()),
        Err(_) => raw.to_owned(),
    }
}

/// A Postman URL for an OpenAPI path: `{x}` becomes `{{x}}` for the collection
/// variables of `COLLECTION_PATH_VARIABLES` and `:x` otherwise.
fn url(host: &str, path: &str, query: Vec<Value>, variables: Vec<Value>) -> Value {
    // A trailing slash is kept as an empty last segment: some routes exist both ways.
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if COLLECTION_PATH_VARIABLES.contains(&name) => format!("{{{{{name}}}}}"),
            Some(name) => format!(":{name}"),
            None => segment.to_owned(),
        })
        .collect();
    let mut url = json!({
        "raw": format!("{host}/{}", segments.join("/")),
        "host": [host],
        "path": segments,
    });
    if !query.is_empty() {
        url["query"] = json!(query);
    }
    if !variables.is_empty() {
        url["variable"] = json!(variables);
    }
    url
}

/// Follows a local `$ref` (`#/components/...`), once per level.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    let mut v = v;
    for _ in 0..8 {
        match v.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => match doc.pointer(pointer) {
                Some(target) => v = target,
                None => break,
            },
            None => break,
        }
    }
    v
}

/// A JSON placeholder for a schema: objects list their properties with empty values of
/// their type, nested to a small depth.
fn placeholder(doc: &Value, schema: &Value, depth: usize) -> Value {
    let schema = resolve(doc, schema);
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(first) = schema["enum"].get(0) {
        return first.clone();
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        if let Some(first) = schema[combinator].get(0) {
            if combinator == "allOf" {
                let mut merged = Map::new();
                for part in schema[combinator].as_array().into_iter().flatten() {
                    if let Value::Object(o) = placeholder(doc, part, depth) {
                        merged.extend(o);
                    }
                }
                return Value::Object(merged);
            }
            return placeholder(doc, first, depth);
        }
    }
    let ty = match &schema["type"] {
        Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("object"),
        Value::String(t) => t.as_str(),
        _ if schema.get("properties").is_some() => "object",
        _ => "",
    };
    match ty {
        "object" => {
            let mut out = Map::new();
            if depth < 3 {
                for (key, prop) in schema["properties"].as_object().into_iter().flatten() {
                    out.insert(key.clone(), placeholder(doc, prop, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => json!([]),
        "string" => json!(""),
        "integer" | "number" => json!(0),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

fn form_fields(doc: &Value, schema: &Value, files: bool) -> Vec<Value> {
    let schema = resolve(doc, schema);
    schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, prop)| {
            let prop = resolve(doc, prop);
            let binary = prop["format"] == "binary" || prop["items"]["format"] == "binary";
            // A file part carries a small PDF as text, so that the request runs as it is;
            // pick a file of your own in Postman instead.
            let value = if files && binary { demo::SAMPLE_PDF } else { "" };
            let mut field = json!({ "key": key, "type": "text", "value": value });
            if let Some(d) = prop["description"].as_str() {
                field["description"] = json!(d);
            }
            field
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "info": { "title": "t", "version": "1" },
            "tags": [{ "name": "Auth", "description": "tokens" }, { "name": "Patients" }, { "name": "Unused" }],
            "paths": {
                "/{tenant}/admin/api_clients/{clientName}": {
                    "post": { "tags": ["Auth"], "summary": "Issue.", "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SecretBody" } } } } }
                },
                "/{tenant}/{instance}/patients/{patientId}": {
                    "get": {
                        "tags": ["Patients"],
                        "summary": "Read a patient.\nMore.",
                        "parameters": [
                            { "name": "tenant", "in": "path", "required": true },
                            { "name": "instance", "in": "path", "required": true },
                            { "name": "patientId", "in": "path", "required": true, "description": "The id" },
                            { "name": "page", "in": "query", "description": "Page number" }
                        ]
                    },
                    "patch": {
                        "tags": ["Patients"],
                        "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PatientWrite" } } } }
                    }
                },
                "/healthz": { "get": { "operationId": "healthz" } },
                "/{tenant}/{instance}/patients/": { "get": { "tags": ["Patients"], "summary": "List with a slash" } }
            },
            "components": { "schemas": {
                "SecretBody": { "type": "object", "properties": { "secret": { "type": "string" } } },
                "PatientWrite": { "type": "object", "properties": { "firstName": { "type": "string" }, "age": { "type": ["integer", "null"] } } }
            } }
        })
    }

    fn find<'a>(items: &'a [Value], name: &str) -> &'a Value {
        items.iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("no item {name}"))
    }

    #[test]
    fn info_and_variables() {
        let c = collection(&doc(), "http://x:1");
        assert_eq!(c["info"]["schema"], SCHEMA);
        let vars: Vec<(&str, &str)> = c["variable"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["key"].as_str().unwrap(), v["value"].as_str().unwrap()))
            .collect();
        assert_eq!(
            vars,
            [
                ("baseUrl", "http://x:1"),
                ("tenant", "demo"),
                ("instance", "sandbox"),
                ("clientName", "DEMOAPICLIENT"),
                ("clientSecret", "demo-secret"),
                ("token", ""),
                ("patientId", ""),
                ("userId", ""),
            ]
        );
    }

    #[test]
    fn creates_store_ids_and_deletes_come_last_deepest_first() {
        let mut d = doc();
        d["paths"]["/{tenant}/{instance}/patients"] = json!({
            "post": { "tags": ["Patients"], "requestBody": { "content": { "application/json": {
                "schema": { "example": { "firstName": "Ann" } } } } } }
        });
        // A schema's example, with the example ids made variables (no demo body here).
        d["paths"]["/{tenant}/{instance}/patients/{patientId}"]["put"] = json!({
            "tags": ["Patients"], "summary": "Replace.", "requestBody": { "content": { "application/json": {
                "schema": { "example": { "firstName": "Ann", "careTeam": [{ "id": EXAMPLE_USER_ID }] } } } } }
        });
        d["paths"]["/{tenant}/{instance}/patients/{patientId}"]["delete"] =
            json!({ "tags": ["Patients"], "summary": "Delete." });
        d["paths"]["/{tenant}/{instance}/patients/{patientId}/notes/{noteId}"] =
            json!({ "delete": { "tags": ["Patients"], "summary": "Delete a note." } });
        let c = collection(&d, "http://x:1");
        let items = c["item"].as_array().unwrap();
        let names: Vec<&str> = items.iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Get token", "Patients", "Other", CLEAN_UP]);
        let patients = items[1]["item"].as_array().unwrap();
        let create = &patients[0];
        assert_eq!(create["request"]["method"], "POST");
        let exec = create["event"][0]["script"]["exec"].as_array().unwrap();
        assert!(exec
            .iter()
            .any(|l| l
            == "try { var v = body.id; if (v !== undefined && v !== null) { pm.collectionVariables.set(\"patientId\", v); } } catch (e) {}"));
        let body: Value = serde_json::from_str(create["request"]["body"]["raw"].as_str().unwrap()).unwrap();
        assert_eq!(body["phone"], "+14155550142", "the demo's patient has a phone");
        let replace = find(patients, "Replace");
        let body: Value = serde_json::from_str(replace["request"]["body"]["raw"].as_str().unwrap()).unwrap();
        assert_eq!(body, json!({ "firstName": "Ann", "careTeam": [{ "id": "{{userId}}" }] }));
        assert!(patients.iter().all(|r| r["request"]["method"] != "DELETE"));
        let deletes: Vec<&str> =
            items[3]["item"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(deletes, ["Delete a note", "Delete"]);
        let read = find(patients, "Read a patient");
        assert_eq!(read["request"]["url"]["variable"][0]["value"], "{{patientId}}");
    }

    #[test]
    fn token_request_comes_first_and_stores_the_token() {
        let c = collection(&doc(), DEFAULT_BASE_URL);
        let first = &c["item"][0];
        assert_eq!(first["name"], "Get token");
        assert_eq!(first["request"]["method"], "POST");
        assert_eq!(first["request"]["url"]["raw"], "{{baseUrl}}/{{tenant}}/admin/api_clients/{{clientName}}");
        assert_eq!(first["request"]["auth"]["type"], "noauth");
        let body: Value = serde_json::from_str(first["request"]["body"]["raw"].as_str().unwrap()).unwrap();
        assert_eq!(body, json!({ "secret": "{{clientSecret}}" }));
        let exec = first["event"][0]["script"]["exec"].as_array().unwrap();
        assert_eq!(first["event"][0]["listen"], "test");
        assert!(exec.iter().any(|l| l == "pm.collectionVariables.set(\"token\", pm.response.json().token);"));
        // The token operation is not repeated in its folder; the Auth folder is then empty and left out.
        let items = c["item"].as_array().unwrap();
        assert!(items.iter().all(|i| i["name"] != "Auth"));
    }

    #[test]
    fn folders_follow_tags_and_requests_carry_params_auth_and_body() {
        let c = collection(&doc(), DEFAULT_BASE_URL);
        let items = c["item"].as_array().unwrap();
        let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Get token", "Patients", "Other"]);

        let patients = find(items, "Patients")["item"].as_array().unwrap();
        let read = &find(patients, "Read a patient")["request"];
        assert_eq!(read["method"], "GET");
        assert_eq!(read["url"]["raw"], "{{baseUrl}}/{{tenant}}/{{instance}}/patients/:patientId");
        assert_eq!(read["url"]["path"], json!(["{{tenant}}", "{{instance}}", "patients", ":patientId"]));
        assert_eq!(
            read["url"]["variable"],
            json!([{ "key": "patientId", "value": "{{patientId}}", "description": "The id" }])
        );
        assert_eq!(
            read["url"]["query"],
            json!([{ "key": "page", "value": "", "description": "Page number", "disabled": true }])
        );
        assert_eq!(read["auth"]["bearer"][0]["value"], "{{token}}");
        assert!(read.get("body").is_none());

        let slash = &find(patients, "List with a slash")["request"]["url"];
        assert_eq!(slash["raw"], "{{baseUrl}}/{{tenant}}/{{instance}}/patients/");
        assert_eq!(slash["path"], json!(["{{tenant}}", "{{instance}}", "patients", ""]));

        let patch = &patients.iter().find(|i| i["request"]["method"] == "PATCH").unwrap()["request"];
        let body: Value = serde_json::from_str(patch["body"]["raw"].as_str().unwrap()).unwrap();
        assert_eq!(body, json!({ "firstName": "", "age": 0 }));
        assert_eq!(patch["body"]["options"]["raw"]["language"], "json");

        let other = find(items, "Other")["item"].as_array().unwrap();
        assert_eq!(other[0]["name"], "healthz");
        assert_eq!(other[0]["request"]["url"]["raw"], "{{baseUrl}}/healthz");
    }

    /// The collection of the real OpenAPI document, its requests in run order.
    fn real_requests() -> (Value, Vec<Value>) {
        let doc = serde_json::to_value(crate::api::openapi::document()).unwrap();
        let c = collection(&doc, DEFAULT_BASE_URL);
        let mut out = Vec::new();
        for item in c["item"].as_array().unwrap() {
            match item.get("item").and_then(Value::as_array) {
                Some(folder) => out.extend(folder.iter().cloned()),
                None => out.push(item.clone()),
            }
        }
        (c, out)
    }

    /// The `{{name}}` references in a text.
    fn references(text: &str) -> Vec<String> {
        text.split("{{").skip(1).filter_map(|s| s.split_once("}}").map(|(name, _)| name.to_owned())).collect()
    }

    #[test]
    fn every_body_of_the_real_document_is_a_filled_example() {
        let (_, requests) = real_requests();
        for r in &requests {
            let Some(body) = r["request"].get("body") else { continue };
            let label = format!("{} {}", r["request"]["method"], r["request"]["url"]["raw"]);
            match body["mode"].as_str() {
                Some("raw") => {
                    let raw = body["raw"].as_str().unwrap();
                    let parsed: Value = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{label}: {e}"));
                    assert!(parsed.as_object().is_none_or(|o| !o.is_empty()), "{label} sends an empty body");
                    // No placeholder left from a schema without an example.
                    assert!(!raw.contains(": \"\""), "{label} sends an empty string: {raw}");
                }
                Some("formdata") => {
                    let fields = body["formdata"].as_array().unwrap();
                    assert!(fields.iter().all(|f| f["value"].as_str().is_some_and(|v| !v.is_empty())), "{label}");
                }
                other => panic!("{label}: body mode {other:?}"),
            }
        }
    }

    #[test]
    fn every_variable_is_set_before_a_request_uses_it() {
        let (c, requests) = real_requests();
        let mut known: std::collections::BTreeSet<String> = c["variable"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["value"] != "" || v["key"] == "token")
            .map(|v| v["key"].as_str().unwrap().to_owned())
            .collect();
        for r in &requests {
            let request = &r["request"];
            let mut used = references(request["url"]["raw"].as_str().unwrap());
            for v in request["url"]["variable"].as_array().into_iter().flatten() {
                used.extend(references(v["value"].as_str().unwrap()));
            }
            for q in request["url"]["query"].as_array().into_iter().flatten().filter(|q| q["disabled"] != true) {
                used.extend(references(q["value"].as_str().unwrap()));
            }
            used.extend(references(request["body"]["raw"].as_str().unwrap_or("")));
            // The messaging templates' own placeholders are the server's, not the collection's.
            used.retain(|name| !["patientFirstName", "appointmentDate"].contains(&name.as_str()));
            for name in used {
                assert!(
                    known.contains(&name),
                    "{} {} uses {{{{{name}}}}} before it is set",
                    request["method"],
                    request["url"]["raw"]
                );
            }
            for line in r["event"][0]["script"]["exec"].as_array().into_iter().flatten() {
                if let Some((_, rest)) = line.as_str().unwrap().split_once("pm.collectionVariables.set(\"") {
                    known.insert(rest.split('"').next().unwrap().to_owned());
                }
            }
        }
    }

    #[test]
    fn the_demo_tables_name_operations_of_the_document() {
        let doc = serde_json::to_value(crate::api::openapi::document()).unwrap();
        let exists = |method: &str, path: &str| doc["paths"][path].get(method).is_some();
        for (m, p, _) in demo::BODIES {
            assert!(exists(m, p), "BODIES: {m} {p}");
        }
        for (m, p, _, _) in demo::QUERIES.iter().chain(demo::STORES) {
            assert!(exists(m, p), "QUERIES/STORES: {m} {p}");
        }
        for (m, p, _) in demo::RANKS {
            assert!(exists(m, p), "RANKS: {m} {p}");
        }
        for (fragment, param, _) in demo::VARIABLE_ALIASES {
            assert!(
                doc["paths"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .any(|p| p.contains(fragment) && p.contains(&format!("{{{param}}}"))),
                "VARIABLE_ALIASES: {fragment}"
            );
        }
        let tags: Vec<&str> = doc["tags"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
        assert!(demo::EARLY_FOLDERS.iter().all(|f| tags.contains(f)));
    }
}
