//! Chat messages: patients write to the care team (inbound), the care team writes to the
//! patient (announced to the chat webhook, `chat_webhook`), the conversation token paged
//! newest first and its search, and the DOCS message list and search. Templated sends
//! use the care-team message helpers here too.

use super::error::{ServiceError, ServiceResult};
use super::scope::{InstanceScope, Write};
use crate::app::AppState;
use crate::domain::chat::{self, Message, PageToken, LOCAL_FIND, LOCAL_SEARCH};
use crate::domain::patient::Patient;
use crate::domain::user::User;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::chat::{self as store, Border, ChatScope};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

const COMPONENT: &str = "CHAT";

fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

/// A user's display name: "First Last", else the username.
pub fn display_name(u: &User) -> String {
    let name = [u.first_name.as_deref(), u.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        u.username.clone()
    } else {
        name
    }
}

/// The user `field` names, checked to exist in the tenant.
pub async fn user_named_by(
    state: &AppState,
    ctx: &InstanceScope,
    component: &str,
    field: &str,
    id: &str,
) -> ServiceResult<User> {
    let found = state.db.users_by_ids(&ctx.tenant.id, &[id.to_string()]).await?;
    found.into_iter().next().ok_or_else(|| {
        ServiceError::invalid_field(component, FieldError::new(field, format!("user {id} does not exist")))
    })
}

/// A care-team message to `p`, from a user or (without one) the calling API client.
pub fn care_team_message(
    ctx: &InstanceScope,
    p: &Patient,
    sender: Option<&User>,
    text: String,
    attachment_id: Option<String>,
    now_ms: i64,
) -> Message {
    let (sender_type, sender_id, sender_name) = match sender {
        Some(u) => (chat::USER, u.id.clone(), display_name(u)),
        None => (chat::API_CLIENT, ctx.client.id.clone(), ctx.actor().full_name()),
    };
    Message {
        id: crate::ids::record_id(),
        external_id: chat::new_external_id(),
        patient_id: p.id.clone(),
        sender_type: sender_type.into(),
        sender_id,
        sender_name: Some(sender_name),
        message: text,
        attachment_id,
        created_at_ms: now_ms,
        archived: false,
    }
}

