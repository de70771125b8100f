//! The console's Emulator page (`serve --emulator`) over HTTP: "retry now" of a failed
//! webhook delivery, snapshot save / restore / delete, seed, reset, fault rules set and
//! cleared, and the clock set and advanced, each seen through the API afterwards.

mod common;
mod console_support;

use common::Server;
use console_support::{redirect_text, signed_in};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const ADMIN: &str = "console-emulator-admin-token";

async fn emulator(extra: &[&str]) -> Server {
    let mut args = vec!["--emulator", "--emulator-token", ADMIN];
    args.extend_from_slice(extra);
    Server::start_with(&args).await
}

fn page_of(server: &Server) -> String {
    format!("/console/emulator/{}/sandbox", server.tenant)
}

/// The instance's webhook deliveries as the emulator's outbox lists them.
async fn deliveries(server: &Server) -> Vec<Value> {
    let outbox = format!("/_emulator/tenants/{}/instances/sandbox/outbox/webhooks", server.tenant);
    let (status, body) = server.get(&outbox, ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn retry_now_sends_a_failed_webhook_delivery_again() {
    // No worker: deliveries are attempted only when asked (the emulator's deliver, then
    // the console's button), so the attempts counted are exactly those.
    let server = emulator(&["--no-webhook-worker", "--allow-private-webhooks"]).await;
    // A port nobody listens on yet: the first attempt is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let designer = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(designer.path().join("webhooks")).unwrap();
    std::fs::write(
        designer.path().join("webhooks/hook.yaml"),
        format!("name: console-hook\nurl: http://127.0.0.1:{port}/hook\nevents: [PATIENT_CREATED]\n"),
    )
    .unwrap();
    server.cli(&["designer", "apply", designer.path().to_str().unwrap(), "--tenant", &server.tenant]);
    server.cli(&[
        "webhooks",
        "activate",
        "--tenant",
        &server.tenant,
        "--instance",
        "sandbox",
        "--name",
        "console-hook",
    ]);
    let token = server.token().await;
    server.create_patient(&token, json!({"firstName": "Hook", "lastName": "Retried"})).await;
    let (status, done) = server.post("/_emulator/webhooks/deliver", ADMIN, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let failed = deliveries(&server).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_ne!(failed[0]["status"], "DELIVERED", "{failed:?}");
    assert_eq!(failed[0]["attempts"], 1, "{failed:?}");
    let id = failed[0]["id"].as_str().unwrap().to_string();

    let (mut b, name, csrf) = signed_in(&server).await;
    let page = b.get(&page_of(&server)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("console-hook") && page.body.contains("1 attempts"), "the failed delivery is shown");
    assert!(page.body.contains(&format!("/webhooks/{id}/retry")), "with its Retry now button");

    // The receiver is up now; the button sends the delivery again at once.
    let received = common::counting_receiver(tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap());
    let retried = b.post(&format!("{}/webhooks/{id}/retry", page_of(&server)), &[("csrf", &csrf)], None).await;
    assert!(redirect_text(&retried, "notice").unwrap_or_default().contains("due now"), "{:?}", retried.headers);
    let mut now = Vec::new();
    for _ in 0..200 {
        now = deliveries(&server).await;
        if now[0]["status"] == "DELIVERED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(now[0]["status"], "DELIVERED", "{now:?}");
    assert_eq!(now[0]["attempts"], 2, "{now:?}");
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 1);
    let shown = b.get(&page_of(&server)).await;
    assert!(shown.body.contains("DELIVERED") && shown.body.contains("2 attempts"), "the page shows the outcome");
    assert!(!shown.body.contains(&format!("/webhooks/{id}/retry")), "a delivered one has no button");

    // A delivered one cannot be retried; the retry was audited with the operator as actor.
    let again = b.post(&format!("{}/webhooks/{id}/retry", page_of(&server)), &[("csrf", &csrf)], None).await;
    assert!(redirect_text(&again, "problem").is_some());
    let (_, audit) = server
        .get(&format!("/{}/admin/audit-security?eventSubtype=EMULATOR_WEBHOOK_RETRIED", server.tenant), &token)
        .await;
    assert!(audit.to_string().contains(&name), "{audit}");
}

#[tokio::test]
async fn a_restored_snapshot_drops_what_was_made_after_it_and_seed_and_reset_work() {
    let server = emulator(&["--no-webhook-worker"]).await;
    let token = server.token().await;
    let (mut b, _, csrf) = signed_in(&server).await;
    let base = page_of(&server);
    let kept = server.create_patient(&token, json!({"firstName": "Kept", "lastName": "Before"})).await;
    let snap = common::unique("snap");
    let saved = b.post(&format!("{base}/snapshots/save"), &[("csrf", &csrf), ("name", &snap)], None).await;
    assert!(redirect_text(&saved, "notice").unwrap_or_default().contains("saved"), "{:?}", saved.headers);
    assert!(b.get(&base).await.body.contains(&format!("Restore {snap}")), "the snapshot is listed");
    let gone = server.create_patient(&token, json!({"firstName": "Gone", "lastName": "After"})).await;
    let restored = b.post(&format!("{base}/snapshots/restore"), &[("csrf", &csrf), ("name", &snap)], None).await;
    assert!(redirect_text(&restored, "notice").unwrap_or_default().contains("restored"), "{:?}", restored.headers);
    let patient = |p: &Value| server.sandbox(&format!("/patients/{}", p["id"].as_str().unwrap()));
    assert_eq!(server.get(&patient(&kept), &token).await.0, StatusCode::OK, "made before the snapshot");
    assert_eq!(server.get(&patient(&gone), &token).await.0, StatusCode::NOT_FOUND, "made after it");
    let unknown =
        b.post(&format!("{base}/snapshots/restore"), &[("csrf", &csrf), ("name", "no-such-snap")], None).await;
    assert!(redirect_text(&unknown, "problem").is_some(), "an unknown snapshot is refused");
    assert_eq!(server.get(&patient(&kept), &token).await.0, StatusCode::OK, "and changes nothing");
    let deleted = b.post(&format!("{base}/snapshots/delete"), &[("csrf", &csrf), ("name", &snap)], None).await;
    assert!(redirect_text(&deleted, "notice").unwrap_or_default().contains("deleted"));
    assert!(!b.get(&base).await.body.contains(&format!("Restore {snap}")), "no longer listed");

    let before = server.count_patients(&token, "").await;
    let seeded = b.post(&format!("{base}/seed"), &[("csrf", &csrf), ("count", "3"), ("seed", "7")], None).await;
    assert!(redirect_text(&seeded, "notice").unwrap_or_default().starts_with("Seeded"), "{:?}", seeded.headers);
    assert_eq!(server.count_patients(&token, "").await, before + 3);
    let refused = b.post(&format!("{base}/seed"), &[("csrf", &csrf), ("count", "0")], None).await;
    assert!(redirect_text(&refused, "problem").is_some());
    assert_eq!(server.count_patients(&token, "").await, before + 3, "a refused seed adds nothing");

    let reset = b.post(&format!("{base}/reset"), &[("csrf", &csrf)], None).await;
    assert!(redirect_text(&reset, "notice").unwrap_or_default().contains("holds no records"));
    assert_eq!(server.count_patients(&token, "").await, 0);
}

#[tokio::test]
async fn a_fault_set_in_the_console_hits_the_api_until_it_is_removed() {
    let server = emulator(&["--no-webhook-worker"]).await;
    let token = server.token().await;
    let (mut b, name, csrf) = signed_in(&server).await;
    let base = page_of(&server);
    let patients = server.sandbox("/patients");
    let pattern = format!("/{}/sandbox/patients*", server.tenant);
    let bad = b
        .post(
            &format!("{base}/faults"),
            &[("csrf", &csrf), ("path", &pattern), ("status", "503"), ("errorRate", "lots")],
            None,
        )
        .await;
    assert!(redirect_text(&bad, "problem").is_some(), "{:?}", bad.headers);
    assert_eq!(server.get("/_emulator/faults", ADMIN).await.1, json!({"faults": []}), "a bad form adds no rule");

    let added = b
        .post(
            &format!("{base}/faults"),
            &[("csrf", &csrf), ("path", &pattern), ("method", "get"), ("status", "503"), ("errorRate", "1")],
            None,
        )
        .await;
    let notice = redirect_text(&added, "notice").unwrap_or_default();
    let id = notice.strip_prefix("Fault ").and_then(|n| n.strip_suffix(" added.")).expect(&notice).to_string();
    assert_eq!(server.get(&patients, &token).await.0, StatusCode::SERVICE_UNAVAILABLE, "the API sees the fault");
    let (status, _) = server.post(&patients, &token, json!({"firstName": "Not", "lastName": "Hit"})).await;
    assert_eq!(status, StatusCode::CREATED, "only GET was named");
    let shown = b.get(&base).await.body;
    assert!(shown.contains(&format!("/faults/{id}/delete")) && shown.contains("503"), "the rule is listed");

    let removed = b.post(&format!("{base}/faults/{id}/delete"), &[("csrf", &csrf)], None).await;
    assert!(redirect_text(&removed, "notice").unwrap_or_default().contains("removed"));
    assert_eq!(server.get(&patients, &token).await.0, StatusCode::OK, "cleared");
    assert_eq!(server.get("/_emulator/faults", ADMIN).await.1, json!({"faults": []}));
    let (_, audit) = server
        .get(&format!("/{}/admin/audit-security?eventSubtype=EMULATOR_FAULT_REMOVED", server.tenant), &token)
        .await;
    assert!(audit.to_string().contains(&name), "{audit}");
}

#[tokio::test]
async fn the_clock_set_and_advanced_in_the_console_is_the_api_s_time() {
    let server = emulator(&["--no-webhook-worker"]).await;
    let (mut b, _, csrf) = signed_in(&server).await;
    let clock = format!("{}/clock", page_of(&server));
    let bad = b.post(&clock, &[("csrf", &csrf), ("time", "next tuesday")], None).await;
    assert!(redirect_text(&bad, "problem").is_some());
    let set = b.post(&clock, &[("csrf", &csrf), ("time", "2031-03-04T09:00:00Z"), ("mode", "freeze")], None).await;
    assert!(
        redirect_text(&set, "notice").unwrap_or_default().contains("2031-03-04T09:00:00.000Z"),
        "{:?}",
        set.headers
    );
    // A token issued now is stamped with the emulated time, and so is the record.
    let token = server.token().await;
    let made = server.create_patient(&token, json!({"firstName": "Clock", "lastName": "Set"})).await;
    assert!(made["createdAt"].as_str().unwrap().starts_with("2031-03-04T09:00:00"), "{made}");
    let advanced = b.post(&clock, &[("csrf", &csrf), ("hours", "48")], None).await;
    assert!(redirect_text(&advanced, "notice").unwrap_or_default().contains("2031-03-06T09:00:00.000Z"));
    let (status, expired) = server.get(&server.sandbox("/patients"), &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the token of two days ago has expired: {expired}");
    let token = server.token().await;
    let later = server.create_patient(&token, json!({"firstName": "Clock", "lastName": "Advanced"})).await;
    assert!(later["createdAt"].as_str().unwrap().starts_with("2031-03-06T09:00:00"), "{later}");
    assert!(b.get(&page_of(&server)).await.body.contains("(frozen)"));
    let back = b.post(&clock, &[("csrf", &csrf), ("mode", "reset")], None).await;
    let notice = redirect_text(&back, "notice").unwrap_or_default();
    assert!(!notice.contains("2031"), "back to the real time: {notice}");
}
