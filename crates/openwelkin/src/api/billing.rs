//! Billing: payment methods and invoices of patients, subscriptions, payments against
//! invoices. Welkin documents the reads (`/invoices`, `/patients/{id}/payments`) and the
//! subscription create; the rest follows the same conventions and is marked as an
//! openwelkin extension in the OpenAPI document. Money is exact: integer cents inside,
//! decimal JSON numbers outside.

use super::body::JsonObject;
use super::caller::{InstanceCaller, Write};
use super::cdts::{date_param, patient};
use super::error::{ApiError, ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::domain::billing as domain;
use crate::domain::money;
use crate::domain::FieldError;
use crate::events::audit::Operation;
use crate::store::billing::{self as store, Filter, Keys, Kind};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

const COMPONENT: &str = "BILLING";

fn invalid(e: FieldError) -> ApiError {
    ApiError::invalid_field(COMPONENT, e)
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::not_found(
        &format!("{what}_NOT_FOUND"),
        COMPONENT,
        &format!("{} not found", what.replace('_', " ").to_lowercase()),
        json!({"id": id}),
    )
}

fn today(state: &AppState) -> NaiveDate {
    state.clock.now().date_naive()
}

fn stamp_new(ctx: &InstanceCaller, now_ms: i64) -> Map<String, Value> {
    let actor = ctx.actor();
    let now = crate::time::format_ms(now_ms);
    let mut m = Map::new();
    m.insert("createdAt".into(), json!(now));
    m.insert("updatedAt".into(), json!(now));
    m.insert("createdBy".into(), json!(actor.id));
    m.insert("createdByName".into(), json!(actor.full_name()));
    m.insert("updatedBy".into(), json!(actor.id));
    m.insert("updatedByName".into(), json!(actor.full_name()));
    m
}

fn stamp_update(body: &mut Value, ctx: &InstanceCaller, now_ms: i64) {
    let actor = ctx.actor();
    body["updatedAt"] = json!(crate::time::format_ms(now_ms));
    body["updatedBy"] = json!(actor.id);
    body["updatedByName"] = json!(actor.full_name());
}

fn page_of(params: &Params, all: Vec<Value>) -> ApiResult<MetaInfoPage<Value>> {
    let page = PageRequest::parse(params, |_| None)?;
    let total = all.len() as i64;
    Ok(MetaInfoPage::new(all.into_iter().skip(page.offset() as usize).take(page.size as usize).collect(), &page, total))
}

// ----- payment methods ---------------------------------------------------------------

/// Add a payment method to a patient (never a full card number). Extension.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/payment-methods", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body(content = Object, description = "{type: CARD|BANK_ACCOUNT, brand, last4, expMonth, expYear, holderName, isDefault}"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn add_method(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Billing, Op::Create)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let fields = domain::payment_method(&body, today(&state)).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let id = crate::ids::new_id();
    let mut m = stamp_new(&ctx, now_ms);
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
            store::update(
                &mut tx,
                &ctx.instance.id,
                Kind::PaymentMethod,
                &oid,
                Keys { patient_id: &p.id, encounter_id: None, parent_id: None, status: "ACTIVE", amount_cents: 0 },
                &other,
                now_ms,
            )
            .await?;
        }
    }
    store::insert(
        &mut tx,
        &ctx.tenant.id,
        &ctx.instance.id,
        Kind::PaymentMethod,
        &id,
        Keys { patient_id: &p.id, encounter_id: None, parent_id: None, status: "ACTIVE", amount_cents: 0 },
        &method,
        now_ms,
    )
    .await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("PAYMENT_METHOD", Operation::Create, &id, &method) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(method)))
}

/// A patient's payment methods (`{data, metaInfo}`). Extension.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/payment-methods", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn list_methods(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Billing, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let all = state
        .db
        .billing_records(
            &ctx.instance.id,
            Kind::PaymentMethod,
            &Filter { patient_id: Some(&p.id), ..Default::default() },
        )
        .await?;
    Ok(Json(page_of(&params, all)?))
}