/// Writes a message in `tx` (with its audit row); the caller commits and then, for a
/// care-team message, calls `chat_webhook::announce`.
pub async fn insert_message(
    ctx: &InstanceScope,
    tx: &mut crate::store::Tx,
    p: &Patient,
    m: &Message,
    now_ms: i64,
) -> ServiceResult<()> {
    store::insert(tx, &ctx.tenant.id, &ctx.instance.id, m).await?;
    let record = m.audit_record();
    ctx.record(tx, Write { patient: Some(p), ..Write::new("CHAT_MESSAGE", Operation::Create, &m.id, &record) }, now_ms)
        .await?;
    Ok(())
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

/// What one token-paged request asks for: from a `pageToken` (which carries every
/// option, since clients send it alone) or from the first request's parameters.
pub struct Paging {
    pub size: i64,
    pub border: Option<Border>,
    pub include_archived: bool,
    pub query: Option<String>,
    pub content_page_size: i64,
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
    ctx: &InstanceScope,
    pid: &str,
    kind: &str,
    p: &Paging,
) -> ServiceResult<(Vec<Message>, ChatMeta)> {
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

/// A patient writes to the care team: `{message}`. Answers the message as listed.
pub async fn inbound(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = super::patients::by_id(state, ctx, patient_id).await?;
    let text = chat::parse_inbound(body).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let m = Message::from_patient(&p.id, text, now_ms);
    let mut tx = state.db.begin().await?;
    insert_message(ctx, &mut tx, &p, &m, now_ms).await?;
    tx.commit().await?;
    Ok(m.listed(Some(&p.full_name())))
}

/// One page of `p`'s conversation, newest first, as listed.
pub async fn conversation(
    state: &AppState,
    ctx: &InstanceScope,
    p: &Patient,
    paging: &Paging,
) -> ServiceResult<(ChatMeta, Vec<Value>)> {
    let (page, meta) = read_page(state, ctx, &p.id, LOCAL_FIND, paging).await?;
    Ok((meta, page.iter().map(|m| m.listed(None)).collect()))
}

/// One page of the messages of `p` containing the paging's query, newest first; each hit
/// carries the tokens that page the conversation around it.
pub async fn search(
    state: &AppState,
    ctx: &InstanceScope,
    p: &Patient,
    paging: Paging,
) -> ServiceResult<(ChatMeta, Vec<Value>)> {
    let (page, meta) = read_page(state, ctx, &p.id, LOCAL_SEARCH, &paging).await?;
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
    Ok((meta, content))
}

/// The care team writes to the patient (DOCS): `senderId` names the user it is from;
/// without it the message is from the API client. `request_base` is for the webhook's
/// `patientUrl` (see `chat_webhook::announce`). Answers the message in the DOCS shape.
pub async fn send(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    body: &Map<String, Value>,
    request_base: &str,
) -> ServiceResult<Value> {
    let p = super::patients::by_id(state, ctx, patient_id).await?;
    let out = chat::parse_outbound(body).map_err(invalid)?;
    let sender = match &out.sender_id {
        Some(id) => Some(user_named_by(state, ctx, COMPONENT, "senderId", id).await?),
        None => None,
    };
    let now_ms = state.clock.now_ms();
    let m = care_team_message(ctx, &p, sender.as_ref(), out.text, out.attachment_id, now_ms);
    let mut tx = state.db.begin().await?;
    insert_message(ctx, &mut tx, &p, &m, now_ms).await?;
    tx.commit().await?;
    super::chat_webhook::announce(state, ctx, request_base, &p, &m.message).await;
    Ok(m.docs())
}

/// One page of `p`'s conversation oldest first (DOCS), optionally only the messages sent
/// after `since`, and the total.
pub async fn messages(
    state: &AppState,
    ctx: &InstanceScope,
    p: &Patient,
    since: Option<i64>,
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    let (rows, total) = state.db.chat_messages(&ctx.instance.id, &p.id, since, offset, size).await?;
    Ok((rows.iter().map(Message::docs).collect(), total))
}

/// One page of a DOCS search, the page asked for and the total.
pub struct SearchPage {
    pub data: Vec<Value>,
    pub page: i64,
    pub size: i64,
    pub total: i64,
}

/// Searches messages (DOCS), body `{query, patientId, page, size}`: of one patient with
/// `patientId`, else of the whole instance, newest first.
pub async fn search_docs(
    state: &AppState,
    ctx: &InstanceScope,
    body: &Map<String, Value>,
    default_size: i64,
    max_size: i64,
) -> ServiceResult<SearchPage> {
    use crate::domain::fields;
    fields::reject_unknown(body, &["query", "patientId", "page", "size"], &[]).map_err(invalid)?;
    let query =
        fields::text("query", body.get("query").ok_or_else(|| invalid(FieldError::new("query", "is required")))?)
            .map_err(invalid)?;
    let int = |k: &str, default: i64, range: std::ops::RangeInclusive<i64>| match body.get(k) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_i64().filter(|n| range.contains(n)).ok_or_else(|| {
            invalid(FieldError::new(k, format!("must be a whole number from {} to {}", range.start(), range.end())))
        }),
    };
    let page = int("page", 0, 0..=1_000_000)?;
    let size = int("size", default_size, 1..=max_size)?;
    let patient_id = fields::opt_uuid("patientId", body.get("patientId").unwrap_or(&Value::Null)).map_err(invalid)?;
    if let Some(id) = &patient_id {
        super::patients::named_by(state, ctx, COMPONENT, "patientId", id).await?;
    }
    let (rows, total) =
        state.db.chat_search(&ctx.instance.id, patient_id.as_deref(), &query, page * size, size).await?;
    Ok(SearchPage { data: rows.iter().map(Message::docs).collect(), page, size, total })
}
