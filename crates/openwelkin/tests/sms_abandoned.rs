//! An SMS whose node stopped while the provider had it: the message was stored `ACCEPTED`
//! and handed over, and no outcome was ever stored. The scheduler of any node marks it
//! `FAILED` once it has been `ACCEPTED` for two minutes (whether it reached the patient
//! is unknown; sending it again could send it twice), audited, and not a moment sooner;
//! several nodes sweeping at once fail each message once.
//!
//! A test binary of its own: the emulator's clock is moved two minutes ahead, and on a
//! shared PostgreSQL database a server with that clock would fail the messages other
//! tests of the same binary have in flight.

mod common;

use common::{spawn_serving, Server, Serving, BIN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

const EMULATOR_ADMIN: &str = "emulator-admin-token-5c2a";
const LINE: &str = "+15625345699";
const PHONE: &str = "+15625345678";

/// A provider that takes the connection and never answers.
async fn silent_provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

fn serve(db_url: &str, env: &[(&str, &str)]) -> (Serving, String) {
    let (child, base) = spawn_serving(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", db_url, "--no-webhook-worker"])
            .args(["--emulator", "--emulator-token", EMULATOR_ADMIN])
            .env("OPENWELKIN_LOG", "warn")
            .envs(env.iter().copied()),
    );
    (Serving(child), base)
}

async fn status_of(s: &Server, token: &str, url: &str) -> Value {
    let (status, list) = s.get(url, token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["totalElements"], 1, "{list}");
    list["content"][0]["status"].clone()
}

#[tokio::test]
async fn an_sms_left_accepted_by_a_stopped_node_is_failed_after_two_minutes() {
    let mut s = Server::start_with(&["--no-webhook-worker"]).await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Ann", "lastName": "Abandoned", "phone": PHONE})).await;
    let (status, line) =
        s.post(&s.sandbox("/communication-ids"), &token, json!({"channel": "SMS", "value": LINE})).await;
    assert_eq!(status, StatusCode::CREATED, "{line}");
    s.kill9();

    // A node whose provider never answers: the send waits on it.
    let silent = silent_provider().await;
    let twilio = [
        ("OPENWELKIN_SMS_PROVIDER", "twilio"),
        ("OPENWELKIN_TWILIO_BASE_URL", silent.as_str()),
        ("OPENWELKIN_TWILIO_ACCOUNT_SID", "AC0123456789abcdef"),
        ("OPENWELKIN_TWILIO_AUTH_TOKEN", "s3cret-token"),
    ];
    let (node, base) = serve(&s.db_url, &twilio);
    s.base = base;
    let token = s.token().await;
    let list = s.sandbox(&format!("/patients/{}/sms", p["id"].as_str().unwrap()));
    let sending = {
        let (http, url, token) = (s.http.clone(), s.url(&list), token.clone());
        tokio::spawn(async move {
            http.post(url).bearer_auth(token).json(&json!({"message": "Are you there?", "sendNow": true})).send().await
        })
    };
    let mut seen = Value::Null;
    for _ in 0..100 {
        let (_, page) = s.get(&list, &token).await;
        seen = page["content"][0]["status"].clone();
        if seen == "ACCEPTED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, "ACCEPTED", "the message is with the provider");
    drop(node); // SIGKILL while the provider has it
    assert!(sending.await.unwrap().is_err(), "the client saw the connection drop");

    // Another node: the message is ACCEPTED and stays so while it is young…
    let (node_b, base) = serve(&s.db_url, &[]);
    s.base = base;
    let token = s.token().await;
    tokio::time::sleep(Duration::from_millis(2500)).await; // two scheduler passes at least
    assert_eq!(status_of(&s, &token, &list).await, "ACCEPTED");

    // …and is failed once it has been ACCEPTED for two minutes.
    let (status, clock) = s.post("/_emulator/clock/advance", EMULATOR_ADMIN, json!({"minutes": 2, "seconds": 5})).await;
    assert_eq!(status, StatusCode::OK, "{clock}");
    let token = s.token().await; // a token lives shorter than the move
    let mut seen = Value::Null;
    for _ in 0..50 {
        seen = status_of(&s, &token, &list).await;
        if seen == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, "FAILED");
    let (_, page) = s.get(&list, &token).await;
    let m = &page["content"][0];
    assert!(m["externalId"].is_null() && m["sentAt"].is_null(), "{m}");

    // Audited: accepted, then failed.
    let audit = sms_audit(&s, &token).await;
    assert_eq!(audit, [("SMS_CREATED".to_string(), "ACCEPTED".to_string()), ("SMS_UPDATED".into(), "FAILED".into())]);
    drop(node_b); // its clock is ahead: it would fail the next messages while young

    // Several nodes at once: each stuck message is failed once, with one audit row. Twelve
    // more messages are left ACCEPTED by a node killed while its provider holds them…
    let (node, base) = serve(&s.db_url, &twilio);
    s.base = base;
    let token = s.token().await;
    let sends: Vec<_> = (0..12)
        .map(|i| {
            let (http, url, token) = (s.http.clone(), s.url(&list), token.clone());
            tokio::spawn(async move {
                http.post(url).bearer_auth(token).json(&json!({"message": format!("Stuck {i}")})).send().await
            })
        })
        .collect();
    let mut accepted = 0;
    for _ in 0..100 {
        let (_, page) = s.get(&format!("{list}?size=50"), &token).await;
        accepted = page["content"].as_array().unwrap().iter().filter(|m| m["status"] == "ACCEPTED").count();
        if accepted == 12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted, 12);
    drop(node);
    for send in sends {
        assert!(send.await.unwrap().is_err());
    }
    // …then four schedulers, each on its own connections with its clock three minutes
    // ahead, sweep at the same moment, twice.
    let mut nodes = Vec::new();
    for _ in 0..4 {
        let clock = openwelkin::clock::Clock::system();
        clock.advance(chrono::Duration::minutes(3));
        let db = openwelkin::store::Db::connect(&s.db_url).await.unwrap();
        nodes.push(openwelkin::app::AppState::new(db, clock).await.unwrap());
    }
    for _ in 0..2 {
        let passes = nodes.iter().map(openwelkin::services::sms::send_due);
        for pass in futures_util::future::join_all(passes).await {
            pass.unwrap();
        }
    }
    let (node, base) = serve(&s.db_url, &[]);
    s.base = base;
    let token = s.token().await;
    let (_, page) = s.get(&format!("{list}?size=50"), &token).await;
    let statuses: Vec<&str> =
        page["content"].as_array().unwrap().iter().map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["FAILED"; 13], "{page}");
    let audit = sms_audit(&s, &token).await;
    let failed = audit.iter().filter(|(event, status)| event == "SMS_UPDATED" && status == "FAILED").count();
    assert_eq!(failed, 13, "one update per message, however many nodes swept: {audit:?}");
    assert_eq!(audit.len(), 26, "{audit:?}");
    for state in nodes {
        state.db.close().await;
    }
    drop(node);
}

/// The tenant's SMS audit rows, oldest first: (event, the record's status).
async fn sms_audit(s: &Server, token: &str) -> Vec<(String, String)> {
    let (status, audit) = s.get(&format!("/{}/admin/audit-data?entity=SMS&size=100", s.tenant), token).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|r| (r["eventSubtype"].as_str().unwrap().to_string(), r["record"]["status"].as_str().unwrap().to_string()))
        .collect()
}
