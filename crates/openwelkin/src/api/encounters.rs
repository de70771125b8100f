//! Encounters: `/{tenant}/{instance}/patients/{patientId}/encounters…` and the user's
//! listing. An encounter is made from an encounter template of the current formation:
//! it gets the template's assessments as links and an empty disposition (the
//! formation's disposition data type). Its status moves only along
//! `domain::encounter::next_statuses`; finalizing needs the disposition's required
//! fields; finalized and cancelled encounters no longer change.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::{patient, record_not_found};
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::designer::data_type::{stable_id, DataType};
use crate::domain::encounter::{self as domain, Change};
use crate::domain::patient::Patient;
use crate::domain::records;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::encounters::{self as store, Owner, StoredEncounter};
use crate::store::records::{self as dt, DtKind, RecordKey, Scope, StoredRecord};
use crate::store::Tx;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

const COMPONENT: &str = "ENCOUNTER";
use crate::domain::encounter::{DISPOSITION, ENCOUNTER, LINK};

fn invalid(e: FieldError) -> ApiError {
    ApiError::invalid_field(COMPONENT, e)
}

fn not_found(patient_id: &str, id: &str) -> ApiError {
    record_not_found(json!({"patientId": patient_id, "cdtRecordId": id, "cdtName": ENCOUNTER})).into()
}

fn scope<'a>(ctx: &'a InstanceCaller, name: &'a str, patient_id: &'a str) -> Scope<'a> {
    Scope {
        tenant_id: &ctx.tenant.id,
        instance_id: &ctx.instance.id,
        kind: DtKind::Internal,
        dt_name: name,
        patient_id: Some(Some(patient_id)),
    }
}

fn envelope(e: &StoredEncounter) -> Value {
    records::envelope(
        &e.id,
        Some(&e.patient_id),
        &stable_id(&format!("INTERNAL:{ENCOUNTER}")),
        e.version,
        &e.body,
        ENCOUNTER,
    )
}

fn internal_envelope(r: &StoredRecord, name: &str) -> Value {
    records::envelope(&r.id, r.patient_id.as_deref(), &stable_id(&format!("INTERNAL:{name}")), r.version, &r.body, name)
}

/// A record owned by an encounter: system fields pointing at it, plus `fields`.
fn owned_body(
    id: &str,
    encounter_id: &str,
    now: &str,
    ctx: &InstanceCaller,
    fields: Map<String, Value>,
) -> Map<String, Value> {
    let actor = ctx.actor();
    let dt: DataType = serde_json::from_value(json!({"name": "owned", "fields": []})).expect("empty data type");
    let mut body = records::blank_body(&dt, id, now, &actor.id, &actor.full_name());
    body.insert("source_type".into(), json!("ENCOUNTER"));
    body.insert("source_name".into(), json!(ENCOUNTER));
    body.insert("source_id".into(), json!(encounter_id));
    body.extend(fields);
    body
}

async fn user_name(state: &AppState, ctx: &InstanceCaller, id: &str) -> ApiResult<String> {
    let u = state
        .db
        .user(&ctx.tenant.id, id, true)
        .await?
        .ok_or_else(|| invalid(FieldError::new("ownerUserId", format!("user {id} does not exist"))))?;
    Ok(match (&u.first_name, &u.last_name) {
        (None, None) => u.username.clone(),
        (f, l) => {
            format!("{} {}", f.as_deref().unwrap_or_default(), l.as_deref().unwrap_or_default()).trim().to_string()
        }
    })
}

fn local(ms: i64, p: &Patient) -> String {
    crate::time::format_local_ms(ms, p.timezone.as_deref())
}

