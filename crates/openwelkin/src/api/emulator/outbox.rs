//! Outbox inspection and clearing, and webhooks delivered on demand.

use super::{authorize, body};
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::emulator::outbox::{self, Kind};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

async fn instance_of(
    state: &AppState,
    tenant: &str,
    instance: &str,
) -> Result<crate::store::tenants::Instance, ApiError> {
    let t = crate::emulator::data::tenant(&state.db, tenant).await?;
    Ok(crate::emulator::data::instance(&state.db, &t, instance).await?)
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, instance, kind)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let kind = Kind::parse(&kind)?;
    let instance = instance_of(&state, &tenant, &instance).await?;
    Ok(Json(json!({"items": outbox::list(&state.db, &instance, kind).await?})))
}

pub async fn clear(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, instance, kind)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let kind = Kind::parse(&kind)?;
    let instance = instance_of(&state, &tenant, &instance).await?;
    Ok(Json(
        json!({"cleared": outbox::clear(&state.db, &instance, kind, &crate::events::audit::Actor::system(), state.clock.now_ms()).await?}),
    ))
}

pub async fn deliver(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let attempted = crate::events::webhooks::deliver_now(&state.db, &state.clock, &state.webhooks)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({"attempted": attempted})))
}

fn mode_view(state: &AppState) -> Json<Value> {
    Json(json!({"onDemand": state.webhooks.on_demand.load(Ordering::Relaxed)}))
}

pub async fn mode(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    Ok(mode_view(&state))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModeBody {
    on_demand: bool,
}

pub async fn set_mode(
    State(state): State<AppState>,
    headers: HeaderMap,
    b: Result<Json<ModeBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let b = body(b)?;
    state.webhooks.on_demand.store(b.on_demand, Ordering::Relaxed);
    Ok(mode_view(&state))
}
