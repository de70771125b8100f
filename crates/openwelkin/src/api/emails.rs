//! Emails of a patient: `/{tenant}/{instance}/patients/{patientId}/emails…` (V8): send
//! (JSON, or multipart with `attachmentsAsFiles` file parts), list with the V8 filters
//! (Spring page), read, update by status, delete while scheduled or unrecognised, and
//! attachment downloads. Drafts are in `email_drafts.rs`, inbound and unmatched emails in
//! `email_inbound.rs`; delivery in `crate::delivery::email`.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::patient;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::email::{self, Compose, COMPOSE_KEYS};
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::emails::{self as store, Attachment, EmailFilter, EmailRow, Scope};
use crate::store::Tx;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

pub(crate) use crate::services::emails::{
    create_outbound, dispatch_at, external_id, outbound_parties, outbound_record, COMPONENT,
};
/// The multipart part name of an attached file (V8).
pub(crate) const FILE_PART: &str = "attachmentsAsFiles";
/// At most this many files per email.
pub(crate) const MAX_FILES: usize = 10;
/// The keys of an update: a send's plus `starred`.
const UPDATE_KEYS: &[&str] = &["subject", "body", "receiver", "sendNow", "secure", "scheduledAt", "sender", "starred"];

pub(crate) fn not_found(patient_id: Option<&str>, id: &str) -> ApiError {
    let details = match patient_id {
        Some(p) => json!({"patientId": p, "id": id}),
        None => json!({"id": id}),
    };
    ApiError::not_found("EMAIL_NOT_FOUND", COMPONENT, "Email is not found", details)
}

pub(crate) fn invalid(e: FieldError) -> ApiError {
    crate::services::emails::invalid(e).into()
}

fn attachment_not_found(id: &str) -> ApiError {
    ApiError::not_found("EMAIL_ATTACHMENT_NOT_FOUND", COMPONENT, "Email attachment is not found", json!({"id": id}))
}

/// A file part of a multipart body.
pub struct Upload {
    pub part: String,
    pub file: Attachment,
}

/// An email body as JSON, `application/x-www-form-urlencoded` or `multipart/form-data`
/// (form fields plus file parts). Form values `true`/`false` of boolean fields become
/// booleans.
pub struct EmailInput {
    pub fields: Map<String, Value>,
    pub uploads: Vec<Upload>,
}

const BOOLEAN_FIELDS: &[&str] = &["sendNow", "secure", "starred"];

fn form_value(key: &str, text: String) -> Option<Value> {
    if BOOLEAN_FIELDS.contains(&key) {
        return match super::params::parse_bool(&text) {
            Some(b) => Some(Value::Bool(b)),
            None if text.trim().is_empty() => None,
            None => Some(Value::String(text)),
        };
    }
    Some(Value::String(text))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "REQUEST",
            "request body is too large",
            json!({}),
        )
    } else {
        ApiError::bad_request("REQUEST", format!("could not read the multipart body: {}", e.body_text()))
    }
}

/// The type to store for a file: the part's own, unless missing or unusable, else one
/// guessed from the file name.
pub(crate) fn content_type_of(given: Option<&str>, file_name: &str) -> String {
    let usable = |t: &str| {
        let t = t.trim();
        !t.is_empty()
            && t.len() <= 127
            && t.contains('/')
            && t.chars().all(|c| c.is_ascii_graphic() || c == ' ')
            && t != "application/octet-stream"
    };
    if let Some(t) = given.filter(|t| usable(t)) {
        return t.trim().to_string();
    }
    let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ => "application/octet-stream",
    }
    .to_string()
}

