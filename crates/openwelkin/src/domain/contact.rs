//! Contacts: people around a patient (caregivers, family), optionally taken from a
//! profile (PDT) record whose email and phone fields they must then match.

use super::fields::{self, reject_unknown};
use super::FieldError;
use serde_json::{json, Map, Value};

const WRITABLE: &[&str] = &[
    "name",
    "relation",
    "relationship",
    "pdtRecordId",
    "email",
    "emailLabel",
    "emailPdtFieldName",
    "phone",
    "phoneLabel",
    "phonePdtFieldName",
    "secondaryPhone",
    "secondaryPhoneLabel",
    "secondaryPhonePdtFieldName",
    "active",
];

const READ_ONLY: &[&str] =
    &["id", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdByName", "updatedByName", "patientId"];

/// A new contact with every key present.
pub fn blank(id: &str, patient_id: &str, now: &str, actor_id: &str, actor_name: &str) -> Value {
    json!({
        "id": id, "createdAt": now, "updatedAt": now, "createdBy": actor_id, "updatedBy": actor_id,
        "createdByName": actor_name, "updatedByName": actor_name,
        "name": null, "email": null, "emailLabel": null, "emailPdtFieldName": null,
        "phone": null, "phoneLabel": null, "phonePdtFieldName": null,
        "secondaryPhone": null, "secondaryPhoneLabel": null, "secondaryPhonePdtFieldName": null,
        "patientId": patient_id, "pdtRecordId": null, "relation": null, "active": true,
    })
}

/// Applies a create or PATCH body to `contact`.
pub fn apply(contact: &mut Value, body: &Map<String, Value>, creating: bool) -> Result<(), FieldError> {
    reject_unknown(body, WRITABLE, READ_ONLY)?;
    let c = contact.as_object_mut().expect("contacts are objects");
    for (key, value) in body {
        let k = key.as_str();
        let v = match k {
            "name" => Value::String(fields::text(k, value)?),
            "relation" | "relationship" => Value::String(fields::text(k, value)?),
            "email" => fields::opt_email(k, value)?.map(Value::String).unwrap_or(Value::Null),
            "phone" | "secondaryPhone" => fields::opt_phone(k, value)?.map(Value::String).unwrap_or(Value::Null),
            "pdtRecordId" => fields::opt_uuid(k, value)?.map(Value::String).unwrap_or(Value::Null),
            "active" => Value::Bool(fields::boolean(k, value)?),
            _ => fields::opt_text(k, value)?.map(Value::String).unwrap_or(Value::Null),
        };
        let key = if k == "relationship" { "relation" } else { k };
        c.insert(key.into(), v);
    }
    if creating && c["name"].is_null() {
        return Err(FieldError::new("name", "is required"));
    }
    Ok(())
}

/// With a profile record linked, each `…PdtFieldName` must name a field of it whose
/// value equals the contact's value.
pub fn check_against_profile(contact: &Value, profile: &Map<String, Value>) -> Result<(), FieldError> {
    for (value_key, field_key) in [
        ("email", "emailPdtFieldName"),
        ("phone", "phonePdtFieldName"),
        ("secondaryPhone", "secondaryPhonePdtFieldName"),
    ] {
        let Some(field) = contact[field_key].as_str() else { continue };
        let Some(in_profile) = profile.get(field) else {
            return Err(FieldError::new(field_key, format!("the profile record has no field {field:?}")));
        };
        if contact[value_key].is_null() {
            return Err(FieldError::new(value_key, format!("is required with {field_key}")));
        }
        if in_profile != &contact[value_key] {
            return Err(FieldError::new(value_key, format!("does not match the profile record's {field:?}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_need_a_name_and_match_their_profile() {
        let mut c = blank("c1", "p1", "t", "u", "n");
        assert_eq!(apply(&mut c, json!({"relation": "spouse"}).as_object().unwrap(), true).unwrap_err().field, "name");
        let body =
            json!({"name": "Ann", "relationship": "spouse", "email": "ann@x.org", "emailPdtFieldName": "pdtf-email"});
        apply(&mut c, body.as_object().unwrap(), true).unwrap();
        assert_eq!(c["relation"], "spouse", "kept as given, as Welkin echoes it");
        let profile = json!({"pdtf-email": "ann@x.org"});
        assert!(check_against_profile(&c, profile.as_object().unwrap()).is_ok());
        let other = json!({"pdtf-email": "bob@x.org"});
        assert_eq!(check_against_profile(&c, other.as_object().unwrap()).unwrap_err().field, "email");
        assert_eq!(check_against_profile(&c, json!({}).as_object().unwrap()).unwrap_err().field, "emailPdtFieldName");
    }
}