async fn method_of(state: &AppState, ctx: &InstanceCaller, patient_id: &str, id: &str) -> ApiResult<Value> {
    state
        .db
        .billing_record(&ctx.instance.id, Kind::PaymentMethod, id)
        .await?
        .filter(|m| m["patientId"] == patient_id)
        .ok_or_else(|| not_found("PAYMENT_METHOD", id))
}

/// One payment method. Extension.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/payment-methods/{methodId}", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("methodId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn read_method(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Billing, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    Ok(Json(method_of(&state, &ctx, &p.id, &path.3).await?))
}

/// Remove a payment method; refused while an active subscription charges it. Extension.
#[utoipa::path(
    delete, path = "/{tenant}/{instance}/patients/{patientId}/payment-methods/{methodId}", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("methodId" = String, Path)),
    responses((status = 200, description = "Deleted; empty body"), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn delete_method(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    ctx.require(Family::Billing, Op::Delete)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // Locked: a subscription created meanwhile (which locks the method too) is seen below.
    let method = store::get_for_update(&mut tx, &ctx.instance.id, Kind::PaymentMethod, &path.3)
        .await?
        .filter(|m| m["patientId"] == p.id.as_str())
        .ok_or_else(|| not_found("PAYMENT_METHOD", &path.3))?;
    let subs = store::records_in(
        &mut tx,
        &ctx.instance.id,
        Kind::Subscription,
        &Filter { patient_id: Some(&p.id), ..Default::default() },
    )
    .await?;
    if let Some(s) =
        subs.iter().find(|s| s["paymentTypeInfo"]["paymentMethodId"] == path.3.as_str() && s["status"] != "CANCELLED")
    {
        return Err(ApiError::conflict(
            "PAYMENT_METHOD_IN_USE",
            COMPONENT,
            "An active subscription charges this payment method",
            json!({"subscriptionId": s["id"]}),
        ));
    }
    store::delete(&mut tx, &ctx.instance.id, Kind::PaymentMethod, &path.3).await?;
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("PAYMENT_METHOD", Operation::Delete, &path.3, &method) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}

// ----- subscriptions -----------------------------------------------------------------

pub(crate) fn render_subscription(s: &Value, today: NaiveDate) -> Value {
    let mut out = s.clone();
    let start = s["startDate"].as_str().and_then(crate::time::parse_date);
    let period = s["billingPeriod"].as_str().unwrap_or("MONTHLY");
    let cycles = s["numberOfCycles"].as_i64();
    let (end, next) = start.map(|st| domain::schedule(st, period, cycles, today)).unwrap_or((None, None));
    let status = match s["status"].as_str() {
        Some("CANCELLED") => "CANCELLED",
        _ if cycles.is_some() && next.is_none() => "COMPLETED",
        _ => "ACTIVE",
    };
    out["status"] = json!(status);
    out["endDate"] = json!(end.map(|d| d.to_string()));
    out["nextBillingDate"] = json!(if status == "ACTIVE" { next.map(|d| d.to_string()) } else { None });
    out["price"] = json!({"amount": money::to_json(s["price"]["amountCents"].as_i64().unwrap_or(0)), "currency": s["price"]["currency"]});
    out
}

/// Create a subscription for a patient (as Welkin's Postman collection shows).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/payment/subscriptions", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content = Object, description = "{name, billingPeriod, careMember:{id}, patient:{id}, paymentTypeInfo:{paymentType, paymentMethodId}, price:{amount, currency}, startDate, numberOfCycles}"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_subscription(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Billing, Op::Create)?;
    let input = domain::subscription(&body).map_err(invalid)?;
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
    let id = crate::ids::new_id();
    let mut m = stamp_new(&ctx, now_ms);
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
    let rendered = render_subscription(&sub, today(&state));
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("SUBSCRIPTION", Operation::Create, &id, &rendered) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(rendered)))
}

