//! Faxes: outbound drafts and sends, received faxes, their assignment to a patient and
//! review (rules in `domain::fax`). A sent fax is handed to the local fax line, which
//! keeps it where the emulator's `fax` outbox shows it. Writes are audited as `FAX`
//! (`FAX_CREATED`, `FAX_UPDATED`), with the patient when the fax has one.

use super::error::{ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::domain::fax;
use crate::domain::patient::Patient;
use crate::events::audit::Operation;
use crate::store::faxes::{self as store, FaxFilter};
use crate::store::query::SortColumn;
use serde_json::{json, Map, Value};

const COMPONENT: &str = "FAX";
const ENTITY: &str = "FAX";

fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("FAX_NOT_FOUND", COMPONENT, "Fax not found", json!({"id": id}))
}

/// The patient the fax belongs to, for its audit entry: the one the body named (checked
/// to exist), else the one it already had.
async fn patient_of(
    state: &AppState,
    ctx: &InstanceScope,
    named: Option<&str>,
    fax: &Value,
) -> ServiceResult<Option<Patient>> {
    match (named, fax["patientId"].as_str()) {
        (Some(id), _) => Ok(Some(super::patients::named_by(state, ctx, COMPONENT, "patientId", id).await?)),
        (None, Some(id)) => Ok(state.db.patient(&ctx.instance.id, crate::store::patients::PatientKey::Id, id).await?),
        (None, None) => Ok(None),
    }
}

/// Creates a fax: an outbound draft, an outbound fax sent at once (`send: true`), or a
/// received one (`type: INBOUND`).
pub async fn create(state: &AppState, ctx: &InstanceScope, body: &Map<String, Value>) -> ServiceResult<Value> {
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let mut f = fax::blank(&crate::ids::record_id(), &now, &actor.id, &actor.full_name());
    let change = fax::create(&mut f, body, &now).map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    let patient = patient_of(state, ctx, change.patient_id.as_deref(), &f).await?;
    let id = f["id"].as_str().unwrap_or_default().to_string();
    let mut tx = state.db.begin().await?;
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &f, now_ms).await?;
    ctx.record(&mut tx, Write { patient: patient.as_ref(), ..Write::new(ENTITY, Operation::Create, &id, &f) }, now_ms)
        .await?;
    tx.commit().await?;
    Ok(f)
}

/// The fax `id`.
pub async fn read(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<Value> {
    state.db.fax(&ctx.instance.id, id).await?.ok_or_else(|| not_found(id))
}

/// A page of the instance's faxes and the total.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    filter: &FaxFilter,
    sorts: &[SortColumn],
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    Ok(state.db.faxes(&ctx.instance.id, filter, sorts, offset, size).await?)
}

/// Changes a fax: a draft's content, sending a draft (`send: true`), its patient, its
/// review.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let mut tx = state.db.begin().await?;
    let mut f = store::get_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    let change = fax::update(&mut f, body, &now).map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    let patient = patient_of(state, ctx, change.patient_id.as_deref(), &f).await?;
    f["updatedAt"] = json!(now);
    f["updatedBy"] = json!(actor.id);
    f["updatedByName"] = json!(actor.full_name());
    store::update(&mut tx, &ctx.instance.id, &f, now_ms).await?;
    ctx.record(&mut tx, Write { patient: patient.as_ref(), ..Write::new(ENTITY, Operation::Update, id, &f) }, now_ms)
        .await?;
    tx.commit().await?;
    Ok(f)
}
