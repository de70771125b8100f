//! Care-plan, encounter, assessment-record, contact and dictionary bodies (rules:
//! domain/care_plan.rs, domain/encounter.rs, domain/contact.rs,
//! services/assessment_records.rs, services/encounters/, services/dictionaries.rs).

use super::common::FieldValues;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The patient overview of a care plan.
#[derive(ToSchema)]
#[schema(example = json!({"overview": "Type 2 diabetes, working on diet and daily walks."}))]
pub struct CarePlanOverview {
    pub overview: String,
}

/// A new goal from one of the designer's goal templates.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"goalTemplateName": "lower-a1c"}))]
pub struct GoalCreate {
    #[schema(min_length = 1)]
    pub goal_template_name: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GoalPriority {
    Low,
    Medium,
    High,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GoalStatus {
    Active,
    Completed,
    Removed,
}

/// A goal PATCH: any of name, priority, status.
#[derive(ToSchema)]
#[schema(example = json!({"priority": "HIGH", "status": "ACTIVE"}))]
pub struct GoalUpdate {
    #[schema(min_length = 1, nullable = false)]
    pub name: Option<String>,
    #[schema(nullable = false)]
    pub priority: Option<GoalPriority>,
    #[schema(nullable = false)]
    pub status: Option<GoalStatus>,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EncounterStatus {
    Draft,
    Open,
    Active,
    Finalized,
    Cancelled,
}

/// A new encounter from one of the designer's encounter templates.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "templateName": "etmp-follow-up-call", "title": "Weekly follow-up", "notes": "Review readings"
}))]
pub struct EncounterCreate {
    #[schema(min_length = 1)]
    pub template_name: String,
    #[schema(min_length = 1, nullable = false)]
    pub title: Option<String>,
    pub description: Option<String>,
    pub notes: Option<String>,
    #[schema(nullable = false)]
    pub status: Option<EncounterStatus>,
    /// A user's id.
    #[schema(format = Uuid)]
    pub owner_user_id: Option<String>,
    /// A calendar event of the patient's.
    pub calendar_event_id: Option<String>,
}

/// An encounter update: any of the create's fields (`templateName` only while DRAFT).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"title": "Weekly follow-up (moved)", "status": "OPEN"}))]
pub struct EncounterUpdate {
    #[schema(min_length = 1, nullable = false)]
    pub template_name: Option<String>,
    #[schema(min_length = 1, nullable = false)]
    pub title: Option<String>,
    pub description: Option<String>,
    pub notes: Option<String>,
    #[schema(nullable = false)]
    pub status: Option<EncounterStatus>,
    #[schema(format = Uuid)]
    pub owner_user_id: Option<String>,
    pub calendar_event_id: Option<String>,
}

/// Links an assessment to an encounter, optionally with an existing record of it.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"assessmentName": "asm-phq-2"}))]
pub struct AssessmentLinkCreate {
    #[schema(min_length = 1)]
    pub assessment_name: String,
    pub assessment_record_id: Option<String>,
}

/// Points an encounter's assessment link at a record.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"assessmentRecordId": "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab"}))]
pub struct AssessmentLinkUpdate {
    pub assessment_record_id: Option<String>,
}

/// A new assessment record; `answers` (by answer key) makes it IN_PROGRESS.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"assessmentName": "asm-phq-2"}))]
pub struct AssessmentRecordCreate {
    #[schema(min_length = 1)]
    pub assessment_name: String,
    #[schema(nullable = false)]
    pub answers: Option<BTreeMap<String, Value>>,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssessmentRecordStatus {
    New,
    InProgress,
    Completed,
}

/// An assessment record sent back with its status or answers changed; the keys of the
/// record as read are accepted and must keep their values.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"status": "IN_PROGRESS"}))]
pub struct AssessmentRecordUpdate {
    #[schema(nullable = false)]
    pub status: Option<AssessmentRecordStatus>,
    #[schema(nullable = false)]
    pub answers: Option<BTreeMap<String, Value>>,
    #[schema(format = Date)]
    pub expiration_date: Option<String>,
    pub folder_id: Option<String>,
}

/// A person around a patient; `…PdtFieldName` ties a value to a field of the profile
/// record `pdtRecordId`, whose value must be the same.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "name": "Jane Doe", "relation": "Daughter", "email": "jane.doe@example.com", "phone": "+14155550123"
}))]
pub struct ContactCreate {
    #[schema(min_length = 1)]
    pub name: String,
    #[schema(min_length = 1, nullable = false)]
    pub relation: Option<String>,
    #[schema(format = Uuid)]
    pub pdt_record_id: Option<String>,
    #[schema(format = Email)]
    pub email: Option<String>,
    pub email_label: Option<String>,
    pub email_pdt_field_name: Option<String>,
    /// E.164.
    #[schema(pattern = r"^\+[0-9]{7,15}$")]
    pub phone: Option<String>,
    pub phone_label: Option<String>,
    pub phone_pdt_field_name: Option<String>,
    #[schema(pattern = r"^\+[0-9]{7,15}$")]
    pub secondary_phone: Option<String>,
    pub secondary_phone_label: Option<String>,
    pub secondary_phone_pdt_field_name: Option<String>,
    #[schema(nullable = false)]
    pub active: Option<bool>,
}

/// A contact PATCH: any of the create's fields.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"relation": "Son", "active": true}))]
pub struct ContactUpdate {
    #[schema(min_length = 1, nullable = false)]
    pub name: Option<String>,
    #[schema(min_length = 1, nullable = false)]
    pub relation: Option<String>,
    #[schema(format = Uuid)]
    pub pdt_record_id: Option<String>,
    #[schema(format = Email)]
    pub email: Option<String>,
    pub email_label: Option<String>,
    pub email_pdt_field_name: Option<String>,
    #[schema(pattern = r"^\+[0-9]{7,15}$")]
    pub phone: Option<String>,
    pub phone_label: Option<String>,
    pub phone_pdt_field_name: Option<String>,
    #[schema(pattern = r"^\+[0-9]{7,15}$")]
    pub secondary_phone: Option<String>,
    pub secondary_phone_label: Option<String>,
    pub secondary_phone_pdt_field_name: Option<String>,
    #[schema(nullable = false)]
    pub active: Option<bool>,
}

/// One dictionary record: its field values.
#[derive(ToSchema)]
#[schema(example = json!({"values": {"value": "99215"}}))]
pub struct DictionaryRecordWrite {
    pub values: FieldValues,
}

/// Dictionary records to add or replace.
#[derive(ToSchema)]
#[schema(example = json!({"records": [{"values": {"value": "99215"}}]}))]
pub struct DictionaryRecords {
    pub records: Vec<DictionaryRecordWrite>,
}

/// Answers of an assessment record by answer key (`"<cdtName>__<fieldName>"`), each
/// checked against its field.
#[derive(ToSchema)]
#[schema(example = json!({"cdt-phq-2__cdtf-little-interest": 1}))]
pub struct Answers(pub BTreeMap<String, Value>);
