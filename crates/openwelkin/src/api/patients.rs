//! Patients: `/{tenant}/{instance}/patients…` and `POST /by-filter/patients`. The use
//! cases are `services::patients`; here are the routes, their parameters and answers.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::patient::{Patient, PatientWrite};
use crate::domain::FieldError;
use crate::services::patients::{self as service, COMPONENT};
use crate::store::patients::{self, PatientFilter, PatientKey};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

fn key_type(params: &Params) -> ApiResult<PatientKey> {
    Ok(match params.get("type").map(str::to_ascii_uppercase).as_deref() {
        None | Some("") | Some("ID") => PatientKey::Id,
        Some("EID") => PatientKey::ExternalId,
        Some("EGUID") => PatientKey::ExternalGuid,
        Some("MRN") => PatientKey::Mrn,
        Some(_) => return Err(ApiError::invalid_param("type", "must be one of ID, EID, EGUID, MRN")),
    })
}

/// Create a patient.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients", tag = "Patients",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body = PatientWrite,
    responses(
        (status = 201, body = Patient),
        (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    ctx.require(Family::Patients, Op::Create)?;
    Ok((StatusCode::CREATED, answer(service::create(&state, &ctx, &body).await?)).into_response())
}

/// A patient's answer: the stored text as it is, or the patient written out.
fn answer(answer: service::Answer) -> Response {
    match answer {
        service::Answer::Stored(body) => {
            ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        service::Answer::Rendered(patient) => Json(patient).into_response(),
    }
}

/// Read a patient by id, or by external id, external GUID or MRN (`type`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}", tag = "Patients",
    params(
        ("tenant" = String, Path), ("instance" = String, Path),
        ("patientId" = String, Path, description = "The id, or the key named by `type`"),
        ("type" = Option<String>, Query, description = "ID (default), EID, EGUID or MRN"),
        ("expand" = Option<bool>, Query, description = "Adds territorialTeam"),
    ),
    responses((status = 200, body = Patient), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Response> {
    let key = path.2;
    ctx.require(Family::Patients, Op::Read)?;
    let kind = key_type(&params)?;
    let expand = params.bool("expand")?.unwrap_or(false);
    Ok(answer(service::read_answer(&state, &ctx, kind, &key, expand).await?))
}

/// Update some fields of a patient; omitted fields keep their values.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}", tag = "Patients",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("type" = Option<String>, Query, description = "ID (default), EID, EGUID or MRN")),
    request_body = PatientWrite,
    responses((status = 200, body = Patient), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Patient>> {
    let key = path.2;
    ctx.require(Family::Patients, Op::Update)?;
    let kind = key_type(&params)?;
    Ok(Json(service::update(&state, &ctx, kind, &key, &body).await?))
}

/// Delete a patient (irreversible). Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}", tag = "Patients",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("type" = Option<String>, Query, description = "ID (default) or EGUID")),
    responses((status = 200, description = "Deleted; empty body"), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<StatusCode> {
    let key = path.2;
    ctx.require(Family::Patients, Op::Delete)?;
    let kind = key_type(&params)?;
    service::delete(&state, &ctx, kind, &key).await?;
    Ok(StatusCode::OK)
}

/// List and search patients (Spring page).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients", tag = "Patients",
    params(
        ("tenant" = String, Path), ("instance" = String, Path),
        ("query" = Option<String>, Query, description = "Matches first name, last name, email or phone"),
        ("email" = Option<String>, Query),
        ("timezone" = Option<String>, Query, description = "Empty: patients without a time zone"),
        ("territories" = Option<String>, Query, description = "Comma-separated; empty: patients without territories"),
        ("cadence" = Option<String>, Query, description = "Comma-separated; empty: patients without cadence"),
        ("firstName" = Option<String>, Query), ("lastName" = Option<String>, Query), ("mrn" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query, description = "field,asc|desc"),
    ),
    responses((status = 200, body = SpringPage<Patient>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    params: Params,
) -> ApiResult<Json<SpringPage<Patient>>> {
    ctx.require(Family::Patients, Op::Read)?;
    let page = PageRequest::parse(&params, patients::sort_column)?;
    let filter = PatientFilter {
        query: params.text("query"),
        email: params.text("email"),
        first_name: params.text("firstName"),
        last_name: params.text("lastName"),
        mrn: params.text("mrn"),
        external_id: params.text("externalId"),
        timezone: params.get("timezone").map(|t| Some(t.trim().to_string()).filter(|t| !t.is_empty())),
        territories: params.list("territories"),
        cadence: params.list("cadence"),
        ids: None,
    };
    search(&state, &ctx, &filter, &page).await
}

/// List patients matching a JSON filter (`{}` for all), as the Python client does.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/by-filter/patients", tag = "Patients",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query)),
    request_body = crate::api::schemas::records::PatientFilter,
    responses((status = 200, body = SpringPage<Patient>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn by_filter(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    params: Params,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<SpringPage<Patient>>> {
    ctx.require(Family::Patients, Op::Read)?;
    let page = PageRequest::parse(&params, patients::sort_column)?;
    let filter = filter_from_body(&body).map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    search(&state, &ctx, &filter, &page).await
}

async fn search(
    state: &AppState,
    ctx: &InstanceCaller,
    filter: &PatientFilter,
    page: &PageRequest,
) -> ApiResult<Json<SpringPage<Patient>>> {
    let (content, total) = service::list(state, ctx, filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(SpringPage::new(content, page, total)))
}

fn filter_from_body(body: &Map<String, Value>) -> Result<PatientFilter, FieldError> {
    use crate::domain::fields::{opt_text, reject_unknown, string_list};
    reject_unknown(
        body,
        &["query", "email", "firstName", "lastName", "mrn", "externalId", "timezone", "territories", "cadence", "ids"],
        &[],
    )?;
    let text = |k: &str| body.get(k).map(|v| opt_text(k, v)).transpose().map(Option::flatten);
    let list = |k: &str| -> Result<Option<Vec<String>>, FieldError> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                Ok(Some(s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()))
            }
            Some(v) => string_list(k, v).map(Some),
        }
    };
    Ok(PatientFilter {
        query: text("query")?,
        email: text("email")?,
        first_name: text("firstName")?,
        last_name: text("lastName")?,
        mrn: text("mrn")?,
        external_id: text("externalId")?,
        timezone: match body.get("timezone") {
            None => None,
            Some(v) => Some(opt_text("timezone", v)?),
        },
        territories: list("territories")?,
        cadence: list("cadence")?,
        ids: list("ids")?,
    })
}
