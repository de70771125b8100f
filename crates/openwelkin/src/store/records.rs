//! Data type records (CDT and PDT records) of one instance: the `jsonBody` as JSON plus
//! the columns lookups and date filters use.

use super::query::{Arg, Where};
use super::{Db, Tx};
use crate::store::sql::Row;
use serde_json::{Map, Value};

/// Which family of data type a record belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtKind {
    Cdt,
    Pdt,
    /// Welkin's internal data types: encounter assessment links and dispositions.
    Internal,
    /// Document summaries (`_document_summary`) and their document-type records.
    Document,
}

impl DtKind {
    fn as_str(self) -> &'static str {
        match self {
            DtKind::Cdt => "CDT",
            DtKind::Pdt => "PDT",
            DtKind::Internal => "INTERNAL",
            DtKind::Document => "DOCUMENT",
        }
    }
}

#[derive(Clone, Debug)]
pub struct StoredRecord {
    pub id: String,
    pub patient_id: Option<String>,
    pub dt_name: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub body: Map<String, Value>,
}

/// How a record is looked up (`type=ID|EID|EGUID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKey {
    Id,
    ExternalId,
    ExternalGuid,
}

impl RecordKey {
    fn column(self) -> &'static str {
        match self {
            RecordKey::Id => "id",
            RecordKey::ExternalId => "external_id",
            RecordKey::ExternalGuid => "external_guid",
        }
    }
}

/// Where records live: the instance, the data type, and (for patient records) the patient.
pub struct Scope<'a> {
    pub tenant_id: &'a str,
    pub instance_id: &'a str,
    pub kind: DtKind,
    pub dt_name: &'a str,
    /// `Some(None)` for records that belong to no patient; `None` for any.
    pub patient_id: Option<Option<&'a str>>,
}

const COLUMNS: &str = "id, patient_id, dt_name, version, created_at, updated_at, body";

