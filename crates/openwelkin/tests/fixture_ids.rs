//! Seed fixtures that fix the ids of the records they create (`"id"` in a create's body),
//! over HTTP and on the CLI, for every resource kind; duplicates, ids in use and ids on
//! requests that create nothing are refused with nothing written; a reset followed by the
//! same seed fixes the same ids again; the public API still refuses a client-chosen id.

mod common;

use common::{error_code, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ADMIN: &str = "emulator-admin-token";

async fn emulator_server() -> Server {
    let s = Server::start_with(&["--no-webhook-worker", "--emulator", "--emulator-token", ADMIN]).await;
    s.cli(&["designer", "apply", common::FIXTURE_DESIGNER, "--tenant", &s.tenant]);
    s
}

fn emu(s: &Server, rest: &str) -> String {
    format!("/_emulator/tenants/{}/instances/sandbox{rest}", s.tenant)
}

/// A fixed id per resource kind, distinct per call (`n`) so that tests sharing a
/// PostgreSQL database never meet each other's ids.
fn ids(n: u32) -> Vec<(&'static str, String)> {
    let salt = format!("{:08x}", rand_u32() ^ n);
    ["user", "patient", "cdt", "pdt", "encounter", "event", "document", "task", "assessment", "fax", "contact"]
        .iter()
        .enumerate()
        .map(|(k, kind)| (*kind, format!("{salt}-0000-4000-8000-{:012x}", k + 1)))
        .collect()
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish() as u32
}

fn id_of(ids: &[(&str, String)], kind: &str) -> String {
    ids.iter().find(|(k, _)| *k == kind).unwrap().1.clone()
}

/// One create per resource kind, each fixing its id; and where each is read back.
fn fixture(ids: &[(&str, String)]) -> (Value, Vec<(String, String)>) {
    let id = |k: &str| id_of(ids, k);
    let (user, patient) = (id("user"), id("patient"));
    let requests = json!({"requests": [
        {"method": "POST", "path": "/{tenant}/admin/users",
         "body": {"id": user, "username": format!("fixed-{user}"), "email": format!("{user}@example.org")}},
        {"method": "POST", "path": "patients", "body": {"id": patient, "firstName": "Fix", "lastName": "Ed"}},
        {"method": "POST", "path": format!("patients/{patient}/cdts/cdt-vitals"), "body": {"id": id("cdt"), "weight": 70}},
        {"method": "POST", "path": format!("patients/{patient}/pdts/pdt-insurance"), "body": {"id": id("pdt"), "pdtf-provider": "Acme"}},
        {"method": "POST", "path": format!("patients/{patient}/encounters"),
         "body": {"id": id("encounter"), "templateName": "etmp-intake", "title": "Intake"}},
        {"method": "POST", "path": "calendar/events",
         "body": {"id": id("event"), "startDateTime": "2030-08-01T10:00:00Z", "endDateTime": "2030-08-01T11:00:00Z",
                  "hostId": user, "participants": [{"participantId": user, "participantRole": "psm"}]}},
        {"method": "POST", "path": format!("patients/{patient}/document-summary"), "body": {"id": id("document"), "type": "doc-type-others"}},
        {"method": "POST", "path": "tasks",
         "body": {"id": id("task"), "name": "Call back", "status": "TODO", "priority": "LOW", "assignee": {"id": user}}},
        {"method": "POST", "path": format!("patients/{patient}/assessment-records"), "body": {"id": id("assessment"), "assessmentName": "asm-phq-2"}},
        {"method": "POST", "path": "faxes", "body": {"id": id("fax"), "receiver": "+15625345699"}},
    ]});
    let reads = vec![
        ("user".to_string(), format!("/{{tenant}}/admin/users/{user}?type=ID")),
        ("patient".to_string(), format!("patients/{patient}")),
        ("cdt".to_string(), format!("patients/{patient}/cdts/cdt-vitals/{}", id("cdt"))),
        ("pdt".to_string(), format!("patients/{patient}/pdts/pdt-insurance/{}", id("pdt"))),
        ("encounter".to_string(), format!("patients/{patient}/encounters/{}", id("encounter"))),
        ("event".to_string(), format!("calendar/events/{}", id("event"))),
        ("document".to_string(), format!("patients/{patient}/document-summary/{}", id("document"))),
        ("task".to_string(), format!("tasks/{}", id("task"))),
        ("assessment".to_string(), format!("patients/{patient}/assessment-records/{}", id("assessment"))),
        ("fax".to_string(), format!("faxes/{}", id("fax"))),
    ];
    (requests, reads)
}

/// Reads every record back by its fixed id.
async fn all_read_back(s: &Server, token: &str, ids: &[(&str, String)], reads: &[(String, String)]) {
    for (kind, path) in reads {
        let path = match path.strip_prefix('/') {
            Some(abs) => format!("/{}", abs.replace("{tenant}", &s.tenant)),
            None => s.sandbox(&format!("/{path}")),
        };
        let (status, record) = s.get(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {record}");
        assert_eq!(record["id"].as_str(), Some(id_of(ids, kind).as_str()), "{kind}: {record}");
    }
}

#[tokio::test]
async fn a_seed_fixes_the_id_of_every_kind_of_record() {
    let s = emulator_server().await;
    let token = s.token().await;
    let ids = ids(1);
    let (fixture, reads) = fixture(&ids);
    let (status, seeded) = s.post(&emu(&s, "/seed"), ADMIN, fixture.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{seeded}");
    all_read_back(&s, &token, &ids, &reads).await;

    // The same seed again: the ids are in use, so it is refused and changes nothing.
    let before = s.count_patients(&token, "").await;
    let (status, err) = s.post(&emu(&s, "/seed"), ADMIN, fixture.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let message = err[0]["message"].as_str().unwrap();
    assert!(message.contains("already used") && message.contains(&id_of(&ids, "user")), "{message}");
    assert_eq!(s.count_patients(&token, "").await, before);

    // After a reset of the tenant (its users too), the same seed fixes the same ids again.
    let (status, body) = s.post(&format!("/_emulator/tenants/{}/reset", s.tenant), ADMIN, json!({})).await;
    assert!(status.is_success(), "{body}");
    let (status, seeded) = s.post(&emu(&s, "/seed"), ADMIN, fixture).await;
    assert_eq!(status, StatusCode::CREATED, "{seeded}");
    all_read_back(&s, &token, &ids, &reads).await;
}

#[tokio::test]
async fn bad_fixed_ids_are_refused_and_change_nothing() {
    let s = emulator_server().await;
    let token = s.token().await;
    let ids = ids(2);
    let patient = id_of(&ids, "patient");
    let person = |id: &str| json!({"method": "POST", "path": "patients", "body": {"id": id, "firstName": "Du", "lastName": "Plicate"}});
    for (fixture, says) in [
        (json!({"requests": [person(&patient), person(&patient)]}), "already fixed by request 0"),
        (json!({"requests": [person("not-a-uuid")]}), "must be a UUID"),
        (
            json!({"requests": [person(&patient), {"method": "POST", "path": "by-filter/patients", "body": {"id": id_of(&ids, "cdt")}}]}),
            "creates no record",
        ),
    ] {
        let (status, err) = s.post(&emu(&s, "/seed"), ADMIN, fixture.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fixture}: {err}");
        assert!(err[0]["message"].as_str().unwrap().contains(says), "{says}: {err}");
        assert_eq!(s.count_patients(&token, "").await, 0, "nothing was written: {fixture}");
    }
}

#[tokio::test]
async fn the_cli_seed_fixes_ids_too() {
    let s = emulator_server().await;
    let token = s.token().await;
    let ids = ids(3);
    let (fixture, reads) = fixture(&ids);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixture.json");
    std::fs::write(&path, fixture.to_string()).unwrap();
    let scope = ["--tenant", &s.tenant, "--instance", "sandbox"];
    s.cli(&[&["seed", "--fixture", path.to_str().unwrap()][..], &scope[..]].concat());
    all_read_back(&s, &token, &ids, &reads).await;
    let out = common::cli_output(&s.db_url, &[&["seed", "--fixture", path.to_str().unwrap()][..], &scope[..]].concat());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already used"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn the_public_api_refuses_a_client_chosen_id() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let chosen = id_of(&ids(4), "patient");
    let p = s.create_patient(&token, json!({"firstName": "Pub", "lastName": "Lic"})).await;
    let pid = p["id"].as_str().unwrap();
    let (status, u) =
        s.post(&format!("/{}/admin/users", s.tenant), &token, json!({"username": "u1", "email": "u1@x.org"})).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    let uid = u["id"].as_str().unwrap();
    for (path, body) in [
        (s.sandbox("/patients"), json!({"firstName": "A", "lastName": "B"})),
        (format!("/{}/admin/users", s.tenant), json!({"username": "u2", "email": "u2@x.org"})),
        (s.sandbox(&format!("/patients/{pid}/cdts/cdt-vitals")), json!({"weight": 70})),
        (s.sandbox(&format!("/patients/{pid}/encounters")), json!({"templateName": "etmp-intake"})),
        (
            s.sandbox("/calendar/events"),
            json!({"startDateTime": "2030-08-01T10:00:00Z", "endDateTime": "2030-08-01T11:00:00Z", "hostId": uid,
                   "participants": [{"participantId": uid, "participantRole": "psm"}]}),
        ),
        (s.sandbox(&format!("/patients/{pid}/document-summary")), json!({"type": "doc-type-others"})),
        (s.sandbox("/tasks"), json!({"name": "T", "status": "TODO", "priority": "LOW", "assignee": {"id": uid}})),
        (s.sandbox("/faxes"), json!({"receiver": "+15625345699"})),
    ] {
        let mut with_id = body.clone();
        with_id["id"] = json!(chosen);
        let (status, err) = s.post(&path, &token, with_id).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {err}");
        assert_eq!(error_code(&err), "VALIDATION_ERROR", "{path}: {err}");
        assert!(err.to_string().contains("id"), "{path}: {err}");
    }
    let (status, _) = s.get(&s.sandbox(&format!("/patients/{chosen}")), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no record took the chosen id");
}
