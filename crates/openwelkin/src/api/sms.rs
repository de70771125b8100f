//! SMS: a patient's messages (`/{tenant}/{instance}/patients/{patientId}/sms[/{smsId}]`:
//! send now or scheduled, read, list with the V8 filters as a Spring page, update by the
//! rules of `domain::sms`, delete while scheduled), unmatched inbound messages at the V8
//! paths (`/unrecognized-patients/sms[/{smsId}]`, GET/PUT/DELETE) and the docs site's
//! (`/unrecognized-sms[/{smsId}]`, GET/PATCH), and the provider side (openwelkin
//! extensions): the inbound webhook and delivery reports in Twilio's form fields, and the
//! local outbox.
//!
//! Sending (now, scheduled, and by the scheduler) is `services::sms`. Every write is
//! audited as `SMS` (`SMS_CREATED`, `SMS_UPDATED`, `SMS_DELETED`).

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::cdts::patient;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::delivery::sms::new_message_sid;
use crate::domain::fields::{self, reject_unknown};
use crate::domain::patient::Patient;
use crate::domain::sms::{self, Changes, Update, DIRECTIONS, STATUSES};
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::sms::{self as service, Who, COMPONENT};
use crate::store::is_unique_violation;
use crate::store::patients::PatientKey;
use crate::store::sms::{self as store, SmsFilter, SmsScope, StoredSms};
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

fn not_found(id: &str) -> ApiError {
    service::not_found(id).into()
}

fn invalid(e: FieldError) -> ApiError {
    service::invalid(e).into()
}

fn not_deletable(s: &Value) -> ApiError {
    ApiError::conflict(
        "SMS_CANNOT_BE_DELETED",
        COMPONENT,
        "only SCHEDULED or UNRECOGNISED SMS can be deleted",
        json!({"id": s["id"], "status": s["status"]}),
    )
}

fn status_of(s: &Value) -> String {
    s["status"].as_str().unwrap_or_default().to_string()
}

/// A body's `receiver` must be the patient of the path.
fn check_receiver(ch: &Changes, p: &Patient) -> ApiResult<()> {
    match &ch.receiver {
        Some(r) if *r != p.id => {
            Err(invalid(FieldError::new("receiver", format!("must be the patient of the path ({})", p.id))))
        }
        _ => Ok(()),
    }
}

/// The patient an assignment names (`field`: `sender` or `patientId`).
async fn assignee(state: &AppState, ctx: &InstanceCaller, field: &str, id: &str) -> ApiResult<Patient> {
    state
        .db
        .patient(&ctx.instance.id, PatientKey::Id, id)
        .await?
        .ok_or_else(|| invalid(FieldError::new(field, format!("no patient {id} in this instance"))))
}

// ---------------------------------------------------------------------------------------
// A patient's SMS
// ---------------------------------------------------------------------------------------

/// Send an SMS to the patient now (`sendNow: true`, the default) or at `scheduledAt`.
/// It goes out from the instance's default SMS communication ID (or `from`, one of them).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/sms", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content = Object, description = "message (required), sendNow (default true), scheduledAt (ISO-8601, in the future, when sendNow is false), receiver (the patient's id), from (an SMS communication ID's number), starred"),
    responses((status = 201, body = Object, description = "The SMS: SENT or FAILED when sent now, SCHEDULED otherwise"),
              (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Sms, Op::Create)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let ch = sms::parse(&body, None).map_err(invalid)?;
    let at = sms::check_send(&ch, now_ms).map_err(invalid)?;
    check_receiver(&ch, &p)?;
    let draft = service::Outgoing {
        from: ch.from.as_deref(),
        message: ch.message.as_deref().unwrap_or_default(),
        scheduled_at: at,
        starred: ch.starred.unwrap_or(false),
    };
    let s = service::send(&state, &ctx, &p, &draft).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// One of the patient's SMS.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("smsId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>, description = "SMS_NOT_FOUND {id}")),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Sms, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let s = state.db.sms(&ctx.instance.id, &path.3).await?;
    s.filter(|s| s.patient_id.as_deref() == Some(p.id.as_str())).map(|s| Json(s.body)).ok_or_else(|| not_found(&path.3))
}

