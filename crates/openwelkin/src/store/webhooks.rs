//! Webhook activations, deliveries and attempts. Deliveries are leased: a node claims a
//! few due ones at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer
//! anyway), so each is in flight on one node, and a dead node's leases run out and are
//! taken over. A delivery is claimable only when no earlier delivery of the same record
//! to the same webhook is still pending, which keeps events in order per record.

use super::{Backend, Db, Tx};
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Activation {
    pub webhook_name: String,
    pub active: bool,
    pub secret_version: i64,
    /// When it was last switched; events before an activation are not sent.
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: String,
    pub tenant_id: String,
    pub instance_id: String,
    pub webhook_name: String,
    pub attempts: i64,
    pub created_at: i64,
    pub payload: Value,
}

impl Db {
    /// Activates or deactivates a webhook in an instance; returns its secret version.
    pub async fn set_webhook_active(
        &self,
        instance_id: &str,
        name: &str,
        active: bool,
        now_ms: i64,
    ) -> crate::store::sql::Result<i64> {
        // The version comes back from the upsert itself, not from a read after it that a
        // concurrent change could come between.
        let mut tx = self.begin().await?;
        let row = crate::store::sql::query(
            "INSERT INTO webhook_activations (instance_id, webhook_name, active, secret_version, updated_at) VALUES ($1, $2, $3, 1, $4) \
             ON CONFLICT (instance_id, webhook_name) DO UPDATE SET active = excluded.active, updated_at = excluded.updated_at \
             RETURNING secret_version",
        )
        .bind(instance_id)
        .bind(name)
        .bind(active as i64)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.get("secret_version"))
    }

    pub async fn webhook_activations(&self, instance_id: &str) -> crate::store::sql::Result<Vec<Activation>> {
        let rows = crate::store::sql::query(
            "SELECT webhook_name, active, secret_version, updated_at FROM webhook_activations WHERE instance_id = $1",
        )
        .bind(instance_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Activation {
                webhook_name: r.get("webhook_name"),
                active: r.get::<i64, _>("active") != 0,
                secret_version: r.get("secret_version"),
                updated_at: r.get("updated_at"),
            })
            .collect())
    }

    /// Whether a delivery is due and unleased at `now_ms`: the idle worker's cheap check
    /// before it claims in a write transaction.
    pub async fn deliveries_due(&self, now_ms: i64) -> crate::store::sql::Result<bool> {
        let row = crate::store::sql::query(
            "SELECT 1 AS one FROM webhook_deliveries WHERE status = 'PENDING' AND next_attempt_at <= $1 AND lease_until < $1 LIMIT 1",
        )
        .bind(now_ms)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.is_some())
    }

    /// Claims up to `limit` due deliveries for `node` until `lease_until`.
    pub async fn claim_deliveries(
        &self,
        node: &str,
        now_ms: i64,
        lease_until: i64,
        limit: i64,
    ) -> crate::store::sql::Result<Vec<Delivery>> {
        let lock = if self.backend() == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE webhook_deliveries SET lease_until = $1, leased_by = $2 WHERE id IN (\
             SELECT d.id FROM webhook_deliveries d WHERE d.status = 'PENDING' AND d.next_attempt_at <= $3 AND d.lease_until < $3 \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.instance_id = d.instance_id AND e.webhook_name = d.webhook_name \
             AND e.ordering_key = d.ordering_key AND e.status = 'PENDING' AND e.event_seq < d.event_seq) \
             ORDER BY d.event_seq LIMIT {limit}{lock}) \
             RETURNING id, tenant_id, instance_id, webhook_name, attempts, created_at, payload"
        );
        let mut tx = self.begin().await?;
        let rows = crate::store::sql::query(&sql).bind(lease_until).bind(node).bind(now_ms).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| Delivery {
                id: r.get("id"),
                tenant_id: r.get("tenant_id"),
                instance_id: r.get("instance_id"),
                webhook_name: r.get("webhook_name"),
                attempts: r.get("attempts"),
                created_at: r.get("created_at"),
                payload: serde_json::from_str(&r.get::<String, _>("payload")).unwrap_or(Value::Null),
            })
            .collect())
    }

    /// Counts deliveries by status for an instance (tests and diagnostics).
    pub async fn delivery_counts(&self, instance_id: &str) -> crate::store::sql::Result<Vec<(String, i64)>> {
        let rows = crate::store::sql::query("SELECT status, COUNT(*) AS n FROM webhook_deliveries WHERE instance_id = $1 GROUP BY status ORDER BY status")
            .bind(instance_id)
            .fetch_all(self.reader())
            .await?;
        Ok(rows.iter().map(|r| (r.get("status"), r.get("n"))).collect())
    }
}

