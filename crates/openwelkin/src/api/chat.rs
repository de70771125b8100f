//! Chat: `/{tenant}/{instance}/patients/{patientId}/chat…` (and the V8 spelling
//! `/patient/{patientId}/chat…`). Patients write to the care team through `chat/inbound`
//! (answers 200, as recorded); the care team writes through the DOCS
//! `chat/messages`. The conversation and its search are token paged, newest first:
//! `{meta:{nextPageToken, prevPageToken, pageSize, found}, content}`, with
//! `nextPageToken` null on the last page. Archive and restore are refused to API
//! clients, as Welkin documents. A care-team message is announced to the instance's
//! chat webhook after the commit, in the background.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::patient;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::chat::{self, Message, PageToken, LOCAL_FIND, LOCAL_SEARCH};
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::chat as service;
use crate::store::chat::{self as store, Border, ChatScope, ChatWebhook};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

const COMPONENT: &str = "CHAT";
const DEFAULT_PAGE_SIZE: i64 = 20;
const MAX_PAGE_SIZE: i64 = 1000;
/// The DOCS message list's default page size.
const DOCS_PAGE_SIZE: i64 = 50;

fn invalid(e: FieldError) -> ApiError {
    ApiError::invalid_field(COMPONENT, e)
}

/// The paging keys of a token page; every key is always present.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatMeta {
    pub next_page_token: Option<String>,
    pub prev_page_token: Option<String>,
    pub page_size: i64,
    pub found: bool,
}

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

/// What one token-paged request asks for: from a `pageToken` (which carries every
/// option, since clients send it alone) or from the first request's parameters.
struct Paging {
    size: i64,
    border: Option<Border>,
    include_archived: bool,
    query: Option<String>,
    content_page_size: i64,
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

fn token(kind: &str, size: i64, m: &Message, before: bool, p: &Paging) -> String {
    PageToken {
        kind: kind.into(),
        page_size: size,
        border_date: crate::time::format_ms(m.created_at_ms),
        query: if kind == LOCAL_SEARCH { p.query.clone() } else { None },
        before,
        border_id: Some(m.id.clone()),
        content_page_size: (kind == LOCAL_SEARCH).then_some(p.content_page_size),
        include_archived: p.include_archived,
    }
    .encode()
}

fn border_at(m: &Message, before: bool) -> Border {
    Border { at_ms: m.created_at_ms, id: Some(m.id.clone()), before }
}

/// One page of the conversation (or of its search hits) and the tokens around it.
async fn read_page(
    state: &AppState,
    ctx: &InstanceCaller,
    pid: &str,
    kind: &str,
    p: &Paging,
) -> ApiResult<(Vec<Message>, ChatMeta)> {
    let scope = ChatScope { query: p.query.as_ref().map(|q| q.to_lowercase()), include_archived: p.include_archived };
    let db = &state.db;
    let iid = &ctx.instance.id;
    let page = db.chat_page(iid, pid, &scope, p.border.as_ref(), p.size).await?;
    let (mut next, mut prev) = (None, None);
    if let (Some(newest), Some(oldest)) = (page.first(), page.last()) {
        if db.chat_has_beyond(iid, pid, &scope, &border_at(oldest, true)).await? {
            next = Some(token(kind, p.size, oldest, true, p));
        }
        if db.chat_has_beyond(iid, pid, &scope, &border_at(newest, false)).await? {
            prev = Some(token(kind, p.size, newest, false, p));
        }
    }
    let found = !page.is_empty();
    Ok((page, ChatMeta { next_page_token: next, prev_page_token: prev, page_size: p.size, found }))
}

/// A patient writes to the care team (answers 200, as recorded).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/chat/inbound", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content = Object, description = "{message}"),
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
    let p = patient(&state, &ctx, &path.2).await?;
    let text = chat::parse_inbound(&body).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let m = Message {
        id: crate::ids::new_id(),
        external_id: chat::new_external_id(),
        patient_id: p.id.clone(),
        sender_type: chat::PATIENT.into(),
        sender_id: p.id.clone(),
        sender_name: None,
        message: text,
        attachment_id: None,
        created_at_ms: now_ms,
        archived: false,
    };
    save(&state, &ctx, &p, &m, now_ms).await?;
    Ok(Json(m.listed(Some(&p.full_name()))))
}

