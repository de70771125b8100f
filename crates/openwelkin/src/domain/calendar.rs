//! Calendar events and users' work hours: the stored shapes, the rules of a create, PUT
//! or PATCH body, the `local…` twins of times, and the arithmetic of the event summary
//! (event hours against working hours).
//!
//! An event is stored as the JSON Welkin returns minus what is filled when read: the
//! `local…` times (they depend on the viewer's time zone) and the participants' details
//! (names, contact data), which come from the users and patients tables.

use super::fields::{self, reject_unknown};
use super::FieldError;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

pub const EVENT_TYPES: &[&str] = &["GROUP_THERAPY", "APPOINTMENT", "LEAVE", "ENCOUNTER"];
pub const EVENT_STATUSES: &[&str] = &["SCHEDULED", "CANCELLED", "COMPLETED", "MISSED"];
pub const EVENT_MODES: &[&str] = &["IN-PERSON", "CALL", "VIDEO"];
pub const ROLE_PATIENT: &str = "patient";
pub const ROLE_USER: &str = "psm";
pub const CANCELLED: &str = "CANCELLED";

pub const HOURS_TYPES: &[&str] = &["WORKING_HOURS", "AVAILABILITY"];
pub const RULE_TYPES: &[&str] = &["DEFAULT", "OVERRIDE"];

/// `createdBy`/`updatedBy` are accepted because the reference sends them; the server
/// sets both from the caller.
const EVENT_WRITABLE: &[&str] = &[
    "eventTitle",
    "eventDescription",
    "startDateTime",
    "endDateTime",
    "allDayEvent",
    "eventType",
    "eventStatus",
    "eventMode",
    "eventColor",
    "hostId",
    "timezone",
    "externalId",
    "additionalInfo",
    "participants",
    "createdBy",
    "updatedBy",
];
const EVENT_READ_ONLY: &[&str] =
    &["id", "createdAt", "updatedAt", "externalIdUpdatedAt", "localStartDateTime", "localEndDateTime", "duration"];

const PARTICIPANT_WRITABLE: &[&str] = &["id", "participantId", "participantRole", "attended", "participationStatus"];
/// Details the server fills when reading; a client that sends an event back as it read
/// it (the Postman collection does) may include them, and they are ignored.
const PARTICIPANT_DISPLAY: &[&str] =
    &["timezone", "firstName", "lastName", "deleted", "hasAccess", "email", "phone", "gender", "birthDate", "enabled"];

/// The writable fields of an event with their values on a new event.
fn event_defaults() -> [(&'static str, Value); 13] {
    [
        ("externalId", Value::Null),
        ("eventTitle", Value::Null),
        ("eventDescription", Value::Null),
        ("startDateTime", Value::Null),
        ("endDateTime", Value::Null),
        ("allDayEvent", Value::Bool(false)),
        ("eventType", Value::Null),
        ("eventStatus", Value::Null),
        ("eventMode", Value::Null),
        ("eventColor", Value::Null),
        ("hostId", Value::Null),
        ("timezone", Value::Null),
        ("additionalInfo", Value::Null),
    ]
}

/// A new event with every stored key present.
pub fn blank_event(id: &str, now: &str, actor_id: &str) -> Value {
    let mut e = json!({
        "id": id, "createdBy": actor_id, "createdAt": now, "updatedBy": actor_id, "updatedAt": now,
        "externalIdUpdatedAt": now, "duration": 0, "participants": [],
    });
    let map = e.as_object_mut().expect("object");
    for (k, v) in event_defaults() {
        map.insert(k.into(), v);
    }
    e
}

/// A string that may be empty (Welkin keeps `eventDescription: ""`) or null.
fn free_text(field: &str, value: &Value) -> Result<Value, FieldError> {
    match value {
        Value::Null => Ok(Value::Null),
        Value::String(s) if s.len() > fields::MAX_TEXT * 8 => Err(FieldError::new(field, "is too long")),
        Value::String(s) => Ok(Value::String(s.clone())),
        _ => Err(FieldError::new(field, "must be a string")),
    }
}

fn datetime(field: &str, value: &Value) -> Result<DateTime<Utc>, FieldError> {
    let s = value.as_str().ok_or_else(|| FieldError::new(field, "must be an ISO-8601 date-time"))?;
    crate::time::parse_datetime(s).ok_or_else(|| {
        FieldError::new(field, format!("{s:?} is not an ISO-8601 date-time (e.g. 2022-06-30T17:59:47.790Z)"))
    })
}

fn opt_enum(field: &str, value: &Value, allowed: &[&str]) -> Result<Value, FieldError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    fields::one_of(field, value, allowed).map(Value::String)
}

