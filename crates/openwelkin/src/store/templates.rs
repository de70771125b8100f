//! Messaging templates of one instance (unique by name) and the templated
//! communications sent with them.

use super::query::{Arg, Where};
use super::{Db, Tx};
use crate::store::sql::Row;
use serde_json::Value;

fn body_of(row: &Row) -> Value {
    serde_json::from_str(&row.get::<String, _>("body")).expect("stored templates are written by this server")
}

pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    t: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO messaging_templates (id, tenant_id, instance_id, name, channel, active, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(t["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(t["name"].as_str())
    .bind(t["channel"].as_str())
    .bind(t["active"].as_bool().unwrap_or(true) as i64)
    .bind(now_ms)
    .bind(t.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(tx: &mut Tx, instance_id: &str, t: &Value, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE messaging_templates SET channel = $1, active = $2, updated_at = $3, body = $4 \
         WHERE instance_id = $5 AND id = $6",
    )
    .bind(t["channel"].as_str())
    .bind(t["active"].as_bool().unwrap_or(true) as i64)
    .bind(now_ms)
    .bind(t.to_string())
    .bind(instance_id)
    .bind(t["id"].as_str())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<bool> {
    Ok(crate::store::sql::query("DELETE FROM messaging_templates WHERE instance_id = $1 AND id = $2")
        .bind(instance_id)
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        > 0)
}

/// A template by name inside a write transaction, its row locked until the transaction
/// ends. (A name nobody holds locks nothing: creates rely on the unique index.)
pub async fn get_for_update(tx: &mut Tx, instance_id: &str, name: &str) -> crate::store::sql::Result<Option<Value>> {
    let sql = format!("SELECT body FROM messaging_templates WHERE instance_id = $1 AND name = $2{}", tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(name).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(body_of))
}

pub async fn insert_communication(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    c: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO communications (id, tenant_id, instance_id, patient_id, channel, status, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(c["communicationId"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(c["patientId"].as_str())
    .bind(c["channel"].as_str())
    .bind(c["status"].as_str())
    .bind(now_ms)
    .bind(c.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete_communications_for_patient(
    tx: &mut Tx,
    instance_id: &str,
    patient_id: &str,
) -> crate::store::sql::Result<u64> {
    Ok(crate::store::sql::query("DELETE FROM communications WHERE instance_id = $1 AND patient_id = $2")
        .bind(instance_id)
        .bind(patient_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// Filters of the communication list.
#[derive(Clone, Debug, Default)]
pub struct CommunicationFilter {
    pub patient_id: String,
    pub channel: Option<String>,
    pub status: Option<String>,
}

impl Db {
    pub async fn messaging_template(&self, instance_id: &str, name: &str) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query("SELECT body FROM messaging_templates WHERE instance_id = $1 AND name = $2")
            .bind(instance_id)
            .bind(name)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.as_ref().map(body_of))
    }

    /// Templates by name, optionally of one channel and activity.
    pub async fn messaging_templates(
        &self,
        instance_id: &str,
        channel: Option<&str>,
        active: Option<bool>,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<Vec<Value>> {
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        if let Some(c) = channel {
            w.and("channel = ?", [Arg::Text(c.into())]);
        }
        if let Some(a) = active {
            w.and("active = ?", [Arg::Int(a as i64)]);
        }
        let sql = format!(
            "SELECT body FROM messaging_templates{} ORDER BY name ASC, id ASC LIMIT {limit} OFFSET {offset}",
            w.sql()
        );
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        Ok(rows.iter().map(body_of).collect())
    }

    pub async fn communication(&self, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query("SELECT body FROM communications WHERE instance_id = $1 AND id = $2")
            .bind(instance_id)
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.as_ref().map(body_of))
    }

    /// A page of a patient's communications, newest first, and the total count.
    pub async fn communications(
        &self,
        instance_id: &str,
        f: &CommunicationFilter,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        w.and("patient_id = ?", [Arg::Text(f.patient_id.clone())]);
        if let Some(c) = &f.channel {
            w.and("channel = ?", [Arg::Text(c.clone())]);
        }
        if let Some(s) = &f.status {
            w.and("status = ?", [Arg::Text(s.clone())]);
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM communications{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let sql = format!(
            "SELECT body FROM communications{} ORDER BY created_at DESC, id DESC LIMIT {limit} OFFSET {offset}",
            w.sql()
        );
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(body_of).collect(), total))
    }
}
