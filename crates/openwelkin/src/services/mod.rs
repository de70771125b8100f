//! The use cases: one function each, called by the HTTP handlers (`api`), the CLI and
//! background tasks. They take the application state, a scope (who, in which tenant and
//! instance) and plain inputs, and fail with a `ServiceError`; nothing here knows HTTP.
//! SQL stays in `store`, pure rules in `domain`.
//!
//! One module per resource: `patients`, `users` with `user_access`, `formations` (reads,
//! the draft, publishing), `records/` (CDT and PDT records), `encounters/` (lifecycle,
//! listing, comments, assessment links, disposition), `documents/`, `tasks`,
//! `care_plans`, `calendar/` (events, schedules, work hours), `assessment_records`,
//! `contacts`, `dictionaries`, `billing/` (payment methods, subscriptions, invoices,
//! payments), `chat` with `chat_webhook`, `calls`, `sms/`, `emails/`,
//! `communication_ids`, `faxes`, `webhooks`, `templates`, `patient_programs` with
//! `reports`, `export`; `provider_auth` checks the signatures of provider callbacks;
//! `scope` and `error` hold what all share.

pub mod api_clients;
pub mod assessment_records;
pub mod audit;
pub mod billing;
pub mod calendar;
pub mod calls;
pub mod care_plans;
pub mod chat;
pub mod chat_webhook;
pub mod communication_ids;
pub mod contacts;
pub mod dictionaries;
pub mod documents;
pub mod emails;
pub mod encounters;
pub mod error;
pub mod export;
pub mod faxes;
pub mod formations;
pub mod operators;
pub mod patient_programs;
pub mod patients;
pub mod provider_auth;
pub mod records;
pub mod reports;
pub mod scope;
pub mod sms;
pub mod tasks;
pub mod templates;
pub mod tenants;
pub mod user_access;
pub mod users;
pub mod webhooks;
