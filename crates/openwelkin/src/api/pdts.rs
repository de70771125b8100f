//! Profile data type (PDT) records: profiles that stand alone (`/{i}/pdts/{pdtName}`, as
//! the Python client uses them) and a patient's profile (`/{i}/patients/{id}/pdts/…`, at
//! most one record per patient and type), plus the patients that have one.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::{
    check_external_keys, data_type, date_param, dictionary_values, lock_patient, patient, record_not_found,
    unique_or_internal,
};
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::designer::data_type::DataType;
use crate::designer::Kind;
use crate::domain::patient::Patient;
use crate::domain::records;
use crate::events::audit::Operation;
use crate::store::records::{self as store, DtKind, RecordKey, Scope, StoredRecord};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

const COMPONENT: &str = "PDT";

/// `{pdtName, lastUpdatedAt, records:{data, metaInfo}}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PdtRecords {
    pub pdt_name: String,
    pub last_updated_at: Option<String>,
    pub records: MetaInfoPage<Value>,
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

pub(crate) fn render(dt: &DataType, r: &StoredRecord) -> Value {
    json!({
        "id": r.id,
        "createdAt": crate::time::format_ms(r.created_at),
        "updatedAt": crate::time::format_ms(r.updated_at),
        "fullValue": full_value(dt, &r.body),
        "deleted": false,
        "jsonBody": r.body,
        "pdtName": dt.name,
    })
}

fn scope<'a>(ctx: &'a InstanceCaller, pdt: &'a str, patient_id: Option<&'a str>) -> Scope<'a> {
    Scope {
        tenant_id: &ctx.tenant.id,
        instance_id: &ctx.instance.id,
        kind: DtKind::Pdt,
        dt_name: pdt,
        patient_id: Some(patient_id),
    }
}

