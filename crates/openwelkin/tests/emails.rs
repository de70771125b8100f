//! Email over HTTP: sends (JSON and multipart), the V8 list filters, updates and deletes
//! by status, attachments, drafts, inbound and unmatched emails (V8 and DOCS paths), the
//! local outbox, and delivery over SMTP to a real SMTP server started by the test.

mod common;

use common::{error_code, Server, Serving};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader as TokioBufReader};

const V8_KEYS: &[&str] = &[
    "id",
    "sendNow",
    "scheduledAt",
    "sentAt",
    "receivedAt",
    "date",
    "careTeam",
    "patientInfo",
    "timezone",
    "sender",
    "from",
    "receiver",
    "to",
    "direction",
    "externalId",
    "starred",
    "senderName",
    "receiverName",
    "subject",
    "body",
    "status",
    "secure",
    "attachments",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect();
    k.sort();
    k
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

struct Setup {
    s: Server,
    token: String,
    /// The care-team user (Nick Snow), point of contact of the patient.
    user: String,
    pid: String,
    emails: String,
}

async fn user(s: &Server, token: &str, username: &str, first: &str, last: &str) -> String {
    let (status, u) = s
        .post(
            &format!("/{}/admin/users", s.tenant),
            token,
            json!({"username": username, "email": format!("{username}@clinic.example.org"), "firstName": first, "lastName": last}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    u["id"].as_str().unwrap().to_string()
}

async fn setup_on(s: Server) -> Setup {
    let token = s.token().await;
    let user = user(&s, &token, "nsnow", "Nick", "Snow").await;
    let p = s
        .create_patient(
            &token,
            json!({"firstName": "John", "lastName": "Doe", "email": "J.Doe@Example.org",
                   "timezone": "America/Los_Angeles", "careTeam": [{"id": user, "pointOfContact": true}]}),
        )
        .await;
    let pid = p["id"].as_str().unwrap().to_string();
    let emails = s.sandbox(&format!("/patients/{pid}/emails"));
    Setup { s, token, user, pid, emails }
}

async fn setup() -> Setup {
    setup_on(Server::start().await).await
}

/// Polls `path` until `done` holds (delivery runs beside the request).
async fn eventually(s: &Server, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let (status, body) = s.get(path, token).await;
        if status == StatusCode::OK && done(&body) {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never reached the expected state; last: {last}");
}

fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----openwelkin-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    for (part, file_name, kind, data) in files {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"{file_name}\"\r\nContent-Type: {kind}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend(*data);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn raw_post(s: &Server, path: &str, token: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let resp = s
        .http
        .post(s.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn download(s: &Server, path: &str, token: &str) -> (StatusCode, String, String, Vec<u8>) {
    let resp = s.http.get(s.url(path)).bearer_auth(token).send().await.unwrap();
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (kind, disposition) = (header("content-type"), header("content-disposition"));
    (resp.status(), kind, disposition, resp.bytes().await.unwrap().to_vec())
}

async fn total(s: &Server, token: &str, path: &str, query: &str) -> i64 {
    let (status, page) = s.get(&format!("{path}?{query}"), token).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page["totalElements"].as_i64().unwrap()
}

async fn audit_subtypes(s: &Server, token: &str, entity: &str) -> Vec<String> {
    let (status, page) = s.get(&format!("/{}/admin/audit-data?entity={entity}&size=100", s.tenant), token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"].as_array().unwrap().iter().map(|e| e["eventSubtype"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn send_read_list_update_and_delete_by_status() {
    let Setup { s, token, user, pid, emails } = setup().await;
    let (status, sent) = s
        .post(
            &emails,
            &token,
            json!({"subject": "Email subject", "body": "Testing.", "receiver": pid, "sendNow": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(keys(&sent), sorted(V8_KEYS), "the V8 email object");
    let expected = json!({
        "sendNow": false, "receivedAt": null, "careTeam": "Nick Snow", "patientInfo": "John Doe",
        "timezone": "America/Los_Angeles", "sender": user, "from": "no-reply@openwelkin.local", "receiver": pid,
        "to": "J.Doe@Example.org", "direction": "OUT", "starred": false, "senderName": "Nick Snow",
        "receiverName": "John Doe", "subject": "Email subject", "body": "Testing.", "status": "ACCEPTED",
        "secure": false, "attachments": null,
    });
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(&sent[k], v, "{k}");
    }
    assert_eq!(sent["sentAt"], sent["scheduledAt"]);
    assert_eq!(sent["date"], sent["sentAt"]);
    assert!(sent["externalId"].as_str().unwrap().ends_with("@openwelkin.local"), "{sent}");
    let id = sent["id"].as_str().unwrap().to_string();
    let one = format!("{emails}/{id}");

    // Handed to the local outbox, then DELIVERED.
    let delivered = eventually(&s, &token, &one, |e| e["status"] == "DELIVERED").await;
    assert_eq!(delivered["externalId"], sent["externalId"]);
    let (_, outbox) = s.get(&s.sandbox("/outbox/email"), &token).await;
    assert_eq!(outbox["totalElements"], 1, "{outbox}");
    let entry = &outbox["content"][0];
    assert_eq!((entry["emailId"].as_str(), entry["to"].as_str()), (Some(id.as_str()), Some("J.Doe@Example.org")));
    assert_eq!((entry["subject"].clone(), entry["body"].clone()), (json!("Email subject"), json!("Testing.")));
    let raw = entry["raw"].as_str().unwrap();
    assert!(raw.contains("Subject: Email subject") && raw.contains("Testing."), "{raw}");
    assert!(raw.contains(&format!("Message-ID: <{}>", sent["externalId"].as_str().unwrap())), "{raw}");

    // A secure send gets a UUID as its provider id.
    let (_, secure) = s
        .post(&emails, &token, json!({"subject": "Secure", "body": "Private.", "sendNow": true, "secure": true}))
        .await;
    assert_eq!(secure["secure"], true);
    assert!(uuid::Uuid::parse_str(secure["externalId"].as_str().unwrap()).is_ok());

    // Listing: the recorded Spring page and the V8 filters.
    let (status, page) = s.get(&format!("{emails}?page=0"), &token).await;
    assert_eq!(status, StatusCode::OK);
    for key in [
        "content",
        "pageable",
        "last",
        "totalPages",
        "totalElements",
        "first",
        "number",
        "sort",
        "numberOfElements",
        "size",
        "empty",
    ] {
        assert!(page.get(key).is_some(), "missing {key}");
    }
    assert_eq!((page["totalElements"].clone(), page["last"].clone()), (json!(2), json!(true)));
    eventually(&s, &token, &format!("{emails}?status=DELIVERED"), |p| p["totalElements"] == 2).await;
    assert_eq!(total(&s, &token, &emails, "status=DELIVERED,FAILED&email=j.doe@example.org").await, 2);
    assert_eq!(total(&s, &token, &emails, "status=SCHEDULED").await, 0);
    assert_eq!(total(&s, &token, &emails, "search=PRIVATE").await, 1);
    assert_eq!(total(&s, &token, &emails, "direction=OUT").await, 2);
    assert_eq!(total(&s, &token, &emails, "direction=IN").await, 0);
    assert_eq!(total(&s, &token, &emails, "to=j.doe@example.org").await, 2);
    assert_eq!(total(&s, &token, &emails, "from=someone@else.org").await, 0);
    assert_eq!(total(&s, &token, &emails, &format!("sender={user}")).await, 2);
    assert_eq!(total(&s, &token, &emails, &format!("receiver={pid}")).await, 2);
    assert_eq!(total(&s, &token, &emails, "senderName=snow&receiverName=john").await, 2);
    assert_eq!(total(&s, &token, &emails, "starred=True").await, 0);
    let (_, sorted_page) = s.get(&format!("{emails}?sort=date,desc&size=1"), &token).await;
    assert_eq!(
        (sorted_page["content"][0]["subject"].clone(), sorted_page["last"].clone()),
        (json!("Secure"), json!(false))
    );
    assert_eq!(sorted_page["sort"]["sorted"], true);
    for bad in ["status=SENT", "direction=SIDEWAYS", "starred=maybe", "sort=nope,asc", "size=0"] {
        let (status, err) = s.get(&format!("{emails}?{bad}"), &token).await;
        assert_eq!((status, error_code(&err)), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER".into()), "{bad}");
    }

    // Sent: only starred can change.
    let (status, starred) = s.call(reqwest::Method::PUT, &one, Some(&token), Some(json!({"starred": true}))).await;
    assert_eq!((status, starred["starred"].clone()), (StatusCode::OK, json!(true)), "{starred}");
    assert_eq!(total(&s, &token, &emails, "starred=true").await, 1);
    // PATCH and POST (as the V8 examples send it) update the same way.
    let (status, unstarred) = s.patch(&one, &token, json!({"starred": false})).await;
    assert_eq!((status, unstarred["starred"].clone()), (StatusCode::OK, json!(false)));
    let (status, starred) = s.post(&one, &token, json!({"starred": true})).await;
    assert_eq!((status, starred["starred"].clone()), (StatusCode::OK, json!(true)));
    let (status, err) =
        s.call(reqwest::Method::PUT, &one, Some(&token), Some(json!({"subject": "Changed", "starred": false}))).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("subject")), "{err}");
    let (_, again) = s.get(&one, &token).await;
    assert_eq!(
        (again["subject"].clone(), again["starred"].clone()),
        (json!("Email subject"), json!(true)),
        "unchanged"
    );
    let (status, err) = s.delete(&one, &token).await;
    assert_eq!((status, error_code(&err)), (StatusCode::CONFLICT, "EMAIL_CANNOT_BE_DELETED".into()));
    assert_eq!(s.get(&one, &token).await.0, StatusCode::OK);

    // The recorded 404.
    let missing = uuid::Uuid::new_v4().to_string();
    let (status, err) = s.get(&format!("{emails}/{missing}"), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        (err[0]["errorCode"].clone(), err[0]["componentType"].clone(), err[0]["message"].clone()),
        (json!("EMAIL_NOT_FOUND"), json!("EMAIL"), json!("Email is not found"))
    );
    assert_eq!(err[0]["details"], json!({"patientId": pid, "id": missing}));
    assert!(err[0]["date"].is_string());

    let events = audit_subtypes(&s, &token, "EMAIL").await;
    for wanted in ["EMAIL_CREATED", "EMAIL_UPDATED"] {
        assert!(events.iter().any(|e| e == wanted), "{wanted} in {events:?}");
    }
}

#[tokio::test]
async fn invalid_sends_name_the_field_and_write_nothing() {
    let Setup { s, token, user, pid, emails } = setup().await;
    let other = s.create_patient(&token, json!({"firstName": "Other", "lastName": "One", "email": "o@x.org"})).await;
    let no_email =
        s.create_patient(&token, json!({"firstName": "No", "lastName": "Mail", "careTeam": [{"id": user}]})).await;
    let cases = [
        (json!({"body": "b"}), "subject"),
        (json!({"subject": "s"}), "body"),
        (json!({"subject": "", "body": "b"}), "subject"),
        (json!({"subject": "s", "body": "b", "receiver": other["id"]}), "receiver"),
        (json!({"subject": "s", "body": "b", "sendNow": "soon"}), "sendNow"),
        (json!({"subject": "s", "body": "b", "scheduledAt": "tomorrow"}), "scheduledAt"),
        (json!({"subject": "s", "body": "b", "sender": uuid::Uuid::new_v4().to_string()}), "sender"),
        (json!({"subject": "s", "body": "b", "status": "DELIVERED"}), "status"),
        (json!({"subject": "s", "body": "b", "colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let (status, err) = s.post(&emails, &token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!((error_code(&err), err[0]["details"]["field"].clone()), ("VALIDATION_ERROR".into(), json!(field)));
    }
    // Without a point of contact the sender must be named.
    let other_emails = s.sandbox(&format!("/patients/{}/emails", other["id"].as_str().unwrap()));
    let (status, err) = s.post(&other_emails, &token, json!({"subject": "s", "body": "b"})).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("sender")));
    let (status, ok) = s.post(&other_emails, &token, json!({"subject": "s", "body": "b", "sender": user})).await;
    assert_eq!((status, ok["senderName"].clone()), (StatusCode::CREATED, json!("Nick Snow")));
    // A patient without an address cannot be written to.
    let path = s.sandbox(&format!("/patients/{}/emails", no_email["id"].as_str().unwrap()));
    let (status, err) = s.post(&path, &token, json!({"subject": "s", "body": "b"})).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("receiver")));
    let (status, err) = s.post(&emails, &token, Value::Array(vec![])).await;
    assert_eq!((status, error_code(&err)), (StatusCode::BAD_REQUEST, "MALFORMED_JSON".into()));

    assert_eq!(s.get(&emails, &token).await.1["totalElements"], 0, "nothing was written");
    eventually(&s, &token, &s.sandbox("/outbox/email"), |o| o["totalElements"] == 1).await;
    let unknown = s.sandbox(&format!("/patients/{}/emails", uuid::Uuid::new_v4()));
    assert_eq!(error_code(&s.get(&unknown, &token).await.1), "PATIENT_NOT_FOUND");
    let _ = pid;
}

#[tokio::test]
async fn scheduled_emails_change_until_they_go_out_when_due() {
    let Setup { s, token, pid, emails, .. } = setup().await;
    let at = |secs: i64| {
        (chrono::Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let soon = at(2);
    let (status, e) = s.post(&emails, &token, json!({"subject": "Later", "body": "b", "scheduledAt": soon})).await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    assert_eq!(
        (e["status"].clone(), e["sentAt"].clone(), e["date"].clone(), e["scheduledAt"].clone()),
        (json!("SCHEDULED"), Value::Null, Value::Null, json!(soon))
    );
    let one = format!("{emails}/{}", e["id"].as_str().unwrap());
    // A scheduled email takes a full update.
    let (status, changed) = s
        .call(
            reqwest::Method::PUT,
            &one,
            Some(&token),
            Some(json!({"subject": "New Email subject", "body": "new Testing.", "receiver": pid, "secure": true, "starred": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        (changed["subject"].clone(), changed["secure"].clone(), changed["status"].clone()),
        (json!("New Email subject"), json!(true), json!("SCHEDULED"))
    );
    let (status, err) = s
        .call(reqwest::Method::PUT, &one, Some(&token), Some(json!({"receiver": uuid::Uuid::new_v4().to_string()})))
        .await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("receiver")));
    assert!(s.get(&s.sandbox("/outbox/email"), &token).await.1["totalElements"] == 0, "not sent before its time");

    // Another one, far away: deleted while scheduled; a third forced out with sendNow.
    let (_, far) = s.post(&emails, &token, json!({"subject": "Far", "body": "b", "scheduledAt": at(3600)})).await;
    let far_path = format!("{emails}/{}", far["id"].as_str().unwrap());
    assert_eq!(s.delete(&far_path, &token).await, (StatusCode::OK, Value::Null));
    assert_eq!(error_code(&s.get(&far_path, &token).await.1), "EMAIL_NOT_FOUND");
    let (_, forced) = s.post(&emails, &token, json!({"subject": "Forced", "body": "b", "scheduledAt": at(3600)})).await;
    let forced_path = format!("{emails}/{}", forced["id"].as_str().unwrap());
    let (status, now) = s.call(reqwest::Method::PUT, &forced_path, Some(&token), Some(json!({"sendNow": true}))).await;
    assert_eq!((status, now["status"].clone()), (StatusCode::OK, json!("ACCEPTED")), "{now}");
    assert!(now["sentAt"].is_string());

    // The dispatcher sends the first when its time comes.
    let done = eventually(&s, &token, &one, |e| e["status"] == "DELIVERED").await;
    assert_eq!((done["subject"].clone(), done["starred"].clone()), (json!("New Email subject"), json!(true)));
    assert!(done["sentAt"].is_string() && done["date"] == done["sentAt"]);
    let outbox = eventually(&s, &token, &s.sandbox("/outbox/email"), |o| o["totalElements"] == 2).await;
    let subjects: Vec<&str> =
        outbox["content"].as_array().unwrap().iter().map(|e| e["subject"].as_str().unwrap()).collect();
    assert!(subjects.contains(&"New Email subject") && subjects.contains(&"Forced"), "{subjects:?}");
    let events = audit_subtypes(&s, &token, "EMAIL").await;
    assert!(events.iter().any(|e| e == "EMAIL_DELETED"), "{events:?}");
}

#[tokio::test]
async fn multipart_sends_store_attachments_that_download_byte_for_byte() {
    let Setup { s, token, pid, emails, .. } = setup().await;
    let pdf: &[u8] = b"%PDF-1.4\n\x00\x01\x02binary\xff\xfe";
    let (kind, body) = multipart(
        &[("subject", "With files"), ("body", "See attached."), ("receiver", &pid), ("sendNow", "true")],
        &[
            ("attachmentsAsFiles", "report.pdf", "application/pdf", pdf),
            ("attachmentsAsFiles", "notes.txt", "text/plain", b"hello"),
        ],
    );
    let (status, e) = raw_post(&s, &emails, &token, &kind, body).await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    let files = e["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(
        (files[0]["fileName"].clone(), files[0]["contentType"].clone(), files[0]["size"].clone()),
        (json!("report.pdf"), json!("application/pdf"), json!(pdf.len()))
    );
    let id = e["id"].as_str().unwrap();
    let (status, kind, disposition, bytes) = download(&s, &format!("{emails}/{id}/attachment"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((kind.as_str(), disposition.as_str()), ("application/pdf", "attachment; filename=\"report.pdf\""));
    assert_eq!(bytes, pdf);
    let second = files[1]["id"].as_str().unwrap();
    let (_, kind, disposition, bytes) =
        download(&s, &format!("{emails}/{id}/attachment?attachmentId={second}"), &token).await;
    assert_eq!(
        (kind.as_str(), disposition.as_str(), bytes.as_slice()),
        ("text/plain", "attachment; filename=\"notes.txt\"", &b"hello"[..])
    );
    let entry = eventually(&s, &token, &s.sandbox("/outbox/email"), |o| o["totalElements"] == 1).await;
    let raw = entry["content"][0]["raw"].as_str().unwrap();
    assert!(raw.contains("filename=\"report.pdf\"") && raw.contains("filename=\"notes.txt\""), "{raw}");

    // Without attachments there is nothing to download.
    let (_, plain) = s.post(&emails, &token, json!({"subject": "s", "body": "b"})).await;
    let (status, err) = s.get(&format!("{emails}/{}/attachment", plain["id"].as_str().unwrap()), &token).await;
    assert_eq!((status, error_code(&err)), (StatusCode::NOT_FOUND, "EMAIL_ATTACHMENT_NOT_FOUND".into()));
    // Files go in attachmentsAsFiles parts; booleans in form fields are read as such.
    let (kind, body) = multipart(&[("subject", "x"), ("body", "y")], &[("file", "a.txt", "text/plain", b"a")]);
    let (status, err) = raw_post(&s, &emails, &token, &kind, body).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("file")));
    let (kind, body) = multipart(&[("subject", "x"), ("body", "y"), ("sendNow", "perhaps")], &[]);
    let (status, err) = raw_post(&s, &emails, &token, &kind, body).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("sendNow")));
    assert_eq!(s.get(&emails, &token).await.1["totalElements"], 2);
}

#[tokio::test]
async fn drafts_are_created_edited_sent_and_deleted() {
    let Setup { s, token, user, pid, emails } = setup().await;
    let drafts = s.sandbox(&format!("/patients/{pid}/email-drafts"));
    let (status, d) = s.post(&drafts, &token, json!({"subject": "Draft", "body": "First words"})).await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    assert_eq!(
        (d["status"].clone(), d["patientId"].clone(), d["hasAttachment"].clone(), d["to"].clone()),
        (json!("DRAFT"), json!(pid), json!(false), json!("J.Doe@Example.org"))
    );
    let did = d["id"].as_str().unwrap().to_string();
    let one = format!("{drafts}/{did}");
    let (status, list) = s.get(&drafts, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (list["metaInfo"]["totalElements"].clone(), list["metaInfo"]["lastPage"].clone()),
        (json!(1), json!(true))
    );
    assert_eq!(list["data"][0], d);

    // Edit: fields change, file parts are added.
    let (status, edited) = s.patch(&one, &token, json!({"body": "Final words", "sender": user})).await;
    assert_eq!(
        (status, edited["body"].clone(), edited["subject"].clone()),
        (StatusCode::OK, json!("Final words"), json!("Draft"))
    );
    let (kind, body) =
        multipart(&[("secure", "true")], &[("attachmentsAsFiles", "scan.png", "image/png", b"\x89PNG..")]);
    let resp =
        s.http.patch(s.url(&one)).bearer_auth(&token).header("content-type", kind).body(body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let edited: Value = resp.json().await.unwrap();
    assert_eq!((edited["hasAttachment"].clone(), edited["secure"].clone()), (json!(true), json!(true)));
    let (status, err) = s.patch(&one, &token, json!({"status": "SENT"})).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("status")));
    assert_eq!(s.get(&one, &token).await.1, edited, "the refused edit changed nothing");

    // Send: the draft becomes an email with its file, and is gone.
    let (status, sent) = s.post(&format!("{one}/send"), &token, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(
        (sent["subject"].clone(), sent["body"].clone(), sent["status"].clone(), sent["secure"].clone()),
        (json!("Draft"), json!("Final words"), json!("ACCEPTED"), json!(true))
    );
    assert_eq!(sent["attachments"][0]["fileName"], "scan.png");
    assert_eq!(error_code(&s.get(&one, &token).await.1), "EMAIL_DRAFT_NOT_FOUND");
    let (_, kind, _, bytes) =
        download(&s, &format!("{emails}/{}/attachment", sent["id"].as_str().unwrap()), &token).await;
    assert_eq!((kind.as_str(), bytes.as_slice()), ("image/png", &b"\x89PNG.."[..]));
    assert_eq!(s.get(&emails, &token).await.1["totalElements"], 1);

    // A draft without a subject cannot be sent; a draft can be deleted.
    let (_, empty) = s.post(&drafts, &token, json!({"body": "no subject yet"})).await;
    let empty_path = format!("{drafts}/{}", empty["id"].as_str().unwrap());
    let (status, err) = s.post(&format!("{empty_path}/send"), &token, json!({})).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("subject")));
    assert_eq!(s.get(&empty_path, &token).await.0, StatusCode::OK, "still a draft");
    let (status, body) = s.call(reqwest::Method::PUT, &empty_path, Some(&token), Some(json!({"subject": "Now"}))).await;
    assert_eq!((status, body["subject"].clone()), (StatusCode::OK, json!("Now")));
    assert_eq!(s.delete(&empty_path, &token).await, (StatusCode::OK, Value::Null));
    assert_eq!(s.get(&empty_path, &token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&drafts, &token).await.1["metaInfo"]["totalElements"], 0);
    let events = audit_subtypes(&s, &token, "EMAIL_DRAFT").await;
    for wanted in ["EMAIL_DRAFT_CREATED", "EMAIL_DRAFT_UPDATED", "EMAIL_DRAFT_SENT", "EMAIL_DRAFT_DELETED"] {
        assert!(events.iter().any(|e| e == wanted), "{wanted} in {events:?}");
    }
}

#[tokio::test]
async fn inbound_emails_match_patients_or_wait_unmatched_until_assigned() {
    let Setup { s, token, user, pid, emails } = setup().await;
    let inbound = s.sandbox("/providers/email/inbound");
    // From the patient's address (any case): the patient's email.
    let (status, e) = s
        .post(
            &inbound,
            &token,
            json!({"from": "j.doe@EXAMPLE.org", "to": "nsnow@clinic.example.org", "subject": "Re: hi", "body": "Thanks"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    assert_eq!(keys(&e), sorted(V8_KEYS));
    assert_eq!(
        (e["direction"].clone(), e["status"].clone(), e["sender"].clone(), e["senderName"].clone()),
        (json!("IN"), json!("DELIVERED"), json!(pid), json!("John Doe"))
    );
    assert_eq!((e["receiver"].clone(), e["careTeam"].clone()), (json!(user), json!("Nick Snow")));
    assert!(e["receivedAt"].is_string() && e["sentAt"].is_null());
    assert_eq!(s.get(&format!("{emails}?direction=IN"), &token).await.1["content"][0]["id"], e["id"]);
    // A received email: starred and reassigned, nothing else.
    let path = format!("{emails}/{}", e["id"].as_str().unwrap());
    let (status, err) = s.call(reqwest::Method::PUT, &path, Some(&token), Some(json!({"body": "edited"}))).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("body")));

    // From an unknown address, as a Mailgun-style form: unmatched.
    let form = "sender=stranger%40nowhere.org&recipient=nsnow%40clinic.example.org&subject=Who&body-plain=Is+this+the+clinic%3F&timestamp=1";
    let (status, u) =
        raw_post(&s, &inbound, &token, "application/x-www-form-urlencoded", form.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    assert_eq!(
        (u["status"].clone(), u["sender"].clone(), u["patientInfo"].clone(), u["body"].clone()),
        (json!("UNRECOGNISED"), Value::Null, Value::Null, json!("Is this the clinic?"))
    );
    let uid = u["id"].as_str().unwrap().to_string();
    let v8 = s.sandbox("/unrecognized-patients/emails");
    let (status, page) = s.get(&v8, &token).await;
    assert_eq!((status, page["totalElements"].clone()), (StatusCode::OK, json!(1)));
    assert_eq!(page["content"][0]["id"], json!(uid));
    assert_eq!(s.get(&format!("{v8}/{uid}"), &token).await.1, u);
    let docs = s.sandbox("/unrecognized-emails");
    let (status, page) = s.get(&docs, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&page), sorted(&["content", "totalElements", "totalPages", "page", "size"]));
    assert_eq!(
        keys(&page["content"][0]),
        sorted(&["id", "fromEmail", "subject", "receivedAt", "status", "resolvedBy", "patientId", "hasAttachment"])
    );
    assert_eq!(
        (page["content"][0]["status"].clone(), page["content"][0]["fromEmail"].clone()),
        (json!("PENDING"), json!("stranger@nowhere.org"))
    );
    assert_eq!(s.get(&format!("{docs}/{uid}"), &token).await.1["body"], "Is this the clinic?");
    // The matched email is not one of them.
    assert_eq!(error_code(&s.get(&format!("{v8}/{}", e["id"].as_str().unwrap()), &token).await.1), "EMAIL_NOT_FOUND");

    // V8: assign with PUT {"sender": patientId}.
    let (status, err) = s
        .call(
            reqwest::Method::PUT,
            &format!("{v8}/{uid}"),
            Some(&token),
            Some(json!({"sender": uuid::Uuid::new_v4().to_string()})),
        )
        .await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("sender")));
    let (status, assigned) =
        s.call(reqwest::Method::PUT, &format!("{v8}/{uid}"), Some(&token), Some(json!({"sender": pid}))).await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    assert_eq!((assigned["status"].clone(), assigned["senderName"].clone()), (json!("DELIVERED"), json!("John Doe")));
    assert_eq!(s.get(&format!("{emails}/{uid}"), &token).await.1["id"], json!(uid), "now the patient's");
    assert_eq!(s.get(&v8, &token).await.1["totalElements"], 0);
    let (_, resolved) = s.get(&format!("{docs}?status=RESOLVED"), &token).await;
    assert_eq!(
        (resolved["totalElements"].clone(), resolved["content"][0]["patientId"].clone()),
        (json!(1), json!(pid))
    );
    assert!(resolved["content"][0]["resolvedBy"].is_string());
    assert_eq!(s.get(&format!("{docs}?status=PENDING"), &token).await.1["totalElements"], 0);

    // DOCS: an unmatched email with a file, resolved with PATCH.
    let (kind, body) = multipart(
        &[("from", "Another@Nowhere.org"), ("subject", "Lab results")],
        &[("attachment-1", "results.pdf", "application/pdf", b"%PDF-results")],
    );
    let (status, f) = raw_post(&s, &inbound, &token, &kind, body).await;
    assert_eq!((status, f["status"].clone()), (StatusCode::CREATED, json!("UNRECOGNISED")), "{f}");
    let fid = f["id"].as_str().unwrap().to_string();
    let (_, one) = s.get(&format!("{docs}/{fid}"), &token).await;
    assert_eq!((one["hasAttachment"].clone(), one["status"].clone()), (json!(true), json!("PENDING")));
    let (status, kind, disposition, bytes) = download(&s, &format!("{docs}/{fid}/attachment"), &token).await;
    assert_eq!(
        (status, kind.as_str(), disposition.as_str(), bytes.as_slice()),
        (StatusCode::OK, "application/pdf", "attachment; filename=\"results.pdf\"", &b"%PDF-results"[..])
    );
    for (body, field) in [
        (json!({"patientId": pid}), "status"),
        (json!({"patientId": pid, "status": "PENDING"}), "status"),
        (json!({"status": "RESOLVED"}), "patientId"),
        (json!({"status": "RESOLVED", "patientId": uuid::Uuid::new_v4().to_string()}), "patientId"),
    ] {
        let (status, err) = s.patch(&format!("{docs}/{fid}"), &token, body).await;
        assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!(field)));
    }
    assert_eq!(
        s.get(&format!("{docs}/{fid}"), &token).await.1["status"],
        "PENDING",
        "refused resolutions wrote nothing"
    );
    let (status, done) =
        s.patch(&format!("{docs}/{fid}"), &token, json!({"patientId": pid, "status": "RESOLVED"})).await;
    assert_eq!(
        (status, done["status"].clone(), done["patientId"].clone()),
        (StatusCode::OK, json!("RESOLVED"), json!(pid))
    );
    assert_eq!(s.get(&format!("{emails}/{fid}"), &token).await.0, StatusCode::OK);
    let (status, _, _, bytes) = download(&s, &format!("{emails}/{fid}/attachment"), &token).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, &b"%PDF-results"[..]));
    assert_eq!(s.get(&format!("{emails}?direction=IN"), &token).await.1["totalElements"], 3);

    // V8: POST assigns too (as the reference's example sends it).
    let (_, posted) = s.post(&inbound, &token, json!({"from": "third@nowhere.org", "subject": "Third"})).await;
    let posted_path = format!("{v8}/{}", posted["id"].as_str().unwrap());
    let (status, star) = s.post(&posted_path, &token, json!({"starred": true})).await;
    assert_eq!(
        (status, star["starred"].clone(), star["status"].clone()),
        (StatusCode::OK, json!(true), json!("UNRECOGNISED"))
    );
    let (status, mine) = s.post(&posted_path, &token, json!({"sender": pid})).await;
    assert_eq!((status, mine["sender"].clone()), (StatusCode::OK, json!(pid)));
    assert_eq!(s.get(&format!("{emails}?direction=IN"), &token).await.1["totalElements"], 4);

    // V8: delete an unmatched email; inbound needs a sender address.
    let (_, gone) = s.post(&inbound, &token, json!({"from": "spam@nowhere.org", "subject": "Buy"})).await;
    let gone_path = format!("{v8}/{}", gone["id"].as_str().unwrap());
    assert_eq!(s.delete(&gone_path, &token).await, (StatusCode::OK, Value::Null));
    assert_eq!(s.get(&gone_path, &token).await.0, StatusCode::NOT_FOUND);
    let (status, err) = s.post(&inbound, &token, json!({"to": "x@y.org", "subject": "no sender"})).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("from")));
    let (status, err) = s.post(&inbound, &token, json!({"from": "not-an-address"})).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("from")));
    assert_eq!(s.get(&format!("{docs}?status=bogus"), &token).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn instances_are_isolated_policies_apply_and_patient_deletes_take_emails() {
    let Setup { s, token, pid, emails, .. } = setup().await;
    s.post(&emails, &token, json!({"subject": "s", "body": "b"})).await;
    let (_, u) = s.post(&s.sandbox("/providers/email/inbound"), &token, json!({"from": "who@nowhere.org"})).await;
    let live = |p: &str| format!("/{}/live{p}", s.tenant);
    assert_eq!(error_code(&s.get(&live(&format!("/patients/{pid}/emails")), &token).await.1), "PATIENT_NOT_FOUND");
    assert_eq!(s.get(&live("/unrecognized-patients/emails"), &token).await.1["totalElements"], 0);
    assert_eq!(s.get(&live("/unrecognized-emails"), &token).await.1["totalElements"], 0);
    assert_eq!(
        s.get(&live(&format!("/unrecognized-emails/{}", u["id"].as_str().unwrap())), &token).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.get(&live("/outbox/email"), &token).await.1["totalElements"], 0);

    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"], "email": ["read"]}}), None);
    let reader = s.token_for(&name, &secret).await;
    assert_eq!(s.get(&emails, &reader).await.0, StatusCode::OK);
    let (status, err) = s.post(&emails, &reader, json!({"subject": "s", "body": "b"})).await;
    assert_eq!((status, error_code(&err)), (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED".into()));
    assert!(err[0].get("date").is_none());
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let none = s.token_for(&name, &secret).await;
    for path in [emails.clone(), s.sandbox("/unrecognized-emails"), s.sandbox("/outbox/email")] {
        assert_eq!(s.get(&path, &none).await.0, StatusCode::FORBIDDEN, "{path}");
    }

    // Deleting the patient deletes their emails and drafts; unmatched ones stay.
    let (_, resolved) = s
        .patch(
            &s.sandbox(&format!("/unrecognized-emails/{}", u["id"].as_str().unwrap())),
            &token,
            json!({"patientId": pid, "status": "RESOLVED"}),
        )
        .await;
    assert_eq!(resolved["status"], "RESOLVED");
    s.post(&s.sandbox(&format!("/patients/{pid}/email-drafts")), &token, json!({"subject": "d"})).await;
    s.post(&s.sandbox("/providers/email/inbound"), &token, json!({"from": "other@nowhere.org"})).await;
    assert_eq!(s.delete(&s.sandbox(&format!("/patients/{pid}")), &token).await.0, StatusCode::OK);
    let (_, left) = s.get(&s.sandbox("/unrecognized-emails"), &token).await;
    assert_eq!(left["totalElements"], 1, "the resolved email went with its patient: {left}");
    assert_eq!(left["content"][0]["fromEmail"], "other@nowhere.org");
}

// ---- SMTP ---------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

/// A minimal SMTP server: EHLO/HELO, MAIL FROM, RCPT TO (550 for addresses starting with
/// `reject`), DATA, RSET, NOOP, QUIT. Every accepted message is kept.
async fn smtp_server() -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let kept = inbox.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = TokioBufReader::new(read).lines();
                let mut current = Received::default();
                write.write_all(b"220 test.local ESMTP ready\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-test.local\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        current = Received { mail_from: line[10..].trim().to_string(), ..Default::default() };
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        let to = line[8..].trim().trim_matches(['<', '>']).to_string();
                        if to.starts_with("reject") {
                            b"550 5.1.1 no such mailbox\r\n"
                        } else {
                            current.rcpt_to.push(to);
                            b"250 OK\r\n"
                        }
                    } else if upper == "DATA" {
                        write.write_all(b"354 end with .\r\n").await.unwrap();
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        current.data = data;
                        kept.lock().unwrap().push(current.clone());
                        b"250 OK queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
                        b"250 OK\r\n"
                    } else {
                        b"502 not implemented\r\n"
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, inbox)
}

/// Runs `openwelkin serve` on the test server's database with extra environment.
fn serve_with(s: &mut Server, env: &[(&str, String)]) -> Serving {
    s.kill9();
    let (child, base) = common::spawn_serving(
        Command::new(common::BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &s.db_url])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("OPENWELKIN_LOG", "warn"),
    );
    s.base = base;
    Serving(child)
}

#[tokio::test]
async fn with_smtp_configured_emails_arrive_at_a_real_smtp_server() {
    let (port, inbox) = smtp_server().await;
    let mut s = Server::start().await;
    let _serving = serve_with(
        &mut s,
        &[
            ("OPENWELKIN_SMTP_URL", format!("smtp+insecure://127.0.0.1:{port}")),
            ("OPENWELKIN_EMAIL_FROM", "care@clinic.example.org".into()),
        ],
    );
    let Setup { s, token, pid, emails, .. } = setup_on(s).await;
    let (status, e) = s
        .post(
            &emails,
            &token,
            json!({"subject": "Your appointment", "body": "See you on Monday.", "receiver": pid, "sendNow": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    assert_eq!(e["from"], "care@clinic.example.org");
    let id = e["id"].as_str().unwrap();
    eventually(&s, &token, &format!("{emails}/{id}"), |e| e["status"] == "DELIVERED").await;
    let got = inbox.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].rcpt_to, vec!["J.Doe@Example.org".to_string()]);
    assert!(got[0].mail_from.contains("care@clinic.example.org"), "{got:?}");
    let data = &got[0].data;
    assert!(data.contains("Subject: Your appointment"), "{data}");
    assert!(data.contains("See you on Monday."), "{data}");
    assert!(
        data.contains("To: \"John Doe\" <J.Doe@Example.org>") || data.contains("To: John Doe <J.Doe@Example.org>"),
        "{data}"
    );
    assert!(data.contains(&format!("Message-ID: <{}>", e["externalId"].as_str().unwrap())), "{data}");
    assert_eq!(s.get(&s.sandbox("/outbox/email"), &token).await.1["totalElements"], 0, "SMTP, not the outbox");

    // A permanent refusal marks the email REJECTED.
    let p = s
        .create_patient(
            &token,
            json!({"firstName": "No", "lastName": "Box", "email": "reject@example.org",
                   "careTeam": [{"id": e["sender"]}]}),
        )
        .await;
    let path = s.sandbox(&format!("/patients/{}/emails", p["id"].as_str().unwrap()));
    let (_, r) = s.post(&path, &token, json!({"subject": "s", "body": "b"})).await;
    let done =
        eventually(&s, &token, &format!("{path}/{}", r["id"].as_str().unwrap()), |e| e["status"] == "REJECTED").await;
    assert_eq!(done["status"], "REJECTED");
    assert_eq!(inbox.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_unreachable_smtp_server_fails_the_email_after_retries_and_bad_urls_stop_the_start() {
    // Nothing listens on the port: connection refused, a transient failure.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let mut s = Server::start().await;
    let _serving = serve_with(&mut s, &[("OPENWELKIN_SMTP_URL", format!("smtp+insecure://127.0.0.1:{port}"))]);
    let Setup { s, token, emails, .. } = setup_on(s).await;
    let (_, e) = s.post(&emails, &token, json!({"subject": "s", "body": "b"})).await;
    let path = format!("{emails}/{}", e["id"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.get(&path, &token).await.1["status"], "ACCEPTED", "kept for a retry");
    // Retries after 5 s and 25 s, then FAILED.
    for _ in 0..80 {
        if s.get(&path, &token).await.1["status"] == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(s.get(&path, &token).await.1["status"], "FAILED");

    let out = Command::new(common::BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &s.db_url,
            "--smtp-url",
            "smtp://mail.example.org?tls=opportunistic",
        ])
        .env("OPENWELKIN_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SMTP URL"), "{}", String::from_utf8_lossy(&out.stderr));
}

// ---- SMTP over TLS --------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Offer {
    /// Plain greeting, STARTTLS offered.
    StartTls,
    /// Plain greeting, AUTH offered but not STARTTLS.
    NoStartTls,
    /// TLS from the first byte (smtps).
    Implicit,
}

/// Every line a fake SMTP server received, and whether it came over TLS.
type Lines = Arc<Mutex<Vec<(bool, String)>>>;

/// A fake SMTP server that offers TLS as `offer` says, with a certificate of `pki`.
async fn tls_smtp_server(pki: &common::tls::Pki, offer: Offer) -> (u16, Lines) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config());
    let lines: Lines = Arc::default();
    let kept = lines.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else { return };
            let (acceptor, lines) = (acceptor.clone(), kept.clone());
            tokio::spawn(async move {
                if offer == Offer::Implicit {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    if tls.write_all(b"220 test.local ESMTP ready\r\n").await.is_ok() {
                        smtp_dialog(tls, true, false, &lines).await;
                    }
                    return;
                }
                if tcp.write_all(b"220 test.local ESMTP ready\r\n").await.is_err() {
                    return;
                }
                if let Some(tcp) = smtp_dialog(tcp, false, offer == Offer::StartTls, &lines).await {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        smtp_dialog(tls, true, false, &lines).await;
                    }
                }
            });
        }
    });
    (port, lines)
}

