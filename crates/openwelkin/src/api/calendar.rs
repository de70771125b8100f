//! Calendar: events (`/{tenant}/{instance}/calendar/events…`), users' schedules, the event
//! summary and work hours (`…/calendar/psm-schedules`, `…/psm-event-summary`,
//! `…/work-hours`).
//!
//! As recorded: creating an event answers 201, deleting one 204; a deleted event whose
//! end has passed stays readable with `eventStatus: CANCELLED`, any other is gone (404).
//! Event searches answer a Spring page sorted by start unless asked otherwise
//! (`sort.sorted: true`); schedules and work hours answer bare arrays (`[]` when empty).
//!
//! Overlaps are not refused: Welkin books a user twice or outside working hours when
//! asked to, and reports the load instead, in the schedules (events beside working
//! hours) and in the event summary (`totalEventHours` against `totalWorkingHours`,
//! `occupancy`).

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::calendar as cal;
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::calendar::{self as store, EventFilter};
use crate::store::patients::PatientFilter;
use crate::store::query::SortColumn;
use crate::store::users::UserFilter;
use crate::store::{is_unique_violation, Tx};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono_tz::Tz;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const COMPONENT: &str = "CALENDAR";
/// Longest range the event summary computes working hours over.
const MAX_SUMMARY_DAYS: i64 = 5 * 366;

fn event_not_found(id: &str) -> ApiError {
    ApiError::not_found("CALENDAR_EVENT_NOT_FOUND", COMPONENT, "Calendar event not found", json!({"id": id}))
}

fn hours_not_found(id: &str) -> ApiError {
    ApiError::not_found("WORK_HOURS_NOT_FOUND", COMPONENT, "Work hours not found", json!({"workHoursId": id}))
}

fn external_id_taken(external_id: &str, holder: &str) -> ApiError {
    ApiError::conflict(
        "CALENDAR_EVENT_ALREADY_EXISTS",
        COMPONENT,
        "another calendar event has this externalId",
        json!({"externalId": external_id, "id": holder}),
    )
}

fn invalid(e: FieldError) -> ApiError {
    ApiError::invalid_field(COMPONENT, e)
}

/// `viewerTimezone` (or, for work hours as older clients send it, `timezone`).
fn viewer_tz(params: &Params, names: &[&str]) -> ApiResult<Option<Tz>> {
    for name in names {
        if let Some(v) = params.text(name) {
            return v
                .parse::<Tz>()
                .map(Some)
                .map_err(|_| ApiError::invalid_param(name, format!("{v:?} is not an IANA time zone")));
        }
    }
    Ok(None)
}

fn time_param(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    super::cdts::date_param(params, name)
}

