//! Voice calls of one instance (matched to a patient, or unrecognized until assigned),
//! and their recordings (base64 in a TEXT column, read only for downloads).

use super::query::{Arg, Where};
use super::{Db, Tx};
use crate::store::sql::Row;
use base64::Engine;
use serde_json::Value;

fn body_of(row: &Row) -> Value {
    serde_json::from_str(&row.get::<String, _>("body")).expect("stored calls are written by this server")
}

fn ms(call: &Value, key: &str) -> i64 {
    call[key].as_str().and_then(crate::time::parse_datetime).map(|t| t.timestamp_millis()).unwrap_or_default()
}

pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    call: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO calls (id, tenant_id, instance_id, patient_id, unrecognized, resolution, called_at, created_at, \
         updated_at, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
    )
    .bind(call["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(call["patientId"].as_str())
    .bind(call["unrecognized"].as_bool().unwrap_or(false) as i64)
    .bind(call["resolutionStatus"].as_str())
    .bind(ms(call, "calledAt"))
    .bind(now_ms)
    .bind(call.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(tx: &mut Tx, instance_id: &str, call: &Value, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE calls SET patient_id = $1, resolution = $2, updated_at = $3, body = $4 WHERE instance_id = $5 AND id = $6",
    )
    .bind(call["patientId"].as_str())
    .bind(call["resolutionStatus"].as_str())
    .bind(now_ms)
    .bind(call.to_string())
    .bind(instance_id)
    .bind(call["id"].as_str())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn insert_recording(
    tx: &mut Tx,
    instance_id: &str,
    call_id: &str,
    content_type: &str,
    filename: &str,
    bytes: &[u8],
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO call_recordings (call_id, instance_id, content_type, filename, size, data) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(call_id)
    .bind(instance_id)
    .bind(content_type)
    .bind(filename)
    .bind(bytes.len() as i64)
    .bind(base64::engine::general_purpose::STANDARD.encode(bytes))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Removes a patient's calls and their recordings.
pub async fn delete_for_patient(tx: &mut Tx, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<u64> {
    crate::store::sql::query(
        "DELETE FROM call_recordings WHERE call_id IN (SELECT id FROM calls WHERE instance_id = $1 AND patient_id = $2)",
    )
    .bind(instance_id)
    .bind(patient_id)
    .execute(&mut **tx)
    .await?;
    Ok(crate::store::sql::query("DELETE FROM calls WHERE instance_id = $1 AND patient_id = $2")
        .bind(instance_id)
        .bind(patient_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// An unrecognized call, for resolving it: locked until the transaction ends, so that of
/// two resolutions at once the second sees the first.
pub async fn unrecognized_for_update(
    tx: &mut Tx,
    instance_id: &str,
    id: &str,
) -> crate::store::sql::Result<Option<Value>> {
    let sql =
        format!("SELECT body FROM calls WHERE instance_id = $1 AND id = $2 AND unrecognized = 1{}", tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(body_of))
}

/// The patients of the instance whose phone number is `phone` (at most two: one is a
/// match, more is ambiguous).
pub async fn patients_with_phone(
    tx: &mut Tx,
    instance_id: &str,
    phone: &str,
) -> crate::store::sql::Result<Vec<String>> {
    let rows =
        crate::store::sql::query("SELECT id FROM patients WHERE instance_id = $1 AND phone = $2 ORDER BY id LIMIT 2")
            .bind(instance_id)
            .bind(phone)
            .fetch_all(&mut **tx)
            .await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

/// Filters of the call lists; times are epoch milliseconds of `calledAt`.
#[derive(Clone, Debug, Default)]
pub struct CallFilter {
    pub patient_id: Option<String>,
    /// Only unrecognized calls (pending or resolved).
    pub unrecognized: bool,
    pub resolution: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

fn call_where(instance_id: &str, f: &CallFilter) -> Where {
    let mut w = Where::default();
    w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
    if let Some(p) = &f.patient_id {
        w.and("patient_id = ?", [Arg::Text(p.clone())]);
    }
    if f.unrecognized {
        w.and("unrecognized = ?", [Arg::Int(1)]);
    }
    if let Some(r) = &f.resolution {
        w.and("resolution = ?", [Arg::Text(r.clone())]);
    }
    if let Some(from) = f.from {
        w.and("called_at >= ?", [Arg::Int(from)]);
    }
    if let Some(to) = f.to {
        w.and("called_at <= ?", [Arg::Int(to)]);
    }
    w
}

impl Db {
    /// A call of a patient.
    pub async fn patient_call(
        &self,
        instance_id: &str,
        patient_id: &str,
        id: &str,
    ) -> crate::store::sql::Result<Option<Value>> {
        let row =
            crate::store::sql::query("SELECT body FROM calls WHERE instance_id = $1 AND patient_id = $2 AND id = $3")
                .bind(instance_id)
                .bind(patient_id)
                .bind(id)
                .fetch_optional(self.reader())
                .await?;
        Ok(row.as_ref().map(body_of))
    }

    pub async fn unrecognized_call(&self, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<Value>> {
        let row =
            crate::store::sql::query("SELECT body FROM calls WHERE instance_id = $1 AND id = $2 AND unrecognized = 1")
                .bind(instance_id)
                .bind(id)
                .fetch_optional(self.reader())
                .await?;
        Ok(row.as_ref().map(body_of))
    }

    /// A page of calls, newest first, and the total count.
    pub async fn calls(
        &self,
        instance_id: &str,
        filter: &CallFilter,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        let w = call_where(instance_id, filter);
        let count_sql = format!("SELECT COUNT(*) AS n FROM calls{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let sql =
            format!("SELECT body FROM calls{} ORDER BY called_at DESC, id DESC LIMIT {limit} OFFSET {offset}", w.sql());
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(body_of).collect(), total))
    }

    /// A call's recording: content type, file name and bytes.
    pub async fn call_recording(
        &self,
        instance_id: &str,
        call_id: &str,
    ) -> crate::store::sql::Result<Option<(String, String, Vec<u8>)>> {
        let row = crate::store::sql::query(
            "SELECT content_type, filename, data FROM call_recordings WHERE instance_id = $1 AND call_id = $2",
        )
        .bind(instance_id)
        .bind(call_id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| {
            let data = base64::engine::general_purpose::STANDARD
                .decode(r.get::<String, _>("data"))
                .expect("stored recordings are base64 written by this server");
            (r.get("content_type"), r.get("filename"), data)
        }))
    }
}
