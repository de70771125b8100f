//! Admin subcommands: tenants, instances, API clients.

use crate::auth::policy::Policy;
use crate::auth::secrets;
use crate::clock::Clock;
use crate::store::clients::{InstanceGrant, NewClient};
use crate::store::tenants::Tenant;
use crate::store::Db;
use anyhow::{bail, Context};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant (idempotent) with its instances.
    Create {
        /// The tenant's name (letters, digits, `-` and `_`).
        name: String,
        /// Instances to create, comma-separated.
        #[arg(long, default_value = "live,sandbox", value_delimiter = ',')]
        instances: Vec<String>,
    },
    /// List tenants and their instances.
    List,
}

#[derive(Subcommand)]
pub enum InstanceCommand {
    /// Create an instance of a tenant (idempotent).
    Create {
        /// The tenant, by name.
        tenant: String,
        /// The instance's name.
        name: String,
        /// A description of the instance.
        #[arg(long, default_value = "")]
        description: String,
    },
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Create an API client; prints its name and secret once.
    Create {
        /// The tenant, by name.
        #[arg(long)]
        tenant: String,
        /// Defaults to 12 random capital letters, like Welkin's.
        #[arg(long)]
        name: Option<String>,
        /// Defaults to a random 256-bit secret.
        #[arg(long, env = "OPENWELKIN_CLIENT_SECRET", hide_env_values = true)]
        secret: Option<String>,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Replace a client's security policy and, with --instances, its instance grant.
    SetPolicy {
        /// The tenant, by name.
        #[arg(long)]
        tenant: String,
        /// The API client's name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// List the API clients of a tenant.
    List {
        /// The tenant, by name.
        #[arg(long)]
        tenant: String,
    },
    /// Refuse new tokens and every token already issued.
    Disable {
        /// The tenant, by name.
        #[arg(long)]
        tenant: String,
        /// The API client's name.
        #[arg(long)]
        name: String,
    },
    /// Allow a disabled client again.
    Enable {
        /// The tenant, by name.
        #[arg(long)]
        tenant: String,
        /// The API client's name.
        #[arg(long)]
        name: String,
    },
    /// Replace the secret; tokens issued before stop working. Prints the new secret once.
    RotateSecret {
        /// The tenant, by name.
        #[arg(long)]
        tenant: String,
        /// The API client's name.
        #[arg(long)]
        name: String,
        /// The new secret; a random 256-bit one when omitted.
        #[arg(long, env = "OPENWELKIN_CLIENT_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
}

/// What a client may do and where.
#[derive(clap::Args)]
pub struct AccessArgs {
    /// Security policy file (JSON; see docs/SECURITY-POLICIES.md).
    #[arg(long, conflicts_with = "all_access")]
    policy: Option<std::path::PathBuf>,
    /// Grant every permission and admin flag.
    #[arg(long)]
    all_access: bool,
    /// Instances the client may reach, comma-separated, or `*`; on create, all when omitted.
    #[arg(long, value_delimiter = ',')]
    instances: Option<Vec<String>>,
}

/// Names that routes outside tenants use.
const RESERVED: &[&str] = &["auth", "docs", "healthz", "readyz", "openapi.json", "_emulator", "admin"];

pub fn check_name(kind: &str, name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !RESERVED.contains(&name);
    if !ok {
        bail!("{kind} name {name:?} must be 1-63 letters, digits, '-' or '_', and not one of {}", RESERVED.join(", "));
    }
    Ok(())
}

pub async fn tenants(command: TenantCommand, url: &str) -> anyhow::Result<()> {
    let db = Db::connect(url).await?;
    let clock = Clock::system();
    match command {
        TenantCommand::Create { name, instances } => {
            check_name("tenant", &name)?;
            for i in &instances {
                check_name("instance", i)?;
            }
            let tenant = db.ensure_tenant(&name, clock.now_ms()).await?;
            for i in &instances {
                db.ensure_instance(&tenant.id, i, "", clock.now_ms()).await?;
            }
            println!("tenant: {} (instances: {})", tenant.name, instances.join(", "));
        }
        TenantCommand::List => {
            for t in db.tenant_names().await? {
                let tenant = db.tenant_by_name(&t).await?.context("tenant vanished")?;
                let names: Vec<String> = db.instances(&tenant.id).await?.into_iter().map(|i| i.name).collect();
                println!("{t}\t{}", names.join(","));
            }
        }
    }
    db.close().await;
    Ok(())
}

pub async fn instances(command: InstanceCommand, url: &str) -> anyhow::Result<()> {
    let db = Db::connect(url).await?;
    let clock = Clock::system();
    match command {
        InstanceCommand::Create { tenant, name, description } => {
            check_name("instance", &name)?;
            let t = db.tenant_by_name(&tenant).await?.with_context(|| format!("no tenant {tenant:?}"))?;
            db.ensure_instance(&t.id, &name, &description, clock.now_ms()).await?;
            println!("instance: {tenant}/{name}");
        }
    }
    db.close().await;
    Ok(())
}

fn random_client_name() -> String {
    (0..12).map(|_| (b'A' + rand::random::<u8>() % 26) as char).collect()
}

pub async fn clients(command: ClientCommand, url: &str) -> anyhow::Result<()> {
    let db = Db::connect(url).await?;
    let clock = Clock::system();
    let tenant_of = |name: String| {
        let db = db.clone();
        async move { db.tenant_by_name(&name).await?.with_context(|| format!("no tenant {name:?}")) }
    };
    match command {
        ClientCommand::Create { tenant, name, secret, access } => {
            let t = tenant_of(tenant).await?;
            let name = name.unwrap_or_else(random_client_name);
            check_name("client", &name)?;
            let policy = read_policy(access.policy, access.all_access)?;
            let grant = read_grant(&db, &t, access.instances).await?.unwrap_or(InstanceGrant::All);
            if db.client_by_name(&t.id, &name).await?.is_some() {
                bail!("tenant {} already has a client named {name}", t.name);
            }
            let secret = secret.unwrap_or_else(secrets::generate);
            let new = NewClient {
                id: crate::ids::new_id(),
                tenant_id: &t.id,
                name: &name,
                secret_hash: secrets::hash(&secret),
                policy: &policy,
                instances: &grant,
            };
            db.create_client(new, clock.now_ms()).await?;
            println!("client: {name}");
            println!("secret: {secret}");
        }
        ClientCommand::SetPolicy { tenant, name, access } => {
            let t = tenant_of(tenant).await?;
            let current = db.client_by_name(&t.id, &name).await?.with_context(|| format!("no client {name:?}"))?;
            let policy = read_policy(access.policy, access.all_access)?;
            let grant = read_grant(&db, &t, access.instances).await?.unwrap_or(current.instances);
            db.set_client_policy(&t.id, &name, &policy, &grant, clock.now_ms()).await?;
            audit_client(&db, &t.id, &name, "API_CLIENT_ACCESS_UPDATED", clock.now_ms()).await?;
            println!("client {name}: policy {}", serde_json::to_string(&policy)?);
        }
        ClientCommand::List { tenant } => {
            let t = tenant_of(tenant).await?;
            for c in db.clients(&t.id).await? {
                let instances = match &c.instances {
                    InstanceGrant::All => "*".to_string(),
                    InstanceGrant::Only(list) => list.join(","),
                };
                let state = if c.enabled { "enabled" } else { "disabled" };
                println!("{}\t{state}\tinstances={instances}\tpolicy={}", c.name, serde_json::to_string(&c.policy)?);
            }
        }
        ClientCommand::Disable { tenant, name } => {
            let t = tenant_of(tenant).await?;
            if !db.set_client_enabled(&t.id, &name, false, clock.now_ms()).await? {
                bail!("no client {name:?}");
            }
            audit_client(&db, &t.id, &name, "API_CLIENT_DISABLED", clock.now_ms()).await?;
            println!("client {name} disabled");
        }
        ClientCommand::Enable { tenant, name } => {
            let t = tenant_of(tenant).await?;
            if !db.set_client_enabled(&t.id, &name, true, clock.now_ms()).await? {
                bail!("no client {name:?}");
            }
            audit_client(&db, &t.id, &name, "API_CLIENT_ENABLED", clock.now_ms()).await?;
            println!("client {name} enabled");
        }
        ClientCommand::RotateSecret { tenant, name, secret } => {
            let t = tenant_of(tenant).await?;
            let secret = secret.unwrap_or_else(secrets::generate);
            if !db.rotate_client_secret(&t.id, &name, &secrets::hash(&secret), clock.now_ms()).await? {
                bail!("no client {name:?}");
            }
            audit_client(&db, &t.id, &name, "API_CLIENT_SECRET_ROTATED", clock.now_ms()).await?;
            println!("client: {name}");
            println!("secret: {secret}");
        }
    }
    db.close().await;
    Ok(())
}

fn read_policy(path: Option<std::path::PathBuf>, all_access: bool) -> anyhow::Result<Policy> {
    match (path, all_access) {
        (_, true) => Ok(Policy::all_access()),
        (Some(path), false) => {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            Policy::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
        (None, false) => bail!("give --policy FILE or --all-access"),
    }
}

/// `None` when no `--instances` was given; `*` grants every instance.
async fn read_grant(db: &Db, tenant: &Tenant, instances: Option<Vec<String>>) -> anyhow::Result<Option<InstanceGrant>> {
    let Some(list) = instances else { return Ok(None) };
    if list.iter().any(|i| i == "*") {
        return Ok(Some(InstanceGrant::All));
    }
    for i in &list {
        if db.instance_by_name(&tenant.id, i).await?.is_none() {
            bail!("tenant {} has no instance {i:?}", tenant.name);
        }
    }
    Ok(Some(InstanceGrant::Only(list)))
}

/// A change to an API client's access, in the security audit.
async fn audit_client(db: &Db, tenant_id: &str, name: &str, subtype: &'static str, now_ms: i64) -> anyhow::Result<()> {
    let client = db.client_by_name(tenant_id, name).await?.with_context(|| format!("no client {name:?}"))?;
    let object = crate::events::audit::Actor::api_client(&client.id, &client.name);
    let event = crate::events::audit::SecurityEvent {
        tenant_id,
        subtype,
        subject: &crate::events::audit::Actor::system(),
        object: Some(&object),
        record: serde_json::json!({"clientName": client.name, "enabled": client.enabled, "policy": client.policy}),
    };
    db.record_security_event(&event, now_ms).await?;
    Ok(())
}
