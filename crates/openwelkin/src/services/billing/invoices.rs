//! Invoices: create (line items whose totals are computed; DRAFT or PENDING), read,
//! change (DRAFT → PENDING, DRAFT/PENDING → VOIDED without payments; line items, due date
//! while DRAFT) and list. Shown with their payments (`rendered`), the status computed
//! from them and the date. Audited as `INVOICE`.

use super::{invalid, not_found, stamp_new, stamp_update, today, COMPONENT};
use crate::app::AppState;
use crate::domain::billing::{self as domain, render_invoice};
use crate::domain::patient::Patient;
use crate::domain::{fields, money, FieldError};
use crate::events::audit::Operation;
use crate::services::error::{Kind as ErrorKind, ServiceError, ServiceResult};
use crate::services::scope::{InstanceScope, Write};
use crate::store::billing::{self as store, Filter, Keys, Kind};
use crate::store::Tx;
use serde_json::{json, Map, Value};

async fn payments_of(state: &AppState, ctx: &InstanceScope, invoice_id: &str) -> ServiceResult<Vec<Value>> {
    Ok(state
        .db
        .billing_records(&ctx.instance.id, Kind::Payment, &Filter { parent_id: Some(invoice_id), ..Default::default() })
        .await?)
}

/// An invoice's payments inside a write (after the invoice was locked).
pub(super) async fn payments_in(tx: &mut Tx, ctx: &InstanceScope, invoice_id: &str) -> ServiceResult<Vec<Value>> {
    Ok(store::records_in(
        tx,
        &ctx.instance.id,
        Kind::Payment,
        &Filter { parent_id: Some(invoice_id), ..Default::default() },
    )
    .await?)
}

/// A stored invoice as its GET shows it, with its payments.
pub async fn rendered(state: &AppState, ctx: &InstanceScope, inv: &Value) -> ServiceResult<Value> {
    let payments = payments_of(state, ctx, inv["id"].as_str().unwrap_or_default()).await?;
    Ok(render_invoice(inv, &payments, today(state)))
}

/// Creates an invoice from a create body.
pub async fn create(state: &AppState, ctx: &InstanceScope, body: &Map<String, Value>) -> ServiceResult<Value> {
    fields::reject_unknown(
        body,
        &["patientId", "encounterId", "subscriptionId", "currency", "dueDate", "status", "lineItems"],
        &[],
    )
    .map_err(invalid)?;
    let patient_id = fields::opt_uuid("patientId", body.get("patientId").unwrap_or(&Value::Null))
        .map_err(invalid)?
        .ok_or_else(|| invalid(FieldError::new("patientId", "is required")))?;
    let p = state
        .db
        .patient(&ctx.instance.id, crate::store::patients::PatientKey::Id, &patient_id)
        .await?
        .ok_or_else(|| invalid(FieldError::new("patientId", format!("no patient {patient_id}"))))?;
    let encounter = match body.get("encounterId").and_then(Value::as_str) {
        Some(eid) => Some(
            state
                .db
                .encounter(&ctx.instance.id, &p.id, eid)
                .await?
                .ok_or_else(|| invalid(FieldError::new("encounterId", format!("the patient has no encounter {eid}"))))?
                .id,
        ),
        None => None,
    };
    if let Some(sid) = body.get("subscriptionId").and_then(Value::as_str) {
        state
            .db
            .billing_record(&ctx.instance.id, Kind::Subscription, sid)
            .await?
            .filter(|s| s["patient"]["id"] == p.id.as_str())
            .ok_or_else(|| {
                invalid(FieldError::new("subscriptionId", format!("the patient has no subscription {sid}")))
            })?;
    }
    let lines = domain::line_items(body.get("lineItems").unwrap_or(&Value::Null)).map_err(invalid)?;
    let due = domain::due_date(body.get("dueDate").unwrap_or(&Value::Null)).map_err(invalid)?;
    let status = fields::one_of("status", body.get("status").unwrap_or(&json!("PENDING")), &["DRAFT", "PENDING"])
        .map_err(invalid)?;
    let currency = money::currency("currency", body.get("currency").unwrap_or(&json!("USD"))).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let id = crate::ids::record_id();
    let mut m = stamp_new(ctx, now_ms);
    for (k, v) in [
        ("id", json!(id)),
        ("patientId", json!(p.id)),
        ("encounterId", json!(encounter)),
        ("subscriptionId", body.get("subscriptionId").cloned().unwrap_or(Value::Null)),
        ("currency", json!(currency)),
        ("dueDate", json!(due.map(|d| d.to_string()))),
        ("status", json!(status)),
        ("lines", json!(lines)),
    ] {
        m.insert(k.into(), v);
    }
    let inv = Value::Object(m);
    let total = domain::total(&lines);
    let mut tx = state.db.begin().await?;
    let keys = Keys {
        patient_id: &p.id,
        encounter_id: encounter.as_deref(),
        parent_id: None,
        status: &status,
        amount_cents: total,
    };
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, Kind::Invoice, &id, keys, &inv, now_ms).await?;
    let rendered = render_invoice(&inv, &[], today(state));
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("INVOICE", Operation::Create, &id, &rendered) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(rendered)
}

