//! Communication IDs, an openwelkin extension (Welkin documents no such resource):
//! `/{tenant}/{instance}/communication-ids[/{communicationId}]`. An instance's sending
//! identities per channel; outbound SMS go out from the SMS channel's default (the one
//! marked `default`, else the oldest). `default` in answers shows the effective default.
//! The use cases are `services::communication_ids`.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::communication_id::CHANNELS;
use crate::services::communication_ids as service;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

/// Add a communication ID (an openwelkin extension). The first of a channel becomes its default.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/communication-ids", tag = "Communication IDs",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body = crate::api::schemas::messaging::CommunicationIdCreate,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Communications, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::create(&state, &ctx, &body).await?)))
}

/// The instance's communication IDs, optionally of one `channel`, as a Spring page.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/communication-ids", tag = "Communication IDs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("channel" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Communications, Op::Read)?;
    let page = PageRequest::parse(&params, |_| None)?;
    let channel = params.text("channel").map(|c| c.to_uppercase());
    if let Some(c) = &channel {
        if !CHANNELS.contains(&c.as_str()) {
            return Err(ApiError::invalid_param("channel", format!("must be one of {}", CHANNELS.join(", "))));
        }
    }
    let (items, total) = service::list(&state, &ctx, channel.as_deref(), page.offset(), page.size).await?;
    Ok(Json(SpringPage::new(items, &page, total)))
}

/// Read a communication ID.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/communication-ids/{communicationId}", tag = "Communication IDs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("communicationId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Communications, Op::Read)?;
    Ok(Json(service::read(&state, &ctx, &path.2).await?))
}

/// Change a communication ID's `label` or make it the `default` of its channel.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/communication-ids/{communicationId}", tag = "Communication IDs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("communicationId" = String, Path)),
    request_body = crate::api::schemas::messaging::CommunicationIdUpdate,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Communications, Op::Update)?;
    Ok(Json(service::update(&state, &ctx, &path.2, &body).await?))
}

/// Remove a communication ID (200, empty). Messages already sent or scheduled keep their
/// `from` number.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/communication-ids/{communicationId}", tag = "Communication IDs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("communicationId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Communications, Op::Delete)?;
    service::delete(&state, &ctx, &path.2).await?;
    Ok(StatusCode::OK)
}
