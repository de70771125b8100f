//! What hangs off an encounter: comments, assessment links (`__encounter_assessment__`
//! records) and the disposition (`__encounter_disposition__` record, checked against the
//! formation's disposition data type). Closed encounters refuse changes to them too.
//!
//! Every write here reads inside its transaction and locks the encounter's row first
//! (`encounter_for_update`): whether the encounter is closed, and the link or disposition
//! being changed, are read after that lock, so a write never lands on an encounter that a
//! concurrent FINALIZE has closed, and two writes to one disposition both keep their fields.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::{dictionary_values, patient, record_not_found};
use super::error::{ApiError, ApiResult, ErrorItem};
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::designer::data_type::stable_id;
use crate::domain::encounter as domain;
use crate::domain::encounter::{DISPOSITION, ENCOUNTER, LINK};
use crate::domain::patient::Patient;
use crate::domain::records;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::encounters::{self as store, StoredEncounter};
use crate::store::records::{self as dt, DtKind, RecordKey, Scope, StoredRecord};
use crate::store::Tx;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

const COMPONENT: &str = "ENCOUNTER";

type Ids = (String, String, String, String);
type IdsWithPart = (String, String, String, String, String);

fn scope<'a>(ctx: &'a InstanceCaller, name: &'a str, patient_id: &'a str) -> Scope<'a> {
    Scope {
        tenant_id: &ctx.tenant.id,
        instance_id: &ctx.instance.id,
        kind: DtKind::Internal,
        dt_name: name,
        patient_id: Some(Some(patient_id)),
    }
}

fn envelope(r: &StoredRecord, name: &str) -> Value {
    records::envelope(&r.id, r.patient_id.as_deref(), &stable_id(&format!("INTERNAL:{name}")), r.version, &r.body, name)
}

/// The patient and the encounter the path names.
async fn encounter(
    state: &AppState,
    ctx: &InstanceCaller,
    patient_id: &str,
    id: &str,
) -> ApiResult<(Patient, StoredEncounter)> {
    let p = patient(state, ctx, patient_id).await?;
    let e = state
        .db
        .encounter(&ctx.instance.id, &p.id, id)
        .await?
        .ok_or_else(|| record_not_found(json!({"patientId": p.id, "cdtRecordId": id, "cdtName": ENCOUNTER})))?;
    Ok((p, e))
}

/// Inside `tx`: the encounter the path names, its row locked until the transaction ends.
async fn encounter_for_update(tx: &mut Tx, ctx: &InstanceCaller, p: &Patient, id: &str) -> ApiResult<StoredEncounter> {
    store::get_for_update(tx, &ctx.instance.id, &p.id, id)
        .await?
        .ok_or_else(|| record_not_found(json!({"patientId": p.id, "cdtRecordId": id, "cdtName": ENCOUNTER})).into())
}

fn open(e: &StoredEncounter) -> ApiResult<()> {
    let status = e.body.get("status").and_then(Value::as_str).unwrap_or_default();
    if domain::is_closed(status) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "ENCOUNTER_CLOSED",
            COMPONENT,
            format!("The encounter is {status} and can no longer change"),
            json!({"encounterId": e.id, "status": status}),
        ));
    }
    Ok(())
}

fn stamp(body: &mut Map<String, Value>, ctx: &InstanceCaller, now_ms: i64) {
    let actor = ctx.actor();
    body.insert("updated_at".into(), json!(crate::time::format_ms(now_ms)));
    body.insert("updated_by".into(), json!(actor.id));
    body.insert("updated_by_name".into(), json!(actor.full_name()));
}

// ----- comments ------------------------------------------------------------------------

fn text_of(body: &Map<String, Value>) -> ApiResult<String> {
    crate::domain::fields::reject_unknown(body, &["text"], &["id", "encounterId", "createdAt", "updatedAt"])
        .map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    crate::domain::fields::text("text", body.get("text").unwrap_or(&Value::Null))
        .map_err(|e| ApiError::invalid_field(COMPONENT, e))
}

fn comment_not_found(id: &str) -> ApiError {
    ApiError::not_found("ENCOUNTER_COMMENT_NOT_FOUND", COMPONENT, "Encounter comment not found", json!({"id": id}))
}

