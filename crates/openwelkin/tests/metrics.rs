//! `GET /metrics` over HTTP: the Prometheus text format (checked line by line by the small
//! parser below), HTTP counters labelled by route template, the database, token, cache,
//! webhook and message metrics moving with what the server does, and `--metrics-listen`.

mod common;

use axum::http::StatusCode as AxumStatus;
use common::{is_postgres, Server, BIN};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One sample: the metric name and its labels.
type Series = (String, BTreeMap<String, String>);

/// A scrape, parsed: every sample by series, and the declared type of every family.
struct Scrape {
    samples: HashMap<Series, f64>,
    types: HashMap<String, String>,
}

impl Scrape {
    /// The sample of `name` with exactly `labels`, or 0 when absent (a counter not yet
    /// incremented has no series).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.samples.get(&(name.to_string(), labels)).copied().unwrap_or(0.0)
    }

    /// The sum of every sample of `name` whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|((n, l), _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, v)| v)
            .sum()
    }

    fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        self.samples.keys().filter(|(n, _)| n == name).filter_map(|(_, l)| l.get(label).cloned()).collect()
    }
}

/// Parses the Prometheus text exposition format (0.0.4) strictly: `# HELP` and `# TYPE`
/// lines, samples `name{label="value",…} value`, a type declared once per family and
/// before its samples, valid names, escapes and numbers, histogram buckets cumulative
/// and ending in `+Inf` equal to `_count`. Panics naming the line at fault.
fn parse(text: &str) -> Scrape {
    let mut samples = HashMap::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut seen_samples_of: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = || format!("line {}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match parts.next() {
                Some("HELP") => {
                    let name = parts.next().unwrap_or_else(|| panic!("HELP without a name, {}", at()));
                    assert!(valid_name(name), "bad metric name, {}", at());
                }
                Some("TYPE") => {
                    let name = parts.next().unwrap_or_else(|| panic!("TYPE without a name, {}", at()));
                    let kind = parts.next().unwrap_or_else(|| panic!("TYPE without a type, {}", at()));
                    assert!(valid_name(name), "bad metric name, {}", at());
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                        "unknown type, {}",
                        at()
                    );
                    assert!(!seen_samples_of.contains(&name.to_string()), "TYPE after samples, {}", at());
                    assert!(types.insert(name.to_string(), kind.to_string()).is_none(), "second TYPE, {}", at());
                }
                _ => {}
            }
            continue;
        }
        assert!(!line.starts_with('#'), "a comment needs a space after '#', {}", at());
        let (name, labels, rest) = split_sample(line).unwrap_or_else(|e| panic!("{e}, {}", at()));
        let mut fields = rest.split(' ');
        let value = parse_value(fields.next().unwrap_or_default()).unwrap_or_else(|| panic!("bad value, {}", at()));
        if let Some(ts) = fields.next() {
            assert!(ts.parse::<i64>().is_ok(), "bad timestamp, {}", at());
        }
        assert!(fields.next().is_none(), "trailing text, {}", at());
        let family = family_of(&name, &types);
        assert!(types.contains_key(&family), "sample before its TYPE, {}", at());
        seen_samples_of.push(family);
        assert!(samples.insert((name, labels), value).is_none(), "duplicate series, {}", at());
    }
    check_histograms(&samples, &types);
    Scrape { samples, types }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn family_of(name: &str, types: &HashMap<String, String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if types.get(base).is_some_and(|t| t == "histogram" || t == "summary") {
                return base.to_string();
            }
        }
    }
    name.to_string()
}

/// `name{labels} rest` → (name, labels, rest).
fn split_sample(line: &str) -> Result<(String, BTreeMap<String, String>, &str), String> {
    let end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..end];
    if !valid_name(name) {
        return Err("bad metric name".into());
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut i = 0;
        loop {
            if inner[i..].starts_with('}') {
                i += 1;
                break;
            }
            let eq = inner[i..].find('=').ok_or("label without '='")? + i;
            let key = &inner[i..eq];
            if !valid_name(key) || key.contains(':') {
                return Err(format!("bad label name {key:?}"));
            }
            if !inner[eq + 1..].starts_with('"') {
                return Err("label value not quoted".into());
            }
            i = eq + 2;
            let mut value = String::new();
            let mut escaped = false;
            loop {
                let c = inner[i..].chars().next().ok_or("unclosed label value")?;
                i += c.len_utf8();
                match (escaped, c) {
                    (false, '"') => break,
                    (false, '\\') => escaped = true,
                    (true, '\\' | '"') => {
                        value.push(c);
                        escaped = false;
                    }
                    (true, 'n') => {
                        value.push('\n');
                        escaped = false;
                    }
                    (true, c) => return Err(format!("bad escape \\{c}")),
                    (false, c) => value.push(c),
                }
            }
            if labels.insert(key.to_string(), value).is_some() {
                return Err(format!("label {key} twice"));
            }
            if inner[i..].starts_with(',') {
                i += 1;
            } else if !inner[i..].starts_with('}') {
                return Err("expected ',' or '}' after a label".into());
            }
        }
        rest = &inner[i..];
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    Ok((name.to_string(), labels, rest))
}

fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => v.parse().ok(),
    }
}

fn check_histograms(samples: &HashMap<Series, f64>, types: &HashMap<String, String>) {
    for (family, _) in types.iter().filter(|(_, t)| *t == "histogram") {
        let bucket = format!("{family}_bucket");
        let mut by_series: HashMap<BTreeMap<String, String>, Vec<(f64, f64)>> = HashMap::new();
        for ((name, labels), value) in samples {
            if *name == bucket {
                let mut rest = labels.clone();
                let le = parse_value(&rest.remove("le").expect("a bucket has le")).expect("le is a number");
                by_series.entry(rest).or_default().push((le, *value));
            }
        }
        for (labels, mut buckets) in by_series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{family} {labels:?}: buckets not cumulative");
            let (le, top) = *buckets.last().unwrap();
            assert_eq!(le, f64::INFINITY, "{family} {labels:?}: no +Inf bucket");
            let count = samples.get(&(format!("{family}_count"), labels.clone())).copied();
            assert_eq!(count, Some(top), "{family} {labels:?}: _count is the +Inf bucket");
            assert!(samples.contains_key(&(format!("{family}_sum"), labels.clone())), "{family}: no _sum");
        }
    }
}

async fn scrape_at(http: &reqwest::Client, url: &str) -> Scrape {
    let resp = http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    parse(&resp.text().await.unwrap())
}

async fn scrape(s: &Server) -> Scrape {
    scrape_at(&s.http, &s.url("/metrics")).await
}

