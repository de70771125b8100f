//! Wire format of times: ISO-8601 UTC with milliseconds and `Z` (`2022-06-30T17:59:47.790Z`).

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};

pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn format_ms(ms: i64) -> String {
    format(Utc.timestamp_millis_opt(ms).single().unwrap_or_default())
}

/// A time in a time zone (UTC when none or unknown), with its offset:
/// `2022-08-06T15:10:15.355+00:00`, as Welkin's `local…` fields show it.
pub fn format_local_ms(ms: i64, timezone: Option<&str>) -> String {
    let utc = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    let tz: chrono_tz::Tz = timezone.and_then(|t| t.parse().ok()).unwrap_or(chrono_tz::UTC);
    utc.with_timezone(&tz).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

/// Parses a datetime as clients send it: RFC 3339 with any offset, or a bare date.
pub fn parse_datetime(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.with_timezone(&Utc));
    }
    parse_date(value).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| Utc.from_utc_datetime(&t))
}

/// Parses the date part of a birth date. Welkin's own examples send unpadded months
/// (`2012-3-12T00:00:00.000Z`), so the date part is read leniently, the rest ignored
/// only when it is midnight.
pub fn parse_date(value: &str) -> Option<NaiveDate> {
    let (date_part, rest) = match value.split_once('T') {
        Some((d, r)) => (d, Some(r)),
        None => (value, None),
    };
    let mut parts = date_part.split('-');
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=9999).contains(&y) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    if let Some(rest) = rest {
        let time = rest.trim_end_matches('Z');
        let time = time.split(['+']).next().unwrap_or(time);
        let midnight = time.chars().all(|c| c == '0' || c == ':' || c == '.');
        if !midnight {
            return None;
        }
    }
    Some(date)
}

/// A birth date as Welkin returns it: midnight UTC with milliseconds.
pub fn format_date_as_midnight(d: NaiveDate) -> String {
    format!("{}T00:00:00.000Z", d.format("%Y-%m-%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birth_dates_are_read_leniently_and_written_as_midnight() {
        let d = parse_date("2012-3-12T00:00:00.000Z").unwrap();
        assert_eq!(format_date_as_midnight(d), "2012-03-12T00:00:00.000Z");
        assert_eq!(parse_date("2022-08-09").unwrap().to_string(), "2022-08-09");
        assert!(parse_date("2022-02-30").is_none());
        assert!(parse_date("2022-08-09T10:00:00.000Z").is_none());
        assert!(parse_date("yesterday").is_none());
    }

    #[test]
    fn local_times_carry_their_offset() {
        assert_eq!(format_local_ms(1_656_611_987_790, None), "2022-06-30T17:59:47.790+00:00");
        assert_eq!(format_local_ms(1_656_611_987_790, Some("America/New_York")), "2022-06-30T13:59:47.790-04:00");
    }

    #[test]
    fn times_have_milliseconds_and_z() {
        assert_eq!(format_ms(1_656_611_987_790), "2022-06-30T17:59:47.790Z");
    }
}
