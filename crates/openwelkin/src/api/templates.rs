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
//! status gives the communication's).

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::patient;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::patient::Patient;
use crate::domain::template::{self, Resolution, CHANNELS, STATUSES};
use crate::domain::user::User;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::calendar::EventFilter;
use crate::store::is_unique_violation;
use crate::store::patients::PatientKey;
use crate::store::templates::{self as store, CommunicationFilter};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const COMPONENT: &str = "MESSAGING_TEMPLATE";
const COMM_COMPONENT: &str = "COMMUNICATION";

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
    request_body(content = Object, description = "name (required), channel (SMS, EMAIL, CHAT; required), body (required, with {{variable}} placeholders), subject (EMAIL only), label, description, active (default true)"),
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
    let (id, name) = (crate::ids::new_id(), actor.full_name());
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
    request_body(content = Object, description = "channel, body (required), subject, label, description, active"),
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
// Variables
// ---------------------------------------------------------------------------------------

fn user_name(u: &User) -> String {
    super::chat::display_name(u)
}

fn nonblank(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(String::from)
}

/// The server's value of every known variable `wanted` names (`None`: no data), reading
/// only the sources those variables need.
async fn known_values(
    state: &AppState,
    ctx: &InstanceCaller,
    p: &Patient,
    sender: Option<&User>,
    wanted: &[String],
) -> ApiResult<BTreeMap<String, Option<String>>> {
    let wants = |group: &[&str]| wanted.iter().any(|w| group.contains(&w.as_str()));
    let mut out: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        out.insert(k.to_string(), v.and_then(|s| nonblank(Some(&s))));
    };
    if wants(template::PATIENT_VARIABLES) {
        put("patientFirstName", Some(p.first_name.clone()));
        put("patientLastName", Some(p.last_name.clone()));
        put("patientFullName", Some(p.full_name()));
        put("patientMiddleName", p.middle_name.clone());
        put("patientEmail", p.email.clone());
        put("patientPhone", p.phone.clone());
        put("patientBirthDate", p.birth_date.as_ref().map(|b| b.chars().take(10).collect()));
        put("patientExternalId", p.external_id.clone());
        put("patientMrn", p.mrn.clone());
    }
    if wants(template::PROGRAM_VARIABLES) {
        let programs = state.db.patient_programs(&ctx.instance.id, &p.id).await?;
        let current = programs.iter().rev().find(|pp| pp.assigned && !pp.is_finished());
        put(
            "programName",
            current.map(|pp| {
                if pp.program_title.trim().is_empty() {
                    pp.program_name.clone()
                } else {
                    pp.program_title.clone()
                }
            }),
        );
        let phase = current.and_then(|pp| pp.current_phase.as_ref());
        put("phaseLabel", phase.map(|ph| if ph.title.trim().is_empty() { ph.name.clone() } else { ph.title.clone() }));
        put("phaseName", phase.map(|ph| ph.name.clone()));
    }
    if wants(template::CALENDAR_VARIABLES) {
        let now_ms = state.clock.now_ms();
        let filter =
            EventFilter { from: Some(now_ms), any_participant: Some(vec![p.id.clone()]), ..Default::default() };
        let events = state.db.calendar_events_all(&ctx.instance.id, &filter).await?;
        let next = events.iter().find_map(|e| {
            let start = e["startDateTime"].as_str().and_then(crate::time::parse_datetime)?;
            (start.timestamp_millis() >= now_ms).then_some((start, e))
        });
        let tz_name = next.map(|(_, e)| {
            nonblank(p.timezone.as_deref())
                .or_else(|| nonblank(e["timezone"].as_str()))
                .filter(|t| t.parse::<chrono_tz::Tz>().is_ok())
                .unwrap_or_else(|| "UTC".into())
        });
        let local = next
            .zip(tz_name.as_ref())
            .map(|((start, _), tz)| start.with_timezone(&tz.parse::<chrono_tz::Tz>().unwrap_or(chrono_tz::UTC)));
        put("appointmentDate", local.map(|t| t.format("%Y-%m-%d").to_string()));
        put("appointmentTime", local.map(|t| t.format("%H:%M").to_string()));
        put("appointmentTimezone", tz_name);
    }
    if wants(template::PROVIDER_VARIABLES) {
        let provider = match &p.point_of_contact {
            Some(poc) => state.db.users_by_ids(&ctx.tenant.id, std::slice::from_ref(&poc.id)).await?.into_iter().next(),
            None => None,
        };
        put("providerName", provider.as_ref().map(user_name));
        put("providerFirstName", provider.as_ref().and_then(|u| u.first_name.clone()));
        put("providerLastName", provider.as_ref().and_then(|u| u.last_name.clone()));
        put("providerEmail", provider.as_ref().map(|u| u.email.clone()));
        put("providerPhone", provider.as_ref().and_then(|u| u.phone.clone()));
    }
    if wants(template::SENDER_VARIABLES) {
        put("senderName", sender.map(user_name));
        put("senderFirstName", sender.and_then(|u| u.first_name.clone()));
        put("senderLastName", sender.and_then(|u| u.last_name.clone()));
    }
    Ok(out)
}

