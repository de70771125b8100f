//! PDT records, contacts and dictionaries over HTTP.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn profiles_stand_alone_or_belong_to_one_patient() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let (status, profile) = s
        .post(
            &s.sandbox("/pdts/pdt-emergency-contact"),
            &token,
            json!({"pdtf-name": "Test Name", "pdtf-phone": "+15556491369"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{profile}");
    for key in ["id", "createdAt", "updatedAt", "fullValue", "deleted", "jsonBody", "pdtName"] {
        assert!(profile.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        (profile["pdtName"].clone(), profile["deleted"].clone()),
        (json!("pdt-emergency-contact"), json!(false))
    );
    assert!(profile["fullValue"].as_str().unwrap().contains("Test Name"));
    let id = profile["id"].as_str().unwrap();
    assert_eq!(s.get(&s.sandbox(&format!("/pdts/pdt-emergency-contact/{id}")), &token).await.1, profile);
    let (_, list) = s.get(&s.sandbox("/pdts/pdt-emergency-contact?size=1&page=0"), &token).await;
    assert_eq!(list["pdtName"], "pdt-emergency-contact");
    assert_eq!(list["records"]["metaInfo"]["totalElements"], 1);
    assert_eq!(list["records"]["data"][0]["id"], profile["id"]);

    let p = s.create_patient(&token, json!({"firstName": "Ins", "lastName": "Ured"})).await;
    let pid = p["id"].as_str().unwrap();
    let mine = s.sandbox(&format!("/patients/{pid}/pdts/pdt-insurance"));
    let (status, err) = s.post(&mine, &token, json!({"pdtf-member-id": "X1"})).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("pdtf-provider")));
    let (status, ins) = s.post(&mine, &token, json!({"pdtf-provider": "Blue Cross", "pdtf-member-id": "X1"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(ins.get("patientId").is_none(), "the recorded profile shape has no patientId");
    assert_eq!(
        s.post(&mine, &token, json!({"pdtf-provider": "Other"})).await.0,
        StatusCode::CONFLICT,
        "one per patient"
    );
    let rid = ins["id"].as_str().unwrap();
    let (status, updated) = s.patch(&format!("{mine}/{rid}"), &token, json!({"pdtf-member-id": "X2"})).await;
    assert_eq!((status, updated["jsonBody"]["pdtf-member-id"].clone()), (StatusCode::OK, json!("X2")));
    assert_eq!(s.get(&mine, &token).await.1["records"]["data"][0]["jsonBody"]["pdtf-member-id"], "X2");
    let (_, with) = s.get(&s.sandbox("/pdts/pdt-insurance/patients"), &token).await;
    assert_eq!((with["metaInfo"]["totalElements"].clone(), with["data"][0]["id"].clone()), (json!(1), p["id"].clone()));
    let (status, body) = s.delete(&format!("{mine}/{rid}"), &token).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(s.get(&format!("{mine}/{rid}"), &token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&s.sandbox("/pdts/pdt-insurance/patients"), &token).await.1["metaInfo"]["totalElements"], 0);
    assert_eq!(error_code(&s.post(&s.sandbox("/pdts/pdt-nope"), &token, json!({})).await.1), "DT_NOT_FOUND");
}

#[tokio::test]
async fn contacts_link_to_matching_profiles_once_per_patient() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Con", "lastName": "Tact"})).await;
    let pid = p["id"].as_str().unwrap();
    let (_, profile) = s
        .post(
            &s.sandbox("/pdts/pdt-emergency-contact"),
            &token,
            json!({"pdtf-name": "Ann", "pdtf-email": "ann@x.org", "pdtf-phone": "+15556491369"}),
        )
        .await;
    let contacts = s.sandbox(&format!("/patients/{pid}/contacts"));
    let body = json!({"name": "Ann", "relation": "SPOUSE", "pdtRecordId": profile["id"], "email": "ann@x.org", "emailPdtFieldName": "pdtf-email",
                      "phone": "+15556491369", "phonePdtFieldName": "pdtf-phone"});
    let (status, c) = s.post(&contacts, &token, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    for key in [
        "id",
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "createdByName",
        "updatedByName",
        "name",
        "email",
        "emailLabel",
        "emailPdtFieldName",
        "phone",
        "phoneLabel",
        "phonePdtFieldName",
        "secondaryPhone",
        "secondaryPhoneLabel",
        "secondaryPhonePdtFieldName",
        "patientId",
        "pdtRecordId",
        "relation",
        "active",
    ] {
        assert!(c.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        s.post(&contacts, &token, body).await.0,
        StatusCode::CONFLICT,
        "one contact per patient and profile record"
    );
    let mismatched =
        json!({"name": "Bob", "pdtRecordId": profile["id"], "email": "bob@x.org", "emailPdtFieldName": "pdtf-email"});
    assert_eq!(s.post(&contacts, &token, mismatched).await.1[0]["details"]["field"], "email");
    let dangling = json!({"name": "Cy", "pdtRecordId": uuid::Uuid::new_v4().to_string()});
    assert_eq!(s.post(&contacts, &token, dangling).await.1[0]["details"]["field"], "pdtRecordId");
    assert_eq!(s.post(&contacts, &token, json!({"relation": "X"})).await.1[0]["details"]["field"], "name");

    let (status, plain) =
        s.post(&contacts, &token, json!({"name": "Dee", "relationship": "parent", "phone": "+16175550110"})).await;
    assert_eq!((status, plain["relation"].clone()), (StatusCode::OK, json!("parent")));
    let cid = plain["id"].as_str().unwrap();
    let (status, changed) = s.patch(&format!("{contacts}/{cid}"), &token, json!({"active": false})).await;
    assert_eq!((status, changed["active"].clone()), (StatusCode::OK, json!(false)));
    assert_eq!(s.get(&format!("{contacts}/{cid}"), &token).await.1, changed);
    let (_, all) = s.get(&format!("{contacts}/"), &token).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert_eq!(s.get(&format!("{contacts}?active=True"), &token).await.1["data"].as_array().unwrap().len(), 1);
    let by_profile = s.get(&format!("{contacts}?pdtRecordId={}", profile["id"].as_str().unwrap()), &token).await.1;
    assert_eq!(by_profile["data"][0]["name"], "Ann");
    assert_eq!(s.get(&format!("{contacts}/{}", uuid::Uuid::new_v4()), &token).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dictionaries_add_replace_update_and_soft_delete() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let cpt = s.sandbox("/dictionaries/cpt");
    let (status, d) =
        s.post(&cpt, &token, json!({"records": [{"values": {"value": "2222"}}, {"values": {"value": "3333"}}]})).await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    assert_eq!(d["dictionaryName"], "cpt");
    let first = d["records"][0].clone();
    assert_eq!(
        (first["fullValue"].clone(), first["deleted"].clone(), first["values"].clone()),
        (json!("2222"), json!(false), json!({"value": "2222"}))
    );
    for key in ["id", "createdAt", "updatedAt"] {
        assert!(first.get(key).is_some());
    }
    let id = first["id"].as_str().unwrap();
    assert_eq!(s.get(&format!("{cpt}/{id}"), &token).await.1, first);
    let (status, changed) =
        s.call(Method::PUT, &format!("{cpt}/{id}"), Some(&token), Some(json!({"values": {"value": "2223"}}))).await;
    assert_eq!((status, changed["fullValue"].clone()), (StatusCode::OK, json!("2223")));
    let (status, deleted) = s.delete(&format!("{cpt}/{id}"), &token).await;
    assert_eq!((status, deleted["deleted"].clone()), (StatusCode::OK, json!(true)));
    assert_eq!(s.get(&cpt, &token).await.1["records"].as_array().unwrap().len(), 1);
    assert_eq!(s.get(&format!("{cpt}?showDeleted=True"), &token).await.1["records"].as_array().unwrap().len(), 2);
    assert_eq!(s.get(&format!("{cpt}?dateStart=2999-01-01"), &token).await.1["records"].as_array().unwrap().len(), 0);

    let (status, replaced) = s
        .call(
            Method::PUT,
            &cpt,
            Some(&token),
            Some(json!({"records": [{"values": {"value": "6666"}}, {"values": {"value": "7777"}}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let values: Vec<&str> =
        replaced["records"].as_array().unwrap().iter().map(|r| r["fullValue"].as_str().unwrap()).collect();
    assert_eq!(values, ["6666", "7777"]);
    assert_eq!(
        s.get(&format!("{cpt}?showDeleted=true"), &token).await.1["records"].as_array().unwrap().len(),
        2,
        "replaced records are gone for good"
    );

    let (status, err) = s.post(&cpt, &token, json!({"records": [{"values": {"code": "1"}}]})).await;
    assert_eq!(
        (status, err[0]["details"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("records[0].values.code"))
    );
    let (_, tz) = s.get(&s.sandbox("/dictionaries/timezone"), &token).await;
    assert!(tz["records"].as_array().unwrap().iter().any(|r| r["fullValue"] == "America/New_York"));
    assert_eq!(
        s.post(
            &s.sandbox("/dictionaries/timezone"),
            &token,
            json!({"records": [{"values": {"value": "Mars/Olympus"}}]})
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(error_code(&s.get(&s.sandbox("/dictionaries/nope"), &token).await.1), "DICTIONARY_NOT_FOUND");
    let (_, seeded) = s.get(&s.sandbox("/dictionaries/dict-conditions"), &token).await;
    assert_eq!(seeded["records"].as_array().unwrap().len(), 2, "seeded from the designer");
    assert_eq!(
        s.get(&format!("/{}/live/dictionaries/cpt", s.tenant), &token).await.1["records"],
        json!([]),
        "records are per instance"
    );
}
