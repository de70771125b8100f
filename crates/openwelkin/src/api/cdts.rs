//! CDT records: `/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}[/{recordId}]`,
//! checked against the data type of the current formation and kept with the formation
//! version they were written with.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::designer::data_type::{Cardinality, DataType, SYSTEM_FIELDS};
use crate::designer::Kind;
use crate::domain::records::{self, DictionaryValues};
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::records::{self as store, DtKind, RecordKey, Scope, StoredRecord};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

const COMPONENT: &str = "CDT";

pub(crate) use crate::services::patients::{by_id as patient, lock as lock_patient};
pub(crate) use crate::services::records::{
    check_external_keys, data_type, dictionary_values, matches_filter, record_not_found, sort_records,
    unique_or_internal,
};

pub(crate) fn key_type(params: &Params) -> ApiResult<RecordKey> {
    Ok(match params.get("type").map(str::to_ascii_uppercase).as_deref() {
        None | Some("") | Some("ID") => RecordKey::Id,
        Some("EID") => RecordKey::ExternalId,
        Some("EGUID") => RecordKey::ExternalGuid,
        Some(_) => return Err(ApiError::invalid_param("type", "must be one of ID, EID, EGUID")),
    })
}

fn envelope(dt: &DataType, r: &StoredRecord) -> Value {
    records::envelope(&r.id, r.patient_id.as_deref(), &dt.id(&dt.relation_or("COMMON")), r.version, &r.body, &dt.name)
}

fn scope<'a>(ctx: &'a InstanceCaller, cdt: &'a str, patient_id: &'a str) -> Scope<'a> {
    Scope {
        tenant_id: &ctx.tenant.id,
        instance_id: &ctx.instance.id,
        kind: DtKind::Cdt,
        dt_name: cdt,
        patient_id: Some(Some(patient_id)),
    }
}

/// `{name, data:{Spring page}}`, as Welkin lists CDT records.
#[derive(Serialize, ToSchema)]
pub struct CdtPage {
    pub name: String,
    pub data: SpringPage<Value>,
}

/// Create a record of a CDT for a patient.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}", tag = "CDT records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("cdtName" = String, Path)),
    request_body(content = Object, description = "Field values by field name; `external_id`, `external_guid` may be set"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(input): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Cdts, Op::Create)?;
    let (patient_id, cdt) = (path.2, path.3);
    let patient = patient(&state, &ctx, &patient_id).await?;
    let (dt, version) = data_type(&state, &ctx, Kind::Cdts, &cdt).await?;
    let dictionaries = dictionary_values(&state, &ctx, &dt).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let id = crate::ids::new_id();
    let mut body = records::blank_body(&dt, &id, &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    records::apply(&dt, &mut body, &input, true, &[("cdtName", &cdt)], &dictionaries)
        .map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    let scope = scope(&ctx, &cdt, &patient.id);
    let mut tx = state.db.begin().await?;
    lock_patient(&mut tx, &ctx, &patient.id).await?;
    if dt.cardinality == Cardinality::SingleRecord && store::count(&mut tx, &scope).await? > 0 {
        return Err(ApiError::conflict(
            "DT_RECORD_ALREADY_EXISTS",
            COMPONENT,
            format!("{cdt} is a SINGLE_RECORD type and the patient already has its record"),
            json!({"patientId": patient.id, "cdtName": cdt}),
        ));
    }
    check_external_keys(&mut tx, &scope, &id, &body).await?;
    store::insert(&mut tx, &scope, &id, version, &body, now_ms).await.map_err(unique_or_internal)?;
    let stored = StoredRecord {
        id: id.clone(),
        patient_id: Some(patient.id.clone()),
        dt_name: cdt.clone(),
        version,
        created_at: now_ms,
        updated_at: now_ms,
        body,
    };
    let record = envelope(&dt, &stored);
    ctx.record(
        &mut tx,
        Write {
            entity: "CDT",
            operation: Operation::Create,
            record_id: &id,
            patient: Some(&patient),
            cdt_name: Some(&cdt),
            record: &record,
            subtype: None,
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Read a record by id, or by `external_id` / `external_guid` with `type=EID|EGUID`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}/{recordId}", tag = "CDT records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("cdtName" = String, Path),
           ("recordId" = String, Path, description = "The id, or the key named by `type`"),
           ("type" = Option<String>, Query, description = "ID (default), EID or EGUID")),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Cdts, Op::Read)?;
    let (patient_id, cdt, key) = (path.2, path.3, path.4);
    let kind = key_type(&params)?;
    let patient = patient(&state, &ctx, &patient_id).await?;
    let (dt, _) = data_type(&state, &ctx, Kind::Cdts, &cdt).await?;
    let r = state
        .db
        .record(&scope(&ctx, &cdt, &patient.id), kind, &key)
        .await?
        .ok_or_else(|| record_not_found(json!({})))?;
    Ok(Json(envelope(&dt, &r)))
}

