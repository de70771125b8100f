//! Whole-database copies, taken while servers run, and their restore (`openwelkin backup`
//! and `openwelkin restore`, `cli/backup.rs`).
//!
//! - SQLite (`sqlite.rs`): SQLite's online backup API, all pages in one step, so the copy is
//!   one read transaction of the source: every table (records, audit, outbox, counters,
//!   migrations) as of one commit. Writers go on meanwhile (WAL). The copy is a plain SQLite
//!   file (rollback journal, no `-wal` beside it).
//! - PostgreSQL (`postgres.rs`): `pg_dump --format=custom --serializable-deferrable`, one
//!   snapshot that no serializable transaction can contradict, restored by `pg_restore`
//!   into an empty database.
//!
//! Either way the file is written under a temporary name (`FILE.part`) and renamed when
//! complete, so a file named as the backup is always whole.

pub mod postgres;
pub mod sqlite;

use std::path::{Path, PathBuf};

/// `FILE.part`, where a copy is written before it is renamed to `FILE`.
pub(crate) fn part_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".part");
    file.with_file_name(name)
}

/// Renames a finished `part` to `file` and syncs the directory, so the name survives a crash.
pub(crate) fn publish(part: &Path, file: &Path) -> std::io::Result<()> {
    std::fs::File::open(part)?.sync_all()?;
    std::fs::rename(part, file)?;
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

pub(crate) fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
