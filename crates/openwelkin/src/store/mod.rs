//! Persistence. One `Db` handle serves both SQLite and PostgreSQL through the store's own
//! layer (`sql`); each backend has its own embedded migrations. Queries are written once in
//! the SQL both dialects share (`$1` placeholders, `ON CONFLICT`, TEXT/BIGINT columns).
//!
//! Every function takes the tenant (and, for instance data, the instance) it works in:
//! there is no query that reads across them.

pub mod assessment_records;
pub mod audit;
pub mod backup;
pub mod billing;
pub mod calendar;
pub mod calls;
pub mod care_plans;
pub mod chat;
pub mod clients;
pub mod communication_ids;
pub mod config_cache;
pub mod config_watch;
pub mod contacts;
pub mod dictionaries;
pub mod documents;
pub mod emails;
pub mod emulator;
pub mod encounters;
pub mod errors;
pub mod export;
pub mod faxes;
pub mod formations;
pub mod keys;
mod migrate;
pub mod operator_audit;
pub mod operators;
pub mod patient_programs;
pub mod patients;
pub mod pg_target;
pub mod query;
pub mod ratelimit;
mod reach;
pub mod records;
pub mod search_upkeep;
pub mod sms;
pub mod sql;
pub mod tasks;
pub mod templates;
pub mod tenants;
mod tx;
pub mod users;
pub mod webhooks;

use anyhow::Context;
use std::time::Duration;

pub use sql::Pool;
pub use tx::Tx;

/// How long a request waits for a database connection before it is answered
/// `503 DATABASE_UNAVAILABLE` (`serve --db-timeout`).
pub const DEFAULT_DB_TIMEOUT: Duration = Duration::from_secs(5);

/// PostgreSQL connections per node.
const POSTGRES_CONNECTIONS: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    backend: Backend,
    /// SQLite: the read connections and the one writer (see `sql::sqlite`); PostgreSQL:
    /// the pool every statement and transaction draws from.
    pool: std::sync::Arc<Pool>,
    formation_cache: formations::FormationCache,
    /// Tenants, clients and instances as of the last `config_version` seen.
    config_cache: config_cache::ConfigCache,
    /// The listener's (PostgreSQL) or poller's (SQLite) copy of the configuration
    /// counter (`serve` only).
    config_watch: std::sync::Arc<config_watch::ConfigWatch>,
    /// Where the listener connects: the pool's settings (PostgreSQL only).
    pg_config: Option<tokio_postgres::Config>,
}

impl Db {
    /// Connects, applies the embedded migrations and returns a handle.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, DEFAULT_DB_TIMEOUT).await
    }

    /// As `connect`, with the longest wait for a connection before a request gives up.
    /// A database that cannot be reached fails at once, naming the cause and the address
    /// or path at fault (`reach.rs`).
    pub async fn connect_with(url: &str, db_timeout: Duration) -> anyhow::Result<Self> {
        let (backend, target) = normalize_url(url)?;
        let mut pg_config = None;
        let pool = match backend {
            // Writes queue for the one writer; under a burst of writes this wait is the
            // queue, so it is never shorter than SQLite's own busy timeout.
            Backend::Sqlite => {
                reach::check_sqlite_path(&target)?;
                Pool::Sqlite(
                    sql::sqlite::SqliteEngine::open(
                        &target,
                        db_timeout.max(Duration::from_secs(10)),
                        patients::SQLITE_BEFORE_COMMIT,
                    )
                    .map_err(|e| reach::sqlite_open_failed(&target, e))?,
                )
            }
            Backend::Postgres => {
                let pg = pg_target::PgTarget::parse(&target)?;
                pg_config = Some(pg.config().clone());
                let pool = sql::postgres::pool(&target, POSTGRES_CONNECTIONS, db_timeout)
                    .with_context(|| "configuring the PostgreSQL pool")?;
                // The first connection, on its own: its failure is the one to report.
                drop(sql::postgres::get(&pool).await.map_err(|e| reach::postgres_unreachable(&pg, &e, db_timeout))?);
                Pool::Postgres(sql::PgPool::new(pool))
            }
        };
        let db = Db {
            backend,
            pool: std::sync::Arc::new(pool),
            formation_cache: Default::default(),
            config_cache: Default::default(),
            config_watch: Default::default(),
            pg_config,
        };
        migrate::run(&db.pool).await.context("applying database migrations")?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts the listener (PostgreSQL) or the poller (SQLite) that keeps the
    /// configuration counter in the process, so that requests need not read it (see
    /// `config_watch`).
    pub fn watch_config(&self) {
        match &self.pg_config {
            Some(config) => self.config_watch.start(config.clone()),
            None => self.config_watch.start_polling(self.pool.clone()),
        }
    }

    pub fn reader(&self) -> &Pool {
        &self.pool
    }

    /// Starts a write transaction. Everything a write changes (the record, its audit row)
    /// goes through one of these, so it commits or fails as a whole.
    pub async fn begin(&self) -> sql::Result<Tx> {
        Tx::begin(&self.pool).await
    }

    /// Starts a write transaction for bulk work (a seed's batch, a snapshot, the reset
    /// sweep): see `Tx::begin_bulk`.
    pub async fn begin_bulk(&self) -> sql::Result<Tx> {
        Tx::begin_bulk(&self.pool).await
    }

    /// Starts a read-only transaction that sees one moment throughout.
    pub async fn begin_read(&self) -> sql::Result<Tx> {
        Tx::begin_read(&self.pool).await
    }

    /// Cheap liveness query for `/readyz`, answered within `limit` whatever the database
    /// does (a stopped PostgreSQL would otherwise keep the caller for the pool's wait).
    pub async fn ping(&self, limit: Duration) -> sql::Result<()> {
        match tokio::time::timeout(limit, sql::query("SELECT 1").execute(self.reader())).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(sql::Error::PoolTimedOut),
        }
    }

    pub async fn close(&self) {
        if let Pool::Postgres(pool) = &*self.pool {
            pool.close();
        }
    }
}

/// Chooses the backend from the URL. For SQLite, the file (created when missing), as a
/// path or a `file:` URI; for PostgreSQL the URL itself, which may name several hosts.
pub fn normalize_url(url: &str) -> anyhow::Result<(Backend, String)> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_string()));
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        // sqlx-style options (`?mode=rwc`) are not SQLite's: the file is always created.
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path.contains(":memory:") {
            anyhow::bail!(
                "unsupported database URL {url:?}: an in-memory SQLite database is not shared between connections; use a file, e.g. sqlite://openwelkin.db"
            );
        }
        return Ok((Backend::Sqlite, path.to_string()));
    }
    anyhow::bail!("unsupported database URL {url:?}: use sqlite://FILE or postgres://…")
}

/// True when a write failed on a unique index.
pub fn is_unique_violation(err: &sql::Error) -> bool {
    match err {
        sql::Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
            e.code == rusqlite::ErrorCode::ConstraintViolation
                && matches!(
                    e.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                )
        }
        sql::Error::Postgres(e) => e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION),
        _ => false,
    }
}
