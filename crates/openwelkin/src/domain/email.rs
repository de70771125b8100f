//! Emails between the care team and patients: the V8 email object, the send and update
//! rules by status, drafts, and the DOCS view of unmatched inbound emails. No I/O: the
//! handlers resolve patients and users and pass them in as `Parties`.

use super::fields::{self, reject_unknown};
use super::FieldError;
use serde_json::{json, Map, Value};

/// Every status of the V8 reference's list filter.
pub const STATUSES: &[&str] = &["SCHEDULED", "ACCEPTED", "DELIVERED", "REJECTED", "FAILED", "UNRECOGNISED"];
pub const DIRECTIONS: &[&str] = &["IN", "OUT"];
/// Outbound statuses after the email was handed over: only `starred` can change.
pub const SENT: &[&str] = &["ACCEPTED", "DELIVERED", "REJECTED", "FAILED"];
/// The DOCS statuses of an unmatched inbound email.
pub const RESOLUTIONS: &[&str] = &["PENDING", "RESOLVED"];

/// Longest accepted email body, in bytes.
pub const MAX_BODY: usize = 200_000;

/// Keys of a send (and of a draft); `sender` (a user id) is an openwelkin addition.
pub const COMPOSE_KEYS: &[&str] = &["subject", "body", "receiver", "sendNow", "secure", "scheduledAt", "sender"];

/// Keys of the email object a client cannot set.
pub const READ_ONLY: &[&str] = &[
    "id",
    "sentAt",
    "receivedAt",
    "date",
    "careTeam",
    "patientInfo",
    "timezone",
    "from",
    "to",
    "direction",
    "externalId",
    "senderName",
    "receiverName",
    "status",
    "attachments",
    "patientId",
    "hasAttachment",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "createdByName",
    "updatedByName",
];

/// A send, draft or scheduled-email body, parsed; `None` where the key was absent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Compose {
    pub subject: Option<String>,
    pub body: Option<String>,
    pub receiver: Option<String>,
    pub send_now: Option<bool>,
    pub secure: Option<bool>,
    /// `Some(None)`: cleared.
    pub scheduled_at: Option<Option<i64>>,
    pub sender: Option<String>,
    pub starred: Option<bool>,
}

fn long_text(field: &str, value: &Value) -> Result<String, FieldError> {
    match value {
        Value::String(s) if s.len() > MAX_BODY => {
            Err(FieldError::new(field, format!("must be at most {MAX_BODY} bytes")))
        }
        Value::String(s) => Ok(s.clone()),
        Value::Null => Err(FieldError::new(field, "must not be null")),
        _ => Err(FieldError::new(field, "must be a string")),
    }
}

pub fn datetime_ms(field: &str, value: &Value) -> Result<Option<i64>, FieldError> {
    let Some(text) = fields::opt_text(field, value)? else { return Ok(None) };
    crate::time::parse_datetime(&text)
        .map(|t| Some(t.timestamp_millis()))
        .ok_or_else(|| FieldError::new(field, format!("{text:?} is not an ISO-8601 date-time")))
}

/// Parses the keys of `body` that `allowed` admits (the others are refused, read-only
/// ones named as such).
pub fn parse_compose(body: &Map<String, Value>, allowed: &[&str]) -> Result<Compose, FieldError> {
    reject_unknown(body, allowed, READ_ONLY)?;
    let mut c = Compose::default();
    for (key, value) in body {
        let k = key.as_str();
        match k {
            "subject" => c.subject = Some(fields::text(k, value)?),
            "body" => c.body = Some(long_text(k, value)?),
            "receiver" => c.receiver = fields::opt_uuid(k, value)?,
            "sender" => c.sender = fields::opt_uuid(k, value)?,
            "sendNow" => c.send_now = Some(!value.is_null() && fields::boolean(k, value)?),
            "secure" => c.secure = Some(!value.is_null() && fields::boolean(k, value)?),
            "starred" => c.starred = Some(fields::boolean(k, value)?),
            "scheduledAt" => c.scheduled_at = Some(datetime_ms(k, value)?),
            _ => unreachable!("reject_unknown admits only allowed keys"),
        }
    }
    Ok(c)
}

/// Who an email is between, resolved by the handler.
#[derive(Clone, Debug, Default)]
pub struct Parties {
    pub sender: Option<String>,
    pub sender_name: Option<String>,
    pub from: String,
    pub receiver: Option<String>,
    pub receiver_name: Option<String>,
    pub to: String,
    /// The care-team user's name.
    pub care_team: Option<String>,
    /// The patient's full name.
    pub patient_info: Option<String>,
    pub timezone: Option<String>,
}