/// Epoch milliseconds of a stored `…DateTime` value.
pub fn ms_of(value: &Value) -> Option<i64> {
    value.as_str().and_then(crate::time::parse_datetime).map(|t| t.timestamp_millis())
}

/// Start and end of a stored event, in epoch milliseconds.
pub fn event_span(event: &Value) -> (i64, i64) {
    (ms_of(&event["startDateTime"]).unwrap_or(0), ms_of(&event["endDateTime"]).unwrap_or(0))
}

/// Applies a create, PUT (`full`) or PATCH body to `event`, then checks the whole
/// event. A full body replaces: what it omits is cleared. `new_id` makes ids for
/// participants that are new to the event.
pub fn apply_event(
    event: &mut Value,
    body: &Map<String, Value>,
    full: bool,
    now: &str,
    new_id: &mut dyn FnMut() -> String,
) -> Result<(), FieldError> {
    let mut body = body.clone();
    // A client may send the event back with its own id; any other id is a mistake.
    if let Some(id) = body.remove("id") {
        if id != event["id"] {
            return Err(FieldError::new("id", "is read-only and cannot be set"));
        }
    }
    reject_unknown(&body, EVENT_WRITABLE, EVENT_READ_ONLY)?;
    let old_external_id = event["externalId"].clone();
    let e = event.as_object_mut().expect("events are objects");
    if full {
        for (k, v) in event_defaults() {
            e.insert(k.into(), v);
        }
    }
    for (key, value) in &body {
        let k = key.as_str();
        let v = match k {
            "createdBy" | "updatedBy" => continue,
            "eventTitle" | "eventDescription" | "eventColor" => free_text(k, value)?,
            "startDateTime" | "endDateTime" => Value::String(crate::time::format(datetime(k, value)?)),
            "allDayEvent" => Value::Bool(if value.is_null() { false } else { fields::boolean(k, value)? }),
            "eventType" => opt_enum(k, value, EVENT_TYPES)?,
            "eventStatus" => opt_enum(k, value, EVENT_STATUSES)?,
            "eventMode" => opt_enum(k, value, EVENT_MODES)?,
            "hostId" => fields::opt_uuid(k, value)?.map(Value::String).unwrap_or(Value::Null),
            "timezone" => fields::opt_timezone(k, value)?.map(Value::String).unwrap_or(Value::Null),
            "externalId" => fields::opt_text(k, value)?.map(Value::String).unwrap_or(Value::Null),
            "additionalInfo" => match value {
                Value::Null | Value::Object(_) => value.clone(),
                _ => return Err(FieldError::new(k, "must be an object")),
            },
            "participants" => participants(value, &e["participants"], new_id)?,
            _ => unreachable!("reject_unknown lets through only writable keys"),
        };
        e.insert(key.clone(), v);
    }
    if e["externalId"] != old_external_id {
        e.insert("externalIdUpdatedAt".into(), Value::String(now.to_string()));
    }
    if full {
        for required in ["startDateTime", "endDateTime", "hostId", "participants"] {
            if !body.contains_key(required) {
                return Err(FieldError::new(required, "is required"));
            }
        }
    }
    check_event(e)
}

