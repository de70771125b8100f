//! Emails of one instance (with the columns the V8 list filters use and the delivery
//! schedule), drafts, attachments (base64 in the database, so they commit and go with
//! their email), and the local outbox.

use super::query::{contains_pattern, order_by, Arg, SortColumn, Where};
use super::{Db, Tx};
use crate::domain::email::search_text;
use crate::store::sql::Row;
use serde_json::Value;

/// An email with what the store keeps beside its JSON.
#[derive(Clone, Debug)]
pub struct EmailRow {
    pub record: Value,
    pub tenant_id: String,
    pub instance_id: String,
    /// None while an inbound email is matched to no patient.
    pub patient_id: Option<String>,
    /// Arrived from an unknown sender (stays true once resolved).
    pub unmatched: bool,
    pub resolved_by: Option<String>,
    pub dispatch_at: Option<i64>,
    /// The delivery configuration that sends it (see `EmailDelivery::key`).
    pub dispatch_key: Option<String>,
    pub attempts: i64,
}

/// Which emails a list covers.
#[derive(Clone, Debug)]
pub enum Scope {
    Patient(String),
    /// Inbound emails matched to no patient yet (V8 `/unrecognized-patients/emails`).
    Unrecognised,
    /// Every email that arrived unmatched, resolved or not (DOCS `/unrecognized-emails`).
    Unmatched,
}

/// The V8 list filters (each combines with AND), plus the DOCS ones.
#[derive(Clone, Debug, Default)]
pub struct EmailFilter {
    pub search: Option<String>,
    pub sender: Option<String>,
    pub receiver: Option<String>,
    pub direction: Option<String>,
    pub starred: Option<bool>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// From or to.
    pub email: Option<String>,
    pub sender_name: Option<String>,
    pub receiver_name: Option<String>,
    pub statuses: Option<Vec<String>>,
    /// DOCS: resolved (true) or pending (false).
    pub resolved: Option<bool>,
    /// `[start, end]` of the email's date.
    pub date_from: Option<i64>,
    pub date_to: Option<i64>,
}

pub fn sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "id" => "id",
        "createdAt" => "created_at",
        "updatedAt" => "updated_at",
        "date" | "sentAt" | "receivedAt" => "COALESCE(date_at, created_at)",
        "scheduledAt" => "COALESCE(scheduled_at, created_at)",
        "status" => "status",
        "direction" => "direction",
        "starred" => "starred",
        "senderName" => "sender_name",
        "receiverName" => "receiver_name",
        _ => return None,
    })
}

fn lower(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_lowercase()
}

fn ms(v: &Value) -> Option<i64> {
    v.as_str().and_then(crate::time::parse_datetime).map(|t| t.timestamp_millis())
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).expect("stored emails are written by this server")
}

const COLUMNS: &str =
    "body, tenant_id, instance_id, patient_id, unmatched, resolved_by, dispatch_at, dispatch_key, attempts";

fn row_of(r: &Row) -> EmailRow {
    EmailRow {
        record: parse(&r.get::<String, _>("body")),
        tenant_id: r.get("tenant_id"),
        instance_id: r.get("instance_id"),
        patient_id: r.get("patient_id"),
        unmatched: r.get::<i64, _>("unmatched") != 0,
        resolved_by: r.get("resolved_by"),
        dispatch_at: r.get("dispatch_at"),
        dispatch_key: r.get("dispatch_key"),
        attempts: r.get("attempts"),
    }
}

