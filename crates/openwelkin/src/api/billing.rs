//! Billing: payment methods and invoices of patients, subscriptions, payments against
//! invoices. Welkin documents the reads (`/invoices`, `/patients/{id}/payments`) and the
//! subscription create; the rest follows the same conventions and is marked as an
//! openwelkin extension in the OpenAPI document. Money is exact: integer cents inside,
//! decimal JSON numbers outside. The use cases are `services::billing`; here are the
//! routes, their parameters and answers.

use super::body::JsonObject;
use super::caller::InstanceCaller;
use super::cdts::date_param;
use super::error::{ApiResult, ErrorItem};
use super::paging::{MetaInfoPage, PageRequest};
use super::params::Params;
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::policy::{Family, Op};
use crate::services::billing::{invoices, payment_methods, payments, subscriptions};
use crate::services::patients;
use crate::store::billing::Filter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// One page of a list read whole (a patient has few billing records).
fn page_of(params: &Params, all: Vec<Value>) -> ApiResult<MetaInfoPage<Value>> {
    let page = PageRequest::parse(params, |_| None)?;
    let total = all.len() as i64;
    Ok(MetaInfoPage::new(all.into_iter().skip(page.offset() as usize).take(page.size as usize).collect(), &page, total))
}

/// The `startDate` and `endDate` filters on creation time.
fn created_between<'a>(params: &Params, filter: Filter<'a>) -> ApiResult<Filter<'a>> {
    Ok(Filter { created_from: date_param(params, "startDate")?, created_to: date_param(params, "endDate")?, ..filter })
}

// ----- payment methods ---------------------------------------------------------------

/// Add a payment method to a patient (never a full card number). Extension.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/patients/{patientId}/payment-methods", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path)),
    request_body = crate::api::schemas::billing::PaymentMethodCreate,
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
    Ok((StatusCode::CREATED, Json(payment_methods::add(&state, &ctx, &path.2, &body).await?)))
}

/// A patient's payment methods (`{data, metaInfo}`). Extension.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/payment-methods", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn list_methods(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Billing, Op::Read)?;
    let all = payment_methods::list(&state, &ctx, &path.2).await?;
    Ok(Json(page_of(&params, all)?))
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
    Ok(Json(payment_methods::read(&state, &ctx, &path.2, &path.3).await?))
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
    payment_methods::delete(&state, &ctx, &path.2, &path.3).await?;
    Ok(StatusCode::OK)
}

// ----- subscriptions -----------------------------------------------------------------

/// Create a subscription for a patient (as Welkin's Postman collection shows).
#[utoipa::path(
    post, path = "/{tenant}/{instance}/payment/subscriptions", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body = crate::api::schemas::billing::SubscriptionCreate,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn create_subscription(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Billing, Op::Create)?;
    Ok((StatusCode::CREATED, Json(subscriptions::create(&state, &ctx, &body).await?)))
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
    Ok(Json(subscriptions::read(&state, &ctx, &path.2).await?))
}

/// Subscriptions, optionally of one patient (`{data, metaInfo}`). Extension.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/payment/subscriptions", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = Option<String>, Query), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Billing, Op::Read)?;
    let patient_id = params.text("patientId");
    let all = subscriptions::list(&state, &ctx, patient_id.as_deref()).await?;
    Ok(Json(page_of(&params, all)?))
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
    Ok(Json(subscriptions::cancel(&state, &ctx, &path.2).await?))
}

// ----- invoices and payments -----------------------------------------------------------

/// Create an invoice: line items (description, quantity, unitAmount) whose totals are
/// computed; status DRAFT or PENDING (default). Extension.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/invoices", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path)),
    request_body = crate::api::schemas::billing::InvoiceCreate,
    responses((status = 201, body = Object), (status = 400, body = Vec<ErrorItem>)),
    security(("bearer" = [])), extensions(("x-openwelkin-extension" = json!(true)))
)]
pub async fn create_invoice(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Family::Billing, Op::Create)?;
    Ok((StatusCode::CREATED, Json(invoices::create(&state, &ctx, &body).await?)))
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
    Ok(Json(invoices::read(&state, &ctx, &path.2).await?))
}

