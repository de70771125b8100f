//! Tenants and their instances as an operator manages them (the console).

use super::error::{ServiceError, ServiceResult};
use crate::events::audit::{Actor, SecurityEvent};
use crate::store::tenants::{Instance, Tenant};
use crate::store::Db;
use serde_json::json;

const COMPONENT: &str = "TENANT";

/// Names the server's routes use for themselves (as `tenants create` refuses them).
const RESERVED: &[&str] = &["auth", "docs", "healthz", "readyz", "openapi.json", "_emulator", "admin", "console"];

pub async fn tenant(db: &Db, name: &str) -> ServiceResult<Tenant> {
    db.tenant_by_name(name).await?.ok_or_else(|| {
        ServiceError::not_found("TENANT_NOT_FOUND", COMPONENT, "No such tenant", json!({"tenant": name}))
    })
}

pub async fn instance(db: &Db, tenant: &Tenant, name: &str) -> ServiceResult<Instance> {
    db.instance_by_name(&tenant.id, name).await?.ok_or_else(|| {
        ServiceError::not_found("INSTANCE_NOT_FOUND", COMPONENT, "No such instance", json!({"instance": name}))
    })
}

/// Every tenant with its instances, by name.
pub async fn list(db: &Db) -> ServiceResult<Vec<(Tenant, Vec<Instance>)>> {
    let mut out = Vec::new();
    for name in db.tenant_names().await? {
        if let Some(t) = db.tenant_by_name(&name).await? {
            let instances = db.instances(&t.id).await?;
            out.push((t, instances));
        }
    }
    Ok(out)
}

/// Creates an instance of the tenant, audited as `INSTANCE_CREATED` in its transaction.
pub async fn create_instance(
    db: &Db,
    tenant: &Tenant,
    by: &Actor,
    name: &str,
    description: &str,
    now_ms: i64,
) -> ServiceResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !RESERVED.contains(&name);
    if !ok {
        return Err(ServiceError::bad_request(COMPONENT, "an instance name is 1-63 letters, digits, '-' or '_'"));
    }
    let mut tx = db.begin().await?;
    if !crate::store::tenants::insert_instance(&mut tx, &tenant.id, name, description, now_ms).await? {
        return Err(ServiceError::conflict(
            "INSTANCE_ALREADY_EXISTS",
            COMPONENT,
            format!("the tenant already has an instance named {name}"),
            json!({"instance": name}),
        ));
    }
    let event = SecurityEvent {
        tenant_id: &tenant.id,
        subtype: "INSTANCE_CREATED",
        subject: by,
        object: None,
        record: json!({"instance": name, "description": description}),
    };
    crate::store::audit::record_security_event_in(&mut tx, &event, now_ms).await?;
    tx.commit().await?;
    Ok(())
}
