//! API clients: name, argon2 hash of the secret, enabled flag, security policy and the
//! instances the client was granted.

use super::{config_cache, Db, Tx};
use crate::auth::policy::Policy;
use crate::store::sql::Row;

/// Which instances of its tenant a client may reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceGrant {
    All,
    Only(Vec<String>),
}

impl InstanceGrant {
    pub fn allows(&self, instance: &str) -> bool {
        match self {
            InstanceGrant::All => true,
            InstanceGrant::Only(names) => names.iter().any(|n| n == instance),
        }
    }

    fn encode(&self) -> String {
        match self {
            InstanceGrant::All => "*".into(),
            InstanceGrant::Only(names) => names.join(","),
        }
    }

    fn decode(value: &str) -> Self {
        if value == "*" {
            InstanceGrant::All
        } else {
            InstanceGrant::Only(value.split(',').filter(|s| !s.is_empty()).map(String::from).collect())
        }
    }
}

#[derive(Clone, Debug)]
pub struct ApiClient {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub secret_hash: String,
    /// Bumped when the secret is rotated: tokens carry it, so older tokens stop working.
    pub secret_version: i64,
    pub enabled: bool,
    pub policy: Policy,
    pub instances: InstanceGrant,
    pub created_at: i64,
}

pub struct NewClient<'a> {
    pub id: String,
    pub tenant_id: &'a str,
    pub name: &'a str,
    pub secret_hash: String,
    pub policy: &'a Policy,
    pub instances: &'a InstanceGrant,
}

const COLUMNS: &str = "id, tenant_id, name, secret_hash, secret_version, enabled, policy, instances, created_at";

impl Db {
    pub async fn create_client(&self, c: NewClient<'_>, now_ms: i64) -> crate::store::sql::Result<()> {
        let mut tx = self.begin().await?;
        insert_client(&mut tx, c, now_ms).await?;
        tx.commit().await
    }

    pub async fn client_by_name(&self, tenant_id: &str, name: &str) -> crate::store::sql::Result<Option<ApiClient>> {
        let sql = format!("SELECT {COLUMNS} FROM api_clients WHERE tenant_id = $1 AND name = $2");
        let row = crate::store::sql::query(&sql).bind(tenant_id).bind(name).fetch_optional(self.reader()).await?;
        Ok(row.map(client_from_row))
    }

    pub async fn client_by_id(&self, id: &str) -> crate::store::sql::Result<Option<ApiClient>> {
        let sql = format!("SELECT {COLUMNS} FROM api_clients WHERE id = $1");
        let row = crate::store::sql::query(&sql).bind(id).fetch_optional(self.reader()).await?;
        Ok(row.map(client_from_row))
    }

    pub async fn clients(&self, tenant_id: &str) -> crate::store::sql::Result<Vec<ApiClient>> {
        let sql = format!("SELECT {COLUMNS} FROM api_clients WHERE tenant_id = $1 ORDER BY name");
        let rows = crate::store::sql::query(&sql).bind(tenant_id).fetch_all(self.reader()).await?;
        Ok(rows.into_iter().map(client_from_row).collect())
    }

    /// Returns false when no such client exists.
    pub async fn set_client_enabled(
        &self,
        tenant_id: &str,
        name: &str,
        enabled: bool,
        now_ms: i64,
    ) -> crate::store::sql::Result<bool> {
        // Disabling also moves the client's token epoch (`secret_version`, carried in every
        // token as `sv`): a token issued before a disable stays dead after a later enable.
        let mut tx = self.begin().await?;
        let changed = update_client_enabled(&mut tx, tenant_id, name, enabled, now_ms).await?;
        tx.commit().await?;
        Ok(changed)
    }

    pub async fn set_client_policy(
        &self,
        tenant_id: &str,
        name: &str,
        policy: &Policy,
        instances: &InstanceGrant,
        now_ms: i64,
    ) -> crate::store::sql::Result<bool> {
        let mut tx = self.begin().await?;
        let changed = update_client_policy(&mut tx, tenant_id, name, policy, instances, now_ms).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Replaces the secret hash and invalidates every token issued before.
    pub async fn rotate_client_secret(
        &self,
        tenant_id: &str,
        name: &str,
        secret_hash: &str,
        now_ms: i64,
    ) -> crate::store::sql::Result<bool> {
        let mut tx = self.begin().await?;
        let changed = update_client_secret(&mut tx, tenant_id, name, secret_hash, now_ms).await?;
        tx.commit().await?;
        Ok(changed)
    }
}

/// Inserts a client (and bumps the configuration counter) in `tx`.
pub async fn insert_client(tx: &mut Tx, c: NewClient<'_>, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO api_clients (id, tenant_id, name, secret_hash, secret_version, enabled, policy, instances, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 1, 1, $5, $6, $7, $7)",
    )
    .bind(c.id)
    .bind(c.tenant_id)
    .bind(c.name)
    .bind(c.secret_hash)
    .bind(serde_json::to_string(c.policy).expect("policy serializes"))
    .bind(c.instances.encode())
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    config_cache::bump(tx).await
}

