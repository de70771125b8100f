//! Received emails and the unmatched ones. A received email from a patient's address
//! becomes that patient's (direction IN, DELIVERED); otherwise it is unmatched
//! (UNRECOGNISED, no patient). At the V8 paths the unmatched emails not yet assigned are
//! read, assigned (`{"sender"}`) or starred, deleted; at the docs site's paths every
//! email that arrived unmatched is listed and read in the docs site's form, resolved with
//! `{patientId, status: "RESOLVED"}`, and its attachment read. Also what the local
//! outbox provider delivered.

use super::files::{self, Upload, MAX_FILES};
use super::{assign, change, check_deletable, external_id, invalid, not_found};
use crate::app::AppState;
use crate::domain::email::{self, Parties};
use crate::domain::{fields, FieldError};
use crate::events::audit::Operation;
use crate::services::error::ServiceResult;
use crate::services::scope::{InstanceScope, Write};
use crate::store::emails::{self as store, Attachment, EmailFilter, EmailRow, Scope};
use crate::store::patients::PatientKey;
use crate::store::query::SortColumn;
use serde_json::{json, Map, Value};

fn first_text(fields: &Map<String, Value>, keys: &[&str]) -> Option<(String, String)> {
    keys.iter().find_map(|k| fields.get(*k).map(|v| (k.to_string(), v.as_str().unwrap_or_default().to_string())))
}

