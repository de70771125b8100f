//! Bytes the store cannot hold and requests the server cannot read: NUL characters in
//! bodies, keys, query parameters and path segments; JSON sent under another media type;
//! over-long URLs and header sections; invalid UTF-8 in a path. Each is a 4xx in the
//! Welkin error format and writes nothing.

mod common;

use common::{error_code, Server};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The status and body of a response, the body parsed as JSON (a string when it is not).
async fn answer(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Every patient of the sandbox.
async fn total(s: &Server, token: &str) -> i64 {
    let (status, page) = s.get(&s.sandbox("/patients"), token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["totalElements"].as_i64().unwrap()
}

/// Asserts a `400 VALIDATION_ERROR` naming `field` as holding a NUL character.
fn assert_nul_refused(status: StatusCode, err: &Value, field: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(error_code(err), "VALIDATION_ERROR", "{err}");
    assert_eq!(err[0]["details"]["field"], json!(field), "{err}");
    assert!(err[0]["details"]["reason"].as_str().unwrap().contains("NUL"), "{err}");
}

/// A raw body with the given content type (none when `None`).
async fn post_raw(s: &Server, path: &str, token: &str, content_type: Option<&str>, body: &str) -> (StatusCode, Value) {
    let mut req = s.http.post(s.url(path)).bearer_auth(token).body(body.to_string());
    if let Some(kind) = content_type {
        req = req.header("content-type", kind);
    }
    answer(req.send().await.unwrap()).await
}

#[tokio::test]
async fn nul_in_a_json_field_is_refused_and_nothing_is_stored() {
    let s = Server::start().await;
    let token = s.token().await;
    let before = total(&s, &token).await;
    let (status, err) =
        s.post(&s.sandbox("/patients"), &token, json!({"firstName": "Nu\u{0}ll", "lastName": "Byte"})).await;
    assert_nul_refused(status, &err, "firstName");
    assert_eq!(total(&s, &token).await, before, "nothing was stored");
}

#[tokio::test]
async fn nul_in_a_nested_field_names_its_path() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let body = json!({
        "firstName": "Nested",
        "lastName": "Byte",
        "patientTerritories": [{"name": "california", "territories": ["los-angeles", "san\u{0}diego"]}]
    });
    let (status, err) = s.post(&s.sandbox("/patients"), &token, body).await;
    assert_nul_refused(status, &err, "patientTerritories[0].territories[1]");
    assert_eq!(total(&s, &token).await, 0, "nothing was stored");
}

#[tokio::test]
async fn nul_in_a_key_is_refused() {
    let s = Server::start().await;
    let token = s.token().await;
    let (status, err) =
        s.post(&s.sandbox("/patients"), &token, json!({"firstName": "Key", "lastName": "Byte", "mrn\u{0}": "1"})).await;
    assert_nul_refused(status, &err, "mrn\u{0}");
    let body = json!({"firstName": "Key", "lastName": "Byte", "patientTerritories": [{"na\u{0}me": "west"}]});
    let (status, err) = s.post(&s.sandbox("/patients"), &token, body).await;
    assert_nul_refused(status, &err, "patientTerritories[0].na\u{0}me");
    assert_eq!(total(&s, &token).await, 0, "nothing was stored");
}

#[tokio::test]
async fn nul_in_a_patch_changes_nothing() {
    let s = Server::start().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Before", "lastName": "Patch"})).await;
    let path = s.sandbox(&format!("/patients/{}", p["id"].as_str().unwrap()));
    let (status, err) = s.patch(&path, &token, json!({"lastName": "After\u{0}"})).await;
    assert_nul_refused(status, &err, "lastName");
    assert_eq!(s.get(&path, &token).await.1, p, "the refused PATCH changed nothing");
}

#[tokio::test]
async fn nul_in_a_query_parameter_is_refused() {
    let s = Server::start().await;
    let token = s.token().await;
    s.create_patient(&token, json!({"firstName": "Query", "lastName": "Byte"})).await;
    let (status, err) = s.get(&s.sandbox("/patients?query=%00"), &token).await;
    assert_nul_refused(status, &err, "query");
    let (status, err) = s.get(&s.sandbox("/patients?page=0&query=a%00b"), &token).await;
    assert_nul_refused(status, &err, "query");
    // A plain query still works.
    let (status, page) = s.get(&s.sandbox("/patients?query=query"), &token).await;
    assert_eq!((status, page["totalElements"].clone()), (StatusCode::OK, json!(1)), "{page}");
}

#[tokio::test]
async fn nul_in_a_path_segment_is_refused() {
    let s = Server::start().await;
    let token = s.token().await;
    let (status, err) = s.get(&s.sandbox("/patients/%00"), &token).await;
    assert_nul_refused(status, &err, "patientId");
    let (status, err) = s.patch(&s.sandbox("/patients/a%00b"), &token, json!({"lastName": "X"})).await;
    assert_nul_refused(status, &err, "patientId");
    let (status, err) = s.get(&format!("/{}/sand%00box/patients", s.tenant), &token).await;
    assert_nul_refused(status, &err, "instance");
    assert_eq!(total(&s, &token).await, 0);
}

#[tokio::test]
async fn nul_in_form_and_multipart_fields_is_refused() {
    let s = Server::start().await;
    let token = s.token().await;
    // The inbound SMS webhook, as Twilio posts it (form-encoded).
    let form = "From=%2B15559876543&To=%2B15625345699&Body=hi%00there&MessageSid=SM0001";
    let (status, err) =
        post_raw(&s, &s.sandbox("/providers/sms/inbound"), &token, Some("application/x-www-form-urlencoded"), form)
            .await;
    assert_nul_refused(status, &err, "Body");
    let (status, page) = s.get(&s.sandbox("/unrecognized-patients/sms"), &token).await;
    assert_eq!((status, page["totalElements"].clone()), (StatusCode::OK, json!(0)), "{page}");

    // The inbound email webhook, form-encoded and multipart.
    let inbound = s.sandbox("/providers/email/inbound");
    let form = "sender=stranger%40nowhere.org&subject=Who%00&body-plain=hi";
    let (status, err) = post_raw(&s, &inbound, &token, Some("application/x-www-form-urlencoded"), form).await;
    assert_nul_refused(status, &err, "subject");
    let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nstranger@nowhere.org\r\n\
                     --XyZ\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nLab\u{0}results\r\n--XyZ--\r\n";
    let (status, err) = post_raw(&s, &inbound, &token, Some("multipart/form-data; boundary=XyZ"), multipart).await;
    assert_nul_refused(status, &err, "subject");
    let (status, page) = s.get(&s.sandbox("/unrecognized-patients/emails"), &token).await;
    assert_eq!((status, page["totalElements"].clone()), (StatusCode::OK, json!(0)), "{page}");
}

#[tokio::test]
async fn json_under_another_media_type_is_415() {
    let s = Server::start().await;
    let token = s.token().await;
    let path = s.sandbox("/patients");
    let body = r#"{"firstName": "Media", "lastName": "Type"}"#;
    for kind in [Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("application/xml"), None] {
        let (status, err) = post_raw(&s, &path, &token, kind, body).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{kind:?}: {err}");
        assert_eq!(error_code(&err), "UNSUPPORTED_MEDIA_TYPE", "{kind:?}");
    }
    let (status, err) =
        post_raw(&s, &path, &token, Some("application/xml"), "<patient><firstName>X</firstName></patient>").await;
    assert_eq!((status, error_code(&err)), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE".into()));
    assert_eq!(total(&s, &token).await, 0, "nothing was created");

    // JSON with parameters, or a +json type, is JSON.
    let (status, p) = post_raw(&s, &path, &token, Some("application/json; charset=utf-8"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let one = s.sandbox(&format!("/patients/{}", p["id"].as_str().unwrap()));
    let resp = s
        .http
        .patch(s.url(&one))
        .bearer_auth(&token)
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"lastName": "Merged"}"#)
        .send()
        .await
        .unwrap();
    let (status, p) = answer(resp).await;
    assert_eq!((status, p["lastName"].clone()), (StatusCode::OK, json!("Merged")), "{p}");
    // A body-less request is still a missing body, not a media type problem.
    let (status, err) = post_raw(&s, &path, &token, None, "").await;
    assert_eq!((status, error_code(&err)), (StatusCode::BAD_REQUEST, "MALFORMED_JSON".into()));
    assert_eq!(total(&s, &token).await, 1);
}

#[tokio::test]
async fn an_over_long_url_is_414_in_the_error_format() {
    let s = Server::start().await;
    let token = s.token().await;
    let long = "a".repeat(20 * 1024);
    let resp =
        s.http.get(s.url(&s.sandbox(&format!("/patients?query={long}")))).bearer_auth(&token).send().await.unwrap();
    let (status, err) = answer(resp).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG, "{err}");
    assert_eq!(error_code(&err), "URI_TOO_LONG");
    // Just under the limit is served.
    let fits = "a".repeat(7 * 1024);
    let (status, _) = s.get(&s.sandbox(&format!("/patients?query={fits}")), &token).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn too_many_or_too_large_headers_are_431_in_the_error_format() {
    let s = Server::start().await;
    let token = s.token().await;
    let mut many = HeaderMap::new();
    for i in 0..150 {
        many.insert(HeaderName::try_from(format!("x-extra-{i}")).unwrap(), HeaderValue::from_static("1"));
    }
    let resp = s.http.get(s.url(&s.sandbox("/patients"))).bearer_auth(&token).headers(many).send().await.unwrap();
    let (status, err) = answer(resp).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "{err}");
    assert_eq!(error_code(&err), "REQUEST_HEADER_FIELDS_TOO_LARGE");

    let big = "b".repeat(20 * 1024);
    let resp =
        s.http.get(s.url(&s.sandbox("/patients"))).bearer_auth(&token).header("x-big", big).send().await.unwrap();
    let (status, err) = answer(resp).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "{err}");
    assert_eq!(error_code(&err), "REQUEST_HEADER_FIELDS_TOO_LARGE");

    // Ordinary requests go on.
    assert_eq!(total(&s, &token).await, 0);
}

#[tokio::test]
async fn invalid_utf8_in_a_path_is_400_in_the_error_format() {
    let s = Server::start().await;
    let token = s.token().await;
    for path in [s.sandbox("/patients/%FF"), format!("/{}/%FF/patients", s.tenant), "/t/%FF/patients".into()] {
        let (status, err) = s.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {err}");
        assert_eq!(error_code(&err), "BAD_REQUEST", "{path}");
    }
    let (status, err) = s.call(Method::PATCH, &s.sandbox("/patients/%C3%28"), Some(&token), Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    error_code(&err);
    assert_eq!(total(&s, &token).await, 0);
}
