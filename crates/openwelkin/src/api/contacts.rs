//! Contacts of a patient: `/{tenant}/{instance}/patients/{patientId}/contacts…`.
//! Create and update answer 200, as recorded; there is no delete (deactivate with
//! `active: false`).

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::patient;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::contact;
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::{contacts as store, is_unique_violation, Tx};
use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

const COMPONENT: &str = "CONTACT";

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("CONTACT_NOT_FOUND", COMPONENT, "Contact not found", json!({"id": id}))
}

fn already_linked(holder: &str) -> ApiError {
    ApiError::conflict(
        "CONTACT_ALREADY_EXISTS",
        COMPONENT,
        "the patient already has a contact for this profile record",
        json!({"contactId": holder}),
    )
}

/// The linked profile must exist, belong to this patient or to no patient, and match.
async fn check_links(state: &AppState, ctx: &InstanceCaller, tx: &mut Tx, p: &Patient, c: &Value) -> ApiResult<()> {
    let Some(record_id) = c["pdtRecordId"].as_str() else { return Ok(()) };
    let profile = super::pdts::find_profile(state, ctx, record_id)
        .await?
        .filter(|(_, r)| r.patient_id.as_deref().is_none_or(|owner| owner == p.id))
        .ok_or_else(|| {
            ApiError::invalid_field(COMPONENT, FieldError::new("pdtRecordId", format!("no profile record {record_id}")))
        })?;
    contact::check_against_profile(c, &profile.1.body).map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    if let Some(holder) = store::holder_of(tx, &ctx.instance.id, &p.id, record_id).await? {
        if Some(holder.as_str()) != c["id"].as_str() {
            return Err(already_linked(&holder));
        }
    }
    Ok(())
}

/// Create a contact (answers 200, as recorded).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/contacts", tag = "Contacts",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content = Object, description = "name (required), relation, pdtRecordId, email, emailPdtFieldName, phone, phonePdtFieldName, secondaryPhone, labels, active"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Contacts, Op::Create)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut c =
        contact::blank(&crate::ids::new_id(), &p.id, &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    contact::apply(&mut c, &body, true).map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    let mut tx = state.db.begin().await?;
    // The patient may have been deleted since it was read; its row lock keeps it.
    super::cdts::lock_patient(&mut tx, &ctx, &p.id).await?;
    check_links(&state, &ctx, &mut tx, &p, &c).await?;
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &c, now_ms).await.map_err(|e| {
        if is_unique_violation(&e) {
            already_linked("")
        } else {
            e.into()
        }
    })?;
    ctx.record(
        &mut tx,
        Write {
            entity: "CONTACT",
            operation: Operation::Create,
            record_id: c["id"].as_str().unwrap_or_default(),
            patient: Some(&p),
            cdt_name: None,
            record: &c,
            subtype: None,
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(c))
}

/// Update some fields of a contact.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/contacts/{contactId}", tag = "Contacts",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("contactId" = String, Path)),
    request_body(content = Object),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Contacts, Op::Update)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut c =
        store::get_for_update(&mut tx, &ctx.instance.id, &p.id, &path.3).await?.ok_or_else(|| not_found(&path.3))?;
    contact::apply(&mut c, &body, false).map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    c["updatedAt"] = json!(crate::time::format_ms(now_ms));
    c["updatedBy"] = json!(actor.id);
    c["updatedByName"] = json!(actor.full_name());
    check_links(&state, &ctx, &mut tx, &p, &c).await?;
    store::update(&mut tx, &ctx.instance.id, &c, now_ms).await.map_err(|e| {
        if is_unique_violation(&e) {
            already_linked("")
        } else {
            e.into()
        }
    })?;
    ctx.record(
        &mut tx,
        Write {
            entity: "CONTACT",
            operation: Operation::Update,
            record_id: c["id"].as_str().unwrap_or_default(),
            patient: Some(&p),
            cdt_name: None,
            record: &c,
            subtype: None,
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(c))
}

/// Read a contact.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/contacts/{contactId}", tag = "Contacts",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("contactId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Contacts, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    state.db.contact(&ctx.instance.id, &p.id, &path.3).await?.map(Json).ok_or_else(|| not_found(&path.3))
}

/// `{data:[contact]}`.
#[derive(Serialize, ToSchema)]
pub struct ContactList {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<Value>,
}

/// A patient's contacts, optionally by profile record and active flag.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/contacts", tag = "Contacts",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("pdtRecordId" = Option<String>, Query), ("active" = Option<bool>, Query)),
    responses((status = 200, body = ContactList), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<ContactList>> {
    ctx.require(Family::Contacts, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let data = state
        .db
        .contacts(&ctx.instance.id, &p.id, params.text("pdtRecordId").as_deref(), params.bool("active")?)
        .await?;
    Ok(Json(ContactList { data }))
}

/// The same list at the path with a trailing slash, as the reference writes it.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/contacts/", tag = "Contacts",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("pdtRecordId" = Option<String>, Query), ("active" = Option<bool>, Query)),
    responses((status = 200, body = ContactList), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_slash(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<ContactList>> {
    list(state, ctx, path, params).await
}
