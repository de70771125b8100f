//! SQLite's read connections, each kept inside its read transaction between reads for as
//! long as nothing has been committed since it began.
//!
//! A read outside a transaction begins and ends one of its own: SQLite takes a read lock on
//! a slot of the log's shared index and lets it go again. Each of those takes a mutex that
//! every connection of the process shares (the index's), and when no other connection of
//! the process holds that slot, a `fcntl` lock on the index file inside that mutex. With
//! two threads reading, one often waited for the other's system call: the reads of a patient
//! by id made 1.5 `futex` and 1.46 `fcntl` calls each, and beginning and ending the
//! transaction was most of the engine's share of a read's CPU.
//!
//! So a reader keeps its transaction after a read, and the next read on it reuses it if
//! the database has not changed meanwhile. Whether it has is read from the log's index
//! header in shared memory, as SQLite itself checks it when a transaction begins: every
//! commit, by any connection of any process, writes a new header (its change counter and
//! checksum move) before the commit returns. So a read that begins after a write was
//! answered always sees that write; a reader whose header is out of date ends its
//! transaction and begins a new one.
//!
//! A held transaction keeps the log frames its snapshot needs from being checkpointed, so
//! a reader let go with an out-of-date snapshot gives it up at once (`put`), and the
//! checkpoint thread ends those of idle readers that went out of date while idle
//! (`release_outdated`) before it checkpoints.

use super::error::Result;
use super::sqlite_conn::open_connection;
use rusqlite::{ffi, Connection};
use std::ffi::c_void;
use std::sync::Mutex;

/// Read connections kept open between uses.
const IDLE_READERS: usize = 8;

/// The log index header as SQLite's `walIndexHdr` lays it out, the first 48 bytes of the
/// shared memory (documented in SQLite's "WAL-mode File Format"): compared whole, as
/// SQLite compares it.
type Header = [u32; 12];

pub struct Readers {
    path: String,
    idle: Mutex<Vec<Reader>>,
}

/// A read connection and, when it is inside a transaction kept between reads, the log
/// header it saw before that transaction began.
pub struct Reader {
    conn: Connection,
    /// The first header copy in the connection's mapping of the log index. `None` when it
    /// could not be found (then every read has its own transaction, as without this).
    header: Option<*const Header>,
    held: Option<Header>,
}

// SAFETY: `header` points into the shared memory that the connection maps for as long as
// its log is open (its lifetime); it is only read, with volatile reads, on whichever one
// thread has the `Reader` at the time, as the connection itself is used.
unsafe impl Send for Reader {}

impl Readers {
    pub fn new(path: &str) -> Readers {
        Readers { path: path.to_string(), idle: Mutex::new(Vec::new()) }
    }

    /// Runs `f` on a read connection, on this thread, inside a transaction that is current:
    /// the reader's own, kept from its last read when nothing was committed since, else a
    /// new one.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut reader = self.take()?;
        let result = reader.current().and_then(|()| f(&reader.conn));
        if reader.conn.is_autocommit() {
            // The statement ended the transaction (an error SQLite rolls back for).
            reader.held = None;
        }
        self.put(reader);
        result
    }

    /// A connection outside any transaction, for a `Tx` of its own (a snapshot).
    pub fn take_connection(&self) -> Result<Connection> {
        let mut reader = self.take()?;
        reader.end_held();
        Ok(reader.conn)
    }

    /// Gives back a connection from `take_connection`; one left inside a transaction (a
    /// snapshot abandoned mid-way) is closed.
    pub fn put_connection(&self, conn: Connection) {
        if conn.is_autocommit() {
            self.put(Reader::with_header(conn));
        }
    }

    /// Ends the held transactions of idle readers that the database has moved past, so
    /// that a checkpoint can copy the frames they kept.
    pub fn release_outdated(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        for reader in idle.iter_mut() {
            if !reader.is_current() {
                reader.end_held();
            }
        }
    }

    pub fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn take(&self) -> Result<Reader> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(reader) => Ok(reader),
            None => Ok(Reader::with_header(open_connection(&self.path, true)?)),
        }
    }

    fn put(&self, mut reader: Reader) {
        if !reader.is_current() {
            reader.end_held();
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(reader);
        }
    }
}

impl Reader {
    fn with_header(conn: Connection) -> Reader {
        let header = log_header(&conn);
        Reader { conn, header, held: None }
    }

    /// The header as it is now, if the reader can see it.
    fn header_now(&self) -> Option<Header> {
        let header = self.header?;
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        // SAFETY: see `unsafe impl Send for Reader`: the mapping outlives the connection's
        // log; a torn read (a commit writing the header meanwhile) differs from the held
        // copy in what it changed, or equals it only where that commit had not yet been
        // published, when the held snapshot is still the latest.
        Some(unsafe { std::ptr::read_volatile(header) })
    }

    fn is_current(&self) -> bool {
        match self.held {
            None => true,
            Some(held) => self.header_now() == Some(held),
        }
    }

    /// Leaves the reader inside a transaction that sees the latest commit.
    fn current(&mut self) -> Result<()> {
        if self.held.is_some() {
            if self.is_current() {
                return Ok(());
            }
            self.end_held();
        }
        // Read before the transaction begins: its snapshot, taken at the first statement,
        // is at least this recent, and a later header that equals it means no commit since.
        let Some(seen) = self.header_now() else { return Ok(()) };
        self.conn.execute_batch("BEGIN")?;
        self.held = Some(seen);
        Ok(())
    }

    fn end_held(&mut self) {
        if self.held.take().is_some() && !self.conn.is_autocommit() {
            // A read transaction has nothing to lose; if even this fails, the connection is
            // left in it and `put_connection` closes it.
            let _ = self.conn.execute_batch("COMMIT");
        }
    }
}

/// Where this connection's mapping of the log index begins: the header's first copy. The
/// log must be open, so a first read is made (a new connection opens it lazily).
fn log_header(conn: &Connection) -> Option<*const Header> {
    conn.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |_| Ok(())).ok()?;
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: the connection is open and used by this thread alone; FILE_POINTER writes the
    // main database's `sqlite3_file*` into `file`.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&mut file as *mut *mut ffi::sqlite3_file).cast::<c_void>(),
        )
    };
    if rc != ffi::SQLITE_OK || file.is_null() {
        return None;
    }
    // SAFETY: `file` is the connection's open database file; its methods are the VFS's.
    // `xShmMap` without extending (fourth argument 0) answers the region already mapped
    // for this file's log index, the one SQLite itself reads, or null if none is.
    unsafe {
        let methods = (*file).pMethods;
        if methods.is_null() || (*methods).iVersion < 2 {
            return None;
        }
        let map = (*methods).xShmMap?;
        let mut region: *mut c_void = std::ptr::null_mut();
        if map(file, 0, 32 * 1024, 0, &mut region) != ffi::SQLITE_OK || region.is_null() {
            return None;
        }
        Some(region.cast_const().cast::<Header>())
    }
}
