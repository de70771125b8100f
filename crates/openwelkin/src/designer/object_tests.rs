//! Tests of the designer's objects other than data types: their shapes, the normalization
//! that fills what the formation endpoints return (`objects.rs`), and the rules that check
//! them against the rest of the designer (`object_rules.rs`), over one base designer that
//! every test changes in one place.

use super::objects::*;
use crate::designer::data_type::{stable_id, Cardinality, DataType, Field, FieldMeta, FieldOption};
use crate::designer::object_shapes::{is_webhook_event, DATA_TYPE, WEBHOOK_PREDEFINED_FIELDS};
use crate::designer::shape;
use crate::designer::{Designer, DesignerError, Kind};
use serde_json::{json, Value};

fn assessment() -> Value {
    json!({"name": "asm-a", "title": "A", "sections": [{"fields": [
        {"label": "Q1", "refCdtName": "cdt-phq", "refCdtFieldName": "q1"},
        {"label": "Q2", "refCdtName": "cdt-phq", "refCdtFieldName": "q2"}]}],
        "scoring": {"groups": [{"name": "total", "fields": [{"refCdtName": "cdt-phq", "refCdtFieldName": "q1",
            "scores": [{"answer": 0, "score": 0}, {"answer": 1, "score": 1}]}]}]},
        "programs": [{"program": "prog-a", "phases": ["middle"]}]})
}

fn program() -> Value {
    json!({"name": "prog-a", "title": "A", "phases": [
        {"name": "start", "navigateTo": [{"name": "middle"}]},
        {"name": "middle", "navigateTo": [{"name": "finish"}]},
        {"name": "finish"}]})
}

fn webhook() -> Value {
    json!({"name": "wh-a", "events": ["PATIENT_CREATED"], "url": "https://example.com/hook"})
}

/// A small valid designer touching every kind.
fn base() -> Designer {
    let mut d = Designer::default();
    d.roles.push(json!({"name": "health-coach", "title": "Health Coach"}));
    d.regions.push(json!({"name": "east-coast", "territories": ["New York", "Massachusetts"]}));
    d.webhooks.push(webhook());
    d.upsert(Kind::Dictionaries, json!({"name": "cpt", "records": [{"values": {"value": "99213"}}]})).unwrap();
    d.upsert(Kind::Pdts, json!({"name": "pdt-a", "fields": [{"name": "p", "type": "text"}]})).unwrap();
    d.upsert(
        Kind::Cdts,
        json!({"name": "cdt-phq", "fields": [
            {"name": "q1", "type": "select", "phi": true, "meta": {"options": [{"label": "No", "value": 0}, {"label": "Yes", "value": 1}]}},
            {"name": "q2", "type": "text", "dictionary": "cpt", "profileDataType": "pdt-a"}]}),
    )
    .unwrap();
    d.upsert(Kind::Programs, program()).unwrap();
    d.upsert(Kind::Assessments, assessment()).unwrap();
    d.upsert(Kind::EncounterTemplates, json!({"name": "etmp-a", "title": "A", "assessmentNames": ["asm-a"]})).unwrap();
    d.upsert(
        Kind::GoalTemplates,
        json!({"name": "goal-a", "goalName": "Goal A", "taskTemplates": [
            {"name": "t", "subjectConfig": {"type": "ROLE", "roleName": "health-coach"}}]}),
    )
    .unwrap();
    d
}

fn lines(errors: &[DesignerError]) -> Vec<String> {
    errors.iter().map(|e| format!("{}: {}", e.path, e.reason)).collect()
}

/// The errors of an upsert into `base()`, which must leave the designer unchanged.
fn rejected(kind: Kind, body: Value) -> Vec<String> {
    let mut d = base();
    let before = d.clone();
    let errors = d.upsert(kind, body).unwrap_err();
    assert_eq!(d, before, "a rejected upsert leaves the designer as it was");
    lines(&errors)
}

/// The errors of `base()` with one more object in a section that has no `Kind`.
fn invalid_in(section: Section, body: Value) -> Vec<String> {
    let mut d = base();
    d.values_mut(section).push(body);
    lines(&d.validate())
}

fn with(mut v: Value, pointer: &str, new: Value) -> Value {
    match v.pointer_mut(pointer) {
        Some(slot) => *slot = new,
        None => {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            v.pointer_mut(parent).unwrap()[key] = new;
        }
    }
    v
}

