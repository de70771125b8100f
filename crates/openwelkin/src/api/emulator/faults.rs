//! Fault rules: list, add, remove one, clear all.

use super::{authorize, body};
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::emulator::faults::FaultSpec;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let emulator = authorize(&state, &headers)?;
    Ok(Json(json!({"faults": emulator.faults.list()})))
}

pub async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    b: Result<Json<FaultSpec>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let emulator = authorize(&state, &headers)?;
    let fault = emulator.faults.add(body(b)?)?;
    Ok((StatusCode::CREATED, Json(json!(fault))))
}

pub async fn clear(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let emulator = authorize(&state, &headers)?;
    Ok(Json(json!({"cleared": emulator.faults.clear()})))
}

pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let emulator = authorize(&state, &headers)?;
    if emulator.faults.remove(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("NOT_FOUND", "EMULATOR", "No such fault", json!({"id": id})))
    }
}
