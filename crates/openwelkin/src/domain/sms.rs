//! SMS: the message record Welkin returns, the send and update bodies, and which fields
//! may change in which status:
//!
//! * `SCHEDULED` (outbound, not sent yet): everything a send sets (`message`, `sendNow`,
//!   `scheduledAt`, `receiver`, `from`, `starred`);
//! * sent outbound (`ACCEPTED`, `SENT`, `DELIVERED`, `UNDELIVERED`, `FAILED`): `starred` only;
//! * inbound (`RECEIVED`, `UNRECOGNISED`): `starred`, and `sender` to assign the message
//!   to a patient.
//!
//! Only `SCHEDULED` and `UNRECOGNISED` messages may be deleted.

use super::fields::{self, reject_unknown};
use super::patient::Patient;
use super::FieldError;
use serde_json::{json, Map, Value};

pub const STATUSES: &[&str] =
    &["SCHEDULED", "ACCEPTED", "SENT", "RECEIVED", "DELIVERED", "UNDELIVERED", "FAILED", "UNRECOGNISED"];
/// Outbound statuses after the hand-over to the provider.
pub const SENT_STATUSES: &[&str] = &["ACCEPTED", "SENT", "DELIVERED", "UNDELIVERED", "FAILED"];
pub const DIRECTIONS: &[&str] = &["IN", "OUT"];
/// Twilio's limit for one message (ten segments).
pub const MAX_MESSAGE: usize = 1600;

const WRITABLE: &[&str] = &["message", "sendNow", "scheduledAt", "receiver", "sender", "from", "starred"];
const READ_ONLY: &[&str] = &[
    "sentAt",
    "receivedAt",
    "date",
    "careTeam",
    "patientInfo",
    "timezone",
    "to",
    "direction",
    "externalId",
    "senderName",
    "receiverName",
    "parts",
    "status",
];

/// A checked send or update body; `None` for an absent field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub message: Option<String>,
    pub send_now: Option<bool>,
    /// `Some(None)`: cleared.
    pub scheduled_at: Option<Option<i64>>,
    pub receiver: Option<String>,
    pub sender: Option<String>,
    pub from: Option<String>,
    pub starred: Option<bool>,
}

impl Changes {
    /// The fields present, in the order of the body's rules.
    fn present(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (name, set) in [
            ("message", self.message.is_some()),
            ("sendNow", self.send_now.is_some()),
            ("scheduledAt", self.scheduled_at.is_some()),
            ("receiver", self.receiver.is_some()),
            ("sender", self.sender.is_some()),
            ("from", self.from.is_some()),
            ("starred", self.starred.is_some()),
        ] {
            if set {
                out.push(name);
            }
        }
        out
    }
}

/// Reads a send or update body. `own_id` is tolerated as `id` (clients send back what they read).
pub fn parse(body: &Map<String, Value>, own_id: Option<&str>) -> Result<Changes, FieldError> {
    let mut body = body.clone();
    if let Some(id) = body.remove("id") {
        if own_id.is_none() || id.as_str() != own_id {
            return Err(FieldError::new("id", "is read-only and cannot be set"));
        }
    }
    reject_unknown(&body, WRITABLE, READ_ONLY)?;
    let mut ch = Changes::default();
    for (key, value) in &body {
        let k = key.as_str();
        match k {
            "message" => {
                let text = match value {
                    Value::String(s) if s.trim().is_empty() => return Err(FieldError::new(k, "must not be blank")),
                    Value::String(s) => s.clone(),
                    Value::Null => return Err(FieldError::new(k, "must not be null")),
                    _ => return Err(FieldError::new(k, "must be a string")),
                };
                if text.chars().count() > MAX_MESSAGE {
                    return Err(FieldError::new(k, format!("must be at most {MAX_MESSAGE} characters")));
                }
                ch.message = Some(text);
            }
            "sendNow" => ch.send_now = Some(fields::boolean(k, value)?),
            "starred" => ch.starred = Some(fields::boolean(k, value)?),
            "scheduledAt" => {
                ch.scheduled_at = Some(match fields::opt_text(k, value)? {
                    None => None,
                    Some(s) => Some(
                        crate::time::parse_datetime(&s)
                            .ok_or_else(|| FieldError::new(k, format!("{s:?} is not an ISO-8601 date-time")))?
                            .timestamp_millis(),
                    ),
                })
            }
            "receiver" | "sender" => {
                let id = fields::opt_uuid(k, value)?.ok_or_else(|| FieldError::new(k, "must be a patient id"))?;
                if k == "receiver" {
                    ch.receiver = Some(id);
                } else {
                    ch.sender = Some(id);
                }
            }
            "from" => {
                ch.from = Some(fields::opt_phone(k, value)?.ok_or_else(|| FieldError::new(k, "must not be empty"))?)
            }
            _ => unreachable!("reject_unknown lets only writable keys through"),
        }
    }
    Ok(ch)
}

