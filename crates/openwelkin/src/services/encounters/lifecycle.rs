//! An encounter's life: created from a template (with its links, its empty disposition
//! and, optionally, its calendar event), changed along the allowed status transitions
//! (finalizing needs the disposition's required fields), and deleted with its parts.
//! Audited as `ENCOUNTER` (`ENCOUNTER_FINALIZED` when finalized).

use super::{encounter_for_update, envelope, invalid, local, open, owned_body, patient, scope, COMPONENT};
use crate::app::AppState;
use crate::designer::data_type::DataType;
use crate::domain::encounter::{self as domain, Change, DISPOSITION, ENCOUNTER, LINK};
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::error::{Kind, ServiceError, ServiceResult};
use crate::services::records::stamp;
use crate::services::scope::{InstanceScope, Write};
use crate::store::encounters::{self as store, StoredEncounter};
use crate::store::records::{self as dt, RecordKey};
use crate::store::Tx;
use serde_json::{json, Map, Value};

/// The name a user is shown by, for an encounter's owner.
async fn user_name(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<String> {
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

/// The audit of a write to an encounter.
fn write<'a>(operation: Operation, p: &'a Patient, id: &'a str, record: &'a Value) -> Write<'a> {
    Write {
        patient: Some(p),
        cdt_name: Some(ENCOUNTER),
        cdt_relation: Some("ENCOUNTER"),
        ..Write::new("ENCOUNTER", operation, id, record)
    }
}

/// Creates an encounter for the patient from a template (status `DRAFT`). An inline
/// `currentScheduledAppointment` books a calendar event with it.
pub async fn create(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    mut body: Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    let id = crate::ids::record_id();
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
        Some(u) => Some(user_name(state, ctx, u).await?),
        None => None,
    };
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let disposition_id = crate::ids::new_id();
    let local_now = local(now_ms, &p);
    let fields = domain::draft_fields(
        &template,
        domain::Draft {
            title: change.fields.get("title").cloned().unwrap_or(json!(template.title)),
            description: change.fields.get("description").cloned().unwrap_or(Value::Null),
            notes: change.fields.get("notes").cloned().unwrap_or(Value::Null),
            disposition_id: &disposition_id,
            owner_id: owner.as_deref(),
            owner_name: owner_name.as_deref(),
            local_now: &local_now,
        },
    );
    let mut encounter_body = owned_body(ctx, &id, &id, &now, fields);
    for k in ["source_type", "source_name", "source_id"] {
        encounter_body.insert(k.into(), Value::Null);
    }
    let mut encounter =
        StoredEncounter { id: id.clone(), patient_id: p.id.clone(), version: formation.version, body: encounter_body };

    let disposition_type = formation.designer.disposition();
    let mut disposition = owned_body(ctx, &disposition_id, &id, &now, Map::new());
    for f in &disposition_type.fields {
        disposition.insert(f.name.clone(), Value::Null);
    }
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
            Some(crate::services::calendar::events::create_in(state, ctx, &mut tx, &a, now_ms).await?)
        }
        (None, Some(Some(event_id))) => Some(existing_event(&mut tx, ctx, event_id).await?),
        _ => None,
    };
    if let Some(event) = event {
        link_event(state, ctx, &mut encounter.body, &event, &p).await?;
    }
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &encounter, now_ms).await?;
    dt::insert(&mut tx, &scope(ctx, DISPOSITION, &p.id), &disposition_id, formation.version, &disposition, now_ms)
        .await?;
    for name in &template.assessment_names {
        let a = formation.designer.assessment(name);
        let link = domain::link_fields(name, a.map(|a| a.title).unwrap_or_default(), None, true);
        let link_id = crate::ids::new_id();
        let link_body = owned_body(ctx, &link_id, &id, &now, link);
        dt::insert(&mut tx, &scope(ctx, LINK, &p.id), &link_id, formation.version, &link_body, now_ms).await?;
    }
    let record = envelope(&encounter);
    ctx.record(&mut tx, write(Operation::Create, &p, &id, &record), now_ms).await?;
    tx.commit().await?;
    Ok(record)
}

