//! The command line: `serve` and the admin subcommands. Every flag also reads from an
//! `OPENWELKIN_*` environment variable and, below both, from the `--config` file
//! (`config.rs`); admin commands take the same `--database` as the server, so they can run
//! beside a serving process.

mod admin;
mod backup;
pub mod config;
mod designer;
mod emulator;
mod export;
mod formations;
mod operators;
mod postman;
mod serve;
mod webhooks;

use clap::{Args, Parser, Subcommand};

pub const DEFAULT_DATABASE: &str = "sqlite://openwelkin.db";

#[derive(Parser)]
#[command(name = "openwelkin", version, about = "A self-hostable server for the Welkin Health API")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log output on standard error: `text`, or `json` (one object per line). The level
    /// filter is `OPENWELKIN_LOG` (e.g. `info`, `openwelkin=debug`); see docs/METRICS.md.
    #[arg(long, env = "OPENWELKIN_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: crate::telemetry::logs::LogFormat,
}

#[derive(Args, Clone)]
pub struct DatabaseArg {
    /// sqlite://FILE (the default) or postgres://USER@HOST/DB
    #[arg(long, env = "OPENWELKIN_DATABASE_URL", default_value = DEFAULT_DATABASE, global = true)]
    pub database: String,
    /// Settings from a TOML file (docs/openwelkin.toml); flags and environment override it.
    ///
    /// Keys are the long flag names of `serve` (`listen`, `database`, …). Admin commands use
    /// the settings they share with `serve` (`database`, `files-dir`).
    #[arg(long, env = "OPENWELKIN_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve(Box<serve::ServeArgs>),
    /// Manage tenants.
    Tenants {
        #[command(subcommand)]
        command: admin::TenantCommand,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Manage instances of a tenant.
    Instances {
        #[command(subcommand)]
        command: admin::InstanceCommand,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Manage API clients.
    Clients {
        #[command(subcommand)]
        command: admin::ClientCommand,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Manage the operators who sign in to the web console (`/console/`).
    Operators {
        #[command(subcommand)]
        command: operators::OperatorCommand,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Activate, deactivate and list webhooks of an instance.
    Webhooks {
        #[command(subcommand)]
        command: webhooks::WebhookCommand,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Write a Postman collection (v2.1) of every endpoint, generated from the OpenAPI document.
    Postman(postman::PostmanArgs),
    /// Check designer folders (no database needed).
    Designer {
        #[command(subcommand)]
        command: designer::DesignerCommand,
    },
    /// Export every record of one type of an instance to an NDJSON or CSV file.
    Export(export::ExportArgs),
    /// Copy the whole database, consistently, while servers run (SQLite: one file;
    /// PostgreSQL: a pg_dump archive).
    Backup(backup::BackupArgs),
    /// Restore a backup into a new database (or, with --force, over a stopped one).
    Restore(backup::RestoreArgs),
    /// Emulator: delete the records of an instance, or of every instance and the users of a tenant.
    Reset(emulator::ResetArgs),
    /// Emulator: seed an instance from a fixture file or with generated realistic data.
    Seed(emulator::SeedArgs),
    /// Emulator: save, restore, list and delete named snapshots of an instance.
    Snapshot {
        #[command(subcommand)]
        command: emulator::SnapshotCommand,
    },
    /// Emulator: print or empty an instance's SMS, email, chat or webhook outbox.
    Outbox {
        #[command(subcommand)]
        command: emulator::OutboxCommand,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Tenants { command, db } => admin::tenants(command, &db.database).await,
        Command::Instances { command, db } => admin::instances(command, &db.database).await,
        Command::Clients { command, db } => admin::clients(command, &db.database).await,
        Command::Operators { command, db } => operators::run(command, &db.database).await,
        Command::Webhooks { command, db } => webhooks::run(command, &db.database).await,
        Command::Openapi => {
            println!("{}", crate::api::openapi::document().to_pretty_json()?);
            Ok(())
        }
        Command::Postman(args) => postman::run(args),
        Command::Designer { command } => designer::run(command).await,
        Command::Export(args) => export::run(args).await,
        Command::Backup(args) => backup::backup(args).await,
        Command::Restore(args) => backup::restore(args).await,
        Command::Reset(args) => emulator::reset(args).await,
        Command::Seed(args) => emulator::seed(args).await,
        Command::Snapshot { command } => emulator::snapshot(command).await,
        Command::Outbox { command } => emulator::outbox(command).await,
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every subcommand, flag and argument explains itself in `--help`.
    #[test]
    fn every_command_flag_and_argument_has_a_help_line() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let here = format!("{path} {}", cmd.get_name());
            for arg in cmd.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{here} --{}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" && sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(format!("{here} {} (the command)", sub.get_name()));
                }
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "without a help line:\n{}", missing.join("\n"));
    }
}