/// One subscription, with its end and next billing date. Extension.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/payment/subscriptions/{subscriptionId}", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("subscriptionId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn read_subscription(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Billing, Op::Read)?;
    let s = state
        .db
        .billing_record(&ctx.instance.id, Kind::Subscription, &path.2)
        .await?
        .ok_or_else(|| not_found("SUBSCRIPTION", &path.2))?;
    Ok(Json(render_subscription(&s, today(&state))))
}

/// Subscriptions, optionally of one patient (`{data, metaInfo}`). Extension.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/payment/subscriptions", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = Option<String>, Query), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Billing, Op::Read)?;
    let patient_id = params.text("patientId");
    let all = state
        .db
        .billing_records(
            &ctx.instance.id,
            Kind::Subscription,
            &Filter { patient_id: patient_id.as_deref(), ..Default::default() },
        )
        .await?;
    let day = today(&state);
    Ok(Json(page_of(&params, all.iter().map(|s| render_subscription(s, day)).collect())?))
}

/// Cancel a subscription: no further cycles are billed. Extension.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/payment/subscriptions/{subscriptionId}/cancel", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("subscriptionId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn cancel_subscription(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Billing, Op::Update)?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut s = store::get_for_update(&mut tx, &ctx.instance.id, Kind::Subscription, &path.2)
        .await?
        .ok_or_else(|| not_found("SUBSCRIPTION", &path.2))?;
    let status = render_subscription(&s, today(&state))["status"].clone();
    if status != "ACTIVE" {
        return Err(ApiError::conflict(
            "SUBSCRIPTION_NOT_ACTIVE",
            COMPONENT,
            format!("The subscription is {status}"),
            json!({"status": status}),
        ));
    }
    s["status"] = json!("CANCELLED");
    s["cancelledAt"] = json!(crate::time::format_ms(now_ms));
    stamp_update(&mut s, &ctx, now_ms);
    let patient_id = s["patient"]["id"].as_str().unwrap_or_default().to_string();
    let keys = Keys {
        patient_id: &patient_id,
        encounter_id: None,
        parent_id: None,
        status: "CANCELLED",
        amount_cents: s["price"]["amountCents"].as_i64().unwrap_or(0),
    };
    store::update(&mut tx, &ctx.instance.id, Kind::Subscription, &path.2, keys, &s, now_ms).await?;
    let rendered = render_subscription(&s, today(&state));
    ctx.record(&mut tx, Write::new("SUBSCRIPTION", Operation::Update, &path.2, &rendered), now_ms).await?;
    tx.commit().await?;
    Ok(Json(rendered))
}

// ----- invoices and payments -----------------------------------------------------------

fn render_invoice(inv: &Value, payments: &[Value], today: NaiveDate) -> Value {
    let lines = inv["lines"].as_array().cloned().unwrap_or_default();
    let total = domain::total(&lines);
    let paid: i64 = payments.iter().map(|p| p["amountCents"].as_i64().unwrap_or(0)).sum();
    let due = inv["dueDate"].as_str().and_then(crate::time::parse_date);
    let mut out = inv.clone();
    let o = out.as_object_mut().expect("invoices are objects");
    o.remove("lines");
    o.insert(
        "status".into(),
        json!(domain::invoice_status(inv["status"].as_str().unwrap_or("PENDING"), total, paid, due, today)),
    );
    o.insert("lineItems".into(), json!(domain::render_lines(&lines)));
    o.insert("subtotal".into(), money::to_json(total));
    o.insert("amount".into(), money::to_json(total));
    o.insert("amountPaid".into(), money::to_json(paid));
    o.insert("amountDue".into(), money::to_json((total - paid).max(0)));
    o.insert("payments".into(), json!(payments.iter().map(render_payment).collect::<Vec<_>>()));
    out
}

pub(crate) fn render_payment(p: &Value) -> Value {
    let mut out = p.clone();
    let o = out.as_object_mut().expect("payments are objects");
    let cents = o.remove("amountCents").and_then(|v| v.as_i64()).unwrap_or(0);
    o.insert("amount".into(), money::to_json(cents));
    out
}