/// Enables or disables a client in `tx`; false when there is no such client.
pub async fn update_client_enabled(
    tx: &mut Tx,
    tenant_id: &str,
    name: &str,
    enabled: bool,
    now_ms: i64,
) -> crate::store::sql::Result<bool> {
    // Disabling also moves the client's token epoch (`secret_version`, carried in every
    // token as `sv`): a token issued before a disable stays dead after a later enable.
    let bump = if enabled { 0 } else { 1 };
    let done = crate::store::sql::query(
        "UPDATE api_clients SET enabled = $1, updated_at = $2, secret_version = secret_version + $5 \
         WHERE tenant_id = $3 AND name = $4",
    )
    .bind(enabled as i64)
    .bind(now_ms)
    .bind(tenant_id)
    .bind(name)
    .bind(bump)
    .execute(&mut **tx)
    .await?;
    bumped(tx, done.rows_affected()).await
}

/// Replaces a client's policy and instance grant in `tx`; false when there is no such client.
pub async fn update_client_policy(
    tx: &mut Tx,
    tenant_id: &str,
    name: &str,
    policy: &Policy,
    instances: &InstanceGrant,
    now_ms: i64,
) -> crate::store::sql::Result<bool> {
    let done = crate::store::sql::query(
        "UPDATE api_clients SET policy = $1, instances = $2, updated_at = $3 WHERE tenant_id = $4 AND name = $5",
    )
    .bind(serde_json::to_string(policy).expect("policy serializes"))
    .bind(instances.encode())
    .bind(now_ms)
    .bind(tenant_id)
    .bind(name)
    .execute(&mut **tx)
    .await?;
    bumped(tx, done.rows_affected()).await
}

/// Replaces the secret hash in `tx` and invalidates every token issued before.
pub async fn update_client_secret(
    tx: &mut Tx,
    tenant_id: &str,
    name: &str,
    secret_hash: &str,
    now_ms: i64,
) -> crate::store::sql::Result<bool> {
    let done = crate::store::sql::query(
        "UPDATE api_clients SET secret_hash = $1, secret_version = secret_version + 1, updated_at = $2 \
         WHERE tenant_id = $3 AND name = $4",
    )
    .bind(secret_hash)
    .bind(now_ms)
    .bind(tenant_id)
    .bind(name)
    .execute(&mut **tx)
    .await?;
    bumped(tx, done.rows_affected()).await
}

/// Deletes a client in `tx` (its tokens die with it); false when there is no such client.
pub async fn delete_client(tx: &mut Tx, tenant_id: &str, name: &str) -> crate::store::sql::Result<bool> {
    let done = crate::store::sql::query("DELETE FROM api_clients WHERE tenant_id = $1 AND name = $2")
        .bind(tenant_id)
        .bind(name)
        .execute(&mut **tx)
        .await?;
    bumped(tx, done.rows_affected()).await
}

/// Bumps the configuration counter when a client row changed; true when one did.
async fn bumped(tx: &mut Tx, rows: u64) -> crate::store::sql::Result<bool> {
    if rows > 0 {
        config_cache::bump(tx).await?;
    }
    Ok(rows > 0)
}

fn client_from_row(r: Row) -> ApiClient {
    let policy: String = r.get("policy");
    let instances: String = r.get("instances");
    ApiClient {
        id: r.get("id"),
        tenant_id: r.get("tenant_id"),
        name: r.get("name"),
        secret_hash: r.get("secret_hash"),
        secret_version: r.get("secret_version"),
        enabled: r.get::<i64, _>("enabled") != 0,
        // A policy that no longer parses grants nothing rather than everything.
        policy: serde_json::from_str(&policy).unwrap_or_default(),
        instances: InstanceGrant::decode(&instances),
        created_at: r.get("created_at"),
    }
}

impl Db {
    /// The tenant name of the only tenant with a client of this name (for the docs-site
    /// token form, which names no tenant).
    pub async fn tenant_of_client(&self, client_name: &str) -> crate::store::sql::Result<Option<String>> {
        let rows = crate::store::sql::query(
            "SELECT t.name AS name FROM api_clients c JOIN tenants t ON t.id = c.tenant_id WHERE c.name = $1 LIMIT 2",
        )
        .bind(client_name)
        .fetch_all(self.reader())
        .await?;
        Ok(if rows.len() == 1 { Some(rows[0].get("name")) } else { None })
    }
}
