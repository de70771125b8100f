//! Persistence. One `Db` handle over the sqlx `Any` driver serves both SQLite and
//! PostgreSQL; each backend has its own embedded migrations. Queries are written once in
//! the SQL both dialects share (`$1` placeholders, `ON CONFLICT`, TEXT/BIGINT columns).
//!
//! Every function takes the tenant (and, for instance data, the instance) it works in:
//! there is no query that reads across them.

pub mod assessment_records;
pub mod audit;
pub mod billing;
pub mod calendar;
pub mod calls;
pub mod care_plans;
pub mod chat;
pub mod clients;
pub mod communication_ids;
pub mod config_cache;
pub mod contacts;
pub mod dictionaries;
pub mod documents;
pub mod emails;
pub mod emulator;
pub mod encounters;
pub mod errors;
pub mod export;
pub mod formations;
pub mod keys;
pub mod patient_programs;
pub mod patients;
pub mod query;
pub mod ratelimit;
pub mod records;
pub mod sms;
pub mod tasks;
pub mod templates;
pub mod tenants;
mod tx;
pub mod users;
pub mod webhooks;

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use std::time::Duration;

pub use tx::Tx;

/// How long a request waits for a database connection before it is answered
/// `503 DATABASE_UNAVAILABLE` (`serve --db-timeout`).
pub const DEFAULT_DB_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    backend: Backend,
    /// Reads (and, on PostgreSQL, writes).
    pool: AnyPool,
    /// On SQLite, writes go through one connection: SQLite has one writer anyway, and a
    /// single writer connection avoids lock-upgrade failures between concurrent
    /// transactions. On PostgreSQL this is the same pool as `pool`.
    writer: AnyPool,
    formation_cache: formations::FormationCache,
    /// Tenants, clients and instances as of the last `config_version` seen.
    config_cache: config_cache::ConfigCache,
}

impl Db {
    /// Connects, applies the embedded migrations and returns a handle.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, DEFAULT_DB_TIMEOUT).await
    }

    /// As `connect`, with the longest wait for a connection before a request gives up.
    pub async fn connect_with(url: &str, db_timeout: Duration) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let (backend, url) = normalize_url(url)?;
        let db = match backend {
            Backend::Sqlite => {
                let pool = sqlite_pool(&url, 8, db_timeout).await?;
                let writer = sqlite_pool(&url, 1, db_timeout).await?;
                Db { backend, pool, writer, formation_cache: Default::default(), config_cache: Default::default() }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(db_timeout)
                    .connect(&url)
                    .await
                    .with_context(|| "connecting to PostgreSQL")?;
                Db {
                    backend,
                    writer: pool.clone(),
                    pool,
                    formation_cache: Default::default(),
                    config_cache: Default::default(),
                }
            }
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.run(&self.writer).await.context("applying database migrations")
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn reader(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction. Everything a write changes (the record, its audit row)
    /// goes through one of these, so it commits or fails as a whole.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        Tx::begin(&self.writer, self.backend).await
    }

    /// Cheap liveness query for `/readyz`, answered within `limit` whatever the database
    /// does (a stopped PostgreSQL would otherwise keep the caller for the pool's wait).
    pub async fn ping(&self, limit: Duration) -> sqlx::Result<()> {
        match tokio::time::timeout(limit, sqlx::query("SELECT 1").execute(&self.pool)).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

async fn sqlite_pool(url: &str, max: u32, acquire_timeout: Duration) -> anyhow::Result<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        // Writes queue for the one writer connection; under a burst of writes this wait
        // is the queue, so it is never shorter than the busy timeout below.
        .acquire_timeout(acquire_timeout.max(Duration::from_secs(10)))
        .after_connect(|conn, _| {
            Box::pin(async move {
                // WAL lets readers run beside the writer; FULL sync makes every answered
                // write survive a crash of the process or of the machine.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .with_context(|| format!("opening SQLite database {url}"))
}

/// Chooses the backend from the URL; SQLite files are created when missing.
pub fn normalize_url(url: &str) -> anyhow::Result<(Backend, String)> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_string()));
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let mut url = format!("sqlite:{rest}");
        if !rest.contains("mode=") && !rest.contains(":memory:") {
            url.push(if rest.contains('?') { '&' } else { '?' });
            url.push_str("mode=rwc");
        }
        return Ok((Backend::Sqlite, url));
    }
    anyhow::bail!("unsupported database URL {url:?}: use sqlite://FILE or postgres://…")
}

/// True when a write failed on a unique index.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}
