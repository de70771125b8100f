//! Calendar over HTTP: events (create 201, read, PATCH, PUT, cancel, delete 204 with a
//! past event kept as CANCELLED, invitation responses), the event search (a Spring page
//! sorted by start), schedules, the event summary and work hours (bare arrays), with
//! validation that names the field and writes nothing, isolation between instances, the
//! policy 403 and the audit rows and webhook events of every write.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Keys of an event as recorded (test_calendar_event_create / read / read_all).
const EVENT_KEYS: &[&str] = &[
    "id",
    "createdBy",
    "createdAt",
    "updatedBy",
    "updatedAt",
    "externalId",
    "externalIdUpdatedAt",
    "eventTitle",
    "eventDescription",
    "startDateTime",
    "localStartDateTime",
    "endDateTime",
    "localEndDateTime",
    "allDayEvent",
    "duration",
    "eventType",
    "eventStatus",
    "eventMode",
    "eventColor",
    "hostId",
    "timezone",
    "additionalInfo",
    "participants",
];
const PARTICIPANT_KEYS: &[&str] = &[
    "id",
    "participantId",
    "participantRole",
    "participationStatus",
    "attended",
    "timezone",
    "firstName",
    "lastName",
    "deleted",
    "hasAccess",
    "email",
    "phone",
    "gender",
    "birthDate",
    "enabled",
];
const SPRING_KEYS: &[&str] = &[
    "content",
    "pageable",
    "last",
    "totalElements",
    "totalPages",
    "first",
    "sort",
    "number",
    "numberOfElements",
    "size",
    "empty",
];
const HOURS_KEYS: &[&str] = &[
    "workHoursId",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "name",
    "type",
    "ruleType",
    "startDateTime",
    "endDateTime",
    "localStartDateTime",
    "localEndDateTime",
    "daysInfo",
];
const SCHEDULE_EVENT_KEYS: &[&str] = &[
    "id",
    "eventId",
    "eventTitle",
    "eventType",
    "eventColor",
    "allDayEvent",
    "startDateTime",
    "localStartDateTime",
    "endDateTime",
    "localEndDateTime",
];

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

struct Cal {
    s: Server,
    token: String,
    /// A user in US/Pacific.
    sam: String,
    /// A user without a time zone.
    ann: String,
    patient: String,
}

