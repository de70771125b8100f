//! Sending an SMS: an outbound message is stored `ACCEPTED` (or `SCHEDULED`) from one of
//! the instance's SMS communication IDs, handed to the configured `SmsProvider`, then
//! stored `SENT` with the provider's id, or `FAILED`; the scheduler sends scheduled
//! messages when their time comes. Used by the SMS routes and by templated sends.

use super::{changed, check_phone, check_receiver, id_of, invalid, not_found, patient_of, record, sending_line, Who};
use crate::app::AppState;
use crate::delivery::sms::OutboundSms;
use crate::domain::patient::Patient;
use crate::domain::sms;
use crate::events::audit::{Actor, Operation};
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::scope::InstanceScope;
use crate::store::errors::RETRY_PAUSES;
use crate::store::sms as store;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Messages the scheduler sends per pass.
const SCHEDULER_BATCH: i64 = 50;
const SCHEDULER_PERIOD: Duration = Duration::from_secs(1);

/// Sends an SMS to the patient `patient_id` as a create body asks: now (`sendNow: true`,
/// the default) or at `scheduledAt`, from the instance's default SMS communication ID or
/// the body's `from`.
pub async fn create(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = crate::services::patients::by_id(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let ch = sms::parse(body, None).map_err(invalid)?;
    let at = sms::check_send(&ch, now_ms).map_err(invalid)?;
    check_receiver(&ch, &p)?;
    let draft = Outgoing {
        from: ch.from.as_deref(),
        message: ch.message.as_deref().unwrap_or_default(),
        scheduled_at: at,
        starred: ch.starred.unwrap_or(false),
    };
    send(state, ctx, &p, &draft).await
}

/// `dispatch` in a task of its own, so that a client hanging up does not leave the
/// message `ACCEPTED` and unsent.
pub(super) async fn dispatch_detached(
    state: &AppState,
    who: Who,
    s: Value,
    patient: Option<Patient>,
) -> ServiceResult<Value> {
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
    let outcome_label = if outcome.is_ok() { "sent" } else { "failed" };
    metrics::counter!(crate::telemetry::names::SMS_SENDS, "provider" => state.sms.name(), "outcome" => outcome_label)
        .increment(1);
    if let Err(reason) = &outcome {
        tracing::warn!(sms_id = %id, provider = state.sms.name(), error = %reason, "SMS delivery failed");
    }
    let mut attempt = 0;
    loop {
        match store_outcome(state, who, &id, &outcome, patient).await {
            Err(e) if e.retryable && attempt < RETRY_PAUSES.len() => {
                tracing::info!(sms_id = %id, attempt = attempt + 1, "the database connection broke while storing an SMS outcome; trying again");
                tokio::time::sleep(RETRY_PAUSES[attempt]).await;
                attempt += 1;
            }
            // The provider has the message: running the whole request again would send it
            // twice, so the failure is final here.
            Err(mut e) => {
                e.retryable = false;
                return Err(e);
            }
            Ok(stored) => return Ok(stored),
        }
    }
}

/// Stores what the provider answered: `SENT` with its id, or `FAILED`.
async fn store_outcome(
    state: &AppState,
    who: &Who,
    id: &str,
    outcome: &Result<crate::delivery::sms::Sent, String>,
    patient: Option<&Patient>,
) -> ServiceResult<Value> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // Re-read: the star may have changed while the provider was busy.
    let mut current = store::get_for_update(&mut tx, &who.instance_id, id).await?.ok_or_else(|| not_found(id))?.body;
    if current["status"] != "ACCEPTED" {
        return Err(changed(id));
    }
    match outcome {
        Ok(sent) => sms::mark_sent(&mut current, &sent.external_id, now_ms),
        Err(_) => sms::mark_failed(&mut current),
    }
    if !store::update_if(&mut tx, &who.instance_id, &current, "ACCEPTED", now_ms).await? {
        return Err(changed(id));
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
    let s = sms::outbound(&crate::ids::record_id(), now_ms, p, &sms::Author { id: &actor.id, name: &name }, &draft);
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

/// One pass of the scheduler: hands the messages that are due to the provider, then fails
/// the ones a stopped node left `ACCEPTED`. Returns how many it handed over.
pub async fn send_due(state: &AppState) -> ServiceResult<usize> {
    let mut handed = 0;
    for due in state.db.due_sms(state.clock.now_ms(), SCHEDULER_BATCH).await? {
        // One message that cannot be sent must not hold back the others.
        match send_one_due(state, &due).await {
            Ok(sent) => handed += usize::from(sent),
            Err(e) => tracing::warn!(sms_id = %due.id, error = ?e.content, "sending a scheduled SMS failed"),
        }
    }
    fail_abandoned(state).await?;
    Ok(handed)
}

/// Claims one due message (another node may have) and sends it; true if this pass sent it.
async fn send_one_due(state: &AppState, due: &store::Due) -> ServiceResult<bool> {
    let who = system_writer(state, due).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let Some(stored) = store::get_for_update(&mut tx, &due.instance_id, &due.id).await? else { return Ok(false) };
    if stored.body["status"] != "SCHEDULED" {
        return Ok(false);
    }
    let patient = patient_of(state, &due.instance_id, stored.patient_id.as_deref()).await?;
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
        return Ok(false);
    }
    record(&mut tx, &who, Operation::Update, &s, patient.as_ref(), now_ms).await?;
    tx.commit().await?;
    if s["status"] != "ACCEPTED" {
        return Ok(false);
    }
    dispatch(state, &who, s, patient.as_ref()).await?;
    Ok(true)
}

/// How long a message may stay `ACCEPTED`: far longer than the provider's timeout (20 s)
/// and the outcome's retries, so only a node that stopped between handing a message over
/// and storing the outcome leaves one this old.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(120);

/// Marks `FAILED` the messages left `ACCEPTED` for `ABANDONED_AFTER`. Whether the provider
/// got them is unknown: failing them shows the user a message to check and send again,
/// where sending again here could reach the patient twice.
async fn fail_abandoned(state: &AppState) -> ServiceResult<()> {
    let now_ms = state.clock.now_ms();
    let before_ms = now_ms - ABANDONED_AFTER.as_millis() as i64;
    for stuck in state.db.abandoned_sms(before_ms, SCHEDULER_BATCH).await? {
        let who = system_writer(state, &stuck).await?;
        let mut tx = state.db.begin().await?;
        let Some(stored) = store::get_for_update(&mut tx, &stuck.instance_id, &stuck.id).await? else { continue };
        let patient = patient_of(state, &stuck.instance_id, stored.patient_id.as_deref()).await?;
        let mut s = stored.body;
        sms::mark_failed(&mut s);
        if !store::update_if_untouched(&mut tx, &stuck.instance_id, &s, "ACCEPTED", before_ms, now_ms).await? {
            continue;
        }
        record(&mut tx, &who, Operation::Update, &s, patient.as_ref(), now_ms).await?;
        tx.commit().await?;
        tracing::warn!(
            sms_id = %stuck.id,
            after_s = ABANDONED_AFTER.as_secs(),
            "an SMS handed to the provider had no outcome stored (its node stopped); marked FAILED, as whether it was delivered is unknown"
        );
    }
    Ok(())
}

/// The scheduler writes as the system, in the message's instance.
async fn system_writer(state: &AppState, m: &store::Due) -> ServiceResult<Who> {
    let instance_name = state
        .db
        .instances(&m.tenant_id)
        .await?
        .into_iter()
        .find(|i| i.id == m.instance_id)
        .map(|i| i.name)
        .unwrap_or_default();
    Ok(Who {
        tenant_id: m.tenant_id.clone(),
        instance_id: m.instance_id.clone(),
        instance_name,
        actor: Actor::system(),
    })
}
