//! What a storage failure means for the caller: the disk is full (the operator must free
//! space; reads go on), the database cannot be reached (try again later), or something
//! else (a defect or a broken invariant, reported as an internal error).

use super::sql;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No space left for the database or the file store.
    StorageFull,
    /// The database is down, restarting, or not answering within the configured wait.
    Unavailable,
    /// A write referred to a row that is gone (a foreign key violation): in practice an
    /// instance reset through the CLI or another node while this node still used its
    /// cached copy (`config_watch`). Nothing was written; the request may run again.
    RemovedMeanwhile,
    Other,
}

pub fn classify(err: &sql::Error) -> Failure {
    match err {
        sql::Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => match e.code {
            rusqlite::ErrorCode::DiskFull => Failure::StorageFull,
            // The file cannot be opened, or another process kept the write lock past the
            // busy timeout: try again later.
            rusqlite::ErrorCode::CannotOpen
            | rusqlite::ErrorCode::DatabaseBusy
            | rusqlite::ErrorCode::DatabaseLocked => Failure::Unavailable,
            _ if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Failure::RemovedMeanwhile,
            _ => Failure::Other,
        },
        sql::Error::Postgres(e) => match e.code() {
            Some(code) if code.code() == PG_DISK_FULL => Failure::StorageFull,
            // Connection exceptions; admin or crash shutdown, cannot connect now.
            Some(code) if code.code().starts_with("08") || code.code().starts_with("57P") => Failure::Unavailable,
            // A server that no longer takes writes: a former primary after a failover.
            Some(code) if code.code() == PG_READ_ONLY => Failure::Unavailable,
            Some(code) if *code == tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION => Failure::RemovedMeanwhile,
            Some(_) => Failure::Other,
            // No SQLSTATE: the connection failed or closed under the statement.
            None if e.is_closed() || io_source(e).is_some() => Failure::Unavailable,
            None => Failure::Other,
        },
        sql::Error::Io(io) if is_storage_full(io) => Failure::StorageFull,
        sql::Error::Io(_) | sql::Error::PoolTimedOut | sql::Error::Connect(_) => Failure::Unavailable,
        sql::Error::Commit(inner) => classify(inner),
        _ => Failure::Other,
    }
}

/// Pauses before running work again whose database connection broke before its commit
/// (`Failure::Unavailable`): about 3 s in all, the length of a planned failover. Used by
/// the request retry (`api/retry.rs`) and by work that must not rerun its request (an
/// SMS outcome, `services/sms/send.rs`).
pub const RETRY_PAUSES: [std::time::Duration; 4] = [
    std::time::Duration::from_millis(100),
    std::time::Duration::from_millis(300),
    std::time::Duration::from_millis(800),
    std::time::Duration::from_millis(1800),
];

/// PostgreSQL's SQLSTATE for a full disk.
const PG_DISK_FULL: &str = "53100";
/// PostgreSQL's SQLSTATE for a write in a read-only transaction (`read_only_sql_transaction`).
const PG_READ_ONLY: &str = "25006";

fn io_source(e: &tokio_postgres::Error) -> Option<&std::io::Error> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

/// True for the I/O errors that mean "no space": ENOSPC, EDQUOT, EFBIG.
pub fn is_storage_full(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(err.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge)
}

/// Set while writes are being refused for lack of space, so that the condition is logged
/// once when it starts and once when it ends, not on every refused write.
static STORAGE_FULL: AtomicBool = AtomicBool::new(false);

/// Records that a write was refused for lack of space; logs it the first time.
pub fn storage_full(detail: &dyn std::fmt::Display) {
    if !STORAGE_FULL.swap(true, Ordering::AcqRel) {
        tracing::error!(
            error = %detail,
            "storage full: writes are refused with 507 INSUFFICIENT_STORAGE until space is freed; reads go on"
        );
    }
}

/// Records that a write succeeded; logs the end of a storage-full period.
pub fn storage_recovered() {
    if STORAGE_FULL.load(Ordering::Relaxed) && STORAGE_FULL.swap(false, Ordering::AcqRel) {
        tracing::warn!("storage available again: writes are accepted");
    }
}
