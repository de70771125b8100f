//! Black-box harness: runs the real `openwelkin` binary on port 0 against a fresh SQLite
//! file, or against the PostgreSQL named by `OPENWELKIN_TEST_DATABASE` (shared by a test
//! run; each test works in its own randomly named tenant), and talks to it over HTTP.
#![allow(dead_code)]

pub mod pg_cluster;
pub mod tls;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_openwelkin");
pub const FIXTURE_DESIGNER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/designer");

pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub db_url: String,
    pub tenant: String,
    pub client: String,
    pub secret: String,
    pub http: reqwest::Client,
    /// Extra `serve` flags.
    pub serve_args: Vec<String>,
    _dir: Option<tempfile::TempDir>,
    /// A PostgreSQL database made for this server alone (`start_isolated`), dropped with it.
    own_database: Option<String>,
}

/// A server process a test started on its own, killed when dropped.
pub struct Serving(pub Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// PostgreSQL has no file beside which to keep uploaded files, so a server or CLI on it
/// defaults to `./openwelkin-files`: under `cargo test`, a folder in the crate's source tree.
/// Commands on a PostgreSQL database get one temporary folder per database instead (the
/// server and the CLI still agree), unless a test chose one.
fn files_outside_the_tree(command: &mut Command) {
    let url = command.get_args().filter_map(|a| a.to_str()).find(|a| a.starts_with("postgres")).map(str::to_string);
    let chosen =
        command.get_envs().any(|(k, _)| k == "OPENWELKIN_FILES_DIR") || command.get_args().any(|a| a == "--files-dir");
    if let (Some(url), false) = (url, chosen) {
        let name = url.rsplit('/').next().unwrap_or_default().split('?').next().unwrap_or_default().to_string();
        command.env("OPENWELKIN_FILES_DIR", std::env::temp_dir().join(format!("openwelkin-test-files-{name}")));
    }
}

/// Spawns an `openwelkin serve` command and waits for its "listening" line; returns the
/// process and the base URL it printed.
pub fn spawn_serving(command: &mut Command) -> (Child, String) {
    files_outside_the_tree(command);
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(addr) = line.strip_prefix("openwelkin listening on ") {
            break addr.trim().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{:08x}", rand_u32())
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos() ^ std::process::id() as u128);
    h.finish() as u32
}

/// A copy of the test designer (`tests/fixtures/designer`) that a test may add to.
pub fn designer_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copy = Command::new("cp")
        .args(["-r", &format!("{FIXTURE_DESIGNER}/."), dir.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copy.success());
    dir
}

pub fn is_postgres() -> bool {
    std::env::var("OPENWELKIN_TEST_DATABASE").is_ok_and(|u| u.starts_with("postgres"))
}

/// Runs one statement with `psql` on the PostgreSQL database `db_url` names and answers
/// its rows as `psql -tA` prints them (one per line, columns joined by `|`); panics with
/// psql's error when it fails.
pub fn psql_query(db_url: &str, sql: &str) -> String {
    let out = Command::new("psql").args([db_url, "-tAc", sql]).output().expect("psql runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("psql prints UTF-8")
}

/// Runs an admin subcommand against `db_url`; panics with its output when it fails.
pub fn cli(db_url: &str, args: &[&str]) -> String {
    let out = cli_output(db_url, args);
    assert!(out.status.success(), "openwelkin {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn cli_output(db_url: &str, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).args(["--database", db_url]).env("OPENWELKIN_LOG", "warn");
    files_outside_the_tree(&mut command);
    command.output().unwrap()
}

/// The `secret: …` line a client command prints.
pub fn secret_of(output: &str) -> String {
    output.lines().find_map(|l| l.strip_prefix("secret: ")).expect("secret line").trim().to_string()
}

impl Server {
    /// A server with a new tenant (instances `live` and `sandbox`) and an all-access client.
    pub async fn start() -> Server {
        // Test servers share a PostgreSQL database: only the webhook tests run delivery
        // workers, with the settings they need.
        Server::start_with(&["--no-webhook-worker"]).await
    }

    /// The same, with extra `serve` flags.
    pub async fn start_with(serve_args: &[&str]) -> Server {
        let (db_url, dir) = match std::env::var("OPENWELKIN_TEST_DATABASE") {
            Ok(url) if url.starts_with("postgres") => (url, None),
            _ => {
                let dir = tempfile::tempdir().unwrap();
                (format!("sqlite://{}", dir.path().join("test.db").display()), Some(dir))
            }
        };
        Server::start_on(db_url, dir, serve_args)
    }

    /// A server on the given database (the temporary directory, if any, is kept as long
    /// as the server).
    pub fn start_on(db_url: String, dir: Option<tempfile::TempDir>, serve_args: &[&str]) -> Server {
        let tenant = unique("t");
        cli(&db_url, &["tenants", "create", &tenant, "--instances", "live,sandbox"]);
        let client = unique("C").to_uppercase();
        let secret =
            secret_of(&cli(&db_url, &["clients", "create", "--tenant", &tenant, "--name", &client, "--all-access"]));
        let mut server = Server {
            child: None,
            base: String::new(),
            db_url,
            tenant,
            client,
            secret,
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
            serve_args: serve_args.iter().map(|a| a.to_string()).collect(),
            _dir: dir,
            own_database: None,
        };
        server.spawn();
        server
    }

    /// A server whose tenant has the test designer (`tests/fixtures/designer`) published
    /// to both instances.
    pub async fn with_designer() -> Server {
        let s = Server::start().await;
        s.cli(&["designer", "apply", FIXTURE_DESIGNER, "--tenant", &s.tenant]);
        s
    }

    /// Switches a webhook on in the sandbox, so that writes there queue their events in the
    /// outbox (an event is queued only where a webhook is on): the test designer with a
    /// webhook added is published, and the webhook activated. It subscribes to patient
    /// deletions only and its address is refused, so nothing is delivered by accident.
    pub fn switch_on_a_webhook(&self) {
        let dir = designer_copy();
        std::fs::create_dir_all(dir.path().join("webhooks")).unwrap();
        let hook = json!({
            "name": "wh-queue", "title": "Queue", "url": "http://127.0.0.1:9/never", "events": ["PATIENT_DELETED"]
        });
        std::fs::write(dir.path().join("webhooks/queue.json"), hook.to_string()).unwrap();
        self.cli(&["designer", "apply", dir.path().to_str().unwrap(), "--tenant", &self.tenant]);
        self.cli(&["webhooks", "activate", "--tenant", &self.tenant, "--instance", "sandbox", "--name", "wh-queue"]);
    }

    /// Starts (again) the server process on the same database.
    pub fn spawn(&mut self) {
        let (child, base) = spawn_serving(
            Command::new(BIN)
                .args(["serve", "--listen", "127.0.0.1:0", "--database", &self.db_url])
                .args(&self.serve_args)
                .env("OPENWELKIN_LOG", "warn"),
        );
        self.base = base;
        self.child = Some(child);
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server runs").id()
    }

    /// SIGKILL: no chance to flush or shut down cleanly.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn cli(&self, args: &[&str]) -> String {
        cli(&self.db_url, args)
    }

    /// Creates another client in this tenant with the given policy JSON (and instances).
    pub fn client_with_policy(&self, policy: &Value, instances: Option<&str>) -> (String, String) {
        let name = unique("P").to_uppercase();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), policy.to_string()).unwrap();
        let path = file.path().to_str().unwrap().to_string();
        let mut args = vec!["clients", "create", "--tenant", &self.tenant, "--name", &name, "--policy", &path];
        if let Some(i) = instances {
            args.extend(["--instances", i]);
        }
        let secret = secret_of(&self.cli(&args));
        (name, secret)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A data route of this tenant's `sandbox` instance.
    pub fn sandbox(&self, path: &str) -> String {
        format!("/{}/sandbox{}", self.tenant, path)
    }

    pub async fn token_for(&self, client: &str, secret: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/{}/admin/api_clients/{client}", self.tenant),
                None,
                Some(json!({"secret": secret})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn token(&self) -> String {
        self.token_for(&self.client.clone(), &self.secret.clone()).await
    }

    /// One request; returns the status and the body (JSON, or a string, or null if empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// `get` after a configuration change made outside this server (the CLI): the answer
    /// once it is `want`, polling for under `config_delay()`; else the last answer.
    pub async fn get_once_seen(&self, path: &str, token: &str, want: StatusCode) -> (StatusCode, Value) {
        once_seen(|| self.get(path, token), |answer| answer.0 == want).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Sends two requests to one path at the same moment (the race a lost update needs)
    /// and returns both answers.
    pub async fn both_at_once(
        &self,
        method: Method,
        path: &str,
        token: &str,
        a: Value,
        b: Value,
    ) -> ((StatusCode, Value), (StatusCode, Value)) {
        tokio::join!(
            self.call(method.clone(), path, Some(token), Some(a)),
            self.call(method, path, Some(token), Some(b))
        )
    }

    /// Rounds of two simultaneous PATCHes of different fields of the record at `path`
    /// (at most `rounds`, and at most 60 s). `round(i)` gives the two bodies and what the
    /// record read back from `path` must then show, as (JSON pointer, value) pairs: both
    /// changes, when both were answered 200. Returns the rounds that went wrong.
    pub async fn racing_patches(
        &self,
        path: &str,
        token: &str,
        rounds: usize,
        round: impl Fn(usize) -> (Value, Value, Vec<(&'static str, Value)>),
    ) -> Vec<String> {
        let started = Instant::now();
        let mut failures = Vec::new();
        for i in 0..rounds {
            if i > 0 && started.elapsed() > Duration::from_secs(60) {
                break;
            }
            let (a, b, expected) = round(i);
            let ((sa, ra), (sb, rb)) = self.both_at_once(Method::PATCH, path, token, a, b).await;
            if sa != StatusCode::OK || sb != StatusCode::OK {
                failures.push(format!("round {i}: answered {sa} {ra} / {sb} {rb}"));
                continue;
            }
            let (_, read) = self.get(path, token).await;
            for (pointer, value) in expected {
                let got = read.pointer(pointer).cloned().unwrap_or(Value::Null);
                if got != value {
                    failures.push(format!("round {i}: lost update: {pointer} is {got}, expected {value}"));
                }
            }
        }
        failures
    }

    /// Sends `bodies` to one path all at once and returns the answers in order.
    pub async fn all_at_once(
        &self,
        method: Method,
        path: &str,
        token: &str,
        bodies: Vec<Value>,
    ) -> Vec<(StatusCode, Value)> {
        let calls = bodies.into_iter().map(|b| self.call(method.clone(), path, Some(token), Some(b)));
        futures::future::join_all(calls).await
    }

    pub async fn create_patient(&self, token: &str, body: Value) -> Value {
        let (status, patient) = self.post(&self.sandbox("/patients"), token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{patient}");
        patient
    }

    /// Total number of patients in the sandbox matching a `query`.
    pub async fn count_patients(&self, token: &str, query: &str) -> i64 {
        let (status, page) = self.get(&self.sandbox(&format!("/patients?query={query}")), token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["totalElements"].as_i64().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        if let Some(name) = self.own_database.take() {
            let _ = psql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

/// Runs one statement against the `test` database of the PostgreSQL the tests use.
fn psql(sql: &str) -> std::process::ExitStatus {
    Command::new("psql")
        .args(["-q", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "test", "-c", sql])
        .status()
        .expect("psql runs")
}

impl Server {
    /// As `start_with`, but on PostgreSQL on a database of its own: for tests whose
    /// outcome depends on this server's flags for work any node of a database may do (the
    /// webhook delivery workers of other tests' servers share the test database).
    pub async fn start_isolated(serve_args: &[&str]) -> Server {
        let Ok(shared) = std::env::var("OPENWELKIN_TEST_DATABASE") else {
            return Server::start_with(serve_args).await;
        };
        if !shared.starts_with("postgres") {
            return Server::start_with(serve_args).await;
        }
        let name = unique("openwelkin_isolated_");
        assert!(psql(&format!("CREATE DATABASE \"{name}\"")).success(), "CREATE DATABASE {name}");
        let base = shared.rsplit_once('/').map(|(b, _)| b).expect("a database URL with a name");
        let mut server = Server::start_on(format!("{base}/{name}"), None, serve_args);
        server.own_database = Some(name);
        server
    }
}

impl Server {
    /// Another server process on `db_url` (a copy of this server's database, say), with
    /// this server's tenant, client and secret and the same flags.
    pub fn serve_copy(&self, db_url: &str) -> Server {
        let mut copy = Server {
            child: None,
            base: String::new(),
            db_url: db_url.to_string(),
            tenant: self.tenant.clone(),
            client: self.client.clone(),
            secret: self.secret.clone(),
            http: self.http.clone(),
            serve_args: self.serve_args.clone(),
            _dir: None,
            own_database: None,
        };
        copy.spawn();
        copy
    }
}

/// Asserts the Welkin error format and returns the first error code.
pub fn error_code(body: &Value) -> String {
    let items = body.as_array().unwrap_or_else(|| panic!("error body is not an array: {body}"));
    let first = &items[0];
    for key in ["errorCode", "componentType", "message", "details"] {
        assert!(first.get(key).is_some(), "error item lacks {key}: {body}");
    }
    first["errorCode"].as_str().unwrap().to_string()
}

/// How long a running server may take to see a configuration change made outside it (the
/// CLI, another node): under a second, as it keeps the configuration counter in the process
/// (store/config_watch.rs: LISTEN/NOTIFY on PostgreSQL, a read every 50 ms on SQLite).
pub fn config_delay() -> Duration {
    Duration::from_secs(1)
}

/// Runs `f` until `done` holds of its answer, every 50 ms for less than `config_delay()`,
/// and returns the last answer: the caller asserts on it.
pub async fn once_seen<T, Fut: std::future::Future<Output = T>>(
    mut f: impl FnMut() -> Fut,
    done: impl Fn(&T) -> bool,
) -> T {
    let started = Instant::now();
    loop {
        let answer = f().await;
        if done(&answer) || started.elapsed() + Duration::from_millis(50) >= config_delay() {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn wait_until(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A webhook receiver on `listener`: answers every request with 200 and counts them.
pub fn counting_receiver(listener: tokio::net::TcpListener) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = received.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let counter = counter.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = vec![0u8; 65536];
                let _ = sock.read(&mut buf).await;
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
            });
        }
    });
    received
}
