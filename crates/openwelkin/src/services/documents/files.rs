//! The files of a document summary: upload (all the files of a request are stored or
//! none) and download. The bytes go to the file store before the rows that name them, and
//! are removed again when anything fails after that.

use super::{envelope, scope, summary_not_found, summary_write, COMPONENT};
use crate::app::AppState;
use crate::domain::document::{self, DocumentFile, SUMMARY_CDT};
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::patients::by_id as patient;
use crate::services::records::stamp;
use crate::services::scope::InstanceScope;
use crate::store::documents::{self as store, FileOwner};
use crate::store::records::{self as dt_store, RecordKey, Scope};
use serde_json::json;
use std::future::Future;

/// One file of an upload: its name (cleaned by `document::clean_name`) and its bytes.
pub struct IncomingFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The files of an upload request, read one at a time as the upload stores them (the
/// HTTP layer reads them from a multipart body, refusing what is not a file part).
pub trait IncomingFiles: Send {
    /// The next file, or `None` after the last one.
    fn next_file(&mut self) -> impl Future<Output = ServiceResult<Option<IncomingFile>>> + Send;
}

/// Uploads files to the summary `summary_id`: every file must be a JPEG, PNG or PDF by its
/// content (the stored type is the detected one). All files are stored or none. Answers
/// the new file objects.
pub async fn upload(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    summary_id: &str,
    mut incoming: impl IncomingFiles,
) -> ServiceResult<Vec<DocumentFile>> {
    let patient = patient(state, ctx, patient_id).await?;
    let scope = scope(ctx, SUMMARY_CDT, &patient.id);
    if state.db.record(&scope, RecordKey::Id, summary_id).await?.is_none() {
        return Err(summary_not_found(&patient.id, summary_id));
    }
    let mut written = Vec::new();
    let outcome = store_upload(state, ctx, &patient, &scope, summary_id, &mut incoming, &mut written).await;
    if outcome.is_err() {
        state.files.delete_all(&written).await;
    }
    outcome
}

/// Reads and stores the files, then records them; `written` collects the keys stored so
/// far, for the caller to remove if this fails.
async fn store_upload(
    state: &AppState,
    ctx: &InstanceScope,
    patient: &Patient,
    scope: &Scope<'_>,
    id: &str,
    incoming: &mut impl IncomingFiles,
    written: &mut Vec<String>,
) -> ServiceResult<Vec<DocumentFile>> {
    let mut files = Vec::new();
    while let Some(IncomingFile { name, bytes }) = incoming.next_file().await? {
        let content_type = document::sniff(&bytes).ok_or_else(|| {
            ServiceError::invalid_field(
                COMPONENT,
                FieldError::new("files", format!("{name:?} is not a JPEG, PNG or PDF file (judged by its content)")),
            )
        })?;
        let file = DocumentFile {
            id: crate::ids::new_id(),
            original_name: name,
            size: bytes.len() as i64,
            content_type: content_type.into(),
            storage_key: format!(
                "{}/{}/patients/{}/documents/{}",
                ctx.tenant.name,
                ctx.instance.name,
                patient.id,
                crate::ids::new_id()
            ),
        };
        state.files.put(&file.storage_key, bytes).await.map_err(ServiceError::from_io)?;
        written.push(file.storage_key.clone());
        files.push(file);
    }
    if files.is_empty() {
        return Err(ServiceError::invalid_field(
            COMPONENT,
            FieldError::new("files", "is required: send at least one part named files"),
        ));
    }
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut r = dt_store::get_for_update(&mut tx, scope, RecordKey::Id, id)
        .await?
        .ok_or_else(|| summary_not_found(&patient.id, id))?;
    let owner =
        FileOwner { tenant_id: &ctx.tenant.id, instance_id: &ctx.instance.id, patient_id: &patient.id, summary_id: id };
    for f in &files {
        store::insert(&mut tx, &owner, f, now_ms).await?;
    }
    let mut listed = document::files_of(&r.body);
    listed.extend(files.iter().cloned());
    document::set_files(&mut r.body, &listed);
    stamp(ctx, &mut r.body, now_ms);
    r.updated_at = now_ms;
    dt_store::update(&mut tx, scope, id, &r.body, now_ms).await?;
    let record = envelope(&r);
    ctx.record(&mut tx, summary_write(Operation::Update, "DOCUMENT_UPLOADED", id, patient, &record), now_ms).await?;
    tx.commit().await?;
    Ok(files)
}

/// A file to send back: its bytes, the type found at upload and the client's name for it.
pub struct Download {
    pub bytes: Vec<u8>,
    pub content_type: String,
    pub original_name: String,
}

/// The file `file_id` of the summary `summary_id`.
pub async fn download(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    summary_id: &str,
    file_id: &str,
) -> ServiceResult<Download> {
    let patient = patient(state, ctx, patient_id).await?;
    if state.db.record(&scope(ctx, SUMMARY_CDT, &patient.id), RecordKey::Id, summary_id).await?.is_none() {
        return Err(summary_not_found(&patient.id, summary_id));
    }
    let file = state.db.document_file(&ctx.instance.id, &patient.id, summary_id, file_id).await?.ok_or_else(|| {
        ServiceError::not_found(
            "FILE_NOT_FOUND",
            "DOCUMENT",
            "File not found",
            json!({"patientId": patient.id, "documentSummaryId": summary_id, "fileId": file_id}),
        )
    })?;
    let bytes = state
        .files
        .get(&file.storage_key)
        .await
        .map_err(ServiceError::internal)?
        .ok_or_else(|| ServiceError::internal(format!("stored file {} is missing", file.storage_key)))?;
    Ok(Download { bytes, content_type: file.content_type, original_name: file.original_name })
}
