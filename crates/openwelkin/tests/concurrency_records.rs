//! Concurrent writes to one record over HTTP: two clients changing different fields of the
//! same patient, user, CDT record or profile at the same moment must both keep their
//! change; one-per-patient records (SINGLE_RECORD CDTs, a patient's profile) must stay
//! one under concurrent creates; a dictionary replaced twice at once holds one of the two
//! sets; concurrent draft edits all reach the draft. Each test runs a bounded number of
//! rounds and reports how many of them went wrong.

mod common;

use common::Server;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ROUNDS: usize = 20;

/// Fails with the number of bad rounds and the first few descriptions.
fn assert_no_failures(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} of {ROUNDS} rounds went wrong, e.g.:\n{}",
        failures.len(),
        failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Two concurrent PATCHes of `path` with `a` and `b`; both must answer 200 and the record
/// read afterwards (`read` picks the compared object out of the GET answer) must hold
/// every field of both.
async fn patch_both(
    s: &Server,
    token: &str,
    path: &str,
    a: Value,
    b: Value,
    read: impl Fn(&Value) -> &Value,
) -> Option<String> {
    let ((sa, ba), (sb, bb)) = s.both_at_once(Method::PATCH, path, token, a.clone(), b.clone()).await;
    if sa != StatusCode::OK || sb != StatusCode::OK {
        return Some(format!("answers {sa} {ba} / {sb} {bb}"));
    }
    let (status, now) = s.get(path, token).await;
    assert_eq!(status, StatusCode::OK, "{now}");
    let record = read(&now);
    for (k, v) in a.as_object().unwrap().iter().chain(b.as_object().unwrap()) {
        if &record[k] != v {
            return Some(format!("{k} is {} instead of {v} (lost update)", record[k]));
        }
    }
    None
}

#[tokio::test]
async fn concurrent_patches_of_one_patient_keep_both_fields() {
    let s = Server::start().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Con", "lastName": "Current"})).await;
    let path = s.sandbox(&format!("/patients/{}", p["id"].as_str().unwrap()));
    let mut failures = Vec::new();
    for i in 0..ROUNDS {
        let a = json!({"firstName": format!("First{i}")});
        let b = json!({"lastName": format!("Last{i}")});
        failures.extend(patch_both(&s, &token, &path, a, b, |v| v).await.map(|f| format!("round {i}: {f}")));
    }
    assert_no_failures("patient PATCH", &failures);
}

#[tokio::test]
async fn concurrent_patches_of_one_user_keep_both_fields() {
    let s = Server::start().await;
    let token = s.token().await;
    let users = format!("/{}/admin/users", s.tenant);
    let (status, u) = s.post(&users, &token, json!({"username": "racer", "email": "racer@example.org"})).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    let path = format!("{users}/racer");
    let mut failures = Vec::new();
    for i in 0..ROUNDS {
        let a = json!({"firstName": format!("First{i}")});
        let b = json!({"lastName": format!("Last{i}")});
        failures.extend(patch_both(&s, &token, &path, a, b, |v| v).await.map(|f| format!("round {i}: {f}")));
    }
    assert_no_failures("user PATCH", &failures);
}

#[tokio::test]
async fn concurrent_patches_of_one_cdt_record_keep_both_fields() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Cee", "lastName": "Dee"})).await;
    let base = s.sandbox(&format!("/patients/{}/cdts/cdt-self-care", p["id"].as_str().unwrap()));
    let (status, r) = s.post(&base, &token, json!({"cdtf-alone-time": "No", "cdtf-unwind": "start"})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let path = format!("{base}/{}", r["id"].as_str().unwrap());
    let mut failures = Vec::new();
    for i in 0..ROUNDS {
        let a = json!({"cdtf-alone-time": if i % 2 == 0 { "Yes" } else { "No" }});
        let b = json!({"cdtf-unwind": format!("walk {i}")});
        failures
            .extend(patch_both(&s, &token, &path, a, b, |v| &v["jsonBody"]).await.map(|f| format!("round {i}: {f}")));
    }
    assert_no_failures("CDT record PATCH", &failures);
}

#[tokio::test]
async fn concurrent_bulk_patches_of_one_cdt_record_keep_both_fields() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Bulk", "lastName": "Dee"})).await;
    let base = s.sandbox(&format!("/patients/{}/cdts/cdt-self-care", p["id"].as_str().unwrap()));
    let (status, r) = s.post(&base, &token, json!({"cdtf-alone-time": "No", "cdtf-unwind": "start"})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let id = r["id"].as_str().unwrap();
    let mut failures = Vec::new();
    for i in 0..ROUNDS {
        let alone = if i % 2 == 0 { "Yes" } else { "No" };
        let unwind = format!("bulk {i}");
        let a = json!({"rows": [{"id": id, "jsonBody": {"cdtf-alone-time": alone}}]});
        let b = json!({"rows": [{"id": id, "jsonBody": {"cdtf-unwind": unwind}}]});
        let ((sa, ba), (sb, bb)) = s.both_at_once(Method::PATCH, &base, &token, a, b).await;
        let ok = |st: StatusCode, b: &Value| st == StatusCode::OK && b["rows"][0]["result"]["status"] == "OK";
        if !ok(sa, &ba) || !ok(sb, &bb) {
            failures.push(format!("round {i}: answers {sa} {ba} / {sb} {bb}"));
            continue;
        }
        let now = s.get(&format!("{base}/{id}"), &token).await.1;
        if now["jsonBody"]["cdtf-alone-time"] != alone || now["jsonBody"]["cdtf-unwind"] != unwind.as_str() {
            failures.push(format!("round {i}: lost update, record is {}", now["jsonBody"]));
        }
    }
    assert_no_failures("CDT bulk PATCH", &failures);
}

