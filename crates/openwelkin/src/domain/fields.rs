//! Parsers for the field types resources share. Each takes the JSON field name so that an
//! error names it.

use super::FieldError;
use serde_json::{Map, Value};

pub const MAX_TEXT: usize = 1024;

/// Rejects keys outside `allowed`, naming the first unknown one.
pub fn reject_unknown(body: &Map<String, Value>, allowed: &[&str], read_only: &[&str]) -> Result<(), FieldError> {
    for key in body.keys() {
        if read_only.contains(&key.as_str()) {
            return Err(FieldError::new(key, "is read-only and cannot be set"));
        }
        if !allowed.contains(&key.as_str()) {
            return Err(FieldError::new(key, "is not a known field"));
        }
    }
    Ok(())
}

/// A required, non-blank string.
pub fn text(field: &str, value: &Value) -> Result<String, FieldError> {
    match value {
        Value::String(s) if s.trim().is_empty() => Err(FieldError::new(field, "must not be blank")),
        Value::String(s) if s.len() > MAX_TEXT => {
            Err(FieldError::new(field, format!("must be at most {MAX_TEXT} characters")))
        }
        Value::String(s) => Ok(s.trim().to_string()),
        Value::Null => Err(FieldError::new(field, "must not be null")),
        _ => Err(FieldError::new(field, "must be a string")),
    }
}

/// A string that may be null; an empty string also clears it. Numbers are accepted and
/// kept as text, since zip codes arrive as numbers from some clients.
pub fn opt_text(field: &str, value: &Value) -> Result<Option<String>, FieldError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => text(field, other).map(Some),
    }
}

pub fn boolean(field: &str, value: &Value) -> Result<bool, FieldError> {
    value.as_bool().ok_or_else(|| FieldError::new(field, "must be true or false"))
}

pub fn opt_email(field: &str, value: &Value) -> Result<Option<String>, FieldError> {
    let Some(email) = opt_text(field, value)? else {
        return Ok(None);
    };
    if !is_email(&email) {
        return Err(FieldError::new(field, format!("{email:?} is not a valid email address")));
    }
    Ok(Some(email))
}

pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.contains('.')
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
}

/// E.164 phone numbers, checked against the numbering plan of the country code: a
/// national trunk zero after the country code (`+610403211111`) is refused, as Welkin does.
pub fn opt_phone(field: &str, value: &Value) -> Result<Option<String>, FieldError> {
    let Some(phone) = opt_text(field, value)? else {
        return Ok(None);
    };
    let e164 =
        phone.starts_with('+') && phone[1..].chars().all(|c| c.is_ascii_digit()) && (8..=16).contains(&phone.len());
    let valid = e164
        && phonenumber::parse(None, &phone)
            // Fully valid for its plan, or at least free of a trunk zero: Welkin's own
            // examples use fictional 555 numbers, which no numbering plan lists.
            .map(|n| {
                let plausible = phonenumber::is_valid(&n) || n.national().zeros() == 0;
                plausible && n.format().mode(phonenumber::Mode::E164).to_string() == phone
            })
            .unwrap_or(false);
    if !valid {
        return Err(FieldError::new(field, format!("{phone:?} is not a valid E.164 phone number (e.g. +15556491369)")));
    }
    Ok(Some(phone))
}

pub fn opt_timezone(field: &str, value: &Value) -> Result<Option<String>, FieldError> {
    let Some(tz) = opt_text(field, value)? else {
        return Ok(None);
    };
    if tz.parse::<chrono_tz::Tz>().is_err() {
        return Err(FieldError::new(field, format!("{tz:?} is not an IANA time zone (e.g. America/New_York)")));
    }
    Ok(Some(tz))
}

pub fn opt_uuid(field: &str, value: &Value) -> Result<Option<String>, FieldError> {
    let Some(id) = opt_text(field, value)? else {
        return Ok(None);
    };
    match uuid::Uuid::parse_str(&id) {
        Ok(u) => Ok(Some(u.to_string())),
        Err(_) => Err(FieldError::new(field, format!("{id:?} is not a UUID"))),
    }
}

/// One value of a closed set; returns it upper-cased.
pub fn one_of(field: &str, value: &Value, allowed: &[&str]) -> Result<String, FieldError> {
    let s = text(field, value)?.to_uppercase();
    if allowed.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(FieldError::new(field, format!("must be one of {}", allowed.join(", "))))
    }
}

pub fn object<'a>(field: &str, value: &'a Value) -> Result<&'a Map<String, Value>, FieldError> {
    value.as_object().ok_or_else(|| FieldError::new(field, "must be an object"))
}

pub fn array<'a>(field: &str, value: &'a Value) -> Result<&'a Vec<Value>, FieldError> {
    value.as_array().ok_or_else(|| FieldError::new(field, "must be an array"))
}

pub fn string_list(field: &str, value: &Value) -> Result<Vec<String>, FieldError> {
    array(field, value)?.iter().enumerate().map(|(i, v)| text(&format!("{field}[{i}]"), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phones_must_be_e164_without_trunk_zero() {
        assert_eq!(opt_phone("phone", &json!("+61403211111")).unwrap().as_deref(), Some("+61403211111"));
        assert_eq!(opt_phone("phone", &json!("+15556491369")).unwrap().as_deref(), Some("+15556491369"));
        assert!(opt_phone("phone", &json!("+610403211111")).is_err());
        assert!(opt_phone("phone", &json!("555-1234")).is_err());
        assert_eq!(opt_phone("phone", &json!(null)).unwrap(), None);
    }

    #[test]
    fn emails_and_zones() {
        assert!(is_email("a.b@example.org"));
        assert!(!is_email("a@b"));
        assert!(!is_email("no at"));
        assert!(opt_timezone("timezone", &json!("America/Los_Angeles")).is_ok());
        assert!(opt_timezone("timezone", &json!("Mars/Olympus")).is_err());
    }

    #[test]
    fn unknown_and_read_only_keys_are_named() {
        let body = json!({"firstName": "a", "shoeSize": 3});
        let err = reject_unknown(body.as_object().unwrap(), &["firstName"], &["id"]).unwrap_err();
        assert_eq!(err.field, "shoeSize");
        let body = json!({"id": "x"});
        let err = reject_unknown(body.as_object().unwrap(), &["firstName"], &["id"]).unwrap_err();
        assert!(err.reason.contains("read-only"));
    }
}