/// Answers SMTP commands (AUTH PLAIN is accepted) until QUIT or the end; gives the stream
/// back when the client asks for STARTTLS.
async fn smtp_dialog<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    tls: bool,
    offer_starttls: bool,
    lines: &Lines,
) -> Option<S> {
    let mut reader = TokioBufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_string();
        lines.lock().unwrap().push((tls, line.clone()));
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            if offer_starttls {
                b"250-test.local\r\n250-STARTTLS\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
            } else {
                b"250-test.local\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
            }
        } else if upper == "STARTTLS" && offer_starttls {
            reader.get_mut().write_all(b"220 2.0.0 go ahead\r\n").await.ok()?;
            return Some(reader.into_inner());
        } else if upper.starts_with("AUTH PLAIN") {
            b"235 2.7.0 accepted\r\n"
        } else if upper == "DATA" {
            reader.get_mut().write_all(b"354 end with .\r\n").await.ok()?;
            let mut message = String::new();
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).await.ok()? == 0 || l.trim_end() == "." {
                    break;
                }
                message.push_str(&l);
            }
            lines.lock().unwrap().push((tls, format!("MESSAGE {message}")));
            b"250 OK queued\r\n"
        } else if upper == "QUIT" {
            let _ = reader.get_mut().write_all(b"221 bye\r\n").await;
            return None;
        } else if ["MAIL FROM:", "RCPT TO:", "RSET", "NOOP"].iter().any(|c| upper.starts_with(c)) {
            b"250 OK\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        reader.get_mut().write_all(reply).await.ok()?;
    }
}

