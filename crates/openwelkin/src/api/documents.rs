//! Documents: `/{tenant}/{instance}/patients/{patientId}/document-summary[...]`.
//!
//! A document summary is a record of the system data type `_document_summary` (the shared
//! CDT-backed envelope) with a document `type` and the `files` uploaded to it. Files are
//! JPEG, PNG or PDF judged by their content; their bytes live in the file store
//! (`crate::files`) and a `document_files` row names them. A summary has at most one
//! document-type record, a record of the data type named by its `type`.
//!
//! Nothing is lost or orphaned: an upload writes the bytes before the rows that name them
//! and removes them when the transaction fails; deleting a summary (or dropping files
//! from it) removes the rows in one transaction and the bytes right after its commit.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::{self, CdtPage};
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::designer::data_type::{stable_id, DataType};
use crate::designer::Kind;
use crate::domain::document::{self, DocumentFile, DocumentSummaryWrite, MAX_FILE_BYTES, SOURCE, SUMMARY_CDT};
use crate::domain::patient::Patient;
use crate::domain::records;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::documents::{self as store, FileOwner};
use crate::store::records::{self as dt_store, DtKind, RecordKey, Scope, StoredRecord};
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

const COMPONENT: &str = "CDT";

/// Largest accepted upload request (several files of up to `MAX_FILE_BYTES` each).
pub const UPLOAD_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The upload route, with its own body limit instead of the server-wide one.
pub fn upload_routes() -> UtoipaMethodRouter<AppState> {
    let (schemas, paths, router) = routes!(upload);
    (schemas, paths, router.layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)))
}

fn summary_cdt_id() -> String {
    stable_id(&format!("SYSTEM:{SUMMARY_CDT}"))
}

/// The id of a summary's document-type record: one per summary and type.
fn type_record_id(summary_id: &str, doc_type: &str) -> String {
    stable_id(&format!("{SOURCE}:{summary_id}:{doc_type}"))
}

fn scope<'a>(ctx: &'a InstanceCaller, dt_name: &'a str, patient_id: &'a str) -> Scope<'a> {
    Scope {
        tenant_id: &ctx.tenant.id,
        instance_id: &ctx.instance.id,
        kind: DtKind::Document,
        dt_name,
        patient_id: Some(Some(patient_id)),
    }
}

fn summary_not_found(patient_id: &str, id: &str) -> ApiError {
    cdts::record_not_found(json!({"patientId": patient_id, "cdtRecordId": id, "cdtName": SUMMARY_CDT})).into()
}

fn envelope(r: &StoredRecord) -> Value {
    records::envelope(&r.id, r.patient_id.as_deref(), &summary_cdt_id(), r.version, &r.body, SUMMARY_CDT)
}

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

fn stamp(ctx: &InstanceCaller, body: &mut Map<String, Value>, now_ms: i64) {
    let actor = ctx.actor();
    body.insert("updated_at".into(), json!(crate::time::format_ms(now_ms)));
    body.insert("updated_by".into(), json!(actor.id));
    body.insert("updated_by_name".into(), json!(actor.full_name()));
}

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
        subtype: Some(subtype),
        ..Write::new("DOCUMENT", operation, id, record)
    }
}

/// The current formation's document types and its version.
async fn document_types(state: &AppState, ctx: &InstanceCaller) -> ApiResult<(Vec<String>, i64)> {
    let f = state.db.current_formation(&ctx.instance.id).await?;
    let names = f.designer.document_types.iter().map(|d| d.name.clone()).collect();
    Ok((names, f.version))
}

