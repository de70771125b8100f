//! Email drafts of a patient: `/{tenant}/{instance}/patients/{patientId}/email-drafts…`.
//! The reads are the DOCS paths; the writes (create, edit, send, delete) follow the same
//! conventions: create 201, edit with PATCH (or PUT) 200, `POST …/{draftId}/send` turns
//! the draft into an email (201, the email) and removes it, DELETE 200 with an empty body.
//! Drafts take JSON or multipart with `attachmentsAsFiles` file parts, like sends.

use super::caller::{InstanceCaller, Write};
use super::cdts::patient;
use super::emails::{create_outbound, invalid, outbound_parties, outbound_record, save_files, EmailInput, FILE_PART};
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::email;
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::emails as store;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// Keys of a draft body.
const DRAFT_KEYS: &[&str] = &["subject", "body", "receiver", "secure", "scheduledAt", "sender"];

fn not_found(patient_id: &str, id: &str) -> ApiError {
    ApiError::not_found(
        "EMAIL_DRAFT_NOT_FOUND",
        super::emails::COMPONENT,
        "Email draft is not found",
        json!({"patientId": patient_id, "id": id}),
    )
}

fn parse(fields: &serde_json::Map<String, Value>, p: &Patient) -> ApiResult<email::Compose> {
    let c = email::parse_compose(fields, DRAFT_KEYS).map_err(invalid)?;
    if c.receiver.as_deref().is_some_and(|r| r != p.id) {
        return Err(invalid(FieldError::new("receiver", "must be the patient of the path")));
    }
    Ok(c)
}

async fn check_sender(state: &AppState, ctx: &InstanceCaller, c: &email::Compose) -> ApiResult<()> {
    if let Some(id) = &c.sender {
        if state.db.user(&ctx.tenant.id, id, true).await?.is_none() {
            return Err(invalid(FieldError::new("sender", format!("there is no user {id}"))));
        }
    }
    Ok(())
}

/// Create a draft (201).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/email-drafts", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content((Object = "application/json"), (Object = "multipart/form-data")),
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
    let p = patient(&state, &ctx, &path.2).await?;
    let (fields, files) = input.files(FILE_PART)?;
    let c = parse(&fields, &p)?;
    check_sender(&state, &ctx, &c).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let id = crate::ids::new_id();
    let mut draft = email::blank_draft(&id, &p.id, &crate::time::format_ms(now_ms), &actor.id, &actor.full_name());
    draft["to"] = json!(p.email);
    email::apply_draft(&mut draft, &c);
    let mut tx = state.db.begin().await?;
    draft["attachments"] = save_files(&mut tx, &ctx, &id, &files, &Value::Null, now_ms).await?;
    draft["hasAttachment"] = json!(!draft["attachments"].is_null());
    store::insert_draft(&mut tx, &ctx.tenant.id, &ctx.instance.id, &draft, now_ms).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("EMAIL_DRAFT", Operation::Create, &id, &draft) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
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
    let p = patient(&state, &ctx, &path.2).await?;
    let page = PageRequest::parse(&params, |_| None)?;
    let (drafts, total) = state.db.email_drafts(&ctx.instance.id, &p.id, page.offset(), page.size).await?;
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
    let p = patient(&state, &ctx, &path.2).await?;
    state.db.email_draft(&ctx.instance.id, &p.id, &path.3).await?.map(Json).ok_or_else(|| not_found(&p.id, &path.3))
}

/// Edit a draft: the keys given change; file parts are added to its attachments.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/patients/{patientId}/email-drafts/{draftId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("draftId" = String, Path)),
    request_body(content((Object = "application/json"), (Object = "multipart/form-data"))),
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
    let p = patient(&state, &ctx, &path.2).await?;
    let (fields, files) = input.files(FILE_PART)?;
    let c = parse(&fields, &p)?;
    check_sender(&state, &ctx, &c).await?;
    let actor = ctx.actor();
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut draft = store::draft_for_update(&mut tx, &ctx.instance.id, &p.id, &path.3)
        .await?
        .ok_or_else(|| not_found(&p.id, &path.3))?;
    email::apply_draft(&mut draft, &c);
    let existing = draft["attachments"].clone();
    draft["attachments"] = save_files(&mut tx, &ctx, &path.3, &files, &existing, now_ms).await?;
    draft["hasAttachment"] = json!(!draft["attachments"].is_null());
    draft["updatedAt"] = json!(crate::time::format_ms(now_ms));
    draft["updatedBy"] = json!(actor.id);
    draft["updatedByName"] = json!(actor.full_name());
    store::update_draft(&mut tx, &ctx.instance.id, &draft, now_ms).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("EMAIL_DRAFT", Operation::Update, &path.3, &draft) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(draft))
}

/// The same edit with PUT.
#[utoipa::path(
    put, path = "/{tenant}/{instance}/patients/{patientId}/email-drafts/{draftId}", tag = "Email",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("draftId" = String, Path)),
    request_body(content((Object = "application/json"), (Object = "multipart/form-data"))),
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
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let draft = store::draft_for_update(&mut tx, &ctx.instance.id, &p.id, &path.3)
        .await?
        .ok_or_else(|| not_found(&p.id, &path.3))?;
    store::delete_draft(&mut tx, &ctx.instance.id, &path.3).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("EMAIL_DRAFT", Operation::Delete, &path.3, &draft) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
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
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // Read (and locked) inside the write: of two sends at once, or a send and a delete,
    // the first wins and the other finds no draft (404); an edit made meanwhile is sent.
    let draft = store::draft_for_update(&mut tx, &ctx.instance.id, &p.id, &path.3)
        .await?
        .ok_or_else(|| not_found(&p.id, &path.3))?;
    let c = email::compose_of_draft(&draft).map_err(invalid)?;
    let parties = outbound_parties(&state, &ctx, &p, c.sender.as_deref()).await?;
    let id = crate::ids::new_id();
    store::move_attachments(&mut tx, &ctx.instance.id, &path.3, &id).await?;
    let row = create_outbound(
        &state,
        &mut tx,
        &ctx,
        &p,
        outbound_record(&parties, &c, &id, draft["attachments"].clone(), now_ms),
        now_ms,
    )
    .await?;
    store::delete_draft(&mut tx, &ctx.instance.id, &path.3).await?;
    let sent = Write {
        patient: Some(&p),
        subtype: Some("EMAIL_DRAFT_SENT"),
        ..Write::new("EMAIL_DRAFT", Operation::Delete, &path.3, &draft)
    };
    ctx.record(&mut tx, sent, now_ms).await?;
    tx.commit().await?;
    if row.record["status"] == "ACCEPTED" {
        state.email.dispatch_soon(&state.db, &state.clock, &id).await;
    }
    Ok((StatusCode::CREATED, Json(row.record)))
}
