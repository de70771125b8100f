//! Encounters over HTTP: made from a template with its assessment links and an empty
//! disposition, statuses along the allowed transitions, closed encounters frozen.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn setup() -> (Server, String, String, String) {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "En", "lastName": "Counter"})).await;
    let (_, u) = s
        .post(
            &format!("/{}/admin/users", s.tenant),
            &token,
            json!({"username": "doc", "email": "doc@x.org", "firstName": "Doc", "lastName": "Tor"}),
        )
        .await;
    (s, token, p["id"].as_str().unwrap().to_string(), u["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn an_encounter_is_made_from_its_template() {
    let (s, token, pid, uid) = setup().await;
    let base = s.sandbox(&format!("/patients/{pid}/encounters"));
    let (status, e) = s.post(&base, &token, json!({"title": "new enc", "description": "new encounter", "templateName": "etmp-intake", "ownerUserId": uid})).await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    assert_eq!(
        (e["cdtName"].clone(), e["patientId"].clone(), e["version"].clone()),
        (json!("__encounter__"), json!(pid), json!(1))
    );
    let body = &e["jsonBody"];
    for key in [
        "id",
        "title",
        "description",
        "notes",
        "type",
        "templateName",
        "templateTitle",
        "instruction",
        "status",
        "startDatetime",
        "endDatetime",
        "calendarEventId",
        "calendarEventStartDatetime",
        "localCalendarEventStartDatetime",
        "currentScheduledAppointment",
        "calendarEvent",
        "dispositionId",
        "activeUserId",
        "activeUserName",
        "ownerUserId",
        "ownerUserName",
        "local_created_at",
        "local_updated_at",
        "created_at",
        "created_by",
        "created_by_name",
        "updated_at",
        "updated_by",
        "updated_by_name",
        "source_type",
        "source_name",
        "source_id",
        "external_id",
        "external_guid",
    ] {
        assert!(body.get(key).is_some(), "jsonBody lacks {key}");
    }
    assert_eq!(
        (body["status"].clone(), body["type"].clone(), body["ownerUserName"].clone()),
        (json!("DRAFT"), json!("etmp-intake"), json!("Doc Tor"))
    );
    let eid = e["id"].as_str().unwrap();
    let (_, links) = s.get(&format!("{base}/{eid}/assessments?page=0"), &token).await;
    let links = links.as_array().unwrap().clone();
    assert_eq!(links.len(), 1, "the template's assessments are linked");
    assert_eq!(links[0]["cdtName"], "__encounter_assessment__");
    assert_eq!(
        (
            links[0]["jsonBody"]["assessmentName"].clone(),
            links[0]["jsonBody"]["fromTemplate"].clone(),
            links[0]["jsonBody"]["source_id"].clone()
        ),
        (json!("asm-phq-2"), json!(true), json!(eid))
    );
    let (_, d) = s.get(&format!("{base}/{eid}/disposition"), &token).await;
    assert_eq!(
        (d["cdtName"].clone(), d["id"].clone(), d["jsonBody"]["source_type"].clone()),
        (json!("__encounter_disposition__"), body["dispositionId"].clone(), json!("ENCOUNTER"))
    );
    assert_eq!(d["jsonBody"]["disposition-code"], Value::Null);

    let (status, full) = s.get(&s.sandbox(&format!("/patients/{pid}/full-encounters/{eid}")), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(full.get("id").is_none(), "no top-level id, as recorded");
    for key in
        ["encounter", "disposition", "calendarEvent", "userRelatedToCalendarEvent", "assessmentLinks", "comments"]
    {
        assert!(full.get(key).is_some(), "missing {key}");
    }
    assert_eq!(full["userRelatedToCalendarEvent"]["username"], "doc");

    for (bad, field) in [
        (json!({"title": "x"}), "templateName"),
        (json!({"templateName": "etmp-nope"}), "templateName"),
        (json!({"templateName": "etmp-intake", "ownerUserId": uuid::Uuid::new_v4().to_string()}), "ownerUserId"),
        (json!({"templateName": "etmp-intake", "dispositionId": "x"}), "dispositionId"),
    ] {
        let (status, err) = s.post(&base, &token, bad.clone()).await;
        assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!(field)), "{bad}");
    }
    assert_eq!(s.get(&base, &token).await.1["metaInfo"]["totalElements"], 1, "nothing written by refused creates");
}

