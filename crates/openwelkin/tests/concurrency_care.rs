//! Concurrent writes in care delivery: two requests that change one record at the same
//! moment behave as if they had run one after the other. PATCHes of different fields
//! both land; a status that can be reached once (an encounter's FINALIZED, an
//! assessment's COMPLETED) is reached once; a patient is enrolled in a program once; a
//! batch status change is all or nothing. Each test runs a bounded number of rounds and
//! counts the rounds that went wrong, so a failure says how often the race was lost.

mod common;

use common::{error_code, unique, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ROUNDS: usize = 20;
/// No test keeps racing longer than this, however slow the machine.
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// Rounds to run: `ROUNDS`, or fewer if the time limit is reached.
struct Rounds {
    started: Instant,
    done: usize,
}

impl Rounds {
    fn new() -> Rounds {
        Rounds { started: Instant::now(), done: 0 }
    }

    fn next(&mut self) -> Option<usize> {
        if self.done >= ROUNDS || (self.done > 0 && self.started.elapsed() > TIME_LIMIT) {
            return None;
        }
        self.done += 1;
        Some(self.done)
    }
}

async fn user(s: &Server, token: &str, first: &str) -> String {
    let name = unique("u");
    let body =
        json!({"username": name, "email": format!("{name}@example.org"), "firstName": first, "lastName": "Racer"});
    let (status, u) = s.post(&format!("/{}/admin/users", s.tenant), token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    u["id"].as_str().unwrap().to_string()
}

async fn new_patient(s: &Server, token: &str) -> String {
    let p = s.create_patient(token, json!({"firstName": "Con", "lastName": unique("Current")})).await;
    p["id"].as_str().unwrap().to_string()
}

/// Number of data audit rows of one subtype about a patient.
async fn audited(s: &Server, token: &str, patient_id: &str, subtype: &str) -> i64 {
    let (status, page) = s
        .get(&format!("/{}/admin/audit-data?patientId={patient_id}&eventSubtype={subtype}&size=100", s.tenant), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["metaInfo"]["totalElements"].as_i64().unwrap()
}

/// Fails with the list of rounds that went wrong.
fn no_failures(what: &str, rounds: usize, failures: &[String]) {
    assert!(rounds > 0, "{what}: no round ran");
    assert!(failures.is_empty(), "{what}: {} of {rounds} rounds went wrong:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn concurrent_patches_of_a_calendar_event_keep_both_fields() {
    let s = Server::start().await;
    let token = s.token().await;
    let sam = user(&s, &token, "Sam").await;
    let (status, e) = s
        .post(
            &s.sandbox("/calendar/events"),
            &token,
            json!({"startDateTime": "2031-05-01T10:00:00Z", "endDateTime": "2031-05-01T11:00:00Z", "hostId": sam,
                   "participants": [{"participantId": sam, "participantRole": "psm"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    let path = s.sandbox(&format!("/calendar/events/{}", e["id"].as_str().unwrap()));
    let failures = s
        .racing_patches(&path, &token, ROUNDS, |i| {
            let (title, description) = (json!(format!("title {i}")), json!(format!("description {i}")));
            (
                json!({"eventTitle": title}),
                json!({"eventDescription": description}),
                vec![("/eventTitle", title), ("/eventDescription", description)],
            )
        })
        .await;
    no_failures("calendar event PATCH", ROUNDS, &failures);
}

#[tokio::test]
async fn concurrent_patches_of_a_task_keep_both_fields() {
    let s = Server::start().await;
    let token = s.token().await;
    let ann = user(&s, &token, "Ann").await;
    let (status, t) = s
        .post(
            &s.sandbox("/tasks"),
            &token,
            json!({"name": "race", "status": "TODO", "priority": "LOW", "assignee": {"id": ann}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    let path = s.sandbox(&format!("/tasks/{}", t["id"].as_str().unwrap()));
    let failures = s
        .racing_patches(&path, &token, ROUNDS, |i| {
            let (name, description) = (json!(format!("name {i}")), json!(format!("description {i}")));
            (
                json!({"name": name}),
                json!({"description": description}),
                vec![("/name", name), ("/description", description)],
            )
        })
        .await;
    no_failures("task PATCH", ROUNDS, &failures);
}

#[tokio::test]
async fn concurrent_batch_status_changes_are_all_or_nothing() {
    let s = Server::start().await;
    let token = s.token().await;
    let ann = user(&s, &token, "Ann").await;
    let mut ids = Vec::new();
    for name in ["first", "second", "third"] {
        let (status, t) = s
            .post(
                &s.sandbox("/tasks"),
                &token,
                json!({"name": name, "status": "TODO", "priority": "LOW", "assignee": {"id": ann}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        ids.push(t["id"].as_str().unwrap().to_string());
    }
    let reversed: Vec<String> = ids.iter().rev().cloned().collect();
    let statuses = ["IN_PROGRESS", "COMPLETED", "TODO", "CANCELED"];
    let mut rounds = Rounds::new();
    let mut failures = Vec::new();
    while let Some(i) = rounds.next() {
        let (x, y) = (statuses[i % 4], statuses[(i + 1) % 4]);
        let (a, b) = s
            .both_at_once(
                Method::PATCH,
                &s.sandbox("/tasks"),
                &token,
                json!({"taskIds": ids, "status": x}),
                json!({"taskIds": reversed, "status": y}),
            )
            .await;
        if a.0 != StatusCode::OK || b.0 != StatusCode::OK {
            failures.push(format!("round {i}: answers {} {} / {} {}", a.0, a.1, b.0, b.1));
            continue;
        }
        let mut now = Vec::new();
        for id in &ids {
            now.push(s.get(&s.sandbox(&format!("/tasks/{id}")), &token).await.1["status"].clone());
        }
        if now.iter().any(|st| *st != now[0]) {
            failures.push(format!("round {i}: batches interleaved: {now:?}"));
        }
    }
    no_failures("task batch status", rounds.done, &failures);
}

async fn encounter_setup() -> (Server, String, String, String) {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let pid = new_patient(&s, &token).await;
    let base = s.sandbox(&format!("/patients/{pid}/encounters"));
    (s, token, pid, base)
}

async fn new_encounter(s: &Server, token: &str, base: &str) -> String {
    let (status, e) = s.post(base, token, json!({"templateName": "etmp-intake"})).await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    format!("{base}/{}", e["id"].as_str().unwrap())
}

#[tokio::test]
async fn concurrent_patches_of_an_encounter_keep_both_fields() {
    let (s, token, _, base) = encounter_setup().await;
    let path = new_encounter(&s, &token, &base).await;
    let failures = s
        .racing_patches(&path, &token, ROUNDS, |i| {
            let (title, notes) = (json!(format!("title {i}")), json!(format!("notes {i}")));
            (
                json!({"title": title}),
                json!({"notes": notes}),
                vec![("/jsonBody/title", title), ("/jsonBody/notes", notes)],
            )
        })
        .await;
    no_failures("encounter PATCH", ROUNDS, &failures);
}

#[tokio::test]
async fn concurrent_patches_of_a_disposition_keep_both_fields() {
    let (s, token, _, base) = encounter_setup().await;
    let path = format!("{}/disposition", new_encounter(&s, &token, &base).await);
    let codes = ["Completed", "Rescheduled"];
    let mut rounds = Rounds::new();
    let mut failures = Vec::new();
    while let Some(i) = rounds.next() {
        let code = codes[i % 2];
        let note = format!("note {i}");
        let (a, b) = s
            .both_at_once(Method::PATCH, &path, &token, json!({"disposition-code": code}), json!({"note": note}))
            .await;
        if a.0 != StatusCode::OK || b.0 != StatusCode::OK {
            failures.push(format!("round {i}: answers {} {} / {} {}", a.0, a.1, b.0, b.1));
            continue;
        }
        let (_, now) = s.get(&path, &token).await;
        let body = &now["jsonBody"];
        if body["disposition-code"] != json!(code) || body["note"] != json!(note) {
            failures.push(format!(
                "round {i}: lost update: disposition-code {} note {}",
                body["disposition-code"], body["note"]
            ));
        }
    }
    no_failures("disposition PATCH", rounds.done, &failures);
}

#[tokio::test]
async fn an_encounter_is_finalized_once() {
    let (s, token, pid, base) = encounter_setup().await;
    let mut rounds = Rounds::new();
    let mut failures = Vec::new();
    while let Some(i) = rounds.next() {
        let path = new_encounter(&s, &token, &base).await;
        let (status, d) =
            s.patch(&format!("{path}/disposition"), &token, json!({"disposition-code": "Completed"})).await;
        assert_eq!(status, StatusCode::OK, "{d}");
        let (status, e) = s.patch(&path, &token, json!({"status": "ACTIVE"})).await;
        assert_eq!(status, StatusCode::OK, "{e}");
        let (a, b) = s
            .both_at_once(
                Method::PATCH,
                &path,
                &token,
                json!({"status": "FINALIZED", "notes": "by a"}),
                json!({"status": "FINALIZED", "notes": "by b"}),
            )
            .await;
        let oks = [&a, &b].iter().filter(|r| r.0 == StatusCode::OK).count();
        let closed = [&a, &b]
            .iter()
            .filter(|r| r.0 == StatusCode::BAD_REQUEST && error_code(&r.1) == "ENCOUNTER_CLOSED")
            .count();
        if oks != 1 || closed != 1 {
            failures.push(format!("round {i}: answers {} {} / {} {}", a.0, a.1, b.0, b.1));
        }
    }
    let finalized = audited(&s, &token, &pid, "ENCOUNTER_FINALIZED").await;
    if finalized != rounds.done as i64 {
        failures.push(format!("{finalized} ENCOUNTER_FINALIZED audit rows for {} encounters", rounds.done));
    }
    no_failures("concurrent FINALIZE", rounds.done, &failures);
}

#[tokio::test]
async fn an_assessment_record_is_completed_once() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let pid = new_patient(&s, &token).await;
    let base = s.sandbox(&format!("/patients/{pid}/assessment-records"));
    let mut rounds = Rounds::new();
    let mut failures = Vec::new();
    while let Some(i) = rounds.next() {
        let (status, r) = s.post(&base, &token, json!({"assessmentName": "asm-phq-2"})).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        let path = format!("{base}/{}", r["id"].as_str().unwrap());
        let (status, r) = s
            .call(Method::PUT, &format!("{path}/answers"), Some(&token), Some(json!({"cdt-phq-2__interest": 3})))
            .await;
        assert_eq!((status, r["status"].as_str()), (StatusCode::OK, Some("IN_PROGRESS")), "{r}");
        let mut a = r.clone();
        a["status"] = json!("COMPLETED");
        a["answers"]["cdt-phq-2__mood"] = json!(1);
        let mut b = a.clone();
        b["answers"]["cdt-phq-2__mood"] = json!(0);
        let (ra, rb) = s.both_at_once(Method::PUT, &path, &token, a, b).await;
        let winners: Vec<&(StatusCode, Value)> = [&ra, &rb].into_iter().filter(|r| r.0 == StatusCode::OK).collect();
        let refused = [&ra, &rb]
            .iter()
            .filter(|r| r.0 == StatusCode::BAD_REQUEST && error_code(&r.1) == "ASSESSMENT_RECORD_COMPLETED")
            .count();
        if winners.len() != 1 || refused != 1 {
            failures.push(format!("round {i}: answers {} {} / {} {}", ra.0, ra.1, rb.0, rb.1));
            continue;
        }
        let (_, now) = s.get(&path, &token).await;
        let won = &winners[0].1;
        if now["status"] != "COMPLETED"
            || now["answers"]["cdt-phq-2__mood"] != won["answers"]["cdt-phq-2__mood"]
            || now["scoring"] != won["scoring"]
        {
            failures.push(format!("round {i}: stored {now} differs from the answered {won}"));
        }
    }
    let completed = audited(&s, &token, &pid, "ASSESSMENT_COMPLETED").await;
    if completed != rounds.done as i64 {
        failures.push(format!("{completed} ASSESSMENT_COMPLETED audit rows for {} records", rounds.done));
    }
    no_failures("concurrent completion", rounds.done, &failures);
}

#[tokio::test]
async fn concurrent_enrolments_make_one_open_enrolment() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let mut rounds = Rounds::new();
    let mut failures = Vec::new();
    while let Some(i) = rounds.next() {
        let pid = new_patient(&s, &token).await;
        let path = s.sandbox(&format!("/patients/{pid}/programs/prog-diabetes"));
        let (a, b) =
            s.both_at_once(Method::PATCH, &path, &token, json!({"assigned": true}), json!({"assigned": true})).await;
        if a.0 != StatusCode::OK || b.0 != StatusCode::OK || a.1["id"] != b.1["id"] {
            failures.push(format!("round {i}: answers {} {} / {} {}", a.0, a.1, b.0, b.1));
            continue;
        }
        let (_, list) = s.get(&s.sandbox(&format!("/patients/{pid}")), &token).await;
        let enrolments = list["patientPrograms"].as_array().map(Vec::len).unwrap_or_default();
        let created = audited(&s, &token, &pid, "PATIENT_PROGRAM_CREATED").await;
        if enrolments != 1 || created != 1 {
            failures.push(format!("round {i}: {enrolments} enrolments, {created} PATIENT_PROGRAM_CREATED rows"));
        }
    }
    no_failures("concurrent enrolment", rounds.done, &failures);
}

#[tokio::test]
async fn a_phase_move_and_a_finish_at_once_run_one_after_the_other() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let mut rounds = Rounds::new();
    let mut failures = Vec::new();
    while let Some(i) = rounds.next() {
        let pid = new_patient(&s, &token).await;
        let path = s.sandbox(&format!("/patients/{pid}/programs/prog-diabetes"));
        let (status, pp) = s.patch(&path, &token, json!({"assigned": true})).await;
        assert_eq!(status, StatusCode::OK, "{pp}");
        let id = pp["id"].as_str().unwrap().to_string();
        let phases = format!("{path}/phases");
        let (moved, finished) = tokio::join!(
            s.patch(&phases, &token, json!({"phaseName": "education"})),
            s.patch(&path, &token, json!({"status": "FINISHED"})),
        );
        if finished.0 != StatusCode::OK {
            failures.push(format!("round {i}: finish answered {} {}", finished.0, finished.1));
            continue;
        }
        let (_, now) = s.get(&s.sandbox(&format!("/patients/{pid}/programs/history/{id}")), &token).await;
        let entered = now["pathHistory"]
            .as_array()
            .map(|h| h.iter().filter(|p| p["name"] == "education").count())
            .unwrap_or_default();
        // Move then finish: both kept. Finish then move: no unfinished enrolment to move.
        let serial = match moved.0 {
            StatusCode::OK => entered == 1,
            StatusCode::NOT_FOUND => entered == 0,
            _ => false,
        };
        if now["status"] != "FINISHED" || !serial {
            failures.push(format!(
                "round {i}: move answered {}, stored status {} with education entered {entered} times",
                moved.0, now["status"]
            ));
        }
    }
    no_failures("phase move beside finish", rounds.done, &failures);
}

#[tokio::test]
async fn concurrent_patches_of_a_goal_keep_both_fields() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let pid = new_patient(&s, &token).await;
    let goals = s.sandbox(&format!("/patients/{pid}/care-plan/goals"));
    let (status, g) = s.post(&goals, &token, json!({"goalTemplateName": "eat-fruit"})).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let path = format!("{goals}/{}", g["id"].as_str().unwrap());
    let priorities = ["HIGH", "MEDIUM", "LOW"];
    let failures = s
        .racing_patches(&path, &token, ROUNDS, |i| {
            let (name, priority) = (json!(format!("goal {i}")), json!(priorities[i % 3]));
            (
                json!({"name": name}),
                json!({"priority": priority}),
                vec![("/details/name", name), ("/details/priority", priority)],
            )
        })
        .await;
    no_failures("goal PATCH", ROUNDS, &failures);
}

#[tokio::test]
async fn concurrent_first_overviews_create_one_care_plan() {
    let s = Server::start().await;
    let token = s.token().await;
    let mut rounds = Rounds::new();
    let mut failures = Vec::new();
    while let Some(i) = rounds.next() {
        let pid = new_patient(&s, &token).await;
        let path = s.sandbox(&format!("/patients/{pid}/care-plan/overview"));
        let (a, b) = s
            .both_at_once(Method::POST, &path, &token, json!({"overview": "from a"}), json!({"overview": "from b"}))
            .await;
        if a.0 != StatusCode::OK || b.0 != StatusCode::OK {
            failures.push(format!("round {i}: answers {} {} / {} {}", a.0, a.1, b.0, b.1));
            continue;
        }
        let created = audited(&s, &token, &pid, "CARE_PLAN_CREATED").await;
        let updated = audited(&s, &token, &pid, "CARE_PLAN_UPDATED").await;
        if (created, updated) != (1, 1) {
            failures.push(format!("round {i}: {created} CARE_PLAN_CREATED and {updated} CARE_PLAN_UPDATED rows"));
        }
    }
    no_failures("first care plan overview", rounds.done, &failures);
}
