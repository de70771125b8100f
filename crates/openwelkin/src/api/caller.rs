//! Who is calling, and where: the extractors that build a use case's scope from a
//! request, the authenticated API client and its tenant, and (for data routes) the
//! instance, each checked before a handler runs. The scopes themselves, their policy
//! checks (`require(family, op)`) and the audit of a write are `services::scope`.

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::tokens::TokenError;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use serde_json::json;

pub use crate::services::scope::Write;

/// An authenticated API client acting in its tenant, from the bearer token and the path.
pub type Caller = crate::services::scope::Scope;

/// A `Caller` on a `/{tenant}/{instance}/…` route, with the instance checked.
pub type InstanceCaller = crate::services::scope::InstanceScope;

pub(crate) fn path_of(parts: &Parts) -> String {
    parts
        .extensions
        .get::<OriginalUri>()
        .map(|u| u.0.path().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string())
}

/// The `n`th segment of `path`, percent-decoded (1: the tenant, 2: the instance).
pub(crate) fn segment(path: &str, n: usize) -> Option<String> {
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
        .ok_or_else(|| rejected("missing"))?;
    let claims = state.signer.verify(token, state.clock.now().timestamp()).map_err(|e| match e {
        TokenError::Expired => {
            rejected("expired");
            ApiError::expired_token()
        }
        TokenError::Invalid => rejected("invalid"),
    })?;
    let tenant_name = segment(&path, 1).ok_or_else(|| rejected("invalid"))?;
    let version = state.db.config_version().await?;
    let tenant = state.db.tenant_at(version, &tenant_name).await?.ok_or_else(|| rejected("invalid"))?;
    // A token is good only in the tenant it was issued for, while its client exists,
    // is enabled and has not rotated its secret since.
    let client = state
        .db
        .client_at(version, &claims.sub)
        .await?
        .filter(|c| {
            c.tenant_id == tenant.id && claims.tenant == tenant.id && c.enabled && c.secret_version == claims.sv
        })
        .ok_or_else(|| rejected("revoked"))?;
    Ok((Caller { tenant, client, request_uri: path, operator: None }, version))
}

/// Counts a refused bearer token (`openwelkin_bearer_rejections_total`) and returns the
/// answer for it.
fn rejected(reason: &'static str) -> ApiError {
    metrics::counter!(crate::telemetry::names::BEARER_REJECTIONS, "reason" => reason).increment(1);
    ApiError::invalid_token()
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
            return Err(caller.restricted().into());
        }
        let instance = state.db.instance_at(version, &caller.tenant.id, &name).await?.ok_or_else(|| {
            ApiError::not_found(
                "INSTANCE_NOT_FOUND",
                "INSTANCE",
                "Instance doesn't exist",
                json!({"instanceName": name}),
            )
        })?;
        Ok(InstanceCaller { scope: caller, instance })
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
