//! Sending an SMS: an outbound message is stored `ACCEPTED` (or `SCHEDULED`) from one of
//! the instance's SMS communication IDs, handed to the configured `SmsProvider`, then
//! stored `SENT` with the provider's id, or `FAILED`; the scheduler sends scheduled
//! messages when their time comes. Used by the SMS routes and by templated sends. Every
//! write is audited as `SMS` (`SMS_CREATED`, `SMS_UPDATED`).

use super::error::{ServiceError, ServiceResult};
use super::scope::InstanceScope;
use crate::app::AppState;
use crate::delivery::sms::OutboundSms;
use crate::domain::patient::Patient;
use crate::domain::sms;
use crate::domain::FieldError;
use crate::events::audit::{Actor, DataEvent, Operation};
use crate::store::patients::PatientKey;
use crate::store::sms as store;
use crate::store::Tx;
use serde_json::{json, Value};
use std::time::Duration;

pub const COMPONENT: &str = "SMS";
const ENTITY: &str = "SMS";
/// Messages the scheduler sends per pass.
const SCHEDULER_BATCH: i64 = 50;
const SCHEDULER_PERIOD: Duration = Duration::from_secs(1);

pub fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("SMS_NOT_FOUND", COMPONENT, "SMS was not found", json!({"id": id}))
}

pub fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

pub fn changed(id: &str) -> ServiceError {
    ServiceError::conflict(
        "SMS_CHANGED",
        COMPONENT,
        "the SMS changed while this request was handled; read it again",
        json!({"id": id}),
    )
}

pub fn id_of(s: &Value) -> String {
    s["id"].as_str().unwrap_or_default().to_string()
}

/// Who a write is done for: the instance and the actor of its audit row.
pub struct Who {
    pub tenant_id: String,
    pub instance_id: String,
    pub instance_name: String,
    pub actor: Actor,
}

impl Who {
    pub fn of(ctx: &InstanceScope) -> Who {
        Who {
            tenant_id: ctx.tenant.id.clone(),
            instance_id: ctx.instance.id.clone(),
            instance_name: ctx.instance.name.clone(),
            actor: ctx.actor(),
        }
    }
}

/// Audits an SMS write (and queues its event) inside the write's transaction.
pub async fn record(
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
        record: s,
        subtype: None,
    };
    crate::store::audit::record_write(tx, &event, now_ms).await?;
    Ok(())
}

/// The number a message goes out from: the named one, which must be an SMS
/// communication ID of the instance, or the instance's default.
pub async fn sending_line(state: &AppState, ctx: &InstanceScope, requested: Option<&str>) -> ServiceResult<String> {
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

pub fn check_phone(p: &Patient) -> ServiceResult<()> {
    if p.phone.is_none() {
        return Err(invalid(FieldError::new("receiver", format!("the patient {} has no phone number", p.id))));
    }
    Ok(())
}

/// `dispatch` in a task of its own, so that a client hanging up does not leave the
/// message `ACCEPTED` and unsent.
pub async fn dispatch_detached(state: &AppState, who: Who, s: Value, patient: Option<Patient>) -> ServiceResult<Value> {
    let state = state.clone();
    tokio::spawn(async move { dispatch(&state, &who, s, patient.as_ref()).await })
        .await
        .map_err(ServiceError::internal)?
}

/// Hands an `ACCEPTED` message to the provider, then stores the outcome: `SENT` with the
/// provider's id, or `FAILED`.
async fn dispatch(state: &AppState, who: &Who, s: Value, patient: Option<&Patient>) -> ServiceResult<Value> {
    let id = id_of(&s);
    let outcome = match (s["from"].as_str(), s["to"].as_str()) {
        (Some(from), Some(to)) => {
            let out = OutboundSms {
                tenant_id: who.tenant_id.clone(),
                instance_id: who.instance_id.clone(),
                sms_id: id.clone(),
                from: from.to_string(),
                to: to.to_string(),
                body: s["message"].as_str().unwrap_or_default().to_string(),
                now_ms: state.clock.now_ms(),
            };
            state.sms.send(&out).await.map_err(|e| e.to_string())
        }
        _ => Err("the message has no number to send from or to".to_string()),
    };
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // Re-read: the star may have changed while the provider was busy.
    let mut current = store::get_for_update(&mut tx, &who.instance_id, &id).await?.ok_or_else(|| not_found(&id))?.body;
    if current["status"] != "ACCEPTED" {
        return Err(changed(&id));
    }
    match &outcome {
        Ok(sent) => sms::mark_sent(&mut current, &sent.external_id, now_ms),
        Err(reason) => {
            tracing::warn!(sms_id = %id, provider = state.sms.name(), error = %reason, "SMS delivery failed");
            sms::mark_failed(&mut current);
        }
    }
    if !store::update_if(&mut tx, &who.instance_id, &current, "ACCEPTED", now_ms).await? {
        return Err(changed(&id));
    }
    record(&mut tx, who, Operation::Update, &current, patient, now_ms).await?;
    tx.commit().await?;
    Ok(current)
}

/// An outbound message to store and send (or schedule).
pub struct Outgoing<'a> {
    /// One of the instance's SMS communication IDs; `None` for the default.
    pub from: Option<&'a str>,
    pub message: &'a str,
    /// `None`: send now.
    pub scheduled_at: Option<i64>,
    pub starred: bool,
}

