//! `openwelkin backup` and `openwelkin restore`: a consistent copy of the whole database
//! taken while servers run, and putting one back (`store::backup`). The document files
//! (`serve --files-dir`) are not in the database: docs/OPERATIONS.md says how to copy them.

use super::DatabaseArg;
use crate::store::{backup, normalize_url, Backend, Db};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct BackupArgs {
    /// The file to write: a SQLite database file, or for PostgreSQL a pg_dump archive
    /// (custom format). Written as FILE.part and renamed when complete; replaces FILE.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The pg_dump to run (PostgreSQL), at least the server's version.
    #[arg(long, env = "OPENWELKIN_PG_DUMP", default_value = "pg_dump", value_name = "PATH")]
    pub pg_dump: PathBuf,
    #[command(flatten)]
    pub db: DatabaseArg,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup to restore, as written by `openwelkin backup`.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// Replace an existing database (SQLite: the file; PostgreSQL: every object in it).
    /// Refused while another process uses it: stop the servers first.
    #[arg(long)]
    pub force: bool,
    /// The pg_restore to run (PostgreSQL).
    #[arg(long, env = "OPENWELKIN_PG_RESTORE", default_value = "pg_restore", value_name = "PATH")]
    pub pg_restore: PathBuf,
    /// The database to restore into (SQLite: a new file; PostgreSQL: an empty database).
    #[command(flatten)]
    pub db: DatabaseArg,
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let (kind, target) = normalize_url(&args.db.database)?;
    let summary = match kind {
        Backend::Sqlite => {
            let out = args.out.clone();
            let copied = tokio::task::spawn_blocking(move || backup::sqlite::backup(&target, &out)).await??;
            format!("{} bytes, schema version {}", copied.bytes, copied.migrations)
        }
        Backend::Postgres => {
            let (pg_dump, out) = (args.pg_dump.clone(), args.out.clone());
            let bytes =
                tokio::task::spawn_blocking(move || backup::postgres::backup(&pg_dump, &target, &out)).await??;
            format!("{bytes} bytes, pg_dump custom format")
        }
    };
    eprintln!("backed up the database to {} ({summary}) in {} ms", args.out.display(), started.elapsed().as_millis());
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let (kind, target) = normalize_url(&args.db.database)?;
    match kind {
        Backend::Sqlite => {
            let (from, force) = (args.from.clone(), args.force);
            tokio::task::spawn_blocking(move || backup::sqlite::restore(&from, &target, force)).await??;
        }
        Backend::Postgres => backup::postgres::restore(&args.pg_restore, &args.from, &target, args.force).await?,
    }
    // Opening it applies the migrations this build has and the backup lacks (a backup of an
    // older openwelkin), and refuses one written by a newer openwelkin.
    let db = Db::connect(&args.db.database).await?;
    let tenants = db.tenant_names().await?;
    db.close().await;
    let plural = if tenants.len() == 1 { "" } else { "s" };
    eprintln!("restored {} into the database ({} tenant{plural})", args.from.display(), tenants.len());
    Ok(())
}
