//! SQLite through rusqlite, with no thread hop per statement and one fsync per group of
//! concurrent writes.
//!
//! - **Reads** run on the calling thread, on a connection taken from a small stack of
//!   read-only connections (WAL readers never wait for the writer). A point read costs a
//!   few microseconds of SQLite work, less than handing it to another thread would.
//! - **Writes** go through the one writer connection, guarded by a fair async lock. The
//!   transactions (`Tx`) of a group share one `BEGIN IMMEDIATE` … `COMMIT`: the first runs
//!   in the `BEGIN` itself, each later one in a `SAVEPOINT` of its own. (The first needs
//!   none: nothing precedes it that a failure would have to keep. And SQLite copies every
//!   page a statement changes inside a savepoint to a side journal first, which for a
//!   large transaction, such as a seed's batch, is most of its I/O.)
//!   When a transaction finishes while others are queued for the writer, its commit waits
//!   for theirs: the queue's transactions run one after another, then one `COMMIT` (one
//!   flush of the log) makes them all durable, and each caller is answered only then. An
//!   error inside one transaction rolls back to its savepoint and leaves the others; a
//!   failed `COMMIT` fails every transaction of the group, none of which has been
//!   acknowledged. A transaction made only of writes held back until its commit (a
//!   create) needs no savepoint at all, and is run by the writer thread in a batch with
//!   the others queued at the time (`commit_held`, `held_writer.rs`).
//! - **The flush happens after the writer is let go** (`wal_sync.rs`, `flusher.rs`): `COMMIT`
//!   appends the group's frames to the log without waiting for the disk (`synchronous =
//!   NORMAL` on the writer), the next group starts, and the group's callers are answered by
//!   the flusher thread once the log has been flushed.
//! - **Checkpoints run beside the writer** (`checkpointer.rs`), not inside its commits.

use super::checkpointer::Checkpointer;
use super::error::{Error, Result};
use super::flusher::{Committed, Flusher};
use super::held_writer::{Held, HeldQueue};
use super::query::Deferred;
use super::sqlite_conn::{open_connection, prepare_writer};
pub use super::sqlite_conn::{run, Output, Want};
use super::sqlite_readers::Readers;
use super::wal_sync::WalSync;
use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, OwnedMutexGuard};

/// Most transactions one `COMMIT` covers, so that a steady stream of writes still commits
/// (and answers) regularly.
pub(super) const MAX_GROUP: usize = 256;
/// The writer's own busy timeout (ms): it waits for another process's write lock in
/// `begin_group`, asynchronously, not inside SQLite on a runtime thread.
pub const WRITER_BUSY_MS: u32 = 20;
/// The writer's `synchronous` setting: commits that do not wait for the disk (see
/// `prepare_writer`).
pub const WRITER_SYNCHRONOUS: &str = "NORMAL";
/// Prepared statements kept per connection.
pub(super) const STATEMENT_CACHE: usize = 512;

pub struct SqliteEngine {
    path: String,
    readers: Arc<Readers>,
    writer: Arc<tokio::sync::Mutex<Writer>>,
    /// Transactions queued for the writer: while there are some, a finished transaction
    /// leaves the commit to the group.
    waiting: AtomicUsize,
    /// A task is queued to commit the open group.
    committer_queued: AtomicBool,
    acquire_timeout: Duration,
    /// Flushes the log for each committed group (see the module comment).
    wal: Arc<WalSync>,
    /// Answers each committed group once it is on disk.
    flusher: Flusher,
    /// Transactions waiting for the writer thread (`commit_held`).
    held: Arc<HeldQueue>,
    checkpointer: Arc<Checkpointer>,
    /// Statements the store runs in each group right before its `COMMIT`.
    before_commit: &'static [&'static str],
}

pub struct Writer {
    conn: Option<Connection>,
    /// Finished transactions waiting for the group's `COMMIT`.
    group: Vec<oneshot::Sender<Result<()>>>,
    /// The transaction holding the writer runs inside its own savepoint (it is not the
    /// first of its group).
    savepoint: bool,
    /// The connection's log hook points at it: declared after `conn`, so dropped after it.
    checkpointer: Arc<Checkpointer>,
}

impl Writer {
    pub fn connection(&self) -> &Connection {
        self.conn.as_ref().expect("the writer connection is open while a transaction holds it")
    }
}

/// The writer, held by one transaction.
pub type WriterGuard = OwnedMutexGuard<Writer>;

