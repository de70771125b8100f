//! What each designer object may look like: the [`Shape`] of every kind (keys, types,
//! defaults) that the loader, the formation endpoints and the console check objects
//! against, and the OpenAPI schemas and examples derived from those shapes, so that the
//! API document states exactly what the designer enforces.

use serde_json::{json, Value};

use super::shape::{drop, empty_list, empty_str, no, normalize, null, omit, opt, req, yes, Shape};
use super::DesignerError;

/// The JSON Schemas of the objects the formation endpoints take (`formations/{version}/
/// {kind}`), derived from the shapes the designer checks them against: (the `kind` path
/// segments, component name, schema). With `name_required` false, for a `PUT` whose path
/// names the object.
pub fn formation_schemas(name_required: bool) -> Vec<(&'static [&'static str], &'static str, Value)> {
    let kinds: [(&'static [&'static str], &'static str, &Shape); 6] = [
        (&["cdts", "pdts", "document-types"], "DesignerDataType", &DATA_TYPE),
        (&["assessments"], "DesignerAssessment", &ASSESSMENT),
        (&["programs"], "DesignerProgram", &PROGRAM),
        (&["encounters"], "DesignerEncounterTemplate", &ENCOUNTER_TEMPLATE),
        (&["goal-templates"], "DesignerGoalTemplate", &GOAL_TEMPLATE),
        (&["dictionaries"], "DesignerDictionary", &DICTIONARY),
    ];
    kinds
        .into_iter()
        .zip(formation_examples())
        .map(|((segments, name, shape), example)| {
            let mut schema = super::shape::json_schema(shape);
            schema["example"] = example;
            if !name_required {
                if let Some(Value::Array(required)) = schema.get_mut("required") {
                    required.retain(|k| k != "name");
                }
            }
            (segments, name, schema)
        })
        .collect()
}

/// One valid object of each kind of `formation_schemas`, in its order (the unit tests add
/// each to the demo designer); the assessment asks for the example CDT's field.
fn formation_examples() -> [Value; 6] {
    [
        json!({"name": "cdt-blood-pressure", "title": "Blood pressure", "fields": [
            {"name": "systolic", "type": "integer", "meta": {"required": true}},
            {"name": "diastolic", "type": "integer"}]}),
        json!({"name": "asm-sleep", "title": "Sleep check", "sections": [
            {"title": "Blood pressure", "fields": [
                {"label": "Systolic", "refCdtName": "cdt-blood-pressure", "refCdtFieldName": "systolic",
                 "meta": {"required": true}}]}]}),
        json!({"name": "prog-sleep", "title": "Better sleep", "phases": [
            {"name": "phase-start", "type": "START", "navigateTo": [{"name": "phase-done"}]},
            {"name": "phase-done", "type": "FINISH"}]}),
        json!({"name": "enc-follow-up", "title": "Follow-up call", "type": "Async", "deliveryMethod": "PHONE",
               "defaultDuration": 20}),
        json!({"name": "goal-walk", "goalName": "Walk 30 minutes a day", "priority": "MEDIUM"}),
        json!({"name": "dict-shifts", "title": "Shifts", "records": [{"values": {"value": "Morning"}},
                                                                    {"values": {"value": "Evening"}}]}),
    ]
}

/// Checks an encounter disposition body like any data type, every problem with its path.
pub(crate) fn normalize_data_type(body: &Value, path: &str, errors: &mut Vec<DesignerError>) -> Value {
    normalize(body, &DATA_TYPE, path, errors)
}

// ---------------------------------------------------------------------------------------
// Shapes

