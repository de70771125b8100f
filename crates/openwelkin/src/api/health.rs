//! Liveness and readiness probes.

use crate::api::json::Json;
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "Operations", responses((status = 200, body = Object)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The process can reach its database.
#[utoipa::path(get, path = "/readyz", tag = "Operations", responses((status = 200, body = Object), (status = 503, body = Object)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    // Answered within a second whatever the database does, so that a load balancer's
    // probe learns of an outage at once.
    match state.db.ping(std::time::Duration::from_millis(900)).await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "database unavailable"})))
        }
    }
}