/// Create an encounter from a template (status `DRAFT`).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/encounters", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content = Object, description = "templateName (required), title, description, notes, ownerUserId, calendarEventId"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Encounters, Op::Create)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let id = crate::ids::new_id();
    let mut body = body;
    // An inline appointment books a calendar event with the encounter, as recorded.
    let appointment = match body.remove("currentScheduledAppointment") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => Some(a),
        Some(_) => return Err(invalid(FieldError::new("currentScheduledAppointment", "must be an object"))),
    };
    let change = domain::parse_change(&body, &id).map_err(invalid)?;
    let template_name =
        change.template.clone().ok_or_else(|| invalid(FieldError::new("templateName", "is required")))?;
    if change.status.as_deref().is_some_and(|s| s != "DRAFT") {
        return Err(invalid(FieldError::new("status", "a new encounter is DRAFT")));
    }
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    let template = formation
        .designer
        .encounter_template(&template_name)
        .ok_or_else(|| invalid(FieldError::new("templateName", format!("no encounter template {template_name:?}"))))?;
    let host = appointment.as_ref().and_then(|a| a.get("hostId")).and_then(Value::as_str).map(String::from);
    let owner = change.owner.clone().flatten().or(host);
    let owner_name = match &owner {
        Some(u) => Some(user_name(&state, &ctx, u).await?),
        None => None,
    };
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let disposition_id = crate::ids::new_id();
    let local_now = local(now_ms, &p);
    let fields = crate::domain::encounter::draft_fields(
        &template,
        crate::domain::encounter::Draft {
            title: change.fields.get("title").cloned().unwrap_or(json!(template.title)),
            description: change.fields.get("description").cloned().unwrap_or(Value::Null),
            notes: change.fields.get("notes").cloned().unwrap_or(Value::Null),
            disposition_id: &disposition_id,
            owner_id: owner.as_deref(),
            owner_name: owner_name.as_deref(),
            local_now: &local_now,
        },
    );
    let mut encounter_body = owned_body(&id, &id, &now, &ctx, fields);
    for k in ["source_type", "source_name", "source_id"] {
        encounter_body.insert(k.into(), Value::Null);
    }
    let encounter =
        StoredEncounter { id: id.clone(), patient_id: p.id.clone(), version: formation.version, body: encounter_body };

    let disposition_type = formation.designer.disposition();
    let mut disposition = owned_body(&disposition_id, &id, &now, &ctx, Map::new());
    for f in &disposition_type.fields {
        disposition.insert(f.name.clone(), Value::Null);
    }
    let mut encounter = encounter;
    let mut tx = state.db.begin().await?;
    let event = match (&appointment, &change.calendar_event) {
        (Some(a), _) => {
            let mut a = a.clone();
            // As recorded: an encounter's appointment is scheduled, in the template's mode.
            a.entry("eventType").or_insert(json!("ENCOUNTER"));
            a.entry("eventStatus").or_insert(json!("SCHEDULED"));
            if crate::domain::calendar::EVENT_MODES.contains(&template.delivery_method.as_str()) {
                a.entry("eventMode").or_insert(json!(template.delivery_method));
            }
            Some(crate::services::calendar::events::create_in(&state, &ctx, &mut tx, &a, now_ms).await?)
        }
        (None, Some(Some(event_id))) => Some(existing_event(&mut tx, &ctx, event_id).await?),
        _ => None,
    };
    if let Some(event) = event {
        link_event(&state, &ctx, &mut encounter.body, &event, &p).await?;
    }
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &encounter, now_ms).await?;
    dt::insert(&mut tx, &scope(&ctx, DISPOSITION, &p.id), &disposition_id, formation.version, &disposition, now_ms)
        .await?;
    for name in &template.assessment_names {
        let a = formation.designer.assessment(name);
        let link = link_fields(name, a.map(|a| a.title).unwrap_or_default(), None, true);
        let link_id = crate::ids::new_id();
        let link_body = owned_body(&link_id, &id, &now, &ctx, link);
        dt::insert(&mut tx, &scope(&ctx, LINK, &p.id), &link_id, formation.version, &link_body, now_ms).await?;
    }
    let record = envelope(&encounter);
    ctx.record(
        &mut tx,
        Write {
            patient: Some(&p),
            cdt_name: Some(ENCOUNTER),
            ..Write::new("ENCOUNTER", Operation::Create, &id, &record)
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(record)))
}

