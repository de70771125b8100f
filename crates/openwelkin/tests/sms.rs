//! SMS over HTTP: the SMS shape of the V8 reference and the recorded page and 404, sends
//! now and scheduled (and the scheduler), the update and delete rules per status, the list
//! filters, inbound messages through the provider webhook (matched by phone, or unmatched
//! and then assigned at the V8 and docs-site paths), delivery reports, the local outbox,
//! communication IDs (sending lines), a Twilio-compatible provider started by the test,
//! isolation between instances, the policy 403 and the audit rows.

mod common;

use common::{error_code, is_postgres, spawn_serving, Server, Serving, BIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SMS_KEYS: &[&str] = &[
    "careTeam",
    "date",
    "direction",
    "externalId",
    "from",
    "id",
    "message",
    "parts",
    "patientInfo",
    "receiver",
    "receivedAt",
    "receiverName",
    "scheduledAt",
    "sendNow",
    "sender",
    "senderName",
    "sentAt",
    "starred",
    "status",
    "timezone",
    "to",
];

const LINE: &str = "+15625345699";
const PHONE: &str = "+15625345678";

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn is_ts(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.'
}

struct Setup {
    s: Server,
    token: String,
    pid: String,
}

async fn setup() -> Setup {
    setup_with(&["--no-webhook-worker"]).await
}

/// The same, with these `serve` flags.
async fn setup_with(serve_args: &[&str]) -> Setup {
    let s = Server::start_with(serve_args).await;
    let token = s.token().await;
    let p = s
        .create_patient(
            &token,
            json!({"firstName": "John", "lastName": "Doe", "phone": PHONE, "timezone": "America/Los_Angeles"}),
        )
        .await;
    Setup { s, token, pid: p["id"].as_str().unwrap().to_string() }
}

impl Setup {
    fn sms(&self) -> String {
        self.s.sandbox(&format!("/patients/{}/sms", self.pid))
    }

    fn one(&self, id: &str) -> String {
        format!("{}/{id}", self.sms())
    }

    async fn line(&self, value: &str, extra: Value) -> Value {
        let mut body = json!({"channel": "SMS", "value": value});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, c) = self.s.post(&self.s.sandbox("/communication-ids"), &self.token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        c
    }

    async fn send(&self, body: Value) -> Value {
        let (status, m) = self.s.post(&self.sms(), &self.token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{m}");
        m
    }

    async fn list(&self, query: &str) -> Value {
        let (status, page) = self.s.get(&format!("{}{query}", self.sms()), &self.token).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        page
    }

    async fn ids(&self, query: &str) -> Vec<String> {
        let page = self.list(query).await;
        page["content"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.s.call(Method::PUT, path, Some(&self.token), Some(body)).await
    }

    /// An inbound message through the provider webhook, as Twilio posts it (form fields).
    async fn inbound(&self, instance: &str, fields: &[(&str, &str)], json_answer: bool) -> (StatusCode, String) {
        let url = self.s.url(&format!("/{}/{instance}/providers/sms/inbound", self.s.tenant));
        let mut req = self.s.http.post(url).bearer_auth(&self.token).form(fields);
        if json_answer {
            req = req.header("Accept", "application/json");
        }
        let resp = req.send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    async fn receive(&self, from: &str, body: &str, sid: &str) -> Value {
        let (status, text) =
            self.inbound("sandbox", &[("From", from), ("To", LINE), ("Body", body), ("MessageSid", sid)], true).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    /// A callback as Twilio posts it: no bearer token, the form, the signature (if any)
    /// in `X-Twilio-Signature`, and `X-Forwarded-Proto` (if any). Answers JSON.
    async fn twilio_post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        signature: Option<&str>,
        forwarded_proto: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self.s.http.post(self.s.url(&self.s.sandbox(path))).header("Accept", "application/json");
        if let Some(sig) = signature {
            req = req.header("X-Twilio-Signature", sig);
        }
        if let Some(proto) = forwarded_proto {
            req = req.header("X-Forwarded-Proto", proto);
        }
        let resp = req.form(form).send().await.unwrap();
        (resp.status(), resp.json().await.unwrap())
    }

    async fn unrecognized_count(&self) -> i64 {
        let (status, page) = self.s.get(&self.s.sandbox("/unrecognized-patients/sms"), &self.token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["totalElements"].as_i64().unwrap()
    }

    async fn audit(&self, entity: &str) -> Vec<Value> {
        let (status, audit) =
            self.s.get(&format!("/{}/admin/audit-data?entity={entity}&size=100", self.s.tenant), &self.token).await;
        assert_eq!(status, StatusCode::OK, "{audit}");
        // Newest first by default (ties broken by insertion order); oldest first here.
        audit["data"].as_array().unwrap().iter().rev().cloned().collect()
    }
}

#[tokio::test]
async fn sent_sms_have_the_v8_shape_and_the_recorded_page_and_404() {
    let t = setup().await;
    // The recorded empty page, key for key.
    let (status, page) = t.s.get(&format!("{}?page=0", t.sms()), &t.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        page,
        json!({"content": [], "pageable": {"sort": {"sorted": false, "unsorted": true, "empty": true}, "pageNumber": 0,
               "pageSize": 20, "offset": 0, "unpaged": false, "paged": true}, "last": true, "totalPages": 0,
               "totalElements": 0, "first": true, "number": 0, "sort": {"sorted": false, "unsorted": true, "empty": true},
               "numberOfElements": 0, "size": 20, "empty": true})
    );
    // The recorded 404.
    let missing = "2a8ac491-19bf-4812-9197-dffc2d42cfcf";
    let (status, err) = t.s.get(&t.one(missing), &t.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&err), "SMS_NOT_FOUND");
    assert_eq!(err[0]["componentType"], "SMS");
    assert_eq!(err[0]["message"], "SMS was not found");
    assert_eq!(err[0]["details"], json!({"id": missing}));

    t.line(LINE, json!({"label": "Main"})).await;
    let m = t.send(json!({"message": "Hi dear patient!", "sendNow": true, "receiver": t.pid})).await;
    assert_eq!(keys(&m), SMS_KEYS.iter().map(|k| k.to_string()).collect());
    assert_eq!(m["status"], "SENT");
    assert_eq!(m["direction"], "OUT");
    assert_eq!(m["from"], LINE);
    assert_eq!(m["to"], PHONE);
    assert_eq!(m["receiver"], t.pid.as_str());
    assert_eq!(m["receiverName"], "John Doe");
    assert_eq!(m["patientInfo"], "John Doe");
    assert_eq!(m["timezone"], "America/Los_Angeles");
    assert_eq!(m["senderName"], format!("API_CLIENT:{}", t.s.client));
    assert_eq!(m["careTeam"], m["senderName"]);
    assert_eq!(m["message"], "Hi dear patient!");
    assert_eq!(m["parts"], 1);
    assert_eq!(m["sendNow"], true);
    assert_eq!(m["starred"], false);
    assert!(m["scheduledAt"].is_null() && m["receivedAt"].is_null());
    assert!(is_ts(&m["sentAt"]) && m["date"] == m["sentAt"], "{m}");
    let sid = m["externalId"].as_str().unwrap();
    assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");

    let id = m["id"].as_str().unwrap();
    let (status, read) = t.s.get(&t.one(id), &t.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, m);
    let page = t.list("?page=0").await;
    assert_eq!(page["totalElements"], 1);
    assert_eq!(page["last"], true);
    assert_eq!(page["content"][0], m);

    // The local outbox recorded what would have been sent.
    let (status, outbox) = t.s.get(&t.s.sandbox("/outbox/sms"), &t.token).await;
    assert_eq!(status, StatusCode::OK, "{outbox}");
    assert_eq!(outbox["totalElements"], 1);
    let item = &outbox["content"][0];
    assert_eq!((item["smsId"].as_str(), item["externalId"].as_str()), (Some(id), Some(sid)));
    assert_eq!((item["from"].as_str(), item["to"].as_str()), (Some(LINE), Some(PHONE)));
    assert_eq!(item["message"], "Hi dear patient!");
    assert!(is_ts(&item["queuedAt"]));
    let (_, none) = t.s.get(&t.s.sandbox(&format!("/outbox/sms?to=%2B15550000000&smsId={id}")), &t.token).await;
    assert_eq!(none["totalElements"], 0);

    // Another patient's path does not show it.
    let other = t.s.create_patient(&t.token, json!({"firstName": "Ann", "lastName": "Other"})).await;
    let path = t.s.sandbox(&format!("/patients/{}/sms/{id}", other["id"].as_str().unwrap()));
    let (status, err) = t.s.get(&path, &t.token).await;
    assert_eq!((status, error_code(&err)), (StatusCode::NOT_FOUND, "SMS_NOT_FOUND".into()));
    // An unknown patient is a patient 404.
    let path = t.s.sandbox(&format!("/patients/{missing}/sms"));
    let (status, err) = t.s.get(&path, &t.token).await;
    assert_eq!((status, error_code(&err)), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND".into()));
}

#[tokio::test]
async fn sends_are_validated_and_refused_ones_write_nothing() {
    let t = setup().await;
    // No sending line yet.
    let (status, err) = t.s.post(&t.sms(), &t.token, json!({"message": "hi"})).await;
    assert_eq!((status, error_code(&err)), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR".into()));
    assert_eq!(err[0]["details"]["field"], "from");
    assert!(err[0]["message"].as_str().unwrap().contains("communication-ids"), "{err}");

    t.line(LINE, json!({})).await;
    let other = t.s.create_patient(&t.token, json!({"firstName": "No", "lastName": "Phone"})).await;
    let other_id = other["id"].as_str().unwrap();
    for (body, field) in [
        (json!({"sendNow": true}), "message"),
        (json!({"message": "  "}), "message"),
        (json!({"message": "x".repeat(1601)}), "message"),
        (json!({"message": "hi", "sendNow": false}), "scheduledAt"),
        (json!({"message": "hi", "scheduledAt": "2001-01-01T00:00:00.000Z"}), "scheduledAt"),
        (json!({"message": "hi", "sendNow": true, "scheduledAt": "2100-01-01T00:00:00.000Z"}), "scheduledAt"),
        (json!({"message": "hi", "scheduledAt": "next week"}), "scheduledAt"),
        (json!({"message": "hi", "receiver": other_id}), "receiver"),
        (json!({"message": "hi", "from": "+15550000000"}), "from"),
        (json!({"message": "hi", "from": "not a phone"}), "from"),
        (json!({"message": "hi", "sender": other_id}), "sender"),
        (json!({"message": "hi", "status": "SENT"}), "status"),
        (json!({"message": "hi", "priority": "HIGH"}), "priority"),
    ] {
        let (status, err) = t.s.post(&t.sms(), &t.token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(error_code(&err), "VALIDATION_ERROR");
        assert_eq!(err[0]["details"]["field"], field, "{body}: {err}");
    }
    // A patient without a phone number cannot be texted.
    let path = t.s.sandbox(&format!("/patients/{other_id}/sms"));
    let (status, err) = t.s.post(&path, &t.token, json!({"message": "hi"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err[0]["details"]["field"], "receiver");
    // Malformed JSON is refused before anything else.
    let resp =
        t.s.http
            .post(t.s.url(&t.sms()))
            .bearer_auth(&t.token)
            .header("content-type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    assert_eq!(t.list("").await["totalElements"], 0, "nothing was written");
    let (_, outbox) = t.s.get(&t.s.sandbox("/outbox/sms"), &t.token).await;
    assert_eq!(outbox["totalElements"], 0, "nothing was sent");
    assert!(t.audit("SMS").await.is_empty(), "nothing was audited");
}

#[tokio::test]
async fn scheduled_sms_follow_the_update_and_delete_rules() {
    let t = setup().await;
    t.line(LINE, json!({})).await;
    let later = "2100-01-01T10:00:00.000Z";
    let m = t.send(json!({"message": "Reminder", "sendNow": false, "scheduledAt": later, "receiver": t.pid})).await;
    assert_eq!((m["status"].as_str(), m["sendNow"].as_bool()), (Some("SCHEDULED"), Some(false)));
    assert_eq!((m["scheduledAt"].as_str(), m["date"].as_str()), (Some(later), Some(later)));
    assert!(m["externalId"].is_null() && m["sentAt"].is_null());
    let id = m["id"].as_str().unwrap().to_string();

    // Scheduled: a full update.
    let (status, u) = t.put(&t.one(&id), json!({"message": "Reminder: bring your meter", "starred": true})).await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!((u["message"].as_str(), u["starred"].as_bool()), (Some("Reminder: bring your meter"), Some(true)));
    assert_eq!(u["status"], "SCHEDULED");
    let (status, u) = t.s.patch(&t.one(&id), &t.token, json!({"scheduledAt": "2100-02-01T10:00:00.000Z"})).await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["scheduledAt"], "2100-02-01T10:00:00.000Z");
    // The V8 examples update with POST; the same rules apply.
    let (status, u) = t.s.post(&t.one(&id), &t.token, json!({"id": id, "starred": false})).await;
    assert_eq!((status, u["starred"].as_bool()), (StatusCode::OK, Some(false)), "{u}");
    for (body, field) in [
        (json!({"status": "SENT"}), "status"),
        (json!({"sender": t.pid}), "sender"),
        (json!({"scheduledAt": "2001-01-01T00:00:00.000Z"}), "scheduledAt"),
        (json!({"message": ""}), "message"),
        (json!({"id": "8b676172-78f8-4cc6-b105-5329c8a58ef2"}), "id"),
    ] {
        let (status, err) = t.put(&t.one(&id), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(err[0]["details"]["field"], field, "{body}: {err}");
    }
    let (_, read) = t.s.get(&t.one(&id), &t.token).await;
    assert_eq!(read["message"], "Reminder: bring your meter", "refused updates changed nothing");

    // Deleting a scheduled SMS: 200, empty; then 404.
    let (status, body) = t.s.delete(&t.one(&id), &t.token).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    let (status, err) = t.s.get(&t.one(&id), &t.token).await;
    assert_eq!((status, error_code(&err)), (StatusCode::NOT_FOUND, "SMS_NOT_FOUND".into()));
    let (status, _) = t.s.delete(&t.one(&id), &t.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // `sendNow: true` on a scheduled SMS sends it at once.
    let m = t.send(json!({"message": "Soon", "scheduledAt": later})).await;
    let id = m["id"].as_str().unwrap().to_string();
    let (status, sent) = t.put(&t.one(&id), json!({"message": "Now", "sendNow": true, "receiver": t.pid})).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!((sent["status"].as_str(), sent["message"].as_str()), (Some("SENT"), Some("Now")));
    assert!(sent["scheduledAt"].is_null() && is_ts(&sent["sentAt"]) && sent["externalId"].is_string());

    // Sent: only the star changes; no delete.
    let (status, err) = t.put(&t.one(&id), json!({"message": "edited"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err[0]["details"]["field"], "message");
    assert!(err[0]["message"].as_str().unwrap().contains("SENT"), "{err}");
    let (status, starred) = t.put(&t.one(&id), json!({"starred": true})).await;
    assert_eq!((status, starred["starred"].as_bool()), (StatusCode::OK, Some(true)));
    assert_eq!(starred["externalId"], sent["externalId"]);
    let (status, err) = t.s.delete(&t.one(&id), &t.token).await;
    assert_eq!((status, error_code(&err)), (StatusCode::CONFLICT, "SMS_CANNOT_BE_DELETED".into()));
    assert_eq!(err[0]["details"]["status"], "SENT");

    // The scheduler sends a message when its time comes.
    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let at = soon.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let m = t.send(json!({"message": "Timed", "sendNow": false, "scheduledAt": at})).await;
    let id = m["id"].as_str().unwrap().to_string();
    let mut last = Value::Null;
    for _ in 0..100 {
        last = t.s.get(&t.one(&id), &t.token).await.1;
        if last["status"] == "SENT" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["status"], "SENT", "{last}");
    assert_eq!((last["scheduledAt"].as_str(), last["sendNow"].as_bool()), (Some(at.as_str()), Some(false)));
    assert!(is_ts(&last["sentAt"]) && last["externalId"].is_string());
    if !is_postgres() {
        // On a shared PostgreSQL database another test's server (another node, in effect)
        // may be the one that sends it, through its own provider.
        let (_, outbox) = t.s.get(&t.s.sandbox(&format!("/outbox/sms?smsId={id}")), &t.token).await;
        assert_eq!(outbox["content"][0]["message"], "Timed");
    }
}

#[tokio::test]
async fn lists_filter_sort_and_page_as_the_v8_reference_describes() {
    let t = setup().await;
    t.line(LINE, json!({})).await;
    t.line("+15625345700", json!({})).await;
    let a = t.send(json!({"message": "Take your pills"})).await;
    let b = t.send(json!({"message": "Lab results are in", "starred": true, "from": "+15625345700"})).await;
    let c = t.send(json!({"message": "See you Monday", "scheduledAt": "2100-01-01T00:00:00.000Z"})).await;
    let d = t.receive(PHONE, "Thanks, pills taken", "SM0000000000000000000000000000d001").await;
    assert_eq!(d["status"], "RECEIVED");
    let id = |m: &Value| m["id"].as_str().unwrap().to_string();
    let (a, b, c, d) = (id(&a), id(&b), id(&c), id(&d));

    assert_eq!(t.ids("").await, [a.as_str(), b.as_str(), c.as_str(), d.as_str()]);
    assert_eq!(t.ids("?search=PILLS").await, [a.as_str(), d.as_str()]);
    assert_eq!(t.ids("?direction=IN").await, [d.as_str()]);
    assert_eq!(t.ids("?direction=out&starred=True").await, [b.as_str()]);
    assert_eq!(t.ids("?status=SCHEDULED,RECEIVED").await, [c.as_str(), d.as_str()]);
    assert_eq!(t.ids("?status=").await.len(), 4, "an empty status is no filter");
    assert_eq!(t.ids("?from=%2B15625345700").await, [b.as_str()]);
    assert_eq!(t.ids("?from=+15625345700").await, [b.as_str()], "an unencoded + arrives as a space");
    assert_eq!(t.ids(&format!("?to={}", PHONE.replace('+', "%2B"))).await, [a.as_str(), b.as_str(), c.as_str()]);
    assert_eq!(t.ids(&format!("?phone={}", PHONE.replace('+', "%2B"))).await.len(), 4);
    assert_eq!(t.ids(&format!("?sender={}", t.pid)).await, [d.as_str()]);
    assert_eq!(t.ids(&format!("?receiver={}", t.pid)).await, [a.as_str(), b.as_str(), c.as_str()]);
    assert_eq!(t.ids("?senderName=john").await, [d.as_str()]);
    assert_eq!(t.ids("?receiverName=DOE&search=lab").await, [b.as_str()]);
    assert_eq!(t.ids("?sort=message,asc").await, [b.as_str(), c.as_str(), a.as_str(), d.as_str()]);
    assert_eq!(t.ids("?sort=date,desc").await[0], c, "scheduled in 2100");

    let page = t.list("?size=3&page=1").await;
    assert_eq!(page["content"].as_array().unwrap().len(), 1);
    assert_eq!((page["totalElements"].as_i64(), page["totalPages"].as_i64()), (Some(4), Some(2)));
    assert_eq!(
        (page["last"].as_bool(), page["first"].as_bool(), page["number"].as_i64()),
        (Some(true), Some(false), Some(1))
    );
    let page = t.list("?size=3&sort=date,desc").await;
    assert_eq!(page["sort"], json!({"sorted": true, "unsorted": false, "empty": false}));
    assert_eq!(page["last"], false);

    for query in ["?direction=SIDEWAYS", "?status=LOST", "?starred=maybe", "?sort=colour,asc", "?size=0", "?page=-1"] {
        let (status, err) = t.s.get(&format!("{}{query}", t.sms()), &t.token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {err}");
        assert_eq!(error_code(&err), "INVALID_PARAMETER", "{query}");
    }
}

#[tokio::test]
async fn inbound_sms_match_patients_by_phone_or_wait_to_be_assigned() {
    let t = setup().await;
    // From the patient's number: the patient's SMS. Twilio gets an empty TwiML answer.
    let (status, twiml) = t
        .inbound(
            "sandbox",
            &[
                ("From", PHONE),
                ("To", LINE),
                ("Body", "Hello from John"),
                ("MessageSid", "SM00000000000000000000000000000001"),
            ],
            false,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(twiml.contains("<Response></Response>"), "{twiml}");
    let page = t.list("").await;
    assert_eq!(page["totalElements"], 1);
    let m = &page["content"][0];
    assert_eq!(keys(m), SMS_KEYS.iter().map(|k| k.to_string()).collect());
    assert_eq!((m["direction"].as_str(), m["status"].as_str()), (Some("IN"), Some("RECEIVED")));
    assert_eq!((m["sender"].as_str(), m["senderName"].as_str()), (Some(t.pid.as_str()), Some("John Doe")));
    assert_eq!((m["from"].as_str(), m["to"].as_str()), (Some(PHONE), Some(LINE)));
    assert_eq!(m["externalId"], "SM00000000000000000000000000000001");
    assert!(is_ts(&m["receivedAt"]) && m["date"] == m["receivedAt"] && m["sentAt"].is_null());
    // Providers retry: the same MessageSid is stored once.
    let again = t.receive(PHONE, "Hello from John", "SM00000000000000000000000000000001").await;
    assert_eq!(&again, m);
    assert_eq!(t.list("").await["totalElements"], 1);
    // A secondary phone matches too.
    let p2 = t
        .s
        .create_patient(&t.token, json!({"firstName": "Sue", "lastName": "Second", "secondaryPhone": "+15625340002"}))
        .await;
    let m2 = t.receive("+15625340002", "via my other phone", "SM00000000000000000000000000000002").await;
    assert_eq!(m2["sender"], p2["id"]);

    // From an unknown number: unrecognised, on the unmatched lists only.
    let u = t.receive("+15559876543", "Who is this?", "SM00000000000000000000000000000003").await;
    assert_eq!((u["status"].as_str(), u["direction"].as_str()), (Some("UNRECOGNISED"), Some("IN")));
    assert!(u["sender"].is_null() && u["patientInfo"].is_null());
    let uid = u["id"].as_str().unwrap().to_string();
    let v8 = t.s.sandbox("/unrecognized-patients/sms");
    let (status, page) = t.s.get(&v8, &t.token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["totalElements"], 1);
    assert_eq!(page["content"][0], u);
    assert_eq!(page["last"], true);
    let (_, page) = t.s.get(&format!("{v8}?search=who&from=%2B15559876543"), &t.token).await;
    assert_eq!(page["totalElements"], 1);
    let (status, read) = t.s.get(&format!("{v8}/{uid}"), &t.token).await;
    assert_eq!((status, &read), (StatusCode::OK, &u));
    assert_eq!(t.list("").await["totalElements"], 1, "not the patient's");
    let docs = t.s.sandbox("/unrecognized-sms");
    let (status, flat) = t.s.get(&docs, &t.token).await;
    assert_eq!(status, StatusCode::OK, "{flat}");
    assert_eq!(keys(&flat), ["content", "page", "size", "totalElements", "totalPages"].map(String::from).into());
    assert_eq!((flat["totalElements"].as_i64(), flat["totalPages"].as_i64()), (Some(1), Some(1)));
    let item = &flat["content"][0];
    assert_eq!(
        keys(item),
        ["body", "fromNumber", "id", "patientId", "receivedAt", "resolvedBy", "status", "toNumber"]
            .map(String::from)
            .into()
    );
    assert_eq!(
        (item["fromNumber"].as_str(), item["toNumber"].as_str(), item["body"].as_str(), item["status"].as_str()),
        (Some("+15559876543"), Some(LINE), Some("Who is this?"), Some("PENDING"))
    );
    assert!(item["patientId"].is_null() && item["resolvedBy"].is_null());
    let (_, one) = t.s.get(&format!("{docs}/{uid}"), &t.token).await;
    assert_eq!(&one, item);

    // Assigning at the V8 path: refused bodies change nothing.
    for (body, field) in [
        (json!({"sender": "8b676172-78f8-4cc6-b105-5329c8a58ef2"}), "sender"),
        (json!({"sender": "someone"}), "sender"),
        (json!({"message": "edited"}), "message"),
    ] {
        let (status, err) = t.put(&format!("{v8}/{uid}"), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(err[0]["details"]["field"], field);
    }
    assert_eq!(t.s.get(&format!("{v8}/{uid}"), &t.token).await.1, u);
    let (status, assigned) = t.put(&format!("{v8}/{uid}"), json!({"sender": t.pid})).await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    assert_eq!((assigned["status"].as_str(), assigned["sender"].as_str()), (Some("RECEIVED"), Some(t.pid.as_str())));
    assert_eq!(assigned["senderName"], "John Doe");
    // Now it is the patient's, and no longer unrecognised.
    let (status, read) = t.s.get(&t.one(&uid), &t.token).await;
    assert_eq!((status, &read), (StatusCode::OK, &assigned));
    assert_eq!(t.list("?direction=IN").await["totalElements"], 2);
    let (status, err) = t.s.get(&format!("{v8}/{uid}"), &t.token).await;
    assert_eq!((status, error_code(&err)), (StatusCode::NOT_FOUND, "SMS_NOT_FOUND".into()));
    assert_eq!(t.s.get(&v8, &t.token).await.1["totalElements"], 0);
    // The docs-site list keeps it, resolved.
    let (_, one) = t.s.get(&format!("{docs}/{uid}"), &t.token).await;
    assert_eq!((one["status"].as_str(), one["patientId"].as_str()), (Some("RESOLVED"), Some(t.pid.as_str())));
    assert!(one["resolvedBy"].is_string());
    // Inbound SMS can be reassigned from the patient's path, but not deleted.
    let (status, err) = t.s.delete(&t.one(&uid), &t.token).await;
    assert_eq!((status, error_code(&err)), (StatusCode::CONFLICT, "SMS_CANNOT_BE_DELETED".into()));

    // Resolving at the docs-site path.
    let w = t.receive("+15559876544", "Wrong number?", "SM00000000000000000000000000000004").await;
    let wid = w["id"].as_str().unwrap().to_string();
    let (_, pending) = t.s.get(&format!("{docs}?status=PENDING"), &t.token).await;
    assert_eq!(pending["totalElements"], 1);
    assert_eq!(pending["content"][0]["id"], wid.as_str());
    for (body, field) in [
        (json!({"patientId": t.pid}), "status"),
        (json!({"patientId": t.pid, "status": "PENDING"}), "status"),
        (json!({"status": "RESOLVED"}), "patientId"),
        (json!({"patientId": "8b676172-78f8-4cc6-b105-5329c8a58ef2", "status": "RESOLVED"}), "patientId"),
        (json!({"patientId": t.pid, "status": "RESOLVED", "note": "x"}), "note"),
    ] {
        let (status, err) = t.s.patch(&format!("{docs}/{wid}"), &t.token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(err[0]["details"]["field"], field, "{body}: {err}");
    }
    let (status, resolved) =
        t.s.patch(&format!("{docs}/{wid}"), &t.token, json!({"patientId": t.pid, "status": "RESOLVED"})).await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!((resolved["status"].as_str(), resolved["patientId"].as_str()), (Some("RESOLVED"), Some(t.pid.as_str())));
    assert_eq!(t.s.get(&t.one(&wid), &t.token).await.1["status"], "RECEIVED");
    let (_, all) = t.s.get(&format!("{docs}?status=RESOLVED&startDate=2000-01-01&endDate=2100-01-01"), &t.token).await;
    assert_eq!(all["totalElements"], 2);
    let (_, none) = t.s.get(&format!("{docs}?endDate=2000-01-01T00:00:00Z"), &t.token).await;
    assert_eq!(none["totalElements"], 0);
    for query in ["?status=DONE", "?startDate=yesterday"] {
        let (status, err) = t.s.get(&format!("{docs}{query}"), &t.token).await;
        assert_eq!((status, error_code(&err)), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER".into()), "{query}");
    }

    // A number two patients share is left unmatched; an unmatched SMS can be deleted.
    t.s.create_patient(&t.token, json!({"firstName": "Twin", "lastName": "One", "phone": "+15625340009"})).await;
    t.s.create_patient(&t.token, json!({"firstName": "Twin", "lastName": "Two", "phone": "+15625340009"})).await;
    let x = t.receive("+15625340009", "which twin?", "SM00000000000000000000000000000005").await;
    assert_eq!(x["status"], "UNRECOGNISED");
    let xid = x["id"].as_str().unwrap();
    let (status, body) = t.s.delete(&format!("{v8}/{xid}"), &t.token).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    assert_eq!(t.s.get(&format!("{docs}/{xid}"), &t.token).await.0, StatusCode::NOT_FOUND);

    // The webhook names missing or bad fields.
    for (fields, field) in [
        (vec![("To", LINE), ("Body", "x")], "From"),
        (vec![("From", PHONE), ("Body", "x")], "To"),
        (vec![("From", PHONE), ("To", LINE), ("MessageSid", "SM-1")], "MessageSid"),
    ] {
        let (status, text) = t.inbound("sandbox", &fields, true).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        let err: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(err[0]["details"]["field"], field, "{text}");
    }
    // JSON bodies with the same names work too; without a MessageSid one is made up.
    let url = t.s.url(&t.s.sandbox("/providers/sms/inbound"));
    let resp =
        t.s.http
            .post(url)
            .bearer_auth(&t.token)
            .header("Accept", "application/json")
            .json(&json!({"From": PHONE, "To": LINE, "Body": "json works"}))
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let j: Value = resp.json().await.unwrap();
    assert_eq!((j["status"].as_str(), j["message"].as_str()), (Some("RECEIVED"), Some("json works")));
    assert!(j["externalId"].as_str().unwrap().starts_with("SM"));
}

#[tokio::test]
async fn delivery_reports_move_messages_forward_only() {
    let t = setup().await;
    t.line(LINE, json!({})).await;
    let m = t.send(json!({"message": "status please"})).await;
    let sid = m["externalId"].as_str().unwrap().to_string();
    let report = |status: &'static str, sid: String| {
        let url = t.s.url(&t.s.sandbox("/providers/sms/status"));
        let req = t.s.http.post(url).bearer_auth(&t.token).header("Accept", "application/json");
        async move {
            let resp = req.form(&[("MessageSid", sid.as_str()), ("MessageStatus", status)]).send().await.unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, queued) = report("queued", sid.clone()).await;
    assert_eq!((status, queued["status"].as_str()), (StatusCode::OK, Some("SENT")), "no change");
    let (status, delivered) = report("delivered", sid.clone()).await;
    assert_eq!((status, delivered["status"].as_str()), (StatusCode::OK, Some("DELIVERED")));
    let (_, late) = report("sent", sid.clone()).await;
    assert_eq!(late["status"], "DELIVERED", "a late report does not move it back");
    let id = m["id"].as_str().unwrap();
    assert_eq!(t.s.get(&t.one(id), &t.token).await.1["status"], "DELIVERED");
    let (status, err) = report("delivered", "SMffffffffffffffffffffffffffffffff".into()).await;
    assert_eq!((status, error_code(&err)), (StatusCode::NOT_FOUND, "SMS_NOT_FOUND".into()));
    assert_eq!(err[0]["details"], json!({"externalId": "SMffffffffffffffffffffffffffffffff"}));
    assert_eq!(t.list("?status=DELIVERED").await["totalElements"], 1);
}

#[tokio::test]
async fn communication_ids_are_the_sending_lines() {
    let t = setup().await;
    let base = t.s.sandbox("/communication-ids");
    let first = t.line(LINE, json!({"label": "Main line"})).await;
    assert_eq!(
        keys(&first),
        [
            "channel",
            "createdAt",
            "createdBy",
            "createdByName",
            "default",
            "id",
            "label",
            "updatedAt",
            "updatedBy",
            "updatedByName",
            "value"
        ]
        .map(String::from)
        .into()
    );
    assert_eq!((first["channel"].as_str(), first["value"].as_str()), (Some("SMS"), Some(LINE)));
    assert_eq!(first["default"], true, "the first of a channel is its default");
    assert_eq!(first["createdByName"], format!("API_CLIENT:{}", t.s.client));
    let first_id = first["id"].as_str().unwrap().to_string();

    for (body, field) in [
        (json!({"channel": "SMS", "value": "12345"}), "value"),
        (json!({"channel": "PIGEON", "value": LINE}), "channel"),
        (json!({"value": LINE}), "channel"),
        (json!({"channel": "EMAIL", "value": "not-an-address"}), "value"),
        (json!({"channel": "SMS", "value": "+15625345711", "id": "x"}), "id"),
        (json!({"channel": "SMS", "value": "+15625345711", "colour": "red"}), "colour"),
    ] {
        let (status, err) = t.s.post(&base, &t.token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(err[0]["details"]["field"], field, "{body}");
    }
    let (status, err) = t.s.post(&base, &t.token, json!({"channel": "SMS", "value": LINE})).await;
    assert_eq!((status, error_code(&err)), (StatusCode::CONFLICT, "COMMUNICATION_ID_ALREADY_EXISTS".into()));
    let (_, page) = t.s.get(&base, &t.token).await;
    assert_eq!(page["totalElements"], 1, "refused creates wrote nothing");

    let second = t.line("+15625345700", json!({"default": true})).await;
    let second_id = second["id"].as_str().unwrap().to_string();
    let email = t.s.post(&base, &t.token, json!({"channel": "email", "value": "Care@Example.org"})).await.1;
    assert_eq!((email["channel"].as_str(), email["value"].as_str()), (Some("EMAIL"), Some("care@example.org")));
    assert_eq!(email["default"], true);
    let (status, page) = t.s.get(&format!("{base}?channel=SMS"), &t.token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let defaults: Vec<(String, bool)> = page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c["default"].as_bool().unwrap()))
        .collect();
    assert_eq!(defaults, [(first_id.clone(), false), (second_id.clone(), true)]);
    assert_eq!(t.s.get(&base, &t.token).await.1["totalElements"], 3);
    let (status, err) = t.s.get(&format!("{base}?channel=FAX"), &t.token).await;
    assert_eq!((status, error_code(&err)), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER".into()));

    // Sends go out from the default line.
    assert_eq!(t.send(json!({"message": "from the default"})).await["from"], "+15625345700");

    // Label and default change; channel and value do not.
    let one = format!("{base}/{first_id}");
    let (status, err) = t.s.patch(&one, &t.token, json!({"value": "+15625345712"})).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("value")));
    let (status, c) = t.s.patch(&one, &t.token, json!({"label": "Old main", "default": true})).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!((c["label"].as_str(), c["default"].as_bool()), (Some("Old main"), Some(true)));
    let (_, c2) = t.s.get(&format!("{base}/{second_id}"), &t.token).await;
    assert_eq!(c2["default"], false);
    assert_eq!(t.send(json!({"message": "from the first again"})).await["from"], LINE);

    // Deleting the default leaves the other as the default.
    let (status, body) = t.s.delete(&one, &t.token).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    let (status, err) = t.s.get(&one, &t.token).await;
    assert_eq!((status, error_code(&err)), (StatusCode::NOT_FOUND, "COMMUNICATION_ID_NOT_FOUND".into()));
    assert_eq!(t.s.get(&format!("{base}/{second_id}"), &t.token).await.1["default"], true);
    assert_eq!(t.send(json!({"message": "from what is left"})).await["from"], "+15625345700");
    assert_eq!(t.s.delete(&one, &t.token).await.0, StatusCode::NOT_FOUND);

    let rows = t.audit("COMMUNICATION_ID").await;
    let seen: Vec<&str> = rows.iter().map(|r| r["eventSubtype"].as_str().unwrap()).collect();
    assert_eq!(
        seen,
        [
            "COMMUNICATION_ID_CREATED",
            "COMMUNICATION_ID_UPDATED", // the first stops being the default
            "COMMUNICATION_ID_CREATED",
            "COMMUNICATION_ID_CREATED",
            "COMMUNICATION_ID_UPDATED", // the second stops being the default
            "COMMUNICATION_ID_UPDATED",
            "COMMUNICATION_ID_DELETED",
        ]
    );
}

#[tokio::test]
async fn instances_are_isolated() {
    let t = setup().await;
    t.line(LINE, json!({})).await;
    let m = t.send(json!({"message": "sandbox only"})).await;
    let u = t.receive("+15559876543", "unknown", "SM00000000000000000000000000000009").await;
    let live = |path: &str| format!("/{}/live{path}", t.s.tenant);
    let (status, err) =
        t.s.get(&live(&format!("/patients/{}/sms/{}", t.pid, m["id"].as_str().unwrap())), &t.token).await;
    assert_eq!((status, error_code(&err)), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND".into()));
    let (_, page) = t.s.get(&live("/unrecognized-patients/sms"), &t.token).await;
    assert_eq!(page["totalElements"], 0);
    let (status, _) = t.s.get(&live(&format!("/unrecognized-sms/{}", u["id"].as_str().unwrap())), &t.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(t.s.get(&live("/communication-ids"), &t.token).await.1["totalElements"], 0);
    assert_eq!(t.s.get(&live("/outbox/sms"), &t.token).await.1["totalElements"], 0);
    // In live, the same phone matches no patient, and there is no line to send from.
    let (status, text) = t.inbound("live", &[("From", PHONE), ("To", LINE), ("Body", "x")], true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["status"], "UNRECOGNISED");
    let lp =
        t.s.post(&live("/patients"), &t.token, json!({"firstName": "Liv", "lastName": "E", "phone": PHONE})).await.1;
    let (status, err) =
        t.s.post(&live(&format!("/patients/{}/sms", lp["id"].as_str().unwrap())), &t.token, json!({"message": "x"}))
            .await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("from")));
    // The sandbox still has exactly its own.
    assert_eq!(t.s.get(&t.s.sandbox("/unrecognized-patients/sms"), &t.token).await.1["totalElements"], 1);
}

#[tokio::test]
async fn a_client_without_the_sms_policy_gets_403() {
    let t = setup().await;
    t.line(LINE, json!({})).await;
    let m = t.send(json!({"message": "x"})).await;
    let id = m["id"].as_str().unwrap();
    let (name, secret) = t.s.client_with_policy(&json!({"permissions": {"patients": ["read"], "sms": ["read"]}}), None);
    let reader = t.s.token_for(&name, &secret).await;
    assert_eq!(t.s.get(&t.one(id), &reader).await.0, StatusCode::OK);
    let (status, err) = t.s.post(&t.sms(), &reader, json!({"message": "y"})).await;
    assert_eq!((status, error_code(&err)), (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED".into()));
    assert_eq!(err[0]["details"]["requestURI"], t.sms());
    assert!(err[0].get("date").is_none());
    let (name, secret) = t.s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let none = t.s.token_for(&name, &secret).await;
    for (method, path) in [
        (Method::GET, t.sms()),
        (Method::GET, t.one(id)),
        (Method::PUT, t.one(id)),
        (Method::DELETE, t.one(id)),
        (Method::GET, t.s.sandbox("/unrecognized-patients/sms")),
        (Method::GET, t.s.sandbox("/unrecognized-sms")),
        (Method::GET, t.s.sandbox("/outbox/sms")),
        (Method::GET, t.s.sandbox("/communication-ids")),
        (Method::POST, t.s.sandbox("/communication-ids")),
    ] {
        let body = matches!(method, Method::PUT | Method::POST).then(|| json!({"starred": true}));
        let (status, err) = t.s.call(method.clone(), &path, Some(&none), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {err}");
    }
    let resp =
        t.s.http
            .post(t.s.url(&t.s.sandbox("/providers/sms/inbound")))
            .bearer_auth(&none)
            .form(&[("From", PHONE), ("To", LINE), ("Body", "x")])
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp =
        t.s.http.post(t.s.url(&t.s.sandbox("/providers/sms/inbound"))).form(&[("From", PHONE)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "the webhook needs a token");
    // Signed, but this server has no Twilio auth token to check the signature with.
    let (status, err) = t.twilio_post("/providers/sms/inbound", &[("From", PHONE)], Some("c2lnbmVk"), None).await;
    assert_eq!((status, error_code(&err)), (StatusCode::FORBIDDEN, "INVALID_PROVIDER_SIGNATURE".into()), "{err}");
    assert_eq!(t.list("").await["totalElements"], 1, "nothing was written");
}

#[tokio::test]
async fn every_sms_write_is_audited() {
    let t = setup().await;
    t.line(LINE, json!({})).await;
    let m = t.send(json!({"message": "audited"})).await;
    let id = m["id"].as_str().unwrap().to_string();
    t.put(&t.one(&id), json!({"starred": true})).await;
    let s = t.send(json!({"message": "later", "scheduledAt": "2100-01-01T00:00:00.000Z"})).await;
    t.s.delete(&t.one(s["id"].as_str().unwrap()), &t.token).await;
    t.put(&t.one(&id), json!({"message": "refused"})).await;
    let u = t.receive("+15559876543", "hi?", "SM000000000000000000000000000000aa").await;
    t.put(&t.s.sandbox(&format!("/unrecognized-patients/sms/{}", u["id"].as_str().unwrap())), json!({"sender": t.pid}))
        .await;

    let rows = t.audit("SMS").await;
    let seen: Vec<(&str, &str)> =
        rows.iter().map(|r| (r["eventSubtype"].as_str().unwrap(), r["operation"].as_str().unwrap())).collect();
    assert_eq!(
        seen,
        [
            ("SMS_CREATED", "CREATE"), // accepted
            ("SMS_UPDATED", "UPDATE"), // handed to the provider
            ("SMS_UPDATED", "UPDATE"), // starred
            ("SMS_CREATED", "CREATE"), // scheduled
            ("SMS_DELETED", "DELETE"),
            ("SMS_CREATED", "CREATE"), // inbound, unmatched
            ("SMS_UPDATED", "UPDATE"), // assigned
        ],
        "one row per acknowledged write, none for the refused one"
    );
    assert_eq!(rows[0]["patientId"], t.pid.as_str());
    assert_eq!(rows[0]["record"]["status"], "ACCEPTED");
    assert_eq!(rows[1]["record"]["status"], "SENT");
    assert_eq!(rows[0]["instance"], "sandbox");
    assert!(rows[5]["patientId"].is_null(), "an unmatched SMS has no patient yet");
    assert_eq!(rows[6]["patientId"], t.pid.as_str());
}

// ---------------------------------------------------------------------------------------
// The Twilio-compatible provider, against a fake Twilio started by the test
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Captured {
    path: String,
    authorization: String,
    content_type: String,
    form: Vec<(String, String)>,
}

#[derive(Clone, Default)]
struct FakeTwilio {
    seen: Arc<Mutex<Vec<Captured>>>,
}

async fn fake_messages(
    axum::extract::State(fake): axum::extract::State<FakeTwilio>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let refuse = form.iter().any(|(k, v)| k == "Body" && v.contains("REFUSE"));
    fake.seen.lock().unwrap().push(Captured {
        path: uri.path().to_string(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        form,
    });
    // Unique across every fake of this process, as Twilio's are: on a shared PostgreSQL
    // database one test's server may send another test's scheduled message, and a sid the
    // instance already has would be refused. (Above the sids the inbound tests post.)
    static SIDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0x10000);
    let n = SIDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if refuse {
        let body = json!({"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400});
        return (axum::http::StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    let sid = format!("SM{n:032x}");
    (axum::http::StatusCode::CREATED, axum::Json(json!({"sid": sid, "status": "queued"}))).into_response()
}

async fn start_fake_twilio() -> (String, FakeTwilio) {
    let fake = FakeTwilio::default();
    let app = axum::Router::new()
        .route("/2010-04-01/Accounts/{sid}/Messages.json", axum::routing::post(fake_messages))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

/// A server process started with extra environment; killed when the `Serving` is dropped.
fn serve_with(db_url: &str, env: &[(&str, &str)]) -> (Serving, String) {
    let (child, base) = spawn_serving(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", db_url])
            .env("OPENWELKIN_LOG", "warn")
            .envs(env.iter().copied()),
    );
    (Serving(child), base)
}

#[tokio::test]
async fn the_twilio_provider_posts_the_message_with_basic_auth() {
    let (fake_base, fake) = start_fake_twilio().await;
    let mut t = setup().await;
    t.s.kill9();
    let (_proc, base) = serve_with(
        &t.s.db_url,
        &[
            ("OPENWELKIN_SMS_PROVIDER", "twilio"),
            ("OPENWELKIN_TWILIO_BASE_URL", &fake_base),
            ("OPENWELKIN_TWILIO_ACCOUNT_SID", "AC0123456789abcdef"),
            ("OPENWELKIN_TWILIO_AUTH_TOKEN", "s3cret-token"),
        ],
    );
    t.s.base = base;
    t.token = t.s.token().await;
    t.line(LINE, json!({})).await;

    let m = t.send(json!({"message": "Sent through Twilio", "sendNow": true})).await;
    assert_eq!(m["status"], "SENT", "{m}");
    assert!(m["externalId"].as_str().unwrap().starts_with("SM0000"), "the provider's sid: {m}");
    // Found by text: on a shared PostgreSQL database other tests' scheduled SMS may come by.
    let captured = |text: &str| {
        let seen = fake.seen.lock().unwrap();
        seen.iter().filter(|c| c.form.iter().any(|(k, v)| k == "Body" && v == text)).cloned().collect::<Vec<_>>()
    };
    let seen = captured("Sent through Twilio");
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.path, "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json");
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode("AC0123456789abcdef:s3cret-token");
    assert_eq!(req.authorization, format!("Basic {expected}"));
    assert!(req.content_type.starts_with("application/x-www-form-urlencoded"), "{}", req.content_type);
    let mut form = req.form.clone();
    form.sort();
    assert_eq!(
        form,
        [
            ("Body".to_string(), "Sent through Twilio".to_string()),
            ("From".to_string(), LINE.to_string()),
            ("To".to_string(), PHONE.to_string()),
        ]
    );
    let (_, outbox) = t.s.get(&t.s.sandbox("/outbox/sms"), &t.token).await;
    assert_eq!(outbox["totalElements"], 0, "the local outbox is not used");

    // A refusal marks the SMS FAILED; it is still recorded and readable.
    let f = t.send(json!({"message": "REFUSE this one"})).await;
    assert_eq!(f["status"], "FAILED", "{f}");
    assert!(f["externalId"].is_null() && f["sentAt"].is_null());
    assert_eq!(t.s.get(&t.one(f["id"].as_str().unwrap()), &t.token).await.1["status"], "FAILED");
    assert_eq!(captured("REFUSE this one").len(), 1);

    // The scheduler goes through the same provider.
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1200))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let s = t.send(json!({"message": "Scheduled via Twilio", "scheduledAt": soon})).await;
    // Poll without blocking: the fake provider runs on this test's runtime.
    for _ in 0..100 {
        if !captured("Scheduled via Twilio").is_empty() || is_postgres() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !is_postgres() {
        // (On a shared PostgreSQL database another test's server may send it.)
        let seen = captured("Scheduled via Twilio");
        assert_eq!(seen.len(), 1, "the scheduled SMS reached the provider");
        assert!(seen[0].form.contains(&("To".into(), PHONE.into())));
    }
    let mut status = Value::Null;
    for _ in 0..50 {
        status = t.s.get(&t.one(s["id"].as_str().unwrap()), &t.token).await.1["status"].clone();
        if status == "SENT" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "SENT");
}

#[tokio::test]
async fn an_unreachable_provider_fails_the_sms_and_bad_settings_stop_the_server() {
    let mut t = setup().await;
    t.s.kill9();
    // On a shared PostgreSQL database this server's scheduler could claim other tests'
    // scheduled SMS and fail them; the SQLite run covers it.
    if !is_postgres() {
        // A port nothing listens on.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let (proc, base) = serve_with(
            &t.s.db_url,
            &[
                ("OPENWELKIN_SMS_PROVIDER", "twilio"),
                ("OPENWELKIN_TWILIO_BASE_URL", &dead),
                ("OPENWELKIN_TWILIO_ACCOUNT_SID", "AC1"),
                ("OPENWELKIN_TWILIO_AUTH_TOKEN", "t"),
            ],
        );
        t.s.base = base;
        t.token = t.s.token().await;
        t.line(LINE, json!({})).await;
        let m = t.send(json!({"message": "nobody listens"})).await;
        assert_eq!(m["status"], "FAILED", "{m}");
        assert!(m["externalId"].is_null());
        drop(proc);
    }

    for (env, complaint) in [
        (vec![("OPENWELKIN_SMS_PROVIDER", "twilio")], "twilio-account-sid"),
        (vec![("OPENWELKIN_SMS_PROVIDER", "twilio"), ("OPENWELKIN_TWILIO_ACCOUNT_SID", "AC1")], "twilio-auth-token"),
        (vec![("OPENWELKIN_SMS_PROVIDER", "pigeon")], "pigeon"),
    ] {
        let out = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &t.s.db_url])
            .env("OPENWELKIN_LOG", "warn")
            .env_remove("OPENWELKIN_TWILIO_ACCOUNT_SID")
            .env_remove("OPENWELKIN_TWILIO_AUTH_TOKEN")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(complaint), "{env:?}: {stderr}");
    }
}

async fn start_fake_twilio_https(pki: &common::tls::Pki) -> (String, FakeTwilio) {
    let fake = FakeTwilio::default();
    let app = axum::Router::new()
        .route("/2010-04-01/Accounts/{sid}/Messages.json", axum::routing::post(fake_messages))
        .with_state(fake.clone());
    let (addr, _) = common::tls::serve_https(pki, app).await;
    (format!("https://{addr}"), fake)
}

#[tokio::test]
async fn the_twilio_provider_speaks_https_to_a_server_its_ca_file_trusts() {
    let pki = common::tls::Pki::new();
    let (fake_base, fake) = start_fake_twilio_https(&pki).await;
    let mut t = setup().await;
    t.s.kill9();
    let ca = pki.ca_file();
    let twilio = [
        ("OPENWELKIN_SMS_PROVIDER", "twilio"),
        ("OPENWELKIN_TWILIO_BASE_URL", fake_base.as_str()),
        ("OPENWELKIN_TWILIO_ACCOUNT_SID", "AC0123456789abcdef"),
        ("OPENWELKIN_TWILIO_AUTH_TOKEN", "s3cret-token"),
    ];
    let (proc, base) = serve_with(&t.s.db_url, &[&twilio[..], &[("OPENWELKIN_CA_FILE", ca.as_str())]].concat());
    t.s.base = base;
    t.token = t.s.token().await;
    t.line(LINE, json!({})).await;
    let m = t.send(json!({"message": "Sent over TLS", "sendNow": true})).await;
    assert_eq!(m["status"], "SENT", "{m}");
    let seen: Vec<Captured> = fake.seen.lock().unwrap().clone();
    let req = seen.iter().find(|c| c.form.contains(&("Body".into(), "Sent over TLS".into()))).expect("received");
    assert_eq!(req.path, "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json");
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode("AC0123456789abcdef:s3cret-token");
    assert_eq!(req.authorization, format!("Basic {expected}"));
    assert!(req.form.contains(&("To".into(), PHONE.into())) && req.form.contains(&("From".into(), LINE.into())));
    drop(proc);

    // On a shared PostgreSQL database the servers below could take other tests' scheduled
    // SMS (and fail them, or send them towards Twilio); the SQLite run covers them.
    if is_postgres() {
        return;
    }
    // Without the CA the provider's certificate is not trusted: FAILED, nothing received.
    let (proc, base) = serve_with(&t.s.db_url, &twilio);
    t.s.base = base;
    let m = t.send(json!({"message": "Untrusted", "sendNow": true})).await;
    assert_eq!(m["status"], "FAILED", "{m}");
    assert!(!fake.seen.lock().unwrap().iter().any(|c| c.form.contains(&("Body".into(), "Untrusted".into()))));
    drop(proc);

    // Twilio's own https base URL, the default, is accepted (nothing is sent here).
    let (_proc, _) = serve_with(
        &t.s.db_url,
        &[
            ("OPENWELKIN_SMS_PROVIDER", "twilio"),
            ("OPENWELKIN_TWILIO_ACCOUNT_SID", "AC1"),
            ("OPENWELKIN_TWILIO_AUTH_TOKEN", "t"),
        ],
    );
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &t.s.db_url, "--sms-provider", "twilio"])
        .args(["--twilio-account-sid", "AC1", "--twilio-auth-token", "t", "--twilio-base-url", "ftp://api.twilio.com"])
        .env("OPENWELKIN_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--twilio-base-url"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const TWILIO_TOKEN: &str = "twilio-test-auth-token-5f2c";

/// Twilio's `X-Twilio-Signature`, computed here as Twilio documents it:
/// base64(HMAC-SHA1(auth token, URL + each parameter's name and value, sorted by name)).
fn twilio_signature(auth_token: &str, url: &str, form: &[(&str, &str)]) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mut sorted = form.to_vec();
    sorted.sort();
    let signed: String = sorted.iter().fold(url.to_string(), |acc, (k, v)| format!("{acc}{k}{v}"));
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn twilio_signed_callbacks_are_accepted_and_forged_ones_store_nothing() {
    let t = setup_with(&["--no-webhook-worker", "--twilio-auth-token", TWILIO_TOKEN]).await;
    let path = "/providers/sms/inbound";
    // Without --public-url the signed URL is the one the request names: scheme and Host.
    let url = t.s.url(&t.s.sandbox(path));
    let form = [("From", "+15559990001"), ("To", LINE), ("Body", "signed hello"), ("MessageSid", "SM5f2c0001")];
    let good = twilio_signature(TWILIO_TOKEN, &url, &form);

    let altered = [("From", "+15559990001"), ("To", LINE), ("Body", "signed hellO"), ("MessageSid", "SM5f2c0001")];
    let https_url = url.replacen("http://", "https://", 1);
    let forged = [
        ("no signature", None),
        ("another token", Some(twilio_signature("not-the-token", &url, &form))),
        ("an altered parameter", Some(twilio_signature(TWILIO_TOKEN, &url, &altered))),
        ("another URL", Some(twilio_signature(TWILIO_TOKEN, &https_url, &form))),
        ("not base64", Some("%%%".to_string())),
    ];
    for (what, signature) in &forged {
        let (status, err) = t.twilio_post(path, &form, signature.as_deref(), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {err}");
        assert_eq!(error_code(&err), "INVALID_PROVIDER_SIGNATURE", "{what}");
        assert_eq!(err[0]["componentType"], "AUTH");
    }
    // The signature of one form does not carry another.
    let (status, _) = t.twilio_post(path, &altered, Some(&good), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A JSON body is not what Twilio signs.
    let resp =
        t.s.http
            .post(&url)
            .header("X-Twilio-Signature", &good)
            .json(&json!({"From": "+15559990001", "To": LINE, "Body": "signed hello", "MessageSid": "SM5f2c0001"}))
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(t.unrecognized_count().await, 0, "nothing refused was stored");

    // Signed as Twilio signs it: stored, audited as Twilio, answered with TwiML by default.
    let resp = t.s.http.post(&url).header("X-Twilio-Signature", &good).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("<Response></Response>"));
    assert_eq!(t.unrecognized_count().await, 1);
    let (_, page) = t.s.get(&t.s.sandbox("/unrecognized-patients/sms"), &t.token).await;
    assert_eq!(
        (page["content"][0]["message"].as_str(), page["content"][0]["externalId"].as_str()),
        (Some("signed hello"), Some("SM5f2c0001"))
    );
    let rows = t.audit("SMS").await;
    assert_eq!(rows.last().unwrap()["subjectFullName"], "API_CLIENT:twilio", "{rows:?}");

    // Behind a TLS proxy, X-Forwarded-Proto gives the scheme Twilio called.
    let proxied = [("From", "+15559990002"), ("To", LINE), ("Body", "via proxy"), ("MessageSid", "SM5f2c0002")];
    let sig = twilio_signature(TWILIO_TOKEN, &https_url, &proxied);
    let (status, m) = t.twilio_post(path, &proxied, Some(&sig), Some("https")).await;
    assert_eq!((status, m["message"].as_str()), (StatusCode::OK, Some("via proxy")), "{m}");
    let (status, _) = t.twilio_post(path, &proxied, Some(&sig), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the same signature for the URL as seen here");

    // A bearer token still works, and a bad one is still a 401.
    t.receive(PHONE, "with a token", "SM5f2c0003").await;
    let resp = t.s.http.post(&url).bearer_auth("nonsense").form(&form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(t.unrecognized_count().await, 2);

    // Delivery reports are signed the same way.
    t.line(LINE, json!({})).await;
    let sent = t.send(json!({"message": "report on me"})).await;
    let sid = sent["externalId"].as_str().unwrap().to_string();
    let status_path = "/providers/sms/status";
    let status_url = t.s.url(&t.s.sandbox(status_path));
    let report = [("MessageSid", sid.as_str()), ("MessageStatus", "delivered")];
    let forged = twilio_signature("not-the-token", &status_url, &report);
    let (status, err) = t.twilio_post(status_path, &report, Some(&forged), None).await;
    assert_eq!((status, error_code(&err)), (StatusCode::FORBIDDEN, "INVALID_PROVIDER_SIGNATURE".into()));
    let id = sent["id"].as_str().unwrap().to_string();
    assert_eq!(t.s.get(&t.one(&id), &t.token).await.1["status"], "SENT", "a forged report changes nothing");
    let sig = twilio_signature(TWILIO_TOKEN, &status_url, &report);
    let (status, m) = t.twilio_post(status_path, &report, Some(&sig), None).await;
    assert_eq!((status, m["status"].as_str()), (StatusCode::OK, Some("DELIVERED")), "{m}");
}

#[tokio::test]
async fn twilio_signs_the_public_url_when_one_is_set() {
    let public = "https://care.example.org/welkin";
    let t = setup_with(&[
        "--no-webhook-worker",
        "--twilio-auth-token",
        TWILIO_TOKEN,
        "--public-url",
        "https://care.example.org/welkin/",
    ])
    .await;
    let path = "/providers/sms/inbound";
    let form = [("From", "+15559990011"), ("To", LINE), ("Body", "public"), ("MessageSid", "SM5f2c0011")];
    let local = twilio_signature(TWILIO_TOKEN, &t.s.url(&t.s.sandbox(path)), &form);
    let (status, err) = t.twilio_post(path, &form, Some(&local), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    assert_eq!(err[0]["details"]["url"], format!("{public}{}", t.s.sandbox(path)), "names the URL it checked");
    assert_eq!(t.unrecognized_count().await, 0);
    let sig = twilio_signature(TWILIO_TOKEN, &format!("{public}{}", t.s.sandbox(path)), &form);
    let (status, m) = t.twilio_post(path, &form, Some(&sig), Some("http")).await;
    assert_eq!((status, m["message"].as_str()), (StatusCode::OK, Some("public")), "{m}");
    assert_eq!(t.unrecognized_count().await, 1);
}
