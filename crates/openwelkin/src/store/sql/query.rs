//! Statements and where they run. The API follows sqlx's (`query(…).bind(…).fetch_one(…)`)
//! so that the store reads as it always has; underneath, SQLite statements run on the
//! calling thread and PostgreSQL statements on the async pool.

use super::error::{Error, Result};
use super::merge::Rows;
use super::pg_groups::PgPool;
use super::row::Row;
use super::sqlite::{self, Output, SqliteEngine, Want, WriterGuard};
use super::value::{Decode, Encode, Value};
use super::{postgres, Backend};
use crate::telemetry::names::DB_QUERY;
use std::marker::PhantomData;
use std::sync::Arc;

/// The connections of one database.
pub enum Pool {
    Sqlite(Arc<SqliteEngine>),
    Postgres(PgPool),
}

impl Pool {
    pub fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// How the connections are used now, for the metrics: one entry per pool (SQLite has
    /// two, the writer and the read connections).
    pub fn status(&self) -> Vec<PoolStatus> {
        match self {
            Pool::Sqlite(engine) => engine.status(),
            Pool::Postgres(pool) => {
                let s = pool.status();
                vec![PoolStatus {
                    pool: "postgres",
                    max: Some(s.max_size),
                    idle: s.available,
                    in_use: Some(s.size.saturating_sub(s.available)),
                    waiting: s.waiting,
                }]
            }
        }
    }
}

/// The state of one pool of connections at a moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    /// `postgres`, `sqlite_writer` or `sqlite_readers`.
    pub pool: &'static str,
    /// `None` when connections are opened on demand without a bound (SQLite readers).
    pub max: Option<usize>,
    pub idle: usize,
    /// `None` when not tracked (SQLite readers: taken and given back on the calling thread).
    pub in_use: Option<usize>,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

/// One connection held for a while: a write transaction's, or a read snapshot's.
pub enum Conn {
    /// A SQLite write transaction that has not needed the writer yet: its writes are
    /// held back (`Tx::defer`) until its first other statement, which takes the writer
    /// and runs them first, or until its commit, which runs them all at once without a
    /// savepoint (`SqliteEngine::commit_held`).
    SqliteHeld(Arc<SqliteEngine>, Vec<Deferred>),
    SqliteWriter(WriterGuard),
    SqliteReader(Option<rusqlite::Connection>),
    /// A PostgreSQL write transaction that has not needed a connection yet: its writes
    /// are held back (`Tx::defer`) until its first other statement, which takes a
    /// connection and sends them with it, or until its commit, which hands them to the
    /// group commit (`pg_groups.rs`) and needs no connection of its own.
    PostgresHeld(PgHeld),
    Postgres(PgConn),
}

/// What a PostgreSQL write transaction without a connection holds.
pub struct PgHeld {
    pub pool: PgPool,
    pub deferred: Vec<Deferred>,
    /// As `PgConn::defer_executes`.
    pub defer_executes: bool,
}

/// A PostgreSQL connection held by a transaction, with what it has not sent yet: its
/// `BEGIN`, and writes whose answer nobody waits for (`Tx::defer`). They go out together
/// with the next statement, or with the `COMMIT`, in one round trip (see
/// `postgres::pipeline`).
pub struct PgConn {
    pub client: deadpool_postgres::Object,
    /// `true` once a statement found the connection broken or its server read-only: the
    /// connection is then closed, not handed back to the pool.
    pub broken: bool,
    /// The `BEGIN …` not sent yet; `None` once it was.
    pub begin: Option<&'static str>,
    pub deferred: Vec<Deferred>,
    /// Set by `Tx::defer_executes`: every `execute` is held back like `Tx::defer`.
    pub defer_executes: bool,
}

/// A statement held back until the next round trip.
#[derive(Clone)]
pub struct Deferred {
    pub sql: String,
    pub args: Vec<Value>,
    /// Set when the statement may be one row of a multi-row statement (`merge.rs`).
    pub rows: Option<Rows>,
}

impl Deferred {
    pub fn new(sql: impl Into<String>, args: Vec<Value>) -> Deferred {
        Deferred { sql: sql.into(), args, rows: None }
    }
}

