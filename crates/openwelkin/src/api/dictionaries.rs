//! Dictionary records: `/{tenant}/{instance}/dictionaries/{name}[/{recordId}]`. The
//! dictionary must be declared in the current formation, or be one of Welkin's built-ins:
//! `timezone` (fixed: the IANA zones, read-only), `cpt` and `icd-10` (empty, fillable).

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::date_param;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::designer::data_type::stable_id;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::dictionaries::{self as store, DictionaryRecord};
use crate::store::Tx;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

const COMPONENT: &str = "DICTIONARY";

/// A dictionary's field names; `None` when the dictionary does not exist.
async fn fields_of(state: &AppState, ctx: &InstanceCaller, name: &str) -> ApiResult<Vec<String>> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    if let Some(d) = f.designer.dictionaries.iter().find(|d| d["name"] == name) {
        let names: Vec<String> =
            d["fields"].as_array().into_iter().flatten().filter_map(|f| f["name"].as_str().map(String::from)).collect();
        return Ok(if names.is_empty() { vec!["value".into()] } else { names });
    }
    match name {
        "timezone" | "cpt" | "icd-10" => Ok(vec!["value".into()]),
        _ => Err(ApiError::not_found(
            "DICTIONARY_NOT_FOUND",
            COMPONENT,
            "Dictionary not found",
            json!({"dictionaryName": name}),
        )),
    }
}

fn read_only(name: &str) -> ApiResult<()> {
    if name == "timezone" {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "DICTIONARY_READ_ONLY",
            COMPONENT,
            "The timezone dictionary cannot be changed",
            json!({"dictionaryName": name}),
        ));
    }
    Ok(())
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("DICTIONARY_RECORD_NOT_FOUND", COMPONENT, "Dictionary record not found", json!({"id": id}))
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

async fn listing(
    state: &AppState,
    ctx: &InstanceCaller,
    name: &str,
    show_deleted: bool,
    from: Option<i64>,
    to: Option<i64>,
) -> ApiResult<DictionaryRecords> {
    let rows: Vec<DictionaryRecord> =
        state.db.dictionary_records(&ctx.instance.id, name, show_deleted, from, to).await?;
    let last = rows.iter().map(|r| r.updated_at).max().map(crate::time::format_ms);
    let mut records: Vec<Value> = rows.into_iter().map(|r| r.body).collect();
    if name == "timezone" {
        records = timezone_records();
    }
    Ok(DictionaryRecords { dictionary_name: name.into(), last_updated_at: last, records })
}

/// A dictionary's records, optionally with deleted ones and by `updatedAt`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/dictionaries/{dictionaryName}", tag = "Dictionaries",
    params(("tenant" = String, Path), ("instance" = String, Path), ("dictionaryName" = String, Path),
           ("dateStart" = Option<String>, Query), ("dateEnd" = Option<String>, Query), ("showDeleted" = Option<bool>, Query)),
    responses((status = 200, body = DictionaryRecords), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<DictionaryRecords>> {
    ctx.require(Family::Dictionaries, Op::Read)?;
    fields_of(&state, &ctx, &path.2).await?;
    let show_deleted = params.bool("showDeleted")?.unwrap_or(false);
    Ok(Json(
        listing(
            &state,
            &ctx,
            &path.2,
            show_deleted,
            date_param(&params, "dateStart")?,
            date_param(&params, "dateEnd")?,
        )
        .await?,
    ))
}

/// One record of a dictionary.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/dictionaries/{dictionaryName}/{recordId}", tag = "Dictionaries",
    params(("tenant" = String, Path), ("instance" = String, Path), ("dictionaryName" = String, Path), ("recordId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Dictionaries, Op::Read)?;
    fields_of(&state, &ctx, &path.2).await?;
    if path.2 == "timezone" {
        return timezone_records()
            .into_iter()
            .find(|r| r["id"] == path.3.as_str())
            .map(Json)
            .ok_or_else(|| not_found(&path.3));
    }
    state
        .db
        .dictionary_record(&ctx.instance.id, &path.2, &path.3)
        .await?
        .map(|r| Json(r.body))
        .ok_or_else(|| not_found(&path.3))
}

fn records_of(body: &Map<String, Value>, fields: &[String]) -> ApiResult<Vec<Map<String, Value>>> {
    crate::domain::fields::reject_unknown(body, &["records"], &[])
        .map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    let list = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid_field(COMPONENT, FieldError::new("records", "is required")))?;
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            values_of(item, fields, &format!("records[{i}]")).map_err(|e| ApiError::invalid_field(COMPONENT, e))
        })
        .collect()
}

async fn insert_all(
    tx: &mut Tx,
    ctx: &InstanceCaller,
    name: &str,
    fields: &[String],
    all: Vec<Map<String, Value>>,
    now_ms: i64,
) -> ApiResult<()> {
    let now = crate::time::format_ms(now_ms);
    for values in all {
        let id = crate::ids::new_id();
        let body = record_body(&id, &now, &now, &values, fields, false);
        store::insert(tx, &ctx.instance.id, name, &id, &body, now_ms).await?;
        ctx.record(
            tx,
            Write {
                entity: "DICTIONARY",
                operation: Operation::Create,
                record_id: body["id"].as_str().unwrap_or_default(),
                patient: None,
                cdt_name: Some(name),
                record: &body,
                subtype: None,
            },
            now_ms,
        )
        .await?;
    }
    Ok(())
}

