//! Emulator controls under `/_emulator/`, served only with `serve --emulator` (or `--demo`).
//! They are test-harness tools, not part of Welkin's API, so they stay out of the OpenAPI
//! document and are guarded by their own admin token rather than an API client's.

use super::error::ApiError;
use super::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The emulator admin token, kept only as its SHA-256 digest so the process never holds
/// or logs it in plain text after start.
#[derive(Clone)]
pub struct EmulatorAuth {
    digest: [u8; 32],
}

impl EmulatorAuth {
    pub fn new(token: &str) -> Self {
        EmulatorAuth { digest: Sha256::digest(token.as_bytes()).into() }
    }

    fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .unwrap_or_default();
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        // Comparing digests keeps the comparison time independent of the secret's content.
        if given == self.digest {
            Ok(())
        } else {
            Err(ApiError::invalid_token())
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_emulator/clock", get(read_clock))
        .route("/_emulator/clock/freeze", post(freeze))
        .route("/_emulator/clock/unfreeze", post(unfreeze))
        .route("/_emulator/clock/reset", post(reset))
        .route("/_emulator/clock/set", post(set))
        .route("/_emulator/clock/advance", post(advance))
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match &state.emulator {
        Some(auth) => auth.check(headers),
        None => Err(ApiError::not_found("NOT_FOUND", "REQUEST", "No such endpoint", json!({}))),
    }
}

fn clock_view(state: &AppState) -> Json<Value> {
    let now = state.clock.now();
    Json(json!({
        "now": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "frozen": state.clock.is_frozen(),
    }))
}

async fn read_clock(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    Ok(clock_view(&state))
}

async fn freeze(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    state.clock.freeze();
    Ok(clock_view(&state))
}

async fn unfreeze(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    state.clock.unfreeze();
    Ok(clock_view(&state))
}

async fn reset(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    state.clock.reset();
    Ok(clock_view(&state))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBody {
    time: String,
}

async fn set(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<SetBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let Json(body) = body.map_err(|e| ApiError::bad_request("EMULATOR", e.body_text()))?;
    let to = chrono::DateTime::parse_from_rfc3339(&body.time)
        .map_err(|_| ApiError::bad_request("EMULATOR", "time must be an RFC 3339 date-time"))?;
    state.clock.set(to.with_timezone(&chrono::Utc));
    Ok(clock_view(&state))
}

/// How far to move the clock; the parts are added together and may be negative.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    #[serde(default)]
    seconds: i64,
    #[serde(default)]
    minutes: i64,
    #[serde(default)]
    hours: i64,
    #[serde(default)]
    days: i64,
}

async fn advance(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<AdvanceBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let Json(b) = body.map_err(|e| ApiError::bad_request("EMULATOR", e.body_text()))?;
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
