//! Subscriptions: create (charged automatically to one of the patient's payment methods,
//! or paid by hand), read, list and cancel. Status, end date and next billing date are
//! computed when read (`domain::billing::render_subscription`). Audited as
//! `SUBSCRIPTION`.

use super::{invalid, not_found, stamp_new, stamp_update, today, COMPONENT};
use crate::app::AppState;
use crate::domain::billing::{self as domain, render_subscription};
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::scope::{InstanceScope, Write};
use crate::store::billing::{self as store, Filter, Keys, Kind};
use serde_json::{json, Map, Value};

/// Creates a subscription from a create body.
pub async fn create(state: &AppState, ctx: &InstanceScope, body: &Map<String, Value>) -> ServiceResult<Value> {
    let input = domain::subscription(body).map_err(invalid)?;
    let p = state
        .db
        .patient(&ctx.instance.id, crate::store::patients::PatientKey::Id, &input.patient)
        .await?
        .ok_or_else(|| invalid(FieldError::new("patient.id", format!("no patient {}", input.patient))))?;
    let member = state
        .db
        .user(&ctx.tenant.id, &input.care_member, true)
        .await?
        .ok_or_else(|| invalid(FieldError::new("careMember.id", format!("no user {}", input.care_member))))?;
    let charged = match (input.payment_type.as_str(), &input.payment_method) {
        ("AUTO_CHARGE", None) => {
            return Err(invalid(FieldError::new(
                "paymentTypeInfo.paymentMethodId",
                "is required to charge automatically",
            )))
        }
        ("AUTO_CHARGE", Some(method)) => Some(method.clone()),
        _ => None,
    };
    let now_ms = state.clock.now_ms();
    let id = crate::ids::record_id();
    let mut m = stamp_new(ctx, now_ms);
    for (k, v) in [
        ("id", json!(id)),
        ("name", json!(input.name)),
        ("billingPeriod", json!(input.period)),
        (
            "careMember",
            json!({"id": member.id, "name": format!("{} {}", member.first_name.unwrap_or_default(), member.last_name.unwrap_or_default()).trim()}),
        ),
        ("patient", json!({"id": p.id, "name": p.full_name()})),
        ("paymentTypeInfo", json!({"paymentType": input.payment_type, "paymentMethodId": input.payment_method})),
        ("price", json!({"amountCents": input.price_cents, "currency": input.currency})),
        ("startDate", json!(input.start.to_string())),
        ("numberOfCycles", json!(input.cycles)),
        ("status", json!("ACTIVE")),
        ("cancelledAt", Value::Null),
    ] {
        m.insert(k.into(), v);
    }
    let sub = Value::Object(m);
    let mut tx = state.db.begin().await?;
    if let Some(method) = &charged {
        // Locked, so that the method is not deleted while this subscription comes to use it.
        store::get_for_update(&mut tx, &ctx.instance.id, Kind::PaymentMethod, method)
            .await?
            .filter(|m| m["patientId"] == p.id.as_str())
            .ok_or_else(|| {
                invalid(FieldError::new(
                    "paymentTypeInfo.paymentMethodId",
                    format!("the patient has no payment method {method}"),
                ))
            })?;
    }
    let keys = Keys {
        patient_id: &p.id,
        encounter_id: None,
        parent_id: None,
        status: "ACTIVE",
        amount_cents: input.price_cents,
    };
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, Kind::Subscription, &id, keys, &sub, now_ms).await?;
    let rendered = render_subscription(&sub, today(state));
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("SUBSCRIPTION", Operation::Create, &id, &rendered) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(rendered)
}

/// The subscription `id`, with its end and next billing date.
pub async fn read(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<Value> {
    let s = state
        .db
        .billing_record(&ctx.instance.id, Kind::Subscription, id)
        .await?
        .ok_or_else(|| not_found("SUBSCRIPTION", id))?;
    Ok(render_subscription(&s, today(state)))
}

/// Every subscription, or those of one patient, oldest first.
pub async fn list(state: &AppState, ctx: &InstanceScope, patient_id: Option<&str>) -> ServiceResult<Vec<Value>> {
    let all = state
        .db
        .billing_records(&ctx.instance.id, Kind::Subscription, &Filter { patient_id, ..Default::default() })
        .await?;
    let day = today(state);
    Ok(all.iter().map(|s| render_subscription(s, day)).collect())
}

/// Cancels the active subscription `id`: no further cycles are billed.
pub async fn cancel(state: &AppState, ctx: &InstanceScope, id: &str) -> ServiceResult<Value> {
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut s = store::get_for_update(&mut tx, &ctx.instance.id, Kind::Subscription, id)
        .await?
        .ok_or_else(|| not_found("SUBSCRIPTION", id))?;
    let status = render_subscription(&s, today(state))["status"].clone();
    if status != "ACTIVE" {
        return Err(ServiceError::conflict(
            "SUBSCRIPTION_NOT_ACTIVE",
            COMPONENT,
            format!("The subscription is {status}"),
            json!({"status": status}),
        ));
    }
    s["status"] = json!("CANCELLED");
    s["cancelledAt"] = json!(crate::time::format_ms(now_ms));
    stamp_update(&mut s, ctx, now_ms);
    let patient_id = s["patient"]["id"].as_str().unwrap_or_default().to_string();
    let keys = Keys {
        patient_id: &patient_id,
        encounter_id: None,
        parent_id: None,
        status: "CANCELLED",
        amount_cents: s["price"]["amountCents"].as_i64().unwrap_or(0),
    };
    store::update(&mut tx, &ctx.instance.id, Kind::Subscription, id, keys, &s, now_ms).await?;
    let rendered = render_subscription(&s, today(state));
    ctx.record(&mut tx, Write::new("SUBSCRIPTION", Operation::Update, id, &rendered), now_ms).await?;
    tx.commit().await?;
    Ok(rendered)
}
