//! `Json`, the JSON answer of a handler: as axum's, but serialized into a buffer sized for
//! a typical record. axum starts at 128 bytes and doubles, so a patient (about 1.5 KB) was
//! copied four times while it was written; these buffers grow once at most for a record
//! and stay a bounded waste for a small answer (freed once the answer is sent).

use super::error::ApiError;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The first size of an answer's buffer.
const INITIAL_CAPACITY: usize = 2048;

/// A JSON answer (`Content-Type: application/json`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut buf = Vec::with_capacity(INITIAL_CAPACITY);
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], buf).into_response(),
            // A map with a non-string key or a failing Serialize impl: a defect, answered
            // in the Welkin error format rather than with half a body.
            Err(e) => ApiError::internal(e).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_as_json_whatever_the_size() {
        for size in [0, 10, 5_000] {
            let response = Json(serde_json::json!({"text": "x".repeat(size)})).into_response();
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            let back: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(back["text"].as_str().map(str::len), Some(size));
        }
        let mut bad = std::collections::HashMap::new();
        bad.insert(vec![1], 2);
        let response = Json(bad).into_response();
        assert_eq!(response.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    }
}