impl<S: Send + Sync> FromRequest<S> for EmailInput {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let kind = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let mut fields = Map::new();
        let mut uploads = Vec::new();
        if kind.starts_with("multipart/form-data") {
            let mut parts = Multipart::from_request(req, state)
                .await
                .map_err(|e| ApiError::bad_request("REQUEST", format!("not a multipart body: {}", e.body_text())))?;
            while let Some(part) = parts.next_field().await.map_err(multipart_error)? {
                let name = part.name().unwrap_or_default().to_string();
                let file_name = part.file_name().map(String::from);
                super::body::no_nul(&name, &name)?;
                super::body::no_nul(&name, file_name.as_deref().unwrap_or_default())?;
                if file_name.is_some() || name == FILE_PART {
                    let file_name = email::clean_file_name(file_name.as_deref().unwrap_or("attachment"));
                    let content_type = content_type_of(part.content_type(), &file_name);
                    let data = part.bytes().await.map_err(multipart_error)?.to_vec();
                    let file = Attachment { id: crate::ids::new_id(), file_name, content_type, data };
                    uploads.push(Upload { part: name, file });
                } else {
                    let text = part.text().await.map_err(multipart_error)?;
                    super::body::no_nul(&name, &text)?;
                    if let Some(v) = form_value(&name, text) {
                        fields.insert(name, v);
                    }
                }
            }
        } else if kind.starts_with("application/x-www-form-urlencoded") {
            let bytes = Bytes::from_request(req, state)
                .await
                .map_err(|e| ApiError::bad_request("REQUEST", format!("could not read the request body: {e}")))?;
            for (k, v) in form_urlencoded::parse(&bytes) {
                super::body::no_nul(&k, &k)?;
                super::body::no_nul(&k, &v)?;
                if let Some(v) = form_value(&k, v.into_owned()) {
                    fields.insert(k.into_owned(), v);
                }
            }
        } else {
            fields = JsonObject::from_request(req, state).await?.0;
        }
        Ok(EmailInput { fields, uploads })
    }
}

impl EmailInput {
    /// The attached files, all of which must come in `part` parts.
    pub fn files(self, part: &str) -> ApiResult<(Map<String, Value>, Vec<Attachment>)> {
        if let Some(other) = self.uploads.iter().find(|u| u.part != part) {
            return Err(invalid(FieldError::new(other.part.clone(), format!("files are sent as {part} parts"))));
        }
        if self.uploads.len() > MAX_FILES {
            return Err(invalid(FieldError::new(part, format!("at most {MAX_FILES} files per email"))));
        }
        Ok((self.fields, self.uploads.into_iter().map(|u| u.file).collect()))
    }
}

/// Stores files for an email or draft after those it has; returns the metadata of all.
pub(crate) async fn save_files(
    tx: &mut Tx,
    ctx: &InstanceCaller,
    owner_id: &str,
    files: &[Attachment],
    existing: &Value,
    now_ms: i64,
) -> ApiResult<Value> {
    let mut metas: Vec<Value> = existing.as_array().cloned().unwrap_or_default();
    if metas.len() + files.len() > MAX_FILES {
        return Err(invalid(FieldError::new(FILE_PART, format!("at most {MAX_FILES} files per email"))));
    }
    let mut position = store::next_position(tx, &ctx.instance.id, owner_id).await?;
    for f in files {
        store::insert_attachment(tx, &ctx.tenant.id, &ctx.instance.id, owner_id, position, f, now_ms).await?;
        metas.push(f.meta());
        position += 1;
    }
    Ok(email::attachments_value(&metas))
}

/// The receiver of a send or update must be the patient of the path.
fn check_receiver(c: &Compose, patient_id: &str) -> ApiResult<()> {
    match &c.receiver {
        Some(r) if r != patient_id => Err(invalid(FieldError::new("receiver", "must be the patient of the path"))),
        _ => Ok(()),
    }
}

