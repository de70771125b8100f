//! Emulator controls under `/_emulator/`, served only with `serve --emulator` (or `--demo`).
//! They are test-harness tools, not part of Welkin's API, so they stay out of the OpenAPI
//! document and are guarded by their own admin token rather than an API client's. The
//! work is done in `crate::emulator`; these handlers only read requests and word answers.
//!
//! - `clock`: `GET /_emulator/clock`, `POST /_emulator/clock/{freeze,unfreeze,reset,set,advance}`
//! - `data`: `POST /_emulator/tenants/{t}/reset`, `POST /_emulator/tenants/{t}/instances/{i}/reset`,
//!   `POST …/instances/{i}/seed`, `GET …/instances/{i}/snapshots`,
//!   `PUT|DELETE …/instances/{i}/snapshots/{name}`, `POST …/snapshots/{name}/restore`
//! - `outbox`: `GET|DELETE …/instances/{i}/outbox/{sms|email|chat|webhooks}`,
//!   `POST /_emulator/webhooks/deliver`, `GET|PUT /_emulator/webhooks/mode`
//! - `faults`: `GET|POST|DELETE /_emulator/faults`, `DELETE /_emulator/faults/{id}`
//! - `inject`: the middleware that applies the fault rules to every other request

mod clock;
mod data;
mod faults;
mod inject;
mod outbox;

pub use inject::inject;

use super::error::ApiError;
use crate::app::AppState;
use crate::emulator::admin::Emulator;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    let instance = "/_emulator/tenants/{tenant}/instances/{instance}";
    Router::new()
        .route("/_emulator/clock", get(clock::read))
        .route("/_emulator/clock/freeze", post(clock::freeze))
        .route("/_emulator/clock/unfreeze", post(clock::unfreeze))
        .route("/_emulator/clock/reset", post(clock::reset))
        .route("/_emulator/clock/set", post(clock::set))
        .route("/_emulator/clock/advance", post(clock::advance))
        .route("/_emulator/tenants/{tenant}/reset", post(data::reset_tenant))
        .route(&format!("{instance}/reset"), post(data::reset_instance))
        .route(&format!("{instance}/seed"), post(data::seed))
        .route(&format!("{instance}/snapshots"), get(data::list_snapshots))
        .route(&format!("{instance}/snapshots/{{name}}"), put(data::save_snapshot).delete(data::delete_snapshot))
        .route(&format!("{instance}/snapshots/{{name}}/restore"), post(data::restore_snapshot))
        .route(&format!("{instance}/outbox/{{kind}}"), get(outbox::list).delete(outbox::clear))
        .route("/_emulator/webhooks/deliver", post(outbox::deliver))
        .route("/_emulator/webhooks/mode", get(outbox::mode).put(outbox::set_mode))
        .route("/_emulator/faults", get(faults::list).post(faults::add).delete(faults::clear))
        .route("/_emulator/faults/{id}", axum::routing::delete(faults::remove))
}

/// The emulator of a server that has one, once the caller showed its token. A missing or
/// wrong token says so in words about the emulator token: the caller is a test harness
/// that most likely sent an API client's token or none, not a malformed JWT.
fn authorize<'a>(state: &'a AppState, headers: &HeaderMap) -> Result<&'a Emulator, ApiError> {
    let Some(emulator) = &state.emulator else {
        return Err(ApiError::not_found("NOT_FOUND", "REQUEST", "No such endpoint", json!({})));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match given {
        Some(token) if emulator.auth.accepts(token) => Ok(emulator.as_ref()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "EMULATOR_TOKEN_INVALID",
            "EMULATOR",
            "The bearer token is not the emulator token (API client tokens are not accepted here); \
             use the token given to serve by --emulator-token or OPENWELKIN_EMULATOR_TOKEN",
            json!({}),
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "EMULATOR_TOKEN_MISSING",
            "EMULATOR",
            "The emulator controls need `Authorization: Bearer <emulator token>` (serve's \
             --emulator-token or OPENWELKIN_EMULATOR_TOKEN, or the token printed at start)",
            json!({}),
        )),
    }
}

/// A JSON body, or the Welkin error naming what is wrong with it.
fn body<T>(b: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, ApiError> {
    b.map(|axum::Json(t)| t).map_err(|e| ApiError::bad_request("EMULATOR", e.body_text()))
}
