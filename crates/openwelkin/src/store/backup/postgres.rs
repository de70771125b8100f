//! PostgreSQL backups with PostgreSQL's own tools: `pg_dump` (custom format, one
//! serializable, deferrable snapshot) and `pg_restore` (into an empty database, in one
//! transaction). The password, if the URL has one, goes to them in `PGPASSWORD`, never on
//! their command line.

use super::{part_path, publish, remove_if_exists};
use crate::store::pg_target::PgTarget;
use anyhow::bail;
use std::path::Path;
use std::process::Command;

/// `pg_dump`'s arguments for a backup of `target` into `file`.
fn dump_arguments(target: &PgTarget, file: &Path) -> Vec<String> {
    vec![
        // The archive pg_restore reads (compressed, restorable in any order or in part).
        "--format=custom".into(),
        // One snapshot that no concurrent serializable transaction can contradict; waits, if
        // need be, for a moment when such a snapshot is safe to take.
        "--serializable-deferrable".into(),
        // Never prompt: a password comes in PGPASSWORD or ~/.pgpass.
        "--no-password".into(),
        format!("--file={}", file.display()),
        format!("--dbname={}", target.conninfo()),
    ]
}

/// `pg_restore`'s arguments to restore `file` into `target`.
fn restore_arguments(target: &PgTarget, file: &Path, replace: bool) -> Vec<String> {
    let mut args: Vec<String> = vec![
        // Owned by whoever restores, whatever role took the backup.
        "--no-owner".into(),
        "--no-privileges".into(),
        // All or nothing.
        "--exit-on-error".into(),
        "--single-transaction".into(),
        "--no-password".into(),
        format!("--dbname={}", target.conninfo()),
    ];
    if replace {
        args.extend(["--clean".into(), "--if-exists".into()]);
    }
    args.push(file.display().to_string());
    args
}

/// Runs `pg_dump` on the database at `url` into `out` (replacing it).
pub fn backup(pg_dump: &Path, url: &str, out: &Path) -> anyhow::Result<u64> {
    let target = PgTarget::parse(url)?;
    let part = part_path(out);
    remove_if_exists(&part)?;
    let args = dump_arguments(&target, &part);
    let ran = run(pg_dump, &args, &target)
        .map_err(|e| missing_tool(e, pg_dump, "--pg-dump", &dump_arguments(&target, out), &target))?;
    if !ran.status.success() {
        let _ = std::fs::remove_file(&part);
        bail!(
            "pg_dump failed on {} ({}): {}",
            target.addresses(),
            target.who(),
            String::from_utf8_lossy(&ran.stderr).trim()
        );
    }
    publish(&part, out)?;
    Ok(std::fs::metadata(out)?.len())
}

/// Restores the archive `from` into the database at `url`, which must hold nothing unless
/// `force`, and which, with `force`, no other session may be using.
pub async fn restore(pg_restore: &Path, from: &Path, url: &str, force: bool) -> anyhow::Result<()> {
    let target = PgTarget::parse(url)?;
    let (client, connection) = target.config().connect(tokio_postgres::NoTls).await.map_err(|e| {
        crate::store::reach::postgres_unreachable(
            &target,
            &crate::store::sql::Error::from(e),
            crate::store::DEFAULT_DB_TIMEOUT,
        )
    })?;
    let connection = tokio::spawn(connection);
    let objects: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'",
            &[],
        )
        .await?
        .get(0);
    let others: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            &[],
        )
        .await?
        .get(0);
    drop(client);
    let _ = connection.await;
    if !from.is_file() {
        bail!("there is no backup at {}", from.display());
    }
    if objects > 0 && !force {
        bail!(
            "the {} at {} is not empty ({objects} tables, indexes and sequences): restore into a new, empty \
             database (CREATE DATABASE …), or stop every server and command using it and pass --force to replace \
             its contents",
            target.who(),
            target.addresses()
        );
    }
    if objects > 0 && others > 0 {
        bail!(
            "the {} at {} is in use by {others} other session(s) (running servers?): stop them first",
            target.who(),
            target.addresses()
        );
    }
    let args = restore_arguments(&target, from, objects > 0);
    let ran =
        run(pg_restore, &args, &target).map_err(|e| missing_tool(e, pg_restore, "--pg-restore", &args, &target))?;
    if !ran.status.success() {
        bail!(
            "pg_restore failed on {} ({}); nothing was restored: {}",
            target.addresses(),
            target.who(),
            String::from_utf8_lossy(&ran.stderr).trim()
        );
    }
    Ok(())
}

fn run(tool: &Path, args: &[String], target: &PgTarget) -> std::io::Result<std::process::Output> {
    let mut command = Command::new(tool);
    command.args(args);
    if let Some(password) = target.password() {
        command.env("PGPASSWORD", password);
    }
    command.output()
}

/// The tool could not be run: say what to install, or exactly what to run instead.
fn missing_tool(e: std::io::Error, tool: &Path, flag: &str, args: &[String], target: &PgTarget) -> anyhow::Error {
    let name = tool.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let password = if target.password().is_some() { "PGPASSWORD='<the password>' " } else { "" };
    let line: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
    anyhow::anyhow!(
        "cannot run {} ({e}). Install PostgreSQL's client tools (version at least the server's), give {flag} PATH, \
         or run it yourself:\n  {password}{name} {}",
        tool.display(),
        line.join(" ")
    )
}

/// A word for a POSIX shell: bare, double-quoted, or single-quoted, whichever is plainest.
fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=./:,@".contains(&b)) {
        s.to_string()
    } else if !s.contains(['"', '$', '`', '\\', '!']) {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tools_get_the_snapshot_options_and_never_the_password() {
        let target = PgTarget::parse("postgres://ow:secret@db:5432/app").unwrap();
        let dump = dump_arguments(&target, Path::new("/b/x.dump")).join(" ");
        assert!(dump.contains("--format=custom") && dump.contains("--serializable-deferrable"), "{dump}");
        assert!(!dump.contains("secret"), "{dump}");
        let restore = restore_arguments(&target, Path::new("/b/x.dump"), false).join(" ");
        assert!(restore.contains("--single-transaction") && !restore.contains("--clean"), "{restore}");
        assert!(restore_arguments(&target, Path::new("/b/x.dump"), true).contains(&"--clean".to_string()));
        let e = missing_tool(
            std::io::Error::from(std::io::ErrorKind::NotFound),
            Path::new("/nowhere/pg_dump"),
            "--pg-dump",
            &dump_arguments(&target, Path::new("/b/x.dump")),
            &target,
        )
        .to_string();
        assert!(e.contains("PGPASSWORD='<the password>' pg_dump --format=custom") && !e.contains("secret"), "{e}");
        assert!(e.contains(" \"--dbname=host=db port=5432 user=ow dbname=app\""), "{e}");
        assert_eq!(shell_quote("it's"), "\"it's\"");
        assert_eq!(shell_quote("a'$b"), r"'a'\''$b'");
    }
}