/// The list filters of the V8 reference.
fn list_filter(params: &Params) -> ApiResult<SmsFilter> {
    let direction = params.text("direction").map(|d| d.to_uppercase());
    if let Some(d) = &direction {
        if !DIRECTIONS.contains(&d.as_str()) {
            return Err(ApiError::invalid_param("direction", "must be IN or OUT"));
        }
    }
    let statuses = match params.list("status").filter(|l| !l.is_empty()) {
        Some(list) => {
            let list: Vec<String> = list.iter().map(|s| s.to_uppercase()).collect();
            if let Some(bad) = list.iter().find(|s| !STATUSES.contains(&s.as_str())) {
                return Err(ApiError::invalid_param(
                    "status",
                    format!("{bad:?} is not one of {}", STATUSES.join(", ")),
                ));
            }
            Some(list)
        }
        None => None,
    };
    Ok(SmsFilter {
        search: params.text("search"),
        sender: params.text("sender"),
        receiver: params.text("receiver"),
        direction,
        starred: params.bool("starred")?,
        from: phone_param(params, "from"),
        to: phone_param(params, "to"),
        phone: phone_param(params, "phone"),
        sender_name: params.text("senderName"),
        receiver_name: params.text("receiverName"),
        statuses,
        ..Default::default()
    })
}

/// A phone number from a query string, where an unencoded `+` arrives as a space.
fn phone_param(params: &Params, name: &str) -> Option<String> {
    let raw: String = params.get(name)?.chars().filter(|c| !c.is_whitespace()).collect();
    if raw.is_empty() {
        None
    } else if raw.chars().all(|c| c.is_ascii_digit()) {
        Some(format!("+{raw}"))
    } else {
        Some(raw)
    }
}

async fn page_of(
    state: &AppState,
    ctx: &InstanceCaller,
    scope: SmsScope,
    params: &Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    let page = PageRequest::parse(params, store::sort_column)?;
    let filter = list_filter(params)?;
    let (rows, total) =
        state.db.sms_list(&ctx.instance.id, &scope, &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(SpringPage::new(rows.into_iter().map(|s| s.body).collect(), &page, total)))
}

/// The patient's SMS (both directions) as a Spring page.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/sms", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query),
           ("sort" = Option<String>, Query, description = "field,asc|desc: date, createdAt, updatedAt, scheduledAt, sentAt, receivedAt, status, direction, starred, from, to, senderName, receiverName, message"),
           ("search" = Option<String>, Query, description = "in the message text"),
           ("sender" = Option<String>, Query), ("receiver" = Option<String>, Query),
           ("direction" = Option<String>, Query, description = "IN or OUT"), ("starred" = Option<bool>, Query),
           ("from" = Option<String>, Query), ("to" = Option<String>, Query),
           ("phone" = Option<String>, Query, description = "from or to"),
           ("senderName" = Option<String>, Query), ("receiverName" = Option<String>, Query),
           ("status" = Option<String>, Query, description = "comma list of SCHEDULED, ACCEPTED, SENT, RECEIVED, DELIVERED, UNDELIVERED, FAILED, UNRECOGNISED")),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Sms, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    page_of(&state, &ctx, SmsScope::Patient(p.id), &params).await
}