async fn user(s: &Server, token: &str, first: &str, timezone: Option<&str>) -> String {
    let name = common::unique(&first.to_lowercase());
    let mut body = json!({"username": name, "email": format!("{name}@example.com"), "firstName": first,
                          "lastName": "Morgan", "phone": "+13605605686"});
    if let Some(tz) = timezone {
        body["timezone"] = json!(tz);
    }
    let (status, u) = s.post(&format!("/{}/admin/users", s.tenant), token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    u["id"].as_str().unwrap().to_string()
}

async fn setup() -> Cal {
    let s = Server::start().await;
    let token = s.token().await;
    let sam = user(&s, &token, "Sam", Some("US/Pacific")).await;
    let ann = user(&s, &token, "Ann", None).await;
    let p = s
        .create_patient(
            &token,
            json!({"firstName": "Pat", "lastName": "Ient", "gender": "MALE", "birthDate": "1980-02-03",
                   "email": "pat@example.com", "timezone": "America/New_York"}),
        )
        .await;
    let patient = p["id"].as_str().unwrap().to_string();
    Cal { s, token, sam, ann, patient }
}

impl Cal {
    fn events(&self) -> String {
        self.s.sandbox("/calendar/events")
    }

    fn event(&self, id: &str) -> String {
        self.s.sandbox(&format!("/calendar/events/{id}"))
    }

    fn minimal(&self, start: &str, end: &str) -> Value {
        json!({"startDateTime": start, "endDateTime": end, "hostId": self.sam,
               "participants": [{"participantId": self.sam, "participantRole": "psm"}]})
    }

    async fn create(&self, body: Value) -> Value {
        let (status, e) = self.s.post(&self.events(), &self.token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{e}");
        e
    }

    async fn find(&self, query: &str) -> Value {
        let (status, page) = self.s.get(&format!("{}?{query}", self.events()), &self.token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page
    }

    async fn find_ids(&self, query: &str) -> Vec<String> {
        let page = self.find(query).await;
        page["content"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

const WIDE: &str = "from=2000-01-01T00:00:00.000Z&to=2100-01-01T00:00:00.000Z";

#[tokio::test]
async fn a_minimal_event_has_the_recorded_shape() {
    let c = setup().await;
    let e = c.create(c.minimal("2030-06-30T17:59:47.790Z", "2030-06-30T18:59:47.790Z")).await;
    assert_eq!(keys(&e), set(EVENT_KEYS));
    for key in [
        "eventTitle",
        "eventDescription",
        "eventType",
        "eventStatus",
        "eventMode",
        "eventColor",
        "externalId",
        "timezone",
        "additionalInfo",
    ] {
        assert_eq!(e[key], Value::Null, "{key}");
    }
    assert_eq!((e["duration"].clone(), e["allDayEvent"].clone()), (json!(3600), json!(false)));
    assert_eq!(e["startDateTime"], "2030-06-30T17:59:47.790Z");
    assert_eq!(
        e["localStartDateTime"], "2030-06-30T17:59:47.790+00:00",
        "an event without a time zone is shown in UTC"
    );
    assert_eq!(e["localEndDateTime"], "2030-06-30T18:59:47.790+00:00");
    assert_eq!(e["hostId"], c.sam.as_str());
    assert_eq!(e["createdAt"], e["updatedAt"]);
    assert!(e["externalIdUpdatedAt"].is_string());
    let p = &e["participants"][0];
    assert_eq!(keys(p), set(PARTICIPANT_KEYS));
    assert_eq!(
        (p["participantId"].as_str(), p["participantRole"].as_str(), p["participationStatus"].as_str()),
        (Some(c.sam.as_str()), Some("psm"), Some(""))
    );
    assert_eq!(
        (p["attended"].clone(), p["deleted"].clone(), p["hasAccess"].clone()),
        (json!(false), json!(false), json!(false))
    );
    assert_eq!((p["firstName"].as_str(), p["lastName"].as_str()), (Some("Sam"), Some("Morgan")));
    assert_eq!(
        (p["timezone"].as_str(), p["phone"].as_str(), p["enabled"].clone()),
        (Some("US/Pacific"), Some("+13605605686"), json!(false))
    );
    assert_eq!((p["gender"].clone(), p["birthDate"].clone()), (Value::Null, Value::Null));
    uuid::Uuid::parse_str(p["id"].as_str().unwrap()).unwrap();

    let (status, read) = c.s.get(&c.event(&id(&e)), &c.token).await;
    assert_eq!((status, &read), (StatusCode::OK, &e));
}

#[tokio::test]
async fn events_are_updated_replaced_cancelled_and_looked_up_by_external_id() {
    let c = setup().await;
    let body = json!({
        "createdBy": c.sam, "eventTitle": "Weekly Appointment with Jack", "eventDescription": "",
        "startDateTime": "2030-01-01T00:00:00.000Z", "endDateTime": "2030-01-31T23:59:59.000Z",
        "eventType": "APPOINTMENT", "eventStatus": "SCHEDULED", "eventMode": "in-person", "eventColor": "green",
        "hostId": c.sam, "externalId": "ext-1", "timezone": "Europe/Moscow",
        "additionalInfo": {"location": "", "remarks": "", "attachment": ""},
        "participants": [{"participantId": c.sam, "participantRole": "psm", "attended": false},
                         {"participantId": c.patient, "participantRole": "patient", "attended": false}]});
    let e = c.create(body).await;
    assert_eq!((e["duration"].clone(), e["eventMode"].clone()), (json!(2_678_399), json!("IN-PERSON")));
    assert_eq!(e["eventDescription"], "", "an empty description is kept, as recorded");
    assert_eq!(e["localStartDateTime"], "2030-01-01T03:00:00.000+03:00");
    assert_eq!(e["localEndDateTime"], "2030-02-01T02:59:59.000+03:00");
    assert_eq!(e["additionalInfo"], json!({"location": "", "remarks": "", "attachment": ""}));
    let pat = &e["participants"][1];
    assert_eq!((pat["firstName"].as_str(), pat["gender"].as_str()), (Some("Pat"), Some("MALE")));
    assert_eq!(
        (pat["birthDate"].as_str(), pat["timezone"].as_str()),
        (Some("1980-02-03T00:00:00.000Z"), Some("America/New_York"))
    );
    assert_eq!((pat["enabled"].clone(), pat["email"].as_str()), (Value::Null, Some("pat@example.com")));
    let eid = id(&e);

    // A viewer's time zone wins over the event's.
    let (_, viewed) = c.s.get(&format!("{}?viewerTimezone=US/Pacific", c.event(&eid)), &c.token).await;
    assert_eq!(viewed["localStartDateTime"], "2029-12-31T16:00:00.000-08:00");
    let (status, by_ext) = c.s.get(&format!("{}?type=EXTERNAL_ID", c.event("ext-1")), &c.token).await;
    assert_eq!((status, by_ext["id"].as_str()), (StatusCode::OK, Some(eid.as_str())));
    let (status, err) = c.s.get(&format!("{}?type=EXTERNAL_ID", c.event("ext-404")), &c.token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "CALENDAR_EVENT_NOT_FOUND"));
    assert_eq!(err[0]["componentType"], "CALENDAR");

    let (status, patched) = c.s.patch(&c.event(&eid), &c.token, json!({"eventTitle": "New event title"})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["eventTitle"], "New event title");
    assert_eq!(patched["externalId"], "ext-1");
    assert_eq!(patched["participants"][1]["id"], e["participants"][1]["id"], "participants keep their ids");
    assert_eq!(patched["createdAt"], e["createdAt"]);
    assert!(patched["updatedAt"].as_str() >= e["updatedAt"].as_str());
    assert_eq!(patched["externalIdUpdatedAt"], e["externalIdUpdatedAt"], "externalId did not change");

    // PUT replaces: what it omits is cleared.
    let (status, replaced) = c
        .s
        .call(
            Method::PUT,
            &c.event(&eid),
            Some(&c.token),
            Some(json!({"updatedBy": c.sam, "eventTitle": "Patient Appointment", "startDateTime": "2030-01-15T16:00:00.000Z",
                        "endDateTime": "2030-01-15T17:00:00.000Z", "hostId": c.sam,
                        "participants": [{"participantId": c.sam, "participantRole": "psm"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        (replaced["eventTitle"].as_str(), replaced["duration"].clone()),
        (Some("Patient Appointment"), json!(3600))
    );
    assert_eq!((replaced["externalId"].clone(), replaced["eventType"].clone()), (Value::Null, Value::Null));
    assert_eq!(replaced["participants"].as_array().unwrap().len(), 1);
    assert_eq!(replaced["externalIdUpdatedAt"], replaced["updatedAt"], "externalId changed");
    let (status, err) = c.s.call(Method::PUT, &c.event(&eid), Some(&c.token), Some(json!({"eventTitle": "x"}))).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("startDateTime")));

    // Cancelling is a PATCH of the status; cancelled events are found only on request.
    let (_, cancelled) = c.s.patch(&c.event(&eid), &c.token, json!({"eventStatus": "CANCELLED"})).await;
    assert_eq!(cancelled["eventStatus"], "CANCELLED");
    assert!(c.find_ids(WIDE).await.is_empty());
    assert_eq!(c.find_ids(&format!("{WIDE}&includeCancelled=True")).await, [eid]);

    let (status, err) =
        c.s.patch(&c.event(&uuid::Uuid::new_v4().to_string()), &c.token, json!({"eventTitle": "x"})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "CALENDAR_EVENT_NOT_FOUND"));
}

#[tokio::test]
async fn deleting_removes_a_future_event_and_cancels_a_past_one() {
    let c = setup().await;
    let future = c.create(c.minimal("2031-01-01T10:00:00.000Z", "2031-01-01T11:00:00.000Z")).await;
    let past = c
        .create(json!({"startDateTime": "2022-06-28T14:00:00.000Z", "endDateTime": "2022-06-28T15:00:00.000Z",
                       "hostId": c.sam, "eventStatus": "SCHEDULED", "eventType": "APPOINTMENT", "timezone": "US/Pacific",
                       "participants": [{"participantId": c.sam, "participantRole": "psm"}]}))
        .await;
    assert_eq!(past["localStartDateTime"], "2022-06-28T07:00:00.000-07:00");

    let (status, body) = c.s.delete(&c.event(&id(&future)), &c.token).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, err) = c.s.get(&c.event(&id(&future)), &c.token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "CALENDAR_EVENT_NOT_FOUND"));
    assert_eq!(c.s.delete(&c.event(&id(&future)), &c.token).await.0, StatusCode::NOT_FOUND);

    let (status, body) = c.s.delete(&c.event(&id(&past)), &c.token).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, kept) = c.s.get(&c.event(&id(&past)), &c.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kept["eventStatus"], "CANCELLED");
    assert_eq!(kept["eventType"], "APPOINTMENT");
    assert_eq!(c.s.delete(&c.event(&id(&past)), &c.token).await.0, StatusCode::NO_CONTENT);
    assert_eq!(c.find_ids(&format!("{WIDE}&includeCancelled=true")).await, [id(&past)]);
}

#[tokio::test]
async fn the_search_filters_by_time_participants_and_type_and_pages_by_start() {
    let c = setup().await;
    let mk = |start: &str, end: &str, extra: Value| {
        let mut b = c.minimal(start, end);
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let with_patient = json!({"participants": [{"participantId": c.sam, "participantRole": "psm"},
                                               {"participantId": c.patient, "participantRole": "patient"}]});
    let b = c.create(mk("2030-03-02T10:00:00Z", "2030-03-02T11:00:00Z", json!({"eventType": "LEAVE"}))).await;
    let a = c.create(mk("2030-03-01T10:00:00Z", "2030-03-01T11:00:00Z", with_patient)).await;
    let d = c
        .create(json!({"startDateTime": "2030-03-04T10:00:00Z", "endDateTime": "2030-03-04T10:30:00Z", "hostId": c.ann,
                       "eventType": "APPOINTMENT", "participants": [{"participantId": c.ann, "participantRole": "psm"}]}))
        .await;
    assert_eq!(d["duration"], 1800);

    let page = c.find(WIDE).await;
    assert_eq!(keys(&page), set(SPRING_KEYS));
    assert_eq!(
        page["sort"],
        json!({"sorted": true, "unsorted": false, "empty": false}),
        "sorted by start, as recorded"
    );
    assert_eq!(page["pageable"]["sort"]["sorted"], true);
    assert_eq!(
        (page["totalElements"].clone(), page["last"].clone(), page["first"].clone()),
        (json!(3), json!(true), json!(true))
    );
    let ids = |p: &Value| p["content"].as_array().unwrap().iter().map(id).collect::<Vec<_>>();
    assert_eq!(ids(&page), [id(&a), id(&b), id(&d)]);

    // Overlap with the range: an event ending exactly at `from` is outside.
    assert_eq!(c.find_ids("from=2030-03-01T10:30:00Z&to=2030-03-02T10:00:00Z").await, [id(&a)]);
    assert_eq!(c.find_ids("from=2030-03-01T11:00:00Z&to=2030-03-02T10:00:01Z").await, [id(&b)]);
    assert_eq!(c.find_ids(&format!("{WIDE}&participantIds={}", c.patient)).await, [id(&a)]);
    assert_eq!(c.find_ids(&format!("{WIDE}&participantIds={},{}", c.patient, c.ann)).await, [id(&a), id(&d)]);
    assert_eq!(c.find_ids(&format!("{WIDE}&patientId={}", c.patient)).await, [id(&a)]);
    assert_eq!(c.find_ids(&format!("{WIDE}&userId={}", c.ann)).await, [id(&d)]);
    assert_eq!(c.find_ids(&format!("{WIDE}&eventType=LEAVE")).await, [id(&b)]);
    assert_eq!(c.find_ids(&format!("{WIDE}&sort=startDateTime,desc")).await, [id(&d), id(&b), id(&a)]);
    assert_eq!(c.find_ids(&format!("{WIDE}&sort=createdAt%2Casc")).await, [id(&b), id(&a), id(&d)]);
    assert_eq!(
        c.find_ids(&format!("{WIDE}&excludeAssignedToEncounterEvents=True&includeEncounterInfo=True")).await.len(),
        3
    );

    let second = c.find(&format!("{WIDE}&size=2&page=1")).await;
    assert_eq!(ids(&second), [id(&d)]);
    assert_eq!(
        (second["last"].clone(), second["first"].clone(), second["number"].clone()),
        (json!(true), json!(false), json!(1))
    );
    assert_eq!((second["totalPages"].clone(), second["numberOfElements"].clone()), (json!(2), json!(1)));
    let empty = c.find("from=2040-01-01T00:00:00Z&to=2040-02-01T00:00:00Z").await;
    assert_eq!(
        (empty["empty"].clone(), empty["totalPages"].clone(), empty["last"].clone()),
        (json!(true), json!(0), json!(true))
    );
    let slash = c.s.get(&format!("{}/?{WIDE}", c.events()), &c.token).await;
    assert_eq!((slash.0, slash.1["totalElements"].clone()), (StatusCode::OK, json!(3)));

    for (query, param) in [
        ("eventType=PARTY", "eventType"),
        ("from=yesterday", "from"),
        ("viewerTimezone=Mars/Base", "viewerTimezone"),
        ("participantIds=nope", "participantIds"),
        ("includeCancelled=maybe", "includeCancelled"),
        ("sort=colour,asc", "sort"),
        ("from=2030-02-01T00:00:00Z&to=2030-01-01T00:00:00Z", "to"),
    ] {
        let (status, err) = c.s.get(&format!("{}?{query}", c.events()), &c.token).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"), "{query}");
        assert_eq!(err[0]["details"]["parameter"], param, "{query}");
    }
}

#[tokio::test]
async fn invalid_events_are_refused_naming_the_field_and_nothing_is_written() {
    let c = setup().await;
    let good = c.minimal("2030-05-01T10:00:00Z", "2030-05-01T11:00:00Z");
    let live_patient = c
        .s
        .post(&format!("/{}/live/patients", c.s.tenant), &c.token, json!({"firstName": "Other", "lastName": "Place"}))
        .await
        .1;
    let stranger = uuid::Uuid::new_v4().to_string();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"startDateTime": null}), "startDateTime"),
        (json!({"endDateTime": "2030-05-01T09:00:00Z"}), "endDateTime"),
        (json!({"endDateTime": "2030-05-01T10:00:00Z"}), "endDateTime"),
        (json!({"startDateTime": "soon"}), "startDateTime"),
        (json!({"hostId": c.ann}), "participants"),
        (json!({"participants": []}), "participants"),
        (json!({"participants": "all"}), "participants"),
        (
            json!({"participants": [{"participantId": c.sam, "participantRole": "doctor"}]}),
            "participants[0].participantRole",
        ),
        (
            json!({"participants": [{"participantId": c.sam, "participantRole": "psm"}, {"participantId": stranger, "participantRole": "psm"}]}),
            "participants[1].participantId",
        ),
        (
            json!({"participants": [{"participantId": c.sam, "participantRole": "psm"}, {"participantId": stranger, "participantRole": "patient"}]}),
            "participants[1].participantId",
        ),
        (
            json!({"participants": [{"participantId": c.sam, "participantRole": "psm"}, {"participantId": c.ann, "participantRole": "patient"}]}),
            "participants[1].participantId",
        ),
        (
            json!({"participants": [{"participantId": c.sam, "participantRole": "psm"}, {"participantId": live_patient["id"], "participantRole": "patient"}]}),
            "participants[1].participantId",
        ),
        (
            json!({"hostId": c.patient, "participants": [{"participantId": c.patient, "participantRole": "patient"}]}),
            "hostId",
        ),
        (json!({"eventType": "PARTY"}), "eventType"),
        (json!({"eventStatus": "DONE"}), "eventStatus"),
        (json!({"eventMode": "TELEPATHY"}), "eventMode"),
        (json!({"timezone": "Mars/Base"}), "timezone"),
        (json!({"allDayEvent": "yes"}), "allDayEvent"),
        (json!({"additionalInfo": "room 1"}), "additionalInfo"),
        (json!({"duration": 60}), "duration"),
        (json!({"localStartDateTime": "2030-05-01T10:00:00Z"}), "localStartDateTime"),
        (json!({"colour": "red"}), "colour"),
    ];
    for (patch, field) in cases {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, err) = c.s.post(&c.events(), &c.token, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{patch}: {err}");
        assert_eq!(
            (error_code(&err).as_str(), err[0]["details"]["field"].as_str()),
            ("VALIDATION_ERROR", Some(field)),
            "{patch}"
        );
        assert_eq!(err[0]["componentType"], "CALENDAR");
    }
    let (status, err) = c.s.post(&c.events(), &c.token, json!({"hostId": c.sam})).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("startDateTime")));
    let (status, err) = c.s.call(Method::POST, &c.events(), Some(&c.token), None).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "MALFORMED_JSON"));
    assert_eq!(c.find(&format!("{WIDE}&includeCancelled=true")).await["totalElements"], 0, "nothing was written");

    // A refused change changes nothing.
    let e = c.create(good.clone()).await;
    for bad in [json!({"endDateTime": "2030-05-01T09:00:00Z"}), json!({"hostId": c.ann}), json!({"eventTitle": 5})] {
        let (status, _) = c.s.patch(&c.event(&id(&e)), &c.token, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(c.s.get(&c.event(&id(&e)), &c.token).await.1, e);

    // externalId is unique in the instance.
    let mut first = good.clone();
    first["externalId"] = json!("dup");
    let one = c.create(first.clone()).await;
    let (status, err) = c.s.post(&c.events(), &c.token, first.clone()).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::CONFLICT, "CALENDAR_EVENT_ALREADY_EXISTS"));
    let (status, _) = c.s.patch(&c.event(&id(&e)), &c.token, json!({"externalId": "dup"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) =
        c.s.patch(&c.event(&id(&one)), &c.token, json!({"externalId": "dup", "eventTitle": "same"})).await;
    assert_eq!(status, StatusCode::OK, "an event keeps its own externalId");
    assert_eq!(c.find(WIDE).await["totalElements"], 2);
}

#[tokio::test]
async fn participants_answer_invitations() {
    let c = setup().await;
    let e = c
        .create(json!({"startDateTime": "2030-07-01T10:00:00Z", "endDateTime": "2030-07-01T11:00:00Z", "hostId": c.sam,
                       "participants": [{"participantId": c.sam, "participantRole": "psm"},
                                        {"participantId": c.ann, "participantRole": "psm"}]}))
        .await;
    let url = format!("{}/invitation-response", c.event(&id(&e)));
    let (status, answered) = c
        .s
        .call(Method::PUT, &url, Some(&c.token), Some(json!({"participantId": c.ann, "participationStatus": "Yes"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["participants"][1]["participationStatus"], "Yes");
    assert_eq!(c.s.get(&c.event(&id(&e)), &c.token).await.1["participants"][1]["participationStatus"], "Yes");
    for (body, field) in [
        (json!({"participantId": c.ann}), "participationStatus"),
        (json!({"participationStatus": "No"}), "participantId"),
        (json!({"participantId": c.patient, "participationStatus": "No"}), "participantId"),
    ] {
        let (status, err) = c.s.call(Method::PUT, &url, Some(&c.token), Some(body.clone())).await;
        assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{body}");
    }
    let other = format!("{}/invitation-response", c.event(&uuid::Uuid::new_v4().to_string()));
    let (status, _) = c
        .s
        .call(Method::PUT, &other, Some(&c.token), Some(json!({"participantId": c.ann, "participationStatus": "Yes"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn work_hours_are_created_listed_read_and_updated() {
    let c = setup().await;
    let url = c.s.sandbox("/calendar/work-hours");
    let (status, created) =
        c.s.post(
            &url,
            &c.token,
            json!({"psmId": c.sam, "createdBy": c.sam, "startDateTime": "2030-01-01T00:00:00.000Z",
                   "endDateTime": "2030-01-31T23:59:59.000Z",
                   "daysInfo": [{"day": 1, "startTime": "09:00:00", "endTime": "18:00:00"},
                                {"day": 2, "startTime": "09:00", "endTime": "18:00:00"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(keys(&created), set(&["psmId", "details"]));
    assert_eq!(created["psmId"], c.sam.as_str());
    let d = &created["details"][0];
    assert_eq!(keys(d), set(HOURS_KEYS));
    assert_eq!(
        (d["type"].as_str(), d["ruleType"].as_str(), d["name"].clone()),
        (Some("WORKING_HOURS"), Some("DEFAULT"), Value::Null)
    );
    assert_eq!(d["localStartDateTime"], "2029-12-31T16:00:00.000-08:00", "in the user's time zone");
    assert_eq!(d["daysInfo"][1]["startTime"], "09:00:00");
    assert_eq!(keys(&d["daysInfo"][0]), set(&["daysInfoId", "startTime", "endTime", "day"]));
    let wid = d["workHoursId"].as_str().unwrap().to_string();

    let (status, avail) =
        c.s.post(
            &url,
            &c.token,
            json!({"psmId": c.ann, "startDateTime": "2030-01-10T00:00:00Z", "type": "AVAILABILITY",
                   "daysInfo": [{"day": 3, "startTime": "10:00:00", "endTime": "12:00:00"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let ad = &avail["details"][0];
    assert_eq!(
        (ad["endDateTime"].clone(), ad["localEndDateTime"].clone(), ad["encounters"].clone()),
        (Value::Null, Value::Null, json!([]))
    );
    assert_eq!(ad["localStartDateTime"], "2030-01-10T00:00:00.000+00:00");

    let list = |q: String| {
        let s = &c.s;
        let url = url.clone();
        let token = c.token.clone();
        async move {
            let (status, body) = s.get(&format!("{url}?{q}"), &token).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    let all = list("from=2030-01-01T00:00:00.000Z&to=2030-12-31T00:00:00.000Z".into()).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["psmId"], c.sam.as_str());
    assert_eq!(all[0]["details"][0], created["details"][0]);
    let mine =
        list(format!("from=2030-01-01T00:00:00Z&to=2030-12-31T00:00:00Z&psmIds={},{}", c.ann, uuid::Uuid::new_v4()))
            .await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["psmId"], c.ann.as_str());
    let dashed = list(format!("psm-ids={}", c.sam)).await;
    assert_eq!(dashed[0]["details"].as_array().unwrap().len(), 1);
    let viewed = list(format!("psmIds={}&viewerTimezone=UTC", c.sam)).await;
    assert_eq!(viewed[0]["details"][0]["localStartDateTime"], "2030-01-01T00:00:00.000+00:00");
    let far = format!("from=2100-01-01T00:00:00.000Z&to=2100-01-02T00:00:00.000Z&psmIds={}", c.sam);
    assert_eq!(list(far).await, json!([]), "[] when none");
    assert_eq!(list("from=2029-01-01T00:00:00Z&to=2029-02-01T00:00:00Z".into()).await, json!([]));
    assert_eq!(
        list("from=2035-01-01T00:00:00Z&to=2035-02-01T00:00:00Z".into()).await[0]["psmId"],
        c.ann.as_str(),
        "open-ended"
    );

    let one = c.s.sandbox(&format!("/calendar/work-hours/{wid}"));
    let (status, read) = c.s.get(&one, &c.token).await;
    assert_eq!((status, &read), (StatusCode::OK, &created));
    let (status, updated) =
        c.s.call(
            Method::PUT,
            &one,
            Some(&c.token),
            Some(json!({"psmId": c.sam, "updatedBy": c.sam, "startDateTime": "2030-01-01T00:00:00.000Z",
                        "endDateTime": "2030-01-31T23:59:59.000Z",
                        "daysInfo": [{"day": 1, "startTime": "10:00:00", "endTime": "19:00:00"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let ud = &updated["details"][0];
    assert_eq!((ud["workHoursId"].as_str(), ud["createdAt"].clone()), (Some(wid.as_str()), d["createdAt"].clone()));
    assert_eq!(
        ud["daysInfo"],
        json!([{"startTime": "10:00:00", "endTime": "19:00:00", "day": 1, "daysInfoId": ud["daysInfo"][0]["daysInfoId"]}])
    );
    let (_, partial) =
        c.s.call(Method::PUT, &one, Some(&c.token), Some(json!({"name": "PTO", "ruleType": "OVERRIDE"}))).await;
    assert_eq!(
        (partial["details"][0]["name"].as_str(), partial["details"][0]["ruleType"].as_str()),
        (Some("PTO"), Some("OVERRIDE"))
    );
    assert_eq!(partial["details"][0]["daysInfo"], ud["daysInfo"], "fields not given are kept");

    for (body, field) in [
        (
            json!({"startDateTime": "2030-01-01T00:00:00Z", "daysInfo": [{"day": 1, "startTime": "09:00", "endTime": "10:00"}]}),
            "psmId",
        ),
        (
            json!({"psmId": uuid::Uuid::new_v4(), "startDateTime": "2030-01-01T00:00:00Z",
                "daysInfo": [{"day": 1, "startTime": "09:00", "endTime": "10:00"}]}),
            "psmId",
        ),
        (
            json!({"psmId": c.patient, "startDateTime": "2030-01-01T00:00:00Z",
                "daysInfo": [{"day": 1, "startTime": "09:00", "endTime": "10:00"}]}),
            "psmId",
        ),
        (json!({"psmId": c.sam, "daysInfo": [{"day": 1, "startTime": "09:00", "endTime": "10:00"}]}), "startDateTime"),
        (json!({"psmId": c.sam, "startDateTime": "2030-01-01T00:00:00Z"}), "daysInfo"),
        (
            json!({"psmId": c.sam, "startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2029-01-01T00:00:00Z",
                "daysInfo": [{"day": 1, "startTime": "09:00", "endTime": "10:00"}]}),
            "endDateTime",
        ),
        (
            json!({"psmId": c.sam, "startDateTime": "2030-01-01T00:00:00Z",
                "daysInfo": [{"day": 0, "startTime": "09:00", "endTime": "10:00"}]}),
            "daysInfo[0].day",
        ),
        (
            json!({"psmId": c.sam, "startDateTime": "2030-01-01T00:00:00Z",
                "daysInfo": [{"day": 1, "startTime": "11:00", "endTime": "10:00"}]}),
            "daysInfo[0].endTime",
        ),
        (
            json!({"psmId": c.sam, "startDateTime": "2030-01-01T00:00:00Z", "type": "HOLIDAY",
                "daysInfo": [{"day": 1, "startTime": "09:00", "endTime": "10:00"}]}),
            "type",
        ),
        (
            json!({"psmId": c.sam, "workHoursId": "x", "startDateTime": "2030-01-01T00:00:00Z",
                "daysInfo": [{"day": 1, "startTime": "09:00", "endTime": "10:00"}]}),
            "workHoursId",
        ),
    ] {
        let (status, err) = c.s.post(&url, &c.token, body.clone()).await;
        assert_eq!(
            (status, err[0]["details"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{body}: {err}"
        );
    }
    let (status, _) = c.s.call(Method::PUT, &one, Some(&c.token), Some(json!({"daysInfo": []}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(list(String::new()).await.as_array().unwrap().len(), 2, "nothing else was written");
    assert_eq!(c.s.get(&one, &c.token).await.1["details"][0]["name"], "PTO", "a refused update changes nothing");
    let missing = c.s.sandbox(&format!("/calendar/work-hours/{}", uuid::Uuid::new_v4()));
    let (status, err) = c.s.get(&missing, &c.token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "WORK_HOURS_NOT_FOUND"));
    let (status, _) = c.s.call(Method::PUT, &missing, Some(&c.token), Some(json!({"name": "x"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn schedules_show_work_hours_beside_events() {
    let c = setup().await;
    c.s.post(
        &c.s.sandbox("/calendar/work-hours"),
        &c.token,
        json!({"psmId": c.sam, "startDateTime": "2030-01-01T00:00:00Z",
               "daysInfo": [{"day": 1, "startTime": "09:00:00", "endTime": "17:00:00"}]}),
    )
    .await;
    let e = c
        .create(json!({"startDateTime": "2030-03-04T20:00:00Z", "endDateTime": "2030-03-04T21:00:00Z", "hostId": c.sam,
                       "eventTitle": "Late call", "eventColor": "green", "eventType": "APPOINTMENT",
                       "participants": [{"participantId": c.sam, "participantRole": "psm"},
                                        {"participantId": c.patient, "participantRole": "patient"}]}))
        .await;
    let cancelled = c.create(c.minimal("2030-03-05T10:00:00Z", "2030-03-05T11:00:00Z")).await;
    c.s.patch(&c.event(&id(&cancelled)), &c.token, json!({"eventStatus": "CANCELLED"})).await;
    let nobody = uuid::Uuid::new_v4().to_string();
    let q = format!("psmIds={},{nobody}&from=2030-03-01T00:00:00.000Z&to=2030-03-31T00:00:00.000Z&page=0", c.sam);

    let (status, sched) = c.s.get(&c.s.sandbox(&format!("/calendar/psm-schedules?{q}")), &c.token).await;
    assert_eq!(status, StatusCode::OK, "{sched}");
    assert_eq!(sched.as_array().unwrap().len(), 2);
    assert_eq!(keys(&sched[0]), set(&["psmId", "workHours", "events"]));
    assert_eq!(
        sched[1],
        json!({"psmId": nobody, "workHours": [], "events": []}),
        "as recorded for a user with nothing"
    );
    let mine = &sched[0];
    assert_eq!(mine["workHours"].as_array().unwrap().len(), 1);
    assert_eq!(keys(&mine["workHours"][0]), set(HOURS_KEYS));
    assert_eq!(mine["events"].as_array().unwrap().len(), 1, "cancelled events only on request");
    let entry = &mine["events"][0];
    assert_eq!(keys(entry), set(SCHEDULE_EVENT_KEYS));
    assert_eq!((entry["id"].clone(), entry["eventId"].clone()), (json!(id(&e)), json!(id(&e))));
    assert_eq!(entry["localStartDateTime"], "2030-03-04T12:00:00.000-08:00", "in the user's time zone");
    let (_, with_cancelled) =
        c.s.get(&c.s.sandbox(&format!("/calendar/psm-schedules?{q}&includeCancelled=True")), &c.token).await;
    assert_eq!(with_cancelled[0]["events"].as_array().unwrap().len(), 2);

    let (status, available) = c.s.get(&c.s.sandbox(&format!("/calendar/available-psm-schedules?{q}")), &c.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(available[0]["events"][0]["participants"][1]["firstName"], "Pat");
    let (status, full) = c.s.get(&c.s.sandbox(&format!("/calendar/full-psm-schedules?{q}")), &c.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(full[0]["events"][0]["duration"], 3600);
    let (status, everyone) =
        c.s.get(&c.s.sandbox("/calendar/psm-schedules?from=2030-03-01T00:00:00Z&to=2030-03-31T00:00:00Z"), &c.token)
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(everyone.as_array().unwrap().len(), 2, "every user of the tenant");
    let (status, err) = c.s.get(&c.s.sandbox("/calendar/psm-schedules?psmIds=me"), &c.token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"));
}

#[tokio::test]
async fn the_event_summary_reports_event_hours_against_working_hours() {
    let c = setup().await;
    // Ann (UTC) works Monday to Friday, 09:00-17:00, from March 2030.
    let days: Vec<Value> = (1..=5).map(|d| json!({"day": d, "startTime": "09:00:00", "endTime": "17:00:00"})).collect();
    c.s.post(
        &c.s.sandbox("/calendar/work-hours"),
        &c.token,
        json!({"psmId": c.ann, "startDateTime": "2030-03-01T00:00:00Z", "daysInfo": days}),
    )
    .await;
    let host_ann = |start: &str, end: &str| {
        json!({"startDateTime": start, "endDateTime": end, "hostId": c.ann, "eventStatus": "SCHEDULED",
               "participants": [{"participantId": c.ann, "participantRole": "psm"}]})
    };
    // Week of Monday 2030-03-04: 40 working hours. Two overlapping events (booked anyway)
    // and one on Saturday, outside working hours.
    c.create(host_ann("2030-03-04T09:00:00Z", "2030-03-04T19:00:00Z")).await;
    c.create(host_ann("2030-03-04T10:00:00Z", "2030-03-04T12:00:00Z")).await;
    let sat = c.create(host_ann("2030-03-09T10:00:00Z", "2030-03-09T18:00:00Z")).await;
    let cancelled = c.create(host_ann("2030-03-05T10:00:00Z", "2030-03-05T11:00:00Z")).await;
    c.s.patch(&c.event(&id(&cancelled)), &c.token, json!({"eventStatus": "CANCELLED"})).await;
    c.create(host_ann("2020-03-05T10:00:00Z", "2020-03-05T11:00:00Z")).await;

    let q = format!("from=2030-03-04T00:00:00.000Z&to=2030-03-11T00:00:00.000Z&psmIds={}", c.ann);
    let (status, s) = c.s.get(&c.s.sandbox(&format!("/calendar/psm-event-summary?{q}")), &c.token).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(
        (s["startDateTime"].as_str(), s["endDateTime"].as_str()),
        (Some("2030-03-04T00:00:00.000Z"), Some("2030-03-11T00:00:00.000Z"))
    );
    let row = &s["summary"][0];
    assert_eq!(
        keys(row),
        set(&[
            "psmId",
            "totalCreatedEvents",
            "totalOccurredEvents",
            "totalFutureEvents",
            "eventStatusCount",
            "totalWorkingHours",
            "totalEventHours",
            "occupancy"
        ])
    );
    assert_eq!(
        (row["totalCreatedEvents"].clone(), row["totalFutureEvents"].clone(), row["totalOccurredEvents"].clone()),
        (json!(4), json!(3), json!(0))
    );
    assert_eq!(row["eventStatusCount"], json!({"SCHEDULED": 3, "CANCELLED": 1}));
    assert_eq!(row["totalWorkingHours"], "40.0 hours");
    assert_eq!(row["totalEventHours"], "20.0 hours");
    assert_eq!(row["occupancy"], "50.0%");

    // A range cut through the Saturday event counts only its part in range.
    let (_, cut) =
        c.s.get(
            &c.s.sandbox(&format!(
                "/calendar/psm-event-summary?from=2030-03-09T14:00:00Z&to=2030-03-10T00:00:00Z&psmIds={}",
                c.ann
            )),
            &c.token,
        )
        .await;
    assert_eq!(
        (
            cut["summary"][0]["totalEventHours"].as_str(),
            cut["summary"][0]["totalWorkingHours"].as_str(),
            cut["summary"][0]["occupancy"].as_str()
        ),
        (Some("4.0 hours"), Some("0.0 hours"), Some("0.0%"))
    );
    assert_eq!(c.s.delete(&c.event(&id(&sat)), &c.token).await.0, StatusCode::NO_CONTENT);
    let (_, past) =
        c.s.get(
            &c.s.sandbox(&format!(
                "/calendar/psm-event-summary?from=2020-03-01T00:00:00Z&to=2020-04-01T00:00:00Z&psmIds={}",
                c.ann
            )),
            &c.token,
        )
        .await;
    assert_eq!(
        (past["summary"][0]["totalOccurredEvents"].clone(), past["summary"][0]["occupancy"].clone()),
        (json!(1), json!("0.0%"))
    );
    for q in [
        "to=2030-03-11T00:00:00Z",
        "from=2030-03-11T00:00:00Z",
        "from=2030-03-11T00:00:00Z&to=2030-03-01T00:00:00Z",
        "from=2000-01-01T00:00:00Z&to=2030-01-01T00:00:00Z",
    ] {
        let (status, err) = c.s.get(&c.s.sandbox(&format!("/calendar/psm-event-summary?{q}")), &c.token).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"), "{q}");
    }
}

#[tokio::test]
async fn instances_are_isolated_and_the_policy_is_enforced() {
    let c = setup().await;
    let e = c.create(c.minimal("2030-08-01T10:00:00Z", "2030-08-01T11:00:00Z")).await;
    let (_, hours) =
        c.s.post(
            &c.s.sandbox("/calendar/work-hours"),
            &c.token,
            json!({"psmId": c.sam, "startDateTime": "2030-01-01T00:00:00Z",
                     "daysInfo": [{"day": 1, "startTime": "09:00", "endTime": "10:00"}]}),
        )
        .await;
    let wid = hours["details"][0]["workHoursId"].as_str().unwrap();
    let live = |p: &str| format!("/{}/live{p}", c.s.tenant);
    assert_eq!(c.s.get(&live(&format!("/calendar/events/{}", id(&e))), &c.token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.s.delete(&live(&format!("/calendar/events/{}", id(&e))), &c.token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.s.get(&live(&format!("/calendar/events?{WIDE}")), &c.token).await.1["totalElements"], 0);
    assert_eq!(c.s.get(&live("/calendar/work-hours"), &c.token).await.1, json!([]));
    assert_eq!(c.s.get(&live(&format!("/calendar/work-hours/{wid}")), &c.token).await.0, StatusCode::NOT_FOUND);
    let (_, sched) = c.s.get(&live(&format!("/calendar/psm-schedules?psmIds={}", c.sam)), &c.token).await;
    assert_eq!(sched, json!([{"psmId": c.sam, "workHours": [], "events": []}]));
    let (status, _) =
        c.s.post(&live("/calendar/events"), &c.token, c.minimal("2030-08-01T10:00:00Z", "2030-08-01T11:00:00Z")).await;
    assert_eq!(status, StatusCode::CREATED, "users belong to the tenant, so they can be booked in any instance");

    let (name, secret) =
        c.s.client_with_policy(&json!({"permissions": {"patients": ["read"], "calendar": ["read"]}}), None);
    let reader = c.s.token_for(&name, &secret).await;
    assert_eq!(c.s.get(&c.event(&id(&e)), &reader).await.0, StatusCode::OK);
    assert_eq!(c.s.get(&c.s.sandbox("/calendar/work-hours"), &reader).await.0, StatusCode::OK);
    let (status, err) = c.s.post(&c.events(), &reader, c.minimal("2030-08-02T10:00:00Z", "2030-08-02T11:00:00Z")).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"));
    assert_eq!(err[0]["details"]["requestURI"], c.events());
    assert!(err[0].get("date").is_none());
    assert_eq!(c.s.patch(&c.event(&id(&e)), &reader, json!({"eventTitle": "x"})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(c.s.delete(&c.event(&id(&e)), &reader).await.0, StatusCode::FORBIDDEN);
    let (status, _) = c
        .s
        .post(&c.s.sandbox("/calendar/work-hours"), &reader,
              json!({"psmId": c.sam, "startDateTime": "2030-01-01T00:00:00Z", "daysInfo": [{"day": 1, "startTime": "09:00", "endTime": "10:00"}]}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (name, secret) = c.s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let none = c.s.token_for(&name, &secret).await;
    for path in [
        c.event(&id(&e)),
        c.s.sandbox("/calendar/psm-schedules"),
        c.s.sandbox("/calendar/work-hours"),
        format!("{}?{WIDE}", c.events()),
    ] {
        assert_eq!(c.s.get(&path, &none).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(c.s.get(&c.event(&id(&e)), &reader).await.1["eventTitle"], Value::Null, "nothing changed");
}

#[tokio::test]
async fn every_calendar_write_is_audited_and_queued_with_its_event_name() {
    let c = setup().await;
    c.s.switch_on_a_webhook(); // events are queued only where a webhook is on
    let mut body = c.minimal("2030-09-01T10:00:00Z", "2030-09-01T11:00:00Z");
    body["participants"]
        .as_array_mut()
        .unwrap()
        .push(json!({"participantId": c.patient, "participantRole": "patient"}));
    let e = c.create(body).await;
    let eid = id(&e);
    c.s.patch(&c.event(&eid), &c.token, json!({"eventTitle": "Checkup"})).await;
    c.s.call(
        Method::PUT,
        &format!("{}/invitation-response", c.event(&eid)),
        Some(&c.token),
        Some(json!({"participantId": c.patient, "participationStatus": "Yes"})),
    )
    .await;
    c.s.patch(&c.event(&eid), &c.token, json!({"endDateTime": "bad"})).await;
    c.s.delete(&c.event(&eid), &c.token).await;
    c.s.post(&c.s.sandbox("/calendar/work-hours"), &c.token,
             json!({"psmId": c.sam, "startDateTime": "2030-01-01T00:00:00Z", "daysInfo": [{"day": 1, "startTime": "09:00", "endTime": "10:00"}]}))
        .await;

    let (status, audit) =
        c.s.get(&format!("/{}/admin/audit-data?entity=CALENDAR&sort=sentAt,asc&size=50", c.s.tenant), &c.token).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let rows = audit["data"].as_array().unwrap();
    let seen: Vec<(&str, &str)> =
        rows.iter().map(|r| (r["eventSubtype"].as_str().unwrap(), r["operation"].as_str().unwrap())).collect();
    assert_eq!(
        seen,
        [
            ("CALENDAR_EVENT_CREATED", "CREATE"),
            ("CALENDAR_EVENT_UPDATED", "UPDATE"),
            ("CALENDAR_EVENT_UPDATED", "UPDATE"),
            ("CALENDAR_EVENT_DELETED", "DELETE"),
            ("WORK_HOURS_CREATED", "CREATE"),
        ],
        "one row per acknowledged write, none for the refused one"
    );
    assert_eq!(rows[0]["patientId"], c.patient.as_str());
    assert_eq!(rows[0]["record"]["id"], eid.as_str());
    assert_eq!(rows[0]["instance"], "sandbox");
    assert_eq!(rows[0]["subjectFullName"], format!("API_CLIENT:{}", c.s.client));

    let db = openwelkin::store::Db::connect(&c.s.db_url).await.unwrap();
    let tenant = db.tenant_by_name(&c.s.tenant).await.unwrap().unwrap();
    let queued: Vec<(String, String)> = db
        .outbox_events(&tenant.id, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.event_entity == "CALENDAR" && o.source_id == eid)
        .map(|o| (o.event_subtype, o.patient_id.unwrap_or_default()))
        .collect();
    let p = c.patient.clone();
    assert_eq!(
        queued,
        [
            ("CALENDAR_EVENT_CREATED".to_string(), p.clone()),
            ("CALENDAR_EVENT_UPDATED".to_string(), p.clone()),
            ("CALENDAR_EVENT_UPDATED".to_string(), p.clone()),
            ("CALENDAR_EVENT_DELETED".to_string(), p)
        ]
    );
}

#[tokio::test]
async fn the_search_can_leave_out_or_describe_events_an_encounter_is_scheduled_on() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let sam = user(&s, &token, "Sam", None).await;
    let p = s.create_patient(&token, json!({"firstName": "Enc", "lastName": "Ounter"})).await;
    let pid = p["id"].as_str().unwrap();
    let events = s.sandbox("/calendar/events");
    let body = |start: &str, end: &str| {
        json!({"startDateTime": start, "endDateTime": end, "hostId": sam, "eventType": "ENCOUNTER",
               "participants": [{"participantId": sam, "participantRole": "psm"},
                                {"participantId": pid, "participantRole": "patient"}]})
    };
    let booked = s.post(&events, &token, body("2030-10-01T10:00:00Z", "2030-10-01T11:00:00Z")).await.1;
    let free = s.post(&events, &token, body("2030-10-02T10:00:00Z", "2030-10-02T11:00:00Z")).await.1;
    let (status, enc) = s
        .post(&s.sandbox(&format!("/patients/{pid}/encounters")), &token, json!({"templateName": "etmp-intake"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{enc}");
    let eid = enc["id"].as_str().unwrap();
    let (status, linked) = s
        .patch(
            &s.sandbox(&format!("/patients/{pid}/encounters/{eid}")),
            &token,
            json!({"calendarEventId": booked["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{linked}");

    let (_, page) = s.get(&format!("{events}?{WIDE}&excludeAssignedToEncounterEvents=True"), &token).await;
    assert_eq!(page["content"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), [id(&free)]);
    let (_, page) = s.get(&format!("{events}?{WIDE}&includeEncounterInfo=true"), &token).await;
    let info = &page["content"][0]["encounterInfo"];
    assert_eq!((info["id"].as_str(), info["patientId"].as_str()), (Some(eid), Some(pid)));
    assert_eq!((info["templateName"].as_str(), info["status"].as_str()), (Some("etmp-intake"), Some("DRAFT")));
    assert_eq!(page["content"][1]["encounterInfo"], Value::Null);
    let (_, plain) = s.get(&format!("{events}?{WIDE}"), &token).await;
    assert!(plain["content"][0].get("encounterInfo").is_none(), "only on request");
}

#[tokio::test]
async fn participants_that_no_longer_exist_show_as_deleted() {
    let c = setup().await;
    let mut body = c.minimal("2030-11-01T10:00:00Z", "2030-11-01T11:00:00Z");
    body["participants"]
        .as_array_mut()
        .unwrap()
        .push(json!({"participantId": c.patient, "participantRole": "patient"}));
    let e = c.create(body).await;
    assert_eq!(e["participants"][1]["deleted"], false);
    let (status, _) = c.s.delete(&c.s.sandbox(&format!("/patients/{}", c.patient)), &c.token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, read) = c.s.get(&c.event(&id(&e)), &c.token).await;
    assert_eq!(status, StatusCode::OK);
    let gone = &read["participants"][1];
    assert_eq!(keys(gone), set(PARTICIPANT_KEYS));
    assert_eq!((gone["deleted"].clone(), gone["participantId"].as_str()), (json!(true), Some(c.patient.as_str())));
    assert_eq!(read["participants"][0]["deleted"], false);
    let (status, kept) = c.s.patch(&c.event(&id(&e)), &c.token, json!({"eventTitle": "still here"})).await;
    assert_eq!(status, StatusCode::OK, "a participant deleted since does not block other changes: {kept}");
    assert_eq!(kept["participants"][1]["deleted"], true);
    let stranger = uuid::Uuid::new_v4().to_string();
    let mut more = kept["participants"].clone();
    more.as_array_mut().unwrap().push(json!({"participantId": stranger, "participantRole": "patient"}));
    let (status, err) = c.s.patch(&c.event(&id(&e)), &c.token, json!({"participants": more})).await;
    assert_eq!(
        (status, err[0]["details"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("participants[2].participantId")),
        "new participants must exist"
    );
    assert_eq!(c.s.delete(&c.event(&id(&e)), &c.token).await.0, StatusCode::NO_CONTENT, "it can still be deleted");
}
