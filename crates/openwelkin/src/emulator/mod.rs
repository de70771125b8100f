//! The emulator: test-harness controls for integration developers, shared by the
//! `/_emulator/` HTTP routes (`api::emulator`) and the CLI (`openwelkin reset|seed|snapshot`).
//! None of it is part of Welkin's API; a server started without `--emulator` has none of it.
//!
//! - `admin`: what a server with the controls holds (admin token digest, fault rules).
//! - `data`: reset an instance or a tenant; save, restore, list and delete snapshots.
//! - `fixture`: seed an instance by replaying a fixture of API requests in-process.
//! - `generate`: deterministic realistic fixtures from (count, seed).
//! - `faults`: injected latency, error answers and dropped connections by route pattern.
//! - `outbox`: what the local SMS, email, chat and webhook outboxes hold.

pub mod admin;
pub mod data;
pub mod faults;
pub mod fixture;
pub mod generate;
pub mod outbox;

/// Why an emulator operation refused or failed; the HTTP and CLI layers word it.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Db(#[from] crate::store::sql::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<crate::store::emulator::SnapshotError> for EmulatorError {
    fn from(e: crate::store::emulator::SnapshotError) -> Self {
        use crate::store::emulator::SnapshotError as S;
        match e {
            S::NotFound(_) => EmulatorError::NotFound(e.to_string()),
            S::SchemaChanged(_) => EmulatorError::BadInput(e.to_string()),
            S::Db(e) => EmulatorError::Db(e),
        }
    }
}

impl From<EmulatorError> for crate::api::error::ApiError {
    fn from(e: EmulatorError) -> Self {
        use crate::api::error::ApiError;
        match e {
            EmulatorError::NotFound(m) => ApiError::not_found("NOT_FOUND", "EMULATOR", &m, serde_json::json!({})),
            EmulatorError::BadInput(m) => ApiError::bad_request("EMULATOR", m),
            EmulatorError::Db(e) => e.into(),
            EmulatorError::Other(e) => ApiError::internal(e),
        }
    }
}