pub async fn insert(tx: &mut Tx, row: &EmailRow, now_ms: i64) -> crate::store::sql::Result<()> {
    let e = &row.record;
    crate::store::sql::query(
        "INSERT INTO emails (id, tenant_id, instance_id, patient_id, direction, status, starred, sender_id, receiver_id, \
         from_key, to_key, sender_name, receiver_name, search, unmatched, resolved_by, date_at, scheduled_at, dispatch_at, \
         dispatch_key, attempts, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22, $23)",
    )
    .bind(e["id"].as_str())
    .bind(&row.tenant_id)
    .bind(&row.instance_id)
    .bind(row.patient_id.as_deref())
    .bind(e["direction"].as_str().unwrap_or_default())
    .bind(e["status"].as_str().unwrap_or_default())
    .bind(e["starred"].as_bool().unwrap_or(false) as i64)
    .bind(e["sender"].as_str())
    .bind(e["receiver"].as_str())
    .bind(lower(&e["from"]))
    .bind(lower(&e["to"]))
    .bind(lower(&e["senderName"]))
    .bind(lower(&e["receiverName"]))
    .bind(search_text(e))
    .bind(row.unmatched as i64)
    .bind(row.resolved_by.as_deref())
    .bind(ms(&e["date"]))
    .bind(ms(&e["scheduledAt"]))
    .bind(row.dispatch_at)
    .bind(row.dispatch_key.as_deref())
    .bind(row.attempts)
    .bind(now_ms)
    .bind(e.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(tx: &mut Tx, row: &EmailRow, now_ms: i64) -> crate::store::sql::Result<()> {
    let e = &row.record;
    crate::store::sql::query(
        "UPDATE emails SET patient_id = $1, status = $2, starred = $3, sender_id = $4, receiver_id = $5, from_key = $6, \
         to_key = $7, sender_name = $8, receiver_name = $9, search = $10, resolved_by = $11, date_at = $12, \
         scheduled_at = $13, dispatch_at = $14, dispatch_key = $15, attempts = $16, updated_at = $17, body = $18 \
         WHERE instance_id = $19 AND id = $20",
    )
    .bind(row.patient_id.as_deref())
    .bind(e["status"].as_str().unwrap_or_default())
    .bind(e["starred"].as_bool().unwrap_or(false) as i64)
    .bind(e["sender"].as_str())
    .bind(e["receiver"].as_str())
    .bind(lower(&e["from"]))
    .bind(lower(&e["to"]))
    .bind(lower(&e["senderName"]))
    .bind(lower(&e["receiverName"]))
    .bind(search_text(e))
    .bind(row.resolved_by.as_deref())
    .bind(ms(&e["date"]))
    .bind(ms(&e["scheduledAt"]))
    .bind(row.dispatch_at)
    .bind(row.dispatch_key.as_deref())
    .bind(row.attempts)
    .bind(now_ms)
    .bind(e.to_string())
    .bind(&row.instance_id)
    .bind(e["id"].as_str())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Deletes an email and its attachments.
pub async fn delete(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<()> {
    delete_attachments(tx, instance_id, id).await?;
    crate::store::sql::query("DELETE FROM emails WHERE instance_id = $1 AND id = $2")
        .bind(instance_id)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// An email inside a write, locked until the transaction ends (updates, resolutions and
/// the delivery's status changes are not interleaved).
pub async fn get_for_update(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<EmailRow>> {
    let sql = format!("SELECT {COLUMNS} FROM emails WHERE instance_id = $1 AND id = $2{}", tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(row_of))
}

/// Everything of a deleted patient: emails, drafts and their attachments.
pub async fn delete_for_patient(tx: &mut Tx, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<()> {
    for table in ["emails", "email_drafts"] {
        crate::store::sql::query(&format!(
            "DELETE FROM email_attachments WHERE instance_id = $1 AND owner_id IN \
             (SELECT id FROM {table} WHERE instance_id = $1 AND patient_id = $2)"
        ))
        .bind(instance_id)
        .bind(patient_id)
        .execute(&mut **tx)
        .await?;
        crate::store::sql::query(&format!("DELETE FROM {table} WHERE instance_id = $1 AND patient_id = $2"))
            .bind(instance_id)
            .bind(patient_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Takes an email whose delivery is due for the delivery configuration `key` (or for
/// another one, once due since `orphaned_before`), moving its next attempt to
/// `lease_until` so that no other worker takes it meanwhile; false when it is not due.
pub async fn claim(
    tx: &mut Tx,
    id: &str,
    key: &str,
    now_ms: i64,
    orphaned_before: i64,
    lease_until: i64,
) -> crate::store::sql::Result<bool> {
    let done = crate::store::sql::query(
        "UPDATE emails SET dispatch_at = $1, dispatch_key = $2, attempts = attempts + 1 \
         WHERE id = $3 AND dispatch_at IS NOT NULL AND dispatch_at <= $4 \
         AND (COALESCE(dispatch_key, '') = $2 OR dispatch_at <= $5)",
    )
    .bind(lease_until)
    .bind(key)
    .bind(id)
    .bind(now_ms)
    .bind(orphaned_before)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A file of an email or draft.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

impl Attachment {
    /// `{id, fileName, contentType, size}`, as the email object lists it.
    pub fn meta(&self) -> Value {
        serde_json::json!({"id": self.id, "fileName": self.file_name, "contentType": self.content_type, "size": self.data.len()})
    }
}

pub async fn insert_attachment(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    owner_id: &str,
    position: i64,
    a: &Attachment,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    use base64::Engine;
    crate::store::sql::query(
        "INSERT INTO email_attachments (id, tenant_id, instance_id, owner_id, position, file_name, content_type, size, data, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&a.id)
    .bind(tenant_id)
    .bind(instance_id)
    .bind(owner_id)
    .bind(position)
    .bind(&a.file_name)
    .bind(&a.content_type)
    .bind(a.data.len() as i64)
    .bind(base64::engine::general_purpose::STANDARD.encode(&a.data))
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Hands a draft's attachments to the email sent from it.
pub async fn move_attachments(
    tx: &mut Tx,
    instance_id: &str,
    from_owner: &str,
    to_owner: &str,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query("UPDATE email_attachments SET owner_id = $1 WHERE instance_id = $2 AND owner_id = $3")
        .bind(to_owner)
        .bind(instance_id)
        .bind(from_owner)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn delete_attachments(tx: &mut Tx, instance_id: &str, owner_id: &str) -> crate::store::sql::Result<()> {
    crate::store::sql::query("DELETE FROM email_attachments WHERE instance_id = $1 AND owner_id = $2")
        .bind(instance_id)
        .bind(owner_id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

fn attachment_of(r: &Row) -> Attachment {
    use base64::Engine;
    Attachment {
        id: r.get("id"),
        file_name: r.get("file_name"),
        content_type: r.get("content_type"),
        data: base64::engine::general_purpose::STANDARD
            .decode(r.get::<String, _>("data"))
            .expect("stored attachments are base64 written by this server"),
    }
}

/// The files of an email or draft, in the order they were given.
pub async fn attachments_in(
    tx: &mut Tx,
    instance_id: &str,
    owner_id: &str,
) -> crate::store::sql::Result<Vec<Attachment>> {
    let rows = crate::store::sql::query(
        "SELECT id, file_name, content_type, data FROM email_attachments WHERE instance_id = $1 AND owner_id = $2 \
         ORDER BY position, id",
    )
    .bind(instance_id)
    .bind(owner_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.iter().map(attachment_of).collect())
}

/// The next position for an owner's new attachment.
pub async fn next_position(tx: &mut Tx, instance_id: &str, owner_id: &str) -> crate::store::sql::Result<i64> {
    let row = crate::store::sql::query(
        "SELECT COALESCE(MAX(position), -1) + 1 AS n FROM email_attachments WHERE instance_id = $1 AND owner_id = $2",
    )
    .bind(instance_id)
    .bind(owner_id)
    .fetch_one(&mut **tx)
    .await?;
    row.try_get::<i64, _>("n").or_else(|_| row.try_get::<i32, _>("n").map(i64::from))
}

// Drafts ------------------------------------------------------------------------------

pub async fn insert_draft(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    draft: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO email_drafts (id, tenant_id, instance_id, patient_id, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(draft["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(draft["patientId"].as_str())
    .bind(now_ms)
    .bind(draft.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update_draft(tx: &mut Tx, instance_id: &str, draft: &Value, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query("UPDATE email_drafts SET updated_at = $1, body = $2 WHERE instance_id = $3 AND id = $4")
        .bind(now_ms)
        .bind(draft.to_string())
        .bind(instance_id)
        .bind(draft["id"].as_str())
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Deletes a draft (its attachments too unless they were moved first).
pub async fn delete_draft(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<()> {
    delete_attachments(tx, instance_id, id).await?;
    crate::store::sql::query("DELETE FROM email_drafts WHERE instance_id = $1 AND id = $2")
        .bind(instance_id)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// A draft inside a write, locked until the transaction ends: of two sends at once, the
/// second finds the draft gone.
pub async fn draft_for_update(
    tx: &mut Tx,
    instance_id: &str,
    patient_id: &str,
    id: &str,
) -> crate::store::sql::Result<Option<Value>> {
    let sql = format!(
        "SELECT body FROM email_drafts WHERE instance_id = $1 AND patient_id = $2 AND id = $3{}",
        tx.lock_rows()
    );
    let row =
        crate::store::sql::query(&sql).bind(instance_id).bind(patient_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
}

// Outbox ------------------------------------------------------------------------------

pub async fn insert_outbox(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    email_id: &str,
    entry: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO email_outbox (id, tenant_id, instance_id, email_id, to_key, created_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(entry["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(email_id)
    .bind(lower(&entry["to"]))
    .bind(now_ms)
    .bind(entry.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

fn in_list(w: &mut Where, column: &str, values: &[String]) {
    if values.is_empty() {
        w.and("1 = 0", []);
    } else {
        let marks = vec!["?"; values.len()].join(", ");
        w.and(&format!("{column} IN ({marks})"), values.iter().map(|v| Arg::Text(v.clone())));
    }
}

impl Db {
    pub async fn email(&self, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<EmailRow>> {
        let sql = format!("SELECT {COLUMNS} FROM emails WHERE instance_id = $1 AND id = $2");
        let row = crate::store::sql::query(&sql).bind(instance_id).bind(id).fetch_optional(self.reader()).await?;
        Ok(row.as_ref().map(row_of))
    }

    /// One page of emails in `scope` and the total count of matches.
    pub async fn emails(
        &self,
        instance_id: &str,
        scope: &Scope,
        f: &EmailFilter,
        sorts: &[SortColumn],
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<EmailRow>, i64)> {
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        match scope {
            Scope::Patient(p) => w.and("patient_id = ?", [Arg::Text(p.clone())]),
            Scope::Unrecognised => w.and("patient_id IS NULL", []),
            Scope::Unmatched => w.and("unmatched = 1", []),
        };
        if let Some(s) = &f.search {
            w.and("search LIKE ? ESCAPE '\\'", [Arg::Text(contains_pattern(s))]);
        }
        for (column, value) in [("sender_id", &f.sender), ("receiver_id", &f.receiver), ("direction", &f.direction)] {
            if let Some(v) = value {
                w.and(&format!("{column} = ?"), [Arg::Text(v.clone())]);
            }
        }
        if let Some(s) = f.starred {
            w.and("starred = ?", [Arg::Int(s as i64)]);
        }
        if let Some(v) = &f.from {
            w.and("from_key = ?", [Arg::Text(v.to_lowercase())]);
        }
        if let Some(v) = &f.to {
            w.and("to_key = ?", [Arg::Text(v.to_lowercase())]);
        }
        if let Some(v) = &f.email {
            w.and("(from_key = ? OR to_key = ?)", [Arg::Text(v.to_lowercase()), Arg::Text(v.to_lowercase())]);
        }
        if let Some(v) = &f.sender_name {
            w.and("sender_name LIKE ? ESCAPE '\\'", [Arg::Text(contains_pattern(v))]);
        }
        if let Some(v) = &f.receiver_name {
            w.and("receiver_name LIKE ? ESCAPE '\\'", [Arg::Text(contains_pattern(v))]);
        }
        if let Some(list) = &f.statuses {
            in_list(&mut w, "status", list);
        }
        match f.resolved {
            Some(true) => {
                w.and("patient_id IS NOT NULL", []);
            }
            Some(false) => {
                w.and("patient_id IS NULL", []);
            }
            None => {}
        }
        if let Some(t) = f.date_from {
            w.and("COALESCE(date_at, created_at) >= ?", [Arg::Int(t)]);
        }
        if let Some(t) = f.date_to {
            w.and("COALESCE(date_at, created_at) <= ?", [Arg::Int(t)]);
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM emails{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let page_sql = format!(
            "SELECT {COLUMNS} FROM emails{}{} LIMIT {limit} OFFSET {offset}",
            w.sql(),
            order_by(sorts, "created_at")
        );
        let rows = w.bind(crate::store::sql::query(&page_sql)).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(row_of).collect(), total))
    }

    /// Emails whose delivery is due (scheduled time reached, or a retry or lease expired)
    /// for the delivery configuration `key`, or for another one since `orphaned_before`.
    pub async fn emails_due(
        &self,
        key: &str,
        now_ms: i64,
        orphaned_before: i64,
        limit: i64,
    ) -> crate::store::sql::Result<Vec<String>> {
        let rows = crate::store::sql::query(&format!(
            "SELECT id FROM emails WHERE dispatch_at IS NOT NULL AND dispatch_at <= $1 \
             AND (COALESCE(dispatch_key, '') = $2 OR dispatch_at <= $3) ORDER BY dispatch_at, id LIMIT {limit}"
        ))
        .bind(now_ms)
        .bind(key)
        .bind(orphaned_before)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.iter().map(|r| r.get("id")).collect())
    }

    /// The file of an email: the one named by `attachment_id`, else the first.
    pub async fn email_attachment(
        &self,
        instance_id: &str,
        owner_id: &str,
        attachment_id: Option<&str>,
    ) -> crate::store::sql::Result<Option<Attachment>> {
        let row = crate::store::sql::query(
            "SELECT id, file_name, content_type, data FROM email_attachments \
             WHERE instance_id = $1 AND owner_id = $2 AND ($3 = '' OR id = $3) ORDER BY position, id LIMIT 1",
        )
        .bind(instance_id)
        .bind(owner_id)
        .bind(attachment_id.unwrap_or(""))
        .fetch_optional(self.reader())
        .await?;
        Ok(row.as_ref().map(attachment_of))
    }

    pub async fn email_draft(
        &self,
        instance_id: &str,
        patient_id: &str,
        id: &str,
    ) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query(
            "SELECT body FROM email_drafts WHERE instance_id = $1 AND patient_id = $2 AND id = $3",
        )
        .bind(instance_id)
        .bind(patient_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
    }

    pub async fn email_drafts(
        &self,
        instance_id: &str,
        patient_id: &str,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        let total: i64 = crate::store::sql::query(
            "SELECT COUNT(*) AS n FROM email_drafts WHERE instance_id = $1 AND patient_id = $2",
        )
        .bind(instance_id)
        .bind(patient_id)
        .fetch_one(self.reader())
        .await?
        .get("n");
        let rows = crate::store::sql::query(&format!(
            "SELECT body FROM email_drafts WHERE instance_id = $1 AND patient_id = $2 \
             ORDER BY created_at, id LIMIT {limit} OFFSET {offset}"
        ))
        .bind(instance_id)
        .bind(patient_id)
        .fetch_all(self.reader())
        .await?;
        Ok((rows.iter().map(|r| parse(&r.get::<String, _>("body"))).collect(), total))
    }

    /// What the local outbox provider delivered in an instance, oldest first.
    pub async fn email_outbox(
        &self,
        instance_id: &str,
        to: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        if let Some(to) = to {
            w.and("to_key = ?", [Arg::Text(to.to_lowercase())]);
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM email_outbox{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let page_sql =
            format!("SELECT body FROM email_outbox{} ORDER BY created_at, id LIMIT {limit} OFFSET {offset}", w.sql());
        let rows = w.bind(crate::store::sql::query(&page_sql)).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(|r| parse(&r.get::<String, _>("body"))).collect(), total))
    }

    /// The name of an instance, by id (delivery audits events outside a request).
    pub async fn instance_name_of(&self, instance_id: &str) -> crate::store::sql::Result<Option<String>> {
        let row = crate::store::sql::query("SELECT name FROM instances WHERE id = $1")
            .bind(instance_id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(|r| r.get("name")))
    }

    /// A user of the tenant with this email address (case-insensitive), if exactly one.
    pub async fn user_by_email(
        &self,
        tenant_id: &str,
        email: &str,
    ) -> crate::store::sql::Result<Option<(String, String)>> {
        let rows = crate::store::sql::query(
            "SELECT id, username, first_name, last_name FROM users WHERE tenant_id = $1 AND LOWER(email) = $2 LIMIT 2",
        )
        .bind(tenant_id)
        .bind(email.to_lowercase())
        .fetch_all(self.reader())
        .await?;
        if rows.len() != 1 {
            return Ok(None);
        }
        let r = &rows[0];
        let first: Option<String> = r.get("first_name");
        let last: Option<String> = r.get("last_name");
        let name = match (first, last) {
            (None, None) => r.get("username"),
            (f, l) => format!("{} {}", f.unwrap_or_default(), l.unwrap_or_default()).trim().to_string(),
        };
        Ok(Some((r.get("id"), name)))
    }

    /// The ids of the instance's patients with this email address (lower-cased column).
    pub async fn patient_ids_by_email(&self, instance_id: &str, email: &str) -> crate::store::sql::Result<Vec<String>> {
        let rows = crate::store::sql::query(
            "SELECT id FROM patients WHERE instance_id = $1 AND email = $2 ORDER BY created_at, id LIMIT 2",
        )
        .bind(instance_id)
        .bind(email.to_lowercase())
        .fetch_all(self.reader())
        .await?;
        Ok(rows.iter().map(|r| r.get("id")).collect())
    }
}
