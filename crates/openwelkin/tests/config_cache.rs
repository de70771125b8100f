//! Two nodes on one database: each caches tenants, API clients and instances, and a change
//! made through the CLI or on the other node is seen within one second (each node keeps the
//! configuration counter in the process, store/config_watch.rs: a listener on PostgreSQL, a
//! poller on SQLite); a change made through a node is seen by that node's very next
//! request.

mod common;

use common::{config_delay, error_code, is_postgres, once_seen, spawn_serving, unique, Server, Serving, BIN};
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

/// Whether `want` came within `limit` (polling every 50 ms), or with the first request
/// when `limit` is zero.
async fn status_within(s: &Server, base: &str, path: &str, token: &str, want: StatusCode, what: &str, limit: Duration) {
    let started = Instant::now();
    let (first, body) = get(s, base, path, token).await;
    if first == want {
        return;
    }
    let mut last = (first, body);
    while started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
        last = get(s, base, path, token).await;
        if last.0 == want {
            let took = started.elapsed();
            assert!(took < limit, "{what}: {want} only after {took:?}");
            return;
        }
    }
    panic!("{what}: expected {want}, still {} after {limit:?}: {}", last.0, last.1);
}

/// A change made outside the node (the CLI, the other node): within a second.
async fn status_soon(s: &Server, base: &str, path: &str, token: &str, want: StatusCode, what: &str) {
    status_within(s, base, path, token, want, what, config_delay()).await
}

/// A change made through this node: its very next request.
async fn status_now(s: &Server, base: &str, path: &str, token: &str, want: StatusCode, what: &str) {
    status_within(s, base, path, token, want, what, Duration::ZERO).await
}

#[tokio::test]
async fn client_and_instance_changes_reach_both_nodes() {
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
    status_soon(&s, &b.base, &extra, &token, StatusCode::OK, "new instance on node B").await;
    status_soon(&s, &a, &extra, &token, StatusCode::OK, "new instance on node A").await;

    // A client created through the CLI gets a token on node B, which works on both.
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let other = token_at(&s, &b.base, &name, &secret).await;
    status_soon(&s, &b.base, &sandbox, &other, StatusCode::OK, "new client on node B").await;
    status_soon(&s, &a, &sandbox, &other, StatusCode::OK, "new client on node A").await;

    // Narrowing the policy: node B refuses the removed family at once.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), r#"{"permissions": {"users": ["read"]}}"#).unwrap();
    let policy = file.path().to_str().unwrap();
    s.cli(&["clients", "set-policy", "--tenant", &s.tenant, "--name", &s.client, "--policy", policy]);
    status_soon(&s, &b.base, &live, &token, StatusCode::FORBIDDEN, "narrowed policy on node B").await;
    let (_, body) = get(&s, &b.base, &live, &token).await;
    assert_eq!(error_code(&body), "ACCESS_FOR_API_CLIENT_RESTRICTED");
    status_soon(&s, &a, &live, &token, StatusCode::FORBIDDEN, "narrowed policy on node A").await;
    let users = format!("/{}/admin/users", s.tenant);
    status_soon(&s, &b.base, &users, &token, StatusCode::OK, "kept family on node B").await;

    // Disabling: both nodes refuse the client's token at once; the other client goes on.
    s.cli(&["clients", "disable", "--tenant", &s.tenant, "--name", &name]);
    status_soon(&s, &b.base, &sandbox, &other, StatusCode::UNAUTHORIZED, "disabled client on node B").await;
    status_soon(&s, &a, &sandbox, &other, StatusCode::UNAUTHORIZED, "disabled client on node A").await;
    let (_, body) = get(&s, &b.base, &sandbox, &other).await;
    assert_eq!(error_code(&body), "NOT_VALID_JSON_WEB_TOKEN");
    status_soon(&s, &b.base, &users, &token, StatusCode::OK, "the other client on node B").await;

    // Enabling again does not revive the old token, but a new one works on both.
    s.cli(&["clients", "enable", "--tenant", &s.tenant, "--name", &name]);
    status_soon(&s, &b.base, &sandbox, &other, StatusCode::UNAUTHORIZED, "token from before the disable").await;
    let again = token_at(&s, &a, &name, &secret).await;
    status_soon(&s, &b.base, &sandbox, &again, StatusCode::OK, "re-enabled client on node B").await;

    // Rotating the secret: the token issued before is refused on both nodes.
    s.cli(&["clients", "rotate-secret", "--tenant", &s.tenant, "--name", &name]);
    status_soon(&s, &b.base, &sandbox, &again, StatusCode::UNAUTHORIZED, "rotated secret on node B").await;
    status_soon(&s, &a, &sandbox, &again, StatusCode::UNAUTHORIZED, "rotated secret on node A").await;
}

