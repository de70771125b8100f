//! The outboxes a test inspects instead of a phone, a mailbox or a receiver: SMS and email
//! that the local providers kept, chat messages sent to patients, faxes sent, and webhook
//! deliveries. Clearing SMS, email and webhooks deletes their rows (a cleared webhook
//! delivery is never sent); clearing chat and fax only hides them from the outbox, since
//! they are the patient's conversation and the instance's fax records.

use super::not_found;
use crate::events::audit::{Actor, SecurityEvent};
use crate::services::error::ServiceResult;
use crate::store::audit::record_security_event_in;
use crate::store::tenants::Instance;
use crate::store::Db;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sms,
    Email,
    Chat,
    Fax,
    Webhooks,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sms => "sms",
            Kind::Email => "email",
            Kind::Chat => "chat",
            Kind::Fax => "fax",
            Kind::Webhooks => "webhooks",
        }
    }

    pub fn parse(s: &str) -> ServiceResult<Kind> {
        Ok(match s {
            "sms" => Kind::Sms,
            "email" => Kind::Email,
            "chat" => Kind::Chat,
            "fax" => Kind::Fax,
            "webhooks" => Kind::Webhooks,
            other => {
                return Err(not_found(format!(
                    "no outbox {other:?}: the outboxes are sms, email, chat, fax and webhooks"
                )))
            }
        })
    }
}

fn parsed(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// What the outbox holds, oldest first.
pub async fn list(db: &Db, instance: &Instance, kind: Kind) -> ServiceResult<Vec<Value>> {
    let pool = db.reader();
    let id = &instance.id;
    Ok(match kind {
        Kind::Sms => crate::store::sql::query(
            "SELECT id, sms_id, external_id, from_phone, to_phone, message, queued_at FROM sms_outbox \
             WHERE instance_id = $1 ORDER BY queued_at, id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            json!({"id": r.get::<String, _>("id"), "smsId": r.get::<String, _>("sms_id"),
                   "externalId": r.get::<String, _>("external_id"), "from": r.get::<String, _>("from_phone"),
                   "to": r.get::<String, _>("to_phone"), "message": r.get::<String, _>("message"),
                   "queuedAt": crate::time::format_ms(r.get("queued_at"))})
        })
        .collect(),
        Kind::Email => crate::store::sql::query(
            "SELECT id, email_id, to_key, created_at, body FROM email_outbox WHERE instance_id = $1 ORDER BY created_at, id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            json!({"id": r.get::<String, _>("id"), "emailId": r.get::<String, _>("email_id"),
                   "to": r.get::<String, _>("to_key"), "queuedAt": crate::time::format_ms(r.get("created_at")),
                   "message": parsed(r.get("body"))})
        })
        .collect(),
        Kind::Chat => crate::store::sql::query(
            "SELECT id, patient_id, sender_type, created_at, body FROM chat_messages m \
             WHERE instance_id = $1 AND sender_type <> 'PATIENT' AND NOT EXISTS (SELECT 1 FROM emulator_cleared c \
             WHERE c.instance_id = m.instance_id AND c.kind = 'chat' AND c.item_id = m.id) ORDER BY created_at, id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            json!({"id": r.get::<String, _>("id"), "patientId": r.get::<String, _>("patient_id"),
                   "senderType": r.get::<String, _>("sender_type"),
                   "sentAt": crate::time::format_ms(r.get("created_at")), "message": parsed(r.get("body"))})
        })
        .collect(),
        Kind::Fax => crate::store::sql::query(
            "SELECT body FROM faxes f WHERE instance_id = $1 AND fax_type = 'OUTBOUND' AND status = 'SENT' \
             AND NOT EXISTS (SELECT 1 FROM emulator_cleared c WHERE c.instance_id = f.instance_id AND c.kind = 'fax' \
             AND c.item_id = f.id) ORDER BY updated_at, id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            let fax = parsed(r.get("body"));
            json!({"id": fax["id"], "to": fax["receiver"], "from": fax["sender"], "subject": fax["subject"],
                   "pages": fax["pages"], "patientId": fax["patientId"], "sentAt": fax["sentAt"]})
        })
        .collect(),
        Kind::Webhooks => crate::store::sql::query(
            "SELECT id, webhook_name, status, attempts, next_attempt_at, created_at, payload FROM webhook_deliveries \
             WHERE instance_id = $1 ORDER BY event_seq, webhook_name",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            json!({"id": r.get::<String, _>("id"), "webhookName": r.get::<String, _>("webhook_name"),
                   "status": r.get::<String, _>("status"), "attempts": r.get::<i64, _>("attempts"),
                   "nextAttemptAt": crate::time::format_ms(r.get("next_attempt_at")),
                   "createdAt": crate::time::format_ms(r.get("created_at")), "body": parsed(r.get("payload"))})
        })
        .collect(),
    })
}

