//! The emulator's data controls over HTTP and on the CLI: reset of an instance or a
//! tenant, snapshots that restore exactly, seeding from fixtures and the generator.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
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

async fn emu_post(s: &Server, rest: &str, body: Value) -> (StatusCode, Value) {
    s.post(&emu(s, rest), ADMIN, body).await
}

/// Every record of these export types, sorted by id: what "the state of an instance" is
/// for these tests.
const PICTURE_TYPES: &[&str] =
    &["PATIENT", "CDT_RECORD", "ENCOUNTER", "CALENDAR_EVENT", "CHAT_MESSAGE", "DOCUMENT_SUMMARY", "TASK", "SMS"];

async fn picture(s: &Server, token: &str) -> Value {
    let mut all = serde_json::Map::new();
    for ty in PICTURE_TYPES {
        let (mut records, mut start) = (Vec::new(), None::<String>);
        loop {
            let mut path = s.sandbox(&format!("/export/{ty}?pageSize=1000"));
            if let Some(st) = &start {
                path.push_str(&format!("&start={}", urlencode(st)));
            }
            let (status, page) = s.get(&path, token).await;
            assert_eq!(status, StatusCode::OK, "{ty}: {page}");
            records.extend(page["data"].as_array().unwrap().iter().cloned());
            if page["cursor"]["hasNext"] != true {
                break;
            }
            start = page["cursor"]["end"].as_str().map(String::from);
        }
        records.sort_by_key(|r| r["id"].as_str().unwrap_or_default().to_string());
        all.insert(ty.to_string(), Value::Array(records));
    }
    Value::Object(all)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

async fn upload(s: &Server, token: &str, pid: &str, summary: &str, bytes: &[u8]) -> Value {
    let boundary = "emulator-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"scan.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let resp = s
        .http
        .post(s.url(&s.sandbox(&format!("/patients/{pid}/document-summary/{summary}/files"))))
        .bearer_auth(token)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json::<Value>().await.unwrap()[0].clone()
}

async fn download(s: &Server, token: &str, pid: &str, summary: &str, file: &str) -> (StatusCode, Vec<u8>) {
    let resp = s
        .http
        .get(s.url(&s.sandbox(&format!("/patients/{pid}/document-summary/{summary}/files/{file}"))))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.bytes().await.unwrap().to_vec())
}

fn pdf(tag: &str) -> Vec<u8> {
    let mut v = b"%PDF-1.4\n".to_vec();
    v.extend(tag.as_bytes());
    v.extend((0..=255u8).cycle().take(3000));
    v
}

