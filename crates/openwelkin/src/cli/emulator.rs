//! `openwelkin reset | seed | snapshot | outbox`: the emulator's data controls without HTTP, for a
//! test suite that prepares its database before (or beside) a serving process. They do
//! what the `/_emulator/` routes do, through the same code.

use super::DatabaseArg;
use crate::app::AppState;
use crate::clock::Clock;
use crate::emulator::data::{self, Target};
use crate::emulator::fixture::{self, Fixture};
use crate::emulator::generate;
use crate::emulator::outbox;
use crate::store::Db;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args, Clone)]
pub struct Scope {
    /// The tenant, by name.
    #[arg(long, env = "OPENWELKIN_TENANT")]
    pub tenant: String,
    #[command(flatten)]
    pub db: DatabaseArg,
    /// Directory of uploaded files, as given to `serve --files-dir`.
    #[arg(long, env = "OPENWELKIN_FILES_DIR")]
    pub files_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub scope: Scope,
    /// Reset only this instance; without it, every instance and the tenant's users.
    #[arg(long)]
    pub instance: Option<String>,
}

#[derive(Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub scope: Scope,
    /// The instance, by name.
    #[arg(long)]
    pub instance: String,
    /// A fixture file: `{"requests": [{"id", "method", "path", "body"}, …]}`.
    #[arg(long, conflicts_with = "count")]
    pub fixture: Option<PathBuf>,
    /// Generate this many realistic patients (with users, records, encounters, messages,
    /// calendar events) instead.
    #[arg(long, required_unless_present = "fixture")]
    pub count: Option<usize>,
    /// The generator's seed: the same seed gives the same data.
    #[arg(long, default_value_t = 1, requires = "count")]
    pub seed: u64,
    /// Let the seeded writes queue webhook events (they do not by default).
    #[arg(long)]
    pub webhooks: bool,
    /// Print the fixture instead of seeding it.
    #[arg(long)]
    pub print: bool,
}

/// An instance of a tenant, with the database and files it lives in.
#[derive(Args, Clone)]
pub struct At {
    #[command(flatten)]
    pub scope: Scope,
    /// The instance, by name.
    #[arg(long)]
    pub instance: String,
}

#[derive(Subcommand)]
pub enum SnapshotCommand {
    /// Save the instance's data as NAME (replacing a snapshot of that name).
    Save {
        /// The snapshot's name.
        name: String,
        #[command(flatten)]
        at: At,
    },
    /// Replace the instance's data with snapshot NAME.
    Restore {
        /// The snapshot's name.
        name: String,
        #[command(flatten)]
        at: At,
    },
    /// List the instance's snapshots.
    List {
        #[command(flatten)]
        at: At,
    },
    /// Delete snapshot NAME.
    Delete {
        /// The snapshot's name.
        name: String,
        #[command(flatten)]
        at: At,
    },
}

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// Print what an outbox (sms, email, chat, fax or webhooks) holds, one JSON object per line.
    List {
        /// The outbox: sms, email, chat or webhooks.
        kind: String,
        #[command(flatten)]
        at: At,
    },
    /// Empty an outbox (chat messages stay in their conversation).
    Clear {
        /// The outbox: sms, email, chat or webhooks.
        kind: String,
        #[command(flatten)]
        at: At,
    },
}

async fn target(scope: &Scope) -> anyhow::Result<Target> {
    let db = Db::connect(&scope.db.database).await?;
    let files = scope.files_dir.clone().unwrap_or_else(|| crate::files::default_dir(&scope.db.database));
    Ok(Target {
        db,
        clock: Clock::system(),
        files: crate::files::FileStore::local(files),
        actor: crate::events::audit::Actor::system(),
    })
}

pub async fn reset(args: ResetArgs) -> anyhow::Result<()> {
    let t = target(&args.scope).await?;
    let done = data::reset(&t, &args.scope.tenant, args.instance.as_deref()).await?;
    data::sweep(&t).await?;
    println!("reset {}: {} rows deleted", done["instances"], done["rowsDeleted"]);
    Ok(())
}