/// `psmIds` (as the client and the recordings send it) or `psm-ids` (as the reference
/// writes it): user ids, each a UUID.
fn psm_ids(params: &Params) -> ApiResult<Option<Vec<String>>> {
    let (name, list) = match params.list("psmIds") {
        Some(l) => ("psmIds", l),
        None => match params.list("psm-ids") {
            Some(l) => ("psm-ids", l),
            None => return Ok(None),
        },
    };
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for id in list {
        let id = uuid::Uuid::parse_str(&id)
            .map_err(|_| ApiError::invalid_param(name, format!("{id:?} is not a UUID")))?
            .to_string();
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(Some(out))
}

/// The users a schedule or summary is about: the ones asked for, else every user of the
/// tenant.
async fn schedule_users(state: &AppState, ctx: &InstanceCaller, params: &Params) -> ApiResult<Vec<String>> {
    match psm_ids(params)? {
        Some(ids) => Ok(ids),
        None => {
            let (users, _) = state.db.users(&ctx.tenant.id, &UserFilter::default(), &[], 0, 1000).await?;
            Ok(users.into_iter().map(|u| u.id).collect())
        }
    }
}

async fn user_zones(state: &AppState, ctx: &InstanceCaller, ids: &[String]) -> ApiResult<HashMap<String, Option<Tz>>> {
    let users = state.db.users_by_ids(&ctx.tenant.id, ids).await?;
    Ok(users.into_iter().map(|u| (u.id.clone(), cal::parse_tz(u.timezone.as_deref()))).collect())
}

/// Checks that every participant exists (users in the tenant, patients in the instance),
/// except those already in the event before this change (`kept`): a participant deleted
/// since does not block other changes. Returns the first existing patient taking part,
/// whom the audit row names.
async fn check_participants(
    state: &AppState,
    ctx: &InstanceCaller,
    event: &Value,
    kept: &[(String, String)],
) -> ApiResult<Option<Patient>> {
    let refs = cal::participant_refs(event);
    let user_ids: Vec<String> = refs.iter().filter(|(r, _)| r == cal::ROLE_USER).map(|(_, id)| id.clone()).collect();
    let patient_ids: Vec<String> =
        refs.iter().filter(|(r, _)| r == cal::ROLE_PATIENT).map(|(_, id)| id.clone()).collect();
    let users = state.db.users_by_ids(&ctx.tenant.id, &user_ids).await?;
    let patients = if patient_ids.is_empty() {
        vec![]
    } else {
        let filter = PatientFilter { ids: Some(patient_ids.clone()), ..Default::default() };
        state.db.patients(&ctx.instance.id, &filter, &[], 0, patient_ids.len() as i64).await?.0
    };
    for (i, (role, id)) in refs.iter().enumerate() {
        let known = if role == cal::ROLE_USER {
            users.iter().any(|u| &u.id == id)
        } else {
            patients.iter().any(|p| &p.id == id)
        };
        if !known && !kept.contains(&(role.clone(), id.clone())) {
            let what = if role == cal::ROLE_USER { "user" } else { "patient" };
            return Err(invalid(FieldError::new(
                format!("participants[{i}].participantId"),
                format!("no {what} {id} in this {}", if role == cal::ROLE_USER { "tenant" } else { "instance" }),
            )));
        }
    }
    Ok(refs
        .iter()
        .filter(|(r, _)| r == cal::ROLE_PATIENT)
        .find_map(|(_, id)| patients.iter().find(|p| &p.id == id).cloned()))
}

async fn check_external_id(tx: &mut Tx, ctx: &InstanceCaller, event: &Value) -> ApiResult<()> {
    if let Some(ext) = event["externalId"].as_str() {
        if let Some(holder) = store::external_id_holder(tx, &ctx.instance.id, ext).await? {
            if event["id"].as_str() != Some(holder.as_str()) {
                return Err(external_id_taken(ext, &holder));
            }
        }
    }
    Ok(())
}

fn map_unique(event: &Value) -> impl FnOnce(crate::store::sql::Error) -> ApiError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            external_id_taken(event["externalId"].as_str().unwrap_or_default(), "")
        } else {
            e.into()
        }
    }
}

/// Creates an event from a create body inside `tx` (validated, participants checked,
/// audited as `CALENDAR_EVENT_CREATED`) and returns it as stored. Encounters use this to
/// book the appointment they are created with.
pub(crate) async fn create_event_in(
    state: &AppState,
    ctx: &InstanceCaller,
    tx: &mut Tx,
    body: &Map<String, Value>,
    now_ms: i64,
) -> ApiResult<Value> {
    let actor = ctx.actor();
    let now = crate::time::format_ms(now_ms);
    let mut event = cal::blank_event(&crate::ids::new_id(), &now, &actor.id);
    cal::apply_event(&mut event, body, true, &now, &mut crate::ids::new_id).map_err(invalid)?;
    let patient = check_participants(state, ctx, &event, &[]).await?;
    check_external_id(tx, ctx, &event).await?;
    store::insert_event(tx, &ctx.tenant.id, &ctx.instance.id, &event, now_ms).await.map_err(map_unique(&event))?;
    let id = event["id"].as_str().unwrap_or_default().to_string();
    ctx.record(
        tx,
        Write {
            patient: patient.as_ref(),
            subtype: Some("CALENDAR_EVENT_CREATED"),
            ..Write::new("CALENDAR", Operation::Create, &id, &event)
        },
        now_ms,
    )
    .await?;
    Ok(event)
}

fn user_detail(u: &crate::domain::user::User) -> Value {
    json!({
        "timezone": u.timezone, "firstName": u.first_name.clone().unwrap_or_default(),
        "lastName": u.last_name.clone().unwrap_or_default(), "deleted": false, "hasAccess": false,
        "email": u.email, "phone": u.phone, "gender": null, "birthDate": null, "enabled": u.enabled,
    })
}

fn patient_detail(p: &Patient) -> Value {
    json!({
        "timezone": p.timezone, "firstName": p.first_name, "lastName": p.last_name, "deleted": false,
        "hasAccess": false, "email": p.email, "phone": p.phone, "gender": p.gender, "birthDate": p.birth_date,
        "enabled": null,
    })
}

