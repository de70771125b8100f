//! The `/_emulator/` controls: only served when enabled, guarded by their own token, and
//! a clock that token expiry follows.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::json;

const ADMIN: &str = "emulator-admin-token";

#[tokio::test]
async fn emulator_paths_do_not_exist_unless_enabled() {
    let s = Server::start().await;
    let (status, body) = s.call(Method::GET, "/_emulator/clock", Some(ADMIN), None).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
}

#[tokio::test]
async fn emulator_controls_need_the_admin_token() {
    let s = Server::start_with(&["--emulator", "--emulator-token", ADMIN]).await;
    let client_token = s.token().await;
    for token in [None, Some("wrong"), Some(client_token.as_str())] {
        let (status, _) = s.call(Method::POST, "/_emulator/clock/advance", token, Some(json!({"days": 1}))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "token {token:?}");
    }
    let (status, body) = s.get("/_emulator/clock", ADMIN).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["frozen"], false);
}

#[tokio::test]
async fn a_frozen_clock_stands_still_and_can_be_set() {
    let s = Server::start_with(&["--emulator", "--emulator-token", ADMIN]).await;
    let (status, frozen) = s.post("/_emulator/clock/freeze", ADMIN, json!({})).await;
    assert_eq!((status, &frozen["frozen"]), (StatusCode::OK, &json!(true)));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (_, later) = s.get("/_emulator/clock", ADMIN).await;
    assert_eq!(later["now"], frozen["now"]);

    let (status, set) = s.post("/_emulator/clock/set", ADMIN, json!({"time": "2030-01-02T03:04:05Z"})).await;
    assert_eq!((status, set["now"].as_str()), (StatusCode::OK, Some("2030-01-02T03:04:05.000Z")));
    let (_, moved) = s.post("/_emulator/clock/advance", ADMIN, json!({"hours": 1, "minutes": 1})).await;
    assert_eq!(moved["now"], "2030-01-02T04:05:05.000Z");

    // Records are stamped with the emulator's time.
    let token = s.token().await;
    let (status, patient) =
        s.post(&s.sandbox("/patients"), &token, json!({"firstName": "Ada", "lastName": "Clock"})).await;
    assert_eq!(status, StatusCode::CREATED, "{patient}");
    assert!(patient["createdAt"].as_str().unwrap().starts_with("2030-01-02T04:05:05"), "{patient}");

    let (status, body) = s.post("/_emulator/clock/set", ADMIN, json!({"time": "yesterday"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = s.post("/_emulator/clock/advance", ADMIN, json!({"weeks": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, unchanged) = s.get("/_emulator/clock", ADMIN).await;
    assert_eq!(unchanged["now"], "2030-01-02T04:05:05.000Z", "bad input changes nothing");

    let (_, reset) = s.post("/_emulator/clock/reset", ADMIN, json!({})).await;
    assert_eq!(reset["frozen"], false);
    assert!(reset["now"].as_str().unwrap() < "2030", "{reset}");
}

#[tokio::test]
async fn advancing_61_minutes_expires_tokens() {
    let s = Server::start_with(&["--emulator", "--emulator-token", ADMIN]).await;
    let token = s.token().await;
    let (status, _) = s.get(&s.sandbox("/patients"), &token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.post("/_emulator/clock/advance", ADMIN, json!({"minutes": 61})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s.get(&s.sandbox("/patients"), &token).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED"));
    // A new token, issued at the emulator's time, works.
    let fresh = s.token().await;
    let (status, _) = s.get(&s.sandbox("/patients"), &fresh).await;
    assert_eq!(status, StatusCode::OK);
}
