//! Errors of the store: what the database said, or that no connection could be had.

use std::sync::Arc;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no row returned where one was expected")]
    RowNotFound,
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("no database connection became free in time")]
    PoolTimedOut,
    #[error("database connection: {0}")]
    Connect(String),
    #[error("column {column}: {message}")]
    Decode { column: String, message: String },
    #[error("no column {0} in the row")]
    ColumnNotFound(String),
    #[error("statement has {want} parameters, {got} bound")]
    Arguments { want: usize, got: usize },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("migration: {0}")]
    Migrate(String),
    /// The shared commit of a group of transactions failed; every transaction in the group
    /// gets this, with the original failure.
    #[error("commit failed: {0}")]
    Commit(Arc<Error>),
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        use deadpool_postgres::PoolError;
        match err {
            PoolError::Timeout(_) => Error::PoolTimedOut,
            PoolError::Backend(e) => Error::Postgres(e),
            other => Error::Connect(other.to_string()),
        }
    }
}

impl Error {
    /// The statement failed before any `COMMIT` was sent, because its connection broke or
    /// its server no longer takes writes (a failover): running the whole request again on
    /// a fresh connection is safe. A failed `COMMIT` is not: it may have been applied.
    pub fn retryable(&self) -> bool {
        use crate::store::errors::{classify, Failure};
        !matches!(self, Error::Commit(_) | Error::PoolTimedOut) && classify(self) == Failure::Unavailable
    }
}