/// Applies an update body to a stored message (see `domain::sms` for what may change in
/// which status), audits it, and sends the message if it is now due.
async fn update_stored(
    state: &AppState,
    ctx: &InstanceCaller,
    path_patient: Option<&Patient>,
    id: &str,
    body: &Map<String, Value>,
    visible: fn(&StoredSms, Option<&Patient>) -> bool,
) -> ApiResult<Value> {
    let now_ms = state.clock.now_ms();
    let ch = sms::parse(body, Some(id)).map_err(invalid)?;
    if let Some(p) = path_patient {
        check_receiver(&ch, p)?;
    }
    if let Some(number) = &ch.from {
        service::sending_line(state, ctx, Some(number)).await?;
    }
    let target = match &ch.sender {
        Some(pid) => Some(assignee(state, ctx, "sender", pid).await?),
        None => None,
    };
    let who = Who::of(ctx);
    let mut tx = state.db.begin().await?;
    let stored = store::get_for_update(&mut tx, &ctx.instance.id, id)
        .await?
        .filter(|s| visible(s, path_patient))
        .ok_or_else(|| not_found(id))?;
    let before = status_of(&stored.body);
    let mut s = stored.body;
    let update = sms::check_update(&s, &ch, now_ms).map_err(invalid)?;
    sms::apply_in_place(&mut s, &ch);
    // The patient the audit row and a send are about.
    let owner = match (&update, &target) {
        (Update::Assign(_), Some(t)) => {
            sms::assign(&mut s, t);
            Some(t.clone())
        }
        _ => match path_patient {
            Some(p) => Some(p.clone()),
            None => match sms::patient_id(&s) {
                Some(pid) => state.db.patient(&ctx.instance.id, PatientKey::Id, pid).await?,
                None => None,
            },
        },
    };
    if before == "SCHEDULED" {
        if let Update::Reschedule(at) = update {
            sms::reschedule(&mut s, at, now_ms);
        }
        if let Some(p) = &owner {
            sms::readdress(&mut s, p);
            if s["status"] == "ACCEPTED" {
                service::check_phone(p)?;
            }
        }
    }
    if !store::update_if(&mut tx, &ctx.instance.id, &s, &before, now_ms).await? {
        return Err(service::changed(id).into());
    }
    if matches!(update, Update::Assign(_)) && stored.unmatched {
        store::mark_resolved(&mut tx, &ctx.instance.id, id, &who.actor.id, now_ms).await?;
    }
    service::record(&mut tx, &who, Operation::Update, &s, owner.as_ref(), now_ms).await?;
    tx.commit().await?;
    if before == "SCHEDULED" && s["status"] == "ACCEPTED" {
        return Ok(service::dispatch_detached(state, who, s, owner).await?);
    }
    Ok(s)
}

fn belongs_to_path_patient(s: &StoredSms, p: Option<&Patient>) -> bool {
    p.is_some_and(|p| s.patient_id.as_deref() == Some(p.id.as_str()))
}

/// Update one of the patient's SMS. Sent outbound messages take only `starred`; inbound
/// ones `starred` and `sender` (another patient, to reassign); scheduled ones `message`,
/// `sendNow`, `scheduledAt`, `receiver`, `from`, `starred` (`sendNow: true` sends it now).
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("smsId" = String, Path)),
    request_body(content = Object, description = "starred; sender (inbound); message, sendNow, scheduledAt, receiver, from (SCHEDULED)"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Sms, Op::Update)?;
    let p = patient(&state, &ctx, &path.2).await?;
    update_stored(&state, &ctx, Some(&p), &path.3, &body, belongs_to_path_patient).await.map(Json)
}

/// The same update with PATCH.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("smsId" = String, Path)),
    request_body(content = Object),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_patch(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, ctx, path, body).await
}

/// The same update with POST, as the V8 reference's examples send it.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("smsId" = String, Path)),
    request_body(content = Object),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_post(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, ctx, path, body).await
}

