//! Calendar event and work-hours bodies (rules: domain/calendar.rs).

use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    GroupTherapy,
    Appointment,
    Leave,
    Encounter,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventStatus {
    Scheduled,
    Cancelled,
    Completed,
    Missed,
}

#[derive(ToSchema)]
pub enum EventMode {
    #[schema(rename = "IN-PERSON")]
    InPerson,
    #[schema(rename = "CALL")]
    Call,
    #[schema(rename = "VIDEO")]
    Video,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ParticipantRole {
    /// A user.
    Psm,
    Patient,
}

/// Someone who takes part in an event.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ParticipantWrite {
    #[schema(format = Uuid)]
    pub participant_id: String,
    pub participant_role: ParticipantRole,
    pub attended: Option<bool>,
    pub participation_status: Option<String>,
}

/// A new event (or a PUT, which replaces the event): the host takes part as `psm`;
/// `endDateTime` is after `startDateTime`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "eventTitle": "Follow-up call", "startDateTime": "2030-01-15T15:00:00.000Z", "endDateTime": "2030-01-15T15:30:00.000Z",
    "hostId": "0b6f7a9e-1c2d-4e3f-8a9b-0c1d2e3f4a5b", "eventType": "APPOINTMENT", "eventMode": "CALL",
    "participants": [
        {"participantId": "0b6f7a9e-1c2d-4e3f-8a9b-0c1d2e3f4a5b", "participantRole": "psm"},
        {"participantId": "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab", "participantRole": "patient"}
    ]
}))]
pub struct EventWrite {
    #[schema(format = DateTime)]
    pub start_date_time: String,
    #[schema(format = DateTime)]
    pub end_date_time: String,
    /// A user's id.
    #[schema(format = Uuid)]
    pub host_id: String,
    #[schema(min_items = 1)]
    pub participants: Vec<ParticipantWrite>,
    pub event_title: Option<String>,
    pub event_description: Option<String>,
    pub event_type: Option<EventType>,
    pub event_status: Option<EventStatus>,
    pub event_mode: Option<EventMode>,
    pub event_color: Option<String>,
    pub all_day_event: Option<bool>,
    /// An IANA time zone, e.g. America/New_York.
    pub timezone: Option<String>,
    /// Unique in the instance.
    pub external_id: Option<String>,
    pub additional_info: Option<BTreeMap<String, Value>>,
}

/// An event PATCH: any fields of the create body; `participants`, when given, replace
/// the list.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"eventTitle": "New event title"}))]
pub struct EventPatch {
    #[schema(format = DateTime, nullable = false)]
    pub start_date_time: Option<String>,
    #[schema(format = DateTime, nullable = false)]
    pub end_date_time: Option<String>,
    #[schema(format = Uuid, nullable = false)]
    pub host_id: Option<String>,
    #[schema(min_items = 1, nullable = false)]
    pub participants: Option<Vec<ParticipantWrite>>,
    pub event_title: Option<String>,
    pub event_description: Option<String>,
    pub event_type: Option<EventType>,
    pub event_status: Option<EventStatus>,
    pub event_mode: Option<EventMode>,
    pub event_color: Option<String>,
    pub all_day_event: Option<bool>,
    pub timezone: Option<String>,
    pub external_id: Option<String>,
    pub additional_info: Option<BTreeMap<String, Value>>,
}

/// A participant's answer to an invitation.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "participantId": "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab", "participationStatus": "Yes"
}))]
pub struct InvitationResponse {
    #[schema(format = Uuid)]
    pub participant_id: String,
    #[schema(min_length = 1)]
    pub participation_status: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HoursType {
    WorkingHours,
    Availability,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RuleType {
    Default,
    Override,
}

/// One day of a work-hours rule: 1 (Monday) to 7, with times of day (HH:MM:SS).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct DayHours {
    #[schema(minimum = 1, maximum = 7)]
    pub day: i64,
    #[schema(pattern = r"^[0-2][0-9]:[0-5][0-9](:[0-5][0-9])?$")]
    pub start_time: String,
    #[schema(pattern = r"^[0-2][0-9]:[0-5][0-9](:[0-5][0-9])?$")]
    pub end_time: String,
}

/// A new work-hours rule of a user.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "psmId": "0b6f7a9e-1c2d-4e3f-8a9b-0c1d2e3f4a5b", "startDateTime": "2030-01-01T00:00:00.000Z",
    "name": "Weekdays", "type": "WORKING_HOURS", "ruleType": "DEFAULT",
    "daysInfo": [{"day": 1, "startTime": "09:00:00", "endTime": "17:00:00"}]
}))]
pub struct WorkHoursCreate {
    #[schema(format = Uuid)]
    pub psm_id: String,
    #[schema(format = DateTime)]
    pub start_date_time: String,
    /// None: open-ended.
    #[schema(format = DateTime)]
    pub end_date_time: Option<String>,
    #[schema(min_items = 1)]
    pub days_info: Vec<DayHours>,
    pub name: Option<String>,
    #[schema(nullable = false)]
    pub r#type: Option<HoursType>,
    #[schema(nullable = false)]
    pub rule_type: Option<RuleType>,
    /// Encounter template names (AVAILABILITY rules).
    pub encounters: Option<Vec<String>>,
}

/// A work-hours update: any of the create's fields; `daysInfo` replaces the days.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"name": "Weekdays (summer)"}))]
pub struct WorkHoursUpdate {
    #[schema(format = Uuid, nullable = false)]
    pub psm_id: Option<String>,
    #[schema(format = DateTime, nullable = false)]
    pub start_date_time: Option<String>,
    #[schema(format = DateTime)]
    pub end_date_time: Option<String>,
    #[schema(min_items = 1, nullable = false)]
    pub days_info: Option<Vec<DayHours>>,
    pub name: Option<String>,
    #[schema(nullable = false)]
    pub r#type: Option<HoursType>,
    #[schema(nullable = false)]
    pub rule_type: Option<RuleType>,
    pub encounters: Option<Vec<String>>,
}
