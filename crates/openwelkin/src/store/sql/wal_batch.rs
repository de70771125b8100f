//! The writer's log writes, gathered into one write per commit.
//!
//! SQLite appends a commit's pages to the write-ahead log with two `pwrite` calls per
//! page: the 24-byte frame header, then the page. A group of patient creates changes ~60
//! pages, so its `COMMIT` made ~120 system calls while holding the writer; they were 13 %
//! of the server's CPU under the create load, and each one takes the file's lock and
//! touches one or two pages of the page cache for a few bytes.
//!
//! This VFS wraps SQLite's default one (the unix VFS) and is used by the writer connection
//! only. For a write-ahead log it keeps writes that continue the previous one (the frames
//! of a commit, in order) in a buffer, and writes the buffer out as soon as the frame that
//! completes a commit is whole: a frame header carrying the database size (the commit
//! mark), then its page. SQLite writes that frame last and publishes the commit in the
//! shared index only after it (with `synchronous = FULL` it also syncs the log before,
//! and a sync writes the buffer out first), so whatever readers, a checkpoint or the flush
//! of `wal_sync.rs` can see of the log is in the file. A failure to write the buffer is
//! the failure of the write that completed the commit frame: SQLite fails the commit as it
//! would have without the buffer, and nothing of it was published (a full disk is still
//! answered 507).
//!
//! Everything else goes straight through, after the buffer is written out: a write that does
//! not continue the previous one (SQLite rewriting checksums or a frame of the same
//! transaction, the log header when the log starts over), every read, sync, truncate, size
//! and file control on the log, and its close. Other files (the database, the shared index,
//! temporary files) pass through untouched. The bytes that reach the file are the same, in
//! the same places; only the number of calls changes.

use rusqlite::ffi;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// The name the writer opens its connection with.
pub const NAME: &CStr = c"openwelkin-wal-batch";

/// Most bytes kept before they are written anyway (a large transaction that spills pages
/// to the log before its commit).
const LIMIT: usize = 1 << 20;

/// Most bytes per write: the unix VFS writes at most 128 KiB - 1 in one call (it masks a
/// larger count, and then fails the write as a full disk).
const CHUNK: usize = 124 * 1024;

/// A frame header: page number, database size after a commit (0 for other frames), salts
/// and checksums.
const FRAME_HEADER: usize = 24;

/// The file SQLite allocates for each file opened through this VFS: our part, then the
/// unix VFS's own file, which we open in place and forward to.
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    /// The pending writes of a write-ahead log; null for every other file.
    log: *mut Pending,
}

/// Offset of the real file inside the block SQLite allocates (`szOsFile`).
const REAL_OFFSET: usize = std::mem::size_of::<File>().next_multiple_of(16);

#[derive(Default)]
struct Pending {
    /// File offset of `bytes[0]`.
    start: i64,
    bytes: Vec<u8>,
    /// The offset right after the last write: a write there continues it. None until the
    /// first write (the log's first write after opening is its header or a rewrite).
    next: Option<i64>,
    /// Where the page of a commit frame goes, once its header has been written.
    commit_page_at: Option<i64>,
}

/// The VFS registered under `NAME` and the one it wraps.
struct Registered {
    real: *mut ffi::sqlite3_vfs,
}

// SAFETY: the pointer is to SQLite's default VFS, a static object that lives as long as the
// process and that SQLite itself shares between threads.
unsafe impl Send for Registered {}
unsafe impl Sync for Registered {}

static REGISTERED: OnceLock<Result<Registered, c_int>> = OnceLock::new();

