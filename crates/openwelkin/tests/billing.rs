//! Billing over HTTP: payment methods, subscriptions with cycles, invoices with computed
//! totals and statuses, payments; exact decimal amounts throughout.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn setup() -> (Server, String, String, String) {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Bill", "lastName": "Able"})).await;
    let (_, u) = s
        .post(
            &format!("/{}/admin/users", s.tenant),
            &token,
            json!({"username": "cm", "email": "cm@x.org", "firstName": "Care", "lastName": "Member"}),
        )
        .await;
    (s, token, p["id"].as_str().unwrap().to_string(), u["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn invoices_compute_exact_totals_and_follow_payments() {
    let (s, token, pid, _) = setup().await;
    let invoices = s.sandbox("/invoices");
    let body = json!({"patientId": pid, "dueDate": "2099-01-31", "lineItems": [
        {"description": "Visit", "quantity": 3, "unitAmount": 0.1}, {"description": "Lab", "unitAmount": "0.20"}]});
    let (status, inv) = s.post(&invoices, &token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{inv}");
    assert_eq!(
        (inv["amount"].clone(), inv["subtotal"].clone(), inv["amountDue"].clone()),
        (json!(0.5), json!(0.5), json!(0.5)),
        "0.1 × 3 + 0.20 is exactly 0.5"
    );
    assert_eq!(
        (inv["status"].clone(), inv["currency"].clone(), inv["lineItems"][0]["amount"].clone()),
        (json!("PENDING"), json!("USD"), json!(0.3))
    );
    let id = inv["id"].as_str().unwrap();
    for (bad, field) in [
        (
            json!({"patientId": pid, "lineItems": [{"description": "x", "unitAmount": 1.005}]}),
            "lineItems[0].unitAmount",
        ),
        (json!({"patientId": pid, "lineItems": []}), "lineItems"),
        (
            json!({"patientId": pid, "lineItems": [{"description": "x", "unitAmount": 1}], "currency": "XYZ"}),
            "currency",
        ),
        (
            json!({"patientId": uuid::Uuid::new_v4().to_string(), "lineItems": [{"description": "x", "unitAmount": 1}]}),
            "patientId",
        ),
    ] {
        let (status, err) = s.post(&invoices, &token, bad.clone()).await;
        assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!(field)), "{bad}");
    }
    let pay = format!("{invoices}/{id}/payments");
    let (status, err) = s.post(&pay, &token, json!({"amount": 0.51, "method": "CASH"})).await;
    assert_eq!(
        (status, err[0]["details"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("amount")),
        "more than is due"
    );
    let (status, payment) = s.post(&pay, &token, json!({"amount": 0.2, "method": "CREDIT_CARD"})).await;
    assert_eq!(
        (status, payment["amount"].clone(), payment["status"].clone()),
        (StatusCode::CREATED, json!(0.2), json!("PAID"))
    );
    let (_, partial) = s.get(&format!("{invoices}/{id}"), &token).await;
    assert_eq!(
        (partial["status"].clone(), partial["amountPaid"].clone(), partial["amountDue"].clone()),
        (json!("PARTIALLY_PAID"), json!(0.2), json!(0.3))
    );
    assert_eq!(
        s.patch(&format!("{invoices}/{id}"), &token, json!({"status": "VOIDED"})).await.0,
        StatusCode::CONFLICT,
        "payments prevent voiding"
    );
    s.post(&pay, &token, json!({"amount": "0.30", "method": "ACH"})).await;
    let (_, paid) = s.get(&format!("{invoices}/{id}"), &token).await;
    assert_eq!(
        (paid["status"].clone(), paid["amountDue"].clone(), paid["payments"].as_array().unwrap().len()),
        (json!("PAID"), json!(0), 2)
    );
    assert_eq!(s.post(&pay, &token, json!({"amount": 1, "method": "CASH"})).await.0, StatusCode::CONFLICT);

    let (_, payments) = s.get(&s.sandbox(&format!("/patients/{pid}/payments?page=0&size=1")), &token).await;
    assert_eq!(
        (payments["totalElements"].clone(), payments["totalPages"].clone(), payments["last"].clone()),
        (json!(2), json!(2), json!(false))
    );
    let pay_id = payments["content"][0]["id"].as_str().unwrap();
    assert_eq!(
        s.get(&s.sandbox(&format!("/patients/{pid}/payments/{pay_id}")), &token).await.1["invoiceId"],
        json!(id)
    );
    assert_eq!(s.get(&format!("{invoices}?status=PAID"), &token).await.1["metaInfo"]["totalElements"], 1);
    assert_eq!(s.get(&s.sandbox(&format!("/patients/{pid}/invoices")), &token).await.1["data"][0]["id"], json!(id));
}

#[tokio::test]
async fn drafts_can_change_and_statuses_only_move_forward() {
    let (s, token, pid, _) = setup().await;
    let (_, e) = s
        .post(&s.sandbox(&format!("/patients/{pid}/encounters")), &token, json!({"templateName": "etmp-intake"}))
        .await;
    let eid = e["id"].as_str().unwrap();
    let (_, inv) = s
        .post(
            &s.sandbox("/invoices"),
            &token,
            json!({"patientId": pid, "encounterId": eid, "status": "DRAFT", "dueDate": "2000-01-01",
        "lineItems": [{"description": "Visit", "unitAmount": 100}]}),
        )
        .await;
    assert_eq!(inv["status"], "DRAFT");
    let path = s.sandbox(&format!("/invoices/{}", inv["id"].as_str().unwrap()));
    assert_eq!(
        s.post(&format!("{path}/payments"), &token, json!({"amount": 1, "method": "CASH"})).await.0,
        StatusCode::CONFLICT,
        "drafts take no payment"
    );
    let (status, changed) = s
        .patch(&path, &token, json!({"lineItems": [{"description": "Visit", "quantity": 2, "unitAmount": 100}]}))
        .await;
    assert_eq!((status, changed["amount"].clone()), (StatusCode::OK, json!(200)));
    let (_, issued) = s.patch(&path, &token, json!({"status": "PENDING"})).await;
    assert_eq!(issued["status"], "OVERDUE", "a due date in the past makes it overdue");
    let (status, _) = s.patch(&path, &token, json!({"lineItems": [{"description": "x", "unitAmount": 1}]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "only drafts change their lines");
    assert_eq!(s.patch(&path, &token, json!({"status": "DRAFT"})).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.patch(&path, &token, json!({"status": "VOIDED"})).await.1["status"], "VOIDED");
    assert_eq!(s.patch(&path, &token, json!({"status": "PENDING"})).await.0, StatusCode::CONFLICT);
    let (_, by_encounter) = s.get(&s.sandbox(&format!("/patients/{pid}/encounters/{eid}/invoices")), &token).await;
    assert_eq!(by_encounter["metaInfo"]["totalElements"], 1);
}

#[tokio::test]
async fn subscriptions_charge_a_payment_method_for_their_cycles() {
    let (s, token, pid, uid) = setup().await;
    let methods = s.sandbox(&format!("/patients/{pid}/payment-methods"));
    let (status, card) = s
        .post(
            &methods,
            &token,
            json!({"type": "CARD", "brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2099}),
        )
        .await;
    assert_eq!((status, card["isDefault"].clone()), (StatusCode::CREATED, json!(true)), "{card}");
    assert_eq!(
        s.post(&methods, &token, json!({"type": "CARD", "last4": "4242424242424242", "expMonth": 1, "expYear": 2099}))
            .await
            .1[0]["details"]["field"],
        "last4"
    );
    let (_, second) =
        s.post(&methods, &token, json!({"type": "BANK_ACCOUNT", "last4": "6789", "isDefault": true})).await;
    let (_, list) = s.get(&methods, &token).await;
    let defaults: Vec<&Value> = list["data"].as_array().unwrap().iter().filter(|m| m["isDefault"] == true).collect();
    assert_eq!((defaults.len(), defaults[0]["id"].clone()), (1, second["id"].clone()), "one default at a time");

    let subs = s.sandbox("/payment/subscriptions");
    let body = json!({"name": "Monthly care", "billingPeriod": "MONTHLY", "careMember": {"id": uid}, "patient": {"id": pid},
        "paymentTypeInfo": {"paymentType": "AUTO_CHARGE", "paymentMethodId": card["id"]}, "price": {"amount": 2500, "currency": "USD"},
        "startDate": "2099-01-31", "numberOfCycles": 3});
    let (status, sub) = s.post(&subs, &token, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    assert_eq!(
        (sub["status"].clone(), sub["endDate"].clone(), sub["nextBillingDate"].clone(), sub["price"]["amount"].clone()),
        (json!("ACTIVE"), json!("2099-04-30"), json!("2099-01-31"), json!(2500))
    );
    assert_eq!(sub["careMember"]["name"], "Care Member");
    let mut no_method = body.clone();
    no_method["paymentTypeInfo"] = json!({"paymentType": "AUTO_CHARGE"});
    assert_eq!(s.post(&subs, &token, no_method).await.1[0]["details"]["field"], "paymentTypeInfo.paymentMethodId");
    let mut bad_period = body.clone();
    bad_period["billingPeriod"] = json!("HOURLY");
    assert_eq!(s.post(&subs, &token, bad_period).await.1[0]["details"]["field"], "billingPeriod");
    assert_eq!(
        s.delete(&format!("{methods}/{}", card["id"].as_str().unwrap()), &token).await.0,
        StatusCode::CONFLICT,
        "in use"
    );
    let sid = sub["id"].as_str().unwrap();
    assert_eq!(s.get(&format!("{subs}?patientId={pid}"), &token).await.1["metaInfo"]["totalElements"], 1);
    let (status, cancelled) = s.call(Method::POST, &format!("{subs}/{sid}/cancel"), Some(&token), None).await;
    assert_eq!(
        (status, cancelled["status"].clone(), cancelled["nextBillingDate"].clone()),
        (StatusCode::OK, json!("CANCELLED"), Value::Null)
    );
    assert_eq!(s.call(Method::POST, &format!("{subs}/{sid}/cancel"), Some(&token), None).await.0, StatusCode::CONFLICT);
    assert_eq!(
        s.delete(&format!("{methods}/{}", card["id"].as_str().unwrap()), &token).await,
        (StatusCode::OK, Value::Null)
    );
    assert_eq!(
        error_code(&s.get(&format!("{subs}/{}", uuid::Uuid::new_v4()), &token).await.1),
        "SUBSCRIPTION_NOT_FOUND"
    );
    let (_, audit) = s.get(&format!("/{}/admin/audit-data?entity=SUBSCRIPTION", s.tenant), &token).await;
    assert_eq!(audit["metaInfo"]["totalElements"], 2);
}
