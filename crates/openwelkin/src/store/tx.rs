//! Transactions that never leave their connection in an unknown state.
//!
//! A write is answered only after `commit()` returned `Ok`, which is after the database
//! acknowledged the `COMMIT`: on SQLite, the `COMMIT` of the group the transaction joined
//! and the flush of the log that follows it (see `sql::sqlite`); on PostgreSQL, its own
//! `COMMIT` (with the default `synchronous_commit`, after the commit reached the disk).
//! Any failure of the transaction-control statements is "state unknown": the SQLite group
//! is rolled back and its writer reopened, the PostgreSQL connection closed rather than
//! handed back.

use super::sql::sqlite::SqliteEngine;
use super::sql::{postgres, query, Conn, PgConn, PgHeld, Pool, Query, Result};
use super::{errors, Backend};
use crate::telemetry::names::{DB_ACQUIRE, DB_COMMIT, DB_TRANSACTION};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Instant;

pub struct Tx {
    /// `None` once committed or rolled back.
    conn: Option<Conn>,
    /// SQLite's engine, which owns the group commit and the read connections.
    sqlite: Option<Arc<SqliteEngine>>,
    backend: Backend,
    /// `write` or `read`, and when the transaction had its connection: for the metrics.
    kind: &'static str,
    started: Instant,
}

impl Tx {
    pub(super) async fn begin(pool: &Pool) -> Result<Tx> {
        Self::begin_write(pool, false).await
    }

    /// A large write transaction (thousands of rows): on SQLite always the first of its
    /// group, so that it needs no savepoint (see `SqliteEngine::begin_write_alone`); on
    /// PostgreSQL a transaction with a connection of its own from the start, never
    /// committed in a group.
    pub(super) async fn begin_bulk(pool: &Pool) -> Result<Tx> {
        Self::begin_write(pool, true).await
    }

    /// On SQLite the wait for the writer is measured by the engine when it is taken.
    async fn begin_write(pool: &Pool, bulk: bool) -> Result<Tx> {
        match pool {
            Pool::Sqlite(engine) if bulk => {
                let guard = engine.begin_write_alone().await?;
                Ok(Tx::new(Conn::SqliteWriter(guard), Some(engine.clone()), Backend::Sqlite, "write"))
            }
            // The writer is taken by the first statement that is not held back, or by the
            // commit (see `Conn::SqliteHeld`).
            Pool::Sqlite(engine) => Ok(Tx::new(
                Conn::SqliteHeld(engine.clone(), Vec::new()),
                Some(engine.clone()),
                Backend::Sqlite,
                "write",
            )),
            Pool::Postgres(pg) if bulk => {
                let asked = Instant::now();
                let tx = Self::begin_postgres(pg, "BEGIN", "write").await?;
                metrics::histogram!(DB_ACQUIRE, "kind" => "write").record(asked.elapsed());
                Ok(tx)
            }
            // A connection is taken by the first statement that is not held back; a
            // transaction of held-back writes only is committed in a group (`PgPool`).
            Pool::Postgres(pg) => Ok(Tx::new(
                Conn::PostgresHeld(PgHeld { pool: pg.clone(), deferred: Vec::new(), defer_executes: false }),
                None,
                Backend::Postgres,
                "write",
            )),
        }
    }

    fn new(conn: Conn, sqlite: Option<Arc<SqliteEngine>>, backend: Backend, kind: &'static str) -> Tx {
        Tx { conn: Some(conn), sqlite, backend, kind, started: Instant::now() }
    }

    /// A read-only transaction that sees one moment of the database throughout (WAL
    /// snapshot on SQLite, `REPEATABLE READ` on PostgreSQL): exports read page after page
    /// in one.
    pub(super) async fn begin_read(pool: &Pool) -> Result<Tx> {
        let asked = Instant::now();
        let tx = match pool {
            Pool::Sqlite(engine) => {
                let conn = engine.take_reader()?;
                // A deferred transaction takes its snapshot at the first read; read now.
                if let Err(e) = conn.execute_batch("BEGIN; SELECT COUNT(*) FROM sqlite_schema;") {
                    return Err(e.into());
                }
                Tx::new(Conn::SqliteReader(Some(conn)), Some(engine.clone()), Backend::Sqlite, "read")
            }
            Pool::Postgres(pg) => {
                Self::begin_postgres(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "read").await?
            }
        };
        metrics::histogram!(DB_ACQUIRE, "kind" => "read").record(asked.elapsed());
        Ok(tx)
    }

    /// The `BEGIN` is not sent here but with the transaction's first statement, in the
    /// same round trip (`PgConn::send`).
    async fn begin_postgres(pool: &deadpool_postgres::Pool, begin: &'static str, kind: &'static str) -> Result<Tx> {
        let client = postgres::get(pool).await?;
        Ok(Tx::new(Conn::Postgres(PgConn::new(client, begin)), None, Backend::Postgres, kind))
    }

    /// Records the transaction's time in the metrics, once, as it ends.
    fn observe_end(&self, outcome: &'static str) {
        metrics::histogram!(DB_TRANSACTION, "kind" => self.kind, "outcome" => outcome).record(self.started.elapsed());
    }

    /// A write whose answer (rows, count) nobody needs, such as an audit row: held back
    /// and run with the transaction's next statement or its commit (on PostgreSQL in the
    /// same round trip; on SQLite, by a transaction that has not taken the writer yet, so
    /// that a transaction made only of such writes holds the writer just while they run,
    /// without a savepoint: `SqliteEngine::commit_held`). Its failure then fails that
    /// statement or the commit (which rolls everything back), so it is never lost
    /// silently. On a SQLite transaction that already holds the writer it runs at once.
    pub async fn defer(&mut self, q: Query<'_>) -> Result<()> {
        let conn = self.conn.as_mut().expect("transaction is open");
        if let Some(deferred) = conn.postgres_held() {
            deferred.push(q.into_deferred());
            return Ok(());
        }
        match conn {
            Conn::SqliteHeld(_, held) => {
                held.push(q.into_deferred());
                Ok(())
            }
            other => q.execute(other).await.map(|_| ()),
        }
    }

