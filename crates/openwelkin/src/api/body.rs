//! JSON request bodies. Bodies are read as a JSON object and checked field by field by the
//! domain, so that malformed JSON and bad fields both get the Welkin error format.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::{json, Map, Value};

/// A JSON object body.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    "REQUEST",
                    "request body is too large",
                    json!({}),
                )
            } else {
                ApiError::bad_request("REQUEST", format!("could not read the request body: {e}"))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED_JSON",
                "REQUEST",
                "request body is missing",
                json!({}),
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED_JSON",
                "REQUEST",
                "request body must be a JSON object",
                json!({}),
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED_JSON",
                "REQUEST",
                format!("request body is not valid JSON: {e}"),
                json!({"line": e.line(), "column": e.column()}),
            )),
        }
    }
}
