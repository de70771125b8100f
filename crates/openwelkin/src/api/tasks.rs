//! Tasks: `/{tenant}/{instance}/tasks…`. Create (201), read, partial update, batch
//! status update, search (`{data, metaInfo}`), watchers and comments. Assignees and
//! watchers must be users of the tenant, the patient a patient of the instance. Every
//! write is audited as `TASK` (`TASK_CREATED`, `TASK_UPDATED`).

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::fields;
use crate::domain::patient::Patient;
use crate::domain::task::{self, TaskChanges, PRIORITIES, STATUSES};
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::patients::PatientKey;
use crate::store::tasks::{self as store, TaskFilter};
use crate::store::Tx;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

const COMPONENT: &str = "TASK";
/// Most tasks one batch update may change.
const MAX_BATCH: usize = 1000;

pub(crate) fn not_found(id: &str) -> ApiError {
    ApiError::not_found("TASK_NOT_FOUND", COMPONENT, "Task not found", json!({"id": id}))
}

fn invalid(e: FieldError) -> ApiError {
    ApiError::invalid_field(COMPONENT, e)
}

/// The users and patient a body names, checked to exist.
pub(crate) struct Refs {
    pub users: BTreeMap<String, Value>,
    pub patient: Option<Patient>,
}

impl Refs {
    pub fn patient_ref(&self) -> Option<Value> {
        self.patient.as_ref().map(|p| json!({"id": p.id, "name": p.full_name()}))
    }
}

