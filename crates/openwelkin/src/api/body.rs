//! JSON request bodies. Bodies are read as a JSON object and checked field by field by the
//! domain, so that malformed JSON and bad fields both get the Welkin error format.
//!
//! Also the one rule every text a client sends must pass before it reaches the store: no
//! NUL character (U+0000). PostgreSQL cannot hold one in `TEXT` (a 500) and SQLite stores
//! it (where it then matches every `LIKE` pattern); so it is a `400 VALIDATION_ERROR`
//! naming the field, for JSON bodies here, for query parameters in `params.rs`, for path
//! segments in `guard.rs` and for form and multipart fields where they are read.

use super::error::ApiError;
use crate::domain::FieldError;
use crate::services::error::ServiceError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::{json, Map, Value};

/// `413 PAYLOAD_TOO_LARGE`: a body over `api::BODY_LIMIT`.
pub fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "REQUEST", "request body is too large", json!({}))
}

/// A body that could not be read: over the limit (413), or cut short (400).
pub fn unreadable(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::bad_request("REQUEST", format!("could not read the request body: {e}"))
    }
}

/// A JSON object body.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // A body declared as something else is refused unread, as Spring does.
        let declared = json_content_type(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(unreadable)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED_JSON",
                "REQUEST",
                "request body is missing",
                json!({}),
            ));
        }
        if !declared {
            // A body without a Content-Type: Spring reads it as application/octet-stream.
            return Err(unsupported_media_type(None));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => {
                if let Some(field) = nul_in_object(&map, "") {
                    return Err(nul_field(field));
                }
                Ok(JsonObject(map))
            }
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

/// Whether the request declares a JSON body: `Ok(true)` for `application/json` or
/// `application/*+json` (any parameters, e.g. a charset), `Ok(false)` when there is no
/// Content-Type, `415 UNSUPPORTED_MEDIA_TYPE` for anything else.
pub fn json_content_type(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(false);
    };
    let text = value.to_str().map_err(|_| unsupported_media_type(None))?;
    let essence = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let is_json = essence == "application/json"
        || essence.strip_prefix("application/").is_some_and(|sub| sub.len() > "+json".len() && sub.ends_with("+json"));
    if is_json {
        Ok(true)
    } else {
        Err(unsupported_media_type(Some(text)))
    }
}

/// `415 UNSUPPORTED_MEDIA_TYPE` for a body that is not JSON where JSON is expected.
pub fn unsupported_media_type(given: Option<&str>) -> ApiError {
    let message = match given {
        Some(t) => format!("Content type '{t}' not supported; send application/json"),
        None => "A request body needs the Content-Type application/json".to_string(),
    };
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        "REQUEST",
        message,
        json!({"contentType": given, "supported": ["application/json"]}),
    )
}

/// The reason given for a NUL character.
pub const NUL_REASON: &str = "must not contain the NUL character (U+0000)";

/// `400 VALIDATION_ERROR` naming `field` (a body field, a form field, a query parameter or
/// a path parameter) as holding a NUL character.
pub fn nul_field(field: impl Into<String>) -> ApiError {
    nul_error(field).into()
}

/// `nul_field` as a use-case error, for the readers that feed a use case its input.
pub fn nul_error(field: impl Into<String>) -> ServiceError {
    ServiceError::invalid_field("REQUEST", FieldError::new(field, NUL_REASON))
}

/// Refuses a client text holding a NUL character, naming `field`.
pub fn no_nul(field: &str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        Err(nul_field(field))
    } else {
        Ok(())
    }
}

/// The path of the first key or string holding a NUL character in `map`, if any:
/// `firstName`, `address.city`, `addresses[0].city` (a key holding one is named itself).
pub fn nul_in_object(map: &Map<String, Value>, prefix: &str) -> Option<String> {
    map.iter().find_map(|(key, value)| {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        if key.contains('\0') {
            Some(path)
        } else {
            nul_in_value(value, path)
        }
    })
}

fn nul_in_value(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(path),
        Value::Object(map) => nul_in_object(map, &path),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_in_value(v, format!("{path}[{i}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn path_of(v: Value) -> Option<String> {
        nul_in_object(v.as_object().unwrap(), "")
    }

    #[test]
    fn finds_nul_in_values_and_keys_with_their_path() {
        assert_eq!(path_of(json!({"a": "x", "b": [1, {"c": "ok"}]})), None);
        assert_eq!(path_of(json!({"firstName": "a\u{0}"})).as_deref(), Some("firstName"));
        assert_eq!(path_of(json!({"a": [{"city": "x"}, {"city": "\u{0}"}]})).as_deref(), Some("a[1].city"));
        assert_eq!(path_of(json!({"a": {"b": [["x", "\u{0}"]]}})).as_deref(), Some("a.b[0][1]"));
        assert_eq!(path_of(json!({"a": {"k\u{0}": 1}})).as_deref(), Some("a.k\u{0}"));
    }

    #[test]
    fn json_media_types() {
        let check = |t: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(t).unwrap());
            json_content_type(&h).map_err(|e| e.status)
        };
        assert_eq!(check("application/json"), Ok(true));
        assert_eq!(check("Application/JSON; charset=UTF-8"), Ok(true));
        assert_eq!(check("application/merge-patch+json"), Ok(true));
        assert_eq!(check("application/vnd.api+json;v=1"), Ok(true));
        for bad in
            ["text/plain", "application/x-www-form-urlencoded", "application/xml", "text/json", "application/+json"]
        {
            assert_eq!(check(bad), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE), "{bad}");
        }
        assert_eq!(json_content_type(&HeaderMap::new()).map_err(|e| e.status), Ok(false));
    }
}
