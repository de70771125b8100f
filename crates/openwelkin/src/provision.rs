//! Applying a designer folder to a tenant: every instance whose current formation
//! differs gets the folder's content as a new published version, and dictionaries the
//! folder seeds get their records when they have none.

use crate::clock::Clock;
use crate::designer::Designer;
use crate::events::audit::{Actor, DataEvent, Operation};
use crate::store::audit::record_write;
use crate::store::{formations, Db};
use serde_json::{json, Value};

/// What applying did to one instance.
pub struct Applied {
    pub instance: String,
    /// The new version, or `None` when the instance already had this content.
    pub published: Option<i64>,
}

/// Publishes `designer` to the instances of `tenant_name` (all of them, or those named),
/// creating the tenant with instances `live` and `sandbox` if it does not exist.
pub async fn apply_designer(
    db: &Db,
    clock: &Clock,
    tenant_name: &str,
    designer: &Designer,
    only: Option<&[String]>,
) -> anyhow::Result<Vec<Applied>> {
    let errors = designer.validate();
    if !errors.is_empty() {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::bail!("the designer for {tenant_name} does not validate:\n{}", lines.join("\n"));
    }
    let tenant = db.ensure_tenant(tenant_name, clock.now_ms()).await?;
    if db.instances(&tenant.id).await?.is_empty() {
        for name in ["live", "sandbox"] {
            db.ensure_instance(&tenant.id, name, "", clock.now_ms()).await?;
        }
    }
    let actor = Actor::system();
    let mut out = Vec::new();
    for instance in db.instances(&tenant.id).await? {
        if only.is_some_and(|names| !names.contains(&instance.name)) {
            continue;
        }
        let current = db.current_formation(&instance.id).await?;
        if current.version > 0 && *current.designer == *designer {
            out.push(Applied { instance: instance.name, published: None });
            continue;
        }
        let now_ms = clock.now_ms();
        let mut tx = db.begin().await?;
        let version = formations::publish(&mut tx, &instance.id, designer, &actor.full_name(), now_ms).await?;
        for dict in
            designer.dictionaries.iter().filter_map(|d| d["name"].as_str()).filter_map(|n| designer.dictionary(n))
        {
            if dict.records.is_empty() {
                continue;
            }
            let mut fields: Vec<String> = dict.fields.iter().map(|f| f.name.clone()).collect();
            if fields.is_empty() {
                fields.push("value".into());
            }
            let seeds: Vec<_> = dict.records.iter().map(|r| r.values.clone()).collect();
            crate::services::dictionaries::seed(&mut tx, &instance.id, &dict.name, &fields, &seeds, now_ms).await?;
        }
        audit_publish(&mut tx, &tenant.id, &instance.name, version, "designer folder", now_ms).await?;
        tx.commit().await?;
        out.push(Applied { instance: instance.name, published: Some(version) });
    }
    Ok(out)
}

/// The audit row (and outbox event) of a formation published by the system.
pub async fn audit_publish(
    tx: &mut crate::store::Tx,
    tenant_id: &str,
    instance: &str,
    version: i64,
    source: &str,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    let actor = Actor::system();
    let record: Value = json!({"version": version, "source": source});
    let event = DataEvent {
        tenant_id,
        instance: Some(instance),
        entity: "FORMATION",
        operation: Operation::Create,
        actor: &actor,
        record_id: &version.to_string(),
        patient_id: None,
        patient_full_name: None,
        cdt_name: None,
        cdt_relation: None,
        record: (&record).into(),
        subtype: None,
    };
    record_write(tx, &event, now_ms).await
}
