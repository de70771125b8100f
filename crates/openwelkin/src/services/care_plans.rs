//! Care plans of a patient: the overview (the plan is stored by its first write; until
//! then every patient has an implicit one), goals made from the designer's goal templates
//! (with the tasks of the template's task templates), goal comments and goal tasks.
//! Audited as `CARE_PLAN`, `GOAL`, `GOAL_COMMENT` and `TASK`.

use super::error::{ServiceError, ServiceResult};
use super::patients::by_id as patient;
use super::scope::{InstanceScope, Write};
use super::tasks;
use crate::app::AppState;
use crate::designer::views::{GoalTemplate, TaskTemplate};
use crate::domain::care_plan;
use crate::domain::patient::Patient;
use crate::domain::task;
use crate::domain::user::User;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::care_plans as store;
use crate::store::query::SortColumn;
use crate::store::users::UserFilter;
use crate::store::Tx;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

const COMPONENT: &str = "CARE_PLAN";

fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

fn goal_not_found(patient_id: &str, id: &str) -> ServiceError {
    ServiceError::not_found("GOAL_NOT_FOUND", COMPONENT, "Goal not found", json!({"patientId": patient_id, "id": id}))
}

fn goal_removed(id: &str) -> ServiceError {
    ServiceError::conflict(
        "GOAL_REMOVED",
        COMPONENT,
        "The goal has been removed and cannot be changed",
        json!({"id": id}),
    )
}

fn ms_of(time: &Value) -> Option<i64> {
    time.as_str().and_then(crate::time::parse_datetime).map(|t| t.timestamp_millis())
}

/// The care plan every patient has before its first write.
fn implicit(ctx: &InstanceScope, p: &Patient) -> Value {
    care_plan::implicit(&ctx.instance.id, &p.id, &p.created_at, &p.created_by_name)
}

/// The care plan of a patient (stored or implicit).
pub async fn read(state: &AppState, ctx: &InstanceScope, patient_id: &str) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    Ok(state.db.care_plan(&ctx.instance.id, &p.id).await?.unwrap_or_else(|| implicit(ctx, &p)))
}