/// Create a document summary: `{"type": "<document type>"}`.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/document-summary", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body = DocumentSummaryWrite,
    responses((status = 201, body = Object, description = "The summary record, `files: null`"),
              (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(input): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Documents, Op::Create)?;
    let patient = cdts::patient(&state, &ctx, &path.2).await?;
    let (types, version) = document_types(&state, &ctx).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let id = crate::ids::new_id();
    let mut body = document::blank_summary(&id, &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    document::apply_summary(&mut body, &input, true, &types).map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    let scope = scope(&ctx, SUMMARY_CDT, &patient.id);
    let mut tx = state.db.begin().await?;
    cdts::check_external_keys(&mut tx, &scope, &id, &body).await?;
    dt_store::insert(&mut tx, &scope, &id, version, &body, now_ms).await.map_err(cdts::unique_or_internal)?;
    let stored = StoredRecord {
        id: id.clone(),
        patient_id: Some(patient.id.clone()),
        dt_name: SUMMARY_CDT.into(),
        version,
        created_at: now_ms,
        updated_at: now_ms,
        body,
    };
    let record = envelope(&stored);
    ctx.record(&mut tx, summary_write(Operation::Create, "DOCUMENT_CREATED", &id, &patient, &record), now_ms).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// List a patient's document summaries: `{name: "_document_summary", data: {Spring page}}`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/document-summary", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("sourceId" = Option<String>, Query, description = "Only summaries with this `source_id`"),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query),
           ("sort" = Option<String>, Query, description = "created_at, updated_at or type; ,asc|desc")),
    responses((status = 200, body = CdtPage), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<CdtPage>> {
    ctx.require(Family::Documents, Op::Read)?;
    let patient = cdts::patient(&state, &ctx, &path.2).await?;
    let page = PageRequest::parse(&params, |f| match f {
        "created_at" | "createdAt" => Some("created_at"),
        "updated_at" | "updatedAt" => Some("updated_at"),
        "type" => Some("type"),
        _ => None,
    })?;
    let source = params.text("sourceId");
    let mut found = state.db.records(&scope(&ctx, SUMMARY_CDT, &patient.id), None, None).await?;
    if let Some(source) = &source {
        found.retain(|r| r.body.get("source_id").and_then(Value::as_str) == Some(source));
    }
    let sorts: Vec<(String, bool)> = page.sorts.iter().map(|s| (s.column.to_string(), s.descending)).collect();
    cdts::sort_records(&mut found, &sorts);
    let total = found.len() as i64;
    let content = found.iter().skip(page.offset() as usize).take(page.size as usize).map(envelope).collect::<Vec<_>>();
    Ok(Json(CdtPage { name: SUMMARY_CDT.into(), data: SpringPage::new(content, &page, total) }))
}

/// Read a document summary by id (or by `external_id` / `external_guid` with `type=EID|EGUID`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("documentSummaryId" = String, Path),
           ("type" = Option<String>, Query, description = "ID (default), EID or EGUID")),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Documents, Op::Read)?;
    let key = cdts::key_type(&params)?;
    let patient = cdts::patient(&state, &ctx, &path.2).await?;
    let r = state
        .db
        .record(&scope(&ctx, SUMMARY_CDT, &patient.id), key, &path.3)
        .await?
        .ok_or_else(|| summary_not_found(&patient.id, &path.3))?;
    Ok(Json(envelope(&r)))
}

/// Update a document summary: its `type`, external keys, or the `files` to keep (the
/// files left out are deleted).
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("documentSummaryId" = String, Path)),
    request_body = DocumentSummaryWrite,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    JsonObject(input): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Documents, Op::Update)?;
    let id = path.3;
    let patient = cdts::patient(&state, &ctx, &path.2).await?;
    let (types, _) = document_types(&state, &ctx).await?;
    let scope = scope(&ctx, SUMMARY_CDT, &patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut r = dt_store::get_for_update(&mut tx, &scope, RecordKey::Id, &id)
        .await?
        .ok_or_else(|| summary_not_found(&patient.id, &id))?;
    let old_type = r.body.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
    let dropped = document::apply_summary(&mut r.body, &input, false, &types)
        .map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    let new_type = r.body.get("type").and_then(Value::as_str).unwrap_or_default();
    if new_type != old_type {
        let linked = type_record_id(&id, &old_type);
        if dt_store::get_for_update(&mut tx, &self::scope(&ctx, &old_type, &patient.id), RecordKey::Id, &linked)
            .await?
            .is_some()
        {
            return Err(ApiError::conflict(
                "DT_RECORD_ALREADY_EXISTS",
                COMPONENT,
                format!("the summary has a {old_type} record; delete it before changing the type"),
                json!({"documentSummaryId": id, "cdtName": old_type, "cdtRecordId": linked}),
            ));
        }
    }
    stamp(&ctx, &mut r.body, now_ms);
    r.updated_at = now_ms;
    cdts::check_external_keys(&mut tx, &scope, &id, &r.body).await?;
    dt_store::update(&mut tx, &scope, &id, &r.body, now_ms).await.map_err(cdts::unique_or_internal)?;
    let removed = store::delete_files(&mut tx, &ctx.instance.id, &id, &dropped).await?;
    let record = envelope(&r);
    ctx.record(&mut tx, summary_write(Operation::Update, "DOCUMENT_UPDATED", &id, &patient, &record), now_ms).await?;
    tx.commit().await?;
    state.files.delete_all(&removed).await;
    Ok(Json(record))
}

