//! Calls over HTTP: the provider route (JSON with a base64 recording, or multipart with a
//! file part), matching by phone, the DOCS shapes of a patient's calls, recordings as
//! downloads, unrecognized calls and their resolution, validation with nothing written,
//! isolation between instances, the policy 403 and the audit rows.

mod common;

use base64::Engine;
use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const PHONE: &str = "+15556491369";
const LINE: &str = "+15556491370";
const STRANGER: &str = "+15556491371";
/// The first bytes of a WAV file: enough for the content check.
const WAV: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00";
const MP3: &[u8] = b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00payload";

async fn setup() -> (Server, String, String) {
    let s = Server::start().await;
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Cal", "lastName": "Ler", "phone": PHONE})).await;
    (s, token, p["id"].as_str().unwrap().to_string())
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect();
    k.sort();
    k
}

fn field(err: &Value) -> String {
    err[0]["details"]["field"].as_str().unwrap_or_default().to_string()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn report(s: &Server, token: &str, body: Value) -> Value {
    let (status, c) = s.post(&s.sandbox("/providers/calls/inbound"), token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c
}

async fn count_unrecognized(s: &Server, token: &str) -> i64 {
    let (status, page) = s.get(&s.sandbox("/unrecognized-calls"), token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["totalElements"].as_i64().unwrap()
}

const FULL_KEYS: [&str; 24] = [
    "calledAt",
    "createdAt",
    "createdBy",
    "createdByName",
    "direction",
    "duration",
    "externalId",
    "fromNumber",
    "hasRecording",
    "id",
    "patientId",
    "recordingContentType",
    "recordingFilename",
    "recordingSize",
    "resolutionStatus",
    "resolvedAt",
    "resolvedBy",
    "status",
    "toNumber",
    "unrecognized",
    "updatedAt",
    "updatedBy",
    "updatedByName",
    "userId",
];

#[tokio::test]
async fn a_matched_call_lists_reads_and_downloads() {
    let (s, token, pid) = setup().await;
    let c = report(
        &s,
        &token,
        json!({"from": PHONE, "to": LINE, "status": "completed", "duration": 245, "externalId": "CA123",
               "calledAt": "2030-01-02T03:04:05.678Z",
               "recording": {"data": b64(WAV), "contentType": "audio/wav", "filename": "intake call.wav"}}),
    )
    .await;
    assert_eq!(keys(&c), FULL_KEYS);
    assert_eq!(
        (c["patientId"].as_str(), c["direction"].as_str(), c["status"].as_str(), c["duration"].as_i64()),
        (Some(pid.as_str()), Some("INBOUND"), Some("COMPLETED"), Some(245))
    );
    assert_eq!((c["hasRecording"].as_bool(), c["unrecognized"].as_bool()), (Some(true), Some(false)));
    assert_eq!(
        (c["calledAt"].as_str(), c["resolutionStatus"].clone()),
        (Some("2030-01-02T03:04:05.678Z"), Value::Null)
    );
    assert_eq!(c["createdByName"], json!(format!("API_CLIENT:{}", s.client)));
    let id = c["id"].as_str().unwrap();

    let (status, page) = s.get(&s.sandbox(&format!("/patients/{pid}/calls")), &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(keys(&page), ["data", "metaInfo"]);
    assert_eq!(page["metaInfo"]["lastPage"], true);
    let item = &page["data"][0];
    assert_eq!(keys(item), ["calledAt", "direction", "duration", "hasRecording", "id", "patientId", "status"]);
    assert_eq!(item["id"], c["id"]);

    let (status, read) = s.get(&s.sandbox(&format!("/patients/{pid}/calls/{id}")), &token).await;
    assert_eq!((status, &read), (StatusCode::OK, &c));

    let resp = s
        .http
        .get(s.url(&s.sandbox(&format!("/patients/{pid}/calls/{id}/recording"))))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "audio/wav");
    assert_eq!(resp.headers()["content-disposition"], "attachment; filename=\"intake call.wav\"");
    assert_eq!(resp.headers()["cache-control"], "no-cache, no-store, max-age=0, must-revalidate");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), WAV, "byte for byte");

    // An outbound call matches the callee; a call without a recording has none to download.
    let out = report(
        &s,
        &token,
        json!({"from": LINE, "to": PHONE, "status": "NO_ANSWER", "direction": "OUTBOUND",
                                        "calledAt": "2030-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!((out["patientId"].as_str(), out["hasRecording"].as_bool()), (Some(pid.as_str()), Some(false)));
    let out_id = out["id"].as_str().unwrap();
    let (status, err) = s.get(&s.sandbox(&format!("/patients/{pid}/calls/{out_id}/recording")), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "CALL_RECORDING_NOT_FOUND"));

    // Newest first, filtered by time, paged.
    let list = s.sandbox(&format!("/patients/{pid}/calls"));
    let ids = |p: &Value| {
        p["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&s.get(&list, &token).await.1), [id.to_string(), out_id.to_string()]);
    let (_, after) = s.get(&format!("{list}?startDate=2030-01-02T00:00:00Z"), &token).await;
    assert_eq!(ids(&after), [id.to_string()]);
    let (_, before) = s.get(&format!("{list}?endDate=2030-01-01T12:00:00Z"), &token).await;
    assert_eq!(ids(&before), [out_id.to_string()]);
    let (_, paged) = s.get(&format!("{list}?size=1&page=1"), &token).await;
    assert_eq!((ids(&paged), paged["metaInfo"]["lastPage"].as_bool()), (vec![out_id.to_string()], Some(true)));
    let (status, err) = s.get(&format!("{list}?startDate=yesterday"), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"));

    // A call of another patient is not found under this one.
    let other = s.create_patient(&token, json!({"firstName": "Oth", "lastName": "Er"})).await;
    let oid = other["id"].as_str().unwrap();
    let (status, err) = s.get(&s.sandbox(&format!("/patients/{oid}/calls/{id}")), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "CALL_NOT_FOUND"));
    assert_eq!(
        s.get(&s.sandbox(&format!("/patients/{oid}/calls/{id}/recording")), &token).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, err) = s.get(&s.sandbox(&format!("/patients/{}/calls", uuid::Uuid::new_v4())), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND"));
}

#[tokio::test]
async fn unrecognized_calls_are_listed_and_resolved_to_a_patient() {
    let (s, token, pid) = setup().await;
    let c = report(
        &s,
        &token,
        json!({"from": STRANGER, "to": LINE, "status": "COMPLETED", "duration": 30,
                                      "recording": {"data": b64(MP3)}}),
    )
    .await;
    assert_eq!(
        (c["patientId"].clone(), c["unrecognized"].as_bool(), c["resolutionStatus"].as_str()),
        (Value::Null, Some(true), Some("PENDING"))
    );
    assert_eq!(
        (c["recordingContentType"].as_str(), c["recordingFilename"].as_str()),
        (Some("audio/mpeg"), Some("call-recording.mp3"))
    );
    let id = c["id"].as_str().unwrap();

    let (status, page) = s.get(&s.sandbox("/unrecognized-calls"), &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(keys(&page), ["content", "last", "page", "size", "totalElements", "totalPages"]);
    assert_eq!(
        (page["totalElements"].as_i64(), page["totalPages"].as_i64(), page["last"].as_bool()),
        (Some(1), Some(1), Some(true))
    );
    let item = &page["content"][0];
    for k in ["id", "fromNumber", "toNumber", "duration", "receivedAt", "status", "resolvedBy", "patientId"] {
        assert!(item.get(k).is_some(), "item lacks {k}: {item}");
    }
    assert_eq!(
        (item["fromNumber"].as_str(), item["toNumber"].as_str(), item["status"].as_str()),
        (Some(STRANGER), Some(LINE), Some("PENDING"))
    );
    assert_eq!((item["resolvedBy"].clone(), item["patientId"].clone()), (Value::Null, Value::Null));
    assert_eq!(s.get(&s.sandbox(&format!("/unrecognized-calls/{id}")), &token).await.1, *item);
    assert_eq!(s.get(&s.sandbox("/unrecognized-calls?status=RESOLVED"), &token).await.1["totalElements"], 0);
    assert_eq!(s.get(&s.sandbox("/unrecognized-calls?status=pending"), &token).await.1["totalElements"], 1);
    assert_eq!(s.get(&s.sandbox("/unrecognized-calls?status=LOST"), &token).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.get(&s.sandbox(&format!("/patients/{pid}/calls")), &token).await.1["data"], json!([]));

    // Refused resolutions change nothing.
    let url = s.sandbox(&format!("/unrecognized-calls/{id}"));
    let ghost = uuid::Uuid::new_v4().to_string();
    for (body, f) in [
        (json!({"patientId": pid, "status": "PENDING"}), "status"),
        (json!({"patientId": pid}), "status"),
        (json!({"status": "RESOLVED"}), "patientId"),
        (json!({"patientId": ghost, "status": "RESOLVED"}), "patientId"),
        (json!({"patientId": pid, "status": "RESOLVED", "note": "x"}), "note"),
    ] {
        let (status, err) = s.patch(&url, &token, body).await;
        assert_eq!(
            (status, error_code(&err).as_str(), field(&err)),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR", f.to_string())
        );
    }
    assert_eq!(s.get(&url, &token).await.1["status"], "PENDING", "nothing was written");

    let (status, resolved) = s.patch(&url, &token, json!({"patientId": pid, "status": "RESOLVED"})).await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!((resolved["status"].as_str(), resolved["patientId"].as_str()), (Some("RESOLVED"), Some(pid.as_str())));
    assert!(resolved["resolvedBy"].as_str().is_some_and(|id| id.len() == 36), "{resolved}");
    assert_eq!(resolved["resolvedByName"], json!(format!("API_CLIENT:{}", s.client)));
    // Now it is the patient's call, with its recording.
    let (_, calls) = s.get(&s.sandbox(&format!("/patients/{pid}/calls")), &token).await;
    assert_eq!(calls["data"][0]["id"], json!(id));
    let (status, full) = s.get(&s.sandbox(&format!("/patients/{pid}/calls/{id}")), &token).await;
    assert_eq!((status, full["resolutionStatus"].as_str()), (StatusCode::OK, Some("RESOLVED")));
    let resp = s
        .http
        .get(s.url(&s.sandbox(&format!("/patients/{pid}/calls/{id}/recording"))))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!((resp.status(), resp.headers()["content-type"].to_str().unwrap()), (StatusCode::OK, "audio/mpeg"));
    assert_eq!(resp.headers()["content-disposition"], "attachment; filename=\"call-recording.mp3\"");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), MP3);
    // It stays in the unrecognized list as RESOLVED, and cannot be resolved twice.
    assert_eq!(s.get(&s.sandbox("/unrecognized-calls?status=RESOLVED"), &token).await.1["totalElements"], 1);
    let (status, err) = s.patch(&url, &token, json!({"patientId": pid, "status": "RESOLVED"})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::CONFLICT, "CALL_ALREADY_RESOLVED"));
    // A matched call is not an unrecognized one.
    let matched = report(&s, &token, json!({"from": PHONE, "to": LINE, "status": "BUSY"})).await;
    let (status, err) =
        s.get(&s.sandbox(&format!("/unrecognized-calls/{}", matched["id"].as_str().unwrap())), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "CALL_NOT_FOUND"));

    // Two patients with the caller's number: ambiguous, so unrecognized.
    s.create_patient(&token, json!({"firstName": "Twin", "lastName": "One", "phone": "+15556491372"})).await;
    s.create_patient(&token, json!({"firstName": "Twin", "lastName": "Two", "phone": "+15556491372"})).await;
    let twin = report(&s, &token, json!({"from": "+15556491372", "to": LINE, "status": "MISSED"})).await;
    assert_eq!(twin["resolutionStatus"], "PENDING");

    // Audit: created (twice unrecognized, once matched…) and the resolution.
    let (_, audit) = s.get(&format!("/{}/admin/audit-data?entity=CALL", s.tenant), &token).await;
    let rows: Vec<&Value> =
        audit["data"].as_array().unwrap().iter().filter(|r| r["record"]["id"] == json!(id)).collect();
    let mut events: Vec<&str> = rows.iter().map(|r| r["eventSubtype"].as_str().unwrap()).collect();
    events.sort();
    assert_eq!(events, ["CALL_CREATED", "CALL_UPDATED"], "{audit}");
    let updated = rows.iter().find(|r| r["eventSubtype"] == "CALL_UPDATED").unwrap();
    assert_eq!(updated["patientId"], json!(pid));
}

#[tokio::test]
async fn reports_are_validated_with_nothing_written() {
    let (s, token, _) = setup().await;
    let url = s.sandbox("/providers/calls/inbound");
    let base = json!({"from": STRANGER, "to": LINE, "status": "COMPLETED"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let ghost = uuid::Uuid::new_v4().to_string();
    for (body, f) in [
        (json!({"to": LINE, "status": "COMPLETED"}), "from"),
        (with("from", json!("0403211111")), "from"),
        (with("to", json!(null)), "to"),
        (json!({"from": STRANGER, "to": LINE}), "status"),
        (with("status", json!("EXPLODED")), "status"),
        (with("direction", json!("SIDEWAYS")), "direction"),
        (with("duration", json!(-5)), "duration"),
        (with("calledAt", json!("noon")), "calledAt"),
        (with("patientId", json!(ghost)), "patientId"),
        (with("userId", json!(ghost)), "userId"),
        (with("recording", json!({"data": "%%%"})), "recording.data"),
        (with("recording", json!({"data": b64(b"%PDF-1.7 not audio")})), "recording.data"),
        (with("recording", json!({"data": b64(WAV), "contentType": "audio/mpeg"})), "recording.contentType"),
        (with("recording", json!({"data": b64(WAV), "contentType": "video/mp4"})), "recording.contentType"),
        (with("recording", json!({"data": b64(WAV), "size": 3})), "recording.size"),
        (with("colour", json!("red")), "colour"),
    ] {
        let (status, err) = s.post(&url, &token, body.clone()).await;
        assert_eq!(
            (status, error_code(&err).as_str(), field(&err)),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR", f.to_string()),
            "{body}"
        );
        assert_eq!(err[0]["componentType"], "CALL");
    }
    let (status, err) = s.call(Method::POST, &url, Some(&token), None).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "MALFORMED_JSON"));
    assert_eq!(count_unrecognized(&s, &token).await, 0, "nothing was written");
}

fn multipart(boundary: &str, fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    if let Some((name, ctype, bytes)) = file {
        out.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"recording\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n")
                .as_bytes(),
        );
        out.extend(bytes);
        out.extend(b"\r\n");
    }
    out.extend(format!("--{boundary}--\r\n").as_bytes());
    out
}

#[tokio::test]
async fn recordings_arrive_as_multipart_too() {
    let (s, token, pid) = setup().await;
    let url = s.url(&s.sandbox("/providers/calls/inbound"));
    let fields = [("from", PHONE), ("to", LINE), ("status", "COMPLETED"), ("duration", "61")];
    let body = multipart("XyZ", &fields, Some(("voicemail.mp3", "audio/mpeg", MP3)));
    let resp = s
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let c: Value = resp.json().await.unwrap();
    assert_eq!(
        (c["patientId"].as_str(), c["duration"].as_i64(), c["recordingFilename"].as_str()),
        (Some(pid.as_str()), Some(61), Some("voicemail.mp3"))
    );
    let id = c["id"].as_str().unwrap();
    let resp = s
        .http
        .get(s.url(&s.sandbox(&format!("/patients/{pid}/calls/{id}/recording"))))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "audio/mpeg");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), MP3);

    // A file that is not audio, declared as audio, is refused.
    let body = multipart("XyZ", &fields, Some(("fake.mp3", "audio/mpeg", b"<html>not audio</html>")));
    let resp = s
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(field(&err), "recording");
    let (_, calls) = s.get(&s.sandbox(&format!("/patients/{pid}/calls")), &token).await;
    assert_eq!(calls["metaInfo"]["totalElements"], 1, "nothing more was written");
}

