//! Typed views of the designer objects other than data types: what code that needs an
//! object's contents reads (`Designer::assessment`, `Designer::program`, …). The designer
//! keeps the objects as normalized JSON (`objects.rs`); a view is deserialized from that
//! form, so every key is present.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    pub id: String,
    pub title: String,
    pub name: String,
    pub sections: Vec<AssessmentSection>,
    pub scoring: Scoring,
    pub programs: Vec<AssessmentProgram>,
    pub template: Value,
    pub condition_settings: Option<ConditionSettings>,
    pub display_type: String,
    pub auto_completed: bool,
}

impl Assessment {
    /// The questions (fields that reference a CDT field), with their section.
    pub fn questions(&self) -> impl Iterator<Item = &AssessmentField> {
        self.sections.iter().flat_map(|s| s.fields.iter()).filter(|f| f.view_type == "question")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentSection {
    pub title: String,
    pub name: String,
    pub order: i64,
    pub fields: Vec<AssessmentField>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentField {
    pub label: String,
    pub name: String,
    pub ref_cdt_name: String,
    pub ref_cdt_field_name: String,
    pub order: i64,
    /// `question` or `readOnly`.
    pub view_type: String,
    pub meta: QuestionMeta,
    pub pre_populated_value: Option<PrePopulatedValue>,
    pub attachments: Vec<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuestionMeta {
    /// The referenced field's type; empty in the designer file means "the CDT field's".
    #[serde(rename = "type")]
    pub field_type: String,
    pub required: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrePopulatedValue {
    /// `PREVIOUS_ASSESSMENT` or `DEFAULT_VALUE`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub default_value: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scoring {
    /// `SUM` or `AVG`.
    pub formula: String,
    pub groups: Vec<ScoringGroup>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoringGroup {
    pub name: String,
    pub title: String,
    pub formula: String,
    pub fields: Vec<ScoredField>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoredField {
    pub ref_cdt_name: String,
    pub ref_cdt_field_name: String,
    #[serde(rename = "type")]
    pub field_type: String,
    pub scores: Vec<Score>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub score: f64,
    /// The answer (an option value of the question) that earns the score.
    pub answer: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssessmentProgram {
    pub program: String,
    pub phases: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConditionSettings {
    pub elements: Vec<Value>,
    pub events: Vec<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub name: String,
    pub title: String,
    pub description: String,
    pub phases: Vec<Phase>,
    pub nodes: Option<Vec<Value>>,
}

impl Program {
    pub fn phase(&self, name: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.name == name)
    }

    /// The phase a new enrollment starts in.
    pub fn start(&self) -> Option<&Phase> {
        self.phases.iter().find(|p| p.phase_type == "START")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    pub name: String,
    pub title: String,
    /// `START`, `REGULAR` or `FINISH`.
    #[serde(rename = "type")]
    pub phase_type: String,
    pub description: String,
    pub auto_finish_program: bool,
    pub navigate_to: Vec<PhaseRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseRef {
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncounterTemplate {
    pub id: String,
    pub name: String,
    pub title: String,
    pub encounter_description: String,
    pub encounter_instruction: String,
    pub encounter_color: String,
    #[serde(rename = "type")]
    pub template_type: String,
    pub delivery_method: String,
    pub default_duration: i64,
    pub assessment_names: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoalTemplate {
    pub name: String,
    pub goal_name: String,
    #[serde(rename = "type")]
    pub goal_type: String,
    /// `LOW`, `MEDIUM` or `HIGH`.
    pub priority: String,
    pub task_templates: Vec<TaskTemplate>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskTemplate {
    pub name: String,
    pub subject_config: SubjectConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectConfig {
    /// `ROLE` (with `roleName`) or `POINT_OF_CONTACT`.
    #[serde(rename = "type")]
    pub subject_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dictionary {
    pub name: String,
    pub title: String,
    pub internal: bool,
    pub fields: Vec<DictionaryField>,
    /// Seed records from the designer folder (not part of the formation object).
    pub records: Vec<DictionaryRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DictionaryField {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DictionaryRecord {
    pub values: Map<String, Value>,
}

/// A role or a security policy: both are a name and a title in the designer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Named {
    pub name: String,
    pub title: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub name: String,
    pub title: String,
    pub territories: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub name: String,
    pub title: String,
    /// Event subtypes, e.g. `PATIENT_CREATED`.
    pub events: Vec<String>,
    pub url: String,
    pub headers: Vec<NameValue>,
    pub query_parameters: Vec<NameValue>,
    pub payload: WebhookPayload,
    pub active: bool,
    pub enabled: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NameValue {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    pub predefined_fields: Vec<String>,
    pub custom_fields: Vec<NameValue>,
}