/// When a new SMS goes out: `None` now, `Some(ms)` at a scheduled time (in the future).
pub fn check_send(ch: &Changes, now_ms: i64) -> Result<Option<i64>, FieldError> {
    if ch.sender.is_some() {
        return Err(FieldError::new("sender", "is the caller for outbound SMS and cannot be set"));
    }
    if ch.message.is_none() {
        return Err(FieldError::new("message", "is required"));
    }
    schedule(ch.send_now, ch.scheduled_at.flatten(), now_ms)
}

fn schedule(send_now: Option<bool>, scheduled_at: Option<i64>, now_ms: i64) -> Result<Option<i64>, FieldError> {
    match (send_now, scheduled_at) {
        (Some(true), Some(_)) => Err(FieldError::new("scheduledAt", "must be empty when sendNow is true")),
        (Some(true), None) | (None, None) => Ok(None),
        (Some(false), None) => Err(FieldError::new("scheduledAt", "is required when sendNow is false")),
        (_, Some(at)) if at <= now_ms => Err(FieldError::new("scheduledAt", "must be in the future")),
        (_, Some(at)) => Ok(Some(at)),
    }
}

/// What an update does, once checked against the message's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Update {
    /// Only flags and text change.
    InPlace,
    /// A scheduled message: keep it scheduled at this time, or send it now (`None`).
    Reschedule(Option<i64>),
    /// An inbound message goes to this patient.
    Assign(String),
}

/// Checks an update body against the message's status (see the module notes).
pub fn check_update(sms: &Value, ch: &Changes, now_ms: i64) -> Result<Update, FieldError> {
    let status = sms["status"].as_str().unwrap_or_default();
    let allowed: &[&str] = match status {
        "SCHEDULED" => &["message", "sendNow", "scheduledAt", "receiver", "from", "starred"],
        "RECEIVED" | "UNRECOGNISED" => &["sender", "starred"],
        _ => &["starred"],
    };
    if let Some(field) = ch.present().into_iter().find(|f| !allowed.contains(f)) {
        let only = allowed.join(", ");
        return Err(FieldError::new(field, format!("cannot change while the SMS is {status} (only {only} can)")));
    }
    if status == "SCHEDULED" && (ch.send_now.is_some() || ch.scheduled_at.is_some()) {
        let current = sms["scheduledAt"].as_str().and_then(crate::time::parse_datetime).map(|t| t.timestamp_millis());
        let at = match ch.scheduled_at {
            Some(v) => v,
            None if ch.send_now == Some(true) => None,
            None => current,
        };
        return schedule(ch.send_now, at, now_ms).map(Update::Reschedule);
    }
    if let Some(patient) = &ch.sender {
        return Ok(Update::Assign(patient.clone()));
    }
    Ok(Update::InPlace)
}

/// Applies the in-place parts of a checked update (`message`, `from`, `starred`).
pub fn apply_in_place(sms: &mut Value, ch: &Changes) {
    if let Some(m) = &ch.message {
        sms["message"] = json!(m);
        sms["parts"] = json!(parts(m));
    }
    if let Some(f) = &ch.from {
        sms["from"] = json!(f);
    }
    if let Some(s) = ch.starred {
        sms["starred"] = json!(s);
    }
}

