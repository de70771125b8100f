//! Calendar events: create (also inside an encounter's transaction), read by id or
//! external id, replace, patch, delete, invitation responses and the search. A deleted
//! event whose end has passed stays readable with `eventStatus: CANCELLED`, any other is
//! gone. Every write is audited as `CALENDAR` (`CALENDAR_EVENT_CREATED`, `…_UPDATED`,
//! `…_DELETED`).

use super::{check_participants, event_not_found, external_id_taken, invalid, render_events, render_one};
use crate::app::AppState;
use crate::domain::calendar as cal;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::scope::{InstanceScope, Write};
use crate::store::calendar::{self as store, EventFilter};
use crate::store::query::SortColumn;
use crate::store::{is_unique_violation, Tx};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

/// Which key names an event.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum EventKey {
    Id,
    ExternalId,
}

async fn check_external_id(tx: &mut Tx, ctx: &InstanceScope, event: &Value) -> ServiceResult<()> {
    if let Some(ext) = event["externalId"].as_str() {
        if let Some(holder) = store::external_id_holder(tx, &ctx.instance.id, ext).await? {
            if event["id"].as_str() != Some(holder.as_str()) {
                return Err(external_id_taken(ext, &holder));
            }
        }
    }
    Ok(())
}

fn map_unique(event: &Value) -> impl FnOnce(crate::store::sql::Error) -> ServiceError + '_ {
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
pub async fn create_in(
    state: &AppState,
    ctx: &InstanceScope,
    tx: &mut Tx,
    body: &Map<String, Value>,
    now_ms: i64,
) -> ServiceResult<Value> {
    let actor = ctx.actor();
    let now = crate::time::format_ms(now_ms);
    let mut event = cal::blank_event(&crate::ids::record_id(), &now, &actor.id);
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

/// Creates an event from a create body; answers it rendered for `viewer`.
pub async fn create(
    state: &AppState,
    ctx: &InstanceScope,
    body: &Map<String, Value>,
    viewer: Option<Tz>,
) -> ServiceResult<Value> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let event = create_in(state, ctx, &mut tx, body, now_ms).await?;
    tx.commit().await?;
    render_one(state, ctx, &event, viewer).await
}

/// The event `key` names (as `kind` says), rendered for `viewer`.
pub async fn read(
    state: &AppState,
    ctx: &InstanceScope,
    kind: EventKey,
    key: &str,
    viewer: Option<Tz>,
) -> ServiceResult<Value> {
    let found = match kind {
        EventKey::Id => state.db.calendar_event(&ctx.instance.id, key).await?,
        EventKey::ExternalId => state.db.calendar_event_by_external_id(&ctx.instance.id, key).await?,
    };
    let event = found.ok_or_else(|| event_not_found(key))?;
    render_one(state, ctx, &event, viewer).await
}

/// Replaces (`full`) or patches the event `id`; answers it rendered for `viewer`.
pub async fn change(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
    full: bool,
    viewer: Option<Tz>,
) -> ServiceResult<Value> {
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
    render_one(state, ctx, &event, viewer).await
}

/// Deletes the event `id`: one whose end has passed is kept, `CANCELLED`; any other is
/// removed.
pub async fn delete(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<()> {
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut event = store::event_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| event_not_found(id))?;
    let (_, end) = cal::event_span(&event);
    if end < now_ms {
        if event["eventStatus"] != cal::CANCELLED {
            event["eventStatus"] = json!(cal::CANCELLED);
            event["updatedAt"] = json!(crate::time::format_ms(now_ms));
            event["updatedBy"] = json!(actor.id);
            store::update_event(&mut tx, &ctx.instance.id, &event, now_ms).await?;
        }
    } else {
        store::delete_event(&mut tx, &ctx.instance.id, id).await?;
    }
    let patient = check_participants(state, ctx, &event, &cal::participant_refs(&event)).await?;
    ctx.record(
        &mut tx,
        Write {
            patient: patient.as_ref(),
            subtype: Some("CALENDAR_EVENT_DELETED"),
            ..Write::new("CALENDAR", Operation::Delete, id, &event)
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a participant's answer to the invitation; answers the event.
pub async fn invitation_response(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut event = store::event_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| event_not_found(id))?;
    cal::apply_invitation_response(&mut event, body).map_err(invalid)?;
    event["updatedAt"] = json!(crate::time::format_ms(now_ms));
    event["updatedBy"] = json!(actor.id);
    store::update_event(&mut tx, &ctx.instance.id, &event, now_ms).await?;
    let patient = check_participants(state, ctx, &event, &cal::participant_refs(&event)).await?;
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
    render_one(state, ctx, &event, None).await
}

/// `encounterInfo` of events of type ENCOUNTER: the encounter scheduled on them.
async fn add_encounter_info(state: &AppState, ctx: &InstanceScope, events: &mut [Value]) -> ServiceResult<()> {
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

/// One page of the events `filter` selects, rendered for `viewer` (with the encounters
/// scheduled on them, when asked), and how many it selects in all.
#[allow(clippy::too_many_arguments)]
pub async fn find(
    state: &AppState,
    ctx: &InstanceScope,
    filter: &EventFilter,
    sorts: &[SortColumn],
    offset: i64,
    size: i64,
    viewer: Option<Tz>,
    with_encounters: bool,
) -> ServiceResult<(Vec<Value>, i64)> {
    let (events, total) = state.db.calendar_events(&ctx.instance.id, filter, sorts, offset, size).await?;
    let mut content = render_events(state, ctx, &events, viewer).await?;
    if with_encounters {
        add_encounter_info(state, ctx, &mut content).await?;
    }
    Ok((content, total))
}