/// Comments of an encounter (a bare array).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/comments", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn comments(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<Ids>,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let (_, e) = encounter(&state, &ctx, &path.2, &path.3).await?;
    Ok(Json(state.db.encounter_comments(&ctx.instance.id, &e.id).await?))
}

/// One comment.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/comments/{commentId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path), ("commentId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn comment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<IdsWithPart>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let (_, e) = encounter(&state, &ctx, &path.2, &path.3).await?;
    let all = state.db.encounter_comments(&ctx.instance.id, &e.id).await?;
    all.into_iter().find(|c| c["id"] == path.4.as_str()).map(Json).ok_or_else(|| comment_not_found(&path.4))
}

/// Add a comment: `{text}` → 201.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/comments", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    request_body(content = Object, description = "{text}"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn add_comment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<Ids>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Encounters, Op::Update)?;
    let text = text_of(&body)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let now = crate::time::format_ms(now_ms);
    let actor = ctx.actor();
    let mut tx = state.db.begin().await?;
    // Locked so that the comment never outlives a concurrent delete of the encounter.
    let e = encounter_for_update(&mut tx, &ctx, &p, &path.3).await?;
    let c = json!({"id": crate::ids::new_id(), "createdAt": now, "updatedAt": now, "createdBy": actor.id, "updatedBy": actor.id,
                   "createdByName": actor.full_name(), "updatedByName": actor.full_name(), "encounterId": e.id, "text": text});
    store::insert_comment(&mut tx, &ctx.instance.id, &c, now_ms).await?;
    let id = c["id"].as_str().unwrap_or_default();
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("ENCOUNTER_COMMENT", Operation::Create, id, &c) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Change a comment's text.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/comments/{commentId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path), ("commentId" = String, Path)),
    request_body(content = Object, description = "{text}"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_comment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<IdsWithPart>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Update)?;
    let text = text_of(&body)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let actor = ctx.actor();
    let mut tx = state.db.begin().await?;
    let e = encounter_for_update(&mut tx, &ctx, &p, &path.3).await?;
    let mut c = store::comment_for_update(&mut tx, &ctx.instance.id, &e.id, &path.4)
        .await?
        .ok_or_else(|| comment_not_found(&path.4))?;
    c["text"] = json!(text);
    c["updatedAt"] = json!(crate::time::format_ms(now_ms));
    c["updatedBy"] = json!(actor.id);
    c["updatedByName"] = json!(actor.full_name());
    store::update_comment(&mut tx, &ctx.instance.id, &c).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("ENCOUNTER_COMMENT", Operation::Update, &path.4, &c) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(c))
}

/// Delete a comment. Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/comments/{commentId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path), ("commentId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete_comment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<IdsWithPart>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Encounters, Op::Update)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let e = encounter_for_update(&mut tx, &ctx, &p, &path.3).await?;
    let c = store::comment_for_update(&mut tx, &ctx.instance.id, &e.id, &path.4)
        .await?
        .ok_or_else(|| comment_not_found(&path.4))?;
    store::delete_comment(&mut tx, &ctx.instance.id, &path.4).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("ENCOUNTER_COMMENT", Operation::Delete, &path.4, &c) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}

// ----- assessment links ----------------------------------------------------------------

async fn link(state: &AppState, ctx: &InstanceCaller, e: &StoredEncounter, id: &str) -> ApiResult<StoredRecord> {
    state
        .db
        .record(&scope(ctx, LINK, &e.patient_id), RecordKey::Id, id)
        .await?
        .filter(|r| r.body.get("source_id").and_then(Value::as_str) == Some(&e.id))
        .ok_or_else(|| record_not_found(json!({})).into())
}

/// Inside `tx`: a link of the encounter, its row locked until the transaction ends.
async fn link_for_update(tx: &mut Tx, ctx: &InstanceCaller, e: &StoredEncounter, id: &str) -> ApiResult<StoredRecord> {
    dt::get_for_update(tx, &scope(ctx, LINK, &e.patient_id), RecordKey::Id, id)
        .await?
        .filter(|r| r.body.get("source_id").and_then(Value::as_str) == Some(&e.id))
        .ok_or_else(|| record_not_found(json!({})).into())
}