/// Send an email to the patient, now or scheduled (201, status `ACCEPTED` or
/// `SCHEDULED`). JSON, or multipart with `attachmentsAsFiles` file parts and the other
/// keys as form fields.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/emails", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content(
        (Object = "application/json"),
        (Object = "multipart/form-data"),
    ), description = "subject and body (required), receiver (the patient), sendNow, secure, scheduledAt, sender (a user id; default: the patient's point of contact); multipart: attachmentsAsFiles file parts"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn send(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    input: EmailInput,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Email, Op::Create)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let (fields, files) = input.files(FILE_PART)?;
    let c = email::parse_compose(&fields, COMPOSE_KEYS).map_err(invalid)?;
    for (key, missing) in [("subject", c.subject.is_none()), ("body", c.body.is_none())] {
        if missing {
            return Err(invalid(FieldError::new(key, "is required")));
        }
    }
    check_receiver(&c, &p.id)?;
    let parties = outbound_parties(&state, &ctx, &p, c.sender.as_deref()).await?;
    let now_ms = state.clock.now_ms();
    let id = crate::ids::new_id();
    let mut tx = state.db.begin().await?;
    let attachments = save_files(&mut tx, &ctx, &id, &files, &Value::Null, now_ms).await?;
    let record = outbound_record(&parties, &c, &id, attachments, now_ms);
    let row = create_outbound(&state, &mut tx, &ctx, &p, record, now_ms).await?;
    tx.commit().await?;
    if row.record["status"] == "ACCEPTED" {
        state.email.dispatch_soon(&state.db, &state.clock, &id).await;
    }
    Ok((StatusCode::CREATED, Json(row.record)))
}

fn enum_list(params: &Params, name: &str, allowed: &[&str]) -> ApiResult<Option<Vec<String>>> {
    let Some(list) = params.list(name) else { return Ok(None) };
    let list: Vec<String> = list.into_iter().map(|v| v.to_uppercase()).collect();
    if let Some(bad) = list.iter().find(|v| !allowed.contains(&v.as_str())) {
        return Err(ApiError::invalid_param(name, format!("{bad:?} is not one of {}", allowed.join(", "))));
    }
    Ok(Some(list))
}

pub(crate) fn time_param(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    match params.text(name) {
        None => Ok(None),
        Some(t) => crate::time::parse_datetime(&t)
            .map(|t| Some(t.timestamp_millis()))
            .ok_or_else(|| ApiError::invalid_param(name, "must be an ISO-8601 date-time")),
    }
}

/// The V8 list filters (and DOCS `startDate`/`endDate`).
pub(crate) fn filter_of(params: &Params) -> ApiResult<EmailFilter> {
    let direction = match params.text("direction").map(|d| d.to_uppercase()).as_deref() {
        None => None,
        Some("IN" | "INBOUND") => Some("IN".to_string()),
        Some("OUT" | "OUTBOUND") => Some("OUT".to_string()),
        Some(_) => return Err(ApiError::invalid_param("direction", "must be IN or OUT")),
    };
    Ok(EmailFilter {
        search: params.text("search"),
        sender: params.text("sender"),
        receiver: params.text("receiver"),
        direction,
        starred: params.bool("starred")?,
        from: params.text("from"),
        to: params.text("to"),
        email: params.text("email"),
        sender_name: params.text("senderName"),
        receiver_name: params.text("receiverName"),
        statuses: enum_list(params, "status", email::STATUSES)?,
        resolved: None,
        date_from: time_param(params, "startDate")?,
        date_to: time_param(params, "endDate")?,
    })
}

/// A patient's emails (Spring page), newest filters of V8 combined with AND.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/emails", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
        ("search" = Option<String>, Query, description = "In subject or body"),
        ("sender" = Option<String>, Query), ("receiver" = Option<String>, Query),
        ("direction" = Option<String>, Query, description = "IN or OUT"), ("starred" = Option<bool>, Query),
        ("from" = Option<String>, Query), ("to" = Option<String>, Query), ("email" = Option<String>, Query, description = "From or to"),
        ("senderName" = Option<String>, Query), ("receiverName" = Option<String>, Query),
        ("status" = Option<String>, Query, description = "Comma-separated: SCHEDULED, ACCEPTED, DELIVERED, REJECTED, FAILED, UNRECOGNISED"),
        ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query, description = "field,asc|desc")),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Email, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let page = PageRequest::parse(&params, store::sort_column)?;
    let filter = filter_of(&params)?;
    let (rows, total) = state
        .db
        .emails(&ctx.instance.id, &Scope::Patient(p.id), &filter, &page.sorts, page.offset(), page.size)
        .await?;
    Ok(Json(SpringPage::new(rows.into_iter().map(|r| r.record).collect(), &page, total)))
}

