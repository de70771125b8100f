//! Chat: `/{tenant}/{instance}/patients/{patientId}/chat…` (and the V8 spelling
//! `/patient/{patientId}/chat…`). Patients write to the care team through `chat/inbound`
//! (answers 200, as recorded); the care team writes through the DOCS
//! `chat/messages`. The conversation and its search are token paged, newest first:
//! `{meta:{nextPageToken, prevPageToken, pageSize, found}, content}`, with
//! `nextPageToken` null on the last page. Archive and restore are refused to API
//! clients, as Welkin documents. A care-team message is announced to the instance's
//! chat webhook after the commit, in the background. The use cases are `services::chat` and
//! `services::chat_webhook`; here are the routes, the token and page parameters, and the request's base URL.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::chat::{PageToken, LOCAL_FIND, LOCAL_SEARCH};
use crate::services::chat::{self as service, ChatMeta, Paging};
use crate::services::{chat_webhook, patients};
use crate::store::chat::Border;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

const DEFAULT_PAGE_SIZE: i64 = 20;
const MAX_PAGE_SIZE: i64 = 1000;
/// The DOCS message list's default page size.
const DOCS_PAGE_SIZE: i64 = 50;

/// `{meta, content}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatPage {
    pub meta: ChatMeta,
    #[schema(value_type = Vec<Object>)]
    pub content: Vec<Value>,
}

fn page_size(params: &Params, name: &str) -> ApiResult<i64> {
    let size = params.int(name)?.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::invalid_param(name, format!("must be between 1 and {MAX_PAGE_SIZE}")));
    }
    Ok(size)
}

fn token_paging(params: &Params, kind: &str) -> ApiResult<Paging> {
    if let Some(text) = params.text("pageToken") {
        let t = PageToken::decode(&text)
            .filter(|t| t.kind == kind && t.page_size <= MAX_PAGE_SIZE)
            .filter(|t| kind != LOCAL_SEARCH || t.query.as_deref().is_some_and(|q| !q.trim().is_empty()))
            .ok_or_else(|| ApiError::invalid_param("pageToken", "is not a page token of this list"))?;
        return Ok(Paging {
            size: t.page_size,
            border: Some(Border { at_ms: t.border_ms(), id: t.border_id.clone(), before: t.before }),
            include_archived: t.include_archived,
            query: t.query.clone(),
            content_page_size: t.content_page_size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE),
        });
    }
    let query = if kind == LOCAL_SEARCH {
        Some(params.text("query").ok_or_else(|| ApiError::invalid_param("query", "is required"))?)
    } else {
        None
    };
    Ok(Paging {
        size: page_size(params, "pageSize")?,
        border: None,
        include_archived: params.bool("includeArchived")?.unwrap_or(false),
        query,
        content_page_size: if kind == LOCAL_SEARCH { page_size(params, "contentPageSize")? } else { DEFAULT_PAGE_SIZE },
    })
}

/// A patient writes to the care team (answers 200, as recorded).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/chat/inbound", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body = crate::api::schemas::messaging::ChatMessageBody,
    responses((status = 200, body = Object, description = "{sender{clientType, id, titleName, patientFullName}, message, externalId, createdAt}"),
              (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn inbound(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Chat, Op::Create)?;
    Ok(Json(service::inbound(&state, &ctx, &path.2, &body).await?))
}

/// The V8 spelling of `chat/inbound`.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patient/{patientId}/chat/inbound", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body = crate::api::schemas::messaging::ChatMessageBody,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn inbound_v8(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String)>,
    body: JsonObject,
) -> ApiResult<Json<Value>> {
    inbound(state, ctx, path, body).await
}

