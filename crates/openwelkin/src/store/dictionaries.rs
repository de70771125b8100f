//! Dictionary records of one instance: `{id, createdAt, updatedAt, fullValue, deleted,
//! values}` as JSON, soft-deleted with a flag.

use super::{Db, Tx};
use crate::store::sql::Row;
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct DictionaryRecord {
    pub id: String,
    pub deleted: bool,
    pub updated_at: i64,
    pub body: Value,
}

fn from_row(r: Row) -> DictionaryRecord {
    let body: String = r.get("body");
    DictionaryRecord {
        id: r.get("id"),
        deleted: r.get::<i64, _>("deleted") != 0,
        updated_at: r.get("updated_at"),
        body: serde_json::from_str(&body).expect("stored records are written by this server"),
    }
}

pub async fn insert(
    tx: &mut Tx,
    instance_id: &str,
    dictionary: &str,
    id: &str,
    body: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO dictionary_records (id, instance_id, dictionary_name, body, deleted, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 0, $5, $5)",
    )
    .bind(id)
    .bind(instance_id)
    .bind(dictionary)
    .bind(body.to_string())
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(
    tx: &mut Tx,
    instance_id: &str,
    dictionary: &str,
    id: &str,
    body: &Value,
    deleted: bool,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE dictionary_records SET body = $1, deleted = $2, updated_at = $3 WHERE instance_id = $4 AND dictionary_name = $5 AND id = $6",
    )
    .bind(body.to_string())
    .bind(deleted as i64)
    .bind(now_ms)
    .bind(instance_id)
    .bind(dictionary)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Removes every record of a dictionary for good (the replace-all `PUT`).
pub async fn purge(tx: &mut Tx, instance_id: &str, dictionary: &str) -> crate::store::sql::Result<u64> {
    Ok(crate::store::sql::query("DELETE FROM dictionary_records WHERE instance_id = $1 AND dictionary_name = $2")
        .bind(instance_id)
        .bind(dictionary)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// A record inside a write transaction, its row locked until the transaction ends.
pub async fn get_for_update(
    tx: &mut Tx,
    instance_id: &str,
    dictionary: &str,
    id: &str,
) -> crate::store::sql::Result<Option<DictionaryRecord>> {
    let sql = format!(
        "SELECT id, deleted, updated_at, body FROM dictionary_records WHERE instance_id = $1 AND dictionary_name = $2 AND id = $3{}",
        tx.lock_rows()
    );
    let row =
        crate::store::sql::query(&sql).bind(instance_id).bind(dictionary).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.map(from_row))
}

/// Every record of a dictionary (deleted ones too) inside a write transaction, their rows
/// locked until it ends: what a replace-all removes.
pub async fn all_for_update(
    tx: &mut Tx,
    instance_id: &str,
    dictionary: &str,
) -> crate::store::sql::Result<Vec<DictionaryRecord>> {
    let sql = format!(
        "SELECT id, deleted, updated_at, body FROM dictionary_records WHERE instance_id = $1 AND dictionary_name = $2 \
         ORDER BY created_at, id{}",
        tx.lock_rows()
    );
    let rows = crate::store::sql::query(&sql).bind(instance_id).bind(dictionary).fetch_all(&mut **tx).await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Takes the write lock of one dictionary until the transaction ends, so that writes that
/// change its set of records (add, replace-all, seeding) run one after the other. On
/// PostgreSQL this is a transaction-scoped advisory lock (there is no dictionary row to
/// lock, and an empty dictionary has no record rows); on SQLite the single writer
/// connection already runs write transactions one at a time.
pub async fn lock(tx: &mut Tx, instance_id: &str, dictionary: &str) -> crate::store::sql::Result<()> {
    tx.lock_name(&format!("dictionary:{instance_id}:{dictionary}")).await
}

pub async fn count(tx: &mut Tx, instance_id: &str, dictionary: &str) -> crate::store::sql::Result<i64> {
    Ok(crate::store::sql::query(
        "SELECT COUNT(*) AS n FROM dictionary_records WHERE instance_id = $1 AND dictionary_name = $2",
    )
    .bind(instance_id)
    .bind(dictionary)
    .fetch_one(&mut **tx)
    .await?
    .get("n"))
}

impl Db {
    /// A dictionary's records in creation order, optionally with deleted ones, filtered
    /// on `updatedAt`.
    pub async fn dictionary_records(
        &self,
        instance_id: &str,
        dictionary: &str,
        show_deleted: bool,
        from: Option<i64>,
        to: Option<i64>,
    ) -> crate::store::sql::Result<Vec<DictionaryRecord>> {
        // `+updated_at`: the bounds are checked on the dictionary's rows, read in order from
        // dictionary_records_by_name; without the `+` SQLite ranges over the updated_at of
        // every dictionary of the instance and sorts (tests/list_plans.rs).
        let rows = crate::store::sql::query(
            "SELECT id, deleted, updated_at, body FROM dictionary_records WHERE instance_id = $1 AND dictionary_name = $2 \
             AND ($3 = 1 OR deleted = 0) AND +updated_at >= $4 AND +updated_at <= $5 ORDER BY created_at, id",
        )
        .bind(instance_id)
        .bind(dictionary)
        .bind(show_deleted as i64)
        .bind(from.unwrap_or(i64::MIN))
        .bind(to.unwrap_or(i64::MAX))
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    pub async fn dictionary_record(
        &self,
        instance_id: &str,
        dictionary: &str,
        id: &str,
    ) -> crate::store::sql::Result<Option<DictionaryRecord>> {
        let row = crate::store::sql::query(
            "SELECT id, deleted, updated_at, body FROM dictionary_records WHERE instance_id = $1 AND dictionary_name = $2 AND id = $3",
        )
        .bind(instance_id)
        .bind(dictionary)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(from_row))
    }

    /// The values a select field backed by this dictionary may take: each live record's
    /// `fullValue` and its `values`.
    pub async fn dictionary_values(
        &self,
        instance_id: &str,
        dictionary: &str,
    ) -> crate::store::sql::Result<Vec<Value>> {
        let mut out = Vec::new();
        for r in self.dictionary_records(instance_id, dictionary, false, None, None).await? {
            if let Some(full) = r.body.get("fullValue") {
                out.push(full.clone());
            }
            if let Some(values) = r.body.get("values").and_then(Value::as_object) {
                out.extend(values.values().cloned());
            }
        }
        Ok(out)
    }
}