async fn payments_of(state: &AppState, ctx: &InstanceCaller, invoice_id: &str) -> ApiResult<Vec<Value>> {
    Ok(state
        .db
        .billing_records(&ctx.instance.id, Kind::Payment, &Filter { parent_id: Some(invoice_id), ..Default::default() })
        .await?)
}

/// An invoice's payments inside a write (after the invoice was locked).
async fn payments_in(tx: &mut crate::store::Tx, ctx: &InstanceCaller, invoice_id: &str) -> ApiResult<Vec<Value>> {
    Ok(store::records_in(
        tx,
        &ctx.instance.id,
        Kind::Payment,
        &Filter { parent_id: Some(invoice_id), ..Default::default() },
    )
    .await?)
}

pub(crate) async fn rendered_invoice(state: &AppState, ctx: &InstanceCaller, inv: &Value) -> ApiResult<Value> {
    let payments = payments_of(state, ctx, inv["id"].as_str().unwrap_or_default()).await?;
    Ok(render_invoice(inv, &payments, today(state)))
}

/// Create an invoice: line items (description, quantity, unitAmount) whose totals are
/// computed; status DRAFT or PENDING (default). Extension.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/invoices", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body(content = Object, description = "{patientId, encounterId, subscriptionId, currency, dueDate, status, lineItems:[{description, quantity, unitAmount}]}"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn create_invoice(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Billing, Op::Create)?;
    crate::domain::fields::reject_unknown(
        &body,
        &["patientId", "encounterId", "subscriptionId", "currency", "dueDate", "status", "lineItems"],
        &[],
    )
    .map_err(invalid)?;
    let patient_id = crate::domain::fields::opt_uuid("patientId", body.get("patientId").unwrap_or(&Value::Null))
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
    let status =
        crate::domain::fields::one_of("status", body.get("status").unwrap_or(&json!("PENDING")), &["DRAFT", "PENDING"])
            .map_err(invalid)?;
    let currency = money::currency("currency", body.get("currency").unwrap_or(&json!("USD"))).map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let id = crate::ids::new_id();
    let mut m = stamp_new(&ctx, now_ms);
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
    let rendered = render_invoice(&inv, &[], today(&state));
    ctx.record(
        &mut tx,
        Write { patient: Some(&p), ..Write::new("INVOICE", Operation::Create, &id, &rendered) },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(rendered)))
}

/// One invoice with its line items and payments.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/invoices/{invoiceId}", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("invoiceId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_invoice(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Billing, Op::Read)?;
    let inv = state
        .db
        .billing_record(&ctx.instance.id, Kind::Invoice, &path.2)
        .await?
        .ok_or_else(|| not_found("INVOICE", &path.2))?;
    Ok(Json(rendered_invoice(&state, &ctx, &inv).await?))
}

