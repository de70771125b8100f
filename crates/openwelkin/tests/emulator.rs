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
    for (token, code) in [
        (None, "EMULATOR_TOKEN_MISSING"),
        (Some("wrong"), "EMULATOR_TOKEN_INVALID"),
        (Some(client_token.as_str()), "EMULATOR_TOKEN_INVALID"),
    ] {
        let (status, body) = s.call(Method::POST, "/_emulator/clock/advance", token, Some(json!({"days": 1}))).await;
        assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNAUTHORIZED, code), "token {token:?}");
    }
    let (_, clock) = s.get("/_emulator/clock", ADMIN).await;
    assert_eq!(clock["frozen"], false, "a refused control changed nothing");
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

#[tokio::test]
async fn faults_answer_errors_add_latency_and_drop_connections_on_matching_routes() {
    let s = Server::start_with(&["--no-webhook-worker", "--emulator", "--emulator-token", ADMIN]).await;
    let token = s.token().await;
    let patients = s.sandbox("/patients");
    let (status, rule) = s
        .post("/_emulator/faults", ADMIN, json!({"path": "*/patients", "method": "GET", "status": 503, "times": 2}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    for _ in 0..2 {
        let (status, err) = s.get(&patients, &token).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"));
    }
    assert_eq!(s.get(&patients, &token).await.0, StatusCode::OK, "the rule was used up");
    assert_eq!(s.get("/_emulator/faults", ADMIN).await.1, json!({"faults": []}));

    // Another method, or an emulator route, is never affected.
    s.post("/_emulator/faults", ADMIN, json!({"path": "*", "method": "POST", "status": 500})).await;
    assert_eq!(s.get(&patients, &token).await.0, StatusCode::OK);
    let (status, err) = s.post(&patients, &token, json!({"firstName": "Never", "lastName": "Made"})).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{err}");
    assert_eq!(s.count_patients(&token, "Never").await, 0, "the request never reached its handler");
    let (status, cleared) = s.call(Method::DELETE, "/_emulator/faults", Some(ADMIN), None).await;
    assert_eq!((status, &cleared["cleared"]), (StatusCode::OK, &json!(1)));

    let (_, slow) = s.post("/_emulator/faults", ADMIN, json!({"path": "*/patients", "latencyMs": 300})).await;
    let started = std::time::Instant::now();
    assert_eq!(s.get(&patients, &token).await.0, StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let (status, _) =
        s.call(Method::DELETE, &format!("/_emulator/faults/{}", slow["id"].as_str().unwrap()), Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    s.post("/_emulator/faults", ADMIN, json!({"path": "*/patients", "dropRate": 1.0, "times": 1})).await;
    let dropped = s.http.get(s.url(&patients)).bearer_auth(&token).send().await;
    let failed = match dropped {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "the connection closes without a whole answer");
    assert_eq!(s.get(&patients, &token).await.0, StatusCode::OK);

    for bad in
        [json!({"path": "*", "status": 404}), json!({"path": "*", "errorRate": 2, "status": 503}), json!({"path": "*"})]
    {
        let (status, err) = s.post("/_emulator/faults", ADMIN, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {err}");
    }
    assert_eq!(s.get("/_emulator/faults", ADMIN).await.1, json!({"faults": []}));
}

#[tokio::test]
async fn webhooks_wait_in_the_outbox_until_delivered_on_demand() {
    let s = Server::start_with(&["--emulator", "--emulator-token", ADMIN, "--allow-private-webhooks"]).await;
    let token = s.token().await;
    let (status, mode) =
        s.call(Method::PUT, "/_emulator/webhooks/mode", Some(ADMIN), Some(json!({"onDemand": true}))).await;
    assert_eq!((status, mode), (StatusCode::OK, json!({"onDemand": true})));
    // A receiver that counts what it gets.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = common::counting_receiver(listener);
    let designer = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(designer.path().join("webhooks")).unwrap();
    std::fs::write(
        designer.path().join("webhooks/hook.yaml"),
        format!("name: wh-test\nurl: {url}\nevents: [PATIENT_CREATED]\n"),
    )
    .unwrap();
    s.cli(&["designer", "apply", designer.path().to_str().unwrap(), "--tenant", &s.tenant]);
    s.cli(&["webhooks", "activate", "--tenant", &s.tenant, "--instance", "sandbox", "--name", "wh-test"]);
    s.create_patient(&token, json!({"firstName": "Hook", "lastName": "Held"})).await;

    let outbox = format!("/_emulator/tenants/{}/instances/sandbox/outbox/webhooks", s.tenant);
    let mut items = json!([]);
    for _ in 0..100 {
        items = s.get(&outbox, ADMIN).await.1["items"].clone();
        if !items.as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(items.as_array().unwrap().len(), 1, "fanned out into a delivery: {items}");
    assert_eq!(items[0]["status"], "PENDING", "{items}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing is sent before it is asked for");

    let (status, done) = s.post("/_emulator/webhooks/deliver", ADMIN, json!({})).await;
    assert_eq!((status, done), (StatusCode::OK, json!({"attempted": 1})));
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 1);
    let (_, cleared) = s.call(Method::DELETE, &outbox, Some(ADMIN), None).await;
    assert_eq!(cleared["cleared"], 1);
    assert_eq!(s.get(&outbox, ADMIN).await.1, json!({"items": []}));
    let (status, _) = s.get(&format!("/_emulator/tenants/{}/instances/sandbox/outbox/pager", s.tenant), ADMIN).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Writes stamped with the same millisecond (a frozen clock makes every one of them so)
/// are listed in the order they happened: oldest first under `sentAt,asc`, newest first
/// by default.
#[tokio::test]
async fn audit_rows_of_one_millisecond_keep_the_order_of_the_writes() {
    let s = Server::start_with(&["--emulator", "--emulator-token", ADMIN]).await;
    let (status, _) = s.post("/_emulator/clock/freeze", ADMIN, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let token = s.token().await;
    let mut names = Vec::new();
    for i in 0..6 {
        let name = format!("Tie{i}");
        let (status, body) =
            s.post(&s.sandbox("/patients"), &token, json!({"firstName": name, "lastName": "Order"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        names.push(name);
    }
    let listed = |query: &'static str| {
        let s = &s;
        let token = token.clone();
        async move {
            let (status, audit) =
                s.get(&format!("/{}/admin/audit-data?entity=PATIENT{query}&size=50", s.tenant), &token).await;
            assert_eq!(status, StatusCode::OK, "{audit}");
            audit["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["record"]["firstName"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("&sort=sentAt,asc").await, names);
    let mut newest_first = names.clone();
    newest_first.reverse();
    assert_eq!(listed("").await, newest_first);
}
