//! A patient's emails: send one (now or scheduled, with files), read one, update one by
//! its status (V8 rules), delete one while scheduled or unrecognised, and read an
//! attachment. Lists are `emails::list`.

use super::files::{self, Upload, FILE_PART};
use super::{
    change, check_deletable, check_receiver, create_outbound, invalid, not_found, outbound_parties, outbound_record,
};
use crate::app::AppState;
use crate::domain::email::{self, COMPOSE_KEYS};
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::error::ServiceResult;
use crate::services::patients;
use crate::services::scope::{InstanceScope, Write};
use crate::store::emails::{self as store, Attachment, EmailRow};
use serde_json::{Map, Value};

/// Sends an email to the patient `patient_id`, now or at `scheduledAt` (status
/// `ACCEPTED` or `SCHEDULED`), with the files uploaded as `attachmentsAsFiles` parts.
pub async fn send(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    fields: &Map<String, Value>,
    uploads: Vec<Upload>,
) -> ServiceResult<Value> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    let files = files::only_in(uploads, FILE_PART)?;
    let c = email::parse_compose(fields, COMPOSE_KEYS).map_err(invalid)?;
    for (key, missing) in [("subject", c.subject.is_none()), ("body", c.body.is_none())] {
        if missing {
            return Err(invalid(FieldError::new(key, "is required")));
        }
    }
    check_receiver(&c, &p.id)?;
    let parties = outbound_parties(state, ctx, &p, c.sender.as_deref()).await?;
    let now_ms = state.clock.now_ms();
    let id = crate::ids::record_id();
    let mut tx = state.db.begin().await?;
    let attachments = files::save(&mut tx, ctx, &id, &files, &Value::Null, now_ms).await?;
    let record = outbound_record(&parties, &c, &id, attachments, now_ms);
    let row = create_outbound(state, &mut tx, ctx, &p, record, now_ms).await?;
    tx.commit().await?;
    if row.record["status"] == "ACCEPTED" {
        state.email.dispatch_soon(&state.db, &state.clock, &id).await;
    }
    Ok(row.record)
}

async fn patient_email(state: &AppState, ctx: &InstanceScope, p: &Patient, id: &str) -> ServiceResult<EmailRow> {
    state
        .db
        .email(&ctx.instance.id, id)
        .await?
        .filter(|r| r.patient_id.as_deref() == Some(p.id.as_str()))
        .ok_or_else(|| not_found(Some(&p.id), id))
}

/// The email `id` of the patient `patient_id`.
pub async fn read(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    Ok(patient_email(state, ctx, &p, id).await?.record)
}

/// Applies an update body to the patient's email `id`: once sent only `starred`; a
/// received one `starred` and `sender` (the patient it belongs to); a scheduled one
/// everything a send has. A scheduled email that becomes due is handed to delivery.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = store::get_for_update(&mut tx, &ctx.instance.id, id)
        .await?
        .filter(|r| r.patient_id.as_deref() == Some(p.id.as_str()))
        .ok_or_else(|| not_found(Some(&p.id), id))?;
    let (owner, due) = change(state, ctx, &mut row, Some(p), body, now_ms).await?;
    store::update(&mut tx, &row, now_ms).await?;
    let write = Write { patient: owner.as_ref(), ..Write::new("EMAIL", Operation::Update, id, &row.record) };
    ctx.record(&mut tx, write, now_ms).await?;
    tx.commit().await?;
    if due {
        state.email.dispatch_soon(&state.db, &state.clock, id).await;
    }
    Ok(row.record)
}

/// Deletes the patient's email `id` if it is scheduled (not yet sent) or unrecognised.
pub async fn delete(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<()> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let row = store::get_for_update(&mut tx, &ctx.instance.id, id)
        .await?
        .filter(|r| r.patient_id.as_deref() == Some(p.id.as_str()))
        .ok_or_else(|| not_found(Some(&p.id), id))?;
    check_deletable(&row)?;
    store::delete(&mut tx, &ctx.instance.id, id).await?;
    ctx.record(&mut tx, Write { patient: Some(&p), ..Write::new("EMAIL", Operation::Delete, id, &row.record) }, now_ms)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// An attachment of the patient's email `id`: the first, or the one named `wanted`.
pub async fn attachment(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
    wanted: Option<&str>,
) -> ServiceResult<Attachment> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    let row = patient_email(state, ctx, &p, id).await?;
    files::attachment(state, ctx, row.record["id"].as_str().unwrap_or_default(), wanted).await
}