/// Change an invoice: DRAFT → PENDING, DRAFT/PENDING → VOIDED (without payments); line
/// items, due date and encounter while DRAFT. Extension.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/invoices/{invoiceId}", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("invoiceId" = String, Path)),
    request_body(content = Object, description = "{status, lineItems, dueDate}"),
    responses((status = 200, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn update_invoice(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Billing, Op::Update)?;
    crate::domain::fields::reject_unknown(
        &body,
        &["status", "lineItems", "dueDate"],
        &["id", "patientId", "amount", "subtotal", "amountPaid", "amountDue", "payments"],
    )
    .map_err(invalid)?;
    let now_ms = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut inv = store::get_for_update(&mut tx, &ctx.instance.id, Kind::Invoice, &path.2)
        .await?
        .ok_or_else(|| not_found("INVOICE", &path.2))?;
    // Read under the invoice's lock: a payment (which takes the same lock) is either in
    // this list or waits for this update.
    let payments = payments_in(&mut tx, &ctx, &path.2).await?;
    let stored = inv["status"].as_str().unwrap_or("PENDING").to_string();
    if stored == "VOIDED" {
        return Err(ApiError::conflict(
            "INVOICE_VOIDED",
            COMPONENT,
            "A voided invoice cannot change",
            json!({"id": path.2}),
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
        let next = crate::domain::fields::one_of("status", v, &["DRAFT", "PENDING", "VOIDED"]).map_err(invalid)?;
        let allowed = matches!(
            (stored.as_str(), next.as_str()),
            ("DRAFT", "PENDING") | ("DRAFT", "VOIDED") | ("PENDING", "VOIDED")
        ) || stored == next;
        if !allowed {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_STATUS_TRANSITION",
                COMPONENT,
                format!("An invoice cannot go from {stored} to {next}"),
                json!({"from": stored, "to": next}),
            ));
        }
        if next == "VOIDED" && !payments.is_empty() {
            return Err(ApiError::conflict(
                "INVOICE_HAS_PAYMENTS",
                COMPONENT,
                "An invoice with payments cannot be voided",
                json!({"payments": payments.len()}),
            ));
        }
        inv["status"] = json!(next);
    }
    stamp_update(&mut inv, &ctx, now_ms);
    let lines = inv["lines"].as_array().cloned().unwrap_or_default();
    let patient_id = inv["patientId"].as_str().unwrap_or_default().to_string();
    let keys = Keys {
        patient_id: &patient_id,
        encounter_id: inv["encounterId"].as_str(),
        parent_id: None,
        status: inv["status"].as_str().unwrap_or("PENDING"),
        amount_cents: domain::total(&lines),
    };
    store::update(&mut tx, &ctx.instance.id, Kind::Invoice, &path.2, keys, &inv, now_ms).await?;
    let rendered = render_invoice(&inv, &payments, today(&state));
    ctx.record(&mut tx, Write::new("INVOICE", Operation::Update, &path.2, &rendered), now_ms).await?;
    tx.commit().await?;
    Ok(Json(rendered))
}

async fn list_invoices_where(
    state: &AppState,
    ctx: &InstanceCaller,
    params: &Params,
    filter: Filter<'_>,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    let status = params.text("status").map(|s| s.to_ascii_uppercase());
    let filter =
        Filter { created_from: date_param(params, "startDate")?, created_to: date_param(params, "endDate")?, ..filter };
    let mut out = Vec::new();
    for inv in state.db.billing_records(&ctx.instance.id, Kind::Invoice, &filter).await? {
        let r = rendered_invoice(state, ctx, &inv).await?;
        if status.as_deref().is_none_or(|s| r["status"] == s) {
            out.push(r);
        }
    }
    Ok(Json(page_of(params, out)?))
}

/// Invoices of the instance (`{data, metaInfo}`), by status and creation date.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/invoices", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("status" = Option<String>, Query), ("startDate" = Option<String>, Query),
           ("endDate" = Option<String>, Query), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>)),
    security(("bearer" = []))
)]
pub async fn list_invoices(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Billing, Op::Read)?;
    list_invoices_where(&state, &ctx, &params, Filter::default()).await
}

/// A patient's invoices.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/invoices", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("status" = Option<String>, Query),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_patient_invoices(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Billing, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    list_invoices_where(&state, &ctx, &params, Filter { patient_id: Some(&p.id), ..Default::default() }).await
}

/// The invoices of an encounter.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/invoices", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_encounter_invoices(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Billing, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let e =
        state.db.encounter(&ctx.instance.id, &p.id, &path.3).await?.ok_or_else(|| not_found("ENCOUNTER", &path.3))?;
    list_invoices_where(
        &state,
        &ctx,
        &params,
        Filter { patient_id: Some(&p.id), encounter_id: Some(&e.id), ..Default::default() },
    )
    .await
}

