//! Faxes: a document of some pages sent from or received by the instance's fax line.
//! Welkin released fax endpoints in 2026 without publishing their shapes, so the record is
//! openwelkin's design in Welkin's conventions (camelCase, audit fields, E.164 numbers).
//!
//! An `OUTBOUND` fax is a `DRAFT` until it is sent (`"send": true` when it is created or
//! by a PATCH), then `SENT`; a draft may be edited, a sent fax only assigned to a patient
//! and reviewed. An `INBOUND` fax is `RECEIVED` and starts unreviewed; staff assign it to
//! a patient and mark it `reviewed`.

use super::fields::{self, reject_unknown};
use super::FieldError;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

pub const OUTBOUND: &str = "OUTBOUND";
pub const INBOUND: &str = "INBOUND";
pub const TYPES: &[&str] = &[OUTBOUND, INBOUND];
pub const DRAFT: &str = "DRAFT";
pub const SENT: &str = "SENT";
pub const RECEIVED: &str = "RECEIVED";
pub const STATUSES: &[&str] = &[DRAFT, SENT, RECEIVED];

/// Most pages one fax may have.
pub const MAX_PAGES: i64 = 1000;

/// Fields a create may give; `send` and the type-specific ones are checked below.
const CREATE_FIELDS: &[&str] =
    &["type", "receiver", "sender", "subject", "notes", "patientId", "pages", "send", "receivedAt", "reviewed"];
/// Fields a PATCH may give.
const UPDATE_FIELDS: &[&str] = &["receiver", "sender", "subject", "notes", "patientId", "pages", "send", "reviewed"];
/// What only a draft may still change.
const DRAFT_ONLY: &[&str] = &["receiver", "sender", "subject", "notes", "pages"];
const READ_ONLY: &[&str] =
    &["id", "status", "sentAt", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdByName", "updatedByName"];

/// The create body, for the OpenAPI document.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct FaxWrite {
    /// `OUTBOUND` (default) or `INBOUND` (a fax the line received).
    #[serde(rename = "type")]
    fax_type: Option<String>,
    /// The number the fax goes to (E.164); required to send.
    receiver: Option<String>,
    /// The number it came from (E.164); required for an inbound fax.
    sender: Option<String>,
    subject: Option<String>,
    notes: Option<String>,
    patient_id: Option<String>,
    /// 1 to 1000; required to send and for an inbound fax.
    pages: Option<i64>,
    /// Outbound only: send at once instead of keeping a draft.
    send: Option<bool>,
    /// Inbound only: when it arrived (ISO-8601; default now).
    received_at: Option<String>,
    reviewed: Option<bool>,
}

/// The change body (`PATCH`), for the OpenAPI document: content only while a draft.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"patientId": "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab", "reviewed": true}))]
#[allow(dead_code)]
pub struct FaxUpdate {
    /// Drafts only: the number the fax goes to (E.164).
    receiver: Option<String>,
    /// Drafts only.
    sender: Option<String>,
    /// Drafts only.
    subject: Option<String>,
    /// Drafts only.
    notes: Option<String>,
    /// Assigns the fax to a patient.
    #[schema(format = Uuid)]
    patient_id: Option<String>,
    /// Drafts only: 1 to 1000.
    #[schema(minimum = 1, maximum = 1000)]
    pages: Option<i64>,
    /// `true` sends a draft (it needs a receiver and pages).
    send: Option<bool>,
    reviewed: Option<bool>,
}

/// What a change asks for besides field values.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// The fax is to be sent now.
    pub send: bool,
    /// The patient id the fax is assigned to, when the body names one (to check it exists).
    pub patient_id: Option<String>,
}

/// A new fax with every key present.
pub fn blank(id: &str, now: &str, actor_id: &str, actor_name: &str) -> Value {
    json!({
        "id": id, "type": OUTBOUND, "status": DRAFT, "receiver": null, "sender": null, "subject": null,
        "notes": null, "patientId": null, "pages": 0, "reviewed": false, "sentAt": null, "receivedAt": null,
        "createdAt": now, "updatedAt": now, "createdBy": actor_id, "updatedBy": actor_id,
        "createdByName": actor_name, "updatedByName": actor_name,
    })
}

fn pages(value: &Value) -> Result<i64, FieldError> {
    match value.as_i64() {
        Some(n) if (1..=MAX_PAGES).contains(&n) => Ok(n),
        _ => Err(FieldError::new("pages", format!("must be a whole number from 1 to {MAX_PAGES}"))),
    }
}

fn set_fields(fax: &mut Value, body: &Map<String, Value>) -> Result<Change, FieldError> {
    let mut change = Change::default();
    for (k, v) in body {
        match k.as_str() {
            "receiver" | "sender" => fax[k] = json!(fields::opt_phone(k, v)?),
            "subject" | "notes" => fax[k] = json!(fields::opt_text(k, v)?),
            "patientId" => {
                let id = fields::opt_uuid(k, v)?;
                change.patient_id = id.clone();
                fax[k] = json!(id);
            }
            "pages" => fax[k] = json!(pages(v)?),
            "reviewed" => fax[k] = json!(fields::boolean(k, v)?),
            "send" => change.send = fields::boolean(k, v)?,
            _ => {}
        }
    }
    Ok(change)
}

/// Checks that an outbound fax can be sent and marks it sent at `now`.
fn send(fax: &mut Value, now: &str) -> Result<(), FieldError> {
    if fax["receiver"].is_null() {
        return Err(FieldError::new("receiver", "is required to send a fax"));
    }
    if fax["pages"].as_i64().unwrap_or(0) < 1 {
        return Err(FieldError::new("pages", "is required to send a fax"));
    }
    fax["status"] = json!(SENT);
    fax["sentAt"] = json!(now);
    Ok(())
}

