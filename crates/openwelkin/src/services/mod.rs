//! The use cases: one function each, called by the HTTP handlers (`api`), the CLI and
//! background tasks. They take the application state, a scope (who, in which tenant and
//! instance) and plain inputs, and fail with a `ServiceError`; nothing here knows HTTP.
//! SQL stays in `store`, pure rules in `domain`.
//!
//! Moved so far: patients, SMS sends and templated sends (with what they share of
//! patient programs, chat and emails), tasks, care plans, the calendar (`calendar/`:
//! events, schedules, work hours), assessment records, and the helpers of data type
//! records (`records`). The other resources still run their use cases in their handlers.

pub mod assessment_records;
pub mod calendar;
pub mod care_plans;
pub mod chat;
pub mod emails;
pub mod error;
pub mod patient_programs;
pub mod patients;
pub mod records;
pub mod scope;
pub mod sms;
pub mod tasks;
pub mod templates;
