//! The web console (`/console/`) over HTTP, as a browser would use it: operators signing
//! in and out, the session cookie's flags, the Content-Security-Policy, CSRF refusals,
//! sign-in throttling, and the audit of console changes with the operator as actor.

mod common;

use common::{unique, Server};
use reqwest::{header, StatusCode};
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};

/// Creates an operator with the CLI, the password on standard input.
fn operator(server: &Server, password: &str) -> String {
    let name = unique("op");
    let mut child = Command::new(common::BIN)
        .args(["operators", "create", &name, "--password-stdin", "--database", &server.db_url])
        .env("OPENWELKIN_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    assert!(child.wait().unwrap().success());
    name
}

/// A browser without redirects followed and with its own cookie jar (by hand: the
/// cookies are what the tests look at).
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: std::collections::BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    headers: header::HeaderMap,
    body: String,
}

impl Browser {
    fn new(server: &Server) -> Browser {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { http, base: server.base.clone(), cookies: Default::default() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn keep(&mut self, r: reqwest::Response) -> Page {
        for v in r.headers().get_all(header::SET_COOKIE) {
            let text = v.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        Page { status: r.status(), headers: r.headers().clone(), body: r.text().await.unwrap() }
    }

    async fn get(&mut self, path: &str) -> Page {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Page {
        let mut req =
            self.http.post(format!("{}{path}", self.base)).header(header::COOKIE, self.cookie_header()).form(form);
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        let r = req.send().await.unwrap();
        self.keep(r).await
    }

    async fn sign_in(&mut self, name: &str, password: &str) -> Page {
        let page = self.get("/console/sign-in").await;
        let csrf = csrf_of(&page.body);
        self.post("/console/sign-in", &[("csrf", &csrf), ("name", name), ("password", password)], None).await
    }
}

/// The CSRF token of the first form of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    html[at..at + 64].to_string()
}

#[tokio::test]
async fn sign_in_sets_a_strict_session_cookie_and_sign_out_ends_the_session() {
    let server = Server::start().await;
    let name = operator(&server, "correct horse battery");
    let mut b = Browser::new(&server);
    let page = b.get("/console/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "a page needs a session");
    assert_eq!(page.headers[header::LOCATION], "/console/sign-in");
    let wrong = b.sign_in(&name, "wrong password!").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(!b.cookies.contains_key("ow_console"));
    let signed = b.sign_in(&name, "correct horse battery").await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let cookie = signed
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("ow_console="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag ({cookie})");
    let home = b.get("/console/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains(&server.tenant), "the home page lists the tenants");
    let csp = home.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(home.headers[header::X_FRAME_OPTIONS], "DENY");
    // Every page says where to skip to and labels its inputs.
    assert!(home.body.contains("href=\"#main\""));
    let csrf = csrf_of(&home.body);
    let out = b.post("/console/sign-out", &[("csrf", &csrf)], None).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!b.cookies.contains_key("ow_console"), "the cookie is cleared");
    // The old session is dead on the server too, not only forgotten by the browser.
    let session = cookie.split(';').next().unwrap().to_string();
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url("/console/"))
        .header(header::COOKIE, session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn forged_and_tokenless_posts_are_refused_and_change_nothing() {
    let server = Server::start().await;
    let name = operator(&server, "correct horse battery");
    let mut b = Browser::new(&server);
    b.sign_in(&name, "correct horse battery").await;
    let page = b.get(&format!("/console/admin/{}/clients", server.tenant)).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = csrf_of(&page.body);
    let path = format!("/console/admin/{}/clients", server.tenant);
    let client = unique("CON").to_uppercase();
    let none = b.post(&path, &[("name", &client), ("start", "all")], None).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    let wrong = b.post(&path, &[("csrf", &"0".repeat(64)), ("name", &client), ("start", "all")], None).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let cross =
        b.post(&path, &[("csrf", &csrf), ("name", &client), ("start", "all")], Some("http://evil.example")).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    // Without the session cookie (what SameSite=Strict leaves a cross-site post with).
    let mut stranger = Browser::new(&server);
    let anon = stranger.post(&path, &[("csrf", &csrf), ("name", &client), ("start", "all")], None).await;
    assert_eq!(anon.status, StatusCode::FORBIDDEN);
    assert!(!server.cli(&["clients", "list", "--tenant", &server.tenant]).contains(&client), "nothing was created");

    // The same form with its token works, shows the secret once, and the secret works.
    let made = b.post(&path, &[("csrf", &csrf), ("name", &client), ("start", "all")], None).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let at = made.body.find("class=\"secret\">").expect("the secret is shown") + 15;
    let secret = &made.body[at..at + 43];
    let token = server.token_for(&client, secret).await;
    let (status, _) = server.get(&server.sandbox("/patients"), &token).await;
    assert_eq!(status, StatusCode::OK);
    let listing = b.get(&path).await;
    assert!(!listing.body.contains(secret), "the secret is not shown again");

    // The change is in the security audit with the operator as actor.
    let admin = server.token().await;
    let (status, audit) =
        server.get(&format!("/{}/admin/audit-security?eventSubtype=API_CLIENT_CREATED", server.tenant), &admin).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let rows = audit["content"].as_array().or(audit["data"].as_array()).cloned().unwrap_or_default();
    let row = rows.iter().find(|r| r["objectUsername"] == json!(client)).unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(row["subjectActor"], "CONSOLE_OPERATOR");
    assert_eq!(row["subjectUsername"], json!(name));
}

#[tokio::test]
async fn a_narrowed_policy_takes_effect_on_the_next_request_and_is_audited() {
    let server = Server::start().await;
    let name = operator(&server, "correct horse battery");
    let mut b = Browser::new(&server);
    b.sign_in(&name, "correct horse battery").await;
    let path = format!("/console/admin/{}/clients", server.tenant);
    let page = b.get(&path).await;
    let csrf = csrf_of(&page.body);
    let client = unique("NAR").to_uppercase();
    let made = b.post(&path, &[("csrf", &csrf), ("name", &client), ("start", "all")], None).await;
    let at = made.body.find("class=\"secret\">").unwrap() + 15;
    let secret = made.body[at..at + 43].to_string();
    let token = server.token_for(&client, &secret).await;
    let access = format!("{path}/{client}/access");
    let saved = b
        .post(&access, &[("csrf", &csrf), ("perm", "users:read"), ("grant", "some"), ("instance", "sandbox")], None)
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let (status, _) = server.get(&server.sandbox("/patients"), &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "patients are no longer in the policy");
    let editor = b.get(&format!("{path}/{client}")).await;
    assert!(editor.body.contains("&quot;users&quot;") || editor.body.contains("\"users\""), "the policy as JSON");
    let admin = server.token().await;
    let (_, audit) = server
        .get(&format!("/{}/admin/audit-security?eventSubtype=API_CLIENT_ACCESS_UPDATED", server.tenant), &admin)
        .await;
    assert!(audit.to_string().contains("CONSOLE_OPERATOR"), "{audit}");
}

#[tokio::test]
async fn sign_in_is_throttled_per_operator() {
    let server = Server::start_with(&["--no-webhook-worker", "--console-signin-limit", "3"]).await;
    let name = operator(&server, "correct horse battery");
    let mut b = Browser::new(&server);
    for _ in 0..3 {
        assert_eq!(b.sign_in(&name, "not the password").await.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = b.sign_in(&name, "correct horse battery").await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(!b.cookies.contains_key("ow_console"));
}

#[tokio::test]
async fn sign_in_is_throttled_per_address() {
    // Its own database on PostgreSQL: the address counter is shared by every test there.
    let server = Server::start_isolated(&["--no-webhook-worker", "--console-address-signin-limit", "2"]).await;
    let mut b = Browser::new(&server);
    for _ in 0..2 {
        assert_eq!(b.sign_in(&unique("nobody"), "whatever it is").await.status, StatusCode::UNAUTHORIZED);
    }
    let name = operator(&server, "correct horse battery");
    assert_eq!(b.sign_in(&name, "correct horse battery").await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn designer_changes_are_audited_as_the_operator_and_the_export_round_trips() {
    let server = Server::with_designer().await;
    let name = operator(&server, "correct horse battery");
    let mut b = Browser::new(&server);
    b.sign_in(&name, "correct horse battery").await;
    let base = format!("/console/designer/{}/sandbox", server.tenant);
    let page = b.get(&base).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = csrf_of(&page.body);
    let yaml = "name: console_cdt\nfields:\n  - name: score\n    type: integer\n";
    let made = b.post(&format!("{base}/new"), &[("csrf", &csrf), ("section", "cdts"), ("yaml", yaml)], None).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER);
    assert!(made.headers[header::LOCATION].to_str().unwrap().contains("notice="));
    let bad = "name: console_cdt2\nfields:\n  - name: s\n    type: select\n  - name: t\n    type: blob\n";
    let refused = b.post(&format!("{base}/new"), &[("csrf", &csrf), ("section", "cdts"), ("yaml", bad)], None).await;
    let location = refused.headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(
        location.contains("problem=") && location.contains("fields%5B1%5D.type"),
        "every error at its path: {location}"
    );
    let published = b.post(&format!("{base}/publish"), &[("csrf", &csrf)], None).await;
    assert_eq!(published.status, StatusCode::SEE_OTHER);
    let admin = server.token().await;
    let (status, cdt) = server.get(&server.sandbox("/formations/current/cdts/console_cdt"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{cdt}");
    let (_, audit) =
        server.get(&format!("/{}/admin/audit-data?entity=FORMATION&instance=sandbox", server.tenant), &admin).await;
    assert!(audit.to_string().contains(&format!("CONSOLE_OPERATOR:{name}")), "{audit}");

    // The export is a designer folder that `designer apply` takes back unchanged.
    let r = reqwest::Client::new()
        .get(server.url(&format!("{base}/export.tar?version=current")))
        .header(header::COOKIE, b.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tar = r.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("export.tar"), &tar).unwrap();
    let untar = Command::new("tar").arg("xf").arg("export.tar").current_dir(dir.path()).status().unwrap();
    assert!(untar.success());
    let folder = dir.path().join(&server.tenant);
    let out = server.cli(&[
        "designer",
        "apply",
        folder.to_str().unwrap(),
        "--tenant",
        &server.tenant,
        "--instances",
        "sandbox",
    ]);
    assert!(out.contains("unchanged"), "the exported folder is the current version: {out}");
}
