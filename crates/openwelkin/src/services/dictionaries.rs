//! Dictionary records: list, read, add, replace all, update and (softly) delete, and the
//! seeding of a dictionary the designer declares with records. The dictionary must be
//! declared in the current formation, or be one of Welkin's built-ins: `timezone` (fixed:
//! the IANA zones, read-only), `cpt` and `icd-10` (empty, fillable).

use super::error::{Kind, ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::designer::data_type::stable_id;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::dictionaries::{self as store, DictionaryRecord};
use crate::store::Tx;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

const COMPONENT: &str = "DICTIONARY";

/// A dictionary's field names; `DICTIONARY_NOT_FOUND` when it does not exist (declared in
/// the current formation, or one of the built-ins).
pub async fn fields_of(state: &AppState, ctx: &InstanceScope, name: &str) -> ServiceResult<Vec<String>> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    if let Some(d) = f.designer.dictionaries.iter().find(|d| d["name"] == name) {
        let names: Vec<String> =
            d["fields"].as_array().into_iter().flatten().filter_map(|f| f["name"].as_str().map(String::from)).collect();
        return Ok(if names.is_empty() { vec!["value".into()] } else { names });
    }
    match name {
        "timezone" | "cpt" | "icd-10" => Ok(vec!["value".into()]),
        _ => Err(ServiceError::not_found(
            "DICTIONARY_NOT_FOUND",
            COMPONENT,
            "Dictionary not found",
            json!({"dictionaryName": name}),
        )),
    }
}

fn read_only(name: &str) -> ServiceResult<()> {
    if name == "timezone" {
        return Err(ServiceError::new(
            Kind::BadRequest,
            "DICTIONARY_READ_ONLY",
            COMPONENT,
            "The timezone dictionary cannot be changed",
            json!({"dictionaryName": name}),
        ));
    }
    Ok(())
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("DICTIONARY_RECORD_NOT_FOUND", COMPONENT, "Dictionary record not found", json!({"id": id}))
}

/// Checks `{values:{field: value}}` against the dictionary's fields.
fn values_of(item: &Value, fields: &[String], path: &str) -> Result<Map<String, Value>, FieldError> {
    let obj = item.as_object().ok_or_else(|| FieldError::new(path, "must be an object with values"))?;
    crate::domain::fields::reject_unknown(obj, &["values"], &["id", "createdAt", "updatedAt", "fullValue", "deleted"])
        .map_err(|e| FieldError::new(format!("{path}.{}", e.field), e.reason))?;
    let values = obj
        .get("values")
        .and_then(Value::as_object)
        .ok_or_else(|| FieldError::new(format!("{path}.values"), "is required"))?;
    for (k, v) in values {
        if !fields.contains(k) {
            return Err(FieldError::new(
                format!("{path}.values.{k}"),
                format!("is not a field of the dictionary ({})", fields.join(", ")),
            ));
        }
        if !(v.is_string() || v.is_number() || v.is_null()) {
            return Err(FieldError::new(format!("{path}.values.{k}"), "must be a string or a number"));
        }
    }
    if values.values().all(Value::is_null) {
        return Err(FieldError::new(format!("{path}.values"), "needs at least one value"));
    }
    Ok(values.clone())
}

fn full_value(values: &Map<String, Value>, fields: &[String]) -> String {
    fields
        .iter()
        .filter_map(|f| match values.get(f) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" - ")
}

fn record_body(
    id: &str,
    created: &str,
    updated: &str,
    values: &Map<String, Value>,
    fields: &[String],
    deleted: bool,
) -> Value {
    json!({"id": id, "createdAt": created, "updatedAt": updated, "fullValue": full_value(values, fields), "deleted": deleted, "values": values})
}

/// `{dictionaryName, lastUpdatedAt, records}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DictionaryRecords {
    pub dictionary_name: String,
    pub last_updated_at: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<Value>,
}

fn timezone_records() -> Vec<Value> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| {
            let name = tz.name();
            let mut values = Map::new();
            values.insert("value".into(), json!(name));
            record_body(
                &stable_id(&format!("timezone:{name}")),
                "1970-01-01T00:00:00.000Z",
                "1970-01-01T00:00:00.000Z",
                &values,
                &["value".into()],
                false,
            )
        })
        .collect()
}

/// The records of dictionary `name`, optionally with deleted ones and by `updatedAt`.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    name: &str,
    show_deleted: bool,
    from: Option<i64>,
    to: Option<i64>,
) -> ServiceResult<DictionaryRecords> {
    let rows: Vec<DictionaryRecord> =
        state.db.dictionary_records(&ctx.instance.id, name, show_deleted, from, to).await?;
    let last = rows.iter().map(|r| r.updated_at).max().map(crate::time::format_ms);
    let mut records: Vec<Value> = rows.into_iter().map(|r| r.body).collect();
    if name == "timezone" {
        records = timezone_records();
    }
    Ok(DictionaryRecords { dictionary_name: name.into(), last_updated_at: last, records })
}

/// Adds records: `{records:[{values:{…}}]}`; answers with the dictionary.
pub async fn add(
    state: &AppState,
    ctx: &InstanceScope,
    name: &str,
    body: &Map<String, Value>,
) -> ServiceResult<DictionaryRecords> {
    write_records(state, ctx, name, body, false).await
}

/// Replaces every record of a dictionary (the old ones are removed for good).
pub async fn replace_all(
    state: &AppState,
    ctx: &InstanceScope,
    name: &str,
    body: &Map<String, Value>,
) -> ServiceResult<DictionaryRecords> {
    write_records(state, ctx, name, body, true).await
}

