//! The network edge of `serve`: HTTPS of its own (`--tls-cert/--tls-key`, HTTP/2 and
//! HTTP/1.1 by ALPN, nothing older than TLS 1.2), and the limits on connections: a slow
//! request head, an idle connection and a late body are dropped, connections over the
//! cap wait, and the memory of closed connections is given back.

mod common;

use common::tls::Pki;
use common::Server;
use reqwest::{Method, StatusCode, Version};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn host_port(s: &Server) -> String {
    s.base.split("://").nth(1).unwrap().to_string()
}

async fn connect(s: &Server) -> TcpStream {
    let addr = host_port(s);
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    TcpStream::connect(addr).await.unwrap()
}

/// Reads until the peer closes (answers the bytes read) or `limit` passes (answers None).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let end = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one response with a Content-Length body (a keep-alive connection stays open).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "closed before a whole response: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

/// A ClientHello offering only `version` (0x0302: TLS 1.1; 0x0303: TLS 1.2), with ECDHE
/// suites and the extensions a TLS 1.2 server needs.
fn client_hello(version: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(version.to_be_bytes());
    body.extend([7u8; 32]);
    body.push(0);
    let suites: [u16; 6] = [0xc02b, 0xc02f, 0xc013, 0xc014, 0x002f, 0x0035];
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]);
    let mut ext = Vec::new();
    ext.extend([0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]); // groups: x25519, P-256
    ext.extend([0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]); // point formats: uncompressed
    ext.extend([0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]); // signature algorithms
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut handshake = vec![1u8];
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

/// The first bytes the server answers to a ClientHello.
async fn answer_to_hello(s: &Server, version: u16) -> Vec<u8> {
    let mut stream = connect(s).await;
    stream.write_all(&client_hello(version)).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while got.len() < 7 {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    got
}

#[tokio::test]
async fn serve_answers_https_over_http2_and_http1_and_refuses_tls_1_1() {
    let pki = Pki::new();
    let (cert, key) = pki.leaf_files();
    let mut s = Server::start_with(&[
        "--no-webhook-worker",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--header-timeout-ms",
        "1000",
    ])
    .await;
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);

    s.http = pki.http_client().build().unwrap();
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Over", "lastName": "Tls"})).await;
    let resp = s
        .http
        .get(s.url(&s.sandbox(&format!("/patients/{}", p["id"].as_str().unwrap()))))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!((resp.status(), resp.version()), (StatusCode::OK, Version::HTTP_2), "HTTP/2 by ALPN");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.json::<serde_json::Value>().await.unwrap()["lastName"], "Tls");

    let http1 = pki.http_client().http1_only().build().unwrap();
    let resp = http1.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!((resp.status(), resp.version()), (StatusCode::OK, Version::HTTP_11));
    let resp = http1
        .request(Method::POST, s.url(&s.sandbox("/patients")))
        .bearer_auth(&token)
        .json(&json!({"firstName": "Http", "lastName": "One"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);

    // A client that does not trust the CA gets no answer; plain HTTP gets none either.
    let stranger = reqwest::Client::builder().tls_built_in_root_certs(false).build().unwrap();
    assert!(stranger.get(s.url("/healthz")).send().await.is_err());
    let plain = reqwest::Client::new().get(format!("http://{}/healthz", host_port(&s))).send().await;
    assert!(plain.is_err() || plain.unwrap().status() != StatusCode::OK);

    // The same hello offering TLS 1.2 gets a ServerHello; offering TLS 1.1, a
    // protocol_version alert (a fatal alert record: 0x15 … level 2, description 70).
    let tls12 = answer_to_hello(&s, 0x0303).await;
    assert!(tls12.len() >= 6 && tls12[0] == 0x16 && tls12[5] == 2, "a ServerHello to TLS 1.2: {tls12:02x?}");
    let tls11 = answer_to_hello(&s, 0x0302).await;
    assert!(
        tls11.len() >= 7 && tls11[0] == 0x15 && tls11[5] == 2 && tls11[6] == 70,
        "protocol_version alert: {tls11:02x?}"
    );

    // A TLS handshake that never starts is dropped after the header timeout.
    let mut idle = connect(&s).await;
    let started = Instant::now();
    assert!(read_until_closed(&mut idle, Duration::from_secs(10)).await.is_some(), "a silent TLS client is dropped");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());

    // A bad key or certificate stops the start.
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &s.db_url, "--tls-cert", &cert, "--tls-key", &cert])
        .env("OPENWELKIN_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"), "{}", String::from_utf8_lossy(&out.stderr));
    s.kill9();
}

