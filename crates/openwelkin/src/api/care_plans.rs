//! Care plans: `/{tenant}/{instance}/patients/{patientId}/care-plan…`. The overview
//! (POST and PUT both answer 200, as recorded), goals made from the designer's goal
//! templates (with the tasks of the template's task templates), goal comments and goal
//! tasks. Audited as `CARE_PLAN`, `GOAL`, `GOAL_COMMENT` and `TASK`.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::patient;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use super::tasks;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::designer::objects::{GoalTemplate, TaskTemplate};
use crate::domain::care_plan::{self, GOAL_STATUSES};
use crate::domain::patient::Patient;
use crate::domain::task;
use crate::domain::user::User;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::care_plans as store;
use crate::store::users::UserFilter;
use crate::store::Tx;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

const COMPONENT: &str = "CARE_PLAN";

fn invalid(e: FieldError) -> ApiError {
    ApiError::invalid_field(COMPONENT, e)
}

fn goal_not_found(patient_id: &str, id: &str) -> ApiError {
    ApiError::not_found("GOAL_NOT_FOUND", COMPONENT, "Goal not found", json!({"patientId": patient_id, "id": id}))
}

fn goal_removed(id: &str) -> ApiError {
    ApiError::conflict("GOAL_REMOVED", COMPONENT, "The goal has been removed and cannot be changed", json!({"id": id}))
}

fn ms_of(time: &Value) -> Option<i64> {
    time.as_str().and_then(crate::time::parse_datetime).map(|t| t.timestamp_millis())
}

/// The stored care plan of a patient, or the implicit one every patient has.
fn implicit(ctx: &InstanceCaller, p: &Patient) -> Value {
    care_plan::implicit(&ctx.instance.id, &p.id, &p.created_at, &p.created_by_name)
}

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
    let p = patient(&state, &ctx, &path.2).await?;
    Ok(Json(state.db.care_plan(&ctx.instance.id, &p.id).await?.unwrap_or_else(|| implicit(&ctx, &p))))
}

async fn write_overview(
    state: &AppState,
    ctx: &InstanceCaller,
    patient_id: &str,
    body: &Map<String, Value>,
) -> ApiResult<Json<Value>> {
    let p = patient(state, ctx, patient_id).await?;
    let text = care_plan::overview_body(body).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let actor = ctx.actor().full_name();
    let mut tx = state.db.begin().await?;
    // A plan is stored by its first write; until then there is no row to lock. The
    // patient's row serializes first writes, so exactly one of them creates the plan.
    if !crate::store::patients::lock(&mut tx, &ctx.instance.id, &p.id).await? {
        return Err(ApiError::not_found("PATIENT_NOT_FOUND", "PATIENT", "Patient not found", json!({"id": p.id})));
    }
    let stored = store::plan_for_update(&mut tx, &ctx.instance.id, &p.id).await?;
    let op = if stored.is_some() { Operation::Update } else { Operation::Create };
    let mut plan = stored.unwrap_or_else(|| implicit(ctx, &p));
    care_plan::set_overview(&mut plan, &text, &crate::time::format_ms(now_ms), &actor);
    let created_ms = ms_of(&plan["createdAt"]).unwrap_or(now_ms);
    store::save_plan(&mut tx, &ctx.tenant.id, &ctx.instance.id, &plan, created_ms, now_ms).await?;
    let id = plan["id"].as_str().unwrap_or_default().to_string();
    ctx.record(&mut tx, Write { patient: Some(&p), ..Write::new("CARE_PLAN", op, &id, &plan) }, now_ms).await?;
    tx.commit().await?;
    Ok(Json(plan["patientOverview"].clone()))
}

/// Write the patient overview of the care plan (answers 200 with the overview, as
/// recorded; an existing overview is replaced).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/overview", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content = Object, description = "{overview}"),
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
    write_overview(&state, &ctx, &path.2, &body).await
}

/// Update the patient overview (200 with the overview).
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/overview", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content = Object, description = "{overview}"),
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
    write_overview(&state, &ctx, &path.2, &body).await
}

/// True when the user holds `role` in this instance (or in every instance).
fn has_role(u: &User, role: &str, instance: &str) -> bool {
    u.roles.iter().any(|r| {
        let name = r.get("permissionName").or_else(|| r.get("name")).and_then(Value::as_str);
        let kind = r.get("type").and_then(Value::as_str).unwrap_or("SECURITY_ROLE");
        let inst = r.get("instanceName").and_then(Value::as_str);
        name == Some(role) && kind == "SECURITY_ROLE" && inst.is_none_or(|i| i == instance)
    })
}

