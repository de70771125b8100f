//! Append-only audit tables. Data audit rows are inserted in the transaction of the write
//! they describe; nothing here updates or deletes them.

use super::{Db, Tx};
use crate::events::audit::{DataEvent, SecurityEvent};
use crate::ids::new_event_id;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::LazyLock;

/// Records a write: its data audit row and its event in the outbox that webhook delivery
/// reads. Call inside the write's transaction, so that neither exists without the other.
pub async fn record_write(tx: &mut Tx, event: &DataEvent<'_>, now_ms: i64) -> crate::store::sql::Result<()> {
    insert_writes(tx, &[(event, now_ms)]).await
}

/// Rows per multi-row `INSERT` of `record_writes`. Small on purpose: sqlx's SQLite driver
/// looks up every bound parameter among all of the statement's, so the cost of binding
/// grows with the square of the parameters (16 a row); at 16 rows a statement that cost
/// is small, and PostgreSQL already saves most of its round trips.
const BATCH_ROWS: usize = 16;

/// Records many writes at once, each with its time: what `record_write` does for one,
/// as multi-row `INSERT`s. Call inside the transaction that made the writes.
pub async fn record_writes(tx: &mut Tx, events: &[(DataEvent<'_>, i64)]) -> crate::store::sql::Result<()> {
    for chunk in events.chunks(BATCH_ROWS) {
        let rows: Vec<(&DataEvent<'_>, i64)> = chunk.iter().map(|(event, now_ms)| (event, *now_ms)).collect();
        insert_writes(tx, &rows).await?;
    }
    Ok(())
}

/// `($1, …, $cols), ($cols+1, …)`: the placeholders of a multi-row `VALUES`.
fn values(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", (1..=cols).map(|c| format!("${}", r * cols + c)).collect::<Vec<_>>().join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One event of a multi-row outbox `INSERT`, its parameters after `$offset`, kept only if
/// a webhook of its instance is switched on: the fan-out sends an event only to webhooks
/// active since before it was written (`events::webhooks::fan_out`), so an event written
/// while none is on would never be sent, and its row, the row's mark when fanned out and
/// its clean-up are work for nothing (about a tenth of PostgreSQL's CPU per patient create).
/// The `CAST`s give PostgreSQL the parameters' types, which a bare `SELECT $1` would not.
fn outbox_row(offset: usize) -> String {
    let columns: Vec<String> =
        (1..=8).map(|n| format!("CAST(${} AS {})", offset + n, if n == 8 { "BIGINT" } else { "TEXT" })).collect();
    format!(
        "SELECT {} WHERE EXISTS (SELECT 1 FROM instances i JOIN webhook_activations a ON a.instance_id = i.id \
         WHERE i.tenant_id = ${} AND i.name = ${} AND a.active = 1)",
        columns.join(", "),
        offset + 1,
        offset + 2
    )
}

/// The statement for `rows` rows: nearly every write audits one, whose statement is built
/// once (`one`); `build` makes the others.
fn statement_for(rows: usize, one: &'static LazyLock<String>, build: fn(usize) -> String) -> Cow<'static, str> {
    if rows == 1 {
        Cow::Borrowed(one.as_str())
    } else {
        Cow::Owned(build(rows))
    }
}

/// The `INSERT` of `rows` data audit rows.
fn audit_sql(rows: usize) -> String {
    format!(
        "INSERT INTO audit_data (event_id, tenant_id, instance_name, event_entity, event_subtype, operation, \
         subject_actor, subject_user_id, subject_username, subject_full_name, patient_id, patient_full_name, \
         record_id, cdt_name, record, sent_at, cdt_relation) VALUES {}",
        values(rows, 17)
    )
}

/// The `INSERT` of `rows` outbox events (each kept only while a webhook is on).
fn outbox_sql(rows: usize) -> String {
    format!(
        "INSERT INTO event_outbox (tenant_id, instance_name, event_entity, event_subtype, source_id, source_name, \
         patient_id, created_at) {}",
        (0..rows).map(|r| outbox_row(r * 8)).collect::<Vec<_>>().join(" UNION ALL ")
    )
}

/// The data audit rows of `rows` and, unless webhooks are off, their outbox events: one
/// `INSERT` each, the one place both tables are written.
async fn insert_writes(tx: &mut Tx, rows: &[(&DataEvent<'_>, i64)]) -> crate::store::sql::Result<()> {
    static ONE_AUDIT: LazyLock<String> = LazyLock::new(|| audit_sql(1));
    static ONE_OUTBOX: LazyLock<String> = LazyLock::new(|| outbox_sql(1));
    let sql = statement_for(rows.len(), &ONE_AUDIT, audit_sql);
    let mut q = crate::store::sql::query(&sql);
    // One row: a PostgreSQL group commit may send it with other transactions' as one.
    if rows.len() == 1 {
        q = q.values_repeatable();
    }
    for (event, now_ms) in rows {
        q = q
            .bind(new_event_id(*now_ms))
            .bind(event.tenant_id)
            .bind(event.instance)
            .bind(event.entity)
            .bind(event.subtype())
            .bind(event.operation.as_str())
            .bind(event.actor.kind)
            .bind(&event.actor.id)
            .bind(&event.actor.username)
            .bind(event.actor.full_name())
            .bind(event.patient_id)
            .bind(event.patient_full_name.as_deref())
            .bind(event.record_id)
            .bind(event.cdt_name)
            .bind(event.record.to_text())
            .bind(*now_ms)
            .bind(event.cdt_relation);
    }
    // Nothing reads these rows back in the transaction: on PostgreSQL they travel with
    // the next statement or the COMMIT (`Tx::defer`).
    tx.defer(q).await?;
    if !crate::events::webhooks_enabled() {
        return Ok(());
    }
    let sql = statement_for(rows.len(), &ONE_OUTBOX, outbox_sql);
    let mut q = crate::store::sql::query(&sql);
    if rows.len() == 1 {
        q = q.select_repeatable();
    }
    for (event, now_ms) in rows {
        q = q
            .bind(event.tenant_id)
            .bind(event.instance)
            .bind(event.entity)
            .bind(event.subtype())
            .bind(event.record_id)
            .bind(event.source_name())
            .bind(event.patient_id)
            .bind(*now_ms);
    }
    tx.defer(q).await
}

impl Db {
    pub async fn record_security_event(&self, event: &SecurityEvent<'_>, now_ms: i64) -> crate::store::sql::Result<()> {
        let mut tx = self.begin().await?;
        insert_security_event(&mut *tx, event, now_ms).await?;
        tx.commit().await
    }
}

/// Records a security event inside a write's transaction (emulator resets, restores).
pub async fn record_security_event_in(
    tx: &mut Tx,
    event: &SecurityEvent<'_>,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    insert_security_event(&mut **tx, event, now_ms).await
}

async fn insert_security_event<'c, E>(
    executor: E,
    event: &SecurityEvent<'_>,
    now_ms: i64,
) -> crate::store::sql::Result<()>
where
    E: crate::store::sql::Executor<'c>,
{
    crate::store::sql::query(
        "INSERT INTO audit_security (event_id, tenant_id, event_subtype, subject_actor, subject_user_id, \
         subject_username, object_actor, object_user_id, object_username, record, sent_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(new_event_id(now_ms))
    .bind(event.tenant_id)
    .bind(event.subtype)
    .bind(event.subject.kind)
    .bind(&event.subject.id)
    .bind(&event.subject.username)
    .bind(event.object.map(|o| o.kind))
    .bind(event.object.map(|o| o.id.clone()))
    .bind(event.object.map(|o| o.username.clone()))
    .bind(event.record.to_string())
    .bind(now_ms)
    .execute(executor)
    .await
    .map(|_| ())
}

/// Filters of `GET /admin/audit-data`.
#[derive(Clone, Debug, Default)]
pub struct DataAuditFilter {
    pub entity: Option<String>,
    pub event_subtype: Option<String>,
    pub operation: Option<String>,
    pub cdt_name: Option<String>,
    pub subject_username: Option<String>,
    pub subject_full_name: Option<String>,
    pub subject_user_id: Option<String>,
    pub subject_actor: Option<String>,
    pub instance: Option<String>,
    pub patient_id: Option<String>,
    pub patient_full_name: Option<String>,
    pub search: Option<String>,
    pub date_start: Option<i64>,
    pub date_end: Option<i64>,
    /// Instances the caller may see; `None` for all. Tenant-level rows are always visible.
    pub visible_instances: Option<Vec<String>>,
}

/// One stored data audit row.
pub struct DataAuditRow {
    pub event_id: String,
    pub event_entity: String,
    pub event_subtype: String,
    pub operation: String,
    pub subject_actor: String,
    pub subject_user_id: String,
    pub subject_username: String,
    pub subject_full_name: String,
    pub patient_id: Option<String>,
    pub patient_full_name: Option<String>,
    pub instance: Option<String>,
    pub cdt_name: Option<String>,
    pub cdt_relation: Option<String>,
    pub record: String,
    pub sent_at: i64,
}

pub fn data_audit_sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "sentAt" | "createdAt" | "date" => "sent_at",
        "eventEntity" | "entity" => "event_entity",
        "eventSubtype" => "event_subtype",
        "subjectUsername" => "subject_username",
        "patientId" => "patient_id",
        "instance" => "instance_name",
        _ => return None,
    })
}

impl Db {
    pub async fn data_audit(
        &self,
        tenant_id: &str,
        f: &DataAuditFilter,
        sorts: &[super::query::SortColumn],
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<DataAuditRow>, i64)> {
        use super::query::{contains_pattern, Arg, Where};
        let mut w = Where::default();
        w.and("tenant_id = ?", [Arg::Text(tenant_id.into())]);
        let exact = [
            ("event_entity", &f.entity),
            ("event_subtype", &f.event_subtype),
            ("operation", &f.operation),
            ("cdt_name", &f.cdt_name),
            ("subject_username", &f.subject_username),
            ("subject_full_name", &f.subject_full_name),
            ("subject_user_id", &f.subject_user_id),
            ("subject_actor", &f.subject_actor),
            ("instance_name", &f.instance),
            ("patient_id", &f.patient_id),
            ("patient_full_name", &f.patient_full_name),
        ];
        for (column, value) in exact {
            if let Some(v) = value {
                w.and(&format!("{column} = ?"), [Arg::Text(v.clone())]);
            }
        }
        if let Some(s) = &f.search {
            let p = contains_pattern(s);
            w.and(
                "(LOWER(COALESCE(patient_full_name, '')) LIKE ? ESCAPE '\\' OR LOWER(subject_full_name) LIKE ? ESCAPE '\\' OR LOWER(event_subtype) LIKE ? ESCAPE '\\')",
                [Arg::Text(p.clone()), Arg::Text(p.clone()), Arg::Text(p)],
            );
        }
        if let Some(start) = f.date_start {
            w.and("sent_at >= ?", [Arg::Int(start)]);
        }
        if let Some(end) = f.date_end {
            w.and("sent_at <= ?", [Arg::Int(end)]);
        }
        if let Some(list) = &f.visible_instances {
            let marks = vec!["?"; list.len().max(1)].join(", ");
            let mut args: Vec<Arg> = list.iter().map(|i| Arg::Text(i.clone())).collect();
            if args.is_empty() {
                args.push(Arg::Text(String::new()));
            }
            w.and(&format!("(instance_name IS NULL OR instance_name IN ({marks}))"), args);
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM audit_data{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let mut order: Vec<String> =
            sorts.iter().map(|s| format!("{} {}", s.column, if s.descending { "DESC" } else { "ASC" })).collect();
        // Ties (writes within one millisecond, common since writes commit in groups) keep
        // the order the events happened in, in the direction the time is sorted: newest
        // first by default, oldest first under `sentAt,asc`.
        let oldest_first = sorts.first().is_some_and(|s| s.column == "sent_at" && !s.descending);
        order.push(if oldest_first { "seq ASC" } else { "seq DESC" }.into());
        let sql = format!(
            "SELECT event_id, event_entity, event_subtype, operation, subject_actor, subject_user_id, subject_username, \
             subject_full_name, patient_id, patient_full_name, instance_name, cdt_name, cdt_relation, record, sent_at FROM audit_data{} \
             ORDER BY {} LIMIT {limit} OFFSET {offset}",
            w.sql(),
            order.join(", ")
        );
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        let items = rows
            .into_iter()
            .map(|r| DataAuditRow {
                event_id: r.get("event_id"),
                event_entity: r.get("event_entity"),
                event_subtype: r.get("event_subtype"),
                operation: r.get("operation"),
                subject_actor: r.get("subject_actor"),
                subject_user_id: r.get("subject_user_id"),
                subject_username: r.get("subject_username"),
                subject_full_name: r.get("subject_full_name"),
                patient_id: r.get("patient_id"),
                patient_full_name: r.get("patient_full_name"),
                instance: r.get("instance_name"),
                cdt_name: r.get("cdt_name"),
                cdt_relation: r.get("cdt_relation"),
                record: r.get("record"),
                sent_at: r.get("sent_at"),
            })
            .collect();
        Ok((items, total))
    }
}

/// One queued event of the outbox, as webhook delivery reads it.
#[derive(Clone, Debug)]
pub struct OutboxEvent {
    pub seq: i64,
    pub created_at: i64,
    pub tenant_id: String,
    pub source_name: Option<String>,
    pub instance: Option<String>,
    pub event_entity: String,
    pub event_subtype: String,
    pub source_id: String,
    pub patient_id: Option<String>,
}

impl Db {
    /// Queued events of a tenant after `after_seq`, oldest first.
    pub async fn outbox_events(
        &self,
        tenant_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> crate::store::sql::Result<Vec<OutboxEvent>> {
        let rows = crate::store::sql::query(
            "SELECT seq, created_at, tenant_id, instance_name, event_entity, event_subtype, source_id, source_name, patient_id FROM event_outbox \
             WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(tenant_id)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| OutboxEvent {
                seq: r.get("seq"),
                created_at: r.get("created_at"),
                tenant_id: r.get("tenant_id"),
                source_name: r.get("source_name"),
                instance: r.get("instance_name"),
                event_entity: r.get("event_entity"),
                event_subtype: r.get("event_subtype"),
                source_id: r.get("source_id"),
                patient_id: r.get("patient_id"),
            })
            .collect())
    }
}

impl super::Db {
    /// Whether any event waits to be fanned out: a read on the reader pool, so an idle
    /// webhook worker polls without opening a write transaction (on SQLite it would queue
    /// behind the single writer; on PostgreSQL it costs three round trips).
    pub async fn outbox_has_pending(&self) -> crate::store::sql::Result<bool> {
        let row = crate::store::sql::query("SELECT 1 AS one FROM event_outbox WHERE fanned_out = 0 LIMIT 1")
            .fetch_optional(self.reader())
            .await?;
        Ok(row.is_some())
    }
}

/// Events not fanned out yet, oldest first, locked for this transaction (on PostgreSQL
/// other nodes skip them).
pub async fn outbox_pending(
    tx: &mut Tx,
    backend: super::Backend,
    limit: i64,
) -> crate::store::sql::Result<Vec<OutboxEvent>> {
    let lock = if backend == super::Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let rows = crate::store::sql::query(&format!(
        "SELECT seq, created_at, tenant_id, instance_name, event_entity, event_subtype, source_id, source_name, patient_id FROM event_outbox \
         WHERE fanned_out = 0 ORDER BY seq LIMIT {limit}{lock}"
    ))
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| OutboxEvent {
            seq: r.get("seq"),
            created_at: r.get("created_at"),
            tenant_id: r.get("tenant_id"),
            instance: r.get("instance_name"),
            event_entity: r.get("event_entity"),
            event_subtype: r.get("event_subtype"),
            source_id: r.get("source_id"),
            source_name: r.get("source_name"),
            patient_id: r.get("patient_id"),
        })
        .collect())
}

/// Filters of `GET /admin/audit-security`.
#[derive(Default)]
pub struct SecurityFilter {
    pub subject_username: Option<String>,
    pub subject_actor: Option<String>,
    pub object_username: Option<String>,
    pub object_actor: Option<String>,
    pub event_subtype: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl Db {
    pub async fn security_audit(
        &self,
        tenant_id: &str,
        f: &SecurityFilter,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        use super::query::{Arg, Where};
        let mut w = Where::default();
        w.and("tenant_id = ?", [Arg::Text(tenant_id.into())]);
        for (column, value) in [
            ("subject_username", &f.subject_username),
            ("subject_actor", &f.subject_actor),
            ("object_username", &f.object_username),
            ("object_actor", &f.object_actor),
            ("event_subtype", &f.event_subtype),
        ] {
            if let Some(v) = value {
                w.and(&format!("{column} = ?"), [Arg::Text(v.clone())]);
            }
        }
        if let Some(from) = f.from {
            w.and("sent_at >= ?", [Arg::Int(from)]);
        }
        if let Some(to) = f.to {
            w.and("sent_at <= ?", [Arg::Int(to)]);
        }
        let total: i64 = w
            .bind(crate::store::sql::query(&format!("SELECT COUNT(*) AS n FROM audit_security{}", w.sql())))
            .fetch_one(self.reader())
            .await?
            .get("n");
        let sql = format!(
            "SELECT sent_at, subject_username, subject_user_id, subject_actor, object_username, object_user_id, object_actor, event_subtype, record \
             FROM audit_security{} ORDER BY seq DESC LIMIT {limit} OFFSET {offset}",
            w.sql()
        );
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        let full = |actor: Option<String>, name: Option<String>| match (actor, name) {
            (Some(a), Some(n)) if a != "USER" => Some(format!("{a}:{n}")),
            (_, n) => n,
        };
        Ok((
            rows.iter()
                .map(|r| {
                    let (sa, su): (String, String) = (r.get("subject_actor"), r.get("subject_username"));
                    let (oa, ou): (Option<String>, Option<String>) = (r.get("object_actor"), r.get("object_username"));
                    serde_json::json!({
                        "sentAt": crate::time::format_ms(r.get("sent_at")),
                        "subjectUsername": su, "subjectUserId": r.get::<Option<String>, _>("subject_user_id"), "subjectActor": sa,
                        "subjectFullName": full(Some(sa.clone()), Some(su.clone())),
                        "objectUsername": ou, "objectUserId": r.get::<Option<String>, _>("object_user_id"), "objectActor": oa,
                        "objectFullName": full(oa.clone(), ou.clone()),
                        "eventSubtype": r.get::<String, _>("event_subtype"),
                        "record": serde_json::from_str::<Value>(&r.get::<String, _>("record")).unwrap_or(Value::Null),
                    })
                })
                .collect(),
            total,
        ))
    }
}