async fn save(state: &AppState, ctx: &InstanceCaller, p: &Patient, m: &Message, now_ms: i64) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, m).await?;
    let record = m.audit_record();
    ctx.record(
        &mut tx,
        Write { patient: Some(p), ..Write::new("CHAT_MESSAGE", Operation::Create, &m.id, &record) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The V8 spelling of `chat/inbound`.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patient/{patientId}/chat/inbound", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content = Object, description = "{message}"),
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
    let p = patient(&state, &ctx, &path.2).await?;
    let paging = token_paging(&params, LOCAL_FIND)?;
    let (page, meta) = read_page(&state, &ctx, &p.id, LOCAL_FIND, &paging).await?;
    Ok(Json(ChatPage { meta, content: page.iter().map(|m| m.listed(None)).collect() }))
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
    let p = patient(&state, &ctx, &path.2).await?;
    let paging = token_paging(&params, LOCAL_SEARCH)?;
    let (page, meta) = read_page(&state, &ctx, &p.id, LOCAL_SEARCH, &paging).await?;
    let around = Paging { query: None, ..paging };
    let content = page
        .iter()
        .map(|m| {
            json!({
                "meta": {
                    "nextPageToken": token(LOCAL_FIND, around.content_page_size, m, true, &around),
                    "prevPageToken": token(LOCAL_FIND, around.content_page_size, m, false, &around),
                },
                "message": m.searched(),
            })
        })
        .collect();
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
    request_body(content = Object, description = "body (required; `message` is accepted too), attachmentId (UUID), senderId (a user's id)"),
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
    let p = patient(&state, &ctx, &path.2).await?;
    let out = chat::parse_outbound(&body).map_err(invalid)?;
    let sender = match &out.sender_id {
        Some(id) => Some(service::user_named_by(&state, &ctx, COMPONENT, "senderId", id).await?),
        None => None,
    };
    let now_ms = state.clock.now_ms();
    let m = service::care_team_message(&ctx, &p, sender.as_ref(), out.text, out.attachment_id, now_ms);
    let mut tx = state.db.begin().await?;
    service::insert_care_team_message(&ctx, &mut tx, &p, &m, now_ms).await?;
    tx.commit().await?;
    service::announce(&state, &ctx, &request_base(&headers), &p, &m.message).await;
    Ok((StatusCode::CREATED, Json(m.docs())))
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
    let p = patient(&state, &ctx, &path.2).await?;
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
    let (rows, total) = state.db.chat_messages(&ctx.instance.id, &p.id, since, req.offset(), req.size).await?;
    Ok(Json(MetaInfoPage::new(rows.iter().map(Message::docs).collect(), &req, total)))
}

/// Searches messages (DOCS): of one patient with `patientId`, else of the whole
/// instance, newest first, page by page: `{data, metaInfo}`.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/chat/search", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content = Object, description = "query (required), patientId, page (default 0), size (default 20)"),
    responses((status = 200, body = Object, description = "{data:[message], metaInfo}"),
              (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn search_docs(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    use crate::domain::fields;
    ctx.require(Family::Chat, Op::Read)?;
    fields::reject_unknown(&body, &["query", "patientId", "page", "size"], &[]).map_err(invalid)?;
    let query =
        fields::text("query", body.get("query").ok_or_else(|| invalid(FieldError::new("query", "is required")))?)
            .map_err(invalid)?;
    let int = |k: &str, default: i64, range: std::ops::RangeInclusive<i64>| match body.get(k) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_i64().filter(|n| range.contains(n)).ok_or_else(|| {
            invalid(FieldError::new(k, format!("must be a whole number from {} to {}", range.start(), range.end())))
        }),
    };
    let req = PageRequest {
        page: int("page", 0, 0..=1_000_000)?,
        size: int("size", DEFAULT_PAGE_SIZE, 1..=MAX_PAGE_SIZE)?,
        sorts: vec![],
    };
    let patient_id = fields::opt_uuid("patientId", body.get("patientId").unwrap_or(&Value::Null)).map_err(invalid)?;
    if let Some(id) = &patient_id {
        state
            .db
            .patient(&ctx.instance.id, crate::store::patients::PatientKey::Id, id)
            .await?
            .ok_or_else(|| invalid(FieldError::new("patientId", format!("patient {id} does not exist"))))?;
    }
    let (rows, total) =
        state.db.chat_search(&ctx.instance.id, patient_id.as_deref(), &query, req.offset(), req.size).await?;
    Ok(Json(MetaInfoPage::new(rows.iter().map(Message::docs).collect(), &req, total)))
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

fn webhook_not_found(instance: &str) -> ApiError {
    ApiError::not_found(
        "CHAT_WEBHOOK_NOT_FOUND",
        COMPONENT,
        "No chat webhook is configured",
        json!({"instanceName": instance}),
    )
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
    let hook = state.db.chat_webhook(&ctx.instance.id).await?.ok_or_else(|| webhook_not_found(&ctx.instance.name))?;
    Ok(Json(store::webhook_view(&hook)))
}

/// Sets the instance's chat webhook (an openwelkin extension; Welkin configures it in
/// Admin → Integrations → Communications). Every care-team chat message is then POSTed
/// there as `{patientId, patientUrl, tenantName, instanceName, message}` with the
/// headers `X-WEBHOOK-API-KEY` and `X-WEBHOOK-API-SECRET`.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/integrations/chat-webhook", tag = "Chat",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content = Object, description = "url (http or https, required), apiKey, apiSecret, active (default true), publicBaseUrl (base of patientUrl; default: the host the message was sent to)"),
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
    let now_ms = state.clock.now_ms();
    let actor = ctx.actor();
    let hook =
        parse_webhook(&body, crate::time::format_ms(now_ms), actor.id.clone(), actor.full_name()).map_err(invalid)?;
    let view = store::webhook_view(&hook);
    let mut tx = state.db.begin().await?;
    store::put_webhook(&mut tx, &ctx.tenant.id, &ctx.instance.id, &hook, now_ms).await?;
    ctx.record(&mut tx, Write::new("CHAT_WEBHOOK", Operation::Update, &ctx.instance.id, &view), now_ms).await?;
    tx.commit().await?;
    Ok(Json(view))
}

fn http_url(field: &str, value: &Value) -> Result<String, FieldError> {
    let url = crate::domain::fields::text(field, value)?;
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    if !rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/')) || url.chars().any(char::is_whitespace) {
        return Err(FieldError::new(field, format!("{url:?} is not an http(s) URL")));
    }
    Ok(url)
}

fn parse_webhook(
    body: &serde_json::Map<String, Value>,
    now: String,
    actor_id: String,
    actor_name: String,
) -> Result<ChatWebhook, FieldError> {
    use crate::domain::fields;
    fields::reject_unknown(
        body,
        &["url", "apiKey", "apiSecret", "active", "publicBaseUrl"],
        &["apiSecretSet", "updatedAt", "updatedBy", "updatedByName"],
    )?;
    let url = http_url("url", body.get("url").ok_or_else(|| FieldError::new("url", "is required"))?)?;
    let opt = |k: &str| fields::opt_text(k, body.get(k).unwrap_or(&Value::Null));
    let public_base_url = match body.get("publicBaseUrl") {
        None | Some(Value::Null) => None,
        Some(v) => Some(http_url("publicBaseUrl", v)?.trim_end_matches('/').to_string()),
    };
    Ok(ChatWebhook {
        url,
        api_key: opt("apiKey")?.unwrap_or_default(),
        api_secret: opt("apiSecret")?.unwrap_or_default(),
        active: match body.get("active") {
            None => true,
            Some(v) => fields::boolean("active", v)?,
        },
        public_base_url,
        updated_at: now,
        updated_by: actor_id,
        updated_by_name: actor_name,
    })
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
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let hook =
        store::delete_webhook(&mut tx, &ctx.instance.id).await?.ok_or_else(|| webhook_not_found(&ctx.instance.name))?;
    let view = store::webhook_view(&hook);
    ctx.record(&mut tx, Write::new("CHAT_WEBHOOK", Operation::Delete, &ctx.instance.id, &view), now_ms).await?;
    tx.commit().await?;
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
        assert!(http_url("url", &json!("https://x.org/hook")).is_ok());
        assert_eq!(http_url("url", &json!("ftp://x.org")).unwrap_err().field, "url");
        assert_eq!(http_url("url", &json!("http://")).unwrap_err().field, "url");
    }
}