/// Who a template task goes to: the patient's point of contact, or a user with the
/// template's role (a care team member of the patient first, then the oldest user).
async fn subject_of(state: &AppState, ctx: &InstanceCaller, p: &Patient, t: &TaskTemplate) -> ApiResult<Option<Value>> {
    let cfg = &t.subject_config;
    match (cfg.subject_type.as_str(), &cfg.role_name) {
        ("POINT_OF_CONTACT", _) => {
            let Some(poc) = &p.point_of_contact else { return Ok(None) };
            let found = state.db.users_by_ids(&ctx.tenant.id, std::slice::from_ref(&poc.id)).await?;
            Ok(found.first().map(task::user_ref))
        }
        ("ROLE", Some(role)) => {
            let team: Vec<String> = p.care_team_members.iter().map(|m| m.id.clone()).collect();
            let members = state.db.users_by_ids(&ctx.tenant.id, &team).await?;
            if let Some(u) =
                team.iter().find_map(|id| members.iter().find(|u| &u.id == id && has_role(u, role, &ctx.instance.name)))
            {
                return Ok(Some(task::user_ref(u)));
            }
            const BATCH: i64 = 500;
            let mut offset = 0;
            loop {
                let (users, total) = state.db.users(&ctx.tenant.id, &UserFilter::default(), &[], offset, BATCH).await?;
                if let Some(u) = users.iter().find(|u| has_role(u, role, &ctx.instance.name)) {
                    return Ok(Some(task::user_ref(u)));
                }
                offset += BATCH;
                if offset >= total || users.is_empty() {
                    return Ok(None);
                }
            }
        }
        _ => Ok(None),
    }
}

/// The tasks a goal template asks for.
async fn template_tasks(
    state: &AppState,
    ctx: &InstanceCaller,
    p: &Patient,
    template: &GoalTemplate,
    goal: &Value,
    now: &str,
) -> ApiResult<Vec<Value>> {
    let actor = ctx.actor();
    let author = task::author_ref(&actor.id, &actor.full_name());
    let mut out = Vec::new();
    for tt in &template.task_templates {
        let assignee = subject_of(state, ctx, p, tt).await?;
        let mut t = task::blank(&crate::ids::new_id(), now, &author, task::CREATED_BY_CARE_PLAN);
        t["name"] = json!(task::title_of_template(&tt.name));
        t["templateName"] = json!(tt.name);
        t["priority"] = goal["priority"].clone();
        t["patient"] = json!({"id": p.id, "name": p.full_name()});
        t["watchers"] = json!(assignee.iter().cloned().collect::<Vec<_>>());
        t["assignee"] = assignee.unwrap_or(Value::Null);
        t["watchersType"] = json!(tt.subject_config.subject_type);
        t["goalId"] = goal["id"].clone();
        out.push(t);
    }
    Ok(out)
}

async fn record_goal(
    tx: &mut Tx,
    ctx: &InstanceCaller,
    op: Operation,
    goal: &Value,
    p: &Patient,
    now_ms: i64,
) -> ApiResult<()> {
    let id = goal["id"].as_str().unwrap_or_default();
    Ok(ctx.record(tx, Write { patient: Some(p), ..Write::new("GOAL", op, id, goal) }, now_ms).await?)
}

/// Add a goal from a goal template of the current formation (201). The template's task
/// templates become tasks of the goal, assigned per their subject.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/goals", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content = Object, description = "{goalTemplateName}"),
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
    let p = patient(&state, &ctx, &path.2).await?;
    let name = care_plan::goal_create_body(&body).map_err(invalid)?;
    let designer = state.db.current_formation(&ctx.instance.id).await?.designer;
    let template = designer
        .goal_template(&name)
        .ok_or_else(|| invalid(FieldError::new("goalTemplateName", format!("no goal template named {name:?}"))))?;
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let goal = care_plan::goal_from_template(&crate::ids::new_id(), &template, &now, &ctx.actor().full_name());
    let goal_tasks = template_tasks(&state, &ctx, &p, &template, &goal, &now).await?;
    let mut tx = state.db.begin().await?;
    store::insert_goal(&mut tx, &ctx.tenant.id, &ctx.instance.id, &p.id, &goal, now_ms).await?;
    record_goal(&mut tx, &ctx, Operation::Create, &goal, &p, now_ms).await?;
    for t in &goal_tasks {
        tasks::insert(&mut tx, &ctx, t, Some(&p), now_ms).await?;
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(goal)))
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
    let p = patient(&state, &ctx, &path.2).await?;
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
        state.db.goals(&ctx.instance.id, &p.id, statuses.as_deref(), &page.sorts, page.offset(), page.size).await?;
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}

/// A goal with its tasks and comments.
#[derive(Serialize, ToSchema)]
pub struct GoalDetails {
    #[schema(value_type = Object)]
    pub details: Value,
    #[schema(value_type = Vec<Object>)]
    pub tasks: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub comments: Vec<Value>,
}

