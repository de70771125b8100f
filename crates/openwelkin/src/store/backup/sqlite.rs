//! SQLite backups through the online backup API (rusqlite's `backup` feature).

use super::{part_path, publish, remove_if_exists};
use anyhow::{bail, Context};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a copy waits for a lock it needs (a checkpoint, a schema change, a restart).
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// What a copy holds.
#[derive(Debug)]
pub struct Copied {
    pub bytes: u64,
    /// Migrations recorded in the copy (the schema version it carries).
    pub migrations: i64,
}

/// Copies the live database `source` to `out` (replacing it), consistently, while other
/// processes read and write it.
pub fn backup(source: &str, out: &Path) -> anyhow::Result<Copied> {
    crate::store::reach::check_sqlite_path(source)?;
    if !Path::new(source).is_file() {
        bail!("there is no SQLite database at {source}");
    }
    if same_file(Path::new(source), out) {
        bail!("--out {} is the database itself", out.display());
    }
    let src = open_existing(Path::new(source)).with_context(|| format!("opening {source}"))?;
    copy_to(&src, out).with_context(|| format!("copying {source} to {}", out.display()))
}

/// Restores the backup `from` as the database `target`. An existing `target` is refused
/// unless `force`, and even then while any process has it open.
pub fn restore(from: &Path, target: &str, force: bool) -> anyhow::Result<Copied> {
    crate::store::reach::check_sqlite_path(target)?;
    let src = open_existing(from).with_context(|| format!("opening the backup {}", from.display()))?;
    check(&src).with_context(|| format!("{} is not an openwelkin SQLite backup", from.display()))?;
    let target_path = Path::new(target);
    let wal = sidecar(target_path, "-wal");
    if target_path.exists() || wal.exists() {
        if !force {
            bail!(
                "the database {target} exists: restore into a new path (and point --database at it), \
                 or stop every server and command using it and pass --force to replace it"
            );
        }
        ensure_unused(target_path)?;
        remove_if_exists(&wal)?;
        remove_if_exists(&sidecar(target_path, "-shm"))?;
    }
    copy_to(&src, target_path).with_context(|| format!("restoring {} to {target}", from.display()))
}

/// Opens an existing database file (never creates one) for reading.
fn open_existing(path: &Path) -> anyhow::Result<Connection> {
    if !path.is_file() {
        bail!("no such file");
    }
    // Read-write (but writing nothing): a read-only connection cannot open a WAL database
    // whose `-shm` it may not create.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(LOCK_WAIT)?;
    conn.execute_batch("PRAGMA query_only = ON")?;
    Ok(conn)
}

/// Copies every page of `src` into a new file at `out`.part in one step (one read
/// transaction of the source: a consistent copy however long it takes, while writers go
/// on in WAL mode), checks it, and renames it to `out`.
fn copy_to(src: &Connection, out: &Path) -> anyhow::Result<Copied> {
    let part = part_path(out);
    remove_if_exists(&part)?;
    let result = (|| {
        let mut dst = Connection::open(&part)?;
        {
            let backup = Backup::new(src, &mut dst)?;
            let deadline = Instant::now() + LOCK_WAIT;
            loop {
                match backup.step(-1)? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                    other => bail!("the database stayed locked for {} s ({other:?})", LOCK_WAIT.as_secs()),
                }
            }
        }
        // A plain file, readable without a `-wal` beside it; `serve` turns WAL on again.
        dst.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
        let migrations = check(&dst)?;
        dst.close().map_err(|(_, e)| e)?;
        publish(&part, out)?;
        Ok(Copied { bytes: std::fs::metadata(out)?.len(), migrations })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}

/// The copy is whole (`quick_check`) and is an openwelkin database; returns its migrations.
fn check(conn: &Connection) -> anyhow::Result<i64> {
    let verdict: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        bail!("integrity check failed: {verdict}");
    }
    conn.query_row("SELECT count(*) FROM _sqlx_migrations WHERE success", [], |r| r.get(0))
        .context("it has no openwelkin schema (_sqlx_migrations)")
}

/// Fails when another process has `path` open (a running server, an admin command): in WAL
/// mode each of them holds a shared lock, so an exclusive one cannot be had.
fn ensure_unused(path: &Path) -> anyhow::Result<()> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_context(|| format!("opening {}", path.display()))?;
    conn.busy_timeout(Duration::ZERO)?;
    conn.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |_| Ok(()))?;
    match conn.execute_batch("BEGIN EXCLUSIVE; COMMIT") {
        Ok(()) => {}
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            bail!("the database {} is in use by another process (a running server?): stop it first", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("locking {}", path.display())),
    }
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}

fn sidecar(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    name.into()
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(path: &Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).unwrap();
        conn.execute_batch(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, success BOOLEAN);
             INSERT INTO _sqlx_migrations VALUES (1, 1);
             CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('a');",
        )
        .unwrap();
        conn
    }

    #[test]
    fn a_copy_is_a_plain_file_and_restore_refuses_a_database_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.db");
        let conn = database(&live);
        let out = dir.path().join("copy.db");
        let copied = backup(live.to_str().unwrap(), &out).unwrap();
        assert_eq!(copied.migrations, 1);
        assert!(!sidecar(&out, "-wal").exists() && !part_path(&out).exists());
        let read = Connection::open(&out).unwrap();
        assert_eq!(read.query_row("SELECT v FROM t", [], |r| r.get::<_, String>(0)).unwrap(), "a");
        drop(read);

        // Restore: a new path is fine; an existing one needs --force; one in use is refused.
        let fresh = dir.path().join("fresh.db");
        restore(&out, fresh.to_str().unwrap(), false).unwrap();
        let e = restore(&out, live.to_str().unwrap(), false).unwrap_err().to_string();
        assert!(e.contains("exists") && e.contains("--force"), "{e}");
        let e = format!("{:#}", restore(&out, live.to_str().unwrap(), true).unwrap_err());
        assert!(e.contains("in use by another process"), "{e}");
        conn.execute("INSERT INTO t VALUES ('b')", []).unwrap();
        drop(conn);
        restore(&out, live.to_str().unwrap(), true).unwrap();
        let back = Connection::open(&live).unwrap();
        assert_eq!(back.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 1);

        // Not a backup: refused, nothing written.
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, b"not a database at all, not even close").unwrap();
        let target = dir.path().join("never.db");
        assert!(restore(&junk, target.to_str().unwrap(), false).is_err());
        assert!(!target.exists());
        assert!(backup(dir.path().join("missing.db").to_str().unwrap(), &target).is_err());
    }
}
