//! Email drafts of a patient: create one (with files), list and read them, edit one (its
//! keys change, new files are added), delete one with its files, and send one: it
//! becomes an email (sent now, or scheduled when its `scheduledAt` is later) with its
//! files, and the draft is gone. Writes are audited as `EMAIL_DRAFT`.

use super::files::{self, Upload, FILE_PART};
use super::{create_outbound, invalid, outbound_parties, outbound_record, COMPONENT};
use crate::app::AppState;
use crate::domain::email;
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::patients;
use crate::services::scope::{InstanceScope, Write};
use crate::store::emails::{self as store, Attachment};
use serde_json::{json, Map, Value};

/// Keys of a draft body.
const DRAFT_KEYS: &[&str] = &["subject", "body", "receiver", "secure", "scheduledAt", "sender"];

fn not_found(patient_id: &str, id: &str) -> ServiceError {
    ServiceError::not_found(
        "EMAIL_DRAFT_NOT_FOUND",
        COMPONENT,
        "Email draft is not found",
        json!({"patientId": patient_id, "id": id}),
    )
}

/// The patient of the path and a draft body, checked: its files (all sent as
/// `attachmentsAsFiles` parts), its keys, and its sender, which must be a user.
async fn checked(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    fields: &Map<String, Value>,
    uploads: Vec<Upload>,
) -> ServiceResult<(Patient, Vec<Attachment>, email::Compose)> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    let files = files::only_in(uploads, FILE_PART)?;
    let c = email::parse_compose(fields, DRAFT_KEYS).map_err(invalid)?;
    if c.receiver.as_deref().is_some_and(|r| r != p.id) {
        return Err(invalid(FieldError::new("receiver", "must be the patient of the path")));
    }
    if let Some(id) = &c.sender {
        if state.db.user(&ctx.tenant.id, id, true).await?.is_none() {
            return Err(invalid(FieldError::new("sender", format!("there is no user {id}"))));
        }
    }
    Ok((p, files, c))
}

/// Creates a draft for the patient `patient_id` from a body and its uploaded files.
pub async fn create(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    fields: &Map<String, Value>,
    uploads: Vec<Upload>,
) -> ServiceResult<Value> {
    let (p, files, c) = checked(state, ctx, patient_id, fields, uploads).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let id = crate::ids::record_id();
    let mut draft = email::blank_draft(&id, &p.id, &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    draft["to"] = json!(p.email);
    email::apply_draft(&mut draft, &c);
    let mut tx = state.db.begin().await?;
    draft["attachments"] = files::save(&mut tx, ctx, &id, &files, &Value::Null, now_ms).await?;
    draft["hasAttachment"] = json!(!draft["attachments"].is_null());
    store::insert_draft(&mut tx, &ctx.tenant.id, &ctx.instance.id, &draft, now_ms).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("EMAIL_DRAFT", Operation::Create, &id, &draft) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(draft)
}

/// One page of `p`'s unsent drafts, and how many there are.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    p: &Patient,
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    Ok(state.db.email_drafts(&ctx.instance.id, &p.id, offset, size).await?)
}

/// The draft `id` of the patient `patient_id`.
pub async fn read(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    state.db.email_draft(&ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found(&p.id, id))
}

/// Edits the patient's draft `id`: the keys given change; the uploaded files are added to
/// its attachments.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
    fields: &Map<String, Value>,
    uploads: Vec<Upload>,
) -> ServiceResult<Value> {
    let (p, files, c) = checked(state, ctx, patient_id, fields, uploads).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut draft =
        store::draft_for_update(&mut tx, &ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found(&p.id, id))?;
    email::apply_draft(&mut draft, &c);
    let existing = draft["attachments"].clone();
    draft["attachments"] = files::save(&mut tx, ctx, id, &files, &existing, now_ms).await?;
    draft["hasAttachment"] = json!(!draft["attachments"].is_null());
    draft["updatedAt"] = json!(crate::time::format_ms(now_ms));
    draft["updatedBy"] = json!(actor.id);
    draft["updatedByName"] = json!(actor.full_name());
    store::update_draft(&mut tx, &ctx.instance.id, &draft, now_ms).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("EMAIL_DRAFT", Operation::Update, id, &draft) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(draft)
}

/// Deletes the patient's draft `id` and its files.
pub async fn delete(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<()> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let draft =
        store::draft_for_update(&mut tx, &ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found(&p.id, id))?;
    store::delete_draft(&mut tx, &ctx.instance.id, id).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("EMAIL_DRAFT", Operation::Delete, id, &draft) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends the patient's draft `id`: answers the new email. The sender is the draft's,
/// else the patient's point of contact.
pub async fn send(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // Read (and locked) inside the write: of two sends at once, or a send and a delete,
    // the first wins and the other finds no draft (404); an edit made meanwhile is sent.
    let draft =
        store::draft_for_update(&mut tx, &ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found(&p.id, id))?;
    let c = email::compose_of_draft(&draft).map_err(invalid)?;
    let parties = outbound_parties(state, ctx, &p, c.sender.as_deref()).await?;
    let email_id = crate::ids::new_id();
    store::move_attachments(&mut tx, &ctx.instance.id, id, &email_id).await?;
    let row = create_outbound(
        state,
        &mut tx,
        ctx,
        &p,
        outbound_record(&parties, &c, &email_id, draft["attachments"].clone(), now_ms),
        now_ms,
    )
    .await?;
    store::delete_draft(&mut tx, &ctx.instance.id, id).await?;
    let sent = Write {
        patient: Some(&p),
        subtype: Some("EMAIL_DRAFT_SENT"),
        ..Write::new("EMAIL_DRAFT", Operation::Delete, id, &draft)
    };
    ctx.record(&mut tx, sent, now_ms).await?;
    tx.commit().await?;
    if row.record["status"] == "ACCEPTED" {
        state.email.dispatch_soon(&state.db, &state.clock, &email_id).await;
    }
    Ok(row.record)
}