/// The keys of [`DataType`](super::data_type::DataType) (and its fields, meta and options), so a data type file gets
/// every structural error with its path before serde reads it.
pub(super) const DATA_TYPE: Shape = Shape::Obj(&[
    req("name", Shape::Str),
    omit("title", Shape::Nullable(&Shape::Str)),
    omit("label", Shape::Nullable(&Shape::Str)),
    omit("internal", Shape::Bool),
    omit("readable", Shape::Bool),
    omit("updatable", Shape::Bool),
    omit("type", Shape::OneOf(&["MULTI_RECORD", "SINGLE_RECORD"])),
    omit(
        "relation",
        Shape::Nullable(&Shape::OneOf(&["COMMON", "PROFILE", "DOCUMENT_TYPE", "ENCOUNTER_DISPOSITION", "ASSESSMENT"])),
    ),
    req("fields", Shape::List(&DATA_TYPE_FIELD)),
]);

const DATA_TYPE_FIELD: Shape = Shape::Obj(&[
    req("name", Shape::Str),
    req("type", Shape::Str),
    omit("formula", Shape::Nullable(&Shape::Str)),
    omit("dictionary", Shape::Nullable(&Shape::Str)),
    omit("profileDataType", Shape::Nullable(&Shape::Str)),
    omit("editable", Shape::Bool),
    omit("searchable", Shape::Bool),
    omit("bulkEdit", Shape::Bool),
    omit("phi", Shape::Bool),
    omit("disable", Shape::Bool),
    omit(
        "meta",
        Shape::Obj(&[
            omit("required", Shape::Bool),
            omit("label", Shape::Nullable(&Shape::Str)),
            omit(
                "options",
                Shape::Nullable(&Shape::List(&Shape::Obj(&[
                    req("label", Shape::Str),
                    req("value", Shape::Scalar),
                    omit("refCdtName", Shape::Nullable(&Shape::Str)),
                ]))),
            ),
            omit("multiple", Shape::Nullable(&Shape::Bool)),
            omit("minValue", Shape::Nullable(&Shape::Scalar)),
            omit("maxValue", Shape::Nullable(&Shape::Scalar)),
        ]),
    ),
]);

pub(super) fn sum() -> Value {
    json!("SUM")
}

pub(super) const ASSESSMENT: Shape = Shape::Obj(&[
    omit("id", Shape::Text),
    omit("title", Shape::Str),
    req("name", Shape::Name),
    drop("version"),
    req("sections", Shape::List(&ASSESSMENT_SECTION)),
    opt(
        "scoring",
        Shape::Obj(&[
            opt("formula", Shape::OneOf(&["SUM", "AVG"]), sum),
            opt("groups", Shape::List(&SCORING_GROUP), empty_list),
        ]),
        || json!({"formula": "SUM", "groups": []}),
    ),
    opt(
        "programs",
        Shape::List(&Shape::Obj(&[req("program", Shape::Name), opt("phases", Shape::List(&Shape::Name), empty_list)])),
        empty_list,
    ),
    opt("template", Shape::Any, null),
    opt(
        "conditionSettings",
        Shape::Nullable(&Shape::Obj(&[
            opt("elements", Shape::List(&Shape::Map(&Shape::Any)), empty_list),
            opt("events", Shape::List(&Shape::Map(&Shape::Any)), empty_list),
        ])),
        || json!({"elements": [], "events": []}),
    ),
    opt("displayType", Shape::Text, || json!("SECTIONS")),
    opt("autoCompleted", Shape::Bool, no),
    drop("_containsPHI"),
]);

const ASSESSMENT_SECTION: Shape = Shape::Obj(&[
    opt("title", Shape::Str, empty_str),
    omit("name", Shape::Name),
    omit("order", Shape::Int),
    req("fields", Shape::List(&ASSESSMENT_FIELD)),
]);

