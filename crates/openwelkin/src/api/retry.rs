//! Requests whose database connection broke before anything was committed are run again.
//!
//! During a PostgreSQL failover the pool's connections to the old primary break, or find
//! it read-only. A statement that fails that way fails before its transaction's `COMMIT`
//! was sent, so nothing of the request was written: running the whole request again, on a
//! fresh connection that the multi-host URL leads to the new primary, is safe. The handler
//! marks such a failure (`RetryableFailure`, set by `ApiError` from the store's error);
//! a failed `COMMIT` is never marked, as its outcome is unknown. A write that violates a
//! foreign key is marked too: a record it refers to was removed meanwhile (an instance
//! reset elsewhere while this node still used its cached copy), and the run again, after
//! the first pause, finds the new one. Bodies are buffered for this only when small; a
//! large upload is run once.

use crate::store::errors::RETRY_PAUSES;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::middleware::Next;
use axum::response::Response;

/// Set on a response whose failure happened before any commit was attempted.
#[derive(Clone, Copy, Debug)]
pub struct RetryableFailure;

/// Largest body kept for a second run.
const REPLAYABLE_BODY: u64 = 1024 * 1024;

pub async fn retry_broken_transactions(request: Request, next: Next) -> Response {
    let length = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let chunked = request.headers().contains_key(TRANSFER_ENCODING);
    let replayable = !chunked && length.unwrap_or(0) <= REPLAYABLE_BODY;
    if !replayable {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, REPLAYABLE_BODY as usize).await {
        Ok(bytes) => bytes,
        // The client went away or sent more than it announced; the handler's own body
        // reading reports it as it would have.
        Err(_) => return next.run(Request::from_parts(parts, Body::empty())).await,
    };
    let mut attempt = 0;
    loop {
        let response = next.clone().run(Request::from_parts(parts.clone(), Body::from(body.clone()))).await;
        if response.extensions().get::<RetryableFailure>().is_none() || attempt == RETRY_PAUSES.len() {
            return response;
        }
        tracing::info!(attempt = attempt + 1, path = %parts.uri.path(), "database connection broke before commit; running the request again");
        tokio::time::sleep(RETRY_PAUSES[attempt]).await;
        attempt += 1;
    }
}
