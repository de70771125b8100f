//! `GET /{tenant}/admin/audit-data`: the data audit trail, newest first, for clients with
//! the data-audit flag. It only reads: no endpoint changes or deletes audit rows.

use super::caller::Caller;
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::AdminFlag;
use crate::store::audit::{data_audit_sort_column, DataAuditFilter, DataAuditRow};
use crate::store::clients::InstanceGrant;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataAuditItem {
    pub event_id: String,
    pub event_entity: String,
    pub subject_username: String,
    pub subject_user_id: String,
    pub subject_actor: String,
    pub subject_full_name: String,
    pub patient_full_name: Option<String>,
    pub patient_id: Option<String>,
    pub instance: Option<String>,
    pub cdt_name: Option<String>,
    /// The relation of that data type (`COMMON`, `ENCOUNTER_DISPOSITION`, …).
    pub cdt_relation: Option<String>,
    pub event_subtype: String,
    pub operation: String,
    pub sent_at: String,
    /// The record after the change (before it, for a delete).
    #[schema(value_type = Object)]
    pub record: Value,
}

impl From<DataAuditRow> for DataAuditItem {
    fn from(r: DataAuditRow) -> Self {
        DataAuditItem {
            event_id: r.event_id,
            event_entity: r.event_entity,
            subject_username: r.subject_username,
            subject_user_id: r.subject_user_id,
            subject_actor: r.subject_actor,
            subject_full_name: r.subject_full_name,
            patient_full_name: r.patient_full_name,
            patient_id: r.patient_id,
            instance: r.instance,
            cdt_name: r.cdt_name,
            cdt_relation: r.cdt_relation,
            event_subtype: r.event_subtype,
            operation: r.operation,
            sent_at: crate::time::format_ms(r.sent_at),
            record: serde_json::from_str(&r.record).unwrap_or(Value::Null),
        }
    }
}

fn date_param(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    params
        .text(name)
        .map(|v| {
            crate::time::parse_datetime(&v)
                .map(|t| t.timestamp_millis())
                .ok_or_else(|| ApiError::invalid_param(name, "must be an ISO-8601 date or datetime"))
        })
        .transpose()
}

