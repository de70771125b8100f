//! The assessment links of an encounter (`__encounter_assessment__` records): list, read,
//! add, attach or detach the assessment record, delete. Audited as `CDT` writes of the
//! internal type. Every write locks the encounter's row first and reads whether it is
//! closed, and the link, after that lock: a write never lands on an encounter that a
//! concurrent FINALIZE has closed.

use super::{encounter, encounter_for_update, links_of, open, owned_body, part_envelope, patient, scope, COMPONENT};
use crate::app::AppState;
use crate::domain::encounter::{self as domain, LINK};
use crate::domain::fields;
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::records::stamp;
use crate::services::records::{cdt_write, record_not_found, stored};
use crate::services::scope::InstanceScope;
use crate::store::encounters::StoredEncounter;
use crate::store::records::{self as dt, RecordKey, StoredRecord};
use crate::store::Tx;
use serde_json::{json, Map, Value};

fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

/// Inside `tx`: a link of the encounter, its row locked until the transaction ends.
async fn link_for_update(
    tx: &mut Tx,
    ctx: &InstanceScope,
    e: &StoredEncounter,
    id: &str,
) -> ServiceResult<StoredRecord> {
    dt::get_for_update(tx, &scope(ctx, LINK, &e.patient_id), RecordKey::Id, id)
        .await?
        .filter(|r| r.body.get("source_id").and_then(Value::as_str) == Some(&e.id))
        .ok_or_else(|| record_not_found(json!({})))
}

/// An assessment record given to a link must be the patient's, of the link's assessment.
/// Read (and locked) inside `tx`, so it cannot be deleted before the link commits.
async fn check_record(
    tx: &mut Tx,
    ctx: &InstanceScope,
    p: &Patient,
    assessment: &str,
    record_id: &Value,
) -> ServiceResult<Option<String>> {
    let Some(id) = record_id.as_str() else {
        return if record_id.is_null() {
            Ok(None)
        } else {
            Err(invalid(FieldError::new("assessmentRecordId", "must be a string or null")))
        };
    };
    let r = crate::store::assessment_records::get_for_update(tx, &ctx.instance.id, &p.id, id).await?;
    match r {
        Some(r) if r["assessmentName"] == assessment => Ok(Some(id.to_string())),
        Some(_) => Err(invalid(FieldError::new(
            "assessmentRecordId",
            format!("record {id} is not of assessment {assessment}"),
        ))),
        None => {
            Err(invalid(FieldError::new("assessmentRecordId", format!("the patient has no assessment record {id}"))))
        }
    }
}

/// The assessment links of the encounter.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    encounter_id: &str,
) -> ServiceResult<Vec<Value>> {
    let (_, e) = encounter(state, ctx, patient_id, encounter_id).await?;
    links_of(state, ctx, &e).await
}

/// The assessment link `id` of the encounter.
pub async fn read(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    encounter_id: &str,
    id: &str,
) -> ServiceResult<Value> {
    let (_, e) = encounter(state, ctx, patient_id, encounter_id).await?;
    let l = state
        .db
        .record(&scope(ctx, LINK, &e.patient_id), RecordKey::Id, id)
        .await?
        .filter(|r| r.body.get("source_id").and_then(Value::as_str) == Some(&e.id))
        .ok_or_else(|| record_not_found(json!({})))?;
    Ok(part_envelope(&l, LINK))
}

/// Links an assessment: `{assessmentName, assessmentRecordId?}`.
pub async fn add(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    encounter_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    fields::reject_unknown(body, &["assessmentName", "assessmentRecordId"], &[]).map_err(invalid)?;
    let p = patient(state, ctx, patient_id).await?;
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    let mut tx = state.db.begin().await?;
    let e = encounter_for_update(&mut tx, ctx, &p, encounter_id).await?;
    open(&e)?;
    let name = body
        .get("assessmentName")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(FieldError::new("assessmentName", "is required")))?;
    let a = formation
        .designer
        .assessment(name)
        .ok_or_else(|| invalid(FieldError::new("assessmentName", format!("no assessment {name:?}"))))?;
    let record_id =
        check_record(&mut tx, ctx, &p, name, body.get("assessmentRecordId").unwrap_or(&Value::Null)).await?;
    let now_ms = state.clock.now_ms();
    let id = crate::ids::record_id();
    let link = domain::link_fields(&a.name, a.title, record_id, false);
    let link_body = owned_body(ctx, &id, &e.id, &crate::time::format_ms(now_ms), link);
    dt::insert(&mut tx, &scope(ctx, LINK, &p.id), &id, formation.version, &link_body, now_ms).await?;
    let record = part_envelope(&stored(&id, Some(&p.id), LINK, formation.version, now_ms, link_body), LINK);
    ctx.record(&mut tx, cdt_write(Operation::Create, &id, &p, LINK, "ASSESSMENT", &record), now_ms).await?;
    tx.commit().await?;
    Ok(record)
}

/// Attaches (or, with null, detaches) the assessment record of the link `id`.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    encounter_id: &str,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    fields::reject_unknown(
        body,
        &["assessmentRecordId"],
        &["assessmentName", "assessmentTitle", "fromTemplate", "relation"],
    )
    .map_err(invalid)?;
    let p = patient(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let e = encounter_for_update(&mut tx, ctx, &p, encounter_id).await?;
    open(&e)?;
    let mut l = link_for_update(&mut tx, ctx, &e, id).await?;
    let name = l.body.get("assessmentName").and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some(given) = body.get("assessmentRecordId") {
        let record_id = check_record(&mut tx, ctx, &p, &name, given).await?;
        l.body.insert("assessmentRecordId".into(), json!(record_id));
    }
    stamp(ctx, &mut l.body, now_ms);
    dt::update(&mut tx, &scope(ctx, LINK, &p.id), &l.id, &l.body, now_ms).await?;
    let record = part_envelope(&l, LINK);
    ctx.record(&mut tx, cdt_write(Operation::Update, &l.id, &p, LINK, "ASSESSMENT", &record), now_ms).await?;
    tx.commit().await?;
    Ok(record)
}

/// Removes the assessment link `id`.
pub async fn delete(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    encounter_id: &str,
    id: &str,
) -> ServiceResult<()> {
    let p = patient(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let e = encounter_for_update(&mut tx, ctx, &p, encounter_id).await?;
    open(&e)?;
    let l = link_for_update(&mut tx, ctx, &e, id).await?;
    dt::delete(&mut tx, &scope(ctx, LINK, &p.id), &l.id).await?;
    let record = part_envelope(&l, LINK);
    ctx.record(&mut tx, cdt_write(Operation::Delete, &l.id, &p, LINK, "ASSESSMENT", &record), now_ms).await?;
    tx.commit().await?;
    Ok(())
}
