//! The fault-injection middleware, layered on the whole router when the emulator is on:
//! each request outside `/_emulator/` is matched against the fault rules
//! (`crate::emulator::faults`) and, by the first rule that matches, delayed, answered
//! with an injected error, or left without an answer (its connection dropped).

use crate::api::error::ApiError;
use crate::emulator::faults::Faults;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A response body that fails at once: the server closes the connection without
/// answering, as a crashed or overloaded upstream would.
struct Dropped;

impl http_body::Body for Dropped {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "injected fault"))))
    }
}

/// The middleware: applies the first matching rule to every request outside `/_emulator/`.
pub async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if path.starts_with("/_emulator") {
        return next.run(request).await;
    }
    let Some(d) = faults.decide(request.method().as_str(), &path) else { return next.run(request).await };
    if d.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(d.latency_ms)).await;
    }
    if d.drop {
        tracing::info!(path, "emulator fault: dropping the connection");
        return Response::new(Body::new(Dropped));
    }
    match d.status {
        Some(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let name = status.canonical_reason().unwrap_or("Error").to_ascii_uppercase().replace(' ', "_");
            tracing::info!(path, code, "emulator fault: answering an error");
            ApiError::new(status, &name, "EMULATOR", "Injected fault", serde_json::json!({})).into_response()
        }
        None => next.run(request).await,
    }
}
