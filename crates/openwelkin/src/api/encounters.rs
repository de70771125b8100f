//! Encounters: `/{tenant}/{instance}/patients/{patientId}/encounters…` and the user's
//! listing. An encounter is made from an encounter template of the current formation:
//! it gets the template's assessments as links and an empty disposition (the
//! formation's disposition data type). Its status moves only along
//! `domain::encounter::next_statuses`; finalizing needs the disposition's required
//! fields; finalized and cancelled encounters no longer change. The use cases are
//! `services::encounters` (`lifecycle`, `listing`); here are the routes, their parameters
//! and answers.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::cdts::patient;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::encounter::STATUSES;
use crate::services::encounters::lifecycle;
use crate::services::encounters::listing::{self, Listing};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

/// Create an encounter from a template (status `DRAFT`).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/encounters", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body = crate::api::schemas::care::EncounterCreate,
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
    Ok((StatusCode::CREATED, Json(lifecycle::create(&state, &ctx, &path.2, body).await?)))
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
    Ok(Json(listing::read(&state, &ctx, &path.2, &path.3).await?))
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
    Ok(Json(listing::read_full(&state, &ctx, &path.2, &path.3).await?))
}

/// The paging, filters and order of a listing: `page`, `size`, `statuses` (comma list),
/// `onlyWithCalendarEvent`, `sort`.
fn query_of(params: &Params) -> ApiResult<(PageRequest, Listing)> {
    let page = PageRequest::parse(params, |f| {
        matches!(f, "createdAt" | "updatedAt" | "title" | "status").then_some("jsonBody")
    })?;
    let mut statuses = None;
    if let Some(list) = params.list("statuses").filter(|l| !l.is_empty()) {
        let wanted: Vec<String> = list.iter().map(|s| s.to_ascii_uppercase()).collect();
        if let Some(bad) = wanted.iter().find(|s| !STATUSES.contains(&s.as_str())) {
            return Err(ApiError::invalid_param("statuses", format!("{bad:?} is not one of {}", STATUSES.join(", "))));
        }
        statuses = Some(wanted);
    }
    let only_with_calendar_event = params.bool("onlyWithCalendarEvent")?.unwrap_or(false);
    let mut sorts = Vec::new();
    for spec in params.all("sort").filter(|s| !s.trim().is_empty()) {
        let mut parts = spec.split(',').map(str::trim);
        let key = match parts.next().unwrap_or_default() {
            "createdAt" => "created_at",
            "updatedAt" => "updated_at",
            other => other,
        }
        .to_string();
        let desc = parts.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
        sorts.push((key, desc));
    }
    let (offset, size) = (page.offset(), page.size);
    Ok((page, Listing { statuses, only_with_calendar_event, sorts, offset, size }))
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
    let (page, q) = query_of(&params)?;
    let (data, total) = listing::list(&state, &ctx, &p, &q).await?;
    Ok(Json(MetaInfoPage::new(data, &page, total)))
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
    let (page, q) = query_of(&params)?;
    let (data, total) = listing::list_full(&state, &ctx, &p, &q).await?;
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}

/// A user's encounters (`{data, metaInfo}`); items carry `patientInfo` and null
/// `cdtId`/`version`/`cdtName`, as recorded. `withCareTeam` adds the encounters of the
/// patients whose care team the user is in.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/users/{userId}/encounters", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("userId" = String, Path),
           ("withCareTeam" = Option<bool>, Query), ("statuses" = Option<String>, Query), ("onlyWithCalendarEvent" = Option<bool>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_for_user(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let user = listing::user(&state, &ctx, &path.2).await?;
    let with_care_team = params.bool("withCareTeam")?.unwrap_or(false);
    let (page, q) = query_of(&params)?;
    let (data, total) = listing::list_for_user(&state, &ctx, &user, with_care_team, &q).await?;
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}

/// A user's encounters with everything around them (`{data, metaInfo}`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/users/{userId}/full-encounters", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("userId" = String, Path),
           ("withCareTeam" = Option<bool>, Query), ("statuses" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_full_for_user(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let user = listing::user(&state, &ctx, &path.2).await?;
    let with_care_team = params.bool("withCareTeam")?.unwrap_or(false);
    let (page, q) = query_of(&params)?;
    let (data, total) = listing::list_full_for_user(&state, &ctx, &user, with_care_team, &q).await?;
    Ok(Json(MetaInfoPage::new(data, &page, total)))
}

/// Update an encounter: title, description, notes, status (along the allowed
/// transitions), owner, template (while `DRAFT`). Finalized or cancelled ones refuse.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    request_body = crate::api::schemas::care::EncounterUpdate,
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
    Ok(Json(lifecycle::update(&state, &ctx, &path.2, &path.3, &body).await?))
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
    lifecycle::delete(&state, &ctx, &path.2, &path.3).await?;
    Ok(StatusCode::OK)
}
