//! What hangs off an encounter: comments, assessment links (`__encounter_assessment__`
//! records) and the disposition (`__encounter_disposition__` record, checked against the
//! formation's disposition data type). Closed encounters refuse changes to them too.
//!
//! Every write here reads inside its transaction and locks the encounter's row first
//! (`encounter_for_update`): whether the encounter is closed, and the link or disposition
//! being changed, are read after that lock, so a write never lands on an encounter that a
//! concurrent FINALIZE has closed, and two writes to one disposition both keep their fields.
//! The use cases are `services::encounters::{comments, assessment_links, disposition}`;
//! here are the routes and their answers.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiResult, ErrorItem};
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::services::encounters::{assessment_links, comments, disposition as dispositions};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

type Ids = (String, String, String, String);
type IdsWithPart = (String, String, String, String, String);

// ----- comments ------------------------------------------------------------------------

/// Comments of an encounter (a bare array).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/comments", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn comments(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<Ids>,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Encounters, Op::Read)?;
    Ok(Json(comments::list(&state, &ctx, &path.2, &path.3).await?))
}

/// One comment.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/comments/{commentId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path), ("commentId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn comment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<IdsWithPart>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Read)?;
    Ok(Json(comments::read(&state, &ctx, &path.2, &path.3, &path.4).await?))
}

/// Add a comment: `{text}` → 201.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/comments", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    request_body = crate::api::schemas::common::TextBody,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn add_comment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<Ids>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Encounters, Op::Update)?;
    Ok((StatusCode::CREATED, Json(comments::add(&state, &ctx, &path.2, &path.3, &body).await?)))
}

/// Change a comment's text.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/comments/{commentId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path), ("commentId" = String, Path)),
    request_body = crate::api::schemas::common::TextBody,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_comment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<IdsWithPart>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Update)?;
    Ok(Json(comments::update(&state, &ctx, &path.2, &path.3, &path.4, &body).await?))
}

/// Delete a comment. Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/comments/{commentId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path), ("commentId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete_comment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<IdsWithPart>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Encounters, Op::Update)?;
    comments::delete(&state, &ctx, &path.2, &path.3, &path.4).await?;
    Ok(StatusCode::OK)
}

// ----- assessment links ----------------------------------------------------------------

/// Assessment links of an encounter (a bare array).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn links(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<Ids>,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Encounters, Op::Read)?;
    Ok(Json(assessment_links::list(&state, &ctx, &path.2, &path.3).await?))
}

/// One assessment link.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments/{linkId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path), ("linkId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_link(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<IdsWithPart>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Read)?;
    Ok(Json(assessment_links::read(&state, &ctx, &path.2, &path.3, &path.4).await?))
}

/// Link an assessment: `{assessmentName, assessmentRecordId?}` → 201.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    request_body = crate::api::schemas::care::AssessmentLinkCreate,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn add_link(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<Ids>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Encounters, Op::Update)?;
    Ok((StatusCode::CREATED, Json(assessment_links::add(&state, &ctx, &path.2, &path.3, &body).await?)))
}

/// Attach (or detach, with null) the assessment record of a link.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments/{linkId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path), ("linkId" = String, Path)),
    request_body = crate::api::schemas::care::AssessmentLinkUpdate,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_link(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<IdsWithPart>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Update)?;
    Ok(Json(assessment_links::update(&state, &ctx, &path.2, &path.3, &path.4, &body).await?))
}

/// Remove an assessment link. Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments/{linkId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path), ("linkId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete_link(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<IdsWithPart>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Encounters, Op::Update)?;
    assessment_links::delete(&state, &ctx, &path.2, &path.3, &path.4).await?;
    Ok(StatusCode::OK)
}

// ----- disposition -----------------------------------------------------------------------

/// The encounter's disposition record.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/disposition", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn disposition(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<Ids>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Read)?;
    Ok(Json(dispositions::read(&state, &ctx, &path.2, &path.3).await?))
}

/// Update the disposition's fields (checked against the disposition data type).
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/disposition", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    request_body = crate::api::schemas::common::FieldValues,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_disposition(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<Ids>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Update)?;
    Ok(Json(dispositions::update(&state, &ctx, &path.2, &path.3, &body).await?))
}
