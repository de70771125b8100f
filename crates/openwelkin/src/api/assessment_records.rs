//! Assessment records: `/{tenant}/{instance}/patients/{patientId}/assessment-records…`.
//! The use cases (answers, completion, scoring) are `services::assessment_records`; here
//! are the routes, their parameters and answers.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::services::assessment_records as service;
use crate::services::patients;
use crate::store::assessment_records as store;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

/// Start an assessment for a patient: `{assessmentName}` → 201, status `NEW`.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/assessment-records", tag = "Assessment records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body = crate::api::schemas::care::AssessmentRecordCreate,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Assessments, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::create(&state, &ctx, &path.2, &body).await?)))
}
/// Read an assessment record.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/assessment-records/{recordId}", tag = "Assessment records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("recordId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Assessments, Op::Read)?;
    Ok(Json(service::read(&state, &ctx, &path.2, &path.3).await?))
}
/// A patient's assessment records (Spring page), optionally of one assessment.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/assessment-records", tag = "Assessment records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("assessmentName" = Option<String>, Query), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Assessments, Op::Read)?;
    // The patient is looked up before the parameters are read: an unknown patient is a
    // 404 whatever the parameters.
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    let page = PageRequest::parse(&params, store::sort_column)?;
    let name = params.text("assessmentName");
    let (found, total) =
        service::list(&state, &ctx, &p, name.as_deref(), &page.sorts, page.offset(), page.size).await?;
    Ok(Json(SpringPage::new(found, &page, total)))
}
/// Update a record with the whole object, as the Python client sends it back: `status`,
/// `answers` (answer keys), `expirationDate` and `folderId` change; the other keys are the
/// record's own and are ignored. `status: COMPLETED` completes it.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/assessment-records/{recordId}", tag = "Assessment records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("recordId" = String, Path)),
    request_body = crate::api::schemas::care::AssessmentRecordUpdate,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Assessments, Op::Update)?;
    Ok(Json(service::update(&state, &ctx, &path.2, &path.3, &body).await?))
}
/// Set answers: a flat map `{"<cdtName>__<fieldName>": value}`. Answers the whole record.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/assessment-records/{recordId}/answers", tag = "Assessment records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("recordId" = String, Path)),
    request_body = crate::api::schemas::care::Answers,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn answers(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Assessments, Op::Update)?;
    Ok(Json(service::answers(&state, &ctx, &path.2, &path.3, &body).await?))
}
/// Delete an assessment record. Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/assessment-records/{recordId}", tag = "Assessment records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("recordId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Assessments, Op::Delete)?;
    service::delete(&state, &ctx, &path.2, &path.3).await?;
    Ok(StatusCode::OK)
}
