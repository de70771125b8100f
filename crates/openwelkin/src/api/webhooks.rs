//! Webhooks of an instance: the designer declares them, these routes (and the CLI)
//! activate them — inactive by default — and send a test payload. Activation answers the
//! webhook's signing secret, which receivers use to check `X-Openwelkin-Signature`. All
//! openwelkin extensions: Welkin configures webhooks in its admin UI. The use cases are
//! `services::webhooks`.

use super::caller::InstanceCaller;
use super::error::{ApiResult, ErrorItem};
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::AdminFlag;
use crate::services::webhooks as service;
use axum::extract::{Path, State};
use serde_json::Value;

/// The designer's webhooks with their state in this instance.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/webhooks", tag = "Webhooks",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn list(State(state): State<AppState>, ctx: InstanceCaller) -> ApiResult<Json<Vec<Value>>> {
    ctx.require_flag(AdminFlag::Webhooks)?;
    Ok(Json(service::list(&state, &ctx).await?))
}

/// Activate a webhook in this instance; answers its signing secret.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/webhooks/{name}/activate", tag = "Webhooks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn activate(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require_flag(AdminFlag::Webhooks)?;
    Ok(Json(service::set_active(&state, &ctx, &path.2, true).await?))
}

/// Deactivate a webhook in this instance; pending deliveries are given up.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/webhooks/{name}/deactivate", tag = "Webhooks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn deactivate(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require_flag(AdminFlag::Webhooks)?;
    Ok(Json(service::set_active(&state, &ctx, &path.2, false).await?))
}

/// Send the test payload (placeholder values, as Welkin's test button does) now and
/// answer what the receiver said.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/webhooks/{name}/test", tag = "Webhooks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn test(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require_flag(AdminFlag::Webhooks)?;
    Ok(Json(service::test(&state, &ctx, &path.2).await?))
}