impl PgConn {
    pub fn new(client: deadpool_postgres::Object, begin: &'static str) -> PgConn {
        PgConn { client, broken: false, begin: Some(begin), deferred: Vec::new(), defer_executes: false }
    }

    /// Whether anything was sent: a transaction that never sent its `BEGIN` has nothing to
    /// roll back.
    pub fn started(&self) -> bool {
        self.begin.is_none()
    }

    /// Sends what is held back, then `COMMIT`; answers with the connection when it is
    /// clean: after a success, or after a write that failed before a `COMMIT` that was
    /// answered (and rolled back). A broken connection, or one whose `COMMIT` failed, is
    /// closed. A failed `COMMIT` is `Error::Commit`: its outcome is unknown (the server may
    /// have applied it before the connection broke), so it is never run again.
    pub async fn commit(mut self) -> (Result<()>, Option<deadpool_postgres::Object>) {
        let result = self.send(postgres::Step::Batch("COMMIT")).await.map(|_| ());
        if self.broken || matches!(result, Err(Error::Commit(_))) {
            postgres::discard(self.client);
            return (result, None);
        }
        (result, Some(self.client))
    }

    /// Sends what is held back, then `last` (a statement, or `COMMIT` as `Step::Batch`),
    /// in one round trip; marks the connection broken when that failed for a reason that
    /// makes it unusable.
    pub async fn send(&mut self, last: postgres::Step<'_>) -> Result<Output> {
        let begin = self.begin.take();
        let deferred = std::mem::take(&mut self.deferred);
        let result = postgres::pipeline(&self.client, begin, &deferred, last).await;
        if result.as_ref().is_err_and(Error::retryable) {
            self.broken = true;
        }
        result
    }
}

impl Conn {
    pub fn backend(&self) -> Backend {
        match self {
            Conn::SqliteHeld(..) | Conn::SqliteWriter(_) | Conn::SqliteReader(_) => Backend::Sqlite,
            Conn::PostgresHeld(_) | Conn::Postgres(_) => Backend::Postgres,
        }
    }

    fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Conn::SqliteWriter(guard) => Some(guard.connection()),
            Conn::SqliteReader(conn) => conn.as_ref(),
            Conn::SqliteHeld(..) | Conn::PostgresHeld(_) | Conn::Postgres(_) => None,
        }
    }

    /// A SQLite write transaction that held its writes back takes the writer now (a
    /// savepoint of its own when a group is open) and runs them; the first that fails is
    /// this call's failure (the transaction is then rolled back when it is dropped).
    pub async fn take_writer(&mut self) -> Result<()> {
        let Conn::SqliteHeld(engine, held) = self else { return Ok(()) };
        // On failure the held writes stay held: a later commit tries them again, never
        // reports them done without running them.
        let guard = engine.clone().begin_write().await?;
        let ran = held.iter().try_for_each(|statement| {
            sqlite::run(guard.connection(), &statement.sql, &statement.args, Want::Count).map(drop)
        });
        *self = Conn::SqliteWriter(guard);
        ran
    }
}

impl Conn {
    /// The writes a PostgreSQL transaction holds back for its next round trip (with a
    /// connection or not yet); `None` on SQLite.
    pub fn postgres_held(&mut self) -> Option<&mut Vec<Deferred>> {
        match self {
            Conn::Postgres(pg) => Some(&mut pg.deferred),
            Conn::PostgresHeld(held) => Some(&mut held.deferred),
            _ => None,
        }
    }

    /// A PostgreSQL transaction that holds back every `execute` (`Tx::defer_executes`).
    fn defers_executes(&self) -> bool {
        match self {
            Conn::Postgres(pg) => pg.defer_executes,
            Conn::PostgresHeld(held) => held.defer_executes,
            _ => false,
        }
    }

    /// A PostgreSQL write transaction that held its writes back takes a connection now;
    /// they go out with its next statement. On failure they stay held.
    async fn take_connection(&mut self) -> Result<()> {
        let Conn::PostgresHeld(held) = self else { return Ok(()) };
        let client = postgres::get_for_write(&held.pool).await?;
        let mut pg = PgConn::new(client, "BEGIN");
        pg.deferred = std::mem::take(&mut held.deferred);
        pg.defer_executes = held.defer_executes;
        *self = Conn::Postgres(pg);
        Ok(())
    }
}

