//! The one source of identifiers: lowercase UUID strings, as Welkin uses for every record.

/// A new record id. Version 7 UUIDs start with the time and count up within the same
/// millisecond, so ordering by (created time, id) is creation order.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Audit event ids are numeric strings in Welkin (`"858123632499595409"`): time-ordered,
/// with random low bits so that nodes need no coordination.
pub fn new_event_id(now_ms: i64) -> String {
    let low: u64 = rand::random::<u64>() & 0x3F_FFFF;
    (((now_ms.max(0) as u64) << 22) | low).to_string()
}

tokio::task_local! {
    /// The id a seed fixture gives the record its request creates (`"id"` in a create's
    /// body), taken by the first `record_id()` of that request.
    static FIXED_ID: std::cell::RefCell<Option<String>>;
}

/// The id of the record a create makes: the one a seed fixture fixed for this request, if
/// any (taken once), else a new one. Creates call this for the record they answer with;
/// ids of records made along the way (audit rows, nested parts) stay `new_id()`.
pub fn record_id() -> String {
    FIXED_ID.try_with(|fixed| fixed.borrow_mut().take()).ok().flatten().unwrap_or_else(new_id)
}

/// Runs `fut` (one in-process request of a seed fixture) with `id` as the id of the
/// record it creates; answers its output and whether a create took the id.
pub async fn with_fixed_id<F: std::future::Future>(id: String, fut: F) -> (F::Output, bool) {
    let cell = std::cell::RefCell::new(Some(id));
    FIXED_ID
        .scope(cell, async {
            let out = fut.await;
            let taken = FIXED_ID.with(|fixed| fixed.borrow().is_none());
            (out, taken)
        })
        .await
}

pub fn is_uuid(value: &str) -> bool {
    uuid::Uuid::parse_str(value).is_ok()
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_fixed_id_is_taken_once_and_only_inside_its_scope() {
        let fixed = "0b5e3d5e-6f1b-4f39-9d5e-7f4c2d1a9b10".to_string();
        let ((first, second), taken) =
            super::with_fixed_id(fixed.clone(), async { (super::record_id(), super::record_id()) }).await;
        assert!(taken);
        assert_eq!(first, fixed);
        assert_ne!(second, fixed);
        assert_ne!(super::record_id(), fixed);
        let (_, taken) = super::with_fixed_id(fixed, async { super::new_id() }).await;
        assert!(!taken, "new_id never takes the fixed id");
    }

    #[test]
    fn ids_made_in_a_row_sort_in_that_order() {
        let ids: Vec<String> = (0..1000).map(|_| super::new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }
}