fn from_row(r: Row) -> StoredRecord {
    let body: String = r.get("body");
    StoredRecord {
        id: r.get("id"),
        patient_id: r.get("patient_id"),
        dt_name: r.get("dt_name"),
        version: r.get("version"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        body: serde_json::from_str(&body).expect("stored records are written by this server"),
    }
}

fn scoped(scope: &Scope<'_>) -> Where {
    scoped_after(scope, 0)
}

fn scoped_after(scope: &Scope<'_>, n: usize) -> Where {
    let mut w = Where::after(n);
    w.and("instance_id = ?", [Arg::Text(scope.instance_id.into())]);
    w.and("dt_kind = ?", [Arg::Text(scope.kind.as_str().into())]);
    w.and("dt_name = ?", [Arg::Text(scope.dt_name.into())]);
    match scope.patient_id {
        Some(Some(p)) => {
            w.and("patient_id = ?", [Arg::Text(p.into())]);
        }
        Some(None) => {
            w.and("patient_id IS NULL", []);
        }
        None => {}
    }
    w
}

fn text(body: &Map<String, Value>, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(String::from)
}

pub async fn insert(
    tx: &mut Tx,
    scope: &Scope<'_>,
    id: &str,
    version: i64,
    body: &Map<String, Value>,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO dt_records (id, tenant_id, instance_id, patient_id, dt_kind, dt_name, external_id, external_guid, version, \
         created_at, updated_at, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)",
    )
    .bind(id)
    .bind(scope.tenant_id)
    .bind(scope.instance_id)
    .bind(scope.patient_id.flatten())
    .bind(scope.kind.as_str())
    .bind(scope.dt_name)
    .bind(text(body, "external_id"))
    .bind(text(body, "external_guid"))
    .bind(version)
    .bind(now_ms)
    .bind(Value::Object(body.clone()).to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(
    tx: &mut Tx,
    scope: &Scope<'_>,
    id: &str,
    body: &Map<String, Value>,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    let mut w = scoped_after(scope, 4);
    w.and("id = ?", [Arg::Text(id.into())]);
    let sql =
        format!("UPDATE dt_records SET external_id = $1, external_guid = $2, updated_at = $3, body = $4{}", w.sql());
    let q = crate::store::sql::query(&sql)
        .bind(text(body, "external_id"))
        .bind(text(body, "external_guid"))
        .bind(now_ms)
        .bind(Value::Object(body.clone()).to_string());
    w.bind(q).execute(&mut **tx).await.map(|_| ())
}

pub async fn delete(tx: &mut Tx, scope: &Scope<'_>, id: &str) -> crate::store::sql::Result<bool> {
    let mut w = scoped(scope);
    w.and("id = ?", [Arg::Text(id.into())]);
    let sql = format!("DELETE FROM dt_records{}", w.sql());
    Ok(w.bind(crate::store::sql::query(&sql)).execute(&mut **tx).await?.rows_affected() > 0)
}

/// Deletes every record of a patient (when the patient is deleted).
pub async fn delete_for_patient(tx: &mut Tx, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<u64> {
    Ok(crate::store::sql::query("DELETE FROM dt_records WHERE instance_id = $1 AND patient_id = $2")
        .bind(instance_id)
        .bind(patient_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// A record inside a write transaction, its row locked until the transaction ends (to
/// update it from its current state).
pub async fn get_for_update(
    tx: &mut Tx,
    scope: &Scope<'_>,
    key: RecordKey,
    value: &str,
) -> crate::store::sql::Result<Option<StoredRecord>> {
    let mut w = scoped(scope);
    w.and(&format!("{} = ?", key.column()), [Arg::Text(value.into())]);
    let sql = format!("SELECT {COLUMNS} FROM dt_records{}{}", w.sql(), tx.lock_rows());
    Ok(w.bind(crate::store::sql::query(&sql)).fetch_optional(&mut **tx).await?.map(from_row))
}

/// Locks the rows of these records (those that exist in scope) in id order, so that two
/// bulk updates naming the same records in different orders wait for each other instead
/// of deadlocking.
pub async fn lock_all(tx: &mut Tx, scope: &Scope<'_>, ids: &[String]) -> crate::store::sql::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut w = scoped(scope);
    let marks = vec!["?"; ids.len()].join(", ");
    w.and(&format!("id IN ({marks})"), ids.iter().map(|i| Arg::Text(i.clone())));
    let sql = format!("SELECT id FROM dt_records{} ORDER BY id{}", w.sql(), tx.lock_rows());
    w.bind(crate::store::sql::query(&sql)).fetch_all(&mut **tx).await.map(|_| ())
}

/// Marks a point the transaction can return to (`rollback_to_row`): each row of a bulk
/// update is applied or refused on its own, and on PostgreSQL a refused statement (a
/// unique index violation) would otherwise abort the whole transaction, whose `COMMIT`
/// then silently rolls back the rows already answered `OK`.
pub async fn savepoint_row(tx: &mut Tx) -> crate::store::sql::Result<()> {
    crate::store::sql::query("SAVEPOINT bulk_row").execute(&mut **tx).await.map(|_| ())
}

/// Keeps what the row since `savepoint_row` wrote.
pub async fn release_row(tx: &mut Tx) -> crate::store::sql::Result<()> {
    crate::store::sql::query("RELEASE SAVEPOINT bulk_row").execute(&mut **tx).await.map(|_| ())
}

/// Undoes what the row since `savepoint_row` wrote, and leaves the transaction usable.
pub async fn rollback_to_row(tx: &mut Tx) -> crate::store::sql::Result<()> {
    crate::store::sql::query("ROLLBACK TO SAVEPOINT bulk_row").execute(&mut **tx).await?;
    release_row(tx).await
}

pub async fn count(tx: &mut Tx, scope: &Scope<'_>) -> crate::store::sql::Result<i64> {
    let w = scoped(scope);
    let sql = format!("SELECT COUNT(*) AS n FROM dt_records{}", w.sql());
    Ok(w.bind(crate::store::sql::query(&sql)).fetch_one(&mut **tx).await?.get("n"))
}

/// The id of another record of the same type holding an external key, if any.
pub async fn holder_of(
    tx: &mut Tx,
    scope: &Scope<'_>,
    key: RecordKey,
    value: &str,
) -> crate::store::sql::Result<Option<String>> {
    let mut w = scoped(&Scope { patient_id: None, ..*scope });
    w.and(&format!("{} = ?", key.column()), [Arg::Text(value.into())]);
    let sql = format!("SELECT id FROM dt_records{}", w.sql());
    Ok(w.bind(crate::store::sql::query(&sql)).fetch_optional(&mut **tx).await?.map(|r| r.get("id")))
}

impl Db {
    pub async fn record(
        &self,
        scope: &Scope<'_>,
        key: RecordKey,
        value: &str,
    ) -> crate::store::sql::Result<Option<StoredRecord>> {
        let mut w = scoped(scope);
        w.and(&format!("{} = ?", key.column()), [Arg::Text(value.into())]);
        let sql = format!("SELECT {COLUMNS} FROM dt_records{}", w.sql());
        Ok(w.bind(crate::store::sql::query(&sql)).fetch_optional(self.reader()).await?.map(from_row))
    }

    /// Every record in scope updated within the optional bounds, oldest first. Lists
    /// filter, sort and page these in memory: a patient has few records of one type.
    pub async fn records(
        &self,
        scope: &Scope<'_>,
        updated_from: Option<i64>,
        updated_to: Option<i64>,
    ) -> crate::store::sql::Result<Vec<StoredRecord>> {
        let mut w = scoped(scope);
        if let Some(from) = updated_from {
            w.and("updated_at >= ?", [Arg::Int(from)]);
        }
        if let Some(to) = updated_to {
            w.and("updated_at <= ?", [Arg::Int(to)]);
        }
        let sql = format!("SELECT {COLUMNS} FROM dt_records{} ORDER BY created_at, id", w.sql());
        Ok(w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?.into_iter().map(from_row).collect())
    }

    /// Ids of patients with at least one record of a data type, in order, with a total.
    pub async fn patients_with_records(
        &self,
        instance_id: &str,
        kind: DtKind,
        dt_name: &str,
    ) -> crate::store::sql::Result<Vec<String>> {
        let rows = crate::store::sql::query(
            "SELECT DISTINCT patient_id FROM dt_records WHERE instance_id = $1 AND dt_kind = $2 AND dt_name = $3 AND patient_id IS NOT NULL",
        )
        .bind(instance_id)
        .bind(kind.as_str())
        .bind(dt_name)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.iter().map(|r| r.get("patient_id")).collect())
    }
}
