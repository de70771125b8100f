//! Provider callbacks authenticated the way the providers sign them, beside the bearer
//! tokens of API clients: Twilio's `X-Twilio-Signature` on inbound SMS and delivery
//! reports, Mailgun's `timestamp`/`token`/`signature` on inbound email (the signatures
//! themselves are `domain::provider_signature`). A callback that carries no bearer token
//! must carry a valid signature; it then runs as the provider, acting in the tenant and
//! instance of its path, allowed what its callbacks do and nothing else. A bad or missing
//! signature is `403 INVALID_PROVIDER_SIGNATURE`, before anything is read or written.

use crate::auth::policy::{Family, Op, Policy};
use crate::domain::provider_signature::{mailgun_verify, twilio_verify};
use crate::services::error::{Kind, ServiceError, ServiceResult};
use crate::services::scope::{InstanceScope, Scope};
use crate::store::clients::{ApiClient, InstanceGrant};
use serde_json::{json, Map, Value};

/// The secrets and addresses signed callbacks are checked with (`serve` flags).
#[derive(Clone, Default)]
pub struct ProviderSigning {
    /// Twilio's auth token (`--twilio-auth-token`), the key of `X-Twilio-Signature`.
    pub twilio_auth_token: Option<String>,
    /// Mailgun's HTTP webhook signing key (`--mailgun-signing-key`).
    pub mailgun_signing_key: Option<String>,
    /// The public base URL providers call (`--public-url`), without a trailing `/`: the
    /// URL Twilio signs is this followed by the request's path and query.
    pub public_url: Option<String>,
    /// Whether `serve` itself speaks TLS: the scheme of the signed URL when neither
    /// `--public-url` nor `X-Forwarded-Proto` gives one.
    pub https: bool,
}

/// Never prints the secrets.
impl std::fmt::Debug for ProviderSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSigning")
            .field("twilio_auth_token", &self.twilio_auth_token.as_ref().map(|_| "<set>"))
            .field("mailgun_signing_key", &self.mailgun_signing_key.as_ref().map(|_| "<set>"))
            .field("public_url", &self.public_url)
            .field("https", &self.https)
            .finish()
    }
}

impl ProviderSigning {
    /// The URL a provider called to reach `path_and_query` on this server: `--public-url`
    /// when set, else the scheme of `X-Forwarded-Proto` (or this server's own) and the
    /// `Host` the request names.
    pub fn signed_url(&self, forwarded_proto: Option<&str>, host: &str, path_and_query: &str) -> String {
        if let Some(base) = &self.public_url {
            return format!("{base}{path_and_query}");
        }
        let scheme = forwarded_proto
            .and_then(|p| p.split(',').next())
            .map(|p| p.trim().to_ascii_lowercase())
            .filter(|p| p == "https" || p == "http")
            .unwrap_or_else(|| if self.https { "https".into() } else { "http".into() });
        format!("{scheme}://{host}{path_and_query}")
    }
}

/// Checks a `--public-url`: an http(s) URL with a host and no query or fragment. Returns
/// it without its trailing `/`.
pub fn parse_public_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") || !url.has_host() {
        return Err(format!("{text:?}: an https:// (or http://) URL with a host is needed"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!("{text:?}: no query, fragment or user name, only scheme, host, port and path"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// A provider whose signed callbacks are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Twilio,
    Mailgun,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
            Provider::Mailgun => "mailgun",
        }
    }

    /// What its callbacks do: Twilio posts inbound SMS and delivery reports, Mailgun
    /// inbound email.
    fn policy(self) -> Policy {
        let (family, ops) = match self {
            Provider::Twilio => (Family::Sms, [Op::Create, Op::Update].into_iter().collect()),
            Provider::Mailgun => (Family::Email, [Op::Create].into_iter().collect()),
        };
        Policy { permissions: [(family, ops)].into_iter().collect(), ..Default::default() }
    }
}

/// `403 INVALID_PROVIDER_SIGNATURE`: the callback is not signed as `provider` signs.
fn refused(provider: Provider, reason: impl Into<String>, details: Value) -> ServiceError {
    let reason = reason.into();
    let mut details = details;
    details["provider"] = json!(provider.name());
    details["reason"] = json!(reason);
    ServiceError::new(
        Kind::Forbidden,
        "INVALID_PROVIDER_SIGNATURE",
        "AUTH",
        format!("The {} signature of this callback is not valid: {reason}", provider.name()),
        details,
    )
}

/// Checks a Twilio callback: a POST to `url` whose form parameters are `params` (`None`
/// when the body was not a form, which Twilio's signature does not cover) and whose
/// `X-Twilio-Signature` is `signature`. Without a configured auth token a callback needs
/// a bearer token (401), unless it comes signed, which is then refused as unverifiable.
pub fn check_twilio(
    signing: &ProviderSigning,
    url: &str,
    params: Option<&[(String, String)]>,
    signature: Option<&str>,
) -> ServiceResult<()> {
    let p = Provider::Twilio;
    let Some(token) = signing.twilio_auth_token.as_deref() else {
        return match signature {
            None => Err(ServiceError::invalid_token()),
            Some(_) => Err(refused(
                p,
                "this server has no Twilio auth token to check X-Twilio-Signature with (serve --twilio-auth-token)",
                json!({}),
            )),
        };
    };
    let signature = signature.ok_or_else(|| refused(p, "the X-Twilio-Signature header is missing", json!({})))?;
    let params = params.ok_or_else(|| {
        refused(p, "a signed callback must be application/x-www-form-urlencoded, as Twilio posts them", json!({}))
    })?;
    if !twilio_verify(token, url, params, signature) {
        // The URL the signature was checked against helps an operator set --public-url.
        return Err(refused(p, "X-Twilio-Signature does not match the URL and the form", json!({"url": url})));
    }
    Ok(())
}

