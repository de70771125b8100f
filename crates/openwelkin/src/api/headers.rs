//! Response headers as the real server sends them: permissive CORS and no caching; and
//! `X-Content-Type-Options: nosniff`, so that a browser never takes a response (an
//! uploaded document, an export) for another type than the one it is sent as. A
//! preflight `OPTIONS` is answered here for every path. And the headers of a file
//! download (`file_download`), whose disposition `domain::download` decides.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, HeaderName};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;

static HEADERS: [(HeaderName, &str); 9] = [
    (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
    (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, PUT, DELETE, PATCH, OPTIONS"),
    (header::ACCESS_CONTROL_ALLOW_HEADERS, "authorization, content-type, xsrf-token, security-role"),
    (header::ACCESS_CONTROL_EXPOSE_HEADERS, "xsrf-token"),
    (header::ACCESS_CONTROL_MAX_AGE, "3600"),
    (header::CACHE_CONTROL, "no-cache, no-store, max-age=0, must-revalidate"),
    (header::PRAGMA, "no-cache"),
    (header::EXPIRES, "0"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
];

/// Adds these headers (also to the answers `serve` makes outside the router). The names
/// are the `http` crate's constants (a name given as text is parsed on every insert), and
/// the map grows once for all of them.
pub fn apply(headers: &mut HeaderMap) {
    headers.reserve(HEADERS.len());
    for (name, value) in &HEADERS {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
}

/// Answers a preflight, else runs `inner`; adds the headers to either answer.
pub async fn welkin_headers<F: std::future::Future<Output = Response>>(
    req: Request,
    inner: impl FnOnce(Request) -> F,
) -> Response {
    let mut response = if req.method() == Method::OPTIONS {
        Response::builder().status(StatusCode::OK).body(Body::empty()).expect("static response")
    } else {
        inner(req).await
    };
    apply(response.headers_mut());
    response
}

/// A stored file as a response: its type (`application/octet-stream` if it cannot be a
/// header), and `Content-Disposition` from `domain::download::content_disposition`:
/// `inline` only where the route shows files (`show_if_safe`) and the type is safe to
/// show, else `attachment`.
pub fn file_download(content_type: &str, file_name: &str, bytes: impl Into<Body>, show_if_safe: bool) -> Response {
    use crate::domain::download::content_disposition;
    use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
    let (kind, content_type) = match HeaderValue::from_str(content_type) {
        Ok(v) => (v, content_type),
        Err(_) => (HeaderValue::from_static("application/octet-stream"), "application/octet-stream"),
    };
    let disposition = HeaderValue::from_str(&content_disposition(content_type, file_name, show_if_safe))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let mut response = Response::new(bytes.into());
    response.headers_mut().insert(CONTENT_TYPE, kind);
    response.headers_mut().insert(CONTENT_DISPOSITION, disposition);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_show_only_safe_types_and_only_where_asked() {
        let disposition = |r: &Response| r.headers()["content-disposition"].to_str().unwrap().to_string();
        let r = file_download("application/pdf", "a.pdf", vec![1u8], true);
        assert_eq!(
            (r.headers()["content-type"].to_str().unwrap(), disposition(&r).as_str()),
            ("application/pdf", "inline; filename=\"a.pdf\"")
        );
        assert_eq!(
            disposition(&file_download("application/pdf", "a.pdf", vec![], false)),
            "attachment; filename=\"a.pdf\""
        );
        assert_eq!(disposition(&file_download("text/html", "a.html", vec![], true)), "attachment; filename=\"a.html\"");
        let r = file_download("text/plain\r\nx: y", "a", vec![], true);
        assert_eq!(r.headers()["content-type"], "application/octet-stream");
        assert_eq!(disposition(&r), "attachment; filename=\"a\"");
    }
}