/// An assessment record given to a link must be the patient's, of the link's assessment.
/// Read (and locked) inside `tx`, so it cannot be deleted before the link commits.
async fn check_record(
    tx: &mut Tx,
    ctx: &InstanceCaller,
    p: &Patient,
    assessment: &str,
    record_id: &Value,
) -> ApiResult<Option<String>> {
    let Some(id) = record_id.as_str() else {
        return if record_id.is_null() {
            Ok(None)
        } else {
            Err(ApiError::invalid_field(COMPONENT, FieldError::new("assessmentRecordId", "must be a string or null")))
        };
    };
    let r = crate::store::assessment_records::get_for_update(tx, &ctx.instance.id, &p.id, id).await?;
    match r {
        Some(r) if r["assessmentName"] == assessment => Ok(Some(id.to_string())),
        Some(_) => Err(ApiError::invalid_field(
            COMPONENT,
            FieldError::new("assessmentRecordId", format!("record {id} is not of assessment {assessment}")),
        )),
        None => Err(ApiError::invalid_field(
            COMPONENT,
            FieldError::new("assessmentRecordId", format!("the patient has no assessment record {id}")),
        )),
    }
}

/// Assessment links of an encounter (a bare array).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn links(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<Ids>,
) -> ApiResult<Json<Vec<Value>>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let (p, e) = encounter(&state, &ctx, &path.2, &path.3).await?;
    let all = state.db.records(&scope(&ctx, LINK, &p.id), None, None).await?;
    Ok(Json(
        all.iter()
            .filter(|r| r.body.get("source_id").and_then(Value::as_str) == Some(&e.id))
            .map(|r| envelope(r, LINK))
            .collect(),
    ))
}

/// One assessment link.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments/{linkId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path), ("linkId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_link(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<IdsWithPart>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let (_, e) = encounter(&state, &ctx, &path.2, &path.3).await?;
    Ok(Json(envelope(&link(&state, &ctx, &e, &path.4).await?, LINK)))
}

/// Link an assessment: `{assessmentName, assessmentRecordId?}` → 201.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    request_body(content = Object, description = "{assessmentName, assessmentRecordId}"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn add_link(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<Ids>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Encounters, Op::Update)?;
    crate::domain::fields::reject_unknown(&body, &["assessmentName", "assessmentRecordId"], &[])
        .map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    let p = patient(&state, &ctx, &path.2).await?;
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    let mut tx = state.db.begin().await?;
    let e = encounter_for_update(&mut tx, &ctx, &p, &path.3).await?;
    open(&e)?;
    let name = body
        .get("assessmentName")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid_field(COMPONENT, FieldError::new("assessmentName", "is required")))?;
    let a = formation.designer.assessment(name).ok_or_else(|| {
        ApiError::invalid_field(COMPONENT, FieldError::new("assessmentName", format!("no assessment {name:?}")))
    })?;
    let record_id =
        check_record(&mut tx, &ctx, &p, name, body.get("assessmentRecordId").unwrap_or(&Value::Null)).await?;
    let now_ms = state.clock.now_ms();
    let id = crate::ids::new_id();
    let actor = ctx.actor();
    let dt_empty = serde_json::from_value(json!({"name": LINK, "fields": []})).expect("empty data type");
    let mut link_body =
        records::blank_body(&dt_empty, &id, &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    for (k, v) in [
        ("assessmentName", json!(a.name)),
        ("assessmentTitle", json!(a.title)),
        ("assessmentRecordId", json!(record_id)),
        ("fromTemplate", json!(false)),
        ("relation", json!("ASSESSMENT")),
        ("source_type", json!("ENCOUNTER")),
        ("source_name", json!(ENCOUNTER)),
        ("source_id", json!(e.id)),
    ] {
        link_body.insert(k.into(), v);
    }
    dt::insert(&mut tx, &scope(&ctx, LINK, &p.id), &id, formation.version, &link_body, now_ms).await?;
    let stored = StoredRecord {
        id: id.clone(),
        patient_id: Some(p.id.clone()),
        dt_name: LINK.into(),
        version: formation.version,
        created_at: now_ms,
        updated_at: now_ms,
        body: link_body,
    };
    let record = envelope(&stored, LINK);
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), cdt_name: Some(LINK), ..Write::new("CDT", Operation::Create, &id, &record) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Attach (or detach, with null) the assessment record of a link.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments/{linkId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path), ("linkId" = String, Path)),
    request_body(content = Object, description = "{assessmentRecordId}"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_link(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<IdsWithPart>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Update)?;
    crate::domain::fields::reject_unknown(
        &body,
        &["assessmentRecordId"],
        &["assessmentName", "assessmentTitle", "fromTemplate", "relation"],
    )
    .map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let e = encounter_for_update(&mut tx, &ctx, &p, &path.3).await?;
    open(&e)?;
    let mut l = link_for_update(&mut tx, &ctx, &e, &path.4).await?;
    let name = l.body.get("assessmentName").and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some(given) = body.get("assessmentRecordId") {
        let record_id = check_record(&mut tx, &ctx, &p, &name, given).await?;
        l.body.insert("assessmentRecordId".into(), json!(record_id));
    }
    stamp(&mut l.body, &ctx, now_ms);
    dt::update(&mut tx, &scope(&ctx, LINK, &p.id), &l.id, &l.body, now_ms).await?;
    let record = envelope(&l, LINK);
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), cdt_name: Some(LINK), ..Write::new("CDT", Operation::Update, &l.id, &record) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(record))
}

