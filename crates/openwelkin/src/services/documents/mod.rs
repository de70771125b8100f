//! Documents of a patient. A document summary is a record of the system data type
//! `_document_summary` (the shared CDT-backed envelope) with a document `type` and the
//! `files` uploaded to it. Files are JPEG, PNG or PDF judged by their content; their bytes
//! live in the file store (`crate::files`) and a `document_files` row names them. A
//! summary has at most one document-type record, a record of the data type named by its
//! `type`.
//!
//! Nothing is lost or orphaned: an upload writes the bytes before the rows that name them
//! and removes them when the transaction fails; deleting a summary (or dropping files
//! from it) removes the rows in one transaction and the bytes right after its commit.
//!
//! `summaries` holds the summaries' use cases, `files` uploads and downloads,
//! `type_records` the document-type records; here is how they are scoped and shown.

pub mod files;
pub mod summaries;
pub mod type_records;

use super::error::ServiceError;
use super::records::record_not_found;
use super::scope::{InstanceScope, Write};
use crate::designer::data_type::{stable_id, DataType};
use crate::domain::document::{SOURCE, SUMMARY_CDT};
use crate::domain::patient::Patient;
use crate::domain::records;
use crate::events::audit::Operation;
use crate::store::records::{DtKind, Scope, StoredRecord};
use serde_json::{json, Value};

const COMPONENT: &str = "CDT";

fn summary_cdt_id() -> String {
    stable_id(&format!("SYSTEM:{SUMMARY_CDT}"))
}

/// The id of a summary's document-type record: one per summary and type.
fn type_record_id(summary_id: &str, doc_type: &str) -> String {
    stable_id(&format!("{SOURCE}:{summary_id}:{doc_type}"))
}

/// The patient's document records of data type `dt_name` (the summaries, or the records
/// of one document type).
fn scope<'a>(ctx: &'a InstanceScope, dt_name: &'a str, patient_id: &'a str) -> Scope<'a> {
    super::records::scope(ctx, DtKind::Document, dt_name, Some(patient_id))
}

fn summary_not_found(patient_id: &str, id: &str) -> ServiceError {
    record_not_found(json!({"patientId": patient_id, "cdtRecordId": id, "cdtName": SUMMARY_CDT}))
}

/// A summary as Welkin shows it.
fn envelope(r: &StoredRecord) -> Value {
    records::envelope(&r.id, r.patient_id.as_deref(), &summary_cdt_id(), r.version, &r.body, SUMMARY_CDT)
}

/// A document-type record of `dt` as Welkin shows it.
fn type_envelope(dt: &DataType, r: &StoredRecord) -> Value {
    records::envelope(
        &r.id,
        r.patient_id.as_deref(),
        &dt.id(&dt.relation_or("DOCUMENT_TYPE")),
        r.version,
        &r.body,
        &dt.name,
    )
}

/// The audit of a write to a summary, as a `DOCUMENT` event of `subtype`.
fn summary_write<'a>(
    operation: Operation,
    subtype: &'a str,
    id: &'a str,
    patient: &'a Patient,
    record: &'a Value,
) -> Write<'a> {
    Write {
        patient: Some(patient),
        cdt_name: Some(SUMMARY_CDT),
        cdt_relation: Some("DOCUMENT_SUMMARY"),
        subtype: Some(subtype),
        ..Write::new("DOCUMENT", operation, id, record)
    }
}
