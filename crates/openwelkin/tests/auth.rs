//! Tokens, security policies and isolation, driven over HTTP.

mod common;

use common::{error_code, Server};
use openwelkin::auth::tokens::TokenSigner;
use openwelkin::store::Db;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn token_request_answers_201_with_client_name_token_and_enabled() {
    let s = Server::start().await;
    let path = format!("/{}/admin/api_clients/{}", s.tenant, s.client);
    let (status, body) = s.call(Method::POST, &path, None, Some(json!({"secret": s.secret}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["clientName"], json!(s.client));
    assert_eq!(body["enabled"], json!(true));
    let token = body["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    let (status, _) = s.get(&s.sandbox("/patients"), token).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_secret_unknown_client_and_missing_secret_are_refused() {
    let s = Server::start().await;
    let bad = s
        .call(
            Method::POST,
            &format!("/{}/admin/api_clients/{}", s.tenant, s.client),
            None,
            Some(json!({"secret": "nope"})),
        )
        .await;
    assert_eq!(bad.0, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&bad.1), "INVALID_API_CLIENT_CREDENTIALS");
    let unknown = s
        .call(Method::POST, &format!("/{}/admin/api_clients/NOBODY", s.tenant), None, Some(json!({"secret": "x"})))
        .await;
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.1,
        json!([{"errorCode": "INVALID_API_CLIENT_CREDENTIALS", "componentType": "AUTH",
        "message": "API client name or secret is not valid", "details": {}, "date": unknown.1[0]["date"]}])
    );
    let missing =
        s.call(Method::POST, &format!("/{}/admin/api_clients/{}", s.tenant, s.client), None, Some(json!({}))).await;
    assert_eq!(missing.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn docs_site_token_form_works_at_root_and_under_tenant() {
    let s = Server::start().await;
    let body = json!({"apiClient": s.client, "secret": s.secret});
    for path in ["/auth/token".to_string(), format!("/{}/auth/token", s.tenant)] {
        let (status, resp) = s.call(Method::POST, &path, None, Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{path}: {resp}");
        let expires = resp["expiresAt"].as_str().unwrap();
        assert!(expires.ends_with('Z') && expires.len() == 24, "{expires}");
        let (status, _) = s.get(&s.sandbox("/patients"), resp["token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn missing_forged_and_expired_tokens_get_the_refresh_codes() {
    let s = Server::start().await;
    let path = s.sandbox("/patients");
    let (status, body) = s.call(Method::GET, &path, None, None).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNAUTHORIZED, "NOT_VALID_JSON_WEB_TOKEN"));

    let forged =
        TokenSigner::new(b"not the server key, not at all!!").issue("x", "y", "Z", 1, chrono::Utc::now().timestamp()).0;
    let (status, body) = s.get(&path, &forged).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNAUTHORIZED, "NOT_VALID_JSON_WEB_TOKEN"));

    // A token signed with the server's own key, but issued two hours ago.
    let db = Db::connect(&s.db_url).await.unwrap();
    let tenant = db.tenant_by_name(&s.tenant).await.unwrap().unwrap();
    let client = db.client_by_name(&tenant.id, &s.client).await.unwrap().unwrap();
    let signer = TokenSigner::new(&db.signing_key(0).await.unwrap());
    let two_hours_ago = chrono::Utc::now().timestamp() - 7200;
    let expired = signer.issue(&client.id, &tenant.id, &client.name, client.secret_version, two_hours_ago).0;
    let (status, body) = s.get(&path, &expired).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED"));
    let fresh =
        signer.issue(&client.id, &tenant.id, &client.name, client.secret_version, chrono::Utc::now().timestamp()).0;
    assert_eq!(s.get(&path, &fresh).await.0, StatusCode::OK, "the same key and claims, in date, are accepted");
}

#[tokio::test]
async fn a_token_works_only_in_its_own_tenant() {
    let a = Server::start().await;
    let token_a = a.token().await;
    let other = common::unique("t");
    a.cli(&["tenants", "create", &other]);
    let (status, body) = a.get(&format!("/{other}/sandbox/patients"), &token_a).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNAUTHORIZED, "NOT_VALID_JSON_WEB_TOKEN"));
    let (status, _) = a.get(&format!("/{other}/admin/users"), &token_a).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn disabled_clients_and_rotated_secrets_retire_tokens() {
    let s = Server::start().await;
    let token = s.token().await;
    s.cli(&["clients", "disable", "--tenant", &s.tenant, "--name", &s.client]);
    let (status, body) = s.get_once_seen(&s.sandbox("/patients"), &token, StatusCode::UNAUTHORIZED).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNAUTHORIZED, "NOT_VALID_JSON_WEB_TOKEN"));
    let (status, body) = s
        .call(
            Method::POST,
            &format!("/{}/admin/api_clients/{}", s.tenant, s.client),
            None,
            Some(json!({"secret": s.secret})),
        )
        .await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNAUTHORIZED, "API_CLIENT_DISABLED"));

    s.cli(&["clients", "enable", "--tenant", &s.tenant, "--name", &s.client]);
    let token = s.token().await;
    let out = s.cli(&["clients", "rotate-secret", "--tenant", &s.tenant, "--name", &s.client]);
    let new_secret = common::secret_of(&out);
    assert_eq!(
        s.get_once_seen(&s.sandbox("/patients"), &token, StatusCode::UNAUTHORIZED).await.0,
        StatusCode::UNAUTHORIZED,
        "tokens from before the rotation"
    );
    let refused = s
        .call(
            Method::POST,
            &format!("/{}/admin/api_clients/{}", s.tenant, s.client),
            None,
            Some(json!({"secret": s.secret})),
        )
        .await;
    assert_eq!(refused.0, StatusCode::UNAUTHORIZED, "the old secret");
    let token = s.token_for(&s.client, &new_secret).await;
    assert_eq!(s.get(&s.sandbox("/patients"), &token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn more_than_100_token_requests_in_5_minutes_block_the_client() {
    let s = Server::start().await;
    let path = format!("/{}/admin/api_clients/{}", s.tenant, s.client);
    let mut statuses = Vec::new();
    for i in 0..101 {
        // Wrong secrets count too, and are cheaper to check than to sign.
        let secret = if i == 0 { s.secret.clone() } else { "wrong".to_string() };
        statuses.push(s.call(Method::POST, &path, None, Some(json!({"secret": secret}))).await.0);
    }
    assert_eq!(statuses[0], StatusCode::CREATED);
    assert!(statuses[1..100].iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    assert_eq!(statuses[100], StatusCode::TOO_MANY_REQUESTS);
    let (status, body) = s.call(Method::POST, &path, None, Some(json!({"secret": s.secret}))).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_TOKEN_REQUESTS"),
        "even with the right secret"
    );
    // Another client of the tenant is not affected.
    let (name, secret) = s.client_with_policy(&json!({"allAccess": true}), None);
    s.token_for(&name, &secret).await;
}

#[tokio::test]
async fn calls_outside_the_policy_get_the_recorded_403() {
    let s = Server::start().await;
    let admin = s.token().await;
    let patient = s.create_patient(&admin, json!({"firstName": "Foo", "lastName": "Bar"})).await;
    let id = patient["id"].as_str().unwrap();
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read", "create"]}}), None);
    let token = s.token_for(&name, &secret).await;

    assert_eq!(s.get(&s.sandbox(&format!("/patients/{id}")), &token).await.0, StatusCode::OK);
    let path = s.sandbox(&format!("/patients/{id}"));
    let (status, body) = s.delete(&path, &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let db = Db::connect(&s.db_url).await.unwrap();
    let tenant = db.tenant_by_name(&s.tenant).await.unwrap().unwrap();
    let client = db.client_by_name(&tenant.id, &name).await.unwrap().unwrap();
    assert_eq!(
        body,
        json!([{"errorCode": "ACCESS_FOR_API_CLIENT_RESTRICTED", "componentType": "AUTH",
                "message": "Access to this API is restricted for the APIClient",
                "details": {"clientId": client.id, "clientName": name, "clientType": "API_CLIENT",
                            "organizationName": s.tenant, "requestURI": path}}])
    );
    assert_eq!(s.get(&s.sandbox(&format!("/patients/{id}")), &admin).await.0, StatusCode::OK, "nothing was deleted");
    assert_eq!(s.patch(&path, &token, json!({"firstName": "X"})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.get(&format!("/{}/admin/users", s.tenant), &token).await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.get(&format!("/{}/admin/audit-data", s.tenant), &token).await.0, StatusCode::FORBIDDEN);

    // User writes need the provisioning flag on top of the users permission.
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"users": ["*"]}}), None);
    let token = s.token_for(&name, &secret).await;
    assert_eq!(s.get(&format!("/{}/admin/users", s.tenant), &token).await.0, StatusCode::OK);
    let create =
        s.post(&format!("/{}/admin/users", s.tenant), &token, json!({"username": "nope", "email": "n@x.org"})).await;
    assert_eq!(create.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_client_reaches_only_the_instances_it_was_granted() {
    let s = Server::start().await;
    let admin = s.token().await;
    let in_live = s
        .post(&format!("/{}/live/patients", s.tenant), &admin, json!({"firstName": "Live", "lastName": "One"}))
        .await
        .1;
    let (name, secret) = s.client_with_policy(&json!({"allAccess": true}), Some("sandbox"));
    let token = s.token_for(&name, &secret).await;
    assert_eq!(s.get(&s.sandbox("/patients"), &token).await.0, StatusCode::OK);
    let (status, body) =
        s.get(&format!("/{}/live/patients/{}", s.tenant, in_live["id"].as_str().unwrap()), &token).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"));
    let (status, body) = s.get(&format!("/{}/nowhere/patients", s.tenant), &admin).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::NOT_FOUND, "INSTANCE_NOT_FOUND"));
}

