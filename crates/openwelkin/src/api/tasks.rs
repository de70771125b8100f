//! Tasks: `/{tenant}/{instance}/tasks…`. Create (201), read, partial update, batch
//! status update, search (`{data, metaInfo}`), watchers and comments. The use cases are
//! `services::tasks`; here are the routes, their parameters and answers.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::task::{PRIORITIES, STATUSES};
use crate::services::tasks as service;
use crate::store::tasks::{self as store, TaskFilter};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

/// Create a task (201).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/tasks", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body = crate::api::schemas::tasks::TaskCreate,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Tasks, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::create(&state, &ctx, &body).await?)))
}

/// Read a task.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/tasks/{taskId}", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("taskId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Tasks, Op::Read)?;
    Ok(Json(service::read(&state, &ctx, &path.2).await?))
}

/// Change some fields of a task.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/tasks/{taskId}", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("taskId" = String, Path)),
    request_body = crate::api::schemas::tasks::TaskUpdate,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Tasks, Op::Update)?;
    Ok(Json(service::update(&state, &ctx, &path.2, &body).await?))
}

/// Set the status of several tasks at once; answers the changed tasks. All or nothing:
/// an unknown id changes none.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/tasks", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body = crate::api::schemas::tasks::TaskBulkStatus,
    responses((status = 200, body = Vec<Object>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn batch_update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Tasks, Op::Update)?;
    Ok(Json(service::batch_update(&state, &ctx, &body).await?))
}

fn list_param(params: &Params, name: &str) -> Option<Vec<String>> {
    params.text(name).map(|_| params.list(name).unwrap_or_default())
}

fn enum_list(params: &Params, name: &str, allowed: &[&str]) -> ApiResult<Option<Vec<String>>> {
    let Some(list) = list_param(params, name) else { return Ok(None) };
    let list: Vec<String> = list.iter().map(|s| s.to_ascii_uppercase()).collect();
    if let Some(bad) = list.iter().find(|s| !allowed.contains(&s.as_str())) {
        return Err(ApiError::invalid_param(name, format!("{bad:?} is not one of {}", allowed.join(", "))));
    }
    Ok(Some(list))
}

fn time_param(params: &Params, name: &str) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    params
        .text(name)
        .map(|v| {
            crate::time::parse_datetime(&v)
                .ok_or_else(|| ApiError::invalid_param(name, "must be an ISO-8601 date or datetime"))
        })
        .transpose()
}

/// The search filters of `GET /tasks`.
fn filter_of(params: &Params) -> ApiResult<TaskFilter> {
    const DAY_MS: i64 = 86_400_000;
    let due_between = time_param(params, "dueDate")?.map(|t| {
        let start = t.date_naive().and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_millis();
        (start, start + DAY_MS)
    });
    Ok(TaskFilter {
        assignee_ids: list_param(params, "assigneeId"),
        patient_ids: list_param(params, "patientId"),
        watcher_id: params.text("watcherId"),
        author_id: params.text("authorId"),
        statuses: enum_list(params, "status", STATUSES)?,
        priorities: enum_list(params, "priority", PRIORITIES)?,
        due_between,
        due_before: time_param(params, "dueBefore")?.map(|t| t.timestamp_millis()),
        description: params.text("description"),
        search: params.text("search"),
        related_user_id: params.text("relatedUserId"),
        goal_id: params.text("goalId"),
    })
}

/// Search tasks (`{data, metaInfo}`); filters combine with AND.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/tasks", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("assigneeId" = Option<String>, Query, description = "Comma-separated user ids"),
           ("patientId" = Option<String>, Query, description = "Comma-separated patient ids"),
           ("watcherId" = Option<String>, Query), ("authorId" = Option<String>, Query),
           ("status" = Option<String>, Query, description = "Comma-separated: TODO, IN_PROGRESS, COMPLETED, CANCELED"),
           ("priority" = Option<String>, Query, description = "Comma-separated: LOW, MEDIUM, HIGH, URGENT"),
           ("dueDate" = Option<String>, Query, description = "Tasks due that day (UTC)"),
           ("dueBefore" = Option<String>, Query, description = "Tasks due before this time"),
           ("description" = Option<String>, Query, description = "Part of the description"),
           ("search" = Option<String>, Query, description = "Part of the name or description"),
           ("relatedUserId" = Option<String>, Query, description = "Assignee or watcher"),
           ("goalId" = Option<String>, Query, description = "Tasks of a care plan goal"),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query),
           ("sort" = Option<String>, Query, description = "createdAt, updatedAt, dueDate, name, priority or status, then asc|desc")),
    responses((status = 200, body = MetaInfoPage<Value>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn search(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Tasks, Op::Read)?;
    let page = PageRequest::parse(&params, store::sort_column)?;
    let filter = filter_of(&params)?;
    let (data, total) = service::search(&state, &ctx, &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}

/// Add a watcher (`{"id": userId}`); adding one who already watches changes nothing.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/tasks/{taskId}/watchers", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("taskId" = String, Path)),
    request_body = crate::api::schemas::common::IdRef,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn add_watcher(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Tasks, Op::Update)?;
    Ok(Json(service::add_watcher(&state, &ctx, &path.2, body).await?))
}

/// Remove a watcher.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/tasks/{taskId}/watchers/{watcherId}", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("taskId" = String, Path), ("watcherId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn remove_watcher(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Tasks, Op::Update)?;
    Ok(Json(service::remove_watcher(&state, &ctx, &path.2, &path.3).await?))
}

/// Add a comment (`{"text"}`), written by the calling API client.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/tasks/{taskId}/comments", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("taskId" = String, Path)),
    request_body = crate::api::schemas::common::TextBody,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn add_comment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Tasks, Op::Update)?;
    Ok(Json(service::add_comment(&state, &ctx, &path.2, &body).await?))
}

/// Remove a comment; answers the task.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/tasks/{taskId}/comments/{commentId}", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("taskId" = String, Path), ("commentId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn remove_comment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Tasks, Op::Update)?;
    Ok(Json(service::remove_comment(&state, &ctx, &path.2, &path.3).await?))
}
