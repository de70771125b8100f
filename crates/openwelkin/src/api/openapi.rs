//! The OpenAPI 3.1 document: its frame here, every path from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "openwelkin",
        description = "The Welkin Health care-management REST API, served by openwelkin. \
                       Data routes live under /{tenant}/{instance}, tenant administration under /{tenant}/admin. \
                       Errors are always a JSON array of {errorCode, componentType, message, details, date}."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "Auth", description = "Bearer tokens for API clients"),
        (name = "Patients"),
        (name = "Users", description = "Care-team members (tenant level)"),
        (name = "User access", description = "Users' application access, roles and policies, regions and territories"),
        (name = "Patient programs", description = "Enrolments in programs and their phases"),
        (name = "CDT records", description = "Patient records of custom data types"),
        (name = "Profiles (PDT)", description = "Profile data type records"),
        (name = "Contacts", description = "People around a patient"),
        (name = "Dictionaries", description = "Value lists"),
        (name = "Assessment records", description = "Patients' answers to assessments"),
        (name = "Calendar", description = "Events, users' schedules and work hours"),
        (name = "Encounters", description = "Visits with patients, their assessments, disposition and comments"),
        (name = "Tasks", description = "Work items for users, with watchers and comments"),
        (name = "Care plans", description = "Patient overview, goals, goal comments and goal tasks"),
        (name = "Billing", description = "Payment methods, subscriptions, invoices and payments"),
        (name = "Documents", description = "Document summaries, their uploaded files and document-type records"),
        (name = "Email", description = "Emails with patients: sends, drafts, attachments, inbound and unmatched emails"),
        (name = "SMS", description = "Text messages with patients: sends, scheduled sends, inbound and unmatched SMS, delivery"),
        (name = "Communication IDs", description = "An instance's sending lines (openwelkin extension)"),
        (name = "Chat", description = "In-app messages between patients and the care team, and the chat webhook"),
        (name = "Calls", description = "Voice calls, their recordings, and unrecognized inbound calls"),
        (name = "Fax", description = "Faxes sent and received, with status and pages (openwelkin's design: Welkin publishes no paths)"),
        (name = "Messaging templates", description = "Message texts with {{variable}} placeholders"),
        (name = "Communications", description = "Templated sends to patients"),
        (name = "Formations", description = "Designer configuration by version"),
        (name = "Webhooks", description = "Activation and test sends of the designer's webhooks"),
        (name = "Audit", description = "Append-only audit trails"),
        (name = "Export", description = "Bulk export of every resource with cursor paging"),
        (name = "Operations", description = "Health probes"),
    )
)]
struct Frame;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = Frame::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// The whole document, as served at `/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    complete(super::api_router().into_openapi())
}

/// The document as the JSON response `/openapi.json` sends (made once, cloned per request
/// without copying the bytes).
pub fn served(doc: utoipa::openapi::OpenApi) -> Served {
    use axum::http::{header::CONTENT_TYPE, HeaderValue};
    let json = serde_json::to_vec(&doc).expect("the OpenAPI document serializes");
    ([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes::Bytes::from(json))
}

/// A JSON response that is cheap to clone.
pub type Served = ([(axum::http::HeaderName, axum::http::HeaderValue); 1], bytes::Bytes);

/// The routes' document with what their annotations cannot say (the formation bodies).
pub fn complete(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    designer_bodies(&mut doc);
    doc
}

/// The bodies of the formation endpoints, whose shape depends on the `{kind}` in their
/// path: their schemas come from the designer's own shapes (`designer::object_shapes`), one
/// component per kind, so the document states what the designer checks.
fn designer_bodies(doc: &mut utoipa::openapi::OpenApi) {
    use crate::designer::object_shapes::formation_schemas;
    use serde_json::{json, Value};
    let components = doc.components.get_or_insert_with(Default::default);
    let mut any_of = |name_required: bool| -> Value {
        let suffix = if name_required { "" } else { "Update" };
        let mut refs = Vec::new();
        let mut kinds = Vec::new();
        for (segments, name, schema) in formation_schemas(name_required) {
            let component = format!("{name}{suffix}");
            let schema = serde_json::from_value(schema).expect("a designer shape is a valid schema");
            components.schemas.insert(component.clone(), schema);
            refs.push(json!({"$ref": format!("#/components/schemas/{component}")}));
            kinds.push(format!("{}: {component}", segments.join(", ")));
        }
        json!({"anyOf": refs, "description": format!("The object for the kind in the path ({}).", kinds.join("; "))})
    };
    let create = any_of(true);
    let replace = any_of(false);
    let disposition = {
        let (_, _, mut schema) = formation_schemas(false).swap_remove(0);
        schema["description"] = json!("The encounter disposition's data type (its name and relation are filled in).");
        schema
    };
    for (path, item) in doc.paths.paths.iter_mut().filter(|(path, _)| path.contains("/formation")) {
        let body = if path.ends_with("/encounter-disposition") {
            &disposition
        } else if path.ends_with("/{kind}") {
            &create
        } else if path.ends_with("/{kind}/{name}") {
            &replace
        } else {
            continue;
        };
        let operations = [item.post.as_mut(), item.put.as_mut()];
        for op in operations.into_iter().flatten() {
            if let Some(content) = op.request_body.as_mut().and_then(|b| b.content.get_mut("application/json")) {
                content.schema = Some(serde_json::from_value(body.clone()).expect("a designer body is a valid schema"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Every JSON request body says what it takes: a component, or a schema with
    /// properties or alternatives (never a bare `{"type": "object"}`).
    #[test]
    fn every_json_request_body_is_typed() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let mut untyped = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") else { continue };
                let typed = ["$ref", "properties", "anyOf", "oneOf", "allOf", "additionalProperties", "items"]
                    .iter()
                    .any(|k| schema.get(*k).is_some());
                if !typed {
                    untyped.push(format!("{} {path}: {schema}", method.to_uppercase()));
                }
            }
        }
        assert!(untyped.is_empty(), "untyped JSON request bodies: {untyped:#?}");
    }

    /// The formation bodies come from the designer's shapes: a program needs its name and
    /// phases list on create, not on replace (the path names it).
    #[test]
    fn formation_bodies_follow_the_designer_shapes() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let required = |name: &str| -> Vec<String> {
            schemas[name]["required"]
                .as_array()
                .map(|r| r.iter().map(|v| v.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        assert!(required("DesignerProgram").contains(&"name".to_string()), "{}", schemas["DesignerProgram"]);
        assert!(!required("DesignerProgramUpdate").contains(&"name".to_string()));
        assert_eq!(schemas["DesignerDataType"]["additionalProperties"], Value::Bool(false));
        let create = doc.pointer("/paths/~1{tenant}~1{instance}~1formations~1{version}~1{kind}/post/requestBody/content/application~1json/schema").unwrap();
        assert_eq!(create["anyOf"].as_array().unwrap().len(), 6, "{create}");
    }
}
