//! Communication IDs (an openwelkin extension; Welkin documents none): an instance's
//! sending identities, e.g. the phone numbers ("sending lines") outbound SMS go out from.
//! Each has a `channel` (`SMS`: an E.164 number; `EMAIL`: an address) and a `value`; one
//! per channel is the default (the one marked `default`, else the oldest).

use super::fields::{self, reject_unknown};
use super::FieldError;
use serde_json::{json, Map, Value};

pub const CHANNELS: &[&str] = &["SMS", "EMAIL"];

const WRITABLE: &[&str] = &["channel", "value", "label", "default"];
const READ_ONLY: &[&str] =
    &["id", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdByName", "updatedByName"];

/// A new communication ID with every key present.
pub fn blank(id: &str, now: &str, actor_id: &str, actor_name: &str) -> Value {
    json!({
        "id": id, "channel": null, "value": null, "label": null, "default": false,
        "createdAt": now, "updatedAt": now, "createdBy": actor_id, "updatedBy": actor_id,
        "createdByName": actor_name, "updatedByName": actor_name,
    })
}

/// Applies a create or PATCH body. `channel` and `value` are fixed once created.
pub fn apply(c: &mut Value, body: &Map<String, Value>, creating: bool) -> Result<(), FieldError> {
    reject_unknown(body, WRITABLE, READ_ONLY)?;
    if !creating {
        if let Some(k) = ["channel", "value"].into_iter().find(|k| body.contains_key(*k)) {
            return Err(FieldError::new(k, "cannot change; create another communication ID"));
        }
    }
    if let Some(v) = body.get("channel") {
        c["channel"] = json!(fields::one_of("channel", v, CHANNELS)?);
    }
    if let Some(v) = body.get("label") {
        c["label"] = json!(fields::opt_text("label", v)?);
    }
    if let Some(v) = body.get("default") {
        c["default"] = json!(fields::boolean("default", v)?);
    }
    if creating {
        let channel =
            c["channel"].as_str().map(String::from).ok_or_else(|| FieldError::new("channel", "is required"))?;
        let raw = body.get("value").ok_or_else(|| FieldError::new("value", "is required"))?;
        let value = match channel.as_str() {
            "SMS" => fields::opt_phone("value", raw)?,
            _ => fields::opt_email("value", raw)?.map(|e| e.to_lowercase()),
        };
        c["value"] = json!(value.ok_or_else(|| FieldError::new("value", "is required"))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn values_are_checked_per_channel() {
        let mut c = blank("c1", "t", "u", "n");
        apply(&mut c, &body(json!({"channel": "sms", "value": "+15625345699", "label": "Main"})), true).unwrap();
        assert_eq!((c["channel"].as_str(), c["value"].as_str()), (Some("SMS"), Some("+15625345699")));
        for (b, field) in [
            (json!({"channel": "SMS", "value": "555"}), "value"),
            (json!({"channel": "EMAIL", "value": "+15625345699"}), "value"),
            (json!({"channel": "FAX", "value": "+15625345699"}), "channel"),
            (json!({"value": "+15625345699"}), "channel"),
            (json!({"channel": "SMS"}), "value"),
            (json!({"channel": "SMS", "value": "+15625345699", "id": "x"}), "id"),
        ] {
            let mut c = blank("c1", "t", "u", "n");
            assert_eq!(apply(&mut c, &body(b.clone()), true).unwrap_err().field, field, "{b}");
        }
    }

    #[test]
    fn channel_and_value_are_fixed_after_create() {
        let mut c = blank("c1", "t", "u", "n");
        apply(&mut c, &body(json!({"channel": "EMAIL", "value": "Care@Example.org"})), true).unwrap();
        assert_eq!(c["value"], "care@example.org");
        assert_eq!(apply(&mut c, &body(json!({"value": "x@example.org"})), false).unwrap_err().field, "value");
        apply(&mut c, &body(json!({"label": "Care team", "default": true})), false).unwrap();
        assert_eq!((c["label"].as_str(), c["default"].as_bool()), (Some("Care team"), Some(true)));
    }
}
