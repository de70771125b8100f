//! Assessment records of a patient: a record is created from an assessment of the
//! current formation (status `NEW`), its answers are checked against the CDT fields the
//! questions reference (`IN_PROGRESS`), and completing it checks required answers,
//! scores it and sets `finalizedDate`. Audited as `ASSESSMENT` (`ASSESSMENT_COMPLETED`
//! when completed).
//!
//! Changes read the record inside their write transaction, its row locked: status and
//! answers are judged on the latest committed state, so a record is completed once.

use super::error::{Kind, ServiceError, ServiceResult};
use super::patients::by_id as patient;
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::designer::data_type::SYSTEM_FIELDS;
use crate::designer::views::Assessment;
use crate::designer::Designer;
use crate::domain::assessment_record as domain;
use crate::domain::patient::Patient;
use crate::domain::records::DictionaryValues;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::assessment_records as store;
use crate::store::Tx;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const COMPONENT: &str = "ASSESSMENT";

fn not_found(patient_id: &str, id: &str) -> ServiceError {
    ServiceError::not_found(
        "ASSESSMENT_RECORD_NOT_FOUND",
        COMPONENT,
        "Assessment record for patient not found",
        json!({"recordId": id, "patientId": patient_id}),
    )
}

fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

fn assessment_not_found(name: &str) -> ServiceError {
    ServiceError::not_found("ASSESSMENT_NOT_FOUND", COMPONENT, "Assessment not found", json!({"assessmentName": name}))
}

async fn assessment(
    state: &AppState,
    ctx: &InstanceScope,
    name: &str,
) -> ServiceResult<(Assessment, Arc<Designer>, i64)> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    let a = f.designer.assessment(name).ok_or_else(|| assessment_not_found(name))?;
    Ok((a, f.designer, f.version))
}

/// What answering and completing records of one assessment need from the current
/// formation. Loaded before the write transaction opens: a record's assessment never
/// changes, so this does not depend on the state the transaction locks.
struct Rules {
    assessment: Assessment,
    designer: Arc<Designer>,
    dictionaries: DictionaryValues,
}

/// The rules of assessment `name`; `None` when the current formation no longer has it,
/// which is an error only for a change that needs them.
async fn rules(state: &AppState, ctx: &InstanceScope, name: &str) -> ServiceResult<Option<Rules>> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    let Some(assessment) = f.designer.assessment(name) else { return Ok(None) };
    let dictionaries = dictionaries(state, ctx, &f.designer, &assessment).await?;
    Ok(Some(Rules { assessment, designer: f.designer, dictionaries }))
}

/// The assessment a stored record is of: read before the transaction only to load its
/// rules (the record itself is read again, locked, inside the transaction).
async fn assessment_of(state: &AppState, ctx: &InstanceScope, p: &Patient, id: &str) -> ServiceResult<String> {
    let record = state.db.assessment_record(&ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found(&p.id, id))?;
    Ok(record["assessmentName"].as_str().unwrap_or_default().to_string())
}

/// Inside `tx`: the record, its row locked until the transaction ends.
async fn record_for_update(tx: &mut Tx, ctx: &InstanceScope, p: &Patient, id: &str) -> ServiceResult<Value> {
    store::get_for_update(tx, &ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found(&p.id, id))
}

/// Dictionaries used by the fields the assessment's questions reference.
async fn dictionaries(
    state: &AppState,
    ctx: &InstanceScope,
    designer: &Designer,
    a: &Assessment,
) -> ServiceResult<DictionaryValues> {
    super::records::dictionary_values(state, ctx, &domain::answers_data_type(designer, a)).await
}

/// Stamps an update of the record (and of its answers' system fields).
fn touch(record: &mut Value, ctx: &InstanceScope, p: &Patient, now_ms: i64) {
    let actor = ctx.actor();
    let now = crate::time::format_ms(now_ms);
    record["updatedAt"] = json!(now);
    record["updatedBy"] = json!(actor.id);
    record["updatedByName"] = json!(actor.full_name());
    record["localUpdatedDate"] = json!(crate::time::format_local_ms(now_ms, p.timezone.as_deref()));
    record["answers"]["updated_at"] = json!(now);
    record["answers"]["updated_by"] = json!(actor.id);
    record["answers"]["updated_by_name"] = json!(actor.full_name());
}

