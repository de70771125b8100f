//! Nothing answered 201 is lost when the server is killed with SIGKILL mid-traffic.

mod common;

use common::Server;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_creates_loses_no_acknowledged_patient() {
    let mut s = Server::start().await;
    let token = s.token().await;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let url = s.url(&s.sandbox("/patients"));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (http, url, token, acknowledged) = (s.http.clone(), url.clone(), token.clone(), acknowledged.clone());
        workers.push(tokio::spawn(async move {
            for n in 0.. {
                let body = json!({"firstName": "Durable", "lastName": format!("W{w}N{n}")});
                match http.post(&url).bearer_auth(&token).json(&body).send().await {
                    Ok(resp) if resp.status() == StatusCode::CREATED => match resp.json::<serde_json::Value>().await {
                        Ok(p) => acknowledged.lock().unwrap().push(p["id"].as_str().unwrap().to_string()),
                        Err(_) => return,
                    },
                    _ => return,
                }
            }
        }));
    }
    // Let the writers get going, then kill the server under them.
    let start = std::time::Instant::now();
    while acknowledged.lock().unwrap().len() < 200 && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s.kill9();
    for w in workers {
        w.await.unwrap();
    }
    let ids = acknowledged.lock().unwrap().clone();
    assert!(ids.len() >= 200, "only {} creates were answered before the kill", ids.len());

    s.spawn();
    let token = s.token().await;
    let mut missing = Vec::new();
    for id in &ids {
        let (status, _) = s.get(&s.sandbox(&format!("/patients/{id}")), &token).await;
        if status != StatusCode::OK {
            missing.push(id.clone());
        }
    }
    assert!(missing.is_empty(), "{} of {} acknowledged patients were lost: {missing:?}", missing.len(), ids.len());
    let (_, page) = s.get(&s.sandbox("/patients?query=durable&size=1"), &token).await;
    let stored = page["totalElements"].as_u64().unwrap() as usize;
    assert!(stored >= ids.len(), "{stored} stored, {} acknowledged", ids.len());
}
