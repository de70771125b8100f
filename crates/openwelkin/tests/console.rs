//! The web console (`/console/`) over HTTP, as a browser would use it: operators signing
//! in and out, the session cookie's flags, the Content-Security-Policy, CSRF refusals,
//! sign-in throttling, and the audit of console changes with the operator as actor.

mod common;
mod console_support;

use common::{unique, Server};
use console_support::{csrf_of, operator, Browser};
use reqwest::{header, StatusCode};
use serde_json::json;
use std::process::Command;

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
    // The refusals are in the operator audit; the throttled attempt adds no row (the
    // throttle is what bounds how fast anyone can write to it).
    let refusals = stored_operator_audit(&server)
        .lines()
        .filter(|l| l.contains("OPERATOR_SIGN_IN_REFUSED") && l.contains(&name))
        .count();
    assert_eq!(refusals, 3);
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

#[tokio::test]
async fn discarding_the_draft_brings_back_the_current_version_and_is_audited() {
    let server = Server::with_designer().await;
    let (mut b, name, csrf) = console_support::signed_in(&server).await;
    let base = format!("/console/designer/{}/sandbox", server.tenant);
    let yaml = "name: doomed_cdt\nfields:\n  - name: score\n    type: integer\n";
    b.post(&format!("{base}/new"), &[("csrf", &csrf), ("section", "cdts"), ("yaml", yaml)], None).await.location();
    let admin = server.token().await;
    let draft_cdt = server.sandbox("/formations/draft/cdts/doomed_cdt");
    assert_eq!(server.get(&draft_cdt, &admin).await.0, StatusCode::OK, "the draft has it");
    let overview = b.get(&format!("{base}?version=draft")).await;
    assert!(overview.body.contains("Discard the draft"), "the button is on the designer page");

    // Without the form's token nothing is discarded.
    let refused = b.post(&format!("{base}/discard"), &[], None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(server.get(&draft_cdt, &admin).await.0, StatusCode::OK, "still in the draft");

    let discarded = b.post(&format!("{base}/discard"), &[("csrf", &csrf)], None).await;
    let notice = console_support::redirect_text(&discarded, "notice").unwrap_or_default();
    assert!(notice.contains("discarded"), "{notice}");
    assert_eq!(server.get(&draft_cdt, &admin).await.0, StatusCode::NOT_FOUND, "gone from the draft");
    let (_, draft) = server.get(&server.sandbox("/formations/draft/cdts"), &admin).await;
    let (_, current) = server.get(&server.sandbox("/formations/current/cdts"), &admin).await;
    let names = |v: &serde_json::Value| {
        let mut n: Vec<String> =
            v.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
        n.sort();
        n
    };
    assert_eq!(names(&draft), names(&current), "the draft is the current version again");
    assert!(b.get(&format!("{base}/diff")).await.body.contains("same as the current version"));
    let (_, audit) = server
        .get(&format!("/{}/admin/audit-data?entity=FORMATION&instance=sandbox&size=50", server.tenant), &admin)
        .await;
    let rows = audit["data"].as_array().cloned().unwrap_or_default();
    let row = rows
        .iter()
        .find(|r| r["record"]["draft"] == "discarded")
        .unwrap_or_else(|| panic!("the discard is audited: {audit}"));
    assert!(
        row.to_string().contains(&format!("CONSOLE_OPERATOR:{name}")) || row["subjectUsername"] == json!(name),
        "{row}"
    );

    // A second discard has nothing to throw away and writes no audit row.
    let again = b.post(&format!("{base}/discard"), &[("csrf", &csrf)], None).await;
    assert!(console_support::redirect_text(&again, "notice").unwrap_or_default().contains("nothing to discard"));
    let (_, after) = server
        .get(&format!("/{}/admin/audit-data?entity=FORMATION&instance=sandbox&size=50", server.tenant), &admin)
        .await;
    let discards = |v: &serde_json::Value| {
        v["data"].as_array().unwrap().iter().filter(|r| r["record"]["draft"] == "discarded").count()
    };
    assert_eq!(discards(&after), 1);
}

#[tokio::test]
async fn the_encounter_disposition_is_edited_with_a_form_and_published() {
    let server = Server::with_designer().await;
    let (mut b, _, csrf) = console_support::signed_in(&server).await;
    let here = format!("/console/designer/{}/sandbox/disposition", server.tenant);
    let page = b.get(&format!("{here}?version=draft")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("disposition-code"), "the fields are listed");
    assert!(page.body.contains("for=\"field-name\""), "labelled inputs");
    let added = b
        .post(
            &format!("{here}/fields"),
            &[
                ("csrf", &csrf),
                ("name", "follow-up"),
                ("type", "select"),
                ("options", "Call, Visit"),
                ("required", "on"),
            ],
            None,
        )
        .await;
    assert!(console_support::redirect_text(&added, "notice").unwrap_or_default().contains("follow-up added"));
    // A bad type is refused at its path and changes nothing.
    let bad = b.post(&format!("{here}/fields"), &[("csrf", &csrf), ("name", "odd"), ("type", "blob")], None).await;
    assert!(console_support::redirect_text(&bad, "problem").is_some(), "{:?}", bad.headers);
    let admin = server.token().await;
    let (status, draft) = server.get(&server.sandbox("/formations/draft/encounter-disposition"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    let fields: Vec<&str> = draft["fields"].as_array().unwrap().iter().filter_map(|f| f["name"].as_str()).collect();
    assert!(fields.contains(&"follow-up") && !fields.contains(&"odd"), "{draft}");
    let removed = b.post(&format!("{here}/remove"), &[("csrf", &csrf), ("field", "note")], None).await;
    assert!(console_support::redirect_text(&removed, "notice").unwrap_or_default().contains("note removed"));
    let published =
        b.post(&format!("/console/designer/{}/sandbox/publish", server.tenant), &[("csrf", &csrf)], None).await;
    published.location();
    let (_, current) = server.get(&server.sandbox("/formations/current/encounter-disposition"), &admin).await;
    let fields: Vec<&str> = current["fields"].as_array().unwrap().iter().filter_map(|f| f["name"].as_str()).collect();
    assert!(fields.contains(&"follow-up") && !fields.contains(&"note"), "{current}");
    let shown = b.get(&here).await;
    assert!(shown.body.contains("follow-up") && shown.body.contains("Visit"), "the current version's form");
}

#[tokio::test]
async fn operator_changes_from_the_cli_and_sign_ins_are_in_the_operator_audit_without_passwords() {
    // Its own database on PostgreSQL: the operator audit is server-wide, and other tests'
    // sign-ins would push this one's rows off the page.
    let server = Server::start_isolated(&[]).await;
    let name = operator(&server, "first password here");
    let reset = Command::new(common::BIN)
        .args(["operators", "reset-password", &name, "--password-stdin", "--database", &server.db_url])
        .env("OPENWELKIN_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            writeln!(c.stdin.take().unwrap(), "second password here")?;
            c.wait()
        })
        .unwrap();
    assert!(reset.success());
    let mut b = Browser::new(&server);
    assert_eq!(b.sign_in(&name, "first password here").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(b.sign_in("hunter2-typed-as-a-name", "x").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(b.sign_in(&name, "second password here").await.status, StatusCode::SEE_OTHER);
    let page = b.get("/console/audit").await;
    assert_eq!(page.status, StatusCode::OK);
    let section = &page.body[page.body.find("id=\"operators\"").expect("an Operators section")..];
    for event in ["OPERATOR_CREATED", "OPERATOR_PASSWORD_RESET", "OPERATOR_SIGN_IN_REFUSED", "OPERATOR_SIGNED_IN"] {
        assert!(section.contains(event), "{event} in {section}");
    }
    assert!(section.contains("CS_TOOL_CLIENT:openwelkin"), "the CLI is the actor of its changes");
    assert!(section.contains(&format!("CONSOLE_OPERATOR:{name}")), "the operator signed themselves in");
    assert!(!section.contains("hunter2-typed-as-a-name"), "an unknown name is not kept");
    let csrf = csrf_of(&page.body);
    b.post("/console/sign-out", &[("csrf", &csrf)], None).await;
    server.cli(&["operators", "disable", &name]);

    // The table as stored: every event, and no password or hash anywhere in it.
    let (mut b2, _, _) = console_support::signed_in(&server).await;
    let all = b2.get("/console/audit").await.body;
    for event in ["OPERATOR_SIGNED_OUT", "OPERATOR_DISABLED"] {
        assert!(all.contains(event), "{event}");
    }
    let dump = stored_operator_audit(&server);
    assert!(dump.contains("OPERATOR_DISABLED") && dump.contains(&name), "{dump}");
    for secret in ["first password here", "second password here", "$argon2"] {
        assert!(!dump.contains(secret), "{secret} stored in the operator audit");
    }
}

/// Every row of `operator_audit`, read straight from the database.
fn stored_operator_audit(server: &Server) -> String {
    let sql = "SELECT id, occurred_at, event, operator_name, actor, address, detail FROM operator_audit";
    let out = if common::is_postgres() {
        Command::new("psql").args([server.db_url.as_str(), "-At", "-c", sql]).output().unwrap()
    } else {
        let path = server.db_url.trim_start_matches("sqlite://").to_string();
        Command::new("sqlite3").args([path.as_str(), sql]).output().unwrap()
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}