/// Webhook work not done yet, across the database (every tenant): what the metrics show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Outbox events not fanned out into deliveries yet.
    pub events: i64,
    /// When the oldest of them was written (epoch ms).
    pub oldest_event_ms: Option<i64>,
    /// Deliveries not delivered nor given up (waiting for their first attempt or a retry).
    pub deliveries: i64,
    /// When the oldest of them was made (epoch ms).
    pub oldest_delivery_ms: Option<i64>,
}

impl Db {
    /// Counts the backlog. Both counts walk an index over the pending rows only (the
    /// delivered and fanned-out history is not read), so a scrape costs what the backlog is.
    pub async fn webhook_backlog(&self) -> crate::store::sql::Result<Backlog> {
        let events = crate::store::sql::query(
            "SELECT COUNT(*) AS n, (SELECT created_at FROM event_outbox WHERE fanned_out = 0 ORDER BY seq LIMIT 1) AS oldest \
             FROM event_outbox WHERE fanned_out = 0",
        )
        .fetch_one(self.reader())
        .await?;
        let deliveries = crate::store::sql::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM webhook_deliveries WHERE status = 'PENDING'",
        )
        .fetch_one(self.reader())
        .await?;
        Ok(Backlog {
            events: events.get("n"),
            oldest_event_ms: events.get("oldest"),
            deliveries: deliveries.get("n"),
            oldest_delivery_ms: deliveries.get("oldest"),
        })
    }
}

