//! The store's own thin layer over the two databases: rusqlite for SQLite (statements on
//! the calling thread, writes committed in groups) and tokio-postgres with a deadpool pool
//! for PostgreSQL (multi-host URLs that follow a failover). Statements are written once, in
//! the SQL both dialects share, with `$n` placeholders. Why not sqlx: see ARCHITECTURE.md.

mod checkpointer;
mod error;
mod flusher;
mod held_writer;
mod merge;
mod pg_groups;
mod pg_read_batches;
mod pg_readers;
pub mod postgres;
mod query;
mod row;
pub mod sqlite;
mod sqlite_conn;
mod sqlite_readers;
mod value;
mod wal_batch;
mod wal_sync;

pub use super::Backend;
pub use error::{Error, Result};
pub use pg_groups::PgPool;
pub use query::{
    query, query_scalar, Conn, Deferred, Executor, PgConn, PgHeld, Pool, PoolStatus, Query, QueryResult, QueryScalar,
    Target,
};
pub use row::{ColumnIndex, Row};
pub use value::{Decode, Encode, Kind, Value};