pub async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let t = target(&args.scope).await?;
    let (fixture, plan) = match (&args.fixture, args.count) {
        (Some(path), _) => (
            Some(Fixture::parse(
                &std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?,
            )?),
            None,
        ),
        (None, Some(count)) if (1..=generate::MAX_GENERATED).contains(&count) => {
            let spec = generate::Spec { count, seed: args.seed, start_day: t.clock.now().date_naive() };
            (None, Some(generate::for_instance(&t.db, &args.scope.tenant, &args.instance, &spec).await?))
        }
        _ => anyhow::bail!("--count is 1 to {}", generate::MAX_GENERATED),
    };
    if args.print {
        let fixture = match (&fixture, &plan) {
            (Some(f), _) => serde_json::to_string_pretty(f)?,
            (None, Some(p)) => serde_json::to_string_pretty(&p.fixture())?,
            (None, None) => unreachable!("one of them is set"),
        };
        println!("{fixture}");
        return Ok(());
    }
    let mut state = AppState::new(t.db.clone(), t.clock.clone()).await?;
    state.settings().files = t.files.clone();
    let (tenant, instance) = (&args.scope.tenant, &args.instance);
    // The requests of a seed go through the server's routes, in-process.
    let router = crate::api::router(state.clone());
    let done = match (&fixture, &plan) {
        (Some(f), _) => fixture::seed(&state, &router, tenant, instance, f, args.webhooks).await?,
        (None, Some(p)) => fixture::seed_plan(&state, &router, tenant, instance, p, args.webhooks).await?,
        (None, None) => unreachable!("one of them is set"),
    };
    println!("seeded {tenant}/{instance}: {} requests, {} records created", done.requests, done.created);
    Ok(())
}

pub async fn snapshot(command: SnapshotCommand) -> anyhow::Result<()> {
    let (SnapshotCommand::Save { at, .. }
    | SnapshotCommand::Restore { at, .. }
    | SnapshotCommand::List { at }
    | SnapshotCommand::Delete { at, .. }) = &command;
    let t = target(&at.scope).await?;
    let (tenant, instance) = (&at.scope.tenant, &at.instance);
    match &command {
        SnapshotCommand::Save { name, .. } => {
            let s = data::save(&t, tenant, instance, name).await?;
            println!("saved snapshot {name} of {tenant}/{instance}: {} rows", s["rows"]);
        }
        SnapshotCommand::Restore { name, .. } => {
            let s = data::restore(&t, tenant, instance, name).await?;
            println!("restored {tenant}/{instance} to snapshot {name}: {} rows", s["rows"]);
        }
        SnapshotCommand::List { .. } => {
            for s in data::list(&t, tenant, instance).await?["snapshots"].as_array().into_iter().flatten() {
                let (name, at) = (s["name"].as_str().unwrap_or_default(), s["createdAt"].as_str().unwrap_or_default());
                println!("{name}\t{at}\t{} rows", s["rows"]);
            }
        }
        SnapshotCommand::Delete { name, .. } => {
            data::delete(&t, tenant, instance, name).await?;
            println!("deleted snapshot {name} of {tenant}/{instance}");
        }
    }
    Ok(())
}

pub async fn outbox(command: OutboxCommand) -> anyhow::Result<()> {
    let (OutboxCommand::List { kind, at } | OutboxCommand::Clear { kind, at }) = &command;
    let kind = outbox::Kind::parse(kind)?;
    let t = target(&at.scope).await?;
    let tenant = data::tenant(&t.db, &at.scope.tenant).await?;
    let instance = data::instance(&t.db, &tenant, &at.instance).await?;
    match command {
        OutboxCommand::List { .. } => {
            for item in outbox::list(&t.db, &instance, kind).await? {
                println!("{item}");
            }
        }
        OutboxCommand::Clear { .. } => {
            let n = outbox::clear(&t.db, &instance, kind, &t.actor, t.clock.now_ms()).await?;
            println!("cleared {n}");
        }
    }
    Ok(())
}
