//! Emails of a patient: `/{tenant}/{instance}/patients/{patientId}/emails…` (V8): send
//! (JSON, or multipart with `attachmentsAsFiles` file parts), list with the V8 filters
//! (Spring page), read, update by status, delete while scheduled or unrecognised, and
//! attachment downloads; and the email body every email route reads (`EmailInput`).
//! Drafts are in `email_drafts.rs`, inbound and unmatched emails in `email_inbound.rs`.
//! The use cases are `services::emails`.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::email;
use crate::services::emails::files::{Upload, FILE_PART};
use crate::services::emails::{self as service, messages};
use crate::services::patients;
use crate::store::emails::{self as store, Attachment, EmailFilter, Scope};
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

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
        super::body::too_large()
    } else {
        ApiError::bad_request("REQUEST", format!("could not read the multipart body: {}", e.body_text()))
    }
}

/// The type to store for a file: the part's own, unless missing or unusable, else one
/// guessed from the file name.
fn content_type_of(given: Option<&str>, file_name: &str) -> String {
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

/// Send an email to the patient, now or scheduled (201, status `ACCEPTED` or
/// `SCHEDULED`). JSON, or multipart with `attachmentsAsFiles` file parts and the other
/// keys as form fields.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/emails", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content(
        (crate::api::schemas::messaging::EmailCompose = "application/json"),
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
    let record = messages::send(&state, &ctx, &path.2, &input.fields, input.uploads).await?;
    Ok((StatusCode::CREATED, Json(record)))
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
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    let page = PageRequest::parse(&params, store::sort_column)?;
    let filter = filter_of(&params)?;
    let (records, total) =
        service::list(&state, &ctx, Scope::Patient(p.id), &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(SpringPage::new(records, &page, total)))
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
    Ok(Json(messages::read(&state, &ctx, &path.2, &path.3).await?))
}

/// Update an email: once sent only `starred`; a received one `starred` and `sender` (the
/// patient it belongs to); a scheduled one everything a send has.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("emailId" = String, Path)),
    request_body = crate::api::schemas::messaging::EmailUpdate,
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
    Ok(Json(messages::update(&state, &ctx, &path.2, &path.3, &body).await?))
}

/// The same update with PATCH.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("emailId" = String, Path)),
    request_body = crate::api::schemas::messaging::EmailUpdate,
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
    request_body = crate::api::schemas::messaging::EmailUpdate,
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
    messages::delete(&state, &ctx, &path.2, &path.3).await?;
    Ok(StatusCode::OK)
}

/// A file as a download with its stored type and `Content-Disposition: attachment`
/// (Welkin sends email attachments so, whatever their type).
pub(crate) fn download(a: Attachment) -> Response {
    super::headers::file_download(&a.content_type, &a.file_name, a.data, false)
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
    let wanted = params.text("attachmentId");
    Ok(download(messages::attachment(&state, &ctx, &path.2, &path.3, wanted.as_deref()).await?))
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
