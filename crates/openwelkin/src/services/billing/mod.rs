//! Billing: payment methods of patients (`payment_methods`), subscriptions
//! (`subscriptions`), invoices (`invoices`) and payments against them (`payments`). What
//! they share is here: the errors, the day the clock is at, and the audit stamps on each
//! record. Money is exact: integer cents inside (`domain::money`), the rules and the
//! renderings of stored records in `domain::billing`.

pub mod invoices;
pub mod payment_methods;
pub mod payments;
pub mod subscriptions;

use super::error::ServiceError;
use super::scope::InstanceScope;
use crate::app::AppState;
use crate::domain::FieldError;
use chrono::NaiveDate;
use serde_json::{json, Map, Value};

pub const COMPONENT: &str = "BILLING";

fn invalid(e: FieldError) -> ServiceError {
    ServiceError::invalid_field(COMPONENT, e)
}

/// `{WHAT}_NOT_FOUND`, e.g. `not_found("PAYMENT_METHOD", id)`.
pub fn not_found(what: &str, id: &str) -> ServiceError {
    ServiceError::not_found(
        &format!("{what}_NOT_FOUND"),
        COMPONENT,
        &format!("{} not found", what.replace('_', " ").to_lowercase()),
        json!({"id": id}),
    )
}

/// The day the server's clock is at, which dates subscription cycles and overdue invoices.
pub fn today(state: &AppState) -> NaiveDate {
    state.clock.now().date_naive()
}

/// The created and updated stamps of a new record.
fn stamp_new(ctx: &InstanceScope, now_ms: i64) -> Map<String, Value> {
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

fn stamp_update(body: &mut Value, ctx: &InstanceScope, now_ms: i64) {
    let actor = ctx.actor();
    body["updatedAt"] = json!(crate::time::format_ms(now_ms));
    body["updatedBy"] = json!(actor.id);
    body["updatedByName"] = json!(actor.full_name());
}
