//! Write transactions that never leave their connection in an unknown state.
//!
//! sqlx's own `Transaction` counts its nesting depth in the connection and only lowers the
//! count when `COMMIT` succeeds. When a `COMMIT` fails (SQLite answering `SQLITE_FULL`, a
//! PostgreSQL connection breaking), the count stays raised, the rollback on drop fails too,
//! and every later `begin()` on that connection becomes a `SAVEPOINT` inside a transaction
//! that is never committed: writes are answered 201 and lost. With SQLite's single writer
//! connection that means every write from then on.
//!
//! `Tx` therefore issues `BEGIN`/`COMMIT`/`ROLLBACK` itself and treats any failure of
//! those statements as "state unknown": the connection is closed instead of returned to the
//! pool, and the pool opens a fresh one. A write is answered only after `commit()` returned
//! `Ok`, which is after the database acknowledged the `COMMIT` (with `synchronous = FULL`
//! on SQLite and PostgreSQL's default `synchronous_commit`, that is after the commit
//! reached the disk).

use super::{errors, Backend};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use std::ops::{Deref, DerefMut};

pub struct Tx {
    /// `None` once committed or rolled back.
    conn: Option<PoolConnection<Any>>,
    backend: Backend,
}

impl Tx {
    pub(super) async fn begin(pool: &AnyPool, backend: Backend) -> sqlx::Result<Tx> {
        let mut conn = pool.acquire().await?;
        // IMMEDIATE takes SQLite's write lock now, so a transaction never fails halfway
        // when it upgrades from reading to writing while another process (an admin
        // command) writes.
        let begin = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        if let Err(e) = conn.execute(begin).await {
            conn.close_on_drop();
            return Err(e);
        }
        Ok(Tx { conn: Some(conn), backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The clause that locks the rows a `SELECT` reads until the transaction ends: ` FOR
    /// UPDATE` on PostgreSQL. SQLite needs none: `BEGIN IMMEDIATE` on the single writer
    /// connection already excludes every other writer for the whole transaction.
    pub fn lock_rows(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// Takes a named write lock until the transaction ends, for rules over a set of rows
    /// that may have no row to lock yet (a formation's draft, a dictionary, an instance's
    /// communication IDs). On PostgreSQL a transaction-scoped advisory lock on the name's
    /// hash; on SQLite nothing, as its single writer already runs writes one at a time.
    pub async fn lock_name(&mut self, name: &str) -> sqlx::Result<()> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        sqlx::query("SELECT COUNT(*) AS n FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS l")
            .bind(name)
            .fetch_one(&mut **self)
            .await
            .map(|_| ())
    }

    /// Commits. `Ok` means the database acknowledged the commit; on `Err` nothing of the
    /// transaction is to be reported as done, and the connection is discarded.
    pub async fn commit(mut self) -> sqlx::Result<()> {
        let mut conn = self.conn.take().expect("transaction is open");
        match conn.execute("COMMIT").await {
            Ok(_) => {
                errors::storage_recovered();
                Ok(())
            }
            Err(e) => {
                conn.close_on_drop();
                Err(e)
            }
        }
    }

    /// Rolls back now (dropping a `Tx` rolls back too, in the background).
    pub async fn rollback(mut self) -> sqlx::Result<()> {
        let mut conn = self.conn.take().expect("transaction is open");
        let result = conn.execute("ROLLBACK").await.map(|_| ());
        if result.is_err() {
            conn.close_on_drop();
        }
        result
    }

    fn conn(&self) -> &PoolConnection<Any> {
        self.conn.as_ref().expect("transaction is open")
    }
}

impl Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        self.conn()
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn.as_mut().expect("transaction is open")
    }
}

impl Drop for Tx {
    /// An abandoned transaction (an error, a cancelled request) is rolled back before its
    /// connection goes back to the pool; the pool cannot hand it out meanwhile, because
    /// the task holds it. If the rollback fails the connection is closed instead.
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if conn.execute("ROLLBACK").await.is_err() {
                        conn.close_on_drop();
                    }
                });
            }
            Err(_) => conn.close_on_drop(),
        }
    }
}