/// Applies a create body to a `blank` fax (`now` is the current time, ISO-8601).
pub fn create(fax: &mut Value, body: &Map<String, Value>, now: &str) -> Result<Change, FieldError> {
    reject_unknown(body, CREATE_FIELDS, READ_ONLY)?;
    let fax_type = match body.get("type") {
        None | Some(Value::Null) => OUTBOUND.to_string(),
        Some(v) => fields::one_of("type", v, TYPES)?,
    };
    fax["type"] = json!(fax_type);
    let change = set_fields(fax, body)?;
    if fax_type == INBOUND {
        if body.contains_key("send") {
            return Err(FieldError::new("send", "only an outbound fax is sent"));
        }
        if fax["sender"].is_null() {
            return Err(FieldError::new("sender", "is required for an inbound fax"));
        }
        pages(body.get("pages").unwrap_or(&Value::Null))?;
        let received = match body.get("receivedAt") {
            None | Some(Value::Null) => now.to_string(),
            Some(v) => crate::time::parse_datetime(&fields::text("receivedAt", v)?)
                .map(|t| crate::time::format_ms(t.timestamp_millis()))
                .ok_or_else(|| FieldError::new("receivedAt", "must be an ISO-8601 time"))?,
        };
        fax["status"] = json!(RECEIVED);
        fax["receivedAt"] = json!(received);
    } else {
        if body.contains_key("receivedAt") {
            return Err(FieldError::new("receivedAt", "only an inbound fax is received"));
        }
        if change.send {
            send(fax, now)?;
        }
    }
    Ok(change)
}

/// Applies a PATCH body. A sent or received fax keeps its content; only its patient and
/// `reviewed` change. Returns `Err` with the offending field.
pub fn update(fax: &mut Value, body: &Map<String, Value>, now: &str) -> Result<Change, FieldError> {
    reject_unknown(body, UPDATE_FIELDS, &[READ_ONLY, &["type", "receivedAt"]].concat())?;
    let draft = fax["status"] == DRAFT;
    if !draft {
        if let Some(k) = DRAFT_ONLY.iter().find(|k| body.contains_key(**k)) {
            return Err(FieldError::new(
                *k,
                format!("cannot change once the fax is {}", fax["status"].as_str().unwrap_or("")),
            ));
        }
        if body.get("send").is_some_and(|v| v == &json!(true)) {
            return Err(FieldError::new("send", "the fax is not a draft"));
        }
    }
    let change = set_fields(fax, body)?;
    if change.send {
        send(fax, now)?;
    }
    Ok(change)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-05-01T10:00:00.000Z";

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn created(v: Value) -> Result<Value, FieldError> {
        let mut fax = blank("f1", NOW, "u", "n");
        create(&mut fax, &body(v), NOW).map(|_| fax)
    }

    #[test]
    fn outbound_faxes_are_drafts_until_sent() {
        let draft = created(json!({"receiver": "+15625345699", "subject": "Referral"})).unwrap();
        assert_eq!((draft["status"].as_str(), draft["sentAt"].is_null()), (Some(DRAFT), true));
        let sent = created(json!({"receiver": "+15625345699", "pages": 3, "send": true})).unwrap();
        assert_eq!((sent["status"].as_str(), sent["sentAt"].as_str()), (Some(SENT), Some(NOW)));
        for (b, field) in [
            (json!({"pages": 3, "send": true}), "receiver"),
            (json!({"receiver": "+15625345699", "send": true}), "pages"),
            (json!({"receiver": "555"}), "receiver"),
            (json!({"pages": 0}), "pages"),
            (json!({"pages": 2.5}), "pages"),
            (json!({"type": "SIDEWAYS"}), "type"),
            (json!({"status": "SENT"}), "status"),
            (json!({"receivedAt": NOW}), "receivedAt"),
            (json!({"colour": "red"}), "colour"),
            (json!({"patientId": "not-a-uuid"}), "patientId"),
        ] {
            assert_eq!(created(b.clone()).unwrap_err().field, field, "{b}");
        }
    }

    #[test]
    fn inbound_faxes_are_received_unreviewed() {
        let fax = created(json!({"type": "INBOUND", "sender": "+15625345699", "pages": 2})).unwrap();
        assert_eq!((fax["status"].as_str(), fax["reviewed"].as_bool()), (Some(RECEIVED), Some(false)));
        assert_eq!(fax["receivedAt"], NOW);
        assert_eq!(created(json!({"type": "INBOUND", "pages": 2})).unwrap_err().field, "sender");
        assert_eq!(created(json!({"type": "INBOUND", "sender": "+15625345699"})).unwrap_err().field, "pages");
        assert_eq!(
            created(json!({"type": "INBOUND", "sender": "+15625345699", "pages": 1, "send": true})).unwrap_err().field,
            "send"
        );
    }

    #[test]
    fn only_drafts_change_content() {
        let mut fax = created(json!({"receiver": "+15625345699"})).unwrap();
        update(&mut fax, &body(json!({"subject": "Labs", "pages": 4})), NOW).unwrap();
        let change = update(&mut fax, &body(json!({"send": true})), NOW).unwrap();
        assert!(change.send);
        assert_eq!(fax["status"], SENT);
        assert_eq!(update(&mut fax, &body(json!({"subject": "x"})), NOW).unwrap_err().field, "subject");
        assert_eq!(update(&mut fax, &body(json!({"send": true})), NOW).unwrap_err().field, "send");
        assert_eq!(update(&mut fax, &body(json!({"type": "INBOUND"})), NOW).unwrap_err().field, "type");
        update(&mut fax, &body(json!({"reviewed": true})), NOW).unwrap();
        assert_eq!(fax["reviewed"], true);
    }
}
