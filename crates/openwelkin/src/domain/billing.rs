//! Billing rules: payment methods (never a card number, only its last four digits),
//! subscriptions with their billing periods and cycles, invoices whose totals are
//! computed from line items, and payments against invoices. Money is integer cents.

use super::fields::{self, reject_unknown};
use super::money::{self, parse_amount};
use super::FieldError;
use chrono::{Datelike, Months, NaiveDate};
use serde_json::{json, Map, Value};

pub const BILLING_PERIODS: &[&str] = &["WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY"];
pub const PAYMENT_TYPES: &[&str] = &["AUTO_CHARGE", "MANUAL"];
pub const METHOD_TYPES: &[&str] = &["CARD", "BANK_ACCOUNT"];
pub const PAYMENT_METHODS: &[&str] = &["CREDIT_CARD", "ACH", "CASH", "CHECK", "OTHER"];

fn sub_object<'a>(
    body: &'a Map<String, Value>,
    key: &str,
    allowed: &[&str],
) -> Result<&'a Map<String, Value>, FieldError> {
    let obj = fields::object(key, body.get(key).unwrap_or(&Value::Null))?;
    reject_unknown(obj, allowed, &[]).map_err(|e| FieldError::new(format!("{key}.{}", e.field), e.reason))?;
    Ok(obj)
}

fn date(field: &str, value: &Value) -> Result<NaiveDate, FieldError> {
    let s = value.as_str().ok_or_else(|| FieldError::new(field, "must be a date (YYYY-MM-DD)"))?;
    crate::time::parse_date(s)
        .or_else(|| crate::time::parse_datetime(s).map(|t| t.date_naive()))
        .ok_or_else(|| FieldError::new(field, format!("{s:?} is not a date")))
}

/// A payment method as stored: type, brand, last four digits, expiry, default flag.
pub fn payment_method(body: &Map<String, Value>, today: NaiveDate) -> Result<Map<String, Value>, FieldError> {
    reject_unknown(
        body,
        &["type", "brand", "last4", "expMonth", "expYear", "holderName", "isDefault"],
        &["id", "patientId", "createdAt", "updatedAt"],
    )?;
    let kind = fields::one_of("type", body.get("type").unwrap_or(&Value::Null), METHOD_TYPES)?;
    let last4 = fields::text("last4", body.get("last4").unwrap_or(&Value::Null))?;
    if last4.len() != 4 || !last4.chars().all(|c| c.is_ascii_digit()) {
        return Err(FieldError::new("last4", "must be the last four digits (never send a full number)"));
    }
    let mut out = Map::new();
    out.insert("type".into(), json!(kind));
    out.insert("brand".into(), json!(body.get("brand").map(|v| fields::opt_text("brand", v)).transpose()?.flatten()));
    out.insert("last4".into(), json!(last4));
    out.insert(
        "holderName".into(),
        json!(body.get("holderName").map(|v| fields::opt_text("holderName", v)).transpose()?.flatten()),
    );
    if kind == "CARD" {
        let month = body
            .get("expMonth")
            .and_then(Value::as_i64)
            .filter(|m| (1..=12).contains(m))
            .ok_or_else(|| FieldError::new("expMonth", "must be 1 to 12"))?;
        let year = body
            .get("expYear")
            .and_then(Value::as_i64)
            .filter(|y| (2000..=2200).contains(y))
            .ok_or_else(|| FieldError::new("expYear", "must be a four-digit year"))?;
        if (year as i32, month as u32) < (today.year(), today.month()) {
            return Err(FieldError::new("expYear", "the card has expired"));
        }
        out.insert("expMonth".into(), json!(month));
        out.insert("expYear".into(), json!(year));
    }
    out.insert(
        "isDefault".into(),
        json!(body.get("isDefault").map(|v| fields::boolean("isDefault", v)).transpose()?.unwrap_or(false)),
    );
    Ok(out)
}

/// What a subscription create asks for (references are checked by the caller).
pub struct SubscriptionInput {
    pub name: String,
    pub period: String,
    pub care_member: String,
    pub patient: String,
    pub payment_type: String,
    pub payment_method: Option<String>,
    pub price_cents: i64,
    pub currency: String,
    pub start: NaiveDate,
    pub cycles: Option<i64>,
}

