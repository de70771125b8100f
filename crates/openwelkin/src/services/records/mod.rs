//! Data type records: the CDT records of a patient (`cdts`) and the profile (PDT) records
//! (`pdts`). Here is what the use cases of data type records (CDT, PDT, documents,
//! encounter parts) share: their errors, their scope, the data type of the current
//! formation, the dictionaries its select fields use, new and updated bodies stamped by
//! the caller, writes that keep external keys unique, and filtering and sorting a
//! patient's records (done in memory, a patient having few records of one type).

pub mod cdts;
pub mod pdts;

use super::error::{ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::designer::data_type::DataType;
use crate::designer::Kind;
use crate::domain::patient::Patient;
use crate::domain::records::{self as domain, DictionaryValues};
use crate::events::audit::Operation;
use crate::store::is_unique_violation;
use crate::store::records::{self as store, DtKind, RecordKey, Scope, StoredRecord};
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

/// The records of data type `dt_name` of one kind that belong to the patient (or, with
/// `None`, to no patient).
pub fn scope<'a>(ctx: &'a InstanceScope, kind: DtKind, dt_name: &'a str, patient_id: Option<&'a str>) -> Scope<'a> {
    Scope { tenant_id: &ctx.tenant.id, instance_id: &ctx.instance.id, kind, dt_name, patient_id: Some(patient_id) }
}

/// The audit of a write to a patient's record of data type `dt_name` (whose relation is
/// `relation`), as a `CDT` (CDT records, document-type records, encounter parts).
pub fn cdt_write<'a>(
    operation: Operation,
    id: &'a str,
    patient: &'a Patient,
    dt_name: &'a str,
    relation: &'a str,
    record: &'a Value,
) -> Write<'a> {
    Write {
        patient: Some(patient),
        cdt_name: Some(dt_name),
        cdt_relation: Some(relation),
        ..Write::new("CDT", operation, id, record)
    }
}

/// A record as just inserted.
pub fn stored(
    id: &str,
    patient_id: Option<&str>,
    dt_name: &str,
    version: i64,
    now_ms: i64,
    body: Map<String, Value>,
) -> StoredRecord {
    StoredRecord {
        id: id.into(),
        patient_id: patient_id.map(String::from),
        dt_name: dt_name.into(),
        version,
        created_at: now_ms,
        updated_at: now_ms,
        body,
    }
}

/// The body of a new record of `dt` from a create body, written by the caller at
/// `now_ms`; `fixed` are the keys the body may repeat but not change (`cdtName`, …).
#[allow(clippy::too_many_arguments)]
pub fn new_body(
    ctx: &InstanceScope,
    component: &str,
    dt: &DataType,
    id: &str,
    input: &Map<String, Value>,
    fixed: &[(&str, &str)],
    dictionaries: &DictionaryValues,
    now_ms: i64,
) -> ServiceResult<Map<String, Value>> {
    let actor = ctx.actor();
    let mut body = domain::blank_body(dt, id, &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    domain::apply(dt, &mut body, input, true, fixed, dictionaries)
        .map_err(|e| ServiceError::invalid_field(component, e))?;
    Ok(body)
}

/// Applies an update body to a stored record of `dt`, stamped by the caller at `now_ms`.
#[allow(clippy::too_many_arguments)]
pub fn apply_update(
    ctx: &InstanceScope,
    component: &str,
    dt: &DataType,
    r: &mut StoredRecord,
    input: &Map<String, Value>,
    fixed: &[(&str, &str)],
    dictionaries: &DictionaryValues,
    now_ms: i64,
) -> ServiceResult<()> {
    let actor = ctx.actor();
    let now = crate::time::format_ms(now_ms);
    domain::update_body(dt, &mut r.body, input, fixed, dictionaries, &now, &actor.id, &actor.full_name())
        .map_err(|e| ServiceError::invalid_field(component, e))?;
    r.updated_at = now_ms;
    Ok(())
}

/// Stamps a record body as updated by the caller at `now_ms`.
pub fn stamp(ctx: &InstanceScope, body: &mut Map<String, Value>, now_ms: i64) {
    let actor = ctx.actor();
    body.insert("updated_at".into(), json!(crate::time::format_ms(now_ms)));
    body.insert("updated_by".into(), json!(actor.id));
    body.insert("updated_by_name".into(), json!(actor.full_name()));
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
async fn check_external_keys(tx: &mut Tx, scope: &Scope<'_>, id: &str, body: &Map<String, Value>) -> ServiceResult<()> {
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

/// Inserts a new record whose external keys no other record of its type has.
pub async fn insert_unique(
    tx: &mut Tx,
    scope: &Scope<'_>,
    id: &str,
    version: i64,
    body: &Map<String, Value>,
    now_ms: i64,
) -> ServiceResult<()> {
    check_external_keys(tx, scope, id, body).await?;
    store::insert(tx, scope, id, version, body, now_ms).await.map_err(unique_or_internal)
}

/// Stores a changed record whose external keys no other record of its type has.
pub async fn update_unique(
    tx: &mut Tx,
    scope: &Scope<'_>,
    id: &str,
    body: &Map<String, Value>,
    now_ms: i64,
) -> ServiceResult<()> {
    check_external_keys(tx, scope, id, body).await?;
    store::update(tx, scope, id, body, now_ms).await.map_err(unique_or_internal)
}

fn unique_or_internal(err: crate::store::sql::Error) -> ServiceError {
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