/// Where a statement runs: on any connection of a pool, or on one held connection.
pub enum Target<'c> {
    Pool(&'c Pool),
    Conn(&'c mut Conn),
}

pub trait Executor<'c>: Send {
    fn target(self) -> Target<'c>;
}

impl<'c> Executor<'c> for &'c Pool {
    fn target(self) -> Target<'c> {
        Target::Pool(self)
    }
}

impl<'c> Executor<'c> for &'c mut Conn {
    fn target(self) -> Target<'c> {
        Target::Conn(self)
    }
}

/// How a statement may be run.
#[derive(Clone, Copy)]
struct Mode {
    /// `Query::persistent`.
    persistent: bool,
    /// `Query::quick`.
    quick: bool,
    /// `Query::batched`.
    batched: Option<&'static str>,
}

async fn run(target: Target<'_>, sql: &str, args: &[Value], mode: Mode, want: Want) -> Result<Output> {
    let Mode { persistent, quick, batched } = mode;
    match target {
        Target::Pool(Pool::Sqlite(engine)) => {
            let started = std::time::Instant::now();
            let result = engine.read(|conn| sqlite::run(conn, sql, args, want));
            metrics::histogram!(DB_QUERY).record(started.elapsed());
            result
        }
        Target::Pool(Pool::Postgres(pool)) => {
            let started = std::time::Instant::now();
            let result = if let Some(batched) = batched {
                pool.read_batches.run(pool, batched, sql, args, persistent, want).await
            } else if quick {
                pool.readers.run(pool, sql, args, persistent, want).await
            } else {
                let client = postgres::get(pool).await?;
                let result = postgres::run(&client, sql, args, persistent, want).await;
                if result.as_ref().is_err_and(Error::retryable) {
                    postgres::discard(client);
                }
                result
            };
            metrics::histogram!(DB_QUERY).record(started.elapsed());
            result
        }
        Target::Conn(conn) if want == Want::Count && conn.defers_executes() => {
            if let Some(deferred) = conn.postgres_held() {
                deferred.push(Deferred::new(sql, args.to_vec()));
            }
            Ok(Output { rows: Vec::new(), affected: 0 })
        }
        Target::Conn(conn @ Conn::PostgresHeld(_)) => {
            conn.take_connection().await?;
            let Conn::Postgres(pg) = conn else { unreachable!("a connection was just taken") };
            pg.send(postgres::Step::Statement { sql, args, persistent, want }).await
        }
        Target::Conn(Conn::Postgres(pg)) => pg.send(postgres::Step::Statement { sql, args, persistent, want }).await,
        Target::Conn(conn) => {
            conn.take_writer().await?;
            let sqlite = conn.sqlite().ok_or_else(|| Error::Connect("the connection is closed".into()))?;
            sqlite::run(sqlite, sql, args, want)
        }
    }
}

/// What an `execute` changed.
#[derive(Debug)]
pub struct QueryResult {
    affected: u64,
}

impl QueryResult {
    pub fn rows_affected(&self) -> u64 {
        self.affected
    }
}

#[must_use = "a query does nothing until it is executed or fetched"]
pub struct Query<'q> {
    sql: &'q str,
    args: Vec<Value>,
    persistent: bool,
    quick: bool,
    batched: Option<&'static str>,
    rows: Option<Rows>,
}

/// A statement, with `$1`, `$2`… placeholders.
pub fn query(sql: &str) -> Query<'_> {
    Query { sql, args: Vec::new(), persistent: true, quick: false, batched: None, rows: None }
}

impl<'q> Query<'q> {
    pub fn bind<T: Encode>(mut self, value: T) -> Self {
        self.args.push(value.encode());
        self
    }

    /// `false`: not prepared and kept on PostgreSQL; planned for its own values each time.
    pub fn persistent(mut self, persistent: bool) -> Self {
        self.persistent = persistent;
        self
    }

    /// A read of a few rows found by a unique key, which never waits: outside a transaction
    /// on PostgreSQL it shares a connection with other such reads (`pg_readers.rs`), so it
    /// must not be a statement that could hold up the reads queued behind it.
    pub fn quick(mut self) -> Self {
        self.quick = true;
        self
    }