/// Renders events as returned: `local…` times and the participants' current details.
pub(crate) async fn render_events(
    state: &AppState,
    ctx: &InstanceCaller,
    events: &[Value],
    viewer: Option<Tz>,
) -> ApiResult<Vec<Value>> {
    let mut user_ids = Vec::new();
    let mut patient_ids = Vec::new();
    for e in events {
        for (role, id) in cal::participant_refs(e) {
            let list = if role == cal::ROLE_USER { &mut user_ids } else { &mut patient_ids };
            if !list.contains(&id) {
                list.push(id);
            }
        }
    }
    let mut details: HashMap<(String, String), Value> = HashMap::new();
    for u in state.db.users_by_ids(&ctx.tenant.id, &user_ids).await? {
        details.insert((cal::ROLE_USER.into(), u.id.clone()), user_detail(&u));
    }
    if !patient_ids.is_empty() {
        let filter = PatientFilter { ids: Some(patient_ids.clone()), ..Default::default() };
        let (patients, _) = state.db.patients(&ctx.instance.id, &filter, &[], 0, patient_ids.len() as i64).await?;
        for p in patients {
            details.insert((cal::ROLE_PATIENT.into(), p.id.clone()), patient_detail(&p));
        }
    }
    let lookup = |role: &str, id: &str| details.get(&(role.to_string(), id.to_string())).cloned();
    Ok(events.iter().map(|e| cal::render_event(e, viewer, &lookup)).collect())
}

async fn render_one(state: &AppState, ctx: &InstanceCaller, event: &Value, viewer: Option<Tz>) -> ApiResult<Value> {
    Ok(render_events(state, ctx, std::slice::from_ref(event), viewer).await?.remove(0))
}

/// Create a calendar event.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/calendar/events", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("viewerTimezone" = Option<String>, Query, description = "Time zone of the local… times in the answer")),
    request_body(content = Object, description = "startDateTime, endDateTime, hostId and participants [{participantId, participantRole: psm|patient, attended}] (required; the host takes part as psm); eventTitle, eventDescription, eventType GROUP_THERAPY|APPOINTMENT|LEAVE|ENCOUNTER, eventStatus SCHEDULED|CANCELLED|COMPLETED|MISSED, eventMode IN-PERSON|CALL|VIDEO, eventColor, allDayEvent, timezone, externalId (unique), additionalInfo {}"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_event(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Calendar, Op::Create)?;
    let viewer = viewer_tz(&params, &["viewerTimezone"])?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let event = create_event_in(&state, &ctx, &mut tx, &body, now_ms).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(render_one(&state, &ctx, &event, viewer).await?)))
}

/// Read an event by id, or by its externalId with `type=EXTERNAL_ID`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/calendar/events/{eventId}", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("eventId" = String, Path, description = "The event id, or its externalId with type=EXTERNAL_ID"),
           ("type" = Option<String>, Query, description = "ID (default) or EXTERNAL_ID"),
           ("viewerTimezone" = Option<String>, Query)),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_event(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Calendar, Op::Read)?;
    let viewer = viewer_tz(&params, &["viewerTimezone"])?;
    let key = path.2;
    let found = match params.text("type").map(|t| t.to_ascii_uppercase()).as_deref() {
        None | Some("ID") => state.db.calendar_event(&ctx.instance.id, &key).await?,
        Some("EXTERNAL_ID") => state.db.calendar_event_by_external_id(&ctx.instance.id, &key).await?,
        Some(_) => return Err(ApiError::invalid_param("type", "must be ID or EXTERNAL_ID")),
    };
    let event = found.ok_or_else(|| event_not_found(&key))?;
    Ok(Json(render_one(&state, &ctx, &event, viewer).await?))
}

async fn change_event(
    state: &AppState,
    ctx: &InstanceCaller,
    id: &str,
    body: &Map<String, Value>,
    full: bool,
    viewer: Option<Tz>,
) -> ApiResult<Json<Value>> {
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let mut tx = state.db.begin().await?;
    let mut event = store::event_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| event_not_found(id))?;
    let kept = cal::participant_refs(&event);
    cal::apply_event(&mut event, body, full, &now, &mut crate::ids::new_id).map_err(invalid)?;
    let patient = check_participants(state, ctx, &event, &kept).await?;
    check_external_id(&mut tx, ctx, &event).await?;
    event["updatedAt"] = json!(now);
    event["updatedBy"] = json!(actor.id);
    store::update_event(&mut tx, &ctx.instance.id, &event, now_ms).await.map_err(map_unique(&event))?;
    ctx.record(
        &mut tx,
        Write {
            patient: patient.as_ref(),
            subtype: Some("CALENDAR_EVENT_UPDATED"),
            ..Write::new("CALENDAR", Operation::Update, id, &event)
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(render_one(state, ctx, &event, viewer).await?))
}

