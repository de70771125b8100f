//! Patients: create, read, update, delete and list in an instance. The checks a write
//! needs beyond the body's own rules (regions and territories of the current designer,
//! unique keys, care team members) are here; the body rules are `domain::patient`.

use super::error::{ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::domain::patient::{CareTeamRole, CareTeamUser, Patient};
use crate::domain::patient_program::PatientProgram;
use crate::domain::user::User;
use crate::domain::FieldError;
use crate::events::audit::{AuditRecord, Operation};
use crate::store::patients::{self, PatientFilter, PatientKey};
use crate::store::query::SortColumn;
use crate::store::{is_unique_violation, users, Tx};
use serde_json::{json, Map, Value};

pub const COMPONENT: &str = "PATIENT";

pub fn not_found(key: &str) -> ServiceError {
    ServiceError::not_found("PATIENT_NOT_FOUND", COMPONENT, "Patient not found", json!({"id": key}))
}

/// The patient with this id, which the records of other resources belong to.
pub async fn by_id(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<Patient> {
    state.db.patient(&ctx.instance.id, PatientKey::Id, id).await?.ok_or_else(|| not_found(id))
}

/// The patient a body's `field` names, checked to exist in the instance (a 400 naming
/// the field, not a 404: the path was found, the body is wrong).
pub async fn named_by(
    state: &AppState,
    ctx: &InstanceScope,
    component: &str,
    field: &str,
    id: &str,
) -> ServiceResult<Patient> {
    state.db.patient(&ctx.instance.id, PatientKey::Id, id).await?.ok_or_else(|| {
        ServiceError::invalid_field(component, FieldError::new(field, format!("patient {id} does not exist")))
    })
}

/// Locks the patient's row in the write transaction (404 if it was deleted meanwhile).
/// Writes that add records to a patient take this before checking a per-patient rule, so
/// two of them run one after the other and none outlives a concurrent delete.
pub async fn lock(tx: &mut Tx, ctx: &InstanceScope, id: &str) -> ServiceResult<()> {
    if patients::lock(tx, &ctx.instance.id, id).await? {
        Ok(())
    } else {
        Err(not_found(id))
    }
}

/// Creates a patient from a create body. The answer is the stored text when nothing is
/// joined in (no care team given: a patient just made is enrolled in nothing), as for a
/// read: the text written to the row and the audit entry is then written out once.
pub async fn create(state: &AppState, ctx: &InstanceScope, body: &Map<String, Value>) -> ServiceResult<Answer> {
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut patient =
        Patient::blank(crate::ids::record_id(), &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    patient.apply(body, true).map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    if body.contains_key("patientTerritories") {
        check_territories(state, ctx, &mut patient).await?;
    }
    let stored = patients::stored_body(&patient);
    let mut tx = state.db.begin().await?;
    check_references(&mut tx, ctx, &patient).await?;
    // With the audit row, sent with the commit: a taken externalId fails the commit.
    patients::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, &patient, &stored, now_ms, patients::Send::WithCommit)
        .await
        .map_err(duplicate_or_internal)?;
    audit(&mut tx, ctx, Operation::Create, &patient, &stored, now_ms).await?;
    tx.commit().await.map_err(duplicate_or_internal)?;
    if patient.care_team_members.is_empty() {
        return Ok(Answer::Stored(stored));
    }
    Ok(Answer::Rendered(Box::new(render(state, ctx, patient, vec![], false).await?)))
}

/// A read's answer: the stored text when it already is the answer
/// (`domain::patient_stored`), else the patient with what other records fill in.
pub enum Answer {
    Stored(String),
    Rendered(Box<Patient>),
}

/// The patient `key` names (as `kind` says); with `expand`, its territorial team too.
/// Answered with the stored text when nothing is joined in: no care team, no enrolments,
/// no `expand` (most patients; parsing and writing them out again was about a twentieth
/// of a read's CPU). Whether the text is its own answer was stored beside it by the write
/// (`answer_shape`), so it is not parsed to find out.
pub async fn read_answer(
    state: &AppState,
    ctx: &InstanceScope,
    kind: PatientKey,
    key: &str,
    expand: bool,
) -> ServiceResult<Answer> {
    let patients::StoredPatient { body, answer_shape, programs } =
        state.db.stored_patient_with_programs(&ctx.instance.id, kind, key).await?.ok_or_else(|| not_found(key))?;
    if !expand && programs.is_empty() && crate::domain::patient_stored::answers_as_stored_with(answer_shape, &body) {
        return Ok(Answer::Stored(body));
    }
    let patient: Patient = serde_json::from_str(&body).map_err(ServiceError::internal)?;
    Ok(Answer::Rendered(Box::new(render(state, ctx, patient, programs, expand).await?)))
}

/// Applies a PATCH body to the patient `key` names; omitted fields keep their values.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    kind: PatientKey,
    key: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Patient> {
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut patient =
        patients::get_for_update(&mut tx, &ctx.instance.id, kind, key).await?.ok_or_else(|| not_found(key))?;
    patient.apply(body, false).map_err(|e| ServiceError::invalid_field(COMPONENT, e))?;
    if body.contains_key("patientTerritories") {
        check_territories(state, ctx, &mut patient).await?;
    }
    patient.updated_at = crate::time::format_ms(now_ms);
    patient.updated_by = actor.id.clone();
    patient.updated_by_name = actor.full_name();
    check_references(&mut tx, ctx, &patient).await?;
    let stored = patients::stored_body(&patient);
    patients::update(&mut tx, &ctx.instance.id, &patient, &stored, now_ms).await.map_err(duplicate_or_internal)?;
    audit(&mut tx, ctx, Operation::Update, &patient, &stored, now_ms).await?;
    tx.commit().await?;
    let enrolments = state.db.patient_programs(&ctx.instance.id, &patient.id).await?;
    render(state, ctx, patient, enrolments, false).await
}

/// Deletes the patient `key` names, with everything that belongs to it.
pub async fn delete(state: &AppState, ctx: &InstanceScope, kind: PatientKey, key: &str) -> ServiceResult<()> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let patient =
        patients::get_for_update(&mut tx, &ctx.instance.id, kind, key).await?.ok_or_else(|| not_found(key))?;
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
    audit(&mut tx, ctx, Operation::Delete, &patient, &patients::stored_body(&patient), now_ms).await?;
    tx.commit().await?;
    // Uploaded files' bytes go once the rows naming them are gone.
    state.files.delete_all(&files).await;
    Ok(())
}

/// One page of the patients `filter` matches, in `sorts` order, and how many match.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    filter: &PatientFilter,
    sorts: &[SortColumn],
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Patient>, i64)> {
    let (found, total) = state.db.patients(&ctx.instance.id, filter, sorts, offset, size).await?;
    let ids: Vec<String> = found.iter().map(|p| p.id.clone()).collect();
    let mut programs = state.db.patient_programs_of(&ctx.instance.id, &ids).await?;
    let mut content = Vec::with_capacity(found.len());
    for p in found {
        let enrolments = programs.remove(&p.id).unwrap_or_default();
        content.push(render(state, ctx, p, enrolments, false).await?);
    }
    Ok((content, total))
}

