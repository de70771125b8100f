//! Races in billing, SMS, email drafts, unrecognized calls and the emulator's data
//! controls: requests sent at the same moment must give the result of some order of them,
//! never a lost update or a broken invariant (an invoice paid more than its amount, a
//! draft sent twice, a call resolved twice). Each test runs a bounded number of rounds
//! and reports every round that went wrong.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

/// Fails with every round that went wrong, and how many.
fn check(rounds: usize, failures: Vec<String>) {
    assert!(failures.is_empty(), "{} of {rounds} rounds went wrong:\n{}", failures.len(), failures.join("\n"));
}

async fn invoice(s: &Server, token: &str, pid: &str, status: &str) -> String {
    let body = json!({"patientId": pid, "status": status, "dueDate": "2099-01-31",
                      "lineItems": [{"description": "Visit", "unitAmount": "1.00"}]});
    let (status, inv) = s.post(&s.sandbox("/invoices"), token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{inv}");
    id(&inv)
}

#[tokio::test]
async fn six_payments_of_one_dollar_at_once_pay_an_invoice_of_one_dollar_once() {
    let s = Server::start().await;
    let token = s.token().await;
    let pid = id(&s.create_patient(&token, json!({"firstName": "Pay", "lastName": "Once"})).await);
    const INVOICES: usize = 8;
    let mut failures = Vec::new();
    for round in 0..INVOICES {
        let inv = invoice(&s, &token, &pid, "PENDING").await;
        let path = s.sandbox(&format!("/invoices/{inv}/payments"));
        let answers =
            s.all_at_once(Method::POST, &path, &token, vec![json!({"amount": 1.0, "method": "CASH"}); 6]).await;
        let accepted = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
        for (status, body) in answers.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
            // Refusals are client errors in the Welkin format.
            assert!(matches!(status.as_u16(), 400 | 409), "round {round}: {status} {body}");
            error_code(body);
        }
        let (status, read) = s.get(&s.sandbox(&format!("/invoices/{inv}")), &token).await;
        assert_eq!(status, StatusCode::OK, "{read}");
        let payments = read["payments"].as_array().map_or(0, Vec::len);
        if accepted != 1 || read["amountPaid"].as_f64() != Some(1.0) || payments != 1 || read["status"] != "PAID" {
            failures.push(format!(
                "round {round}: {accepted} payments accepted, invoice paid {} in {payments} payments, status {}",
                read["amountPaid"], read["status"]
            ));
        }
    }
    check(INVOICES, failures);
}

#[tokio::test]
async fn two_patches_of_different_fields_of_an_invoice_at_once_keep_both() {
    let s = Server::start().await;
    let token = s.token().await;
    let pid = id(&s.create_patient(&token, json!({"firstName": "Two", "lastName": "Fields"})).await);
    const ROUNDS: usize = 12;
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let inv = invoice(&s, &token, &pid, "DRAFT").await;
        let path = s.sandbox(&format!("/invoices/{inv}"));
        let due = format!("2098-02-{:02}", round + 1);
        let lines = json!([{"description": format!("Lab {round}"), "quantity": 2, "unitAmount": "2.50"}]);
        let ((sa, a), (sb, b)) =
            s.both_at_once(Method::PATCH, &path, &token, json!({"dueDate": due}), json!({"lineItems": lines})).await;
        assert_eq!((sa, sb), (StatusCode::OK, StatusCode::OK), "round {round}: {a} {b}");
        let (_, read) = s.get(&path, &token).await;
        let kept = (read["dueDate"] == json!(due), read["amount"].as_f64() == Some(5.0));
        if kept != (true, true) {
            failures.push(format!(
                "round {round}: dueDate {} (kept: {}), amount {} (kept: {})",
                read["dueDate"], kept.0, read["amount"], kept.1
            ));
        }
    }
    check(ROUNDS, failures);
}