pub fn deletable(sms: &Value) -> bool {
    matches!(sms["status"].as_str(), Some("SCHEDULED" | "UNRECOGNISED"))
}

/// The sender of an outbound message: the caller.
pub struct Author<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// What a send says: the line, the text, when, and the star.
pub struct Draft<'a> {
    pub from: &'a str,
    pub message: &'a str,
    pub scheduled_at: Option<i64>,
    pub starred: bool,
}

/// A new outbound SMS to `patient`, `ACCEPTED` (to send now) or `SCHEDULED`.
pub fn outbound(id: &str, now_ms: i64, patient: &Patient, author: &Author<'_>, d: &Draft<'_>) -> Value {
    let (from, message, scheduled_at, starred) = (d.from, d.message, d.scheduled_at, d.starred);
    let name = patient.full_name();
    json!({
        "id": id,
        "sendNow": scheduled_at.is_none(),
        "scheduledAt": scheduled_at.map(crate::time::format_ms),
        "sentAt": null,
        "receivedAt": null,
        "date": crate::time::format_ms(scheduled_at.unwrap_or(now_ms)),
        "careTeam": author.name,
        "patientInfo": name,
        "timezone": patient.timezone,
        "sender": author.id,
        "from": from,
        "receiver": patient.id,
        "to": patient.phone,
        "direction": "OUT",
        "externalId": null,
        "starred": starred,
        "senderName": author.name,
        "receiverName": name,
        "message": message,
        "parts": parts(message),
        "status": if scheduled_at.is_some() { "SCHEDULED" } else { "ACCEPTED" },
    })
}

/// Reschedules a scheduled message, or makes it ready to send now (`None`).
pub fn reschedule(sms: &mut Value, at: Option<i64>, now_ms: i64) {
    sms["sendNow"] = json!(at.is_none());
    sms["scheduledAt"] = json!(at.map(crate::time::format_ms));
    sms["date"] = json!(crate::time::format_ms(at.unwrap_or(now_ms)));
    sms["status"] = json!(if at.is_some() { "SCHEDULED" } else { "ACCEPTED" });
}

/// The patient's current details on a message to them.
pub fn readdress(sms: &mut Value, patient: &Patient) {
    sms["to"] = json!(patient.phone);
    sms["timezone"] = json!(patient.timezone);
    sms["patientInfo"] = json!(patient.full_name());
    sms["receiverName"] = json!(patient.full_name());
}

/// The provider took the message.
pub fn mark_sent(sms: &mut Value, external_id: &str, now_ms: i64) {
    let now = crate::time::format_ms(now_ms);
    sms["status"] = json!("SENT");
    sms["externalId"] = json!(external_id);
    sms["sentAt"] = json!(now);
    sms["date"] = json!(now);
}

pub fn mark_failed(sms: &mut Value) {
    sms["status"] = json!("FAILED");
}

/// A message that arrived from `from`; `patient` is the one whose phone it is, if any.
pub fn inbound(
    id: &str,
    now_ms: i64,
    from: &str,
    to: &str,
    message: &str,
    external_id: &str,
    patient: Option<&Patient>,
) -> Value {
    let now = crate::time::format_ms(now_ms);
    let mut sms = json!({
        "id": id,
        "sendNow": false,
        "scheduledAt": null,
        "sentAt": null,
        "receivedAt": now,
        "date": now,
        "careTeam": null,
        "patientInfo": null,
        "timezone": null,
        "sender": null,
        "from": from,
        "receiver": null,
        "to": to,
        "direction": "IN",
        "externalId": external_id,
        "starred": false,
        "senderName": null,
        "receiverName": null,
        "message": message,
        "parts": parts(message),
        "status": "UNRECOGNISED",
    });
    if let Some(p) = patient {
        assign(&mut sms, p);
    }
    sms
}