const ASSESSMENT_FIELD: Shape = Shape::Obj(&[
    opt("label", Shape::Str, empty_str),
    opt("name", Shape::Str, empty_str),
    opt("refCdtName", Shape::Str, empty_str),
    opt("refCdtFieldName", Shape::Str, empty_str),
    omit("order", Shape::Int),
    opt("viewType", Shape::OneOf(&["question", "readOnly"]), || json!("question")),
    opt(
        "meta",
        Shape::Obj(&[opt("type", Shape::Str, empty_str), opt("required", Shape::Bool, no)]),
        || json!({"type": "", "required": false}),
    ),
    opt(
        "prePopulatedValue",
        Shape::Nullable(&Shape::Obj(&[
            req("type", Shape::OneOf(&["PREVIOUS_ASSESSMENT", "DEFAULT_VALUE"])),
            omit("defaultValue", Shape::Any),
        ])),
        null,
    ),
    opt("attachments", Shape::List(&Shape::Any), empty_list),
]);

const SCORING_GROUP: Shape = Shape::Obj(&[
    req("name", Shape::Name),
    omit("title", Shape::Str),
    omit("formula", Shape::OneOf(&["SUM", "AVG"])),
    req(
        "fields",
        Shape::List(&Shape::Obj(&[
            req("refCdtName", Shape::Text),
            req("refCdtFieldName", Shape::Text),
            opt("type", Shape::Str, empty_str),
            opt(
                "scores",
                Shape::List(&Shape::Obj(&[req("score", Shape::Num), req("answer", Shape::Scalar)])),
                empty_list,
            ),
        ])),
    ),
]);

pub(super) const PROGRAM: Shape = Shape::Obj(&[
    req("name", Shape::Name),
    omit("title", Shape::Str),
    opt("description", Shape::Str, empty_str),
    req("phases", Shape::List(&PHASE)),
    omit("nodes", Shape::Nullable(&Shape::List(&Shape::Map(&Shape::Any)))),
]);

const PHASE: Shape = Shape::Obj(&[
    req("name", Shape::Name),
    omit("title", Shape::Str),
    omit("type", Shape::OneOf(&["START", "REGULAR", "FINISH"])),
    opt("description", Shape::Str, empty_str),
    opt("autoFinishProgram", Shape::Bool, no),
    opt("navigateTo", Shape::List(&Shape::Obj(&[req("name", Shape::Name)])), empty_list),
]);

pub(super) const ENCOUNTER_TEMPLATE: Shape = Shape::Obj(&[
    omit("id", Shape::Text),
    req("name", Shape::Name),
    omit("title", Shape::Str),
    opt("encounterDescription", Shape::Str, empty_str),
    opt("encounterInstruction", Shape::Str, empty_str),
    opt("encounterColor", Shape::Text, || json!("#00a7be")),
    opt("type", Shape::Text, || json!("Async")),
    opt("deliveryMethod", Shape::Text, || json!("VIDEO")),
    opt("defaultDuration", Shape::Int, || json!(15)),
    opt("assessmentNames", Shape::List(&Shape::Name), empty_list),
]);

pub(super) const GOAL_TEMPLATE: Shape = Shape::Obj(&[
    req("name", Shape::Name),
    req("goalName", Shape::Text),
    opt("type", Shape::Str, empty_str),
    opt("priority", Shape::OneOf(&["LOW", "MEDIUM", "HIGH"]), || json!("LOW")),
    opt(
        "taskTemplates",
        Shape::List(&Shape::Obj(&[
            req("name", Shape::Name),
            req(
                "subjectConfig",
                Shape::Obj(&[req("type", Shape::OneOf(&["ROLE", "POINT_OF_CONTACT"])), omit("roleName", Shape::Name)]),
            ),
        ])),
        empty_list,
    ),
]);

pub(super) const DICTIONARY: Shape = Shape::Obj(&[
    req("name", Shape::Name),
    omit("title", Shape::Str),
    opt("internal", Shape::Bool, no),
    opt(
        "fields",
        Shape::List(&Shape::Obj(&[req("name", Shape::Name), opt("type", Shape::Str, || json!("text"))])),
        || json!([{"name": "value", "type": "text"}]),
    ),
    opt("records", Shape::List(&Shape::Obj(&[req("values", Shape::Map(&Shape::Scalar))])), empty_list),
]);

