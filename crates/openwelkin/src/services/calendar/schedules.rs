//! Users' schedules (their work hours beside the events they take part in, in three
//! forms) and the event summary (per user, the events of a period against their working
//! hours). Both are about the users asked for, else every user of the tenant.

use super::{render_events, user_zones};
use crate::app::AppState;
use crate::domain::calendar as cal;
use crate::services::error::ServiceResult;
use crate::services::scope::InstanceScope;
use crate::store::calendar::EventFilter;
use crate::store::users::UserFilter;
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    /// Events in short form.
    Plain,
    /// Events in short form with their participants.
    Available,
    /// Events in full.
    Full,
}

/// The users a schedule or summary is about: the ones asked for, else every user of the
/// tenant.
async fn schedule_users(
    state: &AppState,
    ctx: &InstanceScope,
    psm_ids: Option<Vec<String>>,
) -> ServiceResult<Vec<String>> {
    match psm_ids {
        Some(ids) => Ok(ids),
        None => {
            let (users, _) = state.db.users(&ctx.tenant.id, &UserFilter::default(), &[], 0, 1000).await?;
            Ok(users.into_iter().map(|u| u.id).collect())
        }
    }
}

/// The period and users a schedule is asked for.
pub struct ScheduleRequest {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub include_cancelled: bool,
    /// The time zone of the `local…` times; each user's own when `None`.
    pub viewer: Option<Tz>,
    pub psm_ids: Option<Vec<String>>,
}

/// For each user, their work hours and the events they take part in, in the form `kind`
/// says.
pub async fn schedules(
    state: &AppState,
    ctx: &InstanceScope,
    req: ScheduleRequest,
    kind: ScheduleKind,
) -> ServiceResult<Vec<Value>> {
    let ScheduleRequest { from, to, include_cancelled, viewer, psm_ids } = req;
    let psms = schedule_users(state, ctx, psm_ids).await?;
    let zones = user_zones(state, ctx, &psms).await?;
    let rules = state.db.work_hours_in_range(&ctx.instance.id, Some(&psms), from, to).await?;
    let mut out = Vec::with_capacity(psms.len());
    for psm in &psms {
        let tz = viewer.or(zones.get(psm).copied().flatten());
        let work_hours: Vec<Value> =
            rules.iter().filter(|r| r["psmId"] == psm.as_str()).map(|r| cal::render_hours(r, tz)).collect();
        let filter =
            EventFilter { from, to, any_participant: Some(vec![psm.clone()]), include_cancelled, ..Default::default() };
        let events = state.db.calendar_events_all(&ctx.instance.id, &filter).await?;
        let events: Vec<Value> = match kind {
            ScheduleKind::Plain => events.iter().map(|e| cal::schedule_entry(e, tz)).collect(),
            ScheduleKind::Available => render_events(state, ctx, &events, tz)
                .await?
                .into_iter()
                .map(|full| {
                    let mut entry = cal::schedule_entry(&full, tz);
                    entry["participants"] = full["participants"].clone();
                    entry
                })
                .collect(),
            ScheduleKind::Full => render_events(state, ctx, &events, tz)
                .await?
                .into_iter()
                .map(|mut full| {
                    full["eventId"] = full["id"].clone();
                    full
                })
                .collect(),
        };
        out.push(json!({"psmId": psm, "workHours": work_hours, "events": events}));
    }
    Ok(out)
}

/// Per user, the events between `from` and `to` against their working hours.
pub async fn event_summary(
    state: &AppState,
    ctx: &InstanceScope,
    from: i64,
    to: i64,
    psm_ids: Option<Vec<String>>,
) -> ServiceResult<Value> {
    let psms = schedule_users(state, ctx, psm_ids).await?;
    let zones = user_zones(state, ctx, &psms).await?;
    let rules = state.db.work_hours_in_range(&ctx.instance.id, Some(&psms), Some(from), Some(to)).await?;
    let now_ms = state.clock.now_ms();
    let mut summary = Vec::with_capacity(psms.len());
    for psm in &psms {
        let filter = EventFilter {
            from: Some(from),
            to: Some(to),
            any_participant: Some(vec![psm.clone()]),
            include_cancelled: true,
            ..Default::default()
        };
        let events = state.db.calendar_events_all(&ctx.instance.id, &filter).await?;
        let mut counts = Map::new();
        let (mut occurred, mut future, mut event_ms) = (0, 0, 0);
        for e in &events {
            if let Some(status) = e["eventStatus"].as_str() {
                let n = counts.get(status).and_then(Value::as_i64).unwrap_or(0);
                counts.insert(status.to_string(), json!(n + 1));
            }
            if e["eventStatus"] == cal::CANCELLED {
                continue;
            }
            let (start, end) = cal::event_span(e);
            if end <= now_ms {
                occurred += 1;
            } else if start > now_ms {
                future += 1;
            }
            event_ms += (end.min(to) - start.max(from)).max(0);
        }
        let mine: Vec<Value> = rules.iter().filter(|r| r["psmId"] == psm.as_str()).cloned().collect();
        let working = cal::working_ms(&mine, zones.get(psm).copied().flatten(), from, to);
        summary.push(json!({
            "psmId": psm, "totalCreatedEvents": events.len(), "totalOccurredEvents": occurred,
            "totalFutureEvents": future, "eventStatusCount": counts,
            "totalWorkingHours": cal::hours_text(working), "totalEventHours": cal::hours_text(event_ms),
            "occupancy": cal::occupancy_text(event_ms, working),
        }));
    }
    Ok(json!({
        "startDateTime": crate::time::format_ms(from), "endDateTime": crate::time::format_ms(to), "summary": summary,
    }))
}