/// Inserts the body's records, after removing the old ones when `replace`; answers with
/// the dictionary.
async fn write_records(
    state: &AppState,
    ctx: &InstanceScope,
    name: &str,
    body: &Map<String, Value>,
    replace: bool,
) -> ServiceResult<DictionaryRecords> {
    let fields = fields_of(state, ctx, name).await?;
    read_only(name)?;
    let all = records_of(body, &fields)?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // With the dictionary locked, what is read here is exactly what the purge removes (and
    // two replacements at once leave one set, not both).
    store::lock(&mut tx, &ctx.instance.id, name).await?;
    if replace {
        for old in store::all_for_update(&mut tx, &ctx.instance.id, name).await? {
            let id = old.body["id"].as_str().unwrap_or_default();
            audit(&mut tx, ctx, name, Operation::Delete, id, &old.body, now_ms).await?;
        }
        store::purge(&mut tx, &ctx.instance.id, name).await?;
    }
    insert_all(&mut tx, ctx, name, &fields, all, now_ms).await?;
    tx.commit().await?;
    list(state, ctx, name, false, None, None).await
}

/// One record of a dictionary.
pub async fn read(state: &AppState, ctx: &InstanceScope, name: &str, id: &str) -> ServiceResult<Value> {
    fields_of(state, ctx, name).await?;
    if name == "timezone" {
        return timezone_records().into_iter().find(|r| r["id"] == id).ok_or_else(|| not_found(id));
    }
    state.db.dictionary_record(&ctx.instance.id, name, id).await?.map(|r| r.body).ok_or_else(|| not_found(id))
}

/// Changes one record's values: `{values:{…}}`.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    name: &str,
    id: &str,
    body: Map<String, Value>,
) -> ServiceResult<Value> {
    let fields = fields_of(state, ctx, name).await?;
    read_only(name)?;
    let values =
        values_of(&Value::Object(body), &fields, "$").map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    change(state, ctx, name, id, Operation::Update, |old| {
        record_body(
            id,
            old["createdAt"].as_str().unwrap_or_default(),
            "",
            &values,
            &fields,
            old["deleted"].as_bool().unwrap_or(false),
        )
    })
    .await
}

/// Deletes a record softly: it stays readable with `deleted: true` (and `showDeleted`).
pub async fn delete(state: &AppState, ctx: &InstanceScope, name: &str, id: &str) -> ServiceResult<Value> {
    fields_of(state, ctx, name).await?;
    read_only(name)?;
    change(state, ctx, name, id, Operation::Delete, |old| {
        let mut body = old.clone();
        body["deleted"] = json!(true);
        body
    })
    .await
}

fn records_of(body: &Map<String, Value>, fields: &[String]) -> ServiceResult<Vec<Map<String, Value>>> {
    crate::domain::fields::reject_unknown(body, &["records"], &[])
        .map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    let list = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| ServiceError::invalid_field(COMPONENT, FieldError::new("records", "is required")))?;
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            values_of(item, fields, &format!("records[{i}]")).map_err(|e| ServiceError::invalid_field(COMPONENT, e))
        })
        .collect()
}

async fn insert_all(
    tx: &mut Tx,
    ctx: &InstanceScope,
    name: &str,
    fields: &[String],
    all: Vec<Map<String, Value>>,
    now_ms: i64,
) -> ServiceResult<()> {
    let now = crate::time::format_ms(now_ms);
    for values in all {
        let id = crate::ids::new_id();
        let body = record_body(&id, &now, &now, &values, fields, false);
        store::insert(tx, &ctx.instance.id, name, &id, &body, now_ms).await?;
        audit(tx, ctx, name, Operation::Create, &id, &body, now_ms).await?;
    }
    Ok(())
}

/// Audits a write to a record of dictionary `name` (named in the audit row's `cdtName`).
async fn audit(
    tx: &mut Tx,
    ctx: &InstanceScope,
    name: &str,
    operation: Operation,
    id: &str,
    record: &Value,
    now_ms: i64,
) -> ServiceResult<()> {
    ctx.record(tx, Write { cdt_name: Some(name), ..Write::new("DICTIONARY", operation, id, record) }, now_ms).await
}

async fn change(
    state: &AppState,
    ctx: &InstanceScope,
    name: &str,
    id: &str,
    operation: Operation,
    edit: impl FnOnce(&Value) -> Value,
) -> ServiceResult<Value> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let old = store::get_for_update(&mut tx, &ctx.instance.id, name, id).await?.ok_or_else(|| not_found(id))?;
    let mut body = edit(&old.body);
    body["updatedAt"] = json!(crate::time::format_ms(now_ms));
    let deleted = body["deleted"].as_bool().unwrap_or(false);
    store::update(&mut tx, &ctx.instance.id, name, id, &body, deleted, now_ms).await?;
    audit(&mut tx, ctx, name, operation, id, &body, now_ms).await?;
    tx.commit().await?;
    Ok(body)
}

/// Seeds a dictionary declared with records in the designer, when it has none yet.
pub async fn seed(
    tx: &mut Tx,
    instance_id: &str,
    name: &str,
    fields: &[String],
    seeds: &[Map<String, Value>],
    now_ms: i64,
) -> crate::store::sql::Result<bool> {
    store::lock(tx, instance_id, name).await?;
    if store::count(tx, instance_id, name).await? > 0 {
        return Ok(false);
    }
    let now = crate::time::format_ms(now_ms);
    for values in seeds {
        let id = crate::ids::new_id();
        store::insert(tx, instance_id, name, &id, &record_body(&id, &now, &now, values, fields, false), now_ms).await?;
    }
    Ok(true)
}