/// The conversation, newest first, token paged.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/chat", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("pageSize" = Option<i64>, Query, description = "default 20"),
           ("pageToken" = Option<String>, Query, description = "a nextPageToken or prevPageToken; carries every other option"),
           ("includeArchived" = Option<bool>, Query)),
    responses((status = 200, body = ChatPage), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<ChatPage>> {
    ctx.require(Family::Chat, Op::Read)?;
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    let paging = token_paging(&params, LOCAL_FIND)?;
    let (meta, content) = service::conversation(&state, &ctx, &p, &paging).await?;
    Ok(Json(ChatPage { meta, content }))
}

/// The V8 spelling of the conversation.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patient/{patientId}/chat", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("pageSize" = Option<i64>, Query), ("pageToken" = Option<String>, Query), ("includeArchived" = Option<bool>, Query)),
    responses((status = 200, body = ChatPage), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_v8(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<ChatPage>> {
    list(state, ctx, path, params).await
}

/// Messages containing `query`, newest first; each hit carries the tokens that page
/// the conversation around it (`pageSize` = `contentPageSize`).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/chat/search", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("query" = Option<String>, Query, description = "required unless pageToken"),
           ("pageSize" = Option<i64>, Query), ("contentPageSize" = Option<i64>, Query),
           ("pageToken" = Option<String>, Query), ("includeArchived" = Option<bool>, Query)),
    responses((status = 200, body = ChatPage), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn search(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<ChatPage>> {
    ctx.require(Family::Chat, Op::Read)?;
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    let paging = token_paging(&params, LOCAL_SEARCH)?;
    let (meta, content) = service::search(&state, &ctx, &p, paging).await?;
    Ok(Json(ChatPage { meta, content }))
}

/// The V8 spelling of the search.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patient/{patientId}/chat/search", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("query" = Option<String>, Query), ("pageSize" = Option<i64>, Query), ("contentPageSize" = Option<i64>, Query),
           ("pageToken" = Option<String>, Query), ("includeArchived" = Option<bool>, Query)),
    responses((status = 200, body = ChatPage), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn search_v8(
    state: State<AppState>,
    ctx: InstanceCaller,
    path: Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<ChatPage>> {
    search(state, ctx, path, params).await
}

/// Archive messages before `archiveDate`: restricted for API clients, as Welkin documents.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/chat/archive", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("archiveDate" = Option<String>, Query)),
    responses((status = 403, body = Vec<ErrorItem>, description = "ACCESS_FOR_API_CLIENT_RESTRICTED, always")),
    security(("bearer" = []))
)]
pub async fn archive(ctx: InstanceCaller) -> ApiResult<StatusCode> {
    Err(ctx.restricted().into())
}

/// Restore archived messages: restricted for API clients, as Welkin documents.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/chat/restore", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    responses((status = 403, body = Vec<ErrorItem>, description = "ACCESS_FOR_API_CLIENT_RESTRICTED, always")),
    security(("bearer" = []))
)]
pub async fn restore(ctx: InstanceCaller) -> ApiResult<StatusCode> {
    Err(ctx.restricted().into())
}

/// The V8 spelling of archive.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patient/{patientId}/chat/archive", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("archiveDate" = Option<String>, Query)),
    responses((status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn archive_v8(ctx: InstanceCaller) -> ApiResult<StatusCode> {
    Err(ctx.restricted().into())
}

/// The V8 spelling of restore.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patient/{patientId}/chat/restore", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    responses((status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn restore_v8(ctx: InstanceCaller) -> ApiResult<StatusCode> {
    Err(ctx.restricted().into())
}

/// The care team writes to the patient (DOCS). `senderId` names the user it is from;
/// without it the message is from the API client. Answers 201 in the DOCS shape.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/chat/messages", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body = crate::api::schemas::messaging::ChatSend,
    responses((status = 201, body = Object, description = "{id, patientId, sender, senderId, senderName, body, attachmentId, externalId, sentAt, readAt}"),
              (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn send(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Chat, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::send(&state, &ctx, &path.2, &body, &request_base(&headers)).await?)))
}

/// The conversation oldest first, page by page (DOCS): `{data, metaInfo}`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/chat/messages", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query, description = "default 50"),
           ("since" = Option<String>, Query, description = "only messages sent after this time (ISO-8601)")),
    responses((status = 200, body = Object, description = "{data:[message], metaInfo}"),
              (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn messages(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Chat, Op::Read)?;
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    let mut req = PageRequest::parse(&params, |_| None)?;
    if params.get("size").is_none() {
        req.size = DOCS_PAGE_SIZE;
    }
    let since = match params.text("since") {
        Some(s) => Some(
            crate::time::parse_datetime(&s)
                .ok_or_else(|| ApiError::invalid_param("since", "must be an ISO-8601 time"))?
                .timestamp_millis(),
        ),
        None => None,
    };
    let (data, total) = service::messages(&state, &ctx, &p, since, req.offset(), req.size).await?;
    Ok(Json(MetaInfoPage::new(data, &req, total)))
}

/// Searches messages (DOCS): of one patient with `patientId`, else of the whole
/// instance, newest first, page by page: `{data, metaInfo}`.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/chat/search", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body = crate::api::schemas::messaging::ChatSearch,
    responses((status = 200, body = Object, description = "{data:[message], metaInfo}"),
              (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn search_docs(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Chat, Op::Read)?;
    let found = service::search_docs(&state, &ctx, &body, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE).await?;
    let req = PageRequest { page: found.page, size: found.size, sorts: vec![] };
    Ok(Json(MetaInfoPage::new(found.data, &req, found.total)))
}

// ---------------------------------------------------------------------------------------
// The chat webhook
// ---------------------------------------------------------------------------------------

/// `scheme://host` the request came to, for `patientUrl`.
pub(crate) fn request_base(headers: &HeaderMap) -> String {
    let header = |name: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()).map(|s| s.split(',').next().unwrap_or(s).trim().to_string())
    };
    let host = header("x-forwarded-host").or_else(|| header("host")).unwrap_or_else(|| "localhost".into());
    let scheme = header("x-forwarded-proto").filter(|p| p == "https" || p == "http").unwrap_or_else(|| "http".into());
    format!("{scheme}://{host}")
}

