//! A SQLite connection of the engine's: how each is opened and set up (the library once,
//! every connection, the writer's own settings), and how one statement runs on it with the
//! store's `$n` parameters. `sqlite.rs` is the engine that shares these connections out.

use super::checkpointer::Checkpointer;
use super::error::{Error, Result};
use super::row::Row;
use super::sqlite::{STATEMENT_CACHE, WRITER_BUSY_MS, WRITER_SYNCHRONOUS};
use super::value::Value;
use rusqlite::{Connection, OpenFlags};
use std::sync::Arc;

/// The writer's settings on top of `open_connection`'s:
/// - commits that do not wait for the disk: the group's flush follows on the flusher
///   thread, with the writer let go.
/// - the log hook of `checkpointer.rs` in place of SQLite's automatic checkpoint.
/// - statement journals in memory (`temp_store = MEMORY`). Inside a transaction SQLite
///   copies every page a statement changes to a journal first, so that a failing statement
///   can be undone alone; inside a savepoint the copies stay until the savepoint ends.
///   With the default (memory up to 64 KiB, then a temporary file) a patient create, about
///   35 pages, spilled to a file: a `pwrite` per page. In memory the journal costs a
///   transaction of the API a few hundred KiB at most; large transactions
///   (`begin_write_alone`: a seed's batches, snapshots, the reset sweep) run without a
///   savepoint, so their statements' copies are dropped statement by statement.
///   (A larger spill threshold through `sqlite3_config` is no alternative: SQLite then
///   allocates the in-memory journal in chunks of that size.)
pub(super) fn prepare_writer(conn: &Connection, checkpointer: &Arc<Checkpointer>) -> Result<()> {
    conn.execute_batch(&format!("PRAGMA synchronous = {WRITER_SYNCHRONOUS}; PRAGMA temp_store = MEMORY;"))?;
    checkpointer.install(conn);
    Ok(())
}

/// Settings of the SQLite library itself, made once before its first connection opens
/// (SQLite refuses them after it has initialized).
/// - No memory statistics (`SQLITE_CONFIG_MEMSTATUS`): with them every allocation SQLite
///   makes takes and releases one process-wide mutex to count bytes, which nothing here
///   reads. A write in a group's savepoint allocates for every page it journals: under the
///   create load that lock was 1.2 % of the server's CPU, and all connections contend on it.
fn configure_library() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use rusqlite::ffi::{sqlite3_config, SQLITE_CONFIG_MEMSTATUS, SQLITE_OK};
        // SAFETY: sqlite3_config is called before any connection of this process opened
        // (`open_connection` is the first caller, through this Once), with the argument
        // type the option takes (an int); if another opener ran first SQLite answers
        // SQLITE_MISUSE and keeps its defaults, which is slower but correct.
        let rc = unsafe { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int) };
        if rc != SQLITE_OK {
            tracing::debug!(rc, "SQLite memory statistics left on");
        }
    });
}

pub(super) fn open_connection(path: &str, read_only: bool) -> Result<Connection> {
    configure_library();
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // The writer's log writes go out once per commit (`wal_batch.rs`); readers write nothing.
    let conn = if read_only {
        Connection::open_with_flags(path, flags)?
    } else {
        super::wal_batch::register().map_err(|rc| Error::Connect(format!("registering SQLite's VFS failed ({rc})")))?;
        Connection::open_with_flags_and_vfs(path, flags, super::wal_batch::NAME)?
    };
    // Readers wait only through a recovery or a schema change.
    let busy = if read_only { 10_000 } else { WRITER_BUSY_MS };
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Plans that do not depend on the values bound. Without this, SQLite (3.54) marks a
    // statement to be prepared again whenever a parameter changes if its plan looked at
    // the value (a join whose key is also compared with a parameter, as the patient read
    // with its enrolments): a cached statement was re-parsed and re-planned on every use,
    // 29 % of the CPU of a read by id. Our plans come from the indexes, not from the values.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // FULL: a commit reaches the disk before it returns (the writer lowers this to NORMAL
    // and flushes the log itself, see `prepare_writer`).
    conn.execute_batch(&format!("PRAGMA synchronous = FULL; PRAGMA busy_timeout = {busy}; PRAGMA foreign_keys = ON;"))?;
    if read_only {
        // Every write goes through the writer and its transactions; a write on a read
        // connection is a defect and fails loudly.
        conn.execute_batch("PRAGMA query_only = ON")?;
    }
    Ok(conn)
}

/// The store writes PostgreSQL's `$n` placeholders. SQLite reads `$1` as a parameter
/// *named* "$1" (numbered by first appearance, the same number wherever the name appears;
/// inside a string literal it is text, as in PostgreSQL), so each of a statement's
/// parameters is bound to the argument its name numbers. This reads the few-byte names
/// SQLite keeps rather than rewriting the statement's text before every run (a pass over
/// every character of it, and a new string, for each statement: 8k instructions of a
/// patient insert).
fn bind_numbered(stmt: &mut rusqlite::Statement<'_>, args: &[Value]) -> Result<()> {
    for index in 1..=stmt.parameter_count() {
        let number = stmt
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$').or_else(|| name.strip_prefix('?')))
            .and_then(|digits| digits.parse::<usize>().ok())
            .unwrap_or(0);
        let arg = number.checked_sub(1).and_then(|i| args.get(i));
        let arg = arg.ok_or(Error::Arguments { want: number.max(index), got: args.len() })?;
        stmt.raw_bind_parameter(index, arg)?;
    }
    Ok(())
}

/// What a statement is run for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Rows changed.
    Count,
    /// The first row, if any.
    First,
    All,
}

pub struct Output {
    pub rows: Vec<Row>,
    pub affected: u64,
}

/// Runs one statement on `conn`, on this thread.
pub fn run(conn: &Connection, sql: &str, args: &[Value], want: Want) -> Result<Output> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind_numbered(&mut stmt, args)?;
    let width = stmt.column_count();
    if width == 0 {
        let affected = stmt.raw_execute()?;
        return Ok(Output { rows: Vec::new(), affected: affected as u64 });
    }
    let columns: Arc<[String]> = stmt.column_names().map(str::to_string).collect();
    let mut rows = Vec::new();
    let mut raw = stmt.raw_query();
    while let Some(row) = raw.next()? {
        if want != Want::Count {
            let values = (0..width).map(|i| row.get_ref(i).map(Value::from_sqlite)).collect::<Result<_, _>>()?;
            rows.push(Row::new(columns.clone(), values));
            if want == Want::First {
                break;
            }
        }
    }
    drop(raw);
    let affected = if want == Want::Count { conn.changes() } else { 0 };
    Ok(Output { rows, affected })
}
