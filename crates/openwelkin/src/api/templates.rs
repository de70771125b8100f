//! Messaging templates and templated communications.
//!
//! Templates live per instance: `GET /{tenant}/{instance}/messaging-templates[/{templateName}]`
//! (DOCS; the list is a plain array), and the openwelkin extensions to manage them
//! (`POST`, `PUT`, `DELETE`) and to preview one for a patient
//! (`POST …/messaging-templates/{templateName}/resolve`). Variables are `{{name}}`,
//! filled from `templateVariables` first, then from the patient, the patient's current
//! program, the next calendar event, the point of contact (provider) and the sender.
//!
//! `POST /{tenant}/{instance}/communications` sends a template (DOCS); a template with
//! an unknown or unresolvable variable is refused with a 400 naming it, never sent with
//! a hole. CHAT sends become chat messages (status `DELIVERED`, announced to the chat
//! webhook); EMAIL sends become emails through the email module (the communication's
//! status follows the email's); SMS sends go out through the SMS module first (its
//! status gives the communication's). Filling the variables and the send are
//! `services::templates`; here are the routes.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::patient;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::template::{self, Resolution, CHANNELS, STATUSES};
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::templates::{self as service, COMM_COMPONENT, COMPONENT};
use crate::store::is_unique_violation;
use crate::store::templates::{self as store, CommunicationFilter};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

fn invalid(e: FieldError) -> ApiError {
    ApiError::invalid_field(COMPONENT, e)
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(
        "MESSAGING_TEMPLATE_NOT_FOUND",
        COMPONENT,
        "Messaging template not found",
        json!({"templateName": name}),
    )
}

fn already_exists(name: &str) -> ApiError {
    ApiError::conflict(
        "MESSAGING_TEMPLATE_ALREADY_EXISTS",
        COMPONENT,
        "A messaging template with this name exists",
        json!({"templateName": name}),
    )
}

/// Messaging templates (DOCS): a plain array, by name.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/messaging-templates", tag = "Messaging templates",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("channel" = Option<String>, Query, description = "SMS, EMAIL or CHAT"), ("active" = Option<bool>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = Vec<Object>, description = "[{id, name, label, description, channel, subject, body, variables, active, createdAt, …}]"),
              (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, ctx: InstanceCaller, params: Params) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Communications, Op::Read)?;
    let req = PageRequest::parse(&params, |_| None)?;
    let channel = match params.text("channel") {
        None => None,
        Some(c) if CHANNELS.contains(&c.to_ascii_uppercase().as_str()) => Some(c.to_ascii_uppercase()),
        Some(_) => return Err(ApiError::invalid_param("channel", format!("must be one of {}", CHANNELS.join(", ")))),
    };
    let rows = state
        .db
        .messaging_templates(&ctx.instance.id, channel.as_deref(), params.bool("active")?, req.offset(), req.size)
        .await?;
    Ok(Json(rows))
}

/// One messaging template by name (DOCS).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/messaging-templates/{templateName}", tag = "Messaging templates",
    params(("tenant" = String, Path), ("instance" = String, Path), ("templateName" = String, Path)),
    responses((status = 200, body = Object), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Communications, Op::Read)?;
    state.db.messaging_template(&ctx.instance.id, &path.2).await?.map(Json).ok_or_else(|| not_found(&path.2))
}

/// Creates a messaging template (an openwelkin extension; Welkin manages them in its
/// designer). The variables are read from `subject` and `body`.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/messaging-templates", tag = "Messaging templates",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body = crate::api::schemas::messaging::TemplateCreate,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>),
              (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Communications, Op::Create)?;
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let actor = ctx.actor();
    let (id, name) = (crate::ids::record_id(), actor.full_name());
    let t = template::build(&body, None, (&id, &now, &actor.id, &name), &now, (&actor.id, &name)).map_err(invalid)?;
    let tname = t["name"].as_str().unwrap_or_default().to_string();
    let mut tx = state.db.begin().await?;
    if store::get_for_update(&mut tx, &ctx.instance.id, &tname).await?.is_some() {
        return Err(already_exists(&tname));
    }
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &t, now_ms).await.map_err(|e| {
        if is_unique_violation(&e) {
            already_exists(&tname)
        } else {
            e.into()
        }
    })?;
    ctx.record(&mut tx, Write::new("MESSAGING_TEMPLATE", Operation::Create, &id, &t), now_ms).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// Replaces a messaging template (an openwelkin extension): what the body omits takes