/// Replace an event (full update: the create body's required fields; omitted optional
/// fields are cleared).
#[utoipa::path(
    put, path = "/{tenant}/{instance}/calendar/events/{eventId}", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("eventId" = String, Path), ("viewerTimezone" = Option<String>, Query)),
    request_body(content = Object, description = "As for create"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn replace_event(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Calendar, Op::Update)?;
    let viewer = viewer_tz(&params, &["viewerTimezone"])?;
    change_event(&state, &ctx, &path.2, &body, true, viewer).await
}

/// Update some fields of an event (cancel it with `{"eventStatus": "CANCELLED"}`).
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/calendar/events/{eventId}", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("eventId" = String, Path), ("viewerTimezone" = Option<String>, Query)),
    request_body(content = Object, description = "Any fields of the create body, e.g. {\"eventTitle\": \"New event title\"}; participants, when given, replace the list"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn patch_event(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Calendar, Op::Update)?;
    let viewer = viewer_tz(&params, &["viewerTimezone"])?;
    change_event(&state, &ctx, &path.2, &body, false, viewer).await
}

/// Delete an event: answers 204. An event whose end has passed is kept and reads back
/// `CANCELLED`; any other is removed.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/calendar/events/{eventId}", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("eventId" = String, Path)),
    responses((status = 204, description = "Deleted (a past event: cancelled); empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete_event(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Calendar, Op::Delete)?;
    let id = path.2;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut event =
        store::event_for_update(&mut tx, &ctx.instance.id, &id).await?.ok_or_else(|| event_not_found(&id))?;
    let (_, end) = cal::event_span(&event);
    if end < now_ms {
        if event["eventStatus"] != cal::CANCELLED {
            event["eventStatus"] = json!(cal::CANCELLED);
            event["updatedAt"] = json!(crate::time::format_ms(now_ms));
            event["updatedBy"] = json!(actor.id);
            store::update_event(&mut tx, &ctx.instance.id, &event, now_ms).await?;
        }
    } else {
        store::delete_event(&mut tx, &ctx.instance.id, &id).await?;
    }
    let patient = check_participants(&state, &ctx, &event, &cal::participant_refs(&event)).await?;
    ctx.record(
        &mut tx,
        Write {
            patient: patient.as_ref(),
            subtype: Some("CALENDAR_EVENT_DELETED"),
            ..Write::new("CALENDAR", Operation::Delete, &id, &event)
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Record a participant's answer to the invitation.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/calendar/events/{eventId}/invitation-response", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("eventId" = String, Path)),
    request_body(content = Object, description = "{participantId, participationStatus} (both required), e.g. {\"participationStatus\": \"Yes\"}"),
    responses((status = 200, body = Object, description = "The event"), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn invitation_response(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Calendar, Op::Update)?;
    let id = path.2;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut event =
        store::event_for_update(&mut tx, &ctx.instance.id, &id).await?.ok_or_else(|| event_not_found(&id))?;
    cal::apply_invitation_response(&mut event, &body).map_err(invalid)?;
    event["updatedAt"] = json!(crate::time::format_ms(now_ms));
    event["updatedBy"] = json!(actor.id);
    store::update_event(&mut tx, &ctx.instance.id, &event, now_ms).await?;
    let patient = check_participants(&state, &ctx, &event, &cal::participant_refs(&event)).await?;
    ctx.record(
        &mut tx,
        Write {
            patient: patient.as_ref(),
            subtype: Some("CALENDAR_EVENT_UPDATED"),
            ..Write::new("CALENDAR", Operation::Update, &id, &event)
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(render_one(&state, &ctx, &event, None).await?))
}

/// The filters of the event search from its query parameters.
fn event_filter(params: &Params) -> ApiResult<EventFilter> {
    let from = time_param(params, "from")?;
    let to = time_param(params, "to")?;
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            return Err(ApiError::invalid_param("to", "must not be before from"));
        }
    }
    let mut all_participants = Vec::new();
    for name in ["patientId", "userId"] {
        if let Some(id) = params.text(name) {
            let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::invalid_param(name, "must be a UUID"))?;
            all_participants.push(id.to_string());
        }
    }
    let any_participant = match params.list("participantIds") {
        Some(ids) if !ids.is_empty() => Some(
            ids.iter()
                .map(|id| {
                    uuid::Uuid::parse_str(id)
                        .map(|u| u.to_string())
                        .map_err(|_| ApiError::invalid_param("participantIds", format!("{id:?} is not a UUID")))
                })
                .collect::<ApiResult<Vec<_>>>()?,
        ),
        _ => None,
    };
    let event_type = match params.text("eventType") {
        Some(t) => {
            let t = t.to_ascii_uppercase();
            if !cal::EVENT_TYPES.contains(&t.as_str()) {
                return Err(ApiError::invalid_param(
                    "eventType",
                    format!("must be one of {}", cal::EVENT_TYPES.join(", ")),
                ));
            }
            Some(t)
        }
        None => None,
    };
    Ok(EventFilter {
        from,
        to,
        any_participant,
        all_participants,
        event_type,
        include_cancelled: params.bool("includeCancelled")?.unwrap_or(false),
        exclude_encounter_events: params.bool("excludeAssignedToEncounterEvents")?.unwrap_or(false),
    })
}

/// `encounterInfo` of events of type ENCOUNTER: the encounter scheduled on them.
async fn add_encounter_info(state: &AppState, ctx: &InstanceCaller, events: &mut [Value]) -> ApiResult<()> {
    let ids: Vec<String> = events
        .iter()
        .filter(|e| e["eventType"] == "ENCOUNTER")
        .filter_map(|e| e["id"].as_str().map(String::from))
        .collect();
    let found = state.db.encounters_on_events(&ctx.instance.id, &ids).await?;
    for e in events.iter_mut().filter(|e| e["eventType"] == "ENCOUNTER") {
        let info = found.iter().find(|(event_id, _)| e["id"] == event_id.as_str()).map(|(_, info)| info.clone());
        e["encounterInfo"] = info.unwrap_or(Value::Null);
    }
    Ok(())
}

/// Find events overlapping `from`–`to`: a Spring page.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/calendar/events", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("from" = Option<String>, Query, description = "ISO-8601; events ending after it"),
           ("to" = Option<String>, Query, description = "ISO-8601; events starting before it"),
           ("participantIds" = Option<String>, Query, description = "Comma-separated user or patient ids; events with any of them"),
           ("patientId" = Option<String>, Query, description = "Events this patient takes part in"),
           ("userId" = Option<String>, Query, description = "Events this user takes part in"),
           ("eventType" = Option<String>, Query, description = "GROUP_THERAPY, APPOINTMENT, LEAVE or ENCOUNTER"),
           ("includeCancelled" = Option<bool>, Query, description = "Default false"),
           ("includeEncounterInfo" = Option<bool>, Query, description = "Add encounterInfo to ENCOUNTER events (also spelled includeEncountersInfo)"),
           ("excludeAssignedToEncounterEvents" = Option<bool>, Query, description = "Leave out events an encounter is scheduled on"),
           ("viewerTimezone" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query),
           ("sort" = Option<String>, Query, description = "field,asc|desc: startDateTime (default), endDateTime, createdAt, updatedAt, eventType, eventStatus")),
    responses((status = 200, body = SpringPage<Value>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn find_events(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Calendar, Op::Read)?;
    let mut page = PageRequest::parse(&params, store::sort_column)?;
    if page.sorts.is_empty() {
        // Welkin sorts by start when asked for no order, and says so (`sorted: true`).
        page.sorts.push(SortColumn { column: "start_at", descending: false });
    }
    let filter = event_filter(&params)?;
    let viewer = viewer_tz(&params, &["viewerTimezone"])?;
    let with_encounters =
        params.bool("includeEncounterInfo")?.or(params.bool("includeEncountersInfo")?).unwrap_or(false);
    let (events, total) =
        state.db.calendar_events(&ctx.instance.id, &filter, &page.sorts, page.offset(), page.size).await?;
    let mut content = render_events(&state, &ctx, &events, viewer).await?;
    if with_encounters {
        add_encounter_info(&state, &ctx, &mut content).await?;
    }
    Ok(Json(SpringPage::new(content, &page, total)))
}

/// The same search at the path with a trailing slash, as the reference writes it.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/calendar/events/", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = SpringPage<Value>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn find_events_slash(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    find_events(state, ctx, path, params).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScheduleKind {
    /// Events in short form.
    Plain,
    /// Events in short form with their participants.
    Available,
    /// Events in full.
    Full,
}

async fn schedules_of(
    state: &AppState,
    ctx: &InstanceCaller,
    params: &Params,
    kind: ScheduleKind,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Calendar, Op::Read)?;
    let from = time_param(params, "from")?;
    let to = time_param(params, "to")?;
    let include_cancelled = params.bool("includeCancelled")?.unwrap_or(false);
    let viewer = viewer_tz(params, &["viewerTimezone"])?;
    let psms = schedule_users(state, ctx, params).await?;
    let zones = user_zones(state, ctx, &psms).await?;
    let rules = state.db.work_hours_in_range(&ctx.instance.id, Some(&psms), from, to).await?;
    let mut out = Vec::with_capacity(psms.len());
    for psm in &psms {
        let tz = viewer.or(zones.get(psm).copied().flatten());
        let work_hours: Vec<Value> =
            rules.iter().filter(|r| r["psmId"] == psm.as_str()).map(|r| cal::render_hours(r, tz)).collect();
        let filter =
            EventFilter { from, to, any_participant: Some(vec![psm.clone()]), include_cancelled, ..Default::default() };
        let events = state.db.calendar_events_all(&ctx.instance.id, &filter).await?;
        let events: Vec<Value> = match kind {
            ScheduleKind::Plain => events.iter().map(|e| cal::schedule_entry(e, tz)).collect(),
            ScheduleKind::Available => render_events(state, ctx, &events, tz)
                .await?
                .into_iter()
                .map(|full| {
                    let mut entry = cal::schedule_entry(&full, tz);
                    entry["participants"] = full["participants"].clone();
                    entry
                })
                .collect(),
            ScheduleKind::Full => render_events(state, ctx, &events, tz)
                .await?
                .into_iter()
                .map(|mut full| {
                    full["eventId"] = full["id"].clone();
                    full
                })
                .collect(),
        };
        out.push(json!({"psmId": psm, "workHours": work_hours, "events": events}));
    }
    Ok(Json(out))
}