/// Update some fields of a record.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}/{recordId}", tag = "CDT records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("cdtName" = String, Path), ("recordId" = String, Path)),
    request_body(content = Object, description = "Field values by field name"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
    JsonObject(input): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Cdts, Op::Update)?;
    let (patient_id, cdt, id) = (path.2, path.3, path.4);
    let patient = patient(&state, &ctx, &patient_id).await?;
    let (dt, _) = data_type(&state, &ctx, Kind::Cdts, &cdt).await?;
    let dictionaries = dictionary_values(&state, &ctx, &dt).await?;
    let scope = scope(&ctx, &cdt, &patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut r =
        store::get_for_update(&mut tx, &scope, RecordKey::Id, &id).await?.ok_or_else(|| record_not_found(json!({})))?;
    apply_update(&ctx, &dt, &mut r, &input, &dictionaries, &cdt, now_ms)?;
    check_external_keys(&mut tx, &scope, &id, &r.body).await?;
    store::update(&mut tx, &scope, &id, &r.body, now_ms).await.map_err(unique_or_internal)?;
    let record = envelope(&dt, &r);
    ctx.record(
        &mut tx,
        Write {
            entity: "CDT",
            operation: Operation::Update,
            record_id: &id,
            patient: Some(&patient),
            cdt_name: Some(&cdt),
            record: &record,
            subtype: None,
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(record))
}

fn apply_update(
    ctx: &InstanceCaller,
    dt: &DataType,
    r: &mut StoredRecord,
    input: &Map<String, Value>,
    dictionaries: &DictionaryValues,
    cdt: &str,
    now_ms: i64,
) -> ApiResult<()> {
    let actor = ctx.actor();
    let now = crate::time::format_ms(now_ms);
    records::update_body(
        dt,
        &mut r.body,
        input,
        &[("cdtName", cdt)],
        dictionaries,
        &now,
        &actor.id,
        &actor.full_name(),
    )
    .map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    r.updated_at = now_ms;
    Ok(())
}

#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct BulkRows {
    #[schema(value_type = Vec<Object>)]
    rows: Vec<Value>,
}

