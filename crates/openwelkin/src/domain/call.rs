//! Voice calls: what a telephony provider reports (numbers, direction, duration,
//! status, an optional recording), the stored call, and its three wire shapes (the DOCS
//! list item, the full call, the unrecognized-call item). A call from a number no
//! patient has is *unrecognized* (`PENDING`) until it is assigned to a patient
//! (`RESOLVED`).

use super::fields::{self, reject_unknown};
use super::FieldError;
use base64::Engine;
use serde_json::{json, Map, Value};

pub const DIRECTIONS: &[&str] = &["INBOUND", "OUTBOUND"];
/// Call outcomes, Twilio's call statuses upper-cased, plus `MISSED` and `VOICEMAIL`.
pub const STATUSES: &[&str] = &[
    "QUEUED",
    "RINGING",
    "IN_PROGRESS",
    "COMPLETED",
    "BUSY",
    "NO_ANSWER",
    "FAILED",
    "CANCELED",
    "MISSED",
    "VOICEMAIL",
];
pub const PENDING: &str = "PENDING";
pub const RESOLVED: &str = "RESOLVED";
pub const RESOLUTIONS: &[&str] = &[PENDING, RESOLVED];

pub const MPEG: &str = "audio/mpeg";
pub const WAV: &str = "audio/wav";

/// Longest call accepted, in seconds (a day).
const MAX_DURATION: i64 = 86_400;

/// A recording as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub content_type: &'static str,
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// A call report from the provider route.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub direction: String,
    pub duration: i64,
    pub status: String,
    pub called_at_ms: Option<i64>,
    pub external_id: Option<String>,
    pub user_id: Option<String>,
    pub patient_id: Option<String>,
    pub recording: Option<Recording>,
}

impl Report {
    /// The patient's side of the call: the caller of an inbound call, the callee of an
    /// outbound one.
    pub fn patient_number(&self) -> &str {
        if self.direction == "OUTBOUND" {
            &self.to
        } else {
            &self.from
        }
    }
}

/// The audio type of `bytes`, from its content: WAV (`RIFF….WAVE`) or MPEG audio (an ID3
/// tag or an MPEG frame header).
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE" {
        return Some(WAV);
    }
    if bytes.len() >= 3 && &bytes[..3] == b"ID3" {
        return Some(MPEG);
    }
    if bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0 && bytes[1] & 0x06 != 0 {
        return Some(MPEG);
    }
    None
}

fn declared_type(field: &str, value: &str) -> Result<&'static str, FieldError> {
    match value.trim().to_ascii_lowercase().split(';').next().unwrap_or_default().trim() {
        "audio/mpeg" | "audio/mp3" | "audio/mpeg3" => Ok(MPEG),
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Ok(WAV),
        other => Err(FieldError::new(field, format!("{other:?} is not audio/mpeg or audio/wav"))),
    }
}

/// A file name safe to put in `Content-Disposition`: no path, no quotes or controls.
pub fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String =
        base.chars().filter(|c| !c.is_control() && !matches!(c, '"' | ';')).take(200).collect::<String>();
    cleaned.trim().to_string()
}

fn default_filename(content_type: &str) -> String {
    format!("call-recording.{}", if content_type == WAV { "wav" } else { "mp3" })
}

/// Checks a recording: the bytes must be MP3 or WAV audio, and a declared type must
/// agree with them.
pub fn recording(
    field: &str,
    type_field: &str,
    bytes: Vec<u8>,
    declared: Option<&str>,
    filename: Option<&str>,
) -> Result<Recording, FieldError> {
    if bytes.is_empty() {
        return Err(FieldError::new(field, "is empty"));
    }
    let sniffed = sniff(&bytes).ok_or_else(|| FieldError::new(field, "is not an MP3 or WAV recording"))?;
    if let Some(d) = declared {
        let declared = declared_type(type_field, d)?;
        if declared != sniffed {
            return Err(FieldError::new(type_field, format!("says {declared} but the recording is {sniffed}")));
        }
    }
    let filename = filename.map(clean_filename).filter(|f| !f.is_empty()).unwrap_or_else(|| default_filename(sniffed));
    Ok(Recording { content_type: sniffed, filename, bytes })
}

fn duration(value: &Value) -> Result<i64, FieldError> {
    let n = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Null => Some(0),
        _ => None,
    };
    match n {
        Some(n) if (0..=MAX_DURATION).contains(&n) => Ok(n),
        _ => Err(FieldError::new("duration", format!("must be a whole number of seconds from 0 to {MAX_DURATION}"))),
    }
}

fn status(value: &Value) -> Result<String, FieldError> {
    let s = fields::text("status", value)?.to_ascii_uppercase().replace('-', "_");
    let s = if s == "CANCELLED" { "CANCELED".to_string() } else { s };
    if STATUSES.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(FieldError::new("status", format!("must be one of {}", STATUSES.join(", "))))
    }
}

fn phone(field: &str, body: &Map<String, Value>) -> Result<String, FieldError> {
    fields::opt_phone(field, body.get(field).unwrap_or(&Value::Null))?
        .ok_or_else(|| FieldError::new(field, "is required"))
}

