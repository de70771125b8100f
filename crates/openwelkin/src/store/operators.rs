//! Console operators and their sessions (`console_operators`, `console_sessions`).

use super::{Db, Tx};
use crate::store::sql::Row;

#[derive(Clone, Debug)]
pub struct Operator {
    pub id: String,
    pub name: String,
    pub password_hash: String,
    pub enabled: bool,
    pub created_at: i64,
}

const COLUMNS: &str = "id, name, password_hash, enabled, created_at";

fn operator_from_row(r: Row) -> Operator {
    Operator {
        id: r.get("id"),
        name: r.get("name"),
        password_hash: r.get("password_hash"),
        enabled: r.get::<i64, _>("enabled") != 0,
        created_at: r.get("created_at"),
    }
}

impl Db {
    pub async fn operator_by_name(&self, name: &str) -> crate::store::sql::Result<Option<Operator>> {
        let sql = format!("SELECT {COLUMNS} FROM console_operators WHERE name = $1");
        Ok(crate::store::sql::query(&sql).bind(name).fetch_optional(self.reader()).await?.map(operator_from_row))
    }

    pub async fn operators(&self) -> crate::store::sql::Result<Vec<Operator>> {
        let sql = format!("SELECT {COLUMNS} FROM console_operators ORDER BY name");
        Ok(crate::store::sql::query(&sql).fetch_all(self.reader()).await?.into_iter().map(operator_from_row).collect())
    }

    /// The operator of a live session (enabled, not expired), by the token's digest.
    pub async fn operator_of_session(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> crate::store::sql::Result<Option<Operator>> {
        let sql = "SELECT o.id AS id, o.name AS name, o.password_hash AS password_hash, o.enabled AS enabled, \
                   o.created_at AS created_at FROM console_sessions s JOIN console_operators o ON o.id = s.operator_id \
                   WHERE s.token_hash = $1 AND s.expires_at > $2 AND o.enabled = 1";
        Ok(crate::store::sql::query(sql)
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(self.reader())
            .await?
            .map(operator_from_row))
    }
}

/// Inserts an operator; a taken name is a unique violation.
pub async fn insert_operator(
    tx: &mut Tx,
    id: &str,
    name: &str,
    password_hash: &str,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO console_operators (id, name, password_hash, enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, 1, $4, $4)",
    )
    .bind(id)
    .bind(name)
    .bind(password_hash)
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Sets the password hash and enables the operator; false when there is none of that name.
pub async fn set_operator_password(
    tx: &mut Tx,
    name: &str,
    password_hash: &str,
    now_ms: i64,
) -> crate::store::sql::Result<bool> {
    let done = crate::store::sql::query(
        "UPDATE console_operators SET password_hash = $1, enabled = 1, updated_at = $2 WHERE name = $3",
    )
    .bind(password_hash)
    .bind(now_ms)
    .bind(name)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Disables the operator; false when there is none of that name.
pub async fn disable_operator(tx: &mut Tx, name: &str, now_ms: i64) -> crate::store::sql::Result<bool> {
    let done = crate::store::sql::query("UPDATE console_operators SET enabled = 0, updated_at = $1 WHERE name = $2")
        .bind(now_ms)
        .bind(name)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends every session of the operator (a disable or a new password signs them out).
pub async fn delete_sessions_of(tx: &mut Tx, name: &str) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "DELETE FROM console_sessions WHERE operator_id IN (SELECT id FROM console_operators WHERE name = $1)",
    )
    .bind(name)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn insert_session(
    tx: &mut Tx,
    token_hash: &str,
    operator_id: &str,
    now_ms: i64,
    expires_at: i64,
) -> crate::store::sql::Result<()> {
    // Expired sessions go when new ones are made: the table stays as small as the live set.
    crate::store::sql::query("DELETE FROM console_sessions WHERE expires_at <= $1")
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    crate::store::sql::query(
        "INSERT INTO console_sessions (token_hash, operator_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(operator_id)
    .bind(now_ms)
    .bind(expires_at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete_session(tx: &mut Tx, token_hash: &str) -> crate::store::sql::Result<()> {
    crate::store::sql::query("DELETE FROM console_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}
