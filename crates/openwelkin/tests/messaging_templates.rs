//! Messaging templates and templated communications over HTTP: template management
//! (extension) and the DOCS reads, placeholder checks with nothing written, resolution
//! from patient, program, calendar and provider data, the resolve endpoint's report of
//! unknown and unresolved variables, sends that refuse a hole, CHAT sends that become
//! chat messages, the communication reads, isolation, the policy 403 and audit rows.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct T {
    s: Server,
    token: String,
    /// The patient's point of contact.
    coach: String,
    pid: String,
}

async fn setup() -> T {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let name = common::unique("coach");
    let body = json!({"username": name, "email": format!("{name}@example.org"), "firstName": "Sam", "lastName": "Morgan",
                      "phone": "+13605605686"});
    let (status, u) = s.post(&format!("/{}/admin/users", s.tenant), &token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    let coach = u["id"].as_str().unwrap().to_string();
    let p = s
        .create_patient(
            &token,
            json!({"firstName": "Ann", "lastName": "Lee", "timezone": "America/New_York", "email": "ann@example.org",
                   "careTeam": [{"id": coach}]}),
        )
        .await;
    let pid = p["id"].as_str().unwrap().to_string();
    T { s, token, coach, pid }
}

impl T {
    fn templates(&self) -> String {
        self.s.sandbox("/messaging-templates")
    }
    fn template(&self, name: &str) -> String {
        self.s.sandbox(&format!("/messaging-templates/{name}"))
    }
    async fn create(&self, body: Value) -> Value {
        let (status, t) = self.s.post(&self.templates(), &self.token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        t
    }
    async fn send(&self, body: Value) -> (StatusCode, Value) {
        self.s.post(&self.s.sandbox("/communications"), &self.token, body).await
    }
    async fn resolve(&self, name: &str, body: Value) -> Value {
        let (status, r) = self.s.post(&format!("{}/resolve", self.template(name)), &self.token, body).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        r
    }
    async fn communications(&self) -> Value {
        let (status, page) =
            self.s.get(&self.s.sandbox(&format!("/communications?patientId={}", self.pid)), &self.token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect();
    k.sort();
    k
}

fn field(err: &Value) -> String {
    err[0]["details"]["field"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn templates_are_created_read_replaced_and_deleted() {
    let t = setup().await;
    let made = t
        .create(json!({"name": "appt-reminder", "label": "Appointment reminder", "channel": "sms",
                       "body": "Hi {{patientFirstName}}, see {{ providerName }} on {{appointmentDate}}."}))
        .await;
    assert_eq!(
        keys(&made),
        [
            "active",
            "body",
            "channel",
            "createdAt",
            "createdBy",
            "createdByName",
            "description",
            "id",
            "label",
            "name",
            "subject",
            "updatedAt",
            "updatedBy",
            "updatedByName",
            "variables"
        ]
    );
    assert_eq!((made["channel"].as_str(), made["active"].as_bool()), (Some("SMS"), Some(true)));
    assert_eq!(made["variables"], json!(["patientFirstName", "providerName", "appointmentDate"]));
    assert_eq!(made["createdByName"], json!(format!("API_CLIENT:{}", t.s.client)));
    t.create(json!({"name": "welcome", "channel": "EMAIL", "subject": "Welcome to {{programName}}",
                    "body": "Dear {{patientFullName}}"}))
        .await;

    let (status, list) = t.s.get(&t.templates(), &t.token).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> =
        list.as_array().expect("a plain array").iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["appt-reminder", "welcome"]);
    let (_, emails) = t.s.get(&format!("{}?channel=EMAIL", t.templates()), &t.token).await;
    assert_eq!(emails.as_array().unwrap().len(), 1);
    assert_eq!(emails[0]["variables"], json!(["programName", "patientFullName"]));
    let (_, paged) = t.s.get(&format!("{}?size=1&page=1", t.templates()), &t.token).await;
    assert_eq!(paged[0]["name"], "welcome");
    assert_eq!(t.s.get(&format!("{}?channel=FAX", t.templates()), &t.token).await.0, StatusCode::BAD_REQUEST);
    let (status, one) = t.s.get(&t.template("appt-reminder"), &t.token).await;
    assert_eq!((status, &one), (StatusCode::OK, &made));

    let (status, err) =
        t.s.post(&t.templates(), &t.token, json!({"name": "welcome", "channel": "SMS", "body": "x"})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::CONFLICT, "MESSAGING_TEMPLATE_ALREADY_EXISTS"));

    let (status, replaced) =
        t.s.call(
            Method::PUT,
            &t.template("appt-reminder"),
            Some(&t.token),
            Some(json!({"channel": "CHAT", "body": "{{patientFirstName}}, {{phaseLabel}}", "active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        (replaced["id"].clone(), replaced["createdAt"].clone()),
        (made["id"].clone(), made["createdAt"].clone())
    );
    assert_eq!(
        (replaced["channel"].as_str(), replaced["active"].as_bool(), replaced["label"].as_str()),
        (Some("CHAT"), Some(false), Some("appt-reminder"))
    );
    assert_eq!(replaced["variables"], json!(["patientFirstName", "phaseLabel"]));
    let (_, inactive) = t.s.get(&format!("{}?active=false", t.templates()), &t.token).await;
    assert_eq!(inactive.as_array().unwrap().len(), 1);

    let (status, empty) = t.s.delete(&t.template("appt-reminder"), &t.token).await;
    assert_eq!((status, empty), (StatusCode::OK, Value::Null));
    for (method, body) in
        [(Method::GET, None), (Method::DELETE, None), (Method::PUT, Some(json!({"channel": "SMS", "body": "x"})))]
    {
        let (status, err) = t.s.call(method, &t.template("appt-reminder"), Some(&t.token), body).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "MESSAGING_TEMPLATE_NOT_FOUND"));
    }

    let (_, audit) = t.s.get(&format!("/{}/admin/audit-data?entity=MESSAGING_TEMPLATE", t.s.tenant), &t.token).await;
    let mut events: Vec<&str> =
        audit["data"].as_array().unwrap().iter().map(|r| r["eventSubtype"].as_str().unwrap()).collect();
    events.sort();
    assert_eq!(
        events,
        [
            "MESSAGING_TEMPLATE_CREATED",
            "MESSAGING_TEMPLATE_CREATED",
            "MESSAGING_TEMPLATE_DELETED",
            "MESSAGING_TEMPLATE_UPDATED"
        ]
    );
}

#[tokio::test]
async fn bad_templates_are_refused_with_nothing_written() {
    let t = setup().await;
    for (body, f) in [
        (json!({"channel": "SMS", "body": "x"}), "name"),
        (json!({"name": "has space", "channel": "SMS", "body": "x"}), "name"),
        (json!({"name": "a", "body": "x"}), "channel"),
        (json!({"name": "a", "channel": "PIGEON", "body": "x"}), "channel"),
        (json!({"name": "a", "channel": "SMS"}), "body"),
        (json!({"name": "a", "channel": "SMS", "body": "  "}), "body"),
        (json!({"name": "a", "channel": "SMS", "body": "Hi {{patientFirstName"}), "body"),
        (json!({"name": "a", "channel": "SMS", "body": "Hi {{first name}}"}), "body"),
        (json!({"name": "a", "channel": "SMS", "body": "x", "subject": "s"}), "subject"),
        (json!({"name": "a", "channel": "EMAIL", "body": "x", "subject": "{{"}), "subject"),
        (json!({"name": "a", "channel": "SMS", "body": "x", "variables": ["y"]}), "variables"),
        (json!({"name": "a", "channel": "SMS", "body": "x", "format": "html"}), "format"),
    ] {
        let (status, err) = t.s.post(&t.templates(), &t.token, body).await;
        assert_eq!(
            (status, error_code(&err).as_str(), field(&err)),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR", f.to_string())
        );
    }
    t.create(json!({"name": "a", "channel": "SMS", "body": "ok"})).await;
    let (status, err) = t
        .s
        .call(Method::PUT, &t.template("a"), Some(&t.token), Some(json!({"name": "b", "channel": "SMS", "body": "x"})))
        .await;
    assert_eq!((status, field(&err)), (StatusCode::BAD_REQUEST, "name".to_string()));
    let (status, err) =
        t.s.call(Method::PUT, &t.template("a"), Some(&t.token), Some(json!({"channel": "SMS", "body": "{{"}))).await;
    assert_eq!((status, field(&err)), (StatusCode::BAD_REQUEST, "body".to_string()));
    let (_, list) = t.s.get(&t.templates(), &t.token).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["body"], "ok", "nothing was written");
}

#[tokio::test]
async fn variables_resolve_from_patient_program_calendar_and_provider() {
    let t = setup().await;
    let body =
        "Hi {{patientFirstName}} {{patientLastName}}: {{programName}} / {{phaseLabel}} on {{appointmentDate}} at \
                {{appointmentTime}} with {{providerName}} ({{clinic}}).";
    t.create(json!({"name": "everything", "channel": "CHAT", "body": body})).await;

    // Before the patient has a program or an appointment: reported, not filled.
    let r = t.resolve("everything", json!({"patientId": t.pid})).await;
    assert_eq!(
        keys(&r),
        [
            "channel",
            "complete",
            "subject",
            "templateName",
            "text",
            "unknownVariables",
            "unresolvedVariables",
            "variables"
        ]
    );
    assert_eq!(r["complete"], false);
    assert_eq!(r["unknownVariables"], json!(["clinic"]));
    assert_eq!(r["unresolvedVariables"], json!(["programName", "phaseLabel", "appointmentDate", "appointmentTime"]));
    assert_eq!(
        r["text"],
        "Hi Ann Lee: {{programName}} / {{phaseLabel}} on {{appointmentDate}} at {{appointmentTime}} with Sam Morgan ({{clinic}})."
    );
    assert_eq!(r["variables"]["providerName"], "Sam Morgan");

    // Enrol the patient, and give an appointment (14:30 UTC = 10:30 in New York in July).
    let (status, pp) =
        t.s.patch(
            &t.s.sandbox(&format!("/patients/{}/programs/prog-diabetes", t.pid)),
            &t.token,
            json!({"assigned": true, "phaseName": "start"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pp}");
    let (status, pp) =
        t.s.patch(
            &t.s.sandbox(&format!("/patients/{}/programs/prog-diabetes", t.pid)),
            &t.token,
            json!({"phaseName": "education"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pp}");
    for start in ["2031-07-01T14:30:00.000Z", "2030-07-01T14:30:00.000Z"] {
        let end = start.replace("14:30", "15:00");
        let event = json!({"startDateTime": start, "endDateTime": end, "hostId": t.coach,
                           "participants": [{"participantId": t.coach, "participantRole": "psm"},
                                            {"participantId": t.pid, "participantRole": "patient"}]});
        let (status, e) = t.s.post(&t.s.sandbox("/calendar/events"), &t.token, event).await;
        assert_eq!(status, StatusCode::CREATED, "{e}");
    }
    let r = t.resolve("everything", json!({"patientId": t.pid, "templateVariables": {"clinic": "North"}})).await;
    assert_eq!(r["complete"], true, "{r}");
    assert_eq!(r["text"], "Hi Ann Lee: Diabetes care / Education on 2030-07-01 at 10:30 with Sam Morgan (North).");
    assert_eq!((r["unknownVariables"].clone(), r["unresolvedVariables"].clone()), (json!([]), json!([])));
    // Given values win over the server's.
    let r = t
        .resolve(
            "everything",
            json!({"patientId": t.pid, "templateVariables": {"clinic": "N", "patientFirstName": "Annie"}}),
        )
        .await;
    assert!(r["text"].as_str().unwrap().starts_with("Hi Annie Lee"));

    // Sender variables come from senderId.
    t.create(json!({"name": "signed", "channel": "SMS", "body": "-- {{senderName}}"})).await;
    let r = t.resolve("signed", json!({"patientId": t.pid})).await;
    assert_eq!(r["unresolvedVariables"], json!(["senderName"]));
    let r = t.resolve("signed", json!({"patientId": t.pid, "senderId": t.coach})).await;
    assert_eq!(r["text"], "-- Sam Morgan");

    // Bad resolve requests.
    let ghost = uuid::Uuid::new_v4().to_string();
    for (body, f) in [
        (json!({}), "patientId"),
        (json!({"patientId": ghost}), "patientId"),
        (json!({"patientId": t.pid, "senderId": ghost}), "senderId"),
        (json!({"patientId": t.pid, "templateVariables": {"x": [1]}}), "templateVariables.x"),
        (json!({"patientId": t.pid, "extra": 1}), "extra"),
    ] {
        let (status, err) = t.s.post(&format!("{}/resolve", t.template("signed")), &t.token, body).await;
        assert_eq!((status, field(&err)), (StatusCode::BAD_REQUEST, f.to_string()), "{err}");
    }
    let (status, err) =
        t.s.post(&format!("{}/resolve", t.template("nope")), &t.token, json!({"patientId": t.pid})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "MESSAGING_TEMPLATE_NOT_FOUND"));
}

#[tokio::test]
async fn communications_send_or_report_the_hole() {
    let t = setup().await;
    t.create(json!({"name": "hello-chat", "channel": "CHAT", "body": "Hello {{patientFirstName}}, this is {{providerName}}. {{note}}"})).await;
    t.create(json!({"name": "hello-sms", "channel": "SMS", "body": "Hi {{patientFirstName}}"})).await;
    t.create(json!({"name": "next-visit", "channel": "SMS", "body": "See you {{appointmentDate}}"})).await;
    t.create(json!({"name": "retired", "channel": "SMS", "body": "x", "active": false})).await;
    let send = |template: &str, channel: &str| json!({"patientId": t.pid, "channel": channel, "templateName": template, "senderId": t.coach});

    // A hole is reported by name and nothing is sent or recorded.
    let (status, err) = t.send(send("hello-chat", "CHAT")).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"));
    assert_eq!(
        (err[0]["details"]["variable"].as_str(), field(&err).as_str()),
        (Some("note"), "templateVariables.note")
    );
    assert_eq!(err[0]["details"]["unknownVariables"], json!(["note"]));
    assert!(err[0]["message"].as_str().unwrap().contains("note"));
    let (status, err) = t.send(send("next-visit", "SMS")).await;
    assert_eq!((status, err[0]["details"]["variable"].as_str()), (StatusCode::BAD_REQUEST, Some("appointmentDate")));
    assert_eq!(err[0]["details"]["unresolvedVariables"], json!(["appointmentDate"]));
    let ghost = uuid::Uuid::new_v4().to_string();
    let with = |mut b: Value, k: &str, v: Value| {
        b[k] = v;
        b
    };
    for (body, f) in [
        (with(send("hello-sms", "SMS"), "patientId", json!(ghost)), "patientId"),
        (with(send("hello-sms", "SMS"), "senderId", json!(ghost)), "senderId"),
        (with(send("hello-sms", "SMS"), "channel", json!("FAX")), "channel"),
        (send("hello-sms", "EMAIL"), "channel"),
        (send("no-such-template", "SMS"), "templateName"),
        (send("retired", "SMS"), "templateName"),
        (with(send("hello-sms", "SMS"), "scheduledAt", json!("2030-01-01T00:00:00Z")), "scheduledAt"),
        (with(send("hello-sms", "SMS"), "templateVariables", json!("x")), "templateVariables"),
        (json!({"channel": "SMS", "templateName": "hello-sms", "senderId": t.coach}), "patientId"),
    ] {
        let (status, err) = t.send(body.clone()).await;
        assert_eq!((status, field(&err)), (StatusCode::BAD_REQUEST, f.to_string()), "{body} {err}");
        assert_eq!(err[0]["componentType"], "COMMUNICATION");
    }
    assert_eq!(t.communications().await["data"], json!([]), "nothing was recorded");
    let (_, chat) = t.s.get(&t.s.sandbox(&format!("/patients/{}/chat", t.pid)), &t.token).await;
    assert_eq!(chat["content"], json!([]), "nothing was sent");

    // CHAT: the message is in the conversation, from the sender.
    let (status, c) =
        t.send(with(send("hello-chat", "CHAT"), "templateVariables", json!({"note": "Call us any time."}))).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    for k in ["communicationId", "status", "channel", "patientId", "scheduledAt"] {
        assert!(c.get(k).is_some(), "lacks {k}: {c}");
    }
    assert_eq!(
        (c["status"].as_str(), c["channel"].as_str(), c["patientId"].as_str()),
        (Some("DELIVERED"), Some("CHAT"), Some(t.pid.as_str()))
    );
    assert_eq!(c["text"], "Hello Ann, this is Sam Morgan. Call us any time.");
    let (_, chat) = t.s.get(&t.s.sandbox(&format!("/patients/{}/chat", t.pid)), &t.token).await;
    assert_eq!(chat["content"][0]["message"], c["text"]);
    assert_eq!(
        chat["content"][0]["sender"],
        json!({"clientType": "USER", "id": t.coach, "titleName": "Sam Morgan", "patientFullName": null})
    );

    // SMS: sent through the SMS module, which needs the patient's phone and a sending line.
    let (status, err) = t.send(send("hello-sms", "sms")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no phone or line yet: {err}");
    assert_eq!(t.communications().await["metaInfo"]["totalElements"], 1, "a refused SMS send records nothing");
    t.s.patch(&t.s.sandbox(&format!("/patients/{}", t.pid)), &t.token, json!({"phone": "+15556491369"})).await;
    let (status, line) =
        t.s.post(&t.s.sandbox("/communication-ids"), &t.token, json!({"channel": "SMS", "value": "+15550001111"}))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{line}");
    let (status, q) = t.send(send("hello-sms", "sms")).await;
    assert_eq!(status, StatusCode::CREATED, "{q}");
    assert!(matches!(q["status"].as_str(), Some("SENDING" | "DELIVERED")), "{q}");
    assert_eq!(q["text"].as_str(), Some("Hi Ann"));
    let (_, smses) = t.s.get(&t.s.sandbox(&format!("/patients/{}/sms", t.pid)), &t.token).await;
    assert_eq!(smses["content"][0]["message"], "Hi Ann", "the SMS was sent: {smses}");

    let id = c["communicationId"].as_str().unwrap();
    let (status, read) = t.s.get(&t.s.sandbox(&format!("/communications/{id}")), &t.token).await;
    assert_eq!((status, &read), (StatusCode::OK, &c));
    let (status, err) = t.s.get(&t.s.sandbox(&format!("/communications/{ghost}")), &t.token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "COMMUNICATION_NOT_FOUND"));
    let page = t.communications().await;
    assert_eq!(keys(&page), ["data", "metaInfo"]);
    let ids: Vec<&str> =
        page["data"].as_array().unwrap().iter().map(|x| x["communicationId"].as_str().unwrap()).collect();
    assert_eq!(ids, [q["communicationId"].as_str().unwrap(), id], "newest first");
    let base = t.s.sandbox(&format!("/communications?patientId={}", t.pid));
    assert_eq!(t.s.get(&format!("{base}&channel=CHAT"), &t.token).await.1["data"].as_array().unwrap().len(), 1);
    assert_eq!(t.s.get(&format!("{base}&channel=SMS"), &t.token).await.1["data"][0]["channel"], "SMS");
    assert_eq!(t.s.get(&format!("{base}&status=LOST"), &t.token).await.0, StatusCode::BAD_REQUEST);
    let (status, err) = t.s.get(&t.s.sandbox("/communications"), &t.token).await;
    assert_eq!((status, err[0]["details"]["parameter"].as_str()), (StatusCode::BAD_REQUEST, Some("patientId")));
    assert_eq!(
        t.s.get(&t.s.sandbox(&format!("/communications?patientId={ghost}")), &t.token).await.0,
        StatusCode::NOT_FOUND
    );

    let (_, audit) = t.s.get(&format!("/{}/admin/audit-data?entity=COMMUNICATION", t.s.tenant), &t.token).await;
    let rows = audit["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["eventSubtype"] == "COMMUNICATION_CREATED" && r["patientId"] == json!(t.pid)));
}

#[tokio::test]
async fn email_sends_go_through_the_email_module() {
    let t = setup().await;
    t.create(json!({"name": "welcome", "channel": "EMAIL", "subject": "Welcome, {{patientFirstName}}",
                    "body": "Dear {{patientFullName}}, {{providerName}} is your coach."}))
        .await;
    t.create(json!({"name": "plain", "channel": "EMAIL", "label": "A plain note", "body": "Hello"})).await;
    let send = |name: &str, pid: &str| json!({"patientId": pid, "channel": "EMAIL", "templateName": name, "senderId": t.coach});

    let (status, c) = t.send(send("welcome", &t.pid)).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert!(["SENDING", "DELIVERED"].contains(&c["status"].as_str().unwrap()), "{c}");
    assert_eq!(c["subject"], "Welcome, Ann");
    let email_id = c["messageId"].as_str().unwrap();
    let (status, email) = t.s.get(&t.s.sandbox(&format!("/patients/{}/emails/{email_id}", t.pid)), &t.token).await;
    assert_eq!(status, StatusCode::OK, "{email}");
    assert_eq!(
        (email["subject"].as_str(), email["body"].as_str()),
        (Some("Welcome, Ann"), Some("Dear Ann Lee, Sam Morgan is your coach."))
    );
    assert_eq!((email["sender"].as_str(), email["to"].as_str()), (Some(t.coach.as_str()), Some("ann@example.org")));
    // The communication reports the email's status once the provider took it.
    let id = c["communicationId"].as_str().unwrap();
    let mut read = Value::Null;
    for _ in 0..100 {
        read = t.s.get(&t.s.sandbox(&format!("/communications/{id}")), &t.token).await.1;
        if read["status"] == "DELIVERED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(read["status"], "DELIVERED", "{read}");

    // Without a subject, the template's label is the subject.
    let (status, c) = t.send(send("plain", &t.pid)).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let (_, email) =
        t.s.get(&t.s.sandbox(&format!("/patients/{}/emails/{}", t.pid, c["messageId"].as_str().unwrap())), &t.token)
            .await;
    assert_eq!(email["subject"], "A plain note");

    // A patient without an email address is refused, with nothing written.
    let bare = t.s.create_patient(&t.token, json!({"firstName": "No", "lastName": "Mail"})).await;
    let bare_id = bare["id"].as_str().unwrap();
    let (status, err) = t.send(send("plain", bare_id)).await;
    assert_eq!((status, field(&err)), (StatusCode::BAD_REQUEST, "patientId".to_string()), "{err}");
    let (_, page) = t.s.get(&t.s.sandbox(&format!("/communications?patientId={bare_id}")), &t.token).await;
    assert_eq!(page["data"], json!([]));
}

#[tokio::test]
async fn instances_are_isolated_and_policies_apply() {
    let t = setup().await;
    t.create(json!({"name": "hi", "channel": "CHAT", "body": "Hi {{patientFirstName}}"})).await;
    let live = |p: &str| format!("/{}/live{p}", t.s.tenant);
    assert_eq!(t.s.get(&live("/messaging-templates"), &t.token).await.1, json!([]));
    assert_eq!(t.s.get(&live("/messaging-templates/hi"), &t.token).await.0, StatusCode::NOT_FOUND);
    // The same name may exist in another instance.
    let (status, _) =
        t.s.post(&live("/messaging-templates"), &t.token, json!({"name": "hi", "channel": "SMS", "body": "x"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, c) =
        t.send(json!({"patientId": t.pid, "channel": "CHAT", "templateName": "hi", "senderId": t.coach})).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let id = c["communicationId"].as_str().unwrap();
    assert_eq!(t.s.get(&live(&format!("/communications/{id}")), &t.token).await.0, StatusCode::NOT_FOUND);
    // A sandbox patient is unknown in live.
    let (status, err) =
        t.s.post(
            &live("/communications"),
            &t.token,
            json!({"patientId": t.pid, "channel": "SMS", "templateName": "hi", "senderId": t.coach}),
        )
        .await;
    assert_eq!((status, field(&err)), (StatusCode::BAD_REQUEST, "patientId".to_string()));

    let (name, secret) = t.s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let none = t.s.token_for(&name, &secret).await;
    let (name, secret) = t.s.client_with_policy(&json!({"permissions": {"communications": ["read"]}}), None);
    let reader = t.s.token_for(&name, &secret).await;
    assert_eq!(t.s.get(&t.template("hi"), &reader).await.0, StatusCode::OK);
    let send = json!({"patientId": t.pid, "channel": "CHAT", "templateName": "hi", "senderId": t.coach});
    for (method, path, body) in [
        (Method::GET, "/messaging-templates".to_string(), None),
        (Method::GET, "/messaging-templates/hi".to_string(), None),
        (Method::POST, "/messaging-templates/hi/resolve".to_string(), Some(json!({"patientId": t.pid}))),
        (Method::GET, format!("/communications/{id}"), None),
        (Method::GET, format!("/communications?patientId={}", t.pid), None),
        (Method::POST, "/messaging-templates".to_string(), Some(json!({"name": "x", "channel": "SMS", "body": "x"}))),
        (Method::PUT, "/messaging-templates/hi".to_string(), Some(json!({"channel": "SMS", "body": "x"}))),
        (Method::DELETE, "/messaging-templates/hi".to_string(), None),
        (Method::POST, "/communications".to_string(), Some(send.clone())),
    ] {
        let (status, err) = t.s.call(method.clone(), &t.s.sandbox(&path), Some(&none), body.clone()).await;
        assert_eq!(
            (status, error_code(&err).as_str()),
            (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"),
            "{path}"
        );
        if method != Method::GET && !path.ends_with("/resolve") {
            assert_eq!(
                t.s.call(method, &t.s.sandbox(&path), Some(&reader), body).await.0,
                StatusCode::FORBIDDEN,
                "{path}"
            );
        }
    }
    assert_eq!(t.s.get(&t.template("hi"), &t.token).await.1["body"], "Hi {{patientFirstName}}", "nothing changed");
    assert_eq!(t.communications().await["metaInfo"]["totalElements"], 1);
}
