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

pub fn is_uuid(value: &str) -> bool {
    uuid::Uuid::parse_str(value).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_made_in_a_row_sort_in_that_order() {
        let ids: Vec<String> = (0..1000).map(|_| super::new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }
}
