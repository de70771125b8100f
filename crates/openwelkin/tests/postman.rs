//! `openwelkin postman`: the collection is Postman v2.1, carries the collection variables
//! and the token request, and holds one request for every path and method of the OpenAPI
//! document printed by `openwelkin openapi`. No database is involved.

use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_openwelkin");
const METHODS: [&str; 8] = ["get", "post", "put", "patch", "delete", "head", "options", "trace"];

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).env_remove("OPENWELKIN_DATABASE_URL").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn collection(extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openwelkin.postman_collection.json");
    let mut args = vec!["postman", "--out", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args);
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
}

/// Every request of the collection, folders flattened, in order.
fn requests(items: &Value, out: &mut Vec<Value>) {
    for item in items.as_array().unwrap() {
        match item.get("item") {
            Some(children) => requests(children, out),
            None => out.push(item.clone()),
        }
    }
}

/// The OpenAPI path of a Postman URL: `{{x}}` and `:x` segments become `{x}`.
fn openapi_path(url: &Value) -> String {
    let segments: Vec<String> = url["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let s = s.as_str().unwrap();
            if let Some(name) = s.strip_prefix("{{").and_then(|n| n.strip_suffix("}}")) {
                format!("{{{name}}}")
            } else if let Some(name) = s.strip_prefix(':') {
                format!("{{{name}}}")
            } else {
                s.to_owned()
            }
        })
        .collect();
    format!("/{}", segments.join("/"))
}

fn variable<'a>(c: &'a Value, key: &str) -> &'a str {
    c["variable"].as_array().unwrap().iter().find(|v| v["key"] == key).unwrap_or_else(|| panic!("no {key}"))["value"]
        .as_str()
        .unwrap()
}

#[test]
fn the_collection_is_v2_1_with_variables_and_the_token_request() {
    let c = collection(&[]);
    assert_eq!(c["info"]["schema"], "https://schema.getpostman.com/json/collection/v2.1.0/collection.json");
    assert_eq!(variable(&c, "baseUrl"), "http://127.0.0.1:8080");
    assert_eq!(variable(&c, "tenant"), "demo");
    assert_eq!(variable(&c, "instance"), "sandbox");
    assert_eq!(variable(&c, "clientName"), "DEMOAPICLIENT");
    assert_eq!(variable(&c, "clientSecret"), "demo-secret");
    assert_eq!(variable(&c, "token"), "");

    let token = &c["item"][0];
    assert_eq!(token["name"], "Get token");
    assert_eq!(token["request"]["method"], "POST");
    assert_eq!(token["request"]["url"]["raw"], "{{baseUrl}}/{{tenant}}/admin/api_clients/{{clientName}}");
    assert_eq!(token["request"]["auth"]["type"], "noauth");
    let body: Value = serde_json::from_str(token["request"]["body"]["raw"].as_str().unwrap()).unwrap();
    assert_eq!(body, serde_json::json!({ "secret": "{{clientSecret}}" }));
    assert_eq!(token["event"][0]["listen"], "test");
    let script = token["event"][0]["script"]["exec"].as_array().unwrap();
    assert!(
        script
            .iter()
            .any(|l| l.as_str().unwrap().contains("pm.collectionVariables.set(\"token\", pm.response.json().token)")),
        "{script:?}"
    );

    // Every other request sends the token; folders are named after OpenAPI tags.
    let mut all = Vec::new();
    requests(&c["item"], &mut all);
    for r in &all[1..] {
        assert_eq!(r["request"]["auth"]["type"], "bearer", "{}", r["name"]);
        assert_eq!(r["request"]["auth"]["bearer"][0]["value"], "{{token}}");
        assert!(r["request"]["url"]["raw"].as_str().unwrap().starts_with("{{baseUrl}}/"));
    }
    let folders: Vec<&str> = c["item"].as_array().unwrap()[1..].iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(folders.contains(&"Patients") && folders.contains(&"CDT records"), "{folders:?}");
}

#[test]
fn every_path_and_method_of_the_openapi_document_is_a_request() {
    let doc: Value = serde_json::from_str(&run(&["openapi"])).unwrap();
    let mut expected = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                expected.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(expected.len() > 100, "{}", expected.len());

    let c = collection(&["--base-url", "http://localhost:9999/"]);
    assert_eq!(variable(&c, "baseUrl"), "http://localhost:9999");
    let mut all = Vec::new();
    requests(&c["item"], &mut all);
    let got: Vec<(String, String)> = all
        .iter()
        .map(|r| (r["request"]["method"].as_str().unwrap().to_owned(), openapi_path(&r["request"]["url"])))
        .collect();
    let got_set: BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(got.len(), got_set.len(), "no request twice");
    assert_eq!(got_set, expected);

    // Query parameters are listed, disabled; path parameters other than tenant and
    // instance are Postman path variables; bodies are JSON placeholders.
    let list = all
        .iter()
        .find(|r| {
            r["request"]["method"] == "GET"
                && r["request"]["url"]["raw"] == "{{baseUrl}}/{{tenant}}/{{instance}}/patients"
        })
        .expect("GET patients");
    let query = list["request"]["url"]["query"].as_array().unwrap();
    assert!(!query.is_empty());
    assert!(query.iter().all(|q| q["disabled"] == true && q["key"].is_string()));
    let create = all
        .iter()
        .find(|r| {
            r["request"]["method"] == "POST"
                && r["request"]["url"]["raw"] == "{{baseUrl}}/{{tenant}}/{{instance}}/patients"
        })
        .expect("POST patients");
    assert_eq!(create["request"]["body"]["mode"], "raw");
    let placeholder: Value = serde_json::from_str(create["request"]["body"]["raw"].as_str().unwrap()).unwrap();
    assert!(placeholder.is_object());
    let read = all
        .iter()
        .find(|r| {
            r["request"]["method"] == "GET"
                && r["request"]["url"]["raw"] == "{{baseUrl}}/{{tenant}}/{{instance}}/patients/:patientId"
        })
        .expect("GET patient");
    assert_eq!(read["request"]["url"]["variable"][0]["key"], "patientId");
}

#[test]
fn without_out_the_collection_goes_to_stdout() {
    let c: Value = serde_json::from_str(&run(&["postman"])).unwrap();
    assert_eq!(c["item"][0]["name"], "Get token");
}
