//! Formations: the designer configuration of an instance, read by version (`current`,
//! `draft` or a number) as bare arrays or single objects, exactly as Welkin returns them;
//! the draft is edited through the draft routes and published as a new version.
//! Welkin writes both `/formations/…` and `/formation/…`; both are served. The use cases
//! are `services::formations`; here are the routes and their answers.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiResult, ErrorItem};
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::services::formations as service;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// List the objects of a kind (`cdts`, `pdts`, `document-types`, `assessments`, `programs`,
/// `encounters`, `goal-templates`, `dictionaries`) as a bare array.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formations/{version}/{kind}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("version" = String, Path, description = "current, draft or a version number"),
           ("kind" = String, Path, description = "cdts, pdts, document-types, assessments, programs, encounters, goal-templates or dictionaries")),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Formations, Op::Read)?;
    Ok(Json(service::list(&state, &ctx, &path.2, &path.3).await?))
}

/// The same, at Welkin's singular `formation` spelling.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formation/{version}/{kind}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_singular(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String)>,
) -> ApiResult<Json<Vec<Value>>> {
    list(state, ctx, path).await
}

/// One object of a kind, by name.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formations/{version}/{kind}/{name}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Formations, Op::Read)?;
    Ok(Json(service::read(&state, &ctx, &path.2, &path.3, &path.4).await?))
}

/// The same, at the singular spelling.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formation/{version}/{kind}/{name}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_singular(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    read(state, ctx, path).await
}

/// The data type behind an assessment (its CDT), by the CDT's name.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formation/{version}/assessments/cdt/{cdtName}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("cdtName" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn assessment_cdt(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Formations, Op::Read)?;
    Ok(Json(service::assessment_cdt(&state, &ctx, &path.2, &path.3).await?))
}

/// The encounter disposition's data type.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formations/{version}/encounter-disposition", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = Object)),
    security(("bearer" = []))
)]
pub async fn disposition(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Formations, Op::Read)?;
    Ok(Json(service::disposition(&state, &ctx, &path.2).await?))
}

/// Profile data types of the current version (the docs site's form, without a version).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formation/pdts", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = Vec<Object>)),
    security(("bearer" = []))
)]
pub async fn pdts(State(state): State<AppState>, ctx: InstanceCaller) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Formations, Op::Read)?;
    Ok(Json(service::current_pdts(&state, &ctx).await?))
}

/// One profile data type of the current version.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/formation/pdts/{pdtName}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("pdtName" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn pdt(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Formations, Op::Read)?;
    Ok(Json(service::current_pdt(&state, &ctx, &path.2).await?))
}

/// Add an object to the draft (assessments, programs, encounter templates, document
/// types, dictionaries, and the other kinds).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/formations/{version}/{kind}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path, description = "draft"), ("kind" = String, Path)),
    request_body = Object,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Formations, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::create(&state, &ctx, &path.2, &path.3, body).await?)))
}

/// The same, at the singular spelling.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/formation/{version}/{kind}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path)),
    request_body = Object,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_singular(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String)>,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    create(state, ctx, path, body).await
}

/// Replace an object of the draft (its name comes from the path).
#[utoipa::path(
    put, path = "/{tenant}/{instance}/formations/{version}/{kind}/{name}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn replace(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Formations, Op::Update)?;
    Ok(Json(service::replace(&state, &ctx, &path.2, &path.3, &path.4, body).await?))
}

/// The same, at the singular spelling.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/formation/{version}/{kind}/{name}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn replace_singular(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    replace(state, ctx, path, body).await
}

/// Remove an object from the draft. Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/formations/{version}/{kind}/{name}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "Removed; empty body"), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Formations, Op::Delete)?;
    service::remove(&state, &ctx, &path.2, &path.3, &path.4).await?;
    Ok(StatusCode::OK)
}

/// The same, at the singular spelling.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/formation/{version}/{kind}/{name}", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path), ("kind" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "Removed; empty body"), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn remove_singular(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String, String)>,
) -> ApiResult<StatusCode> {
    remove(state, ctx, path).await
}

/// Replace the encounter disposition's data type in the draft.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/formations/{version}/encounter-disposition", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path), ("version" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn replace_disposition(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Formations, Op::Update)?;
    Ok(Json(service::replace_disposition(&state, &ctx, &path.2, body).await?))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub version: i64,
    pub published_at: String,
}

/// Publish the draft as the next version, which becomes `current` (an openwelkin extension).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/formations/draft/publish", tag = "Formations",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    responses((status = 201, body = Published), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn publish(State(state): State<AppState>, ctx: InstanceCaller) -> ApiResult<(StatusCode, Json<Published>)> {
    ctx.require(Family::Formations, Op::Update)?;
    let (version, published_at) = service::publish(&state, &ctx).await?;
    Ok((StatusCode::CREATED, Json(Published { version, published_at: crate::time::format_ms(published_at) })))
}