/// Delete a document summary with its files and its document-type record. Answers 200
/// with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("documentSummaryId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Documents, Op::Delete)?;
    let id = path.3;
    let patient = cdts::patient(&state, &ctx, &path.2).await?;
    let scope = scope(&ctx, SUMMARY_CDT, &patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let r = dt_store::get_for_update(&mut tx, &scope, RecordKey::Id, &id)
        .await?
        .ok_or_else(|| summary_not_found(&patient.id, &id))?;
    let doc_type = r.body.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
    let type_scope = self::scope(&ctx, &doc_type, &patient.id);
    let linked_id = type_record_id(&id, &doc_type);
    if let Some(linked) = dt_store::get_for_update(&mut tx, &type_scope, RecordKey::Id, &linked_id).await? {
        dt_store::delete(&mut tx, &type_scope, &linked_id).await?;
        let cdt_id = crate::designer::data_type::stable_id(&format!("DOCUMENT_TYPE:{doc_type}"));
        let record = records::envelope(&linked.id, Some(&patient.id), &cdt_id, linked.version, &linked.body, &doc_type);
        ctx.record(
            &mut tx,
            Write {
                patient: Some(&patient),
                cdt_name: Some(&doc_type),
                ..Write::new("CDT", Operation::Delete, &linked_id, &record)
            },
            now_ms,
        )
        .await?;
    }
    let removed = store::delete_for_summary(&mut tx, &ctx.instance.id, &id).await?;
    dt_store::delete(&mut tx, &scope, &id).await?;
    let record = envelope(&r);
    ctx.record(&mut tx, summary_write(Operation::Delete, "DOCUMENT_DELETED", &id, &patient, &record), now_ms).await?;
    tx.commit().await?;
    state.files.delete_all(&removed).await;
    Ok(StatusCode::OK)
}

/// The multipart form of an upload (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// One part per file, repeatable: JPEG, PNG or PDF (judged by content), at most 10 MiB each.
    #[schema(value_type = Vec<String>, format = Binary)]
    files: Vec<Vec<u8>>,
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large("request body is too large", json!({"limit": UPLOAD_BODY_LIMIT}))
    } else {
        ApiError::bad_request("REQUEST", format!("could not read the multipart body: {}", e.body_text()))
    }
}

fn too_large(message: &str, details: Value) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "REQUEST", message, details)
}

/// The last path component of a client's file name, without control characters, at most
/// 255 characters.
fn clean_name(name: Option<&str>) -> String {
    let name = name.unwrap_or_default();
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).take(255).collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "file".into()
    } else {
        clean.into()
    }
}

