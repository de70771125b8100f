//! A patient's SMS: read one, update one by the rules of `domain::sms` (a scheduled one
//! that becomes due is sent), delete one while it is scheduled (or unrecognised). The
//! update and the delete are shared with the unmatched messages (`unrecognized`), which
//! pass their own rule of which stored messages the route may see.

use super::send::dispatch_detached;
use super::{
    changed, check_phone, check_receiver, invalid, not_found, patient_of, record, sending_line, status_of, Who,
};
use crate::app::AppState;
use crate::domain::patient::Patient;
use crate::domain::sms::{self, Update};
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::patients;
use crate::services::scope::InstanceScope;
use crate::store::patients::PatientKey;
use crate::store::sms::{self as store, StoredSms};
use serde_json::{json, Map, Value};

/// Which stored messages a route may see, given the patient of its path (if it has one).
pub(super) type Visible = fn(&StoredSms, Option<&Patient>) -> bool;

fn not_deletable(s: &Value) -> ServiceError {
    ServiceError::conflict(
        "SMS_CANNOT_BE_DELETED",
        super::COMPONENT,
        "only SCHEDULED or UNRECOGNISED SMS can be deleted",
        json!({"id": s["id"], "status": s["status"]}),
    )
}

fn belongs_to_path_patient(s: &StoredSms, p: Option<&Patient>) -> bool {
    p.is_some_and(|p| s.patient_id.as_deref() == Some(p.id.as_str()))
}

/// The patient an assignment names (`field`: `sender` or `patientId`).
async fn assignee(state: &AppState, ctx: &InstanceScope, field: &str, id: &str) -> ServiceResult<Patient> {
    state
        .db
        .patient(&ctx.instance.id, PatientKey::Id, id)
        .await?
        .ok_or_else(|| invalid(FieldError::new(field, format!("no patient {id} in this instance"))))
}

/// The SMS `id` of the patient `patient_id`.
pub async fn read(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    let s = state.db.sms(&ctx.instance.id, id).await?;
    s.filter(|s| s.patient_id.as_deref() == Some(p.id.as_str())).map(|s| s.body).ok_or_else(|| not_found(id))
}

/// Applies an update body to the patient's SMS `id`.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    update_stored(state, ctx, Some(&p), id, body, belongs_to_path_patient).await
}

/// Deletes the patient's SMS `id`, if it is still scheduled (or unrecognised).
pub async fn delete(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<()> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    delete_stored(state, ctx, Some(&p), id, belongs_to_path_patient).await
}

/// Applies an update body to a stored message (see `domain::sms` for what may change in
/// which status), audits it, and sends the message if it is now due.
pub(super) async fn update_stored(
    state: &AppState,
    ctx: &InstanceScope,
    path_patient: Option<&Patient>,
    id: &str,
    body: &Map<String, Value>,
    visible: Visible,
) -> ServiceResult<Value> {
    let now_ms = state.clock.now_ms();
    let ch = sms::parse(body, Some(id)).map_err(invalid)?;
    if let Some(p) = path_patient {
        check_receiver(&ch, p)?;
    }
    if let Some(number) = &ch.from {
        sending_line(state, ctx, Some(number)).await?;
    }
    let target = match &ch.sender {
        Some(pid) => Some(assignee(state, ctx, "sender", pid).await?),
        None => None,
    };
    let who = Who::of(ctx);
    let mut tx = state.db.begin().await?;
    let stored = store::get_for_update(&mut tx, &ctx.instance.id, id)
        .await?
        .filter(|s| visible(s, path_patient))
        .ok_or_else(|| not_found(id))?;
    let before = status_of(&stored.body);
    let mut s = stored.body;
    let update = sms::check_update(&s, &ch, now_ms).map_err(invalid)?;
    sms::apply_in_place(&mut s, &ch);
    // The patient the audit row and a send are about.
    let owner = match (&update, &target) {
        (Update::Assign(_), Some(t)) => {
            sms::assign(&mut s, t);
            Some(t.clone())
        }
        _ => match path_patient {
            Some(p) => Some(p.clone()),
            None => patient_of(state, &ctx.instance.id, sms::patient_id(&s)).await?,
        },
    };
    if before == "SCHEDULED" {
        if let Update::Reschedule(at) = update {
            sms::reschedule(&mut s, at, now_ms);
        }
        if let Some(p) = &owner {
            sms::readdress(&mut s, p);
            if s["status"] == "ACCEPTED" {
                check_phone(p)?;
            }
        }
    }
    if !store::update_if(&mut tx, &ctx.instance.id, &s, &before, now_ms).await? {
        return Err(changed(id));
    }
    if matches!(update, Update::Assign(_)) && stored.unmatched {
        store::mark_resolved(&mut tx, &ctx.instance.id, id, &who.actor.id, now_ms).await?;
    }
    record(&mut tx, &who, Operation::Update, &s, owner.as_ref(), now_ms).await?;
    tx.commit().await?;
    if before == "SCHEDULED" && s["status"] == "ACCEPTED" {
        return dispatch_detached(state, who, s, owner).await;
    }
    Ok(s)
}

/// Deletes a stored message the route may see, if `domain::sms` allows it.
pub(super) async fn delete_stored(
    state: &AppState,
    ctx: &InstanceScope,
    path_patient: Option<&Patient>,
    id: &str,
    visible: Visible,
) -> ServiceResult<()> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let stored = store::get_for_update(&mut tx, &ctx.instance.id, id)
        .await?
        .filter(|s| visible(s, path_patient))
        .ok_or_else(|| not_found(id))?;
    if !sms::deletable(&stored.body) {
        return Err(not_deletable(&stored.body));
    }
    store::delete(&mut tx, &ctx.instance.id, id).await?;
    record(&mut tx, &Who::of(ctx), Operation::Delete, &stored.body, path_patient, now_ms).await?;
    tx.commit().await?;
    Ok(())
}
