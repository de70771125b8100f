//! A PostgreSQL failover, as pg_auto_failover performs one: the primary stops taking
//! writes, its streaming standby is promoted, and the old primary's sessions end. The
//! server is given both hosts in one URL with `target_session_attrs=read-write`; it must
//! follow the primary by itself, run again the requests whose connection broke before they
//! committed (every create of this test is answered 201, none 503), and lose nothing that
//! was acknowledged before or after.
//!
//! Like `pg_outage.rs`, the test makes clusters of its own with Debian's `pg_createcluster`
//! (the standby from `pg_basebackup -R`), runs in the PostgreSQL pass of the suite, and
//! needs root to manage clusters.

mod common;

use common::pg_cluster::{run, Cluster};
use common::{is_postgres, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A primary with a database `failover`, and a streaming standby of it.
fn primary_and_standby() -> (Cluster, Cluster) {
    let primary = Cluster::create("owprimary");
    primary.start();
    primary.sql("postgres", "CREATE DATABASE failover");
    let standby = Cluster::create("owstandby");
    // The standby's files are a base backup of the primary, owned by postgres; its own
    // configuration (port) stays in /etc/postgresql.
    // The directory itself stays (its parent is not the postgres user's to write).
    let dir = standby.data_dir();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    run(
        "runuser",
        &[
            "-u",
            "postgres",
            "--",
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            &primary.port.to_string(),
            "-U",
            "postgres",
            "-D",
            &dir,
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ],
    );
    standby.start();
    assert_eq!(standby.sql("postgres", "SELECT pg_is_in_recovery()"), "t");
    (primary, standby)
}

async fn create_patients(s: &Server, token: &str, label: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let (status, body) = s
            .post(&s.sandbox("/patients"), token, json!({"firstName": format!("{label}{i}"), "lastName": "Failover"}))
            .await;
        assert_eq!(status, 201, "create {label}{i} during the failover: {body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_server_follows_a_failover_and_retries_what_broke_before_commit() {
    if !is_postgres() {
        eprintln!("PostgreSQL pass only (OPENWELKIN_TEST_DATABASE=postgres://…)");
        return;
    }
    let (primary, standby) = primary_and_standby();
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/failover?target_session_attrs=read-write",
        primary.port, standby.port
    );
    let s = Server::start_on(url, None, &["--no-webhook-worker", "--db-timeout-ms", "3000"]);
    let token = s.token().await;
    let mut acknowledged = create_patients(&s, &token, "Before", 10).await;
    // Reads by id share a connection kept out of the pool (store/sql/pg_readers.rs); this
    // one opens it, on the primary about to be switched away from.
    assert_eq!(s.get(&s.sandbox(&format!("/patients/{}", acknowledged[0])), &token).await.0, 200);

    // The switchover: the primary stops taking writes (its open sessions too), the standby
    // replays everything and is promoted.
    primary.sql("postgres", "ALTER SYSTEM SET default_transaction_read_only = on");
    primary.sql("postgres", "SELECT pg_reload_conf()");
    let last = primary.sql("postgres", "SELECT pg_current_wal_lsn()");
    let deadline = Instant::now() + Duration::from_secs(30);
    while standby.sql("postgres", &format!("SELECT pg_last_wal_replay_lsn() >= '{last}'::pg_lsn")) != "t" {
        assert!(Instant::now() < deadline, "the standby did not catch up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    standby.ctl("promote", &[]);
    while standby.sql("postgres", "SELECT pg_is_in_recovery()") != "f" {
        assert!(Instant::now() < deadline, "the standby was not promoted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The server's pooled connections still lead to the old primary, which now refuses
    // writes: each such create fails before its commit, and is run again on a connection
    // that finds the new primary.
    acknowledged.extend(create_patients(&s, &token, "Switched", 10).await);
    let on_new: i64 =
        standby.sql("failover", "SELECT COUNT(*) FROM patients WHERE last_name = 'Failover'").parse().unwrap();
    assert_eq!(on_new, 20, "every acknowledged create is on the new primary");
    // The old primary still answers reads, but it has none of these: the shared read
    // connection was let go with the pool's when the first write found it read-only.
    for id in &acknowledged[10..] {
        let (status, body) = s.get(&s.sandbox(&format!("/patients/{id}")), &token).await;
        assert_eq!(status, 200, "patient {id}, created after the switchover, read at once: {body}");
    }

    // A client disabled now (on the new primary, through the CLI) is refused within a
    // second, although the old primary still answers: the configuration listener does not
    // stay on a server that no longer takes writes (store/config_watch.rs).
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let other = s.token_for(&name, &secret).await;
    assert_eq!(s.get(&s.sandbox("/patients?size=1"), &other).await.0, 200);
    s.cli(&["clients", "disable", "--tenant", &s.tenant, "--name", &name]);
    let started = Instant::now();
    while s.get(&s.sandbox("/patients?size=1"), &other).await.0 != 401 {
        assert!(started.elapsed() < Duration::from_secs(1), "the disable was not seen within 1 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The old primary goes away altogether (pg_auto_failover restarts it as a standby).
    primary.stop();
    acknowledged.extend(create_patients(&s, &token, "After", 10).await);
    for id in &acknowledged {
        let (status, body) = s.get(&s.sandbox(&format!("/patients/{id}")), &token).await;
        assert_eq!(status, 200, "acknowledged patient {id} after the failover: {body}");
    }
    let page: Value = s.get(&s.sandbox("/patients?size=100&lastName=Failover"), &token).await.1;
    assert_eq!(page["totalElements"], 30, "{page}");
}