pub fn subscription(body: &Map<String, Value>) -> Result<SubscriptionInput, FieldError> {
    reject_unknown(
        body,
        &["name", "billingPeriod", "careMember", "patient", "paymentTypeInfo", "price", "startDate", "numberOfCycles"],
        &[],
    )?;
    let id_of = |key: &str| -> Result<String, FieldError> {
        let obj = sub_object(body, key, &["id", "name"])?;
        fields::opt_uuid(&format!("{key}.id"), obj.get("id").unwrap_or(&Value::Null))?
            .ok_or_else(|| FieldError::new(format!("{key}.id"), "is required"))
    };
    let payment = sub_object(body, "paymentTypeInfo", &["paymentType", "paymentMethodId"])?;
    let price = sub_object(body, "price", &["amount", "currency"])?;
    let cycles = match body.get("numberOfCycles") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .filter(|n| (1..=1200).contains(n))
                .ok_or_else(|| FieldError::new("numberOfCycles", "must be a whole number from 1 to 1200"))?,
        ),
    };
    let price_cents = parse_amount("price.amount", price.get("amount").unwrap_or(&Value::Null))?;
    if price_cents == 0 {
        return Err(FieldError::new("price.amount", "must be more than zero"));
    }
    Ok(SubscriptionInput {
        name: fields::text("name", body.get("name").unwrap_or(&Value::Null))?,
        period: fields::one_of("billingPeriod", body.get("billingPeriod").unwrap_or(&Value::Null), BILLING_PERIODS)?,
        care_member: id_of("careMember")?,
        patient: id_of("patient")?,
        payment_type: fields::one_of(
            "paymentTypeInfo.paymentType",
            payment.get("paymentType").unwrap_or(&Value::Null),
            PAYMENT_TYPES,
        )?,
        payment_method: fields::opt_uuid(
            "paymentTypeInfo.paymentMethodId",
            payment.get("paymentMethodId").unwrap_or(&Value::Null),
        )?,
        price_cents,
        currency: money::currency("price.currency", price.get("currency").unwrap_or(&json!("USD")))?,
        start: date("startDate", body.get("startDate").unwrap_or(&Value::Null))?,
        cycles,
    })
}

/// The start of billing cycle `n` (0-based).
pub fn cycle_start(start: NaiveDate, period: &str, n: i64) -> Option<NaiveDate> {
    let n32 = u32::try_from(n).ok()?;
    match period {
        "WEEKLY" => start.checked_add_days(chrono::Days::new(7 * n as u64)),
        "MONTHLY" => start.checked_add_months(Months::new(n32)),
        "QUARTERLY" => start.checked_add_months(Months::new(3 * n32)),
        "YEARLY" => start.checked_add_months(Months::new(12 * n32)),
        _ => None,
    }
}

/// When the subscription ends (after its last cycle) and its next billing date from
/// `today`, if any cycle is left.
pub fn schedule(
    start: NaiveDate,
    period: &str,
    cycles: Option<i64>,
    today: NaiveDate,
) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let end = cycles.and_then(|c| cycle_start(start, period, c));
    let mut n = 0;
    let next = loop {
        let Some(at) = cycle_start(start, period, n) else { break None };
        if cycles.is_some_and(|c| n >= c) {
            break None;
        }
        if at >= today {
            break Some(at);
        }
        n += 1;
    };
    (end, next)
}

/// One invoice line: description, quantity and unit amount; its amount is computed.
pub fn line_items(value: &Value) -> Result<Vec<Value>, FieldError> {
    let list = fields::array("lineItems", value)?;
    if list.is_empty() {
        return Err(FieldError::new("lineItems", "needs at least one line"));
    }
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("lineItems[{i}]");
            let obj = fields::object(&path, item)?;
            reject_unknown(obj, &["description", "quantity", "unitAmount"], &["id", "amount"]).map_err(|e| FieldError::new(format!("{path}.{}", e.field), e.reason))?;
            let description = fields::text(&format!("{path}.description"), obj.get("description").unwrap_or(&Value::Null))?;
            let quantity = obj.get("quantity").unwrap_or(&json!(1)).as_i64().filter(|q| (1..=100_000).contains(q)).ok_or_else(|| FieldError::new(format!("{path}.quantity"), "must be a whole number from 1"))?;
            let unit = parse_amount(&format!("{path}.unitAmount"), obj.get("unitAmount").unwrap_or(&Value::Null))?;
            let amount = unit.checked_mul(quantity).ok_or_else(|| FieldError::new(format!("{path}.unitAmount"), "is too large"))?;
            Ok(json!({"id": crate::ids::new_id(), "description": description, "quantity": quantity, "unitAmountCents": unit, "amountCents": amount}))
        })
        .collect()
}

/// An invoice's status from its stored state, its payments and the date.
pub fn invoice_status(stored: &str, total: i64, paid: i64, due: Option<NaiveDate>, today: NaiveDate) -> &'static str {
    match stored {
        "VOIDED" => "VOIDED",
        "DRAFT" => "DRAFT",
        _ if total > 0 && paid >= total => "PAID",
        _ if paid > 0 && due.is_some_and(|d| d < today) => "OVERDUE",
        _ if paid > 0 => "PARTIALLY_PAID",
        _ if due.is_some_and(|d| d < today) => "OVERDUE",
        _ => "PENDING",
    }
}

/// Renders stored cents as amounts for the wire.
pub fn render_lines(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| {
            json!({"id": l["id"], "description": l["description"], "quantity": l["quantity"],
                   "unitAmount": money::to_json(l["unitAmountCents"].as_i64().unwrap_or(0)),
                   "amount": money::to_json(l["amountCents"].as_i64().unwrap_or(0))})
        })
        .collect()
}

pub fn total(lines: &[Value]) -> i64 {
    lines.iter().map(|l| l["amountCents"].as_i64().unwrap_or(0)).sum()
}