/// Loads the users (tenant) and the patient (instance) that `ch` names; a missing one is a
/// 400 naming the field.
pub(crate) async fn resolve(state: &AppState, ctx: &InstanceCaller, ch: &TaskChanges) -> ApiResult<Refs> {
    let wanted = ch.user_refs();
    let ids: Vec<String> = wanted.iter().map(|(_, id)| id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let found = state.db.users_by_ids(&ctx.tenant.id, &ids).await?;
    let users: BTreeMap<String, Value> = found.iter().map(|u| (u.id.clone(), task::user_ref(u))).collect();
    if let Some((field, id)) = wanted.iter().find(|(_, id)| !users.contains_key(id)) {
        return Err(invalid(FieldError::new(field, format!("user {id} does not exist"))));
    }
    let patient = match &ch.patient {
        Some(Some(id)) => Some(
            state
                .db
                .patient(&ctx.instance.id, PatientKey::Id, id)
                .await?
                .ok_or_else(|| invalid(FieldError::new("patient.id", format!("patient {id} does not exist"))))?,
        ),
        _ => None,
    };
    Ok(Refs { users, patient })
}

/// The patient a stored task is about, for its audit row.
async fn patient_of(state: &AppState, ctx: &InstanceCaller, t: &Value) -> ApiResult<Option<Patient>> {
    match t["patient"]["id"].as_str() {
        Some(id) => Ok(state.db.patient(&ctx.instance.id, PatientKey::Id, id).await?),
        None => Ok(None),
    }
}

fn author(ctx: &InstanceCaller) -> Value {
    let actor = ctx.actor();
    task::author_ref(&actor.id, &actor.full_name())
}

/// Audits a task write.
pub(crate) async fn record(
    tx: &mut Tx,
    ctx: &InstanceCaller,
    op: Operation,
    t: &Value,
    patient: Option<&Patient>,
    now_ms: i64,
) -> ApiResult<()> {
    let id = t["id"].as_str().unwrap_or_default();
    Ok(ctx.record(tx, Write { patient, ..Write::new("TASK", op, id, t) }, now_ms).await?)
}

/// Stores and audits a new task.
pub(crate) async fn insert(
    tx: &mut Tx,
    ctx: &InstanceCaller,
    t: &Value,
    patient: Option<&Patient>,
    now_ms: i64,
) -> ApiResult<()> {
    store::insert(tx, &ctx.tenant.id, &ctx.instance.id, t, now_ms).await?;
    record(tx, ctx, Operation::Create, t, patient, now_ms).await
}

/// A new task from a checked create body, with the users and patient it names.
pub(crate) async fn build(
    state: &AppState,
    ctx: &InstanceCaller,
    ch: &TaskChanges,
    now_ms: i64,
) -> ApiResult<(Value, Option<Patient>)> {
    let refs = resolve(state, ctx, ch).await?;
    let now = crate::time::format_ms(now_ms);
    let who = author(ctx);
    let mut t = task::blank(&crate::ids::new_id(), &now, &who, task::CREATED_BY_API);
    task::apply(&mut t, ch, &refs.users, refs.patient_ref());
    let comments: Vec<Value> =
        ch.comments.iter().map(|text| task::new_comment(&crate::ids::new_id(), &now, &who, text)).collect();
    t["comments"] = Value::Array(comments);
    Ok((t, refs.patient))
}

/// Refreshes the names shown in tasks (assignee, watchers, authors, patient) from the
/// users and patients as they are now.
pub(crate) async fn render(state: &AppState, ctx: &InstanceCaller, tasks: &mut [Value]) -> ApiResult<()> {
    let mut user_ids = BTreeSet::new();
    let mut patient_ids = BTreeSet::new();
    for t in tasks.iter() {
        for r in people(t) {
            if let Some(id) = r["id"].as_str() {
                user_ids.insert(id.to_string());
            }
        }
        if let Some(id) = t["patient"]["id"].as_str() {
            patient_ids.insert(id.to_string());
        }
    }
    let users: BTreeMap<String, Value> = state
        .db
        .users_by_ids(&ctx.tenant.id, &user_ids.into_iter().collect::<Vec<_>>())
        .await?
        .iter()
        .map(|u| (u.id.clone(), task::user_ref(u)))
        .collect();
    let patients: BTreeMap<String, String> = state
        .db
        .patient_names(&ctx.instance.id, &patient_ids.into_iter().collect::<Vec<_>>())
        .await?
        .into_iter()
        .collect();
    for t in tasks.iter_mut() {
        for key in ["assignee", "author"] {
            refresh(&mut t[key], &users);
        }
        for w in t["watchers"].as_array_mut().into_iter().flatten() {
            refresh(w, &users);
        }
        for c in t["comments"].as_array_mut().into_iter().flatten() {
            refresh(&mut c["author"], &users);
        }
        if let Some(name) = t["patient"]["id"].as_str().and_then(|id| patients.get(id)) {
            t["patient"]["name"] = json!(name);
        }
    }
    Ok(())
}

fn people(t: &Value) -> Vec<&Value> {
    let mut out = vec![&t["assignee"], &t["author"]];
    out.extend(t["watchers"].as_array().into_iter().flatten());
    out.extend(t["comments"].as_array().into_iter().flatten().map(|c| &c["author"]));
    out
}

fn refresh(r: &mut Value, users: &BTreeMap<String, Value>) {
    let Some(u) = r["id"].as_str().and_then(|id| users.get(id)) else { return };
    r["name"] = u["name"].clone();
    if r.get("enabled").is_some() {
        r["enabled"] = u["enabled"].clone();
    }
}

async fn rendered(state: &AppState, ctx: &InstanceCaller, t: Value) -> ApiResult<Json<Value>> {
    let mut one = [t];
    render(state, ctx, &mut one).await?;
    let [t] = one;
    Ok(Json(t))
}

/// Create a task (201).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/tasks", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content = Object, description = "name, status (TODO, IN_PROGRESS, COMPLETED, CANCELED), priority (LOW, MEDIUM, HIGH, URGENT) and assignee {id} required; description, dueDate, patient {id}, watchers [{id}], comments [{text}], templateName"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Tasks, Op::Create)?;
    let ch = task::parse(&body, true).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let (t, patient) = build(&state, &ctx, &ch, now_ms).await?;
    let mut tx = state.db.begin().await?;
    insert(&mut tx, &ctx, &t, patient.as_ref(), now_ms).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(t)))
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
    let t = state.db.task(&ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    rendered(&state, &ctx, t).await
}

