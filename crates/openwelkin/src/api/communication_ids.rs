//! Communication IDs, an openwelkin extension (Welkin documents no such resource):
//! `/{tenant}/{instance}/communication-ids[/{communicationId}]`. An instance's sending
//! identities per channel; outbound SMS go out from the SMS channel's default (the one
//! marked `default`, else the oldest). `default` in answers shows the effective default.
//! Writes are audited as `COMMUNICATION_ID`.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::communication_id::{self, CHANNELS};
use crate::events::audit::Operation;
use crate::store::{communication_ids as store, is_unique_violation, Tx};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

const COMPONENT: &str = "COMMUNICATION_ID";
const ENTITY: &str = "COMMUNICATION_ID";

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("COMMUNICATION_ID_NOT_FOUND", COMPONENT, "Communication ID not found", json!({"id": id}))
}

fn taken(c: &Value) -> ApiError {
    ApiError::conflict(
        "COMMUNICATION_ID_ALREADY_EXISTS",
        COMPONENT,
        "the instance already has this communication ID",
        json!({"channel": c["channel"], "value": c["value"]}),
    )
}

/// Marks each communication ID with whether it is its channel's effective default.
async fn render(state: &AppState, instance_id: &str, items: &mut [Value]) -> ApiResult<()> {
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

/// When `c` becomes its channel's default, the others stop being marked so (audited).
async fn unmark_others(tx: &mut Tx, ctx: &InstanceCaller, c: &Value, now_ms: i64) -> ApiResult<()> {
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

/// Add a communication ID (an openwelkin extension). The first of a channel becomes its default.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/communication-ids", tag = "Communication IDs",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content = Object, description = "channel (SMS or EMAIL, required), value (E.164 number or e-mail address, required), label, default"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Communications, Op::Create)?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut c =
        communication_id::blank(&crate::ids::new_id(), &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    communication_id::apply(&mut c, &body, true).map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
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
    unmark_others(&mut tx, &ctx, &c, now_ms).await?;
    let id = c["id"].as_str().unwrap_or_default().to_string();
    ctx.record(&mut tx, Write::new(ENTITY, Operation::Create, &id, &c), now_ms).await?;
    tx.commit().await?;
    let mut items = [c];
    render(&state, &ctx.instance.id, &mut items).await?;
    let [c] = items;
    Ok((StatusCode::CREATED, Json(c)))
}

/// The instance's communication IDs, optionally of one `channel`, as a Spring page.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/communication-ids", tag = "Communication IDs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("channel" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Communications, Op::Read)?;
    let page = PageRequest::parse(&params, |_| None)?;
    let channel = params.text("channel").map(|c| c.to_uppercase());
    if let Some(c) = &channel {
        if !CHANNELS.contains(&c.as_str()) {
            return Err(ApiError::invalid_param("channel", format!("must be one of {}", CHANNELS.join(", "))));
        }
    }
    let (mut items, total) =
        state.db.communication_ids(&ctx.instance.id, channel.as_deref(), page.offset(), page.size).await?;
    render(&state, &ctx.instance.id, &mut items).await?;
    Ok(Json(SpringPage::new(items, &page, total)))
}

/// Read a communication ID.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/communication-ids/{communicationId}", tag = "Communication IDs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("communicationId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Communications, Op::Read)?;
    let c = state.db.communication_id(&ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    let mut items = [c];
    render(&state, &ctx.instance.id, &mut items).await?;
    let [c] = items;
    Ok(Json(c))
}

/// Change a communication ID's `label` or make it the `default` of its channel.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/communication-ids/{communicationId}", tag = "Communication IDs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("communicationId" = String, Path)),
    request_body(content = Object, description = "label, default"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Communications, Op::Update)?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // The instance's lock before the row's, in the order creates take them.
    store::lock(&mut tx, &ctx.instance.id).await?;
    let mut c = store::get_for_update(&mut tx, &ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    communication_id::apply(&mut c, &body, false).map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    c["updatedAt"] = json!(crate::time::format_ms(now_ms));
    c["updatedBy"] = json!(actor.id);
    c["updatedByName"] = json!(actor.full_name());
    store::update(&mut tx, &ctx.instance.id, &c, now_ms).await?;
    unmark_others(&mut tx, &ctx, &c, now_ms).await?;
    ctx.record(&mut tx, Write::new(ENTITY, Operation::Update, &path.2, &c), now_ms).await?;
    tx.commit().await?;
    let mut items = [c];
    render(&state, &ctx.instance.id, &mut items).await?;
    let [c] = items;
    Ok(Json(c))
}

/// Remove a communication ID (200, empty). Messages already sent or scheduled keep their
/// `from` number.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/communication-ids/{communicationId}", tag = "Communication IDs",
    params(("tenant" = String, Path), ("instance" = String, Path), ("communicationId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
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
    let c = store::get_for_update(&mut tx, &ctx.instance.id, &path.2).await?.ok_or_else(|| not_found(&path.2))?;
    store::delete(&mut tx, &ctx.instance.id, &path.2).await?;
    ctx.record(&mut tx, Write::new(ENTITY, Operation::Delete, &path.2, &c), now_ms).await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}
