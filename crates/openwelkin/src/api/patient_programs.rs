//! Patient programs: `/{tenant}/{instance}/patients/{patientId}/programs…`.
//!
//! `PATCH programs/{programName}` enrols (`assigned: true`, in the START phase), moves
//! the phase (`phaseName`, along the program's `navigateTo` arrows), finishes
//! (`status: FINISHED`) or removes (`assigned: false`); `PATCH …/{programName}/phases`
//! only moves the phase. Reads go by name (`current/{programName}`: the unfinished
//! enrolment) or by id (`history/{id}`: any enrolment); DELETE takes the id (as the
//! Python client sends it) or the program name (as V8 documents it).

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::patient;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::designer::Kind;
use crate::domain::patient::Patient;
use crate::domain::patient_program::{
    parse_change, Change, PatientProgram, PatientProgramWrite, PhaseChangeWrite, Stamp, FINISHED,
};
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::patient_programs::rendered;
use crate::store::{is_unique_violation, patient_programs as store};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::cmp::Ordering;

const COMPONENT: &str = "PATIENT_PROGRAM";
const MESSAGE: &str = "Patient related to program doesn't exist";

/// No unfinished enrolment of the patient in the program (details as recorded).
fn open_not_found(patient_id: &str, program_name: &str) -> ApiError {
    ApiError::not_found(
        "PATIENT_PROGRAM_NOT_FOUND",
        COMPONENT,
        MESSAGE,
        json!({"programName": program_name, "patientId": patient_id, "notStatus": FINISHED}),
    )
}

/// No enrolment of the patient with this id (details as recorded).
fn id_not_found(patient_id: &str, id: &str) -> ApiError {
    ApiError::not_found("PATIENT_PROGRAM_NOT_FOUND", COMPONENT, MESSAGE, json!({"id": id, "patientId": patient_id}))
}

fn patient_not_found(id: &str) -> ApiError {
    ApiError::not_found("PATIENT_NOT_FOUND", "PATIENT", "Patient not found", json!({"id": id}))
}

fn program_not_found(name: &str) -> ApiError {
    ApiError::not_found("PROGRAM_NOT_FOUND", "PROGRAM", "Program not found", json!({"programName": name}))
}

fn invalid(e: FieldError) -> ApiError {
    ApiError::invalid_field(COMPONENT, e)
}

fn sort_field(field: &str) -> Option<&'static str> {
    Some(match field {
        "programName" => "programName",
        "programTitle" => "programTitle",
        "status" => "status",
        "assigned" => "assigned",
        "createdAt" => "createdAt",
        "updatedAt" => "updatedAt",
        _ => return None,
    })
}

