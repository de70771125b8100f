//! Bulk export over HTTP (`GET /{tenant}/{instance}/export/{TYPE}`) and with the CLI
//! (`openwelkin export`): every type renders what its GET returns, cursor paging to the
//! end, `start` as a time, the policy gates, isolation, and paging while writes go on.

mod common;

use common::{error_code, unique, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const PHONE: &str = "+15556491369";
const LINE: &str = "+15556491370";
/// Writes of each kind the concurrent-write tests make at most.
const WRITES: usize = 60;

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

/// Reads one type to the end; checks every page's envelope and returns every record.
async fn export_all(s: &Server, token: &str, instance: &str, ty: &str, size: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut start: Option<String> = None;
    for _ in 0..10_000 {
        let mut path = format!("/{}/{instance}/export/{ty}?pageSize={size}", s.tenant);
        if let Some(st) = &start {
            path.push_str(&format!("&start={}", urlencode(st)));
        }
        let (status, page) = s.get(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{ty}: {page}");
        assert_eq!(page.as_object().unwrap().keys().collect::<Vec<_>>(), ["cursor", "data"], "{ty}");
        let cursor = &page["cursor"];
        assert_eq!(
            cursor.as_object().unwrap().keys().collect::<BTreeSet<_>>(),
            ["end", "hasNext", "pageSize", "start"]
                .iter()
                .map(|k| k.to_string())
                .collect::<BTreeSet<_>>()
                .iter()
                .collect()
        );
        assert_eq!(cursor["pageSize"], size);
        assert_eq!(cursor["start"], start.clone().map(Value::String).unwrap_or(Value::Null));
        let data = page["data"].as_array().unwrap();
        assert!(data.len() as i64 <= size);
        for r in data {
            assert!(r["id"].is_string() && r["updatedAt"].is_string(), "{ty} record without id/updatedAt: {r}");
        }
        out.extend(data.iter().cloned());
        if cursor["hasNext"] == false {
            return out;
        }
        assert_eq!(data.len() as i64, size, "{ty}: a page before the last is full");
        start = Some(cursor["end"].as_str().unwrap().to_string());
    }
    panic!("{ty}: the export never ended");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The export record is the GET object, plus `id`/`updatedAt` where the GET has none.
fn assert_same(ty: &str, exported: &Value, got: &Value) {
    let (e, g) = (exported.as_object().unwrap(), got.as_object().unwrap());
    for (k, v) in g {
        assert_eq!(e.get(k), Some(v), "{ty}: {k} differs\nexport: {exported}\nGET:    {got}");
    }
    for k in e.keys() {
        assert!(g.contains_key(k) || k == "updatedAt" || k == "id", "{ty}: export adds {k}");
    }
}

async fn user(s: &Server, token: &str, first: &str) -> String {
    let name = unique("u");
    let body = json!({"username": name, "email": format!("{name}@example.org"), "firstName": first, "lastName": "Tester",
                      "timezone": "America/New_York"});
    let (status, u) = s.post(&format!("/{}/admin/users", s.tenant), token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    id(&u)
}

async fn ok(s: &Server, method: Method, path: &str, token: &str, body: Value) -> Value {
    let (status, v) = s.call(method.clone(), path, Some(token), Some(body)).await;
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

/// One record (or more) of every type in the sandbox; returns the GET path of each
/// record by type and id.
async fn seed_everything(s: &Server, token: &str) -> HashMap<(String, String), String> {
    let sb = |p: &str| s.sandbox(p);
    let mut get: HashMap<(String, String), String> = HashMap::new();
    let mut note = |ty: &str, rid: String, path: String| {
        get.insert((ty.to_string(), rid), path);
    };
    let uid = user(s, token, "Ann").await;
    note("USER", uid.clone(), format!("/{}/admin/users/{uid}?type=ID", s.tenant));
    let p = s
        .create_patient(
            token,
            json!({"firstName": "Ex", "lastName": "Port", "phone": PHONE, "email": "ex.port@example.org",
                   "timezone": "America/Los_Angeles", "careTeam": [{"id": uid, "pointOfContact": true}]}),
        )
        .await;
    let pid = id(&p);
    let pat = |rest: &str| sb(&format!("/patients/{pid}{rest}"));

    let v = ok(s, Method::PATCH, &pat("/programs/prog-diabetes"), token, json!({"assigned": true})).await;
    note("PATIENT_PROGRAM", id(&v), pat(&format!("/programs/{}", id(&v))));
    note("PATIENT", pid.clone(), pat(""));

    let v = ok(s, Method::POST, &pat("/cdts/cdt-self-care"), token, json!({"cdtf-alone-time": "Yes"})).await;
    note("CDT_RECORD", id(&v), pat(&format!("/cdts/cdt-self-care/{}", id(&v))));
    let profile = ok(
        s,
        Method::POST,
        &sb("/pdts/pdt-emergency-contact"),
        token,
        json!({"pdtf-name": "Bo", "pdtf-email": "bo@x.org", "pdtf-phone": "+15556491371"}),
    )
    .await;
    note("PDT_RECORD", id(&profile), sb(&format!("/pdts/pdt-emergency-contact/{}", id(&profile))));
    let v = ok(
        s,
        Method::POST,
        &pat("/contacts"),
        token,
        json!({"name": "Bo", "relation": "SPOUSE", "pdtRecordId": profile["id"], "email": "bo@x.org",
               "emailPdtFieldName": "pdtf-email", "phone": "+15556491371", "phonePdtFieldName": "pdtf-phone"}),
    )
    .await;
    note("CONTACT", id(&v), pat(&format!("/contacts/{}", id(&v))));
    let v = ok(s, Method::POST, &pat("/assessment-records"), token, json!({"assessmentName": "asm-phq-2"})).await;
    note("ASSESSMENT", id(&v), pat(&format!("/assessment-records/{}", id(&v))));

    let enc =
        ok(s, Method::POST, &pat("/encounters"), token, json!({"templateName": "etmp-intake", "ownerUserId": uid}))
            .await;
    let eid = id(&enc);
    note("ENCOUNTER", eid.clone(), pat(&format!("/encounters/{eid}")));
    let v = ok(s, Method::POST, &pat(&format!("/encounters/{eid}/comments")), token, json!({"text": "first"})).await;
    note("ENCOUNTER_COMMENT", id(&v), pat(&format!("/encounters/{eid}/comments/{}", id(&v))));
    let v = ok(
        s,
        Method::POST,
        &pat(&format!("/encounters/{eid}/assessments")),
        token,
        json!({"assessmentName": "asm-phq-2"}),
    )
    .await;
    note("ENCOUNTER_ASSESSMENT", id(&v), pat(&format!("/encounters/{eid}/assessments/{}", id(&v))));
    let (_, d) = s.get(&pat(&format!("/encounters/{eid}/disposition")), token).await;
    note("ENCOUNTER_DISPOSITION", id(&d), pat(&format!("/encounters/{eid}/disposition")));

    let v = ok(
        s,
        Method::POST,
        &sb("/tasks"),
        token,
        json!({"name": "Call back", "status": "TODO", "priority": "LOW", "assignee": {"id": uid}, "patient": {"id": pid}}),
    )
    .await;
    note("TASK", id(&v), sb(&format!("/tasks/{}", id(&v))));
    let v = ok(
        s,
        Method::POST,
        &sb("/calendar/events"),
        token,
        json!({"startDateTime": "2030-03-04T10:00:00Z", "endDateTime": "2030-03-04T10:30:00Z", "hostId": uid,
               "eventType": "APPOINTMENT", "participants": [{"participantId": uid, "participantRole": "psm"},
                                                            {"participantId": pid, "participantRole": "patient"}]}),
    )
    .await;
    note("CALENDAR_EVENT", id(&v), sb(&format!("/calendar/events/{}", id(&v))));
    let v = ok(
        s,
        Method::POST,
        &sb("/calendar/work-hours"),
        token,
        json!({"psmId": uid, "startDateTime": "2030-01-01T00:00:00Z",
               "daysInfo": [{"day": 1, "startTime": "09:00:00", "endTime": "17:00:00"}]}),
    )
    .await;
    let wid = v["details"][0]["workHoursId"].as_str().or(v["details"][0]["id"].as_str()).unwrap().to_string();
    note("WORK_HOURS", wid.clone(), sb(&format!("/calendar/work-hours/{wid}")));

    let v = ok(s, Method::POST, &pat("/care-plan/overview"), token, json!({"overview": "Doing well."})).await;
    let _ = v;
    let (_, plan) = s.get(&pat("/care-plan"), token).await;
    note("CARE_PLAN", id(&plan), pat("/care-plan"));
    let goal = ok(s, Method::POST, &pat("/care-plan/goals"), token, json!({"goalTemplateName": "eat-fruit"})).await;
    let gid = goal["id"].as_str().or(goal["details"]["id"].as_str()).unwrap().to_string();
    note("GOAL", gid.clone(), pat("/care-plan/goals"));
    let c = ok(s, Method::POST, &pat(&format!("/care-plan/goals/{gid}/comments")), token, json!({"text": "hi"})).await;
    note("GOAL_COMMENT", id(&c), pat(&format!("/care-plan/goals/{gid}/comments")));

    let line = ok(s, Method::POST, &sb("/communication-ids"), token, json!({"channel": "SMS", "value": LINE})).await;
    note("COMMUNICATION_ID", id(&line), sb(&format!("/communication-ids/{}", id(&line))));
    let v = ok(s, Method::POST, &pat("/sms"), token, json!({"message": "hi"})).await;
    note("SMS", id(&v), pat(&format!("/sms/{}", id(&v))));
    let v = ok(s, Method::POST, &pat("/emails"), token, json!({"subject": "Hello", "body": "Words."})).await;
    note("EMAIL", id(&v), pat(&format!("/emails/{}", id(&v))));
    let v = ok(s, Method::POST, &pat("/email-drafts"), token, json!({"subject": "Draft", "body": "First words"})).await;
    note("EMAIL_DRAFT", id(&v), pat(&format!("/email-drafts/{}", id(&v))));
    let v = ok(s, Method::POST, &pat("/chat/inbound"), token, json!({"message": "hello there"})).await;
    let _ = v;
    note("CHAT_MESSAGE", String::new(), pat("/chat/messages"));
    let v = ok(
        s,
        Method::POST,
        &sb("/providers/calls/inbound"),
        token,
        json!({"from": PHONE, "to": LINE, "status": "COMPLETED"}),
    )
    .await;
    note("VOICE_CALL", id(&v), pat(&format!("/calls/{}", id(&v))));
    let f = ok(s, Method::POST, &sb("/faxes"), token, json!({"receiver": LINE, "pages": 1, "send": true})).await;
    note("FAX", id(&f), sb(&format!("/faxes/{}", id(&f))));
    let t = ok(
        s,
        Method::POST,
        &sb("/messaging-templates"),
        token,
        json!({"name": "hi", "channel": "CHAT", "body": "Hello {{patientFirstName}}"}),
    )
    .await;
    note("MESSAGING_TEMPLATE", id(&t), sb("/messaging-templates/hi"));
    let v = ok(
        s,
        Method::POST,
        &sb("/communications"),
        token,
        json!({"patientId": pid, "channel": "CHAT", "templateName": "hi", "senderId": uid}),
    )
    .await;
    let cid = v["communicationId"].as_str().or(v["id"].as_str()).unwrap().to_string();
    note("COMMUNICATION", cid.clone(), sb(&format!("/communications/{cid}")));

    let doc = ok(s, Method::POST, &pat("/document-summary"), token, json!({"type": "doc-type-others"})).await;
    note("DOCUMENT_SUMMARY", id(&doc), pat(&format!("/document-summary/{}", id(&doc))));
    let v = ok(
        s,
        Method::POST,
        &pat(&format!("/document-summary/{}/doc-type-others", id(&doc))),
        token,
        json!({"notes": "signed"}),
    )
    .await;
    note("DOCUMENT_TYPE_RECORD", id(&v), pat(&format!("/document-summary/{}/doc-type-others", id(&doc))));

    let card = ok(
        s,
        Method::POST,
        &pat("/payment-methods"),
        token,
        json!({"type": "CARD", "brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2099}),
    )
    .await;
    note("PAYMENT_METHOD", id(&card), pat(&format!("/payment-methods/{}", id(&card))));
    let v = ok(
        s,
        Method::POST,
        &sb("/payment/subscriptions"),
        token,
        json!({"name": "Monthly care", "billingPeriod": "MONTHLY", "careMember": {"id": uid}, "patient": {"id": pid},
               "paymentTypeInfo": {"paymentType": "AUTO_CHARGE", "paymentMethodId": card["id"]},
               "price": {"amount": 2500, "currency": "USD"}, "startDate": "2099-01-31", "numberOfCycles": 3}),
    )
    .await;
    note("SUBSCRIPTION", id(&v), sb(&format!("/payment/subscriptions/{}", id(&v))));
    let inv = ok(
        s,
        Method::POST,
        &sb("/invoices"),
        token,
        json!({"patientId": pid, "dueDate": "2099-01-31", "lineItems": [{"description": "Visit", "quantity": 3, "unitAmount": 0.1}]}),
    )
    .await;
    let v = ok(
        s,
        Method::POST,
        &sb(&format!("/invoices/{}/payments", id(&inv))),
        token,
        json!({"amount": 0.1, "method": "CASH"}),
    )
    .await;
    let pay_id = v["id"].as_str().or(v["payments"][0]["id"].as_str()).unwrap().to_string();
    note("INVOICE", id(&inv), sb(&format!("/invoices/{}", id(&inv))));
    note("PAYMENT", pay_id.clone(), pat(&format!("/payments/{pay_id}")));
    note("DICTIONARY_RECORD", String::new(), sb("/dictionaries/dict-conditions"));
    get
}

/// What `path` answers, as a list of records.
async fn get_records(s: &Server, token: &str, path: &str) -> Vec<Value> {
    let (status, v) = s.get(path, token).await;
    assert_eq!(status, StatusCode::OK, "{path}: {v}");
    match &v {
        Value::Array(a) => a.clone(),
        Value::Object(o) if o.contains_key("details") && o.contains_key("psmId") => {
            // Work hours: {psmId, details:[rule]}; the export keeps psmId on the rule.
            o["details"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    r["psmId"] = o["psmId"].clone();
                    r
                })
                .collect()
        }
        Value::Object(o) if o.contains_key("data") && o["data"].is_array() => o["data"].as_array().unwrap().clone(),
        Value::Object(o) if o.contains_key("records") => o["records"].as_array().unwrap().clone(),
        Value::Object(o) if o.contains_key("content") => o["content"].as_array().unwrap().clone(),
        Value::Object(o) if o.contains_key("data") && o["data"]["content"].is_array() => {
            o["data"]["content"].as_array().unwrap().clone()
        }
        _ => vec![v],
    }
}

async fn all_types(s: &Server, token: &str) -> Vec<String> {
    let (status, err) = s.get(&s.sandbox("/export/NO_SUCH_TYPE"), token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "EXPORT_TYPE_NOT_FOUND"));
    err[0]["details"]["types"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn every_type_exports_what_its_get_returns() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let seeded = seed_everything(&s, &token).await;
    let types = all_types(&s, &token).await;
    for known in [
        "PATIENT",
        "CDT_RECORD",
        "PDT_RECORD",
        "ASSESSMENT",
        "CALENDAR_EVENT",
        "EMAIL",
        "SMS",
        "ENCOUNTER",
        "ENCOUNTER_COMMENT",
        "ENCOUNTER_DISPOSITION",
        "TASK",
        "VOICE_CALL",
    ] {
        assert!(types.iter().any(|t| t == known), "{known} is exported");
    }
    let seeded_types: BTreeSet<&String> = seeded.keys().map(|(t, _)| t).collect();
    for ty in &types {
        assert!(seeded_types.contains(ty), "the test seeds {ty}");
        let records = export_all(&s, &token, "sandbox", ty, 2).await;
        assert!(!records.is_empty(), "{ty} exports its records");
        let ids: Vec<String> = records.iter().map(id).collect();
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "{ty}: no record twice");
        let times: Vec<&str> = records.iter().map(|r| r["updatedAt"].as_str().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{ty} in updatedAt order: {times:?}");
        // The records of this type that have a GET by id, compared with it; list GETs
        // (chat, goal comments, dictionaries…) are matched by id.
        for ((t, rid), path) in seeded.iter().filter(|((t, _), _)| t == ty) {
            let got = get_records(&s, &token, path).await;
            let wanted: Vec<&Value> = if rid.is_empty() {
                got.iter().collect()
            } else {
                got.iter()
                    .filter(|g| g["id"] == rid.as_str() || g["workHoursId"] == rid.as_str() || got.len() == 1)
                    .collect()
            };
            assert!(!wanted.is_empty(), "{t}: {path} shows the record");
            for g in wanted {
                let gid = g["id"]
                    .as_str()
                    .or(g["workHoursId"].as_str())
                    .or(g["communicationId"].as_str())
                    .unwrap_or_else(|| panic!("{t}: {path} has no id: {g}"));
                let e = records.iter().find(|r| r["id"] == gid).unwrap_or_else(|| panic!("{t}: {gid} not exported"));
                assert_same(t, e, g);
            }
        }
        // Another instance sees none of them.
        let live = export_all(&s, &token, "live", ty, 50).await;
        assert!(live.iter().all(|r| !ids.contains(&id(r))) || ty == "USER", "{ty} stays in its instance");
    }
}

#[tokio::test]
async fn small_pages_reach_every_record_once_and_start_takes_a_time() {
    let s = Server::start().await;
    let token = s.token().await;
    let mut made = Vec::new();
    for i in 0..25 {
        made.push(id(&s.create_patient(&token, json!({"firstName": format!("P{i}"), "lastName": "Page"})).await));
    }
    for size in [1, 3, 25, 1000] {
        let got: Vec<String> = export_all(&s, &token, "sandbox", "PATIENT", size).await.iter().map(id).collect();
        assert_eq!(got, made, "pageSize {size}: created order is updatedAt order");
    }
    // `size` stands in for `pageSize`, as the Python client also sends it.
    let (_, page) = s.get(&s.sandbox("/export/patient?size=4"), &token).await;
    assert_eq!((page["data"].as_array().unwrap().len(), &page["cursor"]["pageSize"]), (4, &json!(4)));
    let (_, page) = s.get(&s.sandbox("/export/PATIENT"), &token).await;
    assert_eq!((page["data"].as_array().unwrap().len(), &page["cursor"]["hasNext"]), (25, &json!(false)));
    assert_eq!(page["cursor"]["start"], Value::Null);

    // An update moves a record to the end; `start` as a time gives what changed since.
    let (_, all) = s.get(&s.sandbox("/export/PATIENT?pageSize=1000"), &token).await;
    let last_end = all["cursor"]["end"].as_str().unwrap().to_string();
    let (_, none) = s.get(&s.sandbox(&format!("/export/PATIENT?start={}", urlencode(&last_end))), &token).await;
    assert_eq!((none["data"].as_array().unwrap().len(), &none["cursor"]["hasNext"]), (0, &json!(false)));
    assert_eq!(none["cursor"]["end"], json!(last_end), "an empty page keeps the position");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (_, changed) =
        s.patch(&s.sandbox(&format!("/patients/{}", made[3])), &token, json!({"firstName": "Moved"})).await;
    let since = changed["updatedAt"].as_str().unwrap();
    let (_, after) = s.get(&s.sandbox(&format!("/export/PATIENT?start={}", urlencode(&last_end))), &token).await;
    assert_eq!(after["data"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), [made[3].clone()]);
    let (_, from_time) = s.get(&s.sandbox(&format!("/export/PATIENT?start={}", urlencode(since))), &token).await;
    assert_eq!(from_time["data"][0]["firstName"], "Moved");
    assert_eq!(from_time["cursor"]["start"], json!(since));
    let all_again: Vec<String> = export_all(&s, &token, "sandbox", "PATIENT", 7).await.iter().map(id).collect();
    assert_eq!(all_again.last(), Some(&made[3]));
    assert_eq!(all_again.len(), 25);

    for (query, field) in [
        ("pageSize=0", "pageSize"),
        ("pageSize=1001", "pageSize"),
        ("pageSize=ten", "pageSize"),
        ("size=0", "size"),
        ("start=yesterday", "start"),
        ("start=c1.nope", "start"),
    ] {
        let (status, err) = s.get(&s.sandbox(&format!("/export/PATIENT?{query}")), &token).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"), "{query}");
        assert!(err.to_string().contains(field), "{query}: {err}");
    }
    let types = all_types(&s, &token).await;
    assert!(types.len() >= 30, "{types:?}");
}

/// What a client with this policy gets from a few export types.
async fn statuses_with(s: &Server, policy: Value) -> BTreeMap<&'static str, u16> {
    let (name, secret) = s.client_with_policy(&policy, None);
    let t = s.token_for(&name, &secret).await;
    let mut out = BTreeMap::new();
    for ty in ["PATIENT", "CDT_RECORD", "USER", "NO_SUCH_TYPE"] {
        let path = s.sandbox(&format!("/export/{ty}"));
        let (status, body) = s.get(&path, &t).await;
        if status == StatusCode::FORBIDDEN {
            assert_eq!(error_code(&body), "ACCESS_FOR_API_CLIENT_RESTRICTED");
            let d = &body[0]["details"];
            assert_eq!(
                (d["clientName"].as_str(), d["requestURI"].as_str()),
                (Some(name.as_str()), Some(path.as_str()))
            );
        }
        out.insert(ty, status.as_u16());
    }
    out
}

#[tokio::test]
async fn each_type_needs_export_and_its_own_read_permission() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    s.create_patient(&token, json!({"firstName": "Pol", "lastName": "Icy"})).await;
    let without_export =
        statuses_with(&s, json!({"permissions": {"patients": ["read"], "cdts": ["read"], "users": ["read"]}})).await;
    assert_eq!(
        without_export,
        BTreeMap::from([("CDT_RECORD", 403), ("NO_SUCH_TYPE", 403), ("PATIENT", 403), ("USER", 403)])
    );
    let export_only = statuses_with(&s, json!({"permissions": {"export": ["read"]}})).await;
    assert_eq!(
        export_only,
        BTreeMap::from([("CDT_RECORD", 403), ("NO_SUCH_TYPE", 404), ("PATIENT", 403), ("USER", 403)])
    );
    let some =
        statuses_with(&s, json!({"permissions": {"export": ["read"], "patients": ["read"], "users": ["*"]}})).await;
    assert_eq!(some, BTreeMap::from([("CDT_RECORD", 403), ("NO_SUCH_TYPE", 404), ("PATIENT", 200), ("USER", 200)]));
    let writes_only = statuses_with(&s, json!({"permissions": {"export": ["create"], "patients": ["read"]}})).await;
    assert_eq!(writes_only["PATIENT"], 403, "export needs the read operation");
    // A client without the instance gets the recorded 403 before anything else.
    let (name, secret) = s.client_with_policy(&json!({"allAccess": true}), Some("live"));
    let t = s.token_for(&name, &secret).await;
    let (status, body) = s.get(&s.sandbox("/export/PATIENT"), &t).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"));
}

/// Creates and updates patients until `stop`, at most `WRITES` times (an export by
/// `updatedAt` follows the records that change; unbounded writes faster than the reader
/// would keep it going); returns the ids it updated and how many it created.
async fn write_while(
    s: Arc<Server>,
    token: String,
    targets: Vec<String>,
    stop: Arc<AtomicBool>,
) -> (BTreeSet<String>, usize) {
    let mut updated = BTreeSet::new();
    let mut created = 0;
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) && i < WRITES {
        s.create_patient(&token, json!({"firstName": format!("New{i}"), "lastName": "During"})).await;
        created += 1;
        // Spread the updates over the whole range, before and behind the cursor.
        let target = &targets[(i * 37) % targets.len()];
        let (status, _) =
            s.patch(&s.sandbox(&format!("/patients/{target}")), &token, json!({"lastName": format!("Upd{i}")})).await;
        assert_eq!(status, StatusCode::OK);
        updated.insert(target.clone());
        i += 1;
    }
    (updated, created)
}

#[tokio::test]
async fn paging_while_patients_are_created_and_updated_skips_and_repeats_nothing() {
    let s = Arc::new(Server::start().await);
    let token = s.token().await;
    let mut before = Vec::new();
    for i in 0..150 {
        before.push(id(&s.create_patient(&token, json!({"firstName": format!("B{i}"), "lastName": "Before"})).await));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_while(s.clone(), token.clone(), before.clone(), stop.clone()));
    // Small pages, with a pause, so that many writes land between pages.
    let mut stream = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut path = s.sandbox("/export/PATIENT?pageSize=7");
        if let Some(st) = &start {
            path.push_str(&format!("&start={}", urlencode(st)));
        }
        let (status, page) = s.get(&path, &token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        stream.extend(page["data"].as_array().unwrap().iter().cloned());
        if page["cursor"]["hasNext"] == false {
            break;
        }
        start = Some(page["cursor"]["end"].as_str().unwrap().to_string());
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (updated, created) = writer.await.unwrap();
    assert!(
        created > 5 && updated.len() > 5,
        "writes went on during the export ({created} created, {} updated)",
        updated.len()
    );

    // In updatedAt order, and no version of a record twice.
    let times: Vec<&str> = stream.iter().map(|r| r["updatedAt"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "updatedAt order");
    let versions: BTreeSet<(String, String)> =
        stream.iter().map(|r| (id(r), r["updatedAt"].as_str().unwrap().to_string())).collect();
    assert_eq!(versions.len(), stream.len(), "a version is sent once");
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in &stream {
        *seen.entry(id(r)).or_default() += 1;
    }
    // Every record of the start is there; exactly once unless it changed during the
    // export after it had been sent (then its newer version follows, further on).
    for pid in &before {
        let n = seen.get(pid).copied().unwrap_or(0);
        assert!(n >= 1, "{pid} existed at the start and was skipped");
        if !updated.contains(pid) {
            assert_eq!(n, 1, "{pid} did not change and was sent {n} times");
        }
    }
    let repeated: Vec<&String> = seen.iter().filter(|(_, n)| **n > 1).map(|(k, _)| k).collect();
    assert!(repeated.iter().all(|k| updated.contains(*k)), "only changed records come again");
    let untouched = before.iter().filter(|p| !updated.contains(*p)).count();
    assert!(untouched > 50, "most records were not touched ({untouched})");
}

#[tokio::test]
async fn the_cli_writes_a_snapshot_as_ndjson_or_csv() {
    let s = Arc::new(Server::with_designer().await);
    let token = s.token().await;
    let mut before = Vec::new();
    for i in 0..40 {
        before.push(id(&s
            .create_patient(&token, json!({"firstName": format!("C{i}"), "lastName": "Li, \"quoted\""}))
            .await));
    }
    let dir = tempfile::tempdir().unwrap();
    let ndjson = dir.path().join("patients.ndjson");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_while(s.clone(), token.clone(), before.clone(), stop.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (tenant, db_url, out) = (s.tenant.clone(), s.db_url.clone(), ndjson.display().to_string());
    let output = tokio::task::spawn_blocking(move || {
        common::cli_output(
            &db_url,
            &[
                "export",
                "--tenant",
                &tenant,
                "--instance",
                "sandbox",
                "--type",
                "patient",
                "--out",
                &out,
                "--page-size",
                "3",
            ],
        )
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("records to"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> =
        std::fs::read_to_string(&ndjson).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<String> = lines.iter().map(id).collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "a snapshot has every record once");
    for pid in &before {
        assert!(ids.contains(pid), "{pid} is in the file");
    }
    // The writer may have renamed every patient above on a slow machine, so the CSV
    // quoting check gets a patient of its own, created once the database is quiet.
    s.create_patient(&token, json!({"firstName": "Quoted", "lastName": "Li, \"quoted\""})).await;
    // The same objects as the HTTP export (on a quiet database).
    let file2 = dir.path().join("again.ndjson");
    cli_export(&s, "PATIENT", file2.to_str().unwrap(), &[]);
    let http = export_all(&s, &token, "sandbox", "PATIENT", 1000).await;
    let cli: Vec<Value> =
        std::fs::read_to_string(&file2).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(cli, http);

    let csv = dir.path().join("patients.csv");
    cli_export(&s, "PATIENT", csv.to_str().unwrap(), &["--format", "csv"]);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    for key in http[0].as_object().unwrap().keys() {
        assert!(header.contains(&key.as_str()), "column {key}");
    }
    assert_eq!(rows.count(), http.len());
    assert!(text.contains("\"Li, \"\"quoted\"\"\""), "quoted cells");
    assert!(text.contains("\"[]\"") || text.contains(",[],") || text.contains("[]"), "nested values as JSON");
    assert!(!dir.path().join("patients.csv.part").exists());

    // Other types and errors.
    let cdts = dir.path().join("cdts.ndjson");
    cli_export(&s, "CDT_RECORD", cdts.to_str().unwrap(), &[]);
    assert_eq!(std::fs::read_to_string(&cdts).unwrap(), "");
    let out = common::cli_output(
        &s.db_url,
        &["export", "--tenant", &s.tenant, "--instance", "sandbox", "--type", "NOPE", "--out", "/dev/null"],
    );
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("unknown export type"));
    let out = common::cli_output(
        &s.db_url,
        &["export", "--tenant", &s.tenant, "--instance", "nowhere", "--type", "SMS", "--out", "/dev/null"],
    );
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no instance"));
}

#[tokio::test]
async fn a_csv_export_cannot_run_in_a_spreadsheet() {
    let s = Server::start().await;
    let token = s.token().await;
    let formula = "=HYPERLINK(\"http://x\",\"y\")";
    s.create_patient(&token, json!({"firstName": formula, "lastName": "@SUM(A1)", "externalId": "-5"})).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("patients.csv");
    let out = csv.to_str().unwrap();
    cli_export(&s, "PATIENT", out, &["--format", "csv"]);
    let text = std::fs::read_to_string(&csv).unwrap();
    // Each text cell that starts like a formula starts with ' instead (quoted as usual).
    assert!(text.contains(",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","), "{text}");
    assert!(text.contains(",'@SUM(A1),"), "{text}");
    assert!(text.contains(",'-5,"), "a text that looks like a number too: {text}");
    // (A number is written as it is: `-5` as a JSON number is no formula.)
    for cell in csv_cells(&text).into_iter().filter(|c| c.parse::<f64>().is_err()) {
        assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "a live cell {cell:?} in {text}");
    }
    // The data itself is unchanged: the JSON export has the name as written.
    let http = export_all(&s, &token, "sandbox", "PATIENT", 1000).await;
    assert_eq!(http[0]["firstName"], formula);
}

/// Every cell of a CSV text, unquoted (RFC 4180: quoted cells may hold commas, quotes
/// doubled, and line breaks).
fn csv_cells(text: &str) -> Vec<String> {
    let (mut cells, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',' | '\n', false) => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

/// `openwelkin export` of the sandbox of `s`'s tenant, with extra flags.
fn cli_export(s: &Server, export_type: &str, out: &str, extra: &[&str]) -> String {
    let args = ["export", "--tenant", &s.tenant, "--instance", "sandbox", "--type", export_type, "--out", out];
    s.cli(&[&args[..], extra].concat())
}
