//! Patients over HTTP: shapes, defaults, lookups, validation, paging, isolation, audit.

mod common;

use common::{error_code, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

const RECORDED_KEYS: &[&str] = &[
    "id",
    "externalGuid",
    "externalId",
    "mrn",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "createdByName",
    "updatedByName",
    "firstName",
    "lastName",
    "middleName",
    "birthDate",
    "gender",
    "maritalStatus",
    "primaryLanguage",
    "secondaryLanguage",
    "email",
    "secondaryEmail",
    "phone",
    "secondaryPhone",
    "primaryPhoneCapabilities",
    "secondaryPhoneCapabilities",
    "country",
    "state",
    "city",
    "zip",
    "addressLine1",
    "addressLine2",
    "timezone",
    "patientTerritories",
    "careTeamMembers",
    "patientPrograms",
    "careTeam",
    "cadence",
    "patientRegion",
    "patientRegionTitle",
    "patientTerritory",
    "pointOfContact",
];

fn is_wire_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.' && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[tokio::test]
async fn create_returns_201_with_every_recorded_field_and_default() {
    let s = Server::start().await;
    let token = s.token().await;
    let p = s
        .create_patient(
            &token,
            json!({"firstName": "happy", "lastName": "borf", "birthDate": "2022-08-09T00:00:00.000Z"}),
        )
        .await;
    for key in RECORDED_KEYS {
        assert!(p.get(*key).is_some(), "missing {key}: {p}");
    }
    assert_eq!(p["gender"], "UNKNOWN");
    assert_eq!(p["maritalStatus"], "UKN");
    assert_eq!(p["primaryLanguage"], "ENGLISH");
    assert_eq!(p["birthDate"], "2022-08-09T00:00:00.000Z");
    assert_eq!(p["createdByName"], json!(format!("API_CLIENT:{}", s.client)));
    assert_eq!(p["createdAt"], p["updatedAt"]);
    assert!(is_wire_time(&p["createdAt"]), "{}", p["createdAt"]);
    assert!(uuid::Uuid::parse_str(p["id"].as_str().unwrap()).is_ok());
    for empty in
        ["patientTerritories", "careTeamMembers", "patientPrograms", "careTeam", "cadence", "primaryPhoneCapabilities"]
    {
        assert_eq!(p[empty], json!([]), "{empty}");
    }
    let (status, read) = s.get(&s.sandbox(&format!("/patients/{}", p["id"].as_str().unwrap())), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, p, "a read gives back exactly what the create answered");
}

#[tokio::test]
async fn patients_are_found_by_id_external_id_external_guid_and_mrn() {
    let s = Server::start().await;
    let token = s.token().await;
    let guid = uuid::Uuid::new_v4().to_string();
    let p = s
        .create_patient(
            &token,
            json!({"firstName": "K", "lastName": "Eys", "externalId": "ext-1", "externalGuid": guid, "mrn": "MRN-1"}),
        )
        .await;
    for (key, kind) in [
        (p["id"].as_str().unwrap(), ""),
        ("ext-1", "?type=EID"),
        (guid.as_str(), "?type=EGUID"),
        ("MRN-1", "?type=MRN"),
    ] {
        let (status, found) = s.get(&s.sandbox(&format!("/patients/{key}{kind}")), &token).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        assert_eq!(found["id"], p["id"]);
    }
    let (status, body) = s.get(&s.sandbox("/patients/ext-2?type=EID"), &token).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND"));
    let (status, body) = s.get(&s.sandbox("/patients/ext-1?type=SSN"), &token).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"));
}

#[tokio::test]
async fn unique_keys_are_unique_within_an_instance_only() {
    let s = Server::start().await;
    let token = s.token().await;
    let first =
        s.create_patient(&token, json!({"firstName": "A", "lastName": "One", "externalId": "dup", "mrn": "M1"})).await;
    for body in [
        json!({"firstName": "B", "lastName": "Two", "externalId": "dup"}),
        json!({"firstName": "B", "lastName": "Two", "mrn": "M1"}),
    ] {
        let (status, err) = s.post(&s.sandbox("/patients"), &token, body).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::CONFLICT, "PATIENT_ALREADY_EXISTS"));
        assert_eq!(err[0]["details"]["patientId"], first["id"]);
    }
    let second = s.create_patient(&token, json!({"firstName": "B", "lastName": "Two"})).await;
    let path = s.sandbox(&format!("/patients/{}", second["id"].as_str().unwrap()));
    assert_eq!(s.patch(&path, &token, json!({"externalId": "dup"})).await.0, StatusCode::CONFLICT);
    assert_eq!(s.patch(&path, &token, json!({"externalId": "other"})).await.0, StatusCode::OK);
    // The same external id in another instance is another patient.
    let (status, _) = s
        .post(
            &format!("/{}/live/patients", s.tenant),
            &token,
            json!({"firstName": "A", "lastName": "One", "externalId": "dup"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Updating a patient with its own key is no conflict.
    let first_path = s.sandbox(&format!("/patients/{}", first["id"].as_str().unwrap()));
    assert_eq!(s.patch(&first_path, &token, json!({"externalId": "dup", "mrn": "M1"})).await.0, StatusCode::OK);
}

/// Creates racing for the same externalId, externalGuid or mrn: the check before the
/// insert passes for all of them, so the unique indexes (only over patients that have the
/// key, migration 0024) decide: exactly one is created, every other one is answered 409,
/// and patients without the key never conflict with each other.
#[tokio::test]
async fn racing_creates_with_one_key_make_one_patient() {
    let s = Server::start().await;
    let token = s.token().await;
    let guid = "8a1f6a52-0c57-4c4e-9d55-4f3c1f0e5b21";
    for (field, value) in [("externalId", "race-1"), ("externalGuid", guid), ("mrn", "RACE-MRN")] {
        let creates = (0..8).map(|i| {
            let (s, token) = (&s, token.clone());
            async move {
                let body = json!({"firstName": "Race", "lastName": format!("R{i}"), field: value});
                s.post(&s.sandbox("/patients"), &token, body).await
            }
        });
        let answers = futures::future::join_all(creates).await;
        let created = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
        assert_eq!(created, 1, "{field}: {answers:?}");
        for (status, body) in answers.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
            assert_eq!((*status, error_code(body).as_str()), (StatusCode::CONFLICT, "PATIENT_ALREADY_EXISTS"));
        }
        let (_, page) = s.post(&s.sandbox("/by-filter/patients"), &token, json!({"firstName": "Race"})).await;
        let holders = page["content"].as_array().unwrap().iter().filter(|p| p[field] == json!(value)).count();
        assert_eq!(holders, 1, "{field}: {page}");
    }
    // Patients without any of the keys: none conflicts with another.
    let creates = (0..8).map(|i| {
        let (s, token) = (&s, token.clone());
        async move {
            s.post(&s.sandbox("/patients"), &token, json!({"firstName": "Keyless", "lastName": format!("K{i}")})).await
        }
    });
    for (status, body) in futures::future::join_all(creates).await {
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

/// A burst of creates, committed in groups (PostgreSQL sends a group's patient rows as one
/// multi-row insert, counted once per statement): every 201 is a patient in the list and
/// in `totalElements`, and a create among them whose externalId is taken is answered 409
/// alone, leaving the others created.
#[tokio::test]
async fn a_burst_of_creates_is_all_listed_and_counted_and_a_taken_key_fails_alone() {
    let s = Server::start().await;
    let token = s.token().await;
    let (status, _) = s
        .post(
            &s.sandbox("/patients"),
            &token,
            json!({"firstName": "Burst", "lastName": "First", "externalId": "burst-taken"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let creates = (0..40).map(|i| {
        let (s, token) = (&s, token.clone());
        async move {
            let body = match i {
                17 => json!({"firstName": "Burst", "lastName": "Again", "externalId": "burst-taken"}),
                _ => json!({"firstName": "Burst", "lastName": format!("B{i:02}")}),
            };
            (i, s.post(&s.sandbox("/patients"), &token, body).await)
        }
    });
    for (i, (status, body)) in futures::future::join_all(creates).await {
        let want = if i == 17 { StatusCode::CONFLICT } else { StatusCode::CREATED };
        assert_eq!(status, want, "create {i}: {body}");
    }
    let (status, page) = s.get(&s.sandbox("/patients?page=0&size=100"), &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["totalElements"], json!(40), "{page}");
    let mut names: Vec<&str> =
        page["content"].as_array().unwrap().iter().map(|p| p["lastName"].as_str().unwrap()).collect();
    names.sort();
    let mut want: Vec<String> = (0..40).filter(|i| *i != 17).map(|i| format!("B{i:02}")).collect();
    want.push("First".into());
    want.sort();
    assert_eq!(names, want);
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named_and_nothing_written() {
    let s = Server::start().await;
    let token = s.token().await;
    let cases = [
        (json!({"firstName": "Bad", "lastName": "Phone", "phone": "+610403211111"}), "phone"),
        (json!({"firstName": "Bad", "lastName": "Shoe", "shoeSize": 3}), "shoeSize"),
        (json!({"firstName": "Bad", "lastName": "Date", "birthDate": "2022-02-30"}), "birthDate"),
        (json!({"firstName": "Bad", "lastName": "Zone", "timezone": "Mars/Olympus"}), "timezone"),
        (json!({"firstName": "Bad", "lastName": "Mail", "email": "not-an-email"}), "email"),
        (json!({"firstName": "Bad", "lastName": "Gender", "gender": "ROBOT"}), "gender"),
        (json!({"firstName": "Bad", "lastName": "Guid", "externalGuid": "123"}), "externalGuid"),
        (json!({"firstName": "Bad", "lastName": "Id", "id": "5f0c7e0e-0000-4000-8000-000000000000"}), "id"),
        (json!({"firstName": "Bad"}), "lastName"),
        (
            json!({"firstName": "Bad", "lastName": "Team", "careTeam": [{"id": uuid::Uuid::new_v4().to_string()}]}),
            "careTeam[0].id",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = s.post(&s.sandbox("/patients"), &token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(&err), "VALIDATION_ERROR");
        assert_eq!(err[0]["details"]["field"], json!(field), "{err}");
        assert!(err[0]["message"].as_str().unwrap().contains(field));
    }
    assert_eq!(s.count_patients(&token, "bad").await, 0, "no refused patient was stored");

    let raw =
        s.http.post(s.url(&s.sandbox("/patients"))).bearer_auth(&token).header("content-type", "application/json");
    let resp = raw.try_clone().unwrap().body("{\"firstName\": ").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&resp.json().await.unwrap()), "MALFORMED_JSON");
    let resp = raw.body("[1, 2]").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // A refused PATCH changes nothing either.
    let p = s.create_patient(&token, json!({"firstName": "Good", "lastName": "One", "phone": "+15556491369"})).await;
    let path = s.sandbox(&format!("/patients/{}", p["id"].as_str().unwrap()));
    let (status, _) = s.patch(&path, &token, json!({"firstName": "Changed", "phone": "12"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(s.get(&path, &token).await.1, p);
}

#[tokio::test]
async fn patch_changes_only_the_given_fields() {
    let s = Server::start().await;
    let token = s.token().await;
    let p = s
        .create_patient(
            &token,
            json!({"firstName": "Bar", "lastName": "Bar", "email": "bar@example.org", "city": "Oslo"}),
        )
        .await;
    let path = s.sandbox(&format!("/patients/{}", p["id"].as_str().unwrap()));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, updated) = s
        .patch(
            &path,
            &token,
            json!({"id": p["id"], "firstName": "Baz", "city": null, "birthDate": "2012-3-12T00:00:00.000Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["firstName"], "Baz");
    assert_eq!(updated["lastName"], "Bar");
    assert_eq!(updated["email"], "bar@example.org");
    assert_eq!(updated["city"], Value::Null);
    assert_eq!(updated["birthDate"], "2012-03-12T00:00:00.000Z");
    assert_eq!(updated["createdAt"], p["createdAt"]);
    assert!(updated["updatedAt"].as_str() > p["updatedAt"].as_str());
    assert_eq!(s.get(&path, &token).await.1, updated);
    let missing = s.sandbox(&format!("/patients/{}", uuid::Uuid::new_v4()));
    assert_eq!(s.patch(&missing, &token, json!({"firstName": "X"})).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn care_teams_are_expanded_with_user_details() {
    // Patient territories must exist in the designer's regions.
    let s = Server::with_designer().await;
    let token = s.token().await;
    let (_, user) = s
        .post(
            &format!("/{}/admin/users", s.tenant),
            &token,
            json!({"username": "jane", "email": "jane@x.org", "firstName": "Jane", "lastName": "Dou"}),
        )
        .await;
    let (_, other) =
        s.post(&format!("/{}/admin/users", s.tenant), &token, json!({"username": "john", "email": "john@x.org"})).await;
    let p = s
        .create_patient(&token, json!({"firstName": "C", "lastName": "T", "careTeam": [{"id": user["id"]}, {"id": other["id"], "pointOfContact": false}],
                                       "patientTerritories": [{"name": "california", "territories": ["los-angeles"]}]}))
        .await;
    assert_eq!(
        p["careTeamMembers"],
        json!([{"id": user["id"], "pointOfContact": true}, {"id": other["id"], "pointOfContact": false}])
    );
    assert_eq!(p["pointOfContact"], json!({"id": user["id"], "pointOfContact": true}));
    assert_eq!(p["careTeam"][0]["username"], "jane");
    assert_eq!(p["careTeam"][0]["firstName"], "Jane");
    assert_eq!(p["careTeam"][1]["pointOfContact"], false);
    assert_eq!(p["patientRegion"], "california");
    assert_eq!(p["patientTerritory"], "los-angeles");
    let (_, expanded) =
        s.get(&s.sandbox(&format!("/patients/{}?expand=true", p["id"].as_str().unwrap())), &token).await;
    assert_eq!(expanded["territorialTeam"], json!([]));
    let (_, plain) = s.get(&s.sandbox(&format!("/patients/{}", p["id"].as_str().unwrap())), &token).await;
    assert!(plain.get("territorialTeam").is_none());
}

#[tokio::test]
async fn lists_page_filter_and_sort() {
    // Patient territories must exist in the designer's regions.
    let s = Server::with_designer().await;
    let token = s.token().await;
    for (first, last, tz, territory) in [
        ("Ann", "Zed", Some("UTC"), Some("boston")),
        ("Bob", "Young", None, None),
        ("Cid", "Xu", Some("America/Chicago"), Some("austin")),
        ("Dee", "Wolf", None, Some("boston")),
        ("Eve", "Vance", Some("UTC"), None),
    ] {
        let mut body =
            json!({"firstName": first, "lastName": last, "email": format!("{}@list.test", first.to_lowercase())});
        if let Some(tz) = tz {
            body["timezone"] = json!(tz);
        }
        if let Some(t) = territory {
            body["patientTerritories"] = json!([{"name": "east", "territories": [t]}]);
        }
        s.create_patient(&token, body).await;
    }
    let names = |page: &Value| -> Vec<String> {
        page["content"].as_array().unwrap().iter().map(|p| p["firstName"].as_str().unwrap().to_string()).collect()
    };
    let list = |q: &'static str| {
        let s = &s;
        let token = token.clone();
        async move {
            let (status, page) = s.get(&s.sandbox(&format!("/patients?{q}")), &token).await;
            assert_eq!(status, StatusCode::OK, "{q}: {page}");
            page
        }
    };
    let page = list("size=2&page=1").await;
    assert_eq!(names(&page), ["Cid", "Dee"], "default order is creation order");
    assert_eq!(
        (page["number"].clone(), page["totalPages"].clone(), page["last"].clone(), page["first"].clone()),
        (json!(1), json!(3), json!(false), json!(false))
    );
    assert_eq!(
        page["pageable"],
        json!({"sort": {"sorted": false, "unsorted": true, "empty": true}, "pageNumber": 1, "pageSize": 2, "offset": 2, "paged": true, "unpaged": false})
    );
    assert_eq!(list("size=2&page=2").await["last"], true);
    let past = list("size=2&page=9").await;
    assert_eq!(
        (past["empty"].clone(), past["last"].clone(), past["totalElements"].clone()),
        (json!(true), json!(true), json!(5))
    );
    let sorted = list("sort=lastName,asc").await;
    assert_eq!(names(&sorted), ["Eve", "Dee", "Cid", "Bob", "Ann"]);
    assert_eq!(sorted["sort"]["sorted"], true);
    assert_eq!(names(&list("sort=firstName,desc&size=2").await), ["Eve", "Dee"]);
    assert_eq!(names(&list("query=BOB").await), ["Bob"]);
    assert_eq!(names(&list("query=list.test&size=1").await).len(), 1);
    assert_eq!(names(&list("email=CID@list.test").await), ["Cid"]);
    assert_eq!(names(&list("timezone=").await), ["Bob", "Dee"]);
    assert_eq!(names(&list("timezone=UTC").await), ["Ann", "Eve"]);
    assert_eq!(names(&list("territories=").await), ["Bob", "Eve"]);
    assert_eq!(names(&list("territories=boston,austin").await), ["Ann", "Cid", "Dee"]);
    assert_eq!(names(&list("cadence=").await).len(), 5);

    let (status, page) = s.post(&s.sandbox("/by-filter/patients?page=0&size=3"), &token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((page["numberOfElements"].clone(), page["totalElements"].clone()), (json!(3), json!(5)));
    let (_, page) =
        s.post(&s.sandbox("/by-filter/patients"), &token, json!({"territories": ["austin"], "query": "xu"})).await;
    assert_eq!(names(&page), ["Cid"]);
    let (status, err) = s.post(&s.sandbox("/by-filter/patients"), &token, json!({"colour": "red"})).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("colour")));

    for bad in ["size=0", "size=1001", "page=-1", "page=abc", "sort=shoeSize,asc", "sort=firstName,sideways"] {
        let (status, err) = s.get(&s.sandbox(&format!("/patients?{bad}")), &token).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"), "{bad}");
    }
}

#[tokio::test]
async fn delete_answers_200_empty_and_the_patient_is_gone() {
    let s = Server::start().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Gone", "lastName": "Soon", "externalId": "gone-1"})).await;
    let path = s.sandbox(&format!("/patients/{}", p["id"].as_str().unwrap()));
    let (status, body) = s.delete(&path, &token).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    let (status, body) = s.get(&path, &token).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND"));
    assert_eq!(s.delete(&path, &token).await.0, StatusCode::NOT_FOUND);
    // Its external id is free again.
    s.create_patient(&token, json!({"firstName": "New", "lastName": "One", "externalId": "gone-1"})).await;
}

#[tokio::test]
async fn one_instance_never_sees_another_instances_patients() {
    let s = Server::start().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Only", "lastName": "Sandbox", "externalId": "iso"})).await;
    let id = p["id"].as_str().unwrap();
    let live = |path: String| format!("/{}/live{path}", s.tenant);
    assert_eq!(s.get(&live(format!("/patients/{id}")), &token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&live("/patients/iso?type=EID".into()), &token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        s.patch(&live(format!("/patients/{id}")), &token, json!({"firstName": "X"})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.delete(&live(format!("/patients/{id}")), &token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&live("/patients".into()), &token).await.1["totalElements"], 0);
    assert_eq!(s.get(&s.sandbox(&format!("/patients/{id}")), &token).await.1["firstName"], "Only", "untouched");
}

#[tokio::test]
async fn every_write_leaves_a_data_audit_row() {
    let s = Server::start().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Aud", "lastName": "It"})).await;
    let id = p["id"].as_str().unwrap();
    let path = s.sandbox(&format!("/patients/{id}"));
    s.patch(&path, &token, json!({"firstName": "Audi"})).await;
    s.post(&s.sandbox("/patients"), &token, json!({"firstName": "Refused"})).await;
    s.delete(&path, &token).await;
    let (status, audit) = s.get(&format!("/{}/admin/audit-data?patientId={id}", s.tenant), &token).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let items = audit["data"].as_array().unwrap();
    let subtypes: Vec<&str> = items.iter().map(|i| i["eventSubtype"].as_str().unwrap()).collect();
    assert_eq!(subtypes, ["PATIENT_DELETED", "PATIENT_UPDATED", "PATIENT_CREATED"], "newest first");
    let updated = &items[1];
    assert_eq!(updated["eventEntity"], "PATIENT");
    assert_eq!(updated["subjectActor"], "API_CLIENT");
    assert_eq!(updated["subjectFullName"], json!(format!("API_CLIENT:{}", s.client)));
    assert_eq!(updated["instance"], "sandbox");
    assert_eq!(updated["patientFullName"], "Audi It");
    assert_eq!(updated["record"]["firstName"], "Audi", "the record after the change");
    assert_eq!(items[2]["record"], p, "the created record is the patient as the create answered it");
    assert_eq!(items[0]["record"], items[1]["record"], "the deleted record is the patient before the delete");
    assert!(updated["eventId"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(audit["metaInfo"]["lastPage"], true);
    let (_, refused) =
        s.get(&format!("/{}/admin/audit-data?entity=PATIENT&patientFullName=Refused", s.tenant), &token).await;
    assert_eq!(refused["metaInfo"]["totalElements"], 0, "a refused write leaves no audit row");
}

/// `totalElements` of the unfiltered list (read from the per-instance count).
async fn total(s: &Server, token: &str) -> i64 {
    let (status, page) = s.get(&s.sandbox("/patients?size=1"), token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["totalElements"].as_i64().unwrap()
}

#[tokio::test]
async fn total_elements_stays_exact_through_creates_deletes_resets_seeds_and_restores() {
    const ADMIN: &str = "emulator-admin-token";
    let s = Server::start_with(&["--no-webhook-worker", "--emulator", "--emulator-token", ADMIN]).await;
    s.cli(&["designer", "apply", common::FIXTURE_DESIGNER, "--tenant", &s.tenant]);
    let token = s.token().await;
    let emu = |rest: &str| format!("/_emulator/tenants/{}/instances/sandbox{rest}", s.tenant);
    assert_eq!(total(&s, &token).await, 0);

    let mut ids = Vec::new();
    for i in 0..5 {
        let p = s.create_patient(&token, json!({"firstName": format!("Count{i}"), "lastName": "Exact"})).await;
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    assert_eq!(total(&s, &token).await, 5);
    // A refused create (duplicate key) and a refused delete change nothing.
    s.create_patient(&token, json!({"firstName": "Keyed", "lastName": "Exact", "externalId": "count-dup"})).await;
    let (status, _) = s
        .post(&s.sandbox("/patients"), &token, json!({"firstName": "X", "lastName": "Dup", "externalId": "count-dup"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(s.delete(&s.sandbox("/patients/no-such-patient"), &token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(total(&s, &token).await, 6);
    for id in &ids[..2] {
        assert_eq!(s.delete(&s.sandbox(&format!("/patients/{id}")), &token).await.0, StatusCode::OK);
    }
    assert_eq!(total(&s, &token).await, 4);
    // The other instance has its own count.
    assert_eq!(s.get(&format!("/{}/live/patients", s.tenant), &token).await.1["totalElements"], 0);

    let (status, saved) = s.call(reqwest::Method::PUT, &emu("/snapshots/four"), Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let (status, seeded) = s.post(&emu("/seed"), ADMIN, json!({"count": 7, "seed": 3})).await;
    assert_eq!(status, StatusCode::CREATED, "{seeded}");
    assert_eq!(total(&s, &token).await, 11);

    let (status, reset) = s.post(&emu("/reset"), ADMIN, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    assert_eq!(total(&s, &token).await, 0, "a reset instance counts nothing");
    s.create_patient(&token, json!({"firstName": "After", "lastName": "Reset"})).await;
    assert_eq!(total(&s, &token).await, 1);

    for _ in 0..2 {
        let (status, restored) = s.post(&emu("/snapshots/four/restore"), ADMIN, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{restored}");
        assert_eq!(total(&s, &token).await, 4, "a restore counts the snapshot's patients");
    }
    let (_, page) = s.get(&s.sandbox("/patients?size=1000"), &token).await;
    assert_eq!(page["content"].as_array().unwrap().len(), 4);
    assert_eq!(s.delete(&s.sandbox(&format!("/patients/{}", ids[4])), &token).await.0, StatusCode::OK);
    assert_eq!(total(&s, &token).await, 3);
    // Filtered lists count their matches exactly too.
    let (_, page) = s.get(&s.sandbox("/patients?query=count&size=1"), &token).await;
    assert_eq!(page["totalElements"], 2);
}

#[tokio::test]
async fn query_finds_partial_names_case_insensitively_and_follows_updates() {
    let s = Server::start().await;
    let token = s.token().await;
    let mut ids = Vec::new();
    for (first, last, email, phone) in [
        ("Margaret", "Oyelaran-Smythe", "mo@search.test", "+15550001111"),
        ("Tom", "Smythson", "tom@search.test", "+15550002222"),
        ("Ann", "Lee", "ann_50%@search.test", "+15550003333"),
    ] {
        let p = s
            .create_patient(&token, json!({"firstName": first, "lastName": last, "email": email, "phone": phone}))
            .await;
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    let names = |page: &Value| -> Vec<String> {
        let mut v: Vec<String> =
            page["content"].as_array().unwrap().iter().map(|p| p["firstName"].as_str().unwrap().to_string()).collect();
        v.sort();
        v
    };
    let find = |q: String| {
        let s = &s;
        let token = token.clone();
        async move {
            let (status, page) = s.get(&s.sandbox(&format!("/patients?query={q}")), &token).await;
            assert_eq!(status, StatusCode::OK, "{q}: {page}");
            assert_eq!(page["totalElements"].as_u64().unwrap() as usize, page["content"].as_array().unwrap().len());
            names(&page)
        }
    };
    assert_eq!(find("SMYTH".into()).await, ["Margaret", "Tom"], "partial last name, any case");
    assert_eq!(find("yelaran-sm".into()).await, ["Margaret"], "inside the last name, across the hyphen");
    assert_eq!(find("garet%20oye".into()).await, ["Margaret"], "across first and last name");
    assert_eq!(find("Ee".into()).await, ["Ann"], "needles shorter than a trigram still match");
    assert_eq!(find("0002222".into()).await, ["Tom"], "phone");
    assert_eq!(find("_50%25".into()).await, ["Ann"], "LIKE wildcards are literal");
    assert_eq!(find("n_5".into()).await, ["Ann"]);
    assert!(find("smythes".into()).await.is_empty());
    assert!(find("%25%25".into()).await.is_empty());

    // lastName / firstName filters are substrings too, on GET and by-filter.
    let (_, page) = s.get(&s.sandbox("/patients?lastName=smyth"), &token).await;
    assert_eq!(names(&page), ["Margaret", "Tom"]);
    let (_, page) = s.post(&s.sandbox("/by-filter/patients"), &token, json!({"lastName": "THSON"})).await;
    assert_eq!(names(&page), ["Tom"]);
    let (_, page) =
        s.post(&s.sandbox("/by-filter/patients"), &token, json!({"firstName": "arga", "query": "smy"})).await;
    assert_eq!((names(&page), page["totalElements"].clone()), (vec!["Margaret".to_string()], json!(1)));

    // The index follows updates and deletes.
    let (status, _) = s.patch(&s.sandbox(&format!("/patients/{}", ids[1])), &token, json!({"lastName": "Brown"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(find("smyth".into()).await, ["Margaret"]);
    assert_eq!(find("brow".into()).await, ["Tom"]);
    assert_eq!(s.delete(&s.sandbox(&format!("/patients/{}", ids[0])), &token).await.0, StatusCode::OK);
    assert!(find("smyth".into()).await.is_empty());
}

/// Concurrent writes share a commit on SQLite, and the trigram index is written once per
/// commit (migration 0023): every patient answered 201 is searchable, one created and
/// deleted in the same run is not, one renamed is found by its new name only.
#[tokio::test]
async fn patients_written_concurrently_are_searchable_once_answered() {
    let s = Server::start().await;
    let token = s.token().await;
    let writes: Vec<_> = (0..24)
        .map(|i| {
            let (s, token) = (&s, token.clone());
            async move {
                let p =
                    s.create_patient(&token, json!({"firstName": "Con", "lastName": format!("Qzcurrent{i:02}")})).await;
                let id = p["id"].as_str().unwrap().to_string();
                let path = s.sandbox(&format!("/patients/{id}"));
                match i % 3 {
                    1 => assert_eq!(s.delete(&path, &token).await.0, StatusCode::OK),
                    2 => {
                        let (status, body) =
                            s.patch(&path, &token, json!({"lastName": format!("Qzrenamed{i:02}")})).await;
                        assert_eq!(status, StatusCode::OK, "{body}");
                    }
                    _ => {}
                }
            }
        })
        .collect();
    futures::future::join_all(writes).await;
    let found = |q: &str| {
        let (s, token, q) = (&s, token.clone(), q.to_string());
        async move {
            let (status, page) = s.get(&s.sandbox(&format!("/patients?query={q}&size=100")), &token).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let mut names: Vec<String> = page["content"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["lastName"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        }
    };
    let kept: Vec<String> = (0..24).filter(|i| i % 3 == 0).map(|i| format!("Qzcurrent{i:02}")).collect();
    let renamed: Vec<String> = (0..24).filter(|i| i % 3 == 2).map(|i| format!("Qzrenamed{i:02}")).collect();
    assert_eq!(found("qzcurrent").await, kept, "created and kept: found; deleted or renamed: not");
    assert_eq!(found("qzrenamed").await, renamed);
    assert_eq!(found("qzcurrent05").await, Vec::<String>::new());
    if !common::is_postgres() {
        // The index agrees with the table, row for row, and nothing waits to be indexed.
        let path = s.db_url.strip_prefix("sqlite://").unwrap();
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("INSERT INTO patients_fts (patients_fts, rank) VALUES ('integrity-check', 1)").unwrap();
        let waiting: i64 = conn.query_row("SELECT COUNT(*) FROM patients_fts_pending", [], |r| r.get(0)).unwrap();
        assert_eq!(waiting, 0);
    } else {
        // The trigram indexes keep a short pending list (migration 0026): the searches
        // above read it beside the index.
        let sql = "SELECT string_agg(relname || ':' || array_to_string(reloptions, ','), ' ' ORDER BY relname) \
                   FROM pg_class WHERE relname IN ('patients_search_trgm', 'patients_territories_trgm')";
        assert_eq!(
            common::psql_query(&s.db_url, sql).trim(),
            "patients_search_trgm:gin_pending_list_limit=256 patients_territories_trgm:gin_pending_list_limit=256"
        );
    }
}

#[tokio::test]
async fn every_sort_field_orders_both_ways_with_ties_in_creation_order() {
    let s = Server::start().await;
    let token = s.token().await;
    // Distinct values in a different order per field, plus one tie on lastName.
    let rows = [
        ("Delta", "Kilo", "c@sort.test", "1990-03-04", "Europe/Paris", "ext-b", "mrn-e"),
        ("Alpha", "Mike", "e@sort.test", "1970-01-02", "America/Chicago", "ext-d", "mrn-a"),
        ("Echo", "Juliet", "a@sort.test", "1985-12-30", "Pacific/Auckland", "ext-a", "mrn-c"),
        ("Bravo", "Kilo", "d@sort.test", "2001-07-15", "Asia/Tokyo", "ext-e", "mrn-d"),
        ("Charlie", "Lima", "b@sort.test", "1960-05-20", "Africa/Cairo", "ext-c", "mrn-b"),
    ];
    let mut created = Vec::new();
    for (first, last, email, birth, tz, ext, mrn) in rows {
        created.push(
            s.create_patient(
                &token,
                json!({"firstName": first, "lastName": last, "email": email, "birthDate": birth,
                       "timezone": tz, "externalId": ext, "mrn": mrn}),
            )
            .await,
        );
    }
    // Touch them in another order so updatedAt differs from createdAt.
    for i in [3, 0, 4, 1, 2] {
        let id = created[i]["id"].as_str().unwrap();
        let (status, p) = s.patch(&s.sandbox(&format!("/patients/{id}")), &token, json!({"middleName": "M"})).await;
        assert_eq!(status, StatusCode::OK);
        created[i] = p;
    }
    for field in
        ["id", "firstName", "lastName", "email", "birthDate", "timezone", "externalId", "mrn", "createdAt", "updatedAt"]
    {
        for desc in [false, true] {
            // (position in creation order, patient)
            let mut expected: Vec<(usize, &Value)> = created.iter().enumerate().collect();
            expected.sort_by(|(i, a), (j, b)| {
                let key = |p: &Value| p[field].as_str().unwrap().to_string();
                let by_field = if desc { key(b).cmp(&key(a)) } else { key(a).cmp(&key(b)) };
                by_field.then_with(|| i.cmp(j))
            });
            let expected: Vec<&str> = expected.iter().map(|(_, p)| p["id"].as_str().unwrap()).collect();
            let dir = if desc { "desc" } else { "asc" };
            let (status, page) = s.get(&s.sandbox(&format!("/patients?sort={field},{dir}")), &token).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let got: Vec<&str> =
                page["content"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
            assert_eq!(got, expected, "sort={field},{dir}");
            // The same order page by page.
            let mut paged = Vec::new();
            for n in 0..3 {
                let (_, page) =
                    s.get(&s.sandbox(&format!("/patients?sort={field},{dir}&size=2&page={n}")), &token).await;
                assert_eq!(page["totalElements"], 5);
                paged.extend(page["content"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()));
            }
            assert_eq!(paged, expected, "sort={field},{dir} paged");
        }
    }
}