    /// A quick read whose arguments are all text, which on PostgreSQL outside a
    /// transaction may be answered together with the same read of other callers by
    /// `batched`: the statement over `$1`, a JSON array of each caller's arguments, whose
    /// rows carry `batch_row`, the caller's position from 1 (`pg_read_batches.rs`).
    pub fn batched(mut self, batched: &'static str) -> Self {
        self.quick = true;
        self.batched = Some(batched);
        self
    }

    fn mode(&self) -> Mode {
        Mode { persistent: self.persistent, quick: self.quick, batched: self.batched }
    }

    /// A single-row `INSERT … VALUES (…)` that a group commit may send as one row of a
    /// multi-row `INSERT` with the same statement of other transactions (`merge.rs`).
    pub fn values_repeatable(self) -> Self {
        const VALUES: &str = " VALUES (";
        let head = self.sql.find(VALUES).map(|at| at + VALUES.len() - 1);
        assert!(
            head.is_some_and(|head| self.sql[head..].ends_with(')') && !self.sql[head + 1..].contains('(')),
            "not a single-row INSERT … VALUES (…): {}",
            self.sql
        );
        self.repeatable_from(head.unwrap_or_default(), ", ")
    }

    /// An `INSERT INTO t (…) SELECT …` whose `SELECT` gives one row (or none) that a group
    /// commit may join to the same statement of other transactions with `UNION ALL`.
    pub fn select_repeatable(self) -> Self {
        let head = self.sql.find(" SELECT ").map(|at| at + 1);
        assert!(head.is_some(), "not an INSERT … SELECT: {}", self.sql);
        self.repeatable_from(head.unwrap_or_default(), " UNION ALL ")
    }

    fn repeatable_from(mut self, head: usize, separator: &'static str) -> Self {
        self.rows = Some(Rows { head, separator });
        self
    }

    /// The statement as held back by `Tx::defer`.
    pub(crate) fn into_deferred(self) -> Deferred {
        Deferred { sql: self.sql.to_string(), args: self.args, rows: self.rows }
    }

    pub async fn execute<'c, E: Executor<'c>>(self, executor: E) -> Result<QueryResult> {
        let out = run(executor.target(), self.sql, &self.args, self.mode(), Want::Count).await?;
        Ok(QueryResult { affected: out.affected })
    }

    pub async fn fetch_all<'c, E: Executor<'c>>(self, executor: E) -> Result<Vec<Row>> {
        Ok(run(executor.target(), self.sql, &self.args, self.mode(), Want::All).await?.rows)
    }

    pub async fn fetch_optional<'c, E: Executor<'c>>(self, executor: E) -> Result<Option<Row>> {
        Ok(run(executor.target(), self.sql, &self.args, self.mode(), Want::First).await?.rows.into_iter().next())
    }

    pub async fn fetch_one<'c, E: Executor<'c>>(self, executor: E) -> Result<Row> {
        self.fetch_optional(executor).await?.ok_or(Error::RowNotFound)
    }
}

/// A statement whose first column is the answer.
#[must_use = "a query does nothing until it is fetched"]
pub struct QueryScalar<'q, O> {
    inner: Query<'q>,
    output: PhantomData<fn() -> O>,
}

pub fn query_scalar<O: Decode>(sql: &str) -> QueryScalar<'_, O> {
    QueryScalar { inner: query(sql), output: PhantomData }
}

impl<'q, O: Decode + Send> QueryScalar<'q, O> {
    pub fn bind<T: Encode>(mut self, value: T) -> Self {
        self.inner = self.inner.bind(value);
        self
    }

    pub async fn fetch_one<'c, E: Executor<'c>>(self, executor: E) -> Result<O> {
        self.inner.fetch_one(executor).await?.try_get(0)
    }

    pub async fn fetch_optional<'c, E: Executor<'c>>(self, executor: E) -> Result<Option<O>> {
        match self.inner.fetch_optional(executor).await? {
            Some(row) => Ok(Some(row.try_get(0)?)),
            None => Ok(None),
        }
    }

    pub async fn fetch_all<'c, E: Executor<'c>>(self, executor: E) -> Result<Vec<O>> {
        self.inner.fetch_all(executor).await?.iter().map(|r| r.try_get(0)).collect()
    }
}