/// Change some fields of a task.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/tasks/{taskId}", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("taskId" = String, Path)),
    request_body(content = Object, description = "Any of name, description, dueDate, status, priority, assignee {id}, patient {id} (null unlinks), templateName"),
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
    let ch = task::parse(&body, false).map_err(invalid)?;
    let refs = resolve(&state, &ctx, &ch).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut t = store::get_for_update(&mut tx, &ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    if let (Some(goal), Some(new_patient)) = (t["goalId"].as_str(), &ch.patient) {
        if new_patient.as_deref() != t["patient"]["id"].as_str() {
            return Err(invalid(FieldError::new(
                "patient",
                format!("the task belongs to goal {goal} and keeps its patient"),
            )));
        }
    }
    task::apply(&mut t, &ch, &refs.users, refs.patient_ref());
    task::touch(&mut t, &crate::time::format_ms(now_ms), &author(&ctx));
    store::update(&mut tx, &ctx.instance.id, &t, now_ms).await?;
    let patient = match refs.patient {
        Some(p) => Some(p),
        None => patient_of(&state, &ctx, &t).await?,
    };
    record(&mut tx, &ctx, Operation::Update, &t, patient.as_ref(), now_ms).await?;
    tx.commit().await?;
    rendered(&state, &ctx, t).await
}

/// Reads a batch status body: `{taskIds: [...], status}`.
fn batch_body(body: &Map<String, Value>) -> Result<(Vec<String>, String), FieldError> {
    fields::reject_unknown(body, &["taskIds", "status"], &[])?;
    let ids_value = body.get("taskIds").ok_or_else(|| FieldError::new("taskIds", "is required"))?;
    let mut ids: Vec<String> = Vec::new();
    for (i, v) in fields::array("taskIds", ids_value)?.iter().enumerate() {
        let id = fields::text(&format!("taskIds[{i}]"), v)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err(FieldError::new("taskIds", "must name at least one task"));
    }
    if ids.len() > MAX_BATCH {
        return Err(FieldError::new("taskIds", format!("at most {MAX_BATCH} tasks at a time")));
    }
    let status = fields::one_of("status", body.get("status").unwrap_or(&Value::Null), STATUSES)?;
    Ok((ids, status))
}

