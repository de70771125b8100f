//! Contacts of a patient: create, update, read and list. A contact may link to a profile
//! (PDT) record of the patient or of no patient, and must then agree with it; a patient
//! has at most one contact per profile record.

use super::error::{ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::designer::data_type::DataType;
use crate::domain::contact;
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::records::{DtKind, RecordKey, Scope, StoredRecord};
use crate::store::{contacts as store, is_unique_violation, Tx};
use serde_json::{json, Map, Value};

const COMPONENT: &str = "CONTACT";

fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("CONTACT_NOT_FOUND", COMPONENT, "Contact not found", json!({"id": id}))
}

fn already_linked(holder: &str) -> ServiceError {
    ServiceError::conflict(
        "CONTACT_ALREADY_EXISTS",
        COMPONENT,
        "the patient already has a contact for this profile record",
        json!({"contactId": holder}),
    )
}

/// A unique-index violation is a second contact for the same profile record, written
/// by a concurrent request after `check_links` ran.
fn linked_or_internal(err: crate::store::sql::Error) -> ServiceError {
    if is_unique_violation(&err) {
        already_linked("")
    } else {
        err.into()
    }
}

/// A profile record by id in any scope.
async fn find_profile(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
) -> ServiceResult<Option<(DataType, StoredRecord)>> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    for dt in &f.designer.pdts {
        let scope = Scope {
            tenant_id: &ctx.tenant.id,
            instance_id: &ctx.instance.id,
            kind: DtKind::Pdt,
            dt_name: &dt.name,
            patient_id: None,
        };
        if let Some(r) = state.db.record(&scope, RecordKey::Id, id).await? {
            return Ok(Some((dt.clone(), r)));
        }
    }
    Ok(None)
}

/// The linked profile must exist, belong to this patient or to no patient, and match.
async fn check_links(state: &AppState, ctx: &InstanceScope, tx: &mut Tx, p: &Patient, c: &Value) -> ServiceResult<()> {
    let Some(record_id) = c["pdtRecordId"].as_str() else { return Ok(()) };
    let profile = find_profile(state, ctx, record_id)
        .await?
        .filter(|(_, r)| r.patient_id.as_deref().is_none_or(|owner| owner == p.id))
        .ok_or_else(|| {
            ServiceError::invalid_field(
                COMPONENT,
                FieldError::new("pdtRecordId", format!("no profile record {record_id}")),
            )
        })?;
    contact::check_against_profile(c, &profile.1.body).map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    if let Some(holder) = store::holder_of(tx, &ctx.instance.id, &p.id, record_id).await? {
        if Some(holder.as_str()) != c["id"].as_str() {
            return Err(already_linked(&holder));
        }
    }
    Ok(())
}

async fn audit(
    tx: &mut Tx,
    ctx: &InstanceScope,
    operation: Operation,
    p: &Patient,
    c: &Value,
    now_ms: i64,
) -> ServiceResult<()> {
    let id = c["id"].as_str().unwrap_or_default();
    ctx.record(tx, Write { patient: Some(p), ..Write::new("CONTACT", operation, id, c) }, now_ms).await
}

/// Creates a contact of the patient `patient_id` from a create body.
pub async fn create(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = super::patients::by_id(state, ctx, patient_id).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut c =
        contact::blank(&crate::ids::record_id(), &p.id, &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    contact::apply(&mut c, body, true).map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    let mut tx = state.db.begin().await?;
    // The patient may have been deleted since it was read; its row lock keeps it.
    super::patients::lock(&mut tx, ctx, &p.id).await?;
    check_links(state, ctx, &mut tx, &p, &c).await?;
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &c, now_ms).await.map_err(linked_or_internal)?;
    audit(&mut tx, ctx, Operation::Create, &p, &c, now_ms).await?;
    tx.commit().await?;
    Ok(c)
}

/// Applies a PATCH body to a contact; omitted fields keep their values.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = super::patients::by_id(state, ctx, patient_id).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut c = store::get_for_update(&mut tx, &ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found(id))?;
    contact::apply(&mut c, body, false).map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    c["updatedAt"] = json!(crate::time::format_ms(now_ms));
    c["updatedBy"] = json!(actor.id);
    c["updatedByName"] = json!(actor.full_name());
    check_links(state, ctx, &mut tx, &p, &c).await?;
    store::update(&mut tx, &ctx.instance.id, &c, now_ms).await.map_err(linked_or_internal)?;
    audit(&mut tx, ctx, Operation::Update, &p, &c, now_ms).await?;
    tx.commit().await?;
    Ok(c)
}

/// One contact of the patient `patient_id`.
pub async fn read(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    let p = super::patients::by_id(state, ctx, patient_id).await?;
    state.db.contact(&ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found(id))
}

/// The contacts of `p`, optionally only those linked to one profile record, or only the
/// active (or inactive) ones.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    p: &Patient,
    pdt_record_id: Option<&str>,
    active: Option<bool>,
) -> ServiceResult<Vec<Value>> {
    Ok(state.db.contacts(&ctx.instance.id, &p.id, pdt_record_id, active).await?)
}
