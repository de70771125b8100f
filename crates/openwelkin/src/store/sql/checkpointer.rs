//! Copying the write-ahead log back into the database file beside the writer, not inside
//! its commits.
//!
//! By default SQLite checkpoints inside the `COMMIT` that takes the log past 1,000 frames:
//! it copies every page of the log into the database file and flushes both files, 1-5 ms
//! during which the writer (and every write queued for it) waits; under a create load that
//! was about a fifth of the writer's time. Here the writer connection's log hook only counts
//! frames: every `BACKGROUND_EVERY` frames it wakes a thread of ours, which checkpoints
//! (`PASSIVE`: it copies what no reader still needs, and neither waits for nor blocks the
//! writer) on a connection of its own.
//!
//! The log still has to start over, or it grows without end: SQLite starts it over only when
//! a write transaction begins with every frame already copied back, and under a steady load
//! a new commit always lands before a checkpoint on another thread ends. So once the log
//! passes four times that many frames the hook checkpoints inside the commit as SQLite would, but
//! copies only what the thread has not copied yet (a few hundred frames), and the next write
//! transaction starts the log over.

use super::sqlite_readers::Readers;
use rusqlite::ffi;
use rusqlite::Connection;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Frames between two checkpoints on the thread: 8 MB of log with 4 KiB pages, so the log
/// grows to about 32 MB before it starts over (`catch_up_at`). A checkpoint copies each page
/// once however often the log holds it, and under a create load the same pages (the last
/// pages of the tables and of the indexes on ever-growing keys) are in nearly every commit.
/// Alternated runs of one build, creating patients: 16 clients, 11,432 / 11,238 creates/s
/// at SQLite's own 1,000 frames, 11,983 / 12,399 at 2,000 (+8 %), 12,520 / 12,961 at 4,000;
/// 32 clients, after 10 s at the maximum, paced at 6,700/s: p99 6.3-11.8 ms at 1,000,
/// 7.5-7.9 at 2,000, 10.2-11.0 at 4,000 (the commit that makes the log start over copies up
/// to that many frames while the writer waits), with the maximum about the same at 2,000
/// and 4,000 (14.7-15.7k/s).
pub const BACKGROUND_EVERY: i32 = 2000;

/// Shared by the writer connection's log hook and the checkpoint thread.
pub struct Checkpointer {
    /// Frames between two checkpoints on the thread (`BACKGROUND_EVERY`, less in tests).
    every: i32,
    /// The log's length in frames at which the hook next wakes the thread.
    next_at: AtomicI32,
    /// A checkpoint is asked for and has not started.
    asked: Mutex<bool>,
    wake: Condvar,
    stop: AtomicBool,
    /// Idle read connections may hold frames the checkpoint would copy
    /// (`sqlite_readers.rs`); it lets those go first.
    readers: Arc<Readers>,
}

impl Checkpointer {
    /// Starts the thread for the database at `path`, woken every `every` frames; it ends
    /// with `stop`.
    pub fn start(path: &str, every: i32, readers: Arc<Readers>) -> std::io::Result<Arc<Checkpointer>> {
        let checkpointer = Arc::new(Checkpointer {
            every,
            next_at: AtomicI32::new(every),
            asked: Mutex::new(false),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            readers,
        });
        let (path, shared) = (path.to_string(), checkpointer.clone());
        std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || shared.run(&path))?;
        Ok(checkpointer)
    }

    /// Installs the log hook on the writer connection (it replaces SQLite's automatic
    /// checkpoint). The connection must be dropped before this `Checkpointer` (the hook
    /// holds a plain pointer to it): `Writer` declares its connection first.
    pub fn install(self: &Arc<Self>, conn: &Connection) {
        // SAFETY: the connection is open; the hook's argument is this `Checkpointer`, kept
        // alive by the `Arc` beside the connection in `Writer` for as long as the connection.
        unsafe {
            ffi::sqlite3_wal_hook(conn.handle(), Some(log_hook), Arc::as_ptr(self) as *mut c_void);
        }
    }

    /// Ends the thread (the engine is going away).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }

    /// Frames after which the writer's commit checkpoints what is left, so that the log
    /// starts over; while it cannot (a reader still needs old frames), every commit tries
    /// again, as SQLite's automatic checkpoint does.
    fn catch_up_at(&self) -> i32 {
        4 * self.every
    }

    fn ask(&self) {
        *self.asked.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_one();
    }

    fn run(&self, path: &str) {
        let mut conn = None;
        loop {
            {
                let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
                while !*asked && !self.stop.load(Ordering::Acquire) {
                    asked = self.wake.wait(asked).unwrap_or_else(|e| e.into_inner());
                }
                if self.stop.load(Ordering::Acquire) {
                    return;
                }
                *asked = false;
            }
            if conn.is_none() {
                conn = open(path).map_err(|e| tracing::warn!(error = %e, "opening the checkpoint connection")).ok();
            }
            let Some(c) = conn.as_ref() else { continue };
            self.readers.release_outdated();
            // A failure leaves the frames in the log, where readers and the next
            // checkpoint find them; the connection is opened again for the next one.
            if let Err(e) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "checkpointing the SQLite log");
                conn = None;
            }
        }
    }
}

/// The checkpoint connection: SQLite's own file system layer (it writes no log), flushing
/// the log before it copies and the database file after (`synchronous = NORMAL`).
fn open(path: &str) -> rusqlite::Result<Connection> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
        | rusqlite::OpenFlags::SQLITE_OPEN_URI
        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 1000;")?;
    Ok(conn)
}

/// SQLite calls this after each commit of the writer connection with the log's length.
/// It must answer `SQLITE_OK`: another answer would fail the statement that committed.
unsafe extern "C" fn log_hook(arg: *mut c_void, db: *mut ffi::sqlite3, name: *const c_char, frames: c_int) -> c_int {
    // SAFETY: `arg` is the `Checkpointer` given to `install`, alive while the connection is.
    let checkpointer = unsafe { &*(arg as *const Checkpointer) };
    if frames >= checkpointer.catch_up_at() {
        checkpointer.readers.release_outdated();
        // SAFETY: SQLite's own automatic checkpoint makes this call from this hook, with
        // these arguments; a busy answer (the thread is checkpointing) is tried again at
        // the next commit.
        unsafe {
            ffi::sqlite3_wal_checkpoint_v2(
                db,
                name,
                ffi::SQLITE_CHECKPOINT_PASSIVE,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
        }
        checkpointer.next_at.store(checkpointer.every, Ordering::Relaxed);
        return ffi::SQLITE_OK;
    }
    let next_at = checkpointer.next_at.load(Ordering::Relaxed);
    if frames >= next_at {
        checkpointer.next_at.store(frames + checkpointer.every, Ordering::Relaxed);
        checkpointer.ask();
    } else if frames + checkpointer.every < next_at {
        // The log started over since the last wake.
        checkpointer.next_at.store(checkpointer.every, Ordering::Relaxed);
    }
    ffi::SQLITE_OK
}