#[tokio::test]
async fn instances_are_isolated_and_policies_apply() {
    let (s, token, pid) = setup().await;
    let c = report(&s, &token, json!({"from": PHONE, "to": LINE, "status": "COMPLETED"})).await;
    let id = c["id"].as_str().unwrap();
    let u = report(&s, &token, json!({"from": STRANGER, "to": LINE, "status": "COMPLETED"})).await;
    let uid = u["id"].as_str().unwrap();
    let live = |p: &str| format!("/{}/live{p}", s.tenant);
    // The same number in live is another patient's; sandbox calls are not there.
    let lp = s.post(&live("/patients"), &token, json!({"firstName": "Li", "lastName": "Ve", "phone": PHONE})).await.1;
    let lpid = lp["id"].as_str().unwrap();
    assert_eq!(s.get(&live(&format!("/patients/{lpid}/calls")), &token).await.1["data"], json!([]));
    assert_eq!(s.get(&live(&format!("/patients/{lpid}/calls/{id}")), &token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&live("/unrecognized-calls"), &token).await.1["totalElements"], 0);
    assert_eq!(s.get(&live(&format!("/unrecognized-calls/{uid}")), &token).await.0, StatusCode::NOT_FOUND);
    let (status, err) = s
        .patch(&live(&format!("/unrecognized-calls/{uid}")), &token, json!({"patientId": lpid, "status": "RESOLVED"}))
        .await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "CALL_NOT_FOUND"));
    // A sandbox call cannot be given to a live patient.
    let (status, err) = s
        .patch(
            &s.sandbox(&format!("/unrecognized-calls/{uid}")),
            &token,
            json!({"patientId": lpid, "status": "RESOLVED"}),
        )
        .await;
    assert_eq!((status, field(&err)), (StatusCode::BAD_REQUEST, "patientId".to_string()));

    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let none = s.token_for(&name, &secret).await;
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"calls": ["read"]}}), None);
    let reader = s.token_for(&name, &secret).await;
    assert_eq!(s.get(&s.sandbox(&format!("/patients/{pid}/calls/{id}")), &reader).await.0, StatusCode::OK);
    for (method, path, body) in [
        (Method::GET, format!("/patients/{pid}/calls"), None),
        (Method::GET, format!("/patients/{pid}/calls/{id}"), None),
        (Method::GET, format!("/patients/{pid}/calls/{id}/recording"), None),
        (Method::GET, "/unrecognized-calls".to_string(), None),
        (Method::GET, format!("/unrecognized-calls/{uid}"), None),
        (Method::PATCH, format!("/unrecognized-calls/{uid}"), Some(json!({"patientId": pid, "status": "RESOLVED"}))),
        (
            Method::POST,
            "/providers/calls/inbound".to_string(),
            Some(json!({"from": PHONE, "to": LINE, "status": "BUSY"})),
        ),
    ] {
        let (status, err) = s.call(method.clone(), &s.sandbox(&path), Some(&none), body.clone()).await;
        assert_eq!(
            (status, error_code(&err).as_str()),
            (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"),
            "{path}"
        );
        if method != Method::GET {
            assert_eq!(s.call(method, &s.sandbox(&path), Some(&reader), body).await.0, StatusCode::FORBIDDEN, "{path}");
        }
    }
    assert_eq!(s.get(&s.sandbox(&format!("/unrecognized-calls/{uid}")), &token).await.1["status"], "PENDING");
    assert_eq!(s.get(&s.sandbox(&format!("/patients/{pid}/calls")), &token).await.1["metaInfo"]["totalElements"], 1);

    // A patient with calls can be deleted.
    assert_eq!(s.delete(&s.sandbox(&format!("/patients/{pid}")), &token).await.0, StatusCode::OK);
}