async fn goal(state: &AppState, ctx: &InstanceCaller, patient_id: &str, id: &str) -> ApiResult<Value> {
    state.db.goal(&ctx.instance.id, patient_id, id).await?.ok_or_else(|| goal_not_found(patient_id, id))
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
    let p = patient(&state, &ctx, &path.2).await?;
    let details = goal(&state, &ctx, &p.id, &path.3).await?;
    let mut goal_tasks = state.db.goal_tasks(&ctx.instance.id, &path.3).await?;
    tasks::render(&state, &ctx, &mut goal_tasks).await?;
    let comments = state.db.goal_comments(&ctx.instance.id, &path.3).await?;
    Ok(Json(GoalDetails { details, tasks: goal_tasks, comments }))
}

/// Change a goal's name, priority or status (ACTIVE, COMPLETED, REMOVED). A removed goal
/// stays as it is.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/goals/{goalId}", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("goalId" = String, Path)),
    request_body(content = Object, description = "Any of name, priority (LOW, MEDIUM, HIGH), status (ACTIVE, COMPLETED, REMOVED)"),
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
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut g = store::goal_for_update(&mut tx, &ctx.instance.id, &p.id, &path.3)
        .await?
        .ok_or_else(|| goal_not_found(&p.id, &path.3))?;
    if g["status"] == "REMOVED" {
        return Err(goal_removed(&path.3));
    }
    care_plan::apply_goal_patch(&mut g, &body).map_err(invalid)?;
    g["updatedAt"] = json!(crate::time::format_ms(now_ms));
    g["updatedByName"] = json!(ctx.actor().full_name());
    store::update_goal(&mut tx, &ctx.instance.id, &g, now_ms).await?;
    record_goal(&mut tx, &ctx, Operation::Update, &g, &p, now_ms).await?;
    tx.commit().await?;
    Ok(Json(g))
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
    let p = patient(&state, &ctx, &path.2).await?;
    goal(&state, &ctx, &p.id, &path.3).await?;
    Ok(Json(state.db.goal_comments(&ctx.instance.id, &path.3).await?))
}

/// Comment on a goal (201 with the comment).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/goals/{goalId}/comments", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("goalId" = String, Path)),
    request_body(content = Object, description = "{text}"),
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
    let p = patient(&state, &ctx, &path.2).await?;
    let text = care_plan::goal_comment_body(&body).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    store::goal_for_update(&mut tx, &ctx.instance.id, &p.id, &path.3)
        .await?
        .ok_or_else(|| goal_not_found(&p.id, &path.3))?;
    let id = crate::ids::new_id();
    let comment = care_plan::goal_comment(&id, &text, &crate::time::format_ms(now_ms), &ctx.actor().full_name());
    store::insert_goal_comment(&mut tx, &ctx.instance.id, &path.3, &comment, now_ms).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("GOAL_COMMENT", Operation::Create, &id, &comment) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(comment)))
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
    let p = patient(&state, &ctx, &path.2).await?;
    goal(&state, &ctx, &p.id, &path.3).await?;
    let mut out = state.db.goal_tasks(&ctx.instance.id, &path.3).await?;
    tasks::render(&state, &ctx, &mut out).await?;
    Ok(Json(out))
}

/// Add a task to a goal (201 with the task); it is about the goal's patient.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/care-plan/goals/{goalId}/tasks", tag = "Care plans",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("goalId" = String, Path)),
    request_body(content = Object, description = "name, status, priority, assignee {id} required; description, dueDate, watchers, comments, templateName"),
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
    let p = patient(&state, &ctx, &path.2).await?;
    let mut ch = task::parse(&body, true).map_err(|e| ApiError::invalid_field("TASK", e))?;
    if let Some(Some(other)) = &ch.patient {
        if *other != p.id {
            return Err(ApiError::invalid_field(
                "TASK",
                FieldError::new("patient.id", "a goal's task is about the goal's patient"),
            ));
        }
    }
    ch.patient = Some(Some(p.id.clone()));
    let now_ms = state.clock.now_ms();
    let (mut t, _) = tasks::build(&state, &ctx, &ch, now_ms).await?;
    t["goalId"] = json!(path.3);
    let mut tx = state.db.begin().await?;
    let g = store::goal_for_update(&mut tx, &ctx.instance.id, &p.id, &path.3)
        .await?
        .ok_or_else(|| goal_not_found(&p.id, &path.3))?;
    if g["status"] == "REMOVED" {
        return Err(goal_removed(&path.3));
    }
    tasks::insert(&mut tx, &ctx, &t, Some(&p), now_ms).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(t)))
}