#[tokio::test]
async fn statuses_follow_the_transitions_and_finalized_encounters_are_frozen() {
    let (s, token, pid, _) = setup().await;
    let base = s.sandbox(&format!("/patients/{pid}/encounters"));
    let (_, e) = s.post(&base, &token, json!({"templateName": "etmp-intake"})).await;
    let path = format!("{base}/{}", e["id"].as_str().unwrap());
    let (status, updated) = s.patch(&path, &token, json!({"notes": "a newer note"})).await;
    assert_eq!((status, updated["jsonBody"]["notes"].clone()), (StatusCode::OK, json!("a newer note")));
    let (status, err) = s.patch(&path, &token, json!({"status": "FINALIZED"})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_STATUS_TRANSITION"));
    let (_, active) = s.patch(&path, &token, json!({"status": "ACTIVE"})).await;
    assert_eq!(active["jsonBody"]["status"], "ACTIVE");
    assert!(active["jsonBody"]["startDatetime"].is_string());
    let (status, err) = s.patch(&path, &token, json!({"status": "FINALIZED"})).await;
    assert_eq!(
        (status, err[0]["details"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("disposition.disposition-code")),
        "the disposition is required first"
    );
    assert_eq!(s.get(&path, &token).await.1["jsonBody"]["status"], "ACTIVE", "a refused transition changes nothing");
    let (status, err) = s.patch(&format!("{path}/disposition"), &token, json!({"disposition-code": "Maybe"})).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("disposition-code")));
    let (status, d) = s
        .patch(&format!("{path}/disposition"), &token, json!({"disposition-code": "Completed", "note": "went well"}))
        .await;
    assert_eq!((status, d["jsonBody"]["disposition-code"].clone()), (StatusCode::OK, json!("Completed")));
    let (status, done) = s.patch(&path, &token, json!({"status": "FINALIZED"})).await;
    assert_eq!((status, done["jsonBody"]["status"].clone()), (StatusCode::OK, json!("FINALIZED")));
    assert!(done["jsonBody"]["endDatetime"].is_string());

    for (method, sub, body) in [
        (Method::PATCH, "", json!({"notes": "late"})),
        (Method::PATCH, "/disposition", json!({"note": "late"})),
        (Method::POST, "/assessments", json!({"assessmentName": "asm-phq-2"})),
    ] {
        let (status, err) = s.call(method, &format!("{path}{sub}"), Some(&token), Some(body)).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "ENCOUNTER_CLOSED"), "{sub}");
    }
    assert_eq!(s.get(&path, &token).await.1, done, "a finalized encounter stays as it was");
    let (_, audit) = s
        .get(&format!("/{}/admin/audit-data?patientId={pid}&eventSubtype=ENCOUNTER_FINALIZED", s.tenant), &token)
        .await;
    assert_eq!(audit["metaInfo"]["totalElements"], 1);

    let (_, other) = s.post(&base, &token, json!({"templateName": "etmp-intake"})).await;
    let other_path = format!("{base}/{}", other["id"].as_str().unwrap());
    assert_eq!(s.patch(&other_path, &token, json!({"status": "CANCELLED"})).await.0, StatusCode::OK);
    assert_eq!(s.patch(&other_path, &token, json!({"status": "DRAFT"})).await.0, StatusCode::BAD_REQUEST);
    let (_, listed) = s.get(&format!("{base}?statuses=FINALIZED,CANCELLED"), &token).await;
    assert_eq!(listed["metaInfo"]["totalElements"], 2);
    assert_eq!(s.get(&format!("{base}?statuses=DRAFT"), &token).await.1["metaInfo"]["totalElements"], 0);
    assert_eq!(s.get(&format!("{base}?statuses=DONE"), &token).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn comments_and_assessment_links_have_their_own_routes() {
    let (s, token, pid, _) = setup().await;
    let base = s.sandbox(&format!("/patients/{pid}/encounters"));
    let (_, e) = s.post(&base, &token, json!({"templateName": "etmp-intake"})).await;
    let path = format!("{base}/{}", e["id"].as_str().unwrap());
    let (status, c) = s.post(&format!("{path}/comments"), &token, json!({"text": "first"})).await;
    assert_eq!(status, StatusCode::CREATED);
    for key in [
        "id",
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "createdByName",
        "updatedByName",
        "encounterId",
        "text",
    ] {
        assert!(c.get(key).is_some(), "comment lacks {key}");
    }
    let cid = c["id"].as_str().unwrap();
    let (status, changed) =
        s.call(Method::PUT, &format!("{path}/comments/{cid}"), Some(&token), Some(json!({"text": "second"}))).await;
    assert_eq!((status, changed["text"].clone()), (StatusCode::OK, json!("second")));
    assert_eq!(s.get(&format!("{path}/comments/{cid}"), &token).await.1, changed);
    assert_eq!(s.post(&format!("{path}/comments"), &token, json!({"text": ""})).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.get(&format!("{path}/comments"), &token).await.1.as_array().unwrap().len(), 1);
    assert_eq!(s.delete(&format!("{path}/comments/{cid}"), &token).await, (StatusCode::OK, Value::Null));
    assert_eq!(s.get(&format!("{path}/comments/{cid}"), &token).await.0, StatusCode::NOT_FOUND);

    let (status, link) = s.post(&format!("{path}/assessments"), &token, json!({"assessmentName": "asm-phq-2"})).await;
    assert_eq!(
        (status, link["jsonBody"]["fromTemplate"].clone(), link["jsonBody"]["assessmentRecordId"].clone()),
        (StatusCode::CREATED, json!(false), Value::Null)
    );
    let lid = link["id"].as_str().unwrap();
    let (_, record) = s
        .post(
            &s.sandbox(&format!("/patients/{pid}/assessment-records")),
            &token,
            json!({"assessmentName": "asm-phq-2"}),
        )
        .await;
    let (status, linked) =
        s.patch(&format!("{path}/assessments/{lid}"), &token, json!({"assessmentRecordId": record["id"]})).await;
    assert_eq!((status, linked["jsonBody"]["assessmentRecordId"].clone()), (StatusCode::OK, record["id"].clone()));
    let (status, err) = s
        .patch(
            &format!("{path}/assessments/{lid}"),
            &token,
            json!({"assessmentRecordId": uuid::Uuid::new_v4().to_string()}),
        )
        .await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("assessmentRecordId")));
    assert_eq!(s.get(&format!("{path}/assessments/{lid}"), &token).await.1, linked);
    assert_eq!(
        s.post(&format!("{path}/assessments"), &token, json!({"assessmentName": "asm-nope"})).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(s.delete(&format!("{path}/assessments/{lid}"), &token).await, (StatusCode::OK, Value::Null));
    let (status, err) = s.get(&format!("{path}/assessments/{lid}"), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "DT_RECORD_NOT_FOUND"));

    assert_eq!(s.delete(&path, &token).await, (StatusCode::OK, Value::Null));
    let (status, err) = s.get(&path, &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "DT_RECORD_NOT_FOUND"));
    assert_eq!(s.get(&format!("{path}/disposition"), &token).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn users_see_their_encounters_and_their_care_teams() {
    let (s, token, pid, uid) = setup().await;
    let other =
        s.create_patient(&token, json!({"firstName": "Team", "lastName": "Mate", "careTeam": [{"id": uid}]})).await;
    s.post(
        &s.sandbox(&format!("/patients/{pid}/encounters")),
        &token,
        json!({"templateName": "etmp-intake", "ownerUserId": uid}),
    )
    .await;
    s.post(
        &s.sandbox(&format!("/patients/{}/encounters", other["id"].as_str().unwrap())),
        &token,
        json!({"templateName": "etmp-intake"}),
    )
    .await;
    let mine = s.sandbox(&format!("/users/{uid}/encounters"));
    let (status, page) = s.get(&format!("{mine}?withCareTeam=False&page=0"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["metaInfo"]["totalElements"], 1);
    let item = &page["data"][0];
    assert_eq!(
        (item["cdtId"].clone(), item["version"].clone(), item["cdtName"].clone()),
        (Value::Null, Value::Null, Value::Null),
        "as recorded"
    );
    assert_eq!(item["jsonBody"]["patientInfo"], json!({"patientId": pid, "firstName": "En", "lastName": "Counter"}));
    assert!(item["jsonBody"].get("created_at").is_none());
    assert_eq!(s.get(&format!("{mine}?withCareTeam=True"), &token).await.1["metaInfo"]["totalElements"], 2);
    let (_, full) = s.get(&s.sandbox(&format!("/users/{uid}/full-encounters")), &token).await;
    assert_eq!(full["data"][0]["encounter"]["jsonBody"]["ownerUserId"], json!(uid));
    assert_eq!(
        s.get(&s.sandbox(&format!("/users/{}/encounters", uuid::Uuid::new_v4())), &token).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, pfull) =
        s.get(&s.sandbox(&format!("/patients/{pid}/full-encounters?onlyWithCalendarEvent=True")), &token).await;
    assert_eq!(pfull["metaInfo"]["totalElements"], 0);
}

#[tokio::test]
async fn an_inline_appointment_books_a_calendar_event_with_the_encounter() {
    let (s, token, pid, uid) = setup().await;
    let base = s.sandbox(&format!("/patients/{pid}/encounters"));
    let body = json!({"title": "new enc", "description": "new encounter", "templateName": "etmp-intake",
        "currentScheduledAppointment": {"eventType": "ENCOUNTER", "eventTitle": "NEW ENC", "startDateTime": "2030-07-26T20:06:33.744Z",
            "endDateTime": "2030-07-26T21:06:33.744Z", "hostId": uid,
            "participants": [{"participantId": uid, "participantRole": "psm"}, {"participantId": pid, "participantRole": "patient"}]}});
    let (status, e) = s.post(&base, &token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    let j = &e["jsonBody"];
    let event_id = j["calendarEventId"].as_str().expect("an event was booked");
    assert_eq!(j["ownerUserId"], json!(uid), "the host owns the encounter");
    assert_eq!(j["calendarEventStartDatetime"], "2030-07-26T20:06:33.744Z");
    assert_eq!(
        (j["currentScheduledAppointment"]["eventStatus"].clone(), j["currentScheduledAppointment"]["duration"].clone()),
        (json!("SCHEDULED"), json!(3600))
    );
    assert_eq!(j["calendarEvent"]["id"], json!(event_id));
    let (status, event) = s.get(&s.sandbox(&format!("/calendar/events/{event_id}")), &token).await;
    assert_eq!((status, event["eventTitle"].clone()), (StatusCode::OK, json!("NEW ENC")));
    let (_, full) =
        s.get(&s.sandbox(&format!("/patients/{pid}/full-encounters?onlyWithCalendarEvent=True")), &token).await;
    assert_eq!(full["metaInfo"]["totalElements"], 1);
    assert_eq!(full["data"][0]["calendarEvent"]["id"], json!(event_id));

    // A bad appointment refuses the whole encounter.
    let bad = json!({"templateName": "etmp-intake", "currentScheduledAppointment": {"eventType": "ENCOUNTER", "startDateTime": "2030-07-26T21:00:00.000Z",
        "endDateTime": "2030-07-26T20:00:00.000Z", "hostId": uid, "participants": [{"participantId": uid, "participantRole": "psm"}]}});
    assert_eq!(s.post(&base, &token, bad).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.get(&base, &token).await.1["metaInfo"]["totalElements"], 1, "nothing written");

    let (_, plain) = s.post(&base, &token, json!({"templateName": "etmp-intake"})).await;
    let path = format!("{base}/{}", plain["id"].as_str().unwrap());
    let (status, linked) = s.patch(&path, &token, json!({"calendarEventId": event_id})).await;
    assert_eq!((status, linked["jsonBody"]["calendarEvent"]["id"].clone()), (StatusCode::OK, json!(event_id)));
    assert_eq!(s.patch(&path, &token, json!({"calendarEventId": "nope"})).await.0, StatusCode::BAD_REQUEST);
}