/// When an outbound email goes out: now, or later when it is scheduled in the future.
pub fn sends_now(c: &Compose, now_ms: i64) -> bool {
    c.send_now == Some(true) || c.scheduled_at.flatten().is_none_or(|at| at <= now_ms)
}

/// A new outbound email. Sent now: `ACCEPTED` with `sentAt`, `date` and `scheduledAt` at
/// `now` (as the V8 examples show); otherwise `SCHEDULED`. `sendNow` reads false once
/// the request is processed, as in every V8 example.
pub fn outbound(id: &str, parties: &Parties, c: &Compose, external_id: &str, now_ms: i64) -> Value {
    let now = sends_now(c, now_ms);
    let scheduled = if now { now_ms } else { c.scheduled_at.flatten().unwrap_or(now_ms) };
    let sent = now.then(|| crate::time::format_ms(now_ms));
    json!({
        "id": id,
        "sendNow": false,
        "scheduledAt": crate::time::format_ms(scheduled),
        "sentAt": sent,
        "receivedAt": null,
        "date": sent,
        "careTeam": parties.care_team,
        "patientInfo": parties.patient_info,
        "timezone": parties.timezone,
        "sender": parties.sender,
        "from": parties.from,
        "receiver": parties.receiver,
        "to": parties.to,
        "direction": "OUT",
        "externalId": external_id,
        "starred": false,
        "senderName": parties.sender_name,
        "receiverName": parties.receiver_name,
        "subject": c.subject.clone().unwrap_or_default(),
        "body": c.body.clone().unwrap_or_default(),
        "status": if now { "ACCEPTED" } else { "SCHEDULED" },
        "secure": c.secure.unwrap_or(false),
        "attachments": null,
    })
}

/// A received email; without a patient it is `UNRECOGNISED`.
pub fn inbound(id: &str, parties: &Parties, subject: &str, body: &str, external_id: &str, now_ms: i64) -> Value {
    let now = crate::time::format_ms(now_ms);
    json!({
        "id": id,
        "sendNow": false,
        "scheduledAt": null,
        "sentAt": null,
        "receivedAt": now,
        "date": now,
        "careTeam": parties.care_team,
        "patientInfo": parties.patient_info,
        "timezone": parties.timezone,
        "sender": parties.sender,
        "from": parties.from,
        "receiver": parties.receiver,
        "to": parties.to,
        "direction": "IN",
        "externalId": external_id,
        "starred": false,
        "senderName": parties.sender_name,
        "receiverName": parties.receiver_name,
        "subject": subject,
        "body": body,
        "status": if parties.sender.is_some() { "DELIVERED" } else { "UNRECOGNISED" },
        "secure": false,
        "attachments": null,
    })
}

/// Checks an update against the email's status (V8 rules): sent outbound emails change
/// only `starred`; inbound ones `starred` and `sender` (the patient they belong to);
/// scheduled ones everything a send has.
pub fn check_update(email: &Value, c: &Compose, body: &Map<String, Value>) -> Result<(), FieldError> {
    let status = email["status"].as_str().unwrap_or_default();
    let inbound = email["direction"] == "IN";
    let allowed: &[&str] = if inbound {
        &["starred", "sender"]
    } else if status == "SCHEDULED" {
        &["subject", "body", "receiver", "sendNow", "secure", "scheduledAt", "sender", "starred"]
    } else {
        &["starred"]
    };
    for key in body.keys() {
        if !allowed.contains(&key.as_str()) {
            let reason = if inbound {
                "cannot be changed on a received email; only starred and sender (the patient) can"
            } else {
                "cannot be changed once the email is sent; only starred can"
            };
            return Err(FieldError::new(key, reason));
        }
    }
    if inbound && body.contains_key("sender") && c.sender.is_none() {
        return Err(FieldError::new("sender", "must be a patient id"));
    }
    Ok(())
}

/// Applies the content changes of a scheduled email's update (parties are set by the
/// caller). Returns whether it now goes out at once.
pub fn apply_scheduled(email: &mut Value, c: &Compose, now_ms: i64) -> bool {
    if let Some(s) = &c.subject {
        email["subject"] = json!(s);
    }
    if let Some(b) = &c.body {
        email["body"] = json!(b);
    }
    if let Some(s) = c.secure {
        email["secure"] = json!(s);
    }
    if let Some(at) = c.scheduled_at {
        email["scheduledAt"] = json!(crate::time::format_ms(at.unwrap_or(now_ms)));
    }
    let due = c.send_now == Some(true) || scheduled_ms(email).is_none_or(|at| at <= now_ms);
    if c.send_now == Some(true) {
        email["scheduledAt"] = json!(crate::time::format_ms(now_ms));
    }
    due
}