/// Checks a Mailgun callback's `timestamp`, `token` and `signature` form fields at
/// `now_ms`. Without a configured signing key a callback needs a bearer token (401),
/// unless it comes signed, which is then refused as unverifiable.
pub fn check_mailgun(signing: &ProviderSigning, fields: &Map<String, Value>, now_ms: i64) -> ServiceResult<()> {
    let p = Provider::Mailgun;
    let field = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default();
    let Some(key) = signing.mailgun_signing_key.as_deref() else {
        return match fields.get("signature") {
            None => Err(ServiceError::invalid_token()),
            Some(_) => Err(refused(
                p,
                "this server has no Mailgun signing key to check the signature with (serve --mailgun-signing-key)",
                json!({}),
            )),
        };
    };
    mailgun_verify(key, field("timestamp"), field("token"), field("signature"), now_ms)
        .map_err(|why| refused(p, why.to_string(), json!({})))
}

/// The scope a verified callback of `provider` runs in: the provider, acting in the
/// tenant and instance its path names.
pub async fn signed_scope(
    state: &crate::app::AppState,
    provider: Provider,
    tenant_name: &str,
    instance_name: &str,
    request_uri: &str,
) -> ServiceResult<InstanceScope> {
    let version = state.db.config_version().await?;
    let tenant = state.db.tenant_at(version, tenant_name).await?.ok_or_else(|| {
        ServiceError::not_found(
            "TENANT_NOT_FOUND",
            "TENANT",
            "Tenant doesn't exist",
            json!({"tenantName": tenant_name}),
        )
    })?;
    let instance = state.db.instance_at(version, &tenant.id, instance_name).await?.ok_or_else(|| {
        ServiceError::not_found(
            "INSTANCE_NOT_FOUND",
            "INSTANCE",
            "Instance doesn't exist",
            json!({"instanceName": instance_name}),
        )
    })?;
    let client = ApiClient {
        // Audited as `API_CLIENT:twilio` / `API_CLIENT:mailgun`; no stored client has
        // this id (theirs are UUIDs).
        id: format!("provider:{}", provider.name()),
        tenant_id: tenant.id.clone(),
        name: provider.name().into(),
        secret_hash: String::new(),
        secret_version: 0,
        enabled: true,
        policy: provider.policy(),
        instances: InstanceGrant::Only(vec![instance.name.clone()]),
        created_at: 0,
    };
    Ok(InstanceScope {
        scope: Scope { tenant, client, request_uri: request_uri.to_string(), operator: None },
        instance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_url_is_the_public_one_or_the_requests() {
        let mut s = ProviderSigning::default();
        assert_eq!(s.signed_url(None, "h:8080", "/t/i/p?x=1"), "http://h:8080/t/i/p?x=1");
        assert_eq!(s.signed_url(Some("HTTPS, http"), "h", "/p"), "https://h/p");
        assert_eq!(s.signed_url(Some("gopher"), "h", "/p"), "http://h/p");
        s.https = true;
        assert_eq!(s.signed_url(None, "h", "/p"), "https://h/p");
        s.public_url = Some(parse_public_url("https://care.example.org/welkin/").unwrap());
        assert_eq!(s.signed_url(Some("http"), "internal:8080", "/t/i/p"), "https://care.example.org/welkin/t/i/p");
    }

    #[test]
    fn public_urls_are_plain_http_bases() {
        assert_eq!(parse_public_url("https://care.example.org").unwrap(), "https://care.example.org");
        assert_eq!(parse_public_url(" http://h:8080/x/ ").unwrap(), "http://h:8080/x");
        for bad in ["care.example.org", "ftp://h", "https://h/?q=1", "https://h/#f", "https://u:p@h"] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_not_printed() {
        let s = ProviderSigning {
            twilio_auth_token: Some("tw-secret".into()),
            mailgun_signing_key: Some("mg-secret".into()),
            ..Default::default()
        };
        let printed = format!("{s:?}");
        assert!(!printed.contains("tw-secret") && !printed.contains("mg-secret"), "{printed}");
    }

    #[test]
    fn without_a_secret_an_unsigned_callback_needs_a_token() {
        let none = ProviderSigning::default();
        assert_eq!(check_twilio(&none, "u", Some(&[]), None).unwrap_err().kind, Kind::Unauthorized);
        assert_eq!(check_twilio(&none, "u", Some(&[]), Some("x")).unwrap_err().kind, Kind::Forbidden);
        assert_eq!(check_mailgun(&none, &Map::new(), 0).unwrap_err().kind, Kind::Unauthorized);
        let signed: Map<String, Value> = json!({"signature": "ab"}).as_object().unwrap().clone();
        assert_eq!(check_mailgun(&none, &signed, 0).unwrap_err().kind, Kind::Forbidden);
        let set = ProviderSigning { twilio_auth_token: Some("t".into()), ..Default::default() };
        let missing = check_twilio(&set, "u", Some(&[]), None).unwrap_err();
        assert_eq!((missing.kind, missing.content.code.as_str()), (Kind::Forbidden, "INVALID_PROVIDER_SIGNATURE"));
        assert_eq!(check_twilio(&set, "u", None, Some("x")).unwrap_err().kind, Kind::Forbidden, "JSON is not signed");
    }
}