/// Roles and security policies.
pub(super) const NAMED: Shape = Shape::Obj(&[req("name", Shape::Name), omit("title", Shape::Str)]);

pub(super) const REGION: Shape =
    Shape::Obj(&[req("name", Shape::Name), omit("title", Shape::Str), req("territories", Shape::List(&Shape::Text))]);

const NAME_VALUE: Shape = Shape::Obj(&[req("name", Shape::Text), opt("value", Shape::Str, empty_str)]);

/// The payload keys Welkin's webhook configuration offers (all of them by default).
pub const WEBHOOK_PREDEFINED_FIELDS: &[&str] =
    &["INSTANCE_NAME", "TENANT_NAME", "SOURCE_NAME", "SOURCE_ID", "PATIENT_ID", "EVENT_ENTITY", "EVENT_SUBTYPE", "URL"];

pub(super) const WEBHOOK: Shape = Shape::Obj(&[
    req("name", Shape::Name),
    omit("title", Shape::Str),
    req("events", Shape::List(&Shape::Text)),
    req("url", Shape::Text),
    opt("headers", Shape::List(&NAME_VALUE), empty_list),
    opt("queryParameters", Shape::List(&NAME_VALUE), empty_list),
    opt(
        "payload",
        Shape::Obj(&[
            opt("predefinedFields", Shape::List(&Shape::OneOf(WEBHOOK_PREDEFINED_FIELDS)), || {
                json!(WEBHOOK_PREDEFINED_FIELDS)
            }),
            opt("customFields", Shape::List(&NAME_VALUE), empty_list),
        ]),
        || json!({"predefinedFields": WEBHOOK_PREDEFINED_FIELDS, "customFields": []}),
    ),
    opt("active", Shape::Bool, yes),
    opt("enabled", Shape::Bool, yes),
]);

/// The entities whose events a webhook can subscribe to, as `<ENTITY>_<ACTION>`.
pub const WEBHOOK_ENTITIES: &[&str] = &[
    "PATIENT",
    "USER",
    "USER_ACCESS",
    "CDT",
    "PDT",
    "ASSESSMENT",
    "ENCOUNTER",
    "ENCOUNTER_COMMENT",
    "ENCOUNTER_DISPOSITION",
    "CALENDAR_EVENT",
    "TASK",
    "CARE_PLAN",
    "GOAL",
    "PATIENT_PROGRAM",
    "DOCUMENT",
    "CONTACT",
    "SMS",
    "EMAIL",
    "CHAT",
    "CALL",
];
pub const WEBHOOK_ACTIONS: &[&str] = &["CREATED", "UPDATED", "DELETED", "COMPLETED"];

/// True for `PATIENT_CREATED`, `ASSESSMENT_COMPLETED`, `USER_ACCESS_UPDATED`, …
pub fn is_webhook_event(event: &str) -> bool {
    WEBHOOK_ACTIONS.iter().any(|action| {
        event
            .strip_suffix(action)
            .and_then(|rest| rest.strip_suffix('_'))
            .is_some_and(|entity| WEBHOOK_ENTITIES.contains(&entity))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::designer::Kind;

    /// The OpenAPI document's examples are objects the formation endpoints accept: each
    /// is added to the demo designer of `serve --demo` without an error.
    #[test]
    fn the_documented_examples_are_accepted() {
        let mut designer = crate::demo::designer().unwrap();
        for (segments, name, schema) in formation_schemas(true) {
            for segment in segments {
                let kind = Kind::from_segment(segment).unwrap();
                let mut example = schema["example"].clone();
                if *segment != "cdts" {
                    example["name"] = json!(format!("{}-{segment}", example["name"].as_str().unwrap()));
                }
                let result = designer.upsert(kind, example.clone());
                assert!(result.is_ok(), "{name} at {segment}: {example}: {result:?}");
            }
        }
    }
}
