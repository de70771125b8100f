//! Data type records (CDT and PDT records): a `jsonBody` with the system fields and the
//! type's own fields, written and checked against the data type's formation.

use super::fields;
use super::FieldError;
use crate::designer::data_type::{DataType, Field, SYSTEM_FIELDS};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// System fields a client may set.
const WRITABLE_SYSTEM: &[&str] = &["external_id", "external_guid"];

/// A fresh `jsonBody`: every field of the type present (unset ones `null`), system fields
/// filled for `actor` at `now`.
pub fn blank_body(dt: &DataType, id: &str, now: &str, actor_id: &str, actor_name: &str) -> Map<String, Value> {
    let mut body = Map::new();
    for (name, _) in SYSTEM_FIELDS {
        body.insert((*name).into(), Value::Null);
    }
    for f in &dt.fields {
        body.insert(f.name.clone(), Value::Null);
    }
    body.insert("id".into(), json!(id));
    for key in ["created_at", "updated_at"] {
        body.insert(key.into(), json!(now));
    }
    for key in ["created_by", "updated_by"] {
        body.insert(key.into(), json!(actor_id));
    }
    for key in ["created_by_name", "updated_by_name"] {
        body.insert(key.into(), json!(actor_name));
    }
    body
}

/// Applies an update to a stored `jsonBody` and stamps it as updated by `actor_*` at
/// `now`. Fields added to the type since the record was written read as null.
#[allow(clippy::too_many_arguments)]
pub fn update_body(
    dt: &DataType,
    body: &mut Map<String, Value>,
    input: &Map<String, Value>,
    tolerated: &[(&str, &str)],
    dictionaries: &DictionaryValues,
    now: &str,
    actor_id: &str,
    actor_name: &str,
) -> Result<(), FieldError> {
    for f in &dt.fields {
        body.entry(f.name.clone()).or_insert(Value::Null);
    }
    apply(dt, body, input, false, tolerated, dictionaries)?;
    body.insert("updated_at".into(), json!(now));
    body.insert("updated_by".into(), json!(actor_id));
    body.insert("updated_by_name".into(), json!(actor_name));
    Ok(())
}

/// Values that select fields backed by a dictionary may take, by dictionary name.
pub type DictionaryValues = HashMap<String, Vec<Value>>;

/// Applies a create or update field map to `body`. `tolerated` holds keys clients send
/// alongside the fields and that must match (e.g. `cdtName`).
pub fn apply(
    dt: &DataType,
    body: &mut Map<String, Value>,
    input: &Map<String, Value>,
    creating: bool,
    tolerated: &[(&str, &str)],
    dictionaries: &DictionaryValues,
) -> Result<(), FieldError> {
    for (key, value) in input {
        let k = key.as_str();
        if let Some((_, expected)) = tolerated.iter().find(|(name, _)| *name == k) {
            if value.as_str() != Some(expected) {
                return Err(FieldError::new(k, format!("must be {expected:?}, as in the path")));
            }
            continue;
        }
        if k == "id" && !creating && value.as_str() == body.get("id").and_then(Value::as_str) {
            continue;
        }
        if WRITABLE_SYSTEM.contains(&k) {
            let v = if k == "external_guid" { fields::opt_uuid(k, value)? } else { fields::opt_text(k, value)? };
            body.insert(key.clone(), v.map(Value::String).unwrap_or(Value::Null));
            continue;
        }
        if SYSTEM_FIELDS.iter().any(|(name, _)| *name == k) {
            return Err(FieldError::new(k, "is a system field and cannot be set"));
        }
        let field = dt.field(k).ok_or_else(|| FieldError::new(k, format!("is not a field of {}", dt.name)))?;
        if !field.editable || field.disable {
            return Err(FieldError::new(k, "is not editable"));
        }
        let checked = check_value(field, value, dictionaries)?;
        if checked.is_null() && field.meta.required {
            return Err(FieldError::new(k, "is required"));
        }
        body.insert(key.clone(), checked);
    }
    if creating {
        if let Some(missing) =
            dt.fields.iter().find(|f| f.meta.required && body.get(&f.name).is_none_or(Value::is_null))
        {
            return Err(FieldError::new(&missing.name, "is required"));
        }
    }
    Ok(())
}