/// Writes and audits in `tx`, then commits it.
async fn save(
    mut tx: Tx,
    ctx: &InstanceScope,
    p: &Patient,
    record: &Value,
    operation: Operation,
    completed: bool,
    now_ms: i64,
) -> ServiceResult<()> {
    match operation {
        Operation::Create => store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, record, now_ms).await?,
        Operation::Update => store::update(&mut tx, &ctx.instance.id, record, now_ms).await?,
        Operation::Delete => {
            store::delete(&mut tx, &ctx.instance.id, record["id"].as_str().unwrap_or_default()).await?
        }
    }
    let id = record["id"].as_str().unwrap_or_default();
    let name = record["assessmentName"].as_str();
    let write = Write {
        patient: Some(p),
        cdt_name: name,
        subtype: completed.then_some("ASSESSMENT_COMPLETED"),
        ..Write::new("ASSESSMENT", operation, id, record)
    };
    ctx.record(&mut tx, write, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Starts an assessment for a patient (`{assessmentName}`, optionally `answers`).
pub async fn create(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    crate::domain::fields::reject_unknown(body, &["assessmentName", "answers"], &[]).map_err(invalid)?;
    let name = body
        .get("assessmentName")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(FieldError::new("assessmentName", "is required")))?;
    let p = patient(state, ctx, patient_id).await?;
    let (a, designer, version) = assessment(state, ctx, name).await?;
    let now_ms = state.clock.now_ms();
    let actor = ctx.actor();
    let now = crate::time::format_ms(now_ms);
    let id = crate::ids::record_id();
    let local = crate::time::format_local_ms(now_ms, p.timezone.as_deref());
    let mut answers = crate::domain::records::blank_body(
        &domain::answers_data_type(&designer, &a),
        &crate::ids::new_id(),
        &now,
        &actor.id,
        &actor.full_name(),
    );
    answers.insert("source_type".into(), json!("ASSESSMENT"));
    answers.insert("source_name".into(), json!(a.name));
    answers.insert("source_id".into(), json!(id));
    let mut status = "NEW";
    if let Some(given) = body.get("answers") {
        let given = given.as_object().ok_or_else(|| invalid(FieldError::new("answers", "must be an object")))?;
        let dicts = dictionaries(state, ctx, &designer, &a).await?;
        domain::apply_answers(&designer, &a, &mut answers, given, &dicts).map_err(invalid)?;
        if !given.is_empty() {
            status = "IN_PROGRESS";
        }
    }
    let record = json!({
        "id": id, "createdAt": now, "updatedAt": now, "createdBy": actor.id, "updatedBy": actor.id,
        "createdByName": actor.full_name(), "updatedByName": actor.full_name(),
        "finalizedDate": null, "localFinalizedDate": null, "localCreatedDate": local, "localUpdatedDate": local,
        "assessmentName": a.name, "assessmentTitle": a.title, "assessmentCdtName": format!("_{}", a.name),
        "version": version, "patientId": p.id, "status": status, "answers": answers, "scoring": {},
        "folderId": null, "expirationDate": null, "questions": {}, "resolvedCdtValues": {}, "pfa": false,
    });
    save(state.db.begin().await?, ctx, &p, &record, Operation::Create, false, now_ms).await?;
    Ok(record)
}

/// The assessment record `id` of the patient.
pub async fn read(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    state.db.assessment_record(&ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found(&p.id, id))
}

/// One page of a patient's records (of one assessment, when named), and how many there
/// are in all.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    p: &Patient,
    assessment_name: Option<&str>,
    sorts: &[crate::store::query::SortColumn],
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    let order = crate::store::query::order_by(sorts, "created_at");
    Ok(state.db.assessment_records(&ctx.instance.id, &p.id, assessment_name, &order, offset, size).await?)
}

/// Checks and applies new answers; a record with answers is `IN_PROGRESS`.
fn answer(rules: Option<&Rules>, record: &mut Value, given: &Map<String, Value>) -> ServiceResult<()> {
    if record["status"] == "COMPLETED" && !given.is_empty() {
        return Err(ServiceError::new(
            Kind::BadRequest,
            "ASSESSMENT_RECORD_COMPLETED",
            COMPONENT,
            "The assessment record is completed; its answers cannot change",
            json!({"recordId": record["id"]}),
        ));
    }
    let name = record["assessmentName"].as_str().unwrap_or_default();
    let r = rules.ok_or_else(|| assessment_not_found(name))?;
    let answers = record["answers"].as_object_mut().expect("answers are an object");
    domain::apply_answers(&r.designer, &r.assessment, answers, given, &r.dictionaries).map_err(invalid)?;
    if record["status"] == "NEW" && !given.is_empty() {
        record["status"] = json!("IN_PROGRESS");
    }
    Ok(())
}

/// Completes a record: every required question answered, then scores and `finalizedDate`.
fn complete(rules: Option<&Rules>, p: &Patient, record: &mut Value, now_ms: i64) -> ServiceResult<()> {
    let name = record["assessmentName"].as_str().unwrap_or_default();
    let a = &rules.ok_or_else(|| assessment_not_found(name))?.assessment;
    let answers = record["answers"].as_object().expect("answers are an object");
    let missing = domain::unanswered(a, answers);
    if let Some(first) = missing.first() {
        return Err(ServiceError::new(
            Kind::BadRequest,
            "VALIDATION_ERROR",
            COMPONENT,
            format!("{first}: is required to complete the assessment"),
            json!({"field": first, "reason": "is required to complete the assessment", "unanswered": missing}),
        ));
    }
    record["scoring"] = Value::Object(domain::score(a, answers));
    record["questions"] = Value::Object(domain::questions(a));
    record["finalizedDate"] = json!(crate::time::format_ms(now_ms));
    record["localFinalizedDate"] = json!(crate::time::format_local_ms(now_ms, p.timezone.as_deref()));
    record["status"] = json!("COMPLETED");
    Ok(())
}

