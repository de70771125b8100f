//! Who is calling, and where: the authenticated API client, its tenant, and (for data
//! routes) the instance, each checked before a handler runs. Handlers then ask
//! `require(family, op)` for the policy check.

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::policy::{AdminFlag, Family, Op};
use crate::auth::tokens::TokenError;
use crate::domain::patient::Patient;
use crate::events::audit::{Actor, DataEvent, Operation};
use crate::store::clients::ApiClient;
use crate::store::tenants::{Instance, Tenant};
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde_json::json;

/// An authenticated API client acting in its tenant.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: Tenant,
    pub client: ApiClient,
    /// The request path, echoed in access errors as `requestURI`.
    pub request_uri: String,
}

/// A `Caller` on a `/{tenant}/{instance}/…` route, with the instance checked.
#[derive(Clone, Debug)]
pub struct InstanceCaller {
    pub caller: Caller,
    pub instance: Instance,
}

fn path_of(parts: &Parts) -> String {
    parts
        .extensions
        .get::<OriginalUri>()
        .map(|u| u.0.path().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string())
}

fn segment(path: &str, n: usize) -> Option<String> {
    path.split('/')
        .nth(n)
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
}

/// Checks the token and loads the caller; also returns the configuration counter it was
/// checked at, for the instance lookup of the same request.
///
/// One query per request: `config_version`. The tenant, the client (and the instance)
/// come from the `Db`'s cache when they were read at that counter, which every change to
/// them (from any node or the CLI) increments, so a disabled client or a rotated secret is
/// refused by the very next request on every node.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<(Caller, i64), ApiError> {
    let path = path_of(parts);
    let token = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(ApiError::invalid_token)?;
    let claims = state.signer.verify(token, state.clock.now().timestamp()).map_err(|e| match e {
        TokenError::Expired => ApiError::expired_token(),
        TokenError::Invalid => ApiError::invalid_token(),
    })?;
    let tenant_name = segment(&path, 1).ok_or_else(ApiError::invalid_token)?;
    let version = state.db.config_version().await?;
    let tenant = state.db.tenant_at(version, &tenant_name).await?.ok_or_else(ApiError::invalid_token)?;
    // A token is good only in the tenant it was issued for, while its client exists,
    // is enabled and has not rotated its secret since.
    let client = state
        .db
        .client_at(version, &claims.sub)
        .await?
        .filter(|c| {
            c.tenant_id == tenant.id && claims.tenant == tenant.id && c.enabled && c.secret_version == claims.sv
        })
        .ok_or_else(ApiError::invalid_token)?;
    Ok((Caller { tenant, client, request_uri: path }, version))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(authenticate(parts, state).await?.0)
    }
}

impl FromRequestParts<AppState> for InstanceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (caller, version) = authenticate(parts, state).await?;
        let name = segment(&caller.request_uri, 2).unwrap_or_default();
        if !caller.client.instances.allows(&name) {
            return Err(caller.restricted());
        }
        let instance = state.db.instance_at(version, &caller.tenant.id, &name).await?.ok_or_else(|| {
            ApiError::not_found(
                "INSTANCE_NOT_FOUND",
                "INSTANCE",
                "Instance doesn't exist",
                json!({"instanceName": name}),
            )
        })?;
        Ok(InstanceCaller { caller, instance })
    }
}

impl Caller {
    /// The recorded 403 for a call outside the client's policy (no `date`, as recorded).
    pub fn restricted(&self) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
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

    pub fn require(&self, family: Family, op: Op) -> Result<(), ApiError> {
        if self.client.policy.allows(family, op) {
            Ok(())
        } else {
            Err(self.restricted())
        }
    }

    pub fn require_flag(&self, flag: AdminFlag) -> Result<(), ApiError> {
        if self.client.policy.has_flag(flag) {
            Ok(())
        } else {
            Err(self.restricted())
        }
    }

    pub fn actor(&self) -> Actor {
        Actor::api_client(&self.client.id, &self.client.name)
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
    pub record: &'a serde_json::Value,
    /// Overrides the event name (see `DataEvent::subtype`).
    pub subtype: Option<&'a str>,
}

impl<'a> Write<'a> {
    /// A write with nothing but the required parts; set the rest with struct update
    /// syntax (`Write { patient: Some(&p), ..Write::new(...) }`).
    pub fn new(entity: &'static str, operation: Operation, record_id: &'a str, record: &'a serde_json::Value) -> Self {
        Write { entity, operation, record_id, patient: None, cdt_name: None, record, subtype: None }
    }
}

impl InstanceCaller {
    /// Audits a write of this caller in this instance (and queues its event), inside the
    /// write's transaction.
    pub async fn record(&self, tx: &mut crate::store::Tx, w: Write<'_>, now_ms: i64) -> Result<(), ApiError> {
        let actor = self.actor();
        let event = DataEvent {
            tenant_id: &self.tenant.id,
            instance: Some(&self.instance.name),
            entity: w.entity,
            operation: w.operation,
            actor: &actor,
            record_id: w.record_id,
            patient_id: w.patient.map(|p| p.id.as_str()),
            patient_full_name: w.patient.map(Patient::full_name),
            cdt_name: w.cdt_name,
            record: w.record,
            subtype: w.subtype,
        };
        crate::store::audit::record_write(tx, &event, now_ms).await?;
        Ok(())
    }
}

impl std::ops::Deref for InstanceCaller {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.caller
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_decoded() {
        assert_eq!(super::segment("/demo/sand%20box/patients", 2).as_deref(), Some("sand box"));
        assert_eq!(super::segment("/demo", 2), None);
    }
}