/// The invoice `id` with its line items and payments.
pub async fn read(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<Value> {
    let inv =
        state.db.billing_record(&ctx.instance.id, Kind::Invoice, id).await?.ok_or_else(|| not_found("INVOICE", id))?;
    rendered(state, ctx, &inv).await
}

/// Changes the invoice `id`: its status, and while it is DRAFT its line items and due
/// date.
pub async fn update(
    state: &AppState,
    ctx: &InstanceScope,
    id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    fields::reject_unknown(
        body,
        &["status", "lineItems", "dueDate"],
        &["id", "patientId", "amount", "subtotal", "amountPaid", "amountDue", "payments"],
    )
    .map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut inv = store::get_for_update(&mut tx, &ctx.instance.id, Kind::Invoice, id)
        .await?
        .ok_or_else(|| not_found("INVOICE", id))?;
    // Read under the invoice's lock: a payment (which takes the same lock) is either in
    // this list or waits for this update.
    let payments = payments_in(&mut tx, ctx, id).await?;
    let stored = inv["status"].as_str().unwrap_or("PENDING").to_string();
    if stored == "VOIDED" {
        return Err(ServiceError::conflict(
            "INVOICE_VOIDED",
            COMPONENT,
            "A voided invoice cannot change",
            json!({"id": id}),
        ));
    }
    if body.contains_key("lineItems") || body.contains_key("dueDate") {
        if stored != "DRAFT" {
            return Err(invalid(FieldError::new(
                if body.contains_key("lineItems") { "lineItems" } else { "dueDate" },
                "can change only while the invoice is DRAFT",
            )));
        }
        if let Some(v) = body.get("lineItems") {
            inv["lines"] = json!(domain::line_items(v).map_err(invalid)?);
        }
        if let Some(v) = body.get("dueDate") {
            inv["dueDate"] = json!(domain::due_date(v).map_err(invalid)?.map(|d| d.to_string()));
        }
    }
    if let Some(v) = body.get("status") {
        let next = fields::one_of("status", v, &["DRAFT", "PENDING", "VOIDED"]).map_err(invalid)?;
        let allowed = matches!(
            (stored.as_str(), next.as_str()),
            ("DRAFT", "PENDING") | ("DRAFT", "VOIDED") | ("PENDING", "VOIDED")
        ) || stored == next;
        if !allowed {
            return Err(ServiceError::new(
                ErrorKind::BadRequest,
                "INVALID_STATUS_TRANSITION",
                COMPONENT,
                format!("An invoice cannot go from {stored} to {next}"),
                json!({"from": stored, "to": next}),
            ));
        }
        if next == "VOIDED" && !payments.is_empty() {
            return Err(ServiceError::conflict(
                "INVOICE_HAS_PAYMENTS",
                COMPONENT,
                "An invoice with payments cannot be voided",
                json!({"payments": payments.len()}),
            ));
        }
        inv["status"] = json!(next);
    }
    stamp_update(&mut inv, ctx, now_ms);
    let lines = inv["lines"].as_array().cloned().unwrap_or_default();
    let patient_id = inv["patientId"].as_str().unwrap_or_default().to_string();
    let keys = Keys {
        patient_id: &patient_id,
        encounter_id: inv["encounterId"].as_str(),
        parent_id: None,
        status: inv["status"].as_str().unwrap_or("PENDING"),
        amount_cents: domain::total(&lines),
    };
    store::update(&mut tx, &ctx.instance.id, Kind::Invoice, id, keys, &inv, now_ms).await?;
    let rendered = render_invoice(&inv, &payments, today(state));
    ctx.record(&mut tx, Write::new("INVOICE", Operation::Update, id, &rendered), now_ms).await?;
    tx.commit().await?;
    Ok(rendered)
}

/// The id of the patient's encounter `id`, which must exist.
pub async fn encounter_of(state: &AppState, ctx: &InstanceScope, p: &Patient, id: &str) -> ServiceResult<String> {
    Ok(state.db.encounter(&ctx.instance.id, &p.id, id).await?.ok_or_else(|| not_found("ENCOUNTER", id))?.id)
}

/// The invoices `filter` selects, oldest first, rendered, of one status if `status` is
/// given (statuses depend on payments and the date, so they are filtered after).
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    filter: &Filter<'_>,
    status: Option<&str>,
) -> ServiceResult<Vec<Value>> {
    let mut out = Vec::new();
    for inv in state.db.billing_records(&ctx.instance.id, Kind::Invoice, filter).await? {
        let r = rendered(state, ctx, &inv).await?;
        if status.is_none_or(|s| r["status"] == s) {
            out.push(r);
        }
    }
    Ok(out)
}
