//! API clients' credentials, signed tokens and security policies.

pub mod policy;
pub mod secrets;
pub mod tokens;
