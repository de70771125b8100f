//! Comments on an encounter: list, read, add, change and delete. Audited as
//! `ENCOUNTER_COMMENT`. Every write locks the encounter's row first, so that a comment
//! never outlives a concurrent delete of the encounter.

use super::{encounter, encounter_for_update, patient, COMPONENT};
use crate::app::AppState;
use crate::domain::fields;
use crate::domain::patient::Patient;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::scope::{InstanceScope, Write};
use crate::store::encounters as store;
use serde_json::{json, Map, Value};

fn text_of(body: &Map<String, Value>) -> ServiceResult<String> {
    fields::reject_unknown(body, &["text"], &["id", "encounterId", "createdAt", "updatedAt"])
        .map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    fields::text("text", body.get("text").unwrap_or(&Value::Null))
        .map_err(|e| ServiceError::invalid_field(COMPONENT, e))
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("ENCOUNTER_COMMENT_NOT_FOUND", COMPONENT, "Encounter comment not found", json!({"id": id}))
}

/// The audit of a write to a comment.
fn write<'a>(operation: Operation, p: &'a Patient, id: &'a str, comment: &'a Value) -> Write<'a> {
    Write { patient: Some(p), ..Write::new("ENCOUNTER_COMMENT", operation, id, comment) }
}

/// The comments of the encounter.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    encounter_id: &str,
) -> ServiceResult<Vec<Value>> {
    let (_, e) = encounter(state, ctx, patient_id, encounter_id).await?;
    Ok(state.db.encounter_comments(&ctx.instance.id, &e.id).await?)
}

/// The comment `id` of the encounter.
pub async fn read(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    encounter_id: &str,
    id: &str,
) -> ServiceResult<Value> {
    let (_, e) = encounter(state, ctx, patient_id, encounter_id).await?;
    let all = state.db.encounter_comments(&ctx.instance.id, &e.id).await?;
    all.into_iter().find(|c| c["id"] == id).ok_or_else(|| not_found(id))
}

/// Adds a comment (`{text}`) written by the caller.
pub async fn add(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    encounter_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let text = text_of(body)?;
    let p = patient(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let actor = ctx.actor();
    let mut tx = state.db.begin().await?;
    // Locked so that the comment never outlives a concurrent delete of the encounter.
    let e = encounter_for_update(&mut tx, ctx, &p, encounter_id).await?;
    let c = json!({"id": crate::ids::record_id(), "createdAt": now, "updatedAt": now, "createdBy": actor.id, "updatedBy": actor.id,
                   "createdByName": actor.full_name(), "updatedByName": actor.full_name(), "encounterId": e.id, "text": text});
    store::insert_comment(&mut tx, &ctx.instance.id, &c, now_ms).await?;
    let id = c["id"].as_str().unwrap_or_default();
    ctx.record(&mut tx, write(Operation::Create, &p, id, &c), now_ms).await?;
    tx.commit().await?;
    Ok(c)
}

/// Changes the text of the comment `id` (`{text}`).
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    encounter_id: &str,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let text = text_of(body)?;
    let p = patient(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let actor = ctx.actor();
    let mut tx = state.db.begin().await?;
    let e = encounter_for_update(&mut tx, ctx, &p, encounter_id).await?;
    let mut c = store::comment_for_update(&mut tx, &ctx.instance.id, &e.id, id).await?.ok_or_else(|| not_found(id))?;
    c["text"] = json!(text);
    c["updatedAt"] = json!(crate::time::format_ms(now_ms));
    c["updatedBy"] = json!(actor.id);
    c["updatedByName"] = json!(actor.full_name());
    store::update_comment(&mut tx, &ctx.instance.id, &c).await?;
    ctx.record(&mut tx, write(Operation::Update, &p, id, &c), now_ms).await?;
    tx.commit().await?;
    Ok(c)
}

/// Deletes the comment `id`.
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
    let c = store::comment_for_update(&mut tx, &ctx.instance.id, &e.id, id).await?.ok_or_else(|| not_found(id))?;
    store::delete_comment(&mut tx, &ctx.instance.id, id).await?;
    ctx.record(&mut tx, write(Operation::Delete, &p, id, &c), now_ms).await?;
    tx.commit().await?;
    Ok(())
}
