//! Where a use case runs and for whom: the API client in its tenant (`Scope`) and, for
//! data routes, the instance (`InstanceScope`). `api::caller` builds them from a request
//! (token, path); the CLI builds them for its own client. Here are the policy checks and
//! the audit of a write, which need no HTTP.

use super::error::ServiceError;
use crate::auth::policy::{AdminFlag, Family, Op};
use crate::domain::patient::Patient;
use crate::events::audit::{Actor, AuditRecord, DataEvent, Operation};
use crate::store::clients::ApiClient;
use crate::store::tenants::{Instance, Tenant};
use serde_json::json;

/// An API client acting in its tenant.
#[derive(Clone, Debug)]
pub struct Scope {
    pub tenant: Tenant,
    pub client: ApiClient,
    /// The request path, echoed in access errors as `requestURI`.
    pub request_uri: String,
    /// Set when a console operator acts (`Scope::for_operator`): audits name the
    /// operator instead of the client.
    pub operator: Option<Actor>,
}

/// A `Scope` in one instance of the tenant, the instance checked.
#[derive(Clone, Debug)]
pub struct InstanceScope {
    pub scope: Scope,
    pub instance: Instance,
}

impl Scope {
    /// The recorded 403 for a call outside the client's policy (no `date`, as recorded).
    pub fn restricted(&self) -> ServiceError {
        ServiceError::new(
            super::error::Kind::Forbidden,
            "ACCESS_FOR_API_CLIENT_RESTRICTED",
            "AUTH",
            "Access to this API is restricted for the APIClient",
            json!({
                "clientId": self.client.id,
                "clientName": self.client.name,
                "clientType": "API_CLIENT",
                "organizationName": self.tenant.name,
                "requestURI": self.request_uri,
            }),
        )
        .without_date()
    }

    pub fn require(&self, family: Family, op: Op) -> Result<(), ServiceError> {
        if self.client.policy.allows(family, op) {
            Ok(())
        } else {
            Err(self.restricted())
        }
    }

    pub fn require_flag(&self, flag: AdminFlag) -> Result<(), ServiceError> {
        if self.client.policy.has_flag(flag) {
            Ok(())
        } else {
            Err(self.restricted())
        }
    }

    pub fn actor(&self) -> Actor {
        match &self.operator {
            Some(operator) => operator.clone(),
            None => Actor::api_client(&self.client.id, &self.client.name),
        }
    }

    /// A console operator acting in `tenant`: every family and flag (the console is the
    /// server's own administration), audited as the operator.
    pub fn for_operator(tenant: Tenant, operator: Actor) -> Self {
        let client = ApiClient {
            id: operator.id.clone(),
            tenant_id: tenant.id.clone(),
            name: operator.username.clone(),
            secret_hash: String::new(),
            secret_version: 0,
            enabled: true,
            policy: crate::auth::policy::Policy::all_access(),
            instances: crate::store::clients::InstanceGrant::All,
            created_at: 0,
        };
        Scope { tenant, client, request_uri: String::new(), operator: Some(operator) }
    }
}

/// One write to audit: what changed, and the record after the change (before it, for a
/// delete).
pub struct Write<'a> {
    pub entity: &'static str,
    pub operation: Operation,
    pub record_id: &'a str,
    pub patient: Option<&'a Patient>,
    pub cdt_name: Option<&'a str>,
    /// The relation of the data type `cdt_name` names (`COMMON`, `ENCOUNTER_DISPOSITION`,
    /// …), shown as the audit entry's `cdtRelation`.
    pub cdt_relation: Option<&'a str>,
    pub record: AuditRecord<'a>,
    /// Overrides the event name (see `DataEvent::subtype`).
    pub subtype: Option<&'a str>,
}

impl<'a> Write<'a> {
    /// A write with nothing but the required parts; set the rest with struct update
    /// syntax (`Write { patient: Some(&p), ..Write::new(...) }`).
    pub fn new(entity: &'static str, operation: Operation, record_id: &'a str, record: &'a serde_json::Value) -> Self {
        Write::of_record(entity, operation, record_id, AuditRecord::Value(record))
    }

    /// A write whose audit entry shows `record` (its JSON value or text).
    pub fn of_record(entity: &'static str, operation: Operation, record_id: &'a str, record: AuditRecord<'a>) -> Self {
        Write { entity, operation, record_id, patient: None, cdt_name: None, cdt_relation: None, record, subtype: None }
    }
}

impl Scope {
    /// Audits a write of tenant data (users and their access; no instance), inside the
    /// write's transaction.
    pub async fn record(&self, tx: &mut crate::store::Tx, w: Write<'_>, now_ms: i64) -> Result<(), ServiceError> {
        record_in(self, None, tx, w, now_ms).await
    }
}

impl InstanceScope {
    /// Audits a write in this scope (and queues its event), inside the write's
    /// transaction.
    pub async fn record(&self, tx: &mut crate::store::Tx, w: Write<'_>, now_ms: i64) -> Result<(), ServiceError> {
        record_in(&self.scope, Some(&self.instance.name), tx, w, now_ms).await
    }
}

/// Writes the audit row (and the outbox row) of `w` by `scope`'s client in `instance`.
async fn record_in(
    scope: &Scope,
    instance: Option<&str>,
    tx: &mut crate::store::Tx,
    w: Write<'_>,
    now_ms: i64,
) -> Result<(), ServiceError> {
    let actor = scope.actor();
    let event = DataEvent {
        tenant_id: &scope.tenant.id,
        instance,
        entity: w.entity,
        operation: w.operation,
        actor: &actor,
        record_id: w.record_id,
        patient_id: w.patient.map(|p| p.id.as_str()),
        patient_full_name: w.patient.map(Patient::full_name),
        cdt_name: w.cdt_name,
        cdt_relation: w.cdt_relation,
        record: w.record,
        subtype: w.subtype,
    };
    crate::store::audit::record_write(tx, &event, now_ms).await?;
    Ok(())
}

impl std::ops::Deref for InstanceScope {
    type Target = Scope;
    fn deref(&self) -> &Scope {
        &self.scope
    }
}
