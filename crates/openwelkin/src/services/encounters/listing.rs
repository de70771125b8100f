//! Reading encounters: one encounter, alone or with everything around it, and the lists
//! of a patient's encounters and of a user's (filtered, sorted and paged in memory).

use super::{encounter, envelope, links_of, part_envelope, scope};
use crate::app::AppState;
use crate::designer::data_type::SYSTEM_FIELDS;
use crate::domain::encounter::DISPOSITION;
use crate::domain::patient::Patient;
use crate::domain::user::User;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::scope::InstanceScope;
use crate::store::encounters::{Owner, StoredEncounter};
use crate::store::patients::PatientKey;
use crate::store::records::RecordKey;
use serde_json::{json, Value};

/// The encounter `id` of the patient.
pub async fn read(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    let (_, e) = encounter(state, ctx, patient_id, id).await?;
    Ok(envelope(&e))
}

/// The encounter `id` with everything around it (see `full`).
pub async fn read_full(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    let (_, e) = encounter(state, ctx, patient_id, id).await?;
    full(state, ctx, &e).await
}

/// An encounter with everything around it: `{encounter, disposition, calendarEvent,
/// userRelatedToCalendarEvent, assessmentLinks, comments}` (no top-level id, as recorded).
async fn full(state: &AppState, ctx: &InstanceScope, e: &StoredEncounter) -> ServiceResult<Value> {
    let disposition = match e.body.get("dispositionId").and_then(Value::as_str) {
        Some(id) => state
            .db
            .record(&scope(ctx, DISPOSITION, &e.patient_id), RecordKey::Id, id)
            .await?
            .map(|r| part_envelope(&r, DISPOSITION)),
        None => None,
    };
    // The recording lists a full encounter's assessment links newest first (the links
    // list of `GET …/assessments` keeps creation order).
    let mut links = links_of(state, ctx, e).await?;
    links.reverse();
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

/// Which encounters a list shows, and in which order.
pub struct Listing {
    /// Only these statuses (checked, upper case); `None` for all.
    pub statuses: Option<Vec<String>>,
    pub only_with_calendar_event: bool,
    /// `(body field, descending)`, applied one after the other: the last one decides.
    pub sorts: Vec<(String, bool)>,
    pub offset: i64,
    pub size: i64,
}

/// Filters, sorts and pages a list; answers the page and how many it selects in all.
fn select(mut found: Vec<StoredEncounter>, q: &Listing) -> (Vec<StoredEncounter>, i64) {
    if let Some(wanted) = &q.statuses {
        found.retain(|e| e.body.get("status").and_then(Value::as_str).is_some_and(|s| wanted.iter().any(|w| w == s)));
    }
    if q.only_with_calendar_event {
        found.retain(|e| e.body.get("calendarEventId").is_some_and(|v| !v.is_null()));
    }
    for (key, desc) in &q.sorts {
        found.sort_by(|a, b| {
            let o = a.body.get(key).map(Value::to_string).cmp(&b.body.get(key).map(Value::to_string));
            if *desc {
                o.reverse()
            } else {
                o
            }
        });
    }
    let total = found.len() as i64;
    (found.into_iter().skip(q.offset as usize).take(q.size as usize).collect(), total)
}

async fn fulls(state: &AppState, ctx: &InstanceScope, found: &[StoredEncounter]) -> ServiceResult<Vec<Value>> {
    let mut data = Vec::with_capacity(found.len());
    for e in found {
        data.push(full(state, ctx, e).await?);
    }
    Ok(data)
}

/// One page of the patient's encounters, and how many there are.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    patient: &Patient,
    q: &Listing,
) -> ServiceResult<(Vec<Value>, i64)> {
    let (found, total) = select(state.db.encounters(&ctx.instance.id, Owner::Patient(&patient.id)).await?, q);
    Ok((found.iter().map(envelope).collect(), total))
}

/// One page of the patient's encounters with everything around them, and how many there are.
pub async fn list_full(
    state: &AppState,
    ctx: &InstanceScope,
    patient: &Patient,
    q: &Listing,
) -> ServiceResult<(Vec<Value>, i64)> {
    let (found, total) = select(state.db.encounters(&ctx.instance.id, Owner::Patient(&patient.id)).await?, q);
    Ok((fulls(state, ctx, &found).await?, total))
}

/// The user whose encounters are asked for.
pub async fn user(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<User> {
    state
        .db
        .user(&ctx.tenant.id, id, true)
        .await?
        .ok_or_else(|| ServiceError::not_found("USER_NOT_FOUND", "USER", "User doesn't exist", json!({})))
}

/// The user's encounters; `with_care_team` adds those of the patients whose care team the
/// user is in.
async fn user_encounters(
    state: &AppState,
    ctx: &InstanceScope,
    user: &User,
    with_care_team: bool,
    q: &Listing,
) -> ServiceResult<(Vec<StoredEncounter>, i64)> {
    let mut patients = Vec::new();
    if with_care_team {
        let (all, _) = state.db.patients(&ctx.instance.id, &Default::default(), &[], 0, i64::from(i32::MAX)).await?;
        patients =
            all.into_iter().filter(|p| p.care_team_members.iter().any(|m| m.id == user.id)).map(|p| p.id).collect();
    }
    Ok(select(state.db.encounters(&ctx.instance.id, Owner::User(&user.id, &patients)).await?, q))
}

/// One page of the user's encounters, and how many there are. Items carry `patientInfo`
/// and null `cdtId`/`version`/`cdtName`, as recorded.
pub async fn list_for_user(
    state: &AppState,
    ctx: &InstanceScope,
    user: &User,
    with_care_team: bool,
    q: &Listing,
) -> ServiceResult<(Vec<Value>, i64)> {
    let (found, total) = user_encounters(state, ctx, user, with_care_team, q).await?;
    let mut data = Vec::with_capacity(found.len());
    for e in &found {
        let mut body = e.body.clone();
        body.retain(|k, _| !SYSTEM_FIELDS.iter().any(|(s, _)| s == k));
        let p = state.db.patient(&ctx.instance.id, PatientKey::Id, &e.patient_id).await?;
        body.insert(
            "patientInfo".into(),
            json!({"patientId": e.patient_id, "firstName": p.as_ref().map(|p| &p.first_name), "lastName": p.as_ref().map(|p| &p.last_name)}),
        );
        data.push(json!({"id": e.id, "patientId": e.patient_id, "cdtId": null, "version": null, "jsonBody": body, "cdtName": null}));
    }
    Ok((data, total))
}

/// One page of the user's encounters with everything around them, and how many there are.
pub async fn list_full_for_user(
    state: &AppState,
    ctx: &InstanceScope,
    user: &User,
    with_care_team: bool,
    q: &Listing,
) -> ServiceResult<(Vec<Value>, i64)> {
    let (found, total) = user_encounters(state, ctx, user, with_care_team, q).await?;
    Ok((fulls(state, ctx, &found).await?, total))
}
