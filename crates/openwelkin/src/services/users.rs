//! Users of a tenant: create (a username is unique in the tenant), read by username or
//! id, partial update, replace, delete and list. Audited as `USER` (`USER_CREATED`, …),
//! tenant data, in no instance.

use super::error::{ServiceError, ServiceResult};
use super::scope::{Scope, Write};
use crate::app::AppState;
use crate::domain::user::User;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::query::SortColumn;
use crate::store::users::{self as store, UserFilter};
use crate::store::{is_unique_violation, Tx};
use serde_json::{json, Map, Value};

pub const COMPONENT: &str = "USER";

pub fn not_found() -> ServiceError {
    ServiceError::not_found("USER_NOT_FOUND", COMPONENT, "User doesn't exist", json!({}))
}

fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

fn username_taken(username: &str) -> ServiceError {
    ServiceError::conflict(
        "USER_ALREADY_EXISTS",
        COMPONENT,
        format!("username {username:?} is taken"),
        json!({"username": username}),
    )
}

/// Creates a user from a create body.
pub async fn create(state: &AppState, ctx: &Scope, body: &Map<String, Value>) -> ServiceResult<User> {
    let now_ms = state.clock.now_ms();
    let mut user = User::blank(crate::ids::record_id(), &crate::time::format_ms(now_ms), &ctx.actor().full_name());
    user.apply(body, true).map_err(invalid)?;
    let mut tx = state.db.begin().await?;
    if store::username_taken(&mut tx, &ctx.tenant.id, &user.username).await? {
        return Err(username_taken(&user.username));
    }
    store::insert(&mut tx, &ctx.tenant.id, &user, now_ms).await.map_err(|e| {
        if is_unique_violation(&e) {
            username_taken(&user.username)
        } else {
            e.into()
        }
    })?;
    audit(&mut tx, ctx, Operation::Create, &user, now_ms).await?;
    tx.commit().await?;
    Ok(user)
}

/// The user `key`: a username, or an id if `by_id`.
pub async fn read(state: &AppState, ctx: &Scope, key: &str, by_id: bool) -> ServiceResult<User> {
    state.db.user(&ctx.tenant.id, key, by_id).await?.ok_or_else(not_found)
}

/// Changes the fields of the user `key` that the body names.
pub async fn update(
    state: &AppState,
    ctx: &Scope,
    key: &str,
    by_id: bool,
    body: &Map<String, Value>,
) -> ServiceResult<User> {
    change(state, ctx, key, by_id, |user| user.apply(body, false)).await
}

/// Replaces the writable fields of the user `key` (username and email required); the
/// access (territories, roles, policies, application access) is kept.
pub async fn replace(
    state: &AppState,
    ctx: &Scope,
    key: &str,
    by_id: bool,
    body: &Map<String, Value>,
) -> ServiceResult<User> {
    change(state, ctx, key, by_id, |user| {
        let mut fresh = User::blank(user.id.clone(), &user.created_at, &user.created_by_name);
        fresh.username = user.username.clone();
        fresh.territories = std::mem::take(&mut user.territories);
        fresh.roles = std::mem::take(&mut user.roles);
        fresh.policies = std::mem::take(&mut user.policies);
        fresh.application_access = user.application_access.clone();
        fresh.root_user = user.root_user;
        fresh.apply(body, true)?;
        *user = fresh;
        Ok(())
    })
    .await
}

async fn change(
    state: &AppState,
    ctx: &Scope,
    key: &str,
    by_id: bool,
    edit: impl FnOnce(&mut User) -> Result<(), FieldError>,
) -> ServiceResult<User> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut user = store::get_for_update(&mut tx, &ctx.tenant.id, key, by_id).await?.ok_or_else(not_found)?;
    edit(&mut user).map_err(invalid)?;
    user.updated_at = crate::time::format_ms(now_ms);
    user.updated_by_name = ctx.actor().full_name();
    store::update(&mut tx, &ctx.tenant.id, &user, now_ms).await?;
    audit(&mut tx, ctx, Operation::Update, &user, now_ms).await?;
    tx.commit().await?;
    Ok(user)
}

/// Deletes the user `key`.
pub async fn delete(state: &AppState, ctx: &Scope, key: &str, by_id: bool) -> ServiceResult<()> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let user = store::get_for_update(&mut tx, &ctx.tenant.id, key, by_id).await?.ok_or_else(not_found)?;
    store::delete(&mut tx, &ctx.tenant.id, &user.id).await?;
    audit(&mut tx, ctx, Operation::Delete, &user, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// One page of the users `filter` selects, and how many it selects in all.
pub async fn list(
    state: &AppState,
    ctx: &Scope,
    filter: &UserFilter,
    sorts: &[SortColumn],
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<User>, i64)> {
    Ok(state.db.users(&ctx.tenant.id, filter, sorts, offset, size).await?)
}

async fn audit(tx: &mut Tx, ctx: &Scope, operation: Operation, user: &User, now_ms: i64) -> ServiceResult<()> {
    let record: Value = serde_json::to_value(user).map_err(ServiceError::internal)?;
    ctx.record(tx, Write::new("USER", operation, &user.id, &record), now_ms).await
}
