//! Contacts of a patient (representatives, caregivers), optionally linked to a profile
//! (PDT) record; at most one contact per patient and profile record.

use super::{Db, Tx};
use serde_json::Value;

pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    contact: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO contacts (id, tenant_id, instance_id, patient_id, pdt_record_id, active, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(contact["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(contact["patientId"].as_str())
    .bind(contact["pdtRecordId"].as_str())
    .bind(contact["active"].as_bool().unwrap_or(true) as i64)
    .bind(now_ms)
    .bind(contact.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(tx: &mut Tx, instance_id: &str, contact: &Value, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query("UPDATE contacts SET pdt_record_id = $1, active = $2, updated_at = $3, body = $4 WHERE instance_id = $5 AND id = $6")
        .bind(contact["pdtRecordId"].as_str())
        .bind(contact["active"].as_bool().unwrap_or(true) as i64)
        .bind(now_ms)
        .bind(contact.to_string())
        .bind(instance_id)
        .bind(contact["id"].as_str())
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn delete_for_patient(tx: &mut Tx, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<u64> {
    Ok(crate::store::sql::query("DELETE FROM contacts WHERE instance_id = $1 AND patient_id = $2")
        .bind(instance_id)
        .bind(patient_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// A contact inside a write transaction, its row locked until the transaction ends.
pub async fn get_for_update(
    tx: &mut Tx,
    instance_id: &str,
    patient_id: &str,
    id: &str,
) -> crate::store::sql::Result<Option<Value>> {
    let sql =
        format!("SELECT body FROM contacts WHERE instance_id = $1 AND patient_id = $2 AND id = $3{}", tx.lock_rows());
    let row =
        crate::store::sql::query(&sql).bind(instance_id).bind(patient_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| {
        serde_json::from_str(&r.get::<String, _>("body")).expect("stored contacts are written by this server")
    }))
}

/// The contact of a patient linked to a profile record, if any.
pub async fn holder_of(
    tx: &mut Tx,
    instance_id: &str,
    patient_id: &str,
    pdt_record_id: &str,
) -> crate::store::sql::Result<Option<String>> {
    let row = crate::store::sql::query(
        "SELECT id FROM contacts WHERE instance_id = $1 AND patient_id = $2 AND pdt_record_id = $3",
    )
    .bind(instance_id)
    .bind(patient_id)
    .bind(pdt_record_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| r.get("id")))
}

impl Db {
    pub async fn contact(
        &self,
        instance_id: &str,
        patient_id: &str,
        id: &str,
    ) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query(
            "SELECT body FROM contacts WHERE instance_id = $1 AND patient_id = $2 AND id = $3",
        )
        .bind(instance_id)
        .bind(patient_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| {
            serde_json::from_str(&r.get::<String, _>("body")).expect("stored contacts are written by this server")
        }))
    }

    pub async fn contacts(
        &self,
        instance_id: &str,
        patient_id: &str,
        pdt_record_id: Option<&str>,
        active: Option<bool>,
    ) -> crate::store::sql::Result<Vec<Value>> {
        let rows = crate::store::sql::query(
            "SELECT body FROM contacts WHERE instance_id = $1 AND patient_id = $2 AND ($3 = '' OR pdt_record_id = $3) \
             AND ($4 < 0 OR active = $4) ORDER BY created_at, id",
        )
        .bind(instance_id)
        .bind(patient_id)
        .bind(pdt_record_id.unwrap_or(""))
        .bind(active.map(|a| a as i64).unwrap_or(-1))
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                serde_json::from_str(&r.get::<String, _>("body")).expect("stored contacts are written by this server")
            })
            .collect())
    }
}
