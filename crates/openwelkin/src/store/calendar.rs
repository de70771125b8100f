//! Calendar events and work-hours rules of one instance: JSON bodies plus the columns the
//! time-range, participant, type and status filters use.

use super::query::{order_by, Arg, SortColumn, Where};
use super::{Db, Tx};
use crate::domain::calendar::{event_span, ms_of, participant_marks, CANCELLED};
use crate::store::sql::Row;
use serde_json::Value;

/// Maps an API sort field of events to its column.
pub fn sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "id" => "id",
        "startDateTime" => "start_at",
        "endDateTime" => "end_at",
        "eventType" => "event_type",
        "eventStatus" => "event_status",
        "createdAt" => "created_at",
        "updatedAt" => "updated_at",
        _ => return None,
    })
}

/// Filters of the event search. Times are epoch milliseconds; an event matches a range
/// when it overlaps it.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Events with at least one of these participants.
    pub any_participant: Option<Vec<String>>,
    /// Events with every one of these participants.
    pub all_participants: Vec<String>,
    pub event_type: Option<String>,
    pub include_cancelled: bool,
    /// Leave out events an encounter is scheduled on.
    pub exclude_encounter_events: bool,
}

fn body_of(row: &Row) -> Value {
    serde_json::from_str(&row.get::<String, _>("body")).expect("stored calendar bodies are written by this server")
}