/// Remove an assessment link. Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/assessments/{linkId}", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path), ("linkId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete_link(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<IdsWithPart>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Encounters, Op::Update)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let e = encounter_for_update(&mut tx, &ctx, &p, &path.3).await?;
    open(&e)?;
    let l = link_for_update(&mut tx, &ctx, &e, &path.4).await?;
    dt::delete(&mut tx, &scope(&ctx, LINK, &p.id), &l.id).await?;
    let record = envelope(&l, LINK);
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), cdt_name: Some(LINK), ..Write::new("CDT", Operation::Delete, &l.id, &record) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}

// ----- disposition -----------------------------------------------------------------------

async fn disposition_of(state: &AppState, ctx: &InstanceCaller, e: &StoredEncounter) -> ApiResult<StoredRecord> {
    let id = e.body.get("dispositionId").and_then(Value::as_str).unwrap_or_default();
    state
        .db
        .record(&scope(ctx, DISPOSITION, &e.patient_id), RecordKey::Id, id)
        .await?
        .ok_or_else(|| record_not_found(json!({})).into())
}

/// The encounter's disposition record.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/disposition", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn disposition(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<Ids>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Read)?;
    let (_, e) = encounter(&state, &ctx, &path.2, &path.3).await?;
    Ok(Json(envelope(&disposition_of(&state, &ctx, &e).await?, DISPOSITION)))
}

/// Update the disposition's fields (checked against the disposition data type).
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/disposition", tag = "Encounters",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path)),
    request_body(content = Object, description = "Field values by field name"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_disposition(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<Ids>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Encounters, Op::Update)?;
    let p = patient(&state, &ctx, &path.2).await?;
    // What the check needs from the formation, before the transaction: it does not
    // depend on the disposition.
    let formation = state.db.current_formation(&ctx.instance.id).await?;
    let dtype = formation.designer.disposition();
    let dictionaries = dictionary_values(&state, &ctx, &dtype).await?;
    let now_ms = state.clock.now_ms();
    let actor = ctx.actor();
    let mut tx = state.db.begin().await?;
    let e = encounter_for_update(&mut tx, &ctx, &p, &path.3).await?;
    open(&e)?;
    let disposition_id = e.body.get("dispositionId").and_then(Value::as_str).unwrap_or_default();
    let mut d = dt::get_for_update(&mut tx, &scope(&ctx, DISPOSITION, &p.id), RecordKey::Id, disposition_id)
        .await?
        .ok_or_else(|| record_not_found(json!({})))?;
    records::update_body(
        &dtype,
        &mut d.body,
        &body,
        &[],
        &dictionaries,
        &crate::time::format_ms(now_ms),
        &actor.id,
        &actor.full_name(),
    )
    .map_err(|e| ApiError::invalid_field("CDT", e))?;
    dt::update(&mut tx, &scope(&ctx, DISPOSITION, &p.id), &d.id, &d.body, now_ms).await?;
    let record = envelope(&d, DISPOSITION);
    ctx.record(
        &mut tx,
        Write {
            patient: Some(&p),
            cdt_name: Some(DISPOSITION),
            ..Write::new("CDT", Operation::Update, &d.id, &record)
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(record))
}
