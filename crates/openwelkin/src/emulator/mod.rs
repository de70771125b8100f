//! The emulator: test-harness controls for integration developers, shared by the
//! `/_emulator/` HTTP routes (`api::emulator`) and the CLI (`openwelkin reset|seed|snapshot`).
//! None of it is part of Welkin's API; a server started without `--emulator` has none of it.
//! Its operations fail with a `ServiceError` (component `EMULATOR`); the HTTP routes and
//! the CLI word it.
//!
//! - `admin`: what a server with the controls holds (admin token digest, fault rules).
//! - `data`: reset an instance or a tenant; save, restore, list and delete snapshots.
//! - `fixture`: seed an instance by replaying a fixture of API requests in-process.
//! - `generate`: deterministic realistic fixtures from (count, seed).
//! - `faults`: the rules of injected latency, error answers and dropped connections by
//!   route pattern (applied to requests by `api::emulator::inject`).
//! - `outbox`: what the local SMS, email, chat and webhook outboxes hold.

pub mod admin;
pub mod data;
pub mod faults;
pub mod fixture;
pub mod generate;
pub mod outbox;

use crate::services::error::ServiceError;

/// The component the emulator's errors name.
const COMPONENT: &str = "EMULATOR";

/// Something an emulator operation was asked about does not exist (`404 NOT_FOUND`).
pub fn not_found(message: impl Into<String>) -> ServiceError {
    ServiceError::not_found("NOT_FOUND", COMPONENT, &message.into(), serde_json::json!({}))
}

/// An emulator request that cannot be carried out as given (`400 BAD_REQUEST`).
pub fn bad_input(message: impl Into<String>) -> ServiceError {
    ServiceError::bad_request(COMPONENT, message)
}

impl From<crate::store::emulator::SnapshotError> for ServiceError {
    fn from(e: crate::store::emulator::SnapshotError) -> Self {
        use crate::store::emulator::SnapshotError as S;
        match e {
            S::NotFound(_) => not_found(e.to_string()),
            S::SchemaChanged(_) => bad_input(e.to_string()),
            S::Db(e) => e.into(),
        }
    }
}
