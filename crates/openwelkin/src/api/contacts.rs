//! Contacts of a patient: `/{tenant}/{instance}/patients/{patientId}/contacts…`.
//! Create and update answer 200, as recorded; there is no delete (deactivate with
//! `active: false`). The use cases are `services::contacts`.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiResult, ErrorItem};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::services::contacts as service;
use crate::services::patients;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Create a contact (answers 200, as recorded).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/contacts", tag = "Contacts",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body = crate::api::schemas::care::ContactCreate,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Contacts, Op::Create)?;
    Ok(Json(service::create(&state, &ctx, &path.2, &body).await?))
}

/// Update some fields of a contact.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/contacts/{contactId}", tag = "Contacts",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("contactId" = String, Path)),
    request_body = crate::api::schemas::care::ContactUpdate,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Contacts, Op::Update)?;
    Ok(Json(service::update(&state, &ctx, &path.2, &path.3, &body).await?))
}

/// Read a contact.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/contacts/{contactId}", tag = "Contacts",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("contactId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Contacts, Op::Read)?;
    Ok(Json(service::read(&state, &ctx, &path.2, &path.3).await?))
}

/// `{data:[contact]}`.
#[derive(Serialize, ToSchema)]
pub struct ContactList {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<Value>,
}

/// A patient's contacts, optionally by profile record and active flag.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/contacts", tag = "Contacts",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("pdtRecordId" = Option<String>, Query), ("active" = Option<bool>, Query)),
    responses((status = 200, body = ContactList), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<ContactList>> {
    ctx.require(Family::Contacts, Op::Read)?;
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    let data = service::list(&state, &ctx, &p, params.text("pdtRecordId").as_deref(), params.bool("active")?).await?;
    Ok(Json(ContactList { data }))
}

/// The same list at the path with a trailing slash, as the reference writes it.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/contacts/", tag = "Contacts",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("pdtRecordId" = Option<String>, Query), ("active" = Option<bool>, Query)),
    responses((status = 200, body = ContactList), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_slash(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<ContactList>> {
    list(state, ctx, path, params).await
}
