//! Making SQLite commits durable outside the writer lock.
//!
//! The writer commits with `synchronous = NORMAL`: `COMMIT` appends the group's frames to
//! the write-ahead log and returns without waiting for the disk, so the next group can start
//! at once. Before anyone of the group is answered, `wait_durable` flushes the log file
//! (`fdatasync`) through a handle of our own; one flush covers every commit appended before
//! it began, so groups whose flushes overlap share one.
//!
//! Why a handle of our own is the right file: SQLite removes or replaces the log only when
//! the last connection to the database closes (it needs an exclusive lock on the database
//! file, and every connection in WAL mode keeps a shared one while it is open). The writer
//! connection is open whenever a commit is made, so the log a commit wrote to stays the file
//! our handle was opened on; `committed` still compares inode numbers and reopens if they
//! differ (with the directory flushed, so that a new log file's name is on disk too).
//!
//! What a reader may see: a group's rows are visible to readers from its `COMMIT`, up to a
//! flush (under a millisecond here) before its writers are answered. A power loss in that
//! window loses them, and with them nothing that was acknowledged: any write made after
//! reading them is answered only after a later flush, which covers them too.
//!
//! A failed flush poisons the engine: the kernel may have dropped the pages it could not
//! write, so later flushes could report success for a log with a hole in it (PostgreSQL
//! stops for the same reason). Every later write is refused until the server restarts and
//! SQLite recovers the log.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct WalSync {
    wal_path: PathBuf,
    /// Our handle on the log and its inode number.
    file: Mutex<Option<(Arc<File>, u64)>>,
    /// Commits made (a ticket is the count after one).
    committed: AtomicU64,
    /// Commits known to be on disk; held while flushing, so concurrent waiters queue and
    /// mostly find their commit already covered.
    durable: Mutex<u64>,
    failed: AtomicBool,
}

impl WalSync {
    /// For the database file `db_path` (the log is `<db_path>-wal`).
    pub fn new(db_path: &str) -> WalSync {
        WalSync {
            wal_path: PathBuf::from(format!("{db_path}-wal")),
            file: Mutex::new(None),
            committed: AtomicU64::new(0),
            durable: Mutex::new(0),
            failed: AtomicBool::new(false),
        }
    }

    /// Whether a flush has failed (see the module comment).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Refuses a new write after a failed flush.
    pub fn check(&self) -> std::io::Result<()> {
        if self.failed() {
            return Err(poisoned());
        }
        Ok(())
    }

    /// Called with the writer held, right after a successful `COMMIT`: makes sure our
    /// handle is on the log that commit wrote to, and answers the commit's ticket.
    pub fn committed(&self) -> std::io::Result<u64> {
        let inode = std::fs::metadata(&self.wal_path)?.ino();
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if file.as_ref().map(|(_, ino)| *ino) != Some(inode) {
            let opened = File::open(&self.wal_path)?;
            let ino = opened.metadata()?.ino();
            if let Some(dir) = self.wal_path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
            *file = Some((Arc::new(opened), ino));
        }
        Ok(self.committed.fetch_add(1, Ordering::AcqRel) + 1)
    }

    /// Blocks until the commit with `ticket` (and every one before it) is on disk.
    pub fn wait_durable(&self, ticket: u64) -> std::io::Result<()> {
        let mut durable = self.durable.lock().unwrap_or_else(|e| e.into_inner());
        self.check()?;
        if *durable >= ticket {
            return Ok(());
        }
        // Every commit counted so far has its frames written: the flush covers them all.
        let target = self.committed.load(Ordering::Acquire);
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|(f, _)| f.clone());
        let Some(file) = file else { return Err(std::io::Error::other("no commit has been recorded")) };
        if let Err(e) = file.sync_data() {
            self.failed.store(true, Ordering::Release);
            tracing::error!(error = %e, "flushing the SQLite write-ahead log failed: writes are refused until a restart");
            return Err(e);
        }
        *durable = target;
        Ok(())
    }
}

#[cfg(test)]
impl WalSync {
    /// Commits known to be on disk.
    pub fn durable(&self) -> u64 {
        *self.durable.lock().unwrap()
    }

    /// As after a failed flush.
    pub fn poison(&self) {
        self.failed.store(true, Ordering::Release);
    }
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("an earlier flush of the write-ahead log failed: restart the server")
}

#[cfg(test)]
mod tests {
    use super::WalSync;

    #[test]
    fn a_flush_covers_every_commit_before_it_and_follows_a_new_log_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let wal = dir.path().join("t.db-wal");
        let sync = WalSync::new(db.to_str().unwrap());
        assert!(sync.committed().is_err(), "no log file yet");
        std::fs::write(&wal, b"frames").unwrap();
        let first = sync.committed().unwrap();
        let second = sync.committed().unwrap();
        assert_eq!((first, second), (1, 2));
        sync.wait_durable(first).unwrap();
        assert_eq!(*sync.durable.lock().unwrap(), 2, "one flush covered both");
        sync.wait_durable(second).unwrap();
        // A log replaced under the same name is reopened.
        let old = sync.file.lock().unwrap().as_ref().unwrap().1;
        std::fs::remove_file(&wal).unwrap();
        std::fs::write(&wal, b"new frames").unwrap();
        let third = sync.committed().unwrap();
        assert_ne!(sync.file.lock().unwrap().as_ref().unwrap().1, old);
        sync.wait_durable(third).unwrap();
        assert!(!sync.failed());
    }
}
