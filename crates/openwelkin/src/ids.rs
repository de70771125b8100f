//! The one source of identifiers: lowercase UUID strings, as Welkin uses for every record.

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
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