fn participants(value: &Value, current: &Value, new_id: &mut dyn FnMut() -> String) -> Result<Value, FieldError> {
    let items = fields::array("participants", value)?;
    if items.is_empty() {
        return Err(FieldError::new("participants", "must name at least the host"));
    }
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = |f: &str| format!("participants[{i}].{f}");
        let obj = fields::object(&format!("participants[{i}]"), item)?;
        for key in obj.keys() {
            if !PARTICIPANT_WRITABLE.contains(&key.as_str()) && !PARTICIPANT_DISPLAY.contains(&key.as_str()) {
                return Err(FieldError::new(name(key), "is not a known field"));
            }
        }
        let pid = obj.get("participantId").unwrap_or(&Value::Null);
        if pid.is_null() {
            return Err(FieldError::new(name("participantId"), "is required"));
        }
        let pid = fields::opt_uuid(&name("participantId"), pid)?.unwrap_or_default();
        let role = obj.get("participantRole").unwrap_or(&Value::Null);
        if role.is_null() {
            return Err(FieldError::new(name("participantRole"), "is required"));
        }
        let role = fields::text(&name("participantRole"), role)?.to_lowercase();
        if role != ROLE_PATIENT && role != ROLE_USER {
            return Err(FieldError::new(name("participantRole"), "must be one of patient, psm"));
        }
        if out.iter().any(|p| p["participantId"] == pid.as_str()) {
            return Err(FieldError::new(name("participantId"), "appears twice"));
        }
        let attended = match obj.get("attended") {
            None | Some(Value::Null) => false,
            Some(v) => fields::boolean(&name("attended"), v)?,
        };
        let previous = current.as_array().and_then(|ps| ps.iter().find(|p| p["participantId"] == pid.as_str()));
        let status = match obj.get("participationStatus") {
            None => previous.map(|p| p["participationStatus"].clone()).unwrap_or_else(|| json!("")),
            Some(Value::Null) => json!(""),
            Some(v) => free_text(&name("participationStatus"), v)?,
        };
        let id = previous.and_then(|p| p["id"].as_str().map(String::from)).unwrap_or_else(&mut *new_id);
        out.push(json!({
            "id": id, "participantId": pid, "participantRole": role,
            "participationStatus": status, "attended": attended,
        }));
    }
    Ok(Value::Array(out))
}

/// The rules every stored event keeps: an end after its start, a host who takes part as
/// a user. Sets `duration` (seconds).
fn check_event(e: &mut Map<String, Value>) -> Result<(), FieldError> {
    let start = ms_of(&e["startDateTime"]).ok_or_else(|| FieldError::new("startDateTime", "is required"))?;
    let end = ms_of(&e["endDateTime"]).ok_or_else(|| FieldError::new("endDateTime", "is required"))?;
    if end <= start {
        return Err(FieldError::new("endDateTime", "must be after startDateTime"));
    }
    let host = e["hostId"].as_str().ok_or_else(|| FieldError::new("hostId", "is required"))?.to_string();
    let ps = e["participants"].as_array().cloned().unwrap_or_default();
    if ps.is_empty() {
        return Err(FieldError::new("participants", "must name at least the host"));
    }
    match ps.iter().find(|p| p["participantId"] == host.as_str()) {
        None => return Err(FieldError::new("participants", format!("must include the host {host}"))),
        Some(p) if p["participantRole"] != ROLE_USER => {
            return Err(FieldError::new("hostId", "must be a user (a participant with role psm)"))
        }
        Some(_) => {}
    }
    e.insert("duration".into(), json!((end - start) / 1000));
    Ok(())
}

/// Records an invitation response; the participant must take part in the event.
pub fn apply_invitation_response(event: &mut Value, body: &Map<String, Value>) -> Result<(), FieldError> {
    reject_unknown(body, &["participantId", "participationStatus"], &[])?;
    let pid = body.get("participantId").filter(|v| !v.is_null());
    let pid = fields::opt_uuid("participantId", pid.ok_or_else(|| FieldError::new("participantId", "is required"))?)?
        .unwrap_or_default();
    let status = body.get("participationStatus").filter(|v| !v.is_null());
    let status = fields::text(
        "participationStatus",
        status.ok_or_else(|| FieldError::new("participationStatus", "is required"))?,
    )?;
    let participant = event["participants"]
        .as_array_mut()
        .and_then(|ps| ps.iter_mut().find(|p| p["participantId"] == pid.as_str()))
        .ok_or_else(|| FieldError::new("participantId", format!("{pid} does not take part in the event")))?;
    participant["participationStatus"] = Value::String(status);
    Ok(())
}

