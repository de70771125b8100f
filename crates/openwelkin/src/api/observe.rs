//! The middleware that watches every request: the HTTP metrics, the request's log span
//! and its access-log line.
//!
//! Requests are labelled by their route *template* (`/{tenant}/{instance}/patients/{id}`,
//! axum's `MatchedPath`), never the path, so that ids and names do not multiply the
//! series; a path no route matches is `unmatched`. The access line (target
//! `openwelkin::access`, level INFO) carries the request id, method, route, path (without
//! its query string, which may carry search terms), status and latency; never a header or a
//! body.

use crate::telemetry::names::{HTTP_DURATION, HTTP_IN_FLIGHT, HTTP_REQUESTS};
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram, Label};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;
use tracing::Instrument;

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The middleware every route has, outside the panic catcher, as one layer: this, then
/// the recorded headers (`headers.rs`), then the request head's checks (`guard.rs`). Each
/// `from_fn` layer boxes the rest of the stack and its own future for every request;
/// composed here they are plain calls in one future.
pub async fn edge(req: Request, next: Next) -> Response {
    observe(req, |req| super::headers::welkin_headers(req, |req| super::guard::request_guard(req, next))).await
}

/// Metrics, the request's span and its access line around `inner`.
async fn observe<F: std::future::Future<Output = Response>>(
    req: Request,
    inner: impl FnOnce(Request) -> F,
) -> Response {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().map_or(UNMATCHED, MatchedPath::as_str).to_string();
    let method = method_label(req.method());
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
    let path = req.uri().path().to_string();
    let _in_flight = InFlight::enter();
    let span = tracing::info_span!("request", method = %method, route = %route, request_id = %request_id);
    let response = inner(req).instrument(span).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    tracing::info!(
        target: "openwelkin::access",
        request_id = %request_id,
        method = %method,
        route = %route,
        path = %path,
        status,
        latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
        "request"
    );
    let (requests, duration) = series(route, method, status);
    requests.increment(1);
    duration.record(elapsed);
    response
}

/// One (route, method, status) series of the request counter and histogram.
struct Series {
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

thread_local! {
    /// The handles of the series this thread has recorded, by route template: looking a
    /// series up in the registry hashes its labels on every request (a percent of a read by
    /// id's CPU). Bounded by the routes, methods and statuses; per thread, so no lock.
    static SERIES: RefCell<HashMap<String, Vec<Series>>> = RefCell::new(HashMap::new());
}

fn series(route: String, method: &'static str, status: u16) -> (Counter, Histogram) {
    SERIES.with(|cell| {
        let mut map = cell.borrow_mut();
        let known = map.get(&route).and_then(|v| v.iter().find(|s| s.method == method && s.status == status));
        if let Some(s) = known {
            return (s.requests.clone(), s.duration.clone());
        }
        let labels =
            vec![Label::new("route", route.clone()), Label::from_static_parts("method", method), status_label(status)];
        let made = Series {
            method,
            status,
            requests: metrics::counter!(HTTP_REQUESTS, labels.clone()),
            duration: metrics::histogram!(HTTP_DURATION, labels),
        };
        let handles = (made.requests.clone(), made.duration.clone());
        map.entry(route).or_default().push(made);
        handles
    })
}

/// The method as a label: the standard ones by name, anything else `OTHER` (a client can
/// send any token as a method).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn status_label(status: u16) -> Label {
    Label::new("status", status.to_string())
}

/// Counts a request in flight until it is answered or dropped (a client that hangs up
/// cancels its request).
struct InFlight;

impl InFlight {
    fn enter() -> InFlight {
        metrics::gauge!(HTTP_IN_FLIGHT).increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!(HTTP_IN_FLIGHT).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::method_label;
    use axum::http::Method;

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
    }
}
