//! `GET /reports/patient-program-phase-distribution`: patients per program phase, every
//! phase of the formation listed (zero included), each patient counted once per program
//! in the phase of their latest enrolment; instance isolation and the policy 403.

mod common;

use common::{error_code, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PROGRAM: &str = "prog-diabetes";

async fn enrol(s: &Server, token: &str, pid: &str, phase: &str) {
    let url = s.sandbox(&format!("/patients/{pid}/programs/{PROGRAM}"));
    let (status, pp) = s.patch(&url, token, json!({"assigned": true, "phaseName": "start"})).await;
    assert_eq!(status, StatusCode::OK, "{pp}");
    if phase != "start" {
        let (status, pp) = s.patch(&url, token, json!({"phaseName": phase})).await;
        assert_eq!(status, StatusCode::OK, "{pp}");
    }
}

/// `(phase, patients)` of the program's row, and the row's total.
async fn distribution(s: &Server, token: &str, instance: &str) -> (Vec<(String, i64)>, i64) {
    let (status, rows) =
        s.get(&format!("/{}/{instance}/reports/patient-program-phase-distribution", s.tenant), token).await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    let row = rows.as_array().unwrap().iter().find(|r| r["programName"] == PROGRAM).expect("the program's row").clone();
    assert_eq!(row["title"], "Diabetes care", "rows are keyed by the program's title");
    let phases = row["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["patients"].as_i64().unwrap()))
        .collect();
    (phases, row["patients"].as_i64().unwrap())
}

fn counts(v: &[(&str, i64)]) -> Vec<(String, i64)> {
    v.iter().map(|(p, n)| (p.to_string(), *n)).collect()
}

#[tokio::test]
async fn patients_are_counted_per_phase_of_their_latest_enrolment() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let (phases, total) = distribution(&s, &token, "sandbox").await;
    assert_eq!((phases, total), (counts(&[("start", 0), ("education", 0), ("finish", 0)]), 0));

    let mut ids = Vec::new();
    for n in 0..4 {
        let p = s.create_patient(&token, json!({"firstName": format!("P{n}"), "lastName": "Hase"})).await;
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    enrol(&s, &token, &ids[0], "start").await;
    enrol(&s, &token, &ids[1], "education").await;
    enrol(&s, &token, &ids[2], "education").await;
    let (phases, total) = distribution(&s, &token, "sandbox").await;
    assert_eq!((phases, total), (counts(&[("start", 1), ("education", 2), ("finish", 0)]), 3));

    // Moving a patient on moves their count; the other instance sees none of it.
    let url = s.sandbox(&format!("/patients/{}/programs/{PROGRAM}", ids[1]));
    let (status, body) = s.patch(&url, &token, json!({"phaseName": "finish"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (phases, total) = distribution(&s, &token, "sandbox").await;
    assert_eq!((phases, total), (counts(&[("start", 1), ("education", 1), ("finish", 1)]), 3));
    let (phases, total) = distribution(&s, &token, "live").await;
    assert_eq!((phases, total), (counts(&[("start", 0), ("education", 0), ("finish", 0)]), 0));
}

#[tokio::test]
async fn the_report_needs_the_programs_policy() {
    let s = Server::with_designer().await;
    let path = s.sandbox("/reports/patient-program-phase-distribution");
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["*"]}}), None);
    let token = s.token_for(&name, &secret).await;
    let (status, err) = s.get(&path, &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"));
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"programs": ["read"]}}), None);
    let token = s.token_for(&name, &secret).await;
    let (status, rows) = s.get(&path, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(rows.as_array().is_some_and(|r| !r.is_empty()), "{rows}");
    let (status, _) = s.get(&format!("/{}/nowhere/reports/patient-program-phase-distribution", s.tenant), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let _: Value = rows;
}
