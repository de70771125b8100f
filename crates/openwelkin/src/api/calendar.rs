//! Calendar: events (`/{tenant}/{instance}/calendar/events…`), users' schedules, the event
//! summary and work hours (`…/calendar/psm-schedules`, `…/psm-event-summary`,
//! `…/work-hours`). The use cases are `services::calendar`; here are the routes, their
//! parameters and answers.
//!
//! As recorded: creating an event answers 201, deleting one 204; a deleted event whose
//! end has passed stays readable with `eventStatus: CANCELLED`, any other is gone (404).
//! Event searches answer a Spring page sorted by start unless asked otherwise
//! (`sort.sorted: true`); schedules and work hours answer bare arrays (`[]` when empty).

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::calendar as cal;
use crate::services::calendar::events::{self, EventKey};
use crate::services::calendar::schedules::{self, ScheduleKind, ScheduleRequest};
use crate::services::calendar::work_hours;
use crate::store::calendar::{self as store, EventFilter};
use crate::store::query::SortColumn;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono_tz::Tz;
use serde_json::Value;

/// Longest range the event summary computes working hours over.
const MAX_SUMMARY_DAYS: i64 = 5 * 366;

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

/// Create a calendar event.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/calendar/events", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("viewerTimezone" = Option<String>, Query, description = "Time zone of the local… times in the answer")),
    request_body = crate::api::schemas::calendar::EventWrite,
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
    Ok((StatusCode::CREATED, Json(events::create(&state, &ctx, &body, viewer).await?)))
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
    let kind = match params.text("type").map(|t| t.to_ascii_uppercase()).as_deref() {
        None | Some("ID") => EventKey::Id,
        Some("EXTERNAL_ID") => EventKey::ExternalId,
        Some(_) => return Err(ApiError::invalid_param("type", "must be ID or EXTERNAL_ID")),
    };
    Ok(Json(events::read(&state, &ctx, kind, &path.2, viewer).await?))
}
/// Replace an event (full update: the create body's required fields; omitted optional
/// fields are cleared).
#[utoipa::path(
    put, path = "/{tenant}/{instance}/calendar/events/{eventId}", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("eventId" = String, Path), ("viewerTimezone" = Option<String>, Query)),
    request_body = crate::api::schemas::calendar::EventWrite,
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
    Ok(Json(events::change(&state, &ctx, &path.2, &body, true, viewer).await?))
}
/// Update some fields of an event (cancel it with `{"eventStatus": "CANCELLED"}`).
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/calendar/events/{eventId}", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("eventId" = String, Path), ("viewerTimezone" = Option<String>, Query)),
    request_body = crate::api::schemas::calendar::EventPatch,
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
    Ok(Json(events::change(&state, &ctx, &path.2, &body, false, viewer).await?))
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
    events::delete(&state, &ctx, &path.2).await?;
    Ok(StatusCode::NO_CONTENT)
}
/// Record a participant's answer to the invitation.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/calendar/events/{eventId}/invitation-response", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("eventId" = String, Path)),
    request_body = crate::api::schemas::calendar::InvitationResponse,
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
    Ok(Json(events::invitation_response(&state, &ctx, &path.2, &body).await?))
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
    let (content, total) =
        events::find(&state, &ctx, &filter, &page.sorts, page.offset(), page.size, viewer, with_encounters).await?;
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
/// Reads a schedule's parameters (after the policy check) and answers the schedules.
async fn schedules_of(
    state: &AppState,
    ctx: &InstanceCaller,
    params: &Params,
    kind: ScheduleKind,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Calendar, Op::Read)?;
    let req = ScheduleRequest {
        from: time_param(params, "from")?,
        to: time_param(params, "to")?,
        include_cancelled: params.bool("includeCancelled")?.unwrap_or(false),
        viewer: viewer_tz(params, &["viewerTimezone"])?,
        psm_ids: psm_ids(params)?,
    };
    Ok(Json(schedules::schedules(state, ctx, req, kind).await?))
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
    let psm_ids = psm_ids(&params)?;
    Ok(Json(schedules::event_summary(&state, &ctx, from, to, psm_ids).await?))
}
/// Create a work-hours rule for a user.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/calendar/work-hours", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("viewerTimezone" = Option<String>, Query)),
    request_body = crate::api::schemas::calendar::WorkHoursCreate,
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
    Ok((StatusCode::CREATED, Json(work_hours::create(&state, &ctx, &body, viewer).await?)))
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
    Ok(Json(work_hours::list(&state, &ctx, from, to, ids.as_deref(), viewer).await?))
}
/// Read one work-hours rule.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/calendar/work-hours/{workHoursId}", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("workHoursId" = String, Path), ("viewerTimezone" = Option<String>, Query)),
    responses((status = 200, body = Object, description = "{psmId, details:[rule]}"), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
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
    Ok(Json(work_hours::read(&state, &ctx, &path.2, viewer).await?))
}
/// Update a work-hours rule (the fields given replace the stored ones; `daysInfo`
/// replaces the days).
#[utoipa::path(
    put, path = "/{tenant}/{instance}/calendar/work-hours/{workHoursId}", tag = "Calendar",
    params(("tenant" = String, Path), ("instance" = String, Path), ("workHoursId" = String, Path), ("viewerTimezone" = Option<String>, Query)),
    request_body = crate::api::schemas::calendar::WorkHoursUpdate,
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
    Ok(Json(work_hours::replace(&state, &ctx, &path.2, &body, viewer).await?))
}