fn sort_key(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A patient's programs (`{data, metaInfo}`): one row per program of the current
/// formation, in designer order: the latest enrolment, or (unless `assignedPrograms=true`)
/// a stub with `id: null, assigned: false`; then enrolments in programs the formation no
/// longer has.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/programs", tag = "Patient programs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("assignedPrograms" = Option<bool>, Query, description = "Only programs the patient is enrolled in"),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query),
           ("sort" = Option<String>, Query, description = "programName, programTitle, status, assigned, createdAt or updatedAt, with asc|desc")),
    responses((status = 200, body = MetaInfoPage<PatientProgram>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<PatientProgram>>> {
    ctx.require(Family::Programs, Op::Read)?;
    let assigned_only = params.bool("assignedPrograms")?.unwrap_or(false);
    let page = PageRequest::parse(&params, sort_field)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    let designer = &formation.designer;
    let enrolments = state.db.patient_programs(&ctx.instance.id, &p.id).await?;
    let latest = |name: &str| enrolments.iter().rev().find(|e| e.program_name == name).cloned();
    let names: Vec<String> = designer
        .list(Kind::Programs, formation.version)
        .iter()
        .filter_map(|v| v["name"].as_str().map(String::from))
        .collect();
    let mut rows = Vec::new();
    for name in &names {
        match (latest(name), designer.program(name)) {
            (Some(pp), _) => rows.push(rendered(pp, designer)),
            (None, Some(program)) if !assigned_only => rows.push(PatientProgram::stub(&program)),
            _ => {}
        }
    }
    let mut gone: Vec<&str> = Vec::new();
    for e in enrolments.iter().rev() {
        if !names.contains(&e.program_name) && !gone.contains(&e.program_name.as_str()) {
            gone.push(&e.program_name);
        }
    }
    gone.reverse();
    for name in gone {
        rows.extend(latest(name).map(|pp| rendered(pp, designer)));
    }
    if !page.sorts.is_empty() {
        let keyed: Vec<Value> = rows.iter().map(|r| serde_json::to_value(r).unwrap_or(Value::Null)).collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| {
            page.sorts
                .iter()
                .map(|s| {
                    let o = sort_key(&keyed[a][s.column]).cmp(&sort_key(&keyed[b][s.column]));
                    if s.descending {
                        o.reverse()
                    } else {
                        o
                    }
                })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        let mut slots: Vec<Option<PatientProgram>> = rows.into_iter().map(Some).collect();
        rows = order.into_iter().filter_map(|i| slots[i].take()).collect();
    }
    let total = rows.len() as i64;
    let data: Vec<PatientProgram> = rows.into_iter().skip(page.offset() as usize).take(page.size as usize).collect();
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}

/// The patient's unfinished enrolment in a program.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/programs/current/{programName}", tag = "Patient programs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("programName" = String, Path),
           ("assignedPrograms" = Option<bool>, Query, description = "Accepted and ignored, as the Python client sends it"),
           ("sort" = Option<String>, Query, description = "Accepted and ignored")),
    responses((status = 200, body = PatientProgram), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_current(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<PatientProgram>> {
    ctx.require(Family::Programs, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let pp = state
        .db
        .open_patient_program(&ctx.instance.id, &p.id, &path.3)
        .await?
        .ok_or_else(|| open_not_found(&p.id, &path.3))?;
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    Ok(Json(rendered(pp, &formation.designer)))
}

/// Any enrolment of the patient (unfinished or finished), by id.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/programs/history/{patientProgramId}", tag = "Patient programs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("patientProgramId" = String, Path),
           ("assignedPrograms" = Option<bool>, Query, description = "Accepted and ignored"),
           ("sort" = Option<String>, Query, description = "Accepted and ignored")),
    responses((status = 200, body = PatientProgram), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_history(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<PatientProgram>> {
    ctx.require(Family::Programs, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let pp = state
        .db
        .patient_program(&ctx.instance.id, &p.id, &path.3)
        .await?
        .ok_or_else(|| id_not_found(&p.id, &path.3))?;
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    Ok(Json(rendered(pp, &formation.designer)))
}

/// An enrolment by id, or the unfinished one by program name (the V8 form of the read).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/programs/{programName}", tag = "Patient programs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("programName" = String, Path, description = "A program name, or an enrolment id")),
    responses((status = 200, body = PatientProgram), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<PatientProgram>> {
    ctx.require(Family::Programs, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let key = &path.3;
    let by_id = match crate::ids::is_uuid(key) {
        true => state.db.patient_program(&ctx.instance.id, &p.id, key).await?,
        false => None,
    };
    let pp = match by_id {
        Some(pp) => pp,
        None => state.db.open_patient_program(&ctx.instance.id, &p.id, key).await?.ok_or_else(|| {
            if crate::ids::is_uuid(key) {
                id_not_found(&p.id, key)
            } else {
                open_not_found(&p.id, key)
            }
        })?,
    };
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    Ok(Json(rendered(pp, &formation.designer)))
}

/// Enrol the patient (`assigned: true`, starting in the START phase; with `phaseName`,
/// moving on to it), move the phase (`phaseName`), finish (`status: FINISHED`) or remove
/// the enrolment (`assigned: false`). A phase not reachable from the current one is a 400
/// and changes nothing. Answers 200, as recorded.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/programs/{programName}", tag = "Patient programs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("programName" = String, Path)),
    request_body = PatientProgramWrite,
    responses((status = 200, body = PatientProgram), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<PatientProgram>> {
    ctx.require(Family::Programs, Op::Update)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let change = parse_change(&body, false).map_err(invalid)?;
    apply(&state, &ctx, &p, &path.3, change, false).await
}

/// Move the patient's unfinished enrolment to another phase (`{phaseName}`), along the
/// program's arrows. Answers 200.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/programs/{programName}/phases", tag = "Patient programs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("programName" = String, Path)),
    request_body = PhaseChangeWrite,
    responses((status = 200, body = PatientProgram), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn change_phase(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<PatientProgram>> {
    ctx.require(Family::Programs, Op::Update)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let change = parse_change(&body, true).map_err(invalid)?;
    apply(&state, &ctx, &p, &path.3, change, true).await
}

async fn apply(
    state: &AppState,
    ctx: &InstanceCaller,
    p: &Patient,
    program_name: &str,
    change: Change,
    phase_only: bool,
) -> ApiResult<Json<PatientProgram>> {
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    let designer = &formation.designer;
    let program = designer.program(program_name).ok_or_else(|| program_not_found(program_name))?;
    let actor = ctx.actor();
    let actor_name = actor.full_name();
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let stamp = Stamp { actor_id: &actor.id, actor_name: &actor_name, now: &now, version: formation.version };
    let mut tx = state.db.begin().await?;
    // The patient's row first: whether an unfinished enrolment exists decides between
    // enrolling and changing it, and a missing enrolment has no row to lock. Two
    // concurrent enrolments thus run one after the other; the second finds the first's.
    if !crate::store::patients::lock(&mut tx, &ctx.instance.id, &p.id).await? {
        return Err(patient_not_found(&p.id));
    }
    let open = store::open_for_update(&mut tx, &ctx.instance.id, &p.id, program_name).await?;
    let (pp, operation) = match open {
        None if phase_only || change.assigned == Some(false) => return Err(open_not_found(&p.id, program_name)),
        None => {
            if change.status.as_deref() == Some(FINISHED) {
                return Err(invalid(FieldError::new("status", "a new enrolment starts IN_PROGRESS")));
            }
            let mut pp = PatientProgram::enrol(crate::ids::new_id(), &p.id, &program, &stamp).map_err(invalid)?;
            if let Some(phase) = &change.phase_name {
                pp.move_to(&program, phase, &stamp).map_err(invalid)?;
            }
            store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &pp, now_ms).await.map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::conflict(
                        "PATIENT_PROGRAM_ALREADY_EXISTS",
                        COMPONENT,
                        "the patient was enrolled in this program at the same time",
                        json!({"programName": program_name, "patientId": p.id}),
                    )
                } else {
                    e.into()
                }
            })?;
            (pp, Operation::Create)
        }
        Some(pp) if change.assigned == Some(false) => {
            let id = pp.id.clone().unwrap_or_default();
            store::delete(&mut tx, &ctx.instance.id, &id).await?;
            audit(&mut tx, ctx, p, Operation::Delete, &pp, now_ms).await?;
            tx.commit().await?;
            return Ok(Json(PatientProgram::stub(&program)));
        }
        Some(mut pp) => {
            let mut changed = false;
            if let Some(phase) = &change.phase_name {
                changed |= pp.move_to(&program, phase, &stamp).map_err(invalid)?;
            }
            if change.status.as_deref() == Some(FINISHED) {
                changed |= pp.finish(&stamp);
            }
            if !changed {
                return Ok(Json(rendered(pp, designer)));
            }
            store::update(&mut tx, &ctx.instance.id, &pp, now_ms).await?;
            (pp, Operation::Update)
        }
    };
    audit(&mut tx, ctx, p, operation, &pp, now_ms).await?;
    tx.commit().await?;
    Ok(Json(rendered(pp, designer)))
}

/// Remove an enrolment, by its id or by program name (the unfinished one). Answers 200
/// with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/programs/{programName}", tag = "Patient programs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("programName" = String, Path, description = "An enrolment id, or a program name")),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Programs, Op::Delete)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let key = &path.3;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut found = None;
    if crate::ids::is_uuid(key) {
        found = store::get_for_update(&mut tx, &ctx.instance.id, &p.id, key).await?;
    }
    if found.is_none() {
        found = store::open_for_update(&mut tx, &ctx.instance.id, &p.id, key).await?;
    }
    let pp = found.ok_or_else(|| id_not_found(&p.id, key))?;
    store::delete(&mut tx, &ctx.instance.id, pp.id.as_deref().unwrap_or_default()).await?;
    audit(&mut tx, &ctx, &p, Operation::Delete, &pp, now_ms).await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}

async fn audit(
    tx: &mut crate::store::Tx,
    ctx: &InstanceCaller,
    p: &Patient,
    operation: Operation,
    pp: &PatientProgram,
    now_ms: i64,
) -> ApiResult<()> {
    let record = serde_json::to_value(pp).map_err(ApiError::internal)?;
    let id = pp.id.clone().unwrap_or_default();
    Ok(ctx
        .record(tx, Write { patient: Some(p), ..Write::new("PATIENT_PROGRAM", operation, &id, &record) }, now_ms)
        .await?)
}
