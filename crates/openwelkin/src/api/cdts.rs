//! CDT records: `/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}[/{recordId}]`,
//! checked against the data type of the current formation and kept with the formation
//! version they were written with. The use cases are `services::records::cdts`; here are
//! the routes, their parameters and answers, and the parameter readers other handlers share.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::designer::data_type::DataType;
use crate::designer::Kind;
use crate::domain::records::is_field;
use crate::services::records::cdts::{self as service, RecordQuery};
use crate::services::records::data_type;
use crate::store::records::RecordKey;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// The patient a path names, for the handlers of other resources.
pub(crate) use crate::services::patients::by_id as patient;

/// How a path's record id is to be read: `type=ID|EID|EGUID`.
pub(crate) fn key_type(params: &Params) -> ApiResult<RecordKey> {
    Ok(match params.get("type").map(str::to_ascii_uppercase).as_deref() {
        None | Some("") | Some("ID") => RecordKey::Id,
        Some("EID") => RecordKey::ExternalId,
        Some("EGUID") => RecordKey::ExternalGuid,
        Some(_) => return Err(ApiError::invalid_param("type", "must be one of ID, EID, EGUID")),
    })
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
    request_body = crate::api::schemas::common::FieldValues,
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
    Ok((StatusCode::CREATED, Json(service::create(&state, &ctx, &path.2, &path.3, &input).await?)))
}

/// Read a record by id, or by `external_id` / `external_guid` with `type=EID|EGUID`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}/{recordId}", tag = "CDT records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("cdtName" = String, Path),
           ("recordId" = String, Path, description = "The id, or the key named by `type`"),
           ("type" = Option<String>, Query, description = "ID (default), EID or EGUID")),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Cdts, Op::Read)?;
    let kind = key_type(&params)?;
    Ok(Json(service::read(&state, &ctx, &path.2, &path.3, kind, &path.4).await?))
}

/// Update some fields of a record.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/cdts/{cdtName}/{recordId}", tag = "CDT records",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("cdtName" = String, Path), ("recordId" = String, Path)),
    request_body = crate::api::schemas::common::FieldValues,
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
    Ok(Json(service::update(&state, &ctx, &path.2, &path.3, &path.4, &input).await?))
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
    let rows = service::bulk_update(&state, &ctx, &path.2, &path.3, &input).await?;
    let out: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            let result = match row.refused {
                None => json!({"status": "OK", "content": null}),
                Some(e) => json!({"status": "ERROR", "content": ApiError::from(e).item}),
            };
            json!({"id": row.id, "jsonBody": row.json_body, "result": result})
        })
        .collect();
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
    service::delete(&state, &ctx, &path.2, &path.3, &path.4).await?;
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
    // The patient and the data type are looked up before the parameters are read: they
    // are a 404 whatever the parameters, and the fields named are checked against the type.
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
    let query = RecordQuery { sorts, projection, filters, from, to };
    let (content, total) = service::list(&state, &ctx, &patient, &dt, &query, page.offset(), page.size).await?;
    Ok(Json(CdtPage { name: cdt, data: SpringPage::new(content, &page, total) }))
}

/// An ISO-8601 date or datetime parameter, as epoch milliseconds.
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
fn record_sorts(params: &Params, dt: &DataType) -> ApiResult<Vec<(String, bool)>> {
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
fn record_filters(params: &Params, dt: &DataType) -> ApiResult<Vec<(String, Option<Vec<String>>)>> {
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
