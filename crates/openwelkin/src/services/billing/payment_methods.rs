//! A patient's payment methods: add (the first is the default; a new default replaces
//! the old one), list, read, and delete (refused while an active subscription charges
//! the method). Never a full card number, only its last four digits. Audited as
//! `PAYMENT_METHOD`.

use super::{invalid, not_found, stamp_new, today, COMPONENT};
use crate::app::AppState;
use crate::domain::billing as domain;
use crate::events::audit::Operation;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::patients;
use crate::services::scope::{InstanceScope, Write};
use crate::store::billing::{self as store, Filter, Keys, Kind};
use serde_json::{json, Map, Value};

/// The index columns of a payment method.
fn keys(patient_id: &str) -> Keys<'_> {
    Keys { patient_id, encounter_id: None, parent_id: None, status: "ACTIVE", amount_cents: 0 }
}

/// Adds a payment method to the patient `patient_id`.
pub async fn add(
    state: &AppState,
    ctx: &InstanceScope,
    patient_id: &str,
    body: &Map<String, Value>,
) -> ServiceResult<Value> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    let fields = domain::payment_method(body, today(state)).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let id = crate::ids::record_id();
    let mut m = stamp_new(ctx, now_ms);
    m.insert("id".into(), json!(id));
    m.insert("patientId".into(), json!(p.id));
    m.extend(fields);
    let mut method = Value::Object(m);
    let mut tx = state.db.begin().await?;
    // The patient's row is locked while the default is decided, so that two methods added
    // at once do not both become the default.
    if !crate::store::patients::lock(&mut tx, &ctx.instance.id, &p.id).await? {
        return Err(not_found("PATIENT", &p.id));
    }
    let existing = store::records_in(
        &mut tx,
        &ctx.instance.id,
        Kind::PaymentMethod,
        &Filter { patient_id: Some(&p.id), ..Default::default() },
    )
    .await?;
    // The first method is the default; a new default replaces the old one.
    if existing.is_empty() {
        method["isDefault"] = json!(true);
    } else if method["isDefault"] == true {
        for mut other in existing.into_iter().filter(|o| o["isDefault"] == true) {
            other["isDefault"] = json!(false);
            let oid = other["id"].as_str().unwrap_or_default().to_string();
            store::update(&mut tx, &ctx.instance.id, Kind::PaymentMethod, &oid, keys(&p.id), &other, now_ms).await?;
        }
    }
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, Kind::PaymentMethod, &id, keys(&p.id), &method, now_ms)
        .await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("PAYMENT_METHOD", Operation::Create, &id, &method) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(method)
}

/// Every payment method of the patient `patient_id`, oldest first.
pub async fn list(state: &AppState, ctx: &InstanceScope, patient_id: &str) -> ServiceResult<Vec<Value>> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    Ok(state
        .db
        .billing_records(
            &ctx.instance.id,
            Kind::PaymentMethod,
            &Filter { patient_id: Some(&p.id), ..Default::default() },
        )
        .await?)
}

/// The payment method `id` of the patient `patient_id`.
pub async fn read(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<Value> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    state
        .db
        .billing_record(&ctx.instance.id, Kind::PaymentMethod, id)
        .await?
        .filter(|m| m["patientId"] == p.id.as_str())
        .ok_or_else(|| not_found("PAYMENT_METHOD", id))
}

/// Deletes the payment method `id` of the patient `patient_id`, unless an active
/// subscription charges it.
pub async fn delete(state: &AppState, ctx: &InstanceScope, patient_id: &str, id: &str) -> ServiceResult<()> {
    let p = patients::by_id(state, ctx, patient_id).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // Locked: a subscription created meanwhile (which locks the method too) is seen below.
    let method = store::get_for_update(&mut tx, &ctx.instance.id, Kind::PaymentMethod, id)
        .await?
        .filter(|m| m["patientId"] == p.id.as_str())
        .ok_or_else(|| not_found("PAYMENT_METHOD", id))?;
    let subs = store::records_in(
        &mut tx,
        &ctx.instance.id,
        Kind::Subscription,
        &Filter { patient_id: Some(&p.id), ..Default::default() },
    )
    .await?;
    if let Some(s) = subs.iter().find(|s| s["paymentTypeInfo"]["paymentMethodId"] == id && s["status"] != "CANCELLED") {
        return Err(ServiceError::conflict(
            "PAYMENT_METHOD_IN_USE",
            COMPONENT,
            "An active subscription charges this payment method",
            json!({"subscriptionId": s["id"]}),
        ));
    }
    store::delete(&mut tx, &ctx.instance.id, Kind::PaymentMethod, id).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("PAYMENT_METHOD", Operation::Delete, id, &method) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