/// The `(role, id)` of every participant.
pub fn participant_refs(event: &Value) -> Vec<(String, String)> {
    event["participants"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p["participantRole"].as_str().unwrap_or_default().to_string(),
                        p["participantId"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `,id,id,` of the participants, for the store's `LIKE '%,id,%'` filters.
pub fn participant_marks(event: &Value) -> String {
    let ids: Vec<String> = participant_refs(event).into_iter().map(|(_, id)| id).collect();
    format!(",{},", ids.join(","))
}

/// A time in a time zone with its offset, as Welkin's `local…` fields show it:
/// `2022-06-28T07:00:00.000-07:00` (UTC gives `+00:00`).
pub fn local(ms: i64, tz: Option<Tz>) -> String {
    let utc = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    utc.with_timezone(&tz.unwrap_or(chrono_tz::UTC)).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

pub fn parse_tz(name: Option<&str>) -> Option<Tz> {
    name.and_then(|n| n.parse().ok())
}

/// The event as returned: with `local…` times in `tz` (the viewer's, else the event's,
/// else UTC) and each participant's details from `details` (by participant id; a
/// participant that no longer exists shows `deleted: true`).
pub fn render_event(event: &Value, viewer: Option<Tz>, details: &dyn Fn(&str, &str) -> Option<Value>) -> Value {
    let mut out = event.clone();
    let tz = viewer.or_else(|| parse_tz(event["timezone"].as_str()));
    let (start, end) = event_span(event);
    out["localStartDateTime"] = json!(local(start, tz));
    out["localEndDateTime"] = json!(local(end, tz));
    if let Some(ps) = out["participants"].as_array_mut() {
        for p in ps {
            let role = p["participantRole"].as_str().unwrap_or_default().to_string();
            let id = p["participantId"].as_str().unwrap_or_default().to_string();
            let d = details(&role, &id).unwrap_or_else(|| {
                json!({"timezone": null, "firstName": "", "lastName": "", "deleted": true, "hasAccess": false,
                       "email": null, "phone": null, "gender": null, "birthDate": null, "enabled": null})
            });
            if let (Some(target), Some(src)) = (p.as_object_mut(), d.as_object()) {
                for (k, v) in src {
                    target.insert(k.clone(), v.clone());
                }
            }
        }
    }
    out
}

/// The short form of an event in a schedule.
pub fn schedule_entry(event: &Value, tz: Option<Tz>) -> Value {
    let (start, end) = event_span(event);
    json!({
        "id": event["id"], "eventId": event["id"], "eventTitle": event["eventTitle"],
        "eventType": event["eventType"], "eventColor": event["eventColor"], "allDayEvent": event["allDayEvent"],
        "startDateTime": event["startDateTime"], "localStartDateTime": local(start, tz),
        "endDateTime": event["endDateTime"], "localEndDateTime": local(end, tz),
    })
}

// ----------------------------------------------------------------------------------
// Work hours
// ----------------------------------------------------------------------------------

const HOURS_WRITABLE: &[&str] = &[
    "psmId",
    "startDateTime",
    "endDateTime",
    "daysInfo",
    "name",
    "type",
    "ruleType",
    "encounters",
    "createdBy",
    "updatedBy",
];
const HOURS_READ_ONLY: &[&str] =
    &["workHoursId", "createdAt", "updatedAt", "localStartDateTime", "localEndDateTime", "details"];

/// A new work-hours rule (stored with its `psmId`, which the answer shows one level up).
pub fn blank_hours(id: &str, now: &str, actor_id: &str) -> Value {
    json!({
        "workHoursId": id, "psmId": null, "createdAt": now, "updatedAt": now, "createdBy": actor_id,
        "updatedBy": actor_id, "name": null, "type": "WORKING_HOURS", "ruleType": "DEFAULT",
        "startDateTime": null, "endDateTime": null, "daysInfo": [],
    })
}

/// `HH:MM:SS` (or `HH:MM`) as a time of day.
pub fn time_of_day(field: &str, value: &Value) -> Result<NaiveTime, FieldError> {
    let s = value.as_str().ok_or_else(|| FieldError::new(field, "must be a time of day (HH:MM:SS)"))?;
    NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .map_err(|_| FieldError::new(field, format!("{s:?} is not a time of day (HH:MM:SS)")))
}

/// Applies a create or update body to a work-hours rule. On update, omitted fields keep
/// their values; `daysInfo`, when given, replaces the days (with new ids).
pub fn apply_hours(
    hours: &mut Value,
    body: &Map<String, Value>,
    creating: bool,
    new_id: &mut dyn FnMut() -> String,
) -> Result<(), FieldError> {
    reject_unknown(body, HOURS_WRITABLE, HOURS_READ_ONLY)?;
    let h = hours.as_object_mut().expect("work hours are objects");
    for (key, value) in body {
        let k = key.as_str();
        let v = match k {
            "createdBy" | "updatedBy" => continue,
            "psmId" => match fields::opt_uuid(k, value)? {
                Some(id) => Value::String(id),
                None => return Err(FieldError::new(k, "is required")),
            },
            "startDateTime" => Value::String(crate::time::format(datetime(k, value)?)),
            "endDateTime" if value.is_null() => Value::Null,
            "endDateTime" => Value::String(crate::time::format(datetime(k, value)?)),
            "name" => fields::opt_text(k, value)?.map(Value::String).unwrap_or(Value::Null),
            "type" => Value::String(fields::one_of(k, value, HOURS_TYPES)?),
            "ruleType" => Value::String(fields::one_of(k, value, RULE_TYPES)?),
            "encounters" if value.is_null() => json!([]),
            "encounters" => json!(fields::string_list(k, value)?),
            "daysInfo" => days_info(value, new_id)?,
            _ => unreachable!("reject_unknown lets through only writable keys"),
        };
        h.insert(key.clone(), v);
    }
    if creating {
        for required in ["psmId", "startDateTime", "daysInfo"] {
            if !body.contains_key(required) {
                return Err(FieldError::new(required, "is required"));
            }
        }
    }
    if h["type"] == "AVAILABILITY" && !h.contains_key("encounters") {
        h.insert("encounters".into(), json!([]));
    }
    let start = ms_of(&h["startDateTime"]).ok_or_else(|| FieldError::new("startDateTime", "is required"))?;
    if let Some(end) = ms_of(&h["endDateTime"]) {
        if end <= start {
            return Err(FieldError::new("endDateTime", "must be after startDateTime"));
        }
    }
    Ok(())
}

fn days_info(value: &Value, new_id: &mut dyn FnMut() -> String) -> Result<Value, FieldError> {
    let items = fields::array("daysInfo", value)?;
    if items.is_empty() {
        return Err(FieldError::new("daysInfo", "must name at least one day"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = |f: &str| format!("daysInfo[{i}].{f}");
        let obj = fields::object(&format!("daysInfo[{i}]"), item)?;
        reject_unknown(obj, &["day", "startTime", "endTime", "daysInfoId"], &[])
            .map_err(|e| FieldError::new(name(&e.field), e.reason))?;
        let day = obj.get("day").and_then(Value::as_i64).filter(|d| (1..=7).contains(d));
        let day = day.ok_or_else(|| FieldError::new(name("day"), "must be a day of the week, 1 (Monday) to 7"))?;
        let start = time_of_day(&name("startTime"), obj.get("startTime").unwrap_or(&Value::Null))?;
        let end = time_of_day(&name("endTime"), obj.get("endTime").unwrap_or(&Value::Null))?;
        if end <= start {
            return Err(FieldError::new(name("endTime"), "must be after startTime"));
        }
        out.push(json!({
            "startTime": start.format("%H:%M:%S").to_string(), "endTime": end.format("%H:%M:%S").to_string(),
            "day": day, "daysInfoId": new_id(),
        }));
    }
    Ok(Value::Array(out))
}

/// A rule as returned (without its `psmId`), with `local…` times in `tz`.
pub fn render_hours(hours: &Value, tz: Option<Tz>) -> Value {
    let mut out = hours.clone();
    if let Some(map) = out.as_object_mut() {
        map.remove("psmId");
    }
    out["localStartDateTime"] = json!(ms_of(&hours["startDateTime"]).map(|ms| local(ms, tz)));
    out["localEndDateTime"] = json!(ms_of(&hours["endDateTime"]).map(|ms| local(ms, tz)));
    out
}

/// Milliseconds of working time the `WORKING_HOURS` rules give within `[from, to)`, the
/// days taken in `tz` (the user's zone). On a day an `OVERRIDE` rule covers, only the
/// override rules count.
pub fn working_ms(rules: &[Value], tz: Option<Tz>, from: i64, to: i64) -> i64 {
    let tz = tz.unwrap_or(chrono_tz::UTC);
    let rules: Vec<&Value> = rules.iter().filter(|r| r["type"] == "WORKING_HOURS").collect();
    if rules.is_empty() || to <= from {
        return 0;
    }
    let day_of = |ms: i64| Utc.timestamp_millis_opt(ms).single().unwrap_or_default().with_timezone(&tz).date_naive();
    let (first, last) = (day_of(from), day_of(to));
    let mut total = 0;
    let mut day = first;
    while day <= last {
        let active: Vec<&&Value> = rules.iter().filter(|r| rule_covers_day(r, day, tz)).collect();
        let overriding = active.iter().any(|r| r["ruleType"] == "OVERRIDE");
        for rule in active.into_iter().filter(|r| !overriding || r["ruleType"] == "OVERRIDE") {
            let (rs, re) = (ms_of(&rule["startDateTime"]).unwrap_or(i64::MIN), ms_of(&rule["endDateTime"]));
            for d in rule["daysInfo"].as_array().into_iter().flatten() {
                if d["day"].as_i64() != Some(i64::from(day.weekday().number_from_monday())) {
                    continue;
                }
                let (Ok(s), Ok(e)) = (time_of_day("", &d["startTime"]), time_of_day("", &d["endTime"])) else {
                    continue;
                };
                let (Some(ws), Some(we)) = (at(day, s, tz), at(day, e, tz)) else { continue };
                let lo = ws.max(from).max(rs);
                let hi = we.min(to).min(re.unwrap_or(i64::MAX));
                total += (hi - lo).max(0);
            }
        }
        day = match day.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }
    total
}

fn at(day: NaiveDate, t: NaiveTime, tz: Tz) -> Option<i64> {
    tz.from_local_datetime(&day.and_time(t)).earliest().map(|d| d.timestamp_millis())
}

fn rule_covers_day(rule: &Value, day: NaiveDate, tz: Tz) -> bool {
    let day_start = at(day, NaiveTime::MIN, tz).unwrap_or(i64::MIN);
    let day_end = day_start + Duration::days(1).num_milliseconds();
    let starts = ms_of(&rule["startDateTime"]).unwrap_or(i64::MIN);
    let ends = ms_of(&rule["endDateTime"]).unwrap_or(i64::MAX);
    starts < day_end && ends > day_start
}

/// `63.0 hours`.
pub fn hours_text(ms: i64) -> String {
    format!("{:.1} hours", ms as f64 / 3_600_000.0)
}

/// `625.4%`: event time as a share of working time (`0.0%` without working time).
pub fn occupancy_text(event_ms: i64, working_ms: i64) -> String {
    if working_ms <= 0 {
        return "0.0%".into();
    }
    format!("{:.1}%", event_ms as f64 * 100.0 / working_ms as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("id{n}")
        }
    }

    const HOST: &str = "301b2895-cbf0-4cac-b4cf-1d082faee95c";
    const PATIENT: &str = "4f684417-7868-467a-ae0a-f7aa8a4323e6";

    fn minimal() -> Value {
        json!({"startDateTime": "2022-06-30T17:59:47.790Z", "endDateTime": "2022-06-30T18:59:47.790Z",
               "hostId": HOST, "participants": [{"participantId": HOST, "participantRole": "psm"}]})
    }

    #[test]
    fn a_minimal_event_gets_the_recorded_defaults() {
        let mut e = blank_event("e1", "now", "actor");
        apply_event(&mut e, minimal().as_object().unwrap(), true, "now", &mut ids()).unwrap();
        assert_eq!(e["duration"], 3600);
        assert_eq!(e["eventType"], Value::Null);
        assert_eq!(e["allDayEvent"], false);
        assert_eq!(
            e["participants"][0],
            json!({"id": "id1", "participantId": HOST, "participantRole": "psm",
            "participationStatus": "", "attended": false})
        );
    }

    #[test]
    fn bad_events_name_their_field() {
        let cases = [
            (json!({"endDateTime": "2022-06-30T17:00:00.000Z"}), "endDateTime"),
            (json!({"startDateTime": "yesterday"}), "startDateTime"),
            (json!({"eventType": "PARTY"}), "eventType"),
            (json!({"eventMode": "SMOKE"}), "eventMode"),
            (json!({"timezone": "Mars/Base"}), "timezone"),
            (json!({"hostId": PATIENT}), "participants"),
            (json!({"participants": []}), "participants"),
            (
                json!({"participants": [{"participantId": HOST, "participantRole": "boss"}]}),
                "participants[0].participantRole",
            ),
            (
                json!({"participants": [{"participantId": HOST, "participantRole": "psm"}, {"participantId": HOST, "participantRole": "psm"}]}),
                "participants[1].participantId",
            ),
            (json!({"participants": [{"participantRole": "psm"}]}), "participants[0].participantId"),
            (json!({"participants": [{"participantId": HOST, "participantRole": "patient"}]}), "hostId"),
            (json!({"duration": 5}), "duration"),
            (json!({"colour": "red"}), "colour"),
        ];
        for (patch, field) in cases {
            let mut body = minimal();
            for (k, v) in patch.as_object().unwrap() {
                body[k] = v.clone();
            }
            let mut e = blank_event("e1", "now", "actor");
            let err = apply_event(&mut e, body.as_object().unwrap(), true, "now", &mut ids()).unwrap_err();
            assert_eq!(err.field, field, "{patch}");
        }
        let mut e = blank_event("e1", "now", "actor");
        let err = apply_event(&mut e, json!({"hostId": HOST}).as_object().unwrap(), true, "now", &mut ids());
        assert_eq!(err.unwrap_err().field, "startDateTime");
    }

    #[test]
    fn participants_keep_their_ids_and_external_ids_are_stamped() {
        let mut e = blank_event("e1", "t0", "actor");
        apply_event(&mut e, minimal().as_object().unwrap(), true, "t0", &mut ids()).unwrap();
        let body = json!({"externalId": "x-1", "participants": [
            {"participantId": HOST, "participantRole": "psm", "firstName": "ignored"},
            {"participantId": PATIENT, "participantRole": "PATIENT", "attended": true}]});
        apply_event(&mut e, body.as_object().unwrap(), false, "t1", &mut || "new".into()).unwrap();
        assert_eq!(e["participants"][0]["id"], "id1");
        assert_eq!(e["participants"][1]["id"], "new");
        assert_eq!(e["participants"][1]["participantRole"], "patient");
        assert_eq!(e["externalIdUpdatedAt"], "t1");
        assert_eq!(participant_marks(&e), format!(",{HOST},{PATIENT},"));
        apply_invitation_response(
            &mut e,
            json!({"participantId": PATIENT, "participationStatus": "Yes"}).as_object().unwrap(),
        )
        .unwrap();
        assert_eq!(e["participants"][1]["participationStatus"], "Yes");
        let err = apply_invitation_response(
            &mut e,
            json!({"participantId": uuid::Uuid::new_v4().to_string(),
            "participationStatus": "Yes"})
            .as_object()
            .unwrap(),
        );
        assert_eq!(err.unwrap_err().field, "participantId");
    }

    #[test]
    fn local_times_carry_the_offset() {
        assert_eq!(local(1_656_424_800_000, parse_tz(Some("US/Pacific"))), "2022-06-28T07:00:00.000-07:00");
        assert_eq!(local(1_656_611_987_790, None), "2022-06-30T17:59:47.790+00:00");
        let e = json!({"startDateTime": "2020-01-01T00:00:00.000Z", "endDateTime": "2020-01-31T23:59:59.000Z",
                       "timezone": null, "participants": [{"participantId": "u", "participantRole": "psm"}]});
        let r = render_event(&e, parse_tz(Some("Europe/Moscow")), &|_, _| None);
        assert_eq!(r["localStartDateTime"], "2020-01-01T03:00:00.000+03:00");
        assert_eq!(r["localEndDateTime"], "2020-02-01T02:59:59.000+03:00");
        assert_eq!(r["participants"][0]["deleted"], true);
    }

    #[test]
    fn work_hours_rules_are_checked() {
        let mut h = blank_hours("w1", "now", "actor");
        let body = json!({"psmId": HOST, "startDateTime": "2020-01-01T00:00:00.000Z",
            "daysInfo": [{"day": 1, "startTime": "09:00", "endTime": "18:00:00"}]});
        apply_hours(&mut h, body.as_object().unwrap(), true, &mut ids()).unwrap();
        assert_eq!(
            h["daysInfo"][0],
            json!({"startTime": "09:00:00", "endTime": "18:00:00", "day": 1, "daysInfoId": "id1"})
        );
        assert_eq!(h["endDateTime"], Value::Null);
        for (bad, field) in [
            (json!({"daysInfo": [{"day": 8, "startTime": "09:00", "endTime": "10:00"}]}), "daysInfo[0].day"),
            (json!({"daysInfo": [{"day": 1, "startTime": "19:00", "endTime": "10:00"}]}), "daysInfo[0].endTime"),
            (json!({"daysInfo": [{"day": 1, "startTime": "9am", "endTime": "10:00"}]}), "daysInfo[0].startTime"),
            (json!({"daysInfo": []}), "daysInfo"),
            (json!({"endDateTime": "2019-01-01T00:00:00.000Z"}), "endDateTime"),
            (json!({"type": "HOLIDAY"}), "type"),
            (json!({"psmId": null}), "psmId"),
        ] {
            let mut copy = h.clone();
            let err = apply_hours(&mut copy, bad.as_object().unwrap(), false, &mut ids()).unwrap_err();
            assert_eq!(err.field, field, "{bad}");
        }
        let mut fresh = blank_hours("w2", "now", "actor");
        assert_eq!(
            apply_hours(&mut fresh, json!({"psmId": HOST}).as_object().unwrap(), true, &mut ids()).unwrap_err().field,
            "startDateTime"
        );
    }

    #[test]
    fn working_time_follows_days_zones_and_overrides() {
        // Mondays and Tuesdays 09:00-18:00 in Moscow (UTC+3) during January 2020.
        let rule = json!({"type": "WORKING_HOURS", "ruleType": "DEFAULT",
            "startDateTime": "2020-01-01T00:00:00.000Z", "endDateTime": "2020-01-31T23:59:59.000Z",
            "daysInfo": [{"day": 1, "startTime": "09:00:00", "endTime": "18:00:00"},
                         {"day": 2, "startTime": "09:00:00", "endTime": "18:00:00"}]});
        let tz = parse_tz(Some("Europe/Moscow"));
        let ms = |s: &str| crate::time::parse_datetime(s).unwrap().timestamp_millis();
        // Week of Monday 2020-01-13: 2 days of 9 hours.
        assert_eq!(
            working_ms(std::slice::from_ref(&rule), tz, ms("2020-01-13T00:00:00Z"), ms("2020-01-20T00:00:00Z")),
            18 * 3_600_000
        );
        // Starting at 15:00 Moscow on Monday: 3 + 9 hours.
        assert_eq!(
            working_ms(std::slice::from_ref(&rule), tz, ms("2020-01-13T12:00:00Z"), ms("2020-01-20T00:00:00Z")),
            12 * 3_600_000
        );
        // An override on Tuesday 14th: 10:00-12:00 only.
        let ov = json!({"type": "WORKING_HOURS", "ruleType": "OVERRIDE",
            "startDateTime": "2020-01-13T21:00:00.000Z", "endDateTime": "2020-01-14T20:59:59.999Z",
            "daysInfo": [{"day": 2, "startTime": "10:00:00", "endTime": "12:00:00"}]});
        assert_eq!(
            working_ms(&[rule.clone(), ov], tz, ms("2020-01-13T00:00:00Z"), ms("2020-01-20T00:00:00Z")),
            11 * 3_600_000
        );
        let avail = json!({"type": "AVAILABILITY", "ruleType": "DEFAULT", "startDateTime": "2020-01-01T00:00:00.000Z",
            "daysInfo": [{"day": 3, "startTime": "09:00:00", "endTime": "18:00:00"}]});
        assert_eq!(working_ms(&[avail], tz, ms("2020-01-13T00:00:00Z"), ms("2020-01-20T00:00:00Z")), 0);
        assert_eq!(hours_text(394 * 3_600_000 - 1000), "394.0 hours");
        assert_eq!(occupancy_text(394, 63), "625.4%");
        assert_eq!(occupancy_text(1, 0), "0.0%");
    }
}