async fn delete_stored(
    state: &AppState,
    ctx: &InstanceCaller,
    path_patient: Option<&Patient>,
    id: &str,
    visible: fn(&StoredSms, Option<&Patient>) -> bool,
) -> ApiResult<StatusCode> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let stored = store::get_for_update(&mut tx, &ctx.instance.id, id)
        .await?
        .filter(|s| visible(s, path_patient))
        .ok_or_else(|| not_found(id))?;
    if !sms::deletable(&stored.body) {
        return Err(not_deletable(&stored.body));
    }
    store::delete(&mut tx, &ctx.instance.id, id).await?;
    service::record(&mut tx, &Who::of(ctx), Operation::Delete, &stored.body, path_patient, now_ms).await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}

/// Delete one of the patient's SMS; only `SCHEDULED` (or `UNRECOGNISED`) ones (200, empty).
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("smsId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>),
              (status = 409, body = Vec<ErrorItem>, description = "SMS_CANNOT_BE_DELETED: the SMS is neither SCHEDULED nor UNRECOGNISED")),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Sms, Op::Delete)?;
    let p = patient(&state, &ctx, &path.2).await?;
    delete_stored(&state, &ctx, Some(&p), &path.3, belongs_to_path_patient).await
}

// ---------------------------------------------------------------------------------------
// Unmatched inbound SMS, V8 paths
// ---------------------------------------------------------------------------------------

fn unrecognised(s: &StoredSms, _: Option<&Patient>) -> bool {
    s.unmatched && s.patient_id.is_none()
}

/// Inbound SMS from numbers no patient has, not yet assigned (status `UNRECOGNISED`), as
/// a Spring page with the same filters as a patient's list.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-patients/sms", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query),
           ("search" = Option<String>, Query), ("from" = Option<String>, Query), ("to" = Option<String>, Query),
           ("phone" = Option<String>, Query), ("starred" = Option<bool>, Query), ("status" = Option<String>, Query)),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Sms, Op::Read)?;
    page_of(&state, &ctx, SmsScope::Unrecognised, &params).await
}

/// One unassigned inbound SMS.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Sms, Op::Read)?;
    let s = state.db.sms(&ctx.instance.id, &path.2).await?;
    s.filter(|s| unrecognised(s, None)).map(|s| Json(s.body)).ok_or_else(|| not_found(&path.2))
}

/// Assign an unmatched inbound SMS to a patient (`{"sender": "<patientId>"}`; it becomes
/// `RECEIVED` and one of the patient's SMS), or star it.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    request_body(content = Object, description = "sender (the patient's id), starred"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn assign_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Sms, Op::Update)?;
    update_stored(&state, &ctx, None, &path.2, &body, unrecognised).await.map(Json)
}

/// The same assignment with PATCH.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    request_body(content = Object),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn assign_unrecognized_patch(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    assign_unrecognized(state, ctx, path, body).await
}

/// The same assignment with POST, as the V8 reference's examples send it.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    request_body(content = Object),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn assign_unrecognized_post(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    assign_unrecognized(state, ctx, path, body).await
}

/// Delete an unmatched inbound SMS (200, empty).
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/unrecognized-patients/sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Sms, Op::Delete)?;
    delete_stored(&state, &ctx, None, &path.2, unrecognised).await
}

// ---------------------------------------------------------------------------------------
// Unmatched inbound SMS, docs-site paths
// ---------------------------------------------------------------------------------------

/// The docs site's flat page: `{content, totalElements, totalPages, page, size}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlatPage {
    #[schema(value_type = Vec<Object>)]
    pub content: Vec<Value>,
    pub total_elements: i64,
    pub total_pages: i64,
    pub page: i64,
    pub size: i64,
}

/// An unmatched message as the docs site shows it.
fn docs_item(s: &StoredSms) -> Value {
    let b = &s.body;
    json!({
        "id": b["id"],
        "fromNumber": b["from"],
        "toNumber": b["to"],
        "body": b["message"],
        "receivedAt": b["receivedAt"],
        "status": if s.patient_id.is_some() { "RESOLVED" } else { "PENDING" },
        "resolvedBy": s.resolved_by,
        "patientId": s.patient_id,
    })
}

fn matched_once(s: &StoredSms, _: Option<&Patient>) -> bool {
    s.unmatched
}

