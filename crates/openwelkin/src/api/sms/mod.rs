//! SMS: a patient's messages (`/{tenant}/{instance}/patients/{patientId}/sms[/{smsId}]`:
//! send now or scheduled, read, list with the V8 filters as a Spring page, update by the
//! rules of `domain::sms`, delete while scheduled), unmatched inbound messages at the V8
//! paths (`/unrecognized-patients/sms[/{smsId}]`, GET/PUT/DELETE) and the docs site's
//! (`/unrecognized-sms[/{smsId}]`, GET/PATCH) in `unrecognized.rs`, and the provider side
//! (openwelkin extensions) in `provider.rs`: the inbound webhook and delivery reports in
//! Twilio's form fields, and the local outbox.
//!
//! The use cases are `services::sms`; here are the routes, their parameters and answers.
//! The handlers of the two other files are re-exported, so `api_router` names them all
//! `sms::…`.

mod provider;
mod unrecognized;

pub use provider::*;
pub use unrecognized::*;

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::sms::{DIRECTIONS, STATUSES};
use crate::services::patients;
use crate::services::sms::{self as service, messages};
use crate::store::sms::{self as store, SmsFilter, SmsScope};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

/// Send an SMS to the patient now (`sendNow: true`, the default) or at `scheduledAt`.
/// It goes out from the instance's default SMS communication ID (or `from`, one of them).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/sms", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body = crate::api::schemas::messaging::SmsCreate,
    responses((status = 201, body = Object, description = "The SMS: SENT or FAILED when sent now, SCHEDULED otherwise"),
              (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Sms, Op::Create)?;
    let s = service::send::create(&state, &ctx, &path.2, &body).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// One of the patient's SMS.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("smsId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>, description = "SMS_NOT_FOUND {id}")),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Sms, Op::Read)?;
    Ok(Json(messages::read(&state, &ctx, &path.2, &path.3).await?))
}

/// The list filters of the V8 reference.
fn list_filter(params: &Params) -> ApiResult<SmsFilter> {
    let direction = params.text("direction").map(|d| d.to_uppercase());
    if let Some(d) = &direction {
        if !DIRECTIONS.contains(&d.as_str()) {
            return Err(ApiError::invalid_param("direction", "must be IN or OUT"));
        }
    }
    let statuses = match params.list("status").filter(|l| !l.is_empty()) {
        Some(list) => {
            let list: Vec<String> = list.iter().map(|s| s.to_uppercase()).collect();
            if let Some(bad) = list.iter().find(|s| !STATUSES.contains(&s.as_str())) {
                return Err(ApiError::invalid_param(
                    "status",
                    format!("{bad:?} is not one of {}", STATUSES.join(", ")),
                ));
            }
            Some(list)
        }
        None => None,
    };
    Ok(SmsFilter {
        search: params.text("search"),
        sender: params.text("sender"),
        receiver: params.text("receiver"),
        direction,
        starred: params.bool("starred")?,
        from: phone_param(params, "from"),
        to: phone_param(params, "to"),
        phone: phone_param(params, "phone"),
        sender_name: params.text("senderName"),
        receiver_name: params.text("receiverName"),
        statuses,
        ..Default::default()
    })
}

/// A phone number from a query string, where an unencoded `+` arrives as a space.
fn phone_param(params: &Params, name: &str) -> Option<String> {
    let raw: String = params.get(name)?.chars().filter(|c| !c.is_whitespace()).collect();
    if raw.is_empty() {
        None
    } else if raw.chars().all(|c| c.is_ascii_digit()) {
        Some(format!("+{raw}"))
    } else {
        Some(raw)
    }
}

/// A Spring page of the messages `scope` holds, by the page and filter parameters.
async fn page_of(
    state: &AppState,
    ctx: &InstanceCaller,
    scope: SmsScope,
    params: &Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    let page = PageRequest::parse(params, store::sort_column)?;
    let filter = list_filter(params)?;
    let (rows, total) = service::list(state, ctx, scope, &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(SpringPage::new(rows, &page, total)))
}

/// The patient's SMS (both directions) as a Spring page.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/sms", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query),
           ("sort" = Option<String>, Query, description = "field,asc|desc: date, createdAt, updatedAt, scheduledAt, sentAt, receivedAt, status, direction, starred, from, to, senderName, receiverName, message"),
           ("search" = Option<String>, Query, description = "in the message text"),
           ("sender" = Option<String>, Query), ("receiver" = Option<String>, Query),
           ("direction" = Option<String>, Query, description = "IN or OUT"), ("starred" = Option<bool>, Query),
           ("from" = Option<String>, Query), ("to" = Option<String>, Query),
           ("phone" = Option<String>, Query, description = "from or to"),
           ("senderName" = Option<String>, Query), ("receiverName" = Option<String>, Query),
           ("status" = Option<String>, Query, description = "comma list of SCHEDULED, ACCEPTED, SENT, RECEIVED, DELIVERED, UNDELIVERED, FAILED, UNRECOGNISED")),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Sms, Op::Read)?;
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    page_of(&state, &ctx, SmsScope::Patient(p.id), &params).await
}

/// Update one of the patient's SMS. Sent outbound messages take only `starred`; inbound
/// ones `starred` and `sender` (another patient, to reassign); scheduled ones `message`,
/// `sendNow`, `scheduledAt`, `receiver`, `from`, `starred` (`sendNow: true` sends it now).
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("smsId" = String, Path)),
    request_body = crate::api::schemas::messaging::SmsUpdate,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Sms, Op::Update)?;
    Ok(Json(messages::update(&state, &ctx, &path.2, &path.3, &body).await?))
}

/// The same update with PATCH.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("smsId" = String, Path)),
    request_body = crate::api::schemas::messaging::SmsUpdate,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_patch(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, ctx, path, body).await
}

/// The same update with POST, as the V8 reference's examples send it.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("smsId" = String, Path)),
    request_body = crate::api::schemas::messaging::SmsUpdate,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_post(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, ctx, path, body).await
}

/// Delete one of the patient's SMS; only `SCHEDULED` (or `UNRECOGNISED`) ones (200, empty).
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("smsId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>),
              (status = 409, body = Vec<ErrorItem>, description = "SMS_CANNOT_BE_DELETED: the SMS is neither SCHEDULED nor UNRECOGNISED")),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Sms, Op::Delete)?;
    messages::delete(&state, &ctx, &path.2, &path.3).await?;
    Ok(StatusCode::OK)
}