#[tokio::test]
async fn a_reset_instance_is_seen_by_the_other_node() {
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
    let seen = once_seen(|| get(&s, &b.base, &sandbox, &token), |answer| count(&answer.1) == 0).await;
    assert_eq!(count(&seen.1), 0, "node B sees the reset");
    // At once, even while node B may still hold the old instance (its copy of the counter
    // lags by up to one poll): a write under the old id finds it gone and runs again.
    let (status, p) = call(&s, &b.base, Method::POST, &sandbox, Some(&token), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    assert_eq!(count(&get(&s, &s.base, &sandbox, &token).await.1), 1, "node A sees node B's write");
    assert_eq!(count(&get(&s, &b.base, &sandbox, &token).await.1), 1);
}

/// An operator signed in to a node's console, posting its forms as a browser would.
struct Console {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Console {
    async fn sign_in(s: &Server, base: &str) -> Console {
        use std::io::Write;
        let name = unique("op");
        let mut child = Command::new(BIN)
            .args(["operators", "create", &name, "--password-stdin", "--database", &s.db_url])
            .env("OPENWELKIN_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "correct horse battery").unwrap();
        assert!(child.wait().unwrap().success());
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut console = Console { http, base: base.to_string(), cookie: String::new(), csrf: String::new() };
        let page = console.http.get(format!("{base}/console/sign-in")).send().await.unwrap();
        console.keep_cookies(&page);
        console.csrf = csrf_of(&page.text().await.unwrap());
        let signed = console.post("/console/sign-in", &[("name", &name), ("password", "correct horse battery")]).await;
        console.keep_cookies(&signed);
        let page = console.get(&format!("/console/admin/{}/clients", s.tenant)).await;
        console.csrf = csrf_of(&page);
        console
    }

    /// The cookies a response sets, as the `Cookie` header of the next requests.
    fn keep_cookies(&mut self, resp: &reqwest::Response) {
        let mut jar: std::collections::BTreeMap<String, String> = self
            .cookie
            .split("; ")
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for v in resp.headers().get_all(reqwest::header::SET_COOKIE) {
            let pair = v.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            jar.insert(k.to_string(), v.to_string());
        }
        self.cookie = jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    }

    async fn get(&self, path: &str) -> String {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        resp.text().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = vec![("csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success() || resp.status().is_redirection(), "{path}: {}", resp.status());
        resp
    }
}

/// The CSRF token of the first form of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    html[at..at + 64].to_string()
}

#[tokio::test]
async fn changes_made_on_one_node_are_seen_by_it_at_once_and_by_the_other_within_a_second() {
    let s = Server::start().await;
    let b = Node::start(&s.db_url);
    let a = s.base.clone();
    let console = Console::sign_in(&s, &a).await;
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let token = token_at(&s, &a, &name, &secret).await;
    let sandbox = s.sandbox("/patients");
    for base in [&a, &b.base] {
        for _ in 0..2 {
            assert_eq!(get(&s, base, &sandbox, &token).await.0, StatusCode::OK, "cached on both nodes");
        }
    }
    let clients = format!("/console/admin/{}/clients/{name}", s.tenant);

    // Disabled through node A's console: node A refuses the next request, node B soon.
    console.post(&format!("{clients}/disable"), &[]).await;
    status_now(&s, &a, &sandbox, &token, StatusCode::UNAUTHORIZED, "disabled, on node A").await;
    status_soon(&s, &b.base, &sandbox, &token, StatusCode::UNAUTHORIZED, "disabled, on node B").await;

    // Enabled again: a new token works on both.
    console.post(&format!("{clients}/enable"), &[]).await;
    let again = token_at(&s, &b.base, &name, &secret).await;
    status_now(&s, &a, &sandbox, &again, StatusCode::OK, "enabled, on node A").await;
    status_soon(&s, &b.base, &sandbox, &again, StatusCode::OK, "enabled, on node B").await;

    // The secret rotated through node A: the token from before is refused.
    assert_eq!(get(&s, &b.base, &sandbox, &again).await.0, StatusCode::OK);
    console.post(&format!("{clients}/rotate"), &[]).await;
    status_now(&s, &a, &sandbox, &again, StatusCode::UNAUTHORIZED, "rotated, on node A").await;
    status_soon(&s, &b.base, &sandbox, &again, StatusCode::UNAUTHORIZED, "rotated, on node B").await;

    // An instance created through node A's console is usable on both.
    let extra = format!("/{}/extra/patients", s.tenant);
    let admin = s.token().await;
    let (status, body) = get(&s, &b.base, &extra, &admin).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "INSTANCE_NOT_FOUND".to_string()));
    console.post(&format!("/console/admin/{}/instances", s.tenant), &[("name", "extra"), ("description", "")]).await;
    status_now(&s, &a, &extra, &admin, StatusCode::OK, "new instance on node A").await;
    status_soon(&s, &b.base, &extra, &admin, StatusCode::OK, "new instance on node B").await;
}

/// The value of a metric without labels in a scrape of `base`, if present.
async fn metric(s: &Server, base: &str, name: &str) -> Option<f64> {
    let text = s.http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Ends the listener connection of the server process `pid`; returns how many were ended.
fn terminate_listener(db_url: &str, pid: u32) -> usize {
    let sql = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'openwelkin config listener {pid}'"
    );
    common::psql_query(db_url, &sql).lines().filter(|l| l.trim() == "t").count()
}

/// Waits (at most 5 s) until the server's listener is connected.
async fn listener_connected(s: &Server) {
    let started = Instant::now();
    while metric(s, &s.base, "openwelkin_config_listener_connected").await != Some(1.0) {
        assert!(started.elapsed() < Duration::from_secs(5), "the listener did not connect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn steady_requests_take_the_counter_from_the_process() {
    let s = Server::start().await;
    let token = s.token().await;
    let sandbox = s.sandbox("/patients");
    listener_connected(&s).await;
    let reads = |reason: &str| format!(r#"openwelkin_config_fallback_reads_total{{reason="{reason}"}}"#);
    let (quiet, own) = (reads("not_listening"), reads("own_change"));
    let before = (metric(&s, &s.base, &quiet).await, metric(&s, &s.base, &own).await);
    for _ in 0..20 {
        assert_eq!(get(&s, &s.base, &sandbox, &token).await.0, StatusCode::OK);
    }
    let after = (metric(&s, &s.base, &quiet).await, metric(&s, &s.base, &own).await);
    assert_eq!(before, after, "no request read the counter from the database");
    // With the flag, every request reads it and no copy is kept.
    let plain = Server::start_with(&["--no-config-listener"]).await;
    let token = plain.token().await;
    assert_eq!(get(&plain, &plain.base, &plain.sandbox("/patients"), &token).await.0, StatusCode::OK);
    assert_eq!(metric(&plain, &plain.base, "openwelkin_config_listener_connected").await, None);
}

/// On PostgreSQL, a server whose listener is connected, its token and sandbox path.
async fn listening_server() -> Option<(Server, String, String)> {
    if !is_postgres() {
        eprintln!("skipped: SQLite has no listener connection to end (its poller reads the file)");
        return None;
    }
    let s = Server::start().await;
    let token = s.token().await;
    let sandbox = s.sandbox("/patients");
    listener_connected(&s).await;
    Some((s, token, sandbox))
}

#[tokio::test]
async fn a_change_after_the_listener_lost_its_connection_is_seen_within_a_second() {
    let Some((s, token, sandbox)) = listening_server().await else { return };
    assert_eq!(get(&s, &s.base, &sandbox, &token).await.0, StatusCode::OK);
    assert_eq!(terminate_listener(&s.db_url, s.pid()), 1, "the listener is found by its application_name");
    s.cli(&["clients", "disable", "--tenant", &s.tenant, "--name", &s.client]);
    status_soon(&s, &s.base, &sandbox, &token, StatusCode::UNAUTHORIZED, "disabled after the listener's loss").await;
    // It reconnects, and changes are seen through it again.
    listener_connected(&s).await;
    s.cli(&["clients", "enable", "--tenant", &s.tenant, "--name", &s.client]);
    let again = s.token().await;
    status_soon(&s, &s.base, &sandbox, &again, StatusCode::OK, "enabled after the reconnection").await;
    s.cli(&["clients", "rotate-secret", "--tenant", &s.tenant, "--name", &s.client]);
    status_soon(&s, &s.base, &sandbox, &again, StatusCode::UNAUTHORIZED, "rotated after the reconnection").await;
}

#[tokio::test]
async fn requests_read_the_counter_while_the_listener_is_down() {
    let Some((s, token, sandbox)) = listening_server().await else { return };
    let fallbacks = r#"openwelkin_config_fallback_reads_total{reason="not_listening"}"#;
    let before = metric(&s, &s.base, fallbacks).await.unwrap_or(0.0);
    // The listener is ended again and again: it is down nearly all of the time.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let (stop, url, pid) = (stop.clone(), s.db_url.clone(), s.pid());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                terminate_listener(&url, pid);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    for _ in 0..5 {
        assert_eq!(get(&s, &s.base, &sandbox, &token).await.0, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.cli(&["clients", "disable", "--tenant", &s.tenant, "--name", &s.client]);
    status_soon(&s, &s.base, &sandbox, &token, StatusCode::UNAUTHORIZED, "disabled while the listener is down").await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    killer.join().unwrap();
    let after = metric(&s, &s.base, fallbacks).await.unwrap_or(0.0);
    assert!(after > before, "requests read the counter themselves ({before} → {after})");
    listener_connected(&s).await;
}
