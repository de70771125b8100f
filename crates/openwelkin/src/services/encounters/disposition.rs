//! The disposition of an encounter (its `__encounter_disposition__` record, checked
//! against the formation's disposition data type): read and update. An update locks the
//! encounter's row first and reads the disposition after that lock, so two updates both
//! keep their fields and none lands on an encounter a concurrent FINALIZE has closed.

use super::{encounter, encounter_for_update, open, part_envelope, patient, scope};
use crate::app::AppState;
use crate::domain::encounter::DISPOSITION;
use crate::events::audit::Operation;
use crate::services::error::ServiceResult;
use crate::services::records::{apply_update, cdt_write, dictionary_values, record_not_found};
use crate::services::scope::InstanceScope;
use crate::store::records::{self as dt, RecordKey};
use serde_json::{json, Map, Value};

/// The disposition of the encounter.
pub async fn read(state: &AppState, ctx: &InstanceScope, patient_id: &str, encounter_id: &str) -> ServiceResult<Value> {
    let (_, e) = encounter(state, ctx, patient_id, encounter_id).await?;
    let id = e.body.get("dispositionId").and_then(Value::as_str).unwrap_or_default();
    let d = state
        .db
        .record(&scope(ctx, DISPOSITION, &e.patient_id), RecordKey::Id, id)
        .await?
        .ok_or_else(|| record_not_found(json!({})))?;
    Ok(part_envelope(&d, DISPOSITION))
}

/// Changes the disposition's fields (field values by name).
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    encounter_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    // What the check needs from the formation, before the transaction: it does not
    // depend on the disposition.
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    let dtype = formation.designer.disposition();
    let dictionaries = dictionary_values(state, ctx, &dtype).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let e = encounter_for_update(&mut tx, ctx, &p, encounter_id).await?;
    open(&e)?;
    let disposition_id = e.body.get("dispositionId").and_then(Value::as_str).unwrap_or_default();
    let mut d = dt::get_for_update(&mut tx, &scope(ctx, DISPOSITION, &p.id), RecordKey::Id, disposition_id)
        .await?
        .ok_or_else(|| record_not_found(json!({})))?;
    apply_update(ctx, "CDT", &dtype, &mut d, body, &[], &dictionaries, now_ms)?;
    dt::update(&mut tx, &scope(ctx, DISPOSITION, &p.id), &d.id, &d.body, now_ms).await?;
    let record = part_envelope(&d, DISPOSITION);
    ctx.record(&mut tx, cdt_write(Operation::Update, &d.id, &p, DISPOSITION, "ENCOUNTER_DISPOSITION", &record), now_ms)
        .await?;
    tx.commit().await?;
    Ok(record)
}
