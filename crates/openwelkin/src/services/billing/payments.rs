//! Payments against invoices: add (no more than the amount due, never to a DRAFT,
//! VOIDED or PAID invoice), a patient's payments by status and payment date, and one
//! payment. Audited as `PAYMENT`.

use super::invoices::payments_in;
use super::{invalid, not_found, stamp_new, today, COMPONENT};
use crate::app::AppState;
use crate::domain::billing::{self as domain, render_invoice, render_payment};
use crate::domain::patient::Patient;
use crate::domain::{fields, money, FieldError};
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::patients;
use crate::services::scope::{InstanceScope, Write};
use crate::store::billing::{self as store, Filter, Keys, Kind};
use serde_json::{json, Map, Value};

/// Records a payment (`{amount, method, paidAt}`) against the invoice `invoice_id`.
pub async fn add(
    state: &AppState,
    ctx: &InstanceScope,
    invoice_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    fields::reject_unknown(body, &["amount", "method", "paidAt"], &[]).map_err(invalid)?;
    let amount = money::parse_amount("amount", body.get("amount").unwrap_or(&Value::Null)).map_err(invalid)?;
    if amount == 0 {
        return Err(invalid(FieldError::new("amount", "must be more than zero")));
    }
    let method = fields::one_of("method", body.get("method").unwrap_or(&Value::Null), domain::PAYMENT_METHODS)
        .map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let paid_at = match body.get("paidAt").and_then(Value::as_str) {
        Some(s) => crate::time::format(
            crate::time::parse_datetime(s)
                .ok_or_else(|| invalid(FieldError::new("paidAt", "must be an ISO-8601 datetime")))?,
        ),
        None => crate::time::format_ms(now_ms),
    };
    let mut tx = state.db.begin().await?;
    let inv = store::get_for_update(&mut tx, &ctx.instance.id, Kind::Invoice, invoice_id)
        .await?
        .ok_or_else(|| not_found("INVOICE", invoice_id))?;
    // The invoice is locked: payments at once are checked one after the other against
    // what is due, never all against the same amount.
    let payments = payments_in(&mut tx, ctx, invoice_id).await?;
    let rendered = render_invoice(&inv, &payments, today(state));
    if matches!(rendered["status"].as_str(), Some("DRAFT" | "VOIDED" | "PAID")) {
        return Err(ServiceError::conflict(
            "INVOICE_NOT_PAYABLE",
            COMPONENT,
            format!("A {} invoice takes no payment", rendered["status"].as_str().unwrap_or_default()),
            json!({"status": rendered["status"]}),
        ));
    }
    let due = money::parse_cents("amountDue", &rendered["amountDue"]).unwrap_or(0);
    if amount > due {
        return Err(invalid(FieldError::new(
            "amount",
            format!("is more than the amount due ({})", rendered["amountDue"]),
        )));
    }
    let id = crate::ids::record_id();
    let patient_id = inv["patientId"].as_str().unwrap_or_default().to_string();
    let mut m = stamp_new(ctx, now_ms);
    for (k, v) in [
        ("id", json!(id)),
        ("patientId", json!(patient_id)),
        ("encounterId", inv["encounterId"].clone()),
        ("invoiceId", json!(invoice_id)),
        ("amountCents", json!(amount)),
        ("currency", inv["currency"].clone()),
        ("status", json!("PAID")),
        ("method", json!(method)),
        ("paidAt", json!(paid_at)),
    ] {
        m.insert(k.into(), v);
    }
    let payment = Value::Object(m);
    let keys = Keys {
        patient_id: &patient_id,
        encounter_id: inv["encounterId"].as_str(),
        parent_id: Some(invoice_id),
        status: "PAID",
        amount_cents: amount,
    };
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, Kind::Payment, &id, keys, &payment, now_ms).await?;
    let out = render_payment(&payment);
    ctx.record(&mut tx, Write::new("PAYMENT", Operation::Create, &id, &out), now_ms).await?;
    tx.commit().await?;
    Ok(out)
}

/// The patient's payments, oldest first, of one status if `status` is given and paid
/// between `from` and `to` (epoch ms, both included) if given.
pub async fn list(
    state: &AppState,
    ctx: &InstanceScope,
    p: &Patient,
    status: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
) -> ServiceResult<Vec<Value>> {
    Ok(state
        .db
        .billing_records(&ctx.instance.id, Kind::Payment, &Filter { patient_id: Some(&p.id), ..Default::default() })
        .await?
        .into_iter()
        .filter(|x| status.is_none_or(|s| x["status"] == s))
        .filter(|x| {
            let at =
                x["paidAt"].as_str().and_then(crate::time::parse_datetime).map(|t| t.timestamp_millis()).unwrap_or(0);
            from.is_none_or(|f| at >= f) && to.is_none_or(|t| at <= t)
        })
        .map(|x| render_payment(&x))
        .collect())
}

/// The payment `id` of the patient `patient_id`.
pub async fn read(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    let x = state
        .db
        .billing_record(&ctx.instance.id, Kind::Payment, id)
        .await?
        .filter(|x| x["patientId"] == p.id.as_str())
        .ok_or_else(|| not_found("PAYMENT", id))?;
    Ok(render_payment(&x))
}
