//! Response headers as the real server sends them: permissive CORS and no caching; and
//! `X-Content-Type-Options: nosniff`, so that a browser never takes a response (an
//! uploaded document, an export) for another type than the one it is sent as. A
//! preflight `OPTIONS` is answered here for every path.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

const HEADERS: &[(&str, &str)] = &[
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", "GET, POST, PUT, DELETE, PATCH, OPTIONS"),
    ("access-control-allow-headers", "authorization, content-type, xsrf-token, security-role"),
    ("access-control-expose-headers", "xsrf-token"),
    ("access-control-max-age", "3600"),
    ("cache-control", "no-cache, no-store, max-age=0, must-revalidate"),
    ("pragma", "no-cache"),
    ("expires", "0"),
    ("x-content-type-options", "nosniff"),
];

/// Adds these headers (also to the answers `serve` makes outside the router).
pub fn apply(headers: &mut HeaderMap) {
    for (name, value) in HEADERS {
        headers.insert(*name, HeaderValue::from_static(value));
    }
}

pub async fn welkin_headers(req: Request, next: Next) -> Response {
    let mut response = if req.method() == Method::OPTIONS {
        Response::builder().status(StatusCode::OK).body(Body::empty()).expect("static response")
    } else {
        next.run(req).await
    };
    apply(response.headers_mut());
    response
}
