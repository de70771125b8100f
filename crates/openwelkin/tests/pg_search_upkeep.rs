//! On PostgreSQL the server moves the pending entries of the patient trigram indexes into
//! the indexes itself (`store/search_upkeep.rs`), so that no create finds a pending list
//! full and has to do it while every create queued behind it waits. Read through
//! `pgstatginindex` (contrib's `pgstattuple`) on a database of the test's own: the servers
//! of other tests on the shared database run the same upkeep. Nothing to check on SQLite,
//! whose search index is written once per group commit.

mod common;

use common::{is_postgres, psql_query, Server};
use serde_json::json;
use std::time::{Duration, Instant};

/// Pages of pending entries in the two trigram indexes of patients.
fn pending_pages(db_url: &str) -> i64 {
    let sql = "SELECT (SELECT pending_pages FROM pgstatginindex('patients_search_trgm')) \
               + (SELECT pending_pages FROM pgstatginindex('patients_territories_trgm'))";
    psql_query(db_url, sql).trim().parse().expect("a number of pages")
}

#[tokio::test]
async fn the_server_empties_the_search_indexes_pending_lists() {
    if !is_postgres() {
        return;
    }
    let mut server = Server::start_isolated(&["--no-webhook-worker"]).await;
    psql_query(&server.db_url, "CREATE EXTENSION IF NOT EXISTS pgstattuple");
    let token = server.token().await;
    for i in 0..40 {
        server.create_patient(&token, json!({"firstName": "Pending", "lastName": format!("Entries{i}")})).await;
    }
    // Each create added entries to the pending lists; the server empties them within its
    // 50 ms period (bounded wait: a loaded CI machine is slower).
    let deadline = Instant::now() + Duration::from_secs(10);
    while pending_pages(&server.db_url) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pending_pages(&server.db_url), 0, "the server emptied the pending lists");

    // The same kind of write without a server: the entries stay pending, so the emptying
    // above was the server's (the indexes do use pending lists).
    server.kill9();
    psql_query(&server.db_url, "UPDATE patients SET search = search || ' changed'");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(pending_pages(&server.db_url) > 0, "without a server the entries stay pending");
}
