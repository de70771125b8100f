//! Encounters (the `jsonBody` plus lookup columns) and their comments.

use super::{Db, Tx};
use crate::store::sql::Row;
use serde_json::{Map, Value};

#[derive(Clone, Debug)]
pub struct StoredEncounter {
    pub id: String,
    pub patient_id: String,
    pub version: i64,
    pub body: Map<String, Value>,
}

fn from_row(r: &Row) -> StoredEncounter {
    let body: Value =
        serde_json::from_str(&r.get::<String, _>("body")).expect("stored encounters are written by this server");
    StoredEncounter {
        id: r.get("id"),
        patient_id: r.get("patient_id"),
        version: body["version"].as_i64().unwrap_or(0),
        body: body["jsonBody"].as_object().cloned().unwrap_or_default(),
    }
}

fn stored(e: &StoredEncounter) -> String {
    serde_json::json!({"version": e.version, "jsonBody": e.body}).to_string()
}

pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    e: &StoredEncounter,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO encounters (id, tenant_id, instance_id, patient_id, owner_user_id, status, calendar_event_id, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
    )
    .bind(&e.id)
    .bind(tenant_id)
    .bind(instance_id)
    .bind(&e.patient_id)
    .bind(e.body.get("ownerUserId").and_then(Value::as_str))
    .bind(e.body.get("status").and_then(Value::as_str))
    .bind(e.body.get("calendarEventId").and_then(Value::as_str))
    .bind(now_ms)
    .bind(stored(e))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(tx: &mut Tx, instance_id: &str, e: &StoredEncounter, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE encounters SET owner_user_id = $1, status = $2, calendar_event_id = $3, updated_at = $4, body = $5 \
         WHERE instance_id = $6 AND id = $7",
    )
    .bind(e.body.get("ownerUserId").and_then(Value::as_str))
    .bind(e.body.get("status").and_then(Value::as_str))
    .bind(e.body.get("calendarEventId").and_then(Value::as_str))
    .bind(now_ms)
    .bind(stored(e))
    .bind(instance_id)
    .bind(&e.id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<()> {
    crate::store::sql::query("DELETE FROM encounter_comments WHERE instance_id = $1 AND encounter_id = $2")
        .bind(instance_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    crate::store::sql::query("DELETE FROM encounters WHERE instance_id = $1 AND id = $2")
        .bind(instance_id)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn delete_for_patient(tx: &mut Tx, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "DELETE FROM encounter_comments WHERE instance_id = $1 AND encounter_id IN (SELECT id FROM encounters WHERE instance_id = $1 AND patient_id = $2)",
    )
    .bind(instance_id)
    .bind(patient_id)
    .execute(&mut **tx)
    .await?;
    crate::store::sql::query("DELETE FROM encounters WHERE instance_id = $1 AND patient_id = $2")
        .bind(instance_id)
        .bind(patient_id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// An encounter inside a write transaction, its row locked until the transaction ends.
/// Every write to the encounter or to what hangs off it (comments, assessment links,
/// disposition) takes this lock first, so its status is checked against the latest
/// committed state and those writes run one after the other.
pub async fn get_for_update(
    tx: &mut Tx,
    instance_id: &str,
    patient_id: &str,
    id: &str,
) -> crate::store::sql::Result<Option<StoredEncounter>> {
    let sql = format!(
        "SELECT id, patient_id, body FROM encounters WHERE instance_id = $1 AND patient_id = $2 AND id = $3{}",
        tx.lock_rows()
    );
    let row =
        crate::store::sql::query(&sql).bind(instance_id).bind(patient_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(from_row))
}

/// Ids of a patient's internal records of `dt_name` (assessment links) that the encounter
/// owns (`source_id`), oldest first, read inside a write transaction.
pub async fn owned_record_ids(
    tx: &mut Tx,
    instance_id: &str,
    patient_id: &str,
    dt_name: &str,
    encounter_id: &str,
) -> crate::store::sql::Result<Vec<String>> {
    let rows = crate::store::sql::query(
        "SELECT id, body FROM dt_records WHERE instance_id = $1 AND dt_kind = 'INTERNAL' AND dt_name = $2 \
         AND patient_id = $3 ORDER BY created_at, id",
    )
    .bind(instance_id)
    .bind(dt_name)
    .bind(patient_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .iter()
        .filter(|r| {
            serde_json::from_str::<Value>(&r.get::<String, _>("body"))
                .is_ok_and(|b| b["source_id"].as_str() == Some(encounter_id))
        })
        .map(|r| r.get("id"))
        .collect())
}

/// Which encounters a listing wants.
pub enum Owner<'a> {
    Patient(&'a str),
    /// A user's encounters; with the patients whose care team includes the user.
    User(&'a str, &'a [String]),
}

impl Db {
    pub async fn encounter(
        &self,
        instance_id: &str,
        patient_id: &str,
        id: &str,
    ) -> crate::store::sql::Result<Option<StoredEncounter>> {
        let row = crate::store::sql::query(
            "SELECT id, patient_id, body FROM encounters WHERE instance_id = $1 AND patient_id = $2 AND id = $3",
        )
        .bind(instance_id)
        .bind(patient_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.as_ref().map(from_row))
    }

    /// Encounters of a patient or a user, oldest first; filtered and paged by the caller.
    pub async fn encounters(
        &self,
        instance_id: &str,
        owner: Owner<'_>,
    ) -> crate::store::sql::Result<Vec<StoredEncounter>> {
        let mut w = super::query::Where::default();
        w.and("instance_id = ?", [super::query::Arg::Text(instance_id.into())]);
        match owner {
            Owner::Patient(p) => {
                w.and("patient_id = ?", [super::query::Arg::Text(p.into())]);
            }
            Owner::User(u, patients) => {
                let mut args = vec![super::query::Arg::Text(u.into())];
                let mut clause = "owner_user_id = ?".to_string();
                if !patients.is_empty() {
                    clause.push_str(&format!(" OR patient_id IN ({})", vec!["?"; patients.len()].join(", ")));
                    args.extend(patients.iter().map(|p| super::query::Arg::Text(p.clone())));
                }
                w.and(&format!("({clause})"), args);
            }
        }
        let sql = format!("SELECT id, patient_id, body FROM encounters{} ORDER BY created_at, id", w.sql());
        Ok(w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?.iter().map(from_row).collect())
    }

    pub async fn encounter_comments(
        &self,
        instance_id: &str,
        encounter_id: &str,
    ) -> crate::store::sql::Result<Vec<Value>> {
        let rows = crate::store::sql::query(
            "SELECT body FROM encounter_comments WHERE instance_id = $1 AND encounter_id = $2 ORDER BY created_at, id",
        )
        .bind(instance_id)
        .bind(encounter_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                serde_json::from_str(&r.get::<String, _>("body")).expect("stored comments are written by this server")
            })
            .collect())
    }
}

pub async fn insert_comment(
    tx: &mut Tx,
    instance_id: &str,
    comment: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO encounter_comments (id, instance_id, encounter_id, created_at, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(comment["id"].as_str())
    .bind(instance_id)
    .bind(comment["encounterId"].as_str())
    .bind(now_ms)
    .bind(comment.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update_comment(tx: &mut Tx, instance_id: &str, comment: &Value) -> crate::store::sql::Result<()> {
    crate::store::sql::query("UPDATE encounter_comments SET body = $1 WHERE instance_id = $2 AND id = $3")
        .bind(comment.to_string())
        .bind(instance_id)
        .bind(comment["id"].as_str())
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn delete_comment(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<()> {
    crate::store::sql::query("DELETE FROM encounter_comments WHERE instance_id = $1 AND id = $2")
        .bind(instance_id)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// A comment inside a write transaction, its row locked until the transaction ends.
pub async fn comment_for_update(
    tx: &mut Tx,
    instance_id: &str,
    encounter_id: &str,
    id: &str,
) -> crate::store::sql::Result<Option<Value>> {
    let sql = format!(
        "SELECT body FROM encounter_comments WHERE instance_id = $1 AND encounter_id = $2 AND id = $3{}",
        tx.lock_rows()
    );
    let row =
        crate::store::sql::query(&sql).bind(instance_id).bind(encounter_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| {
        serde_json::from_str(&r.get::<String, _>("body")).expect("stored comments are written by this server")
    }))
}
