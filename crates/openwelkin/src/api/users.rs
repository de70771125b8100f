//! Users: `/{tenant}/admin/users…` (tenant-level) and `/{tenant}/{instance}/users`.
//! Reads need the `users` read permission; writes also need the user-provisioning flag,
//! as Welkin's API clients do.

use super::body::JsonObject;
use super::caller::{Caller, InstanceCaller};
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{AdminFlag, Family, Op};
use crate::domain::user::{User, UserWrite, USER_STATES};
use crate::events::audit::{DataEvent, Operation};
use crate::store::audit::record_write;
use crate::store::users::{self, UserFilter};
use crate::store::{is_unique_violation, Tx};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

const COMPONENT: &str = "USER";

fn not_found() -> ApiError {
    ApiError::not_found("USER_NOT_FOUND", COMPONENT, "User doesn't exist", json!({}))
}

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

fn username_taken(username: &str) -> ApiError {
    ApiError::conflict(
        "USER_ALREADY_EXISTS",
        COMPONENT,
        format!("username {username:?} is taken"),
        json!({"username": username}),
    )
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
    let now_ms = state.clock.now_ms();
    let mut user = User::blank(crate::ids::new_id(), &crate::time::format_ms(now_ms), &ctx.actor().full_name());
    user.apply(&body, true).map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    let mut tx = state.db.begin().await?;
    if users::username_taken(&mut tx, &ctx.tenant.id, &user.username).await? {
        return Err(username_taken(&user.username));
    }
    users::insert(&mut tx, &ctx.tenant.id, &user, now_ms).await.map_err(|e| {
        if is_unique_violation(&e) {
            username_taken(&user.username)
        } else {
            e.into()
        }
    })?;
    audit(&mut tx, &ctx, Operation::Create, &user, now_ms).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Read a user by username, or by id with `type=ID`.
#[utoipa::path(
    get, path = "/{tenant}/admin/users/{userKey}", tag = "Users",
    params(("tenant" = String, Path), ("userKey" = String, Path, description = "Username, or id with type=ID"),
           ("type" = Option<String>, Query, description = "ID or USERNAME (default)")),
    responses((status = 200, body = User), (status = 404, body = Vec<ErrorItem>)),
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
    let user = state.db.user(&ctx.tenant.id, &key, by_id(&params)?).await?.ok_or_else(not_found)?;
    Ok(Json(user))
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
    change(&state, &ctx, &key, by_id(&params)?, |user| user.apply(&body, false)).await
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
    change(&state, &ctx, &key, by_id(&params)?, |user| {
        let mut fresh = User::blank(user.id.clone(), &user.created_at, &user.created_by_name);
        fresh.username = user.username.clone();
        fresh.territories = std::mem::take(&mut user.territories);
        fresh.roles = std::mem::take(&mut user.roles);
        fresh.policies = std::mem::take(&mut user.policies);
        fresh.application_access = user.application_access.clone();
        fresh.root_user = user.root_user;
        fresh.apply(&body, true)?;
        *user = fresh;
        Ok(())
    })
    .await
}

async fn change(
    state: &AppState,
    ctx: &Caller,
    key: &str,
    by_id: bool,
    edit: impl FnOnce(&mut User) -> Result<(), crate::domain::FieldError>,
) -> ApiResult<Json<User>> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut user = users::get_for_update(&mut tx, &ctx.tenant.id, key, by_id).await?.ok_or_else(not_found)?;
    edit(&mut user).map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    user.updated_at = crate::time::format_ms(now_ms);
    user.updated_by_name = ctx.actor().full_name();
    users::update(&mut tx, &ctx.tenant.id, &user, now_ms).await?;
    audit(&mut tx, ctx, Operation::Update, &user, now_ms).await?;
    tx.commit().await?;
    Ok(Json(user))
}

/// Delete a user. Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/admin/users/{userKey}", tag = "Users",
    params(("tenant" = String, Path), ("userKey" = String, Path), ("type" = Option<String>, Query)),
    responses((status = 200, description = "Deleted; empty body"), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
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
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let user = users::get_for_update(&mut tx, &ctx.tenant.id, &key, by_id(&params)?).await?.ok_or_else(not_found)?;
    users::delete(&mut tx, &ctx.tenant.id, &user.id).await?;
    audit(&mut tx, &ctx, Operation::Delete, &user, now_ms).await?;
    tx.commit().await?;
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
    let region = params.text("region").map(|r| format!("{}/{r}", ctx.instance.name));
    list_users(&state, &ctx, &params, region).await
}

async fn list_users(
    state: &AppState,
    ctx: &Caller,
    params: &Params,
    region: Option<String>,
) -> ApiResult<Json<MetaInfoPage<User>>> {
    ctx.require(Family::Users, Op::Read)?;
    let page = PageRequest::parse(params, users::sort_column)?;
    let user_state = params.text("userState").map(|s| s.to_ascii_uppercase());
    if let Some(s) = &user_state {
        if !USER_STATES.contains(&s.as_str()) {
            return Err(ApiError::invalid_param("userState", "must be ACTIVE, INACTIVE or PROVISIONED"));
        }
    }
    let filter =
        UserFilter { search: params.text("search"), user_state, seat_assigned: params.bool("seatAssigned")?, region };
    let (data, total) = state.db.users(&ctx.tenant.id, &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}

async fn audit(tx: &mut Tx, ctx: &Caller, operation: Operation, user: &User, now_ms: i64) -> ApiResult<()> {
    let record: Value = serde_json::to_value(user).map_err(ApiError::internal)?;
    let actor = ctx.actor();
    let event = DataEvent {
        tenant_id: &ctx.tenant.id,
        instance: None,
        entity: "USER",
        operation,
        actor: &actor,
        record_id: &user.id,
        patient_id: None,
        patient_full_name: None,
        cdt_name: None,
        record: &record,
        subtype: None,
    };
    record_write(tx, &event, now_ms).await?;
    Ok(())
}
