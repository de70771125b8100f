//! What every response shares: headers, the error format for unknown routes, methods and
//! oversized bodies, health probes, the OpenAPI document and the docs page.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn responses_carry_the_recorded_cors_and_cache_headers() {
    let s = Server::start().await;
    let token = s.token().await;
    let resp = s.http.get(s.url(&s.sandbox("/patients"))).bearer_auth(&token).send().await.unwrap();
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["access-control-allow-methods"], "GET, POST, PUT, DELETE, PATCH, OPTIONS");
    assert_eq!(h["access-control-allow-headers"], "authorization, content-type, xsrf-token, security-role");
    assert_eq!(h["cache-control"], "no-cache, no-store, max-age=0, must-revalidate");
    assert_eq!(h["pragma"], "no-cache");
    assert_eq!(h["expires"], "0");
    assert_eq!(h["content-type"], "application/json");
    assert!(uuid::Uuid::parse_str(h["x-request-id"].to_str().unwrap()).is_ok());
    let pre = s
        .http
        .request(Method::OPTIONS, s.url(&s.sandbox("/patients")))
        .header("origin", "http://example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), StatusCode::OK);
    assert_eq!(pre.headers()["access-control-max-age"], "3600");
}

#[tokio::test]
async fn every_response_says_nosniff() {
    let s = Server::start().await;
    let token = s.token().await;
    let huge = "x".repeat(3 * 1024 * 1024);
    let requests = [
        s.http.get(s.url(&s.sandbox("/patients"))).bearer_auth(&token),
        s.http.get(s.url(&s.sandbox("/patients"))),
        s.http.get(s.url("/nothing/here")).bearer_auth(&token),
        s.http.request(Method::OPTIONS, s.url(&s.sandbox("/patients"))),
        s.http.get(s.url("/healthz")),
        s.http.get(s.url("/openapi.json")),
        s.http.get(s.url("/docs/")),
        s.http
            .post(s.url(&s.sandbox("/patients")))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(huge),
    ];
    for request in requests {
        let resp = request.send().await.unwrap();
        let what = format!("{} {}", resp.status(), resp.url());
        assert_eq!(
            resp.headers().get("x-content-type-options").map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_huge_bodies_answer_in_the_error_format() {
    let s = Server::start().await;
    let token = s.token().await;
    let (status, body) = s.get("/nothing/here/at/all", &token).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let (status, body) = s.call(Method::PUT, &s.sandbox("/patients"), Some(&token), Some(json!({}))).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"));
    let huge = json!({"firstName": "x".repeat(3 * 1024 * 1024), "lastName": "y"});
    let (status, body) = s.post(&s.sandbox("/patients"), &token, huge).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"));
    assert_eq!(s.count_patients(&token, "yyy").await, 0);
}

#[tokio::test]
async fn health_and_readiness() {
    let s = Server::start().await;
    let (status, body) = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
    let (status, body) = s.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ready"})));
}

#[tokio::test]
async fn the_served_openapi_document_matches_its_snapshot() {
    let s = Server::start().await;
    let (status, doc) = s.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/{tenant}/admin/api_clients/{clientName}",
        "/{tenant}/{instance}/patients",
        "/{tenant}/{instance}/patients/{patientId}",
        "/{tenant}/{instance}/by-filter/patients",
        "/{tenant}/admin/users",
        "/{tenant}/admin/users/{userKey}",
        "/auth/token",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    insta::assert_json_snapshot!("openapi", doc);
}

#[tokio::test]
async fn the_docs_page_is_served_without_any_cdn() {
    let s = Server::start().await;
    let page = s.http.get(s.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    assert!(!html.contains("https://"), "every asset is local: {html}");
    let init = s.http.get(s.url("/docs/swagger-initializer.js")).send().await.unwrap().text().await.unwrap();
    assert!(init.contains("/openapi.json"));
    let bundle = s.http.get(s.url("/docs/swagger-ui-bundle.js")).send().await.unwrap();
    assert_eq!(bundle.status(), StatusCode::OK);
}
