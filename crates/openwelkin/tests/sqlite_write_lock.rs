//! SQLite: another process (an admin command, a backup tool) holding the database's write
//! lock makes the server's writes wait, not fail, and not stall its reads. The server's
//! writer waits for the lock asynchronously (its own busy timeout is short), so the wait
//! is bounded by `--db-timeout-ms`, not by SQLite inside a runtime thread.

mod common;

use common::{is_postgres, Server};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_wait_for_another_process_write_lock_and_reads_go_on() {
    if is_postgres() {
        eprintln!("SQLite only: PostgreSQL has no database-wide write lock");
        return;
    }
    let s = Server::start().await;
    let token = s.token().await;
    let (status, first) =
        s.post(&s.sandbox("/patients"), &token, json!({"firstName": "Ada", "lastName": "Lock"})).await;
    assert_eq!(status, 201, "{first}");
    let id = first["id"].as_str().unwrap().to_string();

    // Another process takes the write lock and keeps it for 4 s: longer than the server's
    // re-runs of a failed request (about 3 s), shorter than its wait for the database.
    let path = s.db_url.strip_prefix("sqlite://").unwrap().to_string();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    let writers: Vec<_> = (0..4)
        .map(|i| {
            let (url, token, http) = (s.url(&s.sandbox("/patients")), token.clone(), reqwest::Client::new());
            tokio::spawn(async move {
                let started = Instant::now();
                let answer = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"firstName": format!("Waiting{i}"), "lastName": "Lock"}))
                    .send()
                    .await
                    .unwrap();
                (answer.status().as_u16(), started.elapsed())
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..5 {
        let started = Instant::now();
        let (status, body) = s.get(&s.sandbox(&format!("/patients/{id}")), &token).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "a read waited {:?} behind the lock",
            started.elapsed()
        );
    }
    assert!(writers.iter().all(|w| !w.is_finished()), "a write finished while another process held the lock");
    tokio::time::sleep(Duration::from_millis(3800)).await;
    other.execute_batch("ROLLBACK").unwrap();

    for writer in writers {
        let (status, waited) = writer.await.unwrap();
        assert_eq!(status, 201, "a write that waited {waited:?} for the lock");
        assert!(waited >= Duration::from_millis(3900), "answered after {waited:?}, before the lock was free");
    }
    let page = s.get(&s.sandbox("/patients?lastName=Lock"), &token).await.1;
    assert_eq!(page["totalElements"], 5, "{page}");
}
