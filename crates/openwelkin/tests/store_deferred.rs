//! `Tx::defer`: writes held back (on PostgreSQL) until the next statement or the COMMIT,
//! sent with it in one round trip. A held-back write that fails must fail what it travelled
//! with and leave nothing of the transaction; one that succeeds is committed with the rest.
//! Runs on the database of `OPENWELKIN_TEST_DATABASE` (PostgreSQL), or a temporary SQLite
//! file, where `defer` runs the write at once.

use openwelkin::store::sql::query;
use openwelkin::store::Db;

struct Probe {
    db: Db,
    table: String,
    _dir: tempfile::TempDir,
}

/// A database with an empty table of its own (named per test: the database is shared).
async fn probe() -> Probe {
    let dir = tempfile::tempdir().unwrap();
    let url = match std::env::var("OPENWELKIN_TEST_DATABASE") {
        Ok(url) if url.starts_with("postgres") => url,
        _ => format!("sqlite://{}", dir.path().join("probe.db").display()),
    };
    let db = Db::connect(&url).await.unwrap();
    let table = format!("deferred_probe_{}", openwelkin::ids::new_id().replace('-', ""));
    let mut tx = db.begin().await.unwrap();
    query(&format!("CREATE TABLE {table} (id TEXT PRIMARY KEY)")).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    Probe { db, table, _dir: dir }
}

impl Probe {
    fn insert(&self) -> String {
        format!("INSERT INTO {} (id) VALUES ($1)", self.table)
    }

