//! Billing records (payment methods, subscriptions, invoices, payments) of an instance:
//! one table, a `kind` per record type, JSON bodies with amounts in cents.

use super::query::{Arg, Where};
use super::{Db, Tx};
use crate::store::sql::Row;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    PaymentMethod,
    Subscription,
    Invoice,
    Payment,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::PaymentMethod => "PAYMENT_METHOD",
            Kind::Subscription => "SUBSCRIPTION",
            Kind::Invoice => "INVOICE",
            Kind::Payment => "PAYMENT",
        }
    }
}

/// The columns a record is found by.
pub struct Keys<'a> {
    pub patient_id: &'a str,
    pub encounter_id: Option<&'a str>,
    pub parent_id: Option<&'a str>,
    pub status: &'a str,
    pub amount_cents: i64,
}

fn parse(r: &Row) -> Value {
    serde_json::from_str(&r.get::<String, _>("body")).expect("stored billing records are written by this server")
}

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    kind: Kind,
    id: &str,
    keys: Keys<'_>,
    body: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO billing_records (id, tenant_id, instance_id, kind, patient_id, encounter_id, parent_id, status, amount_cents, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(instance_id)
    .bind(kind.as_str())
    .bind(keys.patient_id)
    .bind(keys.encounter_id)
    .bind(keys.parent_id)
    .bind(keys.status)
    .bind(keys.amount_cents)
    .bind(now_ms)
    .bind(body.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(
    tx: &mut Tx,
    instance_id: &str,
    kind: Kind,
    id: &str,
    keys: Keys<'_>,
    body: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE billing_records SET encounter_id = $1, status = $2, amount_cents = $3, updated_at = $4, body = $5 \
         WHERE instance_id = $6 AND kind = $7 AND id = $8",
    )
    .bind(keys.encounter_id)
    .bind(keys.status)
    .bind(keys.amount_cents)
    .bind(now_ms)
    .bind(body.to_string())
    .bind(instance_id)
    .bind(kind.as_str())
    .bind(id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete(tx: &mut Tx, instance_id: &str, kind: Kind, id: &str) -> crate::store::sql::Result<()> {
    crate::store::sql::query("DELETE FROM billing_records WHERE instance_id = $1 AND kind = $2 AND id = $3")
        .bind(instance_id)
        .bind(kind.as_str())
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn delete_for_patient(tx: &mut Tx, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<()> {
    crate::store::sql::query("DELETE FROM billing_records WHERE instance_id = $1 AND patient_id = $2")
        .bind(instance_id)
        .bind(patient_id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// One record inside a write, locked until the transaction ends: a read-modify-write of
/// it (and of what hangs off it, such as an invoice's payments) is not interleaved with
/// another one.
pub async fn get_for_update(
    tx: &mut Tx,
    instance_id: &str,
    kind: Kind,
    id: &str,
) -> crate::store::sql::Result<Option<Value>> {
    let sql =
        format!("SELECT body FROM billing_records WHERE instance_id = $1 AND kind = $2 AND id = $3{}", tx.lock_rows());
    let row =
        crate::store::sql::query(&sql).bind(instance_id).bind(kind.as_str()).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(parse))
}

/// Every matching record inside a write, oldest first (e.g. an invoice's payments, read
/// after the invoice is locked, so that no payment is added meanwhile).
pub async fn records_in(
    tx: &mut Tx,
    instance_id: &str,
    kind: Kind,
    f: &Filter<'_>,
) -> crate::store::sql::Result<Vec<Value>> {
    let (w, sql) = listing(instance_id, kind, f);
    Ok(w.bind(crate::store::sql::query(&sql)).fetch_all(&mut **tx).await?.iter().map(parse).collect())
}

fn listing(instance_id: &str, kind: Kind, f: &Filter<'_>) -> (Where, String) {
    let mut w = Where::default();
    w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
    w.and("kind = ?", [Arg::Text(kind.as_str().into())]);
    for (column, value) in [("patient_id", f.patient_id), ("encounter_id", f.encounter_id), ("parent_id", f.parent_id)]
    {
        if let Some(v) = value {
            w.and(&format!("{column} = ?"), [Arg::Text(v.into())]);
        }
    }
    if let Some(from) = f.created_from {
        w.and("created_at >= ?", [Arg::Int(from)]);
    }
    if let Some(to) = f.created_to {
        w.and("created_at <= ?", [Arg::Int(to)]);
    }
    let sql = format!("SELECT body FROM billing_records{} ORDER BY created_at, id", w.sql());
    (w, sql)
}

/// What a listing filters on.
#[derive(Default)]
pub struct Filter<'a> {
    pub patient_id: Option<&'a str>,
    pub encounter_id: Option<&'a str>,
    pub parent_id: Option<&'a str>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
}

impl Db {
    pub async fn billing_record(
        &self,
        instance_id: &str,
        kind: Kind,
        id: &str,
    ) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query(
            "SELECT body FROM billing_records WHERE instance_id = $1 AND kind = $2 AND id = $3",
        )
        .bind(instance_id)
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.as_ref().map(parse))
    }

    /// Every matching record, oldest first (statuses that depend on the date are computed
    /// when read, so filtering on them happens after).
    pub async fn billing_records(
        &self,
        instance_id: &str,
        kind: Kind,
        f: &Filter<'_>,
    ) -> crate::store::sql::Result<Vec<Value>> {
        let (w, sql) = listing(instance_id, kind, f);
        Ok(w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?.iter().map(parse).collect())
    }
}