#[tokio::test]
async fn policy_files_with_unknown_names_are_refused_by_the_cli() {
    let s = Server::start().await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), r#"{"permissions": {"spaceships": ["read"]}}"#).unwrap();
    let out = common::cli_output(
        &s.db_url,
        &["clients", "create", "--tenant", &s.tenant, "--name", "BADPOLICY", "--policy", file.path().to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("spaceships"));
}

#[tokio::test]
async fn a_changed_policy_applies_to_tokens_already_issued() {
    let s = Server::start().await;
    let token = s.token().await;
    s.create_patient(&token, json!({"firstName": "Before", "lastName": "Change"})).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), r#"{"permissions": {"patients": ["read"]}}"#).unwrap();
    s.cli(&[
        "clients",
        "set-policy",
        "--tenant",
        &s.tenant,
        "--name",
        &s.client,
        "--policy",
        file.path().to_str().unwrap(),
        "--instances",
        "live",
    ]);
    assert_eq!(
        s.get_once_seen(&s.sandbox("/patients"), &token, StatusCode::FORBIDDEN).await.0,
        StatusCode::FORBIDDEN,
        "sandbox is no longer granted"
    );
    assert_eq!(s.get(&format!("/{}/live/patients", s.tenant), &token).await.0, StatusCode::OK);
    let (status, _) =
        s.post(&format!("/{}/live/patients", s.tenant), &token, json!({"firstName": "A", "lastName": "B"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "create is no longer allowed");
}

#[tokio::test]
async fn client_access_changes_are_in_the_security_audit() {
    let s = Server::start().await;
    let (name, _) = s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    s.cli(&["clients", "disable", "--tenant", &s.tenant, "--name", &name]);
    s.cli(&["clients", "rotate-secret", "--tenant", &s.tenant, "--name", &name]);
    let token = s.token().await;
    let (_, audit) = s.get(&format!("/{}/admin/audit-security?objectUsername={name}", s.tenant), &token).await;
    let subtypes: Vec<&str> =
        audit["data"].as_array().unwrap().iter().map(|i| i["eventSubtype"].as_str().unwrap()).collect();
    assert_eq!(subtypes, ["API_CLIENT_SECRET_ROTATED", "API_CLIENT_DISABLED"]);
    assert_eq!(audit["data"][0]["objectActor"], "API_CLIENT");
    let (_, refused) = s.get(&format!("/{}/admin/audit-security?eventSubtype=TOKEN_REFUSED", s.tenant), &token).await;
    assert_eq!(refused["metaInfo"]["totalElements"], 0);
    s.call(
        Method::POST,
        &format!("/{}/admin/api_clients/{}", s.tenant, s.client),
        None,
        Some(json!({"secret": "wrong"})),
    )
    .await;
    let (_, refused) = s.get(&format!("/{}/admin/audit-security?eventSubtype=TOKEN_REFUSED", s.tenant), &token).await;
    assert_eq!(refused["metaInfo"]["totalElements"], 1);
}

/// `serve` on `s`'s database with these flags: the child, and the lines it printed
/// before it listened (its start warnings). `s.base` is set to it.
fn serve_printing(s: &mut Server, flags: &[&str]) -> (std::process::Child, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(common::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--no-webhook-worker", "--database", &s.db_url])
        .args(flags)
        .env("OPENWELKIN_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    s.base = loop {
        let line = lines.next().expect("the server exited before listening").unwrap();
        match line.strip_prefix("openwelkin listening on ") {
            Some(addr) => break addr.trim().to_string(),
            None => printed.push(line),
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, printed)
}

async fn demo_token(s: &Server, tenant: &str, client: &str, secret: &str) -> (StatusCode, serde_json::Value) {
    s.call(Method::POST, &format!("/{tenant}/admin/api_clients/{client}"), None, Some(json!({"secret": secret}))).await
}

#[tokio::test]
async fn the_public_demo_secret_works_only_with_demo() {
    let mut s = Server::start_isolated(&["--no-webhook-worker", "--demo"]).await;
    let (status, body) = demo_token(&s, "demo", "DEMOAPICLIENT", "demo-secret").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Another client given the public secret by hand.
    s.cli(&[
        "clients",
        "create",
        "--tenant",
        &s.tenant,
        "--name",
        "SAMESECRET",
        "--all-access",
        "--secret",
        "demo-secret",
    ]);
    let (status, _) = demo_token(&s, &s.tenant, "SAMESECRET", "demo-secret").await;
    assert_eq!(status, StatusCode::CREATED, "with --demo the public secret is good");
    s.kill9();

    // Served for real: a warning at start, and the public secret refused for any client.
    let (mut child, printed) = serve_printing(&mut s, &[]);
    let warning = printed.iter().find(|l| l.contains("warning")).unwrap_or_else(|| panic!("no warning in {printed:?}"));
    assert!(warning.contains("DEMOAPICLIENT") && warning.contains("tenant demo"), "{warning}");
    assert!(warning.contains("clients rotate-secret --tenant demo --name DEMOAPICLIENT"), "{warning}");
    assert!(!warning.contains("demo-secret"), "the warning does not repeat the secret: {warning}");
    for (tenant, client) in [("demo", "DEMOAPICLIENT"), (s.tenant.as_str(), "SAMESECRET")] {
        let (status, err) = demo_token(&s, tenant, client, "demo-secret").await;
        assert_eq!((status, error_code(&err)), (StatusCode::UNAUTHORIZED, "INVALID_API_CLIENT_CREDENTIALS".into()));
        assert_eq!(err[0]["componentType"], "AUTH");
    }
    let (status, err) = s
        .call(
            Method::POST,
            "/auth/token",
            None,
            Some(json!({"apiClient": "DEMOAPICLIENT", "secret": "demo-secret", "tenant": "demo"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{err}");
    let token = s.token().await;
    assert!(!token.is_empty(), "other secrets are good as ever");
    let (_, refused) = s.get(&format!("/{}/admin/audit-security?eventSubtype=TOKEN_REFUSED", s.tenant), &token).await;
    assert!(refused.to_string().contains("public demo secret"), "{refused}");
    let _ = child.kill();
    let _ = child.wait();

    // With --demo again it works; once the secret is rotated the warning is gone.
    s.serve_args = vec!["--no-webhook-worker".into(), "--demo".into()];
    s.spawn();
    let (status, _) = demo_token(&s, "demo", "DEMOAPICLIENT", "demo-secret").await;
    assert_eq!(status, StatusCode::CREATED);
    s.kill9();
    s.cli(&["clients", "rotate-secret", "--tenant", "demo", "--name", "DEMOAPICLIENT"]);
    let (mut child, printed) = serve_printing(&mut s, &[]);
    assert!(!printed.iter().any(|l| l.contains("warning")), "{printed:?}");
    let _ = child.kill();
    let _ = child.wait();
}
