//! Inbound SMS from numbers no patient has: the V8 paths
//! (`/{tenant}/{instance}/unrecognized-patients/sms[/{smsId}]`: a Spring page, read,
//! assign with PUT, PATCH or POST, delete) and the docs site's
//! (`/{tenant}/{instance}/unrecognized-sms[/{smsId}]`: a flat page, read, resolve with
//! PATCH). The use cases are `services::sms::unrecognized`.

use super::page_of;
use crate::api::body::JsonObject;
use crate::api::caller::InstanceCaller;
use crate::api::error::{ApiError, ApiResult, ErrorItem};
use crate::api::json::Json;
use crate::api::paging::{PageRequest, SpringPage};
use crate::api::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::services::sms::unrecognized as service;
use crate::store::sms::{self as store, SmsFilter, SmsScope};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

// ---------------------------------------------------------------------------------------
// V8 paths
// ---------------------------------------------------------------------------------------

/// Inbound SMS from numbers no patient has, not yet assigned (status `UNRECOGNISED`), as
/// a Spring page with the same filters as a patient's list.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-patients/sms", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query),
           ("search" = Option<String>, Query), ("from" = Option<String>, Query), ("to" = Option<String>, Query),
           ("phone" = Option<String>, Query), ("starred" = Option<bool>, Query), ("status" = Option<String>, Query)),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Sms, Op::Read)?;
    page_of(&state, &ctx, SmsScope::Unrecognised, &params).await
}

/// One unassigned inbound SMS.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Sms, Op::Read)?;
    Ok(Json(service::read(&state, &ctx, &path.2).await?))
}

/// Assign an unmatched inbound SMS to a patient (`{"sender": "<patientId>"}`; it becomes
/// `RECEIVED` and one of the patient's SMS), or star it.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    request_body = crate::api::schemas::common::InboundAssign,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn assign_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Sms, Op::Update)?;
    Ok(Json(service::assign(&state, &ctx, &path.2, &body).await?))
}

/// The same assignment with PATCH.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    request_body = crate::api::schemas::common::InboundAssign,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn assign_unrecognized_patch(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    assign_unrecognized(state, ctx, path, body).await
}

/// The same assignment with POST, as the V8 reference's examples send it.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    request_body = crate::api::schemas::common::InboundAssign,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn assign_unrecognized_post(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    assign_unrecognized(state, ctx, path, body).await
}

/// Delete an unmatched inbound SMS (200, empty).
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Sms, Op::Delete)?;
    service::delete(&state, &ctx, &path.2).await?;
    Ok(StatusCode::OK)
}

// ---------------------------------------------------------------------------------------
// Docs-site paths
// ---------------------------------------------------------------------------------------

/// The docs site's flat page: `{content, totalElements, totalPages, page, size}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnrecognizedSmsPage {
    #[schema(value_type = Vec<Object>)]
    pub content: Vec<Value>,
    pub total_elements: i64,
    pub total_pages: i64,
    pub page: i64,
    pub size: i64,
}

fn time_param(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    match params.text(name) {
        None => Ok(None),
        Some(v) => crate::time::parse_datetime(&v)
            .map(|t| Some(t.timestamp_millis()))
            .ok_or_else(|| ApiError::invalid_param(name, "must be an ISO-8601 date or date-time")),
    }
}

/// Every SMS that arrived from an unknown number, pending or resolved (docs-site form).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-sms", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("startDate" = Option<String>, Query, description = "received at or after (ISO-8601)"),
           ("endDate" = Option<String>, Query, description = "received at or before (ISO-8601)"),
           ("status" = Option<String>, Query, description = "PENDING or RESOLVED"),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = UnrecognizedSmsPage), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<UnrecognizedSmsPage>> {
    ctx.require(Family::Sms, Op::Read)?;
    let page = PageRequest::parse(&params, store::sort_column)?;
    let resolved = params.resolution()?;
    let filter = SmsFilter {
        received_from: time_param(&params, "startDate")?,
        received_to: time_param(&params, "endDate")?,
        resolved,
        ..Default::default()
    };
    let (content, total) = service::docs_list(&state, &ctx, &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(UnrecognizedSmsPage {
        content,
        total_elements: total,
        total_pages: (total + page.size - 1) / page.size,
        page: page.page,
        size: page.size,
    }))
}

/// One SMS that arrived from an unknown number (docs-site form).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    responses((status = 200, body = Object, description = "{id, fromNumber, toNumber, body, receivedAt, status, resolvedBy, patientId}"),
              (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Sms, Op::Read)?;
    Ok(Json(service::docs_read(&state, &ctx, &path.2).await?))
}

/// Resolve an unmatched SMS: `{"patientId", "status": "RESOLVED"}` links it to the patient.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/unrecognized-sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    request_body = crate::api::schemas::common::Resolution,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_resolve(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Sms, Op::Update)?;
    Ok(Json(service::docs_resolve(&state, &ctx, &path.2, &body).await?))
}
