//! Users: `/{tenant}/admin/users…` (tenant-level) and `/{tenant}/{instance}/users`.
//! Reads need the `users` read permission; writes also need the user-provisioning flag,
//! as Welkin's API clients do. The use cases are `services::users`; here are the routes,
//! their parameters and answers.

use super::body::JsonObject;
use super::caller::{Caller, InstanceCaller};
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{AdminFlag, Family, Op};
use crate::domain::user::{User, UserWrite, USER_STATES};
use crate::services::users as service;
use crate::store::users::{self as store, UserFilter};
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// `type=ID` addresses a user by id; otherwise the segment is the username.
fn by_id(params: &Params) -> ApiResult<bool> {
    match params.get("type").map(str::to_ascii_uppercase).as_deref() {
        None | Some("") | Some("USERNAME") => Ok(false),
        Some("ID") => Ok(true),
        Some(_) => Err(ApiError::invalid_param("type", "must be ID or USERNAME")),
    }
}

fn require_write(ctx: &Caller, op: Op) -> ApiResult<()> {
    ctx.require(Family::Users, op)?;
    Ok(ctx.require_flag(AdminFlag::UserProvisioning)?)
}

/// Create a user (needs the user-provisioning flag).
#[utoipa::path(
    post, path = "/{tenant}/admin/users", tag = "Users",
    params(("tenant" = String, Path)),
    request_body = UserWrite,
    responses((status = 201, body = User), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: Caller,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<User>)> {
    require_write(&ctx, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::create(&state, &ctx, &body).await?)))
}

/// Read a user by username, or by id with `type=ID`.
#[utoipa::path(
    get, path = "/{tenant}/admin/users/{userKey}", tag = "Users",
    params(("tenant" = String, Path), ("userKey" = String, Path, description = "Username, or id with type=ID"),
           ("type" = Option<String>, Query, description = "ID or USERNAME (default)")),
    responses((status = 200, body = User), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: Caller,
    Path(path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<User>> {
    let key = path.1;
    ctx.require(Family::Users, Op::Read)?;
    Ok(Json(service::read(&state, &ctx, &key, by_id(&params)?).await?))
}

/// Update some fields of a user.
#[utoipa::path(
    patch, path = "/{tenant}/admin/users/{userKey}", tag = "Users",
    params(("tenant" = String, Path), ("userKey" = String, Path, description = "Username, or id with type=ID"),
           ("type" = Option<String>, Query)),
    request_body = UserWrite,
    responses((status = 200, body = User), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn patch(
    State(state): State<AppState>,
    ctx: Caller,
    Path(path): Path<(String, String)>,
    params: Params,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<User>> {
    let key = path.1;
    require_write(&ctx, Op::Update)?;
    Ok(Json(service::update(&state, &ctx, &key, by_id(&params)?, &body).await?))
}

/// Replace a user's writable fields (username and email required).
#[utoipa::path(
    put, path = "/{tenant}/admin/users/{userKey}", tag = "Users",
    params(("tenant" = String, Path), ("userKey" = String, Path), ("type" = Option<String>, Query)),
    request_body = UserWrite,
    responses((status = 200, body = User), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn replace(
    State(state): State<AppState>,
    ctx: Caller,
    Path(path): Path<(String, String)>,
    params: Params,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<User>> {
    let key = path.1;
    require_write(&ctx, Op::Update)?;
    Ok(Json(service::replace(&state, &ctx, &key, by_id(&params)?, &body).await?))
}

/// Delete a user. Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/admin/users/{userKey}", tag = "Users",
    params(("tenant" = String, Path), ("userKey" = String, Path), ("type" = Option<String>, Query)),
    responses((status = 200, description = "Deleted; empty body"), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: Caller,
    Path(path): Path<(String, String)>,
    params: Params,
) -> ApiResult<StatusCode> {
    let key = path.1;
    require_write(&ctx, Op::Delete)?;
    service::delete(&state, &ctx, &key, by_id(&params)?).await?;
    Ok(StatusCode::OK)
}

/// List users of the tenant (`{data, metaInfo}`).
#[utoipa::path(
    get, path = "/{tenant}/admin/users", tag = "Users",
    params(("tenant" = String, Path),
           ("search" = Option<String>, Query, description = "Matches username, email, first or last name"),
           ("seatAssigned" = Option<bool>, Query), ("userState" = Option<String>, Query, description = "ACTIVE, INACTIVE or PROVISIONED"),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = MetaInfoPage<User>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, ctx: Caller, params: Params) -> ApiResult<Json<MetaInfoPage<User>>> {
    ctx.require(Family::Users, Op::Read)?;
    list_users(&state, &ctx, &params, None).await
}

/// List users with access to an instance, optionally by region (`{data, metaInfo}`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/users", tag = "Users",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("region" = Option<String>, Query, description = "Users with a territory in this region"),
           ("search" = Option<String>, Query), ("seatAssigned" = Option<bool>, Query), ("userState" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = MetaInfoPage<User>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_in_instance(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<User>>> {
    ctx.require(Family::Users, Op::Read)?;
    let region = params.text("region").map(|r| format!("{}/{r}", ctx.instance.name));
    list_users(&state, &ctx, &params, region).await
}

async fn list_users(
    state: &AppState,
    ctx: &Caller,
    params: &Params,
    region: Option<String>,
) -> ApiResult<Json<MetaInfoPage<User>>> {
    let page = PageRequest::parse(params, store::sort_column)?;
    let user_state = params.text("userState").map(|s| s.to_ascii_uppercase());
    if let Some(s) = &user_state {
        if !USER_STATES.contains(&s.as_str()) {
            return Err(ApiError::invalid_param("userState", "must be ACTIVE, INACTIVE or PROVISIONED"));
        }
    }
    let filter =
        UserFilter { search: params.text("search"), user_state, seat_assigned: params.bool("seatAssigned")?, region };
    let (data, total) = service::list(state, ctx, &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}