pub fn scheduled_ms(email: &Value) -> Option<i64> {
    email["scheduledAt"].as_str().and_then(crate::time::parse_datetime).map(|t| t.timestamp_millis())
}

/// Marks an email as handed to the provider at `now`.
pub fn mark_accepted(email: &mut Value, now_ms: i64) {
    let now = crate::time::format_ms(now_ms);
    email["status"] = json!("ACCEPTED");
    email["sentAt"] = json!(now);
    email["date"] = json!(now);
}

/// The attachment list as the email object shows it: null when there are none.
pub fn attachments_value(list: &[Value]) -> Value {
    if list.is_empty() {
        Value::Null
    } else {
        Value::Array(list.to_vec())
    }
}

/// Lower-cased subject and body, for the `search` filter.
pub fn search_text(email: &Value) -> String {
    format!("{} {}", email["subject"].as_str().unwrap_or_default(), email["body"].as_str().unwrap_or_default())
        .to_lowercase()
}

/// A new draft.
pub fn blank_draft(id: &str, patient_id: &str, now: &str, actor_id: &str, actor_name: &str) -> Value {
    json!({
        "id": id, "patientId": patient_id, "status": "DRAFT",
        "subject": null, "body": null, "sender": null, "receiver": patient_id, "to": null,
        "secure": false, "scheduledAt": null, "hasAttachment": false, "attachments": null,
        "createdAt": now, "updatedAt": now, "createdBy": actor_id, "updatedBy": actor_id,
        "createdByName": actor_name, "updatedByName": actor_name,
    })
}

/// Applies a draft create or update body.
pub fn apply_draft(draft: &mut Value, c: &Compose) {
    if let Some(s) = &c.subject {
        draft["subject"] = json!(s);
    }
    if let Some(b) = &c.body {
        draft["body"] = json!(b);
    }
    if let Some(s) = &c.sender {
        draft["sender"] = json!(s);
    }
    if let Some(s) = c.secure {
        draft["secure"] = json!(s);
    }
    if let Some(at) = c.scheduled_at {
        draft["scheduledAt"] = at.map(crate::time::format_ms).map(Value::String).unwrap_or(Value::Null);
    }
}

/// What sending a draft sends.
pub fn compose_of_draft(draft: &Value) -> Result<Compose, FieldError> {
    let subject = draft["subject"].as_str().filter(|s| !s.trim().is_empty());
    let Some(subject) = subject else {
        return Err(FieldError::new("subject", "is required to send the draft"));
    };
    Ok(Compose {
        subject: Some(subject.to_string()),
        body: Some(draft["body"].as_str().unwrap_or_default().to_string()),
        receiver: None,
        send_now: None,
        secure: draft["secure"].as_bool(),
        scheduled_at: Some(scheduled_ms(draft)),
        sender: draft["sender"].as_str().map(String::from),
        starred: None,
    })
}

/// The DOCS view of an unmatched inbound email (`/unrecognized-emails`); `full` adds the
/// body, the recipient and the attachments.
pub fn unrecognized_view(email: &Value, patient_id: Option<&str>, resolved_by: Option<&str>, full: bool) -> Value {
    let mut v = json!({
        "id": email["id"],
        "fromEmail": email["from"],
        "subject": email["subject"],
        "receivedAt": email["receivedAt"],
        "status": if patient_id.is_some() { "RESOLVED" } else { "PENDING" },
        "resolvedBy": resolved_by,
        "patientId": patient_id,
        "hasAttachment": !email["attachments"].is_null(),
    });
    if full {
        v["toEmail"] = email["to"].clone();
        v["body"] = email["body"].clone();
        v["attachments"] = email["attachments"].clone();
    }
    v
}

/// The DOCS resolution body: `{patientId, status: "RESOLVED"}`.
pub fn parse_resolution(body: &Map<String, Value>) -> Result<String, FieldError> {
    reject_unknown(body, &["patientId", "status"], &["id", "fromEmail", "subject", "receivedAt", "resolvedBy"])?;
    match body.get("status") {
        None => return Err(FieldError::new("status", "is required")),
        Some(v) => {
            if fields::one_of("status", v, RESOLUTIONS)? != "RESOLVED" {
                return Err(FieldError::new("status", "must be RESOLVED"));
            }
        }
    }
    body.get("patientId")
        .map(|v| fields::opt_uuid("patientId", v))
        .transpose()?
        .flatten()
        .ok_or_else(|| FieldError::new("patientId", "is required"))
}

