//! Voice calls: a call reported by the telephony provider (matched to a patient by
//! phone number when it names none), a patient's calls and their recordings, and the
//! unrecognized calls, which are assigned to a patient by resolving them. Writes are
//! audited as `CALL` (`CALL_CREATED`, `CALL_UPDATED`).

use super::error::{ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::domain::call::{self, RESOLVED};
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::calls::{self as store, CallFilter};
use crate::store::patients::PatientKey;
use serde_json::{json, Map, Value};

const COMPONENT: &str = "CALL";

fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("CALL_NOT_FOUND", COMPONENT, "Call not found", json!({"id": id}))
}

/// A recording as the provider sent it: the bytes, their content type and file name.
pub type RecordingUpload = (Vec<u8>, Option<String>, Option<String>);

/// Records a call the provider reports (`body`: its fields; `file`: a recording sent as a
/// multipart part). Answers the full call.
pub async fn report(
    state: &AppState,
    ctx: &InstanceScope,
    body: &Map<String, Value>,
    file: Option<RecordingUpload>,
) -> ServiceResult<Value> {
    let report = call::parse_report(body, file).map_err(invalid)?;
    if let Some(user) = &report.user_id {
        super::chat::user_named_by(state, ctx, COMPONENT, "userId", user).await?;
    }
    let named = match &report.patient_id {
        Some(id) => Some(super::patients::named_by(state, ctx, COMPONENT, "patientId", id).await?),
        None => None,
    };
    let now_ms = state.clock.now_ms();
    let actor = ctx.actor();
    let id = crate::ids::record_id();
    let mut tx = state.db.begin().await?;
    // Without a named patient, the call is the patient's whose number it is, if exactly
    // one patient has it; otherwise it stays unrecognized.
    let patient = match named {
        Some(p) => Some(p),
        None => {
            match store::patients_with_phone(&mut tx, &ctx.instance.id, report.patient_number()).await?.as_slice() {
                [only] => state.db.patient(&ctx.instance.id, PatientKey::Id, only).await?,
                _ => None,
            }
        }
    };
    let c = call::new_call(
        &id,
        &report,
        patient.as_ref().map(|p| p.id.as_str()),
        report.called_at_ms.unwrap_or(now_ms),
        &crate::time::format_ms(now_ms),
        &actor.id,
        &actor.full_name(),
    );
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &c, now_ms).await?;
    if let Some(r) = &report.recording {
        store::insert_recording(&mut tx, &ctx.instance.id, &id, r.content_type, &r.filename, &r.bytes).await?;
    }
    ctx.record(&mut tx, Write { patient: patient.as_ref(), ..Write::new("CALL", Operation::Create, &id, &c) }, now_ms)
        .await?;
    tx.commit().await?;
    Ok(call::full(&c))
}

/// One page of `p`'s calls, newest first, as list items, and the total.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    p: Patient,
    from: Option<i64>,
    to: Option<i64>,
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    let filter = CallFilter { patient_id: Some(p.id), from, to, ..Default::default() };
    let (rows, total) = state.db.calls(&ctx.instance.id, &filter, offset, size).await?;
    Ok((rows.iter().map(call::list_item).collect(), total))
}

/// One call of a patient, as stored.
async fn patient_call(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    let p = super::patients::by_id(state, ctx, patient_id).await?;
    state.db.patient_call(&ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found(id))
}

/// One call of a patient, with all its metadata.
pub async fn read(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    Ok(call::full(&patient_call(state, ctx, patient_id, id).await?))
}

/// The recording of a patient's call: its content type, file name and bytes.
pub async fn recording(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
) -> ServiceResult<(String, String, Vec<u8>)> {
    patient_call(state, ctx, patient_id, id).await?;
    state.db.call_recording(&ctx.instance.id, id).await?.ok_or_else(|| {
        ServiceError::not_found("CALL_RECORDING_NOT_FOUND", COMPONENT, "The call has no recording", json!({"id": id}))
    })
}

/// One page of the unrecognized calls (of one resolution status, if given), newest
/// first, and the total.
pub async fn list_unrecognized(
    state: &AppState,
    ctx: &InstanceScope,
    resolution: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    let filter = CallFilter { unrecognized: true, resolution, from, to, ..Default::default() };
    let (rows, total) = state.db.calls(&ctx.instance.id, &filter, offset, size).await?;
    Ok((rows.iter().map(call::unrecognized_item).collect(), total))
}

/// One unrecognized call.
pub async fn read_unrecognized(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<Value> {
    let c = state.db.unrecognized_call(&ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    Ok(call::unrecognized_item(&c))
}

/// Assigns an unrecognized call to a patient: `{patientId, status: "RESOLVED"}`. A call
/// already resolved is refused (conflict).
pub async fn resolve(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let patient_id = call::parse_resolution(body).map_err(invalid)?;
    let p = super::patients::named_by(state, ctx, COMPONENT, "patientId", &patient_id).await?;
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let actor = ctx.actor();
    let mut tx = state.db.begin().await?;
    let mut c = store::unrecognized_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    if c["resolutionStatus"] == RESOLVED {
        return Err(ServiceError::conflict(
            "CALL_ALREADY_RESOLVED",
            COMPONENT,
            "The call is already assigned to a patient",
            json!({"id": id, "patientId": c["patientId"]}),
        ));
    }
    for (k, v) in [
        ("patientId", json!(p.id)),
        ("resolutionStatus", json!(RESOLVED)),
        ("resolvedBy", json!(actor.id)),
        ("resolvedByName", json!(actor.full_name())),
        ("resolvedAt", json!(now)),
        ("updatedAt", json!(now)),
        ("updatedBy", json!(actor.id)),
        ("updatedByName", json!(actor.full_name())),
    ] {
        c[k] = v;
    }
    store::update(&mut tx, &ctx.instance.id, &c, now_ms).await?;
    ctx.record(&mut tx, Write { patient: Some(&p), ..Write::new("CALL", Operation::Update, id, &c) }, now_ms).await?;
    tx.commit().await?;
    Ok(call::unrecognized_item(&c))
}
