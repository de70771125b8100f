//! Inbound and unmatched emails, and the local outbox:
//!
//! * `POST /{tenant}/{instance}/providers/email/inbound` (extension): a received email,
//!   as JSON or form (Mailgun's `sender`/`recipient`/`body-plain` names too). From a
//!   patient's address it becomes that patient's email (direction IN, DELIVERED);
//!   otherwise an unmatched one (UNRECOGNISED, no patient). A bearer token or Mailgun's
//!   signature (`api::provider_caller`).
//! * V8 `/{tenant}/{instance}/unrecognized-patients/emails[/{emailId}]`: GET (Spring
//!   page), PUT (`{"sender": patientId}` assigns it), DELETE.
//! * DOCS `/{tenant}/{instance}/unrecognized-emails[/{emailId}]`: GET (flat page, status
//!   PENDING or RESOLVED), PATCH `{patientId, status: "RESOLVED"}`, GET `…/attachment`.
//! * `GET /{tenant}/{instance}/outbox/email` (extension): what the local outbox provider
//!   delivered.
//!
//! The use cases are `services::emails::inbound`.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::emails::{download, filter_of, time_param, EmailInput};
use super::error::{ApiResult, ErrorItem};
use super::paging::{PageRequest, SpringPage};
use super::params::Params;
use super::provider_caller::ProviderCaller;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::services::emails::{self as emails, inbound as service};
use crate::store::emails::{self as store, Scope};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A received email: `from` (required), `to`, `subject`, `body`; Mailgun's `sender`,
/// `recipient`, `body-plain` are read too, other keys are ignored (provider payloads
/// carry many). File parts of any name become attachments. Without a bearer token, the
/// form must carry Mailgun's `timestamp`, `token` and `signature` (see docs/PROVIDERS.md);
/// a bad, missing or stale one is 403 and nothing is stored.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/providers/email/inbound", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content(
        (crate::api::schemas::providers::InboundEmail = "application/json"), (crate::api::schemas::providers::InboundEmail = "application/x-www-form-urlencoded"), (Object = "multipart/form-data"),
    ), description = "from (required), to, subject, body; timestamp, token, signature (Mailgun's) when there is no bearer token"),
    responses((status = 201, body = Object, description = "The stored email: the patient's, or UNRECOGNISED"),
        (status = 400, body = Vec<ErrorItem>), (status = 401, body = Vec<ErrorItem>),
        (status = 403, body = Vec<ErrorItem>, description = "INVALID_PROVIDER_SIGNATURE, or outside the client's policy")),
    security(("bearer" = []), ()),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn receive(
    State(state): State<AppState>,
    caller: ProviderCaller,
    Path(_path): Path<(String, String)>,
    input: EmailInput,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let ctx = caller.mailgun(&state, &input.fields).await?;
    ctx.require(Family::Email, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::receive(&state, &ctx, &input.fields, input.uploads).await?)))
}

/// Inbound emails matched to no patient (Spring page; the V8 email filters apply).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-patients/emails", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path),
        ("search" = Option<String>, Query), ("from" = Option<String>, Query), ("to" = Option<String>, Query),
        ("email" = Option<String>, Query), ("starred" = Option<bool>, Query), ("status" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Email, Op::Read)?;
    let page = PageRequest::parse(&params, store::sort_column)?;
    let filter = filter_of(&params)?;
    let (records, total) =
        emails::list(&state, &ctx, Scope::Unrecognised, &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(SpringPage::new(records, &page, total)))
}

/// One unmatched inbound email.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-patients/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Email, Op::Read)?;
    Ok(Json(service::read_unrecognized(&state, &ctx, &path.2).await?))
}

/// Assign an unmatched email to a patient (`{"sender": patientId}`) or star it; once
/// assigned it is one of that patient's emails.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/unrecognized-patients/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path)),
    request_body = crate::api::schemas::common::InboundAssign,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn update_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Email, Op::Update)?;
    Ok(Json(service::update_unrecognized(&state, &ctx, &path.2, &body).await?))
}

/// The same assignment with POST, as the V8 reference's example sends it.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/unrecognized-patients/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path)),
    request_body = crate::api::schemas::common::InboundAssign,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn post_unrecognized(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    update_unrecognized(state, ctx, path, body).await
}

/// Delete an unmatched email (200, empty body).
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/unrecognized-patients/emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn delete_unrecognized(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Email, Op::Delete)?;
    service::delete_unrecognized(&state, &ctx, &path.2).await?;
    Ok(StatusCode::OK)
}

/// The DOCS page of unmatched emails: `{content, totalElements, totalPages, page, size}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnrecognizedEmailPage {
    #[schema(value_type = Vec<Object>)]
    pub content: Vec<Value>,
    pub total_elements: i64,
    pub total_pages: i64,
    pub page: i64,
    pub size: i64,
}

/// Emails that arrived from unknown senders, pending or resolved (DOCS).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-emails", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path),
        ("status" = Option<String>, Query, description = "PENDING or RESOLVED"),
        ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = UnrecognizedEmailPage), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<UnrecognizedEmailPage>> {
    ctx.require(Family::Email, Op::Read)?;
    let page = PageRequest::parse(&params, store::sort_column)?;
    let resolved = params.resolution()?;
    let filter = store::EmailFilter {
        resolved,
        date_from: time_param(&params, "startDate")?,
        date_to: time_param(&params, "endDate")?,
        ..Default::default()
    };
    let (content, total) = service::docs_list(&state, &ctx, &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(UnrecognizedEmailPage {
        content,
        total_elements: total,
        total_pages: (total + page.size - 1) / page.size,
        page: page.page,
        size: page.size,
    }))
}

/// One email that arrived unmatched, with its body (DOCS).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Email, Op::Read)?;
    Ok(Json(service::docs_read(&state, &ctx, &path.2).await?))
}

/// Resolve an unmatched email: `{patientId, status: "RESOLVED"}` links it to the patient
/// (DOCS); it then shows in that patient's emails.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/unrecognized-emails/{emailId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path)),
    request_body = crate::api::schemas::common::Resolution,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_resolve(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Email, Op::Update)?;
    Ok(Json(service::docs_resolve(&state, &ctx, &path.2, &body).await?))
}

/// Download the attachment of an unmatched email (binary, its stored Content-Type).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/unrecognized-emails/{emailId}/attachment", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("emailId" = String, Path),
        ("attachmentId" = Option<String>, Query, description = "Which file (default: the first)")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn docs_attachment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Response> {
    ctx.require(Family::Email, Op::Read)?;
    let wanted = params.text("attachmentId");
    Ok(download(service::docs_attachment(&state, &ctx, &path.2, wanted.as_deref()).await?))
}

/// What the local outbox provider delivered in this instance, oldest first (Spring
/// page): `{id, emailId, messageId, from, fromName, to, toName, subject, body, secure,
/// attachments, sentAt, raw}`, `raw` being the RFC 5322 message.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/outbox/email", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("to" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = SpringPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn outbox(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<SpringPage<Value>>> {
    ctx.require(Family::Email, Op::Read)?;
    let page = PageRequest::parse(&params, |_| None)?;
    let (entries, total) =
        service::outbox(&state, &ctx, params.text("to").as_deref(), page.offset(), page.size).await?;
    Ok(Json(SpringPage::new(entries, &page, total)))
}
