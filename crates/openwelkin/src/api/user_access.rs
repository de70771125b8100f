//! Users' access, tenant-level: `/{tenant}/admin/application-accesses/{userId}`,
//! `/{tenant}/admin/user-permissions/{userId}` and `/{tenant}/admin/user-territories/{userId}`.
//! A PUT creates or replaces the whole set and is kept in the stored user, so
//! `GET /admin/users/...` shows it too. Reads need the `users` read permission; the
//! application access and permissions PUTs need `users` update and the user-provisioning
//! flag, the territories PUT the user-regions flag.

use super::body::JsonObject;
use super::caller::Caller;
use super::error::{ApiError, ApiResult, ErrorItem};
use crate::app::AppState;
use crate::auth::policy::{AdminFlag, Family, Op};
use crate::domain::user::{ApplicationAccess, User};
use crate::domain::user_access::{
    self, AppAccessWrite, Catalog, KnownInstance, PermissionsWrite, TerritoriesWrite, UserPermissions, UserTerritories,
};
use crate::domain::FieldError;
use crate::events::audit::{DataEvent, Operation};
use crate::store::audit::record_write;
use crate::store::users;
use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;

const COMPONENT: &str = "USER";
/// The webhook event of every access change (catalogue §1.11).
const EVENT: &str = "USER_ACCESS_UPDATED";

fn not_found() -> ApiError {
    ApiError::not_found("USER_NOT_FOUND", COMPONENT, "User doesn't exist", json!({}))
}

async fn user(state: &AppState, ctx: &Caller, id: &str) -> ApiResult<User> {
    ctx.require(Family::Users, Op::Read)?;
    state.db.user(&ctx.tenant.id, id, true).await?.ok_or_else(not_found)
}

/// Roles, security policies and regions of every instance's current designer.
async fn catalogs(state: &AppState, ctx: &Caller) -> ApiResult<HashMap<String, Catalog>> {
    let mut out = HashMap::new();
    for instance in state.db.instances(&ctx.tenant.id).await? {
        let designer = state.db.current_formation(&instance.id).await?.designer;
        out.insert(
            instance.name,
            Catalog {
                roles: designer.role_list().into_iter().map(|r| r.name).collect(),
                policies: designer.security_policy_list().into_iter().map(|p| p.name).collect(),
                regions: designer.region_list(),
            },
        );
    }
    Ok(out)
}

/// Loads the user in a write transaction, applies `edit`, saves and audits; returns the
/// user as saved.
async fn change(
    state: &AppState,
    ctx: &Caller,
    id: &str,
    entity: &'static str,
    edit: impl FnOnce(&mut User, &str) -> Result<(), FieldError>,
    view: impl FnOnce(&User) -> serde_json::Value,
) -> ApiResult<User> {
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let mut tx = state.db.begin().await?;
    let mut u = users::get_for_update(&mut tx, &ctx.tenant.id, id, true).await?.ok_or_else(not_found)?;
    edit(&mut u, &now).map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    u.updated_at = now;
    u.updated_by_name = ctx.actor().full_name();
    users::update(&mut tx, &ctx.tenant.id, &u, now_ms).await?;
    let record = view(&u);
    let actor = ctx.actor();
    let event = DataEvent {
        tenant_id: &ctx.tenant.id,
        instance: None,
        entity,
        operation: Operation::Update,
        actor: &actor,
        record_id: &u.id,
        patient_id: None,
        patient_full_name: None,
        cdt_name: None,
        record: &record,
        subtype: Some(EVENT),
    };
    record_write(&mut tx, &event, now_ms).await?;
    tx.commit().await?;
    Ok(u)
}

fn value(v: impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).expect("access views serialize")
}

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
    Ok(Json(user(&state, &ctx, &path.1).await?.application_access))
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
    let instances: Vec<KnownInstance> = state
        .db
        .instances(&ctx.tenant.id)
        .await?
        .into_iter()
        .map(|i| KnownInstance { id: i.id, name: i.name, description: i.description })
        .collect();
    let u = change(
        &state,
        &ctx,
        &path.1,
        "USER_APP_ACCESS",
        |u, now| user_access::apply_app_access(u, &body, &instances, now),
        |u| value(&u.application_access),
    )
    .await?;
    Ok(Json(u.application_access))
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
    Ok(Json(user_access::permissions_view(&user(&state, &ctx, &path.1).await?)))
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
    let catalogs = catalogs(&state, &ctx).await?;
    let u = change(
        &state,
        &ctx,
        &path.1,
        "USER_PERMISSIONS",
        |u, now| user_access::apply_permissions(u, &body, &catalogs, now),
        |u| value(user_access::permissions_view(u)),
    )
    .await?;
    Ok(Json(user_access::permissions_view(&u)))
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
    Ok(Json(user_access::territories_view(&user(&state, &ctx, &path.1).await?)))
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
    let catalogs = catalogs(&state, &ctx).await?;
    let actor_id = ctx.actor().id;
    let u = change(
        &state,
        &ctx,
        &path.1,
        "USER_TERRITORIES",
        |u, now| user_access::apply_territories(u, &body, &catalogs, &actor_id, now),
        |u| value(user_access::territories_view(u)),
    )
    .await?;
    Ok(Json(user_access::territories_view(&u)))
}
