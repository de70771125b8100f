//! Key coverage against Welkin's recordings: `fixtures/recorded_keys.json` lists, per
//! route template, every JSON key path seen in a recorded 2xx response (`a.b`, `list[].c`;
//! keys named by a formation or a tenant's custom attributes, and the entity-dependent
//! `record` of data audit entries, left out). This test drives every one of those routes
//! on our server, creating the records each needs, and requires every listed key path in
//! our answers for the same route.

mod common;

use common::Server;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const RECORDED: &str = include_str!("fixtures/recorded_keys.json");
const GUID: &str = "6f1b0b5e-3d5e-4f39-9d5e-7f4c2d1a9b10";

fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                out.insert(p.clone());
                key_paths(x, &p, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| key_paths(x, &format!("{prefix}[]"), out)),
        _ => {}
    }
}

struct Drive<'a> {
    s: &'a Server,
    token: String,
    /// Route template ("GET /{tenant}/…") → key paths of our answers.
    got: BTreeMap<String, BTreeSet<String>>,
}

impl Drive<'_> {
    /// Sends `method path` (relative paths are the sandbox instance's), requires a 2xx and
    /// files the answer's key paths under `template`.
    async fn call(&mut self, method: Method, template: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path.starts_with("/{tenant}") {
            path.replacen("{tenant}", &self.s.tenant, 1)
        } else {
            self.s.sandbox(path)
        };
        let (status, answer) = self.s.call(method.clone(), &url, Some(&self.token), body).await;
        assert!(status.is_success(), "{method} {url}: {status} {answer}");
        key_paths(&answer, "", self.got.entry(format!("{method} {template}")).or_default());
        answer
    }

    async fn get(&mut self, template: &str, path: &str) -> Value {
        self.call(Method::GET, template, path, None).await
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

/// A receiver for the webhook test send, so the webhook audit has an entry.
async fn receiver() -> String {
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn every_recorded_key_is_in_our_answers() {
    let hook = receiver().await;
    // With a delivery worker (on a database of its own on PostgreSQL): the webhook audit
    // needs a delivery.
    let s = Server::start_isolated(&["--allow-private-webhooks"]).await;
    let designer = common::designer_copy();
    // What the recorded tenant's formation has: a disposition with `notes` and a select,
    // a document type with a select, a goal task for a role, an assessment with a
    // prefilled question and a condition.
    let options = "meta: {multiple: false, options: [{label: Yes, value: Yes}, {label: No, value: No}]}";
    std::fs::write(
        designer.path().join("encounter-disposition.yaml"),
        format!("name: __encounter_disposition__\nfields:\n  - {{name: notes, type: textarea}}\n  - {{name: outcome, type: select, {options}}}\n"),
    )
    .unwrap();
    std::fs::write(
        designer.path().join("document-types/keys.yaml"),
        format!("name: doc-type-keys\ntitle: Keys\nfields:\n  - {{name: signed, type: select, {options}}}\n"),
    )
    .unwrap();
    std::fs::write(
        designer.path().join("goal-templates/keys.yaml"),
        "name: keys-goal\ngoalName: Keys\ntype: dietary\npriority: LOW\ntaskTemplates:\n  - name: call\n    subjectConfig: {type: ROLE, roleName: caregiver}\n",
    )
    .unwrap();
    let mut asm: Value =
        serde_json::from_str(&std::fs::read_to_string(designer.path().join("assessments/phq-2.json")).unwrap())
            .unwrap();
    asm["name"] = json!("asm-keys");
    asm["sections"][0]["fields"][0]["prePopulatedValue"] = json!({"type": "PREVIOUS_ASSESSMENT", "defaultValue": null});
    asm["conditionSettings"] = json!({"events": [], "elements": [{"name": "section-1", "type": "SECTION", "action": "SHOW",
        "operation": "AND", "conditions": [{"refCdtName": "cdt-phq-2", "refCdtFieldName": "mood", "type": "EQUALS", "value": "1"}]}]});
    std::fs::write(designer.path().join("assessments/keys.json"), asm.to_string()).unwrap();
    std::fs::create_dir_all(designer.path().join("webhooks")).unwrap();
    std::fs::write(
        designer.path().join("webhooks/patients.json"),
        json!({"name": "wh-keys", "title": "Keys", "url": hook, "events": ["PATIENT_CREATED"]}).to_string(),
    )
    .unwrap();
    s.cli(&["designer", "apply", designer.path().to_str().unwrap(), "--tenant", &s.tenant]);
    let mut d = Drive { s: &s, token: s.token().await, got: BTreeMap::new() };

    // Token.
    let (status, token) = s
        .call(
            Method::POST,
            &format!("/{}/admin/api_clients/{}", s.tenant, s.client),
            None,
            Some(json!({"secret": s.secret})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    key_paths(&token, "", d.got.entry("POST /{tenant}/admin/api_clients/{clientName}".into()).or_default());

    // Users.
    let user = d
        .call(
            Method::POST,
            "/{tenant}/admin/users",
            "/{tenant}/admin/users",
            Some(json!({"username": "keys-user", "email": "keys@example.org", "firstName": "Kay", "lastName": "Ees"})),
        )
        .await;
    let uid = id(&user);
    let other = d
        .call(
            Method::POST,
            "/{tenant}/admin/users",
            "/{tenant}/admin/users",
            Some(json!({"username": "keys-other", "email": "other@example.org", "phone": "+15556491372",
                        "timezone": "US/Eastern", "credentials": "RN"})),
        )
        .await;
    let oid = id(&other);
    for (what, body) in [
        (
            "user-permissions",
            json!({"permissions": [
            {"permissionName": "caregiver", "instanceName": "sandbox", "type": "SECURITY_ROLE", "primaryRole": true},
            {"permissionName": "cdt_management", "instanceName": "sandbox", "type": "SECURITY_POLICY",
             "effectiveDate": "2030-12-01T00:00:00.000Z"}]}),
        ),
        (
            "user-territories",
            json!({"userId": oid, "territories": [
            {"name": "california", "territories": ["los-angeles"], "instanceName": "sandbox"}]}),
        ),
        (
            "application-accesses",
            json!({"adminAccessEnabled": true, "auditSecurityAccessEnabled": false, "instanceAccesses": [
            {"instanceName": "sandbox", "workshopAccessEnabled": true, "auditDataAccessEnabled": true,
             "userEmailWithInstanceDomain": "other@clinic.example.com"}]}),
        ),
    ] {
        let path = format!("/{{tenant}}/admin/{what}/{oid}");
        d.call(Method::PUT, &format!("/{{tenant}}/admin/{what}/{{userId}}"), &path, Some(body)).await;
    }
    d.get("/{tenant}/admin/users", "/{tenant}/admin/users?page=0").await;
    d.get("/{tenant}/admin/users/{userKey}", &format!("/{{tenant}}/admin/users/{uid}?type=ID")).await;
    d.call(
        Method::PATCH,
        "/{tenant}/admin/users/{username}",
        "/{tenant}/admin/users/keys-user",
        Some(json!({"firstName": "Kai"})),
    )
    .await;

    // Patients.
    let p = d
        .call(
            Method::POST,
            "/{tenant}/{instance}/patients",
            "/patients",
            Some(json!({"firstName": "Foo", "lastName": "Bar", "phone": "+15556491369", "email": "foo@example.org",
                        "externalGuid": GUID})),
        )
        .await;
    let pid = id(&p);
    let pp = format!("/patients/{pid}");
    d.call(Method::PATCH, "/{tenant}/{instance}/patients/{patientId}", &pp, Some(json!({"firstName": "Baz"}))).await;

    // Programs: enrol and move on.
    let prog = "/{tenant}/{instance}/patients/{patientId}/programs/{programName}";
    d.call(
        Method::PATCH,
        prog,
        &format!("{pp}/programs/prog-diabetes"),
        Some(json!({"assigned": true, "phaseName": "start"})),
    )
    .await;
    let enrolment = d
        .call(Method::PATCH, prog, &format!("{pp}/programs/prog-diabetes"), Some(json!({"phaseName": "education"})))
        .await;
    d.get("/{tenant}/{instance}/patients/{patientId}/programs", &format!("{pp}/programs?page=0")).await;
    d.get(
        "/{tenant}/{instance}/patients/{patientId}/programs/current/{programName}",
        &format!("{pp}/programs/current/prog-diabetes"),
    )
    .await;
    d.get(
        "/{tenant}/{instance}/patients/{patientId}/programs/history/{patientProgramId}",
        &format!("{pp}/programs/history/{}", id(&enrolment)),
    )
    .await;
    d.get("/{tenant}/{instance}/patients/{idOrKey}", &format!("/patients/{GUID}?type=EGUID")).await;

    // The patient's care team and territories, then the filtered list shows them all.
    d.call(
        Method::PATCH,
        "/{tenant}/{instance}/patients/{patientId}",
        &pp,
        Some(json!({"careTeam": [{"id": uid, "pointOfContact": true}], 
                    "patientTerritories": [{"name": "california", "territories": ["los-angeles"]}]})),
    )
    .await;
    d.call(Method::POST, "/{tenant}/{instance}/by-filter/patients", "/by-filter/patients", Some(json!({}))).await;

    // CDT records.
    let cdt = "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}";
    let r = d.call(Method::POST, cdt, &format!("{pp}/cdts/cdt-vitals"), Some(json!({"weight": 70}))).await;
    let r2 = d.call(Method::POST, cdt, &format!("{pp}/cdts/cdt-vitals"), Some(json!({"weight": 71}))).await;
    let one = "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}/{recordId}";
    d.call(Method::PATCH, one, &format!("{pp}/cdts/cdt-vitals/{}", id(&r)), Some(json!({"weight": 72}))).await;
    d.call(
        Method::PATCH,
        cdt,
        &format!("{pp}/cdts/cdt-vitals"),
        Some(
            json!({"rows": [{"id": id(&r), "jsonBody": {"weight": 73}}, {"id": id(&r2), "jsonBody": {"weight": 74}}]}),
        ),
    )
    .await;
    d.get(cdt, &format!("{pp}/cdts/cdt-vitals?page=0")).await;
    d.get(
        "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}/{recordIdOrKey}",
        &format!("{pp}/cdts/cdt-vitals/{}", id(&r)),
    )
    .await;

    // Assessment records.
    let ar = "/{tenant}/{instance}/patients/{patientId}/assessment-records";
    let record = d
        .call(Method::POST, ar, &format!("{pp}/assessment-records"), Some(json!({"assessmentName": "asm-phq-2"})))
        .await;
    let rid = id(&record);
    d.call(
        Method::PUT,
        "/{tenant}/{instance}/patients/{patientId}/assessment-records/{recordId}/answers",
        &format!("{pp}/assessment-records/{rid}/answers"),
        Some(json!({})),
    )
    .await;
    let mut full = d
        .get(
            "/{tenant}/{instance}/patients/{patientId}/assessment-records/{recordId}",
            &format!("{pp}/assessment-records/{rid}"),
        )
        .await;
    full["status"] = json!("IN_PROGRESS");
    d.call(
        Method::PUT,
        "/{tenant}/{instance}/patients/{patientId}/assessment-records/{recordId}",
        &format!("{pp}/assessment-records/{rid}"),
        Some(full),
    )
    .await;
    d.get(ar, &format!("{pp}/assessment-records?page=0")).await;

    // Encounters with an appointment, assessment links, a disposition.
    let enc = "/{tenant}/{instance}/patients/{patientId}/encounters";
    let e = d
        .call(
            Method::POST,
            enc,
            &format!("{pp}/encounters"),
            Some(json!({"title": "new enc", "description": "new encounter", "templateName": "etmp-intake",
                        "currentScheduledAppointment": {"eventType": "ENCOUNTER", "eventTitle": "NEW ENC",
                            "startDateTime": "2030-07-26T20:06:33.744Z", "endDateTime": "2030-07-26T21:06:33.744Z",
                            "hostId": uid, "participants": [{"participantId": uid, "participantRole": "psm"},
                                                            {"participantId": pid, "participantRole": "patient"}]}})),
        )
        .await;
    let eid = e["id"].as_str().map(String::from).unwrap_or_else(|| id(&e["encounter"]));
    let one_enc = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}";
    d.call(Method::PATCH, one_enc, &format!("{pp}/encounters/{eid}"), Some(json!({"notes": "a newer note"}))).await;
    let links = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments";
    let link = d
        .call(
            Method::POST,
            links,
            &format!("{pp}/encounters/{eid}/assessments"),
            Some(json!({"assessmentName": "asm-phq-2"})),
        )
        .await;
    let link_one = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments/{linkId}";
    let lp = format!("{pp}/encounters/{eid}/assessments/{}", id(&link));
    d.call(Method::PATCH, link_one, &lp, Some(json!({"assessmentRecordId": rid}))).await;
    d.get(link_one, &lp).await;
    d.get(links, &format!("{pp}/encounters/{eid}/assessments?page=0")).await;
    let disp = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/disposition";
    d.call(Method::PATCH, disp, &format!("{pp}/encounters/{eid}/disposition"), Some(json!({"notes": "fine"}))).await;
    d.get(disp, &format!("{pp}/encounters/{eid}/disposition")).await;
    d.get(one_enc, &format!("{pp}/encounters/{eid}")).await;
    d.get(enc, &format!("{pp}/encounters?page=0")).await;
    let full = d
        .get(
            "/{tenant}/{instance}/patients/{patientId}/full-encounters/{encounterId}",
            &format!("{pp}/full-encounters/{eid}"),
        )
        .await;
    // A second link: the full encounter lists them newest first, as recorded.
    let second = d
        .call(
            Method::POST,
            links,
            &format!("{pp}/encounters/{eid}/assessments"),
            Some(json!({"assessmentName": "asm-keys"})),
        )
        .await;
    let (_, full_again) = s.get(&s.sandbox(&format!("{pp}/full-encounters/{eid}")), &d.token).await;
    let order: Vec<&Value> = full_again["assessmentLinks"].as_array().unwrap().iter().map(|l| &l["id"]).collect();
    // The template's own link came first, then `link`, then `second`.
    assert_eq!(order[..2], [&second["id"], &link["id"]]);
    assert_eq!(order.len(), 3);
    assert_eq!(full["assessmentLinks"].as_array().map(Vec::len), Some(2), "before the second link");
    d.get(
        "/{tenant}/{instance}/users/{userId}/encounters",
        &format!("/users/{uid}/encounters?withCareTeam=False&page=0"),
    )
    .await;

    // Calendar.
    let ev = d
        .call(
            Method::POST,
            "/{tenant}/{instance}/calendar/events",
            "/calendar/events",
            Some(json!({"startDateTime": "2030-06-30T17:59:47.790Z", "endDateTime": "2030-06-30T18:59:47.790Z", "hostId": uid,
                        "participants": [{"participantId": uid, "participantRole": "psm"},
                                         {"participantId": pid, "participantRole": "patient"}]})),
        )
        .await;
    let evp = format!("/calendar/events/{}", id(&ev));
    d.call(
        Method::PATCH,
        "/{tenant}/{instance}/calendar/events/{eventId}",
        &evp,
        Some(json!({"eventTitle": "New event title"})),
    )
    .await;
    d.get("/{tenant}/{instance}/calendar/events/{eventId}", &evp).await;
    let range = "from=2030-06-01T00%3A00%3A00.000Z&to=2030-08-30T00%3A00%3A00.000Z";
    d.get("/{tenant}/{instance}/calendar/events", &format!("/calendar/events?{range}&includeCancelled=True&page=0"))
        .await;
    d.call(
        Method::POST,
        "/{tenant}/{instance}/calendar/work-hours",
        "/calendar/work-hours",
        Some(
            json!({"psmId": uid, "startDateTime": "2030-06-01T00:00:00.000Z", "endDateTime": "2030-12-31T00:00:00.000Z",
                    "daysInfo": [{"day": 1, "startTime": "09:00:00", "endTime": "17:00:00"}], "type": "AVAILABILITY", "encounters": ["etmp-intake"]}),
        ),
    )
    .await;
    d.get("/{tenant}/{instance}/calendar/work-hours", &format!("/calendar/work-hours?{range}")).await;
    d.get("/{tenant}/{instance}/calendar/psm-schedules", &format!("/calendar/psm-schedules?psmIds={uid}&{range}"))
        .await;

    // Care plan, documents, messages.
    let ov = "/{tenant}/{instance}/patients/{patientId}/care-plan/overview";
    d.call(Method::POST, ov, &format!("{pp}/care-plan/overview"), Some(json!({"overview": "An overview."}))).await;
    d.call(Method::PUT, ov, &format!("{pp}/care-plan/overview"), Some(json!({"overview": "A new overview."}))).await;
    d.get("/{tenant}/{instance}/patients/{patientId}/care-plan", &format!("{pp}/care-plan")).await;
    let ds = "/{tenant}/{instance}/patients/{patientId}/document-summary";
    let doc =
        d.call(Method::POST, ds, &format!("{pp}/document-summary"), Some(json!({"type": "doc-type-others"}))).await;
    let boundary = "recorded-keys-boundary";
    let mut upload = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    upload.extend(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    upload.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let resp = s
        .http
        .post(s.url(&s.sandbox(&format!("{pp}/document-summary/{}/files", id(&doc)))))
        .bearer_auth(&d.token)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(upload)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    d.get(ds, &format!("{pp}/document-summary?page=0")).await;
    d.get(
        "/{tenant}/{instance}/patients/{patientId}/document-summary/{docId}",
        &format!("{pp}/document-summary/{}", id(&doc)),
    )
    .await;
    d.call(
        Method::POST,
        "/{tenant}/{instance}/patients/{patientId}/chat/inbound",
        &format!("{pp}/chat/inbound"),
        Some(json!({"message": "Test message."})),
    )
    .await;
    d.call(
        Method::POST,
        "/{tenant}/{instance}/patients/{patientId}/chat/messages",
        &format!("{pp}/chat/messages"),
        Some(json!({"body": "Test reply.", "senderId": uid})),
    )
    .await;
    d.get("/{tenant}/{instance}/patients/{patientId}/chat", &format!("{pp}/chat?includeArchived=False&pageSize=20"))
        .await;
    d.get(
        "/{tenant}/{instance}/patients/{patientId}/chat/search",
        &format!("{pp}/chat/search?pageSize=20&contentPageSize=20&includeArchived=False&query=Test"),
    )
    .await;
    d.call(
        Method::POST,
        "/{tenant}/{instance}/communication-ids",
        "/communication-ids",
        Some(json!({"channel": "SMS", "value": "+15556491370"})),
    )
    .await;
    d.call(
        Method::POST,
        "/{tenant}/{instance}/patients/{patientId}/sms",
        &format!("{pp}/sms"),
        Some(json!({"message": "Hi"})),
    )
    .await;
    d.get("/{tenant}/{instance}/patients/{patientId}/sms", &format!("{pp}/sms?page=0")).await;
    d.call(
        Method::POST,
        "/{tenant}/{instance}/patients/{patientId}/emails",
        &format!("{pp}/emails"),
        Some(json!({"subject": "Hello", "body": "Hi there", "sender": uid})),
    )
    .await;
    d.get("/{tenant}/{instance}/patients/{patientId}/emails", &format!("{pp}/emails?page=0")).await;

    // Formations.
    for (list, one, name) in [
        ("assessments", "assessments/{assessmentName}", "asm-keys"),
        ("cdts", "cdts/{cdtName}", "cdt-vitals"),
        ("document-types", "document-types/{docTypeName}", "doc-type-others"),
        ("encounters", "encounters/{templateName}", "etmp-intake"),
        ("goal-templates", "goal-templates/{name}", "keys-goal"),
        ("programs", "programs/{programName}", "prog-diabetes"),
    ] {
        let base = "/{tenant}/{instance}/formations/{version}";
        d.get(&format!("{base}/{list}"), &format!("/formations/current/{list}?page=0")).await;
        let concrete = format!("/formations/current/{}", one.split('/').next().unwrap());
        d.get(&format!("{base}/{one}"), &format!("{concrete}/{name}")).await;
    }
    d.get(
        "/{tenant}/{instance}/formations/{version}/encounter-disposition",
        "/formations/current/encounter-disposition?page=0",
    )
    .await;

    // Audits: data, and webhook (a test send).
    d.call(Method::POST, "/{tenant}/{instance}/webhooks/wh-keys/activate", "/webhooks/wh-keys/activate", None).await;
    d.call(
        Method::POST,
        "/{tenant}/{instance}/patients",
        "/patients",
        Some(json!({"firstName": "Web", "lastName": "Hook"})),
    )
    .await;
    let audit = d.get("/{tenant}/admin/audit-data", "/{tenant}/admin/audit-data?page=0&size=1000").await;
    let relation_of = |cdt: &str| {
        audit["data"].as_array().unwrap().iter().find(|e| e["cdtName"] == cdt).map(|e| e["cdtRelation"].clone())
    };
    assert_eq!(relation_of("__encounter_disposition__"), Some(json!("ENCOUNTER_DISPOSITION")));
    assert_eq!(relation_of("cdt-vitals"), Some(json!("COMMON")));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, audit) = s.get(&format!("/{}/admin/audit-webhook?page=0", s.tenant), &d.token).await;
        if audit["data"].as_array().is_some_and(|a| !a.is_empty()) || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    d.get("/{tenant}/admin/audit-webhook", "/{tenant}/admin/audit-webhook?page=0").await;

    let recorded: BTreeMap<String, Vec<String>> = serde_json::from_str(RECORDED).unwrap();
    let mut gaps = Vec::new();
    for (route, keys) in &recorded {
        match d.got.get(route) {
            None => gaps.push(format!("{route}: not driven")),
            Some(ours) => {
                let missing: Vec<&String> = keys.iter().filter(|k| !ours.contains(*k)).collect();
                if !missing.is_empty() {
                    gaps.push(format!("{route}: {missing:?}"));
                }
            }
        }
    }
    assert!(gaps.is_empty(), "{} routes lack recorded keys:\n{}", gaps.len(), gaps.join("\n"));
}
