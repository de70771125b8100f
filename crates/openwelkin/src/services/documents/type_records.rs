//! The document-type record of a summary: a record of the data type its `type` names (of
//! the current formation's document types), one per summary. Read, create, update and
//! delete; audited as `CDT` writes of that type.

use super::{scope, summary_not_found, type_envelope, type_record_id, COMPONENT};
use crate::app::AppState;
use crate::designer::data_type::DataType;
use crate::designer::Kind;
use crate::domain::document::{SOURCE, SUMMARY_CDT};
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::patients::by_id as patient;
use crate::services::records::{
    apply_update, cdt_write, data_type, dictionary_values, insert_unique, new_body, record_not_found, stored,
    update_unique,
};
use crate::services::scope::InstanceScope;
use crate::store::records::{self as dt_store, RecordKey, StoredRecord};
use crate::store::Tx;
use serde_json::{json, Map, Value};

/// The summary a document-type record hangs off, and the record's scope key.
struct Target {
    patient: Patient,
    dt: DataType,
    version: i64,
    summary_id: String,
    record_id: String,
}

/// The patient, the document type and the record id that a path names.
async fn target(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    summary_id: &str,
    type_name: &str,
) -> ServiceResult<Target> {
    let patient = patient(state, ctx, patient_id).await?;
    let (dt, version) = data_type(state, ctx, Kind::DocumentTypes, type_name).await?;
    let record_id = type_record_id(summary_id, &dt.name);
    Ok(Target { patient, dt, version, summary_id: summary_id.into(), record_id })
}

impl Target {
    fn not_found(&self) -> ServiceError {
        record_not_found(
            json!({"patientId": self.patient.id, "documentSummaryId": self.summary_id, "cdtName": self.dt.name}),
        )
    }

    fn summary_not_found(&self) -> ServiceError {
        summary_not_found(&self.patient.id, &self.summary_id)
    }

    /// Inside a write: the summary's row locked, and its type checked to be the record's.
    async fn lock_summary_of_type(&self, tx: &mut Tx, ctx: &InstanceScope) -> ServiceResult<()> {
        let s =
            dt_store::get_for_update(tx, &scope(ctx, SUMMARY_CDT, &self.patient.id), RecordKey::Id, &self.summary_id)
                .await?
                .ok_or_else(|| self.summary_not_found())?;
        let doc_type = s.body.get("type").and_then(Value::as_str).unwrap_or_default();
        if doc_type != self.dt.name {
            return Err(ServiceError::invalid_field(
                COMPONENT,
                FieldError::new(
                    "documentTypeName",
                    format!("the summary's type is {doc_type:?}, not {:?}", self.dt.name),
                ),
            ));
        }
        Ok(())
    }
}

/// The document-type record of the summary.
pub async fn read(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    summary_id: &str,
    type_name: &str,
) -> ServiceResult<Value> {
    let t = target(state, ctx, patient_id, summary_id, type_name).await?;
    if state.db.record(&scope(ctx, SUMMARY_CDT, &t.patient.id), RecordKey::Id, summary_id).await?.is_none() {
        return Err(t.summary_not_found());
    }
    let r = state
        .db
        .record(&scope(ctx, &t.dt.name, &t.patient.id), RecordKey::Id, &t.record_id)
        .await?
        .ok_or_else(|| t.not_found())?;
    Ok(type_envelope(&t.dt, &r))
}

/// Creates the summary's document-type record (of the summary's type) from field values
/// by name.
pub async fn create(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    summary_id: &str,
    type_name: &str,
    input: &Map<String, Value>,
) -> ServiceResult<Value> {
    let t = target(state, ctx, patient_id, summary_id, type_name).await?;
    let dictionaries = dictionary_values(state, ctx, &t.dt).await?;
    let now_ms = state.clock.now_ms();
    let fixed = [("cdtName", t.dt.name.as_str())];
    let mut body = new_body(ctx, COMPONENT, &t.dt, &t.record_id, input, &fixed, &dictionaries, now_ms)?;
    for (key, value) in [("source_type", SOURCE), ("source_name", SOURCE), ("source_id", summary_id)] {
        body.insert(key.into(), json!(value));
    }
    let scope = scope(ctx, &t.dt.name, &t.patient.id);
    let mut tx = state.db.begin().await?;
    t.lock_summary_of_type(&mut tx, ctx).await?;
    if dt_store::get_for_update(&mut tx, &scope, RecordKey::Id, &t.record_id).await?.is_some() {
        return Err(ServiceError::conflict(
            "DT_RECORD_ALREADY_EXISTS",
            COMPONENT,
            format!("the summary already has its {} record", t.dt.name),
            json!({"documentSummaryId": summary_id, "cdtName": t.dt.name, "cdtRecordId": t.record_id}),
        ));
    }
    insert_unique(&mut tx, &scope, &t.record_id, t.version, &body, now_ms).await?;
    let record = type_envelope(&t.dt, &stored(&t.record_id, Some(&t.patient.id), &t.dt.name, t.version, now_ms, body));
    ctx.record(
        &mut tx,
        cdt_write(Operation::Create, &t.record_id, &t.patient, &t.dt.name, &t.dt.relation_or("DOCUMENT_TYPE"), &record),
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// Changes some fields of the summary's document-type record.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    summary_id: &str,
    type_name: &str,
    input: &Map<String, Value>,
) -> ServiceResult<Value> {
    let t = target(state, ctx, patient_id, summary_id, type_name).await?;
    let dictionaries = dictionary_values(state, ctx, &t.dt).await?;
    let scope = scope(ctx, &t.dt.name, &t.patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    t.lock_summary_of_type(&mut tx, ctx).await?;
    let mut r: StoredRecord =
        dt_store::get_for_update(&mut tx, &scope, RecordKey::Id, &t.record_id).await?.ok_or_else(|| t.not_found())?;
    let fixed = [("cdtName", t.dt.name.as_str())];
    apply_update(ctx, COMPONENT, &t.dt, &mut r, input, &fixed, &dictionaries, now_ms)?;
    update_unique(&mut tx, &scope, &t.record_id, &r.body, now_ms).await?;
    let record = type_envelope(&t.dt, &r);
    ctx.record(
        &mut tx,
        cdt_write(Operation::Update, &t.record_id, &t.patient, &t.dt.name, &t.dt.relation_or("DOCUMENT_TYPE"), &record),
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// Deletes the summary's document-type record.
pub async fn delete(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    summary_id: &str,
    type_name: &str,
) -> ServiceResult<()> {
    let t = target(state, ctx, patient_id, summary_id, type_name).await?;
    let scope = scope(ctx, &t.dt.name, &t.patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let summary_scope = super::scope(ctx, SUMMARY_CDT, &t.patient.id);
    if dt_store::get_for_update(&mut tx, &summary_scope, RecordKey::Id, summary_id).await?.is_none() {
        return Err(t.summary_not_found());
    }
    let r =
        dt_store::get_for_update(&mut tx, &scope, RecordKey::Id, &t.record_id).await?.ok_or_else(|| t.not_found())?;
    dt_store::delete(&mut tx, &scope, &t.record_id).await?;
    let record = type_envelope(&t.dt, &r);
    ctx.record(
        &mut tx,
        cdt_write(Operation::Delete, &t.record_id, &t.patient, &t.dt.name, &t.dt.relation_or("DOCUMENT_TYPE"), &record),
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
