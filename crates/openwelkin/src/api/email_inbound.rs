//! Inbound and unmatched emails, and the local outbox:
//!
//! * `POST /{tenant}/{instance}/providers/email/inbound` (extension): a received email,
//!   as JSON or form (Mailgun's `sender`/`recipient`/`body-plain` names too). From a
//!   patient's address it becomes that patient's email (direction IN, DELIVERED);
//!   otherwise an unmatched one (UNRECOGNISED, no patient).
//! * V8 `/{tenant}/{instance}/unrecognized-patients/emails[/{emailId}]`: GET (Spring
//!   page), PUT (`{"sender": patientId}` assigns it), DELETE.
//! * DOCS `/{tenant}/{instance}/unrecognized-emails[/{emailId}]`: GET (flat page, status
//!   PENDING or RESOLVED), PATCH `{patientId, status: "RESOLVED"}`, GET `…/attachment`.
//! * `GET /{tenant}/{instance}/outbox/email` (extension): what the local outbox provider
//!   delivered.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::emails::{
    assign, attachment_of, change, check_deletable, filter_of, invalid, not_found, time_param, EmailInput,
};
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::email::{self, Parties};
use crate::domain::{fields, FieldError};
use crate::events::audit::Operation;
use crate::store::emails::{self as store, EmailRow, Scope};
use crate::store::patients::PatientKey;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

fn first_text(fields: &Map<String, Value>, keys: &[&str]) -> Option<(String, String)> {
    keys.iter().find_map(|k| fields.get(*k).map(|v| (k.to_string(), v.as_str().unwrap_or_default().to_string())))
}

/// A received email: `from` (required), `to`, `subject`, `body`; Mailgun's `sender`,
/// `recipient`, `body-plain` are read too, other keys are ignored (provider payloads
/// carry many). File parts of any name become attachments.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/providers/email/inbound", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content(
        (Object = "application/json"), (Object = "application/x-www-form-urlencoded"), (Object = "multipart/form-data"),
    ), description = "from (required), to, subject, body"),
    responses((status = 201, body = Object, description = "The stored email: the patient's, or UNRECOGNISED"),
        (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn receive(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    input: EmailInput,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Email, Op::Create)?;
    let f = &input.fields;
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
    let files: Vec<_> = input.uploads.into_iter().map(|u| u.file).collect();
    if files.len() > super::emails::MAX_FILES {
        return Err(invalid(FieldError::new("attachments", format!("at most {} files", super::emails::MAX_FILES))));
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
    let id = crate::ids::new_id();
    let mut record =
        email::inbound(&id, &parties, &subject, &body, &super::emails::external_id(false, &from, now_ms), now_ms);
    let mut tx = state.db.begin().await?;
    record["attachments"] = super::emails::save_files(&mut tx, &ctx, &id, &files, &Value::Null, now_ms).await?;
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
    Ok((StatusCode::CREATED, Json(row.record)))
}

async fn unrecognised(state: &AppState, ctx: &InstanceCaller, id: &str) -> ApiResult<EmailRow> {
    state.db.email(&ctx.instance.id, id).await?.filter(|r| r.patient_id.is_none()).ok_or_else(|| not_found(None, id))
}

/// Inbound emails matched to no patient (Spring page; the V8 email filters apply).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-patients/emails", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path),
        ("search" = Option<String>, Query), ("from" = Option<String>, Query), ("to" = Option<String>, Query),
        ("email" = Option<String>, Query), ("starred" = Option<bool>, Query), ("status" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Email, Op::Read)?;
    let page = PageRequest::parse(&params, store::sort_column)?;
    let filter = filter_of(&params)?;
    let (rows, total) =
        state.db.emails(&ctx.instance.id, &Scope::Unrecognised, &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(SpringPage::new(rows.into_iter().map(|r| r.record).collect(), &page, total)))
}

/// One unmatched inbound email.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-patients/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Email, Op::Read)?;
    Ok(Json(unrecognised(&state, &ctx, &path.2).await?.record))
}

/// Assign an unmatched email to a patient (`{"sender": patientId}`) or star it; once
/// assigned it is one of that patient's emails.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/unrecognized-patients/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path)),
    request_body(content = Object, description = "sender (a patient id), starred"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Email, Op::Update)?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = store::get_for_update(&mut tx, &ctx.instance.id, &path.2)
        .await?
        .filter(|r| r.patient_id.is_none())
        .ok_or_else(|| not_found(None, &path.2))?;
    let (owner, _) = change(&state, &ctx, &mut row, None, &body, now_ms).await?;
    store::update(&mut tx, &row, now_ms).await?;
    ctx.record(
        &mut tx,
        Write { patient: owner.as_ref(), ..Write::new("EMAIL", Operation::Update, &path.2, &row.record) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(row.record))
}

