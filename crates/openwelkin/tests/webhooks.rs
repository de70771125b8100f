//! Webhooks over HTTP: activation, signed deliveries that survive a receiver failing for
//! a while, in order per record, every attempt in the webhook audit; private addresses
//! refused unless allowed.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use common::Server;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A receiver that answers 500 to its first `fail_first` requests, then 200, and keeps
/// every request it got.
#[derive(Clone, Default)]
struct Receiver {
    fail_first: usize,
    got: Arc<Mutex<Vec<(HeaderMap, String, bool)>>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> AxumStatus {
    let mut got = r.got.lock().unwrap();
    let ok = got.len() >= r.fail_first;
    got.push((headers, body, ok));
    if ok {
        AxumStatus::OK
    } else {
        AxumStatus::INTERNAL_SERVER_ERROR
    }
}

async fn start_receiver(fail_first: usize) -> (String, Receiver) {
    let r = Receiver { fail_first, ..Default::default() };
    let app = axum::Router::new().route("/hook", post(receive)).with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, r)
}

/// The fixture designer plus one webhook pointing at `url`.
fn designer_with_webhook(url: &str) -> tempfile::TempDir {
    let dir = designer_with_webhooks(&[]);
    std::fs::write(
        dir.path().join("webhooks/patients.json"),
        json!({"name": "wh-patients", "title": "Patient changes", "url": url, "events": ["PATIENT_CREATED", "PATIENT_UPDATED"],
               "headers": [{"name": "X-Custom", "value": "yes"}], "queryParameters": [{"name": "source", "value": "openwelkin"}]})
        .to_string(),
    )
    .unwrap();
    dir
}

/// The fixture designer plus webhooks `(name, url)` on patient creation.
fn designer_with_webhooks(hooks: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = common::designer_copy();
    std::fs::create_dir_all(dir.path().join("webhooks")).unwrap();
    for (name, url) in hooks {
        std::fs::write(
            dir.path().join(format!("webhooks/{name}.json")),
            json!({"name": name, "title": name, "url": url, "events": ["PATIENT_CREATED"]}).to_string(),
        )
        .unwrap();
    }
    dir
}