/// Users' schedules: for each user, their work hours and the events they take part in.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/calendar/psm-schedules", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("psmIds" = Option<String>, Query, description = "Comma-separated user ids (also psm-ids); every user when absent"),
           ("from" = Option<String>, Query), ("to" = Option<String>, Query),
           ("includeCancelled" = Option<bool>, Query), ("viewerTimezone" = Option<String>, Query)),
    responses((status = 200, body = Vec<Object>, description = "[{psmId, workHours[], events[{id, eventId, eventTitle, eventType, eventColor, allDayEvent, startDateTime, localStartDateTime, endDateTime, localEndDateTime}]}]"),
              (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn schedules(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Vec<Value>>> {
    schedules_of(&state, &ctx, &params, ScheduleKind::Plain).await
}

/// As `psm-schedules`, each event with its participants.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/calendar/available-psm-schedules", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("psmIds" = Option<String>, Query), ("from" = Option<String>, Query), ("to" = Option<String>, Query),
           ("includeCancelled" = Option<bool>, Query), ("viewerTimezone" = Option<String>, Query)),
    responses((status = 200, body = Vec<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn available_schedules(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Vec<Value>>> {
    schedules_of(&state, &ctx, &params, ScheduleKind::Available).await
}

/// As `psm-schedules`, with the events in full.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/calendar/full-psm-schedules", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("psmIds" = Option<String>, Query), ("from" = Option<String>, Query), ("to" = Option<String>, Query),
           ("includeCancelled" = Option<bool>, Query), ("viewerTimezone" = Option<String>, Query)),
    responses((status = 200, body = Vec<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn full_schedules(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Vec<Value>>> {
    schedules_of(&state, &ctx, &params, ScheduleKind::Full).await
}

/// Per user, the events of a period against their working hours.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/calendar/psm-event-summary", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("from" = String, Query), ("to" = String, Query),
           ("psmIds" = Option<String>, Query, description = "Comma-separated user ids (also psm-ids); every user when absent")),
    responses((status = 200, body = Object, description = "{startDateTime, endDateTime, summary[{psmId, totalCreatedEvents, totalOccurredEvents, totalFutureEvents, eventStatusCount{}, totalWorkingHours, totalEventHours, occupancy}]}"),
              (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn event_summary(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Calendar, Op::Read)?;
    let from = time_param(&params, "from")?.ok_or_else(|| ApiError::invalid_param("from", "is required"))?;
    let to = time_param(&params, "to")?.ok_or_else(|| ApiError::invalid_param("to", "is required"))?;
    if to <= from {
        return Err(ApiError::invalid_param("to", "must be after from"));
    }
    if to - from > MAX_SUMMARY_DAYS * 86_400_000 {
        return Err(ApiError::invalid_param("to", format!("the period must be at most {MAX_SUMMARY_DAYS} days")));
    }
    let psms = schedule_users(&state, &ctx, &params).await?;
    let zones = user_zones(&state, &ctx, &psms).await?;
    let rules = state.db.work_hours_in_range(&ctx.instance.id, Some(&psms), Some(from), Some(to)).await?;
    let now_ms = state.clock.now_ms();
    let mut summary = Vec::with_capacity(psms.len());
    for psm in &psms {
        let filter = EventFilter {
            from: Some(from),
            to: Some(to),
            any_participant: Some(vec![psm.clone()]),
            include_cancelled: true,
            ..Default::default()
        };
        let events = state.db.calendar_events_all(&ctx.instance.id, &filter).await?;
        let mut counts = Map::new();
        let (mut occurred, mut future, mut event_ms) = (0, 0, 0);
        for e in &events {
            if let Some(status) = e["eventStatus"].as_str() {
                let n = counts.get(status).and_then(Value::as_i64).unwrap_or(0);
                counts.insert(status.to_string(), json!(n + 1));
            }
            if e["eventStatus"] == cal::CANCELLED {
                continue;
            }
            let (start, end) = cal::event_span(e);
            if end <= now_ms {
                occurred += 1;
            } else if start > now_ms {
                future += 1;
            }
            event_ms += (end.min(to) - start.max(from)).max(0);
        }
        let mine: Vec<Value> = rules.iter().filter(|r| r["psmId"] == psm.as_str()).cloned().collect();
        let working = cal::working_ms(&mine, zones.get(psm).copied().flatten(), from, to);
        summary.push(json!({
            "psmId": psm, "totalCreatedEvents": events.len(), "totalOccurredEvents": occurred,
            "totalFutureEvents": future, "eventStatusCount": counts,
            "totalWorkingHours": cal::hours_text(working), "totalEventHours": cal::hours_text(event_ms),
            "occupancy": cal::occupancy_text(event_ms, working),
        }));
    }
    Ok(Json(json!({
        "startDateTime": crate::time::format_ms(from), "endDateTime": crate::time::format_ms(to), "summary": summary,
    })))
}

async fn check_psm(state: &AppState, ctx: &InstanceCaller, hours: &Value) -> ApiResult<Option<Tz>> {
    let psm = hours["psmId"].as_str().unwrap_or_default();
    match state.db.user(&ctx.tenant.id, psm, true).await? {
        Some(u) => Ok(cal::parse_tz(u.timezone.as_deref())),
        None => Err(invalid(FieldError::new("psmId", format!("no user {psm} in this tenant")))),
    }
}

fn hours_answer(hours: &Value, tz: Option<Tz>) -> Value {
    json!({"psmId": hours["psmId"], "details": [cal::render_hours(hours, tz)]})
}

/// Create a work-hours rule for a user.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/calendar/work-hours", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("viewerTimezone" = Option<String>, Query)),
    request_body(content = Object, description = "psmId (a user id), startDateTime, daysInfo [{day 1=Monday..7, startTime HH:MM:SS, endTime}] (required); endDateTime (none: open-ended), name, type WORKING_HOURS|AVAILABILITY, ruleType DEFAULT|OVERRIDE, encounters [template names]"),
    responses((status = 201, body = Object, description = "{psmId, details:[{workHoursId, …}]}"), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_work_hours(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Calendar, Op::Create)?;
    let viewer = viewer_tz(&params, &["viewerTimezone", "timezone"])?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let mut hours = cal::blank_hours(&crate::ids::new_id(), &now, &actor.id);
    cal::apply_hours(&mut hours, &body, true, &mut crate::ids::new_id).map_err(invalid)?;
    let tz = viewer.or(check_psm(&state, &ctx, &hours).await?);
    let mut tx = state.db.begin().await?;
    store::insert_hours(&mut tx, &ctx.tenant.id, &ctx.instance.id, &hours, now_ms).await?;
    let id = hours["workHoursId"].as_str().unwrap_or_default().to_string();
    ctx.record(
        &mut tx,
        Write { subtype: Some("WORK_HOURS_CREATED"), ..Write::new("CALENDAR", Operation::Create, &id, &hours) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(hours_answer(&hours, tz))))
}

/// Work hours overlapping `from`–`to`, grouped by user: a bare array (`[]` when none).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/calendar/work-hours", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("psmIds" = Option<String>, Query, description = "Comma-separated user ids (also psm-ids); every user when absent"),
           ("from" = Option<String>, Query), ("to" = Option<String>, Query),
           ("viewerTimezone" = Option<String>, Query, description = "Time zone of the local… times (default: each user's)")),
    responses((status = 200, body = Vec<Object>, description = "[{psmId, details:[{workHoursId, name, type, ruleType, startDateTime, endDateTime, localStartDateTime, localEndDateTime, daysInfo[]}]}]"),
              (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_work_hours(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Calendar, Op::Read)?;
    let from = time_param(&params, "from")?;
    let to = time_param(&params, "to")?;
    let viewer = viewer_tz(&params, &["viewerTimezone", "timezone"])?;
    let ids = psm_ids(&params)?;
    let rules = state.db.work_hours_in_range(&ctx.instance.id, ids.as_deref(), from, to).await?;
    let mut psms: Vec<String> = Vec::new();
    for r in &rules {
        let psm = r["psmId"].as_str().unwrap_or_default().to_string();
        if !psms.contains(&psm) {
            psms.push(psm);
        }
    }
    let zones = user_zones(&state, &ctx, &psms).await?;
    let out = psms
        .iter()
        .map(|psm| {
            let tz = viewer.or(zones.get(psm).copied().flatten());
            let details: Vec<Value> =
                rules.iter().filter(|r| r["psmId"] == psm.as_str()).map(|r| cal::render_hours(r, tz)).collect();
            json!({"psmId": psm, "details": details})
        })
        .collect();
    Ok(Json(out))
}

/// Read one work-hours rule.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/calendar/work-hours/{workHoursId}", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("workHoursId" = String, Path), ("viewerTimezone" = Option<String>, Query)),
    responses((status = 200, body = Object, description = "{psmId, details:[rule]}"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_work_hours(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Calendar, Op::Read)?;
    let viewer = viewer_tz(&params, &["viewerTimezone", "timezone"])?;
    let hours = state.db.work_hours(&ctx.instance.id, &path.2).await?.ok_or_else(|| hours_not_found(&path.2))?;
    let psm = hours["psmId"].as_str().unwrap_or_default().to_string();
    let tz = viewer.or(user_zones(&state, &ctx, std::slice::from_ref(&psm)).await?.get(&psm).copied().flatten());
    Ok(Json(hours_answer(&hours, tz)))
}

/// Update a work-hours rule (the fields given replace the stored ones; `daysInfo`
/// replaces the days).
#[utoipa::path(
    put, path = "/{tenant}/{instance}/calendar/work-hours/{workHoursId}", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("workHoursId" = String, Path), ("viewerTimezone" = Option<String>, Query)),
    request_body(content = Object, description = "As for create"),
    responses((status = 200, body = Object, description = "{psmId, details:[rule]}"), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn replace_work_hours(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Calendar, Op::Update)?;
    let viewer = viewer_tz(&params, &["viewerTimezone", "timezone"])?;
    let id = path.2;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut hours =
        store::hours_for_update(&mut tx, &ctx.instance.id, &id).await?.ok_or_else(|| hours_not_found(&id))?;
    cal::apply_hours(&mut hours, &body, false, &mut crate::ids::new_id).map_err(invalid)?;
    let tz = viewer.or(check_psm(&state, &ctx, &hours).await?);
    hours["updatedAt"] = json!(crate::time::format_ms(now_ms));
    hours["updatedBy"] = json!(actor.id);
    store::update_hours(&mut tx, &ctx.instance.id, &hours, now_ms).await?;
    ctx.record(
        &mut tx,
        Write { subtype: Some("WORK_HOURS_UPDATED"), ..Write::new("CALENDAR", Operation::Update, &id, &hours) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(hours_answer(&hours, tz)))
}