/// Read the data audit trail (`{data, metaInfo}`, newest first).
#[utoipa::path(
    get, path = "/{tenant}/admin/audit-data", tag = "Audit",
    params(("tenant" = String, Path),
           ("entity" = Option<String>, Query, description = "PATIENT, USER, CDT, …"), ("eventSubtype" = Option<String>, Query),
           ("operation" = Option<String>, Query, description = "CREATE, UPDATE or DELETE"), ("cdtName" = Option<String>, Query),
           ("subjectUsername" = Option<String>, Query), ("subjectFullName" = Option<String>, Query),
           ("subjectUserId" = Option<String>, Query), ("subjectActor" = Option<String>, Query),
           ("instance" = Option<String>, Query), ("patientId" = Option<String>, Query), ("patientFullName" = Option<String>, Query),
           ("search" = Option<String>, Query), ("dateStart" = Option<String>, Query), ("dateEnd" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = MetaInfoPage<DataAuditItem>), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn data(
    State(state): State<AppState>,
    ctx: Caller,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<DataAuditItem>>> {
    ctx.require_flag(AdminFlag::DataAudit)?;
    let page = PageRequest::parse(&params, data_audit_sort_column)?;
    let upper = |name: &str| params.text(name).map(|v| v.to_ascii_uppercase());
    let filter = DataAuditFilter {
        entity: upper("entity").or_else(|| upper("eventEntity")),
        event_subtype: upper("eventSubtype"),
        operation: upper("operation"),
        cdt_name: params.text("cdtName"),
        subject_username: params.text("subjectUsername"),
        subject_full_name: params.text("subjectFullName"),
        subject_user_id: params.text("subjectUserId"),
        subject_actor: upper("subjectActor"),
        instance: params.text("instance"),
        patient_id: params.text("patientId"),
        patient_full_name: params.text("patientFullName"),
        search: params.text("search"),
        date_start: date_param(&params, "dateStart")?,
        date_end: date_param(&params, "dateEnd")?,
        visible_instances: match &ctx.client.instances {
            InstanceGrant::All => None,
            InstanceGrant::Only(list) => Some(list.clone()),
        },
    };
    let (rows, total) = state.db.data_audit(&ctx.tenant.id, &filter, &page.sorts, page.offset(), page.size).await?;
    Ok(Json(MetaInfoPage::new(rows.into_iter().map(DataAuditItem::from).collect(), &page, total)))
}

/// Read the webhook audit: every delivery attempt with its status (`DELIVERED`,
/// `FAILED`), status code and response text, newest first (`{data, metaInfo}`).
#[utoipa::path(
    get, path = "/{tenant}/admin/audit-webhook", tag = "Audit",
    params(("tenant" = String, Path), ("instance" = Option<String>, Query), ("eventSubtype" = Option<String>, Query),
           ("entity" = Option<String>, Query), ("status" = Option<String>, Query, description = "Comma list of SENT, DELIVERED, FAILED"),
           ("patientId" = Option<String>, Query), ("dateStart" = Option<String>, Query), ("dateEnd" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn webhook(
    State(state): State<AppState>,
    ctx: Caller,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require_flag(AdminFlag::DataAudit)?;
    let page = PageRequest::parse(&params, |f| matches!(f, "sentAt" | "createdAt").then_some("sent_at"))?;
    let upper = |name: &str| params.text(name).map(|v| v.to_ascii_uppercase());
    let filter = crate::store::webhooks::AttemptFilter {
        instance: params.text("instance"),
        event_subtype: upper("eventSubtype"),
        entity: upper("entity").or_else(|| upper("eventEntity")),
        status: params.list("status").map(|l| l.iter().map(|s| s.to_ascii_uppercase()).collect()),
        patient_id: params.text("patientId"),
        from: date_param(&params, "dateStart")?,
        to: date_param(&params, "dateEnd")?,
    };
    let (mut rows, total) = state.db.webhook_attempts(&ctx.tenant.id, &filter, page.offset(), page.size).await?;
    if let InstanceGrant::Only(list) = &ctx.client.instances {
        rows.retain(|r| r["instance"].as_str().is_some_and(|i| list.iter().any(|g| g == i)));
    }
    Ok(Json(MetaInfoPage::new(rows, &page, total)))
}

/// Read the security audit: tokens issued and refused, access changes (`{data, metaInfo}`).
#[utoipa::path(
    get, path = "/{tenant}/admin/audit-security", tag = "Audit",
    params(("tenant" = String, Path), ("subjectUsername" = Option<String>, Query), ("subjectActor" = Option<String>, Query),
           ("objectUsername" = Option<String>, Query), ("objectActor" = Option<String>, Query), ("eventSubtype" = Option<String>, Query),
           ("dateStart" = Option<String>, Query), ("dateEnd" = Option<String>, Query), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>), (status = 403, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn security(
    State(state): State<AppState>,
    ctx: Caller,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require_flag(AdminFlag::DataAudit)?;
    let page = PageRequest::parse(&params, |f| matches!(f, "sentAt" | "createdAt").then_some("sent_at"))?;
    let upper = |name: &str| params.text(name).map(|v| v.to_ascii_uppercase());
    let filter = crate::store::audit::SecurityFilter {
        subject_username: params.text("subjectUsername"),
        subject_actor: upper("subjectActor"),
        object_username: params.text("objectUsername"),
        object_actor: upper("objectActor"),
        event_subtype: upper("eventSubtype"),
        from: date_param(&params, "dateStart")?,
        to: date_param(&params, "dateEnd")?,
    };
    let (rows, total) = state.db.security_audit(&ctx.tenant.id, &filter, page.offset(), page.size).await?;
    Ok(Json(MetaInfoPage::new(rows, &page, total)))
}
