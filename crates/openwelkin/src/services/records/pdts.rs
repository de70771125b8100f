//! Profile data type (PDT) records: profiles that stand alone and a patient's profiles (at
//! most one record per patient and type), plus the patients that have one. Every write
//! is audited as `PDT`.

use super::{
    apply_update, data_type, dictionary_values, insert_unique, new_body, record_not_found, scope, stored, update_unique,
};
use crate::app::AppState;
use crate::designer::data_type::DataType;
use crate::designer::Kind;
use crate::domain::patient::Patient;
use crate::domain::records;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::patients::{by_id as patient, lock as lock_patient};
use crate::services::scope::{InstanceScope, Write};
use crate::store::query::SortColumn;
use crate::store::records::{self as store, DtKind, RecordKey, Scope, StoredRecord};
use serde_json::{json, Map, Value};

const COMPONENT: &str = "PDT";

/// A stored profile record as Welkin shows it.
pub fn render(dt: &DataType, r: &StoredRecord) -> Value {
    records::profile(dt, &r.id, r.created_at, r.updated_at, &r.body)
}

fn pdt_scope<'a>(ctx: &'a InstanceScope, pdt: &'a str, patient_id: Option<&'a str>) -> Scope<'a> {
    scope(ctx, DtKind::Pdt, pdt, patient_id)
}

/// The audit of a write to a profile of `pdt`.
fn write<'a>(
    operation: Operation,
    id: &'a str,
    patient: Option<&'a Patient>,
    pdt: &'a str,
    record: &'a Value,
) -> Write<'a> {
    Write { patient, cdt_name: Some(pdt), cdt_relation: Some("PROFILE"), ..Write::new("PDT", operation, id, record) }
}

async fn create_record(
    state: &AppState,
    ctx: &InstanceScope,
    pdt: &str,
    patient: Option<&Patient>,
    input: &Map<String, Value>,
) -> ServiceResult<Value> {
    let (dt, version) = data_type(state, ctx, Kind::Pdts, pdt).await?;
    let dictionaries = dictionary_values(state, ctx, &dt).await?;
    let now_ms = state.clock.now_ms();
    let id = crate::ids::record_id();
    let body = new_body(ctx, COMPONENT, &dt, &id, input, &[("pdtName", pdt)], &dictionaries, now_ms)?;
    let patient_id = patient.map(|p| p.id.as_str());
    let scope = pdt_scope(ctx, pdt, patient_id);
    let mut tx = state.db.begin().await?;
    if let Some(p) = patient {
        // One profile per patient and type: checked with the patient locked.
        lock_patient(&mut tx, ctx, &p.id).await?;
    }
    if patient.is_some() && store::count(&mut tx, &scope).await? > 0 {
        return Err(ServiceError::conflict(
            "DT_RECORD_ALREADY_EXISTS",
            COMPONENT,
            format!("the patient already has a {pdt} profile; update it instead"),
            json!({"pdtName": pdt}),
        ));
    }
    insert_unique(&mut tx, &scope, &id, version, &body, now_ms).await?;
    let record = render(&dt, &stored(&id, patient_id, pdt, version, now_ms, body));
    ctx.record(&mut tx, write(Operation::Create, &id, patient, pdt, &record), now_ms).await?;
    tx.commit().await?;
    Ok(record)
}

/// Creates a profile record of `pdt` that belongs to no patient.
pub async fn create_profile(
    state: &AppState,
    ctx: &InstanceScope,
    pdt: &str,
    input: &Map<String, Value>,
) -> ServiceResult<Value> {
    create_record(state, ctx, pdt, None, input).await
}

/// Creates the patient's profile of `pdt` (at most one per patient and type).
pub async fn create_for_patient(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    pdt: &str,
    input: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    create_record(state, ctx, pdt, Some(&p), input).await
}

/// A profile of `dt`, whoever it belongs to, by id or (as `kind` says) external key.
pub async fn read_profile(
    state: &AppState,
    ctx: &InstanceScope,
    dt: &DataType,
    kind: RecordKey,
    key: &str,
) -> ServiceResult<Value> {
    let scope = Scope { patient_id: None, ..pdt_scope(ctx, &dt.name, None) };
    let r = state.db.record(&scope, kind, key).await?.ok_or_else(|| record_not_found(json!({"id": key})))?;
    Ok(render(dt, &r))
}

