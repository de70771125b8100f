//! Token issue: Welkin's `POST /{tenant}/admin/api_clients/{clientName}` `{secret}` and the
//! docs site's `POST /auth/token` `{apiClient, secret}` (at the host root and under the
//! tenant).

use super::body::JsonObject;
use super::error::{ApiError, ApiResult};
use crate::api::json::Json;
use crate::app::AppState;
use crate::auth::secrets;
use crate::events::audit::{Actor, SecurityEvent};
use crate::store::clients::ApiClient;
use crate::store::tenants::Tenant;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub client_name: String,
    pub token: String,
    pub enabled: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocsTokenResponse {
    pub token: String,
    /// ISO-8601 UTC.
    pub expires_at: String,
}

#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct SecretBody {
    secret: String,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct DocsTokenBody {
    api_client: String,
    secret: String,
    /// Needed at the host root, where no tenant is in the path.
    tenant: Option<String>,
}

/// Issue a bearer token for an API client (valid one hour).
#[utoipa::path(
    post, path = "/{tenant}/admin/api_clients/{clientName}", tag = "Auth",
    params(("tenant" = String, Path), ("clientName" = String, Path)),
    request_body = SecretBody,
    responses(
        (status = 201, body = TokenResponse),
        (status = 401, description = "Unknown client, wrong secret or disabled client", body = Vec<super::error::ErrorItem>),
        (status = 429, description = "More than 100 token requests in 5 minutes", body = Vec<super::error::ErrorItem>),
    )
)]
pub async fn issue(
    State(state): State<AppState>,
    Path((tenant, client_name)): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<TokenResponse>)> {
    let secret = secret_field(&body, "secret")?;
    let (client, token, _) = authenticate(&state, &tenant, &client_name, &secret).await?;
    Ok((StatusCode::CREATED, Json(TokenResponse { client_name: client.name, token, enabled: client.enabled })))
}

/// Issue a bearer token, in the form of the docs site (`apiClient` and `secret`).
#[utoipa::path(
    post, path = "/{tenant}/auth/token", tag = "Auth",
    params(("tenant" = String, Path)),
    request_body = DocsTokenBody,
    responses((status = 200, body = DocsTokenResponse), (status = 401, body = Vec<super::error::ErrorItem>))
)]
pub async fn issue_docs_form_in_tenant(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<DocsTokenResponse>> {
    docs_form(state, Some(tenant), body).await
}

/// Issue a bearer token at the host root; the tenant comes from `tenant` in the body, or
/// is the only tenant that has a client of that name.
#[utoipa::path(
    post, path = "/auth/token", tag = "Auth",
    request_body = DocsTokenBody,
    responses((status = 200, body = DocsTokenResponse), (status = 401, body = Vec<super::error::ErrorItem>))
)]
pub async fn issue_docs_form(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<DocsTokenResponse>> {
    docs_form(state, None, body).await
}

async fn docs_form(
    state: AppState,
    tenant: Option<String>,
    body: Map<String, Value>,
) -> ApiResult<Json<DocsTokenResponse>> {
    let client_name = secret_field(&body, "apiClient")?;
    let secret = secret_field(&body, "secret")?;
    let tenant = match tenant.or_else(|| body.get("tenant").and_then(Value::as_str).map(String::from)) {
        Some(t) => t,
        None => state.db.tenant_of_client(&client_name).await?.ok_or_else(unknown)?,
    };
    let (_, token, exp) = authenticate(&state, &tenant, &client_name, &secret).await?;
    Ok(Json(DocsTokenResponse { token, expires_at: crate::time::format_ms(exp * 1000) }))
}

fn secret_field(body: &Map<String, Value>, name: &str) -> ApiResult<String> {
    match body.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(ApiError::invalid_field("AUTH", crate::domain::FieldError::new(name, "is required"))),
    }
}

fn bad_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "INVALID_API_CLIENT_CREDENTIALS",
        "AUTH",
        "API client name or secret is not valid",
        json!({}),
    )
}

/// A 401 about a known client, named in the details.
fn client_refused(code: &str, message: &str, client_name: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, "AUTH", message, json!({"clientName": client_name}))
}

