//! The log stream of `serve`: `--log-format json` writes one JSON object per line, with an
//! access line per request carrying the request id the response returned; text logs have
//! no colour when standard error is not a terminal; the access log is on by default; no
//! secret (client secret, bearer token) is ever written.

mod common;

use common::{Server, BIN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A server process whose standard error the test reads. Killed when dropped.
struct Logged {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Logged {
    /// Waits (at most 10 s) until a line satisfies `f`; returns it.
    fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.lines.lock().unwrap().iter().find(|l| f(l)) {
                return line.clone();
            }
            assert!(Instant::now() < deadline, "no log line {what}; got {:?}", self.lines.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Restarts `s`'s server with `flags` and `OPENWELKIN_LOG` (unset for `None`), reading its
/// standard error (a pipe, not a terminal).
fn restart_logged(s: &mut Server, flags: &[&str], level: Option<&str>) -> Logged {
    s.kill9();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--database", &s.db_url, "--no-webhook-worker"])
        .args(flags)
        .env_remove("OPENWELKIN_LOG")
        .env_remove("OPENWELKIN_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(level) = level {
        cmd.env("OPENWELKIN_LOG", level);
    }
    let mut child = cmd.spawn().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            sink.lock().unwrap().push(line.unwrap());
        }
    });
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    s.base = loop {
        let line = out.next().expect("the server prints its address").unwrap();
        if let Some(addr) = line.strip_prefix("openwelkin listening on ") {
            break addr.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in out {});
    Logged { child, lines }
}

/// Sends a request and returns its status and the `x-request-id` it was answered with.
async fn request(s: &Server, path: &str, token: Option<&str>, id: Option<&str>) -> (StatusCode, String) {
    let mut req = s.http.get(s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(id) = id {
        req = req.header("x-request-id", id);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.headers()["x-request-id"].to_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_and_access_lines_carry_the_request_id() {
    let mut s = Server::start().await;
    let logged = restart_logged(&mut s, &["--log-format", "json"], Some("info"));
    let token = s.token().await;
    let patient = s.create_patient(&token, json!({"firstName": "Log", "lastName": "Json"})).await;
    let id = patient["id"].as_str().unwrap();
    let (status, rid) = request(&s, &s.sandbox(&format!("/patients/{id}")), Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, given) = request(&s, "/no/such/route", None, Some("client-chosen-id-42")).await;
    assert_eq!((status, given.as_str()), (StatusCode::NOT_FOUND, "client-chosen-id-42"), "a client's id is kept");

    let access = |rid: &str| {
        let rid = rid.to_string();
        let line = logged.wait_for(&format!("for request {rid}"), move |l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| v["request_id"] == rid.as_str())
        });
        serde_json::from_str::<Value>(&line).unwrap()
    };
    let read = access(&rid);
    assert_eq!(read["target"], "openwelkin::access");
    assert_eq!(read["level"], "INFO");
    assert_eq!(read["message"], "request");
    assert_eq!(read["method"], "GET");
    assert_eq!(read["route"], "/{tenant}/{instance}/patients/{patientId}");
    assert_eq!(read["path"], s.sandbox(&format!("/patients/{id}")));
    assert_eq!(read["status"], 200);
    assert!(read["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{read}");
    assert!(read["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{read}");
    let unmatched = access("client-chosen-id-42");
    assert_eq!((unmatched["route"].clone(), unmatched["status"].clone()), (json!("unmatched"), json!(404)));

    let lines = logged.lines.lock().unwrap().clone();
    assert!(lines.len() >= 4, "ready, and an access line per request: {lines:?}");
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for key in ["timestamp", "level", "message", "target"] {
            assert!(v.get(key).is_some(), "no {key}: {line}");
        }
        assert!(!line.contains(&s.secret) && !line.contains(&token), "a secret in the log: {line}");
    }
    assert!(lines.iter().any(|l| l.contains("\"message\":\"ready\"")), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_have_no_colour_off_a_terminal_and_the_access_log_is_on_by_default() {
    let mut s = Server::start().await;
    let logged = restart_logged(&mut s, &[], None);
    let (status, rid) = request(&s, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let line = logged.wait_for("for /healthz", |l| l.contains(&rid));
    assert!(line.contains(" INFO openwelkin::access: request "), "{line}");
    assert!(line.contains("route=/healthz") && line.contains("status=200"), "{line}");
    for line in logged.lines.lock().unwrap().iter() {
        assert!(!line.contains('\x1b'), "colour codes in a pipe: {line:?}");
    }

    // The filter still applies: at warn, no access line.
    let quiet = restart_logged(&mut s, &[], Some("warn"));
    let (_, rid) = request(&s, "/healthz", None, None).await;
    let (_, after) = request(&s, "/openapi.json", None, None).await;
    std::thread::sleep(Duration::from_millis(300));
    let lines = quiet.lines.lock().unwrap().clone();
    assert!(!lines.iter().any(|l| l.contains(&rid) || l.contains(&after)), "{lines:?}");
}