/// Checks one value against its field's type and returns it in stored form.
pub fn check_value(field: &Field, value: &Value, dictionaries: &DictionaryValues) -> Result<Value, FieldError> {
    let name = field.name.as_str();
    if value.is_null() {
        return Ok(Value::Null);
    }
    match field.field_type.as_str() {
        "text" | "textarea" => match value {
            Value::String(s) if s.len() <= 65_536 => Ok(value.clone()),
            Value::String(_) => Err(FieldError::new(name, "is longer than 65536 characters")),
            _ => Err(FieldError::new(name, "must be a string")),
        },
        "integer" => {
            let n = value.as_i64().ok_or_else(|| FieldError::new(name, "must be a whole number"))?;
            check_bounds(field, n as f64)?;
            Ok(json!(n))
        }
        "decimal" => {
            let n = value.as_f64().ok_or_else(|| FieldError::new(name, "must be a number"))?;
            check_bounds(field, n)?;
            Ok(value.clone())
        }
        "checkbox" => fields::boolean(name, value).map(Value::Bool),
        "date" => {
            let s = value.as_str().ok_or_else(|| FieldError::new(name, "must be a date (YYYY-MM-DD)"))?;
            let d = crate::time::parse_date(s)
                .ok_or_else(|| FieldError::new(name, format!("{s:?} is not a date (YYYY-MM-DD)")))?;
            Ok(json!(d.format("%Y-%m-%d").to_string()))
        }
        "datetime" => {
            let s = value.as_str().ok_or_else(|| FieldError::new(name, "must be an ISO-8601 datetime"))?;
            let t = crate::time::parse_datetime(s)
                .ok_or_else(|| FieldError::new(name, format!("{s:?} is not an ISO-8601 datetime")))?;
            Ok(json!(crate::time::format(t)))
        }
        "phone" => fields::opt_phone(name, value).map(|v| v.map(Value::String).unwrap_or(Value::Null)),
        "email" => fields::opt_email(name, value).map(|v| v.map(Value::String).unwrap_or(Value::Null)),
        "select" => check_select(field, value, dictionaries),
        other => Err(FieldError::new(name, format!("has an unknown type {other:?}"))),
    }
}

