//! What the use cases of data type records (CDT, PDT, documents, encounter parts) share:
//! their errors, the data type of the current formation, the dictionaries its select
//! fields use, unique external keys, and filtering and sorting a patient's records (done
//! in memory, a patient having few records of one type).

use super::error::{ServiceError, ServiceResult};
use super::scope::InstanceScope;
use crate::app::AppState;
use crate::designer::data_type::DataType;
use crate::designer::Kind;
use crate::domain::records::DictionaryValues;
use crate::store::is_unique_violation;
use crate::store::records::{self as store, RecordKey, Scope, StoredRecord};
use crate::store::Tx;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;

const COMPONENT: &str = "CDT";

pub fn record_not_found(details: Value) -> ServiceError {
    ServiceError::not_found("DT_RECORD_NOT_FOUND", COMPONENT, "DT record not found", details)
}

pub fn type_not_found(name: &str) -> ServiceError {
    ServiceError::not_found("DT_NOT_FOUND", COMPONENT, "Data type not found", json!({"cdtName": name}))
}

/// The data type of the current formation, with that formation's version.
pub async fn data_type(
    state: &AppState,
    ctx: &InstanceScope,
    kind: Kind,
    name: &str,
) -> ServiceResult<(DataType, i64)> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    let dt = f.designer.data_type(kind, name).cloned().ok_or_else(|| type_not_found(name))?;
    Ok((dt, f.version))
}

/// The values of the dictionaries the type's select fields use.
pub async fn dictionary_values(
    state: &AppState,
    ctx: &InstanceScope,
    dt: &DataType,
) -> ServiceResult<DictionaryValues> {
    let mut out = DictionaryValues::new();
    for name in dt.fields.iter().filter_map(|f| f.dictionary.as_ref()) {
        if !out.contains_key(name) {
            out.insert(name.clone(), state.db.dictionary_values(&ctx.instance.id, name).await?);
        }
    }
    Ok(out)
}

/// External keys unique within the data type.
pub async fn check_external_keys(
    tx: &mut Tx,
    scope: &Scope<'_>,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<()> {
    for (key, field) in [(RecordKey::ExternalId, "external_id"), (RecordKey::ExternalGuid, "external_guid")] {
        let Some(value) = body.get(field).and_then(Value::as_str) else { continue };
        if let Some(holder) = store::holder_of(tx, scope, key, value).await? {
            if holder != id {
                return Err(ServiceError::conflict(
                    "DT_RECORD_ALREADY_EXISTS",
                    COMPONENT,
                    format!("{field}: another record already has {value:?}"),
                    json!({"field": field, "value": value, "recordId": holder}),
                ));
            }
        }
    }
    Ok(())
}

pub fn unique_or_internal(err: crate::store::sql::Error) -> ServiceError {
    if is_unique_violation(&err) {
        ServiceError::conflict(
            "DT_RECORD_ALREADY_EXISTS",
            COMPONENT,
            "another record already has this external id",
            json!({}),
        )
    } else {
        err.into()
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn matches_filter(body: &Map<String, Value>, field: &str, values: &Option<Vec<String>>) -> bool {
    let v = body.get(field).unwrap_or(&Value::Null);
    match values {
        None => !v.is_null(),
        Some(list) => match v {
            Value::Array(items) => items.iter().any(|i| list.contains(&as_text(i))),
            Value::Null => false,
            other => list.contains(&as_text(other)),
        },
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => as_text(a).cmp(&as_text(b)),
    }
}

pub fn sort_records(found: &mut [StoredRecord], sorts: &[(String, bool)]) {
    found.sort_by(|a, b| {
        for (field, desc) in sorts {
            let o = compare(a.body.get(field).unwrap_or(&Value::Null), b.body.get(field).unwrap_or(&Value::Null));
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id))
    });
}