/// Sends `head` a byte a second; answers how long after the first byte the server closed
/// the connection (None: still open after `limit`).
async fn drip(s: &Server, head: &[u8], limit: Duration) -> Option<Duration> {
    let mut stream = connect(s).await;
    let started = Instant::now();
    for byte in head {
        if stream.write_all(&[*byte]).await.is_err() {
            return Some(started.elapsed());
        }
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(n)) => panic!("answered a head that is not complete: {}", String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
        if started.elapsed() > limit {
            return None;
        }
    }
    panic!("the whole head was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_sent_a_byte_a_second_is_dropped() {
    let quick = Server::start_with(&["--no-webhook-worker", "--header-timeout-ms", "2000"]).await;
    let default = Server::start().await;
    let head = format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {}\r\n\r\n", "x".repeat(40));
    let (quick_drop, default_drop) = tokio::join!(
        drip(&quick, head.as_bytes(), Duration::from_secs(30)),
        drip(&default, head.as_bytes(), Duration::from_secs(30))
    );
    let quick_drop = quick_drop.expect("dropped with --header-timeout-ms 2000");
    assert!(quick_drop >= Duration::from_millis(1900) && quick_drop < Duration::from_secs(5), "{quick_drop:?}");
    let default_drop = default_drop.expect("dropped within 30 s by default");
    assert!(
        default_drop >= Duration::from_secs(9) && default_drop < Duration::from_secs(15),
        "default 10 s: {default_drop:?}"
    );
    eprintln!("slow head dropped after {quick_drop:?} (2 s limit) and {default_drop:?} (default)");

    // A connection that never sends anything is dropped as soon.
    let mut silent = connect(&quick).await;
    let opened = Instant::now();
    assert_eq!(read_until_closed(&mut silent, Duration::from_secs(10)).await, Some(vec![]));
    assert!(opened.elapsed() >= Duration::from_millis(1900) && opened.elapsed() < Duration::from_secs(5));

    // A head that arrives whole is answered, and the connection kept.
    let mut stream = connect(&quick).await;
    for _ in 0..2 {
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    }
}

#[tokio::test]
async fn idle_connections_close_and_late_bodies_get_408() {
    let s =
        Server::start_with(&["--no-webhook-worker", "--idle-timeout-ms", "1500", "--body-timeout-ms", "1500"]).await;
    let token = s.token().await;

    // Idle after a response, or from the start.
    let mut used = connect(&s).await;
    used.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    assert!(read_response(&mut used).await.starts_with("HTTP/1.1 200"));
    let after_response = Instant::now();
    assert_eq!(read_until_closed(&mut used, Duration::from_secs(10)).await, Some(vec![]));
    let idle = after_response.elapsed();
    assert!(idle >= Duration::from_millis(1400) && idle < Duration::from_secs(4), "{idle:?}");

    // A body that stops halfway.
    let mut late = connect(&s).await;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"firstName\":",
        s.sandbox("/patients")
    );
    late.write_all(head.as_bytes()).await.unwrap();
    let sent = Instant::now();
    let answer = read_until_closed(&mut late, Duration::from_secs(10)).await.expect("answered and closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("REQUEST_TIMEOUT") && answer.to_ascii_lowercase().contains("x-content-type-options: nosniff"),
        "{answer}"
    );
    assert!(
        sent.elapsed() >= Duration::from_millis(1400) && sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(s.count_patients(&token, "").await, 0, "nothing was written");
}

#[tokio::test]
async fn connections_over_the_cap_wait_for_one_to_close() {
    let s = Server::start_with(&["--no-webhook-worker", "--max-connections", "2"]).await;
    let first = connect(&s).await;
    let _second = connect(&s).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = connect(&s).await;
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    assert!(tokio::time::timeout(Duration::from_secs(1), third.read(&mut buf)).await.is_err(), "the third waits");
    drop(first);
    assert!(read_response(&mut third).await.starts_with("HTTP/1.1 200"), "answered once the first closed");
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_is_given_back_after_2000_connections_close() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: skipped");
        return;
    }
    openwelkin::net::os::raise_file_limit(4096);
    let s = Server::start().await;
    let pid = s.pid();
    let token = s.token().await;
    for i in 0..50 {
        s.create_patient(&token, json!({"firstName": format!("Warm{i}"), "lastName": "Up"})).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = rss_kb(pid);

    let mut open = Vec::new();
    let path = s.sandbox("/patients?size=5");
    for batch in 0..20 {
        let mut connecting = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let (addr, path, token) = (host_port(&s), path.clone(), token.clone());
            connecting.spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                let request =
                    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n");
                stream.write_all(request.as_bytes()).await.unwrap();
                let answer = read_response(&mut stream).await;
                assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
                stream
            });
        }
        while let Some(stream) = connecting.join_next().await {
            open.push(stream.unwrap());
        }
        assert_eq!(open.len(), (batch + 1) * 100);
    }
    let peak = rss_kb(pid);
    drop(open);
    let mut after = rss_kb(pid);
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = rss_kb(pid);
        if after * 2 <= before * 3 {
            break;
        }
    }
    eprintln!("RSS: {before} kB before, {peak} kB with 2,000 connections open, {after} kB after they closed");
    assert!(after * 2 <= before * 3, "RSS {after} kB after is over 1.5 × {before} kB before (peak {peak} kB)");
    // Still serving.
    assert_eq!(s.get(&s.sandbox("/patients?size=1"), &token).await.0, StatusCode::OK);
}
