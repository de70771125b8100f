//! Documents: `/{tenant}/{instance}/patients/{patientId}/document-summary[...]`:
//! summaries, the files uploaded to them and their document-type records. The use cases
//! are `services::documents` (`summaries`, `files`, `type_records`); here are the routes,
//! their parameters and answers, and the reading of an upload's multipart body.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::cdts::{key_type, patient, CdtPage};
use super::error::{ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::document::{self, DocumentFile, DocumentSummaryWrite, MAX_FILE_BYTES, SUMMARY_CDT};
use crate::domain::FieldError;
use crate::services::documents::files::{self, IncomingFile, IncomingFiles};
use crate::services::documents::{summaries, type_records};
use crate::services::error::{Kind, ServiceError, ServiceResult};
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

/// Largest accepted upload request (several files of up to `MAX_FILE_BYTES` each).
pub const UPLOAD_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The upload route, with its own body limit instead of the server-wide one.
pub fn upload_routes() -> UtoipaMethodRouter<AppState> {
    let (schemas, paths, router) = routes!(upload);
    (schemas, paths, router.layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)))
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
    Ok((StatusCode::CREATED, Json(summaries::create(&state, &ctx, &path.2, &input).await?)))
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
    // The patient is looked up before the parameters are read: an unknown patient is a
    // 404 whatever the parameters.
    let patient = patient(&state, &ctx, &path.2).await?;
    let page = PageRequest::parse(&params, |f| match f {
        "created_at" | "createdAt" => Some("created_at"),
        "updated_at" | "updatedAt" => Some("updated_at"),
        "type" => Some("type"),
        _ => None,
    })?;
    let source = params.text("sourceId");
    let sorts: Vec<(String, bool)> = page.sorts.iter().map(|s| (s.column.to_string(), s.descending)).collect();
    let (content, total) =
        summaries::list(&state, &ctx, &patient, source.as_deref(), &sorts, page.offset(), page.size).await?;
    Ok(Json(CdtPage { name: SUMMARY_CDT.into(), data: SpringPage::new(content, &page, total) }))
}

/// Read a document summary by id (or by `external_id` / `external_guid` with `type=EID|EGUID`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("documentSummaryId" = String, Path),
           ("type" = Option<String>, Query, description = "ID (default), EID or EGUID")),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Documents, Op::Read)?;
    let kind = key_type(&params)?;
    Ok(Json(summaries::read(&state, &ctx, &path.2, kind, &path.3).await?))
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
    Ok(Json(summaries::update(&state, &ctx, &path.2, &path.3, &input).await?))
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
    summaries::delete(&state, &ctx, &path.2, &path.3).await?;
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

fn multipart_error(e: MultipartError) -> ServiceError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large("request body is too large", json!({"limit": UPLOAD_BODY_LIMIT}))
    } else {
        ServiceError::bad_request("REQUEST", format!("could not read the multipart body: {}", e.body_text()))
    }
}

fn too_large(message: &str, details: Value) -> ServiceError {
    ServiceError::new(Kind::PayloadTooLarge, "PAYLOAD_TOO_LARGE", "REQUEST", message, details)
}

/// The files of an upload's multipart body, read one part at a time as the upload stores
/// them. A body that is not multipart is refused when the first file is asked for, after
/// the summary was found.
struct UploadParts(Result<Multipart, MultipartRejection>);

impl IncomingFiles for UploadParts {
    async fn next_file(&mut self) -> ServiceResult<Option<IncomingFile>> {
        let multipart = self.0.as_mut().map_err(|e| {
            ServiceError::bad_request(
                "REQUEST",
                format!("the body must be multipart/form-data with parts named files: {}", e.body_text()),
            )
        })?;
        let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? else { return Ok(None) };
        let part = field.name().unwrap_or_default().to_string();
        if part != "files" {
            return Err(ServiceError::invalid_field(
                "CDT",
                FieldError::new(part, "is not a part of an upload; send each file as a part named files"),
            ));
        }
        // A NUL would be dropped by `clean_name`; refused like every other NUL instead.
        if field.file_name().unwrap_or_default().contains('\0') {
            return Err(super::body::nul_error("files"));
        }
        let name = document::clean_name(field.file_name());
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
        Ok(Some(IncomingFile { name, bytes }))
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
    let stored = files::upload(&state, &ctx, &path.2, &path.3, UploadParts(multipart)).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// A file's bytes (documentation only).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct FileBytes(Vec<u8>);

/// Download a file of a summary: its bytes, with the Content-Type found at upload; shown
/// inline when the type is safe to show (PNG, JPEG, GIF, PDF, plain text with a
/// charset), else as an attachment.
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
    let file = files::download(&state, &ctx, &path.2, &path.3, &path.4).await?;
    // Shown in the browser when its type is safe to show (images, PDF), else saved.
    Ok(super::headers::file_download(&file.content_type, &file.original_name, file.bytes, true))
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
    Ok(Json(type_records::read(&state, &ctx, &path.2, &path.3, &path.4).await?))
}

/// Create a summary's document-type record (one per summary, of the summary's type):
/// field values by name.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}/{documentTypeName}", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("documentSummaryId" = String, Path), ("documentTypeName" = String, Path)),
    request_body = crate::api::schemas::common::FieldValues,
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
    Ok((StatusCode::CREATED, Json(type_records::create(&state, &ctx, &path.2, &path.3, &path.4, &input).await?)))
}

/// Update some fields of a summary's document-type record.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/document-summary/{documentSummaryId}/{documentTypeName}", tag = "Documents",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("documentSummaryId" = String, Path), ("documentTypeName" = String, Path)),
    request_body = crate::api::schemas::common::FieldValues,
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
    Ok(Json(type_records::update(&state, &ctx, &path.2, &path.3, &path.4, &input).await?))
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
    type_records::delete(&state, &ctx, &path.2, &path.3, &path.4).await?;
    Ok(StatusCode::OK)
}