/// Set the status of several tasks at once; answers the changed tasks. All or nothing:
/// an unknown id changes none.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/tasks", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content = Object, description = "{taskIds: [id], status}"),
    responses((status = 200, body = Vec<Object>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn batch_update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Tasks, Op::Update)?;
    let (ids, status) = batch_body(&body).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let who = author(&ctx);
    let mut tx = state.db.begin().await?;
    // Every task is locked before any changes, in id order: two batches naming the same
    // tasks in different orders wait for each other instead of deadlocking, and each
    // batch applies to all its tasks or none.
    let mut sorted = ids.clone();
    sorted.sort();
    let mut locked = BTreeMap::new();
    for id in &sorted {
        locked.insert(id.clone(), store::get_for_update(&mut tx, &ctx.instance.id, id).await?);
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in &ids {
        let mut t = locked.remove(id).flatten().ok_or_else(|| not_found(id))?;
        if t["status"] != json!(status) {
            t["status"] = json!(status);
            task::touch(&mut t, &now, &who);
            store::update(&mut tx, &ctx.instance.id, &t, now_ms).await?;
            let patient = patient_of(&state, &ctx, &t).await?;
            record(&mut tx, &ctx, Operation::Update, &t, patient.as_ref(), now_ms).await?;
        }
        out.push(t);
    }
    tx.commit().await?;
    render(&state, &ctx, &mut out).await?;
    Ok(Json(out))
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
    let (mut data, total) = state.db.tasks(&ctx.instance.id, &filter, &page.sorts, page.offset(), page.size).await?;
    render(&state, &ctx, &mut data).await?;
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}

/// Add a watcher (`{"id": userId}`); adding one who already watches changes nothing.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/tasks/{taskId}/watchers", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("taskId" = String, Path)),
    request_body(content = Object, description = "{id: userId}"),
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
    let user_id = task::ref_id("watcher", &Value::Object(body)).map_err(|e| {
        invalid(FieldError::new(e.field.strip_prefix("watcher.").unwrap_or(&e.field).to_string(), e.reason))
    })?;
    let found = state.db.users_by_ids(&ctx.tenant.id, std::slice::from_ref(&user_id)).await?;
    let watcher = found
        .first()
        .map(task::user_ref)
        .ok_or_else(|| invalid(FieldError::new("id", format!("user {user_id} does not exist"))))?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut t = store::get_for_update(&mut tx, &ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    if !task::watcher_ids(&t).contains(&user_id) {
        t["watchers"].as_array_mut().expect("tasks have watchers").push(watcher);
        task::touch(&mut t, &crate::time::format_ms(now_ms), &author(&ctx));
        store::update(&mut tx, &ctx.instance.id, &t, now_ms).await?;
        let patient = patient_of(&state, &ctx, &t).await?;
        record(&mut tx, &ctx, Operation::Update, &t, patient.as_ref(), now_ms).await?;
        tx.commit().await?;
    }
    rendered(&state, &ctx, t).await
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
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut t = store::get_for_update(&mut tx, &ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    let watchers = t["watchers"].as_array_mut().expect("tasks have watchers");
    let before = watchers.len();
    watchers.retain(|w| w["id"].as_str() != Some(path.3.as_str()));
    if watchers.len() == before {
        return Err(ApiError::not_found(
            "TASK_WATCHER_NOT_FOUND",
            COMPONENT,
            "The user does not watch this task",
            json!({"id": path.2, "watcherId": path.3}),
        ));
    }
    task::touch(&mut t, &crate::time::format_ms(now_ms), &author(&ctx));
    store::update(&mut tx, &ctx.instance.id, &t, now_ms).await?;
    let patient = patient_of(&state, &ctx, &t).await?;
    record(&mut tx, &ctx, Operation::Update, &t, patient.as_ref(), now_ms).await?;
    tx.commit().await?;
    rendered(&state, &ctx, t).await
}

/// Add a comment (`{"text"}`), written by the calling API client.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/tasks/{taskId}/comments", tag = "Tasks",
    params(("tenant" = String, Path), ("instance" = String, Path), ("taskId" = String, Path)),
    request_body(content = Object, description = "{text}"),
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
    let text = task::comment_body(&body).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let who = author(&ctx);
    let mut tx = state.db.begin().await?;
    let mut t = store::get_for_update(&mut tx, &ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    let comment = task::new_comment(&crate::ids::new_id(), &now, &who, &text);
    t["comments"].as_array_mut().expect("tasks have comments").push(comment);
    task::touch(&mut t, &now, &who);
    store::update(&mut tx, &ctx.instance.id, &t, now_ms).await?;
    let patient = patient_of(&state, &ctx, &t).await?;
    record(&mut tx, &ctx, Operation::Update, &t, patient.as_ref(), now_ms).await?;
    tx.commit().await?;
    rendered(&state, &ctx, t).await
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
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut t = store::get_for_update(&mut tx, &ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    let comments = t["comments"].as_array_mut().expect("tasks have comments");
    let before = comments.len();
    comments.retain(|c| c["id"].as_str() != Some(path.3.as_str()));
    if comments.len() == before {
        return Err(ApiError::not_found(
            "TASK_COMMENT_NOT_FOUND",
            COMPONENT,
            "Task comment not found",
            json!({"id": path.2, "commentId": path.3}),
        ));
    }
    task::touch(&mut t, &crate::time::format_ms(now_ms), &author(&ctx));
    store::update(&mut tx, &ctx.instance.id, &t, now_ms).await?;
    let patient = patient_of(&state, &ctx, &t).await?;
    record(&mut tx, &ctx, Operation::Update, &t, patient.as_ref(), now_ms).await?;
    tx.commit().await?;
    rendered(&state, &ctx, t).await
}