const WRITABLE: &[&str] =
    &["from", "to", "direction", "duration", "status", "calledAt", "externalId", "userId", "patientId", "recording"];

/// A provider's call report. `recording` is `{data (base64), contentType, filename}`;
/// `file` is a recording received as a multipart file part instead (`(bytes, content
/// type, file name)`).
pub fn parse_report(
    body: &Map<String, Value>,
    file: Option<(Vec<u8>, Option<String>, Option<String>)>,
) -> Result<Report, FieldError> {
    reject_unknown(body, WRITABLE, &["id", "hasRecording", "createdAt", "updatedAt"])?;
    let direction = match body.get("direction") {
        None | Some(Value::Null) => "INBOUND".to_string(),
        Some(v) => fields::one_of("direction", v, DIRECTIONS)?,
    };
    let called_at_ms = match body.get("calledAt") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            crate::time::parse_datetime(&fields::text("calledAt", v)?)
                .ok_or_else(|| FieldError::new("calledAt", "must be an ISO-8601 time"))?
                .timestamp_millis(),
        ),
    };
    let opt = |k: &str| fields::opt_text(k, body.get(k).unwrap_or(&Value::Null));
    let uuid = |k: &str| fields::opt_uuid(k, body.get(k).unwrap_or(&Value::Null));
    let recording = match (body.get("recording"), file) {
        (Some(v), _) if !v.is_null() => {
            let r = fields::object("recording", v)?;
            reject_unknown(r, &["data", "contentType", "filename"], &[])
                .map_err(|e| FieldError::new(format!("recording.{}", e.field), e.reason))?;
            let data = fields::text("recording.data", r.get("data").unwrap_or(&Value::Null))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|_| FieldError::new("recording.data", "is not base64"))?;
            let declared = fields::opt_text("recording.contentType", r.get("contentType").unwrap_or(&Value::Null))?;
            let filename = fields::opt_text("recording.filename", r.get("filename").unwrap_or(&Value::Null))?;
            Some(recording("recording.data", "recording.contentType", bytes, declared.as_deref(), filename.as_deref())?)
        }
        (_, Some((bytes, declared, filename))) => {
            Some(recording("recording", "recording.contentType", bytes, declared.as_deref(), filename.as_deref())?)
        }
        _ => None,
    };
    Ok(Report {
        from: phone("from", body)?,
        to: phone("to", body)?,
        direction,
        duration: duration(body.get("duration").unwrap_or(&Value::Null))?,
        status: status(body.get("status").ok_or_else(|| FieldError::new("status", "is required"))?)?,
        called_at_ms,
        external_id: opt("externalId")?,
        user_id: uuid("userId")?,
        patient_id: uuid("patientId")?,
        recording,
    })
}

/// The stored call.
pub fn new_call(
    id: &str,
    r: &Report,
    patient_id: Option<&str>,
    called_at_ms: i64,
    now: &str,
    actor_id: &str,
    actor_name: &str,
) -> Value {
    let rec = r.recording.as_ref();
    json!({
        "id": id,
        "patientId": patient_id,
        "direction": r.direction,
        "duration": r.duration,
        "status": r.status,
        "calledAt": crate::time::format_ms(called_at_ms),
        "hasRecording": rec.is_some(),
        "fromNumber": r.from,
        "toNumber": r.to,
        "externalId": r.external_id,
        "userId": r.user_id,
        "recordingContentType": rec.map(|x| x.content_type),
        "recordingFilename": rec.map(|x| x.filename.clone()),
        "recordingSize": rec.map(|x| x.bytes.len()),
        "unrecognized": patient_id.is_none(),
        "resolutionStatus": if patient_id.is_none() { Some(PENDING) } else { None },
        "resolvedBy": null,
        "resolvedByName": null,
        "resolvedAt": null,
        "receivedAt": now,
        "createdAt": now,
        "updatedAt": now,
        "createdBy": actor_id,
        "createdByName": actor_name,
        "updatedBy": actor_id,
        "updatedByName": actor_name,
    })
}

fn pick(call: &Value, keys: &[&str]) -> Value {
    Value::Object(keys.iter().map(|k| (k.to_string(), call.get(*k).cloned().unwrap_or(Value::Null))).collect())
}

/// An item of a patient's call list (DOCS).
pub fn list_item(call: &Value) -> Value {
    pick(call, &["id", "patientId", "direction", "duration", "status", "calledAt", "hasRecording"])
}

/// A call with all its metadata.
pub fn full(call: &Value) -> Value {
    pick(
        call,
        &[
            "id",
            "patientId",
            "direction",
            "duration",
            "status",
            "calledAt",
            "hasRecording",
            "fromNumber",
            "toNumber",
            "externalId",
            "userId",
            "recordingContentType",
            "recordingFilename",
            "recordingSize",
            "unrecognized",
            "resolutionStatus",
            "resolvedBy",
            "resolvedAt",
            "createdAt",
            "updatedAt",
            "createdBy",
            "createdByName",
            "updatedBy",
            "updatedByName",
        ],
    )
}