/// Add records: `{records:[{values:{…}}]}`. Answers 201 with the dictionary.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/dictionaries/{dictionaryName}", tag = "Dictionaries",
    params(("tenant" = String, Path), ("instance" = String, Path), ("dictionaryName" = String, Path)),
    request_body(content = Object, description = "{records:[{values:{field: value}}]}"),
    responses((status = 201, body = DictionaryRecords), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn add(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<DictionaryRecords>)> {
    ctx.require(Family::Dictionaries, Op::Create)?;
    let fields = fields_of(&state, &ctx, &path.2).await?;
    read_only(&path.2)?;
    let all = records_of(&body, &fields)?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    store::lock(&mut tx, &ctx.instance.id, &path.2).await?;
    insert_all(&mut tx, &ctx, &path.2, &fields, all, now_ms).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(listing(&state, &ctx, &path.2, false, None, None).await?)))
}

/// Replace every record of a dictionary (the old ones are removed for good). Answers 201.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/dictionaries/{dictionaryName}", tag = "Dictionaries",
    params(("tenant" = String, Path), ("instance" = String, Path), ("dictionaryName" = String, Path)),
    request_body(content = Object, description = "{records:[{values:{field: value}}]}"),
    responses((status = 201, body = DictionaryRecords), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn replace_all(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<DictionaryRecords>)> {
    ctx.require(Family::Dictionaries, Op::Update)?;
    ctx.require(Family::Dictionaries, Op::Delete)?;
    let fields = fields_of(&state, &ctx, &path.2).await?;
    read_only(&path.2)?;
    let all = records_of(&body, &fields)?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // With the dictionary locked, what is read here is exactly what the purge removes (and
    // two replacements at once leave one set, not both).
    store::lock(&mut tx, &ctx.instance.id, &path.2).await?;
    for old in store::all_for_update(&mut tx, &ctx.instance.id, &path.2).await? {
        ctx.record(
            &mut tx,
            Write {
                entity: "DICTIONARY",
                operation: Operation::Delete,
                record_id: old.body["id"].as_str().unwrap_or_default(),
                patient: None,
                cdt_name: Some(&path.2),
                record: &old.body,
                subtype: None,
            },
            now_ms,
        )
        .await?;
    }
    store::purge(&mut tx, &ctx.instance.id, &path.2).await?;
    insert_all(&mut tx, &ctx, &path.2, &fields, all, now_ms).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(listing(&state, &ctx, &path.2, false, None, None).await?)))
}

/// Change one record's values: `{values:{…}}`.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/dictionaries/{dictionaryName}/{recordId}", tag = "Dictionaries",
    params(("tenant" = String, Path), ("instance" = String, Path), ("dictionaryName" = String, Path), ("recordId" = String, Path)),
    request_body(content = Object, description = "{values:{field: value}}"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Dictionaries, Op::Update)?;
    let fields = fields_of(&state, &ctx, &path.2).await?;
    read_only(&path.2)?;
    let values = values_of(&Value::Object(body), &fields, "$").map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    change(&state, &ctx, &path.2, &path.3, Operation::Update, |old| {
        record_body(
            &path.3,
            old["createdAt"].as_str().unwrap_or_default(),
            "",
            &values,
            &fields,
            old["deleted"].as_bool().unwrap_or(false),
        )
    })
    .await
    .map(Json)
}

/// Delete a record softly: it stays readable with `deleted: true` (and `showDeleted`).
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/dictionaries/{dictionaryName}/{recordId}", tag = "Dictionaries",
    params(("tenant" = String, Path), ("instance" = String, Path), ("dictionaryName" = String, Path), ("recordId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Dictionaries, Op::Delete)?;
    fields_of(&state, &ctx, &path.2).await?;
    read_only(&path.2)?;
    change(&state, &ctx, &path.2, &path.3, Operation::Delete, |old| {
        let mut body = old.clone();
        body["deleted"] = json!(true);
        body
    })
    .await
    .map(Json)
}

async fn change(
    state: &AppState,
    ctx: &InstanceCaller,
    name: &str,
    id: &str,
    operation: Operation,
    edit: impl FnOnce(&Value) -> Value,
) -> ApiResult<Value> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let old = store::get_for_update(&mut tx, &ctx.instance.id, name, id).await?.ok_or_else(|| not_found(id))?;
    let mut body = edit(&old.body);
    body["updatedAt"] = json!(crate::time::format_ms(now_ms));
    let deleted = body["deleted"].as_bool().unwrap_or(false);
    store::update(&mut tx, &ctx.instance.id, name, id, &body, deleted, now_ms).await?;
    ctx.record(
        &mut tx,
        Write {
            entity: "DICTIONARY",
            operation,
            record_id: id,
            patient: None,
            cdt_name: Some(name),
            record: &body,
            subtype: None,
        },
        now_ms,
    )
    .await?;
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
