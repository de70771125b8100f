//! Chat over HTTP: the recorded shapes of `chat/inbound`, the conversation and its
//! search, token paging over several pages (follow-ups send only `pageToken`), the
//! DOCS care-team send and list, archive/restore refused to API clients, the chat
//! webhook (received by a local HTTP server), validation with nothing written,
//! isolation between instances, the policy 403 and the audit rows.

mod common;

use base64::Engine;
use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn setup() -> (Server, String, String) {
    setup_with(&["--no-webhook-worker", "--allow-private-webhooks"]).await
}

/// The chat webhook receivers of these tests listen on 127.0.0.1, which only
/// `--allow-private-webhooks` lets the server send to.
async fn setup_with(flags: &[&str]) -> (Server, String, String) {
    let s = Server::start_with(flags).await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Testy", "lastName": "McTesterson"})).await;
    (s, token, p["id"].as_str().unwrap().to_string())
}

async fn user(s: &Server, token: &str) -> String {
    let name = common::unique("u");
    let body =
        json!({"username": name, "email": format!("{name}@example.org"), "firstName": "Sam", "lastName": "Morgan"});
    let (status, u) = s.post(&format!("/{}/admin/users", s.tenant), token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    u["id"].as_str().unwrap().to_string()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect();
    k.sort();
    k
}

fn field(err: &Value) -> String {
    err[0]["details"]["field"].as_str().unwrap_or_default().to_string()
}

fn decode(token: &str) -> Value {
    serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(token).unwrap()).unwrap()
}

fn enc(q: &str) -> String {
    q.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
}

async fn inbound(s: &Server, token: &str, pid: &str, text: &str) -> Value {
    let (status, m) =
        s.post(&s.sandbox(&format!("/patients/{pid}/chat/inbound")), token, json!({"message": text})).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    m
}

async fn send(s: &Server, token: &str, pid: &str, body: Value) -> (StatusCode, Value) {
    s.post(&s.sandbox(&format!("/patients/{pid}/chat/messages")), token, body).await
}

