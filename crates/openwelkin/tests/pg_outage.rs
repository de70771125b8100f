//! PostgreSQL stopped and started again under load: no acknowledged write is lost, API
//! calls during the outage are answered `503 DATABASE_UNAVAILABLE` within the configured
//! wait, `/readyz` says 503 within a second while the database is away and 200 once it
//! is back, and the server recovers by itself.
//!
//! The test stops a database server, so it does not use the shared test database: it
//! makes a PostgreSQL cluster of its own with Debian's `pg_createcluster` on a free port,
//! stops and starts it with `pg_ctlcluster`, and drops it at the end. It runs in the
//! PostgreSQL pass of the suite (`OPENWELKIN_TEST_DATABASE=postgres://…`); it needs root,
//! as CI has, to manage clusters.

mod common;

use common::pg_cluster::Cluster;
use common::{error_code, is_postgres, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn outage_cluster() -> Cluster {
    let cluster = Cluster::create("owoutage");
    cluster.start();
    cluster.sql("postgres", "CREATE DATABASE outage");
    cluster
}

#[derive(Default)]
struct Tally {
    acknowledged: Vec<String>,
    unavailable: usize,
    /// Answers other than 201 and 503, with their bodies.
    unexpected: Vec<(StatusCode, String)>,
    /// The slowest 503.
    slowest_refusal: Duration,
}

async fn readyz(http: &reqwest::Client, base: &str) -> (StatusCode, Duration) {
    let started = Instant::now();
    let status = http.get(format!("{base}/readyz")).send().await.unwrap().status();
    (status, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stopped_and_restarted_under_load_loses_no_acknowledged_write() {
    if !is_postgres() {
        eprintln!("PostgreSQL pass only (OPENWELKIN_TEST_DATABASE=postgres://…)");
        return;
    }
    let cluster = outage_cluster();
    let s = Server::start_on(cluster.url("outage"), None, &["--no-webhook-worker", "--db-timeout-ms", "2000"]);
    let token = s.token().await;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let url = s.url(&s.sandbox("/patients"));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (http, url, token, tally, stop) = (s.http.clone(), url.clone(), token.clone(), tally.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            // Bounded: the test stops the writers, and they stop by themselves after 60 s.
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
                n += 1;
                let body = json!({"firstName": "Outage", "lastName": format!("W{w}N{n}")});
                let sent = Instant::now();
                let resp = http.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
                let status = resp.status();
                let text = resp.text().await.unwrap();
                {
                    let mut t = tally.lock().unwrap();
                    match status {
                        StatusCode::CREATED => {
                            let p: Value = serde_json::from_str(&text).unwrap();
                            t.acknowledged.push(p["id"].as_str().unwrap().to_string());
                        }
                        StatusCode::SERVICE_UNAVAILABLE => {
                            let body: Value = serde_json::from_str(&text).unwrap();
                            assert_eq!(error_code(&body), "DATABASE_UNAVAILABLE");
                            t.unavailable += 1;
                            t.slowest_refusal = t.slowest_refusal.max(sent.elapsed());
                        }
                        other => t.unexpected.push((other, text)),
                    }
                }
                if status != StatusCode::CREATED {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    let acknowledged = |t: &Arc<Mutex<Tally>>| t.lock().unwrap().acknowledged.len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while acknowledged(&tally) < 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(acknowledged(&tally) >= 100, "the writers did not get going");
    assert_eq!(readyz(&s.http, &s.base).await.0, StatusCode::OK);
    // A read by id, on the connection such reads share (store/sql/pg_readers.rs): the
    // outage breaks it, and reads by id must come back after the restart without it.
    let first = tally.lock().unwrap().acknowledged[0].clone();
    assert_eq!(s.get(&s.sandbox(&format!("/patients/{first}")), &token).await.0, StatusCode::OK);

    cluster.stop();
    let before_outage = acknowledged(&tally);
    // While it is away: /readyz is honest and quick, every write is refused with 503.
    for _ in 0..3 {
        let (status, took) = readyz(&s.http, &s.base).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "/readyz with the database stopped");
        assert!(took < Duration::from_millis(1500), "/readyz took {took:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let during = {
        let sent = Instant::now();
        let (status, body) = s.post(&s.sandbox("/patients"), &token, json!({"firstName": "A", "lastName": "B"})).await;
        (status, error_code(&body), sent.elapsed())
    };
    assert_eq!((during.0, during.1.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "DATABASE_UNAVAILABLE"));
    assert!(during.2 < Duration::from_secs(4), "a write during the outage waited {:?}", during.2);
    let (status, body) = s.get(&s.sandbox("/patients?size=1"), &token).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::SERVICE_UNAVAILABLE, "DATABASE_UNAVAILABLE"));
    let (status, body) = s.get(&s.sandbox(&format!("/patients/{first}")), &token).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::SERVICE_UNAVAILABLE, "DATABASE_UNAVAILABLE"));
    assert!(acknowledged(&tally) <= before_outage + 4, "writes acknowledged with the database stopped");

    cluster.start();
    let back = Instant::now();
    while readyz(&s.http, &s.base).await.0 != StatusCode::OK {
        assert!(back.elapsed() < Duration::from_secs(20), "/readyz never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let back_after = back.elapsed();
    let resumed = acknowledged(&tally);
    let deadline = Instant::now() + Duration::from_secs(20);
    while acknowledged(&tally) < resumed + 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let t = std::mem::take(&mut *tally.lock().unwrap());
    assert!(t.acknowledged.len() >= resumed + 100, "writes did not resume by themselves after the restart");
    assert!(t.unexpected.is_empty(), "answers other than 201 and 503: {:?}", t.unexpected);
    assert!(t.unavailable > 0, "no write was refused during the outage");
    assert!(t.slowest_refusal < Duration::from_secs(4), "a 503 took {:?}", t.slowest_refusal);

    eprintln!(
        "outage: {} acknowledged ({before_outage} before the stop), {} refused with 503, slowest 503 {:?}, \
         /readyz back {:?} after the start",
        t.acknowledged.len(),
        t.unavailable,
        t.slowest_refusal,
        back_after
    );
    let mut missing = Vec::new();
    for id in &t.acknowledged {
        if s.get(&s.sandbox(&format!("/patients/{id}")), &token).await.0 != StatusCode::OK {
            missing.push(id.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged patients lost: {missing:?}",
        missing.len(),
        t.acknowledged.len()
    );
    drop(s);
    drop(cluster);
}
