//! The request head, checked before any handler runs: limits on the URI and the header
//! section, and the path itself (percent-decoded segments must be UTF-8 without NUL). And
//! the last resort of the error format: a plain-text 4xx made by an axum extractor's
//! rejection is answered as the Welkin error array instead.
//!
//! hyper refuses heads it cannot parse itself, with an empty 414 or 431. `serve` raises
//! hyper's limits well above the ones here ([`HYPER_MAX_HEADERS`], [`HYPER_MAX_BUF_SIZE`]),
//! so that an over-long URI or header section is parsed and answered here, in the error
//! format. Only heads beyond hyper's limits (more than 200 headers, more than 256 KiB, or a
//! URI longer than the 64 KiB the `http` crate accepts) still get hyper's empty answer.

use super::body::nul_field;
use super::error::ApiError;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Longest accepted URI (path and query), in bytes: longer is `414 URI_TOO_LONG`.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header fields accepted: more is `431 REQUEST_HEADER_FIELDS_TOO_LARGE`.
pub const MAX_HEADERS: usize = 100;
/// Largest accepted header section (names, values, `": "` and CRLF), in bytes: larger is
/// `431 REQUEST_HEADER_FIELDS_TOO_LARGE`.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Set by the server when the client sent none, so one is not counted.
const REQUEST_ID: &str = "x-request-id";
/// hyper's own header count limit (its default is 100, which would answer first). hyper
/// allocates and fills two arrays of this many entries for every request head it parses
/// (at 400, 2.6 % of a read by id's CPU), so it is not raised further than the check here
/// needs.
pub const HYPER_MAX_HEADERS: usize = 2 * MAX_HEADERS;
/// hyper's own read buffer limit, which bounds the request head it parses.
pub const HYPER_MAX_BUF_SIZE: usize = 256 * 1024;

/// The middleware (inside `observe::edge`): refuses a head over the limits or a path that
/// does not decode, and puts plain-text client errors into the error format.
pub async fn request_guard(req: Request, next: Next) -> Response {
    if let Err(e) = check_head(&req) {
        return e.into_response();
    }
    in_error_format(next.run(req).await).await
}

fn check_head(req: &Request) -> Result<(), ApiError> {
    let uri_bytes = uri_len(req.uri());
    if uri_bytes > MAX_URI_BYTES {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            "REQUEST",
            format!("The request URI is longer than {MAX_URI_BYTES} bytes"),
            json!({"limit": MAX_URI_BYTES, "length": uri_bytes}),
        ));
    }
    let headers = req.headers();
    let count = headers.len();
    // One `x-request-id` is not counted: it may be the one `SetRequestIdLayer` added.
    if count > MAX_HEADERS + usize::from(headers.contains_key(REQUEST_ID)) {
        return Err(headers_too_large(
            format!("The request has more than {MAX_HEADERS} header fields"),
            json!({"limit": MAX_HEADERS, "count": count}),
        ));
    }
    let header_bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(headers_too_large(
            format!("The request header section is larger than {MAX_HEADER_BYTES} bytes"),
            json!({"limit": MAX_HEADER_BYTES, "bytes": header_bytes}),
        ));
    }
    check_path(req.uri().path(), req.extensions().get::<MatchedPath>().map(MatchedPath::as_str))
}

/// The URI as the client sent it: path and query, plus scheme and authority in absolute form.
fn uri_len(uri: &Uri) -> usize {
    let scheme = uri.scheme_str().map_or(0, |s| s.len() + 3);
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    scheme + authority + uri.path_and_query().map_or(uri.path().len(), |p| p.as_str().len())
}

fn headers_too_large(message: String, details: serde_json::Value) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
        "REQUEST",
        message,
        details,
    )
}

/// Every path segment must percent-decode to UTF-8 (else `400 BAD_REQUEST`) without a NUL
/// (else `400 VALIDATION_ERROR` naming the route's parameter, from `template`, the matched
/// route, when there is one; `path` otherwise).
fn check_path(path: &str, template: Option<&str>) -> Result<(), ApiError> {
    for (i, segment) in path.split('/').enumerate() {
        if !segment.contains('%') {
            continue;
        }
        let decoded: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
        if std::str::from_utf8(&decoded).is_err() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "REQUEST",
                format!("Path segment {segment:?} is not valid UTF-8 once percent-decoded"),
                json!({"segment": segment}),
            ));
        }
        if decoded.contains(&0) {
            return Err(nul_field(template.and_then(|t| parameter_at(t, i)).unwrap_or("path")));
        }
    }
    Ok(())
}

