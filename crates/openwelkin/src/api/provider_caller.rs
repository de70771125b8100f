//! Who calls a provider callback (`/{tenant}/{instance}/providers/…`): an API client with
//! its bearer token, as on every other route, or, when the request has no bearer token,
//! the provider itself. Providers sign instead (`services::provider_auth`), over the body,
//! so the signature is checked once the handler has read it. Here is what comes from the
//! request head: the `X-Twilio-Signature` header and the URL the provider called.

use super::caller::{path_of, segment, InstanceCaller};
use super::error::ApiResult;
use crate::app::AppState;
use crate::services::provider_auth::{self as service, Provider};
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::request::Parts;
use serde_json::{Map, Value};

/// The caller of a provider callback.
pub enum ProviderCaller {
    /// An API client with a bearer token (checked as on every route); boxed, being the
    /// larger.
    Client(Box<InstanceCaller>),
    /// No bearer token: the provider's signature must be valid.
    Unverified(SignedRequest),
}

/// A callback not yet verified: what its signature is checked against.
pub struct SignedRequest {
    tenant: String,
    instance: String,
    request_uri: String,
    /// The URL the provider called (what Twilio signs).
    url: String,
    twilio_signature: Option<String>,
}

/// A bearer token, as `caller` reads it. Other schemes (Twilio retries with Basic auth
/// when a URL carries credentials) are the provider's path.
fn has_bearer(parts: &Parts) -> bool {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.get(..7).is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer ")))
}

impl FromRequestParts<AppState> for ProviderCaller {
    type Rejection = super::error::ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if has_bearer(parts) {
            return Ok(ProviderCaller::Client(Box::new(InstanceCaller::from_request_parts(parts, state).await?)));
        }
        let path = path_of(parts);
        let path_and_query = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| &u.0)
            .unwrap_or(&parts.uri)
            .path_and_query()
            .map(|pq| pq.as_str().to_string())
            .unwrap_or_else(|| path.clone());
        // HTTP/1.1 names the host in `Host`, HTTP/2 in the URI's authority.
        let host = parts
            .headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_default();
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(String::from);
        let url = state.provider_signing.signed_url(header("x-forwarded-proto").as_deref(), &host, &path_and_query);
        Ok(ProviderCaller::Unverified(SignedRequest {
            tenant: segment(&path, 1).unwrap_or_default(),
            instance: segment(&path, 2).unwrap_or_default(),
            request_uri: path,
            url,
            twilio_signature: header("x-twilio-signature"),
        }))
    }
}

impl ProviderCaller {
    /// The scope of a Twilio callback whose form parameters are `params` (`None` for a
    /// body that was not a form): the client's, or Twilio's once its signature holds.
    pub async fn twilio(self, state: &AppState, params: Option<&[(String, String)]>) -> ApiResult<InstanceCaller> {
        match self {
            ProviderCaller::Client(ctx) => Ok(*ctx),
            ProviderCaller::Unverified(r) => {
                service::check_twilio(&state.provider_signing, &r.url, params, r.twilio_signature.as_deref())?;
                r.scope(state, Provider::Twilio).await
            }
        }
    }

    /// The scope of a Mailgun callback with these form fields: the client's, or
    /// Mailgun's once its signature holds.
    pub async fn mailgun(self, state: &AppState, fields: &Map<String, Value>) -> ApiResult<InstanceCaller> {
        match self {
            ProviderCaller::Client(ctx) => Ok(*ctx),
            ProviderCaller::Unverified(r) => {
                service::check_mailgun(&state.provider_signing, fields, state.clock.now_ms())?;
                r.scope(state, Provider::Mailgun).await
            }
        }
    }
}

impl SignedRequest {
    async fn scope(self, state: &AppState, provider: Provider) -> ApiResult<InstanceCaller> {
        Ok(service::signed_scope(state, provider, &self.tenant, &self.instance, &self.request_uri).await?)
    }
}
