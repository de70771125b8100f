//! Reads by id that arrive together: on PostgreSQL they are answered by one statement
//! (`store/sql/pg_read_batches.rs`) and its rows handed back by position. Every reader must
//! get exactly the answer it gets when it reads alone: its own patient with its own
//! enrolments (none, one or two), a 404 for a patient of another instance or an unknown
//! id. On PostgreSQL the HTTP test also checks that batches formed, so that it exercises
//! them; on SQLite reads are not batched and the same answers are expected. A batch that
//! fails (here: a key with a NUL, which PostgreSQL refuses and the API never lets through)
//! must give every other reader its own answer: tested on the store.

mod common;

use common::{is_postgres, Server};
use openwelkin::store::sql::query;
use openwelkin::store::Db;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const PATIENTS: usize = 24;
const ROUNDS: usize = 10;

/// A second program, published beside the test designer's, so that a patient can have two
/// enrolments (two rows of the batched statement for one reader).
fn second_program() -> Value {
    json!({"name": "prog-batch", "title": "Batch", "description": "Two rows for one reader", "phases": [
        {"name": "start", "title": "Start", "navigateTo": [{"name": "finish"}]},
        {"name": "finish", "title": "Finish"}]})
}

async fn enrol(s: &Server, token: &str, pid: &str, program: &str) {
    let path = s.sandbox(&format!("/patients/{pid}/programs/{program}"));
    let (status, body) = s.patch(&path, token, json!({"assigned": true, "phaseName": "start"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// An answer without the moment an error was made (`date`), which differs between reads.
fn without_date((status, mut body): (StatusCode, Value)) -> (StatusCode, Value) {
    if let Some(errors) = body.as_array_mut() {
        for e in errors.iter_mut().filter_map(Value::as_object_mut) {
            e.remove("date");
        }
    }
    (status, body)
}

/// The metric's value in a `/metrics` scrape (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn reads_together_answer_each_reader_as_alone() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let (status, body) = s.post(&s.sandbox("/formations/draft/programs"), &token, second_program()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s.call(Method::POST, &s.sandbox("/formations/draft/publish"), Some(&token), None).await;
    assert!(status.is_success(), "{body}");

    let mut paths = Vec::new();
    for i in 0..PATIENTS {
        let p = s.create_patient(&token, json!({"firstName": format!("Batch{i}"), "lastName": "Reader"})).await;
        let pid = p["id"].as_str().unwrap().to_string();
        if i % 3 >= 1 {
            enrol(&s, &token, &pid, "prog-diabetes").await;
        }
        if i % 3 == 2 {
            enrol(&s, &token, &pid, "prog-batch").await;
        }
        paths.push(s.sandbox(&format!("/patients/{pid}")));
    }
    // A patient of the live instance, read through the sandbox: not found there.
    let (status, live) = s
        .post(&format!("/{}/live/patients", s.tenant), &token, json!({"firstName": "Live", "lastName": "Elsewhere"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{live}");
    paths.push(s.sandbox(&format!("/patients/{}", live["id"].as_str().unwrap())));
    paths.push(s.sandbox("/patients/0b9a4a7c-6bd0-4d0b-9b0a-1ad0f3f4a0ff"));

    // Each read alone, one after the other: the answers every read must get.
    let mut alone = Vec::new();
    for path in &paths {
        alone.push(without_date(s.get(path, &token).await));
    }
    for (i, (status, body)) in alone.iter().take(PATIENTS).enumerate() {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(body["firstName"], format!("Batch{i}"));
        assert_eq!(body["patientPrograms"].as_array().map_or(0, Vec::len), i % 3, "{body}");
    }
    assert_eq!(alone[PATIENTS].0, StatusCode::NOT_FOUND, "another instance's patient: {}", alone[PATIENTS].1);
    assert_eq!(alone[PATIENTS + 1].0, StatusCode::NOT_FOUND, "an unknown id: {}", alone[PATIENTS + 1].1);

    // The same reads all at once, in a different order each round.
    let mut wrong = Vec::new();
    for round in 0..ROUNDS {
        let order: Vec<usize> = (0..paths.len()).map(|i| (i * 7 + round * 5) % paths.len()).collect();
        let reads = order.iter().map(|&i| s.get(&paths[i], &token));
        let answers = futures::future::join_all(reads).await;
        for (&i, answer) in order.iter().zip(answers.into_iter().map(without_date)) {
            if answer != alone[i] {
                wrong.push(format!("round {round}, {}: {answer:?} instead of {:?}", paths[i], alone[i]));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} reads answered otherwise than alone, e.g.:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(3)].join("\n")
    );

    let metrics = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let batched = metric(&metrics, "openwelkin_db_batched_reads_total");
    if is_postgres() {
        assert!(batched > 0.0, "no reads were batched, so the test did not exercise batches:\n{metrics}");
    } else {
        assert_eq!(batched, 0.0, "SQLite reads are not batched");
    }
}

/// Keys read together on the store, one of them with a NUL: on PostgreSQL the batch it is in
/// fails (JSON's `\u0000` cannot become text) and its readers are read one by one, so the
/// NUL key's read fails alone and every other reader still gets its row. SQLite takes the
/// NUL key as any other text (no row).
#[tokio::test]
async fn a_batch_that_fails_gives_every_reader_its_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let url = match std::env::var("OPENWELKIN_TEST_DATABASE") {
        Ok(url) if url.starts_with("postgres") => url,
        _ => format!("sqlite://{}", dir.path().join("batch.db").display()),
    };
    let db = Db::connect(&url).await.unwrap();
    let table = format!("batch_probe_{}", openwelkin::ids::new_id().replace('-', ""));
    let mut tx = db.begin().await.unwrap();
    query(&format!("CREATE TABLE {table} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"))
        .execute(&mut *tx)
        .await
        .unwrap();
    for i in 0..16 {
        query(&format!("INSERT INTO {table} (key, value) VALUES ($1, $2)"))
            .bind(format!("k{i}"))
            .bind(format!("v{i}"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // `batched` takes statements that live as long as the process, as the store's do.
    let alone: &'static str = format!("SELECT value FROM {table} WHERE key = $1").leak();
    let batched: &'static str = format!(
        "SELECT b.n AS batch_row, r.* FROM json_array_elements($1::json) WITH ORDINALITY AS b(keys, n) \
         CROSS JOIN LATERAL (SELECT value FROM {table} WHERE key = b.keys->>0) r"
    )
    .leak();

    let mut wrong = Vec::new();
    for round in 0..10 {
        let keys: Vec<String> = (0..17)
            .map(|i| if i == (round * 3) % 17 { "bad\0key".to_string() } else { format!("k{}", i % 16) })
            .collect();
        let reads = keys.iter().map(|k| query(alone).bind(k.clone()).batched(batched).fetch_all(db.reader()));
        let answers = futures::future::join_all(reads).await;
        for (k, answer) in keys.iter().zip(answers) {
            let got = answer.map(|rows| rows.iter().map(|r| r.get::<String, _>("value")).collect::<Vec<_>>());
            let ok = match k.strip_prefix('k') {
                Some(n) => got.as_ref().is_ok_and(|values| values == &[format!("v{n}")]),
                None if is_postgres() => got.is_err(),
                None => got.as_ref().is_ok_and(Vec::is_empty),
            };
            if !ok {
                wrong.push(format!("round {round}, key {k:?}: {got:?}"));
            }
        }
    }
    let mut tx = db.begin().await.unwrap();
    query(&format!("DROP TABLE {table}")).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        wrong.is_empty(),
        "{} reads answered wrongly, e.g.:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(3)].join("\n")
    );
}
