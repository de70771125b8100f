//! SMS: a patient's messages, sent now or scheduled and sent by the scheduler when due
//! (`send`), read, listed, updated by the rules of `domain::sms` and deleted while
//! scheduled (`messages`); inbound messages from numbers no patient has, at the V8 and
//! the docs site's paths (`unrecognized`); and the provider side, inbound messages and
//! delivery reports in Twilio's form fields and the local outbox (`provider`). Here is
//! what they share: their errors, who a write is for, its audit row, the sending line.
//! Every write is audited as `SMS` (`SMS_CREATED`, `SMS_UPDATED`, `SMS_DELETED`).

pub mod messages;
pub mod provider;
pub mod send;
pub mod unrecognized;

pub use send::{send, send_due, spawn_scheduler, Outgoing};

use super::error::{ServiceError, ServiceResult};
use super::scope::InstanceScope;
use crate::app::AppState;
use crate::domain::patient::Patient;
use crate::domain::sms::Changes;
use crate::domain::FieldError;
use crate::events::audit::{Actor, DataEvent, Operation};
use crate::store::patients::PatientKey;
use crate::store::query::SortColumn;
use crate::store::sms::{SmsFilter, SmsScope};
use crate::store::Tx;
use serde_json::{json, Value};

pub const COMPONENT: &str = "SMS";
const ENTITY: &str = "SMS";

pub fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("SMS_NOT_FOUND", COMPONENT, "SMS was not found", json!({"id": id}))
}

pub fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

fn changed(id: &str) -> ServiceError {
    ServiceError::conflict(
        "SMS_CHANGED",
        COMPONENT,
        "the SMS changed while this request was handled; read it again",
        json!({"id": id}),
    )
}

fn id_of(s: &Value) -> String {
    s["id"].as_str().unwrap_or_default().to_string()
}

/// Who a write is done for: the instance and the actor of its audit row.
struct Who {
    tenant_id: String,
    instance_id: String,
    instance_name: String,
    actor: Actor,
}

impl Who {
    fn of(ctx: &InstanceScope) -> Who {
        Who {
            tenant_id: ctx.tenant.id.clone(),
            instance_id: ctx.instance.id.clone(),
            instance_name: ctx.instance.name.clone(),
            actor: ctx.actor(),
        }
    }
}

/// Audits an SMS write (and queues its event) inside the write's transaction.
async fn record(
    tx: &mut Tx,
    who: &Who,
    operation: Operation,
    s: &Value,
    patient: Option<&Patient>,
    now_ms: i64,
) -> ServiceResult<()> {
    let event = DataEvent {
        tenant_id: &who.tenant_id,
        instance: Some(&who.instance_name),
        entity: ENTITY,
        operation,
        actor: &who.actor,
        record_id: s["id"].as_str().unwrap_or_default(),
        patient_id: patient.map(|p| p.id.as_str()),
        patient_full_name: patient.map(Patient::full_name),
        cdt_name: None,
        cdt_relation: None,
        record: s.into(),
        subtype: None,
    };
    crate::store::audit::record_write(tx, &event, now_ms).await?;
    Ok(())
}

/// The number a message goes out from: the named one, which must be an SMS
/// communication ID of the instance, or the instance's default.
async fn sending_line(state: &AppState, ctx: &InstanceScope, requested: Option<&str>) -> ServiceResult<String> {
    let found = match requested {
        Some(number) => {
            state.db.communication_id_by_value(&ctx.instance.id, "SMS", number).await?.ok_or_else(|| {
                invalid(FieldError::new("from", format!("{number} is not an SMS communication ID of this instance")))
            })?
        }
        None => state.db.default_communication_id(&ctx.instance.id, "SMS").await?.ok_or_else(|| {
            invalid(FieldError::new(
                "from",
                format!(
                    "the instance has no SMS communication ID to send from; add one with POST /{}/{}/communication-ids",
                    ctx.tenant.name, ctx.instance.name
                ),
            ))
        })?,
    };
    Ok(found["value"].as_str().unwrap_or_default().to_string())
}

fn check_phone(p: &Patient) -> ServiceResult<()> {
    if p.phone.is_none() {
        return Err(invalid(FieldError::new("receiver", format!("the patient {} has no phone number", p.id))));
    }
    Ok(())
}

/// A body's `receiver` must be the patient of the path.
fn check_receiver(ch: &Changes, p: &Patient) -> ServiceResult<()> {
    match &ch.receiver {
        Some(r) if *r != p.id => {
            Err(invalid(FieldError::new("receiver", format!("must be the patient of the path ({})", p.id))))
        }
        _ => Ok(()),
    }
}

fn status_of(s: &Value) -> String {
    s["status"].as_str().unwrap_or_default().to_string()
}

/// The patient a stored message belongs to, if any (and if it still exists).
async fn patient_of(state: &AppState, instance_id: &str, patient_id: Option<&str>) -> ServiceResult<Option<Patient>> {
    match patient_id {
        Some(pid) => Ok(state.db.patient(instance_id, PatientKey::Id, pid).await?),
        None => Ok(None),
    }
}

/// One page of the messages `scope` and `filter` select, and how many they select.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    scope: SmsScope,
    filter: &SmsFilter,
    sorts: &[SortColumn],
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    let (rows, total) = state.db.sms_list(&ctx.instance.id, &scope, filter, sorts, offset, size).await?;
    Ok((rows.into_iter().map(|s| s.body).collect(), total))
}
