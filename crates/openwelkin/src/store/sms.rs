//! SMS of one instance (the message as JSON plus the columns its filters and sorts use),
//! and the local outbox of the default delivery provider.

use super::query::{contains_pattern, order_by, Arg, SortColumn, Where};
use super::{Db, Tx};
use crate::delivery::sms::OutboundSms;
use crate::store::sql::Row;
use serde_json::{json, Value};

/// A stored message and what the API needs besides its body.
#[derive(Clone, Debug)]
pub struct StoredSms {
    pub body: Value,
    pub patient_id: Option<String>,
    /// Arrived from a number no patient had (stays true after assignment).
    pub unmatched: bool,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<i64>,
}

/// Which messages a list looks at.
#[derive(Clone, Debug)]
pub enum SmsScope {
    /// A patient's messages.
    Patient(String),
    /// Inbound messages not assigned to any patient (V8 `unrecognized-patients/sms`).
    Unrecognised,
    /// Every message that arrived unmatched, assigned or not (DOCS `unrecognized-sms`).
    Unmatched,
}

/// The list filters (V8 names in the comments); every one combines with AND.
#[derive(Clone, Debug, Default)]
pub struct SmsFilter {
    /// `search`: in the message text.
    pub search: Option<String>,
    /// `sender`, `receiver`: ids.
    pub sender: Option<String>,
    pub receiver: Option<String>,
    /// `direction`: `IN` or `OUT`.
    pub direction: Option<String>,
    pub starred: Option<bool>,
    /// `from`, `to`, and `phone` (either).
    pub from: Option<String>,
    pub to: Option<String>,
    pub phone: Option<String>,
    /// `senderName`, `receiverName`: contained, any case.
    pub sender_name: Option<String>,
    pub receiver_name: Option<String>,
    pub statuses: Option<Vec<String>>,
    /// DOCS `startDate`/`endDate` on the time received.
    pub received_from: Option<i64>,
    pub received_to: Option<i64>,
    /// DOCS `status`: `RESOLVED` (assigned) or `PENDING`.
    pub resolved: Option<bool>,
}

/// Sort fields of SMS. Missing times sort last on both databases.
pub fn sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "id" => "id",
        "date" => "date_at",
        "createdAt" => "created_at",
        "updatedAt" => "updated_at",
        "scheduledAt" => "COALESCE(scheduled_at, 9223372036854775807)",
        "sentAt" => "COALESCE(sent_at, 9223372036854775807)",
        "receivedAt" => "COALESCE(received_at, 9223372036854775807)",
        "status" => "status",
        "direction" => "direction",
        "starred" => "starred",
        "from" => "COALESCE(from_phone, '')",
        "to" => "COALESCE(to_phone, '')",
        "senderName" => "sender_name",
        "receiverName" => "receiver_name",
        "message" => "message_key",
        _ => return None,
    })
}

fn ms(sms: &Value, key: &str) -> Option<i64> {
    sms[key].as_str().and_then(crate::time::parse_datetime).map(|t| t.timestamp_millis())
}

fn lower(sms: &Value, key: &str) -> String {
    sms[key].as_str().unwrap_or_default().to_lowercase()
}

/// The columns derived from a message body, in the order `insert` and `update` bind them.
struct Columns {
    patient_id: Option<String>,
    direction: String,
    status: String,
    sender: Option<String>,
    receiver: Option<String>,
    sender_name: String,
    receiver_name: String,
    message_key: String,
    from_phone: Option<String>,
    to_phone: Option<String>,
    starred: i64,
    external_id: Option<String>,
    scheduled_at: Option<i64>,
    sent_at: Option<i64>,
    received_at: Option<i64>,
    date_at: i64,
}

fn columns(sms: &Value, now_ms: i64) -> Columns {
    let text = |k: &str| sms[k].as_str().map(String::from);
    Columns {
        patient_id: crate::domain::sms::patient_id(sms).map(String::from),
        direction: sms["direction"].as_str().unwrap_or_default().to_string(),
        status: sms["status"].as_str().unwrap_or_default().to_string(),
        sender: text("sender"),
        receiver: text("receiver"),
        sender_name: lower(sms, "senderName"),
        receiver_name: lower(sms, "receiverName"),
        message_key: lower(sms, "message"),
        from_phone: text("from"),
        to_phone: text("to"),
        starred: sms["starred"].as_bool().unwrap_or(false) as i64,
        external_id: text("externalId"),
        scheduled_at: ms(sms, "scheduledAt"),
        sent_at: ms(sms, "sentAt"),
        received_at: ms(sms, "receivedAt"),
        date_at: ms(sms, "date").unwrap_or(now_ms),
    }
}

pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    sms: &Value,
    unmatched: bool,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    let c = columns(sms, now_ms);
    crate::store::sql::query(
        "INSERT INTO sms_messages (id, tenant_id, instance_id, patient_id, direction, status, unmatched, sender, \
         receiver, sender_name, receiver_name, message_key, from_phone, to_phone, starred, external_id, scheduled_at, \
         sent_at, received_at, date_at, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21, $22)",
    )
    .bind(sms["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(c.patient_id)
    .bind(c.direction)
    .bind(c.status)
    .bind(unmatched as i64)
    .bind(c.sender)
    .bind(c.receiver)
    .bind(c.sender_name)
    .bind(c.receiver_name)
    .bind(c.message_key)
    .bind(c.from_phone)
    .bind(c.to_phone)
    .bind(c.starred)
    .bind(c.external_id)
    .bind(c.scheduled_at)
    .bind(c.sent_at)
    .bind(c.received_at)
    .bind(c.date_at)
    .bind(now_ms)
    .bind(sms.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Writes `sms` if its stored status is still `expected` (another node or request may
/// have moved it on); returns whether it was written.
pub async fn update_if(
    tx: &mut Tx,
    instance_id: &str,
    sms: &Value,
    expected: &str,
    now_ms: i64,
) -> crate::store::sql::Result<bool> {
    update_if_untouched(tx, instance_id, sms, expected, i64::MAX, now_ms).await
}

/// `update_if`, and only if the message was last written before `before_ms`: a message
/// left `ACCEPTED` by a node that stopped (the scheduler fails it).
pub async fn update_if_untouched(
    tx: &mut Tx,
    instance_id: &str,
    sms: &Value,
    expected: &str,
    before_ms: i64,
    now_ms: i64,
) -> crate::store::sql::Result<bool> {
    let c = columns(sms, now_ms);
    let done = crate::store::sql::query(
        "UPDATE sms_messages SET patient_id = $1, status = $2, sender = $3, receiver = $4, sender_name = $5, \
         receiver_name = $6, message_key = $7, from_phone = $8, to_phone = $9, starred = $10, external_id = $11, \
         scheduled_at = $12, sent_at = $13, received_at = $14, date_at = $15, updated_at = $16, body = $17 \
         WHERE instance_id = $18 AND id = $19 AND status = $20 AND updated_at < $21",
    )
    .bind(c.patient_id)
    .bind(c.status)
    .bind(c.sender)
    .bind(c.receiver)
    .bind(c.sender_name)
    .bind(c.receiver_name)
    .bind(c.message_key)
    .bind(c.from_phone)
    .bind(c.to_phone)
    .bind(c.starred)
    .bind(c.external_id)
    .bind(c.scheduled_at)
    .bind(c.sent_at)
    .bind(c.received_at)
    .bind(c.date_at)
    .bind(now_ms)
    .bind(sms.to_string())
    .bind(instance_id)
    .bind(sms["id"].as_str())
    .bind(expected)
    .bind(before_ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records who assigned an unmatched message to a patient.
pub async fn mark_resolved(
    tx: &mut Tx,
    instance_id: &str,
    id: &str,
    by: &str,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE sms_messages SET resolved_by = $1, resolved_at = $2 WHERE instance_id = $3 AND id = $4",
    )
    .bind(by)
    .bind(now_ms)
    .bind(instance_id)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<bool> {
    Ok(crate::store::sql::query("DELETE FROM sms_messages WHERE instance_id = $1 AND id = $2")
        .bind(instance_id)
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        == 1)
}

/// A patient's messages go with the patient.
pub async fn delete_for_patient(tx: &mut Tx, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<u64> {
    Ok(crate::store::sql::query("DELETE FROM sms_messages WHERE instance_id = $1 AND patient_id = $2")
        .bind(instance_id)
        .bind(patient_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

const SELECT: &str = "SELECT body, patient_id, unmatched, resolved_by, resolved_at FROM sms_messages";

fn stored(r: &Row) -> StoredSms {
    StoredSms {
        body: serde_json::from_str(&r.get::<String, _>("body")).expect("stored SMS are written by this server"),
        patient_id: r.get("patient_id"),
        unmatched: r.get::<i64, _>("unmatched") == 1,
        resolved_by: r.get("resolved_by"),
        resolved_at: r.get("resolved_at"),
    }
}

/// A message inside a write, locked until the transaction ends (updates, sends and the
/// scheduler's claim of one message are not interleaved).
pub async fn get_for_update(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<StoredSms>> {
    let sql = format!("{SELECT} WHERE instance_id = $1 AND id = $2{}", tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(stored))
}

/// The outbound message a provider knows by `external_id`, inside a write, locked like
/// `get_for_update` (a delivery report rewrites the message).
pub async fn by_external_id(
    tx: &mut Tx,
    instance_id: &str,
    external_id: &str,
) -> crate::store::sql::Result<Option<StoredSms>> {
    let sql = format!("{SELECT} WHERE instance_id = $1 AND external_id = $2{}", tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(external_id).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(stored))
}

/// A message due to be sent by the scheduler.
#[derive(Clone, Debug)]
pub struct Due {
    pub tenant_id: String,
    pub instance_id: String,
    pub id: String,
}

pub async fn insert_outbox(tx: &mut Tx, m: &OutboundSms, external_id: &str) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO sms_outbox (id, tenant_id, instance_id, sms_id, external_id, from_phone, to_phone, message, queued_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(crate::ids::new_id())
    .bind(&m.tenant_id)
    .bind(&m.instance_id)
    .bind(&m.sms_id)
    .bind(external_id)
    .bind(&m.from)
    .bind(&m.to)
    .bind(&m.body)
    .bind(m.now_ms)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

impl Db {
    pub async fn sms(&self, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<StoredSms>> {
        let row = crate::store::sql::query(&format!("{SELECT} WHERE instance_id = $1 AND id = $2"))
            .bind(instance_id)
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.as_ref().map(stored))
    }

    /// One page of messages in `scope` matching `filter`, and the total count.
    pub async fn sms_list(
        &self,
        instance_id: &str,
        scope: &SmsScope,
        filter: &SmsFilter,
        sorts: &[SortColumn],
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<StoredSms>, i64)> {
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        match scope {
            SmsScope::Patient(id) => w.and("patient_id = ?", [Arg::Text(id.clone())]),
            SmsScope::Unrecognised => w.and("unmatched = 1 AND patient_id IS NULL", []),
            SmsScope::Unmatched => w.and("unmatched = 1", []),
        };
        let text = |s: &Option<String>| s.clone().map(Arg::Text);
        if let Some(s) = &filter.search {
            w.and("message_key LIKE ? ESCAPE '\\'", [Arg::Text(contains_pattern(s))]);
        }
        for (column, value) in [
            ("sender", text(&filter.sender)),
            ("receiver", text(&filter.receiver)),
            ("direction", text(&filter.direction)),
            ("from_phone", text(&filter.from)),
            ("to_phone", text(&filter.to)),
        ] {
            if let Some(v) = value {
                w.and(&format!("{column} = ?"), [v]);
            }
        }
        if let Some(p) = &filter.phone {
            w.and("(from_phone = ? OR to_phone = ?)", [Arg::Text(p.clone()), Arg::Text(p.clone())]);
        }
        if let Some(s) = filter.starred {
            w.and("starred = ?", [Arg::Int(s as i64)]);
        }
        if let Some(n) = &filter.sender_name {
            w.and("sender_name LIKE ? ESCAPE '\\'", [Arg::Text(contains_pattern(n))]);
        }
        if let Some(n) = &filter.receiver_name {
            w.and("receiver_name LIKE ? ESCAPE '\\'", [Arg::Text(contains_pattern(n))]);
        }
        if let Some(list) = &filter.statuses {
            if list.is_empty() {
                w.and("1 = 0", []);
            } else {
                let marks = vec!["?"; list.len()].join(", ");
                w.and(&format!("status IN ({marks})"), list.iter().map(|s| Arg::Text(s.clone())));
            }
        }
        if let Some(t) = filter.received_from {
            w.and("received_at >= ?", [Arg::Int(t)]);
        }
        if let Some(t) = filter.received_to {
            w.and("received_at <= ?", [Arg::Int(t)]);
        }
        match filter.resolved {
            Some(true) => w.and("patient_id IS NOT NULL", []),
            Some(false) => w.and("patient_id IS NULL", []),
            None => &mut w,
        };
        let count_sql = format!("SELECT COUNT(*) AS n FROM sms_messages{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let page_sql = format!("{SELECT}{}{} LIMIT {limit} OFFSET {offset}", w.sql(), order_by(sorts, "created_at"));
        let rows = w.bind(crate::store::sql::query(&page_sql)).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(stored).collect(), total))
    }

    /// Scheduled messages whose time has come, across instances (for the scheduler).
    pub async fn due_sms(&self, now_ms: i64, limit: i64) -> crate::store::sql::Result<Vec<Due>> {
        self.sms_where("status = 'SCHEDULED' AND scheduled_at <= $1 ORDER BY scheduled_at, id", now_ms, limit).await
    }

    /// Outbound messages still `ACCEPTED` that were last written before `before_ms`, across
    /// instances: handed to a provider by a node that stopped before it stored the outcome.
    pub async fn abandoned_sms(&self, before_ms: i64, limit: i64) -> crate::store::sql::Result<Vec<Due>> {
        self.sms_where("status = 'ACCEPTED' AND updated_at < $1 ORDER BY updated_at, id", before_ms, limit).await
    }

    /// The messages `condition` (with `$1` = `at_ms`, and its order) selects, at most `limit`.
    async fn sms_where(&self, condition: &str, at_ms: i64, limit: i64) -> crate::store::sql::Result<Vec<Due>> {
        let sql = format!("SELECT tenant_id, instance_id, id FROM sms_messages WHERE {condition} LIMIT $2");
        let rows = crate::store::sql::query(&sql).bind(at_ms).bind(limit).fetch_all(self.reader()).await?;
        Ok(rows
            .iter()
            .map(|r| Due { tenant_id: r.get("tenant_id"), instance_id: r.get("instance_id"), id: r.get("id") })
            .collect())
    }

    /// The patients of the instance whose phone or secondary phone is `phone`.
    pub async fn patients_with_phone(&self, instance_id: &str, phone: &str) -> crate::store::sql::Result<Vec<String>> {
        // The secondary phone has no column; the body is compact JSON written by serde.
        let secondary = format!("%\"secondaryPhone\":{}%", json!(phone)).replace('_', "\\_");
        let rows = crate::store::sql::query(
            "SELECT id FROM patients WHERE instance_id = $1 AND (phone = $2 OR body LIKE $3 ESCAPE '\\') \
             ORDER BY created_at, id",
        )
        .bind(instance_id)
        .bind(phone)
        .bind(secondary)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.iter().map(|r| r.get("id")).collect())
    }

    /// One page of the local outbox, newest last, and the total count.
    pub async fn sms_outbox(
        &self,
        instance_id: &str,
        to: Option<&str>,
        sms_id: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        if let Some(t) = to {
            w.and("to_phone = ?", [Arg::Text(t.into())]);
        }
        if let Some(id) = sms_id {
            w.and("sms_id = ?", [Arg::Text(id.into())]);
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM sms_outbox{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let sql = format!(
            "SELECT id, sms_id, external_id, from_phone, to_phone, message, queued_at FROM sms_outbox{}{} \
             LIMIT {limit} OFFSET {offset}",
            w.sql(),
            order_by(&[], "queued_at")
        );
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        let items = rows
            .iter()
            .map(|r| {
                json!({
                    "id": r.get::<String, _>("id"),
                    "smsId": r.get::<String, _>("sms_id"),
                    "externalId": r.get::<String, _>("external_id"),
                    "from": r.get::<String, _>("from_phone"),
                    "to": r.get::<String, _>("to_phone"),
                    "message": r.get::<String, _>("message"),
                    "queuedAt": crate::time::format_ms(r.get::<i64, _>("queued_at")),
                })
            })
            .collect();
        Ok((items, total))
    }
}