pub fn due_date(value: &Value) -> Result<Option<NaiveDate>, FieldError> {
    if value.is_null() {
        return Ok(None);
    }
    date("dueDate", value).map(Some)
}

/// A subscription as its GET shows it: status (`COMPLETED` once its cycles are over),
/// end date, next billing date from `today` and the price as an amount.
pub fn render_subscription(s: &Value, today: NaiveDate) -> Value {
    let mut out = s.clone();
    let start = s["startDate"].as_str().and_then(crate::time::parse_date);
    let period = s["billingPeriod"].as_str().unwrap_or("MONTHLY");
    let cycles = s["numberOfCycles"].as_i64();
    let (end, next) = start.map(|st| schedule(st, period, cycles, today)).unwrap_or((None, None));
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

/// An invoice as its GET shows it, given its payments: status, line items, totals and
/// what is still due.
pub fn render_invoice(inv: &Value, payments: &[Value], today: NaiveDate) -> Value {
    let lines = inv["lines"].as_array().cloned().unwrap_or_default();
    let total = total(&lines);
    let paid: i64 = payments.iter().map(|p| p["amountCents"].as_i64().unwrap_or(0)).sum();
    let due = inv["dueDate"].as_str().and_then(crate::time::parse_date);
    let mut out = inv.clone();
    let o = out.as_object_mut().expect("invoices are objects");
    o.remove("lines");
    o.insert(
        "status".into(),
        json!(invoice_status(inv["status"].as_str().unwrap_or("PENDING"), total, paid, due, today)),
    );
    o.insert("lineItems".into(), json!(render_lines(&lines)));
    o.insert("subtotal".into(), money::to_json(total));
    o.insert("amount".into(), money::to_json(total));
    o.insert("amountPaid".into(), money::to_json(paid));
    o.insert("amountDue".into(), money::to_json((total - paid).max(0)));
    o.insert("payments".into(), json!(payments.iter().map(render_payment).collect::<Vec<_>>()));
    out
}

/// A payment with its stored cents as an amount.
pub fn render_payment(p: &Value) -> Value {
    let mut out = p.clone();
    let o = out.as_object_mut().expect("payments are objects");
    let cents = o.remove("amountCents").and_then(|v| v.as_i64()).unwrap_or(0);
    o.insert("amount".into(), money::to_json(cents));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn invoice_totals_and_statuses() {
        let lines = line_items(&json!([{"description": "Visit", "quantity": 2, "unitAmount": 75.10}, {"description": "Lab", "unitAmount": "0.20"}])).unwrap();
        assert_eq!(total(&lines), 15040);
        assert_eq!(render_lines(&lines)[0]["amount"], json!(150.2));
        assert_eq!(invoice_status("PENDING", 15040, 0, Some(d("2030-01-01")), d("2026-01-01")), "PENDING");
        assert_eq!(invoice_status("PENDING", 15040, 100, Some(d("2030-01-01")), d("2026-01-01")), "PARTIALLY_PAID");
        assert_eq!(invoice_status("PENDING", 15040, 15040, Some(d("2020-01-01")), d("2026-01-01")), "PAID");
        assert_eq!(invoice_status("PENDING", 15040, 0, Some(d("2020-01-01")), d("2026-01-01")), "OVERDUE");
        assert!(line_items(&json!([{"description": "x", "unitAmount": 1.234}])).is_err());
        assert!(line_items(&json!([])).is_err());
    }

    #[test]
    fn subscriptions_run_for_their_cycles() {
        let (end, next) = schedule(d("2026-01-31"), "MONTHLY", Some(3), d("2026-02-10"));
        assert_eq!(end, Some(d("2026-04-30")));
        assert_eq!(next, Some(d("2026-02-28")));
        let (_, next) = schedule(d("2026-01-01"), "WEEKLY", Some(2), d("2026-03-01"));
        assert_eq!(next, None, "every cycle has passed");
        let (end, next) = schedule(d("2026-01-01"), "YEARLY", None, d("2026-06-01"));
        assert_eq!((end, next), (None, Some(d("2027-01-01"))));
    }

    #[test]
    fn payment_methods_keep_only_the_last_four_digits() {
        let today = d("2026-11-28");
        assert!(payment_method(
            json!({"type": "CARD", "last4": "4242", "expMonth": 12, "expYear": 2030}).as_object().unwrap(),
            today
        )
        .is_ok());
        assert_eq!(
            payment_method(
                json!({"type": "CARD", "last4": "4242424242424242", "expMonth": 1, "expYear": 2030})
                    .as_object()
                    .unwrap(),
                today
            )
            .unwrap_err()
            .field,
            "last4"
        );
        assert_eq!(
            payment_method(
                json!({"type": "CARD", "last4": "4242", "expMonth": 1, "expYear": 2020}).as_object().unwrap(),
                today
            )
            .unwrap_err()
            .field,
            "expYear"
        );
        assert_eq!(
            payment_method(json!({"type": "CARD", "last4": "4242", "number": "x"}).as_object().unwrap(), today)
                .unwrap_err()
                .field,
            "number"
        );
    }
}
