//! What a write leaves behind besides the record itself: the data audit trail (and, in
//! later issues, the webhook outbox). Rows are written inside the write's transaction.

pub mod audit;
pub mod webhooks;
