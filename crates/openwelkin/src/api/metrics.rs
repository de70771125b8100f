//! `GET /metrics`: the Prometheus text format, without authentication (like the health
//! probes; it carries counts and latencies, no tenant data). Served on the main listener,
//! or with `serve --metrics-listen ADDR` on that address alone. Not part of the Welkin API,
//! so not in the OpenAPI document. The metrics are listed in docs/METRICS.md.

use crate::telemetry::exporter::Exporter;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

pub const PATH: &str = "/metrics";

/// The exposition format's media type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn scrape(State(exporter): State<Exporter>) -> impl IntoResponse {
    ([(CONTENT_TYPE, TEXT_FORMAT)], exporter.render().await)
}

/// The route, for a router of any state.
pub fn route<S: Clone + Send + Sync + 'static>(exporter: Exporter) -> Router<S> {
    Router::new().route(PATH, get(scrape)).with_state(exporter)
}

/// The whole service of `--metrics-listen`: `/metrics` and, for anything else, the API's
/// 404 in the Welkin error format.
pub fn router(exporter: Exporter) -> Router {
    route(exporter).fallback(|| async { super::not_found() })
}
