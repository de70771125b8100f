//! `openwelkin webhooks list|activate|deactivate`: the admin endpoint's operations from
//! the command line, beside a serving process.

use crate::clock::Clock;
use crate::store::Db;
use anyhow::Context;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// The designer's webhooks of an instance and whether each is active.
    List {
        /// The tenant, by name.
        #[arg(long)]
        tenant: String,
        /// The instance, by name.
        #[arg(long)]
        instance: String,
    },
    /// Activate a webhook; prints its signing secret.
    Activate {
        /// The tenant, by name.
        #[arg(long)]
        tenant: String,
        /// The instance, by name.
        #[arg(long)]
        instance: String,
        /// The webhook's name, as in the designer's webhooks folder.
        #[arg(long)]
        name: String,
    },
    /// Deactivate a webhook.
    Deactivate {
        /// The tenant, by name.
        #[arg(long)]
        tenant: String,
        /// The instance, by name.
        #[arg(long)]
        instance: String,
        /// The webhook's name, as in the designer's webhooks folder.
        #[arg(long)]
        name: String,
    },
}

pub async fn run(command: WebhookCommand, url: &str) -> anyhow::Result<()> {
    let db = Db::connect(url).await?;
    let clock = Clock::system();
    let (tenant, instance) = match &command {
        WebhookCommand::List { tenant, instance }
        | WebhookCommand::Activate { tenant, instance, .. }
        | WebhookCommand::Deactivate { tenant, instance, .. } => (tenant.clone(), instance.clone()),
    };
    let t = db.tenant_by_name(&tenant).await?.with_context(|| format!("no tenant {tenant:?}"))?;
    let i = db.instance_by_name(&t.id, &instance).await?.with_context(|| format!("no instance {tenant}/{instance}"))?;
    let webhooks = db.current_formation(&i.id).await?.designer.webhook_list();
    match command {
        WebhookCommand::List { .. } => {
            let active = db.webhook_activations(&i.id).await?;
            for w in webhooks {
                let on = active.iter().any(|a| a.webhook_name == w.name && a.active);
                println!("{}\t{}\t{}\t{}", w.name, if on { "active" } else { "inactive" }, w.url, w.events.join(","));
            }
        }
        WebhookCommand::Activate { name, .. } | WebhookCommand::Deactivate { name, .. }
            if !webhooks.iter().any(|w| w.name == name) =>
        {
            anyhow::bail!("the designer of {tenant}/{instance} has no webhook {name:?}");
        }
        WebhookCommand::Activate { name, .. } => {
            let version = db.set_webhook_active(&i.id, &name, true, clock.now_ms()).await?;
            let key = db.signing_key(clock.now_ms()).await?;
            println!("webhook {name} active in {tenant}/{instance}");
            println!("signing secret: {}", crate::events::webhooks::secret(&key, &i.id, &name, version));
        }
        WebhookCommand::Deactivate { name, .. } => {
            db.set_webhook_active(&i.id, &name, false, clock.now_ms()).await?;
            println!("webhook {name} inactive in {tenant}/{instance}");
        }
    }
    db.close().await;
    Ok(())
}
