//! The provider side of SMS (openwelkin extensions): an inbound message and a delivery
//! report, each read from the fields Twilio sends (`From`, `To`, `Body`, `MessageSid`;
//! `MessageSid`, `MessageStatus`), and what the local outbox provider recorded.

use super::{changed, id_of, invalid, patient_of, record, status_of, Who, COMPONENT};
use crate::app::AppState;
use crate::delivery::sms::new_message_sid;
use crate::domain::sms;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::scope::InstanceScope;
use crate::store::is_unique_violation;
use crate::store::patients::PatientKey;
use crate::store::sms as store;
use serde_json::{json, Map, Value};

fn form_text(form: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| form.get(*n).and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn required_form_text(form: &Map<String, Value>, name: &str, alias: &str) -> ServiceResult<String> {
    let v = form_text(form, &[name, alias]).ok_or_else(|| invalid(FieldError::new(name, "is required")))?;
    if v.len() > 64 {
        return Err(invalid(FieldError::new(name, "must be at most 64 characters")));
    }
    Ok(v)
}

/// A phone number as carriers write it: `+` and digits.
fn looks_like_e164(s: &str) -> bool {
    s.len() > 1 && s.len() <= 16 && s.starts_with('+') && s[1..].chars().all(|c| c.is_ascii_digit())
}

/// Stores an inbound SMS from the provider's fields. From a number exactly one patient of
/// the instance has (phone or secondary phone), it becomes that patient's `RECEIVED`
/// SMS; otherwise an `UNRECOGNISED` one. A `MessageSid` seen before answers the stored
/// message (providers retry).
pub async fn inbound(state: &AppState, ctx: &InstanceScope, form: &Map<String, Value>) -> ServiceResult<Value> {
    let from = required_form_text(form, "From", "from")?;
    let to = required_form_text(form, "To", "to")?;
    let text = form.get("Body").or_else(|| form.get("body")).and_then(Value::as_str).unwrap_or_default().to_string();
    if text.chars().count() > sms::MAX_MESSAGE {
        return Err(invalid(FieldError::new("Body", format!("must be at most {} characters", sms::MAX_MESSAGE))));
    }
    let sid = match form_text(form, &["MessageSid", "SmsSid"]) {
        Some(sid) if sid.len() <= 64 && sid.chars().all(|c| c.is_ascii_alphanumeric()) => sid,
        Some(_) => return Err(invalid(FieldError::new("MessageSid", "must be 1-64 letters and digits"))),
        None => new_message_sid(),
    };
    let matches =
        if looks_like_e164(&from) { state.db.patients_with_phone(&ctx.instance.id, &from).await? } else { vec![] };
    // A number two patients share is left for the care team to resolve.
    let patient = match matches.as_slice() {
        [only] => state.db.patient(&ctx.instance.id, PatientKey::Id, only).await?,
        _ => None,
    };
    let now_ms = state.clock.now_ms();
    let s = sms::inbound(&crate::ids::record_id(), now_ms, &from, &to, &text, &sid, patient.as_ref());
    let mut tx = state.db.begin().await?;
    if let Some(seen) = store::by_external_id(&mut tx, &ctx.instance.id, &sid).await? {
        return Ok(seen.body);
    }
    if let Err(e) = store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &s, patient.is_none(), now_ms).await {
        if is_unique_violation(&e) {
            // The same message, delivered twice at once.
            drop(tx);
            let mut tx = state.db.begin().await?;
            let seen =
                store::by_external_id(&mut tx, &ctx.instance.id, &sid).await?.ok_or_else(|| ServiceError::from(e))?;
            return Ok(seen.body);
        }
        return Err(e.into());
    }
    record(&mut tx, &Who::of(ctx), Operation::Create, &s, patient.as_ref(), now_ms).await?;
    tx.commit().await?;
    Ok(s)
}

/// Records a provider's delivery report (`sent`, `delivered`, `undelivered`, `failed`).
/// Reports never move a message back (they may arrive out of order); others (`queued`,
/// `sending`, …) change nothing. Answers the message.
pub async fn status_report(state: &AppState, ctx: &InstanceScope, form: &Map<String, Value>) -> ServiceResult<Value> {
    let sid = required_form_text(form, "MessageSid", "SmsSid")?;
    let reported = required_form_text(form, "MessageStatus", "SmsStatus")?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let stored = store::by_external_id(&mut tx, &ctx.instance.id, &sid)
        .await?
        .filter(|s| s.body["direction"] == "OUT")
        .ok_or_else(|| {
            ServiceError::not_found("SMS_NOT_FOUND", COMPONENT, "SMS was not found", json!({"externalId": sid}))
        })?;
    let mut s = stored.body;
    let current = status_of(&s);
    let Some(new) = sms::reported_status(&reported).filter(|new| sms::advances(&current, new)) else {
        return Ok(s);
    };
    s["status"] = json!(new);
    let patient = patient_of(state, &ctx.instance.id, stored.patient_id.as_deref()).await?;
    if !store::update_if(&mut tx, &ctx.instance.id, &s, &current, now_ms).await? {
        return Err(changed(&id_of(&s)));
    }
    record(&mut tx, &Who::of(ctx), Operation::Update, &s, patient.as_ref(), now_ms).await?;
    tx.commit().await?;
    Ok(s)
}

/// One page of what the local outbox provider recorded, oldest first, and the total.
pub async fn outbox(
    state: &AppState,
    ctx: &InstanceScope,
    to: Option<&str>,
    sms_id: Option<&str>,
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    Ok(state.db.sms_outbox(&ctx.instance.id, to, sms_id, offset, size).await?)
}
