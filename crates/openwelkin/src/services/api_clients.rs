//! API clients of a tenant, managed by an operator (the console; the CLI has its own
//! commands): create with a secret shown once, enable, disable, rotate the secret, change
//! the policy and instance grant, delete. Each change is one transaction with its security
//! audit row naming the actor; every change moves the configuration counter, so it takes
//! effect on the next request on every node.

use super::error::{ServiceError, ServiceResult};
use crate::auth::policy::Policy;
use crate::events::audit::{Actor, SecurityEvent};
use crate::store::clients::{self as store, ApiClient, InstanceGrant, NewClient};
use crate::store::tenants::Tenant;
use crate::store::{Db, Tx};
use serde_json::json;

const COMPONENT: &str = "API_CLIENT";

fn no_client(name: &str) -> ServiceError {
    ServiceError::not_found("API_CLIENT_NOT_FOUND", COMPONENT, "No such API client", json!({"clientName": name}))
}

/// Client names as the CLI takes them: letters, digits, '-' and '_'.
fn check_name(name: &str) -> ServiceResult<()> {
    if !name.is_empty() && name.len() <= 63 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(())
    } else {
        Err(ServiceError::bad_request(COMPONENT, "a client name is 1-63 letters, digits, '-' or '_'"))
    }
}

/// Every instance a grant names must exist in the tenant.
async fn check_grant(db: &Db, tenant: &Tenant, grant: &InstanceGrant) -> ServiceResult<()> {
    if let InstanceGrant::Only(names) = grant {
        for name in names {
            if db.instance_by_name(&tenant.id, name).await?.is_none() {
                return Err(ServiceError::bad_request(COMPONENT, format!("the tenant has no instance {name:?}")));
            }
        }
    }
    Ok(())
}

async fn audit(
    tx: &mut Tx,
    tenant: &Tenant,
    by: &Actor,
    client: &ApiClient,
    subtype: &'static str,
    now_ms: i64,
) -> ServiceResult<()> {
    let object = Actor::api_client(&client.id, &client.name);
    let event = SecurityEvent {
        tenant_id: &tenant.id,
        subtype,
        subject: by,
        object: Some(&object),
        record: json!({"clientName": client.name, "enabled": client.enabled, "policy": client.policy}),
    };
    crate::store::audit::record_security_event_in(tx, &event, now_ms).await?;
    Ok(())
}

/// A new secret and its argon2 hash (on a blocking thread: it takes tens of milliseconds).
async fn new_secret() -> ServiceResult<(String, String)> {
    let secret = crate::auth::secrets::generate();
    let copy = secret.clone();
    let hashed =
        tokio::task::spawn_blocking(move || crate::auth::secrets::hash(&copy)).await.map_err(ServiceError::internal)?;
    Ok((secret, hashed))
}

pub async fn list(db: &Db, tenant: &Tenant) -> ServiceResult<Vec<ApiClient>> {
    Ok(db.clients(&tenant.id).await?)
}

pub async fn get(db: &Db, tenant: &Tenant, name: &str) -> ServiceResult<ApiClient> {
    db.client_by_name(&tenant.id, name).await?.ok_or_else(|| no_client(name))
}

/// Creates a client; returns its secret, which is shown once and never stored.
pub async fn create(
    db: &Db,
    tenant: &Tenant,
    by: &Actor,
    name: &str,
    policy: &Policy,
    grant: &InstanceGrant,
    now_ms: i64,
) -> ServiceResult<String> {
    check_name(name)?;
    check_grant(db, tenant, grant).await?;
    let (secret, hashed) = new_secret().await?;
    let client = ApiClient {
        id: crate::ids::new_id(),
        tenant_id: tenant.id.clone(),
        name: name.to_string(),
        secret_hash: hashed,
        secret_version: 1,
        enabled: true,
        policy: policy.clone(),
        instances: grant.clone(),
        created_at: now_ms,
    };
    let mut tx = db.begin().await?;
    let new = NewClient {
        id: client.id.clone(),
        tenant_id: &tenant.id,
        name,
        secret_hash: client.secret_hash.clone(),
        policy,
        instances: grant,
    };
    match store::insert_client(&mut tx, new, now_ms).await {
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(ServiceError::conflict(
                "API_CLIENT_ALREADY_EXISTS",
                COMPONENT,
                format!("the tenant already has a client named {name}"),
                json!({"clientName": name}),
            ))
        }
        other => other?,
    }
    audit(&mut tx, tenant, by, &client, "API_CLIENT_CREATED", now_ms).await?;
    tx.commit().await?;
    Ok(secret)
}

pub async fn set_enabled(
    db: &Db,
    tenant: &Tenant,
    by: &Actor,
    name: &str,
    enabled: bool,
    now_ms: i64,
) -> ServiceResult<()> {
    let mut client = get(db, tenant, name).await?;
    let mut tx = db.begin().await?;
    if !store::update_client_enabled(&mut tx, &tenant.id, name, enabled, now_ms).await? {
        return Err(no_client(name));
    }
    client.enabled = enabled;
    let subtype = if enabled { "API_CLIENT_ENABLED" } else { "API_CLIENT_DISABLED" };
    audit(&mut tx, tenant, by, &client, subtype, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Gives the client a new secret (returned, shown once); tokens issued before stop working.
pub async fn rotate_secret(db: &Db, tenant: &Tenant, by: &Actor, name: &str, now_ms: i64) -> ServiceResult<String> {
    let client = get(db, tenant, name).await?;
    let (secret, hashed) = new_secret().await?;
    let mut tx = db.begin().await?;
    if !store::update_client_secret(&mut tx, &tenant.id, name, &hashed, now_ms).await? {
        return Err(no_client(name));
    }
    audit(&mut tx, tenant, by, &client, "API_CLIENT_SECRET_ROTATED", now_ms).await?;
    tx.commit().await?;
    Ok(secret)
}

pub async fn set_access(
    db: &Db,
    tenant: &Tenant,
    by: &Actor,
    name: &str,
    policy: &Policy,
    grant: &InstanceGrant,
    now_ms: i64,
) -> ServiceResult<()> {
    let mut client = get(db, tenant, name).await?;
    check_grant(db, tenant, grant).await?;
    let mut tx = db.begin().await?;
    if !store::update_client_policy(&mut tx, &tenant.id, name, policy, grant, now_ms).await? {
        return Err(no_client(name));
    }
    client.policy = policy.clone();
    client.instances = grant.clone();
    audit(&mut tx, tenant, by, &client, "API_CLIENT_ACCESS_UPDATED", now_ms).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete(db: &Db, tenant: &Tenant, by: &Actor, name: &str, now_ms: i64) -> ServiceResult<()> {
    let client = get(db, tenant, name).await?;
    let mut tx = db.begin().await?;
    if !store::delete_client(&mut tx, &tenant.id, name).await? {
        return Err(no_client(name));
    }
    audit(&mut tx, tenant, by, &client, "API_CLIENT_DELETED", now_ms).await?;
    tx.commit().await?;
    Ok(())
}