fn sent_over(lines: &Lines, tls: bool) -> Vec<String> {
    lines.lock().unwrap().iter().filter(|(t, _)| *t == tls).map(|(_, l)| l.clone()).collect()
}

#[tokio::test]
async fn smtp_upgrades_with_starttls_before_auth_and_data() {
    let pki = common::tls::Pki::new();
    let (port, lines) = tls_smtp_server(&pki, Offer::StartTls).await;
    let mut s = Server::start().await;
    let _serving = serve_with(
        &mut s,
        &[
            ("OPENWELKIN_SMTP_URL", format!("smtp://care%40clinic.example.org:pa55word@127.0.0.1:{port}")),
            ("OPENWELKIN_CA_FILE", pki.ca_file()),
        ],
    );
    let Setup { s, token, emails, .. } = setup_on(s).await;
    let (status, e) =
        s.post(&emails, &token, json!({"subject": "Results", "body": "Your A1c is 9.1", "sendNow": true})).await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    eventually(&s, &token, &format!("{emails}/{}", e["id"].as_str().unwrap()), |e| e["status"] == "DELIVERED").await;
    let clear = sent_over(&lines, false);
    assert!(clear.len() == 2 && clear[0].starts_with("EHLO") && clear[1] == "STARTTLS", "in clear: {clear:?}");
    let secure = sent_over(&lines, true);
    use base64::Engine;
    let plain = base64::engine::general_purpose::STANDARD.encode("\0care@clinic.example.org\0pa55word");
    assert!(secure.contains(&format!("AUTH PLAIN {plain}")), "over TLS: {secure:?}");
    for command in ["EHLO", "MAIL FROM:", "RCPT TO:", "DATA"] {
        assert!(secure.iter().any(|l| l.starts_with(command)), "{command} over TLS: {secure:?}");
    }
    assert!(secure.iter().any(|l| l.starts_with("MESSAGE ") && l.contains("Your A1c is 9.1")), "{secure:?}");
}