    /// From now on, every `execute` in this transaction is held back as by `defer` and
    /// sent with the next read or the `COMMIT` (PostgreSQL; SQLite runs them at once, it
    /// has no round trips to save). For bulk writers only (the emulator's seed): an
    /// `execute` then reports 0 rows changed, and its failure (a unique key, say) is the
    /// failure of the statement it went out with, or of the commit, which rolls back.
    pub fn defer_executes(&mut self) {
        match self.conn.as_mut() {
            Some(Conn::Postgres(pg)) => pg.defer_executes = true,
            Some(Conn::PostgresHeld(held)) => held.defer_executes = true,
            _ => {}
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The clause that locks the rows a `SELECT` reads until the transaction ends: ` FOR
    /// UPDATE` on PostgreSQL. SQLite needs none: its one writer runs transactions one at a
    /// time.
    pub fn lock_rows(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// Takes a named write lock until the transaction ends, for rules over a set of rows
    /// that may have no row to lock yet (a formation's draft, a dictionary, an instance's
    /// communication IDs). On PostgreSQL a transaction-scoped advisory lock on the name's
    /// hash; on SQLite the writer itself (taken now if the transaction has not needed it
    /// yet), which runs writes one at a time.
    pub async fn lock_name(&mut self, name: &str) -> Result<()> {
        if self.backend != Backend::Postgres {
            // The writer, once taken, is held until the transaction ends.
            return self.conn.as_mut().expect("transaction is open").take_writer().await;
        }
        query("SELECT COUNT(*) AS n FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS l")
            .bind(name)
            .fetch_one(&mut **self)
            .await
            .map(|_| ())
    }

    /// Commits. `Ok` means the database acknowledged the commit; on `Err` nothing of the
    /// transaction is to be reported as done.
    pub async fn commit(mut self) -> Result<()> {
        let conn = self.conn.take().expect("transaction is open");
        let committing = Instant::now();
        let writes = self.kind == "write";
        let result = match conn {
            Conn::SqliteHeld(_, held) if held.is_empty() => Ok(()),
            Conn::SqliteHeld(engine, held) => engine.commit_held(held).await,
            Conn::SqliteWriter(guard) => self.engine().commit(guard).await,
            Conn::SqliteReader(mut reader) => {
                let conn = reader.take().expect("reader is open");
                let result = conn.execute_batch("COMMIT").map_err(Into::into);
                self.engine().put_reader(conn);
                result
            }
            Conn::PostgresHeld(held) if held.deferred.is_empty() => Ok(()),
            Conn::PostgresHeld(held) => held.pool.commit_held(held.deferred).await,
            // Nothing was sent: nothing to commit.
            Conn::Postgres(pg) if !pg.started() && pg.deferred.is_empty() => Ok(()),
            // A clean connection goes back to the pool as it is dropped.
            Conn::Postgres(pg) => pg.commit().await.0,
        };
        if result.is_ok() {
            errors::storage_recovered();
        }
        if writes {
            metrics::histogram!(DB_COMMIT).record(committing.elapsed());
        }
        self.observe_end(if result.is_ok() { "commit" } else { "failed" });
        result
    }

    /// Rolls back now (dropping a `Tx` rolls back too).
    pub async fn rollback(mut self) -> Result<()> {
        match self.conn.take().expect("transaction is open") {
            Conn::PostgresHeld(_) => {
                self.observe_end("rollback");
                Ok(())
            }
            Conn::Postgres(pg) if !pg.started() => {
                self.observe_end("rollback");
                Ok(())
            }
            Conn::Postgres(pg) => {
                self.observe_end("rollback");
                let result = postgres::batch(&pg.client, "ROLLBACK").await;
                if result.is_err() || pg.broken {
                    postgres::discard(pg.client);
                }
                result
            }
            other => {
                self.conn = Some(other);
                drop(self);
                Ok(())
            }
        }
    }

    fn engine(&self) -> &Arc<SqliteEngine> {
        self.sqlite.as_ref().expect("SQLite transactions keep their engine")
    }
}

impl Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("transaction is open")
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("transaction is open")
    }
}

impl Drop for Tx {
    /// An abandoned transaction (an error, a cancelled request) is rolled back before its
    /// connection is used again; if the rollback fails the connection is closed instead.
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        self.observe_end("rollback");
        match conn {
            // Nothing was written: the held writes are simply dropped.
            Conn::SqliteHeld(..) | Conn::PostgresHeld(_) => {}
            Conn::SqliteWriter(guard) => self.engine().rollback(guard),
            Conn::SqliteReader(mut reader) => {
                if let Some(conn) = reader.take() {
                    if conn.execute_batch("ROLLBACK").is_ok() {
                        self.engine().put_reader(conn);
                    }
                }
            }
            Conn::Postgres(pg) if pg.broken => postgres::discard(pg.client),
            // Nothing was sent (held-back writes are simply dropped): the connection is
            // clean and goes back to the pool.
            Conn::Postgres(pg) if !pg.started() => drop(pg),
            Conn::Postgres(pg) => match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move {
                        if postgres::batch(&pg.client, "ROLLBACK").await.is_err() {
                            postgres::discard(pg.client);
                        }
                    });
                }
                Err(_) => drop(deadpool_postgres::Object::take(pg.client)),
            },
        }
    }
}