/// An unrecognized call (DOCS): `status` is the resolution, `PENDING` or `RESOLVED`.
pub fn unrecognized_item(call: &Value) -> Value {
    let mut v = pick(call, &["id", "fromNumber", "toNumber", "duration", "receivedAt"]);
    v["status"] = call["resolutionStatus"].clone();
    for k in ["resolvedBy", "resolvedByName", "resolvedAt", "patientId", "direction", "calledAt", "hasRecording"] {
        v[k] = call[k].clone();
    }
    v["callStatus"] = call["status"].clone();
    v
}

/// `PATCH /unrecognized-calls/{id}`: `{patientId, status: "RESOLVED"}`; returns the
/// patient id.
pub fn parse_resolution(body: &Map<String, Value>) -> Result<String, FieldError> {
    reject_unknown(body, &["patientId", "status"], &["id", "fromNumber", "toNumber", "receivedAt", "resolvedBy"])?;
    let patient_id = fields::opt_uuid("patientId", body.get("patientId").unwrap_or(&Value::Null))?
        .ok_or_else(|| FieldError::new("patientId", "is required"))?;
    let status = fields::text("status", body.get("status").ok_or_else(|| FieldError::new("status", "is required"))?)?;
    if status != RESOLVED {
        return Err(FieldError::new("status", "must be RESOLVED"));
    }
    Ok(patient_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAV_BYTES: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfmt ";

    fn report(body: Value) -> Result<Report, FieldError> {
        parse_report(body.as_object().unwrap(), None)
    }

    #[test]
    fn reports_are_checked_field_by_field() {
        let ok = report(json!({"from": "+15556491369", "to": "+15556491370", "status": "no-answer"})).unwrap();
        assert_eq!((ok.direction.as_str(), ok.status.as_str(), ok.duration), ("INBOUND", "NO_ANSWER", 0));
        assert_eq!(ok.patient_number(), "+15556491369");
        let out = report(json!({"from": "+15556491369", "to": "+15556491370", "status": "COMPLETED", "direction": "outbound", "duration": "42"})).unwrap();
        assert_eq!((out.patient_number(), out.duration), ("+15556491370", 42));
        for (body, field) in [
            (json!({"to": "+15556491370", "status": "COMPLETED"}), "from"),
            (json!({"from": "555", "to": "+15556491370", "status": "COMPLETED"}), "from"),
            (json!({"from": "+15556491369", "to": "+15556491370"}), "status"),
            (json!({"from": "+15556491369", "to": "+15556491370", "status": "LOST"}), "status"),
            (json!({"from": "+15556491369", "to": "+15556491370", "status": "BUSY", "duration": -1}), "duration"),
            (
                json!({"from": "+15556491369", "to": "+15556491370", "status": "BUSY", "calledAt": "yesterday"}),
                "calledAt",
            ),
            (json!({"from": "+15556491369", "to": "+15556491370", "status": "BUSY", "colour": 1}), "colour"),
            (
                json!({"from": "+15556491369", "to": "+15556491370", "status": "BUSY", "recording": {"data": "!!"}}),
                "recording.data",
            ),
        ] {
            assert_eq!(report(body).unwrap_err().field, field);
        }
    }

    #[test]
    fn recordings_are_sniffed_not_trusted() {
        assert_eq!(sniff(WAV_BYTES), Some(WAV));
        assert_eq!(sniff(b"ID3\x04\x00"), Some(MPEG));
        assert_eq!(sniff(&[0xFF, 0xFB, 0x90, 0x00]), Some(MPEG));
        assert_eq!(sniff(b"%PDF-1.4"), None);
        let r = recording(
            "recording",
            "recording.contentType",
            WAV_BYTES.to_vec(),
            Some("audio/x-wav"),
            Some("../a\"b.wav"),
        )
        .unwrap();
        assert_eq!((r.content_type, r.filename.as_str()), (WAV, "ab.wav"));
        assert_eq!(
            recording("r", "r.contentType", WAV_BYTES.to_vec(), None, None).unwrap().filename,
            "call-recording.wav"
        );
        assert_eq!(
            recording("r", "r.contentType", WAV_BYTES.to_vec(), Some("audio/mpeg"), None).unwrap_err().field,
            "r.contentType"
        );
        assert_eq!(recording("r", "r.contentType", b"%PDF-1.4".to_vec(), None, None).unwrap_err().field, "r");
    }

    #[test]
    fn resolutions_name_a_patient_and_resolve() {
        let p = "0b5e3d5e-6f1b-4f39-9d5e-7f4c2d1a9b10";
        assert_eq!(parse_resolution(json!({"patientId": p, "status": "RESOLVED"}).as_object().unwrap()).unwrap(), p);
        assert_eq!(
            parse_resolution(json!({"patientId": p, "status": "PENDING"}).as_object().unwrap()).unwrap_err().field,
            "status"
        );
        assert_eq!(
            parse_resolution(json!({"status": "RESOLVED"}).as_object().unwrap()).unwrap_err().field,
            "patientId"
        );
    }
}