/// An inbound message now belongs to `patient`.
pub fn assign(sms: &mut Value, patient: &Patient) {
    sms["status"] = json!("RECEIVED");
    sms["sender"] = json!(patient.id);
    sms["senderName"] = json!(patient.full_name());
    sms["patientInfo"] = json!(patient.full_name());
    sms["timezone"] = json!(patient.timezone);
}

/// The patient a message belongs to: the receiver of an outbound one, the sender of an
/// inbound one (none while unrecognised).
pub fn patient_id(sms: &Value) -> Option<&str> {
    match sms["direction"].as_str() {
        Some("OUT") => sms["receiver"].as_str(),
        _ => sms["sender"].as_str(),
    }
}

/// A provider's delivery report (Twilio `MessageStatus`) as an SMS status, if it is one
/// that changes the record.
pub fn reported_status(provider_status: &str) -> Option<&'static str> {
    match provider_status.to_ascii_lowercase().as_str() {
        "sent" => Some("SENT"),
        "delivered" | "read" => Some("DELIVERED"),
        "undelivered" => Some("UNDELIVERED"),
        "failed" => Some("FAILED"),
        _ => None,
    }
}

/// Whether a delivery report moves the message forward (reports may arrive out of order).
pub fn advances(current: &str, reported: &str) -> bool {
    fn rank(s: &str) -> u8 {
        match s {
            "ACCEPTED" => 1,
            "SENT" => 2,
            "DELIVERED" | "UNDELIVERED" | "FAILED" => 3,
            _ => 0,
        }
    }
    let r = rank(current);
    r > 0 && rank(reported) > r
}

const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡\
ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{0c}";

