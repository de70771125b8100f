//! CDT records over HTTP: the recorded envelope, lookups, schema checks with nothing
//! written, bulk updates, listing options, SINGLE_RECORD, versions.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn setup() -> (Server, String, String) {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Cee", "lastName": "Dee"})).await;
    let id = p["id"].as_str().unwrap().to_string();
    (s, token, id)
}

#[tokio::test]
async fn create_read_update_delete_with_the_recorded_shapes() {
    let (s, token, pid) = setup().await;
    let base = s.sandbox(&format!("/patients/{pid}/cdts/cdt-self-care"));
    let (status, r) = s.post(&base, &token, json!({"cdtName": "cdt-self-care", "cdtf-alone-time": "Yes"})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(
        r.as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
        ["cdtId", "cdtName", "id", "jsonBody", "patientId", "version"]
    );
    assert_eq!(
        (r["patientId"].as_str(), r["cdtName"].as_str(), r["version"].as_i64()),
        (Some(pid.as_str()), Some("cdt-self-care"), Some(1))
    );
    let body = &r["jsonBody"];
    for key in [
        "external_guid",
        "created_at",
        "external_id",
        "source_type",
        "created_by_name",
        "created_by",
        "updated_by_name",
        "updated_at",
        "updated_by",
        "cdtf-alone-time",
        "cdtf-unwind",
        "id",
        "source_id",
        "source_name",
    ] {
        assert!(body.get(key).is_some(), "jsonBody lacks {key}");
    }
    assert_eq!(body["cdtf-unwind"], Value::Null);
    assert_eq!(body["created_by_name"], json!(format!("API_CLIENT:{}", s.client)));
    assert_eq!(body["id"], r["id"]);
    let formation = s.get(&s.sandbox("/formations/current/cdts/cdt-self-care"), &token).await.1;
    assert_eq!(r["cdtId"], formation["id"]);

    let id = r["id"].as_str().unwrap();
    let (status, read) = s.get(&format!("{base}/{id}"), &token).await;
    assert_eq!((status, &read), (StatusCode::OK, &r));
    let (status, updated) = s.patch(&format!("{base}/{id}"), &token, json!({"cdtf-alone-time": "No"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["jsonBody"]["cdtf-alone-time"], "No");
    assert_eq!(updated["jsonBody"]["created_at"], body["created_at"]);
    assert!(updated["jsonBody"]["updated_at"].as_str() >= body["updated_at"].as_str());

    let (status, empty) = s.delete(&format!("{base}/{id}"), &token).await;
    assert_eq!((status, empty), (StatusCode::OK, Value::Null));
    let (status, err) = s.get(&format!("{base}/{id}"), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "DT_RECORD_NOT_FOUND"));
    assert_eq!(err[0]["componentType"], "CDT");
    assert_eq!(s.delete(&format!("{base}/{id}"), &token).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn records_are_found_by_external_keys() {
    let (s, token, pid) = setup().await;
    let base = s.sandbox(&format!("/patients/{pid}/cdts/cdt-self-care"));
    let guid = uuid::Uuid::new_v4().to_string();
    let (_, r) =
        s.post(&base, &token, json!({"external_id": "ext-7", "external_guid": guid, "cdtf-unwind": "walk"})).await;
    assert_eq!(s.get(&format!("{base}/ext-7?type=EID"), &token).await.1["id"], r["id"]);
    assert_eq!(s.get(&format!("{base}/{guid}?type=EGUID"), &token).await.1["id"], r["id"]);
    let (status, err) = s.post(&base, &token, json!({"external_id": "ext-7"})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::CONFLICT, "DT_RECORD_ALREADY_EXISTS"));
}

#[tokio::test]
async fn records_breaking_the_schema_are_refused_naming_the_field_and_nothing_is_written() {
    let (s, token, pid) = setup().await;
    let vitals = s.sandbox(&format!("/patients/{pid}/cdts/cdt-vitals"));
    let cases = [
        (json!({"weight": 900}), "weight"),
        (json!({"weight": 70.5}), "weight"),
        (json!({"temperature": "hot"}), "temperature"),
        (json!({"measured-on": "2022-13-01"}), "measured-on"),
        (json!({"measured-at": "noon"}), "measured-at"),
        (json!({"fasting": "yes"}), "fasting"),
        (json!({"nurse-phone": "+610403211111"}), "nurse-phone"),
        (json!({"nurse-email": "nope"}), "nurse-email"),
        (json!({"pain": 5}), "pain"),
        (json!({"pain": "1"}), "pain"),
        (json!({"colour": "blue"}), "colour"),
        (json!({"created_at": "2020-01-01T00:00:00.000Z"}), "created_at"),
        (json!({"cdtName": "cdt-self-care"}), "cdtName"),
    ];
    for (body, field) in cases {
        let (status, err) = s.post(&vitals, &token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            (error_code(&err).as_str(), err[0]["details"]["field"].clone()),
            ("VALIDATION_ERROR", json!(field)),
            "{body}"
        );
    }
    let (_, page) = s.get(&vitals, &token).await;
    assert_eq!(page["data"]["totalElements"], 0, "nothing was written");

    let (status, ok) = s.post(&vitals, &token, json!({"weight": 72, "temperature": 36.6, "measured-on": "2022-8-9", "measured-at": "2022-08-09T10:00:00+02:00",
        "fasting": true, "nurse-phone": "+15556491369", "nurse-email": "n@clinic.org", "pain": 1})).await;
    assert_eq!(status, StatusCode::CREATED, "{ok}");
    assert_eq!(ok["jsonBody"]["measured-on"], "2022-08-09");
    assert_eq!(ok["jsonBody"]["measured-at"], "2022-08-09T08:00:00.000Z");
    let id = ok["id"].as_str().unwrap();
    let (status, _) = s.patch(&format!("{vitals}/{id}"), &token, json!({"weight": 70, "pain": 9})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        s.get(&format!("{vitals}/{id}"), &token).await.1["jsonBody"]["weight"],
        72,
        "a refused PATCH changes nothing"
    );

    let unknown_type = s.sandbox(&format!("/patients/{pid}/cdts/cdt-nope"));
    let (status, err) = s.post(&unknown_type, &token, json!({})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "DT_NOT_FOUND"));
    let no_patient = s.sandbox(&format!("/patients/{}/cdts/cdt-vitals", uuid::Uuid::new_v4()));
    assert_eq!(error_code(&s.post(&no_patient, &token, json!({})).await.1), "PATIENT_NOT_FOUND");
}

#[tokio::test]
async fn required_fields_single_records_and_dictionaries() {
    let (s, token, pid) = setup().await;
    let intake = s.sandbox(&format!("/patients/{pid}/cdts/cdt-intake"));
    let (status, err) = s.post(&intake, &token, json!({"notes": "x"})).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("reason")));
    let (status, first) = s.post(&intake, &token, json!({"reason": "checkup"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, err) = s.post(&intake, &token, json!({"reason": "again"})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::CONFLICT, "DT_RECORD_ALREADY_EXISTS"));
    let (status, _) =
        s.patch(&format!("{intake}/{}", first["id"].as_str().unwrap()), &token, json!({"reason": null})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a required field cannot be cleared");

    let diagnosis = s.sandbox(&format!("/patients/{pid}/cdts/cdt-diagnosis"));
    assert_eq!(
        s.post(&diagnosis, &token, json!({"condition": "Diabetes"})).await.0,
        StatusCode::CREATED,
        "seeded dictionary value"
    );
    assert_eq!(s.post(&diagnosis, &token, json!({"condition": "Gout"})).await.0, StatusCode::BAD_REQUEST);
    let (status, _) = s
        .post(&s.sandbox("/dictionaries/dict-conditions"), &token, json!({"records": [{"values": {"value": "Gout"}}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        s.post(&diagnosis, &token, json!({"condition": "Gout"})).await.0,
        StatusCode::CREATED,
        "a value added to the dictionary"
    );
}

#[tokio::test]
async fn bulk_update_reports_a_result_per_row() {
    let (s, token, pid) = setup().await;
    let base = s.sandbox(&format!("/patients/{pid}/cdts/cdt-self-care"));
    let a = s.post(&base, &token, json!({"cdtf-alone-time": "No"})).await.1;
    let b = s.post(&base, &token, json!({"cdtf-alone-time": "No"})).await.1;
    let missing = uuid::Uuid::new_v4().to_string();
    let body = json!({"rows": [
        {"id": a["id"], "jsonBody": {"cdtf-alone-time": "Yes"}},
        {"id": b["id"], "jsonBody": {"cdtf-alone-time": "Sometimes"}},
        {"id": missing, "jsonBody": {"cdtf-alone-time": "Yes"}},
    ]});
    let (status, out) = s.call(Method::PATCH, &format!("{base}?page=0"), Some(&token), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let rows = out["rows"].as_array().unwrap();
    assert_eq!(rows[0]["result"], json!({"status": "OK", "content": null}));
    assert_eq!(rows[0]["jsonBody"]["cdtf-alone-time"], "Yes");
    assert_eq!(rows[0]["jsonBody"]["id"], a["id"]);
    assert_eq!(rows[1]["result"]["status"], "ERROR");
    assert_eq!(rows[1]["result"]["content"]["errorCode"], "VALIDATION_ERROR");
    assert_eq!(rows[2]["result"]["content"]["errorCode"], "DT_RECORD_NOT_FOUND");
    let read = |r: &Value| format!("{base}/{}", r["id"].as_str().unwrap());
    assert_eq!(s.get(&read(&a), &token).await.1["jsonBody"]["cdtf-alone-time"], "Yes");
    assert_eq!(s.get(&read(&b), &token).await.1["jsonBody"]["cdtf-alone-time"], "No", "the refused row is unchanged");
    assert_eq!(s.patch(&base, &token, json!({"rows": "x"})).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn lists_project_filter_sort_and_page_in_the_name_data_envelope() {
    let (s, token, pid) = setup().await;
    let base = s.sandbox(&format!("/patients/{pid}/cdts/cdt-vitals"));
    for (w, pain) in [(80, 0), (60, 2), (70, 1), (90, 2)] {
        assert_eq!(s.post(&base, &token, json!({"weight": w, "pain": pain})).await.0, StatusCode::CREATED);
    }
    let (status, page) = s.get(&format!("{base}?page=0&size=3"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["name"], "cdt-vitals");
    let data = &page["data"];
    assert_eq!(
        (
            data["totalElements"].clone(),
            data["numberOfElements"].clone(),
            data["last"].clone(),
            data["pageable"]["pageNumber"].clone()
        ),
        (json!(4), json!(3), json!(false), json!(0))
    );
    let weights = |p: &Value| -> Vec<i64> {
        p["data"]["content"].as_array().unwrap().iter().map(|r| r["jsonBody"]["weight"].as_i64().unwrap()).collect()
    };
    assert_eq!(weights(&page), [80, 60, 70], "creation order by default");
    assert_eq!(weights(&s.get(&format!("{base}?sort=weight,desc"), &token).await.1), [90, 80, 70, 60]);
    assert_eq!(weights(&s.get(&format!("{base}?filters=pain=2"), &token).await.1), [60, 90]);
    assert_eq!(weights(&s.get(&format!("{base}?filters=pain=0,1&sort=weight,asc"), &token).await.1), [70, 80]);
    assert_eq!(
        weights(&s.get(&format!("{base}?filters=weight"), &token).await.1).len(),
        4,
        "a bare field name keeps records that have it"
    );
    let projected = s.get(&format!("{base}?fields=weight"), &token).await.1;
    let body = &projected["data"]["content"][0]["jsonBody"];
    assert!(body.get("weight").is_some() && body.get("pain").is_none() && body.get("id").is_some(), "{body}");
    let future = s.get(&format!("{base}?dateStart=2999-01-01T00:00:00.000Z"), &token).await.1;
    assert_eq!(future["data"]["totalElements"], 0);
    let past = s.get(&format!("{base}?dateEnd=2999-01-01"), &token).await.1;
    assert_eq!(past["data"]["totalElements"], 4);
    for bad in ["sort=colour,asc", "fields=colour", "filters=colour=1", "dateStart=soon"] {
        assert_eq!(s.get(&format!("{base}?{bad}"), &token).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn records_keep_their_formation_version_and_go_with_their_patient() {
    let (s, token, pid) = setup().await;
    let base = s.sandbox(&format!("/patients/{pid}/cdts/cdt-self-care"));
    let old = s.post(&base, &token, json!({"cdtf-unwind": "read"})).await.1;
    let (status, _) = s.call(Method::PUT, &s.sandbox("/formations/draft/cdts/cdt-self-care"), Some(&token),
        Some(json!({"fields": [{"name": "cdtf-alone-time", "type": "select", "meta": {"options": [{"label": "Yes", "value": "Yes"}]}},
                               {"name": "cdtf-unwind", "type": "text"}, {"name": "cdtf-music", "type": "text"}]}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        s.post(&base, &token, json!({"cdtf-music": "jazz"})).await.0,
        StatusCode::BAD_REQUEST,
        "not current until published"
    );
    s.call(Method::POST, &s.sandbox("/formations/draft/publish"), Some(&token), None).await;
    let new = s.post(&base, &token, json!({"cdtf-music": "jazz"})).await.1;
    assert_eq!((old["version"].clone(), new["version"].clone()), (json!(1), json!(2)));
    let reread = s.get(&format!("{base}/{}", old["id"].as_str().unwrap()), &token).await.1;
    assert_eq!(reread["version"], 1, "a record keeps the version it was written with");

    let (_, audit) = s.get(&format!("/{}/admin/audit-data?entity=CDT&patientId={pid}", s.tenant), &token).await;
    assert_eq!(audit["metaInfo"]["totalElements"], 2, "each record write was audited");
    assert_eq!(audit["data"][0]["cdtName"], "cdt-self-care");

    s.delete(&s.sandbox(&format!("/patients/{pid}")), &token).await;
    let db = openwelkin::store::Db::connect(&s.db_url).await.unwrap();
    let tenant = db.tenant_by_name(&s.tenant).await.unwrap().unwrap();
    let instance = db.instance_by_name(&tenant.id, "sandbox").await.unwrap().unwrap();
    let scope = openwelkin::store::records::Scope {
        tenant_id: &tenant.id,
        instance_id: &instance.id,
        kind: openwelkin::store::records::DtKind::Cdt,
        dt_name: "cdt-self-care",
        patient_id: Some(Some(&pid)),
    };
    assert!(
        db.records(&scope, None, None).await.unwrap().is_empty(),
        "a deleted patient's records are deleted with it"
    );
}