async fn resolve_for(
    state: &AppState,
    ctx: &InstanceCaller,
    t: &Value,
    p: &Patient,
    sender: Option<&User>,
    given: &BTreeMap<String, String>,
) -> ApiResult<Resolution> {
    let wanted: Vec<String> = t["variables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|v| !given.contains_key(*v))
        .map(String::from)
        .collect();
    let known = known_values(state, ctx, p, sender, &wanted).await?;
    Ok(template::resolve(t, given, &known))
}

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

/// The patient (400 naming `field` when it does not exist).
async fn patient_named_by(
    state: &AppState,
    ctx: &InstanceCaller,
    field: &str,
    id: &str,
    component: &str,
) -> ApiResult<Patient> {
    state.db.patient(&ctx.instance.id, PatientKey::Id, id).await?.ok_or_else(|| {
        ApiError::invalid_field(component, FieldError::new(field, format!("patient {id} does not exist")))
    })
}

/// Fills a template for a patient without sending it (an openwelkin extension): the
/// text, the value of each variable, and the variables that are unknown (neither known
/// to the server nor given) or unresolved (known, without data for this patient),
/// which stay as `{{name}}` in the text.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/messaging-templates/{templateName}/resolve", tag = "Messaging templates",
    params(("tenant" = String, Path), ("instance" = String, Path), ("templateName" = String, Path)),
    request_body(content = Object, description = "patientId (required), templateVariables (object), senderId (a user's id)"),
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
        Some(id) => Some(super::chat::user_named_by(&state, &ctx, COMPONENT, "senderId", &id).await?),
        None => None,
    };
    let p = patient_named_by(&state, &ctx, "patientId", &patient_id, COMPONENT).await?;
    let r = resolve_for(&state, &ctx, &t, &p, sender.as_ref(), &given).await?;
    Ok(Json(resolution_view(&t, &r)))
}

// ---------------------------------------------------------------------------------------
// Communications
// ---------------------------------------------------------------------------------------

fn comm_invalid(e: FieldError) -> ApiError {
    ApiError::invalid_field(COMM_COMPONENT, e)
}

/// The 400 for a template that would be sent with a hole, naming the variable.
fn hole(t: &Value, r: &Resolution) -> ApiError {
    let (variable, reason) = r.first_hole().unwrap_or_default();
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
        COMM_COMPONENT,
        format!("templateVariables.{variable}: {reason}"),
        json!({
            "field": format!("templateVariables.{variable}"),
            "reason": reason,
            "variable": variable,
            "templateName": t["name"],
            "unknownVariables": r.unknown,
            "unresolvedVariables": r.unresolved,
        }),
    )
}

