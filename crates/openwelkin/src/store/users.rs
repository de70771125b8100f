//! Users of one tenant: a JSON body plus the columns the list filters and sorts use.

use super::query::{contains_pattern, order_by, Arg, SortColumn, Where};
use super::{Db, Tx};
use crate::domain::user::User;

#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub search: Option<String>,
    pub user_state: Option<String>,
    pub seat_assigned: Option<bool>,
    /// `instance/region`: users with a territory of that region in that instance.
    pub region: Option<String>,
}

pub fn sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "id" => "id",
        "username" => "username_key",
        "email" => "email",
        "firstName" => "first_name",
        "lastName" => "last_name",
        "userState" => "user_state",
        "createdAt" => "created_at",
        "updatedAt" => "updated_at",
        _ => return None,
    })
}

fn search_text(u: &User) -> String {
    [Some(&u.username), Some(&u.email), u.first_name.as_ref(), u.last_name.as_ref()]
        .into_iter()
        .flatten()
        .map(|s| s.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

fn regions(u: &User) -> String {
    let keys = u.region_keys();
    if keys.is_empty() {
        String::new()
    } else {
        format!(",{},", keys.join(","))
    }
}

pub async fn insert(tx: &mut Tx, tenant_id: &str, u: &User, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO users (id, tenant_id, username, username_key, email, first_name, last_name, user_state, \
         seat_assigned, regions, search, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)",
    )
    .bind(&u.id)
    .bind(tenant_id)
    .bind(&u.username)
    .bind(u.username.to_lowercase())
    .bind(u.email.to_lowercase())
    .bind(&u.first_name)
    .bind(&u.last_name)
    .bind(&u.user_state)
    .bind(!u.seats.is_empty() as i64)
    .bind(regions(u))
    .bind(search_text(u))
    .bind(now_ms)
    .bind(serde_json::to_string(u).expect("user serializes"))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(tx: &mut Tx, tenant_id: &str, u: &User, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE users SET email = $1, first_name = $2, last_name = $3, user_state = $4, seat_assigned = $5, \
         regions = $6, search = $7, updated_at = $8, body = $9 WHERE tenant_id = $10 AND id = $11",
    )
    .bind(u.email.to_lowercase())
    .bind(&u.first_name)
    .bind(&u.last_name)
    .bind(&u.user_state)
    .bind(!u.seats.is_empty() as i64)
    .bind(regions(u))
    .bind(search_text(u))
    .bind(now_ms)
    .bind(serde_json::to_string(u).expect("user serializes"))
    .bind(tenant_id)
    .bind(&u.id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete(tx: &mut Tx, tenant_id: &str, id: &str) -> crate::store::sql::Result<bool> {
    let done = crate::store::sql::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A user by id (`by_id`) or by username (case-insensitive), inside a write transaction,
/// its row locked until the transaction ends.
pub async fn get_for_update(
    tx: &mut Tx,
    tenant_id: &str,
    key: &str,
    by_id: bool,
) -> crate::store::sql::Result<Option<User>> {
    let sql = format!(
        "SELECT body FROM users WHERE tenant_id = $1 AND {} = $2{}",
        if by_id { "id" } else { "username_key" },
        tx.lock_rows()
    );
    let value = if by_id { key.to_string() } else { key.to_lowercase() };
    let row = crate::store::sql::query(&sql).bind(tenant_id).bind(value).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| parse_body(&r.get::<String, _>("body"))))
}

pub async fn username_taken(tx: &mut Tx, tenant_id: &str, username: &str) -> crate::store::sql::Result<bool> {
    let row = crate::store::sql::query("SELECT id FROM users WHERE tenant_id = $1 AND username_key = $2")
        .bind(tenant_id)
        .bind(username.to_lowercase())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.is_some())
}

/// Which of `ids` are users of the tenant.
pub async fn existing_ids(tx: &mut Tx, tenant_id: &str, ids: &[String]) -> crate::store::sql::Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut w = Where::default();
    w.and("tenant_id = ?", [Arg::Text(tenant_id.into())]);
    let marks = vec!["?"; ids.len()].join(", ");
    w.and(&format!("id IN ({marks})"), ids.iter().map(|i| Arg::Text(i.clone())));
    let sql = format!("SELECT id FROM users{}", w.sql());
    let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(&mut **tx).await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

impl Db {
    pub async fn user(&self, tenant_id: &str, key: &str, by_id: bool) -> crate::store::sql::Result<Option<User>> {
        let sql = format!(
            "SELECT body FROM users WHERE tenant_id = $1 AND {} = $2",
            if by_id { "id" } else { "username_key" }
        );
        let value = if by_id { key.to_string() } else { key.to_lowercase() };
        let row = crate::store::sql::query(&sql).bind(tenant_id).bind(value).fetch_optional(self.reader()).await?;
        Ok(row.map(|r| parse_body(&r.get::<String, _>("body"))))
    }

    pub async fn users_by_ids(&self, tenant_id: &str, ids: &[String]) -> crate::store::sql::Result<Vec<User>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut w = Where::default();
        w.and("tenant_id = ?", [Arg::Text(tenant_id.into())]);
        let marks = vec!["?"; ids.len()].join(", ");
        w.and(&format!("id IN ({marks})"), ids.iter().map(|i| Arg::Text(i.clone())));
        let sql = format!("SELECT body FROM users{}", w.sql());
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        Ok(rows.iter().map(|r| parse_body(&r.get::<String, _>("body"))).collect())
    }

    /// Users with a territory of `region` in `instance` (a patient's territorial team).
    pub async fn users_covering(
        &self,
        tenant_id: &str,
        instance: &str,
        region: &str,
    ) -> crate::store::sql::Result<Vec<User>> {
        let filter = UserFilter { region: Some(format!("{instance}/{region}")), ..Default::default() };
        Ok(self.users(tenant_id, &filter, &[], 0, 1000).await?.0)
    }

    pub async fn users(
        &self,
        tenant_id: &str,
        filter: &UserFilter,
        sorts: &[SortColumn],
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<User>, i64)> {
        let mut w = Where::default();
        w.and("tenant_id = ?", [Arg::Text(tenant_id.into())]);
        if let Some(s) = &filter.search {
            w.and("search LIKE ? ESCAPE '\\'", [Arg::Text(contains_pattern(s))]);
        }
        if let Some(state) = &filter.user_state {
            w.and("user_state = ?", [Arg::Text(state.clone())]);
        }
        if let Some(seat) = filter.seat_assigned {
            w.and("seat_assigned = ?", [Arg::Int(seat as i64)]);
        }
        if let Some(region) = &filter.region {
            w.and("regions LIKE ?", [Arg::Text(format!("%,{region},%"))]);
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM users{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let page_sql =
            format!("SELECT body FROM users{}{} LIMIT {limit} OFFSET {offset}", w.sql(), order_by(sorts, "created_at"));
        let rows = w.bind(crate::store::sql::query(&page_sql)).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(|r| parse_body(&r.get::<String, _>("body"))).collect(), total))
    }
}

fn parse_body(body: &str) -> User {
    serde_json::from_str(body).expect("stored user bodies are written by this server")
}