#[tokio::test]
async fn a_restored_snapshot_gives_back_exactly_the_state_at_the_snapshot() {
    let s = emulator_server().await;
    let token = s.token().await;
    let (status, seeded) = emu_post(&s, "/seed", json!({"count": 12, "seed": 5})).await;
    assert_eq!(status, StatusCode::CREATED, "{seeded}");
    let p = s.create_patient(&token, json!({"firstName": "Snap", "lastName": "Shot"})).await;
    let pid = id(&p);
    let (status, summary) = s
        .post(&s.sandbox(&format!("/patients/{pid}/document-summary")), &token, json!({"type": "doc-type-others"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{summary}");
    let sid = id(&summary);
    let original = pdf("original");
    let file = id(&upload(&s, &token, &pid, &sid, &original).await);

    let (status, saved) = s.call(Method::PUT, &emu(&s, "/snapshots/before-changes"), Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert!(saved["rows"].as_i64().unwrap() > 12, "{saved}");
    let before = picture(&s, &token).await;
    assert_eq!(before["PATIENT"].as_array().unwrap().len(), 13);
    assert!(
        !before["CDT_RECORD"].as_array().unwrap().is_empty() && !before["ENCOUNTER"].as_array().unwrap().is_empty()
    );

    // Change everything kind of way: update, delete (with a document file), create.
    let (status, _) = s.patch(&s.sandbox(&format!("/patients/{pid}")), &token, json!({"firstName": "Changed"})).await;
    assert_eq!(status, StatusCode::OK);
    let victim = id(&before["PATIENT"][0]);
    if victim != pid {
        assert_eq!(s.delete(&s.sandbox(&format!("/patients/{victim}")), &token).await.0, StatusCode::OK);
    }
    let (status, _) = s.delete(&s.sandbox(&format!("/patients/{pid}/document-summary/{sid}")), &token).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(download(&s, &token, &pid, &sid, &file).await.0, StatusCode::NOT_FOUND);
    s.create_patient(&token, json!({"firstName": "After", "lastName": "Snapshot"})).await;
    assert_ne!(picture(&s, &token).await, before);

    let (status, restored) = emu_post(&s, "/snapshots/before-changes/restore", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(picture(&s, &token).await, before, "every record exactly as at the snapshot");
    let (status, bytes) = download(&s, &token, &pid, &sid, &file).await;
    assert_eq!((status, bytes == original), (StatusCode::OK, true), "the file's bytes are back");

    // Restoring twice is the same; the snapshot outlives its restores. Right after a reset
    // (its rows not yet swept, with the very ids the snapshot brings back) too.
    emu_post(&s, "/snapshots/before-changes/restore", json!({})).await;
    assert_eq!(picture(&s, &token).await, before);
    for _ in 0..3 {
        let (status, _) = emu_post(&s, "/reset", json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, restored) = emu_post(&s, "/snapshots/before-changes/restore", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{restored}");
        assert_eq!(picture(&s, &token).await, before);
        let (status, bytes) = download(&s, &token, &pid, &sid, &file).await;
        assert_eq!((status, bytes == original), (StatusCode::OK, true), "the file is there after reset + restore");
    }
    let (_, list) = s.get(&emu(&s, "/snapshots"), ADMIN).await;
    assert_eq!(list["snapshots"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["snapshots"][0]["name"], "before-changes");
}

/// The ids of the patients listed by lastName (all of them share it here).
async fn ids_by_last_name(s: &Server, token: &str) -> Vec<String> {
    let (status, page) = s.get(&s.sandbox("/patients?sort=lastName,asc"), token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["content"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn patients_with_the_same_sorted_value_keep_their_creation_order_through_a_restore() {
    let s = emulator_server().await;
    let token = s.token().await;
    // Ids in descending order: creation order is not id order. Their ends differ from run
    // to run, since patient ids are unique across tenants (a rerun on the same database).
    let end = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let ids = [
        format!("ffffffff-0000-4000-8000-{end}"),
        format!("88888888-0000-4000-8000-{end}"),
        format!("11111111-0000-4000-8000-{end}"),
    ];
    let requests: Vec<Value> = ids
        .iter()
        .map(|id| json!({"method": "POST", "path": "patients", "body": {"id": id, "firstName": "Tie", "lastName": "Same"}}))
        .collect();
    let (status, done) = emu_post(&s, "/seed", json!({ "requests": requests })).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    assert_eq!(ids_by_last_name(&s, &token).await, ids, "ties in creation order");
    let (status, saved) = s.call(Method::PUT, &emu(&s, "/snapshots/ties"), Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let (status, _) = emu_post(&s, "/reset", json!({})).await;
    assert!(status.is_success(), "{status}");
    assert!(ids_by_last_name(&s, &token).await.is_empty());
    let (status, restored) = emu_post(&s, "/snapshots/ties/restore", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(ids_by_last_name(&s, &token).await, ids, "the same order after the restore");
}

#[tokio::test]
async fn snapshot_names_are_checked_and_unknown_snapshots_are_not_found() {
    let s = emulator_server().await;
    let token = s.token().await;
    s.create_patient(&token, json!({"firstName": "Only", "lastName": "One"})).await;
    let (status, err) = s.call(Method::PUT, &emu(&s, "/snapshots/bad%20name"), Some(ADMIN), None).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "BAD_REQUEST"), "{err}");
    let (status, err) = emu_post(&s, "/snapshots/never-saved/restore", json!({})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    assert_eq!(s.count_patients(&token, "Only").await, 1, "a failed restore changes nothing");
    let (status, _) = s.call(Method::DELETE, &emu(&s, "/snapshots/never-saved"), Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Saving under a taken name replaces the snapshot.
    s.call(Method::PUT, &emu(&s, "/snapshots/s1"), Some(ADMIN), None).await;
    s.create_patient(&token, json!({"firstName": "Second", "lastName": "One"})).await;
    let (_, again) = s.call(Method::PUT, &emu(&s, "/snapshots/s1"), Some(ADMIN), None).await;
    let (_, list) = s.get(&emu(&s, "/snapshots"), ADMIN).await;
    assert_eq!(list["snapshots"], json!([again]));
    emu_post(&s, "/reset", json!({})).await;
    emu_post(&s, "/snapshots/s1/restore", json!({})).await;
    assert_eq!(s.count_patients(&token, "One").await, 2);
    let (status, _) = s.call(Method::DELETE, &emu(&s, "/snapshots/s1"), Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = s.get(&emu(&s, "/snapshots"), ADMIN).await;
    assert_eq!(list["snapshots"], json!([]));
}

#[tokio::test]
async fn reset_empties_one_instance_and_keeps_configuration_users_and_audits() {
    let s = emulator_server().await;
    let token = s.token().await;
    let (status, user) = s
        .post(&format!("/{}/admin/users", s.tenant), &token, json!({"username": "stays", "email": "stays@x.org"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let p = s.create_patient(&token, json!({"firstName": "Gone", "lastName": "Soon"})).await;
    let (status, _) = s
        .post(
            &s.sandbox(&format!("/patients/{}/cdts/cdt-self-care", id(&p))),
            &token,
            json!({"cdtf-alone-time": "Yes"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, live) =
        s.post(&format!("/{}/live/patients", s.tenant), &token, json!({"firstName": "Live", "lastName": "One"})).await;
    assert_eq!(status, StatusCode::CREATED, "{live}");

    let (status, done) = emu_post(&s, "/reset", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["instances"], json!(["sandbox"]));
    assert!(done["rowsDeleted"].as_i64().unwrap() >= 2, "{done}");
    assert_eq!(s.count_patients(&token, "").await, 0);
    assert_eq!(s.get(&s.sandbox(&format!("/patients/{}", id(&p))), &token).await.0, StatusCode::NOT_FOUND);
    let (status, _) = s.get(&format!("/{}/live/patients/{}", s.tenant, id(&live)), &token).await;
    assert_eq!(status, StatusCode::OK, "the other instance is untouched");
    let (status, _) = s.get(&format!("/{}/admin/users/{}?type=ID", s.tenant, id(&user)), &token).await;
    assert_eq!(status, StatusCode::OK, "users belong to the tenant");
    let (status, _) = s.get(&s.sandbox("/formations/current/cdts/cdt-self-care"), &token).await;
    assert_eq!(status, StatusCode::OK, "the formation stays");
    let (_, audit) = s.get(&format!("/{}/admin/audit-data?patientId={}", s.tenant, id(&p)), &token).await;
    assert!(audit["metaInfo"]["totalElements"].as_i64().unwrap() >= 2, "the audit keeps what happened: {audit}");
    let (_, sec) = s.get(&format!("/{}/admin/audit-security?eventSubtype=EMULATOR_RESET", s.tenant), &token).await;
    assert_eq!(sec["metaInfo"]["totalElements"], 1, "{sec}");

    // The records left under the retired id are swept away in the background.
    let db = openwelkin::store::Db::connect(&s.db_url).await.unwrap();
    let leftovers = || async {
        let sql = "SELECT (SELECT COUNT(*) FROM instances i JOIN tenants t ON t.id = i.tenant_id \
                   WHERE t.name = $1 AND i.retired_at IS NOT NULL) + (SELECT COUNT(*) FROM patients p \
                   JOIN tenants t ON t.id = p.tenant_id WHERE t.name = $1 AND p.id = $2)";
        openwelkin::store::sql::query_scalar::<i64>(sql)
            .bind(&s.tenant)
            .bind(id(&p))
            .fetch_one(db.reader())
            .await
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while leftovers().await > 0 {
        assert!(std::time::Instant::now() < deadline, "the reset instance's rows were never swept");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // A tenant reset takes every instance and the users; API clients stay.
    let (status, done) = s.post(&format!("/_emulator/tenants/{}/reset", s.tenant), ADMIN, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["instances"], json!(["live", "sandbox"]));
    let (status, _) = s.get(&format!("/{}/live/patients/{}", s.tenant, id(&live)), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.get(&format!("/{}/admin/users/{}?type=ID", s.tenant, id(&user)), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, err) = s.post("/_emulator/tenants/no-such-tenant/reset", ADMIN, json!({})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let (status, _) = s.post(&format!("/_emulator/tenants/{}/reset", s.tenant), &token, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an API client token is not the emulator token");
}

async fn patients_by_external_id(s: &Server, token: &str) -> Vec<Value> {
    let (status, page) = s.get(&s.sandbox("/patients?size=1000"), token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut v: Vec<Value> = page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| json!([p["externalId"], p["firstName"], p["lastName"], p["birthDate"], p["email"], p["phone"]]))
        .collect();
    v.sort_by_key(|x| x[0].as_str().unwrap_or_default().to_string());
    v
}

#[tokio::test]
async fn the_generator_is_deterministic_and_queues_no_webhooks_unless_asked() {
    let s = emulator_server().await;
    // On, so that only the seed's choice decides whether events are queued.
    s.switch_on_a_webhook();
    let token = s.token().await;
    let outbox_len = |s: &Server| {
        let url = s.db_url.clone();
        async move {
            let db = openwelkin::store::Db::connect(&url).await.unwrap();
            let n: i64 = openwelkin::store::sql::query_scalar("SELECT COUNT(*) FROM event_outbox")
                .fetch_one(db.reader())
                .await
                .unwrap();
            db.close().await;
            n
        }
    };
    let events_before = outbox_len(&s).await;
    let (status, seeded) = emu_post(&s, "/seed", json!({"count": 10, "seed": 99})).await;
    assert_eq!(status, StatusCode::CREATED, "{seeded}");
    let first = patients_by_external_id(&s, &token).await;
    assert_eq!(first.len(), 10);
    assert_eq!(first[0][0], "seed-99-0");
    if !common::is_postgres() {
        // (PostgreSQL test servers share one database with other tests' outboxes.)
        assert_eq!(outbox_len(&s).await, events_before, "seeding without webhooks queues no events");
    }
    let (_, audit) = s.get(&format!("/{}/admin/audit-data?eventSubtype=PATIENT_CREATED", s.tenant), &token).await;
    assert!(audit["metaInfo"]["totalElements"].as_i64().unwrap() >= 10, "seeded writes are audited: {audit}");

    // Same seed after a reset: the same people; users are reused, not duplicated.
    emu_post(&s, "/reset", json!({})).await;
    let (status, again) = emu_post(&s, "/seed", json!({"count": 10, "seed": 99})).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(patients_by_external_id(&s, &token).await, first);

    // Seeding the same again without a reset conflicts and changes nothing.
    let (status, err) = emu_post(&s, "/seed", json!({"count": 10, "seed": 99})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert!(err[0]["message"].as_str().unwrap().contains("fixture request"), "{err}");
    assert_eq!(patients_by_external_id(&s, &token).await, first);

    emu_post(&s, "/reset", json!({})).await;
    emu_post(&s, "/seed", json!({"count": 10, "seed": 100})).await;
    assert_ne!(patients_by_external_id(&s, &token).await, first, "another seed, other people");

    let with = outbox_len(&s).await;
    let (status, _) = emu_post(&s, "/seed", json!({"count": 1, "seed": 7, "webhooks": true})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(outbox_len(&s).await > with, "asked for, the seeded writes queue their events");
}

/// A picture with what is drawn fresh on every write left out: ids (UUIDs) and chat
/// external ids. Each type's records are sorted by their text, since ids no longer order
/// them.
fn without_fresh_ids(picture: &Value) -> Value {
    fn strip(v: &Value, key: Option<&str>) -> Value {
        match v {
            Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), strip(x, Some(k)))).collect()),
            Value::Array(a) => Value::Array(a.iter().map(|x| strip(x, None)).collect()),
            Value::String(s) if key == Some("externalId") && !s.starts_with("seed-") => json!("<fresh>"),
            Value::String(s) => {
                let mut out = s.clone();
                for word in s.split(|c: char| !(c.is_ascii_hexdigit() || c == '-')) {
                    if word.len() == 36 && word.matches('-').count() == 4 {
                        out = out.replace(word, "<uuid>");
                    }
                }
                json!(out)
            }
            other => other.clone(),
        }
    }
    let mut out = serde_json::Map::new();
    for (ty, records) in picture.as_object().unwrap() {
        let mut texts: Vec<String> = records.as_array().unwrap().iter().map(|r| strip(r, None).to_string()).collect();
        texts.sort();
        out.insert(ty.clone(), Value::Array(texts.into_iter().map(Value::String).collect()));
    }
    Value::Object(out)
}

/// How many of `ids` have a data audit row of this server's tenant.
async fn audited(s: &Server, ids: &[String]) -> usize {
    let db = openwelkin::store::Db::connect(&s.db_url).await.unwrap();
    let mut n = 0;
    for chunk in ids.chunks(200) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT COUNT(DISTINCT a.record_id) FROM audit_data a JOIN tenants t ON t.id = a.tenant_id \
             WHERE t.name = $1 AND a.operation = 'CREATE' AND a.record_id IN ({})",
            marks.join(", ")
        );
        let mut q = openwelkin::store::sql::query_scalar::<i64>(&sql).bind(s.tenant.clone());
        for id in chunk {
            q = q.bind(id.clone());
        }
        n += q.fetch_one(db.reader()).await.unwrap() as usize;
    }
    db.close().await;
    n
}

#[tokio::test]
async fn a_generated_seed_is_the_same_in_two_fresh_instances_audited_and_as_if_replayed() {
    let mut pictures = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..2 {
        let s = emulator_server().await;
        let token = s.token().await;
        // Frozen at the start of today: the same times in both, and the same start day as
        // the CLI's `--print` below (which reads the system clock).
        let today = format!("{}T00:00:00Z", chrono::Utc::now().date_naive());
        for (path, body) in [("freeze", json!({})), ("set", json!({ "time": today }))] {
            let (status, _) = s.post(&format!("/_emulator/clock/{path}"), ADMIN, body).await;
            assert_eq!(status, StatusCode::OK);
        }
        let (status, seeded) = emu_post(&s, "/seed", json!({"count": 30, "seed": 42})).await;
        assert_eq!(status, StatusCode::CREATED, "{seeded}");
        let picture = picture(&s, &token).await;
        let ids: Vec<String> =
            picture.as_object().unwrap().values().flat_map(|r| r.as_array().unwrap().iter().map(id)).collect();
        assert_eq!(ids.len(), 30 + 30 + 10 + 15 + 8, "patients, CDT records, encounters, chats, visits: {seeded}");
        assert_eq!(audited(&s, &ids).await, ids.len(), "every seeded record has its data audit row");
        pictures.push(without_fresh_ids(&picture));
        servers.push((s, token));
    }
    assert_eq!(pictures[0], pictures[1], "the same seed gives the same data");

    // The same data replayed as API requests (the printed fixture) reads back the same.
    let (s, token) = &servers[1];
    let scope = ["--tenant", &s.tenant, "--instance", "sandbox"];
    let printed = s.cli(&[&["seed", "--count", "30", "--seed", "42", "--print"][..], &scope[..]].concat());
    let fixture: Value = serde_json::from_str(&printed).unwrap();
    emu_post(s, "/reset", json!({})).await;
    let (status, replayed) = emu_post(s, "/seed", fixture).await;
    assert_eq!(status, StatusCode::CREATED, "{replayed}");
    assert_eq!(without_fresh_ids(&picture(s, token).await), pictures[0], "the batch writer stores what the API would");
}

#[tokio::test]
async fn a_fixture_seeds_with_references_and_a_failing_one_changes_nothing() {
    let s = emulator_server().await;
    let token = s.token().await;
    let fixture = json!({"requests": [
        {"id": "ann", "method": "POST", "path": "patients", "body": {"firstName": "Ann", "lastName": "Fixture"}},
        {"id": "rec", "method": "POST", "path": "patients/{{ann.id}}/cdts/cdt-self-care", "body": {"cdtf-alone-time": "Yes"}},
        {"method": "GET", "path": "/{tenant}/{instance}/patients/{{ann.id}}"},
        {"method": "PATCH", "path": "patients/{{ann.id}}", "body": {"lastName": "Seeded {{rec.cdtName}}"}}
    ]});
    let (status, done) = emu_post(&s, "/seed", fixture).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    assert_eq!(done, json!({"requests": 4, "created": 2}));
    let (_, page) = s.get(&s.sandbox("/patients?query=Ann"), &token).await;
    assert_eq!(page["content"][0]["lastName"], "Seeded cdt-self-care");

    let failing = json!({"requests": [
        {"id": "bob", "method": "POST", "path": "patients", "body": {"firstName": "Bob", "lastName": "Partial"}},
        {"method": "POST", "path": "/{tenant}/admin/users", "body": {"username": "fixture-user", "email": "f@x.org"}},
        {"method": "POST", "path": "patients/{{bob.id}}/cdts/cdt-self-care", "body": {"no-such-field": 1}}
    ]});
    let (status, err) = emu_post(&s, "/seed", failing).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let message = err[0]["message"].as_str().unwrap();
    assert!(message.contains("fixture request 2") && message.contains("no-such-field"), "{message}");
    assert_eq!(s.count_patients(&token, "Partial").await, 0, "the seed is all or nothing");
    let (status, _) = s.get(&format!("/{}/admin/users/fixture-user", s.tenant), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "users it made are removed too");
    assert_eq!(s.count_patients(&token, "").await, 1);

    for (bad, what) in [
        (json!({"requests": [{"method": "POST", "path": "patients/{{nobody.id}}"}]}), "refers to no earlier"),
        (json!({"requests": [{"method": "TRACE", "path": "patients"}]}), "method"),
        (json!({"count": 0}), "count"),
        (json!({"count": 5, "requests": []}), "either"),
        (json!({"count": 5, "colour": "red"}), "colour"),
    ] {
        let (status, err) = emu_post(&s, "/seed", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {err}");
        assert!(err[0]["message"].as_str().unwrap().contains(what), "{bad}: {err}");
    }
    assert_eq!(s.count_patients(&token, "").await, 1);
}

#[tokio::test]
async fn the_cli_resets_seeds_and_snapshots_without_http() {
    let s = emulator_server().await;
    let token = s.token().await;
    let scope = ["--tenant", s.tenant.as_str(), "--instance", "sandbox"];
    let out = s.cli(&[&["seed", "--count", "6", "--seed", "3"][..], &scope[..]].concat());
    assert!(out.contains("seeded"), "{out}");
    assert_eq!(s.count_patients(&token, "").await, 6);
    let printed = s.cli(&[&["seed", "--count", "2", "--seed", "3", "--print"][..], &scope[..]].concat());
    let fixture: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(fixture["requests"].as_array().unwrap().iter().filter(|r| r["path"] == "patients").count(), 2);

    s.cli(&[&["snapshot", "save", "six"][..], &scope[..]].concat());
    let listed = s.cli(&[&["snapshot", "list"][..], &scope[..]].concat());
    assert!(listed.starts_with("six\t"), "{listed}");
    s.cli(&[&["reset"][..], &scope[..]].concat());
    assert_eq!(common::once_seen(|| s.count_patients(&token, ""), |n| *n == 0).await, 0);
    s.cli(&[&["snapshot", "restore", "six"][..], &scope[..]].concat());
    // A change made through the CLI reaches the running server within one poll of its
    // configuration counter (the reset gave the instance a new id).
    assert_eq!(common::once_seen(|| s.count_patients(&token, ""), |n| *n == 6).await, 6);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixture.json");
    std::fs::write(&path, r#"{"requests": [{"method": "POST", "path": "patients", "body": {"firstName": "Cli"}}]}"#)
        .unwrap();
    let out = common::cli_output(&s.db_url, &[&["seed", "--fixture", path.to_str().unwrap()][..], &scope[..]].concat());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lastName"), "the CLI says why: {stderr}");
    assert_eq!(s.count_patients(&token, "").await, 6);
    s.cli(&[&["snapshot", "delete", "six"][..], &scope[..]].concat());
    assert_eq!(s.cli(&[&["snapshot", "list"][..], &scope[..]].concat()), "");

    // The chat outbox holds what the care team sent, and the CLI empties it.
    let (_, page) = s.get(&s.sandbox("/patients?size=1"), &token).await;
    let pid = id(&page["content"][0]);
    let (status, sent) = s
        .post(&s.sandbox(&format!("/patients/{pid}/chat/messages")), &token, json!({"message": "Hello from the team"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let listed = s.cli(&[&["outbox", "list", "chat"][..], &scope[..]].concat());
    let items: Vec<Value> = listed.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(items.len(), 1, "inbound messages from the seed are not in the outbox: {listed}");
    assert_eq!((items[0]["patientId"].as_str(), items[0]["id"].as_str()), (Some(pid.as_str()), sent["id"].as_str()));
    assert_eq!(s.cli(&[&["outbox", "clear", "chat"][..], &scope[..]].concat()).trim(), "cleared 1");
    assert_eq!(s.cli(&[&["outbox", "list", "chat"][..], &scope[..]].concat()), "");
    let (_, sec) =
        s.get(&format!("/{}/admin/audit-security?eventSubtype=EMULATOR_OUTBOX_CLEARED", s.tenant), &token).await;
    assert_eq!(sec["metaInfo"]["totalElements"], 1, "clearing is audited: {sec}");
    let out = common::cli_output(&s.db_url, &[&["outbox", "list", "pager"][..], &scope[..]].concat());
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("sms, email, chat, fax and webhooks")
    );
}
