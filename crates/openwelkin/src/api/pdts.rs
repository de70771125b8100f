//! Profile data type (PDT) records: profiles that stand alone (`/{i}/pdts/{pdtName}`, as
//! the Python client uses them) and a patient's profile (`/{i}/patients/{id}/pdts/…`, at
//! most one record per patient and type), plus the patients that have one. The use cases
//! are `services::records::pdts`; here are the routes, their parameters and answers.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::cdts::{date_param, key_type, patient};
use super::error::{ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::designer::Kind;
use crate::domain::patient::Patient;
use crate::services::records::data_type;
use crate::services::records::pdts as service;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// `{pdtName, lastUpdatedAt, records:{data, metaInfo}}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PdtRecords {
    pub pdt_name: String,
    pub last_updated_at: Option<String>,
    pub records: MetaInfoPage<Value>,
}

/// A list of the records of `pdt` (the patient's, with `patient_id`). The data type is
/// looked up before the parameters are read: it is a 404 whatever the parameters.
async fn list_records(
    state: &AppState,
    ctx: &InstanceCaller,
    pdt: &str,
    patient_id: Option<&str>,
    params: &Params,
) -> ApiResult<Json<PdtRecords>> {
    let (dt, _) = data_type(state, ctx, Kind::Pdts, pdt).await?;
    let page = PageRequest::parse(params, |_| None)?;
    let (from, to) = (date_param(params, "dateStart")?, date_param(params, "dateEnd")?);
    let found = service::list(state, ctx, &dt, patient_id, from, to, page.offset(), page.size).await?;
    Ok(Json(PdtRecords {
        pdt_name: dt.name.clone(),
        last_updated_at: found.last_updated_at,
        records: MetaInfoPage::new(found.data, &page, found.total),
    }))
}

/// Create a profile record of a PDT (not tied to a patient).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/pdts/{pdtName}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("pdtName" = String, Path)),
    request_body = crate::api::schemas::common::FieldValues,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_profile(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(input): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Pdts, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::create_profile(&state, &ctx, &path.2, &input).await?)))
}

/// List the records of a PDT: `{pdtName, lastUpdatedAt, records:{data, metaInfo}}`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/pdts/{pdtName}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("pdtName" = String, Path),
           ("dateStart" = Option<String>, Query), ("dateEnd" = Option<String>, Query), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = PdtRecords), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_profiles(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<PdtRecords>> {
    ctx.require(Family::Pdts, Op::Read)?;
    list_records(&state, &ctx, &path.2, None, &params).await
}

/// Read a record of a PDT by id (`type=EID|EGUID` for external keys).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/pdts/{pdtName}/{recordId}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("pdtName" = String, Path), ("recordId" = String, Path), ("type" = Option<String>, Query)),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_profile(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Pdts, Op::Read)?;
    // The data type is looked up before the key type is read: it is a 404 whatever the
    // parameters.
    let (dt, _) = data_type(&state, &ctx, Kind::Pdts, &path.2).await?;
    let kind = key_type(&params)?;
    Ok(Json(service::read_profile(&state, &ctx, &dt, kind, &path.3).await?))
}

/// Patients that have a record of a PDT (`{data, metaInfo}`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/pdts/{pdtName}/patients", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("pdtName" = String, Path), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Patient>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn patients_with(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Patient>>> {
    ctx.require(Family::Pdts, Op::Read)?;
    ctx.require(Family::Patients, Op::Read)?;
    // An unknown data type is a 404 whatever the parameters.
    data_type(&state, &ctx, Kind::Pdts, &path.2).await?;
    let page = PageRequest::parse(&params, crate::store::patients::sort_column)?;
    let (found, total) = service::patients_with(&state, &ctx, &path.2, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(MetaInfoPage::new(found, &page, total)))
}

/// Create a patient's profile of a PDT (at most one per patient and type).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/pdts/{pdtName}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("pdtName" = String, Path)),
    request_body = crate::api::schemas::common::FieldValues,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_for_patient(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(input): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Pdts, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::create_for_patient(&state, &ctx, &path.2, &path.3, &input).await?)))
}

/// A patient's records of a PDT: `{pdtName, lastUpdatedAt, records:{data, metaInfo}}`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/pdts/{pdtName}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("pdtName" = String, Path),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = PdtRecords), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_for_patient(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    params: Params,
) -> ApiResult<Json<PdtRecords>> {
    ctx.require(Family::Pdts, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    list_records(&state, &ctx, &path.3, Some(&p.id), &params).await
}

/// A patient's profile record by id.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/pdts/{pdtName}/{recordId}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("pdtName" = String, Path), ("recordId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_for_patient(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Pdts, Op::Read)?;
    Ok(Json(service::read_for_patient(&state, &ctx, &path.2, &path.3, &path.4).await?))
}

/// Update some fields of a patient's profile record.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/pdts/{pdtName}/{recordId}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("pdtName" = String, Path), ("recordId" = String, Path)),
    request_body = crate::api::schemas::common::FieldValues,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_for_patient(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
    JsonObject(input): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Pdts, Op::Update)?;
    Ok(Json(service::update_for_patient(&state, &ctx, &path.2, &path.3, &path.4, &input).await?))
}

/// Delete a patient's profile record. Answers 204, as the docs site describes.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/pdts/{pdtName}/{recordId}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("pdtName" = String, Path), ("recordId" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete_for_patient(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Pdts, Op::Delete)?;
    service::delete_for_patient(&state, &ctx, &path.2, &path.3, &path.4).await?;
    Ok(StatusCode::NO_CONTENT)
}