fn time_param(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    match params.text(name) {
        None => Ok(None),
        Some(v) => crate::time::parse_datetime(&v)
            .map(|t| Some(t.timestamp_millis()))
            .ok_or_else(|| ApiError::invalid_param(name, "must be an ISO-8601 date or date-time")),
    }
}

/// Every SMS that arrived from an unknown number, pending or resolved (docs-site form).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-sms", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("startDate" = Option<String>, Query, description = "received at or after (ISO-8601)"),
           ("endDate" = Option<String>, Query, description = "received at or before (ISO-8601)"),
           ("status" = Option<String>, Query, description = "PENDING or RESOLVED"),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = FlatPage), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<FlatPage>> {
    ctx.require(Family::Sms, Op::Read)?;
    let page = PageRequest::parse(&params, store::sort_column)?;
    let resolved = match params.text("status").map(|s| s.to_uppercase()).as_deref() {
        None => None,
        Some("PENDING") => Some(false),
        Some("RESOLVED") => Some(true),
        Some(_) => return Err(ApiError::invalid_param("status", "must be PENDING or RESOLVED")),
    };
    let filter = SmsFilter {
        received_from: time_param(&params, "startDate")?,
        received_to: time_param(&params, "endDate")?,
        resolved,
        ..Default::default()
    };
    let (rows, total) = state
        .db
        .sms_list(&ctx.instance.id, &SmsScope::Unmatched, &filter, &page.sorts, page.offset(), page.size)
        .await?;
    Ok(Json(FlatPage {
        content: rows.iter().map(docs_item).collect(),
        total_elements: total,
        total_pages: (total + page.size - 1) / page.size,
        page: page.page,
        size: page.size,
    }))
}

/// One SMS that arrived from an unknown number (docs-site form).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    responses((status = 200, body = Object, description = "{id, fromNumber, toNumber, body, receivedAt, status, resolvedBy, patientId}"),
              (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Sms, Op::Read)?;
    let s = state.db.sms(&ctx.instance.id, &path.2).await?;
    s.filter(|s| matched_once(s, None)).map(|s| Json(docs_item(&s))).ok_or_else(|| not_found(&path.2))
}

/// Resolve an unmatched SMS: `{"patientId", "status": "RESOLVED"}` links it to the patient.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/unrecognized-sms/{smsId}", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path), ("smsId" = String, Path)),
    request_body(content = Object, description = "patientId (required), status (required, RESOLVED)"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_resolve(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Sms, Op::Update)?;
    reject_unknown(
        &body,
        &["patientId", "status"],
        &["id", "fromNumber", "toNumber", "body", "receivedAt", "resolvedBy"],
    )
    .map_err(invalid)?;
    let pid = match body.get("patientId") {
        Some(v) => fields::opt_uuid("patientId", v).map_err(invalid)?,
        None => None,
    }
    .ok_or_else(|| invalid(FieldError::new("patientId", "is required")))?;
    match body.get("status") {
        None => return Err(invalid(FieldError::new("status", "is required"))),
        Some(v) => {
            fields::one_of("status", v, &["RESOLVED"]).map_err(invalid)?;
        }
    }
    let mut assignment = Map::new();
    assignment.insert("sender".into(), json!(pid));
    update_stored(&state, &ctx, None, &path.2, &assignment, matched_once).await.map_err(|mut e| {
        // Name the field as this form of the API calls it.
        if e.item.details["field"] == "sender" {
            e.item.details["field"] = json!("patientId");
            e.item.message = e.item.message.replacen("sender", "patientId", 1);
        }
        e
    })?;
    let stored = state.db.sms(&ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    Ok(Json(docs_item(&stored)))
}

// ---------------------------------------------------------------------------------------
// Provider side (openwelkin extensions)
// ---------------------------------------------------------------------------------------

/// A provider's request body: form fields (`application/x-www-form-urlencoded`, as
/// Twilio sends them) or a JSON object with the same names.
pub struct ProviderForm(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for ProviderForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
        if is_json {
            return JsonObject::from_request(req, state).await.map(|JsonObject(map)| ProviderForm(map));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    "REQUEST",
                    "request body is too large",
                    json!({}),
                )
            } else {
                ApiError::bad_request("REQUEST", format!("could not read the request body: {e}"))
            }
        })?;
        let mut map = Map::new();
        for (k, v) in form_urlencoded::parse(&bytes).into_owned() {
            super::body::no_nul(&k, &k)?;
            super::body::no_nul(&k, &v)?;
            map.insert(k, Value::String(v));
        }
        Ok(ProviderForm(map))
    }
}

