//! What a write leaves behind besides the record itself: the data audit trail and the
//! webhook outbox. Rows are written inside the write's transaction.

pub mod audit;
pub mod webhooks;

tokio::task_local! {
    /// Set while the emulator seeds an instance without webhooks: the writes are audited
    /// as usual, but their events are not queued for delivery.
    static WITHOUT_WEBHOOKS: bool;
}

/// Runs `fut` with the outbox off for every write it makes (in this task).
pub async fn without_webhooks<F: std::future::Future>(fut: F) -> F::Output {
    WITHOUT_WEBHOOKS.scope(true, fut).await
}

/// False inside `without_webhooks`.
pub fn webhooks_enabled() -> bool {
    !WITHOUT_WEBHOOKS.try_with(|off| *off).unwrap_or(false)
}