/// its default; the name cannot change.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/messaging-templates/{templateName}", tag = "Messaging templates",
    params(("tenant" = String, Path), ("instance" = String, Path), ("templateName" = String, Path)),
    request_body = crate::api::schemas::messaging::TemplateUpdate,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>),
              (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn replace(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Communications, Op::Update)?;
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let actor = ctx.actor();
    let name = actor.full_name();
    let mut tx = state.db.begin().await?;
    let old = store::get_for_update(&mut tx, &ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    let s = |k: &str| old[k].as_str().unwrap_or_default().to_string();
    let (id, created_at, created_by, created_by_name) = (s("id"), s("createdAt"), s("createdBy"), s("createdByName"));
    let t = template::build(
        &body,
        Some(&path.2),
        (&id, &created_at, &created_by, &created_by_name),
        &now,
        (&actor.id, &name),
    )
    .map_err(invalid)?;
    store::update(&mut tx, &ctx.instance.id, &t, now_ms).await?;
    ctx.record(&mut tx, Write::new("MESSAGING_TEMPLATE", Operation::Update, &id, &t), now_ms).await?;
    tx.commit().await?;
    Ok(Json(t))
}

/// Deletes a messaging template (an openwelkin extension). Communications already sent
/// with it keep their text.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/messaging-templates/{templateName}", tag = "Messaging templates",
    params(("tenant" = String, Path), ("instance" = String, Path), ("templateName" = String, Path)),
    responses((status = 200, description = "empty"), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Communications, Op::Delete)?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let old = store::get_for_update(&mut tx, &ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    let id = old["id"].as_str().unwrap_or_default().to_string();
    store::delete(&mut tx, &ctx.instance.id, &id).await?;
    ctx.record(&mut tx, Write::new("MESSAGING_TEMPLATE", Operation::Delete, &id, &old), now_ms).await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}

// ---------------------------------------------------------------------------------------
// Previews
// ---------------------------------------------------------------------------------------

fn resolution_view(t: &Value, r: &Resolution) -> Value {
    json!({
        "templateName": t["name"],
        "channel": t["channel"],
        "subject": r.subject,
        "text": r.text,
        "complete": r.complete(),
        "variables": r.values,
        "unknownVariables": r.unknown,
        "unresolvedVariables": r.unresolved,
    })
}

/// Fills a template for a patient without sending it (an openwelkin extension): the
/// text, the value of each variable, and the variables that are unknown (neither known
/// to the server nor given) or unresolved (known, without data for this patient),
/// which stay as `{{name}}` in the text.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/messaging-templates/{templateName}/resolve", tag = "Messaging templates",
    params(("tenant" = String, Path), ("instance" = String, Path), ("templateName" = String, Path)),
    request_body = crate::api::schemas::messaging::TemplateResolve,
    responses((status = 200, body = Object, description = "{templateName, channel, subject, text, complete, variables, unknownVariables, unresolvedVariables}"),
              (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn resolve(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Communications, Op::Read)?;
    let t = state.db.messaging_template(&ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    crate::domain::fields::reject_unknown(&body, &["patientId", "templateVariables", "senderId"], &[])
        .map_err(invalid)?;
    let uuid = |k: &str| crate::domain::fields::opt_uuid(k, body.get(k).unwrap_or(&Value::Null)).map_err(invalid);
    let patient_id = uuid("patientId")?.ok_or_else(|| invalid(FieldError::new("patientId", "is required")))?;
    let given = template::supplied_variables(body.get("templateVariables")).map_err(invalid)?;
    let sender = match uuid("senderId")? {
        Some(id) => Some(crate::services::chat::user_named_by(&state, &ctx, COMPONENT, "senderId", &id).await?),
        None => None,
    };
    let p = service::patient_named_by(&state, &ctx, "patientId", &patient_id, COMPONENT).await?;
    let r = service::resolve_for(&state, &ctx, &t, &p, sender.as_ref(), &given).await?;
    Ok(Json(resolution_view(&t, &r)))
}

// ---------------------------------------------------------------------------------------
// Communications
// ---------------------------------------------------------------------------------------

/// Sends a messaging template to a patient (DOCS): answers 201 with
/// `{communicationId, status, channel, patientId, scheduledAt, …}`. CHAT creates the
/// chat message from `senderId` (`DELIVERED`); EMAIL sends an email from `senderId`
/// (subject: the template's, else its label), whose status the communication reports
/// (`SENDING`, `DELIVERED`, `BOUNCED`, `FAILED`); SMS from the SMS send's status.
/// The template must be active and of the channel; every variable must have a value.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/communications", tag = "Communications",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body = crate::api::schemas::messaging::TemplatedSend,
    responses((status = 201, body = Object, description = "{communicationId, status, channel, patientId, scheduledAt, templateName, templateVariables, senderId, subject, text, messageId, createdAt, updatedAt, sentAt, createdBy, createdByName}"),
              (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn send(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Communications, Op::Create)?;
    let base = super::chat::request_base(&headers);
    Ok((StatusCode::CREATED, Json(service::send(&state, &ctx, &body, &base).await?)))
}

/// One communication (DOCS).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/communications/{communicationId}", tag = "Communications",
    params(("tenant" = String, Path), ("instance" = String, Path), ("communicationId" = String, Path)),
    responses((status = 200, body = Object), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_communication(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Communications, Op::Read)?;
    let c = state.db.communication(&ctx.instance.id, &path.2).await?.ok_or_else(|| {
        ApiError::not_found(
            "COMMUNICATION_NOT_FOUND",
            COMM_COMPONENT,
            "Communication not found",
            json!({"communicationId": path.2}),
        )
    })?;
    Ok(Json(service::current_status(&state, &ctx, c).await?))
}

/// A patient's communications, newest first (DOCS): `{data, metaInfo}`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/communications", tag = "Communications",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("patientId" = String, Query, description = "required"), ("channel" = Option<String>, Query),
           ("status" = Option<String>, Query, description = "QUEUED, SENDING, DELIVERED, FAILED, BOUNCED"),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = Object, description = "{data:[communication], metaInfo}"),
              (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_communications(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Communications, Op::Read)?;
    let req = PageRequest::parse(&params, |_| None)?;
    let pid = params.text("patientId").ok_or_else(|| ApiError::invalid_param("patientId", "is required"))?;
    let p = patient(&state, &ctx, &pid).await?;
    let one_of = |name: &str, allowed: &[&str]| -> ApiResult<Option<String>> {
        match params.text(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v.to_ascii_uppercase().as_str()) => Ok(Some(v.to_ascii_uppercase())),
            Some(_) => Err(ApiError::invalid_param(name, format!("must be one of {}", allowed.join(", ")))),
        }
    };
    let filter = CommunicationFilter {
        patient_id: p.id,
        channel: one_of("channel", CHANNELS)?,
        status: one_of("status", STATUSES)?,
    };
    let (rows, total) = state.db.communications(&ctx.instance.id, &filter, req.offset(), req.size).await?;
    let mut data = Vec::with_capacity(rows.len());
    for c in rows {
        data.push(service::current_status(&state, &ctx, c).await?);
    }
    Ok(Json(MetaInfoPage::new(data, &req, total)))
}
