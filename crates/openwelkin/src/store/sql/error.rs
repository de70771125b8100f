//! Errors of the store: what the database said, or that no connection could be had.

use std::sync::Arc;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no row returned where one was expected")]
    RowNotFound,
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Shown with the server's message and SQLSTATE: tokio-postgres's own text is only
    /// "db error", which tells a log reader nothing.
    #[error("PostgreSQL: {}", postgres_detail(.0))]
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

fn postgres_detail(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        // Not the detail: it can quote the row's values (patient data) into the log.
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(err) {
            Some(source) => format!("{err}: {source}"),
            None => err.to_string(),
        },
    }
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
    ///
    /// Also a write that refers to a row removed meanwhile (`Failure::RemovedMeanwhile`):
    /// an instance reset through the CLI or another node, which gives the instance a new
    /// id, while this request still used the cached instance (the configuration counter's
    /// copy lags by up to one poll, `store/config_watch.rs`). Nothing was written; the run
    /// again, after `api/retry.rs`'s first pause (longer than the poll), finds the new
    /// instance, or answers what its checks say.
    pub fn retryable(&self) -> bool {
        use crate::store::errors::{classify, Failure};
        !matches!(self, Error::Commit(_) | Error::PoolTimedOut)
            && matches!(classify(self), Failure::Unavailable | Failure::RemovedMeanwhile)
    }
}

#[cfg(test)]
mod tests {
    use super::Error;

    fn sqlite(code: i32) -> Error {
        Error::Sqlite(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None))
    }

    #[test]
    fn a_write_to_a_row_gone_meanwhile_runs_again_but_not_after_its_commit() {
        let dangling = sqlite(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY);
        assert!(dangling.retryable());
        assert!(!Error::Commit(std::sync::Arc::new(dangling)).retryable(), "a failed COMMIT may have been applied");
        assert!(!sqlite(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE).retryable(), "a duplicate stays a duplicate");
    }
}
