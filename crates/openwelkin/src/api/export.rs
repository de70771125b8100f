//! Bulk export: `GET /{tenant}/{instance}/export/{TYPE}` with Welkin's cursor paging
//! `{data:[…], cursor:{start, end, pageSize, hasNext}}`. The export types, cursors and
//! pages are `services::export` (which `openwelkin export` reads too); here are the route,
//! its parameters and the page envelope.

use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::services::export::{self as service, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

fn page_size(params: &Params) -> ApiResult<i64> {
    let (name, size) = match params.int("pageSize")? {
        Some(n) => ("pageSize", n),
        None => ("size", params.int("size")?.unwrap_or(DEFAULT_PAGE_SIZE)),
    };
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::invalid_param(name, format!("must be between 1 and {MAX_PAGE_SIZE}")));
    }
    Ok(size)
}

/// `{data, cursor}`: Welkin's export page.
#[derive(Serialize, ToSchema)]
pub struct ExportPage {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<Value>,
    pub cursor: Cursor,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    /// The `start` of the request, as sent.
    pub start: Option<String>,
    /// Pass as `start` to read on; after the last page, to read what changes from now on.
    pub end: Option<String>,
    pub page_size: i64,
    pub has_next: bool,
}

/// Export records of one type, a page at a time.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/export/{exportType}", tag = "Export",
    params(
        ("tenant" = String, Path), ("instance" = String, Path),
        ("exportType" = String, Path, description = "PATIENT, CDT_RECORD, PDT_RECORD, ASSESSMENT, CALENDAR_EVENT, EMAIL, SMS, ENCOUNTER, ENCOUNTER_COMMENT, ENCOUNTER_DISPOSITION, TASK, VOICE_CALL, PATIENT_PROGRAM, and the openwelkin extensions ENCOUNTER_ASSESSMENT, CARE_PLAN, GOAL, GOAL_COMMENT, CHAT_MESSAGE, CONTACT, DOCUMENT_SUMMARY, DOCUMENT_TYPE_RECORD, USER, DICTIONARY_RECORD, WORK_HOURS, EMAIL_DRAFT, COMMUNICATION_ID, MESSAGING_TEMPLATE, COMMUNICATION, PAYMENT_METHOD, SUBSCRIPTION, INVOICE, PAYMENT"),
        ("start" = Option<String>, Query, description = "An ISO-8601 time (records changed at or after it) or the cursor.end of the page before"),
        ("pageSize" = Option<i64>, Query, description = "1 to 1000, default 100"),
        ("size" = Option<i64>, Query, description = "Used when pageSize is absent"),
    ),
    responses(
        (status = 200, body = ExportPage, description = "Records in ascending updatedAt order"),
        (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>),
    ),
    security(("bearer" = []))
)]
pub async fn export(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<ExportPage>> {
    ctx.require(Family::Export, Op::Read)?;
    let ty = service::type_named(&path.2)?;
    ctx.require(ty.family, Op::Read)?;
    let size = page_size(&params)?;
    let start = params.text("start").filter(|s| !s.trim().is_empty());
    let after = start
        .as_deref()
        .map(|s| service::parse_start(s.trim()))
        .transpose()
        .map_err(|e| ApiError::invalid_param("start", e))?;
    let page = service::fetch(&state, &ctx, ty, after.as_ref(), size, None).await?;
    let end = page.last.as_ref().map(service::encode_cursor).or_else(|| start.clone());
    Ok(Json(ExportPage { data: page.data, cursor: Cursor { start, end, page_size: size, has_next: page.has_next } }))
}
