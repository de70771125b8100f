//! The use cases: one function each, called by the HTTP handlers (`api`), the CLI and
//! background tasks. They take the application state, a scope (who, in which tenant and
//! instance) and plain inputs, and fail with a `ServiceError`; nothing here knows HTTP.
//! SQL stays in `store`, pure rules in `domain`.

pub mod chat;
pub mod emails;
pub mod error;
pub mod patient_programs;
pub mod patients;
pub mod scope;
pub mod sms;
pub mod templates;
