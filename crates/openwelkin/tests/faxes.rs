//! Faxes over HTTP: drafts and sends, received faxes, list paging, filters and sorts,
//! updates (drafts only for content, any fax for patient and review), 404, validation
//! with nothing written, isolation between instances, the policy 403, the audit, and the
//! emulator's fax outbox.

mod common;

use common::{error_code, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

const LINE: &str = "+15625345699";
const CLINIC: &str = "+15625345700";

fn field(err: &Value) -> String {
    err[0]["details"]["field"].as_str().unwrap_or_default().to_string()
}

async fn create(s: &Server, token: &str, body: Value) -> Value {
    let (status, fax) = s.post(&s.sandbox("/faxes"), token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{fax}");
    fax
}

async fn total(s: &Server, token: &str, query: &str) -> i64 {
    let (status, page) = s.get(&s.sandbox(&format!("/faxes{query}")), token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["metaInfo"]["totalElements"].as_i64().unwrap()
}

#[tokio::test]
async fn drafts_are_edited_then_sent_and_received_faxes_reviewed() {
    let s = Server::start().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Fay", "lastName": "Xu"})).await;
    let pid = p["id"].as_str().unwrap();

    let draft = create(&s, &token, json!({"receiver": CLINIC, "subject": "Referral", "patientId": pid})).await;
    assert_eq!((draft["type"].as_str(), draft["status"].as_str()), (Some("OUTBOUND"), Some("DRAFT")));
    assert_eq!(draft["sentAt"], Value::Null);
    assert_eq!(draft["createdByName"], format!("API_CLIENT:{}", s.client));
    let id = draft["id"].as_str().unwrap();
    let (status, read) = s.get(&s.sandbox(&format!("/faxes/{id}")), &token).await;
    assert_eq!((status, &read), (StatusCode::OK, &draft));

    // Sending needs pages; a draft's content changes, then it is sent.
    let (status, err) = s.patch(&s.sandbox(&format!("/faxes/{id}")), &token, json!({"send": true})).await;
    assert_eq!((status, field(&err).as_str()), (StatusCode::BAD_REQUEST, "pages"), "{err}");
    let (status, edited) =
        s.patch(&s.sandbox(&format!("/faxes/{id}")), &token, json!({"pages": 3, "subject": "Referral letter"})).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!((edited["pages"].as_i64(), edited["status"].as_str()), (Some(3), Some("DRAFT")));
    let (status, sent) = s.patch(&s.sandbox(&format!("/faxes/{id}")), &token, json!({"send": true})).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["status"], "SENT");
    assert!(sent["sentAt"].is_string());
    // A sent fax keeps its content; it can still be reviewed.
    let (status, err) = s.patch(&s.sandbox(&format!("/faxes/{id}")), &token, json!({"subject": "x"})).await;
    assert_eq!((status, field(&err).as_str()), (StatusCode::BAD_REQUEST, "subject"), "{err}");
    let (status, reviewed) = s.patch(&s.sandbox(&format!("/faxes/{id}")), &token, json!({"reviewed": true})).await;
    assert_eq!((status, reviewed["reviewed"].as_bool()), (StatusCode::OK, Some(true)));

    // A received fax, assigned to the patient afterwards.
    let inbound = create(&s, &token, json!({"type": "INBOUND", "sender": LINE, "pages": 2})).await;
    assert_eq!((inbound["status"].as_str(), inbound["reviewed"].as_bool()), (Some("RECEIVED"), Some(false)));
    let in_id = inbound["id"].as_str().unwrap();
    let (status, assigned) =
        s.patch(&s.sandbox(&format!("/faxes/{in_id}")), &token, json!({"patientId": pid, "reviewed": true})).await;
    assert_eq!((status, assigned["patientId"].as_str()), (StatusCode::OK, Some(pid)), "{assigned}");

    // Every write is audited as FAX, with the patient.
    let (status, audit) = s.get(&format!("/{}/admin/audit-data?entity=FAX&size=50", s.tenant), &token).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let subtypes: Vec<&str> =
        audit["data"].as_array().unwrap().iter().map(|e| e["eventSubtype"].as_str().unwrap()).collect();
    assert_eq!(subtypes.iter().filter(|s| **s == "FAX_CREATED").count(), 2, "{subtypes:?}");
    assert_eq!(subtypes.iter().filter(|s| **s == "FAX_UPDATED").count(), 4, "{subtypes:?}");
    let with_patient = audit["data"].as_array().unwrap().iter().filter(|e| e["patientId"] == pid).count();
    assert_eq!(with_patient, 5, "all but the received fax's creation, which had no patient yet");
}

#[tokio::test]
async fn lists_page_filter_and_sort() {
    let s = Server::start().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Lis", "lastName": "Ting"})).await;
    let pid = p["id"].as_str().unwrap();
    let mut made = Vec::new();
    for n in 0..5 {
        let body = if n % 2 == 0 {
            json!({"receiver": CLINIC, "pages": n + 1, "send": true, "patientId": pid})
        } else {
            json!({"type": "INBOUND", "sender": LINE, "pages": n + 1})
        };
        made.push(create(&s, &token, body).await["id"].as_str().unwrap().to_string());
    }
    assert_eq!(total(&s, &token, "").await, 5);
    assert_eq!(total(&s, &token, "?type=outbound").await, 3);
    assert_eq!(total(&s, &token, "?status=RECEIVED").await, 2);
    assert_eq!(total(&s, &token, &format!("?patientId={pid}")).await, 3);
    assert_eq!(total(&s, &token, "?reviewed=false").await, 5);

    let (status, page) = s.get(&s.sandbox("/faxes?page=1&size=2"), &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let ids: Vec<&str> = page["data"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [made[2].as_str(), made[1].as_str()], "newest first by default");
    assert_eq!(
        (page["metaInfo"]["totalPages"].as_i64(), page["metaInfo"]["lastPage"].as_bool()),
        (Some(3), Some(false))
    );
    let (_, oldest) = s.get(&s.sandbox("/faxes?size=1&direction=ASC"), &token).await;
    assert_eq!(oldest["data"][0]["id"], made[0]);
    let (_, by_status) = s.get(&s.sandbox("/faxes?sort=status&direction=DESC&size=5"), &token).await;
    assert_eq!(by_status["data"][0]["status"], "SENT");

    for (query, param) in [
        ("?type=SIDEWAYS", "type"),
        ("?status=LOST", "status"),
        ("?sort=colour", "sort"),
        ("?direction=UP", "direction"),
        ("?reviewed=maybe", "reviewed"),
        ("?size=0", "size"),
    ] {
        let (status, err) = s.get(&s.sandbox(&format!("/faxes{query}")), &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {err}");
        assert!(err.to_string().contains(param), "{query}: {err}");
    }
}

#[tokio::test]
async fn bad_input_changes_nothing_and_unknown_faxes_are_404() {
    let s = Server::start().await;
    let token = s.token().await;
    for (body, f) in [
        (json!({"receiver": "555"}), "receiver"),
        (json!({"receiver": CLINIC, "send": true}), "pages"),
        (json!({"pages": 0}), "pages"),
        (json!({"type": "INBOUND", "pages": 1}), "sender"),
        (json!({"id": "0b5e3d5e-6f1b-4f39-9d5e-7f4c2d1a9b10"}), "id"),
        (json!({"status": "SENT"}), "status"),
        (json!({"patientId": "0b5e3d5e-6f1b-4f39-9d5e-7f4c2d1a9b10"}), "patientId"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let (status, err) = s.post(&s.sandbox("/faxes"), &token, body.clone()).await;
        assert_eq!((status, field(&err)), (StatusCode::BAD_REQUEST, f.to_string()), "{body}: {err}");
        assert_eq!(error_code(&err), "VALIDATION_ERROR");
    }
    assert_eq!(total(&s, &token, "").await, 0, "nothing was written");
    let (status, err) = s.post(&s.sandbox("/faxes"), &token, json!([1])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");

    let missing = "0b5e3d5e-6f1b-4f39-9d5e-7f4c2d1a9b10";
    let (status, err) = s.get(&s.sandbox(&format!("/faxes/{missing}")), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "FAX_NOT_FOUND"));
    let (status, err) = s.patch(&s.sandbox(&format!("/faxes/{missing}")), &token, json!({"reviewed": true})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "FAX_NOT_FOUND"));
}

#[tokio::test]
async fn instances_are_isolated_and_the_policy_is_checked() {
    let s = Server::start().await;
    let token = s.token().await;
    let fax = create(&s, &token, json!({"receiver": CLINIC})).await;
    let id = fax["id"].as_str().unwrap();
    let live = |rest: &str| format!("/{}/live{rest}", s.tenant);
    let (status, _) = s.get(&live(&format!("/faxes/{id}")), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.patch(&live(&format!("/faxes/{id}")), &token, json!({"reviewed": true})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = s.get(&live("/faxes"), &token).await;
    assert_eq!(page["metaInfo"]["totalElements"], 0);

    let (reader, secret) = s.client_with_policy(&json!({"permissions": {"fax": ["read"]}}), None);
    let reader = s.token_for(&reader, &secret).await;
    let (status, _) = s.get(&s.sandbox(&format!("/faxes/{id}")), &reader).await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) = s.post(&s.sandbox("/faxes"), &reader, json!({"receiver": CLINIC})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"));
    let (status, _) = s.patch(&s.sandbox(&format!("/faxes/{id}")), &reader, json!({"reviewed": true})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (other, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["*"]}}), None);
    let other = s.token_for(&other, &secret).await;
    let (status, _) = s.get(&s.sandbox("/faxes"), &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(total(&s, &token, "").await, 1, "refused writes wrote nothing");
}

#[tokio::test]
async fn sent_faxes_wait_in_the_emulator_outbox() {
    const ADMIN: &str = "emulator-admin-token";
    let s = Server::start_with(&["--no-webhook-worker", "--emulator", "--emulator-token", ADMIN]).await;
    let token = s.token().await;
    let outbox = format!("/_emulator/tenants/{}/instances/sandbox/outbox/fax", s.tenant);
    create(&s, &token, json!({"receiver": CLINIC, "subject": "kept as a draft"})).await;
    create(&s, &token, json!({"type": "INBOUND", "sender": LINE, "pages": 1})).await;
    let sent = create(&s, &token, json!({"receiver": CLINIC, "subject": "Labs", "pages": 2, "send": true})).await;
    let (status, items) = s.get(&outbox, ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{items}");
    let items = items["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "only the sent fax: {items:?}");
    assert_eq!(
        (&items[0]["id"], items[0]["to"].as_str(), items[0]["pages"].as_i64()),
        (&sent["id"], Some(CLINIC), Some(2))
    );
    let (status, cleared) = s.delete(&outbox, ADMIN).await;
    assert_eq!((status, cleared["cleared"].as_i64()), (StatusCode::OK, Some(1)), "{cleared}");
    let (_, items) = s.get(&outbox, ADMIN).await;
    assert_eq!(items["items"], json!([]));
    assert_eq!(total(&s, &token, "").await, 3, "clearing the outbox keeps the faxes");
}