/// Empties the outbox; returns how many items it held. Audited like every write.
pub async fn clear(db: &Db, instance: &Instance, kind: Kind, by: &Actor, now_ms: i64) -> ServiceResult<u64> {
    let mut tx = db.begin().await?;
    let sql = match kind {
        Kind::Sms => "DELETE FROM sms_outbox WHERE instance_id = $1",
        Kind::Email => "DELETE FROM email_outbox WHERE instance_id = $1",
        Kind::Webhooks => "DELETE FROM webhook_deliveries WHERE instance_id = $1",
        Kind::Chat => {
            "INSERT INTO emulator_cleared (instance_id, kind, item_id) SELECT instance_id, 'chat', id \
             FROM chat_messages m WHERE instance_id = $1 AND sender_type <> 'PATIENT' AND NOT EXISTS \
             (SELECT 1 FROM emulator_cleared c WHERE c.instance_id = m.instance_id AND c.kind = 'chat' AND c.item_id = m.id)"
        }
        Kind::Fax => {
            "INSERT INTO emulator_cleared (instance_id, kind, item_id) SELECT instance_id, 'fax', id \
             FROM faxes f WHERE instance_id = $1 AND fax_type = 'OUTBOUND' AND status = 'SENT' AND NOT EXISTS \
             (SELECT 1 FROM emulator_cleared c WHERE c.instance_id = f.instance_id AND c.kind = 'fax' AND c.item_id = f.id)"
        }
    };
    let n = crate::store::sql::query(sql).bind(&instance.id).execute(&mut *tx).await?.rows_affected();
    let event = SecurityEvent {
        tenant_id: &instance.tenant_id,
        subtype: "EMULATOR_OUTBOX_CLEARED",
        subject: by,
        object: None,
        record: json!({"instance": instance.name, "outbox": kind.name(), "cleared": n}),
    };
    record_security_event_in(&mut tx, &event, now_ms).await?;
    tx.commit().await?;
    Ok(n)
}

/// Makes a webhook delivery that is not yet delivered due now ("retry now"); the delivery
/// worker sends it on its next pass. Audited. Not found when the instance has no such
/// undelivered delivery.
pub async fn retry_webhook(db: &Db, instance: &Instance, id: &str, by: &Actor, now_ms: i64) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    let n = crate::store::sql::query(
        "UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = $1, lease_until = 0 \
         WHERE id = $2 AND instance_id = $3 AND status <> 'DELIVERED'",
    )
    .bind(now_ms)
    .bind(id)
    .bind(&instance.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(not_found(format!("no undelivered webhook delivery {id:?} in this instance")));
    }
    let event = SecurityEvent {
        tenant_id: &instance.tenant_id,
        subtype: "EMULATOR_WEBHOOK_RETRIED",
        subject: by,
        object: None,
        record: json!({"instance": instance.name, "delivery": id}),
    };
    record_security_event_in(&mut tx, &event, now_ms).await?;
    tx.commit().await?;
    Ok(())
}