/// Upload files to a document summary: `multipart/form-data`, one part named `files` per
/// file. Every file must be a JPEG, PNG or PDF by its content (the declared type and the
/// name's extension are not trusted; the stored type is the detected one), at most 10 MiB.
/// All files are stored or none. Answers the new file objects.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}/files", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("documentSummaryId" = String, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Vec<DocumentFile>), (status = 400, body = Vec<ErrorItem>),
              (status = 404, body = Vec<ErrorItem>), (status = 413, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn upload(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Vec<DocumentFile>>)> {
    ctx.require(Family::Documents, Op::Create)?;
    let id = path.3;
    let patient = cdts::patient(&state, &ctx, &path.2).await?;
    let scope = scope(&ctx, SUMMARY_CDT, &patient.id);
    if state.db.record(&scope, RecordKey::Id, &id).await?.is_none() {
        return Err(summary_not_found(&patient.id, &id));
    }
    let multipart = multipart.map_err(|e| {
        ApiError::bad_request(
            "REQUEST",
            format!("the body must be multipart/form-data with parts named files: {}", e.body_text()),
        )
    })?;
    let mut written = Vec::new();
    let outcome = store_upload(&state, &ctx, &patient, &scope, &id, multipart, &mut written).await;
    if outcome.is_err() {
        state.files.delete_all(&written).await;
    }
    Ok((StatusCode::CREATED, Json(outcome?)))
}

/// Reads and stores the files, then records them; `written` collects the keys stored so
/// far, for the caller to remove if this fails.
async fn store_upload(
    state: &AppState,
    ctx: &InstanceCaller,
    patient: &Patient,
    scope: &Scope<'_>,
    id: &str,
    mut multipart: Multipart,
    written: &mut Vec<String>,
) -> ApiResult<Vec<DocumentFile>> {
    let mut files = Vec::new();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let part = field.name().unwrap_or_default().to_string();
        if part != "files" {
            return Err(ApiError::invalid_field(
                COMPONENT,
                FieldError::new(part, "is not a part of an upload; send each file as a part named files"),
            ));
        }
        // A NUL would be dropped by `clean_name`; refused like every other NUL instead.
        super::body::no_nul("files", field.file_name().unwrap_or_default())?;
        let name = clean_name(field.file_name());
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if bytes.len() + chunk.len() > MAX_FILE_BYTES {
                return Err(too_large(
                    &format!("files: {name:?} is larger than {} MiB", MAX_FILE_BYTES / (1024 * 1024)),
                    json!({"field": "files", "originalName": name, "limit": MAX_FILE_BYTES}),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        let content_type = document::sniff(&bytes).ok_or_else(|| {
            ApiError::invalid_field(
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
        state.files.put(&file.storage_key, bytes).await.map_err(ApiError::from_io)?;
        written.push(file.storage_key.clone());
        files.push(file);
    }
    if files.is_empty() {
        return Err(ApiError::invalid_field(
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

/// A file's bytes (documentation only).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct FileBytes(Vec<u8>);

/// `inline; filename="…"` with an ASCII fallback and the UTF-8 name (RFC 6266).
fn disposition(name: &str) -> HeaderValue {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let utf8 = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    HeaderValue::from_str(&format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{utf8}"))
        .unwrap_or_else(|_| HeaderValue::from_static("inline"))
}

/// Download a file of a summary: its bytes, with the Content-Type found at upload.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}/files/{fileId}", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("documentSummaryId" = String, Path), ("fileId" = String, Path)),
    responses((status = 200, description = "The file's bytes", content(
                  (FileBytes = "image/jpeg"), (FileBytes = "image/png"), (FileBytes = "application/pdf"))),
              (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn download(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult<Response> {
    ctx.require(Family::Documents, Op::Read)?;
    let (summary_id, file_id) = (path.3, path.4);
    let patient = cdts::patient(&state, &ctx, &path.2).await?;
    if state.db.record(&scope(&ctx, SUMMARY_CDT, &patient.id), RecordKey::Id, &summary_id).await?.is_none() {
        return Err(summary_not_found(&patient.id, &summary_id));
    }
    let file =
        state.db.document_file(&ctx.instance.id, &patient.id, &summary_id, &file_id).await?.ok_or_else(|| {
            ApiError::not_found(
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
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("stored file {} is missing", file.storage_key)))?;
    let content_type = HeaderValue::from_str(&file.content_type).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, disposition(&file.original_name))], bytes)
        .into_response())
}

/// The summary a document-type record hangs off, and the record's scope key.
struct TypeRecordCtx {
    patient: Patient,
    dt: DataType,
    version: i64,
    record_id: String,
}

async fn type_ctx(
    state: &AppState,
    ctx: &InstanceCaller,
    path: &(String, String, String, String, String),
) -> ApiResult<TypeRecordCtx> {
    let patient = cdts::patient(state, ctx, &path.2).await?;
    let (dt, version) = cdts::data_type(state, ctx, Kind::DocumentTypes, &path.4).await?;
    Ok(TypeRecordCtx { record_id: type_record_id(&path.3, &dt.name), patient, dt, version })
}

fn type_record_not_found(t: &TypeRecordCtx, summary_id: &str) -> ApiError {
    cdts::record_not_found(json!({"patientId": t.patient.id, "documentSummaryId": summary_id, "cdtName": t.dt.name}))
        .into()
}

/// Loads the summary inside a write and checks that its type is the record's.
async fn summary_of_type(
    tx: &mut crate::store::Tx,
    ctx: &InstanceCaller,
    t: &TypeRecordCtx,
    summary_id: &str,
) -> ApiResult<StoredRecord> {
    let s = dt_store::get_for_update(tx, &scope(ctx, SUMMARY_CDT, &t.patient.id), RecordKey::Id, summary_id)
        .await?
        .ok_or_else(|| summary_not_found(&t.patient.id, summary_id))?;
    let doc_type = s.body.get("type").and_then(Value::as_str).unwrap_or_default();
    if doc_type != t.dt.name {
        return Err(ApiError::invalid_field(
            COMPONENT,
            FieldError::new("documentTypeName", format!("the summary's type is {doc_type:?}, not {:?}", t.dt.name)),
        ));
    }
    Ok(s)
}

/// Read a summary's document-type record.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}/{documentTypeName}", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("documentSummaryId" = String, Path), ("documentTypeName" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_type_record(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Documents, Op::Read)?;
    let t = type_ctx(&state, &ctx, &path).await?;
    if state.db.record(&scope(&ctx, SUMMARY_CDT, &t.patient.id), RecordKey::Id, &path.3).await?.is_none() {
        return Err(summary_not_found(&t.patient.id, &path.3));
    }
    let r = state
        .db
        .record(&scope(&ctx, &t.dt.name, &t.patient.id), RecordKey::Id, &t.record_id)
        .await?
        .ok_or_else(|| type_record_not_found(&t, &path.3))?;
    Ok(Json(type_envelope(&t.dt, &r)))
}

/// Create a summary's document-type record (one per summary, of the summary's type):
/// field values by name.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}/{documentTypeName}", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("documentSummaryId" = String, Path), ("documentTypeName" = String, Path)),
    request_body(content = Object, description = "Field values by field name, e.g. {\"notes\": \"…\"}"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_type_record(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
    JsonObject(input): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Documents, Op::Create)?;
    let summary_id = path.3.clone();
    let t = type_ctx(&state, &ctx, &path).await?;
    let dictionaries = cdts::dictionary_values(&state, &ctx, &t.dt).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut body =
        records::blank_body(&t.dt, &t.record_id, &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    records::apply(&t.dt, &mut body, &input, true, &[("cdtName", &t.dt.name)], &dictionaries)
        .map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    for (key, value) in [("source_type", SOURCE), ("source_name", SOURCE), ("source_id", summary_id.as_str())] {
        body.insert(key.into(), json!(value));
    }
    let scope = scope(&ctx, &t.dt.name, &t.patient.id);
    let mut tx = state.db.begin().await?;
    summary_of_type(&mut tx, &ctx, &t, &summary_id).await?;
    if dt_store::get_for_update(&mut tx, &scope, RecordKey::Id, &t.record_id).await?.is_some() {
        return Err(ApiError::conflict(
            "DT_RECORD_ALREADY_EXISTS",
            COMPONENT,
            format!("the summary already has its {} record", t.dt.name),
            json!({"documentSummaryId": summary_id, "cdtName": t.dt.name, "cdtRecordId": t.record_id}),
        ));
    }
    cdts::check_external_keys(&mut tx, &scope, &t.record_id, &body).await?;
    dt_store::insert(&mut tx, &scope, &t.record_id, t.version, &body, now_ms)
        .await
        .map_err(cdts::unique_or_internal)?;
    let stored = StoredRecord {
        id: t.record_id.clone(),
        patient_id: Some(t.patient.id.clone()),
        dt_name: t.dt.name.clone(),
        version: t.version,
        created_at: now_ms,
        updated_at: now_ms,
        body,
    };
    let record = type_envelope(&t.dt, &stored);
    ctx.record(
        &mut tx,
        Write {
            patient: Some(&t.patient),
            cdt_name: Some(&t.dt.name),
            ..Write::new("CDT", Operation::Create, &t.record_id, &record)
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Update some fields of a summary's document-type record.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}/{documentTypeName}", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("documentSummaryId" = String, Path), ("documentTypeName" = String, Path)),
    request_body(content = Object, description = "Field values by field name"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_type_record(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
    JsonObject(input): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Documents, Op::Update)?;
    let summary_id = path.3.clone();
    let t = type_ctx(&state, &ctx, &path).await?;
    let dictionaries = cdts::dictionary_values(&state, &ctx, &t.dt).await?;
    let scope = scope(&ctx, &t.dt.name, &t.patient.id);
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    summary_of_type(&mut tx, &ctx, &t, &summary_id).await?;
    let mut r = dt_store::get_for_update(&mut tx, &scope, RecordKey::Id, &t.record_id)
        .await?
        .ok_or_else(|| type_record_not_found(&t, &summary_id))?;
    records::update_body(
        &t.dt,
        &mut r.body,
        &input,
        &[("cdtName", &t.dt.name)],
        &dictionaries,
        &crate::time::format_ms(now_ms),
        &actor.id,
        &actor.full_name(),
    )
    .map_err(|e| ApiError::invalid_field(COMPONENT, e))?;
    r.updated_at = now_ms;
    cdts::check_external_keys(&mut tx, &scope, &t.record_id, &r.body).await?;
    dt_store::update(&mut tx, &scope, &t.record_id, &r.body, now_ms).await.map_err(cdts::unique_or_internal)?;
    let record = type_envelope(&t.dt, &r);
    ctx.record(
        &mut tx,
        Write {
            patient: Some(&t.patient),
            cdt_name: Some(&t.dt.name),
            ..Write::new("CDT", Operation::Update, &t.record_id, &record)
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(record))
}

/// Delete a summary's document-type record. Answers 200 with an empty body.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}/{documentTypeName}", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("documentSummaryId" = String, Path), ("documentTypeName" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete_type_record(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Documents, Op::Delete)?;
    let summary_id = path.3.clone();
    let t = type_ctx(&state, &ctx, &path).await?;
    let scope = scope(&ctx, &t.dt.name, &t.patient.id);
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    if dt_store::get_for_update(&mut tx, &self::scope(&ctx, SUMMARY_CDT, &t.patient.id), RecordKey::Id, &summary_id)
        .await?
        .is_none()
    {
        return Err(summary_not_found(&t.patient.id, &summary_id));
    }
    let r = dt_store::get_for_update(&mut tx, &scope, RecordKey::Id, &t.record_id)
        .await?
        .ok_or_else(|| type_record_not_found(&t, &summary_id))?;
    dt_store::delete(&mut tx, &scope, &t.record_id).await?;
    let record = type_envelope(&t.dt, &r);
    ctx.record(
        &mut tx,
        Write {
            patient: Some(&t.patient),
            cdt_name: Some(&t.dt.name),
            ..Write::new("CDT", Operation::Delete, &t.record_id, &record)
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_file_names_are_cleaned() {
        assert_eq!(clean_name(Some("C:\\Users\\me\\HandOut.pdf")), "HandOut.pdf");
        assert_eq!(clean_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_name(Some("a\u{0}b\n.png")), "ab.png");
        assert_eq!(clean_name(None), "file");
        assert_eq!(clean_name(Some("  ")), "file");
    }

    #[test]
    fn the_disposition_header_survives_any_name() {
        let h = disposition("résumé \"final\".pdf");
        let s = h.to_str().unwrap();
        assert!(s.starts_with("inline; filename=\"r_sum_ _final_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9"), "{s}");
    }
}