fn link_fields(name: &str, title: String, record_id: Option<String>, from_template: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("assessmentName".into(), json!(name));
    m.insert("assessmentTitle".into(), json!(title));
    m.insert("assessmentRecordId".into(), json!(record_id));
    m.insert("fromTemplate".into(), json!(from_template));
    m.insert("relation".into(), json!("ASSESSMENT"));
    m
}

/// Read an encounter.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let e = state.db.encounter(&ctx.instance.id, &p.id, &path.3).await?.ok_or_else(|| not_found(&p.id, &path.3))?;
    Ok(Json(envelope(&e)))
}

/// An encounter with everything around it: `{encounter, disposition, calendarEvent,
/// userRelatedToCalendarEvent, assessmentLinks, comments}` (no top-level id, as recorded).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/full-encounters/{encounterId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_full(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let e = state.db.encounter(&ctx.instance.id, &p.id, &path.3).await?.ok_or_else(|| not_found(&p.id, &path.3))?;
    Ok(Json(full(&state, &ctx, &e).await?))
}

async fn full(state: &AppState, ctx: &InstanceCaller, e: &StoredEncounter) -> ApiResult<Value> {
    let disposition = match e.body.get("dispositionId").and_then(Value::as_str) {
        Some(id) => state
            .db
            .record(&scope(ctx, DISPOSITION, &e.patient_id), RecordKey::Id, id)
            .await?
            .map(|r| internal_envelope(&r, DISPOSITION)),
        None => None,
    };
    let links = links_of(state, ctx, e).await?;
    let comments = state.db.encounter_comments(&ctx.instance.id, &e.id).await?;
    let owner = match e.body.get("ownerUserId").and_then(Value::as_str) {
        Some(u) => {
            state.db.user(&ctx.tenant.id, u, true).await?.map(|u| serde_json::to_value(u).expect("users serialize"))
        }
        None => None,
    };
    Ok(json!({
        "encounter": envelope(e),
        "disposition": disposition,
        "calendarEvent": e.body.get("calendarEvent").cloned().unwrap_or(Value::Null),
        "userRelatedToCalendarEvent": owner,
        "assessmentLinks": links,
        "comments": comments,
    }))
}

async fn links_of(state: &AppState, ctx: &InstanceCaller, e: &StoredEncounter) -> ApiResult<Vec<Value>> {
    let all = state.db.records(&scope(ctx, LINK, &e.patient_id), None, None).await?;
    Ok(all
        .iter()
        .filter(|r| r.body.get("source_id").and_then(Value::as_str) == Some(&e.id))
        .map(|r| internal_envelope(r, LINK))
        .collect())
}

/// Filters and pages a listing: `statuses` (comma list), `onlyWithCalendarEvent`, `sort`.
fn select(mut found: Vec<StoredEncounter>, params: &Params) -> ApiResult<(Vec<StoredEncounter>, PageRequest, i64)> {
    let page = PageRequest::parse(params, |f| {
        matches!(f, "createdAt" | "updatedAt" | "title" | "status").then_some("jsonBody")
    })?;
    if let Some(statuses) = params.list("statuses").filter(|l| !l.is_empty()) {
        let wanted: Vec<String> = statuses.iter().map(|s| s.to_ascii_uppercase()).collect();
        if let Some(bad) = wanted.iter().find(|s| !domain::STATUSES.contains(&s.as_str())) {
            return Err(ApiError::invalid_param(
                "statuses",
                format!("{bad:?} is not one of {}", domain::STATUSES.join(", ")),
            ));
        }
        found.retain(|e| e.body.get("status").and_then(Value::as_str).is_some_and(|s| wanted.iter().any(|w| w == s)));
    }
    if params.bool("onlyWithCalendarEvent")?.unwrap_or(false) {
        found.retain(|e| e.body.get("calendarEventId").is_some_and(|v| !v.is_null()));
    }
    for spec in params.all("sort").filter(|s| !s.trim().is_empty()) {
        let mut parts = spec.split(',').map(str::trim);
        let key = match parts.next().unwrap_or_default() {
            "createdAt" => "created_at",
            "updatedAt" => "updated_at",
            other => other,
        }
        .to_string();
        let desc = parts.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
        found.sort_by(|a, b| {
            let o = a.body.get(&key).map(Value::to_string).cmp(&b.body.get(&key).map(Value::to_string));
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    }
    let total = found.len() as i64;
    let selected = found.into_iter().skip(page.offset() as usize).take(page.size as usize).collect();
    Ok((selected, page, total))
}

/// A patient's encounters (`{data, metaInfo}`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("statuses" = Option<String>, Query, description = "Comma list of DRAFT, OPEN, ACTIVE, FINALIZED, CANCELLED"),
           ("onlyWithCalendarEvent" = Option<bool>, Query), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let (found, page, total) = select(state.db.encounters(&ctx.instance.id, Owner::Patient(&p.id)).await?, &params)?;
    Ok(Json(MetaInfoPage::new(found.iter().map(envelope).collect(), &page, total)))
}

/// A patient's encounters with everything around them (`{data, metaInfo}`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/full-encounters", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("statuses" = Option<String>, Query), ("onlyWithCalendarEvent" = Option<bool>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_full(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let (found, page, total) = select(state.db.encounters(&ctx.instance.id, Owner::Patient(&p.id)).await?, &params)?;
    let mut data = Vec::with_capacity(found.len());
    for e in &found {
        data.push(full(&state, &ctx, e).await?);
    }
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}