pub async fn insert_event(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    e: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    let (start, end) = event_span(e);
    crate::store::sql::query(
        "INSERT INTO calendar_events (id, tenant_id, instance_id, external_id, host_id, participants, event_type, \
         event_status, start_at, end_at, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)",
    )
    .bind(e["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(e["externalId"].as_str())
    .bind(e["hostId"].as_str())
    .bind(participant_marks(e))
    .bind(e["eventType"].as_str())
    .bind(e["eventStatus"].as_str())
    .bind(start)
    .bind(end)
    .bind(now_ms)
    .bind(e.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update_event(tx: &mut Tx, instance_id: &str, e: &Value, now_ms: i64) -> crate::store::sql::Result<()> {
    let (start, end) = event_span(e);
    crate::store::sql::query(
        "UPDATE calendar_events SET external_id = $1, host_id = $2, participants = $3, event_type = $4, \
         event_status = $5, start_at = $6, end_at = $7, updated_at = $8, body = $9 WHERE instance_id = $10 AND id = $11",
    )
    .bind(e["externalId"].as_str())
    .bind(e["hostId"].as_str())
    .bind(participant_marks(e))
    .bind(e["eventType"].as_str())
    .bind(e["eventStatus"].as_str())
    .bind(start)
    .bind(end)
    .bind(now_ms)
    .bind(e.to_string())
    .bind(instance_id)
    .bind(e["id"].as_str())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete_event(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<bool> {
    let done = crate::store::sql::query("DELETE FROM calendar_events WHERE instance_id = $1 AND id = $2")
        .bind(instance_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// An event inside a write transaction, its row locked until the transaction ends.
pub async fn event_for_update(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<Value>> {
    let sql = format!("SELECT body FROM calendar_events WHERE instance_id = $1 AND id = $2{}", tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(body_of))
}

/// The event holding `external_id`, if any.
pub async fn external_id_holder(
    tx: &mut Tx,
    instance_id: &str,
    external_id: &str,
) -> crate::store::sql::Result<Option<String>> {
    let row = crate::store::sql::query("SELECT id FROM calendar_events WHERE instance_id = $1 AND external_id = $2")
        .bind(instance_id)
        .bind(external_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| r.get("id")))
}

/// Which of `ids` are patients of the instance.
pub async fn existing_patient_ids(
    tx: &mut Tx,
    instance_id: &str,
    ids: &[String],
) -> crate::store::sql::Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut w = Where::default();
    w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
    let marks = vec!["?"; ids.len()].join(", ");
    w.and(&format!("id IN ({marks})"), ids.iter().map(|i| Arg::Text(i.clone())));
    let sql = format!("SELECT id FROM patients{}", w.sql());
    let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(&mut **tx).await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

pub async fn insert_hours(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    h: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO calendar_work_hours (id, tenant_id, instance_id, psm_id, hours_type, rule_type, start_at, end_at, \
         created_at, updated_at, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
    )
    .bind(h["workHoursId"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(h["psmId"].as_str())
    .bind(h["type"].as_str())
    .bind(h["ruleType"].as_str())
    .bind(ms_of(&h["startDateTime"]).unwrap_or(0))
    .bind(ms_of(&h["endDateTime"]))
    .bind(now_ms)
    .bind(h.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update_hours(tx: &mut Tx, instance_id: &str, h: &Value, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE calendar_work_hours SET psm_id = $1, hours_type = $2, rule_type = $3, start_at = $4, end_at = $5, \
         updated_at = $6, body = $7 WHERE instance_id = $8 AND id = $9",
    )
    .bind(h["psmId"].as_str())
    .bind(h["type"].as_str())
    .bind(h["ruleType"].as_str())
    .bind(ms_of(&h["startDateTime"]).unwrap_or(0))
    .bind(ms_of(&h["endDateTime"]))
    .bind(now_ms)
    .bind(h.to_string())
    .bind(instance_id)
    .bind(h["workHoursId"].as_str())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// A work-hours rule inside a write transaction, its row locked until the transaction ends.
pub async fn hours_for_update(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<Value>> {
    let sql = format!("SELECT body FROM calendar_work_hours WHERE instance_id = $1 AND id = $2{}", tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(body_of))
}

fn event_where(instance_id: &str, f: &EventFilter) -> Where {
    let mut w = Where::default();
    w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
    if let Some(to) = f.to {
        w.and("start_at < ?", [Arg::Int(to)]);
    }
    if let Some(from) = f.from {
        w.and("end_at > ?", [Arg::Int(from)]);
    }
    if let Some(any) = &f.any_participant {
        if any.is_empty() {
            w.and("1 = 0", []);
        } else {
            let clause = vec!["participants LIKE ?"; any.len()].join(" OR ");
            w.and(&format!("({clause})"), any.iter().map(|p| Arg::Text(format!("%,{p},%"))));
        }
    }
    for p in &f.all_participants {
        w.and("participants LIKE ?", [Arg::Text(format!("%,{p},%"))]);
    }
    if let Some(t) = &f.event_type {
        w.and("event_type = ?", [Arg::Text(t.clone())]);
    }
    if !f.include_cancelled {
        w.and("(event_status IS NULL OR event_status <> ?)", [Arg::Text(CANCELLED.into())]);
    }
    if f.exclude_encounter_events {
        w.and(
            "NOT EXISTS (SELECT 1 FROM encounters en WHERE en.instance_id = calendar_events.instance_id \
             AND en.calendar_event_id = calendar_events.id)",
            [],
        );
    }
    w
}

impl Db {
    pub async fn calendar_event(&self, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query("SELECT body FROM calendar_events WHERE instance_id = $1 AND id = $2")
            .bind(instance_id)
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.as_ref().map(body_of))
    }

    pub async fn calendar_event_by_external_id(
        &self,
        instance_id: &str,
        external_id: &str,
    ) -> crate::store::sql::Result<Option<Value>> {
        let row =
            crate::store::sql::query("SELECT body FROM calendar_events WHERE instance_id = $1 AND external_id = $2")
                .bind(instance_id)
                .bind(external_id)
                .fetch_optional(self.reader())
                .await?;
        Ok(row.as_ref().map(body_of))
    }

    /// One page of events and the total count of matches.
    pub async fn calendar_events(
        &self,
        instance_id: &str,
        filter: &EventFilter,
        sorts: &[SortColumn],
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        let w = event_where(instance_id, filter);
        let count_sql = format!("SELECT COUNT(*) AS n FROM calendar_events{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let page_sql = format!(
            "SELECT body FROM calendar_events{}{} LIMIT {limit} OFFSET {offset}",
            w.sql(),
            order_by(sorts, "start_at")
        );
        let rows = w.bind(crate::store::sql::query(&page_sql)).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(body_of).collect(), total))
    }

    /// Every matching event, by start (schedules and summaries).
    pub async fn calendar_events_all(
        &self,
        instance_id: &str,
        filter: &EventFilter,
    ) -> crate::store::sql::Result<Vec<Value>> {
        let w = event_where(instance_id, filter);
        let sql = format!("SELECT body FROM calendar_events{} ORDER BY start_at ASC, id ASC", w.sql());
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        Ok(rows.iter().map(body_of).collect())
    }

    /// The encounter scheduled on each of the given events, as `(event id,
    /// {id, patientId, title, templateName, status})`.
    pub async fn encounters_on_events(
        &self,
        instance_id: &str,
        event_ids: &[String],
    ) -> crate::store::sql::Result<Vec<(String, Value)>> {
        if event_ids.is_empty() {
            return Ok(vec![]);
        }
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        let marks = vec!["?"; event_ids.len()].join(", ");
        w.and(&format!("calendar_event_id IN ({marks})"), event_ids.iter().map(|i| Arg::Text(i.clone())));
        let sql = format!("SELECT id, patient_id, status, calendar_event_id, body FROM encounters{}", w.sql());
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let body: Value = serde_json::from_str(&r.get::<String, _>("body")).unwrap_or(Value::Null);
                let inner = if body["jsonBody"].is_object() { &body["jsonBody"] } else { &body };
                let info = serde_json::json!({
                    "id": r.get::<String, _>("id"), "patientId": r.get::<String, _>("patient_id"),
                    "title": inner["title"], "templateName": inner["templateName"],
                    "status": r.get::<Option<String>, _>("status"),
                });
                (r.get::<String, _>("calendar_event_id"), info)
            })
            .collect())
    }

    pub async fn work_hours(&self, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query("SELECT body FROM calendar_work_hours WHERE instance_id = $1 AND id = $2")
            .bind(instance_id)
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.as_ref().map(body_of))
    }

    /// Work-hours rules overlapping `[from, to]`, of the given users (all when `None`),
    /// oldest first.
    pub async fn work_hours_in_range(
        &self,
        instance_id: &str,
        psm_ids: Option<&[String]>,
        from: Option<i64>,
        to: Option<i64>,
    ) -> crate::store::sql::Result<Vec<Value>> {
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        if let Some(ids) = psm_ids {
            if ids.is_empty() {
                return Ok(vec![]);
            }
            let marks = vec!["?"; ids.len()].join(", ");
            w.and(&format!("psm_id IN ({marks})"), ids.iter().map(|i| Arg::Text(i.clone())));
        }
        if let Some(to) = to {
            w.and("start_at <= ?", [Arg::Int(to)]);
        }
        if let Some(from) = from {
            w.and("(end_at IS NULL OR end_at >= ?)", [Arg::Int(from)]);
        }
        let sql = format!("SELECT body FROM calendar_work_hours{} ORDER BY created_at ASC, id ASC", w.sql());
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        Ok(rows.iter().map(body_of).collect())
    }
}
