//! The command line: `serve` and the admin subcommands. Every flag also reads from an
//! `OPENWELKIN_*` environment variable; admin commands take the same `--database` as the
//! server, so they can run beside a serving process.

mod admin;
mod designer;
mod emulator;
mod export;
mod formations;
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
        Command::Webhooks { command, db } => webhooks::run(command, &db.database).await,
        Command::Openapi => {
            println!("{}", crate::api::openapi::document().to_pretty_json()?);
            Ok(())
        }
        Command::Postman(args) => postman::run(args),
        Command::Designer { command } => designer::run(command).await,
        Command::Export(args) => export::run(args).await,
        Command::Reset(args) => emulator::reset(args).await,
        Command::Seed(args) => emulator::seed(args).await,
        Command::Snapshot { command } => emulator::snapshot(command).await,
        Command::Outbox { command } => emulator::outbox(command).await,
    }
}