fn texts(page: &Value) -> Vec<String> {
    page["content"].as_array().unwrap().iter().map(|m| m["message"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn inbound_and_the_conversation_have_the_recorded_shapes() {
    let (s, token, pid) = setup().await;
    let m = inbound(&s, &token, &pid, "Foo Baz.").await;
    assert_eq!(keys(&m), ["createdAt", "externalId", "message", "sender"]);
    assert_eq!(
        m["sender"],
        json!({"clientType": "PATIENT", "id": pid, "titleName": null, "patientFullName": "Testy McTesterson"})
    );
    assert_eq!(m["message"], "Foo Baz.");
    let ext = m["externalId"].as_str().unwrap();
    assert!(ext.len() == 34 && ext.starts_with("IM") && ext[2..].chars().all(|c| c.is_ascii_hexdigit()), "{ext}");
    assert!(m["createdAt"].as_str().unwrap().ends_with(".000Z"), "whole seconds, as recorded: {m}");

    let uid = user(&s, &token).await;
    let (status, sent) = send(&s, &token, &pid, json!({"body": "Where is the user ID??", "senderId": uid})).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");

    let (status, page) =
        s.get(&s.sandbox(&format!("/patients/{pid}/chat?includeArchived=False&pageSize=20")), &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(keys(&page), ["content", "meta"]);
    assert_eq!(page["meta"], json!({"nextPageToken": null, "prevPageToken": null, "pageSize": 20, "found": true}));
    assert_eq!(texts(&page), ["Where is the user ID??", "Foo Baz."], "newest first");
    let first = &page["content"][0];
    assert_eq!(keys(first), ["createdAt", "externalId", "message", "sender"]);
    assert_eq!(
        first["sender"],
        json!({"clientType": "USER", "id": uid, "titleName": "Sam Morgan", "patientFullName": null})
    );
    assert_eq!(page["content"][1]["sender"]["patientFullName"], Value::Null, "null in the list, as recorded");
    assert_eq!(page["content"][1]["externalId"], m["externalId"]);

    // The V8 spelling of every route.
    let (status, v8) = s.get(&s.sandbox(&format!("/patient/{pid}/chat")), &token).await;
    assert_eq!((status, &v8), (StatusCode::OK, &page));
    let (status, m2) =
        s.post(&s.sandbox(&format!("/patient/{pid}/chat/inbound")), &token, json!({"message": "v8"})).await;
    assert_eq!((status, m2["message"].as_str()), (StatusCode::OK, Some("v8")));
    let (status, hits) = s.get(&s.sandbox(&format!("/patient/{pid}/chat/search?query=v8")), &token).await;
    assert_eq!((status, hits["content"].as_array().unwrap().len()), (StatusCode::OK, 1));

    // An empty conversation.
    let other = s.create_patient(&token, json!({"firstName": "No", "lastName": "Chat"})).await;
    let (status, empty) = s.get(&s.sandbox(&format!("/patients/{}/chat", other["id"].as_str().unwrap())), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        empty,
        json!({"meta": {"nextPageToken": null, "prevPageToken": null, "pageSize": 20, "found": false}, "content": []})
    );
}

#[tokio::test]
async fn token_paging_walks_every_page_with_the_token_alone() {
    let (s, token, pid) = setup().await;
    let uid = user(&s, &token).await;
    let mut written = Vec::new();
    for i in 0..8 {
        let text = format!("message {i}");
        if i % 3 == 0 {
            assert_eq!(send(&s, &token, &pid, json!({"body": text, "senderId": uid})).await.0, StatusCode::CREATED);
        } else {
            inbound(&s, &token, &pid, &text).await;
        }
        written.push(text);
        // A token as Welkin makes it names only a time, in milliseconds: messages of one
        // millisecond cannot be told apart by it (below), so each gets its own.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    written.reverse();

    let base = s.sandbox(&format!("/patients/{pid}/chat"));
    let (status, page) = s.get(&format!("{base}?includeArchived=False&pageSize=3"), &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["meta"]["prevPageToken"], Value::Null, "the first page has no previous page");
    let mut seen = texts(&page);
    let mut pages = vec![page.clone()];
    let mut next = page["meta"]["nextPageToken"].clone();
    while let Some(t) = next.as_str() {
        let tok = decode(t);
        assert_eq!(
            (tok["type"].as_str(), tok["pageSize"].as_i64(), tok["before"].as_bool()),
            (Some("LOCAL_FIND"), Some(3), Some(true))
        );
        assert!(tok["borderDate"].as_str().unwrap().ends_with('Z'));
        let (status, p) = s.get(&format!("{base}?pageToken={}", enc(t)), &token).await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["meta"]["pageSize"], 3);
        assert!(p["meta"]["prevPageToken"].is_string(), "later pages can go back: {p}");
        seen.extend(texts(&p));
        next = p["meta"]["nextPageToken"].clone();
        pages.push(p);
        assert!(pages.len() < 10, "paging never ends");
    }
    assert_eq!(pages.len(), 3);
    assert_eq!(seen, written, "every message once, newest first");

    // Back from the last page to the one before it.
    let prev = pages[2]["meta"]["prevPageToken"].as_str().unwrap();
    assert_eq!(decode(prev)["before"], false);
    let (_, back) = s.get(&format!("{base}?pageToken={}", enc(prev)), &token).await;
    assert_eq!(texts(&back), texts(&pages[1]));
    // A token as Welkin makes it (no border id) works too.
    let mut tok = decode(pages[0]["meta"]["nextPageToken"].as_str().unwrap());
    tok.as_object_mut().unwrap().remove("borderId");
    let plain = base64::engine::general_purpose::STANDARD.encode(tok.to_string());
    let (status, p) = s.get(&format!("{base}?pageToken={}", enc(&plain)), &token).await;
    assert_eq!((status, texts(&p)), (StatusCode::OK, texts(&pages[1])));
    // A `+` sent unencoded arrives as a space and is still read.
    let (status, _) = s
        .get(
            &format!("{base}?pageToken={}", pages[0]["meta"]["nextPageToken"].as_str().unwrap().replace('=', "%3D")),
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    for bad in ["?pageSize=0", "?pageSize=1001", "?pageSize=x", "?includeArchived=maybe", "?pageToken=bm9wZQ%3D%3D"] {
        let (status, err) = s.get(&format!("{base}{bad}"), &token).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"), "{bad}");
    }
}

#[tokio::test]
async fn search_finds_messages_and_pages_around_each_hit() {
    let (s, token, pid) = setup().await;
    let uid = user(&s, &token).await;
    inbound(&s, &token, &pid, "Test response from patient, sent via API").await;
    inbound(&s, &token, &pid, "unrelated").await;
    send(&s, &token, &pid, json!({"body": "This is a test. How does it look?", "senderId": uid})).await;
    inbound(&s, &token, &pid, "THis is a new test message! 12345").await;

    let search = s.sandbox(&format!("/patients/{pid}/chat/search"));
    let (status, found) =
        s.get(&format!("{search}?pageSize=20&contentPageSize=20&includeArchived=False&query=Test"), &token).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["meta"], json!({"nextPageToken": null, "prevPageToken": null, "pageSize": 20, "found": true}));
    let hits = found["content"].as_array().unwrap();
    let messages: Vec<&str> = hits.iter().map(|h| h["message"]["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        [
            "THis is a new test message! 12345",
            "This is a test. How does it look?",
            "Test response from patient, sent via API"
        ],
        "case-insensitive, newest first"
    );
    for h in hits {
        assert_eq!(keys(h), ["message", "meta"]);
        assert_eq!(keys(&h["meta"]), ["nextPageToken", "prevPageToken"]);
        let next = decode(h["meta"]["nextPageToken"].as_str().unwrap());
        assert_eq!(
            (next["type"].as_str(), next["pageSize"].as_i64(), next["before"].as_bool()),
            (Some("LOCAL_FIND"), Some(20), Some(true))
        );
        assert_eq!(next["borderDate"], h["message"]["createdAt"]);
        assert_eq!(decode(h["meta"]["prevPageToken"].as_str().unwrap())["before"], false);
    }
    let user_hit = &hits[1]["message"];
    assert_eq!(keys(user_hit), ["createdAt", "externalId", "message", "receiver", "sender"]);
    assert_eq!(
        user_hit["receiver"],
        json!({"clientType": "PATIENT", "id": pid, "titleName": null, "patientFullName": null})
    );
    assert_eq!(user_hit["sender"]["titleName"], "Sam Morgan");
    assert!(hits[0]["message"].get("receiver").is_none());

    // A hit's tokens page the conversation around it: older, then newer.
    let (_, older) = s
        .get(
            &format!(
                "{}?pageToken={}",
                s.sandbox(&format!("/patients/{pid}/chat")),
                enc(hits[1]["meta"]["nextPageToken"].as_str().unwrap())
            ),
            &token,
        )
        .await;
    assert_eq!(texts(&older), ["unrelated", "Test response from patient, sent via API"]);
    assert_eq!(older["meta"]["nextPageToken"], Value::Null);
    let (_, newer) = s
        .get(
            &format!(
                "{}?pageToken={}",
                s.sandbox(&format!("/patients/{pid}/chat")),
                enc(hits[1]["meta"]["prevPageToken"].as_str().unwrap())
            ),
            &token,
        )
        .await;
    assert_eq!(texts(&newer), ["THis is a new test message! 12345"]);

    // Search pages with its own tokens, which carry the query.
    let (_, first) = s.get(&format!("{search}?query=TEST&pageSize=2&contentPageSize=1"), &token).await;
    assert_eq!(first["content"].as_array().unwrap().len(), 2);
    let t = first["meta"]["nextPageToken"].as_str().unwrap();
    let tok = decode(t);
    assert_eq!(
        (tok["type"].as_str(), tok["query"].as_str(), tok["pageSize"].as_i64()),
        (Some("LOCAL_SEARCH"), Some("TEST"), Some(2))
    );
    assert_eq!(decode(first["content"][0]["meta"]["nextPageToken"].as_str().unwrap())["pageSize"], 1);
    let (_, second) = s.get(&format!("{search}?pageToken={}", enc(t)), &token).await;
    assert_eq!(second["content"].as_array().unwrap().len(), 1);
    assert_eq!(second["meta"]["nextPageToken"], Value::Null);
    assert_eq!(second["content"][0]["message"]["message"], "Test response from patient, sent via API");

    let (_, none) = s.get(&format!("{search}?query=zebra"), &token).await;
    assert_eq!(none["meta"]["found"], false);
    assert_eq!(none["content"], json!([]));
    let (status, err) = s.get(&search, &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"));
    assert_eq!(err[0]["details"]["parameter"], "query");
    // A conversation token is not a search token, and the other way round.
    let find = hits[0]["meta"]["nextPageToken"].as_str().unwrap();
    assert_eq!(s.get(&format!("{search}?pageToken={}", enc(find)), &token).await.0, StatusCode::BAD_REQUEST);
    let (status, _) =
        s.get(&format!("{}?pageToken={}", s.sandbox(&format!("/patients/{pid}/chat")), enc(t)), &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_care_team_sends_in_the_docs_shape() {
    let (s, token, pid) = setup().await;
    let uid = user(&s, &token).await;
    let (status, m) = send(&s, &token, &pid, json!({"body": "Hello from the team", "senderId": uid})).await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    assert_eq!(
        keys(&m),
        [
            "attachmentId",
            "body",
            "externalId",
            "id",
            "patientId",
            "readAt",
            "sender",
            "senderId",
            "senderName",
            "sentAt"
        ]
    );
    assert_eq!(
        (m["sender"].as_str(), m["senderId"].as_str(), m["senderName"].as_str(), m["patientId"].as_str()),
        (Some("USER"), Some(uid.as_str()), Some("Sam Morgan"), Some(pid.as_str()))
    );
    assert_eq!(m["readAt"], Value::Null);
    // Without a user, the message is from the API client.
    let (status, m2) = send(&s, &token, &pid, json!({"message": "From the integration"})).await;
    assert_eq!(status, StatusCode::CREATED, "{m2}");
    assert_eq!(
        (m2["sender"].as_str(), m2["senderName"].clone()),
        (Some("API_CLIENT"), json!(format!("API_CLIENT:{}", s.client)))
    );
    inbound(&s, &token, &pid, "Thanks!").await;

    let list = s.sandbox(&format!("/patients/{pid}/chat/messages"));
    let (status, page) = s.get(&list, &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let bodies: Vec<&str> = page["data"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Hello from the team", "From the integration", "Thanks!"], "oldest first");
    assert_eq!(page["data"][2]["sender"], "PATIENT");
    assert_eq!((page["metaInfo"]["pageSize"].as_i64(), page["metaInfo"]["lastPage"].as_bool()), (Some(50), Some(true)));
    let (_, paged) = s.get(&format!("{list}?size=2&page=1"), &token).await;
    assert_eq!(paged["data"].as_array().unwrap().len(), 1);
    let since = m2["sentAt"].as_str().unwrap();
    let (_, after) = s.get(&format!("{list}?since={}", since.replace(':', "%3A")), &token).await;
    assert!(after["data"].as_array().unwrap().iter().all(|m| m["sentAt"].as_str().unwrap() > since), "{after}");
    assert_eq!(s.get(&format!("{list}?since=soon"), &token).await.0, StatusCode::BAD_REQUEST);

    // The DOCS search, across the instance or for one patient.
    let other = s.create_patient(&token, json!({"firstName": "Ot", "lastName": "Her"})).await;
    let oid = other["id"].as_str().unwrap();
    inbound(&s, &token, oid, "hello from the other patient").await;
    let search = s.sandbox("/chat/search");
    let (status, all) = s.post(&search, &token, json!({"query": "HELLO"})).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let hits: Vec<&str> = all["data"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(hits, ["hello from the other patient", "Hello from the team"], "newest first");
    assert_eq!(all["metaInfo"]["totalElements"], 2);
    let (_, mine) = s.post(&search, &token, json!({"query": "hello", "patientId": pid, "size": 1, "page": 0})).await;
    assert_eq!(
        (mine["data"].as_array().unwrap().len(), mine["data"][0]["patientId"].as_str()),
        (1, Some(pid.as_str()))
    );
    assert_eq!(mine["metaInfo"]["lastPage"], true);
    let ghost = uuid::Uuid::new_v4().to_string();
    for (body, f) in [
        (json!({}), "query"),
        (json!({"query": " "}), "query"),
        (json!({"query": "x", "patientId": ghost}), "patientId"),
        (json!({"query": "x", "size": 0}), "size"),
        (json!({"query": "x", "page": -1}), "page"),
        (json!({"query": "x", "sort": "y"}), "sort"),
    ] {
        let (status, err) = s.post(&search, &token, body).await;
        assert_eq!((status, field(&err)), (StatusCode::BAD_REQUEST, f.to_string()));
    }
    assert_eq!(
        s.post(&format!("/{}/live/chat/search", s.tenant), &token, json!({"query": "hello"})).await.1["data"],
        json!([])
    );

    let (_, conv) = s.get(&s.sandbox(&format!("/patients/{pid}/chat")), &token).await;
    let api = &conv["content"][1]["sender"];
    assert_eq!(
        (api["clientType"].as_str(), api["titleName"].clone()),
        (Some("API_CLIENT"), json!(format!("API_CLIENT:{}", s.client)))
    );
}

#[tokio::test]
async fn invalid_messages_are_refused_with_nothing_written() {
    let (s, token, pid) = setup().await;
    let url = s.sandbox(&format!("/patients/{pid}/chat/inbound"));
    for (body, f) in [
        (json!({}), "message"),
        (json!({"message": ""}), "message"),
        (json!({"message": 5}), "message"),
        (json!({"message": "x", "color": "red"}), "color"),
        (json!({"message": "x".repeat(10_001)}), "message"),
    ] {
        let (status, err) = s.post(&url, &token, body).await;
        assert_eq!(
            (status, error_code(&err).as_str(), field(&err)),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR", f.to_string())
        );
        assert_eq!(err[0]["componentType"], "CHAT");
    }
    let stranger = uuid::Uuid::new_v4().to_string();
    for (body, f) in [
        (json!({}), "body"),
        (json!({"body": "x", "senderId": stranger}), "senderId"),
        (json!({"body": "x", "senderId": "nope"}), "senderId"),
        (json!({"body": "x", "attachmentId": "nope"}), "attachmentId"),
        (json!({"body": "x", "message": "y"}), "message"),
    ] {
        let (status, err) = send(&s, &token, &pid, body).await;
        assert_eq!((status, field(&err)), (StatusCode::BAD_REQUEST, f.to_string()), "{err}");
    }
    let (status, err) = s.call(Method::POST, &url, Some(&token), None).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "MALFORMED_JSON"));
    let (_, page) = s.get(&s.sandbox(&format!("/patients/{pid}/chat")), &token).await;
    assert_eq!(page["content"], json!([]), "nothing was written");

    let missing = uuid::Uuid::new_v4();
    for (status, err) in [
        s.post(&s.sandbox(&format!("/patients/{missing}/chat/inbound")), &token, json!({"message": "x"})).await,
        s.get(&s.sandbox(&format!("/patients/{missing}/chat")), &token).await,
        s.get(&s.sandbox(&format!("/patients/{missing}/chat/search?query=x")), &token).await,
        send(&s, &token, &missing.to_string(), json!({"body": "x"})).await,
    ] {
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND"));
    }
}

#[tokio::test]
async fn archive_and_restore_are_restricted_for_api_clients() {
    let (s, token, pid) = setup().await;
    inbound(&s, &token, &pid, "keep me").await;
    for path in [
        format!("/patients/{pid}/chat/archive?archiveDate=2020-10-05T10:51:41.000Z"),
        format!("/patients/{pid}/chat/restore"),
        format!("/patient/{pid}/chat/archive?archiveDate=2020-10-05T10:51:41.000Z"),
        format!("/patient/{pid}/chat/restore"),
    ] {
        let (status, err) = s.call(Method::POST, &s.sandbox(&path), Some(&token), None).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"));
        assert_eq!(
            keys(&err[0]["details"]),
            ["clientId", "clientName", "clientType", "organizationName", "requestURI"]
        );
        assert!(err[0].get("date").is_none());
        assert_eq!(err[0]["details"]["requestURI"], json!(s.sandbox(path.split('?').next().unwrap())));
    }
    let (_, page) = s.get(&s.sandbox(&format!("/patients/{pid}/chat?includeArchived=true")), &token).await;
    assert_eq!(texts(&page), ["keep me"]);
}

/// A local HTTP server that records what it receives.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(axum::http::HeaderMap, Value)>>>,
}

async fn receiver() -> Receiver {
    let got: Arc<Mutex<Vec<(axum::http::HeaderMap, Value)>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((headers, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url: format!("http://{addr}/hook"), got }
}

impl Receiver {
    async fn wait_for(&self, n: usize) -> Vec<(axum::http::HeaderMap, Value)> {
        for _ in 0..200 {
            if self.got.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.got.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn care_team_messages_reach_the_chat_webhook() {
    let (s, token, pid) = setup().await;
    let hook = s.sandbox("/integrations/chat-webhook");
    let (status, err) = s.get(&hook, &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "CHAT_WEBHOOK_NOT_FOUND"));
    for (body, f) in [
        (json!({"apiKey": "k"}), "url"),
        (json!({"url": "ftp://example.org/x"}), "url"),
        (json!({"url": "http://example.org/x", "active": "yes"}), "active"),
        (json!({"url": "http://example.org/x", "secret": "s"}), "secret"),
    ] {
        let (status, err) = s.call(Method::PUT, &hook, Some(&token), Some(body)).await;
        assert_eq!((status, field(&err)), (StatusCode::BAD_REQUEST, f.to_string()));
    }
    assert_eq!(s.get(&hook, &token).await.0, StatusCode::NOT_FOUND, "nothing was written");

    let r = receiver().await;
    let (status, cfg) = s
        .call(Method::PUT, &hook, Some(&token), Some(json!({"url": r.url, "apiKey": "key-1", "apiSecret": "secret-1"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{cfg}");
    assert_eq!(
        (cfg["apiKey"].as_str(), cfg["apiSecretSet"].as_bool(), cfg["active"].as_bool()),
        (Some("key-1"), Some(true), Some(true))
    );
    assert!(cfg.get("apiSecret").is_none(), "the secret is never shown");
    assert_eq!(s.get(&hook, &token).await.1, cfg);

    // A patient's own message is not announced; a care-team message is.
    inbound(&s, &token, &pid, "from the patient").await;
    let (status, _) = send(&s, &token, &pid, json!({"body": "Webhook test..."})).await;
    assert_eq!(status, StatusCode::CREATED);
    let got = r.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let (headers, body) = &got[0];
    assert_eq!(headers["x-webhook-api-key"], "key-1");
    assert_eq!(headers["x-webhook-api-secret"], "secret-1");
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    let host = s.base.trim_start_matches("http://");
    assert_eq!(
        body,
        &json!({"patientId": pid, "patientUrl": format!("http://{host}/{}/sandbox/patients/{pid}", s.tenant),
                "tenantName": s.tenant, "instanceName": "sandbox", "message": "Webhook test..."})
    );

    // Another instance has its own (no) webhook.
    let live_p =
        s.post(&format!("/{}/live/patients", s.tenant), &token, json!({"firstName": "Li", "lastName": "Ve"})).await.1;
    let live_pid = live_p["id"].as_str().unwrap();
    let (status, _) =
        s.post(&format!("/{}/live/patients/{live_pid}/chat/messages", s.tenant), &token, json!({"body": "live"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(s.get(&format!("/{}/live/integrations/chat-webhook", s.tenant), &token).await.0, StatusCode::NOT_FOUND);

    // Inactive, then a configured public base URL, then removed.
    let body = json!({"url": r.url, "apiKey": "key-2", "apiSecret": "secret-2", "active": false});
    assert_eq!(s.call(Method::PUT, &hook, Some(&token), Some(body)).await.0, StatusCode::OK);
    send(&s, &token, &pid, json!({"body": "quiet"})).await;
    let body =
        json!({"url": r.url, "apiKey": "key-2", "apiSecret": "secret-2", "publicBaseUrl": "https://api.example.org/"});
    assert_eq!(s.call(Method::PUT, &hook, Some(&token), Some(body)).await.0, StatusCode::OK);
    send(&s, &token, &pid, json!({"body": "loud"})).await;
    let got = r.wait_for(2).await;
    assert_eq!(got.len(), 2, "the live message and the inactive hook sent nothing: {got:?}");
    assert_eq!(got[1].1["message"], "loud");
    assert_eq!(got[1].1["patientUrl"], json!(format!("https://api.example.org/{}/sandbox/patients/{pid}", s.tenant)));
    assert_eq!(got[1].0["x-webhook-api-key"], "key-2");
    let (status, empty) = s.delete(&hook, &token).await;
    assert_eq!((status, empty), (StatusCode::OK, Value::Null));
    assert_eq!(s.delete(&hook, &token).await.0, StatusCode::NOT_FOUND);
    send(&s, &token, &pid, json!({"body": "after"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.got.lock().unwrap().len(), 2);

    // The configuration is audited without its secret.
    let (_, audit) = s.get(&format!("/{}/admin/audit-data?entity=CHAT_WEBHOOK", s.tenant), &token).await;
    let rows = audit["data"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{audit}");
    assert!(!audit.to_string().contains("secret-1"));
}

#[tokio::test]
async fn the_chat_webhook_is_not_sent_to_private_addresses_unless_allowed() {
    let (s, token, pid) = setup_with(&["--no-webhook-worker"]).await;
    let r = receiver().await;
    let hook = s.sandbox("/integrations/chat-webhook");
    let v6 = r.url.replace("127.0.0.1", "[::ffff:127.0.0.1]");
    for url in [&r.url, &r.url.replace("127.0.0.1", "localhost"), &v6] {
        let body = json!({"url": url, "apiKey": "k", "apiSecret": "s"});
        assert_eq!(s.call(Method::PUT, &hook, Some(&token), Some(body)).await.0, StatusCode::OK);
        let (status, _) = send(&s, &token, &pid, json!({"body": "not announced"})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(r.got.lock().unwrap().is_empty(), "nothing reached 127.0.0.1");
}

#[tokio::test]
async fn instances_are_isolated_and_policies_apply() {
    let (s, token, pid) = setup().await;
    inbound(&s, &token, &pid, "sandbox only").await;
    let (status, err) = s.get(&format!("/{}/live/patients/{pid}/chat", s.tenant), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND"));

    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let none = s.token_for(&name, &secret).await;
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"chat": ["read"]}}), None);
    let reader = s.token_for(&name, &secret).await;
    assert_eq!(s.get(&s.sandbox(&format!("/patients/{pid}/chat")), &reader).await.0, StatusCode::OK);
    assert_eq!(s.get(&s.sandbox(&format!("/patients/{pid}/chat/search?query=x")), &reader).await.0, StatusCode::OK);
    for (method, path, body) in [
        (Method::GET, format!("/patients/{pid}/chat"), None),
        (Method::GET, format!("/patients/{pid}/chat/search?query=x"), None),
        (Method::GET, format!("/patients/{pid}/chat/messages"), None),
        (Method::POST, format!("/patients/{pid}/chat/inbound"), Some(json!({"message": "x"}))),
        (Method::POST, format!("/patients/{pid}/chat/messages"), Some(json!({"body": "x"}))),
        (Method::GET, "/integrations/chat-webhook".to_string(), None),
        (Method::PUT, "/integrations/chat-webhook".to_string(), Some(json!({"url": "http://x.org"}))),
    ] {
        let (status, err) = s.call(method.clone(), &s.sandbox(&path), Some(&none), body.clone()).await;
        assert_eq!(
            (status, error_code(&err).as_str()),
            (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"),
            "{path}"
        );
        if method != Method::GET {
            assert_eq!(s.call(method, &s.sandbox(&path), Some(&reader), body).await.0, StatusCode::FORBIDDEN, "{path}");
        }
    }
    let (_, page) = s.get(&s.sandbox(&format!("/patients/{pid}/chat")), &token).await;
    assert_eq!(texts(&page), ["sandbox only"], "nothing was written");
}

#[tokio::test]
async fn chat_messages_are_audited_and_go_with_their_patient() {
    let (s, token, pid) = setup().await;
    let m = inbound(&s, &token, &pid, "audit me").await;
    send(&s, &token, &pid, json!({"body": "and me"})).await;
    let (status, audit) = s.get(&format!("/{}/admin/audit-data?entity=CHAT_MESSAGE", s.tenant), &token).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let rows = audit["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{audit}");
    for r in rows {
        assert_eq!(
            (r["eventSubtype"].as_str(), r["operation"].as_str()),
            (Some("CHAT_MESSAGE_CREATED"), Some("CREATE"))
        );
        assert_eq!((r["patientId"].as_str(), r["instance"].as_str()), (Some(pid.as_str()), Some("sandbox")));
    }
    assert!(rows.iter().any(|r| r["record"]["externalId"] == m["externalId"] && r["record"]["sender"] == "PATIENT"));

    // A patient with a conversation can be deleted; the conversation goes with it.
    assert_eq!(s.delete(&s.sandbox(&format!("/patients/{pid}")), &token).await.0, StatusCode::OK);
    let (status, err) = s.get(&s.sandbox(&format!("/patients/{pid}/chat")), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND"));
}

/// Archiving is refused to API clients, so the test archives a message the way Welkin's
/// own application would: in the database.
#[tokio::test]
async fn archived_messages_show_only_with_include_archived() {
    let (s, token, pid) = setup().await;
    let old = inbound(&s, &token, &pid, "old news").await;
    inbound(&s, &token, &pid, "fresh news").await;
    let db = openwelkin::store::Db::connect(&s.db_url).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let done = openwelkin::store::sql::query("UPDATE chat_messages SET archived = 1 WHERE external_id = $1")
        .bind(old["externalId"].as_str().unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
    tx.commit().await.unwrap();
    db.close().await;

    let base = s.sandbox(&format!("/patients/{pid}/chat"));
    assert_eq!(texts(&s.get(&base, &token).await.1), ["fresh news"]);
    assert_eq!(texts(&s.get(&format!("{base}?includeArchived=False"), &token).await.1), ["fresh news"]);
    assert_eq!(texts(&s.get(&format!("{base}?includeArchived=True"), &token).await.1), ["fresh news", "old news"]);
    // The option travels in the token.
    let (_, first) = s.get(&format!("{base}?includeArchived=true&pageSize=1"), &token).await;
    let next = first["meta"]["nextPageToken"].as_str().unwrap();
    assert_eq!(decode(next)["includeArchived"], true);
    assert_eq!(texts(&s.get(&format!("{base}?pageToken={}", enc(next)), &token).await.1), ["old news"]);
    let (_, first) = s.get(&format!("{base}?pageSize=1"), &token).await;
    assert_eq!(first["meta"]["nextPageToken"], Value::Null, "the archived message is not a next page");

    let search = s.sandbox(&format!("/patients/{pid}/chat/search?query=news"));
    assert_eq!(s.get(&search, &token).await.1["content"].as_array().unwrap().len(), 1);
    assert_eq!(
        s.get(&format!("{search}&includeArchived=true"), &token).await.1["content"].as_array().unwrap().len(),
        2
    );
}