/// Change an invoice: DRAFT → PENDING, DRAFT/PENDING → VOIDED (without payments); line
/// items, due date and encounter while DRAFT. Extension.
#[utoipa::path(
    patch, path = "/{tenant}/{instance}/invoices/{invoiceId}", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("invoiceId" = String, Path)),
    request_body = crate::api::schemas::billing::InvoiceUpdate,
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
    Ok(Json(invoices::update(&state, &ctx, &path.2, &body).await?))
}

async fn list_invoices_where(
    state: &AppState,
    ctx: &InstanceCaller,
    params: &Params,
    filter: Filter<'_>,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    let status = params.text("status").map(|s| s.to_ascii_uppercase());
    let filter = created_between(params, filter)?;
    let all = invoices::list(state, ctx, &filter, status.as_deref()).await?;
    Ok(Json(page_of(params, all)?))
}

/// Invoices of the instance (`{data, metaInfo}`), by status and creation date.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/invoices", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("status" = Option<String>, Query), ("startDate" = Option<String>, Query),
           ("endDate" = Option<String>, Query), ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>)),
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
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_patient_invoices(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Billing, Op::Read)?;
    // The patient is looked up before the parameters are read: an unknown patient is a
    // 404 whatever the parameters.
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    list_invoices_where(&state, &ctx, &params, Filter { patient_id: Some(&p.id), ..Default::default() }).await
}

/// The invoices of an encounter.
#[utoipa::path(
    get, path = "/{tenant}/{instance}/patients/{patientId}/encounters/{encounterId}/invoices", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("patientId" = String, Path), ("encounterId" = String, Path),
           ("page" = Option<i64>, Query), ("size" = Option<i64>, Query)),
    responses((status = 200, body = MetaInfoPage<Object>), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_encounter_invoices(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String, String)>,
    params: Params,
) -> ApiResult<Json<MetaInfoPage<Value>>> {
    ctx.require(Family::Billing, Op::Read)?;
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    let e = invoices::encounter_of(&state, &ctx, &p, &path.3).await?;
    list_invoices_where(
        &state,
        &ctx,
        &params,
        Filter { patient_id: Some(&p.id), encounter_id: Some(&e), ..Default::default() },
    )
    .await
}

/// Record a payment against an invoice (no more than the amount due). Extension.
#[utoipa::path(
    post, path = "/{tenant}/{instance}/invoices/{invoiceId}/payments", tag = "Billing",
    params(("tenant" = String, Path), ("instance" = String, Path), ("invoiceId" = String, Path)),
    request_body = crate::api::schemas::billing::PaymentCreate,
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
    Ok((StatusCode::CREATED, Json(payments::add(&state, &ctx, &path.2, &body).await?)))
}

/// The docs site's flat page: `{content, totalElements, totalPages, page, size}` (with
/// `last`, so that clients know when to stop).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentsPage {
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
    responses((status = 200, body = PaymentsPage), (status = 400, body = Vec<ErrorItem>), (status = 404, body = Vec<ErrorItem>)),
    security(("bearer" = []))
)]
pub async fn list_payments(
    State(state): State<AppState>,
    ctx: InstanceCaller,
    Path(path): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<PaymentsPage>> {
    ctx.require(Family::Billing, Op::Read)?;
    let p = patients::by_id(&state, &ctx, &path.2).await?;
    let page = PageRequest::parse(&params, |_| None)?;
    let status = params.text("status").map(|s| s.to_ascii_uppercase());
    let (from, to) = (date_param(&params, "startDate")?, date_param(&params, "endDate")?);
    let all = payments::list(&state, &ctx, &p, status.as_deref(), from, to).await?;
    let total = all.len() as i64;
    let total_pages = (total + page.size - 1) / page.size;
    let content = all.into_iter().skip(page.offset() as usize).take(page.size as usize).collect();
    Ok(Json(PaymentsPage {
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
    Ok(Json(payments::read(&state, &ctx, &path.2, &path.3).await?))
}
