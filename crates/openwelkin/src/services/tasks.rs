//! Tasks: create, read, partial update, batch status update, search, watchers and
//! comments. Assignees and watchers must be users of the tenant, the patient a patient of
//! the instance. Every write is audited as `TASK` (`TASK_CREATED`, `TASK_UPDATED`). Care
//! plans make tasks with `build` and `insert`; anything that shows tasks passes them
//! through `render`.

use super::error::{ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::domain::fields;
use crate::domain::patient::Patient;
use crate::domain::task::{self, TaskChanges, STATUSES};
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::patients::PatientKey;
use crate::store::query::SortColumn;
use crate::store::tasks::{self as store, TaskFilter};
use crate::store::Tx;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

pub const COMPONENT: &str = "TASK";
/// Most tasks one batch update may change.
const MAX_BATCH: usize = 1000;

pub fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("TASK_NOT_FOUND", COMPONENT, "Task not found", json!({"id": id}))
}

fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

/// The users and patient a body names, checked to exist.
struct Refs {
    users: BTreeMap<String, Value>,
    patient: Option<Patient>,
}

impl Refs {
    fn patient_ref(&self) -> Option<Value> {
        self.patient.as_ref().map(|p| json!({"id": p.id, "name": p.full_name()}))
    }
}

/// Loads the users (tenant) and the patient (instance) that `ch` names; a missing one is a
/// 400 naming the field.
async fn resolve(state: &AppState, ctx: &InstanceScope, ch: &TaskChanges) -> ServiceResult<Refs> {
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
async fn patient_of(state: &AppState, ctx: &InstanceScope, t: &Value) -> ServiceResult<Option<Patient>> {
    match t["patient"]["id"].as_str() {
        Some(id) => Ok(state.db.patient(&ctx.instance.id, PatientKey::Id, id).await?),
        None => Ok(None),
    }
}

fn author(ctx: &InstanceScope) -> Value {
    let actor = ctx.actor();
    task::author_ref(&actor.id, &actor.full_name())
}

/// Audits a task write.
async fn record(
    tx: &mut Tx,
    ctx: &InstanceScope,
    op: Operation,
    t: &Value,
    patient: Option<&Patient>,
    now_ms: i64,
) -> ServiceResult<()> {
    let id = t["id"].as_str().unwrap_or_default();
    ctx.record(tx, Write { patient, ..Write::new("TASK", op, id, t) }, now_ms).await
}

/// Stores and audits a new task.
pub async fn insert(
    tx: &mut Tx,
    ctx: &InstanceScope,
    t: &Value,
    patient: Option<&Patient>,
    now_ms: i64,
) -> ServiceResult<()> {
    store::insert(tx, &ctx.tenant.id, &ctx.instance.id, t, now_ms).await?;
    record(tx, ctx, Operation::Create, t, patient, now_ms).await
}

/// A new task from a checked create body, with the users and patient it names.
pub async fn build(
    state: &AppState,
    ctx: &InstanceScope,
    ch: &TaskChanges,
    now_ms: i64,
) -> ServiceResult<(Value, Option<Patient>)> {
    let refs = resolve(state, ctx, ch).await?;
    let now = crate::time::format_ms(now_ms);
    let who = author(ctx);
    let mut t = task::blank(&crate::ids::record_id(), &now, &who, task::CREATED_BY_API);
    task::apply(&mut t, ch, &refs.users, refs.patient_ref());
    let comments: Vec<Value> =
        ch.comments.iter().map(|text| task::new_comment(&crate::ids::new_id(), &now, &who, text)).collect();
    t["comments"] = Value::Array(comments);
    Ok((t, refs.patient))
}

/// Refreshes the names shown in tasks (assignee, watchers, authors, patient) from the
/// users and patients as they are now.
pub async fn render(state: &AppState, ctx: &InstanceScope, tasks: &mut [Value]) -> ServiceResult<()> {
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

async fn rendered(state: &AppState, ctx: &InstanceScope, t: Value) -> ServiceResult<Value> {
    let mut one = [t];
    render(state, ctx, &mut one).await?;
    let [t] = one;
    Ok(t)
}

/// Stamps a changed task, stores it and audits it (with the patient it is about).
async fn save(state: &AppState, ctx: &InstanceScope, tx: &mut Tx, t: &mut Value, now_ms: i64) -> ServiceResult<()> {
    task::touch(t, &crate::time::format_ms(now_ms), &author(ctx));
    store::update(tx, &ctx.instance.id, t, now_ms).await?;
    let patient = patient_of(state, ctx, t).await?;
    record(tx, ctx, Operation::Update, t, patient.as_ref(), now_ms).await
}

/// Creates a task from a create body.
pub async fn create(state: &AppState, ctx: &InstanceScope, body: &Map<String, Value>) -> ServiceResult<Value> {
    let ch = task::parse(body, true).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let (t, patient) = build(state, ctx, &ch, now_ms).await?;
    let mut tx = state.db.begin().await?;
    insert(&mut tx, ctx, &t, patient.as_ref(), now_ms).await?;
    tx.commit().await?;
    Ok(t)
}

/// The task `id`, with names as they are now.
pub async fn read(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<Value> {
    let t = state.db.task(&ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    rendered(state, ctx, t).await
}

/// Applies a PATCH body to the task `id`. A goal's task keeps the goal's patient.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let ch = task::parse(body, false).map_err(invalid)?;
    let refs = resolve(state, ctx, &ch).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut t = store::get_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    if let (Some(goal), Some(new_patient)) = (t["goalId"].as_str(), &ch.patient) {
        if new_patient.as_deref() != t["patient"]["id"].as_str() {
            return Err(invalid(FieldError::new(
                "patient",
                format!("the task belongs to goal {goal} and keeps its patient"),
            )));
        }
    }
    task::apply(&mut t, &ch, &refs.users, refs.patient_ref());
    task::touch(&mut t, &crate::time::format_ms(now_ms), &author(ctx));
    store::update(&mut tx, &ctx.instance.id, &t, now_ms).await?;
    let patient = match refs.patient {
        Some(p) => Some(p),
        None => patient_of(state, ctx, &t).await?,
    };
    record(&mut tx, ctx, Operation::Update, &t, patient.as_ref(), now_ms).await?;
    tx.commit().await?;
    rendered(state, ctx, t).await
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

/// Sets the status of the tasks a batch body names; answers them. All or nothing: an
/// unknown id changes none.
pub async fn batch_update(
    state: &AppState,
    ctx: &InstanceScope,
    body: &Map<String, Value>,
) -> ServiceResult<Vec<Value>> {
    let (ids, status) = batch_body(body).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
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
            save(state, ctx, &mut tx, &mut t, now_ms).await?;
        }
        out.push(t);
    }
    tx.commit().await?;
    render(state, ctx, &mut out).await?;
    Ok(out)
}

/// One page of the tasks `filter` selects, and how many it selects in all.
pub async fn search(
    state: &AppState,
    ctx: &InstanceScope,
    filter: &TaskFilter,
    sorts: &[SortColumn],
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    let (mut data, total) = state.db.tasks(&ctx.instance.id, filter, sorts, offset, size).await?;
    render(state, ctx, &mut data).await?;
    Ok((data, total))
}

/// Adds the watcher a body names (`{id}`); one who already watches changes nothing.
pub async fn add_watcher(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: Map<String, Value>,
) -> ServiceResult<Value> {
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
    let mut t = store::get_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    if !task::watcher_ids(&t).contains(&user_id) {
        t["watchers"].as_array_mut().expect("tasks have watchers").push(watcher);
        save(state, ctx, &mut tx, &mut t, now_ms).await?;
        tx.commit().await?;
    }
    rendered(state, ctx, t).await
}

/// Removes a watcher from the task `id`.
pub async fn remove_watcher(state: &AppState, ctx: &InstanceScope, id: &str, watcher_id: &str) -> ServiceResult<Value> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut t = store::get_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    let watchers = t["watchers"].as_array_mut().expect("tasks have watchers");
    let before = watchers.len();
    watchers.retain(|w| w["id"].as_str() != Some(watcher_id));
    if watchers.len() == before {
        return Err(ServiceError::not_found(
            "TASK_WATCHER_NOT_FOUND",
            COMPONENT,
            "The user does not watch this task",
            json!({"id": id, "watcherId": watcher_id}),
        ));
    }
    save(state, ctx, &mut tx, &mut t, now_ms).await?;
    tx.commit().await?;
    rendered(state, ctx, t).await
}

/// Adds a comment (`{text}`) written by the calling API client.
pub async fn add_comment(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let text = task::comment_body(body).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let mut tx = state.db.begin().await?;
    let mut t = store::get_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    let comment = task::new_comment(&crate::ids::new_id(), &now, &author(ctx), &text);
    t["comments"].as_array_mut().expect("tasks have comments").push(comment);
    save(state, ctx, &mut tx, &mut t, now_ms).await?;
    tx.commit().await?;
    rendered(state, ctx, t).await
}

/// Removes a comment from the task `id`.
pub async fn remove_comment(state: &AppState, ctx: &InstanceScope, id: &str, comment_id: &str) -> ServiceResult<Value> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut t = store::get_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    let comments = t["comments"].as_array_mut().expect("tasks have comments");
    let before = comments.len();
    comments.retain(|c| c["id"].as_str() != Some(comment_id));
    if comments.len() == before {
        return Err(ServiceError::not_found(
            "TASK_COMMENT_NOT_FOUND",
            COMPONENT,
            "Task comment not found",
            json!({"id": id, "commentId": comment_id}),
        ));
    }
    save(state, ctx, &mut tx, &mut t, now_ms).await?;
    tx.commit().await?;
    rendered(state, ctx, t).await
}