/// Sends a messaging template to a patient (DOCS): answers 201 with
/// `{communicationId, status, channel, patientId, scheduledAt, …}`. CHAT creates the
/// chat message from `senderId` (`DELIVERED`); EMAIL sends an email from `senderId`
/// (subject: the template's, else its label), whose status the communication reports
/// (`SENDING`, `DELIVERED`, `BOUNCED`, `FAILED`); SMS from the SMS send's status.
/// The template must be active and of the channel; every variable must have a value.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/communications", tag = "Communications",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content = Object, description = "patientId, channel (SMS, EMAIL, CHAT), templateName, senderId (a user's id) are required; templateVariables (object)"),
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
    let s = template::parse_send(&body).map_err(comm_invalid)?;
    let p = patient_named_by(&state, &ctx, "patientId", &s.patient_id, COMM_COMPONENT).await?;
    let t = state.db.messaging_template(&ctx.instance.id, &s.template_name).await?.ok_or_else(|| {
        comm_invalid(FieldError::new("templateName", format!("no messaging template {:?}", s.template_name)))
    })?;
    if t["active"] != json!(true) {
        return Err(comm_invalid(FieldError::new("templateName", "the template is not active")));
    }
    if t["channel"] != json!(s.channel) {
        return Err(comm_invalid(FieldError::new(
            "channel",
            format!("the template is for {}", t["channel"].as_str().unwrap_or_default()),
        )));
    }
    let sender = super::chat::user_named_by(&state, &ctx, COMM_COMPONENT, "senderId", &s.sender_id).await?;
    let r = resolve_for(&state, &ctx, &t, &p, Some(&sender), &s.variables).await?;
    if !r.complete() {
        return Err(hole(&t, &r));
    }
    let email_parties = if s.channel == "EMAIL" {
        if p.email.is_none() {
            return Err(comm_invalid(FieldError::new("patientId", "the patient has no email address")));
        }
        Some(super::emails::outbound_parties(&state, &ctx, &p, Some(&sender.id)).await?)
    } else {
        None
    };
    // An SMS goes out through the SMS module (its own transaction, audited there) before
    // the communication is recorded; a send it refuses leaves no communication behind.
    let sms = if s.channel == "SMS" {
        let out = super::sms::Outgoing { from: None, message: &r.text, scheduled_at: None, starred: false };
        Some(super::sms::send(&state, &ctx, &p, &out).await?)
    } else {
        None
    };
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let actor = ctx.actor();
    let id = crate::ids::new_id();
    let mut tx = state.db.begin().await?;
    let mut after_commit = AfterCommit::Nothing;
    let (status, message_id, sent_at) = match (s.channel.as_str(), &email_parties) {
        ("CHAT", _) => {
            let m = super::chat::care_team_message(&ctx, &p, Some(&sender), r.text.clone(), None, now_ms);
            super::chat::insert_care_team_message(&ctx, &mut tx, &p, &m, now_ms).await?;
            after_commit = AfterCommit::Announce(m.message.clone());
            (template::DELIVERED.to_string(), Some(m.id), Some(now.clone()))
        }
        ("EMAIL", Some(parties)) => {
            let compose = crate::domain::email::Compose {
                subject: Some(r.subject.clone().unwrap_or_else(|| t["label"].as_str().unwrap_or_default().to_string())),
                body: Some(r.text.clone()),
                send_now: Some(true),
                ..Default::default()
            };
            let email_id = crate::ids::new_id();
            let record = super::emails::outbound_record(parties, &compose, &email_id, Value::Null, now_ms);
            let row = super::emails::create_outbound(&state, &mut tx, &ctx, &p, record, now_ms).await?;
            let email_status = row.record["status"].as_str().unwrap_or_default();
            if email_status == "ACCEPTED" {
                after_commit = AfterCommit::DispatchEmail(email_id.clone());
            }
            (email_status_of(email_status).to_string(), Some(email_id), row.record["sentAt"].as_str().map(String::from))
        }
        ("SMS", _) => {
            let sms = sms.as_ref().expect("sent above");
            let status = match sms["status"].as_str() {
                Some("SENT" | "DELIVERED") => template::DELIVERED,
                Some("FAILED" | "UNDELIVERED") => "FAILED",
                _ => "SENDING",
            };
            (status.to_string(), sms["id"].as_str().map(String::from), sms["sentAt"].as_str().map(String::from))
        }
        _ => (template::QUEUED.to_string(), None, None),
    };
    let c = json!({
        "communicationId": id,
        "status": status,
        "channel": s.channel,
        "patientId": p.id,
        "scheduledAt": null,
        "templateName": t["name"],
        "templateVariables": s.variables,
        "senderId": sender.id,
        "subject": r.subject,
        "text": r.text,
        "messageId": message_id,
        "createdAt": now,
        "updatedAt": now,
        "sentAt": sent_at,
        "createdBy": actor.id,
        "createdByName": actor.full_name(),
    });
    store::insert_communication(&mut tx, &ctx.tenant.id, &ctx.instance.id, &c, now_ms).await?;
    ctx.record(&mut tx, Write { patient: Some(&p), ..Write::new("COMMUNICATION", Operation::Create, &id, &c) }, now_ms)
        .await?;
    tx.commit().await?;
    match after_commit {
        AfterCommit::Announce(text) => super::chat::announce(&state, &ctx, &headers, &p, &text).await,
        AfterCommit::DispatchEmail(email_id) => state.email.dispatch_soon(&state.db, &state.clock, &email_id).await,
        AfterCommit::Nothing => {}
    }
    Ok((StatusCode::CREATED, Json(current_status(&state, &ctx, c).await?)))
}

/// What a send does once its transaction is committed.
enum AfterCommit {
    Nothing,
    /// Tell the chat webhook about the message.
    Announce(String),
    /// Hand the email to the delivery provider.
    DispatchEmail(String),
}

/// A communication's status from its email's: `QUEUED` while scheduled, `SENDING` until
/// the provider took it, then `DELIVERED`, `BOUNCED` (rejected) or `FAILED`.
fn email_status_of(email_status: &str) -> &'static str {
    match email_status {
        "SCHEDULED" => template::QUEUED,
        "ACCEPTED" => template::SENDING,
        "DELIVERED" | "SENT" => template::DELIVERED,
        "REJECTED" => template::BOUNCED,
        _ => template::FAILED,
    }
}

/// A communication with the current status of the email it sent, if any.
async fn current_status(state: &AppState, ctx: &InstanceCaller, mut c: Value) -> ApiResult<Value> {
    if c["channel"] == "EMAIL" {
        if let Some(id) = c["messageId"].as_str() {
            if let Some(row) = state.db.email(&ctx.instance.id, id).await? {
                let email_status = row.record["status"].as_str().unwrap_or_default();
                c["status"] = json!(email_status_of(email_status));
                c["sentAt"] = row.record["sentAt"].clone();
            }
        }
    }
    Ok(c)
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
    Ok(Json(current_status(&state, &ctx, c).await?))
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
        data.push(current_status(&state, &ctx, c).await?);
    }
    Ok(Json(MetaInfoPage::new(data, &req, total)))
}