#[tokio::test]
async fn paying_and_voiding_an_invoice_at_once_never_void_a_paid_invoice() {
    let s = Server::start().await;
    let token = s.token().await;
    let pid = id(&s.create_patient(&token, json!({"firstName": "Void", "lastName": "Pay"})).await);
    const ROUNDS: usize = 12;
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let inv = invoice(&s, &token, &pid, "PENDING").await;
        let path = s.sandbox(&format!("/invoices/{inv}"));
        let payments_path = format!("{path}/payments");
        let ((paid, pay_body), (voided, void_body)) = tokio::join!(
            s.post(&payments_path, &token, json!({"amount": "0.50", "method": "CHECK"})),
            s.patch(&path, &token, json!({"status": "VOIDED"})),
        );
        let (_, read) = s.get(&path, &token).await;
        let payments = read["payments"].as_array().map_or(0, Vec::len);
        // One of them wins: voided without payments, or partly paid and not voided.
        let consistent = match (paid, voided) {
            (StatusCode::CREATED, StatusCode::CONFLICT) => read["status"] == "PARTIALLY_PAID" && payments == 1,
            (StatusCode::CONFLICT, StatusCode::OK) => read["status"] == "VOIDED" && payments == 0,
            _ => false,
        };
        if !consistent {
            failures.push(format!(
                "round {round}: payment {paid} {pay_body}, void {voided} {void_body}; invoice {} with {payments} payments",
                read["status"]
            ));
        }
    }
    check(ROUNDS, failures);
}

#[tokio::test]
async fn two_updates_of_a_scheduled_sms_at_once_keep_both_changes() {
    let s = Server::start().await;
    let token = s.token().await;
    let pid =
        id(&s.create_patient(&token, json!({"firstName": "Sms", "lastName": "Race", "phone": "+15625340001"})).await);
    let (status, line) =
        s.post(&s.sandbox("/communication-ids"), &token, json!({"channel": "SMS", "value": "+15625340002"})).await;
    assert_eq!(status, StatusCode::CREATED, "{line}");
    let sms = s.sandbox(&format!("/patients/{pid}/sms"));
    const ROUNDS: usize = 12;
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        // A new scheduled message each round: a sent one can no longer be changed.
        let (status, m) =
            s.post(&sms, &token, json!({"message": "Reminder", "scheduledAt": "2100-01-01T10:00:00.000Z"})).await;
        assert_eq!((status, m["status"].as_str()), (StatusCode::CREATED, Some("SCHEDULED")), "{m}");
        let path = format!("{sms}/{}", id(&m));
        failures.extend(
            s.racing_patches(&path, &token, 1, |_| {
                let text = json!(format!("Reminder {round}: bring your meter"));
                (
                    json!({"starred": true}),
                    json!({"message": text}),
                    vec![("/starred", json!(true)), ("/message", text)],
                )
            })
            .await,
        );
    }
    check(ROUNDS, failures);
}

#[tokio::test]
async fn an_unrecognized_call_resolved_four_times_at_once_is_resolved_once() {
    let s = Server::start().await;
    let token = s.token().await;
    let mut patients = Vec::new();
    for n in 0..4 {
        patients.push(id(&s.create_patient(&token, json!({"firstName": format!("Caller{n}"), "lastName": "X"})).await));
    }
    const ROUNDS: usize = 8;
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let report = json!({"from": "+15556490001", "to": "+15556490002", "status": "COMPLETED", "duration": 5});
        let (status, c) = s.post(&s.sandbox("/providers/calls/inbound"), &token, report).await;
        assert_eq!((status, c["resolutionStatus"].as_str()), (StatusCode::CREATED, Some("PENDING")), "{c}");
        let path = s.sandbox(&format!("/unrecognized-calls/{}", id(&c)));
        let bodies = patients.iter().map(|p| json!({"patientId": p, "status": "RESOLVED"})).collect();
        let answers = s.all_at_once(Method::PATCH, &path, &token, bodies).await;
        let winners: Vec<&Value> =
            answers.iter().filter(|(status, _)| *status == StatusCode::OK).map(|(_, b)| b).collect();
        let refused = answers
            .iter()
            .filter(|(status, body)| *status == StatusCode::CONFLICT && error_code(body) == "CALL_ALREADY_RESOLVED")
            .count();
        let (_, read) = s.get(&path, &token).await;
        let audits = s.get(&format!("/{}/admin/audit-data?entity=CALL&size=1000", s.tenant), &token).await.1["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["eventSubtype"] == "CALL_UPDATED" && a.to_string().contains(&id(&c)))
            .count();
        let ok = winners.len() == 1 && refused == 3 && read["patientId"] == winners[0]["patientId"] && audits == 1;
        if !ok {
            failures.push(format!(
                "round {round}: {} resolutions accepted, {refused} refused, {audits} update audits; the call names {}",
                winners.len(),
                read["patientId"]
            ));
        }
    }
    check(ROUNDS, failures);
}

