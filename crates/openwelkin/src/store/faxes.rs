//! Faxes of one instance, sent and received; filters on type, status, patient and
//! review, sorts on a whitelist of columns.

use super::query::{order_by, Arg, SortColumn, Where};
use super::{Db, Tx};
use crate::store::sql::Row;
use serde_json::Value;

fn body_of(row: &Row) -> Value {
    serde_json::from_str(&row.get::<String, _>("body")).expect("stored faxes are written by this server")
}

pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    fax: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO faxes (id, tenant_id, instance_id, patient_id, fax_type, status, reviewed, created_at, updated_at, \
         body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
    )
    .bind(fax["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(fax["patientId"].as_str())
    .bind(fax["type"].as_str())
    .bind(fax["status"].as_str())
    .bind(fax["reviewed"].as_bool().unwrap_or(false) as i64)
    .bind(now_ms)
    .bind(fax.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(tx: &mut Tx, instance_id: &str, fax: &Value, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE faxes SET patient_id = $1, status = $2, reviewed = $3, updated_at = $4, body = $5 \
         WHERE instance_id = $6 AND id = $7",
    )
    .bind(fax["patientId"].as_str())
    .bind(fax["status"].as_str())
    .bind(fax["reviewed"].as_bool().unwrap_or(false) as i64)
    .bind(now_ms)
    .bind(fax.to_string())
    .bind(instance_id)
    .bind(fax["id"].as_str())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// A fax inside a write transaction, its row locked until the transaction ends.
pub async fn get_for_update(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<Value>> {
    let sql = format!("SELECT body FROM faxes WHERE instance_id = $1 AND id = $2{}", tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(body_of))
}

/// Filters of the fax list.
#[derive(Clone, Debug, Default)]
pub struct FaxFilter {
    pub fax_type: Option<String>,
    pub status: Option<String>,
    pub patient_id: Option<String>,
    pub reviewed: Option<bool>,
}

/// The fields the list sorts on, and their columns.
pub fn sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "createdAt" => "created_at",
        "updatedAt" => "updated_at",
        "status" => "status",
        "type" => "fax_type",
        _ => return None,
    })
}

impl Db {
    pub async fn fax(&self, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query("SELECT body FROM faxes WHERE instance_id = $1 AND id = $2")
            .bind(instance_id)
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.as_ref().map(body_of))
    }

    /// A page of the instance's faxes in `sorts` order (newest first when none), and the
    /// total count.
    pub async fn faxes(
        &self,
        instance_id: &str,
        f: &FaxFilter,
        sorts: &[SortColumn],
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        if let Some(t) = &f.fax_type {
            w.and("fax_type = ?", [Arg::Text(t.clone())]);
        }
        if let Some(s) = &f.status {
            w.and("status = ?", [Arg::Text(s.clone())]);
        }
        if let Some(p) = &f.patient_id {
            w.and("patient_id = ?", [Arg::Text(p.clone())]);
        }
        if let Some(r) = f.reviewed {
            w.and("reviewed = ?", [Arg::Int(r as i64)]);
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM faxes{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        // Faxes made in the same millisecond newest first too: ids count up within one
        // (`ids::new_id`), and the tie `order_by` adds is ascending.
        let newest_first =
            [SortColumn { column: "created_at", descending: true }, SortColumn { column: "id", descending: true }];
        let order = order_by(if sorts.is_empty() { &newest_first } else { sorts }, "created_at");
        let sql = format!("SELECT body FROM faxes{}{order} LIMIT {limit} OFFSET {offset}", w.sql());
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(body_of).collect(), total))
    }
}