async fn patient_email(state: &AppState, ctx: &InstanceCaller, p: &Patient, id: &str) -> ApiResult<EmailRow> {
    state
        .db
        .email(&ctx.instance.id, id)
        .await?
        .filter(|r| r.patient_id.as_deref() == Some(p.id.as_str()))
        .ok_or_else(|| not_found(Some(&p.id), id))
}

/// One email of the patient.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("emailId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Email, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    Ok(Json(patient_email(&state, &ctx, &p, &path.3).await?.record))
}

/// Gives an inbound email to a patient (it then shows in that patient's emails).
pub(crate) fn assign(row: &mut EmailRow, p: &Patient, actor_id: &str) {
    row.patient_id = Some(p.id.clone());
    row.record["sender"] = json!(p.id);
    row.record["senderName"] = json!(p.full_name());
    row.record["patientInfo"] = json!(p.full_name());
    row.record["timezone"] = json!(p.timezone);
    if row.record["status"] == "UNRECOGNISED" {
        row.record["status"] = json!("DELIVERED");
    }
    if row.unmatched {
        row.resolved_by = Some(actor_id.to_string());
    }
}

/// Applies an update by the email's status (V8 rules). Returns the patient the email
/// belongs to afterwards and whether its delivery is now due.
pub(crate) async fn change(
    state: &AppState,
    ctx: &InstanceCaller,
    row: &mut EmailRow,
    owner: Option<Patient>,
    body: &Map<String, Value>,
    now_ms: i64,
) -> ApiResult<(Option<Patient>, bool)> {
    let c = email::parse_compose(body, UPDATE_KEYS).map_err(invalid)?;
    email::check_update(&row.record, &c, body).map_err(invalid)?;
    if let Some(s) = c.starred {
        row.record["starred"] = json!(s);
    }
    if row.record["direction"] == "IN" {
        let Some(pid) = &c.sender else { return Ok((owner, false)) };
        let p = state
            .db
            .patient(&ctx.instance.id, crate::store::patients::PatientKey::Id, pid)
            .await?
            .ok_or_else(|| invalid(FieldError::new("sender", format!("there is no patient {pid}"))))?;
        assign(row, &p, &ctx.actor().id);
        return Ok((Some(p), false));
    }
    if row.record["status"] != "SCHEDULED" {
        return Ok((owner, false));
    }
    let Some(p) = owner else { return Ok((None, false)) };
    check_receiver(&c, &p.id)?;
    if c.sender.is_some() {
        let parties = outbound_parties(state, ctx, &p, c.sender.as_deref()).await?;
        for (key, value) in [
            ("sender", json!(parties.sender)),
            ("senderName", json!(parties.sender_name)),
            ("careTeam", json!(parties.care_team)),
        ] {
            row.record[key] = value;
        }
    }
    let due = email::apply_scheduled(&mut row.record, &c, now_ms);
    if due {
        email::mark_accepted(&mut row.record, now_ms);
    }
    row.dispatch_at = dispatch_at(&row.record, now_ms);
    row.dispatch_key = Some(state.email.key.clone());
    Ok((Some(p), due))
}