    async fn ids(&self) -> Vec<String> {
        let mut tx = self.db.begin().await.unwrap();
        let rows = query(&format!("SELECT id FROM {} ORDER BY id", self.table)).fetch_all(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        rows.iter().map(|r| r.get("id")).collect()
    }

    async fn drop_table(self) {
        let mut tx = self.db.begin().await.unwrap();
        query(&format!("DROP TABLE {}", self.table)).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn deferred_writes_are_committed_with_the_transaction() {
    let p = probe().await;
    let sql = p.insert();
    let mut tx = p.db.begin().await.unwrap();
    tx.defer(query(&sql).bind("a")).await.unwrap();
    query(&sql).bind("b").execute(&mut *tx).await.unwrap();
    tx.defer(query(&sql).bind("c")).await.unwrap();
    tx.defer(query(&sql).bind("d")).await.unwrap();
    tx.commit().await.unwrap();
    // A transaction of deferred writes only.
    let mut tx = p.db.begin().await.unwrap();
    tx.defer(query(&sql).bind("e")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(p.ids().await, ["a", "b", "c", "d", "e"]);
    p.drop_table().await;
}

#[tokio::test]
async fn a_failing_deferred_write_fails_the_commit_and_nothing_is_kept() {
    let p = probe().await;
    let sql = p.insert();
    let mut tx = p.db.begin().await.unwrap();
    query(&sql).bind("taken").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = p.db.begin().await.unwrap();
    query(&sql).bind("first").execute(&mut *tx).await.unwrap();
    // A duplicate key: the error comes at once (SQLite) or with the COMMIT (PostgreSQL).
    let deferred = tx.defer(query(&sql).bind("taken")).await;
    let outcome = match deferred {
        Err(e) => {
            drop(tx);
            Err(e)
        }
        Ok(()) => tx.commit().await,
    };
    let err = outcome.expect_err("a failed deferred write must fail the transaction");
    assert!(openwelkin::store::is_unique_violation(&err), "the write's own error, got {err}");
    assert_eq!(p.ids().await, ["taken"], "nothing of the failed transaction is kept");
    p.drop_table().await;
}

#[tokio::test]
async fn a_failing_deferred_write_fails_the_next_statement() {
    let p = probe().await;
    let sql = p.insert();
    let mut tx = p.db.begin().await.unwrap();
    query(&sql).bind("taken").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = p.db.begin().await.unwrap();
    let failed = match tx.defer(query(&sql).bind("taken")).await {
        Err(e) => e,
        Ok(()) => query(&sql).bind("after").execute(&mut *tx).await.expect_err("the held-back write failed"),
    };
    assert!(openwelkin::store::is_unique_violation(&failed), "the write's own error, got {failed}");
    drop(tx);
    assert_eq!(p.ids().await, ["taken"]);
    p.drop_table().await;
}

#[tokio::test]
async fn deferred_writes_of_an_abandoned_transaction_are_never_stored() {
    let p = probe().await;
    let sql = p.insert();
    let mut tx = p.db.begin().await.unwrap();
    tx.defer(query(&sql).bind("never")).await.unwrap();
    drop(tx);
    let mut tx = p.db.begin().await.unwrap();
    query(&sql).bind("sent").execute(&mut *tx).await.unwrap();
    tx.defer(query(&sql).bind("held")).await.unwrap();
    tx.rollback().await.unwrap();
    // The connections went back clean: a new transaction works on them.
    let mut tx = p.db.begin().await.unwrap();
    tx.defer(query(&sql).bind("kept")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(p.ids().await, ["kept"]);
    p.drop_table().await;
}

#[tokio::test]
async fn deferred_executes_go_out_with_the_next_read_or_the_commit() {
    let p = probe().await;
    let sql = p.insert();
    let mut tx = p.db.begin().await.unwrap();
    tx.defer_executes();
    for id in ["a", "b", "c"] {
        query(&sql).bind(id).execute(&mut *tx).await.unwrap();
    }
    // A read in the same transaction sees them: they travel ahead of it.
    let rows = query(&format!("SELECT id FROM {} ORDER BY id", p.table)).fetch_all(&mut *tx).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.get::<String, _>("id")).collect::<Vec<_>>(), ["a", "b", "c"]);
    query(&sql).bind("d").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(p.ids().await, ["a", "b", "c", "d"]);

    // A duplicate among them fails the commit (PostgreSQL) or the write (SQLite), and
    // nothing of that transaction is kept.
    let mut tx = p.db.begin().await.unwrap();
    tx.defer_executes();
    let outcome = async {
        query(&sql).bind("e").execute(&mut *tx).await?;
        query(&sql).bind("a").execute(&mut *tx).await?;
        query(&sql).bind("f").execute(&mut *tx).await?;
        Ok::<_, openwelkin::store::sql::Error>(())
    }
    .await;
    let err = match outcome {
        Err(e) => {
            drop(tx);
            e
        }
        Ok(()) => tx.commit().await.expect_err("the duplicate fails the commit"),
    };
    assert!(openwelkin::store::is_unique_violation(&err), "the write's own error, got {err}");
    assert_eq!(p.ids().await, ["a", "b", "c", "d"]);
    p.drop_table().await;
}

/// Transactions of held-back writes only, committed at the same moment: on PostgreSQL the
/// group commit runs them in one transaction, their single-row inserts as one multi-row
/// insert (SQLite's writer thread groups them too). Each keeps its own outcome: the one
/// whose key is taken fails with its own duplicate error, the others are all stored.
#[tokio::test]
async fn held_transactions_committed_together_keep_their_own_outcomes() {
    let p = probe().await;
    let sql = p.insert();
    let mut tx = p.db.begin().await.unwrap();
    query(&sql).bind("taken").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();

    let ids: Vec<String> = (0..24).map(|i| format!("id{i:02}")).chain(["taken".to_string()]).collect();
    let commits = ids.iter().map(|id| {
        let (db, sql) = (&p.db, &sql);
        async move {
            let mut tx = db.begin().await?;
            tx.defer(query(sql).bind(id.as_str()).values_repeatable()).await?;
            tx.commit().await
        }
    });
    let outcomes = futures::future::join_all(commits).await;
    for (id, outcome) in ids.iter().zip(&outcomes) {
        match id.as_str() {
            "taken" => assert!(
                outcome.as_ref().is_err_and(openwelkin::store::is_unique_violation),
                "the duplicate fails alone, with its own error: {outcome:?}"
            ),
            _ => assert!(outcome.is_ok(), "{id}: {outcome:?}"),
        }
    }
    let mut want: Vec<String> = ids.clone();
    want.sort();
    assert_eq!(p.ids().await, want);
    p.drop_table().await;
}

/// On PostgreSQL, transactions committed at the same moment share database transactions:
/// rows written by one transaction carry its id (`xmin`), so 32 commits that each ran
/// alone would leave 32 distinct ids.
#[tokio::test]
async fn held_transactions_at_once_share_a_transaction_on_postgres() {
    let p = probe().await;
    if p.db.backend() != openwelkin::store::Backend::Postgres {
        return p.drop_table().await;
    }
    let sql = p.insert();
    let commits = (0..32).map(|i| {
        let (db, sql) = (&p.db, &sql);
        async move {
            let mut tx = db.begin().await.unwrap();
            tx.defer(query(sql).bind(format!("row{i:02}")).values_repeatable()).await.unwrap();
            tx.commit().await.unwrap();
        }
    });
    futures::future::join_all(commits).await;
    let row = query(&format!("SELECT COUNT(*) AS n, COUNT(DISTINCT xmin::text) AS transactions FROM {}", p.table))
        .fetch_one(p.db.reader())
        .await
        .unwrap();
    let (n, transactions): (i64, i64) = (row.get("n"), row.get("transactions"));
    assert_eq!(n, 32);
    assert!(transactions <= 4, "32 commits at once ran as {transactions} transactions");
    p.drop_table().await;
}
