//! Encounters: a visit or session with a patient, made from an encounter template, with
//! a status that only moves along allowed transitions.

use super::fields::{self, reject_unknown};
use super::FieldError;
use serde_json::{json, Map, Value};

pub const STATUSES: &[&str] = &["DRAFT", "OPEN", "ACTIVE", "FINALIZED", "CANCELLED"];

/// The internal data types an encounter's records are stored under (with CDT records, in
/// `dt_records`): the encounter itself, its assessment links and its disposition. The
/// handlers, the export and the emulator's seeding all name them.
pub const ENCOUNTER: &str = "__encounter__";
pub const LINK: &str = "__encounter_assessment__";
pub const DISPOSITION: &str = "__encounter_disposition__";

/// The statuses an encounter may move to from `from`. Finalized and cancelled
/// encounters are closed: nothing changes them any more.
pub fn next_statuses(from: &str) -> &'static [&'static str] {
    match from {
        "DRAFT" => &["OPEN", "ACTIVE", "CANCELLED"],
        "OPEN" => &["DRAFT", "ACTIVE", "CANCELLED"],
        "ACTIVE" => &["OPEN", "FINALIZED", "CANCELLED"],
        _ => &[],
    }
}

pub fn is_closed(status: &str) -> bool {
    matches!(status, "FINALIZED" | "CANCELLED")
}

const WRITABLE: &[&str] =
    &["title", "description", "notes", "status", "calendarEventId", "ownerUserId", "templateName"];

const READ_ONLY: &[&str] = &[
    "type",
    "templateTitle",
    "instruction",
    "startDatetime",
    "endDatetime",
    "localStartDatetime",
    "localEndDatetime",
    "calendarEventStartDatetime",
    "localCalendarEventStartDatetime",
    "currentScheduledAppointment",
    "calendarEvent",
    "dispositionId",
    "activeUserId",
    "activeUserName",
    "ownerUserName",
    "local_created_at",
    "local_updated_at",
    "created_at",
    "created_by",
    "created_by_name",
    "updated_at",
    "updated_by",
    "updated_by_name",
    "source_type",
    "source_name",
    "source_id",
    "external_id",
    "external_guid",
];

/// What a PATCH asks for, checked for shape; references (template, user, event) and the
/// status transition are checked by the caller against the store.
#[derive(Debug, Default, PartialEq)]
pub struct Change {
    pub fields: Map<String, Value>,
    pub status: Option<String>,
    pub template: Option<String>,
    pub owner: Option<Option<String>>,
    pub calendar_event: Option<Option<String>>,
}

pub fn parse_change(body: &Map<String, Value>, id: &str) -> Result<Change, FieldError> {
    let mut body = body.clone();
    if let Some(given) = body.remove("id") {
        if given.as_str() != Some(id) {
            return Err(FieldError::new("id", "does not match the encounter in the path"));
        }
    }
    reject_unknown(&body, WRITABLE, READ_ONLY)?;
    let mut change = Change::default();
    for (key, value) in &body {
        let k = key.as_str();
        match k {
            "title" => {
                change.fields.insert(k.into(), json!(fields::text(k, value)?));
            }
            "description" | "notes" => {
                change.fields.insert(k.into(), fields::opt_text(k, value)?.map(Value::String).unwrap_or(Value::Null));
            }
            "status" => change.status = Some(fields::one_of(k, value, STATUSES)?),
            "templateName" => change.template = Some(fields::text(k, value)?),
            "ownerUserId" => change.owner = Some(fields::opt_uuid(k, value)?),
            "calendarEventId" => change.calendar_event = Some(fields::opt_text(k, value)?),
            _ => unreachable!("reject_unknown admits only writable keys"),
        }
    }
    Ok(change)
}

/// What a new encounter is made of, besides its template.
pub struct Draft<'a> {
    pub title: Value,
    pub description: Value,
    pub notes: Value,
    pub disposition_id: &'a str,
    pub owner_id: Option<&'a str>,
    pub owner_name: Option<&'a str>,
    /// Creation time in the patient's time zone, as the `local_*` fields show it.
    pub local_now: &'a str,
}