/// Registers the VFS (once per process; not as the default). Answers SQLite's error code
/// when it cannot be: the writer then cannot be opened, which fails loudly at start.
pub fn register() -> Result<(), c_int> {
    REGISTERED
        .get_or_init(|| {
            // SAFETY: sqlite3_vfs_find(NULL) answers the default VFS (or NULL); the VFS we
            // register is leaked, so it outlives every connection, as SQLite requires.
            unsafe {
                let real = ffi::sqlite3_vfs_find(std::ptr::null());
                if real.is_null() {
                    return Err(ffi::SQLITE_ERROR);
                }
                let mut vfs: ffi::sqlite3_vfs = std::ptr::read(real);
                vfs.pNext = std::ptr::null_mut();
                vfs.zName = NAME.as_ptr();
                vfs.szOsFile = (REAL_OFFSET + (*real).szOsFile as usize) as c_int;
                vfs.xOpen = Some(open);
                // The other methods of the unix VFS do not look at the VFS they are called
                // through (its `xOpen` does, and is always called with `real`).
                let rc = ffi::sqlite3_vfs_register(Box::into_raw(Box::new(vfs)), 0);
                if rc != ffi::SQLITE_OK {
                    return Err(rc);
                }
                Ok(Registered { real })
            }
        })
        .as_ref()
        .map(|_| ())
        .map_err(|rc| *rc)
}

fn real_vfs() -> *mut ffi::sqlite3_vfs {
    match REGISTERED.get() {
        Some(Ok(r)) => r.real,
        _ => unreachable!("files are opened through the VFS only after it was registered"),
    }
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let ours = file as *mut File;
    let real = (file as *mut u8).add(REAL_OFFSET) as *mut ffi::sqlite3_file;
    (*ours).base.pMethods = std::ptr::null();
    (*ours).real = real;
    (*ours).log = std::ptr::null_mut();
    let vfs = real_vfs();
    let Some(real_open) = (*vfs).xOpen else { return ffi::SQLITE_ERROR };
    let rc = real_open(vfs, name, real, flags, out_flags);
    if rc != ffi::SQLITE_OK || (*real).pMethods.is_null() {
        // SQLite calls no method of a file whose methods are null, not even xClose.
        return if rc == ffi::SQLITE_OK { ffi::SQLITE_CANTOPEN } else { rc };
    }
    if flags & ffi::SQLITE_OPEN_WAL != 0 {
        (*ours).log = Box::into_raw(Box::<Pending>::default());
    }
    (*ours).base.pMethods = &METHODS;
    rc
}

/// The real file's methods.
unsafe fn real_methods(file: *mut ffi::sqlite3_file) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    let real = (*(file as *mut File)).real;
    (real, &*(*real).pMethods)
}

/// The pending writes, if `file` is a log.
unsafe fn pending<'a>(file: *mut ffi::sqlite3_file) -> Option<&'a mut Pending> {
    (*(file as *mut File)).log.as_mut()
}

/// Writes out what is pending of a log.
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    match pending(file) {
        Some(p) => write_out(file, p),
        None => ffi::SQLITE_OK,
    }
}

unsafe fn write_out(file: *mut ffi::sqlite3_file, p: &mut Pending) -> c_int {
    let mut rc = ffi::SQLITE_OK;
    let mut offset = p.start;
    for chunk in p.bytes.chunks(CHUNK) {
        rc = write_real(file, chunk.as_ptr() as *const c_void, chunk.len() as c_int, offset);
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += chunk.len() as i64;
    }
    p.bytes.clear();
    rc
}

/// Writes to the real file (for a log, a write that reaches the file).
unsafe fn write_real(file: *mut ffi::sqlite3_file, data: *const c_void, amount: c_int, offset: i64) -> c_int {
    #[cfg(test)]
    if pending(file).is_some() {
        tests::LOG_WRITES.with(|n| n.set(n.get() + 1));
    }
    let (real, m) = real_methods(file);
    m.xWrite.map_or(ffi::SQLITE_IOERR_WRITE, |write| write(real, data, amount, offset))
}