/// The same assignment with POST, as the V8 reference's example sends it.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/unrecognized-patients/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path)),
    request_body(content = Object, description = "sender (a patient id), starred"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn post_unrecognized(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    update_unrecognized(state, ctx, path, body).await
}

/// Delete an unmatched email (200, empty body).
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/unrecognized-patients/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Email, Op::Delete)?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let row = store::get_for_update(&mut tx, &ctx.instance.id, &path.2)
        .await?
        .filter(|r| r.patient_id.is_none())
        .ok_or_else(|| not_found(None, &path.2))?;
    check_deletable(&row)?;
    store::delete(&mut tx, &ctx.instance.id, &path.2).await?;
    ctx.record(&mut tx, Write::new("EMAIL", Operation::Delete, &path.2, &row.record), now_ms).await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}

/// The DOCS page of unmatched emails: `{content, totalElements, totalPages, page, size}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnrecognizedEmailPage {
    #[schema(value_type = Vec<Object>)]
    pub content: Vec<Value>,
    pub total_elements: i64,
    pub total_pages: i64,
    pub page: i64,
    pub size: i64,
}

fn docs_view(row: &EmailRow, full: bool) -> Value {
    email::unrecognized_view(&row.record, row.patient_id.as_deref(), row.resolved_by.as_deref(), full)
}

async fn unmatched(state: &AppState, ctx: &InstanceCaller, id: &str) -> ApiResult<EmailRow> {
    state.db.email(&ctx.instance.id, id).await?.filter(|r| r.unmatched).ok_or_else(|| not_found(None, id))
}

/// Emails that arrived from unknown senders, pending or resolved (DOCS).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-emails", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path),
        ("status" = Option<String>, Query, description = "PENDING or RESOLVED"),
        ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = UnrecognizedEmailPage), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<UnrecognizedEmailPage>> {
    ctx.require(Family::Email, Op::Read)?;
    let page = PageRequest::parse(&params, store::sort_column)?;
    let resolved = match params.text("status").map(|s| s.to_uppercase()).as_deref() {
        None => None,
        Some("PENDING") => Some(false),
        Some("RESOLVED") => Some(true),
        Some(_) => return Err(ApiError::invalid_param("status", "must be PENDING or RESOLVED")),
    };
    let filter = store::EmailFilter {
        resolved,
        date_from: time_param(&params, "startDate")?,
        date_to: time_param(&params, "endDate")?,
        ..Default::default()
    };
    let (rows, total) =
        state.db.emails(&ctx.instance.id, &Scope::Unmatched, &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(UnrecognizedEmailPage {
        content: rows.iter().map(|r| docs_view(r, false)).collect(),
        total_elements: total,
        total_pages: (total + page.size - 1) / page.size,
        page: page.page,
        size: page.size,
    }))
}

/// One email that arrived unmatched, with its body (DOCS).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Email, Op::Read)?;
    Ok(Json(docs_view(&unmatched(&state, &ctx, &path.2).await?, true)))
}

/// Resolve an unmatched email: `{patientId, status: "RESOLVED"}` links it to the patient
/// (DOCS); it then shows in that patient's emails.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/unrecognized-emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path)),
    request_body(content = Object, description = "patientId (required), status (required, RESOLVED)"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_resolve(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Email, Op::Update)?;
    let patient_id = email::parse_resolution(&body).map_err(invalid)?;
    let p = state
        .db
        .patient(&ctx.instance.id, PatientKey::Id, &patient_id)
        .await?
        .ok_or_else(|| invalid(FieldError::new("patientId", format!("there is no patient {patient_id}"))))?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = store::get_for_update(&mut tx, &ctx.instance.id, &path.2)
        .await?
        .filter(|r| r.unmatched)
        .ok_or_else(|| not_found(None, &path.2))?;
    assign(&mut row, &p, &ctx.actor().id);
    store::update(&mut tx, &row, now_ms).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("EMAIL", Operation::Update, &path.2, &row.record) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(docs_view(&row, true)))
}

/// Download the attachment of an unmatched email (binary, its stored Content-Type).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-emails/{emailId}/attachment", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path),
        ("attachmentId" = Option<String>, Query, description = "Which file (default: the first)")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_attachment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Response> {
    ctx.require(Family::Email, Op::Read)?;
    let row = unmatched(&state, &ctx, &path.2).await?;
    attachment_of(&state, &ctx, row.record["id"].as_str().unwrap_or_default(), &params).await
}

/// What the local outbox provider delivered in this instance, oldest first (Spring
/// page): `{id, emailId, messageId, from, fromName, to, toName, subject, body, secure,
/// attachments, sentAt, raw}`, `raw` being the RFC 5322 message.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/outbox/email", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("to" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn outbox(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Email, Op::Read)?;
    let page = PageRequest::parse(&params, |_| None)?;
    let (entries, total) =
        state.db.email_outbox(&ctx.instance.id, params.text("to").as_deref(), page.offset(), page.size).await?;
    Ok(Json(SpringPage::new(entries, &page, total)))
}
