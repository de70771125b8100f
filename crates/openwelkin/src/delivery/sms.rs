//! SMS delivery. `SmsProvider` hands one message to a carrier; two providers exist:
//!
//! * `LocalOutbox` (the default): stores the message in the `sms_outbox` table with a
//!   Twilio-style id (`SM` + 32 hex digits) and reports it sent. Nothing leaves the
//!   machine; `GET /{tenant}/{instance}/outbox/sms` shows what would have been sent.
//! * `Twilio`: a Twilio-compatible HTTP API. `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`
//!   with the form fields `To`, `From`, `Body` and HTTP basic auth (account SID, auth
//!   token); the `sid` of the answer becomes the SMS's `externalId`.
//!
//! Configured with `serve --sms-provider outbox|twilio` (or `OPENWELKIN_SMS_PROVIDER`)
//! and, for Twilio, `--twilio-base-url` (default `https://api.twilio.com`),
//! `--twilio-account-sid`, `--twilio-auth-token`. https is verified against the server's
//! trust (`net::tls`: the built-in roots and `serve --ca-file`).

use crate::net::tls::{describe, ClientTls};
use crate::store::Db;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// One message to hand over.
#[derive(Clone, Debug)]
pub struct OutboundSms {
    pub tenant_id: String,
    pub instance_id: String,
    /// The SMS record's id.
    pub sms_id: String,
    /// E.164 numbers.
    pub from: String,
    pub to: String,
    pub body: String,
    pub now_ms: i64,
}

/// A message the provider accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The provider's message id (`SM…`).
    pub external_id: String,
}

/// Why a message was not accepted; the SMS is then marked `FAILED`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError(pub String);

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Sent, SendError>> + Send + 'a>>;

/// A carrier for outgoing SMS.
pub trait SmsProvider: Send + Sync {
    /// `outbox` or `twilio`.
    fn name(&self) -> &'static str;
    fn send<'a>(&'a self, message: &'a OutboundSms) -> SendFuture<'a>;
}

/// A Twilio-style message id: `SM` and 32 lowercase hex digits.
pub fn new_message_sid() -> String {
    format!("SM{}", uuid::Uuid::new_v4().simple())
}

/// The default provider: records each message in `sms_outbox`.
pub struct LocalOutbox {
    db: Db,
}

impl LocalOutbox {
    pub fn new(db: Db) -> Self {
        LocalOutbox { db }
    }
}

impl SmsProvider for LocalOutbox {
    fn name(&self) -> &'static str {
        "outbox"
    }

    fn send<'a>(&'a self, m: &'a OutboundSms) -> SendFuture<'a> {
        Box::pin(async move {
            let sid = new_message_sid();
            let queued = async {
                let mut tx = self.db.begin().await?;
                crate::store::sms::insert_outbox(&mut tx, m, &sid).await?;
                tx.commit().await
            };
            queued.await.map_err(|e| SendError(format!("the local outbox could not store the message: {e}")))?;
            Ok(Sent { external_id: sid })
        })
    }
}

/// The default provider of a server.
pub fn local(db: Db) -> Arc<dyn SmsProvider> {
    Arc::new(LocalOutbox::new(db))
}

/// A Twilio-compatible HTTP API.
pub struct Twilio {
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth_token: String,
}

impl Twilio {
    pub fn new(base_url: &str, account_sid: &str, auth_token: &str, tls: &ClientTls) -> anyhow::Result<Self> {
        let http = tls.http_builder().timeout(Duration::from_secs(20)).build()?;
        Ok(Twilio {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
        })
    }

    pub fn messages_url(&self) -> String {
        format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base_url, self.account_sid)
    }
}

impl SmsProvider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn send<'a>(&'a self, m: &'a OutboundSms) -> SendFuture<'a> {
        Box::pin(async move {
            let form = [("To", m.to.as_str()), ("From", m.from.as_str()), ("Body", m.body.as_str())];
            let response = self
                .http
                .post(self.messages_url())
                .basic_auth(&self.account_sid, Some(&self.auth_token))
                .form(&form)
                .send()
                .await
                .map_err(|e| SendError(format!("the SMS provider could not be reached: {}", describe(&e))))?;
            let status = response.status();
            let answer: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
            if !status.is_success() {
                let detail = answer["message"].as_str().unwrap_or("no detail");
                return Err(SendError(format!("the SMS provider refused the message ({status}): {detail}")));
            }
            match answer["sid"].as_str() {
                Some(sid) if !sid.is_empty() => Ok(Sent { external_id: sid.to_string() }),
                _ => Err(SendError("the SMS provider's answer has no message sid".into())),
            }
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProviderKind {
    /// Record messages in the local outbox (nothing is sent).
    Outbox,
    /// A Twilio-compatible HTTP API.
    Twilio,
}

/// The `serve` flags of SMS delivery.
#[derive(clap::Args, Clone, Debug)]
pub struct SmsArgs {
    /// Where outgoing SMS go: `outbox` records them locally (see GET /{tenant}/{instance}/outbox/sms),
    /// `twilio` sends them through a Twilio-compatible API.
    #[arg(long = "sms-provider", env = "OPENWELKIN_SMS_PROVIDER", value_enum, default_value = "outbox")]
    pub provider: ProviderKind,
    /// Base URL of the Twilio-compatible API.
    #[arg(long = "twilio-base-url", env = "OPENWELKIN_TWILIO_BASE_URL", default_value = "https://api.twilio.com")]
    pub twilio_base_url: String,
    /// Account SID (the basic-auth user and a path segment).
    #[arg(long = "twilio-account-sid", env = "OPENWELKIN_TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    /// Auth token (the basic-auth password).
    #[arg(long = "twilio-auth-token", env = "OPENWELKIN_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<String>,
}

impl SmsArgs {
    /// The provider these flags choose; an incomplete Twilio configuration is an error.
    pub fn provider(&self, db: &Db, tls: &ClientTls) -> anyhow::Result<Arc<dyn SmsProvider>> {
        match self.provider {
            ProviderKind::Outbox => Ok(local(db.clone())),
            ProviderKind::Twilio => {
                let sid = self.twilio_account_sid.as_deref().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                    anyhow::anyhow!("--sms-provider twilio needs --twilio-account-sid (OPENWELKIN_TWILIO_ACCOUNT_SID)")
                })?;
                let token = self.twilio_auth_token.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| {
                    anyhow::anyhow!("--sms-provider twilio needs --twilio-auth-token (OPENWELKIN_TWILIO_AUTH_TOKEN)")
                })?;
                let base = self.twilio_base_url.trim();
                let parsed = url::Url::parse(base)
                    .map_err(|e| anyhow::anyhow!("--twilio-base-url {base:?} is not a URL: {e}"))?;
                if !matches!(parsed.scheme(), "https" | "http") || !parsed.has_host() {
                    anyhow::bail!(
                        "--twilio-base-url {base:?}: an https:// (or, for a local relay, http://) URL is needed"
                    );
                }
                Ok(Arc::new(Twilio::new(base, sid, token, tls)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_sids_look_like_twilio_ones() {
        let sid = new_message_sid();
        assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");
        assert!(sid[2..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn twilio_urls_follow_the_api_layout() {
        let t = Twilio::new("http://127.0.0.1:9/", "AC123", "tok", &ClientTls::default()).unwrap();
        assert_eq!(t.messages_url(), "http://127.0.0.1:9/2010-04-01/Accounts/AC123/Messages.json");
        let t = Twilio::new("https://api.twilio.com", "AC123", "tok", &ClientTls::default()).unwrap();
        assert_eq!(t.messages_url(), "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json");
    }
}
