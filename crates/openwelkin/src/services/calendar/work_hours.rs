//! Work hours: rules of when a user works (or is available), by weekday, over a period.
//! Answered per user (`{psmId, details: [rule]}`), the times in the viewer's time zone or
//! else the user's. Audited as `CALENDAR` (`WORK_HOURS_CREATED`, `WORK_HOURS_UPDATED`).

use super::{hours_not_found, invalid, user_zones};
use crate::app::AppState;
use crate::domain::calendar as cal;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::error::ServiceResult;
use crate::services::scope::{InstanceScope, Write};
use crate::store::calendar as store;
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

async fn check_psm(state: &AppState, ctx: &InstanceScope, hours: &Value) -> ServiceResult<Option<Tz>> {
    let psm = hours["psmId"].as_str().unwrap_or_default();
    match state.db.user(&ctx.tenant.id, psm, true).await? {
        Some(u) => Ok(cal::parse_tz(u.timezone.as_deref())),
        None => Err(invalid(FieldError::new("psmId", format!("no user {psm} in this tenant")))),
    }
}

fn hours_answer(hours: &Value, tz: Option<Tz>) -> Value {
    json!({"psmId": hours["psmId"], "details": [cal::render_hours(hours, tz)]})
}

/// Creates a work-hours rule for a user; answers it per user.
pub async fn create(
    state: &AppState,
    ctx: &InstanceScope,
    body: &Map<String, Value>,
    viewer: Option<Tz>,
) -> ServiceResult<Value> {
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let mut hours = cal::blank_hours(&crate::ids::record_id(), &now, &actor.id);
    cal::apply_hours(&mut hours, body, true, &mut crate::ids::new_id).map_err(invalid)?;
    let tz = viewer.or(check_psm(state, ctx, &hours).await?);
    let mut tx = state.db.begin().await?;
    store::insert_hours(&mut tx, &ctx.tenant.id, &ctx.instance.id, &hours, now_ms).await?;
    let id = hours["workHoursId"].as_str().unwrap_or_default().to_string();
    ctx.record(
        &mut tx,
        Write { subtype: Some("WORK_HOURS_CREATED"), ..Write::new("CALENDAR", Operation::Create, &id, &hours) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(hours_answer(&hours, tz))
}

/// Work hours overlapping `from`–`to` (of the users asked for), grouped by user.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    from: Option<i64>,
    to: Option<i64>,
    psm_ids: Option<&[String]>,
    viewer: Option<Tz>,
) -> ServiceResult<Vec<Value>> {
    let rules = state.db.work_hours_in_range(&ctx.instance.id, psm_ids, from, to).await?;
    let mut psms: Vec<String> = Vec::new();
    for r in &rules {
        let psm = r["psmId"].as_str().unwrap_or_default().to_string();
        if !psms.contains(&psm) {
            psms.push(psm);
        }
    }
    let zones = user_zones(state, ctx, &psms).await?;
    let out = psms
        .iter()
        .map(|psm| {
            let tz = viewer.or(zones.get(psm).copied().flatten());
            let details: Vec<Value> =
                rules.iter().filter(|r| r["psmId"] == psm.as_str()).map(|r| cal::render_hours(r, tz)).collect();
            json!({"psmId": psm, "details": details})
        })
        .collect();
    Ok(out)
}

/// One work-hours rule.
pub async fn read(state: &AppState, ctx: &InstanceScope, id: &str, viewer: Option<Tz>) -> ServiceResult<Value> {
    let hours = state.db.work_hours(&ctx.instance.id, id).await?.ok_or_else(|| hours_not_found(id))?;
    let psm = hours["psmId"].as_str().unwrap_or_default().to_string();
    let tz = viewer.or(user_zones(state, ctx, std::slice::from_ref(&psm)).await?.get(&psm).copied().flatten());
    Ok(hours_answer(&hours, tz))
}

/// Updates a work-hours rule: the fields given replace the stored ones.
pub async fn replace(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
    viewer: Option<Tz>,
) -> ServiceResult<Value> {
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut hours = store::hours_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| hours_not_found(id))?;
    cal::apply_hours(&mut hours, body, false, &mut crate::ids::new_id).map_err(invalid)?;
    let tz = viewer.or(check_psm(state, ctx, &hours).await?);
    hours["updatedAt"] = json!(crate::time::format_ms(now_ms));
    hours["updatedBy"] = json!(actor.id);
    store::update_hours(&mut tx, &ctx.instance.id, &hours, now_ms).await?;
    ctx.record(
        &mut tx,
        Write { subtype: Some("WORK_HOURS_UPDATED"), ..Write::new("CALENDAR", Operation::Update, id, &hours) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(hours_answer(&hours, tz))
}
