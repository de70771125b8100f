//! Calendar: events (`events`), users' schedules and the event summary (`schedules`),
//! and work hours (`work_hours`). What they share is here: the errors, the participants'
//! checks, and how events are rendered (with the participants' current details).
//!
//! Overlaps are not refused: Welkin books a user twice or outside working hours when
//! asked to, and reports the load instead, in the schedules (events beside working
//! hours) and in the event summary (`totalEventHours` against `totalWorkingHours`,
//! `occupancy`).

pub mod events;
pub mod schedules;
pub mod work_hours;

use super::error::{ServiceError, ServiceResult};
use super::scope::InstanceScope;
use crate::app::AppState;
use crate::domain::calendar as cal;
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::store::patients::PatientFilter;
use chrono_tz::Tz;
use serde_json::{json, Value};
use std::collections::HashMap;

const COMPONENT: &str = "CALENDAR";

pub(super) fn event_not_found(id: &str) -> ServiceError {
    ServiceError::not_found("CALENDAR_EVENT_NOT_FOUND", COMPONENT, "Calendar event not found", json!({"id": id}))
}

pub(super) fn hours_not_found(id: &str) -> ServiceError {
    ServiceError::not_found("WORK_HOURS_NOT_FOUND", COMPONENT, "Work hours not found", json!({"workHoursId": id}))
}

pub(super) fn external_id_taken(external_id: &str, holder: &str) -> ServiceError {
    ServiceError::conflict(
        "CALENDAR_EVENT_ALREADY_EXISTS",
        COMPONENT,
        "another calendar event has this externalId",
        json!({"externalId": external_id, "id": holder}),
    )
}

pub(super) fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

pub(super) async fn user_zones(
    state: &AppState,
    ctx: &InstanceScope,
    ids: &[String],
) -> ServiceResult<HashMap<String, Option<Tz>>> {
    let users = state.db.users_by_ids(&ctx.tenant.id, ids).await?;
    Ok(users.into_iter().map(|u| (u.id.clone(), cal::parse_tz(u.timezone.as_deref()))).collect())
}

/// Checks that every participant exists (users in the tenant, patients in the instance),
/// except those already in the event before this change (`kept`): a participant deleted
/// since does not block other changes. Returns the first existing patient taking part,
/// whom the audit row names.
pub(super) async fn check_participants(
    state: &AppState,
    ctx: &InstanceScope,
    event: &Value,
    kept: &[(String, String)],
) -> ServiceResult<Option<Patient>> {
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
pub async fn render_events(
    state: &AppState,
    ctx: &InstanceScope,
    events: &[Value],
    viewer: Option<Tz>,
) -> ServiceResult<Vec<Value>> {
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

pub(super) async fn render_one(
    state: &AppState,
    ctx: &InstanceScope,
    event: &Value,
    viewer: Option<Tz>,
) -> ServiceResult<Value> {
    Ok(render_events(state, ctx, std::slice::from_ref(event), viewer).await?.remove(0))
}