/// Segments the message needs: GSM-7 text fits 160 characters in one segment and 153
/// per segment beyond (extension characters count twice); anything else is UCS-2, 70
/// and 67 UTF-16 units.
pub fn parts(message: &str) -> i64 {
    let gsm: Option<usize> = message.chars().try_fold(0usize, |n, c| {
        if GSM_BASIC.contains(c) {
            Some(n + 1)
        } else if GSM_EXTENDED.contains(c) {
            Some(n + 2)
        } else {
            None
        }
    });
    let (units, single, multi) = match gsm {
        Some(septets) => (septets, 160, 153),
        None => (message.encode_utf16().count(), 70, 67),
    };
    if units <= single {
        1
    } else {
        units.div_ceil(multi) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn segments_follow_gsm_and_ucs2_rules() {
        assert_eq!(parts(""), 1);
        assert_eq!(parts(&"a".repeat(160)), 1);
        assert_eq!(parts(&"a".repeat(161)), 2);
        assert_eq!(parts(&"a".repeat(306)), 2);
        assert_eq!(parts(&"a".repeat(307)), 3);
        assert_eq!(parts(&"€".repeat(80)), 1, "extension characters take two septets");
        assert_eq!(parts(&"€".repeat(81)), 2);
        assert_eq!(parts(&"ж".repeat(70)), 1);
        assert_eq!(parts(&"ж".repeat(71)), 2);
        assert_eq!(parts("hi 😀"), 1);
    }

    #[test]
    fn sends_need_a_message_and_a_future_schedule() {
        let now = 1_000_000;
        let ch = parse(&body(json!({"sendNow": true})), None).unwrap();
        assert_eq!(check_send(&ch, now).unwrap_err().field, "message");
        let ch = parse(&body(json!({"message": "hi", "sendNow": true})), None).unwrap();
        assert_eq!(check_send(&ch, now).unwrap(), None);
        let ch = parse(&body(json!({"message": "hi", "sendNow": false})), None).unwrap();
        assert_eq!(check_send(&ch, now).unwrap_err().field, "scheduledAt");
        let ch = parse(&body(json!({"message": "hi", "scheduledAt": "1970-01-01T00:00:01.000Z"})), None).unwrap();
        assert_eq!(check_send(&ch, now).unwrap_err().reason, "must be in the future");
        let ch = parse(&body(json!({"message": "hi", "sendNow": false, "scheduledAt": "2100-01-01T00:00:00Z"})), None)
            .unwrap();
        assert_eq!(check_send(&ch, now).unwrap(), Some(4_102_444_800_000));
        let ch =
            parse(&body(json!({"message": "hi", "sender": "8b676172-78f8-4cc6-b105-5329c8a58ef2"})), None).unwrap();
        assert_eq!(check_send(&ch, now).unwrap_err().field, "sender");
    }

    #[test]
    fn bodies_name_the_bad_field() {
        for (b, field) in [
            (json!({"message": " "}), "message"),
            (json!({"message": 3}), "message"),
            (json!({"message": "x".repeat(MAX_MESSAGE + 1)}), "message"),
            (json!({"sendNow": "yes"}), "sendNow"),
            (json!({"scheduledAt": "tomorrow"}), "scheduledAt"),
            (json!({"receiver": "nobody"}), "receiver"),
            (json!({"from": "555-1234"}), "from"),
            (json!({"status": "SENT"}), "status"),
            (json!({"colour": "red"}), "colour"),
            (json!({"id": "x"}), "id"),
        ] {
            assert_eq!(parse(&body(b.clone()), Some("y")).unwrap_err().field, field, "{b}");
        }
        assert!(parse(&body(json!({"id": "y", "starred": true})), Some("y")).is_ok());
    }

    #[test]
    fn sent_messages_only_take_a_star() {
        let now = 1_000;
        let sent = json!({"status": "SENT", "direction": "OUT"});
        let ch = parse(&body(json!({"starred": true})), None).unwrap();
        assert_eq!(check_update(&sent, &ch, now).unwrap(), Update::InPlace);
        let ch = parse(&body(json!({"message": "new"})), None).unwrap();
        let err = check_update(&sent, &ch, now).unwrap_err();
        assert_eq!(err.field, "message");
        assert!(err.reason.contains("SENT"), "{}", err.reason);

        let inbound = json!({"status": "UNRECOGNISED", "direction": "IN"});
        let pid = "8b676172-78f8-4cc6-b105-5329c8a58ef2";
        let ch = parse(&body(json!({"sender": pid})), None).unwrap();
        assert_eq!(check_update(&inbound, &ch, now).unwrap(), Update::Assign(pid.into()));
        let ch = parse(&body(json!({"message": "x"})), None).unwrap();
        assert_eq!(check_update(&inbound, &ch, now).unwrap_err().field, "message");

        let scheduled = json!({"status": "SCHEDULED", "scheduledAt": "2100-01-01T00:00:00.000Z"});
        let ch = parse(&body(json!({"message": "later"})), None).unwrap();
        assert_eq!(check_update(&scheduled, &ch, now).unwrap(), Update::InPlace);
        let ch = parse(&body(json!({"sendNow": true})), None).unwrap();
        assert_eq!(check_update(&scheduled, &ch, now).unwrap(), Update::Reschedule(None));
        let ch = parse(&body(json!({"sendNow": false})), None).unwrap();
        assert_eq!(check_update(&scheduled, &ch, now).unwrap(), Update::Reschedule(Some(4_102_444_800_000)));
        let ch = parse(&body(json!({"sender": pid})), None).unwrap();
        assert_eq!(check_update(&scheduled, &ch, now).unwrap_err().field, "sender");
    }

    #[test]
    fn delivery_reports_only_move_forward() {
        assert_eq!(reported_status("delivered"), Some("DELIVERED"));
        assert_eq!(reported_status("queued"), None);
        assert!(advances("SENT", "DELIVERED"));
        assert!(!advances("DELIVERED", "SENT"));
        assert!(!advances("SCHEDULED", "SENT"), "not yet handed over");
        assert!(!advances("RECEIVED", "DELIVERED"), "inbound messages have no delivery");
    }

    #[test]
    fn deletable_only_when_scheduled_or_unrecognised() {
        assert!(deletable(&json!({"status": "SCHEDULED"})));
        assert!(deletable(&json!({"status": "UNRECOGNISED"})));
        assert!(!deletable(&json!({"status": "SENT"})));
        assert!(!deletable(&json!({"status": "RECEIVED"})));
    }
}
