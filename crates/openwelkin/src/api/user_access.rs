//! Users' access, tenant-level: `/{tenant}/admin/application-accesses/{userId}`,
//! `/{tenant}/admin/user-permissions/{userId}` and `/{tenant}/admin/user-territories/{userId}`.
//! A PUT creates or replaces the whole set and is kept in the stored user, so
//! `GET /admin/users/...` shows it too. Reads need the `users` read permission; the
//! application access and permissions PUTs need `users` update and the user-provisioning
//! flag, the territories PUT the user-regions flag. The use cases are
//! `services::user_access`; here are the routes and their answers.

use super::body::JsonObject;
use super::caller::Caller;
use super::error::{ApiResult, ErrorItem};
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{AdminFlag, Family, Op};
use crate::domain::user::ApplicationAccess;
use crate::domain::user_access::{
    AppAccessWrite, PermissionsWrite, TerritoriesWrite, UserPermissions, UserTerritories,
};
use crate::services::user_access as service;
use axum::extract::{Path, State};

/// A user's application access: admin portal, security audit, and per instance the care
/// portal, designer and data audit.
#[utoipa::path(
    get, path = "/{tenant}/admin/application-accesses/{userId}", tag = "User access",
    params(("tenant" = String, Path), ("userId" = String, Path)),
    responses((status = 200, body = ApplicationAccess), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_app_access(
    State(state): State<AppState>,
    ctx: Caller,
    Path(path): Path<(String, String)>,
) -> ApiResult<Json<ApplicationAccess>> {
    ctx.require(Family::Users, Op::Read)?;
    Ok(Json(service::app_access(&state, &ctx, &path.1).await?))
}

/// Create or replace a user's application access. Every instance named must exist in the
/// tenant.
#[utoipa::path(
    put, path = "/{tenant}/admin/application-accesses/{userId}", tag = "User access",
    params(("tenant" = String, Path), ("userId" = String, Path)),
    request_body = AppAccessWrite,
    responses((status = 200, body = ApplicationAccess), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn put_app_access(
    State(state): State<AppState>,
    ctx: Caller,
    Path(path): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<ApplicationAccess>> {
    ctx.require(Family::Users, Op::Update)?;
    ctx.require_flag(AdminFlag::UserProvisioning)?;
    Ok(Json(service::put_app_access(&state, &ctx, &path.1, &body).await?))
}

/// A user's roles and security policies in every instance.
#[utoipa::path(
    get, path = "/{tenant}/admin/user-permissions/{userId}", tag = "User access",
    params(("tenant" = String, Path), ("userId" = String, Path)),
    responses((status = 200, body = UserPermissions), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_permissions(
    State(state): State<AppState>,
    ctx: Caller,
    Path(path): Path<(String, String)>,
) -> ApiResult<Json<UserPermissions>> {
    ctx.require(Family::Users, Op::Read)?;
    Ok(Json(service::permissions(&state, &ctx, &path.1).await?))
}

/// Create or replace a user's roles and security policies. Each must exist in the current
/// designer of its instance; one role per instance is primary (the first, unless one is
/// flagged).
#[utoipa::path(
    put, path = "/{tenant}/admin/user-permissions/{userId}", tag = "User access",
    params(("tenant" = String, Path), ("userId" = String, Path)),
    request_body = PermissionsWrite,
    responses((status = 200, body = UserPermissions), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn put_permissions(
    State(state): State<AppState>,
    ctx: Caller,
    Path(path): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<UserPermissions>> {
    ctx.require(Family::Users, Op::Update)?;
    ctx.require_flag(AdminFlag::UserProvisioning)?;
    Ok(Json(service::put_permissions(&state, &ctx, &path.1, &body).await?))
}

/// A user's regions and territories in every instance.
#[utoipa::path(
    get, path = "/{tenant}/admin/user-territories/{userId}", tag = "User access",
    params(("tenant" = String, Path), ("userId" = String, Path)),
    responses((status = 200, body = UserTerritories), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_territories(
    State(state): State<AppState>,
    ctx: Caller,
    Path(path): Path<(String, String)>,
) -> ApiResult<Json<UserTerritories>> {
    ctx.require(Family::Users, Op::Read)?;
    Ok(Json(service::territories(&state, &ctx, &path.1).await?))
}

/// Create or replace a user's regions and territories (needs the user-regions flag). Each
/// region must exist in the current designer of its instance, each territory in its
/// region.
#[utoipa::path(
    put, path = "/{tenant}/admin/user-territories/{userId}", tag = "User access",
    params(("tenant" = String, Path), ("userId" = String, Path)),
    request_body = TerritoriesWrite,
    responses((status = 200, body = UserTerritories), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn put_territories(
    State(state): State<AppState>,
    ctx: Caller,
    Path(path): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<UserTerritories>> {
    ctx.require_flag(AdminFlag::UserRegions)?;
    Ok(Json(service::put_territories(&state, &ctx, &path.1, &body).await?))
}