/// Record a payment against an invoice (no more than the amount due). Extension.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/invoices/{invoiceId}/payments", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("invoiceId" = String, Path)),
    request_body(content = Object, description = "{amount, method: CREDIT_CARD|ACH|CASH|CHECK|OTHER, paidAt}"),
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>), (status = 409, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn add_payment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Billing, Op::Create)?;
    crate::domain::fields::reject_unknown(&body, &["amount", "method", "paidAt"], &[]).map_err(invalid)?;
    let amount = money::parse_amount("amount", body.get("amount").unwrap_or(&Value::Null)).map_err(invalid)?;
    if amount == 0 {
        return Err(invalid(FieldError::new("amount", "must be more than zero")));
    }
    let method =
        crate::domain::fields::one_of("method", body.get("method").unwrap_or(&Value::Null), domain::PAYMENT_METHODS)
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
    let inv = store::get_for_update(&mut tx, &ctx.instance.id, Kind::Invoice, &path.2)
        .await?
        .ok_or_else(|| not_found("INVOICE", &path.2))?;
    // The invoice is locked: payments at once are checked one after the other against
    // what is due, never all against the same amount.
    let payments = payments_in(&mut tx, &ctx, &path.2).await?;
    let rendered = render_invoice(&inv, &payments, today(&state));
    if matches!(rendered["status"].as_str(), Some("DRAFT" | "VOIDED" | "PAID")) {
        return Err(ApiError::conflict(
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
    let id = crate::ids::new_id();
    let patient_id = inv["patientId"].as_str().unwrap_or_default().to_string();
    let mut m = stamp_new(&ctx, now_ms);
    for (k, v) in [
        ("id", json!(id)),
        ("patientId", json!(patient_id)),
        ("encounterId", inv["encounterId"].clone()),
        ("invoiceId", json!(path.2)),
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
        parent_id: Some(&path.2),
        status: "PAID",
        amount_cents: amount,
    };
    store::insert(&mut tx, &ctx.tenant.id, &ctx.instance.id, Kind::Payment, &id, keys, &payment, now_ms).await?;
    let out = render_payment(&payment);
    ctx.record(&mut tx, Write::new("PAYMENT", Operation::Create, &id, &out), now_ms).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// The docs site's flat page: `{content, totalElements, totalPages, page, size}` (with
/// `last`, so that clients know when to stop).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlatPage {
    #[schema(value_type = Vec<Object>)]
    pub content: Vec<Value>,
    pub total_elements: i64,
    pub total_pages: i64,
    pub page: i64,
    pub size: i64,
    pub last: bool,
}

/// A patient's payments, by status and payment date.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/payments", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("status" = Option<String>, Query),
           ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = FlatPage), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_payments(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<FlatPage>> {
    ctx.require(Family::Billing, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let page = PageRequest::parse(&params, |_| None)?;
    let status = params.text("status").map(|s| s.to_ascii_uppercase());
    let (from, to) = (date_param(&params, "startDate")?, date_param(&params, "endDate")?);
    let all: Vec<Value> = state
        .db
        .billing_records(&ctx.instance.id, Kind::Payment, &Filter { patient_id: Some(&p.id), ..Default::default() })
        .await?
        .into_iter()
        .filter(|x| status.as_deref().is_none_or(|s| x["status"] == s))
        .filter(|x| {
            let at =
                x["paidAt"].as_str().and_then(crate::time::parse_datetime).map(|t| t.timestamp_millis()).unwrap_or(0);
            from.is_none_or(|f| at >= f) && to.is_none_or(|t| at <= t)
        })
        .map(|x| render_payment(&x))
        .collect();
    let total = all.len() as i64;
    let total_pages = (total + page.size - 1) / page.size;
    let content = all.into_iter().skip(page.offset() as usize).take(page.size as usize).collect();
    Ok(Json(FlatPage {
        content,
        total_elements: total,
        total_pages,
        page: page.page,
        size: page.size,
        last: page.page + 1 >= total_pages,
    }))
}

/// One payment.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/payments/{paymentId}", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("paymentId" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn read_payment(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    ctx.require(Family::Billing, Op::Read)?;
    let p = patient(&state, &ctx, &path.2).await?;
    let x = state
        .db
        .billing_record(&ctx.instance.id, Kind::Payment, &path.3)
        .await?
        .filter(|x| x["patientId"] == p.id.as_str())
        .ok_or_else(|| not_found("PAYMENT", &path.3))?;
    Ok(Json(render_payment(&x)))
}
