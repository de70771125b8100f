//! Document summaries: create (with a document type of the current formation), list, read,
//! update (type, external keys, the files to keep) and delete (with its files and its
//! document-type record). Audited as `DOCUMENT` (`DOCUMENT_CREATED`, `_UPDATED`,
//! `_DELETED`).

use super::{envelope, scope, summary_not_found, summary_write, type_record_id, COMPONENT};
use crate::app::AppState;
use crate::domain::document::{self, SUMMARY_CDT};
use crate::domain::patient::Patient;
use crate::domain::records;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::patients::by_id as patient;
use crate::services::records::{cdt_write, insert_unique, sort_records, stamp, stored, update_unique};
use crate::services::scope::InstanceScope;
use crate::store::documents as store;
use crate::store::records::{self as dt_store, RecordKey};
use serde_json::{json, Map, Value};

/// The current formation's document types and its version.
async fn document_types(state: &AppState, ctx: &InstanceScope) -> ServiceResult<(Vec<String>, i64)> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    let names = f.designer.document_types.iter().map(|d| d.name.clone()).collect();
    Ok((names, f.version))
}

/// Creates a summary for the patient: `{"type": "<document type>"}`.
pub async fn create(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    input: &Map<String, Value>,
) -> ServiceResult<Value> {
    let patient = patient(state, ctx, patient_id).await?;
    let (types, version) = document_types(state, ctx).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let id = crate::ids::record_id();
    let mut body = document::blank_summary(&id, &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    document::apply_summary(&mut body, input, true, &types).map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    let scope = scope(ctx, SUMMARY_CDT, &patient.id);
    let mut tx = state.db.begin().await?;
    insert_unique(&mut tx, &scope, &id, version, &body, now_ms).await?;
    let record = envelope(&stored(&id, Some(&patient.id), SUMMARY_CDT, version, now_ms, body));
    ctx.record(&mut tx, summary_write(Operation::Create, "DOCUMENT_CREATED", &id, &patient, &record), now_ms).await?;
    tx.commit().await?;
    Ok(record)
}

/// One page of the patient's summaries (only those with `source_id` `source`, when
/// given), sorted by `(field, descending)`, and how many there are.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    patient: &Patient,
    source: Option<&str>,
    sorts: &[(String, bool)],
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    let mut found = state.db.records(&scope(ctx, SUMMARY_CDT, &patient.id), None, None).await?;
    if let Some(source) = source {
        found.retain(|r| r.body.get("source_id").and_then(Value::as_str) == Some(source));
    }
    sort_records(&mut found, sorts);
    let total = found.len() as i64;
    Ok((found.iter().skip(offset as usize).take(size as usize).map(envelope).collect(), total))
}

/// The summary `key` names (its id or, as `kind` says, an external key).
pub async fn read(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    kind: RecordKey,
    key: &str,
) -> ServiceResult<Value> {
    let patient = patient(state, ctx, patient_id).await?;
    let r = state
        .db
        .record(&scope(ctx, SUMMARY_CDT, &patient.id), kind, key)
        .await?
        .ok_or_else(|| summary_not_found(&patient.id, key))?;
    Ok(envelope(&r))
}

/// Changes a summary: its `type` (while it has no document-type record), its external
/// keys, or the `files` to keep (the files left out are deleted).
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
    input: &Map<String, Value>,
) -> ServiceResult<Value> {
    let patient = patient(state, ctx, patient_id).await?;
    let (types, _) = document_types(state, ctx).await?;
    let scope = scope(ctx, SUMMARY_CDT, &patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut r = dt_store::get_for_update(&mut tx, &scope, RecordKey::Id, id)
        .await?
        .ok_or_else(|| summary_not_found(&patient.id, id))?;
    let old_type = r.body.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
    let dropped = document::apply_summary(&mut r.body, input, false, &types)
        .map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    let new_type = r.body.get("type").and_then(Value::as_str).unwrap_or_default();
    if new_type != old_type {
        let linked = type_record_id(id, &old_type);
        if dt_store::get_for_update(&mut tx, &super::scope(ctx, &old_type, &patient.id), RecordKey::Id, &linked)
            .await?
            .is_some()
        {
            return Err(ServiceError::conflict(
                "DT_RECORD_ALREADY_EXISTS",
                COMPONENT,
                format!("the summary has a {old_type} record; delete it before changing the type"),
                json!({"documentSummaryId": id, "cdtName": old_type, "cdtRecordId": linked}),
            ));
        }
    }
    stamp(ctx, &mut r.body, now_ms);
    r.updated_at = now_ms;
    update_unique(&mut tx, &scope, id, &r.body, now_ms).await?;
    let removed = store::delete_files(&mut tx, &ctx.instance.id, id, &dropped).await?;
    let record = envelope(&r);
    ctx.record(&mut tx, summary_write(Operation::Update, "DOCUMENT_UPDATED", id, &patient, &record), now_ms).await?;
    tx.commit().await?;
    state.files.delete_all(&removed).await;
    Ok(record)
}

/// Deletes a summary with its files and its document-type record.
pub async fn delete(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<()> {
    let patient = patient(state, ctx, patient_id).await?;
    let scope = scope(ctx, SUMMARY_CDT, &patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let r = dt_store::get_for_update(&mut tx, &scope, RecordKey::Id, id)
        .await?
        .ok_or_else(|| summary_not_found(&patient.id, id))?;
    let doc_type = r.body.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
    let type_scope = super::scope(ctx, &doc_type, &patient.id);
    let linked_id = type_record_id(id, &doc_type);
    if let Some(linked) = dt_store::get_for_update(&mut tx, &type_scope, RecordKey::Id, &linked_id).await? {
        dt_store::delete(&mut tx, &type_scope, &linked_id).await?;
        let cdt_id = crate::designer::data_type::stable_id(&format!("DOCUMENT_TYPE:{doc_type}"));
        let record = records::envelope(&linked.id, Some(&patient.id), &cdt_id, linked.version, &linked.body, &doc_type);
        ctx.record(
            &mut tx,
            cdt_write(Operation::Delete, &linked_id, &patient, &doc_type, "DOCUMENT_TYPE", &record),
            now_ms,
        )
        .await?;
    }
    let removed = store::delete_for_summary(&mut tx, &ctx.instance.id, id).await?;
    dt_store::delete(&mut tx, &scope, id).await?;
    let record = envelope(&r);
    ctx.record(&mut tx, summary_write(Operation::Delete, "DOCUMENT_DELETED", id, &patient, &record), now_ms).await?;
    tx.commit().await?;
    state.files.delete_all(&removed).await;
    Ok(())
}
