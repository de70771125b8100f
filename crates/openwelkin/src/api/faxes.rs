//! Faxes, `/{tenant}/{instance}/faxes[/{faxId}]`: list, read, send (create) and update.
//! Welkin released fax endpoints (2026) without publishing shapes; these follow its
//! conventions and are marked as an extension in the OpenAPI document. The list answers
//! `{data, metaInfo}`; `sort=field[,asc|desc]` with `direction=ASC|DESC` as the docs
//! name it. The rules are `domain::fax`, the use cases `services::faxes`.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::fax::{FaxUpdate, FaxWrite, STATUSES, TYPES};
use crate::services::faxes as service;
use crate::store::faxes::{sort_column, FaxFilter};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

/// A filter that must be one of `allowed` (case-insensitive).
fn one_of(params: &Params, name: &str, allowed: &[&str]) -> ApiResult<Option<String>> {
    match params.text(name).map(|v| v.to_ascii_uppercase()) {
        None => Ok(None),
        Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v)),
        Some(_) => Err(ApiError::invalid_param(name, format!("must be one of {}", allowed.join(", ")))),
    }
}

/// Send a fax, or keep it as a draft: `{receiver, subject, notes, patientId, pages,
/// send}`; `type: INBOUND` records a fax the line received (`sender`, `pages`,
/// `receivedAt`).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/faxes", tag = "Fax",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content = FaxWrite, description = "A draft (default), a fax sent at once (send: true) or a received fax (type: INBOUND)"),
    responses((status = 201, body = Object, description = "the fax"), (status = 400, body = Vec<ErrorItem>),
              (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn send(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Fax, Op::Create)?;
    Ok((StatusCode::CREATED, Json(service::create(&state, &ctx, &body).await?)))
}

/// The instance's faxes, newest first unless sorted: `{data, metaInfo}`.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/faxes", tag = "Fax",
    params(("tenant" = String, Path), ("instance" = String, Path),
           ("type" = Option<String>, Query, description = "OUTBOUND or INBOUND"),
           ("status" = Option<String>, Query, description = "DRAFT, SENT or RECEIVED"),
           ("patientId" = Option<String>, Query), ("reviewed" = Option<bool>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query),
           ("sort" = Option<String>, Query, description = "createdAt, updatedAt, status or type, optionally ,asc or ,desc"),
           ("direction" = Option<String>, Query, description = "ASC or DESC: the direction of every sort (of createdAt when none is given)")),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>),
              (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(_path): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Fax, Op::Read)?;
    let mut req = PageRequest::parse(&params, sort_column)?;
    match one_of(&params, "direction", &["ASC", "DESC"])?.as_deref() {
        Some("DESC") => req.sorts.iter_mut().for_each(|s| s.descending = true),
        Some(_) if req.sorts.is_empty() => {
            req.sorts.push(crate::store::query::SortColumn { column: "created_at", descending: false })
        }
        _ => {}
    }
    let filter = FaxFilter {
        fax_type: one_of(&params, "type", TYPES)?,
        status: one_of(&params, "status", STATUSES)?,
        patient_id: params.text("patientId"),
        reviewed: params.bool("reviewed")?,
    };
    let (data, total) = service::list(&state, &ctx, &filter, &req.sorts, req.offset(), req.size).await?;
    Ok(Json(MetaInfoPage::new(data, &req, total)))
}

/// One fax.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/faxes/{faxId}", tag = "Fax",
    params(("tenant" = String, Path), ("instance" = String, Path), ("faxId" = String, Path)),
    responses((status = 200, body = Object), (status = 403, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn read(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Fax, Op::Read)?;
    Ok(Json(service::read(&state, &ctx, &path.2).await?))
}

/// Change a fax: a draft's `receiver`, `sender`, `subject`, `notes`, `pages`; `send:
/// true` sends a draft; `patientId` assigns any fax to a patient; `reviewed` marks it
/// reviewed.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/faxes/{faxId}", tag = "Fax",
    params(("tenant" = String, Path), ("instance" = String, Path), ("faxId" = String, Path)),
    request_body(content = FaxUpdate, description = "receiver, sender, subject, notes, pages (drafts only), send, patientId, reviewed"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>),
              (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])),
    extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Fax, Op::Update)?;
    Ok(Json(service::update(&state, &ctx, &path.2, &body).await?))
}
