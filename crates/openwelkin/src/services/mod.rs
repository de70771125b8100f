//! The use cases: one function each, called by the HTTP handlers (`api`), the CLI and
//! background tasks. They take the application state, a scope (who, in which tenant and
//! instance) and plain inputs, and fail with a `ServiceError`; nothing here knows HTTP.
//! SQL stays in `store`, pure rules in `domain`.
//!
//! One module per resource (`patients`, `contacts`, `dictionaries`, `chat` with
//! `chat_webhook`, `calls`, `sms`, `emails`, `templates`, `patient_programs`); `records`
//! holds what the data type record use cases share; `scope` and `error` what all share.

pub mod calls;
pub mod chat;
pub mod chat_webhook;
pub mod contacts;
pub mod dictionaries;
pub mod emails;
pub mod error;
pub mod patient_programs;
pub mod patients;
pub mod records;
pub mod scope;
pub mod sms;
pub mod templates;
