//! Assessment records over HTTP: created from the designer's assessment, answers checked
//! against the referenced fields, completion scored, statuses only moving forward.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn setup() -> (Server, String, String) {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let p = s
        .create_patient(&token, json!({"firstName": "Ass", "lastName": "Essed", "timezone": "America/New_York"}))
        .await;
    let pid = p["id"].as_str().unwrap().to_string();
    (s, token, pid)
}

#[tokio::test]
async fn a_record_goes_from_new_to_in_progress_to_completed_with_a_score() {
    let (s, token, pid) = setup().await;
    let base = s.sandbox(&format!("/patients/{pid}/assessment-records"));
    let (status, r) = s.post(&base, &token, json!({"assessmentName": "asm-phq-2"})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    for key in [
        "id",
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "createdByName",
        "updatedByName",
        "finalizedDate",
        "localFinalizedDate",
        "localCreatedDate",
        "localUpdatedDate",
        "assessmentName",
        "assessmentTitle",
        "assessmentCdtName",
        "version",
        "patientId",
        "status",
        "answers",
        "scoring",
        "folderId",
        "expirationDate",
        "questions",
        "resolvedCdtValues",
        "pfa",
    ] {
        assert!(r.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        (r["status"].clone(), r["assessmentCdtName"].clone(), r["version"].clone()),
        (json!("NEW"), json!("_asm-phq-2"), json!(1))
    );
    assert_eq!(
        (r["answers"]["source_type"].clone(), r["answers"]["source_id"].clone()),
        (json!("ASSESSMENT"), r["id"].clone())
    );
    assert_eq!(r["answers"]["cdt-phq-2__interest"], Value::Null);
    assert!(
        r["localCreatedDate"].as_str().unwrap().ends_with("-05:00")
            || r["localCreatedDate"].as_str().unwrap().ends_with("-04:00"),
        "patient's zone"
    );
    let id = r["id"].as_str().unwrap();

    let answers = format!("{base}/{id}/answers");
    let (status, err) = s.call(Method::PUT, &answers, Some(&token), Some(json!({"cdt-phq-2__interest": 2}))).await;
    assert_eq!(
        (status, err[0]["details"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("cdt-phq-2__interest")),
        "2 is no option"
    );
    let (status, err) = s.call(Method::PUT, &answers, Some(&token), Some(json!({"CDT-PHQ-2__INTEREST": 3}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(s.get(&format!("{base}/{id}"), &token).await.1["status"], "NEW", "refused answers change nothing");

    let (status, r) = s.call(Method::PUT, &answers, Some(&token), Some(json!({"cdt-phq-2__interest": 3}))).await;
    assert_eq!(
        (status, r["status"].clone(), r["answers"]["cdt-phq-2__interest"].clone()),
        (StatusCode::OK, json!("IN_PROGRESS"), json!(3))
    );

    let mut whole = r.clone();
    whole["status"] = json!("COMPLETED");
    let (status, err) = s.call(Method::PUT, &format!("{base}/{id}"), Some(&token), Some(whole.clone())).await;
    assert_eq!(
        (status, err[0]["details"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("cdt-phq-2__mood")),
        "a required question is unanswered"
    );
    whole["answers"]["cdt-phq-2__mood"] = json!(1);
    let (status, done) = s.call(Method::PUT, &format!("{base}/{id}"), Some(&token), Some(whole)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "COMPLETED");
    assert!(done["finalizedDate"].as_str().unwrap().ends_with('Z'));
    assert_eq!(done["scoring"], json!({"formula": "SUM", "score": 4}));
    assert_eq!(done["questions"]["cdt-phq-2__interest"], "Little interest or pleasure in doing things");

    let (status, err) = s.call(Method::PUT, &answers, Some(&token), Some(json!({"cdt-phq-2__mood": 0}))).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "ASSESSMENT_RECORD_COMPLETED"));
    let mut reopen = done.clone();
    reopen["status"] = json!("IN_PROGRESS");
    assert_eq!(
        s.call(Method::PUT, &format!("{base}/{id}"), Some(&token), Some(reopen)).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(s.get(&format!("{base}/{id}"), &token).await.1, done);

    let (_, audit) = s
        .get(&format!("/{}/admin/audit-data?patientId={pid}&eventSubtype=ASSESSMENT_COMPLETED", s.tenant), &token)
        .await;
    let all = s.get(&format!("/{}/admin/audit-data?patientId={pid}", s.tenant), &token).await.1;
    assert_eq!(audit["metaInfo"]["totalElements"], 1, "{all}");
}

#[tokio::test]
async fn records_list_page_and_delete_as_recorded() {
    let (s, token, pid) = setup().await;
    let base = s.sandbox(&format!("/patients/{pid}/assessment-records"));
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            s.post(&base, &token, json!({"assessmentName": "asm-phq-2"})).await.1["id"].as_str().unwrap().to_string(),
        );
    }
    let (status, page) = s.get(&format!("{base}?page=0&size=2"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (page["totalElements"].clone(), page["last"].clone(), page["content"][0]["id"].clone()),
        (json!(3), json!(false), json!(ids[0]))
    );
    assert_eq!(s.get(&format!("{base}?page=1&size=2"), &token).await.1["last"], true);
    let (status, empty) = s.delete(&format!("{base}/{}", ids[0]), &token).await;
    assert_eq!((status, empty), (StatusCode::OK, Value::Null));
    let (status, err) = s.get(&format!("{base}/{}", ids[0]), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err[0]["errorCode"], "ASSESSMENT_RECORD_NOT_FOUND");
    assert_eq!(err[0]["componentType"], "ASSESSMENT");
    assert_eq!(err[0]["details"], json!({"recordId": ids[0], "patientId": pid}));
    assert_eq!(
        error_code(&s.post(&base, &token, json!({"assessmentName": "asm-nope"})).await.1),
        "ASSESSMENT_NOT_FOUND"
    );
    assert_eq!(s.post(&base, &token, json!({"name": "asm-phq-2"})).await.0, StatusCode::BAD_REQUEST);
    let (_, answers_cdt) = s.get(&s.sandbox("/formation/current/assessments/cdt/_asm-phq-2"), &token).await;
    assert_eq!(
        (answers_cdt["relation"].clone(), answers_cdt["fields"][0]["name"].clone()),
        (json!("ASSESSMENT"), json!("cdt-phq-2__interest"))
    );
    // Another patient's records are not reachable through this patient.
    let other = s.create_patient(&token, json!({"firstName": "O", "lastName": "P"})).await;
    let path = s.sandbox(&format!("/patients/{}/assessment-records/{}", other["id"].as_str().unwrap(), ids[1]));
    assert_eq!(s.get(&path, &token).await.0, StatusCode::NOT_FOUND);
}