/// Stores a received email: `from` (required), `to`, `subject`, `body`; Mailgun's
/// `sender`, `recipient`, `body-plain` are read too, other keys are ignored (provider
/// payloads carry many). Uploads of any part name become attachments.
pub async fn receive(
    state: &AppState,
    ctx: &InstanceScope,
    f: &Map<String, Value>,
    uploads: Vec<Upload>,
) -> ServiceResult<Value> {
    let (from_key, from) =
        first_text(f, &["from", "sender"]).ok_or_else(|| invalid(FieldError::new("from", "is required")))?;
    let from = fields::opt_email(&from_key, &json!(from))
        .map_err(invalid)?
        .ok_or_else(|| invalid(FieldError::new(from_key.clone(), "is required")))?;
    let to = match first_text(f, &["to", "recipient"]) {
        Some((key, to)) => fields::opt_email(&key, &json!(to)).map_err(invalid)?.unwrap_or_default(),
        None => String::new(),
    };
    let subject = first_text(f, &["subject"]).map(|(_, s)| s).unwrap_or_default();
    let body = first_text(f, &["body", "body-plain", "text"]).map(|(_, s)| s).unwrap_or_default();
    if subject.len() > fields::MAX_TEXT {
        return Err(invalid(FieldError::new("subject", format!("must be at most {} characters", fields::MAX_TEXT))));
    }
    if body.len() > email::MAX_BODY {
        return Err(invalid(FieldError::new("body", format!("must be at most {} bytes", email::MAX_BODY))));
    }
    let files: Vec<_> = uploads.into_iter().map(|u| u.file).collect();
    if files.len() > MAX_FILES {
        return Err(invalid(FieldError::new("attachments", format!("at most {MAX_FILES} files"))));
    }

    // A sender matches when exactly one patient of the instance has that address.
    let ids = state.db.patient_ids_by_email(&ctx.instance.id, &from).await?;
    let patient = match ids.as_slice() {
        [only] => state.db.patient(&ctx.instance.id, PatientKey::Id, only).await?,
        _ => None,
    };
    let user = if to.is_empty() { None } else { state.db.user_by_email(&ctx.tenant.id, &to).await? };
    let parties = Parties {
        sender: patient.as_ref().map(|p| p.id.clone()),
        sender_name: patient.as_ref().map(|p| p.full_name()),
        from: from.clone(),
        receiver: user.as_ref().map(|u| u.0.clone()),
        receiver_name: user.as_ref().map(|u| u.1.clone()),
        to,
        care_team: user.as_ref().map(|u| u.1.clone()),
        patient_info: patient.as_ref().map(|p| p.full_name()),
        timezone: patient.as_ref().and_then(|p| p.timezone.clone()),
    };
    let now_ms = state.clock.now_ms();
    let id = crate::ids::record_id();
    let mut record = email::inbound(&id, &parties, &subject, &body, &external_id(false, &from, now_ms), now_ms);
    let mut tx = state.db.begin().await?;
    record["attachments"] = files::save(&mut tx, ctx, &id, &files, &Value::Null, now_ms).await?;
    let row = EmailRow {
        record,
        tenant_id: ctx.tenant.id.clone(),
        instance_id: ctx.instance.id.clone(),
        patient_id: patient.as_ref().map(|p| p.id.clone()),
        unmatched: patient.is_none(),
        resolved_by: None,
        dispatch_at: None,
        dispatch_key: None,
        attempts: 0,
    };
    store::insert(&mut tx, &row, now_ms).await?;
    ctx.record(
        &mut tx,
        Write { patient: patient.as_ref(), ..Write::new("EMAIL", Operation::Create, &id, &row.record) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(row.record)
}

// ---------------------------------------------------------------------------------------
// V8 paths: unmatched emails not yet assigned
// ---------------------------------------------------------------------------------------

/// One unmatched inbound email not yet assigned.
pub async fn read_unrecognized(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<Value> {
    let row = state.db.email(&ctx.instance.id, id).await?.filter(|r| r.patient_id.is_none());
    Ok(row.ok_or_else(|| not_found(None, id))?.record)
}

/// Assigns an unmatched email to a patient (`{"sender": patientId}`) or stars it.
pub async fn update_unrecognized(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = store::get_for_update(&mut tx, &ctx.instance.id, id)
        .await?
        .filter(|r| r.patient_id.is_none())
        .ok_or_else(|| not_found(None, id))?;
    let (owner, _) = change(state, ctx, &mut row, None, body, now_ms).await?;
    store::update(&mut tx, &row, now_ms).await?;
    ctx.record(
        &mut tx,
        Write { patient: owner.as_ref(), ..Write::new("EMAIL", Operation::Update, id, &row.record) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(row.record)
}

/// Deletes an unmatched email not yet assigned.
pub async fn delete_unrecognized(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<()> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let row = store::get_for_update(&mut tx, &ctx.instance.id, id)
        .await?
        .filter(|r| r.patient_id.is_none())
        .ok_or_else(|| not_found(None, id))?;
    check_deletable(&row)?;
    store::delete(&mut tx, &ctx.instance.id, id).await?;
    ctx.record(&mut tx, Write::new("EMAIL", Operation::Delete, id, &row.record), now_ms).await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Docs-site paths: every email that arrived unmatched
// ---------------------------------------------------------------------------------------

fn docs_view(row: &EmailRow, full: bool) -> Value {
    email::unrecognized_view(&row.record, row.patient_id.as_deref(), row.resolved_by.as_deref(), full)
}

async fn unmatched(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<EmailRow> {
    state.db.email(&ctx.instance.id, id).await?.filter(|r| r.unmatched).ok_or_else(|| not_found(None, id))
}

/// One page of the emails that arrived unmatched (docs-site form, without bodies), and
/// the total.
pub async fn docs_list(
    state: &AppState,
    ctx: &InstanceScope,
    filter: &EmailFilter,
    sorts: &[SortColumn],
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    let (rows, total) = state.db.emails(&ctx.instance.id, &Scope::Unmatched, filter, sorts, offset, size).await?;
    Ok((rows.iter().map(|r| docs_view(r, false)).collect(), total))
}

/// One email that arrived unmatched, with its body (docs-site form).
pub async fn docs_read(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<Value> {
    Ok(docs_view(&unmatched(state, ctx, id).await?, true))
}

/// Resolves an email that arrived unmatched: `{patientId, status: "RESOLVED"}` assigns it
/// to the patient. Answers it in the docs-site form.
pub async fn docs_resolve(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let patient_id = email::parse_resolution(body).map_err(invalid)?;
    let p = state
        .db
        .patient(&ctx.instance.id, PatientKey::Id, &patient_id)
        .await?
        .ok_or_else(|| invalid(FieldError::new("patientId", format!("there is no patient {patient_id}"))))?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = store::get_for_update(&mut tx, &ctx.instance.id, id)
        .await?
        .filter(|r| r.unmatched)
        .ok_or_else(|| not_found(None, id))?;
    assign(&mut row, &p, &ctx.actor().id);
    store::update(&mut tx, &row, now_ms).await?;
    ctx.record(&mut tx, Write { patient: Some(&p), ..Write::new("EMAIL", Operation::Update, id, &row.record) }, now_ms)
        .await?;
    tx.commit().await?;
    Ok(docs_view(&row, true))
}

/// The attachment of an email that arrived unmatched: the first, or the one named
/// `wanted`.
pub async fn docs_attachment(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    wanted: Option<&str>,
) -> ServiceResult<Attachment> {
    let row = unmatched(state, ctx, id).await?;
    files::attachment(state, ctx, row.record["id"].as_str().unwrap_or_default(), wanted).await
}

/// One page of what the local outbox provider delivered (to `to`, if given), oldest
/// first, and the total.
pub async fn outbox(
    state: &AppState,
    ctx: &InstanceScope,
    to: Option<&str>,
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    Ok(state.db.email_outbox(&ctx.instance.id, to, offset, size).await?)
}