/// Update several records at once: `{rows:[{id, jsonBody}]}`. Each row is applied or
/// refused on its own; its `result` says which (`OK` or `ERROR` with the error).
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}", tag = "CDT records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("cdtName" = String, Path)),
    request_body = BulkRows,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn bulk_update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(input): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Cdts, Op::Update)?;
    let (patient_id, cdt) = (path.2, path.3);
    let rows = match input.get("rows") {
        Some(Value::Array(rows)) if input.len() == 1 => rows.clone(),
        _ => {
            return Err(ApiError::invalid_field(
                COMPONENT,
                FieldError::new("rows", "must be the only key, a list of {id, jsonBody}"),
            ))
        }
    };
    let patient = patient(&state, &ctx, &patient_id).await?;
    let (dt, _) = data_type(&state, &ctx, Kind::Cdts, &cdt).await?;
    let dictionaries = dictionary_values(&state, &ctx, &dt).await?;
    let scope = scope(&ctx, &cdt, &patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut ids: Vec<String> =
        rows.iter().filter_map(|r| r.get("id").and_then(Value::as_str)).map(String::from).collect();
    ids.sort();
    ids.dedup();
    store::lock_all(&mut tx, &scope, &ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let id = row.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        store::savepoint_row(&mut tx).await?;
        let outcome: ApiResult<Value> = async {
            let fields = row.get("jsonBody").and_then(Value::as_object).ok_or_else(|| {
                ApiError::invalid_field(COMPONENT, FieldError::new(format!("rows[{i}].jsonBody"), "must be an object"))
            })?;
            let mut r = store::get_for_update(&mut tx, &scope, RecordKey::Id, &id)
                .await?
                .ok_or_else(|| record_not_found(json!({"id": id})))?;
            apply_update(&ctx, &dt, &mut r, fields, &dictionaries, &cdt, now_ms)?;
            check_external_keys(&mut tx, &scope, &id, &r.body).await?;
            store::update(&mut tx, &scope, &id, &r.body, now_ms).await.map_err(unique_or_internal)?;
            let record = envelope(&dt, &r);
            ctx.record(
                &mut tx,
                Write {
                    entity: "CDT",
                    operation: Operation::Update,
                    record_id: &id,
                    patient: Some(&patient),
                    cdt_name: Some(&cdt),
                    record: &record,
                    subtype: None,
                },
                now_ms,
            )
            .await?;
            Ok(Value::Object(r.body))
        }
        .await;
        out.push(match outcome {
            Ok(body) => {
                store::release_row(&mut tx).await?;
                json!({"id": id, "jsonBody": body, "result": {"status": "OK", "content": null}})
            }
            Err(e) if e.status.is_server_error() => return Err(e),
            Err(e) => {
                // A refused row leaves nothing behind, and the rows after it can still be
                // written (on PostgreSQL a failed statement would abort the transaction).
                store::rollback_to_row(&mut tx).await?;
                json!({"id": id, "jsonBody": row.get("jsonBody"), "result": {"status": "ERROR", "content": e.item}})
            }
        });
    }
    tx.commit().await?;
    Ok(Json(json!({"rows": out})))
}