/// Update an email: once sent only `starred`; a received one `starred` and `sender` (the
/// patient it belongs to); a scheduled one everything a send has.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("emailId" = String, Path)),
    request_body(content = Object, description = "starred; inbound: sender (a patient id); scheduled: subject, body, receiver, scheduledAt, secure, sendNow, sender"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Email, Op::Update)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = store::get_for_update(&mut tx, &ctx.instance.id, &path.3)
        .await?
        .filter(|r| r.patient_id.as_deref() == Some(p.id.as_str()))
        .ok_or_else(|| not_found(Some(&p.id), &path.3))?;
    let (owner, due) = change(&state, &ctx, &mut row, Some(p), &body, now_ms).await?;
    store::update(&mut tx, &row, now_ms).await?;
    let write = Write { patient: owner.as_ref(), ..Write::new("EMAIL", Operation::Update, &path.3, &row.record) };
    ctx.record(&mut tx, write, now_ms).await?;
    tx.commit().await?;
    if due {
        state.email.dispatch_soon(&state.db, &state.clock, &path.3).await;
    }
    Ok(Json(row.record))
}

/// The same update with PATCH.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("emailId" = String, Path)),
    request_body(content = Object),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn patch(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, ctx, path, body).await
}

/// The same update with POST, as the V8 reference's examples send it.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("emailId" = String, Path)),
    request_body(content = Object),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn post_update(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, ctx, path, body).await
}

/// Only scheduled and unrecognised emails can be deleted.
pub(crate) fn check_deletable(row: &EmailRow) -> ApiResult<()> {
    let status = row.record["status"].as_str().unwrap_or_default();
    if matches!(status, "SCHEDULED" | "UNRECOGNISED") {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "EMAIL_CANNOT_BE_DELETED",
            COMPONENT,
            format!("An email in status {status} cannot be deleted; only SCHEDULED and UNRECOGNISED ones can"),
            json!({"id": row.record["id"], "status": status}),
        ))
    }
}

/// Delete a scheduled (not yet sent) or unrecognised email (200, empty body).
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("emailId" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Email, Op::Delete)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let row = store::get_for_update(&mut tx, &ctx.instance.id, &path.3)
        .await?
        .filter(|r| r.patient_id.as_deref() == Some(p.id.as_str()))
        .ok_or_else(|| not_found(Some(&p.id), &path.3))?;
    check_deletable(&row)?;
    store::delete(&mut tx, &ctx.instance.id, &path.3).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("EMAIL", Operation::Delete, &path.3, &row.record) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}

/// A file as a download with its stored type and `Content-Disposition: attachment`.
pub(crate) fn download(a: Attachment) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", a.file_name);
    let disposition = HeaderValue::from_bytes(disposition.as_bytes())
        .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"attachment\""));
    let kind = HeaderValue::from_str(&a.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    ([(CONTENT_TYPE, kind), (CONTENT_DISPOSITION, disposition)], a.data).into_response()
}

/// The email's attachment: the first, or the one named by `attachmentId`.
pub(crate) async fn attachment_of(
    state: &AppState,
    ctx: &InstanceCaller,
    email_id: &str,
    params: &Params,
) -> ApiResult<Response> {
    let wanted = params.text("attachmentId");
    state
        .db
        .email_attachment(&ctx.instance.id, email_id, wanted.as_deref())
        .await?
        .map(download)
        .ok_or_else(|| attachment_not_found(email_id))
}

/// Download an attachment of the email (binary, its stored Content-Type).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/emails/{emailId}/attachment", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("emailId" = String, Path),
        ("attachmentId" = Option<String>, Query, description = "Which file (default: the first)")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn attachment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    params: Params,
) -> ApiResult<Response> {
    ctx.require(Family::Email, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let row = patient_email(&state, &ctx, &p, &path.3).await?;
    attachment_of(&state, &ctx, row.record["id"].as_str().unwrap_or_default(), &params).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_kept_or_guessed() {
        assert_eq!(content_type_of(Some("image/png"), "x.bin"), "image/png");
        assert_eq!(content_type_of(None, "Report.PDF"), "application/pdf");
        assert_eq!(content_type_of(Some("application/octet-stream"), "a.txt"), "text/plain");
        assert_eq!(content_type_of(Some("bad\ntype"), "a"), "application/octet-stream");
    }
}
