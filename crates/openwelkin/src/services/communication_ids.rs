//! Communication IDs (an openwelkin extension): an instance's sending identities per
//! channel. Outbound SMS go out from the SMS channel's default (the one marked
//! `default`, else the oldest); the first of a channel becomes its default, and making
//! one the default unmarks the others. `default` in answers shows the effective default.
//! Writes are audited as `COMMUNICATION_ID`.

use super::error::{ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::domain::communication_id::{self, CHANNELS};
use crate::events::audit::Operation;
use crate::store::{communication_ids as store, is_unique_violation, Tx};
use serde_json::{json, Map, Value};

const COMPONENT: &str = "COMMUNICATION_ID";
const ENTITY: &str = "COMMUNICATION_ID";

fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("COMMUNICATION_ID_NOT_FOUND", COMPONENT, "Communication ID not found", json!({"id": id}))
}

fn taken(c: &Value) -> ServiceError {
    ServiceError::conflict(
        "COMMUNICATION_ID_ALREADY_EXISTS",
        COMPONENT,
        "the instance already has this communication ID",
        json!({"channel": c["channel"], "value": c["value"]}),
    )
}

/// Marks each communication ID with whether it is its channel's effective default.
async fn render(state: &AppState, instance_id: &str, items: &mut [Value]) -> ServiceResult<()> {
    for channel in CHANNELS {
        if !items.iter().any(|c| c["channel"] == *channel) {
            continue;
        }
        let default = state.db.default_communication_id(instance_id, channel).await?;
        let default_id = default.as_ref().and_then(|d| d["id"].as_str());
        for c in items.iter_mut().filter(|c| c["channel"] == *channel) {
            c["default"] = json!(c["id"].as_str() == default_id);
        }
    }
    Ok(())
}

async fn rendered(state: &AppState, instance_id: &str, c: Value) -> ServiceResult<Value> {
    let mut items = [c];
    render(state, instance_id, &mut items).await?;
    let [c] = items;
    Ok(c)
}

/// When `c` becomes its channel's default, the others stop being marked so (audited).
async fn unmark_others(tx: &mut Tx, ctx: &InstanceScope, c: &Value, now_ms: i64) -> ServiceResult<()> {
    if c["default"] != json!(true) {
        return Ok(());
    }
    let (channel, id) = (c["channel"].as_str().unwrap_or_default(), c["id"].as_str().unwrap_or_default());
    let actor = ctx.actor();
    for mut other in store::other_defaults(tx, &ctx.instance.id, channel, id).await? {
        other["default"] = json!(false);
        other["updatedAt"] = json!(crate::time::format_ms(now_ms));
        other["updatedBy"] = json!(actor.id);
        other["updatedByName"] = json!(actor.full_name());
        store::update(tx, &ctx.instance.id, &other, now_ms).await?;
        let other_id = other["id"].as_str().unwrap_or_default().to_string();
        ctx.record(tx, Write::new(ENTITY, Operation::Update, &other_id, &other), now_ms).await?;
    }
    Ok(())
}

/// Adds a communication ID from a create body. The first of a channel becomes its default.
pub async fn create(state: &AppState, ctx: &InstanceScope, body: &Map<String, Value>) -> ServiceResult<Value> {
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut c = communication_id::blank(
        &crate::ids::record_id(),
        &crate::time::format_ms(now_ms),
        &actor.id,
        &actor.full_name(),
    );
    communication_id::apply(&mut c, body, true).map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    let mut tx = state.db.begin().await?;
    store::lock(&mut tx, &ctx.instance.id).await?;
    // The first of a channel becomes its default: checked under the lock.
    if !store::channel_in_use(&mut tx, &ctx.instance.id, c["channel"].as_str().unwrap_or_default()).await? {
        c["default"] = json!(true);
    }
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &c, now_ms).await.map_err(|e| {
        if is_unique_violation(&e) {
            taken(&c)
        } else {
            e.into()
        }
    })?;
    unmark_others(&mut tx, ctx, &c, now_ms).await?;
    let id = c["id"].as_str().unwrap_or_default().to_string();
    ctx.record(&mut tx, Write::new(ENTITY, Operation::Create, &id, &c), now_ms).await?;
    tx.commit().await?;
    rendered(state, &ctx.instance.id, c).await
}

/// One page of the instance's communication IDs (of one `channel`, if given), and the
/// total.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    channel: Option<&str>,
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    let (mut items, total) = state.db.communication_ids(&ctx.instance.id, channel, offset, size).await?;
    render(state, &ctx.instance.id, &mut items).await?;
    Ok((items, total))
}

/// The communication ID `id`.
pub async fn read(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<Value> {
    let c = state.db.communication_id(&ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    rendered(state, &ctx.instance.id, c).await
}

/// Changes a communication ID's `label`, or makes it the `default` of its channel.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // The instance's lock before the row's, in the order creates take them.
    store::lock(&mut tx, &ctx.instance.id).await?;
    let mut c = store::get_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    communication_id::apply(&mut c, body, false).map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    c["updatedAt"] = json!(crate::time::format_ms(now_ms));
    c["updatedBy"] = json!(actor.id);
    c["updatedByName"] = json!(actor.full_name());
    store::update(&mut tx, &ctx.instance.id, &c, now_ms).await?;
    unmark_others(&mut tx, ctx, &c, now_ms).await?;
    ctx.record(&mut tx, Write::new(ENTITY, Operation::Update, id, &c), now_ms).await?;
    tx.commit().await?;
    rendered(state, &ctx.instance.id, c).await
}

/// Removes a communication ID. Messages already sent or scheduled keep their `from`.
pub async fn delete(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<()> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let c = store::get_for_update(&mut tx, &ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    store::delete(&mut tx, &ctx.instance.id, id).await?;
    ctx.record(&mut tx, Write::new(ENTITY, Operation::Delete, id, &c), now_ms).await?;
    tx.commit().await?;
    Ok(())
}
