//! What a database that cannot be reached at start is reported as, by `serve` and by every
//! admin command (they all open it with `Db::connect`): at once, with the cause and the
//! address or path at fault, e.g. `cannot connect to PostgreSQL at 127.0.0.1:1 (database
//! "app" as user "ow"): connection refused`, or `cannot open the SQLite database
//! /srv/ow/db.sqlite: the directory /srv/ow does not exist`.

use super::pg_target::PgTarget;
use super::sql;
use std::io::ErrorKind;
use std::path::Path;
use std::time::Duration;

/// Checks, before SQLite opens (and would create) the file, that the place for it exists.
pub fn check_sqlite_path(path: &str) -> anyhow::Result<()> {
    let file = sqlite_file(path);
    if file.is_dir() {
        anyhow::bail!("cannot open the SQLite database {path}: it is a directory");
    }
    if file.exists() {
        return Ok(());
    }
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.exists() {
        anyhow::bail!(
            "cannot open the SQLite database {path}: the directory {} does not exist (create it, or give another --database)",
            dir.display()
        );
    }
    if !dir.is_dir() {
        anyhow::bail!("cannot open the SQLite database {path}: {} is not a directory", dir.display());
    }
    Ok(())
}

/// SQLite could not open `path`: says why in the system's words where it has them
/// (permission denied, read-only file system) rather than SQLite's "unable to open".
pub fn sqlite_open_failed(path: &str, err: sql::Error) -> anyhow::Error {
    let file = sqlite_file(path);
    let os = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(file).err();
    match os {
        Some(e) => anyhow::anyhow!("cannot open the SQLite database {path}: {}", io_words(&e)),
        None => anyhow::anyhow!("cannot open the SQLite database {path}: {err}"),
    }
}

/// The file of a SQLite target (a path or a `file:` URI without its query).
fn sqlite_file(path: &str) -> &Path {
    let path = path.strip_prefix("file:").map(|p| p.strip_prefix("//").unwrap_or(p)).unwrap_or(path);
    Path::new(path)
}

/// The first connection to PostgreSQL failed: where to, as whom, and why.
pub fn postgres_unreachable(target: &PgTarget, err: &sql::Error, wait: Duration) -> anyhow::Error {
    let cause = match err {
        sql::Error::PoolTimedOut => format!("no answer within {} ms (--db-timeout-ms)", wait.as_millis()),
        sql::Error::Postgres(e) => postgres_cause(e),
        other => other.to_string(),
    };
    anyhow::anyhow!("cannot connect to PostgreSQL at {} ({}): {cause}", target.addresses(), target.who())
}

fn postgres_cause(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("the server refused: {}", db.message());
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io_words(io);
        }
        source = s.source();
    }
    e.to_string()
}

/// An I/O error in plain words: the kinds an operator meets at start, then the system's text.
fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused (is the server running and listening there?)".into(),
        ErrorKind::TimedOut => "the connection timed out".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::NotFound => "no such file or directory".into(),
        ErrorKind::ReadOnlyFilesystem => "the file system is read-only".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_named() {
        let e = check_sqlite_path("/nonexistent-openwelkin-dir/sub/db.sqlite").unwrap_err().to_string();
        assert!(e.contains("the directory /nonexistent-openwelkin-dir/sub does not exist"), "{e}");
        let e = check_sqlite_path("file:/nonexistent-openwelkin-dir/db.sqlite").unwrap_err().to_string();
        assert!(e.contains("the directory /nonexistent-openwelkin-dir does not exist"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        assert!(check_sqlite_path(dir.path().join("new.db").to_str().unwrap()).is_ok());
        assert!(check_sqlite_path("relative.db").is_ok());
        let e = check_sqlite_path(dir.path().to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("it is a directory"), "{e}");
    }
}