/// Each region of `patientTerritories` exists in the instance's current designer and each
/// territory belongs to it; the first region's title becomes `patientRegionTitle`.
async fn check_territories(state: &AppState, ctx: &InstanceScope, p: &mut Patient) -> ServiceResult<()> {
    let regions = state.db.current_formation(&ctx.instance.id).await?.designer.region_list();
    for (i, t) in p.patient_territories.iter().enumerate() {
        let Some(region) = regions.iter().find(|r| r.name == t.name) else {
            let e = FieldError::new(format!("patientTerritories[{i}].name"), format!("no region named {:?}", t.name));
            return Err(ServiceError::invalid_field(COMPONENT, e));
        };
        if let Some(j) = t.territories.iter().position(|x| !region.territories.contains(x)) {
            let e = FieldError::new(
                format!("patientTerritories[{i}].territories[{j}]"),
                format!("{:?} is not a territory of region {:?}", t.territories[j], t.name),
            );
            return Err(ServiceError::invalid_field(COMPONENT, e));
        }
    }
    p.patient_region_title =
        p.patient_region.as_ref().and_then(|name| regions.iter().find(|r| &r.name == name)).map(|r| r.title.clone());
    Ok(())
}

/// Unique keys free within the instance, care team members existing in the tenant.
async fn check_references(tx: &mut Tx, ctx: &InstanceScope, p: &Patient) -> ServiceResult<()> {
    for (kind, field, value) in [
        (PatientKey::ExternalId, "externalId", &p.external_id),
        (PatientKey::ExternalGuid, "externalGuid", &p.external_guid),
        (PatientKey::Mrn, "mrn", &p.mrn),
    ] {
        let Some(value) = value else { continue };
        if let Some(holder) = patients::holder_of(tx, &ctx.instance.id, kind, value).await? {
            if holder != p.id {
                return Err(ServiceError::conflict(
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
        return Err(ServiceError::invalid_field(
            COMPONENT,
            FieldError::new(format!("careTeam[{i}].id"), format!("user {missing} does not exist")),
        ));
    }
    Ok(())
}

fn duplicate_or_internal(err: crate::store::sql::Error) -> ServiceError {
    if is_unique_violation(&err) {
        ServiceError::conflict(
            "PATIENT_ALREADY_EXISTS",
            COMPONENT,
            "another patient already has this externalId, externalGuid or mrn",
            json!({}),
        )
    } else {
        ServiceError::from(err)
    }
}

/// Audits a write of `p`; the entry shows `stored`, the patient as stored
/// (`patients::stored_body`).
async fn audit(
    tx: &mut Tx,
    ctx: &InstanceScope,
    operation: Operation,
    p: &Patient,
    stored: &str,
    now_ms: i64,
) -> ServiceResult<()> {
    let record = AuditRecord::Text(stored);
    ctx.record(tx, Write { patient: Some(p), ..Write::of_record("PATIENT", operation, &p.id, record) }, now_ms).await
}

/// Fills the parts of a patient that come from other records: the care team's user
/// details and, with `expand`, the territorial team.
async fn render(
    state: &AppState,
    ctx: &InstanceScope,
    mut p: Patient,
    enrolments: Vec<PatientProgram>,
    expand: bool,
) -> ServiceResult<Patient> {
    if !p.care_team_members.is_empty() {
        let ids: Vec<String> = p.care_team_members.iter().map(|m| m.id.clone()).collect();
        let found = state.db.users_by_ids(&ctx.tenant.id, &ids).await?;
        p.care_team = p
            .care_team_members
            .iter()
            .filter_map(|m| found.iter().find(|u| u.id == m.id).map(|u| care_team_user(u, m.point_of_contact)))
            .collect();
    }
    p.patient_programs = super::patient_programs::render_all(state, ctx, enrolments).await?;
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

/// A care team member as a patient shows it (also in exports).
pub fn care_team_user(u: &User, point_of_contact: bool) -> CareTeamUser {
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