#[tokio::test]
async fn concurrent_patches_of_one_profile_keep_both_fields() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Ins", "lastName": "Ured"})).await;
    let base = s.sandbox(&format!("/patients/{}/pdts/pdt-insurance", p["id"].as_str().unwrap()));
    let (status, r) = s.post(&base, &token, json!({"pdtf-provider": "Start", "pdtf-member-id": "M"})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let path = format!("{base}/{}", r["id"].as_str().unwrap());
    let mut failures = Vec::new();
    for i in 0..ROUNDS {
        let a = json!({"pdtf-provider": format!("Provider {i}")});
        let b = json!({"pdtf-member-id": format!("M{i}")});
        failures
            .extend(patch_both(&s, &token, &path, a, b, |v| &v["jsonBody"]).await.map(|f| format!("round {i}: {f}")));
    }
    assert_no_failures("profile PATCH", &failures);
}

/// Sends `n` creates of a one-per-patient record at once for a new patient each round:
/// exactly one must answer 201, the others 409, and the patient must have one record.
async fn one_per_patient(s: &Server, token: &str, kind: &str, name: &str, body: Value, count: impl Fn(&Value) -> i64) {
    let mut failures = Vec::new();
    for i in 0..ROUNDS {
        let p = s.create_patient(token, json!({"firstName": "One", "lastName": format!("Only{i}")})).await;
        let base = s.sandbox(&format!("/patients/{}/{kind}/{name}", p["id"].as_str().unwrap()));
        let answers = s.all_at_once(Method::POST, &base, token, vec![body.clone(); 4]).await;
        let created = answers.iter().filter(|(st, _)| *st == StatusCode::CREATED).count();
        let conflicts = answers.iter().filter(|(st, _)| *st == StatusCode::CONFLICT).count();
        let (status, list) = s.get(&base, token).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let stored = count(&list);
        if created != 1 || conflicts != 3 || stored != 1 {
            let statuses: Vec<u16> = answers.iter().map(|(st, _)| st.as_u16()).collect();
            failures.push(format!("round {i}: answers {statuses:?}, {stored} records stored"));
        }
    }
    assert_no_failures(&format!("{name} concurrent creates"), &failures);
}

#[tokio::test]
async fn concurrent_creates_of_a_single_record_cdt_make_one_record() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    one_per_patient(&s, &token, "cdts", "cdt-intake", json!({"reason": "check-up"}), |l| {
        l["data"]["totalElements"].as_i64().unwrap()
    })
    .await;
}

#[tokio::test]
async fn concurrent_creates_of_a_patient_profile_make_one_record() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    one_per_patient(&s, &token, "pdts", "pdt-insurance", json!({"pdtf-provider": "Blue"}), |l| {
        l["records"]["metaInfo"]["totalElements"].as_i64().unwrap()
    })
    .await;
}

#[tokio::test]
async fn concurrent_replacements_of_a_dictionary_leave_one_set() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let cpt = s.sandbox("/dictionaries/cpt");
    let set = |tag: &str| -> Value {
        json!({"records": [{"values": {"value": format!("{tag}-1")}}, {"values": {"value": format!("{tag}-2")}}]})
    };
    let mut failures = Vec::new();
    for i in 0..ROUNDS {
        let (a, b) = (format!("a{i}"), format!("b{i}"));
        let ((sa, _), (sb, _)) = s.both_at_once(Method::PUT, &cpt, &token, set(&a), set(&b)).await;
        if sa != StatusCode::CREATED || sb != StatusCode::CREATED {
            failures.push(format!("round {i}: answers {sa} / {sb}"));
            continue;
        }
        let (_, now) = s.get(&cpt, &token).await;
        let mut values: Vec<String> = now["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["values"]["value"].as_str().unwrap().to_string())
            .collect();
        values.sort();
        let one_set = values == [format!("{a}-1"), format!("{a}-2")] || values == [format!("{b}-1"), format!("{b}-2")];
        if !one_set {
            failures.push(format!("round {i}: the dictionary holds {values:?}"));
        }
    }
    assert_no_failures("dictionary replace-all", &failures);
}

#[tokio::test]
async fn concurrent_draft_edits_all_reach_the_draft() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let dicts = s.sandbox("/formations/draft/dictionaries");
    let dict = |name: &str| json!({"name": name, "title": name, "fields": [{"name": "value", "type": "text"}]});
    let mut failures = Vec::new();
    for i in 0..ROUNDS {
        // Publishing clears the draft row: the next edits start from the current version.
        let (status, published) =
            s.call(Method::POST, &s.sandbox("/formations/draft/publish"), Some(&token), None).await;
        assert_eq!(status, StatusCode::CREATED, "{published}");
        let (a, b) = (format!("dict-a{i}"), format!("dict-b{i}"));
        let answers = s.all_at_once(Method::POST, &dicts, &token, vec![dict(&a), dict(&b)]).await;
        if answers.iter().any(|(st, _)| *st != StatusCode::CREATED) {
            let statuses: Vec<u16> = answers.iter().map(|(st, _)| st.as_u16()).collect();
            failures.push(format!("round {i}: answers {statuses:?}"));
            continue;
        }
        let (_, draft) = s.get(&dicts, &token).await;
        let names: Vec<&str> = draft.as_array().unwrap().iter().filter_map(|d| d["name"].as_str()).collect();
        for wanted in [&a, &b] {
            if !names.contains(&wanted.as_str()) {
                failures.push(format!("round {i}: {wanted} is missing from the draft (lost edit)"));
            }
        }
    }
    assert_no_failures("draft edits", &failures);
}