#[track_caller]
fn has(errors: &[String], expected: &str) {
    assert!(errors.iter().any(|e| e.starts_with(expected)), "no {expected:?} in {errors:#?}");
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

#[test]
fn the_base_designer_is_valid() {
    assert_eq!(lines(&base().validate()), Vec::<String>::new());
}

#[test]
fn assessments_have_the_recorded_keys() {
    let a = base().get(Kind::Assessments, "asm-a", 7).unwrap();
    assert_eq!(
        keys(&a),
        [
            "_containsPHI",
            "autoCompleted",
            "conditionSettings",
            "displayType",
            "id",
            "name",
            "programs",
            "scoring",
            "sections",
            "template",
            "title",
            "version"
        ]
    );
    assert_eq!(a["id"], stable_id("assessment:asm-a"));
    assert_eq!(a["version"], 7);
    assert_eq!(a["_containsPHI"], true, "q1 is PHI");
    assert_eq!(a["displayType"], "SECTIONS");
    assert_eq!(a["conditionSettings"], json!({"elements": [], "events": []}));
    let section = &a["sections"][0];
    assert_eq!(keys(section), ["fields", "name", "order", "title"]);
    assert_eq!((section["name"].as_str(), section["order"].as_i64()), (Some("section-1"), Some(0)));
    let field = &section["fields"][1];
    assert_eq!(
        keys(field),
        [
            "attachments",
            "label",
            "meta",
            "name",
            "order",
            "prePopulatedValue",
            "refCdtFieldName",
            "refCdtName",
            "viewType"
        ]
    );
    assert_eq!(field["order"], 1);
    assert_eq!(field["viewType"], "question");
    assert_eq!(field["meta"], json!({"type": "text", "required": false}), "the type comes from the CDT field");
    let group = &a["scoring"]["groups"][0];
    assert_eq!((a["scoring"]["formula"].as_str(), group["formula"].as_str()), (Some("SUM"), Some("SUM")));
    assert_eq!(group["title"], "total");
    assert_eq!(group["fields"][0]["type"], "select");
    let typed = base().assessment("asm-a").unwrap();
    assert_eq!(typed.questions().count(), 2);
}

#[test]
fn a_formation_read_can_be_written_back() {
    let mut d = base();
    let read = d.get(Kind::Assessments, "asm-a", 7).unwrap();
    d.upsert(Kind::Assessments, read.clone()).unwrap();
    assert_eq!(d.get(Kind::Assessments, "asm-a", 7).unwrap(), read);
    let read = d.get(Kind::Programs, "prog-a", 7).unwrap();
    d.upsert(Kind::Programs, read.clone()).unwrap();
    assert_eq!(d.get(Kind::Programs, "prog-a", 7).unwrap(), read);
}

#[test]
fn programs_encounter_and_goal_templates_have_the_recorded_keys() {
    let d = base();
    let p = d.get(Kind::Programs, "prog-a", 1).unwrap();
    assert_eq!(keys(&p), ["description", "name", "nodes", "phases", "title"]);
    assert_eq!(keys(&p["phases"][0]), ["autoFinishProgram", "description", "name", "navigateTo", "title", "type"]);
    let types: Vec<&str> = p["phases"].as_array().unwrap().iter().map(|ph| ph["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["START", "REGULAR", "FINISH"], "start and finish are inferred from the names");
    assert_eq!(p["phases"][2]["navigateTo"], json!([]));
    assert_eq!(p["nodes"].as_array().unwrap().len(), 3 + 2, "a node per phase and an edge per navigateTo");
    assert_eq!(d.program("prog-a").unwrap().start().unwrap().name, "start");

    let t = d.get(Kind::EncounterTemplates, "etmp-a", 1).unwrap();
    assert_eq!(
        keys(&t),
        [
            "assessmentNames",
            "defaultDuration",
            "deliveryMethod",
            "encounterColor",
            "encounterDescription",
            "encounterInstruction",
            "id",
            "name",
            "title",
            "type"
        ]
    );
    assert_eq!(t["id"], stable_id("encounter-template:etmp-a"));

    let g = d.get(Kind::GoalTemplates, "goal-a", 1).unwrap();
    assert_eq!(keys(&g), ["goalName", "name", "priority", "taskTemplates", "type"]);
    assert_eq!(g["priority"], "LOW");
    assert_eq!(
        g["taskTemplates"][0],
        json!({"name": "t", "subjectConfig": {"type": "ROLE", "roleName": "health-coach"}})
    );
}

#[test]
fn dictionaries_keep_their_records_out_of_the_formation() {
    let d = base();
    let f = d.get(Kind::Dictionaries, "cpt", 1).unwrap();
    assert_eq!(
        f,
        json!({"name": "cpt", "title": "cpt", "internal": false, "fields": [{"name": "value", "type": "text"}]})
    );
    let dict = d.dictionary("cpt").unwrap();
    assert_eq!(dict.records[0].values["value"], "99213");
}

#[test]
fn webhooks_regions_and_roles_are_normalized() {
    let d = base();
    let w = &d.webhook_list()[0];
    assert_eq!(w.title, "wh-a");
    assert!(w.active && w.enabled);
    assert_eq!(w.payload.predefined_fields, WEBHOOK_PREDEFINED_FIELDS);
    assert_eq!(d.region_list()[0].territories, ["New York", "Massachusetts"]);
    assert_eq!(d.role_list()[0].title, "Health Coach");
}

#[test]
fn assessment_questions_must_reference_existing_cdt_fields() {
    let errors = rejected(Kind::Assessments, with(assessment(), "/sections/0/fields/1/refCdtName", json!("cdt-x")));
    has(&errors, "assessments[0].sections[0].fields[1].refCdtName: no CDT named \"cdt-x\"");
    let errors = rejected(Kind::Assessments, with(assessment(), "/sections/0/fields/1/refCdtFieldName", json!("q9")));
    has(&errors, "assessments[0].sections[0].fields[1].refCdtFieldName: CDT \"cdt-phq\" has no field \"q9\"");
    let errors =
        rejected(Kind::Assessments, with(assessment(), "/sections/0/fields/1/meta", json!({"type": "integer"})));
    has(&errors, "assessments[0].sections[0].fields[1].meta.type: is \"integer\" but cdt-phq.q2 is \"text\"");
    let errors = rejected(Kind::Assessments, with(assessment(), "/sections/0/fields/1/refCdtFieldName", json!("q1")));
    has(&errors, "assessments[0].sections[0].fields[1].refCdtFieldName: cdt-phq.q1 is asked twice");
    let errors = rejected(Kind::Assessments, with(assessment(), "/sections/0/fields/1/refCdtName", json!("")));
    has(&errors, "assessments[0].sections[0].fields[1].refCdtName: a question needs refCdtName");
}

#[test]
fn read_only_fields_and_prepopulated_values() {
    let read_only = json!({"label": "", "viewType": "readOnly", "refCdtName": "cdt-phq"});
    let errors = rejected(Kind::Assessments, with(assessment(), "/sections/0/fields/1", read_only));
    has(&errors, "assessments[0].sections[0].fields[1].refCdtName: a readOnly field references no CDT field");
    has(&errors, "assessments[0].sections[0].fields[1].label: a readOnly field needs a label");
    let pre = json!({"type": "DEFAULT_VALUE"});
    let errors = rejected(Kind::Assessments, with(assessment(), "/sections/0/fields/1/prePopulatedValue", pre));
    has(&errors, "assessments[0].sections[0].fields[1].prePopulatedValue.defaultValue: DEFAULT_VALUE needs");
    let pre = json!({"type": "SOMETIMES"});
    let errors = rejected(Kind::Assessments, with(assessment(), "/sections/0/fields/1/prePopulatedValue", pre));
    has(&errors, "assessments[0].sections[0].fields[1].prePopulatedValue.type: must be one of PREVIOUS_ASSESSMENT");
}

#[test]
fn scoring_references_questions_and_their_options() {
    let errors =
        rejected(Kind::Assessments, with(assessment(), "/scoring/groups/0/fields/0/refCdtFieldName", json!("q3")));
    has(&errors, "assessments[0].scoring.groups[0].fields[0].refCdtFieldName: cdt-phq.q3 is not a question");
    let scores = json!([{"answer": 2, "score": 2}, {"answer": 0, "score": 0}, {"answer": 0, "score": 1}]);
    let errors = rejected(Kind::Assessments, with(assessment(), "/scoring/groups/0/fields/0/scores", scores));
    has(&errors, "assessments[0].scoring.groups[0].fields[0].scores[0].answer: \"2\" is not an option of cdt-phq.q1");
    has(&errors, "assessments[0].scoring.groups[0].fields[0].scores[2].answer: \"0\" is scored twice");
    let errors = rejected(Kind::Assessments, with(assessment(), "/scoring/formula", json!("MAX")));
    has(&errors, "assessments[0].scoring.formula: must be one of SUM, AVG");
}

#[test]
fn assessment_programs_must_exist_with_their_phases() {
    let errors = rejected(Kind::Assessments, with(assessment(), "/programs/0/program", json!("prog-x")));
    has(&errors, "assessments[0].programs[0].program: no program named \"prog-x\"");
    let errors = rejected(Kind::Assessments, with(assessment(), "/programs/0/phases", json!(["middle", "later"])));
    has(&errors, "assessments[0].programs[0].phases[1]: program \"prog-a\" has no phase \"later\"");
}

#[test]
fn objects_reject_unknown_keys_and_need_their_required_keys() {
    let errors = rejected(Kind::Assessments, json!({"name": "asm-b", "colour": "red"}));
    assert_eq!(
        errors,
        [
            "assessments[1].colour: unknown key \"colour\"; expected one of id, title, name, sections, scoring, programs, template, conditionSettings, displayType, autoCompleted",
            "assessments[1].sections: is required",
        ]
    );
    let errors = rejected(Kind::Programs, json!({"name": "Prog A", "phases": [{"name": "start", "navigate": []}]}));
    has(&errors, "programs[1].name: must be letters, digits, '-' or '_'");
    has(&errors, "programs[1].phases[0].navigate: unknown key");
    let errors = rejected(Kind::GoalTemplates, json!({"name": "goal-b"}));
    has(&errors, "goalTemplates[1].goalName: is required");
}

#[test]
fn names_are_unique_per_kind() {
    let mut d = base();
    d.assessments.push(d.assessments[0].clone());
    d.roles.push(json!({"name": "health-coach"}));
    let errors = lines(&d.validate());
    has(&errors, "assessments[1].name: \"asm-a\" is defined twice");
    has(&errors, "roles[1].name: \"health-coach\" is defined twice");
}

#[test]
fn programs_need_one_start_a_finish_and_known_targets() {
    let errors = rejected(Kind::Programs, with(program(), "/phases/1/type", json!("START")));
    has(&errors, "programs[0].phases: a program needs exactly one START phase, not 2");
    has(&errors, "programs[0].phases[0].navigateTo[0].name: no phase can navigate to the START phase");
    let errors = rejected(Kind::Programs, with(program(), "/phases/2/type", json!("REGULAR")));
    has(&errors, "programs[0].phases: a program needs at least one FINISH phase");
    let errors =
        rejected(Kind::Programs, with(program(), "/phases/1/navigateTo", json!([{"name": "end"}, {"name": "middle"}])));
    has(&errors, "programs[0].phases[1].navigateTo[0].name: no phase named \"end\" in this program");
    has(&errors, "programs[0].phases[1].navigateTo[1].name: a phase cannot navigate to itself");
    let errors = rejected(Kind::Programs, with(program(), "/phases/1/name", json!("finish")));
    has(&errors, "programs[0].phases[2].name: phase name \"finish\" is used twice");
    let errors = rejected(Kind::Programs, with(program(), "/phases", json!([])));
    has(&errors, "programs[0].phases: a program needs a START and a FINISH phase");
    let errors = rejected(Kind::Programs, with(program(), "/phases/1/type", json!("MIDDLE")));
    has(&errors, "programs[0].phases[1].type: must be one of START, REGULAR, FINISH");
}

#[test]
fn encounter_templates_reference_assessments() {
    let t = json!({"name": "etmp-b", "title": "B", "assessmentNames": ["asm-a", "asm-x", "asm-a"],
                   "encounterColor": "orange", "defaultDuration": 0});
    let errors = rejected(Kind::EncounterTemplates, t);
    assert_eq!(
        errors,
        [
            "encounterTemplates[1].encounterColor: must be a color like #e67b2d",
            "encounterTemplates[1].defaultDuration: must be a positive number of minutes",
            "encounterTemplates[1].assessmentNames[1]: no assessment named \"asm-x\"",
            "encounterTemplates[1].assessmentNames[2]: \"asm-a\" is listed twice",
        ]
    );
    let mut d = base();
    assert!(d.remove(Kind::Assessments, "asm-a"));
    has(&lines(&d.validate()), "encounterTemplates[0].assessmentNames[0]: no assessment named \"asm-a\"");
}

#[test]
fn goal_template_tasks_name_existing_roles() {
    let goal = |subject: Value| json!({"name": "goal-b", "goalName": "B", "taskTemplates": [{"name": "t", "subjectConfig": subject}]});
    let errors = rejected(Kind::GoalTemplates, goal(json!({"type": "ROLE"})));
    has(&errors, "goalTemplates[1].taskTemplates[0].subjectConfig.roleName: a ROLE subject needs a roleName");
    let errors = rejected(Kind::GoalTemplates, goal(json!({"type": "ROLE", "roleName": "nurse"})));
    has(&errors, "goalTemplates[1].taskTemplates[0].subjectConfig.roleName: no role named \"nurse\"");
    let errors = rejected(Kind::GoalTemplates, goal(json!({"type": "POINT_OF_CONTACT", "roleName": "health-coach"})));
    has(&errors, "goalTemplates[1].taskTemplates[0].subjectConfig.roleName: only a ROLE subject takes a roleName");
    let errors =
        rejected(Kind::GoalTemplates, with(goal(json!({"type": "POINT_OF_CONTACT"})), "/priority", json!("URGENT")));
    has(&errors, "goalTemplates[1].priority: must be one of LOW, MEDIUM, HIGH");
}

#[test]
fn dictionaries_check_fields_and_records() {
    let dict = json!({"name": "meds", "fields": [{"name": "value"}, {"name": "class", "type": "blob"}],
                      "records": [{"values": {"value": "Metformin", "dose": "500mg"}}, {"values": {}},
                                  {"values": {"value": "Metformin", "dose": "500mg"}}]});
    let errors = rejected(Kind::Dictionaries, dict);
    has(&errors, "dictionaries[1].fields[1].type: must be one of text");
    has(&errors, "dictionaries[1].records[0].values.dose: dictionary \"meds\" has no field \"dose\"");
    has(&errors, "dictionaries[1].records[1].values: a record needs at least one value");
    has(&errors, "dictionaries[1].records[2].values: the same record is listed twice");
    let errors = rejected(Kind::Dictionaries, json!({"name": "empty", "fields": []}));
    has(&errors, "dictionaries[1].fields: a dictionary needs at least one field");
    let mut d = base();
    assert!(d.remove(Kind::Dictionaries, "cpt"));
    has(&lines(&d.validate()), "cdts[0].fields[1].dictionary: no dictionary named \"cpt\"");
}

#[test]
fn regions_need_unique_territories() {
    let errors = invalid_in(Section::Regions, json!({"name": "west coast", "territories": []}));
    has(&errors, "regions[1].name: must be letters, digits, '-' or '_'");
    let errors = invalid_in(Section::Regions, json!({"name": "west", "territories": []}));
    has(&errors, "regions[1].territories: a region needs at least one territory");
    let errors = invalid_in(Section::Regions, json!({"name": "west", "territories": ["Oregon", "Oregon"]}));
    has(&errors, "regions[1].territories[1]: territory \"Oregon\" is used twice");
    let errors = invalid_in(Section::Regions, json!({"name": "west", "territories": ["Oregon", ""]}));
    has(&errors, "regions[1].territories[1]: must not be empty");
}

#[test]
fn webhooks_need_events_and_an_http_url() {
    let errors = invalid_in(Section::Webhooks, with(with(webhook(), "/name", json!("wh-b")), "/events", json!([])));
    has(&errors, "webhooks[1].events: a webhook needs at least one event");
    let events = json!(["PATIENT_CREATED", "PATIENT_EXPLODED", "PATIENT_CREATED"]);
    let errors = invalid_in(Section::Webhooks, with(with(webhook(), "/name", json!("wh-b")), "/events", events));
    has(&errors, "webhooks[1].events[1]: \"PATIENT_EXPLODED\" is not an event subtype");
    has(&errors, "webhooks[1].events[2]: \"PATIENT_CREATED\" is listed twice");
    for url in ["ftp://example.com", "https://", "example.com/hook", "https://exa mple.com"] {
        let errors = invalid_in(Section::Webhooks, with(with(webhook(), "/name", json!("wh-b")), "/url", json!(url)));
        has(&errors, "webhooks[1].url: must be an http:// or https:// URL");
    }
    let w = with(with(webhook(), "/name", json!("wh-b")), "/headers", json!([{"name": "X Key", "value": "v"}]));
    has(&invalid_in(Section::Webhooks, w), "webhooks[1].headers[0].name: must be an HTTP header name");
    let w = with(with(webhook(), "/name", json!("wh-b")), "/payload", json!({"predefinedFields": ["PATIENT_NAME"]}));
    has(&invalid_in(Section::Webhooks, w), "webhooks[1].payload.predefinedFields[0]: must be one of INSTANCE_NAME");
    let w = with(webhook(), "/name", json!("wh-b"));
    assert_eq!(invalid_in(Section::Webhooks, w), Vec::<String>::new());
}

#[test]
fn webhook_events_are_entity_and_action() {
    for ok in
        ["PATIENT_CREATED", "CDT_DELETED", "ASSESSMENT_COMPLETED", "USER_ACCESS_UPDATED", "CALENDAR_EVENT_UPDATED"]
    {
        assert!(is_webhook_event(ok), "{ok}");
    }
    for bad in ["PATIENT", "CREATED", "_CREATED", "PATIENT_CREATED_", "patient_created", "WIDGET_CREATED"] {
        assert!(!is_webhook_event(bad), "{bad}");
    }
}

#[test]
fn data_type_references_and_shared_names() {
    let errors = rejected(
        Kind::Cdts,
        json!({"name": "cdt-b", "fields": [
            {"name": "a", "type": "text", "profileDataType": "pdt-x"},
            {"name": "b", "type": "select", "meta": {"options": [{"label": "A", "value": "a", "refCdtName": "cdt-x"}]}}]}),
    );
    has(&errors, "cdts[1].fields[0].profileDataType: no PDT named \"pdt-x\"");
    has(&errors, "cdts[1].fields[1].meta.options[0].refCdtName: no CDT named \"cdt-x\"");
    let errors = rejected(Kind::Pdts, json!({"name": "cdt-phq", "fields": []}));
    has(&errors, "pdts[1].name: \"cdt-phq\" is already the name of one of the cdts");
}

#[test]
fn data_type_shape_errors_are_all_reported() {
    let errors = rejected(
        Kind::Cdts,
        json!({"name": "cdt-b", "type": "MANY", "fields": [{"name": "a"}, {"name": "b", "type": "text", "meta": {"colour": 1}}]}),
    );
    assert_eq!(
        errors,
        [
            "cdts[1].type: must be one of MULTI_RECORD, SINGLE_RECORD",
            "cdts[1].fields[0].type: is required",
            "cdts[1].fields[1].meta.colour: unknown key \"colour\"; expected one of required, label, options, multiple, minValue, maxValue",
        ]
    );
}

#[test]
fn the_data_type_shape_accepts_every_key_of_data_type() {
    // Guards the shape against drifting from the struct: a data type with every
    // optional part set must pass the shape unchanged.
    let dt = DataType {
        name: "cdt-all".into(),
        title: Some("All".into()),
        label: Some("All".into()),
        internal: true,
        readable: false,
        updatable: false,
        cardinality: Cardinality::SingleRecord,
        relation: Some("COMMON".into()),
        fields: vec![Field {
            name: "f".into(),
            field_type: "select".into(),
            formula: Some("1".into()),
            dictionary: Some("cpt".into()),
            profile_data_type: Some("pdt-a".into()),
            editable: false,
            searchable: true,
            bulk_edit: true,
            phi: true,
            disable: true,
            meta: FieldMeta {
                required: true,
                label: Some("F".into()),
                options: Some(vec![FieldOption {
                    label: "A".into(),
                    value: json!("a"),
                    ref_cdt_name: Some("cdt-phq".into()),
                }]),
                multiple: Some(true),
                min_value: Some(json!("1")),
                max_value: Some(json!("2")),
            },
        }],
    };
    let v = serde_json::to_value(&dt).unwrap();
    let mut errors = Vec::new();
    let out = shape::normalize(&v, &DATA_TYPE, "$", &mut errors);
    assert_eq!(lines(&errors), Vec::<String>::new());
    assert_eq!(serde_json::from_value::<DataType>(out).unwrap(), dt);
}

#[test]
fn upsert_replaces_objects_by_name() {
    let mut d = base();
    d.upsert(Kind::EncounterTemplates, json!({"name": "etmp-a", "title": "Renamed"})).unwrap();
    assert_eq!(d.encounter_templates.len(), 1);
    assert_eq!(d.encounter_template("etmp-a").unwrap().title, "Renamed");
    assert_eq!(d.encounter_template("etmp-a").unwrap().assessment_names, Vec::<String>::new());
}