/// A file name safe to put in a `Content-Disposition` header and a MIME part.
pub fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control() && *c != '"').collect::<String>().trim().to_string();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "attachment".into()
    } else {
        cleaned.chars().take(255).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn compose_names_bad_fields() {
        let c = parse_compose(
            &map(json!({"subject": "Hi", "body": "Text", "sendNow": true, "scheduledAt": "2021-05-04T20:08:24.427Z"})),
            COMPOSE_KEYS,
        )
        .unwrap();
        assert_eq!(c.subject.as_deref(), Some("Hi"));
        assert_eq!(c.scheduled_at, Some(Some(1620158904427)));
        let err = parse_compose(&map(json!({"subject": ""})), COMPOSE_KEYS).unwrap_err();
        assert_eq!(err.field, "subject");
        assert_eq!(parse_compose(&map(json!({"status": "X"})), COMPOSE_KEYS).unwrap_err().field, "status");
        assert_eq!(parse_compose(&map(json!({"sendNow": "yes"})), COMPOSE_KEYS).unwrap_err().field, "sendNow");
        assert_eq!(parse_compose(&map(json!({"scheduledAt": "soon"})), COMPOSE_KEYS).unwrap_err().field, "scheduledAt");
        assert_eq!(parse_compose(&map(json!({"receiver": "nope"})), COMPOSE_KEYS).unwrap_err().field, "receiver");
    }

    #[test]
    fn sends_go_now_unless_scheduled_later() {
        let parties = Parties { from: "a@x.org".into(), to: "b@x.org".into(), ..Default::default() };
        let now = 1_000_000;
        let c = Compose { subject: Some("s".into()), ..Default::default() };
        let e = outbound("e1", &parties, &c, "x", now);
        assert_eq!((e["status"].clone(), e["sendNow"].clone()), (json!("ACCEPTED"), json!(false)));
        assert_eq!(e["sentAt"], e["scheduledAt"]);
        let later = Compose { scheduled_at: Some(Some(now + 60_000)), ..c.clone() };
        let e = outbound("e2", &parties, &later, "x", now);
        assert_eq!((e["status"].clone(), e["sentAt"].clone()), (json!("SCHEDULED"), Value::Null));
        let forced = Compose { send_now: Some(true), ..later };
        assert_eq!(outbound("e3", &parties, &forced, "x", now)["status"], "ACCEPTED");
    }

    #[test]
    fn updates_follow_the_status() {
        let parties = Parties::default();
        let sent = outbound("e", &parties, &Compose::default(), "x", 0);
        let body = map(json!({"subject": "new"}));
        let c = parse_compose(&body, COMPOSE_KEYS).unwrap();
        assert_eq!(check_update(&sent, &c, &body).unwrap_err().field, "subject");
        let star = map(json!({"starred": true}));
        let c = parse_compose(&star, &["starred"]).unwrap();
        assert!(check_update(&sent, &c, &star).is_ok());
        let received = inbound("i", &parties, "s", "b", "x", 0);
        assert_eq!(received["status"], "UNRECOGNISED");
        let assign = map(json!({"sender": "0b7c8a4e-8a5f-4f55-9a57-4d1ff2f0e9c1"}));
        let c = parse_compose(&assign, COMPOSE_KEYS).unwrap();
        assert!(check_update(&received, &c, &assign).is_ok());
        assert_eq!(check_update(&received, &c, &body).unwrap_err().field, "subject");
    }

    #[test]
    fn resolutions_and_file_names() {
        let id = "0b7c8a4e-8a5f-4f55-9a57-4d1ff2f0e9c1";
        assert_eq!(parse_resolution(&map(json!({"patientId": id, "status": "RESOLVED"}))).unwrap(), id);
        assert_eq!(parse_resolution(&map(json!({"patientId": id}))).unwrap_err().field, "status");
        assert_eq!(parse_resolution(&map(json!({"patientId": id, "status": "PENDING"}))).unwrap_err().field, "status");
        assert_eq!(parse_resolution(&map(json!({"status": "RESOLVED"}))).unwrap_err().field, "patientId");
        assert_eq!(clean_file_name("../../etc/pa\"ss\r\nwd.txt"), "passwd.txt");
        assert_eq!(clean_file_name(""), "attachment");
    }
}
