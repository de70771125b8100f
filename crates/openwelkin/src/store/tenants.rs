//! Tenants (organisations) and their instances (environments such as `live`, `sandbox`).

use super::{config_cache, Db};
use crate::ids::new_id;
use crate::store::sql::Row;

#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct Instance {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: String,
}

impl Db {
    pub async fn tenant_by_name(&self, name: &str) -> crate::store::sql::Result<Option<Tenant>> {
        let row = crate::store::sql::query("SELECT id, name FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(|r| Tenant { id: r.get("id"), name: r.get("name") }))
    }

    /// Creates the tenant unless it exists; returns it either way.
    pub async fn ensure_tenant(&self, name: &str, now_ms: i64) -> crate::store::sql::Result<Tenant> {
        let mut tx = self.begin().await?;
        let done = crate::store::sql::query(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(new_id())
        .bind(name)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            config_cache::bump(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(self.tenant_by_name(name).await?.expect("tenant just ensured"))
    }

    pub async fn instance_by_name(&self, tenant_id: &str, name: &str) -> crate::store::sql::Result<Option<Instance>> {
        let row = crate::store::sql::query(
            "SELECT id, tenant_id, name, description FROM instances \
             WHERE tenant_id = $1 AND name = $2 AND retired_at IS NULL",
        )
        .bind(tenant_id)
        .bind(name)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(instance_from_row))
    }

    pub async fn instances(&self, tenant_id: &str) -> crate::store::sql::Result<Vec<Instance>> {
        let rows = crate::store::sql::query(
            "SELECT id, tenant_id, name, description FROM instances WHERE tenant_id = $1 AND retired_at IS NULL \
             ORDER BY created_at, name",
        )
        .bind(tenant_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(instance_from_row).collect())
    }

    /// Creates the instance unless it exists; returns it either way.
    pub async fn ensure_instance(
        &self,
        tenant_id: &str,
        name: &str,
        description: &str,
        now_ms: i64,
    ) -> crate::store::sql::Result<Instance> {
        let mut tx = self.begin().await?;
        insert_instance(&mut tx, tenant_id, name, description, now_ms).await?;
        tx.commit().await?;
        Ok(self.instance_by_name(tenant_id, name).await?.expect("instance just ensured"))
    }
}

/// Creates the instance in `tx` unless it exists; true when it was created.
pub async fn insert_instance(
    tx: &mut super::Tx,
    tenant_id: &str,
    name: &str,
    description: &str,
    now_ms: i64,
) -> crate::store::sql::Result<bool> {
    let done = crate::store::sql::query(
        "INSERT INTO instances (id, tenant_id, name, description, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, name) DO NOTHING",
    )
    .bind(new_id())
    .bind(tenant_id)
    .bind(name)
    .bind(description)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() > 0 {
        config_cache::bump(tx).await?;
    }
    Ok(done.rows_affected() > 0)
}

fn instance_from_row(r: Row) -> Instance {
    Instance { id: r.get("id"), tenant_id: r.get("tenant_id"), name: r.get("name"), description: r.get("description") }
}

impl Db {
    pub async fn tenant_names(&self) -> crate::store::sql::Result<Vec<String>> {
        let rows = crate::store::sql::query("SELECT name FROM tenants ORDER BY name").fetch_all(self.reader()).await?;
        Ok(rows.iter().map(|r| r.get("name")).collect())
    }
}

impl Db {
    pub async fn tenant_by_id(&self, id: &str) -> crate::store::sql::Result<Option<Tenant>> {
        let row = crate::store::sql::query("SELECT id, name FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(|r| Tenant { id: r.get("id"), name: r.get("name") }))
    }
}