fn verify(secret: &str, header: &str, body: &str) -> bool {
    let (t, v1) = header.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes()) == v1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_for_a_while_gets_every_event_signed_and_in_order() {
    let (url, receiver) = start_receiver(3).await;
    let s = Server::start_with(&["--allow-private-webhooks", "--webhook-retry-base-ms", "50"]).await;
    let designer = designer_with_webhook(&url);
    s.cli(&["designer", "apply", designer.path().to_str().unwrap(), "--tenant", &s.tenant]);
    let token = s.token().await;
    let (_, list) = s.get(&s.sandbox("/webhooks"), &token).await;
    assert_eq!(
        (list[0]["name"].clone(), list[0]["active"].clone()),
        (json!("wh-patients"), json!(false)),
        "inactive by default"
    );
    let p = s.create_patient(&token, json!({"firstName": "Before", "lastName": "Activation"})).await;
    let (status, activated) =
        s.call(Method::POST, &s.sandbox("/webhooks/wh-patients/activate"), Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{activated}");
    let secret = activated["signingSecret"].as_str().unwrap().to_string();

    let mut ids = Vec::new();
    for i in 0..3 {
        let p = s.create_patient(&token, json!({"firstName": format!("P{i}"), "lastName": "Hook"})).await;
        let id = p["id"].as_str().unwrap().to_string();
        s.patch(&s.sandbox(&format!("/patients/{id}")), &token, json!({"firstName": format!("Q{i}")})).await;
        ids.push(id);
    }
    // Not subscribed: a CDT event; and an event from before activation.
    let _ = p;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let delivered = receiver.got.lock().unwrap().iter().filter(|(_, _, ok)| *ok).count();
        if delivered >= 6 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = receiver.got.lock().unwrap().clone();
    let delivered: Vec<Value> =
        got.iter().filter(|(_, _, ok)| *ok).map(|(_, b, _)| serde_json::from_str(b).unwrap()).collect();
    assert_eq!(delivered.len(), 6, "every event arrives once the receiver recovers: {delivered:?}");
    for (headers, body, _) in &got {
        assert!(verify(&secret, headers["x-openwelkin-signature"].to_str().unwrap(), body), "a valid signature");
        assert_eq!(headers["x-custom"], "yes");
    }
    for id in &ids {
        let events: Vec<&str> = delivered
            .iter()
            .filter(|d| d["sourceId"] == id.as_str())
            .map(|d| d["eventSubtype"].as_str().unwrap())
            .collect();
        assert_eq!(events, ["PATIENT_CREATED", "PATIENT_UPDATED"], "in order per record");
    }
    let first = &delivered[0];
    assert_eq!(
        (first["tenantName"].clone(), first["instanceName"].clone(), first["eventEntity"].clone()),
        (json!(s.tenant), json!("sandbox"), json!("PATIENT"))
    );
    // `url` links to the changed record under the server's address, not to the receiver.
    let link = format!("{}/{}/sandbox/patients/{}", s.base, s.tenant, first["sourceId"].as_str().unwrap());
    assert_eq!(first["url"], json!(link));
    assert!(first["sourceName"].as_str().is_some_and(|n| n.ends_with(" Hook")), "{first}");

    // The worker records an attempt after the receiver answered it: wait for the last.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (items, failed, ok) = loop {
        let (_, audit) = s.get(&format!("/{}/admin/audit-webhook?size=100", s.tenant), &token).await;
        let items = audit["data"].as_array().unwrap().clone();
        let failed = items.iter().filter(|i| i["status"] == "FAILED").count();
        let ok = items.iter().filter(|i| i["status"] == "DELIVERED").count();
        if (failed, ok) == (3, 6) || Instant::now() > deadline {
            break (items, failed, ok);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((failed, ok), (3, 6), "each failed and successful attempt is in the audit");
    let one_failed = items.iter().find(|i| i["status"] == "FAILED").unwrap();
    assert_eq!(
        (one_failed["statusCode"].clone(), one_failed["record"]["name"].clone()),
        (json!("INTERNAL_SERVER_ERROR"), json!("wh-patients"))
    );
    assert_eq!(
        s.get(&format!("/{}/admin/audit-webhook?status=FAILED", s.tenant), &token).await.1["metaInfo"]["totalElements"],
        3
    );

    let (status, tested) = s.call(Method::POST, &s.sandbox("/webhooks/wh-patients/test"), Some(&token), None).await;
    assert_eq!((status, tested["status"].clone()), (StatusCode::OK, json!("DELIVERED")));
    let last: Value = serde_json::from_str(&receiver.got.lock().unwrap().last().unwrap().1).unwrap();
    assert_eq!(last["sourceId"], "SOURCE_ID", "the test payload has placeholders");

    s.call(Method::POST, &s.sandbox("/webhooks/wh-patients/deactivate"), Some(&token), None).await;
    let before = receiver.got.lock().unwrap().len();
    s.create_patient(&token, json!({"firstName": "After", "lastName": "Deactivation"})).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.got.lock().unwrap().len(), before, "nothing is sent for an inactive webhook");
    let (_, security) =
        s.get(&format!("/{}/admin/audit-security?eventSubtype=WEBHOOK_ACTIVATED", s.tenant), &token).await;
    assert_eq!(security["metaInfo"]["totalElements"], 1);
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let (url, _) = start_receiver(0).await;
    let s = Server::start().await;
    let designer = designer_with_webhook(&url);
    s.cli(&["designer", "apply", designer.path().to_str().unwrap(), "--tenant", &s.tenant]);
    let token = s.token().await;
    let (status, err) = s.call(Method::POST, &s.sandbox("/webhooks/wh-patients/activate"), Some(&token), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err[0]["message"].as_str().unwrap().contains("private or loopback"), "{err}");
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["*"]}}), None);
    let other = s.token_for(&name, &secret).await;
    assert_eq!(s.get(&s.sandbox("/webhooks"), &other).await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.get(&format!("/{}/admin/audit-webhook", s.tenant), &other).await.0, StatusCode::FORBIDDEN);
    let (_, security) = s.get(&format!("/{}/admin/audit-security?eventSubtype=TOKEN_ISSUED", s.tenant), &token).await;
    assert_eq!(security["metaInfo"]["totalElements"], 2, "both token requests are in the security audit");
    assert_eq!(security["data"][0]["subjectActor"], "API_CLIENT");
}

