//! Auth state under change and under load: a token stays dead once its client was
//! disabled (an enable does not revive it), and the token throttle holds at exactly 100
//! requests when they all arrive at once, on every backend.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_token_issued_before_a_disable_stays_dead_after_the_enable() {
    let s = Server::start().await;
    let before = s.token().await;
    assert_eq!(s.get(&s.sandbox("/patients"), &before).await.0, StatusCode::OK);
    s.cli(&["clients", "disable", "--tenant", &s.tenant, "--name", &s.client]);
    s.cli(&["clients", "enable", "--tenant", &s.tenant, "--name", &s.client]);
    let (status, body) = s.get_once_seen(&s.sandbox("/patients"), &before, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "NOT_VALID_JSON_WEB_TOKEN"),
        "a token from before the disable"
    );
    // A new token works, and keeps working across an unrelated policy change.
    let after = s.token().await;
    assert_eq!(s.get(&s.sandbox("/patients"), &after).await.0, StatusCode::OK);
    s.cli(&["clients", "disable", "--tenant", &s.tenant, "--name", &s.client]);
    assert_eq!(
        s.get_once_seen(&s.sandbox("/patients"), &after, StatusCode::UNAUTHORIZED).await.0,
        StatusCode::UNAUTHORIZED
    );
    s.cli(&["clients", "enable", "--tenant", &s.tenant, "--name", &s.client]);
    assert_eq!(s.get(&s.sandbox("/patients"), &after).await.0, StatusCode::UNAUTHORIZED, "twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_token_requests_are_throttled_at_exactly_100() {
    let s = Server::start().await;
    let path = format!("/{}/admin/api_clients/{}", s.tenant, s.client);
    let calls = (0..150).map(|_| s.call(Method::POST, &path, None, Some(json!({"secret": s.secret}))));
    let answers = futures::future::join_all(calls).await;
    let issued = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    let throttled: Vec<_> = answers.iter().filter(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!(issued, 100, "tokens issued for 150 simultaneous requests");
    assert_eq!(throttled.len(), 50, "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    for (_, body) in throttled {
        assert_eq!(error_code(body), "TOO_MANY_TOKEN_REQUESTS");
    }
}