/// The stored fields of a new DRAFT encounter from `template` (no appointment yet). Made
/// here once for the API and for the emulator's seeding, so that both store the same shape.
pub fn draft_fields(template: &crate::designer::views::EncounterTemplate, d: Draft<'_>) -> Map<String, Value> {
    let mut fields = Map::new();
    for (k, v) in [
        ("title", d.title),
        ("description", d.description),
        ("notes", d.notes),
        ("type", json!(template.name)),
        ("templateName", json!(template.name)),
        ("templateTitle", json!(template.title)),
        ("instruction", json!(template.encounter_instruction)),
        ("status", json!("DRAFT")),
        ("startDatetime", Value::Null),
        ("endDatetime", Value::Null),
        ("localStartDatetime", Value::Null),
        ("localEndDatetime", Value::Null),
        ("calendarEventId", Value::Null),
        ("calendarEventStartDatetime", Value::Null),
        ("localCalendarEventStartDatetime", Value::Null),
        ("currentScheduledAppointment", Value::Null),
        ("calendarEvent", Value::Null),
        ("dispositionId", json!(d.disposition_id)),
        ("activeUserId", Value::Null),
        ("activeUserName", Value::Null),
        ("ownerUserId", json!(d.owner_id)),
        ("ownerUserName", json!(d.owner_name)),
        ("local_created_at", json!(d.local_now)),
        ("local_updated_at", json!(d.local_now)),
    ] {
        fields.insert(k.into(), v);
    }
    fields
}

/// The body of a record an encounter owns (its disposition, its assessment links; the
/// encounter itself, with the source fields then cleared): the system fields, written by
/// the actor at `now`, pointing at the encounter, plus `fields`.
pub fn owned_body(
    id: &str,
    encounter_id: &str,
    now: &str,
    actor_id: &str,
    actor_name: &str,
    fields: Map<String, Value>,
) -> Map<String, Value> {
    let dt: crate::designer::data_type::DataType =
        serde_json::from_value(json!({"name": "owned", "fields": []})).expect("empty data type");
    let mut body = super::records::blank_body(&dt, id, now, actor_id, actor_name);
    body.insert("source_type".into(), json!("ENCOUNTER"));
    body.insert("source_name".into(), json!(ENCOUNTER));
    body.insert("source_id".into(), json!(encounter_id));
    body.extend(fields);
    body
}

/// The fields of an assessment link: to assessment `name`, with its record once there is
/// one; `from_template` for the links a new encounter gets from its template.
pub fn link_fields(name: &str, title: String, record_id: Option<String>, from_template: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("assessmentName".into(), json!(name));
    m.insert("assessmentTitle".into(), json!(title));
    m.insert("assessmentRecordId".into(), json!(record_id));
    m.insert("fromTemplate".into(), json!(from_template));
    m.insert("relation".into(), json!("ASSESSMENT"));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_encounters_go_nowhere() {
        assert!(next_statuses("DRAFT").contains(&"ACTIVE"));
        assert!(!next_statuses("DRAFT").contains(&"FINALIZED"), "an encounter is active before it is finalized");
        assert!(next_statuses("FINALIZED").is_empty());
        assert!(next_statuses("CANCELLED").is_empty());
    }

    #[test]
    fn changes_are_checked_by_field() {
        let ok = parse_change(json!({"id": "e1", "notes": "n", "status": "open"}).as_object().unwrap(), "e1").unwrap();
        assert_eq!(ok.status.as_deref(), Some("OPEN"));
        assert_eq!(parse_change(json!({"status": "DONE"}).as_object().unwrap(), "e1").unwrap_err().field, "status");
        assert_eq!(
            parse_change(json!({"dispositionId": "x"}).as_object().unwrap(), "e1").unwrap_err().field,
            "dispositionId"
        );
        assert_eq!(parse_change(json!({"id": "e2"}).as_object().unwrap(), "e1").unwrap_err().field, "id");
        assert_eq!(parse_change(json!({"mood": 1}).as_object().unwrap(), "e1").unwrap_err().field, "mood");
    }
}
