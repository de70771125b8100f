//! Chat messages of patients, read newest first in token pages, and the chat webhook
//! configuration of each instance.

use super::query::{contains_pattern, Arg, Where};
use super::{Db, Tx};
use crate::domain::chat::Message;
use crate::store::sql::Row;
use serde_json::Value;

fn message_of(row: &Row) -> Message {
    let mut m: Message =
        serde_json::from_str(&row.get::<String, _>("body")).expect("stored chat messages are written by this server");
    m.archived = row.get::<i64, _>("archived") != 0;
    m
}

pub async fn insert(tx: &mut Tx, tenant_id: &str, instance_id: &str, m: &Message) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO chat_messages (id, tenant_id, instance_id, patient_id, external_id, sender_type, sender_id, \
         search, archived, created_at, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&m.id)
    .bind(tenant_id)
    .bind(instance_id)
    .bind(&m.patient_id)
    .bind(&m.external_id)
    .bind(&m.sender_type)
    .bind(&m.sender_id)
    .bind(m.message.to_lowercase())
    .bind(m.archived as i64)
    .bind(m.created_at_ms)
    .bind(serde_json::to_string(m).expect("messages serialize"))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete_for_patient(tx: &mut Tx, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<u64> {
    Ok(crate::store::sql::query("DELETE FROM chat_messages WHERE instance_id = $1 AND patient_id = $2")
        .bind(instance_id)
        .bind(patient_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// Which messages of one patient's conversation a page reads.
#[derive(Clone, Debug, Default)]
pub struct ChatScope {
    /// Lowercased text the message must contain (search).
    pub query: Option<String>,
    pub include_archived: bool,
}

/// A position in a conversation: a message's time and id.
#[derive(Clone, Debug)]
pub struct Border {
    pub at_ms: i64,
    pub id: Option<String>,
    /// Older messages than the border (else newer).
    pub before: bool,
}

fn scope_where(instance_id: &str, patient_id: &str, scope: &ChatScope) -> Where {
    let mut w = Where::default();
    w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
    w.and("patient_id = ?", [Arg::Text(patient_id.into())]);
    if !scope.include_archived {
        w.and("archived = ?", [Arg::Int(0)]);
    }
    if let Some(q) = &scope.query {
        w.and("search LIKE ? ESCAPE '\\'", [Arg::Text(contains_pattern(q))]);
    }
    w
}

fn border_clause(w: &mut Where, b: &Border) {
    let op = if b.before { "<" } else { ">" };
    match &b.id {
        Some(id) => w.and(
            &format!("(created_at {op} ? OR (created_at = ? AND id {op} ?))"),
            [Arg::Int(b.at_ms), Arg::Int(b.at_ms), Arg::Text(id.clone())],
        ),
        None => w.and(&format!("created_at {op} ?"), [Arg::Int(b.at_ms)]),
    };
}

/// A chat webhook: where and with which credentials to announce care-team messages.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChatWebhook {
    pub url: String,
    pub api_key: String,
    pub api_secret: String,
    pub active: bool,
    /// Base of `patientUrl` in the payload; when unset, taken from the request.
    pub public_base_url: Option<String>,
    pub updated_at: String,
    pub updated_by: String,
    pub updated_by_name: String,
}

pub async fn put_webhook(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    hook: &ChatWebhook,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO chat_webhooks (instance_id, tenant_id, updated_at, body) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (instance_id) DO UPDATE SET updated_at = $3, body = $4",
    )
    .bind(instance_id)
    .bind(tenant_id)
    .bind(now_ms)
    .bind(serde_json::to_string(hook).expect("webhooks serialize"))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Deletes the instance's chat webhook; returns it as it was (for the audit row), or
/// `None` when there was none. One statement, so a concurrent change is never the one
/// reported as deleted while another is.
pub async fn delete_webhook(tx: &mut Tx, instance_id: &str) -> crate::store::sql::Result<Option<ChatWebhook>> {
    let row = crate::store::sql::query("DELETE FROM chat_webhooks WHERE instance_id = $1 RETURNING body")
        .bind(instance_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| webhook_of(&r)))
}

fn webhook_of(r: &Row) -> ChatWebhook {
    serde_json::from_str(&r.get::<String, _>("body")).expect("stored webhooks are written by this server")
}

impl Db {
    /// Up to `limit` messages beyond `border` (or the newest, without one), newest first.
    pub async fn chat_page(
        &self,
        instance_id: &str,
        patient_id: &str,
        scope: &ChatScope,
        border: Option<&Border>,
        limit: i64,
    ) -> crate::store::sql::Result<Vec<Message>> {
        let mut w = scope_where(instance_id, patient_id, scope);
        if let Some(b) = border {
            border_clause(&mut w, b);
        }
        let newer = border.is_some_and(|b| !b.before);
        let order = if newer { "created_at ASC, id ASC" } else { "created_at DESC, id DESC" };
        let sql = format!("SELECT body, archived FROM chat_messages{} ORDER BY {order} LIMIT {limit}", w.sql());
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        let mut out: Vec<Message> = rows.iter().map(message_of).collect();
        if newer {
            out.reverse();
        }
        Ok(out)
    }

    /// Whether any message lies beyond `border`.
    pub async fn chat_has_beyond(
        &self,
        instance_id: &str,
        patient_id: &str,
        scope: &ChatScope,
        border: &Border,
    ) -> crate::store::sql::Result<bool> {
        let mut w = scope_where(instance_id, patient_id, scope);
        border_clause(&mut w, border);
        let sql = format!("SELECT id FROM chat_messages{} LIMIT 1", w.sql());
        Ok(w.bind(crate::store::sql::query(&sql)).fetch_optional(self.reader()).await?.is_some())
    }

    /// A page of a conversation oldest first (the DOCS list), optionally only messages
    /// sent after `since`, with the total count.
    pub async fn chat_messages(
        &self,
        instance_id: &str,
        patient_id: &str,
        since_ms: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Message>, i64)> {
        let mut w = scope_where(instance_id, patient_id, &ChatScope::default());
        if let Some(since) = since_ms {
            w.and("created_at > ?", [Arg::Int(since)]);
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM chat_messages{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let sql = format!(
            "SELECT body, archived FROM chat_messages{} ORDER BY created_at ASC, id ASC LIMIT {limit} OFFSET {offset}",
            w.sql()
        );
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(message_of).collect(), total))
    }

    /// Messages of the instance (or of one patient) containing `query`, newest first,
    /// with the total count (the DOCS search).
    pub async fn chat_search(
        &self,
        instance_id: &str,
        patient_id: Option<&str>,
        query: &str,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Message>, i64)> {
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        if let Some(p) = patient_id {
            w.and("patient_id = ?", [Arg::Text(p.into())]);
        }
        w.and("archived = ?", [Arg::Int(0)]);
        w.and("search LIKE ? ESCAPE '\\'", [Arg::Text(contains_pattern(query))]);
        let count_sql = format!("SELECT COUNT(*) AS n FROM chat_messages{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let sql = format!(
            "SELECT body, archived FROM chat_messages{} ORDER BY created_at DESC, id DESC LIMIT {limit} OFFSET {offset}",
            w.sql()
        );
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(message_of).collect(), total))
    }

    pub async fn chat_webhook(&self, instance_id: &str) -> crate::store::sql::Result<Option<ChatWebhook>> {
        let row = crate::store::sql::query("SELECT body FROM chat_webhooks WHERE instance_id = $1")
            .bind(instance_id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.as_ref().map(webhook_of))
    }
}

/// The webhook as it is shown: without its secret.
pub fn webhook_view(hook: &ChatWebhook) -> Value {
    serde_json::json!({
        "url": hook.url,
        "apiKey": hook.api_key,
        "apiSecretSet": !hook.api_secret.is_empty(),
        "active": hook.active,
        "publicBaseUrl": hook.public_base_url,
        "updatedAt": hook.updated_at,
        "updatedBy": hook.updated_by,
        "updatedByName": hook.updated_by_name,
    })
}