/// Stores an outbound SMS to `p` from the caller and sends it now (or leaves it
/// scheduled): `SENT` or `FAILED`, or `SCHEDULED`. The body must be checked already; this
/// checks the patient's phone and the sending line. Other sends (e.g. templated
/// communications) can use it as well.
pub async fn send(state: &AppState, ctx: &InstanceScope, p: &Patient, out: &Outgoing<'_>) -> ServiceResult<Value> {
    check_phone(p)?;
    let from = sending_line(state, ctx, out.from).await?;
    let now_ms = state.clock.now_ms();
    let actor = ctx.actor();
    let name = actor.full_name();
    let draft = sms::Draft { from: &from, message: out.message, scheduled_at: out.scheduled_at, starred: out.starred };
    let s = sms::outbound(&crate::ids::new_id(), now_ms, p, &sms::Author { id: &actor.id, name: &name }, &draft);
    let who = Who::of(ctx);
    let mut tx = state.db.begin().await?;
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &s, false, now_ms).await?;
    record(&mut tx, &who, Operation::Create, &s, Some(p), now_ms).await?;
    tx.commit().await?;
    if out.scheduled_at.is_some() {
        return Ok(s);
    }
    dispatch_detached(state, who, s, Some(p.clone())).await
}

/// Sends scheduled SMS when their time comes: a background task that looks every second.
/// Several nodes may run it; each message is claimed by one (a conditional update).
pub fn spawn_scheduler(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SCHEDULER_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = send_due(&state).await {
                tracing::warn!(error = ?e.content, "sending scheduled SMS failed");
            }
        }
    })
}

/// One pass of the scheduler; returns how many messages it handed over.
pub async fn send_due(state: &AppState) -> ServiceResult<usize> {
    let mut handed = 0;
    for due in state.db.due_sms(state.clock.now_ms(), SCHEDULER_BATCH).await? {
        let instance_name = state
            .db
            .instances(&due.tenant_id)
            .await?
            .into_iter()
            .find(|i| i.id == due.instance_id)
            .map(|i| i.name)
            .unwrap_or_default();
        let who = Who {
            tenant_id: due.tenant_id.clone(),
            instance_id: due.instance_id.clone(),
            instance_name,
            actor: Actor::system(),
        };
        let now_ms = state.clock.now_ms();
        let mut tx = state.db.begin().await?;
        let Some(stored) = store::get_for_update(&mut tx, &due.instance_id, &due.id).await? else { continue };
        if stored.body["status"] != "SCHEDULED" {
            continue;
        }
        let patient = match &stored.patient_id {
            Some(pid) => state.db.patient(&due.instance_id, PatientKey::Id, pid).await?,
            None => None,
        };
        let mut s = stored.body;
        match &patient {
            Some(p) => {
                sms::readdress(&mut s, p);
                s["status"] = json!("ACCEPTED");
            }
            // The patient is gone: nothing to send to.
            None => sms::mark_failed(&mut s),
        }
        if !store::update_if(&mut tx, &due.instance_id, &s, "SCHEDULED", now_ms).await? {
            continue;
        }
        record(&mut tx, &who, Operation::Update, &s, patient.as_ref(), now_ms).await?;
        tx.commit().await?;
        if s["status"] == "ACCEPTED" {
            dispatch(state, &who, s, patient.as_ref()).await?;
            handed += 1;
        }
    }
    Ok(handed)
}
