//! Dictionary records: `/{tenant}/{instance}/dictionaries/{name}[/{recordId}]`. The
//! dictionary must be declared in the current formation, or be one of Welkin's built-ins:
//! `timezone` (fixed: the IANA zones, read-only), `cpt` and `icd-10` (empty, fillable). The use cases are
//! `services::dictionaries`.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::cdts::date_param;
use super::error::{ApiResult, ErrorItem};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::services::dictionaries::{self as service, DictionaryRecords};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

/// A dictionary's records, optionally with deleted ones and by `updatedAt`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/dictionaries/{dictionaryName}", tag = "Dictionaries",
    params(("tenant" = String, Path), ("instance" = String, Path), ("dictionaryName" = String, Path),
           ("dateStart" = Option<String>, Query), ("dateEnd" = Option<String>, Query), ("showDeleted" = Option<bool>, Query)),
    responses((status = 200, body = DictionaryRecords), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<DictionaryRecords>> {
    ctx.require(Family::Dictionaries, Op::Read)?;
    service::fields_of(&state, &ctx, &path.2).await?;
    let show_deleted = params.bool("showDeleted")?.unwrap_or(false);
    let (from, to) = (date_param(&params, "dateStart")?, date_param(&params, "dateEnd")?);
    Ok(Json(service::list(&state, &ctx, &path.2, show_deleted, from, to).await?))
}

/// One record of a dictionary.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/dictionaries/{dictionaryName}/{recordId}", tag = "Dictionaries",
    params(("tenant" = String, Path), ("instance" = String, Path), ("dictionaryName" = String, Path), ("recordId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Dictionaries, Op::Read)?;
    Ok(Json(service::read(&state, &ctx, &path.2, &path.3).await?))
}

/// Add records: `{records:[{values:{…}}]}`. Answers 201 with the dictionary.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/dictionaries/{dictionaryName}", tag = "Dictionaries",
    params(("tenant" = String, Path), ("instance" = String, Path), ("dictionaryName" = String, Path)),
    request_body = crate::api::schemas::care::DictionaryRecords,
    responses((status = 201, body = DictionaryRecords), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn add(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<DictionaryRecords>)> {
    ctx.require(Family::Dictionaries, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::add(&state, &ctx, &path.2, &body).await?)))
}

/// Replace every record of a dictionary (the old ones are removed for good). Answers 201.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/dictionaries/{dictionaryName}", tag = "Dictionaries",
    params(("tenant" = String, Path), ("instance" = String, Path), ("dictionaryName" = String, Path)),
    request_body = crate::api::schemas::care::DictionaryRecords,
    responses((status = 201, body = DictionaryRecords), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn replace_all(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<DictionaryRecords>)> {
    ctx.require(Family::Dictionaries, Op::Update)?;
    ctx.require(Family::Dictionaries, Op::Delete)?;
    Ok((StatusCode::CREATED, Json(service::replace_all(&state, &ctx, &path.2, &body).await?)))
}

/// Change one record's values: `{values:{…}}`.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/dictionaries/{dictionaryName}/{recordId}", tag = "Dictionaries",
    params(("tenant" = String, Path), ("instance" = String, Path), ("dictionaryName" = String, Path), ("recordId" = String, Path)),
    request_body = crate::api::schemas::care::DictionaryRecordWrite,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Dictionaries, Op::Update)?;
    Ok(Json(service::update(&state, &ctx, &path.2, &path.3, body).await?))
}

/// Delete a record softly: it stays readable with `deleted: true` (and `showDeleted`).
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/dictionaries/{dictionaryName}/{recordId}", tag = "Dictionaries",
    params(("tenant" = String, Path), ("instance" = String, Path), ("dictionaryName" = String, Path), ("recordId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Dictionaries, Op::Delete)?;
    Ok(Json(service::delete(&state, &ctx, &path.2, &path.3).await?))
}
