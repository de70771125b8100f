//! Care plans: `/{tenant}/{instance}/patients/{patientId}/care-plan…`. The overview
//! (POST and PUT both answer 200, as recorded), goals, goal comments and goal tasks. The
//! use cases are `services::care_plans`; here are the routes, their parameters and
//! answers.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::care_plan::GOAL_STATUSES;
use crate::services::care_plans::{self as service, GoalDetails};
use crate::services::patients;
use crate::store::care_plans as store;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

/// Read a patient's care plan.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/care-plan", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    responses((status = 200, body = Object, description = "{id, createdByName, createdAt, updatedByName, updatedAt, patientId, patientOverview}"),
              (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::CarePlans, Op::Read)?;
    Ok(Json(service::read(&state, &ctx, &path.2).await?))
}

/// Write the patient overview of the care plan (answers 200 with the overview, as
/// recorded; an existing overview is replaced).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/overview", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body = crate::api::schemas::care::CarePlanOverview,
    responses((status = 200, body = Object, description = "{createdByName, createdAt, updatedByName, updatedAt, overview}"),
              (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_overview(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::CarePlans, Op::Create)?;
    Ok(Json(service::write_overview(&state, &ctx, &path.2, &body).await?))
}

/// Update the patient overview (200 with the overview).
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/overview", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body = crate::api::schemas::care::CarePlanOverview,
    responses((status = 200, body = Object, description = "{createdByName, createdAt, updatedByName, updatedAt, overview}"),
              (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_overview(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::CarePlans, Op::Update)?;
    Ok(Json(service::write_overview(&state, &ctx, &path.2, &body).await?))
}

/// Add a goal from a goal template of the current formation (201). The template's task
/// templates become tasks of the goal, assigned per their subject.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/goals", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body = crate::api::schemas::care::GoalCreate,
    responses((status = 201, body = Object, description = "{id, createdByName, createdAt, updatedByName, updatedAt, name, type, priority, status, templateName}"),
              (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_goal(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::CarePlans, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::create_goal(&state, &ctx, &path.2, &body).await?)))
}

/// A patient's goals (`{data, metaInfo}`), optionally by status.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/goals", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("status" = Option<String>, Query, description = "Comma-separated: ACTIVE, REMOVED, COMPLETED"),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query),
           ("sort" = Option<String>, Query, description = "createdAt, updatedAt, name, priority or status, then asc|desc")),
    responses((status = 200, body = MetaInfoPage<Value>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_goals(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::CarePlans, Op::Read)?;
    // The patient is looked up before the parameters are read: an unknown patient is a
    // 404 whatever the parameters.
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    let page = PageRequest::parse(&params, store::goal_sort_column)?;
    let statuses = match params.text("status") {
        None => None,
        Some(_) => {
            let list: Vec<String> =
                params.list("status").unwrap_or_default().iter().map(|s| s.to_ascii_uppercase()).collect();
            if let Some(bad) = list.iter().find(|s| !GOAL_STATUSES.contains(&s.as_str())) {
                return Err(ApiError::invalid_param(
                    "status",
                    format!("{bad:?} is not one of {}", GOAL_STATUSES.join(", ")),
                ));
            }
            Some(list)
        }
    };
    let (data, total) =
        service::list_goals(&state, &ctx, &p, statuses.as_deref(), &page.sorts, page.offset(), page.size).await?;
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}

/// Read a goal with its tasks and comments.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/goals/{goalId}", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("goalId" = String, Path)),
    responses((status = 200, body = GoalDetails), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_goal(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<GoalDetails>> {
    ctx.require(Family::CarePlans, Op::Read)?;
    Ok(Json(service::read_goal(&state, &ctx, &path.2, &path.3).await?))
}

/// Change a goal's name, priority or status (ACTIVE, COMPLETED, REMOVED). A removed goal
/// stays as it is.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/goals/{goalId}", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("goalId" = String, Path)),
    request_body = crate::api::schemas::care::GoalUpdate,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_goal(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::CarePlans, Op::Update)?;
    Ok(Json(service::update_goal(&state, &ctx, &path.2, &path.3, &body).await?))
}

/// A goal's comments, oldest first (a bare array).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/goals/{goalId}/comments", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("goalId" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_goal_comments(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::CarePlans, Op::Read)?;
    Ok(Json(service::goal_comments(&state, &ctx, &path.2, &path.3).await?))
}

/// Comment on a goal (201 with the comment).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/goals/{goalId}/comments", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("goalId" = String, Path)),
    request_body = crate::api::schemas::common::TextBody,
    responses((status = 201, body = Object, description = "{id, createdByName, createdAt, updatedByName, updatedAt, text}"),
              (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_goal_comment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::CarePlans, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::create_goal_comment(&state, &ctx, &path.2, &path.3, &body).await?)))
}

/// A goal's tasks, oldest first (a bare array).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/goals/{goalId}/tasks", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("goalId" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_goal_tasks(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::CarePlans, Op::Read)?;
    Ok(Json(service::goal_tasks(&state, &ctx, &path.2, &path.3).await?))
}

/// Add a task to a goal (201 with the task); it is about the goal's patient.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/goals/{goalId}/tasks", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("goalId" = String, Path)),
    request_body = crate::api::schemas::tasks::TaskCreate,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_goal_task(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::CarePlans, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::create_goal_task(&state, &ctx, &path.2, &path.3, &body).await?)))
}