/// Writes (creates or replaces) the patient overview of the care plan; answers the
/// overview.
pub async fn write_overview(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    let text = care_plan::overview_body(body).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let actor = ctx.actor().full_name();
    let mut tx = state.db.begin().await?;
    // A plan is stored by its first write; until then there is no row to lock. The
    // patient's row serializes first writes, so exactly one of them creates the plan.
    super::patients::lock(&mut tx, ctx, &p.id).await?;
    let stored = store::plan_for_update(&mut tx, &ctx.instance.id, &p.id).await?;
    let op = if stored.is_some() { Operation::Update } else { Operation::Create };
    let mut plan = stored.unwrap_or_else(|| implicit(ctx, &p));
    care_plan::set_overview(&mut plan, &text, &crate::time::format_ms(now_ms), &actor);
    let created_ms = ms_of(&plan["createdAt"]).unwrap_or(now_ms);
    store::save_plan(&mut tx, &ctx.tenant.id, &ctx.instance.id, &plan, created_ms, now_ms).await?;
    let id = plan["id"].as_str().unwrap_or_default().to_string();
    ctx.record(&mut tx, Write { patient: Some(&p), ..Write::new("CARE_PLAN", op, &id, &plan) }, now_ms).await?;
    tx.commit().await?;
    Ok(plan["patientOverview"].clone())
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
async fn subject_of(
    state: &AppState,
    ctx: &InstanceScope,
    p: &Patient,
    t: &TaskTemplate,
) -> ServiceResult<Option<Value>> {
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
    ctx: &InstanceScope,
    p: &Patient,
    template: &GoalTemplate,
    goal: &Value,
    now: &str,
) -> ServiceResult<Vec<Value>> {
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
    ctx: &InstanceScope,
    op: Operation,
    goal: &Value,
    p: &Patient,
    now_ms: i64,
) -> ServiceResult<()> {
    let id = goal["id"].as_str().unwrap_or_default();
    ctx.record(tx, Write { patient: Some(p), ..Write::new("GOAL", op, id, goal) }, now_ms).await
}

/// Adds a goal from a goal template of the current formation; the template's task
/// templates become tasks of the goal, assigned per their subject.
pub async fn create_goal(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    let name = care_plan::goal_create_body(body).map_err(invalid)?;
    let designer = state.db.current_formation(&ctx.instance.id).await?.designer;
    let template = designer
        .goal_template(&name)
        .ok_or_else(|| invalid(FieldError::new("goalTemplateName", format!("no goal template named {name:?}"))))?;
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let goal = care_plan::goal_from_template(&crate::ids::record_id(), &template, &now, &ctx.actor().full_name());
    let goal_tasks = template_tasks(state, ctx, &p, &template, &goal, &now).await?;
    let mut tx = state.db.begin().await?;
    store::insert_goal(&mut tx, &ctx.tenant.id, &ctx.instance.id, &p.id, &goal, now_ms).await?;
    record_goal(&mut tx, ctx, Operation::Create, &goal, &p, now_ms).await?;
    for t in &goal_tasks {
        tasks::insert(&mut tx, ctx, t, Some(&p), now_ms).await?;
    }
    tx.commit().await?;
    Ok(goal)
}

/// One page of a patient's goals (with one of `statuses`, when given), and how many
/// there are in all.
pub async fn list_goals(
    state: &AppState,
    ctx: &InstanceScope,
    p: &Patient,
    statuses: Option<&[String]>,
    sorts: &[SortColumn],
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    Ok(state.db.goals(&ctx.instance.id, &p.id, statuses, sorts, offset, size).await?)
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

async fn goal(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    state.db.goal(&ctx.instance.id, patient_id, id).await?.ok_or_else(|| goal_not_found(patient_id, id))
}

/// A goal of the patient with its tasks and comments.
pub async fn read_goal(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
) -> ServiceResult<GoalDetails> {
    let p = patient(state, ctx, patient_id).await?;
    let details = goal(state, ctx, &p.id, id).await?;
    let mut goal_tasks = state.db.goal_tasks(&ctx.instance.id, id).await?;
    tasks::render(state, ctx, &mut goal_tasks).await?;
    let comments = state.db.goal_comments(&ctx.instance.id, id).await?;
    Ok(GoalDetails { details, tasks: goal_tasks, comments })
}

/// Changes a goal's name, priority or status; a removed goal stays as it is (409).
pub async fn update_goal(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut g =
        store::goal_for_update(&mut tx, &ctx.instance.id, &p.id, id).await?.ok_or_else(|| goal_not_found(&p.id, id))?;
    if g["status"] == "REMOVED" {
        return Err(goal_removed(id));
    }
    care_plan::apply_goal_patch(&mut g, body).map_err(invalid)?;
    g["updatedAt"] = json!(crate::time::format_ms(now_ms));
    g["updatedByName"] = json!(ctx.actor().full_name());
    store::update_goal(&mut tx, &ctx.instance.id, &g, now_ms).await?;
    record_goal(&mut tx, ctx, Operation::Update, &g, &p, now_ms).await?;
    tx.commit().await?;
    Ok(g)
}

/// A goal's comments, oldest first.
pub async fn goal_comments(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
) -> ServiceResult<Vec<Value>> {
    let p = patient(state, ctx, patient_id).await?;
    goal(state, ctx, &p.id, id).await?;
    Ok(state.db.goal_comments(&ctx.instance.id, id).await?)
}

/// Comments on a goal; answers the comment.
pub async fn create_goal_comment(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    goal_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    let text = care_plan::goal_comment_body(body).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    store::goal_for_update(&mut tx, &ctx.instance.id, &p.id, goal_id)
        .await?
        .ok_or_else(|| goal_not_found(&p.id, goal_id))?;
    let id = crate::ids::record_id();
    let comment = care_plan::goal_comment(&id, &text, &crate::time::format_ms(now_ms), &ctx.actor().full_name());
    store::insert_goal_comment(&mut tx, &ctx.instance.id, goal_id, &comment, now_ms).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("GOAL_COMMENT", Operation::Create, &id, &comment) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(comment)
}

/// A goal's tasks, oldest first.
pub async fn goal_tasks(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
) -> ServiceResult<Vec<Value>> {
    let p = patient(state, ctx, patient_id).await?;
    goal(state, ctx, &p.id, id).await?;
    let mut out = state.db.goal_tasks(&ctx.instance.id, id).await?;
    tasks::render(state, ctx, &mut out).await?;
    Ok(out)
}

/// Adds a task to a goal that is not removed; the task is about the goal's patient.
pub async fn create_goal_task(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    goal_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    let mut ch = task::parse(body, true).map_err(|e| ServiceError::invalid_field(tasks::COMPONENT, e))?;
    if let Some(Some(other)) = &ch.patient {
        if *other != p.id {
            return Err(ServiceError::invalid_field(
                tasks::COMPONENT,
                FieldError::new("patient.id", "a goal's task is about the goal's patient"),
            ));
        }
    }
    ch.patient = Some(Some(p.id.clone()));
    let now_ms = state.clock.now_ms();
    let (mut t, _) = tasks::build(state, ctx, &ch, now_ms).await?;
    t["goalId"] = json!(goal_id);
    let mut tx = state.db.begin().await?;
    let g = store::goal_for_update(&mut tx, &ctx.instance.id, &p.id, goal_id)
        .await?
        .ok_or_else(|| goal_not_found(&p.id, goal_id))?;
    if g["status"] == "REMOVED" {
        return Err(goal_removed(goal_id));
    }
    tasks::insert(&mut tx, ctx, &t, Some(&p), now_ms).await?;
    tx.commit().await?;
    Ok(t)
}
