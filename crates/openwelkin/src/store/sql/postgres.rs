//! PostgreSQL through tokio-postgres and a deadpool pool.
//!
//! tokio-postgres reads libpq's connection URLs, including several hosts with
//! `target_session_attrs=read-write`: after a failover, new connections find the new
//! primary by themselves. A connection that broke is dropped by the pool when it is handed
//! back, never reused.

use super::error::{Error, Result};
use super::row::Row;
use super::sqlite::{Output, Want};
use super::value::Value;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use futures_util::{pin_mut, TryStreamExt};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::types::ToSql;

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

pub async fn get(pool: &Pool) -> Result<Object> {
    Ok(pool.get().await?)
}

/// Runs one statement. `persistent` statements are prepared once per connection (with
/// the parameters' types given, never inferred) and reused; the others are sent as an
/// unnamed statement, planned for their own values each time (lists whose best plan
/// depends on the filter).
pub async fn run(client: &Object, sql: &str, args: &[Value], persistent: bool, want: Want) -> Result<Output> {
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
    let stream = if persistent {
        if client.statement_cache.size() > STATEMENT_CACHE {
            client.statement_cache.clear();
        }
        let types: Vec<_> = args.iter().map(Value::pg_type).collect();
        let statement = client.prepare_typed_cached(sql, &types).await?;
        client.query_raw(&statement, params).await?
    } else {
        let typed: Vec<(&(dyn ToSql + Sync), tokio_postgres::types::Type)> =
            args.iter().map(|v| (v as &(dyn ToSql + Sync), v.pg_type())).collect();
        client.query_typed_raw(sql, typed).await?
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

/// Runs statements with no parameters and no rows wanted (transaction control, migrations).
pub async fn batch(client: &Object, sql: &str) -> Result<()> {
    Ok(client.batch_execute(sql).await?)
}

/// Closes a connection that broke or reached a server that no longer takes writes, and
/// with it every idle connection of the pool: after a failover they all lead to the old
/// primary, and the next ones opened find the new one.
pub fn discard(client: Object) {
    if let Some(pool) = Object::pool(&client) {
        pool.retain(|_, _| false);
    }
    drop(Object::take(client));
}