/// A receiver that counts deliveries by their delivery id.
async fn counting_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(|State(seen): State<Arc<Mutex<Vec<String>>>>, headers: HeaderMap| async move {
                seen.lock().unwrap().push(headers["x-openwelkin-delivery"].to_str().unwrap().to_string());
                AxumStatus::OK
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn two_nodes_deliver_1000_events(kill_one: bool) {
    if !common::is_postgres() {
        eprintln!("two nodes need a shared PostgreSQL database (OPENWELKIN_TEST_DATABASE); skipped on SQLite");
        return;
    }
    let (url, seen) = counting_receiver().await;
    // A lease longer than any delivery takes on a loaded machine: "once each" holds only
    // while no lease runs out under a live node.
    let flags = ["--allow-private-webhooks", "--webhook-retry-base-ms", "50", "--webhook-lease-ms", "5000"];
    let a = Server::start_with(&flags).await;
    let designer = designer_with_webhook(&url);
    a.cli(&["designer", "apply", designer.path().to_str().unwrap(), "--tenant", &a.tenant]);
    let token = a.token().await;
    a.call(Method::POST, &a.sandbox("/webhooks/wh-patients/activate"), Some(&token), None).await;
    // A second node on the same database.
    let mut b = Server::start_with(&flags).await;
    b.kill9();
    b.db_url = a.db_url.clone();
    b.spawn();

    let url_a = a.url(&a.sandbox("/patients"));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (http, url, token) = (a.http.clone(), url_a.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..125 {
                let resp = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"firstName": "Many", "lastName": format!("W{w}N{n}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), StatusCode::CREATED);
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut killed = false;
    loop {
        let unique: std::collections::HashSet<String> = seen.lock().unwrap().iter().cloned().collect();
        if kill_one && !killed && unique.len() >= 200 {
            b.kill9();
            killed = true;
        }
        if unique.len() >= 1000 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = seen.lock().unwrap().clone();
    let unique: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), 1000, "none lost");
    if !kill_one {
        assert_eq!(all.len(), 1000, "none delivered twice in the normal case");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_deliver_1000_events_once_each() {
    two_nodes_deliver_1000_events(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_node_mid_run_loses_no_event() {
    two_nodes_deliver_1000_events(true).await;
}

#[tokio::test]
async fn the_cli_activates_and_lists_webhooks() {
    let (url, _) = start_receiver(0).await;
    let s = Server::start().await;
    let designer = designer_with_webhook(&url);
    s.cli(&["designer", "apply", designer.path().to_str().unwrap(), "--tenant", &s.tenant]);
    let listed = s.cli(&["webhooks", "list", "--tenant", &s.tenant, "--instance", "sandbox"]);
    assert!(listed.contains("wh-patients\tinactive"), "{listed}");
    let out = s.cli(&["webhooks", "activate", "--tenant", &s.tenant, "--instance", "sandbox", "--name", "wh-patients"]);
    assert!(out.lines().any(|l| l.starts_with("signing secret: ") && l.len() == 80), "{out}");
    assert!(s
        .cli(&["webhooks", "list", "--tenant", &s.tenant, "--instance", "sandbox"])
        .contains("wh-patients\tactive"));
    let token = s.token().await;
    assert_eq!(s.get(&s.sandbox("/webhooks"), &token).await.1[0]["active"], true);
    s.cli(&["webhooks", "deactivate", "--tenant", &s.tenant, "--instance", "sandbox", "--name", "wh-patients"]);
    assert_eq!(s.get(&s.sandbox("/webhooks"), &token).await.1[0]["active"], false);
    let bad = common::cli_output(
        &s.db_url,
        &["webhooks", "activate", "--tenant", &s.tenant, "--instance", "sandbox", "--name", "nope"],
    );
    assert!(!bad.status.success());
}

/// The webhook audit's attempts of one webhook: (status, response).
async fn attempts(s: &Server, token: &str, webhook: &str) -> Vec<(String, String)> {
    let (_, audit) = s.get(&format!("/{}/admin/audit-webhook?size=100", s.tenant), token).await;
    audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["record"]["name"] == webhook)
        .map(|i| (i["status"].as_str().unwrap().to_string(), i["response"].as_str().unwrap_or_default().to_string()))
        .collect()
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_receiver_gets_signed_deliveries_when_its_ca_is_trusted() {
    let pki = common::tls::Pki::new();
    let r = Receiver::default();
    let app = axum::Router::new().route("/hook", post(receive)).with_state(r.clone());
    let (addr, handshakes_refused) = common::tls::serve_https(&pki, app).await;
    let url = format!("https://{addr}/hook");
    let ca = pki.ca_file();
    let mut s =
        Server::start_isolated(&["--allow-private-webhooks", "--webhook-retry-base-ms", "50", "--ca-file", &ca]).await;
    let designer = designer_with_webhook(&url);
    s.cli(&["designer", "apply", designer.path().to_str().unwrap(), "--tenant", &s.tenant]);
    let token = s.token().await;
    let (status, activated) =
        s.call(Method::POST, &s.sandbox("/webhooks/wh-patients/activate"), Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{activated}");
    let secret = activated["signingSecret"].as_str().unwrap().to_string();
    let p = s.create_patient(&token, json!({"firstName": "Over", "lastName": "Tls"})).await;
    wait_for("the delivery over TLS", async || !r.got.lock().unwrap().is_empty()).await;
    let (headers, body, _) = r.got.lock().unwrap()[0].clone();
    assert!(verify(&secret, headers["x-openwelkin-signature"].to_str().unwrap(), &body), "signed");
    let delivered: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(delivered["sourceId"], p["id"]);
    // The worker records the attempt after the receiver answered it.
    wait_for("the attempt's audit", async || !attempts(&s, &token, "wh-patients").await.is_empty()).await;
    assert_eq!(attempts(&s, &token, "wh-patients").await[0].0, "DELIVERED");
    assert_eq!(handshakes_refused.load(std::sync::atomic::Ordering::SeqCst), 0);

    // The same server without --ca-file does not trust the receiver: nothing is sent.
    s.kill9();
    s.serve_args = ["--allow-private-webhooks", "--webhook-retry-base-ms", "50"].map(String::from).to_vec();
    s.spawn();
    s.create_patient(&token, json!({"firstName": "Untrusted", "lastName": "Tls"})).await;
    wait_for("a failed attempt", async || {
        attempts(&s, &token, "wh-patients").await.iter().any(|(st, _)| st == "FAILED")
    })
    .await;
    let failed = attempts(&s, &token, "wh-patients").await.into_iter().find(|(st, _)| st == "FAILED").unwrap();
    assert!(failed.1.contains("certificate"), "the attempt says why: {failed:?}");
    assert_eq!(r.got.lock().unwrap().len(), 1, "no request reached the receiver");
    assert!(handshakes_refused.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let (_, tested) = s.call(Method::POST, &s.sandbox("/webhooks/wh-patients/test"), Some(&token), None).await;
    assert_eq!(tested["status"], "FAILED", "{tested}");
    assert!(tested["response"].as_str().unwrap().contains("certificate"), "{tested}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_non_public_destination_is_refused_unless_allowed() {
    let (url, receiver) = start_receiver(0).await;
    let port = url.split(':').nth(2).unwrap().trim_end_matches("/hook").to_string();
    let refused = [
        "http://127.0.0.1/hook",
        "http://127.8.9.10/hook",
        "http://localhost/hook",
        "http://2130706433/hook",
        "http://0x7f.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://10.0.0.1/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://198.18.0.1/hook",
        "http://192.0.2.1/hook",
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",
        "http://255.255.255.255/hook",
        "http://[::1]/hook",
        "http://[::]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://[64:ff9b::7f00:1]/hook",
        "http://[fd00::1]/hook",
        "http://[fe80::1]/hook",
        "http://[ff02::1]/hook",
        "http://[2001:db8::1]/hook",
        "https://[::1]:8443/hook",
    ];
    let hooks: Vec<(String, String)> =
        refused.iter().enumerate().map(|(i, u)| (format!("wh-{i}"), u.to_string())).collect();
    let named: Vec<(&str, &str)> = hooks.iter().map(|(n, u)| (n.as_str(), u.as_str())).collect();
    let designer = designer_with_webhooks(&named);
    let s = Server::start().await;
    s.cli(&["designer", "apply", designer.path().to_str().unwrap(), "--tenant", &s.tenant]);
    let token = s.token().await;
    for (name, url) in &hooks {
        let (status, err) =
            s.call(Method::POST, &s.sandbox(&format!("/webhooks/{name}/activate")), Some(&token), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {err}");
        assert!(err[0]["message"].as_str().unwrap().contains("not a public address"), "{url}: {err}");
        let (status, _) = s.call(Method::POST, &s.sandbox(&format!("/webhooks/{name}/test")), Some(&token), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: the test send is refused too");
    }

    // Activated by a server that allows private addresses (or the CLI), then delivered
    // by one that does not: refused where the connection is made, for a name and for a
    // literal, and nothing reaches the receiver.
    let designer = designer_with_webhooks(&[
        ("by-name", &format!("http://localhost:{port}/hook")),
        ("by-literal", &format!("http://127.0.0.1:{port}/hook")),
        ("by-v6-literal", &format!("http://[::ffff:127.0.0.1]:{port}/hook")),
    ]);
    let mut s = Server::start_isolated(&["--allow-private-webhooks", "--no-webhook-worker"]).await;
    s.cli(&["designer", "apply", designer.path().to_str().unwrap(), "--tenant", &s.tenant]);
    let token = s.token().await;
    for name in ["by-name", "by-literal", "by-v6-literal"] {
        let (status, body) =
            s.call(Method::POST, &s.sandbox(&format!("/webhooks/{name}/activate")), Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
    }
    // An IPv6 literal is sent to when allowed.
    let (_, tested) = s.call(Method::POST, &s.sandbox("/webhooks/by-v6-literal/test"), Some(&token), None).await;
    assert_eq!(tested["status"], "DELIVERED", "{tested}");
    assert_eq!(receiver.got.lock().unwrap().len(), 1);
    s.kill9();
    s.serve_args = ["--webhook-retry-base-ms", "50"].map(String::from).to_vec();
    s.spawn();
    s.create_patient(&token, json!({"firstName": "Not", "lastName": "Sent"})).await;
    for name in ["by-name", "by-literal", "by-v6-literal"] {
        wait_for(name, async || !attempts(&s, &token, name).await.is_empty()).await;
        let (status, response) = attempts(&s, &token, name).await.remove(0);
        assert_eq!(status, "FAILED", "{name}");
        assert!(response.contains("not a public address"), "{name}: {response}");
    }
    assert_eq!(receiver.got.lock().unwrap().len(), 1, "nothing more reached the receiver");
}
