//! After a sweep (a connection found its server read-only or gone: a failover), no
//! connection opened before it is handed out again, also one that was in use during the
//! sweep and came back to the pool after it: it may lead to the former primary, which
//! still answers reads with what it had (`store/sql/postgres.rs`, `get`). A file of its
//! own: the last sweep is kept per process, and another test's sweep would close this
//! test's connections. PostgreSQL pass only.

mod common;

use common::is_postgres;
use openwelkin::store::sql::postgres;
use std::time::Duration;

async fn backend_pid(client: &deadpool_postgres::Object) -> i32 {
    client.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_connection_in_use_during_a_sweep_is_closed_when_it_comes_back() {
    if !is_postgres() {
        eprintln!("PostgreSQL pass only (OPENWELKIN_TEST_DATABASE=postgres://…)");
        return;
    }
    let url = std::env::var("OPENWELKIN_TEST_DATABASE").unwrap();
    let pool = postgres::pool(&url, 4, Duration::from_secs(5)).unwrap();

    let in_use = postgres::get(&pool).await.unwrap();
    let before = backend_pid(&in_use).await;
    postgres::sweep(&pool);
    drop(in_use); // back to the pool, idle, opened before the sweep
    assert_eq!(pool.status().available, 1);

    let after = postgres::get(&pool).await.unwrap();
    let reopened = backend_pid(&after).await;
    assert_ne!(reopened, before, "the connection opened before the sweep was handed out again");
    drop(after);

    // Connections opened after the sweep are pooled as usual.
    let again = postgres::get(&pool).await.unwrap();
    assert_eq!(backend_pid(&again).await, reopened);
}