async fn user_encounters(
    state: &AppState,
    ctx: &InstanceCaller,
    user_id: &str,
    params: &Params,
) -> ApiResult<(Vec<StoredEncounter>, PageRequest, i64)> {
    state
        .db
        .user(&ctx.tenant.id, user_id, true)
        .await?
        .ok_or_else(|| ApiError::not_found("USER_NOT_FOUND", "USER", "User doesn't exist", json!({})))?;
    let mut patients = Vec::new();
    if params.bool("withCareTeam")?.unwrap_or(false) {
        let (all, _) = state.db.patients(&ctx.instance.id, &Default::default(), &[], 0, i64::from(i32::MAX)).await?;
        patients =
            all.into_iter().filter(|p| p.care_team_members.iter().any(|m| m.id == user_id)).map(|p| p.id).collect();
    }
    select(state.db.encounters(&ctx.instance.id, Owner::User(user_id, &patients)).await?, params)
}

/// A user's encounters (`{data, metaInfo}`); items carry `patientInfo` and null
/// `cdtId`/`version`/`cdtName`, as recorded. `withCareTeam` adds the encounters of the
/// patients whose care team the user is in.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/users/{userId}/encounters", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("userId" = String, Path),
           ("withCareTeam" = Option<bool>, Query), ("statuses" = Option<String>, Query), ("onlyWithCalendarEvent" = Option<bool>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_for_user(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let (found, page, total) = user_encounters(&state, &ctx, &path.2, &params).await?;
    let mut data = Vec::with_capacity(found.len());
    for e in &found {
        let mut body = e.body.clone();
        body.retain(|k, _| !crate::designer::data_type::SYSTEM_FIELDS.iter().any(|(s, _)| s == k));
        let p = state.db.patient(&ctx.instance.id, crate::store::patients::PatientKey::Id, &e.patient_id).await?;
        body.insert(
            "patientInfo".into(),
            json!({"patientId": e.patient_id, "firstName": p.as_ref().map(|p| &p.first_name), "lastName": p.as_ref().map(|p| &p.last_name)}),
        );
        data.push(json!({"id": e.id, "patientId": e.patient_id, "cdtId": null, "version": null, "jsonBody": body, "cdtName": null}));
    }
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}

/// A user's encounters with everything around them (`{data, metaInfo}`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/users/{userId}/full-encounters", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("userId" = String, Path),
           ("withCareTeam" = Option<bool>, Query), ("statuses" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_full_for_user(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let (found, page, total) = user_encounters(&state, &ctx, &path.2, &params).await?;
    let mut data = Vec::with_capacity(found.len());
    for e in &found {
        data.push(full(&state, &ctx, e).await?);
    }
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}

fn closed(e: &StoredEncounter) -> ApiResult<()> {
    let status = e.body.get("status").and_then(Value::as_str).unwrap_or_default();
    if domain::is_closed(status) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "ENCOUNTER_CLOSED",
            COMPONENT,
            format!("The encounter is {status} and can no longer change"),
            json!({"encounterId": e.id, "status": status}),
        ));
    }
    Ok(())
}

