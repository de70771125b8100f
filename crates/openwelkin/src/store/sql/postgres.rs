//! PostgreSQL through tokio-postgres and a deadpool pool.
//!
//! tokio-postgres reads libpq's connection URLs, including several hosts with
//! `target_session_attrs=read-write`: after a failover, new connections find the new
//! primary by themselves. A connection that broke is dropped by the pool when it is handed
//! back, never reused.

use super::error::{Error, Result};
use super::query::Deferred;
use super::row::Row;
use super::sqlite::{Output, Want};
use super::value::Value;
use crate::telemetry::names::DB_ACQUIRE;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use futures_util::{pin_mut, TryStreamExt};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::Statement;

/// Prepared statements kept per connection before the cache is emptied.
const STATEMENT_CACHE: usize = 512;

pub fn pool(url: &str, max: usize, wait: Duration) -> Result<Pool> {
    let mut config = tokio_postgres::Config::from_str(url).map_err(|e| Error::Connect(e.to_string()))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(wait);
    }
    let manager =
        Manager::from_config(config, tokio_postgres::NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager)
        .max_size(max)
        .wait_timeout(Some(wait))
        .create_timeout(Some(wait))
        .recycle_timeout(Some(wait))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| Error::Connect(e.to_string()))
}

/// A connection from the pool, never one opened before the last `sweep`: a sweep closes
/// the idle connections only, and one in use at that moment comes back to the pool after
/// it, still on a server that may have stopped taking writes. A write there fails and is
/// run again, but a read is answered, from a former primary (the shared read connection,
/// `pg_readers.rs`, took such a one and read a patient created after the failover as
/// missing). Each such connection found is closed; the pool opens new ones in their place.
pub async fn get(pool: &Pool) -> Result<Object> {
    loop {
        let client = pool.get().await?;
        if !opened_before_last_sweep(&client) {
            return Ok(client);
        }
        drop(Object::take(client));
    }
}

/// The connection was opened before the last `sweep`: it may lead to a former primary.
/// Cheap (an atomic load) while there was none: the shared read connections ask on every
/// read.
pub(super) fn opened_before_last_sweep(client: &Object) -> bool {
    let last = LAST_SWEEP.load(Ordering::Acquire);
    if last == 0 {
        return false;
    }
    let epoch = *EPOCH.get().expect("set by the sweep before LAST_SWEEP");
    match Object::metrics(client).created.checked_duration_since(epoch) {
        Some(since) => (since.as_nanos() as u64) < last,
        None => true,
    }
}

/// A connection for a write transaction, its wait recorded in the metrics.
pub async fn get_for_write(pool: &Pool) -> Result<Object> {
    let asked = std::time::Instant::now();
    let client = get(pool).await?;
    metrics::histogram!(DB_ACQUIRE, "kind" => "write").record(asked.elapsed());
    Ok(client)
}

/// Runs one statement. `persistent` statements are prepared once per connection (with
/// the parameters' types given, never inferred) and reused; the others are sent as an
/// unnamed statement, planned for their own values each time (lists whose best plan
/// depends on the filter).
pub async fn run(client: &Object, sql: &str, args: &[Value], persistent: bool, want: Want) -> Result<Output> {
    let statement = if persistent { Some(prepare(client, sql, args).await?) } else { None };
    execute(client, statement.as_ref(), sql, args, want).await
}

async fn prepare(client: &Object, sql: &str, args: &[Value]) -> Result<Statement> {
    if client.statement_cache.size() > STATEMENT_CACHE {
        client.statement_cache.clear();
    }
    let types: Vec<_> = args.iter().map(Value::pg_type).collect();
    Ok(client.prepare_typed_cached(sql, &types).await?)
}

