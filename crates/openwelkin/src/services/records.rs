//! What the records of data types (CDT records, the encounters' internal records and
//! assessment answers) share: the 404 for a missing record, and the dictionary values
//! their fields are checked against.

use super::error::{ServiceError, ServiceResult};
use super::scope::InstanceScope;
use crate::app::AppState;
use crate::designer::data_type::DataType;
use crate::domain::records::DictionaryValues;
use serde_json::Value;

/// Data type records answer in the CDT component, whatever their kind, as recorded.
const COMPONENT: &str = "CDT";

pub fn record_not_found(details: Value) -> ServiceError {
    ServiceError::not_found("DT_RECORD_NOT_FOUND", COMPONENT, "DT record not found", details)
}

/// The values of every dictionary a field of `dt` uses, read once each.
pub async fn dictionary_values(
    state: &AppState,
    ctx: &InstanceScope,
    dt: &DataType,
) -> ServiceResult<DictionaryValues> {
    let mut out = DictionaryValues::new();
    for name in dt.fields.iter().filter_map(|f| f.dictionary.as_ref()) {
        if !out.contains_key(name) {
            out.insert(name.clone(), state.db.dictionary_values(&ctx.instance.id, name).await?);
        }
    }
    Ok(out)
}