impl SqliteEngine {
    /// Opens the database (creating the file), switches it to WAL and checks it can be read.
    /// `before_commit`: statements run in each group's transaction right before its
    /// `COMMIT` (work the store does once per group rather than once per transaction).
    pub fn open(
        path: &str,
        acquire_timeout: Duration,
        before_commit: &'static [&'static str],
    ) -> Result<Arc<SqliteEngine>> {
        Self::open_checkpointing_every(path, acquire_timeout, before_commit, super::checkpointer::BACKGROUND_EVERY)
    }

    /// `open`, with the checkpoint thread woken every `frames` frames of log (tests use
    /// fewer than the server, to see the log start over without writing 100 MB).
    fn open_checkpointing_every(
        path: &str,
        acquire_timeout: Duration,
        before_commit: &'static [&'static str],
        frames: i32,
    ) -> Result<Arc<SqliteEngine>> {
        let writer = open_connection(path, false)?;
        // WAL lets readers run beside the writer; it is a property of the file.
        writer.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        let readers = Arc::new(Readers::new(path));
        let checkpointer = Checkpointer::start(path, frames, readers.clone())?;
        prepare_writer(&writer, &checkpointer)?;
        let wal = Arc::new(WalSync::new(path));
        let engine = Arc::new(SqliteEngine {
            path: path.to_string(),
            readers,
            writer: Arc::new(tokio::sync::Mutex::new(Writer {
                conn: Some(writer),
                group: Vec::new(),
                savepoint: false,
                checkpointer: checkpointer.clone(),
            })),
            waiting: AtomicUsize::new(0),
            committer_queued: AtomicBool::new(false),
            acquire_timeout,
            flusher: Flusher::start(wal.clone())?,
            wal,
            held: HeldQueue::new(),
            checkpointer,
            before_commit,
        });
        engine.held.start(Arc::downgrade(&engine))?;
        Ok(engine)
    }

    /// Runs `f` on a read connection, on this thread (`sqlite_readers.rs`: inside a read
    /// transaction kept from an earlier read while nothing was committed since).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.readers.read(f)
    }

    /// A read connection outside any transaction, for a snapshot of its own.
    pub fn take_reader(&self) -> Result<Connection> {
        self.readers.take_connection()
    }

    pub fn put_reader(&self, conn: Connection) {
        self.readers.put_connection(conn);
    }

    /// Takes the writer for one transaction: first in a group, the group's `BEGIN
    /// IMMEDIATE`, otherwise a savepoint of its own.
    pub async fn begin_write(self: &Arc<Self>) -> Result<WriterGuard> {
        let guard = self.lock_writer().await?;
        self.begin_in(guard, true).await
    }

    /// Takes the writer for a large transaction, always the first of its group: a group
    /// already open is committed first. Its statements' journals then live only as long as
    /// each statement, not as long as the transaction (see `prepare_writer`).
    pub async fn begin_write_alone(self: &Arc<Self>) -> Result<WriterGuard> {
        loop {
            let guard = self.lock_writer().await?;
            if guard.conn.as_ref().is_none_or(Connection::is_autocommit) {
                return self.begin_in(guard, true).await;
            }
            self.clone().commit_group(guard).await;
        }
    }

    /// Waits for the writer; every transaction's wait is measured here, whether it takes
    /// the writer at its first statement, at its commit (`commit_held`) or for bulk work.
    async fn lock_writer(&self) -> Result<WriterGuard> {
        let asked = std::time::Instant::now();
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let queued = Queued(&self.waiting);
        let lock = tokio::time::timeout(self.acquire_timeout, self.writer.clone().lock_owned()).await;
        drop(queued);
        metrics::histogram!(crate::telemetry::names::DB_ACQUIRE, "kind" => "write").record(asked.elapsed());
        lock.map_err(|_| Error::PoolTimedOut)
    }

    /// Opens the group if none is, otherwise (with `savepoint`) a savepoint of the
    /// transaction's own.
    async fn begin_in(self: &Arc<Self>, mut guard: WriterGuard, savepoint: bool) -> Result<WriterGuard> {
        self.wal.check()?;
        self.reopen_if_closed(&mut guard)?;
        // A group is open exactly while the writer is inside a transaction.
        let first = guard.connection().is_autocommit();
        let started = if first {
            self.begin_group(&mut guard).await
        } else if savepoint {
            guard.connection().execute_batch("SAVEPOINT tx")
        } else {
            Ok(())
        };
        guard.savepoint = !first && savepoint;
        if let Err(e) = started {
            let e = Error::from(e);
            fail_group(&mut guard, &e);
            discard_if_in_transaction(&mut guard);
            return Err(e);
        }
        Ok(guard)
    }

    /// `BEGIN IMMEDIATE`, waiting asynchronously while another process (an admin command)
    /// holds the write lock: the writer connection's busy timeout is short, so a wait
    /// never blocks a runtime thread for long.
    /// (`&mut`: a shared reference to the guard would not be `Send`, the connection not
    /// being `Sync`.)
    async fn begin_group(&self, guard: &mut WriterGuard) -> rusqlite::Result<()> {
        let deadline = tokio::time::Instant::now() + self.acquire_timeout;
        loop {
            match guard.connection().execute_batch("BEGIN IMMEDIATE") {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                other => return other,
            }
        }
    }

    /// Finishes a transaction: releases its savepoint (if it has one) and answers once the
    /// group's `COMMIT` has reached the disk.
    pub async fn commit(self: &Arc<Self>, mut guard: WriterGuard) -> Result<()> {
        let released = if guard.savepoint { guard.connection().execute_batch("RELEASE tx") } else { Ok(()) };
        if let Err(e) = released {
            let e = Error::from(e);
            fail_group(&mut guard, &e);
            discard_if_in_transaction(&mut guard);
            return Err(e);
        }
        self.join_group(guard).await
    }

    /// The writer connection again after a failure closed it.
    fn reopen_if_closed(&self, guard: &mut WriterGuard) -> Result<()> {
        if guard.conn.is_none() {
            let conn = open_connection(&self.path, false)?;
            prepare_writer(&conn, &guard.checkpointer)?;
            guard.conn = Some(conn);
        }
        Ok(())
    }

    /// Runs and commits a transaction whose statements were all held back until its commit
    /// (`Tx::defer`: a create's row, its audit row and its outbox row): the writer thread
    /// runs it with the others queued beside it, in the open group or a new one, with no
    /// savepoint of its own (`run_held`); answered once its group is on disk.
    ///
    /// The statements are freed here, after the answer, not on the writer thread: glibc's
    /// `free` of memory another thread allocated takes that thread's arena lock, and the
    /// writer, freeing what the runtime threads had allocated while they went on
    /// allocating, waited for that lock at half of its context switches under load.
    pub async fn commit_held(self: &Arc<Self>, statements: Vec<Deferred>) -> Result<()> {
        let (done, answer) = oneshot::channel();
        let statements = Arc::new(statements);
        self.held.push(Held { statements: statements.clone(), queued: std::time::Instant::now(), done });
        let outcome = answer.await.unwrap_or_else(|_| Err(Error::Connect("the group commit was abandoned".into())));
        drop(statements);
        outcome
    }

    /// Runs a batch of held transactions on the writer thread and commits them as one
    /// group (with the open group's transactions, if one is open). Their statements are
    /// known whole before they run, so nothing of another transaction runs between them,
    /// and none needs a savepoint.
    ///
    /// A savepoint would copy every page the transaction changes to a journal in memory
    /// before changing it (for a patient create about a tenth of its instructions) only to
    /// undo the transaction alone if it fails. Without one:
    /// - when its first statement fails (a unique key taken), SQLite has undone that
    ///   statement alone, nothing else of the transaction was written, and the group goes
    ///   on without it;
    /// - when a later statement fails (an I/O error, a full disk), what the earlier ones
    ///   wrote cannot be undone alone: the whole group is rolled back and every transaction
    ///   of it fails. None of them has been answered yet, so nothing acknowledged is lost.
    ///   The rest of the batch goes on in a new group.
    pub(super) fn run_held(self: &Arc<Self>, batch: Vec<Held>) {
        let mut guard = {
            self.waiting.fetch_add(1, Ordering::AcqRel);
            let _queued = Queued(&self.waiting);
            self.writer.clone().blocking_lock_owned()
        };
        for held in batch {
            let waited = held.queued.elapsed();
            metrics::histogram!(crate::telemetry::names::DB_ACQUIRE, "kind" => "write").record(waited);
            if waited > self.acquire_timeout {
                let _ = held.done.send(Err(Error::PoolTimedOut));
                continue;
            }
            if let Err(e) = self.begin_blocking(&mut guard) {
                let _ = held.done.send(Err(e));
                continue;
            }
            let failed = held.statements.iter().enumerate().find_map(|(i, statement)| {
                run(guard.connection(), &statement.sql, &statement.args, Want::Count).err().map(|e| (i, e))
            });
            match failed {
                None => guard.group.push(held.done),
                // SQLite undid the statement alone: the group stands, unless SQLite ended
                // the whole transaction itself (it does after some I/O errors): then the
                // group's writes are gone, and a later member must not begin a new
                // transaction and commit them as if they were in it.
                Some((0, e)) => {
                    if guard.connection().is_autocommit() && !guard.group.is_empty() {
                        fail_group(&mut guard, &rolled_back());
                    }
                    let _ = held.done.send(Err(e));
                }
                Some((_, e)) => {
                    fail_group(&mut guard, &e);
                    discard_if_in_transaction(&mut guard);
                    let _ = held.done.send(Err(e));
                }
            }
        }
        if guard.group.is_empty() {
            // Nothing to commit: do not keep the write lock (another process may wait).
            discard_if_in_transaction(&mut guard);
            return;
        }
        self.commit_now(guard);
    }

    /// On the writer thread: the writer connection inside a transaction, the open group's
    /// or a new one (`BEGIN IMMEDIATE`, waiting while another process holds the write lock).
    fn begin_blocking(&self, guard: &mut WriterGuard) -> Result<()> {
        self.wal.check()?;
        self.reopen_if_closed(guard)?;
        if !guard.connection().is_autocommit() {
            return Ok(());
        }
        let deadline = std::time::Instant::now() + self.acquire_timeout;
        loop {
            match guard.connection().execute_batch("BEGIN IMMEDIATE") {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                other => return other.map_err(Error::from),
            }
        }
    }

    /// Adds a finished transaction to the open group and answers once the group's `COMMIT`
    /// has reached the disk.
    async fn join_group(self: &Arc<Self>, mut guard: WriterGuard) -> Result<()> {
        if guard.connection().is_autocommit() {
            // SQLite ended the transaction itself (it does after some I/O errors): nothing
            // of the group is committed.
            let e = rolled_back();
            fail_group(&mut guard, &e);
            return Err(e);
        }
        let (done, answer) = oneshot::channel();
        guard.group.push(done);
        if self.waiting.load(Ordering::Acquire) == 0 || guard.group.len() >= MAX_GROUP {
            self.clone().commit_group(guard).await;
        } else {
            // Others are queued: they join the group, and a committer queued behind them
            // commits it (unless one already is).
            if !self.committer_queued.swap(true, Ordering::AcqRel) {
                let engine = self.clone();
                tokio::spawn(async move { engine.commit_open_group().await });
            }
            drop(guard);
        }
        answer.await.unwrap_or_else(|_| Err(Error::Connect("the group commit was abandoned".into())))
    }

    /// Rolls back a transaction that ends without a commit (an error, a cancelled request).
    pub fn rollback(self: &Arc<Self>, mut guard: WriterGuard) {
        let undone = match guard.conn.as_ref() {
            Some(conn) if !conn.is_autocommit() && guard.savepoint => {
                conn.execute_batch("ROLLBACK TO tx").and_then(|_| conn.execute_batch("RELEASE tx"))
            }
            // No savepoint: the first of its group (its group is empty, so the whole
            // transaction is rolled back below), or a transaction of `commit_held` whose
            // first statement failed (SQLite undid that statement alone).
            _ => Ok(()),
        };
        match undone {
            Err(e) => {
                let e = Error::from(e);
                fail_group(&mut guard, &e);
                discard_if_in_transaction(&mut guard);
            }
            Ok(()) if guard.conn.as_ref().is_some_and(|c| c.is_autocommit()) && !guard.group.is_empty() => {
                let e = rolled_back();
                fail_group(&mut guard, &e);
            }
            Ok(()) => {}
        }
        if guard.group.is_empty() {
            // Nothing of the group is waiting: end the outer transaction too, so that the
            // write lock is not kept (another process may be waiting for it).
            discard_if_in_transaction(&mut guard);
        }
        if !guard.group.is_empty() && !self.committer_queued.swap(true, Ordering::AcqRel) {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let engine = self.clone();
                runtime.spawn(async move { engine.commit_open_group().await });
            }
        }
    }

    async fn commit_open_group(self: Arc<Self>) {
        let guard = self.writer.clone().lock_owned().await;
        self.committer_queued.store(false, Ordering::Release);
        if !guard.group.is_empty() {
            self.clone().commit_group(guard).await;
        }
    }

    /// `commit_now` on a blocking thread.
    async fn commit_group(self: Arc<Self>, guard: WriterGuard) {
        if let Err(e) = tokio::task::spawn_blocking(move || self.commit_now(guard)).await {
            tracing::error!(error = %e, "the group commit task failed");
        }
    }

    /// The store's `before_commit` statements and `COMMIT`, then, with the writer let go,
    /// the group handed to the flusher, which answers it once the log is on disk.
    fn commit_now(&self, mut guard: WriterGuard) {
        if guard.connection().is_autocommit() {
            // SQLite ended the transaction itself (it does after some I/O errors): nothing
            // of the group is committed.
            let e = rolled_back();
            fail_group(&mut guard, &e);
            return;
        }
        let conn = guard.connection();
        let result = self
            .before_commit
            .iter()
            .try_for_each(|sql| conn.prepare_cached(sql)?.execute([]).map(|_| ()))
            .and_then(|()| conn.execute_batch("COMMIT"));
        let ticket = match result {
            Ok(()) => self.wal.committed().map_err(Error::from),
            Err(e) => {
                discard_if_in_transaction(&mut guard);
                Err(Error::from(e))
            }
        };
        let members = std::mem::take(&mut guard.group);
        drop(guard);
        self.flusher.answer(Committed { ticket: ticket.map_err(|e| Error::Commit(Arc::new(e))), members });
    }

    /// The writer (held or not, and how many transactions queue for it) and the idle read
    /// connections, for the metrics.
    pub fn status(&self) -> Vec<super::PoolStatus> {
        // A lock taken and let go at once; it fails while a transaction holds the writer.
        let in_use = usize::from(self.writer.try_lock().is_err());
        let idle_readers = self.readers.idle();
        vec![
            super::PoolStatus {
                pool: "sqlite_writer",
                max: Some(1),
                idle: 1 - in_use,
                in_use: Some(in_use),
                waiting: self.waiting.load(Ordering::Acquire),
            },
            super::PoolStatus { pool: "sqlite_readers", max: None, idle: idle_readers, in_use: None, waiting: 0 },
        ]
    }

    /// The writer connection for work outside the API's transactions (migrations).
    pub async fn writer(&self) -> WriterGuard {
        self.writer.clone().lock_owned().await
    }
}

