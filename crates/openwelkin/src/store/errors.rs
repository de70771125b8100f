//! What a storage failure means for the caller: the disk is full (the operator must free
//! space; reads go on), the database cannot be reached (try again later), or something
//! else (a defect or a broken invariant, reported as an internal error).

use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No space left for the database or the file store.
    StorageFull,
    /// The database is down, restarting, or not answering within the configured wait.
    Unavailable,
    Other,
}

/// SQLite's result code for a full disk or a reached `max_page_count`.
const SQLITE_FULL: &str = "13";
/// PostgreSQL SQLSTATEs: `53100 disk_full`, and the connection-failure and shutdown classes.
const PG_DISK_FULL: &str = "53100";

pub fn classify(err: &sqlx::Error) -> Failure {
    match err {
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            if code == SQLITE_FULL || code == PG_DISK_FULL {
                Failure::StorageFull
            } else if code.starts_with("08") || code.starts_with("57P") {
                // connection exceptions; admin/crash shutdown, cannot connect now
                Failure::Unavailable
            } else {
                Failure::Other
            }
        }
        sqlx::Error::Io(io) if is_storage_full(io) => Failure::StorageFull,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Failure::Unavailable,
        _ => Failure::Other,
    }
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
