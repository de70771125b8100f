//! The embedded schema migrations, applied in order at start-up.
//!
//! Applied versions are recorded in `_sqlx_migrations`, the table (and checksum, SHA-384
//! of the file) the store used when it ran on sqlx, so a database created by an earlier
//! openwelkin upgrades in place. Each migration runs in its own transaction; concurrent
//! starts (two nodes, or a CLI command beside a server) take turns on a lock.

use super::sql::sqlite::SqliteEngine;
use super::sql::{postgres, Error, Pool, Result};
use include_dir::{include_dir, Dir};
use sha2::{Digest, Sha384};
use std::sync::Arc;

static SQLITE: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations/sqlite");
static POSTGRES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations/postgres");

struct Migration {
    version: i64,
    description: String,
    sql: &'static str,
    checksum: Vec<u8>,
}

fn migrations(dir: &'static Dir<'static>) -> Vec<Migration> {
    let mut out: Vec<Migration> = dir
        .files()
        .filter_map(|file| {
            let name = file.path().file_name()?.to_str()?;
            let stem = name.strip_suffix(".sql")?;
            let (version, description) = stem.split_once('_')?;
            let sql = file.contents_utf8()?;
            Some(Migration {
                version: version.parse().ok()?,
                description: description.replace('_', " "),
                sql,
                checksum: Sha384::digest(sql.as_bytes()).to_vec(),
            })
        })
        .collect();
    out.sort_by_key(|m| m.version);
    out
}

const SQLITE_TABLE: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, \
    description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
    success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)";
const POSTGRES_TABLE: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, \
    description TEXT NOT NULL, installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), \
    success BOOLEAN NOT NULL, checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)";

pub async fn run(pool: &Pool) -> Result<()> {
    match pool {
        Pool::Sqlite(engine) => sqlite(engine).await,
        Pool::Postgres(pg) => postgres(pg).await,
    }
}

fn check(applied: &[(i64, Vec<u8>)], all: &[Migration]) -> Result<()> {
    for (version, checksum) in applied {
        match all.iter().find(|m| m.version == *version) {
            Some(m) if &m.checksum != checksum => {
                return Err(Error::Migrate(format!(
                    "migration {version} was applied with different contents than this build carries"
                )))
            }
            Some(_) => {}
            None => {
                return Err(Error::Migrate(format!(
                    "the database has migration {version}, which this build does not know: it was written by a newer openwelkin"
                )))
            }
        }
    }
    Ok(())
}

async fn sqlite(engine: &Arc<SqliteEngine>) -> Result<()> {
    let guard = engine.writer().await;
    let conn = guard.connection();
    // Start-up may wait for another process's write lock (a server beside a CLI command);
    // the writer's usual busy timeout is short (see `sql::sqlite`), so lengthen it here.
    // Migrations commit outside the group commit, so they wait for the disk themselves
    // (`sqlite_locked`).
    conn.execute_batch("PRAGMA busy_timeout = 10000")?;
    let result = sqlite_locked(conn);
    conn.execute_batch(&format!(
        "PRAGMA busy_timeout = {}; PRAGMA synchronous = {}",
        super::sql::sqlite::WRITER_BUSY_MS,
        super::sql::sqlite::WRITER_SYNCHRONOUS
    ))?;
    result
}

fn sqlite_locked(conn: &rusqlite::Connection) -> Result<()> {
    conn.execute_batch(SQLITE_TABLE)?;
    let all = migrations(&SQLITE);
    let applied: Vec<(i64, Vec<u8>)> = {
        let mut stmt = conn.prepare("SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    check(&applied, &all)?;
    let pending: Vec<&Migration> = all.iter().filter(|m| !applied.iter().any(|(v, _)| *v == m.version)).collect();
    for (i, m) in pending.iter().enumerate() {
        // Only the last commit waits for the disk: its flush of the log covers every
        // commit before it (an empty database takes every migration at start-up; a flush
        // each was a third of the start, docs/PERFORMANCE.md, stop 32). A crash in between
        // loses whole migrations only, which the next start applies again.
        let last = i + 1 == pending.len();
        conn.execute_batch(if last { "PRAGMA synchronous = FULL" } else { "PRAGMA synchronous = NORMAL" })?;
        let started = std::time::Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let applied = conn.execute_batch(m.sql).and_then(|_| {
            conn.execute(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (?1, ?2, 1, ?3, ?4)",
                rusqlite::params![m.version, m.description, m.checksum, started.elapsed().as_nanos() as i64],
            )
        });
        match applied {
            Ok(_) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(Error::Migrate(format!("{} ({}): {e}", m.version, m.description)));
            }
        }
    }
    Ok(())
}

async fn postgres(pool: &deadpool_postgres::Pool) -> Result<()> {
    let client = postgres::get(pool).await?;
    // One migrator at a time across every node: a session lock, released below.
    client.batch_execute("SELECT pg_advisory_lock(7274208934)").await?;
    let result = postgres_locked(&client).await;
    let unlocked = client.batch_execute("SELECT pg_advisory_unlock(7274208934)").await;
    result?;
    Ok(unlocked?)
}

async fn postgres_locked(client: &deadpool_postgres::Object) -> Result<()> {
    client.batch_execute(POSTGRES_TABLE).await?;
    let all = migrations(&POSTGRES);
    let applied: Vec<(i64, Vec<u8>)> = client
        .query("SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    check(&applied, &all)?;
    for m in all.iter().filter(|m| !applied.iter().any(|(v, _)| *v == m.version)) {
        let started = std::time::Instant::now();
        client.batch_execute("BEGIN").await?;
        let mut result = client.batch_execute(m.sql).await;
        if result.is_ok() {
            let elapsed = started.elapsed().as_nanos() as i64;
            result = client
                .execute(
                    "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES ($1, $2, TRUE, $3, $4)",
                    &[&m.version, &m.description, &m.checksum, &elapsed],
                )
                .await
                .map(|_| ());
        }
        match result {
            Ok(()) => client.batch_execute("COMMIT").await?,
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(Error::Migrate(format!("{} ({}): {e}", m.version, m.description)));
            }
        }
    }
    Ok(())
}