impl Drop for SqliteEngine {
    fn drop(&mut self) {
        self.held.stop();
        self.checkpointer.stop();
    }
}

/// Counts a transaction as queued for the writer until it has the lock or gives up.
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The error the other members of a failed group get: what failed, as a commit failure
/// (their writes are gone), classified as the original (a full disk stays a full disk,
/// `507`, for every member, not only for the one whose statement met it).
pub(super) fn shared(e: &Error) -> Error {
    match e {
        Error::Commit(inner) => Error::Commit(inner.clone()),
        Error::Sqlite(rusqlite::Error::SqliteFailure(code, message)) => {
            Error::Commit(Arc::new(Error::Sqlite(rusqlite::Error::SqliteFailure(*code, message.clone()))))
        }
        other => Error::Commit(Arc::new(Error::Connect(other.to_string()))),
    }
}

/// The failure of a group whose transaction SQLite ended itself (it does after some I/O
/// errors, and for `INSERT OR ROLLBACK`): nothing of the group is committed.
fn rolled_back() -> Error {
    Error::Commit(Arc::new(Error::Connect("SQLite rolled the transaction back".into())))
}

/// Answers every finished transaction of the open group with `e`: their writes are gone.
fn fail_group(guard: &mut WriterGuard, e: &Error) {
    let e = shared(e);
    for waiter in guard.group.drain(..) {
        let _ = waiter.send(Err(shared(&e)));
    }
}

