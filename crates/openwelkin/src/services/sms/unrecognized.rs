//! Inbound SMS from numbers no patient has. At the V8 paths they are the messages not
//! yet assigned (status `UNRECOGNISED`): read, assigned to a patient (`{"sender"}`; they
//! become `RECEIVED` and the patient's) or starred, deleted. At the docs site's paths
//! they are every message that arrived unmatched, pending or resolved, in the docs
//! site's form (`{id, fromNumber, toNumber, body, receivedAt, status, resolvedBy,
//! patientId}`), resolved with `{patientId, status: "RESOLVED"}`.

use super::messages::{delete_stored, update_stored};
use super::{invalid, not_found};
use crate::app::AppState;
use crate::domain::fields::{self, reject_unknown};
use crate::domain::patient::Patient;
use crate::domain::FieldError;
use crate::services::error::ServiceResult;
use crate::services::scope::InstanceScope;
use crate::store::query::SortColumn;
use crate::store::sms::{SmsFilter, SmsScope, StoredSms};
use serde_json::{json, Map, Value};

fn unrecognised(s: &StoredSms, _: Option<&Patient>) -> bool {
    s.unmatched && s.patient_id.is_none()
}

fn matched_once(s: &StoredSms, _: Option<&Patient>) -> bool {
    s.unmatched
}

/// One unassigned inbound SMS.
pub async fn read(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<Value> {
    let s = state.db.sms(&ctx.instance.id, id).await?;
    s.filter(|s| unrecognised(s, None)).map(|s| s.body).ok_or_else(|| not_found(id))
}

/// Assigns an unassigned inbound SMS to a patient (`sender`), or stars it.
pub async fn assign(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    update_stored(state, ctx, None, id, body, unrecognised).await
}

/// Deletes an unassigned inbound SMS.
pub async fn delete(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<()> {
    delete_stored(state, ctx, None, id, unrecognised).await
}

/// An unmatched message as the docs site shows it.
fn docs_item(s: &StoredSms) -> Value {
    let b = &s.body;
    json!({
        "id": b["id"],
        "fromNumber": b["from"],
        "toNumber": b["to"],
        "body": b["message"],
        "receivedAt": b["receivedAt"],
        "status": if s.patient_id.is_some() { "RESOLVED" } else { "PENDING" },
        "resolvedBy": s.resolved_by,
        "patientId": s.patient_id,
    })
}

/// One page of the messages that arrived unmatched (docs-site form), and the total.
pub async fn docs_list(
    state: &AppState,
    ctx: &InstanceScope,
    filter: &SmsFilter,
    sorts: &[SortColumn],
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    let (rows, total) = state.db.sms_list(&ctx.instance.id, &SmsScope::Unmatched, filter, sorts, offset, size).await?;
    Ok((rows.iter().map(docs_item).collect(), total))
}

/// One message that arrived unmatched (docs-site form).
pub async fn docs_read(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<Value> {
    let s = state.db.sms(&ctx.instance.id, id).await?;
    s.filter(|s| matched_once(s, None)).map(|s| docs_item(&s)).ok_or_else(|| not_found(id))
}

/// Resolves a message that arrived unmatched: `{"patientId", "status": "RESOLVED"}`
/// assigns it to the patient. Answers it in the docs-site form.
pub async fn docs_resolve(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    reject_unknown(
        body,
        &["patientId", "status"],
        &["id", "fromNumber", "toNumber", "body", "receivedAt", "resolvedBy"],
    )
    .map_err(invalid)?;
    let pid = match body.get("patientId") {
        Some(v) => fields::opt_uuid("patientId", v).map_err(invalid)?,
        None => None,
    }
    .ok_or_else(|| invalid(FieldError::new("patientId", "is required")))?;
    match body.get("status") {
        None => return Err(invalid(FieldError::new("status", "is required"))),
        Some(v) => {
            fields::one_of("status", v, &["RESOLVED"]).map_err(invalid)?;
        }
    }
    let mut assignment = Map::new();
    assignment.insert("sender".into(), json!(pid));
    update_stored(state, ctx, None, id, &assignment, matched_once).await.map_err(|mut e| {
        // Name the field as this form of the API calls it.
        if e.content.details["field"] == "sender" {
            e.content.details["field"] = json!("patientId");
            e.content.message = e.content.message.replacen("sender", "patientId", 1);
        }
        e
    })?;
    let stored = state.db.sms(&ctx.instance.id, id).await?.ok_or_else(|| not_found(id))?;
    Ok(docs_item(&stored))
}