fn stamp(body: &mut Map<String, Value>, ctx: &InstanceCaller, p: &Patient, now_ms: i64) {
    let actor = ctx.actor();
    body.insert("updated_at".into(), json!(crate::time::format_ms(now_ms)));
    body.insert("updated_by".into(), json!(actor.id));
    body.insert("updated_by_name".into(), json!(actor.full_name()));
    body.insert("local_updated_at".into(), json!(local(now_ms, p)));
}

/// Update an encounter: title, description, notes, status (along the allowed
/// transitions), owner, template (while `DRAFT`). Finalized or cancelled ones refuse.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    request_body(content = Object, description = "jsonBody fields: title, description, notes, status, ownerUserId, templateName"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Update)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let change: Change = domain::parse_change(&body, &path.3).map_err(invalid)?;
    let owner_name = match change.owner.clone().flatten() {
        Some(u) => Some(user_name(&state, &ctx, &u).await?),
        None => None,
    };
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut e = store::get_for_update(&mut tx, &ctx.instance.id, &p.id, &path.3)
        .await?
        .ok_or_else(|| not_found(&p.id, &path.3))?;
    closed(&e)?;
    let current = e.body.get("status").and_then(Value::as_str).unwrap_or("DRAFT").to_string();
    if let Some(template) = &change.template {
        if template != e.body.get("templateName").and_then(Value::as_str).unwrap_or_default() {
            if current != "DRAFT" {
                return Err(invalid(FieldError::new("templateName", "can change only while the encounter is DRAFT")));
            }
            let t = formation.designer.encounter_template(template).ok_or_else(|| {
                invalid(FieldError::new("templateName", format!("no encounter template {template:?}")))
            })?;
            e.body.insert("templateName".into(), json!(t.name));
            e.body.insert("type".into(), json!(t.name));
            e.body.insert("templateTitle".into(), json!(t.title));
            e.body.insert("instruction".into(), json!(t.encounter_instruction));
        }
    }
    if let Some(owner) = &change.owner {
        e.body.insert("ownerUserId".into(), json!(owner));
        e.body.insert("ownerUserName".into(), json!(owner_name));
    }
    match &change.calendar_event {
        Some(Some(event_id)) => {
            let event = existing_event(&mut tx, &ctx, event_id).await?;
            link_event(&state, &ctx, &mut e.body, &event, &p).await?;
        }
        Some(None) => {
            for key in [
                "calendarEventId",
                "calendarEventStartDatetime",
                "localCalendarEventStartDatetime",
                "currentScheduledAppointment",
                "calendarEvent",
            ] {
                e.body.insert(key.into(), Value::Null);
            }
        }
        None => {}
    }
    e.body.extend(change.fields.clone());
    let mut subtype = None;
    if let Some(next) = change.status.as_deref().filter(|s| *s != current) {
        if !domain::next_statuses(&current).contains(&next) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_STATUS_TRANSITION",
                COMPONENT,
                format!(
                    "An encounter cannot go from {current} to {next}; allowed: {}",
                    domain::next_statuses(&current).join(", ")
                ),
                json!({"from": current, "to": next, "allowed": domain::next_statuses(&current)}),
            ));
        }
        let now = json!(crate::time::format_ms(now_ms));
        match next {
            "ACTIVE" => {
                e.body.insert("startDatetime".into(), now);
                e.body.insert("localStartDatetime".into(), json!(local(now_ms, &p)));
            }
            "FINALIZED" => {
                check_disposition(&mut tx, &ctx, &formation.designer.disposition(), &e).await?;
                e.body.insert("endDatetime".into(), now);
                e.body.insert("localEndDatetime".into(), json!(local(now_ms, &p)));
                subtype = Some("ENCOUNTER_FINALIZED");
            }
            _ => {}
        }
        e.body.insert("status".into(), json!(next));
    }
    stamp(&mut e.body, &ctx, &p, now_ms);
    store::update(&mut tx, &ctx.instance.id, &e, now_ms).await?;
    let record = envelope(&e);
    let write = Write {
        patient: Some(&p),
        cdt_name: Some(ENCOUNTER),
        subtype,
        ..Write::new("ENCOUNTER", Operation::Update, &e.id, &record)
    };
    ctx.record(&mut tx, write, now_ms).await?;
    tx.commit().await?;
    Ok(Json(record))
}

