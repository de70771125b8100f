//! CDT records of a patient: create, read, update (one record, or several at once), delete
//! and list, checked against the data type of the current formation and kept with the
//! formation version they were written with. Every write is audited as `CDT`.

use super::{
    apply_update, cdt_write, data_type, dictionary_values, insert_unique, matches_filter, new_body, record_not_found,
    scope, sort_records, stored, update_unique, COMPONENT,
};
use crate::app::AppState;
use crate::designer::data_type::{Cardinality, DataType, SYSTEM_FIELDS};
use crate::designer::Kind;
use crate::domain::patient::Patient;
use crate::domain::records::{self, DictionaryValues};
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::patients::{by_id as patient, lock as lock_patient};
use crate::services::scope::InstanceScope;
use crate::store::records::{self as store, DtKind, RecordKey, Scope, StoredRecord};
use serde_json::{json, Map, Value};

fn envelope(dt: &DataType, r: &StoredRecord) -> Value {
    records::envelope(&r.id, r.patient_id.as_deref(), &dt.id(&dt.relation_or("COMMON")), r.version, &r.body, &dt.name)
}

fn cdt_scope<'a>(ctx: &'a InstanceScope, cdt: &'a str, patient_id: &'a str) -> Scope<'a> {
    scope(ctx, DtKind::Cdt, cdt, Some(patient_id))
}

/// What a write needs before its transaction: the patient, the data type `cdt` of the
/// current formation with that formation's version, and the dictionaries the type uses.
async fn for_write(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    cdt: &str,
) -> ServiceResult<(Patient, DataType, i64, DictionaryValues)> {
    let patient = patient(state, ctx, patient_id).await?;
    let (dt, version) = data_type(state, ctx, Kind::Cdts, cdt).await?;
    let dictionaries = dictionary_values(state, ctx, &dt).await?;
    Ok((patient, dt, version, dictionaries))
}

/// Creates a record of `cdt` for the patient. A `SINGLE_RECORD` type takes one record per
/// patient.
pub async fn create(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    cdt: &str,
    input: &Map<String, Value>,
) -> ServiceResult<Value> {
    let (patient, dt, version, dictionaries) = for_write(state, ctx, patient_id, cdt).await?;
    let relation = dt.relation_or("COMMON");
    let now_ms = state.clock.now_ms();
    let id = crate::ids::record_id();
    let body = new_body(ctx, COMPONENT, &dt, &id, input, &[("cdtName", cdt)], &dictionaries, now_ms)?;
    let scope = cdt_scope(ctx, cdt, &patient.id);
    let mut tx = state.db.begin().await?;
    lock_patient(&mut tx, ctx, &patient.id).await?;
    if dt.cardinality == Cardinality::SingleRecord && store::count(&mut tx, &scope).await? > 0 {
        return Err(ServiceError::conflict(
            "DT_RECORD_ALREADY_EXISTS",
            COMPONENT,
            format!("{cdt} is a SINGLE_RECORD type and the patient already has its record"),
            json!({"patientId": patient.id, "cdtName": cdt}),
        ));
    }
    insert_unique(&mut tx, &scope, &id, version, &body, now_ms).await?;
    let record = envelope(&dt, &stored(&id, Some(&patient.id), cdt, version, now_ms, body));
    ctx.record(&mut tx, cdt_write(Operation::Create, &id, &patient, cdt, &relation, &record), now_ms).await?;
    tx.commit().await?;
    Ok(record)
}

/// The record of `cdt` that `key` names (its id or, as `kind` says, an external key).
pub async fn read(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    cdt: &str,
    kind: RecordKey,
    key: &str,
) -> ServiceResult<Value> {
    let patient = patient(state, ctx, patient_id).await?;
    let (dt, _) = data_type(state, ctx, Kind::Cdts, cdt).await?;
    let r = state
        .db
        .record(&cdt_scope(ctx, cdt, &patient.id), kind, key)
        .await?
        .ok_or_else(|| record_not_found(json!({})))?;
    Ok(envelope(&dt, &r))
}

