//! The audits of a tenant as an operator reads them (the console): data, security and
//! webhook delivery attempts, newest first, one page at a time.

use super::error::ServiceResult;
use crate::store::audit::{DataAuditFilter, DataAuditRow, SecurityFilter};
use crate::store::tenants::Tenant;
use crate::store::webhooks::AttemptFilter;
use crate::store::Db;
use serde_json::Value;

pub async fn data(
    db: &Db,
    tenant: &Tenant,
    filter: &DataAuditFilter,
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<DataAuditRow>, i64)> {
    let newest_first = [crate::store::query::SortColumn { column: "sent_at", descending: true }];
    Ok(db.data_audit(&tenant.id, filter, &newest_first, offset, size).await?)
}

pub async fn security(
    db: &Db,
    tenant: &Tenant,
    filter: &SecurityFilter,
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    Ok(db.security_audit(&tenant.id, filter, offset, size).await?)
}

pub async fn webhooks(
    db: &Db,
    tenant: &Tenant,
    filter: &AttemptFilter,
    offset: i64,
    size: i64,
) -> ServiceResult<(Vec<Value>, i64)> {
    Ok(db.webhook_attempts(&tenant.id, filter, offset, size).await?)
}
