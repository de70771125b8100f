//! Communication IDs of one instance (sending lines), unique per channel and value. The
//! default of a channel is the one marked default, else the oldest.

use super::{Db, Tx};
use serde_json::Value;

fn parse(body: &str) -> Value {
    serde_json::from_str(body).expect("stored communication IDs are written by this server")
}

pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    c: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO communication_ids (id, tenant_id, instance_id, channel, value, is_default, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(c["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(c["channel"].as_str())
    .bind(c["value"].as_str())
    .bind(c["default"].as_bool().unwrap_or(false) as i64)
    .bind(now_ms)
    .bind(c.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(tx: &mut Tx, instance_id: &str, c: &Value, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE communication_ids SET is_default = $1, updated_at = $2, body = $3 WHERE instance_id = $4 AND id = $5",
    )
    .bind(c["default"].as_bool().unwrap_or(false) as i64)
    .bind(now_ms)
    .bind(c.to_string())
    .bind(instance_id)
    .bind(c["id"].as_str())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The other communication IDs of the channel marked default (to unmark them when
/// another becomes the default).
pub async fn other_defaults(
    tx: &mut Tx,
    instance_id: &str,
    channel: &str,
    except: &str,
) -> crate::store::sql::Result<Vec<Value>> {
    let rows = crate::store::sql::query(
        "SELECT body FROM communication_ids WHERE instance_id = $1 AND channel = $2 AND is_default = 1 AND id <> $3",
    )
    .bind(instance_id)
    .bind(channel)
    .bind(except)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.iter().map(|r| parse(&r.get::<String, _>("body"))).collect())
}

/// Whether the instance has a communication ID of `channel` (inside a write transaction,
/// after `lock`).
pub async fn channel_in_use(tx: &mut Tx, instance_id: &str, channel: &str) -> crate::store::sql::Result<bool> {
    let row =
        crate::store::sql::query("SELECT id FROM communication_ids WHERE instance_id = $1 AND channel = $2 LIMIT 1")
            .bind(instance_id)
            .bind(channel)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.is_some())
}

/// Takes the write lock of the instance's communication IDs until the transaction ends,
/// before any of their rows: which one is a channel's default is a rule over several rows
/// (at most one marked; the first of a channel becomes it), so creates and updates run
/// one after the other. On PostgreSQL a transaction-scoped advisory lock; on SQLite the
/// single writer connection already runs write transactions one at a time.
pub async fn lock(tx: &mut Tx, instance_id: &str) -> crate::store::sql::Result<()> {
    tx.lock_name(&format!("communication-ids:{instance_id}")).await
}

pub async fn delete(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<bool> {
    Ok(crate::store::sql::query("DELETE FROM communication_ids WHERE instance_id = $1 AND id = $2")
        .bind(instance_id)
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        == 1)
}

/// A communication ID inside a write transaction, its row locked until the transaction
/// ends.
pub async fn get_for_update(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<Value>> {
    let sql = format!("SELECT body FROM communication_ids WHERE instance_id = $1 AND id = $2{}", tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
}

impl Db {
    pub async fn communication_id(&self, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query("SELECT body FROM communication_ids WHERE instance_id = $1 AND id = $2")
            .bind(instance_id)
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
    }

    /// One page of the instance's communication IDs (of one channel, if given), oldest
    /// first, and the total count.
    pub async fn communication_ids(
        &self,
        instance_id: &str,
        channel: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        let channel = channel.unwrap_or("");
        let total: i64 = crate::store::sql::query(
            "SELECT COUNT(*) AS n FROM communication_ids WHERE instance_id = $1 AND ($2 = '' OR channel = $2)",
        )
        .bind(instance_id)
        .bind(channel)
        .fetch_one(self.reader())
        .await?
        .get("n");
        let rows = crate::store::sql::query(&format!(
            "SELECT body FROM communication_ids WHERE instance_id = $1 AND ($2 = '' OR channel = $2) \
             ORDER BY created_at, id LIMIT {limit} OFFSET {offset}"
        ))
        .bind(instance_id)
        .bind(channel)
        .fetch_all(self.reader())
        .await?;
        Ok((rows.iter().map(|r| parse(&r.get::<String, _>("body"))).collect(), total))
    }

    /// The communication ID of `channel` used when none is named: the one marked
    /// default, else the oldest.
    pub async fn default_communication_id(
        &self,
        instance_id: &str,
        channel: &str,
    ) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query(
            "SELECT body FROM communication_ids WHERE instance_id = $1 AND channel = $2 \
             ORDER BY is_default DESC, created_at, id LIMIT 1",
        )
        .bind(instance_id)
        .bind(channel)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
    }

    /// The communication ID of `channel` with this value, if the instance has it.
    pub async fn communication_id_by_value(
        &self,
        instance_id: &str,
        channel: &str,
        value: &str,
    ) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query(
            "SELECT body FROM communication_ids WHERE instance_id = $1 AND channel = $2 AND value = $3",
        )
        .bind(instance_id)
        .bind(channel)
        .bind(value)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
    }
}
