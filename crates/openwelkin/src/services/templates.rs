//! Templated communications: filling a messaging template's `{{variables}}` for a
//! patient (from the given values first, then the patient, the current program, the next
//! calendar event, the point of contact and the sender) and sending it by chat, email or
//! SMS. A template with an unknown or unresolvable variable is refused with a 400 naming
//! it, never sent with a hole.

use super::error::{Kind, ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::domain::patient::Patient;
use crate::domain::template::{self, Resolution};
use crate::domain::user::User;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::calendar::EventFilter;
use crate::store::patients::PatientKey;
use crate::store::templates as store;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const COMPONENT: &str = "MESSAGING_TEMPLATE";
pub const COMM_COMPONENT: &str = "COMMUNICATION";

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
    ctx: &InstanceScope,
    p: &Patient,
    sender: Option<&User>,
    wanted: &[String],
) -> ServiceResult<BTreeMap<String, Option<String>>> {
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

pub async fn resolve_for(
    state: &AppState,
    ctx: &InstanceScope,
    t: &Value,
    p: &Patient,
    sender: Option<&User>,
    given: &BTreeMap<String, String>,
) -> ServiceResult<Resolution> {
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

/// The patient (400 naming `field` when it does not exist).
pub async fn patient_named_by(
    state: &AppState,
    ctx: &InstanceScope,
    field: &str,
    id: &str,
    component: &str,
) -> ServiceResult<Patient> {
    state.db.patient(&ctx.instance.id, PatientKey::Id, id).await?.ok_or_else(|| {
        ServiceError::invalid_field(component, FieldError::new(field, format!("patient {id} does not exist")))
    })
}

fn comm_invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMM_COMPONENT, e)
}

/// The 400 for a template that would be sent with a hole, naming the variable.
fn hole(t: &Value, r: &Resolution) -> ServiceError {
    let (variable, reason) = r.first_hole().unwrap_or_default();
    ServiceError::new(
        Kind::BadRequest,
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

/// Sends a messaging template to a patient as a send body asks (see the
/// `POST /communications` route), and records the communication. `request_base`
/// (`scheme://host` the request came to) is for the chat webhook's `patientUrl`.
pub async fn send(
    state: &AppState,
    ctx: &InstanceScope,
    body: &Map<String, Value>,
    request_base: &str,
) -> ServiceResult<Value> {
    let s = template::parse_send(body).map_err(comm_invalid)?;
    let p = patient_named_by(state, ctx, "patientId", &s.patient_id, COMM_COMPONENT).await?;
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
    let sender = super::chat::user_named_by(state, ctx, COMM_COMPONENT, "senderId", &s.sender_id).await?;
    let r = resolve_for(state, ctx, &t, &p, Some(&sender), &s.variables).await?;
    if !r.complete() {
        return Err(hole(&t, &r));
    }
    let email_parties = if s.channel == "EMAIL" {
        if p.email.is_none() {
            return Err(comm_invalid(FieldError::new("patientId", "the patient has no email address")));
        }
        Some(super::emails::outbound_parties(state, ctx, &p, Some(&sender.id)).await?)
    } else {
        None
    };
    // An SMS goes out through the SMS module (its own transaction, audited there) before
    // the communication is recorded; a send it refuses leaves no communication behind.
    let sms = if s.channel == "SMS" {
        let out = super::sms::Outgoing { from: None, message: &r.text, scheduled_at: None, starred: false };
        Some(super::sms::send(state, ctx, &p, &out).await?)
    } else {
        None
    };
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let actor = ctx.actor();
    let id = crate::ids::record_id();
    let mut tx = state.db.begin().await?;
    let mut after_commit = AfterCommit::Nothing;
    let (status, message_id, sent_at) = match (s.channel.as_str(), &email_parties) {
        ("CHAT", _) => {
            let m = super::chat::care_team_message(ctx, &p, Some(&sender), r.text.clone(), None, now_ms);
            super::chat::insert_message(ctx, &mut tx, &p, &m, now_ms).await?;
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
            let row = super::emails::create_outbound(state, &mut tx, ctx, &p, record, now_ms).await?;
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
        AfterCommit::Announce(text) => super::chat_webhook::announce(state, ctx, request_base, &p, &text).await,
        AfterCommit::DispatchEmail(email_id) => state.email.dispatch_soon(&state.db, &state.clock, &email_id).await,
        AfterCommit::Nothing => {}
    }
    current_status(state, ctx, c).await
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
pub async fn current_status(state: &AppState, ctx: &InstanceScope, mut c: Value) -> ServiceResult<Value> {
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
