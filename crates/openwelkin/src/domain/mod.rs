//! Types and rules of each resource. No I/O: handlers load, the domain decides, the store
//! saves.

pub mod assessment_record;
pub mod billing;
pub mod calendar;
pub mod call;
pub mod care_plan;
pub mod chat;
pub mod communication_id;
pub mod contact;
pub mod document;
pub mod download;
pub mod email;
pub mod encounter;
pub mod fax;
pub mod fields;
pub mod money;
pub mod patient;
pub mod patient_program;
pub mod patient_stored;
pub mod phase_distribution;
pub mod provider_signature;
pub mod records;
pub mod sms;
pub mod task;
pub mod template;
pub mod user;
pub mod user_access;

/// A rejected input value, named by its JSON field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError { field: field.into(), reason: reason.into() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}