/// After a failure the transaction's state is unknown: roll everything back, and when even
/// that fails, close the connection (the next transaction opens a fresh one).
fn discard_if_in_transaction(guard: &mut WriterGuard) {
    let Some(conn) = guard.conn.as_ref() else { return };
    if conn.is_autocommit() {
        return;
    }
    if conn.execute_batch("ROLLBACK").is_err() || !conn.is_autocommit() {
        guard.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::{run, shared, Error, Want};
    use crate::store::errors::{classify, Failure};
    use crate::store::sql::value::Value;

    #[test]
    fn the_group_shares_a_failure_classified_as_the_original() {
        let full = Error::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        ));
        let member = shared(&full);
        assert!(matches!(member, Error::Commit(_)), "not retried: {member}");
        assert_eq!(classify(&member), Failure::StorageFull, "a full disk is 507 for every member");
        assert_eq!(classify(&shared(&member)), Failure::StorageFull);
        let busy =
            Error::Sqlite(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None));
        assert_eq!(classify(&shared(&busy)), Failure::Unavailable);
    }

    #[tokio::test]
    async fn a_commit_is_answered_once_the_log_is_on_disk_and_a_failed_flush_stops_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let engine = super::SqliteEngine::open(path.to_str().unwrap(), std::time::Duration::from_secs(5), &[]).unwrap();
        for sql in ["CREATE TABLE t (x INTEGER)", "INSERT INTO t (x) VALUES (1)"] {
            let guard = engine.begin_write().await.unwrap();
            guard.connection().execute_batch(sql).unwrap();
            engine.commit(guard).await.unwrap();
        }
        assert_eq!(engine.wal.durable(), 2, "each commit was flushed before it was answered");
        let n: i64 = engine.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?)).unwrap();
        assert_eq!(n, 1);
        engine.wal.poison();
        let refused = engine.begin_write().await.err().expect("writes are refused after a failed flush");
        assert_eq!(classify(&refused), Failure::Unavailable, "{refused}");
    }

    fn count(engine: &super::SqliteEngine) -> i64 {
        engine.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?)).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_first_of_a_group_needs_no_savepoint_and_a_bulk_transaction_is_always_first() {
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let engine = super::SqliteEngine::open(path.to_str().unwrap(), Duration::from_secs(5), &[]).unwrap();
        let guard = engine.begin_write().await.unwrap();
        guard.connection().execute_batch("CREATE TABLE t (x INTEGER UNIQUE)").unwrap();
        engine.commit(guard).await.unwrap();

        // The first of a group rolls back alone: the group's transaction ends with it.
        let first = engine.begin_write().await.unwrap();
        assert!(!first.savepoint, "the first of a group runs in the BEGIN itself");
        first.connection().execute_batch("INSERT INTO t VALUES (1)").unwrap();
        engine.rollback(first);
        assert_eq!(count(&engine), 0);

        // A group of three: the first commits, the second fails and rolls back to its
        // savepoint, and a bulk transaction queued behind them finds the group committed.
        let first = engine.begin_write().await.unwrap();
        first.connection().execute_batch("INSERT INTO t VALUES (1)").unwrap();
        let second = tokio::spawn({
            let engine = engine.clone();
            async move {
                let guard = engine.begin_write().await.unwrap();
                assert!(guard.savepoint, "a later member runs in a savepoint of its own");
                guard.connection().execute_batch("INSERT INTO t VALUES (2)").unwrap();
                assert!(guard.connection().execute_batch("INSERT INTO t VALUES (1)").is_err());
                engine.rollback(guard);
            }
        });
        queued(&engine, 1).await;
        let first_done = tokio::spawn({
            let engine = engine.clone();
            async move { engine.commit(first).await }
        });
        second.await.unwrap();
        let bulk = engine.begin_write_alone().await.unwrap();
        assert!(!bulk.savepoint, "a bulk transaction opens the group");
        assert_eq!(count(&engine), 1, "the open group was committed before the bulk transaction began");
        bulk.connection().execute_batch("INSERT INTO t VALUES (3)").unwrap();
        engine.commit(bulk).await.unwrap();
        first_done.await.unwrap().unwrap();
        assert_eq!(rows(&engine), [1, 3]);
    }

    fn rows(engine: &super::SqliteEngine) -> Vec<i64> {
        engine
            .read(|c| {
                Ok(c.prepare("SELECT x FROM t ORDER BY x")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?)
            })
            .unwrap()
    }

    fn inserts(values: &[i64]) -> Vec<crate::store::sql::Deferred> {
        values
            .iter()
            .map(|v| {
                crate::store::sql::Deferred::new(
                    "INSERT INTO t (x) VALUES ($1)",
                    vec![crate::store::sql::Value::Int(*v)],
                )
            })
            .collect()
    }

    /// Waits until `n` transactions queue for the writer.
    async fn queued(engine: &super::SqliteEngine, n: usize) {
        while engine.waiting.load(std::sync::atomic::Ordering::Acquire) < n {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// Waits until `n` held transactions queue for the writer thread, behind the batch it
    /// is running or waiting to run.
    async fn held_queued(engine: &super::SqliteEngine, n: usize) {
        while engine.held.len() < n {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// An engine on a new database with one table `t (x INTEGER UNIQUE)`, made by a held
    /// transaction.
    async fn with_unique_table(dir: &tempfile::TempDir) -> std::sync::Arc<super::SqliteEngine> {
        let path = dir.path().join("t.db");
        let engine = super::SqliteEngine::open(path.to_str().unwrap(), std::time::Duration::from_secs(5), &[]).unwrap();
        let create = crate::store::sql::Deferred::new("CREATE TABLE t (x INTEGER UNIQUE)", vec![]);
        engine.commit_held(vec![create]).await.unwrap();
        engine
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn held_writes_run_without_a_savepoint_and_a_failed_first_statement_leaves_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let engine = with_unique_table(&dir).await;

        // A group: one transaction holding the writer, then two held ones queued behind it.
        let first = engine.begin_write().await.unwrap();
        first.connection().execute_batch("INSERT INTO t VALUES (1)").unwrap();
        let taken = tokio::spawn({
            let engine = engine.clone();
            async move { engine.commit_held(inserts(&[1, 4])).await }
        });
        queued(&engine, 1).await;
        let fine = tokio::spawn({
            let engine = engine.clone();
            async move { engine.commit_held(inserts(&[2, 3])).await }
        });
        held_queued(&engine, 1).await;
        engine.commit(first).await.unwrap();
        let refused = taken.await.unwrap().expect_err("its first statement breaks the unique key");
        assert!(!matches!(refused, Error::Commit(_)), "it fails alone, not as a group: {refused}");
        fine.await.unwrap().unwrap();
        assert_eq!(rows(&engine), [1, 2, 3], "nothing of the refused transaction, everything of the others");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_held_transaction_failing_after_its_first_statement_fails_its_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let engine = with_unique_table(&dir).await;

        let first = engine.begin_write().await.unwrap();
        first.connection().execute_batch("INSERT INTO t VALUES (10)").unwrap();
        let broken = tokio::spawn({
            let engine = engine.clone();
            // Its second statement fails: what its first wrote cannot be undone alone.
            async move { engine.commit_held(inserts(&[11, 10])).await }
        });
        queued(&engine, 1).await;
        let first_done = tokio::spawn({
            let engine = engine.clone();
            async move { engine.commit(first).await }
        });
        assert!(broken.await.unwrap().is_err());
        let lost = first_done.await.unwrap().expect_err("the group it joined is rolled back");
        assert!(matches!(lost, Error::Commit(_)), "{lost}");
        assert_eq!(rows(&engine), Vec::<i64>::new(), "none of the group was written, none was acknowledged");
        // The writer goes on.
        engine.commit_held(inserts(&[12])).await.unwrap();
        assert_eq!(rows(&engine), [12]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_held_transaction_whose_failure_ends_the_transaction_fails_the_group_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let engine = with_unique_table(&dir).await;
        let held = |sql: &'static str| {
            let engine = engine.clone();
            let statement = crate::store::sql::Deferred::new(sql, vec![]);
            tokio::spawn(async move { engine.commit_held(vec![statement]).await })
        };
        // The writer thread waits for the writer with a first batch; the next three queue.
        let first = engine.begin_write().await.unwrap();
        first.connection().execute_batch("INSERT INTO t VALUES (0)").unwrap();
        let waiting = held("INSERT INTO t VALUES (10)");
        queued(&engine, 1).await;
        let kept = held("INSERT INTO t VALUES (1)");
        held_queued(&engine, 1).await;
        // Its unique key taken, it makes SQLite roll back the whole transaction.
        let ends_it = held("INSERT OR ROLLBACK INTO t VALUES (1)");
        held_queued(&engine, 2).await;
        let after = held("INSERT INTO t VALUES (2)");
        held_queued(&engine, 3).await;
        engine.commit(first).await.unwrap();
        waiting.await.unwrap().unwrap();
        assert!(ends_it.await.unwrap().is_err());
        let lost = kept.await.unwrap().expect_err("its row went with the rolled-back transaction");
        assert!(matches!(lost, Error::Commit(_)), "{lost}");
        after.await.unwrap().unwrap();
        assert_eq!(rows(&engine), [0, 2, 10], "every answered write is there, and only those");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn held_transactions_queued_together_share_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let engine = with_unique_table(&dir).await;
        assert_eq!(engine.wal.durable(), 1);

        // The writer is taken: the first held transaction waits with the writer thread,
        // the next 19 queue behind it.
        let first = engine.begin_write().await.unwrap();
        first.connection().execute_batch("INSERT INTO t VALUES (0)").unwrap();
        let spawn = |x: i64| {
            let engine = engine.clone();
            tokio::spawn(async move { engine.commit_held(inserts(&[x])).await })
        };
        let mut held = vec![spawn(1)];
        queued(&engine, 1).await;
        held.extend((2..=20).map(spawn));
        held_queued(&engine, 19).await;
        engine.commit(first).await.unwrap();
        for h in held {
            h.await.unwrap().unwrap();
        }
        assert_eq!(rows(&engine), (0..=20).collect::<Vec<i64>>());
        // One group for the open transaction and the one waiting with the thread, one for
        // the 19 behind it: without the batching, one commit each.
        assert_eq!(engine.wal.durable(), 3, "21 transactions, 2 commits");
    }

    /// An engine whose checkpoint thread wakes every 1,000 frames of log.
    fn checkpointing_every_1000_frames(path: &std::path::Path) -> std::sync::Arc<super::SqliteEngine> {
        super::SqliteEngine::open_checkpointing_every(
            path.to_str().unwrap(),
            std::time::Duration::from_secs(5),
            &[],
            1000,
        )
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_is_checkpointed_beside_the_writer_and_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let engine = checkpointing_every_1000_frames(&path);
        let statement = |sql: &str| crate::store::sql::Deferred::new(sql, vec![]);
        engine.commit_held(vec![statement("CREATE TABLE b (x BLOB)")]).await.unwrap();
        let db_size = || std::fs::metadata(&path).unwrap().len();
        let log_frames = || std::fs::metadata(dir.path().join("t.db-wal")).unwrap().len() / (4096 + 24);
        let before = db_size();
        // About 17 frames a commit: 1,000 frames after 60 commits wake the thread, which
        // copies them into the database file while the writer goes on.
        let blob = || statement("INSERT INTO b (x) VALUES (zeroblob(65536))");
        for _ in 0..80 {
            engine.commit_held(vec![blob()]).await.unwrap();
        }
        let waited = std::time::Instant::now();
        // (Its blobs' pages are new: copied, they grow the file by their 3.5 MB or so.)
        while db_size() <= before + 3_000_000 && waited.elapsed() < std::time::Duration::from_secs(10) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(db_size() > before + 3_000_000, "the thread copied the log into the database file");
        // Past 4,000 frames a commit copies what is left and the log starts over: 800
        // commits (about 13,600 frames) leave it well short of its length without.
        for _ in 0..720 {
            engine.commit_held(vec![blob()]).await.unwrap();
        }
        assert!(log_frames() < 5_000, "the log started over: {} frames long", log_frames());
        let n: i64 = engine.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM b", [], |r| r.get(0))?)).unwrap();
        assert_eq!(n, 800);
    }

    /// Three readers at once (reads nested in reads each take their own connection), each
    /// answering `COUNT(*)` of `t` and whether it kept its transaction.
    fn three_readers(engine: &super::SqliteEngine) -> Vec<(i64, bool)> {
        let one = |c: &rusqlite::Connection| -> crate::store::sql::Result<(i64, bool)> {
            Ok((c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?, !c.is_autocommit()))
        };
        engine.read(|a| engine.read(|b| engine.read(|c| Ok(vec![one(a)?, one(b)?, one(c)?])))).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_keep_their_transaction_only_while_nothing_was_committed_by_any_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let engine = super::SqliteEngine::open(path.to_str().unwrap(), std::time::Duration::from_secs(5), &[]).unwrap();
        let statement = |sql: &str| crate::store::sql::Deferred::new(sql, vec![]);
        engine.commit_held(vec![statement("CREATE TABLE t (x INTEGER)")]).await.unwrap();
        assert_eq!(three_readers(&engine), vec![(0, true); 3], "each reader reads inside a transaction it keeps");
        assert_eq!(three_readers(&engine), vec![(0, true); 3]);

        // A commit through the engine's writer: every reader's next read sees it.
        engine.commit_held(vec![statement("INSERT INTO t VALUES (1)")]).await.unwrap();
        assert_eq!(three_readers(&engine), vec![(1, true); 3]);

        // A commit by another connection, as another process (the CLI) makes one.
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("INSERT INTO t VALUES (2)").unwrap();
        assert_eq!(three_readers(&engine), vec![(2, true); 3]);
        for n in 3..=20 {
            other.execute_batch("INSERT INTO t VALUES (0)").unwrap();
            assert_eq!(count(&engine), n, "a read after a commit sees it");
        }
        // A snapshot of its own (`Db::begin_read`) starts outside the kept transaction.
        let conn = engine.take_reader().unwrap();
        assert!(conn.is_autocommit());
        engine.put_reader(conn);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_readers_let_go_of_the_frames_their_kept_transaction_held_for_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let engine = checkpointing_every_1000_frames(&path);
        let statement = |sql: &str| crate::store::sql::Deferred::new(sql, vec![]);
        engine.commit_held(vec![statement("CREATE TABLE t (x BLOB)")]).await.unwrap();
        engine.commit_held(vec![statement("INSERT INTO t (x) VALUES (zeroblob(65536))")]).await.unwrap();
        // Three readers go idle inside transactions that see the log as it is now.
        assert_eq!(three_readers(&engine), vec![(1, true); 3]);
        let log_frames = || std::fs::metadata(dir.path().join("t.db-wal")).unwrap().len() / (4096 + 24);
        // Without a read in between, the log starts over all the same (800 commits, about
        // 13,600 frames, as in the test above).
        for _ in 0..800 {
            engine.commit_held(vec![statement("INSERT INTO t (x) VALUES (zeroblob(65536))")]).await.unwrap();
        }
        assert!(log_frames() < 5_000, "the log started over: {} frames long", log_frames());
        assert_eq!(three_readers(&engine), vec![(801, true); 3]);
    }

    #[test]
    fn dollar_placeholders_bind_the_argument_they_number_outside_strings() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let texts = |sql: &str, args: &[&str]| -> Vec<String> {
            let args: Vec<Value> = args.iter().map(|a| Value::Text((*a).to_string())).collect();
            let out = run(&conn, sql, &args, Want::First).unwrap();
            let row = out.rows.into_iter().next().unwrap();
            (0..row.len()).map(|i| row.get::<String, _>(i)).collect()
        };
        assert_eq!(texts("SELECT $2, $1, $2", &["a", "b"]), ["b", "a", "b"]);
        assert_eq!(texts("SELECT '$1' || $1", &["x"]), ["$1x"]);
        assert_eq!(texts("SELECT $3, $1", &["a", "b", "c"]), ["c", "a"], "a number left out is skipped");
        assert_eq!(texts("SELECT ?2, ?1", &["a", "b"]), ["b", "a"]);
        let missing = run(&conn, "SELECT $1, $2", &[Value::Text("a".into())], Want::First).err().unwrap();
        assert!(matches!(missing, Error::Arguments { want: 2, got: 1 }), "{missing}");
    }
}
