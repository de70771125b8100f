//! Assessment records of a patient: the record as JSON plus the columns lookups use.

use super::{Db, Tx};
use crate::store::sql::Row;
use serde_json::Value;

fn parse(r: &Row) -> Value {
    serde_json::from_str(&r.get::<String, _>("body")).expect("stored records are written by this server")
}

pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    record: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO assessment_records (id, tenant_id, instance_id, patient_id, assessment_name, status, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(record["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(record["patientId"].as_str())
    .bind(record["assessmentName"].as_str())
    .bind(record["status"].as_str())
    .bind(now_ms)
    .bind(record.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(tx: &mut Tx, instance_id: &str, record: &Value, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE assessment_records SET status = $1, updated_at = $2, body = $3 WHERE instance_id = $4 AND id = $5",
    )
    .bind(record["status"].as_str())
    .bind(now_ms)
    .bind(record.to_string())
    .bind(instance_id)
    .bind(record["id"].as_str())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<()> {
    crate::store::sql::query("DELETE FROM assessment_records WHERE instance_id = $1 AND id = $2")
        .bind(instance_id)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn delete_for_patient(tx: &mut Tx, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<()> {
    crate::store::sql::query("DELETE FROM assessment_records WHERE instance_id = $1 AND patient_id = $2")
        .bind(instance_id)
        .bind(patient_id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// A record inside a write transaction, its row locked until the transaction ends: its
/// status and answers are checked against the latest committed state.
pub async fn get_for_update(
    tx: &mut Tx,
    instance_id: &str,
    patient_id: &str,
    id: &str,
) -> crate::store::sql::Result<Option<Value>> {
    let sql = format!(
        "SELECT body FROM assessment_records WHERE instance_id = $1 AND patient_id = $2 AND id = $3{}",
        tx.lock_rows()
    );
    let row =
        crate::store::sql::query(&sql).bind(instance_id).bind(patient_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(parse))
}

impl Db {
    pub async fn assessment_record(
        &self,
        instance_id: &str,
        patient_id: &str,
        id: &str,
    ) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query(
            "SELECT body FROM assessment_records WHERE instance_id = $1 AND patient_id = $2 AND id = $3",
        )
        .bind(instance_id)
        .bind(patient_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.as_ref().map(parse))
    }

    /// One page of a patient's records (optionally of one assessment) and the total.
    pub async fn assessment_records(
        &self,
        instance_id: &str,
        patient_id: &str,
        assessment: Option<&str>,
        order: &str,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        let filter = "instance_id = $1 AND patient_id = $2 AND ($3 = '' OR assessment_name = $3)";
        let total: i64 =
            crate::store::sql::query(&format!("SELECT COUNT(*) AS n FROM assessment_records WHERE {filter}"))
                .bind(instance_id)
                .bind(patient_id)
                .bind(assessment.unwrap_or(""))
                .fetch_one(self.reader())
                .await?
                .get("n");
        let rows = crate::store::sql::query(&format!(
            "SELECT body FROM assessment_records WHERE {filter}{order} LIMIT {limit} OFFSET {offset}"
        ))
        .bind(instance_id)
        .bind(patient_id)
        .bind(assessment.unwrap_or(""))
        .fetch_all(self.reader())
        .await?;
        Ok((rows.iter().map(parse).collect(), total))
    }
}

/// Sortable fields of assessment records.
pub fn sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "createdAt" => "created_at",
        "updatedAt" => "updated_at",
        "status" => "status",
        "assessmentName" => "assessment_name",
        "id" => "id",
        _ => return None,
    })
}
