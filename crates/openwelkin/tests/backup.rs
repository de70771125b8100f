//! `openwelkin backup` and `openwelkin restore` (docs/OPERATIONS.md, "Backups"): a backup
//! taken while a client writes is one consistent moment (each patient in it has its audit
//! row and its webhook event, and the client's writes in it are exactly those up to some
//! point); it restores into a fresh database; a server started on the copy exports, type by
//! type, exactly what the original held at that moment. Restore refuses to overwrite a
//! database that exists, and with --force one that a server uses.

mod common;

use common::{cli, cli_output, is_postgres, unique, Server};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Patients the writer creates at most.
const WRITES: usize = 3_000;

/// An empty database to restore into, removed with the value: a file in a temporary
/// directory, or on PostgreSQL a database of its own.
struct Fresh {
    url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Fresh {
    fn new() -> Fresh {
        match std::env::var("OPENWELKIN_TEST_DATABASE") {
            Ok(shared) if shared.starts_with("postgres") => {
                let name = unique("openwelkin_restore_");
                assert!(psql(&format!("CREATE DATABASE \"{name}\"")), "CREATE DATABASE {name}");
                let base = shared.rsplit_once('/').map(|(b, _)| b).expect("a database URL with a name");
                Fresh { url: format!("{base}/{name}"), pg_name: Some(name), _dir: None }
            }
            _ => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("restored.db").display());
                Fresh { url, pg_name: None, _dir: Some(dir) }
            }
        }
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            psql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

fn psql(sql: &str) -> bool {
    Command::new("psql")
        .args(["-q", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "test", "-c", sql])
        .status()
        .expect("psql runs")
        .success()
}

/// Every export type, as the CLI lists them when given one it does not know.
fn export_types(db_url: &str) -> Vec<String> {
    let out =
        cli_output(db_url, &["export", "--tenant", "x", "--instance", "y", "--type", "NO_SUCH", "--out", "/dev/null"]);
    let text = String::from_utf8_lossy(&out.stderr);
    let list = text.split("one of ").nth(1).unwrap_or_else(|| panic!("no type list in {text}"));
    list.trim().split(", ").map(String::from).collect()
}

/// Every record of one export type of the sandbox, by id (each id once).
async fn export_all(s: &Server, token: &str, ty: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut start: Option<String> = None;
    for _ in 0..1_000 {
        let mut path = s.sandbox(&format!("/export/{ty}?pageSize=1000"));
        if let Some(st) = &start {
            path.push_str(&format!("&start={}", utf8_percent_encode(st, NON_ALPHANUMERIC)));
        }
        let (status, page) = s.get(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{ty}: {page}");
        for record in page["data"].as_array().unwrap() {
            let id = record["id"].as_str().unwrap().to_string();
            assert!(out.insert(id, record.clone()).is_none(), "{ty}: a record twice on a quiet server");
        }
        if page["cursor"]["hasNext"] == false {
            return out;
        }
        start = Some(page["cursor"]["end"].as_str().unwrap().to_string());
    }
    panic!("{ty}: the export never ended");
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The ids of rows of one kind of event about this tenant's patients, in the copy.
async fn event_ids(db: &openwelkin::store::Db, sql: &str, tenant_id: &str) -> BTreeSet<String> {
    openwelkin::store::sql::query_scalar::<String>(sql)
        .bind(tenant_id)
        .fetch_all(db.reader())
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test]
async fn a_backup_taken_while_writing_restores_consistently_with_every_export_identical() {
    let s = Server::start_isolated(&["--no-webhook-worker"]).await;
    s.switch_on_a_webhook(); // the test designer, and events queued in the sandbox
    s.cli(&["seed", "--tenant", &s.tenant, "--instance", "sandbox", "--count", "12", "--seed", "3"]);
    let token = s.token().await;

    // One client creates patients one after another until told to stop.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, http, url, token) =
            (acked.clone(), stop.clone(), s.http.clone(), s.url(&s.sandbox("/patients")), token.clone());
        tokio::spawn(async move {
            for i in 0..WRITES {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let body = json!({"firstName": "Backup", "lastName": format!("Writer{i:05}")});
                let resp = http.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
                assert_eq!(resp.status(), StatusCode::CREATED);
                let patient: Value = resp.json().await.unwrap();
                acked.lock().unwrap().push(patient["id"].as_str().unwrap().to_string());
            }
        })
    };
    let count = |acked: &Arc<Mutex<Vec<String>>>| acked.lock().unwrap().len();
    wait_for("the first writes", || count(&acked) >= 5).await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(if is_postgres() { "openwelkin.dump" } else { "openwelkin-backup.db" });
    let before = count(&acked);
    let backup = {
        let (url, file) = (s.db_url.clone(), file.to_str().unwrap().to_string());
        tokio::task::spawn_blocking(move || cli_output(&url, &["backup", "--out", &file])).await.unwrap()
    };
    let after = count(&acked);
    assert!(backup.status.success(), "backup failed: {}", String::from_utf8_lossy(&backup.stderr));
    assert!(String::from_utf8_lossy(&backup.stderr).contains("backed up the database to"));
    // Writes after the backup, which the copy must not hold.
    wait_for("writes after the backup", || count(&acked) >= after + 3).await;
    stop.store(true, Ordering::Release);
    writer.await.unwrap();
    let written = acked.lock().unwrap().clone();
    assert!(written.len() < WRITES, "the writer ran to its bound before the backup finished");

    let fresh = Fresh::new();
    let restored = cli(&fresh.url, &["restore", "--from", file.to_str().unwrap()]);
    assert!(restored.is_empty(), "restore reports on stderr: {restored}");
    let copy = s.serve_copy(&fresh.url);

    // The writer's patients in the copy are the first k it wrote: all those answered before
    // the backup started, at most one more than were answered when it ended.
    let original = export_all(&s, &token, "PATIENT").await;
    let in_copy = export_all(&copy, &token, "PATIENT").await;
    let k = written.iter().take_while(|id| in_copy.contains_key(*id)).count();
    assert!(
        written[k..].iter().all(|id| !in_copy.contains_key(id)),
        "the copy holds a later write without an earlier one"
    );
    assert!(k >= before, "the copy lacks writes answered before the backup started: {k} < {before}");
    assert!(k <= after + 1, "the copy holds writes made after the backup: {k} > {after} + 1");
    eprintln!(
        "writes: {} in all, {before} answered when the backup started, {after} when it ended, {k} in the copy",
        written.len()
    );
    // The rest is the original as it was: the same records, the same versions.
    let mut expected = original.clone();
    for id in &written[k..] {
        expected.remove(id);
    }
    assert_eq!(in_copy, expected, "PATIENT export of the copy");

    // Each patient in the copy has its audit row, and each of the writer's its webhook
    // event (seeding queues none); none of the later writes left either behind.
    let db = openwelkin::store::Db::connect(&fresh.url).await.unwrap();
    let tenant_id = db.tenant_by_name(&s.tenant).await.unwrap().unwrap().id;
    let audited = event_ids(
        &db,
        "SELECT record_id FROM audit_data WHERE tenant_id = $1 AND event_subtype = 'PATIENT_CREATED'",
        &tenant_id,
    )
    .await;
    let queued = event_ids(
        &db,
        "SELECT source_id FROM event_outbox WHERE tenant_id = $1 AND event_subtype = 'PATIENT_CREATED'",
        &tenant_id,
    )
    .await;
    db.close().await;
    for id in in_copy.keys() {
        assert!(audited.contains(id), "patient {id} in the copy has no audit row");
    }
    let writes: BTreeSet<&String> = written.iter().collect();
    let first_k: BTreeSet<&String> = written[..k].iter().collect();
    assert_eq!(audited.iter().filter(|id| writes.contains(id)).collect::<BTreeSet<_>>(), first_k, "audit rows");
    assert_eq!(queued.iter().filter(|id| writes.contains(id)).collect::<BTreeSet<_>>(), first_k, "outbox events");

    // Every other export type: the same records on both servers (the writer touched none).
    let types = export_types(&s.db_url);
    assert!(types.len() > 20 && types.contains(&"CDT_RECORD".to_string()), "{types:?}");
    let mut non_empty = Vec::new();
    for ty in types.iter().filter(|t| *t != "PATIENT") {
        let (a, b) = (export_all(&s, &token, ty).await, export_all(&copy, &token, ty).await);
        assert_eq!(a, b, "{ty} export differs between the original and the restored copy");
        if !a.is_empty() {
            non_empty.push(ty.as_str());
        }
    }
    for ty in ["CDT_RECORD", "ENCOUNTER", "CHAT_MESSAGE", "CALENDAR_EVENT", "USER"] {
        assert!(non_empty.contains(&ty), "{ty} was empty: the comparison would prove little ({non_empty:?})");
    }
}

#[tokio::test]
async fn restore_refuses_a_database_that_exists_or_is_in_use() {
    let mut s = Server::start_isolated(&["--no-webhook-worker"]).await;
    let token = s.token().await;
    s.create_patient(&token, json!({"firstName": "Kept", "lastName": "Safe"})).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup");
    let file = file.to_str().unwrap();
    s.cli(&["backup", "--out", file]);

    // Over the live database: refused without --force, and with it while the server runs.
    let out = cli_output(&s.db_url, &["restore", "--from", file]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "restored over an existing database");
    assert!(text.contains("--force") && (text.contains("exists") || text.contains("not empty")), "{text}");
    let out = cli_output(&s.db_url, &["restore", "--from", file, "--force"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "restored over a database in use");
    assert!(text.contains("in use"), "{text}");
    assert_eq!(s.count_patients(&token, "Safe").await, 1, "the live database is untouched");

    // Once the server is stopped, --force replaces the database with the backup.
    s.create_patient(&token, json!({"firstName": "After", "lastName": "Backup"})).await;
    s.kill9();
    let end = Instant::now() + Duration::from_secs(10);
    let replaced = loop {
        // PostgreSQL notices the killed server's sessions are gone within moments.
        let out = cli_output(&s.db_url, &["restore", "--from", file, "--force"]);
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() || !text.contains("in use") || Instant::now() > end {
            break (out.status.success(), text);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(replaced.0, "restore --force over a stopped server's database: {}", replaced.1);
    s.spawn();
    let token = s.token().await;
    assert_eq!(s.count_patients(&token, "Safe").await, 1, "the backup's patient is back");
    assert_eq!(s.count_patients(&token, "Backup").await, 0, "the later one is gone with the replaced database");

    // Not a backup at all: refused, and the fresh database is left as it was.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, "not a backup").unwrap();
    let fresh = Fresh::new();
    let out = cli_output(&fresh.url, &["restore", "--from", junk.to_str().unwrap()]);
    assert!(!out.status.success(), "restored junk");
    let out = cli_output(&fresh.url, &["tenants", "list"]);
    assert!(out.status.success() && out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));

    if is_postgres() {
        // Without pg_dump: the exact command to run instead, and no password in it.
        let out = cli_output(&s.db_url, &["backup", "--out", file, "--pg-dump", "/nonexistent/pg_dump"]);
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(text.contains("pg_dump --format=custom --serializable-deferrable"), "{text}");
        assert!(text.contains("--dbname=host=127.0.0.1 port=5432"), "{text}");
    }
}
