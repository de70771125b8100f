//! Billing bodies (rules: domain/billing.rs, domain/money.rs, services/billing/).
//! Amounts are in currency units with at most two decimals (a number or its text).

use super::common::IdRef;
use utoipa::ToSchema;

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MethodType {
    Card,
    BankAccount,
}

/// A payment method (never a full card number: `last4` only). `expMonth`/`expYear` are
/// required for a CARD that has not expired.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "type": "CARD", "brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2030,
    "holderName": "Ann Example", "isDefault": true
}))]
pub struct PaymentMethodCreate {
    pub r#type: MethodType,
    #[schema(pattern = "^[0-9]{4}$")]
    pub last4: String,
    pub brand: Option<String>,
    pub holder_name: Option<String>,
    #[schema(minimum = 1, maximum = 12)]
    pub exp_month: Option<i64>,
    #[schema(minimum = 2000, maximum = 2200)]
    pub exp_year: Option<i64>,
    #[schema(nullable = false)]
    pub is_default: Option<bool>,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingPeriod {
    Weekly,
    Monthly,
    Quarterly,
    Yearly,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentType {
    AutoCharge,
    Manual,
}

#[derive(ToSchema)]
pub enum Currency {
    USD,
    EUR,
    GBP,
    CAD,
    AUD,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct PaymentTypeInfo {
    pub payment_type: PaymentType,
    #[schema(format = Uuid)]
    pub payment_method_id: Option<String>,
}

#[derive(ToSchema)]
pub struct Price {
    /// More than zero, at most two decimals.
    #[schema(exclusive_minimum = 0)]
    pub amount: f64,
    /// Default USD.
    #[schema(nullable = false)]
    pub currency: Option<Currency>,
}

/// A new subscription of a patient, billed by a care-team member.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "name": "Monthly coaching", "billingPeriod": "MONTHLY",
    "careMember": {"id": "0b6f7a9e-1c2d-4e3f-8a9b-0c1d2e3f4a5b"}, "patient": {"id": "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab"},
    "paymentTypeInfo": {"paymentType": "MANUAL"}, "price": {"amount": 49.99, "currency": "USD"},
    "startDate": "2030-01-01", "numberOfCycles": 12
}))]
pub struct SubscriptionCreate {
    #[schema(min_length = 1)]
    pub name: String,
    pub billing_period: BillingPeriod,
    pub care_member: IdRef,
    pub patient: IdRef,
    pub payment_type_info: PaymentTypeInfo,
    pub price: Price,
    #[schema(format = Date)]
    pub start_date: String,
    #[schema(minimum = 1, maximum = 1200)]
    pub number_of_cycles: Option<i64>,
}

/// One invoice line; its amount is quantity × unitAmount.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct LineItemWrite {
    #[schema(min_length = 1)]
    pub description: String,
    /// Default 1.
    #[schema(minimum = 1, maximum = 100000, nullable = false)]
    pub quantity: Option<i64>,
    #[schema(minimum = 0)]
    pub unit_amount: f64,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NewInvoiceStatus {
    Draft,
    Pending,
}

/// A new invoice of a patient.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "patientId": "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab", "currency": "USD", "dueDate": "2030-02-01",
    "lineItems": [{"description": "Initial visit", "quantity": 1, "unitAmount": 150}]
}))]
pub struct InvoiceCreate {
    #[schema(format = Uuid)]
    pub patient_id: String,
    #[schema(min_items = 1)]
    pub line_items: Vec<LineItemWrite>,
    pub encounter_id: Option<String>,
    pub subscription_id: Option<String>,
    #[schema(nullable = false)]
    pub currency: Option<Currency>,
    #[schema(format = Date)]
    pub due_date: Option<String>,
    /// Default PENDING.
    #[schema(nullable = false)]
    pub status: Option<NewInvoiceStatus>,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvoiceStatusChange {
    Draft,
    Pending,
    Voided,
}

/// An invoice update.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"dueDate": "2030-03-01"}))]
pub struct InvoiceUpdate {
    #[schema(nullable = false)]
    pub status: Option<InvoiceStatusChange>,
    #[schema(min_items = 1, nullable = false)]
    pub line_items: Option<Vec<LineItemWrite>>,
    #[schema(format = Date)]
    pub due_date: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentMethodKind {
    CreditCard,
    Ach,
    Cash,
    Check,
    Other,
}

/// A payment against an invoice.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"amount": 50, "method": "CASH", "paidAt": "2030-01-20T10:00:00.000Z"}))]
pub struct PaymentCreate {
    #[schema(exclusive_minimum = 0)]
    pub amount: f64,
    pub method: PaymentMethodKind,
    /// Default: now.
    #[schema(format = DateTime)]
    pub paid_at: Option<String>,
}