/// Runs a prepared statement, or `sql` unnamed when there is none. The request is sent
/// when the future is first polled (tokio-postgres queues it to the connection at once),
/// which is what lets `pipeline` send several before reading any answer.
async fn execute(
    client: &Object,
    statement: Option<&Statement>,
    sql: &str,
    args: &[Value],
    want: Want,
) -> Result<Output> {
    let stream = match statement {
        Some(statement) => {
            let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
            client.query_raw(statement, params).await?
        }
        None => {
            let typed: Vec<(&(dyn ToSql + Sync), tokio_postgres::types::Type)> =
                args.iter().map(|v| (v as &(dyn ToSql + Sync), v.pg_type())).collect();
            client.query_typed_raw(sql, typed).await?
        }
    };
    pin_mut!(stream);
    let mut rows = Vec::new();
    let mut columns: Option<Arc<[String]>> = None;
    while let Some(row) = stream.try_next().await? {
        if want == Want::Count || (want == Want::First && !rows.is_empty()) {
            continue;
        }
        let names = columns.get_or_insert_with(|| row.columns().iter().map(|c| c.name().to_string()).collect()).clone();
        let values = (0..row.len()).map(|i| Value::from_pg(&row, i)).collect::<Result<Vec<_>>>()?;
        rows.push(Row::new(names, values));
    }
    let affected = stream.rows_affected().unwrap_or(0);
    Ok(Output { rows, affected })
}

/// The last thing a pipeline sends: a statement whose answer is wanted, or a
/// transaction-control command (`COMMIT`).
pub enum Step<'a> {
    Statement { sql: &'a str, args: &'a [Value], persistent: bool, want: Want },
    Batch(&'a str),
}

/// Sends `begin`, the `deferred` writes and `last` one after the other without waiting
/// in between, and reads their answers in order: one round trip instead of one each.
///
/// Every statement is prepared first (a cached statement costs nothing), so that the
/// requests leave in this order: a statement still being prepared while the `COMMIT`
/// goes out would run after it, outside the transaction. If one fails, PostgreSQL fails
/// the rest of the transaction (a `COMMIT` then rolls back), and the first error is the
/// answer. A failed `COMMIT` is `Error::Commit`: its outcome is unknown. A failed deferred
/// write before a successful `COMMIT` is that write's error: the `COMMIT` rolled back.
pub async fn pipeline(client: &Object, begin: Option<&str>, deferred: &[Deferred], last: Step<'_>) -> Result<Output> {
    let mut prepared = Vec::with_capacity(deferred.len());
    for d in deferred {
        prepared.push(prepare(client, &d.sql, &d.args).await?);
    }
    let last_statement = match &last {
        Step::Statement { sql, args, persistent: true, .. } => Some(prepare(client, sql, args).await?),
        _ => None,
    };
    let begin = async {
        match begin {
            Some(sql) => batch(client, sql).await,
            None => Ok(()),
        }
    };
    let writes = futures_util::future::join_all(
        deferred.iter().zip(&prepared).map(|(d, s)| execute(client, Some(s), &d.sql, &d.args, Want::Count)),
    );
    let is_commit = matches!(last, Step::Batch(_));
    let last = async {
        match last {
            Step::Statement { sql, args, want, .. } => execute(client, last_statement.as_ref(), sql, args, want).await,
            Step::Batch(sql) => batch(client, sql).await.map(|()| Output { rows: Vec::new(), affected: 0 }),
        }
    };
    let (begun, written, last) = futures_util::join!(begin, writes, last);
    begun?;
    let first_write_error = written.into_iter().find_map(Result::err);
    match (last, first_write_error) {
        (Err(e), _) if is_commit => Err(Error::Commit(Arc::new(e))),
        (_, Some(e)) => Err(e),
        (last, None) => last,
    }
}

/// Runs statements with no parameters and no rows wanted (transaction control, migrations).
pub async fn batch(client: &Object, sql: &str) -> Result<()> {
    Ok(client.batch_execute(sql).await?)
}

/// Closes a connection that broke or reached a server that no longer takes writes, and
/// with it every idle connection of the pool: after a failover they all lead to the old
/// primary, and the next ones opened find the new one.
pub fn discard(client: Object) {
    if let Some(pool) = Object::pool(&client) {
        sweep(&pool);
    }
    drop(Object::take(client));
}

/// Where `LAST_SWEEP` counts from.
static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
/// Nanoseconds from `EPOCH` to the last sweep, plus one; 0 while there was none.
static LAST_SWEEP: AtomicU64 = AtomicU64::new(0);

/// Closes the pool's idle connections, and keeps every connection opened before now from
/// being used again: one in use now, when it comes back to the pool (`get`), and the
/// shared read connections (`pg_readers.rs`).
pub fn sweep(pool: &Pool) {
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    LAST_SWEEP.store(epoch.elapsed().as_nanos() as u64 + 1, Ordering::Release);
    pool.retain(|_, _| false);
}