fn bound(v: &Option<Value>) -> Option<f64> {
    match v {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

fn check_bounds(field: &Field, n: f64) -> Result<(), FieldError> {
    if let Some(min) = bound(&field.meta.min_value) {
        if n < min {
            return Err(FieldError::new(&field.name, format!("must be at least {min}")));
        }
    }
    if let Some(max) = bound(&field.meta.max_value) {
        if n > max {
            return Err(FieldError::new(&field.name, format!("must be at most {max}")));
        }
    }
    Ok(())
}

fn check_select(field: &Field, value: &Value, dictionaries: &DictionaryValues) -> Result<Value, FieldError> {
    let allowed: Vec<Value> = match (&field.meta.options, &field.dictionary) {
        (Some(options), _) if !options.is_empty() => options.iter().map(|o| o.value.clone()).collect(),
        (_, Some(dict)) => dictionaries.get(dict).cloned().unwrap_or_default(),
        _ => vec![],
    };
    let one = |v: &Value| -> Result<(), FieldError> {
        if allowed.contains(v) {
            Ok(())
        } else {
            let shown: Vec<String> = allowed.iter().take(20).map(Value::to_string).collect();
            Err(FieldError::new(&field.name, format!("{v} is not one of the options ({})", shown.join(", "))))
        }
    };
    if field.meta.multiple == Some(true) {
        let list = value.as_array().ok_or_else(|| FieldError::new(&field.name, "must be a list of options"))?;
        list.iter().try_for_each(one)?;
    } else {
        one(value)?;
    }
    Ok(value.clone())
}

/// Whether `name` is a field of the type or a system field (what lists may select, filter
/// and sort on).
pub fn is_field(dt: &DataType, name: &str) -> bool {
    dt.field(name).is_some() || SYSTEM_FIELDS.iter().any(|(s, _)| *s == name)
}

/// The values of the type's own fields, joined: what a profile shows as its name.
fn full_value(dt: &DataType, body: &Map<String, Value>) -> String {
    dt.fields
        .iter()
        .filter_map(|f| match body.get(&f.name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A profile (PDT) record as Welkin shows it: `{id, createdAt, updatedAt, fullValue,
/// deleted, jsonBody, pdtName}`.
pub fn profile(dt: &DataType, id: &str, created_at_ms: i64, updated_at_ms: i64, body: &Map<String, Value>) -> Value {
    json!({
        "id": id,
        "createdAt": crate::time::format_ms(created_at_ms),
        "updatedAt": crate::time::format_ms(updated_at_ms),
        "fullValue": full_value(dt, body),
        "deleted": false,
        "jsonBody": body,
        "pdtName": dt.name,
    })
}

/// The record envelope shared by CDT-backed records.
pub fn envelope(
    id: &str,
    patient_id: Option<&str>,
    cdt_id: &str,
    version: i64,
    body: &Map<String, Value>,
    cdt_name: &str,
) -> Value {
    json!({"id": id, "patientId": patient_id, "cdtId": cdt_id, "version": version, "jsonBody": body, "cdtName": cdt_name})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt() -> DataType {
        serde_json::from_value(json!({"name": "cdt-self-care", "fields": [
            {"name": "cdtf-alone-time", "type": "select", "meta": {"options": [{"label": "Yes", "value": "Yes"}, {"label": "No", "value": "No"}]}},
            {"name": "cdtf-unwind", "type": "text"},
            {"name": "weight", "type": "integer", "meta": {"minValue": "0", "maxValue": "500"}},
            {"name": "seen", "type": "date"},
            {"name": "must", "type": "text", "meta": {"required": true}},
            {"name": "locked", "type": "text", "editable": false}
        ]}))
        .unwrap()
    }

    fn run(input: Value, creating: bool) -> Result<Map<String, Value>, FieldError> {
        let mut body = blank_body(&dt(), "r1", "2022-01-01T00:00:00.000Z", "u", "API_CLIENT:X");
        apply(
            &dt(),
            &mut body,
            input.as_object().unwrap(),
            creating,
            &[("cdtName", "cdt-self-care")],
            &HashMap::new(),
        )?;
        Ok(body)
    }

    #[test]
    fn a_valid_create_fills_every_field() {
        let body =
            run(json!({"cdtName": "cdt-self-care", "cdtf-alone-time": "Yes", "must": "x", "seen": "2022-8-9"}), true)
                .unwrap();
        assert_eq!(body["cdtf-alone-time"], "Yes");
        assert_eq!(body["cdtf-unwind"], Value::Null);
        assert_eq!(body["seen"], "2022-08-09");
        assert_eq!(body["created_by_name"], "API_CLIENT:X");
        assert_eq!(body["source_type"], Value::Null);
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (json!({"must": "x", "cdtf-alone-time": "Maybe"}), "cdtf-alone-time"),
            (json!({"must": "x", "weight": 501}), "weight"),
            (json!({"must": "x", "weight": "heavy"}), "weight"),
            (json!({"must": "x", "nope": 1}), "nope"),
            (json!({"must": "x", "locked": "y"}), "locked"),
            (json!({"must": "x", "created_at": "y"}), "created_at"),
            (json!({"cdtf-unwind": "y"}), "must"),
            (json!({"must": "x", "cdtName": "other"}), "cdtName"),
            (json!({"must": "x", "seen": "yesterday"}), "seen"),
        ];
        for (input, field) in cases {
            assert_eq!(run(input.clone(), true).unwrap_err().field, field, "{input}");
        }
        assert_eq!(run(json!({"must": null}), false).unwrap_err().field, "must");
        assert!(run(json!({"cdtf-unwind": "later"}), false).is_ok(), "updates need not repeat required fields");
    }
}
