//! A user's access, tenant data kept in the stored user: application access, roles and
//! security policies (permissions), regions and territories. Each is read whole and
//! replaced whole, checked against the tenant's instances and their current designers.
//! Every change is audited with the event `USER_ACCESS_UPDATED`.

use super::error::ServiceResult;
use super::scope::{Scope, Write};
use super::users::{self, not_found, COMPONENT};
use crate::app::AppState;
use crate::domain::user::{ApplicationAccess, User};
use crate::domain::user_access::{self, Catalog, KnownInstance, UserPermissions, UserTerritories};
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::error::ServiceError;
use crate::store::users as store;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The webhook event of every access change (catalogue §1.11).
const EVENT: &str = "USER_ACCESS_UPDATED";

/// Roles, security policies and regions of every instance's current designer.
async fn catalogs(state: &AppState, ctx: &Scope) -> ServiceResult<HashMap<String, Catalog>> {
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
    ctx: &Scope,
    id: &str,
    entity: &'static str,
    edit: impl FnOnce(&mut User, &str) -> Result<(), FieldError>,
    view: impl FnOnce(&User) -> Value,
) -> ServiceResult<User> {
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let mut tx = state.db.begin().await?;
    let mut u = store::get_for_update(&mut tx, &ctx.tenant.id, id, true).await?.ok_or_else(not_found)?;
    edit(&mut u, &now).map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    u.updated_at = now;
    u.updated_by_name = ctx.actor().full_name();
    store::update(&mut tx, &ctx.tenant.id, &u, now_ms).await?;
    let record = view(&u);
    ctx.record(
        &mut tx,
        Write { subtype: Some(EVENT), ..Write::new(entity, Operation::Update, &u.id, &record) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(u)
}

fn value(v: impl Serialize) -> Value {
    serde_json::to_value(v).expect("access views serialize")
}

/// The application access of the user `id`.
pub async fn app_access(state: &AppState, ctx: &Scope, id: &str) -> ServiceResult<ApplicationAccess> {
    Ok(users::read(state, ctx, id, true).await?.application_access)
}

/// Replaces the application access of the user `id`; every instance named must exist in
/// the tenant.
pub async fn put_app_access(
    state: &AppState,
    ctx: &Scope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<ApplicationAccess> {
    let instances: Vec<KnownInstance> = state
        .db
        .instances(&ctx.tenant.id)
        .await?
        .into_iter()
        .map(|i| KnownInstance { id: i.id, name: i.name, description: i.description })
        .collect();
    let u = change(
        state,
        ctx,
        id,
        "USER_APP_ACCESS",
        |u, now| user_access::apply_app_access(u, body, &instances, now),
        |u| value(&u.application_access),
    )
    .await?;
    Ok(u.application_access)
}

/// The roles and security policies of the user `id` in every instance.
pub async fn permissions(state: &AppState, ctx: &Scope, id: &str) -> ServiceResult<UserPermissions> {
    Ok(user_access::permissions_view(&users::read(state, ctx, id, true).await?))
}

/// Replaces the roles and security policies of the user `id`; each must exist in the
/// current designer of its instance.
pub async fn put_permissions(
    state: &AppState,
    ctx: &Scope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<UserPermissions> {
    let catalogs = catalogs(state, ctx).await?;
    let u = change(
        state,
        ctx,
        id,
        "USER_PERMISSIONS",
        |u, now| user_access::apply_permissions(u, body, &catalogs, now),
        |u| value(user_access::permissions_view(u)),
    )
    .await?;
    Ok(user_access::permissions_view(&u))
}

/// The regions and territories of the user `id` in every instance.
pub async fn territories(state: &AppState, ctx: &Scope, id: &str) -> ServiceResult<UserTerritories> {
    Ok(user_access::territories_view(&users::read(state, ctx, id, true).await?))
}

/// Replaces the regions and territories of the user `id`; each region must exist in the
/// current designer of its instance, each territory in its region.
pub async fn put_territories(
    state: &AppState,
    ctx: &Scope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<UserTerritories> {
    let catalogs = catalogs(state, ctx).await?;
    let actor_id = ctx.actor().id;
    let u = change(
        state,
        ctx,
        id,
        "USER_TERRITORIES",
        |u, now| user_access::apply_territories(u, body, &catalogs, &actor_id, now),
        |u| value(user_access::territories_view(u)),
    )
    .await?;
    Ok(user_access::territories_view(&u))
}