/// Writes out what is pending, then calls the real file's method (`call`).
unsafe fn after_flush(
    file: *mut ffi::sqlite3_file,
    call: impl FnOnce(*mut ffi::sqlite3_file, &ffi::sqlite3_io_methods) -> c_int,
) -> c_int {
    let rc = flush(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    let (real, m) = real_methods(file);
    call(real, m)
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, data: *const c_void, amount: c_int, offset: i64) -> c_int {
    let Some(p) = pending(file) else { return write_real(file, data, amount, offset) };
    let bytes = std::slice::from_raw_parts(data as *const u8, amount.max(0) as usize);
    let completes_commit = p.commit_page_at == Some(offset);
    // A frame header with a database size marks the frame that ends a commit.
    p.commit_page_at = (bytes.len() == FRAME_HEADER && bytes[4..8] != [0; 4]).then_some(offset + FRAME_HEADER as i64);
    let continues = p.next == Some(offset);
    p.next = Some(offset + i64::from(amount));
    if !continues {
        // Not the log's next bytes (a rewrite, the header of a restarted log): what is
        // pending goes first, then this write.
        let rc = write_out(file, p);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        return write_real(file, data, amount, offset);
    }
    // While bytes are pending, `next` is where they end: this write extends them.
    if p.bytes.is_empty() {
        p.start = offset;
    }
    p.bytes.extend_from_slice(bytes);
    if completes_commit || p.bytes.len() >= LIMIT {
        return write_out(file, p);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let flushed = flush(file);
    let (real, m) = real_methods(file);
    let closed = m.xClose.map_or(ffi::SQLITE_OK, |close| close(real));
    let ours = file as *mut File;
    if !(*ours).log.is_null() {
        drop(Box::from_raw((*ours).log));
        (*ours).log = std::ptr::null_mut();
    }
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

unsafe extern "C" fn read(file: *mut ffi::sqlite3_file, data: *mut c_void, amount: c_int, offset: i64) -> c_int {
    after_flush(file, |real, m| m.xRead.map_or(ffi::SQLITE_IOERR_READ, |read| read(real, data, amount, offset)))
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    after_flush(file, |real, m| m.xTruncate.map_or(ffi::SQLITE_IOERR_TRUNCATE, |truncate| truncate(real, size)))
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    after_flush(file, |real, m| m.xSync.map_or(ffi::SQLITE_IOERR_FSYNC, |sync| sync(real, flags)))
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    after_flush(file, |real, m| m.xFileSize.map_or(ffi::SQLITE_IOERR_FSTAT, |file_size| file_size(real, size)))
}

unsafe extern "C" fn file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    after_flush(file, |real, m| m.xFileControl.map_or(ffi::SQLITE_NOTFOUND, |control| control(real, op, arg)))
}

// The rest forwards as is.

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (real, m) = real_methods(file);
    m.xLock.map_or(ffi::SQLITE_OK, |f| f(real, level))
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (real, m) = real_methods(file);
    m.xUnlock.map_or(ffi::SQLITE_OK, |f| f(real, level))
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let (real, m) = real_methods(file);
    match m.xCheckReservedLock {
        Some(f) => f(real, out),
        None => {
            *out = 0;
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let (real, m) = real_methods(file);
    m.xSectorSize.map_or(4096, |f| f(real))
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let (real, m) = real_methods(file);
    m.xDeviceCharacteristics.map_or(0, |f| f(real))
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    page_size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let (real, m) = real_methods(file);
    m.xShmMap.map_or(ffi::SQLITE_IOERR_SHMMAP, |f| f(real, page, page_size, extend, out))
}

unsafe extern "C" fn shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    let (real, m) = real_methods(file);
    m.xShmLock.map_or(ffi::SQLITE_IOERR_SHMLOCK, |f| f(real, offset, n, flags))
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    let (real, m) = real_methods(file);
    if let Some(f) = m.xShmBarrier {
        f(real)
    }
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let (real, m) = real_methods(file);
    m.xShmUnmap.map_or(ffi::SQLITE_OK, |f| f(real, delete))
}

unsafe extern "C" fn fetch(file: *mut ffi::sqlite3_file, offset: i64, amount: c_int, out: *mut *mut c_void) -> c_int {
    let (real, m) = real_methods(file);
    match m.xFetch {
        Some(f) if pending(file).is_none() => f(real, offset, amount, out),
        _ => {
            // No memory map of a log (SQLite maps only the database file) or without one.
            *out = std::ptr::null_mut();
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn unfetch(file: *mut ffi::sqlite3_file, offset: i64, p: *mut c_void) -> c_int {
    let (real, m) = real_methods(file);
    m.xUnfetch.map_or(ffi::SQLITE_OK, |f| f(real, offset, p))
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, OpenFlags};
    use std::cell::Cell;
    use std::path::Path;

    thread_local! {
        /// Writes of a log that reached the file, on this thread.
        pub static LOG_WRITES: Cell<usize> = const { Cell::new(0) };
    }

    fn open_batched(path: &Path) -> Connection {
        super::register().unwrap();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags_and_vfs(path, flags, super::NAME).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")
            .unwrap();
        conn
    }

    /// The database as a crash would leave it: its files copied while the writer still has
    /// them open (what the kernel has of them), opened through the default VFS.
    fn crash_copy(from: &Path, dir: &Path) -> Connection {
        let to = dir.join("copy.db");
        for suffix in ["", "-wal"] {
            std::fs::copy(format!("{}{suffix}", from.display()), format!("{}{suffix}", to.display())).unwrap();
        }
        let copy = Connection::open(&to).unwrap();
        let ok: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
        copy
    }

    fn total(conn: &Connection) -> (i64, i64) {
        conn.query_row("SELECT COUNT(*), COALESCE(SUM(n), 0) FROM t", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap()
    }

    #[test]
    fn a_commit_reaches_the_log_in_one_write_and_is_read_by_others_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = open_batched(&path);
        writer
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, pad TEXT); CREATE INDEX t_n ON t (n);")
            .unwrap();
        let reader = Connection::open(&path).unwrap();
        for round in 1..=3_i64 {
            LOG_WRITES.with(|n| n.set(0));
            writer.execute_batch("BEGIN").unwrap();
            for i in 0..60_i64 {
                writer.execute("INSERT INTO t (n, pad) VALUES (?1, ?2)", (round * 1000 + i, "x".repeat(1000))).unwrap();
            }
            writer.execute_batch("COMMIT").unwrap();
            // ~18 pages (under one write's most): 36 writes without the batching, a header
            // and a page each.
            assert_eq!(LOG_WRITES.with(Cell::get), 1, "round {round}");
            assert_eq!(total(&reader).0, round * 60, "a reader on the default VFS sees the commit");
        }
    }

    #[test]
    fn what_a_crash_leaves_holds_every_commit_with_spills_rewrites_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = open_batched(&path);
        // A page cache of 10 pages: a large transaction spills pages to the log before its
        // commit and writes some of them again (a frame overwritten, checksums rewritten).
        writer
            .execute_batch("PRAGMA cache_size = 10; CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, pad TEXT);")
            .unwrap();
        let mut expected = (0_i64, 0_i64);
        for round in 0..6_i64 {
            writer.execute_batch("BEGIN").unwrap();
            for i in 0..200_i64 {
                writer.execute("INSERT INTO t (n, pad) VALUES (?1, ?2)", (i, "y".repeat(700))).unwrap();
            }
            writer.execute("UPDATE t SET n = n + 1 WHERE id % 3 = ?1", [round % 3]).unwrap();
            writer.execute_batch("COMMIT").unwrap();
            // Small commits between, one after a checkpoint: the log starts over.
            if round == 3 {
                writer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())).unwrap();
            }
            writer.execute("INSERT INTO t (n, pad) VALUES (?1, 'z')", [round]).unwrap();
            expected = total(&writer);
            assert_eq!(total(&crash_copy(&path, dir.path())), expected, "round {round}");
        }
        assert_eq!(expected.0, 6 * 201);
    }
}
