//! Chat (in-app messages) between a patient and the care team: the stored message, its
//! two wire shapes (Welkin's `{sender, message, externalId, createdAt}` and the DOCS
//! `{id, patientId, sender, body, sentAt, readAt}`), the request bodies, and the opaque
//! page tokens of the token-paged lists.

use super::fields::reject_unknown;
use super::FieldError;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Longest message accepted, in characters.
pub const MAX_MESSAGE: usize = 10_000;

pub const PATIENT: &str = "PATIENT";
pub const USER: &str = "USER";
pub const API_CLIENT: &str = "API_CLIENT";

/// One message as stored. `sender_type` is `PATIENT` (inbound), `USER` or `API_CLIENT`
/// (from the care team to the patient).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    pub external_id: String,
    pub patient_id: String,
    pub sender_type: String,
    pub sender_id: String,
    /// The sender's display name (a user's "First Last"; `API_CLIENT:<name>`); null for
    /// patients, as recorded.
    pub sender_name: Option<String>,
    pub message: String,
    pub attachment_id: Option<String>,
    pub created_at_ms: i64,
    pub archived: bool,
}

/// `IM` and 32 hex digits, like Welkin's (Twilio Conversations) message ids.
pub fn new_external_id() -> String {
    format!("IM{}", uuid::Uuid::new_v4().simple())
}

fn party(client_type: &str, id: &str, title_name: Option<&str>, patient_full_name: Option<&str>) -> Value {
    json!({"clientType": client_type, "id": id, "titleName": title_name, "patientFullName": patient_full_name})
}

/// `createdAt` as the conversation list and the inbound answer show it: whole seconds
/// (`2022-08-01T20:59:15.000Z`), while search results carry milliseconds.
fn seconds(ms: i64) -> String {
    crate::time::format_ms(ms - ms.rem_euclid(1000))
}

impl Message {
    /// A new message from the patient `patient_id` to the care team.
    pub fn from_patient(patient_id: &str, text: String, now_ms: i64) -> Message {
        Message {
            id: crate::ids::new_id(),
            external_id: new_external_id(),
            patient_id: patient_id.to_string(),
            sender_type: PATIENT.into(),
            sender_id: patient_id.to_string(),
            sender_name: None,
            message: text,
            attachment_id: None,
            created_at_ms: now_ms,
            archived: false,
        }
    }

    fn sender(&self, patient_full_name: Option<&str>) -> Value {
        let full = if self.sender_type == PATIENT { patient_full_name } else { None };
        party(&self.sender_type, &self.sender_id, self.sender_name.as_deref(), full)
    }

    /// In a conversation page (and, with the patient's name, as the inbound answer).
    pub fn listed(&self, patient_full_name: Option<&str>) -> Value {
        json!({
            "sender": self.sender(patient_full_name),
            "message": self.message,
            "externalId": self.external_id,
            "createdAt": seconds(self.created_at_ms),
        })
    }

    /// In a search hit: milliseconds, and the receiver of a care-team message.
    pub fn searched(&self) -> Value {
        let mut v = json!({"sender": self.sender(None)});
        if self.sender_type != PATIENT {
            v["receiver"] = party(PATIENT, &self.patient_id, None, None);
        }
        v["message"] = json!(self.message);
        v["externalId"] = json!(self.external_id);
        v["createdAt"] = json!(crate::time::format_ms(self.created_at_ms));
        v
    }

    /// The DOCS shape (`/chat/messages`).
    pub fn docs(&self) -> Value {
        json!({
            "id": self.id,
            "patientId": self.patient_id,
            "sender": self.sender_type,
            "senderId": self.sender_id,
            "senderName": self.sender_name,
            "body": self.message,
            "attachmentId": self.attachment_id,
            "externalId": self.external_id,
            "sentAt": crate::time::format_ms(self.created_at_ms),
            "readAt": null,
        })
    }

    /// The record written to the audit trail.
    pub fn audit_record(&self) -> Value {
        let mut v = self.docs();
        v["createdAt"] = v["sentAt"].clone();
        v
    }
}

fn message_text(field: &str, value: &Value) -> Result<String, FieldError> {
    match value {
        Value::String(s) if s.trim().is_empty() => Err(FieldError::new(field, "must not be blank")),
        Value::String(s) if s.chars().count() > MAX_MESSAGE => {
            Err(FieldError::new(field, format!("must be at most {MAX_MESSAGE} characters")))
        }
        Value::String(s) => Ok(s.clone()),
        Value::Null => Err(FieldError::new(field, "must not be null")),
        _ => Err(FieldError::new(field, "must be a string")),
    }
}

/// `POST …/chat/inbound`: `{message}`.
pub fn parse_inbound(body: &Map<String, Value>) -> Result<String, FieldError> {
    reject_unknown(body, &["message"], &[])?;
    message_text("message", body.get("message").ok_or_else(|| FieldError::new("message", "is required"))?)
}

/// A care-team message: `body` (or `message`), `attachmentId`, `senderId` (a user).
#[derive(Debug, Default, PartialEq)]
pub struct Outbound {
    pub text: String,
    pub attachment_id: Option<String>,
    pub sender_id: Option<String>,
}