/// An encounter is finalized only with its disposition's required fields filled.
async fn check_disposition(
    tx: &mut Tx,
    ctx: &InstanceCaller,
    disposition_type: &DataType,
    e: &StoredEncounter,
) -> ApiResult<()> {
    let id = e.body.get("dispositionId").and_then(Value::as_str).unwrap_or_default();
    let d = dt::get_for_update(tx, &scope(ctx, DISPOSITION, &e.patient_id), RecordKey::Id, id).await?;
    let body = d.map(|d| d.body).unwrap_or_default();
    if let Some(missing) =
        disposition_type.fields.iter().find(|f| f.meta.required && body.get(&f.name).is_none_or(Value::is_null))
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            COMPONENT,
            format!("disposition.{}: is required to finalize the encounter", missing.name),
            json!({"field": format!("disposition.{}", missing.name), "reason": "is required to finalize the encounter"}),
        ));
    }
    Ok(())
}

/// Delete an encounter with its links, disposition and comments. Answers 200, empty.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Encounters, Op::Delete)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let e = store::get_for_update(&mut tx, &ctx.instance.id, &p.id, &path.3)
        .await?
        .ok_or_else(|| not_found(&p.id, &path.3))?;
    // Read inside the transaction, after the encounter's lock: a link added meanwhile
    // (adding one locks the encounter too) is committed by now and goes with it.
    for link_id in store::owned_record_ids(&mut tx, &ctx.instance.id, &p.id, LINK, &e.id).await? {
        dt::delete(&mut tx, &scope(&ctx, LINK, &p.id), &link_id).await?;
    }
    if let Some(d) = e.body.get("dispositionId").and_then(Value::as_str) {
        dt::delete(&mut tx, &scope(&ctx, DISPOSITION, &p.id), d).await?;
    }
    store::delete(&mut tx, &ctx.instance.id, &e.id).await?;
    let record = envelope(&e);
    ctx.record(
        &mut tx,
        Write {
            patient: Some(&p),
            cdt_name: Some(ENCOUNTER),
            ..Write::new("ENCOUNTER", Operation::Delete, &e.id, &record)
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}

async fn existing_event(tx: &mut Tx, ctx: &InstanceCaller, id: &str) -> ApiResult<Value> {
    crate::store::calendar::event_for_update(tx, &ctx.instance.id, id)
        .await?
        .ok_or_else(|| invalid(FieldError::new("calendarEventId", format!("no calendar event {id}"))))
}

/// Puts a calendar event into an encounter's fields, rendered for the patient's zone.
async fn link_event(
    state: &AppState,
    ctx: &InstanceCaller,
    body: &mut Map<String, Value>,
    event: &Value,
    p: &Patient,
) -> ApiResult<()> {
    let zone = p.timezone.as_deref().and_then(|t| t.parse().ok());
    let rendered =
        crate::services::calendar::render_events(state, ctx, std::slice::from_ref(event), zone).await?.remove(0);
    body.insert("calendarEventId".into(), rendered["id"].clone());
    body.insert("calendarEventStartDatetime".into(), rendered["startDateTime"].clone());
    body.insert("localCalendarEventStartDatetime".into(), rendered["localStartDateTime"].clone());
    body.insert("currentScheduledAppointment".into(), rendered.clone());
    body.insert("calendarEvent".into(), rendered);
    Ok(())
}