/// Updates a record from the whole object, as the Python client sends it back: `status`,
/// `answers` (answer keys), `expirationDate` and `folderId` change; the other keys are the
/// record's own and are ignored. `status: COMPLETED` completes it.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    const OWN: &[&str] = &[
        "id",
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "createdByName",
        "updatedByName",
        "finalizedDate",
        "localFinalizedDate",
        "localCreatedDate",
        "localUpdatedDate",
        "assessmentName",
        "assessmentTitle",
        "assessmentCdtName",
        "version",
        "patientId",
        "scoring",
        "questions",
        "resolvedCdtValues",
        "pfa",
    ];
    let mut allowed: Vec<&str> = OWN.to_vec();
    allowed.extend(["status", "answers", "expirationDate", "folderId"]);
    crate::domain::fields::reject_unknown(body, &allowed, &[]).map_err(invalid)?;
    let p = patient(state, ctx, patient_id).await?;
    let rules = match body.contains_key("answers") || body.contains_key("status") {
        true => rules(state, ctx, &assessment_of(state, ctx, &p, id).await?).await?,
        false => None,
    };
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut record = record_for_update(&mut tx, ctx, &p, id).await?;
    if let Some(name) = body.get("assessmentName").and_then(Value::as_str) {
        if Some(name) != record["assessmentName"].as_str() {
            return Err(invalid(FieldError::new("assessmentName", "cannot change")));
        }
    }
    // The client sends back the status it fetched: the same status means no change, even
    // when new answers move a NEW record to IN_PROGRESS.
    let fetched_status = record["status"].clone();
    if let Some(given) = body.get("answers") {
        let given = given.as_object().ok_or_else(|| invalid(FieldError::new("answers", "must be an object")))?;
        // The answers object comes back with its system fields; only answer keys change.
        let changed: Map<String, Value> = given
            .iter()
            .filter(|(k, v)| !SYSTEM_FIELDS.iter().any(|(s, _)| s == k) && record["answers"].get(k.as_str()) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        answer(rules.as_ref(), &mut record, &changed)?;
    }
    for key in ["expirationDate", "folderId"] {
        if let Some(v) = body.get(key) {
            record[key] = if key == "expirationDate" && !v.is_null() {
                let t = v
                    .as_str()
                    .and_then(crate::time::parse_datetime)
                    .ok_or_else(|| invalid(FieldError::new(key, "must be an ISO-8601 datetime")))?;
                json!(crate::time::format(t))
            } else {
                v.clone()
            };
        }
    }
    let mut completed = false;
    if let Some(status) = body.get("status").filter(|s| **s != fetched_status) {
        let status = crate::domain::fields::one_of("status", status, domain::STATUSES).map_err(invalid)?;
        match (record["status"].as_str(), status.as_str()) {
            (Some("COMPLETED"), "COMPLETED") => {}
            (Some("COMPLETED"), _) => {
                return Err(ServiceError::new(
                    Kind::BadRequest,
                    "ASSESSMENT_RECORD_COMPLETED",
                    COMPONENT,
                    "A completed assessment record cannot be reopened",
                    json!({"recordId": record["id"]}),
                ))
            }
            (_, "COMPLETED") => {
                complete(rules.as_ref(), &p, &mut record, now_ms)?;
                completed = true;
            }
            (Some("IN_PROGRESS"), "NEW") => return Err(invalid(FieldError::new("status", "cannot go back to NEW"))),
            (_, other) => record["status"] = json!(other),
        }
    }
    touch(&mut record, ctx, &p, now_ms);
    save(tx, ctx, &p, &record, Operation::Update, completed, now_ms).await?;
    Ok(record)
}

/// Sets answers from a flat map `{"<cdtName>__<fieldName>": value}`; answers the record.
pub async fn answers(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patient(state, ctx, patient_id).await?;
    let rules = rules(state, ctx, &assessment_of(state, ctx, &p, id).await?).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut record = record_for_update(&mut tx, ctx, &p, id).await?;
    answer(rules.as_ref(), &mut record, body)?;
    touch(&mut record, ctx, &p, now_ms);
    save(tx, ctx, &p, &record, Operation::Update, false, now_ms).await?;
    Ok(record)
}

/// Deletes an assessment record.
pub async fn delete(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<()> {
    let p = patient(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let record = record_for_update(&mut tx, ctx, &p, id).await?;
    save(tx, ctx, &p, &record, Operation::Delete, false, now_ms).await?;
    Ok(())
}