pub fn parse_outbound(body: &Map<String, Value>) -> Result<Outbound, FieldError> {
    reject_unknown(body, &["body", "message", "attachmentId", "senderId"], &["id", "patientId", "sentAt", "readAt"])?;
    if body.contains_key("body") && body.contains_key("message") {
        return Err(FieldError::new("message", "give either body or message, not both"));
    }
    let (key, value) = match (body.get("body"), body.get("message")) {
        (Some(v), _) => ("body", v),
        (None, Some(v)) => ("message", v),
        (None, None) => return Err(FieldError::new("body", "is required")),
    };
    let text = message_text(key, value)?;
    let attachment_id = super::fields::opt_uuid("attachmentId", body.get("attachmentId").unwrap_or(&Value::Null))?;
    let sender_id = super::fields::opt_uuid("senderId", body.get("senderId").unwrap_or(&Value::Null))?;
    Ok(Outbound { text, attachment_id, sender_id })
}

pub const LOCAL_FIND: &str = "LOCAL_FIND";
pub const LOCAL_SEARCH: &str = "LOCAL_SEARCH";

/// The opaque page token: base64 of a JSON object such as
/// `{"type":"LOCAL_FIND","pageSize":20,"borderDate":"…","before":true}`. `before` pages
/// go to older messages than the border, the others to newer ones; the border message
/// itself is never on the page. The keys after `before` are this server's additions:
/// the border's id (to split messages of the same millisecond), and the options a
/// client drops on follow-up requests (it sends only `pageToken`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PageToken {
    #[serde(rename = "type")]
    pub kind: String,
    pub page_size: i64,
    pub border_date: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query: Option<String>,
    pub before: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub border_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_page_size: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub include_archived: bool,
}

impl PageToken {
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(self).expect("tokens serialize"))
    }

    /// Reads a token; `+` turned into a space by a client that did not encode it is
    /// tolerated, and URL-safe base64 too.
    pub fn decode(text: &str) -> Option<PageToken> {
        let text = text.trim().replace(' ', "+");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&text)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&text))
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim_end_matches('=')))
            .ok()?;
        let token: PageToken = serde_json::from_slice(&bytes).ok()?;
        crate::time::parse_datetime(&token.border_date)?;
        if token.page_size < 1 {
            return None;
        }
        Some(token)
    }

    pub fn border_ms(&self) -> i64 {
        crate::time::parse_datetime(&self.border_date).map(|t| t.timestamp_millis()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(sender_type: &str) -> Message {
        Message {
            id: "m1".into(),
            external_id: "IMabc".into(),
            patient_id: "p1".into(),
            sender_type: sender_type.into(),
            sender_id: if sender_type == PATIENT { "p1".into() } else { "u1".into() },
            sender_name: if sender_type == PATIENT { None } else { Some("Sam Morgan".into()) },
            message: "Hello".into(),
            attachment_id: None,
            created_at_ms: 1_659_387_239_106,
            archived: false,
        }
    }

    #[test]
    fn messages_render_as_recorded() {
        let m = msg(PATIENT);
        let listed = m.listed(Some("Testy McTesterson"));
        assert_eq!(listed["createdAt"], "2022-08-01T20:53:59.000Z");
        assert_eq!(listed["sender"]["patientFullName"], "Testy McTesterson");
        assert_eq!(
            listed.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["createdAt", "externalId", "message", "sender"]
        );
        let hit = m.searched();
        assert_eq!(hit["createdAt"], "2022-08-01T20:53:59.106Z");
        assert!(hit.get("receiver").is_none(), "a patient's message has no receiver");
        let hit = msg(USER).searched();
        assert_eq!(
            hit["receiver"],
            json!({"clientType": "PATIENT", "id": "p1", "titleName": null, "patientFullName": null})
        );
        assert_eq!(hit["sender"]["titleName"], "Sam Morgan");
        assert_eq!(msg(USER).listed(Some("x"))["sender"]["patientFullName"], Value::Null);
    }

    #[test]
    fn tokens_round_trip_and_read_the_recorded_ones() {
        let recorded = "eyJ0eXBlIjoiTE9DQUxfRklORCIsInBhZ2VTaXplIjoyMCwiYm9yZGVyRGF0ZSI6IjIwMjItMDgtMDFUMjA6NTM6NTkuMTA2WiIsImJlZm9yZSI6dHJ1ZX0=";
        let t = PageToken::decode(recorded).unwrap();
        assert_eq!((t.kind.as_str(), t.page_size, t.before), (LOCAL_FIND, 20, true));
        assert_eq!(t.border_ms(), 1_659_387_239_106);
        assert_eq!(t.encode(), recorded, "the same JSON, key for key");
        let mine = PageToken { border_id: Some("x".into()), include_archived: true, ..t };
        assert_eq!(PageToken::decode(&mine.encode()).unwrap(), mine);
        assert_eq!(PageToken::decode(&mine.encode().replace('+', " ")).unwrap(), mine);
        assert!(PageToken::decode("not a token").is_none());
        assert!(PageToken::decode("e30=").is_none(), "{{}} is no token");
    }

    #[test]
    fn bodies_are_checked_field_by_field() {
        let ok = |v: Value| parse_outbound(v.as_object().unwrap());
        assert_eq!(ok(json!({"body": "hi"})).unwrap().text, "hi");
        assert_eq!(ok(json!({"message": "hi"})).unwrap().text, "hi");
        assert_eq!(ok(json!({})).unwrap_err().field, "body");
        assert_eq!(ok(json!({"body": " "})).unwrap_err().field, "body");
        assert_eq!(ok(json!({"body": "x", "senderId": "nope"})).unwrap_err().field, "senderId");
        assert_eq!(ok(json!({"body": "x", "color": 1})).unwrap_err().field, "color");
        assert_eq!(parse_inbound(json!({"message": 5}).as_object().unwrap()).unwrap_err().field, "message");
        assert_eq!(parse_inbound(json!({}).as_object().unwrap()).unwrap_err().field, "message");
    }
}