/// What a list of profiles answers: one page of records, how many there are in all, and
/// when the latest of them changed.
pub struct Profiles {
    pub data: Vec<Value>,
    pub total: i64,
    pub last_updated_at: Option<String>,
}

/// One page of the records of `dt` updated between `from` and `to` (epoch ms): of the
/// patient, with `patient_id` given, or else of every owner.
#[allow(clippy::too_many_arguments)]
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    dt: &DataType,
    patient_id: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
    offset: i64,
    size: i64,
) -> ServiceResult<Profiles> {
    let scope = Scope { patient_id: patient_id.map(Some), ..pdt_scope(ctx, &dt.name, None) };
    let found = state.db.records(&scope, from, to).await?;
    let last_updated_at = found.iter().map(|r| r.updated_at).max().map(crate::time::format_ms);
    let total = found.len() as i64;
    let data = found.iter().skip(offset as usize).take(size as usize).map(|r| render(dt, r)).collect();
    Ok(Profiles { data, total, last_updated_at })
}

/// One page of the patients that have a record of `pdt`, and how many there are.
pub async fn patients_with(
    state: &AppState,
    ctx: &InstanceScope,
    pdt: &str,
    sorts: &[SortColumn],
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Patient>, i64)> {
    let ids = state.db.patients_with_records(&ctx.instance.id, DtKind::Pdt, pdt).await?;
    let filter = crate::store::patients::PatientFilter { ids: Some(ids), ..Default::default() };
    Ok(state.db.patients(&ctx.instance.id, &filter, sorts, offset, size).await?)
}

/// The patient's profile record `id` of `pdt`.
pub async fn read_for_patient(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    pdt: &str,
    id: &str,
) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    let (dt, _) = data_type(state, ctx, Kind::Pdts, pdt).await?;
    let r = state
        .db
        .record(&pdt_scope(ctx, pdt, Some(&p.id)), RecordKey::Id, id)
        .await?
        .ok_or_else(|| record_not_found(json!({"id": id})))?;
    Ok(render(&dt, &r))
}

/// Changes some fields of the patient's profile record `id` of `pdt`.
pub async fn update_for_patient(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    pdt: &str,
    id: &str,
    input: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    let (dt, _) = data_type(state, ctx, Kind::Pdts, pdt).await?;
    let dictionaries = dictionary_values(state, ctx, &dt).await?;
    let scope = pdt_scope(ctx, pdt, Some(&p.id));
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut r = store::get_for_update(&mut tx, &scope, RecordKey::Id, id)
        .await?
        .ok_or_else(|| record_not_found(json!({"id": id})))?;
    apply_update(ctx, COMPONENT, &dt, &mut r, input, &[("pdtName", pdt)], &dictionaries, now_ms)?;
    update_unique(&mut tx, &scope, id, &r.body, now_ms).await?;
    let record = render(&dt, &r);
    ctx.record(&mut tx, write(Operation::Update, id, Some(&p), pdt, &record), now_ms).await?;
    tx.commit().await?;
    Ok(record)
}

/// Deletes the patient's profile record `id` of `pdt`.
pub async fn delete_for_patient(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    pdt: &str,
    id: &str,
) -> ServiceResult<()> {
    let p = patient(state, ctx, patient_id).await?;
    let (dt, _) = data_type(state, ctx, Kind::Pdts, pdt).await?;
    let scope = pdt_scope(ctx, pdt, Some(&p.id));
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let r = store::get_for_update(&mut tx, &scope, RecordKey::Id, id)
        .await?
        .ok_or_else(|| record_not_found(json!({"id": id})))?;
    store::delete(&mut tx, &scope, &r.id).await?;
    ctx.record(&mut tx, write(Operation::Delete, &r.id, Some(&p), pdt, &render(&dt, &r)), now_ms).await?;
    tx.commit().await?;
    Ok(())
}
