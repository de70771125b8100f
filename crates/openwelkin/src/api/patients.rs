//! Patients: `/{tenant}/{instance}/patients…` and `POST /by-filter/patients`.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::patient::{CareTeamRole, CareTeamUser, Patient, PatientWrite};
use crate::domain::user::User;
use crate::domain::FieldError;
use crate::events::audit::{DataEvent, Operation};
use crate::store::audit::record_write;
use crate::store::patients::{self, PatientFilter, PatientKey};
use crate::store::{is_unique_violation, users, Tx};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

const COMPONENT: &str = "PATIENT";

fn not_found(key: &str) -> ApiError {
    ApiError::not_found("PATIENT_NOT_FOUND", COMPONENT, "Patient not found", json!({"id": key}))
}

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
) -> ApiResult<(StatusCode, Json<Patient>)> {
    ctx.require(Family::Patients, Op::Create)?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut patient =
        Patient::blank(crate::ids::new_id(), &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    patient.apply(&body, true).map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    if body.contains_key("patientTerritories") {
        check_territories(&state, &ctx, &mut patient).await?;
    }
    let mut tx = state.db.begin().await?;
    check_references(&mut tx, &ctx, &patient).await?;
    patients::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &patient, now_ms)
        .await
        .map_err(duplicate_or_internal)?;
    audit(&mut tx, &ctx, Operation::Create, &patient, now_ms).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(render(&state, &ctx, patient, false).await?)))
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
    responses((status = 200, body = Patient), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<Patient>> {
    let key = path.2;
    ctx.require(Family::Patients, Op::Read)?;
    let kind = key_type(&params)?;
    let expand = params.bool("expand")?.unwrap_or(false);
    let patient = state.db.patient(&ctx.instance.id, kind, &key).await?.ok_or_else(|| not_found(&key))?;
    Ok(Json(render(&state, &ctx, patient, expand).await?))
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
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut patient =
        patients::get_for_update(&mut tx, &ctx.instance.id, kind, &key).await?.ok_or_else(|| not_found(&key))?;
    patient.apply(&body, false).map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    if body.contains_key("patientTerritories") {
        check_territories(&state, &ctx, &mut patient).await?;
    }
    patient.updated_at = crate::time::format_ms(now_ms);
    patient.updated_by = actor.id.clone();
    patient.updated_by_name = actor.full_name();
    check_references(&mut tx, &ctx, &patient).await?;
    patients::update(&mut tx, &ctx.instance.id, &patient, now_ms).await.map_err(duplicate_or_internal)?;
    audit(&mut tx, &ctx, Operation::Update, &patient, now_ms).await?;
    tx.commit().await?;
    Ok(Json(render(&state, &ctx, patient, false).await?))
}

/// Delete a patient (irreversible). Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}", tag = "Patients",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("type" = Option<String>, Query, description = "ID (default) or EGUID")),
    responses((status = 200, description = "Deleted; empty body"), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
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
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let patient =
        patients::get_for_update(&mut tx, &ctx.instance.id, kind, &key).await?.ok_or_else(|| not_found(&key))?;
    patients::delete(&mut tx, &ctx.instance.id, &patient.id).await?;
    // What belongs to the patient goes with it, in the same transaction.
    crate::store::records::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    crate::store::contacts::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    crate::store::patient_programs::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    crate::store::tasks::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    crate::store::care_plans::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    crate::store::assessment_records::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    crate::store::encounters::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    crate::store::emails::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    let files = crate::store::documents::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    crate::store::billing::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    crate::store::sms::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    crate::store::chat::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    crate::store::calls::delete_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    crate::store::templates::delete_communications_for_patient(&mut tx, &ctx.instance.id, &patient.id).await?;
    audit(&mut tx, &ctx, Operation::Delete, &patient, now_ms).await?;
    tx.commit().await?;
    // Uploaded files' bytes go once the rows naming them are gone.
    state.files.delete_all(&files).await;
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
    request_body(content = Object, description = "Filter: query, email, firstName, lastName, mrn, externalId, timezone, territories, cadence, ids"),
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
    let (found, total) = state.db.patients(&ctx.instance.id, filter, &page.sorts, page.offset(), page.size).await?;
    let mut content = Vec::with_capacity(found.len());
    for p in found {
        content.push(render(state, ctx, p, false).await?);
    }
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

/// Each region of `patientTerritories` exists in the instance's current designer and each
/// territory belongs to it; the first region's title becomes `patientRegionTitle`.
async fn check_territories(state: &AppState, ctx: &InstanceCaller, p: &mut Patient) -> ApiResult<()> {
    let regions = state.db.current_formation(&ctx.instance.id).await?.designer.region_list();
    for (i, t) in p.patient_territories.iter().enumerate() {
        let Some(region) = regions.iter().find(|r| r.name == t.name) else {
            let e = FieldError::new(format!("patientTerritories[{i}].name"), format!("no region named {:?}", t.name));
            return Err(ApiError::invalid_field(COMPONENT, e));
        };
        if let Some(j) = t.territories.iter().position(|x| !region.territories.contains(x)) {
            let e = FieldError::new(
                format!("patientTerritories[{i}].territories[{j}]"),
                format!("{:?} is not a territory of region {:?}", t.territories[j], t.name),
            );
            return Err(ApiError::invalid_field(COMPONENT, e));
        }
    }
    p.patient_region_title =
        p.patient_region.as_ref().and_then(|name| regions.iter().find(|r| &r.name == name)).map(|r| r.title.clone());
    Ok(())
}

/// Unique keys free within the instance, care team members existing in the tenant.
async fn check_references(tx: &mut Tx, ctx: &InstanceCaller, p: &Patient) -> ApiResult<()> {
    for (kind, field, value) in [
        (PatientKey::ExternalId, "externalId", &p.external_id),
        (PatientKey::ExternalGuid, "externalGuid", &p.external_guid),
        (PatientKey::Mrn, "mrn", &p.mrn),
    ] {
        let Some(value) = value else { continue };
        if let Some(holder) = patients::holder_of(tx, &ctx.instance.id, kind, value).await? {
            if holder != p.id {
                return Err(ApiError::conflict(
                    "PATIENT_ALREADY_EXISTS",
                    COMPONENT,
                    format!("{field}: another patient already has {value:?}"),
                    json!({"field": field, "value": value, "patientId": holder}),
                ));
            }
        }
    }
    let ids: Vec<String> = p.care_team_members.iter().map(|m| m.id.clone()).collect();
    let known = users::existing_ids(tx, &ctx.tenant.id, &ids).await?;
    if let Some((i, missing)) = ids.iter().enumerate().find(|(_, id)| !known.contains(id)) {
        return Err(ApiError::invalid_field(
            COMPONENT,
            FieldError::new(format!("careTeam[{i}].id"), format!("user {missing} does not exist")),
        ));
    }
    Ok(())
}

fn duplicate_or_internal(err: crate::store::sql::Error) -> ApiError {
    if is_unique_violation(&err) {
        ApiError::conflict(
            "PATIENT_ALREADY_EXISTS",
            COMPONENT,
            "another patient already has this externalId, externalGuid or mrn",
            json!({}),
        )
    } else {
        ApiError::from(err)
    }
}

async fn audit(tx: &mut Tx, ctx: &InstanceCaller, operation: Operation, p: &Patient, now_ms: i64) -> ApiResult<()> {
    let record = serde_json::to_value(p).map_err(ApiError::internal)?;
    let actor = ctx.actor();
    let event = DataEvent {
        tenant_id: &ctx.tenant.id,
        instance: Some(&ctx.instance.name),
        entity: "PATIENT",
        operation,
        actor: &actor,
        record_id: &p.id,
        patient_id: Some(&p.id),
        patient_full_name: Some(p.full_name()),
        cdt_name: None,
        record: &record,
        subtype: None,
    };
    record_write(tx, &event, now_ms).await?;
    Ok(())
}

/// Fills the parts of a patient that come from other records: the care team's user
/// details and, with `expand`, the territorial team.
async fn render(state: &AppState, ctx: &InstanceCaller, mut p: Patient, expand: bool) -> ApiResult<Patient> {
    if !p.care_team_members.is_empty() {
        let ids: Vec<String> = p.care_team_members.iter().map(|m| m.id.clone()).collect();
        let found = state.db.users_by_ids(&ctx.tenant.id, &ids).await?;
        p.care_team = p
            .care_team_members
            .iter()
            .filter_map(|m| found.iter().find(|u| u.id == m.id).map(|u| care_team_user(u, m.point_of_contact)))
            .collect();
    }
    p.patient_programs = super::patient_programs::of_patient(state, ctx, &p.id).await?;
    if expand {
        let mut team = Vec::new();
        if let Some(region) = &p.patient_region {
            for u in state.db.users_covering(&ctx.tenant.id, &ctx.instance.name, region).await? {
                team.push(care_team_user(&u, false));
            }
        }
        p.territorial_team = Some(team);
    }
    Ok(p)
}

fn care_team_user(u: &User, point_of_contact: bool) -> CareTeamUser {
    CareTeamUser {
        id: u.id.clone(),
        username: u.username.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        roles: u
            .roles
            .iter()
            .map(|r| CareTeamRole {
                name: r.get("permissionName").and_then(Value::as_str).unwrap_or_default().to_string(),
                primary_role: r.get("primaryRole").and_then(Value::as_bool).unwrap_or(false),
            })
            .collect(),
        point_of_contact,
    }
}
