//! Formations over HTTP: reads by version in both spellings, draft edits that leave
//! `current` alone until published, numbered history.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn names(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn formation_reads_return_bare_arrays_and_objects_as_recorded() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let (status, cdts) = s.get(&s.sandbox("/formations/current/cdts?page=0"), &token).await;
    assert_eq!(status, StatusCode::OK);
    let mut found = names(&cdts);
    found.sort();
    assert_eq!(found, ["cdt-diagnosis", "cdt-intake", "cdt-phq-2", "cdt-self-care", "cdt-vitals"]);
    let (_, cdt) = s.get(&s.sandbox("/formations/current/cdts/cdt-self-care"), &token).await;
    for key in [
        "id",
        "name",
        "title",
        "label",
        "version",
        "internal",
        "readable",
        "updatable",
        "type",
        "relation",
        "fields",
        "_containsPHI",
    ] {
        assert!(cdt.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        (cdt["type"].clone(), cdt["relation"].clone(), cdt["version"].clone()),
        (json!("MULTI_RECORD"), json!("COMMON"), json!(1))
    );
    let field = &cdt["fields"][0];
    for key in [
        "name",
        "type",
        "formula",
        "dictionary",
        "profileDataType",
        "editable",
        "searchable",
        "bulkEdit",
        "phi",
        "disable",
        "injectedSource",
        "displayType",
        "valueType",
        "meta",
    ] {
        assert!(field.get(key).is_some(), "field lacks {key}");
    }
    assert_eq!((field["displayType"].clone(), field["valueType"].clone()), (json!("SELECT"), json!("STRING")));
    let singular = s.get(&s.sandbox("/formation/current/cdts/cdt-self-care"), &token).await.1;
    assert_eq!(singular, cdt, "both spellings serve the same object");

    let (_, asm) = s.get(&s.sandbox("/formations/current/assessments/asm-phq-2"), &token).await;
    assert_eq!(asm["scoring"]["formula"], "SUM");
    assert_eq!(asm["version"], 1);
    let (_, asm_cdt) = s.get(&s.sandbox("/formation/current/assessments/cdt/cdt-phq-2"), &token).await;
    assert_eq!(asm_cdt["name"], "cdt-phq-2");
    let (_, programs) = s.get(&s.sandbox("/formations/current/programs"), &token).await;
    assert_eq!(programs[0]["phases"][0]["navigateTo"], json!([{"name": "education"}]));
    let (_, encounters) = s.get(&s.sandbox("/formations/current/encounters/etmp-intake"), &token).await;
    assert_eq!(encounters["assessmentNames"], json!(["asm-phq-2"]));
    let (_, disposition) = s.get(&s.sandbox("/formations/current/encounter-disposition"), &token).await;
    assert_eq!(
        (disposition["name"].clone(), disposition["relation"].clone()),
        (json!("__encounter_disposition__"), json!("ENCOUNTER_DISPOSITION"))
    );
    let (_, docs) = s.get(&s.sandbox("/formations/1/document-types"), &token).await;
    assert_eq!((docs[0]["relation"].clone(), docs[0]["_containsPHI"].clone()), (json!("DOCUMENT_TYPE"), json!(true)));
    let (_, pdts) = s.get(&s.sandbox("/formation/pdts"), &token).await;
    assert_eq!(pdts.as_array().unwrap().len(), 2);
    let (_, dicts) = s.get(&s.sandbox("/formations/current/dictionaries"), &token).await;
    assert_eq!(names(&dicts), ["dict-conditions"]);

    let (status, err) = s.get(&s.sandbox("/formations/current/cdts/nope"), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "FORMATION_NOT_FOUND"));
    let (status, err) = s.get(&s.sandbox("/formations/7/cdts"), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "FORMATION_VERSION_NOT_FOUND"));
    assert_eq!(s.get(&s.sandbox("/formations/latest/cdts"), &token).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.get(&s.sandbox("/formations/current/spaceships"), &token).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn draft_changes_do_not_touch_current_until_published() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let new_program = json!({"name": "prog-new", "title": "New", "description": "", "phases": [
        {"name": "start", "title": "Start", "type": "START", "description": "", "autoFinishProgram": false, "navigateTo": [{"name": "finish"}]},
        {"name": "finish", "title": "Finish", "type": "FINISH", "description": "", "autoFinishProgram": false, "navigateTo": []}]});
    let (status, created) = s.post(&s.sandbox("/formations/draft/programs"), &token, new_program.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "prog-new");
    assert_eq!(
        s.post(&s.sandbox("/formations/draft/programs"), &token, new_program.clone()).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        s.post(&s.sandbox("/formations/current/programs"), &token, new_program).await.0,
        StatusCode::BAD_REQUEST,
        "only the draft changes"
    );

    // A draft edit that breaks a reference is refused and changes nothing.
    let (status, err) = s.delete(&s.sandbox("/formations/draft/cdts/cdt-phq-2"), &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert!(err[0]["message"].as_str().unwrap().contains("cdt-phq-2"), "{err}");
    let (status, _) = s
        .call(
            Method::PUT,
            &s.sandbox("/formation/draft/assessments/asm-phq-2"),
            Some(&token),
            Some(json!({"title": "PHQ-2 (short)", "sections": [], "scoring": {"formula": "SUM", "groups": []}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.delete(&s.sandbox("/formations/draft/encounters/etmp-intake"), &token).await.0, StatusCode::OK);

    let (status, err) = s
        .post(
            &s.sandbox("/formations/draft/cdts"),
            &token,
            json!({"name": "bad", "fields": [{"name": "x", "type": "hologram"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err[0]["details"]["errors"][0]["path"].as_str().unwrap().contains("fields[0].type"), "{err}");

    let current = names(&s.get(&s.sandbox("/formations/current/programs"), &token).await.1);
    assert_eq!(current, ["prog-diabetes"]);
    assert_eq!(s.get(&s.sandbox("/formations/current/assessments/asm-phq-2"), &token).await.1["title"], "PHQ-2");
    assert_eq!(s.get(&s.sandbox("/formations/current/encounters/etmp-intake"), &token).await.0, StatusCode::OK);
    let draft = names(&s.get(&s.sandbox("/formations/draft/programs"), &token).await.1);
    assert_eq!(draft, ["prog-diabetes", "prog-new"]);
    assert_eq!(
        s.get(&s.sandbox("/formations/draft/assessments/asm-phq-2"), &token).await.1["version"],
        2,
        "the version it will get"
    );
    assert!(
        names(&s.get(&format!("/{}/live/formations/draft/programs", s.tenant), &token).await.1).len() == 1,
        "drafts are per instance"
    );

    let (status, published) = s.call(Method::POST, &s.sandbox("/formations/draft/publish"), Some(&token), None).await;
    assert_eq!(status, StatusCode::CREATED, "{published}");
    assert_eq!(published["version"], 2);
    assert_eq!(
        names(&s.get(&s.sandbox("/formations/current/programs"), &token).await.1),
        ["prog-diabetes", "prog-new"]
    );
    assert_eq!(s.get(&s.sandbox("/formations/current/encounters/etmp-intake"), &token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(names(&s.get(&s.sandbox("/formations/1/programs"), &token).await.1), ["prog-diabetes"], "history stays");
    assert_eq!(s.get(&s.sandbox("/formations/current/cdts/cdt-self-care"), &token).await.1["version"], 2);

    let (_, audit) = s.get(&format!("/{}/admin/audit-data?entity=FORMATION&instance=sandbox", s.tenant), &token).await;
    assert!(audit["metaInfo"]["totalElements"].as_i64().unwrap() >= 4, "{audit}");
}

#[tokio::test]
async fn applying_the_same_designer_again_publishes_nothing() {
    let s = Server::with_designer().await;
    let out = s.cli(&["designer", "apply", common::FIXTURE_DESIGNER, "--tenant", &s.tenant]);
    assert!(out.contains("unchanged"), "{out}");
    let token = s.token().await;
    assert_eq!(s.get(&s.sandbox("/formations/current/cdts/cdt-vitals"), &token).await.1["version"], 1);
}

#[tokio::test]
async fn applying_to_an_unknown_tenant_is_refused_unless_asked_to_create_it() {
    let s = Server::start().await;
    let typo = format!("{}x", s.tenant);
    let out = common::cli_output(&s.db_url, &["designer", "apply", common::FIXTURE_DESIGNER, "--tenant", &typo]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("no tenant \"{typo}\"")) && stderr.contains("--create-tenant"), "{stderr}");
    let listed = s.cli(&["tenants", "list"]);
    assert!(!listed.lines().any(|l| l.split_whitespace().next() == Some(typo.as_str())), "{listed}");

    let out = s.cli(&["designer", "apply", common::FIXTURE_DESIGNER, "--tenant", &typo, "--create-tenant"]);
    assert!(out.contains(&format!("{typo}/sandbox: published version 1")), "{out}");
    assert!(s.cli(&["tenants", "list"]).lines().any(|l| l.split_whitespace().next() == Some(typo.as_str())));
}

#[tokio::test]
async fn formations_need_the_formations_permission() {
    let s = Server::with_designer().await;
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let token = s.token_for(&name, &secret).await;
    assert_eq!(s.get(&s.sandbox("/formations/current/cdts"), &token).await.0, StatusCode::FORBIDDEN);
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"formations": ["read"]}}), None);
    let token = s.token_for(&name, &secret).await;
    assert_eq!(s.get(&s.sandbox("/formations/current/cdts"), &token).await.0, StatusCode::OK);
    assert_eq!(
        s.call(Method::POST, &s.sandbox("/formations/draft/publish"), Some(&token), None).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn draft_dictionaries_dispositions_and_document_types_round_trip() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let dict = json!({"name": "dict-colours", "title": "Colours", "fields": [{"name": "value", "type": "text"}]});
    assert_eq!(s.post(&s.sandbox("/formations/draft/dictionaries"), &token, dict).await.0, StatusCode::CREATED);
    let (status, renamed) = s
        .call(
            Method::PUT,
            &s.sandbox("/formations/draft/dictionaries/dict-colours"),
            Some(&token),
            Some(json!({"title": "Colors", "fields": [{"name": "value", "type": "text"}]})),
        )
        .await;
    assert_eq!((status, renamed["title"].clone()), (StatusCode::OK, json!("Colors")));
    let (status, err) = s
        .call(
            Method::PUT,
            &s.sandbox("/formations/draft/dictionaries/dict-colours"),
            Some(&token),
            Some(json!({"name": "other", "fields": []})),
        )
        .await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("name")));
    assert_eq!(s.delete(&s.sandbox("/formations/draft/dictionaries/dict-colours"), &token).await.0, StatusCode::OK);
    assert_eq!(
        s.delete(&s.sandbox("/formations/draft/dictionaries/dict-colours"), &token).await.0,
        StatusCode::NOT_FOUND
    );

    // The disposition is checked like any data type: an unknown key is refused at its path
    // and the draft keeps what it had.
    let (status, err) = s
        .call(
            Method::PUT,
            &s.sandbox("/formations/draft/encounter-disposition"),
            Some(&token),
            Some(json!({"fields": [{"name": "outcome", "type": "text", "colour": "red"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert!(err.to_string().contains("encounterDisposition.fields[0].colour"), "{err}");
    assert_eq!(
        s.get(&s.sandbox("/formations/draft/encounter-disposition"), &token).await.1["fields"][0]["name"],
        "disposition-code"
    );
    let disposition = json!({"fields": [{"name": "outcome", "type": "select", "meta": {"required": true, "options": [{"label": "Done", "value": "Done"}]}}]});
    let (status, d) = s
        .call(Method::PUT, &s.sandbox("/formations/draft/encounter-disposition"), Some(&token), Some(disposition))
        .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(
        (d["name"].clone(), d["fields"][0]["name"].clone()),
        (json!("__encounter_disposition__"), json!("outcome"))
    );
    assert_eq!(
        s.get(&s.sandbox("/formations/current/encounter-disposition"), &token).await.1["fields"][0]["name"],
        "disposition-code"
    );

    let doc =
        json!({"name": "doc-type-lab", "title": "Lab result", "fields": [{"name": "result", "type": "textarea"}]});
    let (status, created) = s.post(&s.sandbox("/formations/draft/document-types"), &token, doc).await;
    assert_eq!((status, created["relation"].clone()), (StatusCode::CREATED, json!("DOCUMENT_TYPE")));
    assert_eq!(s.get(&s.sandbox("/formation/pdts/pdt-insurance"), &token).await.1["name"], "pdt-insurance");
    assert_eq!(s.get(&s.sandbox("/formation/pdts/pdt-nope"), &token).await.0, StatusCode::NOT_FOUND);
    s.call(Method::POST, &s.sandbox("/formations/draft/publish"), Some(&token), None).await;
    assert_eq!(
        s.get(&s.sandbox("/formations/current/encounter-disposition"), &token).await.1["fields"][0]["name"],
        "outcome"
    );
    assert_eq!(s.get(&s.sandbox("/formations/current/document-types/doc-type-lab"), &token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn every_write_is_queued_in_the_event_outbox_with_its_audit_row_where_a_webhook_is_on() {
    let s = Server::start().await;
    s.switch_on_a_webhook(); // in the sandbox; none in live
    let token = s.token().await;
    let unheard =
        s.post(&format!("/{}/live/patients", s.tenant), &token, json!({"firstName": "No", "lastName": "Hook"})).await.1;
    let p = s.create_patient(&token, json!({"firstName": "Out", "lastName": "Box"})).await;
    let pid = p["id"].as_str().unwrap();
    let (_, r) =
        s.post(&s.sandbox(&format!("/patients/{pid}/cdts/cdt-self-care")), &token, json!({"cdtf-unwind": "x"})).await;
    s.post(&s.sandbox(&format!("/patients/{pid}/cdts/cdt-self-care")), &token, json!({"cdtf-alone-time": "Maybe"}))
        .await;
    let db = openwelkin::store::Db::connect(&s.db_url).await.unwrap();
    let tenant = db.tenant_by_name(&s.tenant).await.unwrap().unwrap();
    let events = db.outbox_events(&tenant.id, 0, 100).await.unwrap();
    let mine: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.patient_id.as_deref() == Some(pid))
        .map(|e| (e.event_subtype.clone(), e.source_id.clone()))
        .collect();
    assert_eq!(
        mine,
        [
            ("PATIENT_CREATED".to_string(), pid.to_string()),
            ("CDT_CREATED".to_string(), r["id"].as_str().unwrap().to_string())
        ],
        "one event per acknowledged write, none for the refused one"
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    // No webhook is on in live: no webhook could ever receive the event, so none is queued.
    assert!(unheard["id"].is_string(), "{unheard}");
    assert!(!events.iter().any(|e| e.source_id == unheard["id"].as_str().unwrap()), "{events:?}");
}
