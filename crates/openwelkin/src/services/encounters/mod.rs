//! Encounters of a patient and what hangs off them. An encounter is made from an encounter
//! template of the current formation: it gets the template's assessments as links and an
//! empty disposition (the formation's disposition data type). Its status moves only along
//! `domain::encounter::next_statuses`; finalizing needs the disposition's required fields;
//! finalized and cancelled encounters no longer change, nor do their parts.
//!
//! `lifecycle` creates, changes and deletes encounters; `listing` reads them (alone or
//! with everything around them, of a patient or of a user); `comments`,
//! `assessment_links` and `disposition` are the parts. Here is what they share: the
//! lookups, the envelopes, the closed check and the bodies of owned records.

pub mod assessment_links;
pub mod comments;
pub mod disposition;
pub mod lifecycle;
pub mod listing;

use super::error::{Kind, ServiceError, ServiceResult};
use super::patients::by_id as patient;
use super::records::record_not_found;
use super::scope::InstanceScope;
use crate::app::AppState;
use crate::designer::data_type::stable_id;
use crate::domain::encounter::{self as domain, ENCOUNTER, LINK};
use crate::domain::patient::Patient;
use crate::domain::records;
use crate::domain::FieldError;
use crate::store::encounters::{self as store, StoredEncounter};
use crate::store::records::{DtKind, Scope, StoredRecord};
use crate::store::Tx;
use serde_json::{json, Map, Value};

const COMPONENT: &str = "ENCOUNTER";

fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

fn not_found(patient_id: &str, id: &str) -> ServiceError {
    record_not_found(json!({"patientId": patient_id, "cdtRecordId": id, "cdtName": ENCOUNTER}))
}

/// The patient's records of the internal data type `name` (links, dispositions).
fn scope<'a>(ctx: &'a InstanceScope, name: &'a str, patient_id: &'a str) -> Scope<'a> {
    super::records::scope(ctx, DtKind::Internal, name, Some(patient_id))
}

/// An encounter as Welkin shows it: the record envelope of `__encounter__`.
fn envelope(e: &StoredEncounter) -> Value {
    records::envelope(
        &e.id,
        Some(&e.patient_id),
        &stable_id(&format!("INTERNAL:{ENCOUNTER}")),
        e.version,
        &e.body,
        ENCOUNTER,
    )
}

/// A part of an encounter (a link, a disposition): the envelope of its internal type.
fn part_envelope(r: &StoredRecord, name: &str) -> Value {
    records::envelope(&r.id, r.patient_id.as_deref(), &stable_id(&format!("INTERNAL:{name}")), r.version, &r.body, name)
}

/// The patient and the encounter the path names.
async fn encounter(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    id: &str,
) -> ServiceResult<(Patient, StoredEncounter)> {
    let p = patient(state, ctx, patient_id).await?;
    let e = state.db.encounter(&ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found(&p.id, id))?;
    Ok((p, e))
}

/// Inside `tx`: the encounter the path names, its row locked until the transaction ends.
async fn encounter_for_update(
    tx: &mut Tx,
    ctx: &InstanceScope,
    p: &Patient,
    id: &str,
) -> ServiceResult<StoredEncounter> {
    store::get_for_update(tx, &ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found(&p.id, id))
}

/// Refuses a change to a finalized or cancelled encounter (or to its parts).
fn open(e: &StoredEncounter) -> ServiceResult<()> {
    let status = e.body.get("status").and_then(Value::as_str).unwrap_or_default();
    if domain::is_closed(status) {
        return Err(ServiceError::new(
            Kind::BadRequest,
            "ENCOUNTER_CLOSED",
            COMPONENT,
            format!("The encounter is {status} and can no longer change"),
            json!({"encounterId": e.id, "status": status}),
        ));
    }
    Ok(())
}

/// A time as the patient's local time, as the `local_*` fields show it.
fn local(ms: i64, p: &Patient) -> String {
    crate::time::format_local_ms(ms, p.timezone.as_deref())
}

/// The body of a record the encounter owns, written by the caller at `now`.
fn owned_body(
    ctx: &InstanceScope,
    id: &str,
    encounter_id: &str,
    now: &str,
    fields: Map<String, Value>,
) -> Map<String, Value> {
    let actor = ctx.actor();
    domain::owned_body(id, encounter_id, now, &actor.id, &actor.full_name(), fields)
}

/// The encounter's assessment links, as shown.
async fn links_of(state: &AppState, ctx: &InstanceScope, e: &StoredEncounter) -> ServiceResult<Vec<Value>> {
    let all = state.db.records(&scope(ctx, LINK, &e.patient_id), None, None).await?;
    Ok(all
        .iter()
        .filter(|r| r.body.get("source_id").and_then(Value::as_str) == Some(&e.id))
        .map(|r| part_envelope(r, LINK))
        .collect())
}
