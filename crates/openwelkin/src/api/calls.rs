//! Voice calls (DOCS): a patient's calls `/{tenant}/{instance}/patients/{patientId}/calls…`
//! (`{data, metaInfo}`, the full call, the recording as a download), the unrecognized
//! calls `/{tenant}/{instance}/unrecognized-calls…` (`{content, totalElements,
//! totalPages, page, size}`; PATCH `{patientId, status: "RESOLVED"}` assigns one to a
//! patient, whose calls then list it), and the provider route calls arrive through,
//! `POST /{tenant}/{instance}/providers/calls/inbound` (an openwelkin extension). Writes
//! are audited as `CALL` (`CALL_CREATED`, `CALL_UPDATED`). The use cases are
//! `services::calls`; here are the routes, the provider's body (JSON or multipart) and the
//! recording download.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::call::{self, RESOLUTIONS};
use crate::services::calls as service;
use crate::services::patients;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// The DOCS page of the unrecognized lists: `{content, totalElements, totalPages, page,
/// size}`, plus `last`, so that a client paging it knows where to stop.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnrecognizedCallsPage {
    #[schema(value_type = Vec<Object>)]
    pub content: Vec<Value>,
    pub total_elements: i64,
    pub total_pages: i64,
    pub page: i64,
    pub size: i64,
    pub last: bool,
}

impl UnrecognizedCallsPage {
    fn new(content: Vec<Value>, req: &PageRequest, total: i64) -> Self {
        let total_pages = (total + req.size - 1) / req.size;
        UnrecognizedCallsPage {
            content,
            total_elements: total,
            total_pages,
            page: req.page,
            size: req.size,
            last: req.page + 1 >= total_pages,
        }
    }
}

/// `startDate`/`endDate` as epoch milliseconds.
fn range(params: &Params) -> ApiResult<(Option<i64>, Option<i64>)> {
    let one = |name: &str| -> ApiResult<Option<i64>> {
        match params.text(name) {
            None => Ok(None),
            Some(v) => crate::time::parse_datetime(&v)
                .map(|t| Some(t.timestamp_millis()))
                .ok_or_else(|| ApiError::invalid_param(name, "must be an ISO-8601 time")),
        }
    };
    Ok((one("startDate")?, one("endDate")?))
}

/// Reads the provider's report: a JSON object, or multipart form fields with the
/// recording as the file part `recording`.
async fn report_body(
    req: Request,
    state: &AppState,
) -> ApiResult<(Map<String, Value>, Option<(Vec<u8>, Option<String>, Option<String>)>)> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        let JsonObject(body) = JsonObject::from_request(req, state).await?;
        return Ok((body, None));
    }
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "REQUEST",
                "request body is too large",
                json!({}),
            )
        } else {
            ApiError::bad_request("REQUEST", format!("could not read the multipart body: {e}"))
        }
    };
    let mut form = Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::bad_request("REQUEST", format!("could not read the multipart body: {e}")))?;
    let (mut fields, mut file) = (Map::new(), None);
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "recording" {
            let content_type = field.content_type().map(String::from);
            let filename = field.file_name().map(String::from);
            let bytes = field.bytes().await.map_err(bad)?;
            file = Some((bytes.to_vec(), content_type, filename));
        } else {
            let text = field.text().await.map_err(bad)?;
            super::body::no_nul(&name, &name)?;
            super::body::no_nul(&name, &text)?;
            fields.insert(name, Value::String(text));
        }
    }
    Ok((fields, file))
}

/// A call reported by the telephony provider (an openwelkin extension). The patient is
/// `patientId` when given, else the one patient whose phone is the caller's (inbound) or
/// the callee's (outbound) number; with none or several, the call is unrecognized
/// (`PENDING`). Body: JSON with `recording: {data (base64), contentType, filename}`, or
/// multipart form fields with a file part `recording`. Recordings must be MP3 or WAV
/// (checked on the bytes).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/providers/calls/inbound", tag = "Calls",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body = crate::api::schemas::calls::CallReport,
    responses((status = 201, body = Object, description = "the full call"), (status = 400, body = Vec<ErrorItem>),
              (status = 403, body = Vec<ErrorItem>), (status = 413, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn inbound(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    req: Request,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Calls, Op::Create)?;
    let (body, file) = report_body(req, &state).await?;
    Ok((StatusCode::CREATED, Json(service::report(&state, &ctx, &body, file).await?)))
}

/// A patient's calls, newest first: `{data, metaInfo}`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/calls", tag = "Calls",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query),
           ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query)),
    responses((status = 200, body = Object, description = "{data:[{id, patientId, direction, duration, status, calledAt, hasRecording}], metaInfo}"),
              (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Calls, Op::Read)?;
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    let req = PageRequest::parse(&params, |_| None)?;
    let (from, to) = range(&params)?;
    let (data, total) = service::list(&state, &ctx, p, from, to, req.offset(), req.size).await?;
    Ok(Json(MetaInfoPage::new(data, &req, total)))
}

/// One call of a patient, with all its metadata.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/calls/{callId}", tag = "Calls",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("callId" = String, Path)),
    responses((status = 200, body = Object), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Calls, Op::Read)?;
    Ok(Json(service::read(&state, &ctx, &path.2, &path.3).await?))
}

/// A call's recording as a download (`audio/mpeg` or `audio/wav`, `Content-Disposition:
/// attachment`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/calls/{callId}/recording", tag = "Calls",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("callId" = String, Path)),
    responses((status = 200, description = "the recording", content_type = "audio/mpeg"),
              (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn recording(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    ctx.require(Family::Calls, Op::Read)?;
    let (content_type, filename, bytes) = service::recording(&state, &ctx, &path.2, &path.3).await?;
    // Always an attachment, as Welkin sends recordings.
    Ok(super::headers::file_download(&content_type, &call::clean_filename(&filename), bytes, false))
}

/// Calls from numbers no patient has (DOCS), newest first.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-calls", tag = "Calls",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("status" = Option<String>, Query, description = "PENDING or RESOLVED"),
           ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = UnrecognizedCallsPage), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    params: Params,
) -> ApiResult<Json<UnrecognizedCallsPage>> {
    ctx.require(Family::Calls, Op::Read)?;
    let req = PageRequest::parse(&params, |_| None)?;
    let (from, to) = range(&params)?;
    let resolution = match params.text("status") {
        None => None,
        Some(s) if RESOLUTIONS.contains(&s.to_ascii_uppercase().as_str()) => Some(s.to_ascii_uppercase()),
        Some(_) => return Err(ApiError::invalid_param("status", "must be PENDING or RESOLVED")),
    };
    let (content, total) =
        service::list_unrecognized(&state, &ctx, resolution, from, to, req.offset(), req.size).await?;
    Ok(Json(UnrecognizedCallsPage::new(content, &req, total)))
}

/// One unrecognized call.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-calls/{callId}", tag = "Calls",
    params(("tenant" = String, Path), ("instance" = String, Path), ("callId" = String, Path)),
    responses((status = 200, body = Object), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Calls, Op::Read)?;
    Ok(Json(service::read_unrecognized(&state, &ctx, &path.2).await?))
}

/// Assigns an unrecognized call to a patient: `{patientId, status: "RESOLVED"}`. A call
/// already resolved is refused (409).
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/unrecognized-calls/{callId}", tag = "Calls",
    params(("tenant" = String, Path), ("instance" = String, Path), ("callId" = String, Path)),
    request_body = crate::api::schemas::common::Resolution,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>),
              (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn resolve_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Calls, Op::Update)?;
    Ok(Json(service::resolve(&state, &ctx, &path.2, &body).await?))
}
