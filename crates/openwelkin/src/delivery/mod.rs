//! Delivery of outgoing messages through providers chosen at start (`serve` flags). Each
//! channel has a small provider trait and a local outbox provider, the default, which
//! records what would be sent so that it can be inspected.

pub mod email;
pub mod sms;