#[tokio::test]
async fn an_email_draft_sent_four_times_at_once_is_sent_once() {
    let s = Server::start().await;
    let token = s.token().await;
    let (status, user) = s
        .post(
            &format!("/{}/admin/users", s.tenant),
            &token,
            json!({"username": "nsnow", "email": "nsnow@clinic.example.org", "firstName": "Nick", "lastName": "Snow"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let p = s
        .create_patient(
            &token,
            json!({"firstName": "Dra", "lastName": "Ft", "email": "d.ft@example.org",
                   "careTeam": [{"id": id(&user), "pointOfContact": true}]}),
        )
        .await;
    let pid = id(&p);
    let drafts = s.sandbox(&format!("/patients/{pid}/email-drafts"));
    const ROUNDS: usize = 8;
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let subject = format!("Draft {round}");
        let (status, d) = s.post(&drafts, &token, json!({"subject": subject, "body": "Words"})).await;
        assert_eq!(status, StatusCode::CREATED, "{d}");
        let send = format!("{drafts}/{}/send", id(&d));
        let answers = s.all_at_once(Method::POST, &send, &token, vec![json!({}); 4]).await;
        let sent = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
        for (status, body) in answers.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
            assert_eq!(*status, StatusCode::NOT_FOUND, "round {round}: {body}");
            error_code(body);
        }
        let (_, emails) = s
            .get(&s.sandbox(&format!("/patients/{pid}/emails?search={}&size=100", subject.replace(' ', "%20"))), &token)
            .await;
        let stored = emails["content"].as_array().unwrap().iter().filter(|e| e["subject"] == json!(subject)).count();
        if sent != 1 || stored != 1 {
            failures.push(format!("round {round}: {sent} sends accepted, {stored} emails stored"));
        }
    }
    check(ROUNDS, failures);
}

const ADMIN: &str = "emulator-admin-token";

#[tokio::test]
async fn resets_and_restores_of_one_instance_at_once_all_succeed() {
    let s = Server::start_with(&["--no-webhook-worker", "--emulator", "--emulator-token", ADMIN]).await;
    let token = s.token().await;
    let emu = |rest: &str| format!("/_emulator/tenants/{}/instances/sandbox{rest}", s.tenant);
    s.create_patient(&token, json!({"firstName": "Snap", "lastName": "Kept"})).await;
    let (status, saved) = s.call(Method::PUT, &emu("/snapshots/one"), Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    const ROUNDS: usize = 8;
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        // Two resets and a restore of the same instance at once.
        let (reset, restore) = (emu("/reset"), emu("/snapshots/one/restore"));
        let (a, b, c) = tokio::join!(
            s.post(&reset, ADMIN, json!({})),
            s.post(&reset, ADMIN, json!({})),
            s.post(&restore, ADMIN, json!({})),
        );
        let statuses = [a.0, b.0, c.0];
        // The instance is still there and answers; the snapshot is still listed.
        let (listed, _) = s.get(&s.sandbox("/patients"), &token).await;
        let (_, list) = s.get(&emu("/snapshots"), ADMIN).await;
        let snapshots = list["snapshots"].as_array().map_or(0, Vec::len);
        if statuses != [StatusCode::OK; 3] || listed != StatusCode::OK || snapshots != 1 {
            failures.push(format!(
                "round {round}: answers {statuses:?} ({} / {} / {}), patients list {listed}, {snapshots} snapshots",
                a.1, b.1, c.1
            ));
        }
    }
    check(ROUNDS, failures);
    // A last restore alone brings the snapshot's patient back.
    let (status, _) = s.post(&emu("/snapshots/one/restore"), ADMIN, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.count_patients(&token, "Kept").await, 1);
}