#[tokio::test]
async fn a_server_without_starttls_gets_neither_the_password_nor_the_message() {
    let pki = common::tls::Pki::new();
    let (port, lines) = tls_smtp_server(&pki, Offer::NoStartTls).await;
    let mut s = Server::start().await;
    let _serving = serve_with(
        &mut s,
        &[
            ("OPENWELKIN_SMTP_URL", format!("smtp://care:pa55word@127.0.0.1:{port}")),
            ("OPENWELKIN_CA_FILE", pki.ca_file()),
        ],
    );
    let Setup { s, token, emails, .. } = setup_on(s).await;
    let (_, e) =
        s.post(&emails, &token, json!({"subject": "Results", "body": "Your A1c is 9.1", "sendNow": true})).await;
    let path = format!("{emails}/{}", e["id"].as_str().unwrap());
    // Three attempts (now, after 5 s, after 25 more), then FAILED.
    let mut status = Value::Null;
    for _ in 0..120 {
        status = s.get(&path, &token).await.1["status"].clone();
        if status == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(status, "FAILED");
    let all: Vec<String> = lines.lock().unwrap().iter().map(|(_, l)| l.clone()).collect();
    assert!(all.iter().filter(|l| l.starts_with("EHLO")).count() >= 3, "each attempt greeted: {all:?}");
    assert!(
        all.iter().all(|l| l.starts_with("EHLO") || l == "QUIT" || l == "RSET"),
        "no AUTH, MAIL, RCPT or DATA without TLS: {all:?}"
    );
}

#[tokio::test]
async fn smtps_delivers_over_tls_from_the_first_byte_to_a_trusted_server_only() {
    let pki = common::tls::Pki::new();
    let (port, lines) = tls_smtp_server(&pki, Offer::Implicit).await;
    let mut s = Server::start().await;
    let url = format!("smtps://care:pa55word@127.0.0.1:{port}");
    let serving = serve_with(&mut s, &[("OPENWELKIN_SMTP_URL", url.clone()), ("OPENWELKIN_CA_FILE", pki.ca_file())]);
    let Setup { mut s, token, emails, .. } = setup_on(s).await;
    let (_, e) =
        s.post(&emails, &token, json!({"subject": "Results", "body": "Your A1c is 9.1", "sendNow": true})).await;
    eventually(&s, &token, &format!("{emails}/{}", e["id"].as_str().unwrap()), |e| e["status"] == "DELIVERED").await;
    assert!(sent_over(&lines, false).is_empty());
    let secure = sent_over(&lines, true);
    assert!(
        secure.iter().any(|l| l.starts_with("AUTH PLAIN")) && secure.iter().any(|l| l.contains("Your A1c is 9.1")),
        "{secure:?}"
    );
    drop(serving);

    // Without the CA the server's certificate is refused: nothing is said to it.
    let before = lines.lock().unwrap().len();
    let _serving = serve_with(&mut s, &[("OPENWELKIN_SMTP_URL", url)]);
    let (_, e) = s.post(&emails, &token, json!({"subject": "Again", "body": "Untrusted", "sendNow": true})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, now) = s.get(&format!("{emails}/{}", e["id"].as_str().unwrap()), &token).await;
    assert_eq!(now["status"], "ACCEPTED", "not delivered, kept for a retry: {now}");
    assert_eq!(lines.lock().unwrap().len(), before, "no command reached the untrusted server");
}

const MAILGUN_KEY: &str = "mailgun-test-signing-key-8e1d";
const EMULATOR_ADMIN: &str = "emulator-admin-token-8e1d";

/// Mailgun's `timestamp`, `token` and `signature` fields, computed here as Mailgun
/// documents them: hex(HMAC-SHA256(signing key, timestamp + token)).
fn mailgun_fields(key: &str, timestamp_s: i64, token: &str) -> Vec<(String, String)> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{timestamp_s}{token}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    vec![("timestamp".into(), timestamp_s.to_string()), ("token".into(), token.into()), ("signature".into(), signature)]
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// An inbound email as Mailgun posts it: a form, no bearer token.
async fn mailgun_post(s: &Server, fields: &[(String, String)]) -> (StatusCode, Value) {
    let resp = s.http.post(s.url(&s.sandbox("/providers/email/inbound"))).form(fields).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn mailgun_signed_inbound_email_is_stored_and_forged_or_stale_is_refused() {
    let s = Server::start_with(&[
        "--no-webhook-worker",
        "--mailgun-signing-key",
        MAILGUN_KEY,
        "--emulator",
        "--emulator-token",
        EMULATOR_ADMIN,
    ])
    .await;
    let Setup { s, token, .. } = setup_on(s).await;
    let unmatched = s.sandbox("/unrecognized-patients/emails");
    let mail = |subject: &str| -> Vec<(String, String)> {
        [
            ("sender", "Stranger@Nowhere.org"),
            ("recipient", "nsnow@clinic.example.org"),
            ("subject", subject),
            ("body-plain", "hello"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let now = unix_now();
    let refused = [
        ("no signature", mail("unsigned")),
        ("another key", [mail("forged"), mailgun_fields("not-the-key", now, "tok-1")].concat()),
        ("a token that was not signed", {
            let mut f = [mail("altered"), mailgun_fields(MAILGUN_KEY, now, "tok-2")].concat();
            f[5].1 = "tok-3".into();
            f
        }),
        ("a stale timestamp", [mail("stale"), mailgun_fields(MAILGUN_KEY, now - 10 * 60, "tok-4")].concat()),
        ("a timestamp from the future", [mail("future"), mailgun_fields(MAILGUN_KEY, now + 10 * 60, "tok-5")].concat()),
    ];
    for (what, fields) in &refused {
        let (status, err) = mailgun_post(&s, fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {err}");
        assert_eq!(error_code(&err), "INVALID_PROVIDER_SIGNATURE", "{what}");
        assert_eq!(err[0]["details"]["provider"], "mailgun");
    }
    let (_, stale) = mailgun_post(&s, &refused[3].1).await;
    assert!(stale[0]["details"]["reason"].as_str().unwrap().contains("5 minutes"), "{stale}");
    assert_eq!(total(&s, &token, &unmatched, "").await, 0, "nothing refused was stored");

    // Signed as Mailgun signs: stored, audited as Mailgun.
    let (status, e) = mailgun_post(&s, &[mail("signed"), mailgun_fields(MAILGUN_KEY, now, "tok-6")].concat()).await;
    assert_eq!(
        (status, e["status"].as_str(), e["subject"].as_str()),
        (StatusCode::CREATED, Some("UNRECOGNISED"), Some("signed")),
        "{e}"
    );
    let (_, audit) = s.get(&format!("/{}/admin/audit-data?entity=EMAIL&size=1", s.tenant), &token).await;
    assert_eq!(audit["data"][0]["subjectFullName"], "API_CLIENT:mailgun", "{audit}");

    // With attachments Mailgun posts multipart; the signature fields are parts.
    let sig = mailgun_fields(MAILGUN_KEY, now, "tok-7");
    let mut fields: Vec<(&str, &str)> = vec![("sender", "stranger@nowhere.org"), ("subject", "with a file")];
    fields.extend(sig.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (kind, body) = multipart(&fields, &[("attachment-1", "scan.pdf", "application/pdf", b"%PDF-scan")]);
    let resp = s
        .http
        .post(s.url(&s.sandbox("/providers/email/inbound")))
        .header("content-type", kind)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(total(&s, &token, &unmatched, "").await, 2);

    // The age is judged by the server's clock, which the emulator moves: an hour ahead,
    // a signature of the real now is stale and one of the server's now is good.
    let (status, _) = s.post("/_emulator/clock/advance", EMULATOR_ADMIN, json!({"hours": 1})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        mailgun_post(&s, &[mail("real now"), mailgun_fields(MAILGUN_KEY, unix_now(), "tok-8")].concat()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, e) =
        mailgun_post(&s, &[mail("server now"), mailgun_fields(MAILGUN_KEY, unix_now() + 3600, "tok-9")].concat()).await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    let token = s.token().await; // the one before expired with the hour
    assert_eq!(total(&s, &token, &unmatched, "").await, 3);

    // A bearer token still works without any signature.
    let (status, _) = s.post(&s.sandbox("/providers/email/inbound"), &token, json!({"from": "a@nowhere.org"})).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn inbound_mail_without_a_signing_key_needs_a_token() {
    let t = setup().await;
    let now = unix_now();
    let (status, err) = mailgun_post(&t.s, &[("sender".to_string(), "x@nowhere.org".to_string())]).await;
    assert_eq!((status, error_code(&err)), (StatusCode::UNAUTHORIZED, "NOT_VALID_JSON_WEB_TOKEN".into()));
    let signed =
        [vec![("sender".to_string(), "x@nowhere.org".to_string())], mailgun_fields(MAILGUN_KEY, now, "t")].concat();
    let (status, err) = mailgun_post(&t.s, &signed).await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::FORBIDDEN, "INVALID_PROVIDER_SIGNATURE".into()),
        "unverifiable"
    );
    assert_eq!(total(&t.s, &t.token, &t.s.sandbox("/unrecognized-patients/emails"), "").await, 0);
}

#[tokio::test]
async fn attachments_a_browser_would_run_are_only_ever_downloaded() {
    let t = setup().await;
    let html = b"<html><script>alert(document.cookie)</script></html>";
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let (kind, body) = multipart(
        &[("from", "mallory@nowhere.org"), ("subject", "open me")],
        &[
            ("a", "page.html", "text/html", html),
            ("b", "logo.svg", "image/svg+xml", svg),
            ("c", "scan.pdf", "application/pdf", b"%PDF-1"),
        ],
    );
    let (status, e) = raw_post(&t.s, &t.s.sandbox("/providers/email/inbound"), &t.token, &kind, body).await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    let id = e["id"].as_str().unwrap();
    let files = e["attachments"].as_array().unwrap();
    for (i, (name, kind, bytes)) in [
        ("page.html", "text/html", &html[..]),
        ("logo.svg", "image/svg+xml", &svg[..]),
        ("scan.pdf", "application/pdf", &b"%PDF-1"[..]),
    ]
    .into_iter()
    .enumerate()
    {
        let path = t.s.sandbox(&format!(
            "/unrecognized-emails/{id}/attachment?attachmentId={}",
            files[i]["id"].as_str().unwrap()
        ));
        let resp = t.s.http.get(t.s.url(&path)).bearer_auth(&t.token).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers().clone();
        assert_eq!(h["content-type"], kind);
        assert_eq!(h["content-disposition"], format!("attachment; filename=\"{name}\"").as_str(), "{name}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes);
    }
}