fn form_text(form: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| form.get(*n).and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn required_form_text(form: &Map<String, Value>, name: &str, alias: &str) -> ApiResult<String> {
    let v = form_text(form, &[name, alias]).ok_or_else(|| invalid(FieldError::new(name, "is required")))?;
    if v.len() > 64 {
        return Err(invalid(FieldError::new(name, "must be at most 64 characters")));
    }
    Ok(v)
}

/// A phone number as carriers write it: `+` and digits.
fn looks_like_e164(s: &str) -> bool {
    s.len() > 1 && s.len() <= 16 && s.starts_with('+') && s[1..].chars().all(|c| c.is_ascii_digit())
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("application/json"))
}

/// The answer to a provider: the SMS as JSON when asked for (`Accept: application/json`),
/// else an empty TwiML document, which is what Twilio expects.
fn provider_answer(headers: &HeaderMap, s: &Value) -> Response {
    if wants_json(headers) {
        return Json(s.clone()).into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
    )
        .into_response()
}

/// Receive an inbound SMS in Twilio's webhook form (`From`, `To`, `Body`, `MessageSid`;
/// an openwelkin extension). From a number exactly one patient of the instance has (phone
/// or secondary phone), it becomes that patient's `RECEIVED` SMS; otherwise an
/// `UNRECOGNISED` one, listed under `/unrecognized-patients/sms` until assigned. A
/// `MessageSid` seen before returns the stored message (providers retry).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/providers/sms/inbound", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content = Object, content_type = "application/x-www-form-urlencoded",
                 description = "From (required), To (required), Body, MessageSid (or SmsSid); JSON with the same names is accepted too"),
    responses((status = 200, description = "The SMS as JSON with Accept: application/json, else an empty TwiML <Response/>"),
              (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn inbound(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    headers: HeaderMap,
    ProviderForm(form): ProviderForm,
) -> ApiResult<Response> {
    ctx.require(Family::Sms, Op::Create)?;
    let from = required_form_text(&form, "From", "from")?;
    let to = required_form_text(&form, "To", "to")?;
    let text = form.get("Body").or_else(|| form.get("body")).and_then(Value::as_str).unwrap_or_default().to_string();
    if text.chars().count() > sms::MAX_MESSAGE {
        return Err(invalid(FieldError::new("Body", format!("must be at most {} characters", sms::MAX_MESSAGE))));
    }
    let sid = match form_text(&form, &["MessageSid", "SmsSid"]) {
        Some(sid) if sid.len() <= 64 && sid.chars().all(|c| c.is_ascii_alphanumeric()) => sid,
        Some(_) => return Err(invalid(FieldError::new("MessageSid", "must be 1-64 letters and digits"))),
        None => new_message_sid(),
    };
    let matches =
        if looks_like_e164(&from) { state.db.patients_with_phone(&ctx.instance.id, &from).await? } else { vec![] };
    // A number two patients share is left for the care team to resolve.
    let patient = match matches.as_slice() {
        [only] => state.db.patient(&ctx.instance.id, PatientKey::Id, only).await?,
        _ => None,
    };
    let now_ms = state.clock.now_ms();
    let s = sms::inbound(&crate::ids::new_id(), now_ms, &from, &to, &text, &sid, patient.as_ref());
    let mut tx = state.db.begin().await?;
    if let Some(seen) = store::by_external_id(&mut tx, &ctx.instance.id, &sid).await? {
        return Ok(provider_answer(&headers, &seen.body));
    }
    if let Err(e) = store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &s, patient.is_none(), now_ms).await {
        if is_unique_violation(&e) {
            // The same message, delivered twice at once.
            drop(tx);
            let mut tx = state.db.begin().await?;
            let seen =
                store::by_external_id(&mut tx, &ctx.instance.id, &sid).await?.ok_or_else(|| ApiError::from(e))?;
            return Ok(provider_answer(&headers, &seen.body));
        }
        return Err(e.into());
    }
    service::record(&mut tx, &Who::of(&ctx), Operation::Create, &s, patient.as_ref(), now_ms).await?;
    tx.commit().await?;
    Ok(provider_answer(&headers, &s))
}

/// Record a provider's delivery report in Twilio's status-callback form (`MessageSid`,
/// `MessageStatus`: `sent`, `delivered`, `undelivered`, `failed`; an openwelkin
/// extension). Reports never move a message back (they may arrive out of order); others
/// (`queued`, `sending`, …) are acknowledged and change nothing.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/providers/sms/status", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content = Object, content_type = "application/x-www-form-urlencoded",
                 description = "MessageSid (or SmsSid, required), MessageStatus (or SmsStatus, required)"),
    responses((status = 200, description = "The SMS as JSON with Accept: application/json, else an empty TwiML <Response/>"),
              (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>, description = "SMS_NOT_FOUND {externalId}")),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn status_report(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    headers: HeaderMap,
    ProviderForm(form): ProviderForm,
) -> ApiResult<Response> {
    ctx.require(Family::Sms, Op::Update)?;
    let sid = required_form_text(&form, "MessageSid", "SmsSid")?;
    let reported = required_form_text(&form, "MessageStatus", "SmsStatus")?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let stored = store::by_external_id(&mut tx, &ctx.instance.id, &sid)
        .await?
        .filter(|s| s.body["direction"] == "OUT")
        .ok_or_else(|| {
            ApiError::not_found("SMS_NOT_FOUND", COMPONENT, "SMS was not found", json!({"externalId": sid}))
        })?;
    let mut s = stored.body;
    let current = status_of(&s);
    let Some(new) = sms::reported_status(&reported).filter(|new| sms::advances(&current, new)) else {
        return Ok(provider_answer(&headers, &s));
    };
    s["status"] = json!(new);
    let patient = match &stored.patient_id {
        Some(pid) => state.db.patient(&ctx.instance.id, PatientKey::Id, pid).await?,
        None => None,
    };
    if !store::update_if(&mut tx, &ctx.instance.id, &s, &current, now_ms).await? {
        return Err(service::changed(&service::id_of(&s)).into());
    }
    service::record(&mut tx, &Who::of(&ctx), Operation::Update, &s, patient.as_ref(), now_ms).await?;
    tx.commit().await?;
    Ok(provider_answer(&headers, &s))
}

/// What the local outbox provider recorded (an openwelkin extension): a Spring page of
/// `{id, smsId, externalId, from, to, message, queuedAt}`, oldest first.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/outbox/sms", tag = "SMS",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("to" = Option<String>, Query), ("smsId" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn outbox(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Sms, Op::Read)?;
    let page = PageRequest::parse(&params, |_| None)?;
    let to = phone_param(&params, "to");
    let sms_id = params.text("smsId");
    let (items, total) =
        state.db.sms_outbox(&ctx.instance.id, to.as_deref(), sms_id.as_deref(), page.offset(), page.size).await?;
    Ok(Json(SpringPage::new(items, &page, total)))
}

// ---------------------------------------------------------------------------------------
// The scheduler
// ---------------------------------------------------------------------------------------
