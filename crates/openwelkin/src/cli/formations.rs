//! `openwelkin designer apply` and `openwelkin designer publish`: put a designer folder
//! into the database, or publish an instance's draft, from the command line.

use crate::clock::Clock;
use crate::designer::Designer;
use crate::events::audit::Actor;
use crate::store::{formations, Db};
use anyhow::Context;
use std::path::Path;

/// Publishes one tenant's folder to the tenant's instances (all, or those named).
/// An unknown tenant is refused unless `create_tenant`: a typo must not make a new tenant.
pub async fn apply(
    url: &str,
    dir: &Path,
    tenant: &str,
    create_tenant: bool,
    instances: Option<Vec<String>>,
) -> anyhow::Result<()> {
    super::admin::check_name("tenant", tenant)?;
    let designer = Designer::load_dir(dir).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("{} has errors:\n{}", dir.display(), lines.join("\n"))
    })?;
    let db = Db::connect(url).await?;
    if !create_tenant && db.tenant_by_name(tenant).await?.is_none() {
        db.close().await;
        anyhow::bail!(
            "no tenant {tenant:?}: create it with `openwelkin tenants create {tenant}`, or pass --create-tenant"
        );
    }
    let applied =
        crate::provision::apply_designer(&db, &Clock::system(), tenant, &designer, instances.as_deref()).await?;
    for a in applied {
        match a.published {
            Some(v) => println!("{tenant}/{}: published version {v}", a.instance),
            None => println!("{tenant}/{}: unchanged", a.instance),
        }
    }
    db.close().await;
    Ok(())
}

/// Publishes an instance's draft as its next version.
pub async fn publish(url: &str, tenant: &str, instance: &str) -> anyhow::Result<()> {
    let db = Db::connect(url).await?;
    let clock = Clock::system();
    let t = db.tenant_by_name(tenant).await?.with_context(|| format!("no tenant {tenant:?}"))?;
    let i = db.instance_by_name(&t.id, instance).await?.with_context(|| format!("no instance {tenant}/{instance}"))?;
    let draft = db.draft_formation(&i.id).await?;
    let errors = draft.designer.validate();
    if !errors.is_empty() {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::bail!("the draft does not validate:\n{}", lines.join("\n"));
    }
    let mut tx = db.begin().await?;
    let now_ms = clock.now_ms();
    let version = formations::publish(&mut tx, &i.id, &draft.designer, &Actor::system().full_name(), now_ms).await?;
    crate::provision::audit_publish(&mut tx, &t.id, &i.name, version, "command line", now_ms).await?;
    tx.commit().await?;
    println!("{tenant}/{instance}: published version {version}");
    db.close().await;
    Ok(())
}
