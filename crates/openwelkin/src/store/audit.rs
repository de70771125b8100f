//! Append-only audit tables. Data audit rows are inserted in the transaction of the write
//! they describe; nothing here updates or deletes them.

use super::{Db, Tx};
use crate::events::audit::{DataEvent, SecurityEvent};
use crate::ids::new_event_id;

pub async fn record_data_event(
    tx: &mut Tx,
    event: &DataEvent<'_>,
    now_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_data (event_id, tenant_id, instance_name, event_entity, event_subtype, operation, \
         subject_actor, subject_user_id, subject_username, subject_full_name, patient_id, patient_full_name, \
         record_id, cdt_name, record, sent_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(new_event_id(now_ms))
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
    .bind(event.record.to_string())
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

impl Db {
    pub async fn record_security_event(
        &self,
        event: &SecurityEvent<'_>,
        now_ms: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
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
        .execute(&self.writer)
        .await
        .map(|_| ())
    }
}
