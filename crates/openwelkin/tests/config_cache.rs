//! Two nodes on one database: each caches tenants, API clients and instances, and a change
//! made through the CLI (or on the other node) is seen by the very next request on both.

mod common;

use common::{error_code, spawn_serving, Server, Serving, BIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

/// A second `serve` process on the server's database.
struct Node {
    base: String,
    _process: Serving,
}

impl Node {
    fn start(db_url: &str) -> Node {
        let (child, base) = spawn_serving(
            Command::new(BIN)
                .args(["serve", "--listen", "127.0.0.1:0", "--database", db_url, "--no-webhook-worker"])
                .env("OPENWELKIN_LOG", "warn"),
        );
        Node { base, _process: Serving(child) }
    }
}

/// One request to the node at `base`.
async fn call(
    s: &Server,
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s.http.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
}

async fn get(s: &Server, base: &str, path: &str, token: &str) -> (StatusCode, Value) {
    call(s, base, Method::GET, path, Some(token), None).await
}

async fn token_at(s: &Server, base: &str, client: &str, secret: &str) -> String {
    let path = format!("/{}/admin/api_clients/{client}", s.tenant);
    let (status, body) = call(s, base, Method::POST, &path, None, Some(json!({"secret": secret}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// The status at once, and (should it differ) whether `want` came within one second.
async fn status_now(s: &Server, base: &str, path: &str, token: &str, want: StatusCode, what: &str) {
    let started = Instant::now();
    let (first, body) = get(s, base, path, token).await;
    if first == want {
        return;
    }
    let mut last = (first, body);
    while started.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        last = get(s, base, path, token).await;
        if last.0 == want {
            panic!("{what}: {want} only after {:?} (the first request got {first})", started.elapsed());
        }
    }
    panic!("{what}: expected {want}, still {} after 1 s: {}", last.0, last.1);
}

#[tokio::test]
async fn client_and_instance_changes_reach_both_nodes_at_once() {
    let s = Server::start().await;
    let b = Node::start(&s.db_url);
    let a = s.base.clone();
    let token = s.token().await;
    let sandbox = s.sandbox("/patients");
    let live = format!("/{}/live/patients", s.tenant);
    // Both nodes answer, and have cached the tenant, the client and the instances.
    for base in [&a, &b.base] {
        for _ in 0..2 {
            assert_eq!(get(&s, base, &sandbox, &token).await.0, StatusCode::OK);
            assert_eq!(get(&s, base, &live, &token).await.0, StatusCode::OK);
        }
    }

    // An instance created through the CLI: unknown first, usable on both nodes at once.
    let extra = format!("/{}/extra/patients", s.tenant);
    let (status, body) = get(&s, &b.base, &extra, &token).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "INSTANCE_NOT_FOUND".to_string()));
    s.cli(&["instances", "create", &s.tenant, "extra"]);
    status_now(&s, &b.base, &extra, &token, StatusCode::OK, "new instance on node B").await;
    status_now(&s, &a, &extra, &token, StatusCode::OK, "new instance on node A").await;

    // A client created through the CLI gets a token on node B, which works on both.
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let other = token_at(&s, &b.base, &name, &secret).await;
    status_now(&s, &b.base, &sandbox, &other, StatusCode::OK, "new client on node B").await;
    status_now(&s, &a, &sandbox, &other, StatusCode::OK, "new client on node A").await;

    // Narrowing the policy: node B refuses the removed family at once.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), r#"{"permissions": {"users": ["read"]}}"#).unwrap();
    let policy = file.path().to_str().unwrap();
    s.cli(&["clients", "set-policy", "--tenant", &s.tenant, "--name", &s.client, "--policy", policy]);
    status_now(&s, &b.base, &live, &token, StatusCode::FORBIDDEN, "narrowed policy on node B").await;
    let (_, body) = get(&s, &b.base, &live, &token).await;
    assert_eq!(error_code(&body), "ACCESS_FOR_API_CLIENT_RESTRICTED");
    status_now(&s, &a, &live, &token, StatusCode::FORBIDDEN, "narrowed policy on node A").await;
    let users = format!("/{}/admin/users", s.tenant);
    status_now(&s, &b.base, &users, &token, StatusCode::OK, "kept family on node B").await;

    // Disabling: both nodes refuse the client's token at once; the other client goes on.
    s.cli(&["clients", "disable", "--tenant", &s.tenant, "--name", &name]);
    status_now(&s, &b.base, &sandbox, &other, StatusCode::UNAUTHORIZED, "disabled client on node B").await;
    status_now(&s, &a, &sandbox, &other, StatusCode::UNAUTHORIZED, "disabled client on node A").await;
    let (_, body) = get(&s, &b.base, &sandbox, &other).await;
    assert_eq!(error_code(&body), "NOT_VALID_JSON_WEB_TOKEN");
    status_now(&s, &b.base, &users, &token, StatusCode::OK, "the other client on node B").await;

    // Enabling again does not revive the old token, but a new one works on both.
    s.cli(&["clients", "enable", "--tenant", &s.tenant, "--name", &name]);
    status_now(&s, &b.base, &sandbox, &other, StatusCode::UNAUTHORIZED, "token from before the disable").await;
    let again = token_at(&s, &a, &name, &secret).await;
    status_now(&s, &b.base, &sandbox, &again, StatusCode::OK, "re-enabled client on node B").await;

    // Rotating the secret: the token issued before is refused on both nodes.
    s.cli(&["clients", "rotate-secret", "--tenant", &s.tenant, "--name", &name]);
    status_now(&s, &b.base, &sandbox, &again, StatusCode::UNAUTHORIZED, "rotated secret on node B").await;
    status_now(&s, &a, &sandbox, &again, StatusCode::UNAUTHORIZED, "rotated secret on node A").await;
}

#[tokio::test]
async fn a_reset_instance_is_seen_by_the_other_node_at_once() {
    let s = Server::start().await;
    let b = Node::start(&s.db_url);
    let token = s.token().await;
    let sandbox = s.sandbox("/patients");
    let body = json!({"firstName": "Cached", "lastName": "Instance"});
    for _ in 0..2 {
        let (status, p) = call(&s, &b.base, Method::POST, &sandbox, Some(&token), Some(body.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{p}");
    }
    let count = |v: &Value| v["totalElements"].as_i64().unwrap_or(-1);
    assert_eq!(count(&get(&s, &b.base, &sandbox, &token).await.1), 2);
    // The reset gives the instance a new id: node B must write under it, not the old one.
    s.cli(&["reset", "--tenant", &s.tenant, "--instance", "sandbox"]);
    assert_eq!(count(&get(&s, &b.base, &sandbox, &token).await.1), 0, "node B sees the reset at once");
    let (status, p) = call(&s, &b.base, Method::POST, &sandbox, Some(&token), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    assert_eq!(count(&get(&s, &s.base, &sandbox, &token).await.1), 1, "node A sees node B's write");
    assert_eq!(count(&get(&s, &b.base, &sandbox, &token).await.1), 1);
}
