//! Money as exact integer minor units (cents). Amounts arrive as JSON numbers or strings
//! with at most two decimals and leave as JSON numbers; arithmetic never touches floats.

use super::FieldError;
use serde_json::{Number, Value};

pub const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "CAD", "AUD"];

/// Parses `150`, `150.5`, `"150.00"` into cents; more than two decimals is an error.
pub fn parse_cents(field: &str, value: &Value) -> Result<i64, FieldError> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err(FieldError::new(field, "must be an amount such as 150.00")),
    };
    let bad = || FieldError::new(field, format!("{text:?} is not an amount with at most two decimals"));
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    let cents = whole.checked_mul(100).and_then(|w| w.checked_add(frac)).ok_or_else(bad)?;
    Ok(if negative { -cents } else { cents })
}

/// A non-negative amount.
pub fn parse_amount(field: &str, value: &Value) -> Result<i64, FieldError> {
    let cents = parse_cents(field, value)?;
    if cents < 0 {
        return Err(FieldError::new(field, "must not be negative"));
    }
    Ok(cents)
}

/// Cents as a JSON number with the amount's decimals (`15000` → `150.0`-free `150`,
/// `1999` → `19.99`). The number is built from its decimal text, not computed in floats.
pub fn to_json(cents: i64) -> Value {
    let text = if cents % 100 == 0 {
        format!("{}", cents / 100)
    } else {
        format!("{}.{:02}", cents / 100, (cents % 100).abs())
    };
    let text = if cents < 0 && cents > -100 { format!("-{text}") } else { text };
    serde_json::from_str::<Number>(&text).map(Value::Number).unwrap_or(Value::Null)
}

pub fn currency(field: &str, value: &Value) -> Result<String, FieldError> {
    super::fields::one_of(field, value, CURRENCIES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_are_exact() {
        assert_eq!(parse_cents("a", &json!(150)).unwrap(), 15000);
        assert_eq!(parse_cents("a", &json!(19.99)).unwrap(), 1999);
        assert_eq!(parse_cents("a", &json!("0.1")).unwrap(), 10);
        assert_eq!(parse_cents("a", &json!("-2.50")).unwrap(), -250);
        assert!(parse_cents("a", &json!(1.999)).is_err());
        assert!(parse_cents("a", &json!("1e3")).is_err());
        assert!(parse_amount("a", &json!(-1)).is_err());
        let three_tenths = parse_cents("a", &json!(0.1)).unwrap() + parse_cents("a", &json!(0.2)).unwrap();
        assert_eq!(to_json(three_tenths), json!(0.3), "0.1 + 0.2 is 0.3 here");
        assert_eq!(to_json(15000), json!(150));
        assert_eq!(to_json(1999), json!(19.99));
        assert_eq!(to_json(-50), json!(-0.5));
    }
}