/// Changes an encounter: title, description, notes, status (along the allowed
/// transitions), owner, calendar event, template (while `DRAFT`).
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    let change: Change = domain::parse_change(body, id).map_err(invalid)?;
    let owner_name = match change.owner.clone().flatten() {
        Some(u) => Some(user_name(state, ctx, &u).await?),
        None => None,
    };
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut e = encounter_for_update(&mut tx, ctx, &p, id).await?;
    open(&e)?;
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
            let event = existing_event(&mut tx, ctx, event_id).await?;
            link_event(state, ctx, &mut e.body, &event, &p).await?;
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
            return Err(ServiceError::new(
                Kind::BadRequest,
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
                check_disposition(&mut tx, ctx, &formation.designer.disposition(), &e).await?;
                e.body.insert("endDatetime".into(), now);
                e.body.insert("localEndDatetime".into(), json!(local(now_ms, &p)));
                subtype = Some("ENCOUNTER_FINALIZED");
            }
            _ => {}
        }
        e.body.insert("status".into(), json!(next));
    }
    stamp(ctx, &mut e.body, now_ms);
    e.body.insert("local_updated_at".into(), json!(local(now_ms, &p)));
    store::update(&mut tx, &ctx.instance.id, &e, now_ms).await?;
    let record = envelope(&e);
    ctx.record(&mut tx, Write { subtype, ..write(Operation::Update, &p, &e.id, &record) }, now_ms).await?;
    tx.commit().await?;
    Ok(record)
}

/// An encounter is finalized only with its disposition's required fields filled.
async fn check_disposition(
    tx: &mut Tx,
    ctx: &InstanceScope,
    disposition_type: &DataType,
    e: &StoredEncounter,
) -> ServiceResult<()> {
    let id = e.body.get("dispositionId").and_then(Value::as_str).unwrap_or_default();
    let d = dt::get_for_update(tx, &scope(ctx, DISPOSITION, &e.patient_id), RecordKey::Id, id).await?;
    let body = d.map(|d| d.body).unwrap_or_default();
    if let Some(missing) =
        disposition_type.fields.iter().find(|f| f.meta.required && body.get(&f.name).is_none_or(Value::is_null))
    {
        return Err(ServiceError::new(
            Kind::BadRequest,
            "VALIDATION_ERROR",
            COMPONENT,
            format!("disposition.{}: is required to finalize the encounter", missing.name),
            json!({"field": format!("disposition.{}", missing.name), "reason": "is required to finalize the encounter"}),
        ));
    }
    Ok(())
}

/// Deletes an encounter with its links, disposition and comments.
pub async fn delete(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<()> {
    let p = patient(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let e = encounter_for_update(&mut tx, ctx, &p, id).await?;
    // Read inside the transaction, after the encounter's lock: a link added meanwhile
    // (adding one locks the encounter too) is committed by now and goes with it.
    for link_id in store::owned_record_ids(&mut tx, &ctx.instance.id, &p.id, LINK, &e.id).await? {
        dt::delete(&mut tx, &scope(ctx, LINK, &p.id), &link_id).await?;
    }
    if let Some(d) = e.body.get("dispositionId").and_then(Value::as_str) {
        dt::delete(&mut tx, &scope(ctx, DISPOSITION, &p.id), d).await?;
    }
    store::delete(&mut tx, &ctx.instance.id, &e.id).await?;
    let record = envelope(&e);
    ctx.record(&mut tx, write(Operation::Delete, &p, &e.id, &record), now_ms).await?;
    tx.commit().await?;
    Ok(())
}

async fn existing_event(tx: &mut Tx, ctx: &InstanceScope, id: &str) -> ServiceResult<Value> {
    crate::store::calendar::event_for_update(tx, &ctx.instance.id, id)
        .await?
        .ok_or_else(|| invalid(FieldError::new("calendarEventId", format!("no calendar event {id}"))))
}

/// Puts a calendar event into an encounter's fields, rendered for the patient's zone.
async fn link_event(
    state: &AppState,
    ctx: &InstanceScope,
    body: &mut Map<String, Value>,
    event: &Value,
    p: &Patient,
) -> ServiceResult<()> {
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
