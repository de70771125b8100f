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
//! passes `CATCH_UP_AT` frames the hook checkpoints inside the commit as SQLite would, but
//! copies only what the thread has not copied yet (a few hundred frames), and the next write
//! transaction starts the log over.

use rusqlite::ffi;
use rusqlite::Connection;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Frames between two checkpoints on the thread (SQLite's own automatic threshold).
const BACKGROUND_EVERY: i32 = 1000;
/// Frames after which the writer's commit checkpoints what is left, so that the log starts
/// over; while it cannot (a reader still needs old frames), every commit tries again, as
/// SQLite's automatic checkpoint does.
const CATCH_UP_AT: i32 = 4 * BACKGROUND_EVERY;

/// Shared by the writer connection's log hook and the checkpoint thread.
pub struct Checkpointer {
    /// The log's length in frames at which the hook next wakes the thread.
    next_at: AtomicI32,
    /// A checkpoint is asked for and has not started.
    asked: Mutex<bool>,
    wake: Condvar,
    stop: AtomicBool,
}

impl Checkpointer {
    /// Starts the thread for the database at `path`; it ends with `stop`.
    pub fn start(path: &str) -> std::io::Result<Arc<Checkpointer>> {
        let checkpointer = Arc::new(Checkpointer {
            next_at: AtomicI32::new(BACKGROUND_EVERY),
            asked: Mutex::new(false),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
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
    if frames >= CATCH_UP_AT {
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
        checkpointer.next_at.store(BACKGROUND_EVERY, Ordering::Relaxed);
        return ffi::SQLITE_OK;
    }
    let next_at = checkpointer.next_at.load(Ordering::Relaxed);
    if frames >= next_at {
        checkpointer.next_at.store(frames + BACKGROUND_EVERY, Ordering::Relaxed);
        checkpointer.ask();
    } else if frames + BACKGROUND_EVERY < next_at {
        // The log started over since the last wake.
        checkpointer.next_at.store(BACKGROUND_EVERY, Ordering::Relaxed);
    }
    ffi::SQLITE_OK
}