/// Scrapes until `done` holds (background work and the one-second backlog count), at most
/// 30 s; returns the last scrape.
async fn scrape_until(s: &Server, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = scrape(s).await;
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const REQUESTS: &str = "openwelkin_http_requests_total";
const DURATION_COUNT: &str = "openwelkin_http_request_duration_seconds_count";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_counted_by_route_template_method_and_status() {
    let s = Server::start().await;
    let token = s.token().await;
    let before = scrape(&s).await;
    let created = s.create_patient(&token, json!({"firstName": "Ada", "lastName": "Metrics"})).await;
    let id = created["id"].as_str().unwrap().to_string();
    let missing = "7f0e7b3c-0000-4000-8000-000000000000";
    let (status, _) = s.get(&s.sandbox(&format!("/patients/{missing}")), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.get(&format!("/no/such/{id}/route"), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.call(Method::from_bytes(b"BREW").unwrap(), &s.sandbox("/patients"), Some(&token), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let after = scrape(&s).await;

    let delta = |name: &str, labels: &[(&str, &str)]| after.value(name, labels) - before.value(name, labels);
    let create = [("route", "/{tenant}/{instance}/patients"), ("method", "POST"), ("status", "201")];
    let read = [("route", "/{tenant}/{instance}/patients/{patientId}"), ("method", "GET"), ("status", "404")];
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("status", "404")];
    let other = [("route", "/{tenant}/{instance}/patients"), ("method", "OTHER"), ("status", "405")];
    for labels in [&create[..], &read, &unmatched, &other] {
        assert_eq!(delta(REQUESTS, labels), 1.0, "{labels:?}");
        assert_eq!(delta(DURATION_COUNT, labels), 1.0, "{labels:?}");
    }
    assert_eq!(after.types[REQUESTS], "counter");
    assert_eq!(after.types["openwelkin_http_request_duration_seconds"], "histogram");
    assert!(after.value("openwelkin_http_request_duration_seconds_sum", &create) > 0.0);

    // No id, tenant or instance name is ever a label value: only templates.
    let routes = after.label_values(REQUESTS, "route");
    assert!(routes.iter().all(|r| r == "unmatched" || r.starts_with('/')), "{routes:?}");
    for r in &routes {
        assert!(!r.contains(&id) && !r.contains(missing) && !r.contains(&s.tenant) && !r.contains("sandbox"), "{r}");
    }
    let text = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains(&id) && !text.contains(&s.tenant) && !text.contains(&s.client), "no data in the metrics");

    // The database: transactions committed, statements run, the pool's gauges.
    let commits =
        after.sum("openwelkin_db_transaction_duration_seconds_count", &[("kind", "write"), ("outcome", "commit")]);
    assert!(commits >= 1.0, "the create committed a transaction");
    assert!(after.value("openwelkin_db_commit_duration_seconds_count", &[]) >= 1.0);
    assert!(after.value("openwelkin_db_query_duration_seconds_count", &[]) >= 1.0);
    // Also on SQLite, where a create takes the writer only at its commit.
    let waits = delta("openwelkin_db_acquire_duration_seconds_count", &[("kind", "write")]);
    assert!(waits >= 1.0, "the create's wait for a write connection is measured: {waits}");
    let backend = if is_postgres() { "postgres" } else { "sqlite" };
    assert_eq!(
        after.value("openwelkin_build_info", &[("version", env!("CARGO_PKG_VERSION")), ("backend", backend)]),
        1.0
    );
    let pool = if is_postgres() { "postgres" } else { "sqlite_writer" };
    assert!(after.value("openwelkin_db_connections_max", &[("pool", pool)]) >= 1.0);
    assert!(after.types.contains_key("openwelkin_db_waiting"));
    // The configuration cache: the second request found the tenant the first one read.
    let hits = |m: &Scrape| m.value("openwelkin_cache_lookups_total", &[("cache", "tenant"), ("result", "hit")]);
    assert!(hits(&after) > hits(&before), "cache hits counted");
    // This scrape is in flight while it renders.
    assert!(after.value("openwelkin_http_requests_in_flight", &[]) >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_issues_refusals_and_bearer_rejections_are_counted() {
    let s = Server::start().await;
    let before = scrape(&s).await;
    let token = s.token().await;
    let (status, _) = s
        .call(
            Method::POST,
            &format!("/{}/admin/api_clients/{}", s.tenant, s.client),
            None,
            Some(json!({"secret": "nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = s.call(Method::GET, &s.sandbox("/patients"), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = s.get(&s.sandbox("/patients"), "not.a.token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    s.cli(&["clients", "disable", "--tenant", &s.tenant, "--name", &s.client]);
    let (status, _) = s.get_once_seen(&s.sandbox("/patients"), &token, StatusCode::UNAUTHORIZED).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let after = scrape(&s).await;
    let delta = |name: &str, labels: &[(&str, &str)]| after.value(name, labels) - before.value(name, labels);
    assert_eq!(delta("openwelkin_tokens_issued_total", &[]), 1.0);
    assert_eq!(delta("openwelkin_token_refusals_total", &[("reason", "bad_credentials")]), 1.0);
    assert_eq!(delta("openwelkin_token_refusals_total", &[("reason", "throttled")]), 0.0);
    for reason in ["missing", "invalid", "revoked"] {
        assert_eq!(delta("openwelkin_bearer_rejections_total", &[("reason", reason)]), 1.0, "{reason}");
    }
    // Registered at zero from the start, so that rate() sees them before the first event.
    assert!(before.samples.contains_key(&(
        "openwelkin_token_refusals_total".to_string(),
        [("reason".to_string(), "throttled".to_string())].into()
    )));
}

/// A webhook receiver that fails until told to accept.
#[derive(Clone, Default)]
struct Receiver {
    accept: Arc<AtomicBool>,
    got: Arc<AtomicUsize>,
}

async fn start_receiver() -> (String, Receiver) {
    let r = Receiver::default();
    let state = r.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let r = state.clone();
            async move {
                r.got.fetch_add(1, Ordering::SeqCst);
                if r.accept.load(Ordering::SeqCst) {
                    AxumStatus::OK
                } else {
                    AxumStatus::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, r)
}

/// The fixture designer plus a webhook on patient creation to `url`.
fn designer_with_webhook(url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copied = Command::new("cp")
        .args(["-r", &format!("{}/.", common::FIXTURE_DESIGNER), dir.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copied.success());
    std::fs::create_dir_all(dir.path().join("webhooks")).unwrap();
    let hook = json!({"name": "wh-metrics", "title": "Metrics", "url": url, "events": ["PATIENT_CREATED"]});
    std::fs::write(dir.path().join("webhooks/metrics.json"), hook.to_string()).unwrap();
    dir
}

const ATTEMPTS: &str = "openwelkin_webhook_attempts_total";
const BACKLOG: &str = "openwelkin_webhook_backlog";
const LAG: &str = "openwelkin_webhook_lag_seconds";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_attempts_failures_backlog_and_lag_follow_the_deliveries() {
    let (url, receiver) = start_receiver().await;
    // A database of its own on PostgreSQL: the backlog is database-wide and only this
    // server's worker may deliver.
    let s = Server::start_isolated(&["--allow-private-webhooks", "--webhook-retry-base-ms", "200"]).await;
    let designer = designer_with_webhook(&url);
    s.cli(&["designer", "apply", designer.path().to_str().unwrap(), "--tenant", &s.tenant]);
    let token = s.token().await;
    let (status, body) = s.call(Method::POST, &s.sandbox("/webhooks/wh-metrics/activate"), Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = scrape(&s).await;
    s.create_patient(&token, json!({"firstName": "Hook", "lastName": "Metrics"})).await;

    // The receiver refuses: failed attempts, one delivery pending and ageing.
    let failing = scrape_until(&s, "a failed attempt and a pending delivery", |m| {
        m.value(ATTEMPTS, &[("outcome", "failed")]) > before.value(ATTEMPTS, &[("outcome", "failed")])
            && m.value(BACKLOG, &[("stage", "delivery")]) == 1.0
            && m.value(LAG, &[("stage", "delivery")]) > 0.0
    })
    .await;
    assert_eq!(
        failing.value(ATTEMPTS, &[("outcome", "delivered")]),
        before.value(ATTEMPTS, &[("outcome", "delivered")])
    );
    assert!(receiver.got.load(Ordering::SeqCst) >= 1);
    assert!(failing.value("openwelkin_webhook_attempt_duration_seconds_count", &[]) >= 1.0);

    // It accepts: delivered once, nothing pending any more.
    receiver.accept.store(true, Ordering::SeqCst);
    let done = scrape_until(&s, "the delivery", |m| {
        m.value(ATTEMPTS, &[("outcome", "delivered")]) == before.value(ATTEMPTS, &[("outcome", "delivered")]) + 1.0
            && m.value(BACKLOG, &[("stage", "delivery")]) == 0.0
    })
    .await;
    assert_eq!(done.value(LAG, &[("stage", "delivery")]), 0.0);
    assert_eq!(done.value("openwelkin_webhook_deliveries_abandoned_total", &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_not_fanned_out_are_the_fan_out_backlog() {
    // No worker: every write's outbox event waits.
    let s = Server::start_isolated(&["--no-webhook-worker"]).await;
    s.switch_on_a_webhook(); // events are queued only where a webhook is on
    let token = s.token().await;
    let before = scrape_until(&s, "a first count", |m| m.types.contains_key(BACKLOG)).await;
    let waiting = before.value(BACKLOG, &[("stage", "fan_out")]);
    s.create_patient(&token, json!({"firstName": "Queued", "lastName": "One"})).await;
    s.create_patient(&token, json!({"firstName": "Queued", "lastName": "Two"})).await;
    let m = scrape_until(&s, "two more events waiting", |m| m.value(BACKLOG, &[("stage", "fan_out")]) == waiting + 2.0)
        .await;
    assert!(m.value(BACKLOG, &[("stage", "delivery")]) == 0.0);
    scrape_until(&s, "the lag to grow past a second", |m| m.value(LAG, &[("stage", "fan_out")]) >= 1.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_and_email_sends_are_counted_by_provider_and_outcome() {
    // Other servers' email dispatchers may not take this one's emails.
    let s = Server::start_isolated(&["--no-webhook-worker"]).await;
    let token = s.token().await;
    let (status, user) = s
        .post(
            &format!("/{}/admin/users", s.tenant),
            &token,
            json!({"username": "msend", "email": "msend@clinic.example.org", "firstName": "M", "lastName": "Send"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let p = s
        .create_patient(
            &token,
            json!({"firstName": "Text", "lastName": "Me", "phone": "+15625345678", "email": "text.me@example.org",
                   "timezone": "America/Los_Angeles", "careTeam": [{"id": user["id"], "pointOfContact": true}]}),
        )
        .await;
    let pid = p["id"].as_str().unwrap();
    let (status, line) =
        s.post(&s.sandbox("/communication-ids"), &token, json!({"channel": "SMS", "value": "+15625345699"})).await;
    assert_eq!(status, StatusCode::CREATED, "{line}");
    let before = scrape(&s).await;
    let (status, sms) =
        s.post(&s.sandbox(&format!("/patients/{pid}/sms")), &token, json!({"message": "Hello", "sendNow": true})).await;
    assert_eq!(status, StatusCode::CREATED, "{sms}");
    assert_eq!(sms["status"], "SENT");
    let (status, email) = s
        .post(
            &s.sandbox(&format!("/patients/{pid}/emails")),
            &token,
            json!({"subject": "Hi", "body": "Hello.", "sendNow": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{email}");
    let sent = [("provider", "outbox"), ("outcome", "sent")];
    let delivered = [("provider", "outbox"), ("outcome", "delivered")];
    let m = scrape_until(&s, "the email's delivery", |m| {
        m.value("openwelkin_email_sends_total", &delivered)
            == before.value("openwelkin_email_sends_total", &delivered) + 1.0
    })
    .await;
    assert_eq!(m.value("openwelkin_sms_sends_total", &sent), before.value("openwelkin_sms_sends_total", &sent) + 1.0);
    assert_eq!(m.sum("openwelkin_sms_sends_total", &[("outcome", "failed")]), 0.0);
}

/// A server process started by the test with its own flags, whose standard output is read
/// until it listens (the metrics line comes before). Killed when dropped.
struct Process {
    child: Child,
    base: String,
    metrics: Option<String>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db_url: &str, flags: &[&str]) -> Process {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", db_url, "--no-webhook-worker"])
        .args(flags)
        .env("OPENWELKIN_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut metrics = None;
    let base = loop {
        let line = lines.next().expect("the server prints its address").unwrap();
        if let Some(url) = line.strip_prefix("openwelkin metrics on ") {
            metrics = Some(url.trim().to_string());
        }
        if let Some(addr) = line.strip_prefix("openwelkin listening on ") {
            break addr.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Process { child, base, metrics }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_metrics_listen_the_metrics_are_on_that_address_only() {
    let mut s = Server::start().await;
    s.kill9();
    let p = serve(&s.db_url, &["--metrics-listen", "127.0.0.1:0"]);
    s.base = p.base.clone();
    let url = p.metrics.clone().expect("the metrics address is printed");
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"), "{url}");
    assert_ne!(url.trim_end_matches("/metrics"), p.base);

    let (status, body) = s.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not on the API's listener: {body}");
    assert_eq!(common::error_code(&body), "NOT_FOUND");

    let token = s.token().await;
    s.create_patient(&token, json!({"firstName": "Elsewhere", "lastName": "Scraped"})).await;
    let m = scrape_at(&s.http, &url).await;
    let create = [("route", "/{tenant}/{instance}/patients"), ("method", "POST"), ("status", "201")];
    assert_eq!(m.value(REQUESTS, &create), 1.0, "the API's requests are counted");
    assert_eq!(m.sum(REQUESTS, &[("route", "/metrics")]), 0.0, "scrapes are not API requests");

    let other = s.http.get(url.replace("/metrics", "/healthz")).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "only /metrics there");
}

#[test]
fn the_parser_accepts_the_format_and_refuses_what_is_not() {
    let good = "# HELP a_total Things.\n# TYPE a_total counter\na_total{k=\"v \\\"q\\\" \\\\ \\n\",b=\"\"} 3\n\
                # TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.7\nh_count 2\n";
    let m = parse(good);
    assert_eq!(m.value("a_total", &[("k", "v \"q\" \\ \n"), ("b", "")]), 3.0);
    for bad in [
        "a_total 1\n",                                                                             // no TYPE
        "# TYPE a counter\na{k=v} 1\n",                                                            // unquoted value
        "# TYPE a counter\na{k=\"v\"}1\n",                                                         // no space
        "# TYPE a counter\na{k=\"v\" 1\n",                                                         // unclosed
        "# TYPE a counter\na 1 2 3\n",                                                             // trailing text
        "# TYPE a counter\na one\n",                                                               // not a number
        "# TYPE a counter\n# TYPE a gauge\na 1\n",                                                 // two types
        "# TYPE 1a counter\n",                                                                     // bad name
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", // not cumulative
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",                       // count differs
    ] {
        assert!(std::panic::catch_unwind(|| parse(bad)).is_err(), "accepted: {bad:?}");
    }
}
