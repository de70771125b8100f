//! The controllable clock: token expiry, record timestamps, calendar and export follow it.

use super::{authorize, body};
use crate::api::error::ApiError;
use crate::app::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

fn clock_view(state: &AppState) -> Json<Value> {
    let now = state.clock.now();
    Json(json!({
        "now": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "frozen": state.clock.is_frozen(),
    }))
}

pub async fn read(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    Ok(clock_view(&state))
}

pub async fn freeze(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    state.clock.freeze();
    Ok(clock_view(&state))
}

pub async fn unfreeze(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    state.clock.unfreeze();
    Ok(clock_view(&state))
}

pub async fn reset(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    state.clock.reset();
    Ok(clock_view(&state))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetBody {
    time: String,
}

pub async fn set(
    State(state): State<AppState>,
    headers: HeaderMap,
    b: Result<Json<SetBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let body = body(b)?;
    let to = chrono::DateTime::parse_from_rfc3339(&body.time)
        .map_err(|_| ApiError::bad_request("EMULATOR", "time must be an RFC 3339 date-time"))?;
    state.clock.set(to.with_timezone(&chrono::Utc));
    Ok(clock_view(&state))
}

/// How far to move the clock; the parts are added together and may be negative.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AdvanceBody {
    #[serde(default)]
    seconds: i64,
    #[serde(default)]
    minutes: i64,
    #[serde(default)]
    hours: i64,
    #[serde(default)]
    days: i64,
}

pub async fn advance(
    State(state): State<AppState>,
    headers: HeaderMap,
    b: Result<Json<AdvanceBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let b = body(b)?;
    // Ten years either way is far beyond any test; checked arithmetic keeps huge inputs
    // from overflowing on their way to that one limit.
    const LIMIT: i64 = 10 * 366 * 86_400;
    let total = [(b.seconds, 1), (b.minutes, 60), (b.hours, 3600), (b.days, 86_400)]
        .into_iter()
        .try_fold(0i64, |sum, (value, unit)| value.checked_mul(unit).and_then(|s| sum.checked_add(s)))
        .filter(|t| (-LIMIT..=LIMIT).contains(t))
        .ok_or_else(|| ApiError::bad_request("EMULATOR", "the clock moves at most ten years at a time"))?;
    state.clock.advance(chrono::Duration::seconds(total));
    Ok(clock_view(&state))
}