/// Marks events as fanned out.
pub async fn mark_fanned_out(tx: &mut Tx, seqs: &[i64]) -> crate::store::sql::Result<()> {
    if seqs.is_empty() {
        return Ok(());
    }
    let marks: Vec<String> = (1..=seqs.len()).map(|i| format!("${i}")).collect();
    let sql = format!("UPDATE event_outbox SET fanned_out = 1 WHERE seq IN ({})", marks.join(", "));
    let mut q = crate::store::sql::query(&sql);
    for s in seqs {
        q = q.bind(*s);
    }
    q.execute(&mut **tx).await.map(|_| ())
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_delivery(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    webhook: &str,
    event_seq: i64,
    ordering_key: &str,
    payload: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO webhook_deliveries (id, tenant_id, instance_id, webhook_name, event_seq, ordering_key, status, attempts, next_attempt_at, \
         lease_until, created_at, payload) VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', 0, $7, 0, $7, $8) \
         ON CONFLICT (webhook_name, instance_id, event_seq) DO NOTHING",
    )
    .bind(crate::ids::new_id())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(webhook)
    .bind(event_seq)
    .bind(ordering_key)
    .bind(now_ms)
    .bind(payload.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// One attempt, as the webhook audit shows it.
pub struct Attempt<'a> {
    pub tenant_id: &'a str,
    pub instance_name: &'a str,
    pub delivery_id: &'a str,
    pub webhook_name: &'a str,
    pub event_entity: &'a str,
    pub event_subtype: &'a str,
    pub patient_id: Option<&'a str>,
    pub status: &'a str,
    pub status_code: Option<&'a str>,
    pub response: Option<&'a str>,
    pub record: &'a Value,
}

impl Db {
    /// Records an attempt and moves the delivery on: delivered, retried at `retry_at`, or
    /// given up (`retry_at` None) — and releases its lease.
    pub async fn finish_attempt(
        &self,
        a: &Attempt<'_>,
        delivered: bool,
        retry_at: Option<i64>,
        now_ms: i64,
    ) -> crate::store::sql::Result<()> {
        let mut tx = self.begin().await?;
        crate::store::sql::query(
            "INSERT INTO webhook_attempts (id, tenant_id, instance_name, delivery_id, webhook_name, event_entity, event_subtype, patient_id, \
             status, status_code, response, sent_at, record) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(crate::ids::new_id())
        .bind(a.tenant_id)
        .bind(a.instance_name)
        .bind(a.delivery_id)
        .bind(a.webhook_name)
        .bind(a.event_entity)
        .bind(a.event_subtype)
        .bind(a.patient_id)
        .bind(a.status)
        .bind(a.status_code)
        .bind(a.response)
        .bind(now_ms)
        .bind(a.record.to_string())
        .execute(&mut *tx)
        .await?;
        let status = if delivered {
            "DELIVERED"
        } else if retry_at.is_some() {
            "PENDING"
        } else {
            "FAILED"
        };
        crate::store::sql::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, next_attempt_at = $2, lease_until = 0, leased_by = NULL WHERE id = $3",
        )
        .bind(status)
        .bind(retry_at.unwrap_or(now_ms))
        .bind(a.delivery_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
}

/// Filters of `GET /admin/audit-webhook`.
#[derive(Default)]
pub struct AttemptFilter {
    pub instance: Option<String>,
    pub event_subtype: Option<String>,
    pub entity: Option<String>,
    pub status: Option<Vec<String>>,
    pub patient_id: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl Db {
    pub async fn webhook_attempts(
        &self,
        tenant_id: &str,
        f: &AttemptFilter,
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        use super::query::{Arg, Where};
        let mut w = Where::default();
        w.and("tenant_id = ?", [Arg::Text(tenant_id.into())]);
        for (column, value) in [
            ("instance_name", &f.instance),
            ("event_subtype", &f.event_subtype),
            ("event_entity", &f.entity),
            ("patient_id", &f.patient_id),
        ] {
            if let Some(v) = value {
                w.and(&format!("{column} = ?"), [Arg::Text(v.clone())]);
            }
        }
        if let Some(list) = f.status.as_ref().filter(|l| !l.is_empty()) {
            w.and(
                &format!("status IN ({})", vec!["?"; list.len()].join(", ")),
                list.iter().map(|s| Arg::Text(s.clone())),
            );
        }
        if let Some(from) = f.from {
            w.and("sent_at >= ?", [Arg::Int(from)]);
        }
        if let Some(to) = f.to {
            w.and("sent_at <= ?", [Arg::Int(to)]);
        }
        let total: i64 = w
            .bind(crate::store::sql::query(&format!("SELECT COUNT(*) AS n FROM webhook_attempts{}", w.sql())))
            .fetch_one(self.reader())
            .await?
            .get("n");
        let sql = format!(
            "SELECT id, sent_at, event_entity, instance_name, status, status_code, response, event_subtype, patient_id, record \
             FROM webhook_attempts{} ORDER BY sent_at DESC, id DESC LIMIT {limit} OFFSET {offset}",
            w.sql()
        );
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        Ok((
            rows.iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.get::<String, _>("id"),
                        "sentAt": crate::time::format_ms(r.get("sent_at")),
                        "eventEntity": r.get::<String, _>("event_entity"),
                        "instance": r.get::<String, _>("instance_name"),
                        "status": r.get::<String, _>("status"),
                        "statusCode": r.get::<Option<String>, _>("status_code"),
                        "response": r.get::<Option<String>, _>("response"),
                        "eventSubtype": r.get::<String, _>("event_subtype"),
                        "patientId": r.get::<Option<String>, _>("patient_id"),
                        "record": serde_json::from_str::<Value>(&r.get::<String, _>("record")).unwrap_or(Value::Null),
                    })
                })
                .collect(),
            total,
        ))
    }
}