async fn create_record(
    state: &AppState,
    ctx: &InstanceCaller,
    pdt: &str,
    patient: Option<&Patient>,
    input: &Map<String, Value>,
) -> ApiResult<Value> {
    let (dt, version) = data_type(state, ctx, Kind::Pdts, pdt).await?;
    let dictionaries = dictionary_values(state, ctx, &dt).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let id = crate::ids::new_id();
    let mut body = records::blank_body(&dt, &id, &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    records::apply(&dt, &mut body, input, true, &[("pdtName", pdt)], &dictionaries)
        .map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    let scope = scope(ctx, pdt, patient.map(|p| p.id.as_str()));
    let mut tx = state.db.begin().await?;
    if let Some(p) = patient {
        // One profile per patient and type: checked with the patient locked.
        lock_patient(&mut tx, ctx, &p.id).await?;
    }
    if patient.is_some() && store::count(&mut tx, &scope).await? > 0 {
        return Err(ApiError::conflict(
            "DT_RECORD_ALREADY_EXISTS",
            COMPONENT,
            format!("the patient already has a {pdt} profile; update it instead"),
            json!({"pdtName": pdt}),
        ));
    }
    check_external_keys(&mut tx, &scope, &id, &body).await?;
    store::insert(&mut tx, &scope, &id, version, &body, now_ms).await.map_err(unique_or_internal)?;
    let stored = StoredRecord {
        id: id.clone(),
        patient_id: patient.map(|p| p.id.clone()),
        dt_name: pdt.into(),
        version,
        created_at: now_ms,
        updated_at: now_ms,
        body,
    };
    let record = render(&dt, &stored);
    ctx.record(
        &mut tx,
        Write {
            entity: "PDT",
            operation: Operation::Create,
            record_id: &id,
            patient,
            cdt_name: Some(pdt),
            record: &record,
            subtype: None,
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

async fn update_record(
    state: &AppState,
    ctx: &InstanceCaller,
    pdt: &str,
    patient: Option<&Patient>,
    id: &str,
    input: &Map<String, Value>,
) -> ApiResult<Value> {
    let (dt, _) = data_type(state, ctx, Kind::Pdts, pdt).await?;
    let dictionaries = dictionary_values(state, ctx, &dt).await?;
    let scope = scope(ctx, pdt, patient.map(|p| p.id.as_str()));
    let now_ms = state.clock.now_ms();
    let actor = ctx.actor();
    let mut tx = state.db.begin().await?;
    let mut r = store::get_for_update(&mut tx, &scope, RecordKey::Id, id)
        .await?
        .ok_or_else(|| record_not_found(json!({"id": id})))?;
    let now = crate::time::format_ms(now_ms);
    records::update_body(
        &dt,
        &mut r.body,
        input,
        &[("pdtName", pdt)],
        &dictionaries,
        &now,
        &actor.id,
        &actor.full_name(),
    )
    .map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    r.updated_at = now_ms;
    check_external_keys(&mut tx, &scope, id, &r.body).await?;
    store::update(&mut tx, &scope, id, &r.body, now_ms).await.map_err(unique_or_internal)?;
    let record = render(&dt, &r);
    ctx.record(
        &mut tx,
        Write {
            entity: "PDT",
            operation: Operation::Update,
            record_id: id,
            patient,
            cdt_name: Some(pdt),
            record: &record,
            subtype: None,
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

async fn list_records(
    state: &AppState,
    ctx: &InstanceCaller,
    pdt: &str,
    patient_id: Option<Option<&str>>,
    params: &Params,
) -> ApiResult<Json<PdtRecords>> {
    let (dt, _) = data_type(state, ctx, Kind::Pdts, pdt).await?;
    let page = PageRequest::parse(params, |_| None)?;
    let scope =
        Scope { tenant_id: &ctx.tenant.id, instance_id: &ctx.instance.id, kind: DtKind::Pdt, dt_name: pdt, patient_id };
    let found = state.db.records(&scope, date_param(params, "dateStart")?, date_param(params, "dateEnd")?).await?;
    let last = found.iter().map(|r| r.updated_at).max().map(crate::time::format_ms);
    let total = found.len() as i64;
    let data = found.iter().skip(page.offset() as usize).take(page.size as usize).map(|r| render(&dt, r)).collect();
    Ok(Json(PdtRecords {
        pdt_name: dt.name.clone(),
        last_updated_at: last,
        records: MetaInfoPage::new(data, &page, total),
    }))
}

/// Create a profile record of a PDT (not tied to a patient).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/pdts/{pdtName}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("pdtName" = String, Path)),
    request_body(content = Object, description = "Field values by field name"),
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
    Ok((StatusCode::CREATED, Json(create_record(&state, &ctx, &path.2, None, &input).await?)))
}

/// List the records of a PDT: `{pdtName, lastUpdatedAt, records:{data, metaInfo}}`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/pdts/{pdtName}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("pdtName" = String, Path),
           ("dateStart" = Option<String>, Query), ("dateEnd" = Option<String>, Query), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = PdtRecords), (status = 404, body = Vec<ErrorItem>)),
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
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_profile(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Pdts, Op::Read)?;
    let (dt, _) = data_type(&state, &ctx, Kind::Pdts, &path.2).await?;
    let scope = Scope {
        tenant_id: &ctx.tenant.id,
        instance_id: &ctx.instance.id,
        kind: DtKind::Pdt,
        dt_name: &path.2,
        patient_id: None,
    };
    let r = state
        .db
        .record(&scope, super::cdts::key_type(&params)?, &path.3)
        .await?
        .ok_or_else(|| record_not_found(json!({"id": path.3})))?;
    Ok(Json(render(&dt, &r)))
}

/// Patients that have a record of a PDT (`{data, metaInfo}`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/pdts/{pdtName}/patients", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("pdtName" = String, Path), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Patient>), (status = 404, body = Vec<ErrorItem>)),
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
    data_type(&state, &ctx, Kind::Pdts, &path.2).await?;
    let page = PageRequest::parse(&params, crate::store::patients::sort_column)?;
    let ids = state.db.patients_with_records(&ctx.instance.id, DtKind::Pdt, &path.2).await?;
    let filter = crate::store::patients::PatientFilter { ids: Some(ids), ..Default::default() };
    let (found, total) = state.db.patients(&ctx.instance.id, &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(MetaInfoPage::new(found, &page, total)))
}

/// Create a patient's profile of a PDT (at most one per patient and type).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/pdts/{pdtName}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("pdtName" = String, Path)),
    request_body(content = Object, description = "Field values by field name"),
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
    let p = patient(&state, &ctx, &path.2).await?;
    Ok((StatusCode::CREATED, Json(create_record(&state, &ctx, &path.3, Some(&p), &input).await?)))
}

/// A patient's records of a PDT: `{pdtName, lastUpdatedAt, records:{data, metaInfo}}`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/pdts/{pdtName}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("pdtName" = String, Path),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = PdtRecords), (status = 404, body = Vec<ErrorItem>)),
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
    list_records(&state, &ctx, &path.3, Some(Some(&p.id)), &params).await
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
    let p = patient(&state, &ctx, &path.2).await?;
    let (dt, _) = data_type(&state, &ctx, Kind::Pdts, &path.3).await?;
    let r = state
        .db
        .record(&scope(&ctx, &path.3, Some(&p.id)), RecordKey::Id, &path.4)
        .await?
        .ok_or_else(|| record_not_found(json!({"id": path.4})))?;
    Ok(Json(render(&dt, &r)))
}

/// Update some fields of a patient's profile record.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/pdts/{pdtName}/{recordId}", tag = "Profiles (PDT)",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("pdtName" = String, Path), ("recordId" = String, Path)),
    request_body(content = Object, description = "Field values by field name"),
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
    let p = patient(&state, &ctx, &path.2).await?;
    Ok(Json(update_record(&state, &ctx, &path.3, Some(&p), &path.4, &input).await?))
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
    let p = patient(&state, &ctx, &path.2).await?;
    let (dt, _) = data_type(&state, &ctx, Kind::Pdts, &path.3).await?;
    let scope = scope(&ctx, &path.3, Some(&p.id));
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let r = store::get_for_update(&mut tx, &scope, RecordKey::Id, &path.4)
        .await?
        .ok_or_else(|| record_not_found(json!({"id": path.4})))?;
    store::delete(&mut tx, &scope, &r.id).await?;
    ctx.record(
        &mut tx,
        Write {
            entity: "PDT",
            operation: Operation::Delete,
            record_id: &r.id,
            patient: Some(&p),
            cdt_name: Some(&path.3),
            record: &render(&dt, &r),
            subtype: None,
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