/// The instance's chat webhook, without its secret (an openwelkin extension).
#[utoipa::path(
    get, path = "/{tenant}/{instance}/integrations/chat-webhook", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = Object, description = "{url, apiKey, apiSecretSet, active, publicBaseUrl, updatedAt, updatedBy, updatedByName}"),
              (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn read_webhook(State(state): State<AppState>, ctx: InstanceCaller) -> ApiResult<Json<Value>> {
    ctx.require(Family::Chat, Op::Read)?;
    Ok(Json(chat_webhook::read_webhook(&state, &ctx).await?))
}

/// Sets the instance's chat webhook (an openwelkin extension; Welkin configures it in
/// Admin → Integrations → Communications). Every care-team chat message is then POSTed
/// there as `{patientId, patientUrl, tenantName, instanceName, message}` with the
/// headers `X-WEBHOOK-API-KEY` and `X-WEBHOOK-API-SECRET`.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/integrations/chat-webhook", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body = crate::api::schemas::messaging::ChatWebhookWrite,
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn put_webhook(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Chat, Op::Update)?;
    Ok(Json(chat_webhook::put_webhook(&state, &ctx, &body).await?))
}

/// Removes the instance's chat webhook (an openwelkin extension).
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/integrations/chat-webhook", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    responses((status = 200, description = "empty"), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn delete_webhook(State(state): State<AppState>, ctx: InstanceCaller) -> ApiResult<StatusCode> {
    ctx.require(Family::Chat, Op::Delete)?;
    chat_webhook::delete_webhook(&state, &ctx).await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let mut h = HeaderMap::new();
        h.insert("host", "example.org:8080".parse().unwrap());
        assert_eq!(request_base(&h), "http://example.org:8080");
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(request_base(&h), "https://example.org:8080");
    }
}