/// The name of the route parameter at segment `i` of a route template such as
/// `/{tenant}/{instance}/patients/{patientId}` (a trailing `{*rest}` takes every segment
/// from its own on).
fn parameter_at(template: &str, i: usize) -> Option<&str> {
    let segments: Vec<&str> = template.split('/').collect();
    let at = match segments.get(i) {
        Some(s) => *s,
        None => segments.last().filter(|s| s.starts_with("{*"))?,
    };
    let name = at.strip_prefix('{')?.strip_suffix('}')?;
    Some(name.trim_start_matches('*'))
}

/// Largest plain-text rejection body carried over into the error message.
const REJECTION_TEXT_LIMIT: usize = 16 * 1024;

/// A client error with a plain-text body (an axum extractor's rejection: a path that does
/// not deserialize, a body axum could not read) becomes the error array with the same
/// status and the text as its message. Anything else passes untouched.
async fn in_error_format(response: Response) -> Response {
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/plain"));
    if !response.status().is_client_error() || !plain {
        return response;
    }
    let status = response.status();
    let reason = status.canonical_reason().unwrap_or("Bad Request");
    let text = match axum::body::to_bytes(response.into_body(), REJECTION_TEXT_LIMIT).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).into_owned(),
        _ => reason.to_string(),
    };
    let code = reason.to_ascii_uppercase().replace([' ', '-'], "_");
    ApiError::new(status, &code, "REQUEST", text, json!({})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn empty(status: StatusCode, content_type: &str) -> Response {
        Response::builder().status(status).header(header::CONTENT_TYPE, content_type).body(Body::empty()).unwrap()
    }

    #[test]
    fn names_the_route_parameter_of_a_segment() {
        let t = "/{tenant}/{instance}/patients/{patientId}";
        assert_eq!(parameter_at(t, 1), Some("tenant"));
        assert_eq!(parameter_at(t, 4), Some("patientId"));
        assert_eq!(parameter_at(t, 3), None);
        assert_eq!(parameter_at(t, 5), None);
        assert_eq!(parameter_at("/docs/{*rest}", 4), Some("rest"));
    }

    #[test]
    fn path_segments_must_decode_to_utf8_without_nul() {
        let t = Some("/{tenant}/{instance}/patients/{patientId}");
        assert!(check_path("/t/i/patients/%C3%A9t%C3%A9", t).is_ok());
        assert!(check_path("/t/i/patients/100%25", t).is_ok());
        let e = check_path("/t/%FF/patients", None).unwrap_err();
        assert_eq!((e.status, e.item.error_code.as_str()), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
        let e = check_path("/t/i/patients/a%00", t).unwrap_err();
        assert_eq!(
            (e.item.error_code.as_str(), e.item.details["field"].as_str()),
            ("VALIDATION_ERROR", Some("patientId"))
        );
        let e = check_path("/t/i/x%00", None).unwrap_err();
        assert_eq!(e.item.details["field"], "path");
    }

    #[tokio::test]
    async fn plain_text_client_errors_become_the_error_array() {
        let r = Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Body::from("Invalid URL: Invalid UTF-8 in `patientId`"))
            .unwrap();
        let r = in_error_format(r).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value =
            serde_json::from_slice(&axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap()).unwrap();
        assert_eq!(body[0]["errorCode"], "BAD_REQUEST");
        assert_eq!(body[0]["message"], "Invalid URL: Invalid UTF-8 in `patientId`");
        let r = in_error_format(empty(StatusCode::UNSUPPORTED_MEDIA_TYPE, "text/plain")).await;
        let body: serde_json::Value =
            serde_json::from_slice(&axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap()).unwrap();
        assert_eq!(body[0]["errorCode"], "UNSUPPORTED_MEDIA_TYPE");
        // Anything else is left alone.
        let r = in_error_format(empty(StatusCode::OK, "text/plain")).await;
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/plain");
        let r = in_error_format(empty(StatusCode::NOT_FOUND, "text/html")).await;
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/html");
    }
}