/// Delete a record. Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}/{recordId}", tag = "CDT records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("cdtName" = String, Path), ("recordId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Cdts, Op::Delete)?;
    let (patient_id, cdt, id) = (path.2, path.3, path.4);
    let patient = patient(&state, &ctx, &patient_id).await?;
    let (dt, _) = data_type(&state, &ctx, Kind::Cdts, &cdt).await?;
    let scope = scope(&ctx, &cdt, &patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let r = store::get_for_update(&mut tx, &scope, RecordKey::Id, &id)
        .await?
        .ok_or_else(|| record_not_found(json!({"patientId": patient.id, "cdtRecordId": id, "cdtName": cdt})))?;
    store::delete(&mut tx, &scope, &id).await?;
    let record = envelope(&dt, &r);
    ctx.record(
        &mut tx,
        Write {
            entity: "CDT",
            operation: Operation::Delete,
            record_id: &id,
            patient: Some(&patient),
            cdt_name: Some(&cdt),
            record: &record,
            subtype: None,
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}

/// List a patient's records of a CDT: `{name, data:{Spring page}}`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}", tag = "CDT records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("cdtName" = String, Path),
           ("fields" = Option<String>, Query, description = "Comma-separated field names to return"),
           ("filters" = Option<String>, Query, description = "field=v1,v2 (repeatable); a bare field name keeps records where it is set"),
           ("dateStart" = Option<String>, Query, description = "updated at or after"), ("dateEnd" = Option<String>, Query, description = "updated at or before"),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query, description = "field,asc|desc")),
    responses((status = 200, body = CdtPage), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    params: Params,
) -> ApiResult<Json<CdtPage>> {
    ctx.require(Family::Cdts, Op::Read)?;
    let (patient_id, cdt) = (path.2, path.3);
    let patient = patient(&state, &ctx, &patient_id).await?;
    let (dt, _) = data_type(&state, &ctx, Kind::Cdts, &cdt).await?;
    // Sorting is on record fields, checked by `record_sorts`; the page request only needs
    // to know that a sort was asked for.
    let page = PageRequest::parse(&params, |_| Some("jsonBody"))?;
    let sorts = record_sorts(&params, &dt)?;
    let projection = params.list("fields").filter(|l| !l.is_empty());
    if let Some(unknown) = projection.iter().flatten().find(|f| !is_field(&dt, f)) {
        return Err(ApiError::invalid_param("fields", format!("{unknown:?} is not a field of {cdt}")));
    }
    let filters = record_filters(&params, &dt)?;
    let from = date_param(&params, "dateStart")?;
    let to = date_param(&params, "dateEnd")?;
    let mut found = state.db.records(&scope(&ctx, &cdt, &patient.id), from, to).await?;
    found.retain(|r| filters.iter().all(|(field, values)| matches_filter(&r.body, field, values)));
    sort_records(&mut found, &sorts);
    let total = found.len() as i64;
    let content: Vec<Value> = found
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.size as usize)
        .map(|mut r| {
            if let Some(keep) = &projection {
                r.body.retain(|k, _| keep.contains(k) || SYSTEM_FIELDS.iter().any(|(s, _)| s == k));
            }
            envelope(&dt, &r)
        })
        .collect();
    Ok(Json(CdtPage { name: cdt, data: SpringPage::new(content, &page, total) }))
}

pub(crate) fn is_field(dt: &DataType, name: &str) -> bool {
    dt.field(name).is_some() || SYSTEM_FIELDS.iter().any(|(s, _)| *s == name)
}

pub(crate) fn date_param(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    params
        .text(name)
        .map(|v| {
            crate::time::parse_datetime(&v)
                .map(|t| t.timestamp_millis())
                .ok_or_else(|| ApiError::invalid_param(name, "must be an ISO-8601 date or datetime"))
        })
        .transpose()
}

/// `sort=field,asc|desc` on record fields (repeatable).
pub(crate) fn record_sorts(params: &Params, dt: &DataType) -> ApiResult<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for spec in params.all("sort").filter(|s| !s.trim().is_empty()) {
        let mut parts = spec.split(',').map(str::trim);
        let field = parts.next().unwrap_or_default().to_string();
        if !is_field(dt, &field) {
            return Err(ApiError::invalid_param("sort", format!("cannot sort by {field:?}")));
        }
        let desc = match parts.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ApiError::invalid_param("sort", format!("direction {other:?} is not asc or desc")))
            }
        };
        out.push((field, desc));
    }
    Ok(out)
}

/// `filters=field=v1,v2` (repeatable). The Python client sends only the field name;
/// that keeps records where the field has a value.
pub(crate) fn record_filters(params: &Params, dt: &DataType) -> ApiResult<Vec<(String, Option<Vec<String>>)>> {
    let mut out = Vec::new();
    for spec in params.all("filters").filter(|s| !s.trim().is_empty()) {
        let (field, values) = match spec.split_once('=') {
            Some((f, v)) => (f.trim().to_string(), Some(v.split(',').map(|s| s.trim().to_string()).collect())),
            None => (spec.trim().to_string(), None),
        };
        if !is_field(dt, &field) {
            return Err(ApiError::invalid_param("filters", format!("{field:?} is not a field of {}", dt.name)));
        }
        out.push((field, values));
    }
    Ok(out)
}
