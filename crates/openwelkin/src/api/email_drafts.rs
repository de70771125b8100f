//! Email drafts of a patient: `/{tenant}/{instance}/patients/{patientId}/email-drafts…`.
//! The reads are the DOCS paths; the writes (create, edit, send, delete) follow the same
//! conventions: create 201, edit with PATCH (or PUT) 200, `POST …/{draftId}/send` turns
//! the draft into an email (201, the email) and removes it, DELETE 200 with an empty body.
//! Drafts take JSON or multipart with `attachmentsAsFiles` file parts, like sends. The
//! use cases are `services::emails::drafts`.

use super::caller::InstanceCaller;
use super::emails::EmailInput;
use super::error::{ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::services::emails::drafts as service;
use crate::services::patients;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

/// Create a draft (201).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/email-drafts", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content((crate::api::schemas::messaging::EmailDraftWrite = "application/json"), (Object = "multipart/form-data")),
        description = "subject, body, secure, scheduledAt, sender (a user id); multipart: attachmentsAsFiles file parts"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    input: EmailInput,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Email, Op::Create)?;
    let draft = service::create(&state, &ctx, &path.2, &input.fields, input.uploads).await?;
    Ok((StatusCode::CREATED, Json(draft)))
}

/// A patient's unsent drafts (`{data, metaInfo}`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/email-drafts", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
        ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Email, Op::Read)?;
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    let page = PageRequest::parse(&params, |_| None)?;
    let (drafts, total) = service::list(&state, &ctx, &p, page.offset(), page.size).await?;
    Ok(Json(MetaInfoPage::new(drafts, &page, total)))
}

/// One draft.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/email-drafts/{draftId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("draftId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Email, Op::Read)?;
    Ok(Json(service::read(&state, &ctx, &path.2, &path.3).await?))
}

/// Edit a draft: the keys given change; file parts are added to its attachments.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/email-drafts/{draftId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("draftId" = String, Path)),
    request_body(content((crate::api::schemas::messaging::EmailDraftWrite = "application/json"), (Object = "multipart/form-data"))),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    input: EmailInput,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Email, Op::Update)?;
    Ok(Json(service::update(&state, &ctx, &path.2, &path.3, &input.fields, input.uploads).await?))
}

/// The same edit with PUT.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/email-drafts/{draftId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("draftId" = String, Path)),
    request_body(content((crate::api::schemas::messaging::EmailDraftWrite = "application/json"), (Object = "multipart/form-data"))),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn replace(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String, String)>,
    input: EmailInput,
) -> ApiResult<Json<Value>> {
    update(state, ctx, path, input).await
}

/// Delete a draft and its files (200, empty body).
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/email-drafts/{draftId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("draftId" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Email, Op::Delete)?;
    service::delete(&state, &ctx, &path.2, &path.3).await?;
    Ok(StatusCode::OK)
}

/// Send a draft: it becomes an email (sent now, or scheduled when its `scheduledAt` is
/// later), with its files, and the draft is gone. The sender is the draft's, else the
/// patient's point of contact.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/email-drafts/{draftId}/send", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("draftId" = String, Path)),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn send(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Email, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::send(&state, &ctx, &path.2, &path.3).await?)))
}