/// Changes some fields of the record `id`.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    cdt: &str,
    id: &str,
    input: &Map<String, Value>,
) -> ServiceResult<Value> {
    let (patient, dt, _, dictionaries) = for_write(state, ctx, patient_id, cdt).await?;
    let relation = dt.relation_or("COMMON");
    let scope = cdt_scope(ctx, cdt, &patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut r =
        store::get_for_update(&mut tx, &scope, RecordKey::Id, id).await?.ok_or_else(|| record_not_found(json!({})))?;
    apply_update(ctx, COMPONENT, &dt, &mut r, input, &[("cdtName", cdt)], &dictionaries, now_ms)?;
    update_unique(&mut tx, &scope, id, &r.body, now_ms).await?;
    let record = envelope(&dt, &r);
    ctx.record(&mut tx, cdt_write(Operation::Update, id, &patient, cdt, &relation, &record), now_ms).await?;
    tx.commit().await?;
    Ok(record)
}

/// What became of one row of a bulk update.
pub struct BulkRow {
    pub id: String,
    /// The record's body after the change, or the row's `jsonBody` as sent when refused.
    pub json_body: Value,
    /// Why the row was refused; `None` when it was written.
    pub refused: Option<ServiceError>,
}

/// Updates several records at once from `{rows:[{id, jsonBody}]}`. Each row is written or
/// refused on its own; a failure of the server (not of a row) fails the whole request.
pub async fn bulk_update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    cdt: &str,
    input: &Map<String, Value>,
) -> ServiceResult<Vec<BulkRow>> {
    let rows = match input.get("rows") {
        Some(Value::Array(rows)) if input.len() == 1 => rows,
        _ => {
            return Err(ServiceError::invalid_field(
                COMPONENT,
                FieldError::new("rows", "must be the only key, a list of {id, jsonBody}"),
            ))
        }
    };
    let (patient, dt, _, dictionaries) = for_write(state, ctx, patient_id, cdt).await?;
    let relation = dt.relation_or("COMMON");
    let scope = cdt_scope(ctx, cdt, &patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut ids: Vec<String> =
        rows.iter().filter_map(|r| r.get("id").and_then(Value::as_str)).map(String::from).collect();
    ids.sort();
    ids.dedup();
    store::lock_all(&mut tx, &scope, &ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let id = row.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        store::savepoint_row(&mut tx).await?;
        let outcome: ServiceResult<Value> = async {
            let fields = row.get("jsonBody").and_then(Value::as_object).ok_or_else(|| {
                ServiceError::invalid_field(
                    COMPONENT,
                    FieldError::new(format!("rows[{i}].jsonBody"), "must be an object"),
                )
            })?;
            let mut r = store::get_for_update(&mut tx, &scope, RecordKey::Id, &id)
                .await?
                .ok_or_else(|| record_not_found(json!({"id": id})))?;
            apply_update(ctx, COMPONENT, &dt, &mut r, fields, &[("cdtName", cdt)], &dictionaries, now_ms)?;
            update_unique(&mut tx, &scope, &id, &r.body, now_ms).await?;
            let record = envelope(&dt, &r);
            ctx.record(&mut tx, cdt_write(Operation::Update, &id, &patient, cdt, &relation, &record), now_ms).await?;
            Ok(Value::Object(r.body))
        }
        .await;
        out.push(match outcome {
            Ok(body) => {
                store::release_row(&mut tx).await?;
                BulkRow { id, json_body: body, refused: None }
            }
            Err(e) if e.kind.is_server_error() => return Err(e),
            Err(e) => {
                // A refused row leaves nothing behind, and the rows after it can still be
                // written (on PostgreSQL a failed statement would abort the transaction).
                store::rollback_to_row(&mut tx).await?;
                let sent = row.get("jsonBody").cloned().unwrap_or(Value::Null);
                BulkRow { id, json_body: sent, refused: Some(e) }
            }
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// Deletes the record `id`.
pub async fn delete(state: &AppState, ctx: &InstanceScope, patient_id: &str, cdt: &str, id: &str) -> ServiceResult<()> {
    let patient = patient(state, ctx, patient_id).await?;
    let (dt, _) = data_type(state, ctx, Kind::Cdts, cdt).await?;
    let relation = dt.relation_or("COMMON");
    let scope = cdt_scope(ctx, cdt, &patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let r = store::get_for_update(&mut tx, &scope, RecordKey::Id, id)
        .await?
        .ok_or_else(|| record_not_found(json!({"patientId": patient.id, "cdtRecordId": id, "cdtName": cdt})))?;
    store::delete(&mut tx, &scope, id).await?;
    let record = envelope(&dt, &r);
    ctx.record(&mut tx, cdt_write(Operation::Delete, id, &patient, cdt, &relation, &record), now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Which of a patient's records a list shows, and how. The field names are checked
/// against the data type by the caller.
pub struct RecordQuery {
    /// `(field, descending)`, the first deciding.
    pub sorts: Vec<(String, bool)>,
    /// The fields to show (system fields always are); `None` shows all.
    pub projection: Option<Vec<String>>,
    /// `(field, values)`: the field has one of the values, or (`None`) any value.
    pub filters: Vec<(String, Option<Vec<String>>)>,
    /// Updated at or after / at or before, epoch milliseconds.
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// One page of the patient's records of `dt` that `q` selects, and how many it selects
/// in all.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    patient: &Patient,
    dt: &DataType,
    q: &RecordQuery,
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    let mut found = state.db.records(&cdt_scope(ctx, &dt.name, &patient.id), q.from, q.to).await?;
    found.retain(|r| q.filters.iter().all(|(field, values)| matches_filter(&r.body, field, values)));
    sort_records(&mut found, &q.sorts);
    let total = found.len() as i64;
    let content = found
        .into_iter()
        .skip(offset as usize)
        .take(size as usize)
        .map(|mut r| {
            if let Some(keep) = &q.projection {
                r.body.retain(|k, _| keep.contains(k) || SYSTEM_FIELDS.iter().any(|(s, _)| s == k));
            }
            envelope(dt, &r)
        })
        .collect();
    Ok((content, total))
}