/// Checks the throttle, the secret, the public demo secret (refused unless `serve --demo`)
/// and the enabled flag, audits the outcome, and signs a token. Returns the client, the token and its expiry (epoch seconds).
async fn authenticate(
    state: &AppState,
    tenant_name: &str,
    client_name: &str,
    secret: &str,
) -> ApiResult<(ApiClient, String, i64)> {
    let tenant: Tenant = state.db.tenant_by_name(tenant_name).await?.ok_or_else(unknown)?;
    let now_ms = state.clock.now_ms();
    let key = format!("{}:{}", tenant.id, client_name);
    if let Err(until) = state.db.admit_token_request(&key, now_ms, &state.token_limit).await? {
        refused("throttled");
        let subject = Actor { kind: "API_CLIENT", id: String::new(), username: client_name.into() };
        let refused = SecurityEvent {
            tenant_id: &tenant.id,
            subtype: "TOKEN_REFUSED",
            subject: &subject,
            object: None,
            record: json!({"clientName": client_name, "reason": "throttled"}),
        };
        state.db.record_security_event(&refused, now_ms).await?;
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_TOKEN_REQUESTS",
            "AUTH",
            "Too many token requests: the API client is blocked for 5 minutes",
            json!({"clientName": client_name, "blockedUntil": crate::time::format_ms(until)}),
        ));
    }
    // The counter before the client's row: the very next request with the token issued
    // here sees at least the client this exchange saw (store/config_cache.rs).
    state.db.read_config_version().await?;
    let client = state.db.client_by_name(&tenant.id, client_name).await?;
    // Verify against a dummy hash when the client is unknown, so timing does not tell
    // which client names exist.
    let known_hash = client.as_ref().map(|c| c.secret_hash.clone());
    let dummy = state.dummy_hash.clone();
    let secret_owned = secret.to_string();
    let verified = tokio::task::spawn_blocking(move || {
        let hash = known_hash.unwrap_or_else(|| dummy.get_or_init(crate::app::dummy_hash).clone());
        secrets::verify(&secret_owned, &hash)
    })
    .await
    .map_err(ApiError::internal)?;
    let subject = Actor {
        kind: "API_CLIENT",
        id: client.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
        username: client_name.into(),
    };
    let refuse = |reason: &'static str| SecurityEvent {
        tenant_id: &tenant.id,
        subtype: "TOKEN_REFUSED",
        subject: &subject,
        object: None,
        record: json!({"clientName": client_name, "reason": reason}),
    };
    let Some(client) = client.filter(|_| verified) else {
        refused("bad_credentials");
        state.db.record_security_event(&refuse("bad credentials"), now_ms).await?;
        return Err(bad_credentials());
    };
    if !state.demo && crate::demo::is_public_secret(secret) {
        // A database that once ran `--demo` served for real: the demo secret is public.
        state.db.record_security_event(&refuse("public demo secret"), now_ms).await?;
        return Err(client_refused(
            "INVALID_API_CLIENT_CREDENTIALS",
            "The public demo secret is refused when the server runs without --demo; rotate the client's secret",
            &client.name,
        ));
    }
    if !client.enabled {
        refused("client_disabled");
        state.db.record_security_event(&refuse("client disabled"), now_ms).await?;
        return Err(client_refused("API_CLIENT_DISABLED", "API client is disabled", &client.name));
    }
    let (token, exp) = state.signer.issue(&client.id, &tenant.id, &client.name, client.secret_version, now_ms / 1000);
    let issued = SecurityEvent {
        tenant_id: &tenant.id,
        subtype: "TOKEN_ISSUED",
        subject: &subject,
        object: None,
        record: json!({"clientName": client.name, "expiresAt": crate::time::format_ms(exp * 1000)}),
    };
    state.db.record_security_event(&issued, now_ms).await?;
    metrics::counter!(crate::telemetry::names::TOKENS_ISSUED).increment(1);
    Ok((client, token, exp))
}

/// The answer to a token request naming no known tenant (or, at the host root, a client
/// name no tenant has): bad credentials, counted, but not audited (no tenant to audit in).
fn unknown() -> ApiError {
    refused("bad_credentials");
    bad_credentials()
}

/// Counts a refused token request (`openwelkin_token_refusals_total`).
fn refused(reason: &'static str) {
    metrics::counter!(crate::telemetry::names::TOKEN_REFUSALS, "reason" => reason).increment(1);
}
