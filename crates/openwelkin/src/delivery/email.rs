//! Email delivery. `EmailProvider` hands one message to a mail system; two providers exist:
//!
//! * `LocalOutbox` (the default): stores the message (its fields and the RFC 5322 text it
//!   would have sent) in the `email_outbox` table. Nothing leaves the machine;
//!   `GET /{tenant}/{instance}/outbox/email` shows what would have been sent.
//! * `Smtp`: SMTP through lettre (`serve --smtp-url`, `OPENWELKIN_SMTP_URL`), always over
//!   TLS (rustls; the server's trust of `net::tls`, TLS 1.2 or newer): `smtps://` is TLS
//!   from the first byte, `smtp://` upgrades with STARTTLS and refuses a server that does
//!   not offer it, before any `AUTH` or message is sent. Plain SMTP only with the explicit
//!   `smtp+insecure://`, for a local test server.
//!
//! The sender address is `serve --email-from` (`OPENWELKIN_EMAIL_FROM`).
//!
//! Emails are handed over by `EmailDelivery::dispatch`: a send that goes out now is
//! dispatched right after its request commits; the dispatcher loop (`spawn_dispatcher`)
//! sends scheduled emails when their time comes and retries transient failures. A claim
//! leases the email for a minute, so two nodes never send it at once and an attempt cut
//! short by a crash is retried.

use crate::clock::Clock;
use crate::events::audit::{Actor, DataEvent, Operation};
use crate::net::tls::{describe, ClientTls};
use crate::store::emails::{self as store, Attachment};
use crate::store::Db;
use lettre::message::header::ContentType;
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The address emails come from unless `--email-from` says otherwise.
pub const DEFAULT_FROM: &str = "no-reply@openwelkin.local";
/// How long a claimed delivery is reserved for the worker that claimed it.
const LEASE_MS: i64 = 60_000;
/// Attempts before a transiently failing email is marked `FAILED`.
pub const MAX_ATTEMPTS: i64 = 3;
/// An email due this long for another delivery configuration (a server since
/// reconfigured or gone) is sent by any server.
const ORPHANED_AFTER_MS: i64 = 10 * 60_000;
/// How often the dispatcher looks for due emails.
const POLL: Duration = Duration::from_millis(500);

/// One message to hand over.
#[derive(Clone, Debug)]
pub struct OutgoingEmail {
    pub tenant_id: String,
    pub instance_id: String,
    /// The email record's id.
    pub email_id: String,
    /// Also the email's `externalId`.
    pub message_id: String,
    pub from: String,
    pub from_name: Option<String>,
    pub to: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub body: String,
    pub secure: bool,
    pub attachments: Vec<Attachment>,
    pub now_ms: i64,
}

/// Why a message was not handed over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Refused for good (a 5xx answer, an unusable address): the email is `REJECTED`.
    Permanent(String),
    /// Worth retrying (connection refused, 4xx): `FAILED` after `MAX_ATTEMPTS`.
    Transient(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Permanent(m) => write!(f, "rejected: {m}"),
            SendError::Transient(m) => write!(f, "failed: {m}"),
        }
    }
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// A mail system for outgoing email.
pub trait EmailProvider: Send + Sync {
    /// `outbox` or `smtp`.
    fn name(&self) -> &'static str;
    fn send<'a>(&'a self, message: &'a OutgoingEmail) -> SendFuture<'a>;
}

fn mailbox(name: Option<&str>, address: &str) -> Result<Mailbox, SendError> {
    let address = address.parse().map_err(|e| SendError::Permanent(format!("address {address:?}: {e}")))?;
    Ok(Mailbox::new(name.map(str::to_string).filter(|n| !n.trim().is_empty()), address))
}

/// The MIME message: text body, then one part per attachment.
pub fn build_message(m: &OutgoingEmail) -> Result<Message, SendError> {
    let builder = Message::builder()
        .message_id(Some(format!("<{}>", m.message_id)))
        .from(mailbox(m.from_name.as_deref(), &m.from)?)
        .to(mailbox(m.to_name.as_deref(), &m.to)?)
        .subject(m.subject.clone());
    let text = SinglePart::plain(m.body.clone());
    let built = if m.attachments.is_empty() {
        builder.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for a in &m.attachments {
            let kind = ContentType::parse(&a.content_type)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("a valid type"));
            parts = parts.singlepart(MimeAttachment::new(a.file_name.clone()).body(a.data.clone(), kind));
        }
        builder.multipart(parts)
    };
    built.map_err(|e| SendError::Permanent(format!("the message could not be built: {e}")))
}

/// The default provider: records each message in `email_outbox`.
pub struct LocalOutbox {
    db: Db,
}

impl LocalOutbox {
    pub fn new(db: Db) -> Self {
        LocalOutbox { db }
    }
}

impl EmailProvider for LocalOutbox {
    fn name(&self) -> &'static str {
        "outbox"
    }

    fn send<'a>(&'a self, m: &'a OutgoingEmail) -> SendFuture<'a> {
        Box::pin(async move {
            let message = build_message(m)?;
            let entry = json!({
                "id": crate::ids::new_id(),
                "emailId": m.email_id,
                "messageId": m.message_id,
                "from": m.from,
                "fromName": m.from_name,
                "to": m.to,
                "toName": m.to_name,
                "subject": m.subject,
                "body": m.body,
                "secure": m.secure,
                "attachments": m.attachments.iter().map(Attachment::meta).collect::<Vec<_>>(),
                "sentAt": crate::time::format_ms(m.now_ms),
                "raw": String::from_utf8_lossy(&message.formatted()),
            });
            let stored = async {
                let mut tx = self.db.begin().await?;
                store::insert_outbox(&mut tx, &m.tenant_id, &m.instance_id, &m.email_id, &entry, m.now_ms).await?;
                tx.commit().await
            };
            stored.await.map_err(|e| SendError::Transient(format!("the local outbox could not store the message: {e}")))
        })
    }
}

/// How the SMTP provider protects its connection, chosen by the URL's scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte (port 465 unless given).
    ImplicitTls,
    /// `smtp://`: STARTTLS, required (port 587 unless given). A server that does not offer
    /// it gets no `AUTH` and no message: the send fails.
    StartTls,
    /// `smtp+insecure://`: plain SMTP (port 25 unless given), for local test servers.
    Insecure,
}

/// Where the SMTP provider connects: `smtps://`, `smtp://` or `smtp+insecure://`, then
/// `[user[:password]@]host[:port]` (user and password percent-encoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpUrl {
    pub security: SmtpSecurity,
    pub host: String,
    pub port: u16,
    pub credentials: Option<(String, String)>,
}

impl SmtpUrl {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        const FORMS: &str = "smtps://[user[:password]@]host[:port] (TLS), smtp://… (STARTTLS, required) \
                             or smtp+insecure://… (plain, local test servers only)";
        let url = url::Url::parse(text)
            .map_err(|e| anyhow::anyhow!("the SMTP URL {text:?} is not a URL ({e}): use {FORMS}"))?;
        let (security, default_port) = match url.scheme() {
            "smtps" => (SmtpSecurity::ImplicitTls, 465),
            "smtp" => (SmtpSecurity::StartTls, 587),
            "smtp+insecure" => (SmtpSecurity::Insecure, 25),
            other => anyhow::bail!("unsupported SMTP URL scheme {other:?}: use {FORMS}"),
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
            Some(url::Host::Ipv4(v4)) => v4.to_string(),
            Some(url::Host::Ipv6(v6)) => v6.to_string(),
            _ => anyhow::bail!("the SMTP URL {text:?} names no host"),
        };
        if url.query().is_some() || !matches!(url.path(), "" | "/") {
            anyhow::bail!(
                "the SMTP URL {text:?} has a path or query, which are not read: the scheme chooses TLS ({FORMS})"
            );
        }
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let credentials = (!url.username().is_empty())
            .then(|| (decode(url.username()), url.password().map(decode).unwrap_or_default()));
        Ok(SmtpUrl { security, host, port: url.port().unwrap_or(default_port), credentials })
    }

    /// The URL without credentials: it names the configuration.
    pub fn key(&self) -> String {
        let scheme = match self.security {
            SmtpSecurity::ImplicitTls => "smtps",
            SmtpSecurity::StartTls => "smtp",
            SmtpSecurity::Insecure => "smtp+insecure",
        };
        match self.host.contains(':') {
            true => format!("{scheme}://[{}]:{}", self.host, self.port),
            false => format!("{scheme}://{}:{}", self.host, self.port),
        }
    }
}

/// SMTP through lettre.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Smtp {
    pub fn new(url: &SmtpUrl, tls: &ClientTls) -> anyhow::Result<Self> {
        type Transport = AsyncSmtpTransport<Tokio1Executor>;
        let builder = match url.security {
            SmtpSecurity::ImplicitTls => {
                Transport::relay(&url.host)?.tls(Tls::Wrapper(tls_parameters(&url.host, tls)?))
            }
            SmtpSecurity::StartTls => {
                Transport::starttls_relay(&url.host)?.tls(Tls::Required(tls_parameters(&url.host, tls)?))
            }
            SmtpSecurity::Insecure => Transport::builder_dangerous(url.host.clone()),
        };
        let mut builder = builder.port(url.port).timeout(Some(Duration::from_secs(20)));
        if let Some((user, password)) = &url.credentials {
            builder = builder
                .credentials(lettre::transport::smtp::authentication::Credentials::new(user.clone(), password.clone()));
        }
        Ok(Smtp { transport: builder.build() })
    }
}

/// lettre's TLS settings for `host`: the built-in roots and the `--ca-file` certificates,
/// TLS 1.2 or newer (lettre's rustls default).
fn tls_parameters(host: &str, tls: &ClientTls) -> anyhow::Result<TlsParameters> {
    let mut builder = TlsParameters::builder(host.to_string()).certificate_store(CertificateStore::WebpkiRoots);
    for cert in tls.extra_roots() {
        builder = builder.add_root_certificate(Certificate::from_der(cert.to_vec())?);
    }
    Ok(builder.build_rustls()?)
}

impl EmailProvider for Smtp {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn send<'a>(&'a self, m: &'a OutgoingEmail) -> SendFuture<'a> {
        Box::pin(async move {
            let message = build_message(m)?;
            self.transport.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    SendError::Permanent(describe(&e))
                } else {
                    SendError::Transient(describe(&e))
                }
            })
        })
    }
}

/// `serve`'s email settings.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct EmailArgs {
    /// Send email over SMTP: `smtps://[user[:password]@]host[:port]` (TLS, port 465),
    /// `smtp://…` (STARTTLS, required; port 587) or `smtp+insecure://…` (plain, port 25;
    /// local test servers only). Without it, emails go to the local outbox
    /// (`GET /{tenant}/{instance}/outbox/email`).
    #[arg(long, env = "OPENWELKIN_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The address emails are sent from.
    #[arg(long, env = "OPENWELKIN_EMAIL_FROM", default_value = DEFAULT_FROM)]
    pub email_from: String,
}

impl EmailArgs {
    pub fn delivery(&self, db: &Db, tls: &ClientTls) -> anyhow::Result<EmailDelivery> {
        EmailDelivery::configure(db.clone(), self.smtp_url.as_deref(), Some(&self.email_from), tls)
    }
}

/// The configured provider and sender address, shared by the handlers and the dispatcher.
#[derive(Clone)]
pub struct EmailDelivery {
    pub provider: Arc<dyn EmailProvider>,
    /// The address emails are sent from.
    pub from: String,
    /// Names the configuration (`outbox`, `smtps://host:port`): an email is sent by a
    /// server with the configuration it was accepted under, so that servers sharing a
    /// database with different settings (tests) do not send each other's emails.
    pub key: String,
}

impl EmailDelivery {
    /// The default: the local outbox.
    pub fn local(db: Db) -> Self {
        EmailDelivery { provider: Arc::new(LocalOutbox::new(db)), from: DEFAULT_FROM.into(), key: "outbox".into() }
    }

    /// From `serve`'s settings: SMTP when a URL is given, else the local outbox.
    pub fn configure(db: Db, smtp_url: Option<&str>, from: Option<&str>, tls: &ClientTls) -> anyhow::Result<Self> {
        let from = from.map(str::trim).filter(|f| !f.is_empty()).unwrap_or(DEFAULT_FROM).to_string();
        if !crate::domain::fields::is_email(&from) {
            anyhow::bail!("the email sender address {from:?} is not an email address");
        }
        let (provider, key): (Arc<dyn EmailProvider>, String) = match smtp_url.map(str::trim).filter(|u| !u.is_empty())
        {
            Some(url) => {
                let url = SmtpUrl::parse(url)?;
                (Arc::new(Smtp::new(&url, tls)?), url.key())
            }
            None => (Arc::new(LocalOutbox::new(db)), "outbox".into()),
        };
        Ok(EmailDelivery { provider, from, key })
    }

    /// Hands one email to the provider if its delivery is due, and records the outcome.
    /// Returns false when there was nothing to do (not due, or taken by another worker).
    pub async fn dispatch(&self, db: &Db, clock: &Clock, email_id: &str) -> anyhow::Result<bool> {
        let now_ms = clock.now_ms();
        let mut tx = db.begin().await?;
        if !store::claim(&mut tx, email_id, &self.key, now_ms, now_ms - ORPHANED_AFTER_MS, now_ms + LEASE_MS).await? {
            return Ok(false);
        }
        // The instance is not known to the claim; read it back from the row.
        let Some(row) = claimed_row(&mut tx, email_id).await? else { return Ok(false) };
        let mut row = row;
        if row.record["status"] == "SCHEDULED" {
            crate::domain::email::mark_accepted(&mut row.record, now_ms);
            store::update(&mut tx, &row, now_ms).await?;
            audit(db, &mut tx, &row, now_ms).await?;
        }
        let attachments = store::attachments_in(&mut tx, &row.instance_id, email_id).await?;
        tx.commit().await?;

        let e = &row.record;
        let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
        let message = OutgoingEmail {
            tenant_id: row.tenant_id.clone(),
            instance_id: row.instance_id.clone(),
            email_id: email_id.to_string(),
            message_id: text("externalId"),
            from: text("from"),
            from_name: e["senderName"].as_str().map(String::from),
            to: text("to"),
            to_name: e["receiverName"].as_str().map(String::from),
            subject: text("subject"),
            body: text("body"),
            secure: e["secure"].as_bool().unwrap_or(false),
            attachments,
            now_ms,
        };
        let outcome = self.provider.send(&message).await;
        if let Err(err) = &outcome {
            tracing::warn!(email = email_id, provider = self.provider.name(), attempt = row.attempts, %err, "email not sent");
        }
        let counted = match &outcome {
            Ok(()) => "delivered",
            Err(SendError::Permanent(_)) => "rejected",
            Err(SendError::Transient(_)) if row.attempts >= MAX_ATTEMPTS => "failed",
            Err(SendError::Transient(_)) => "retry",
        };
        metrics::counter!(crate::telemetry::names::EMAIL_SENDS, "provider" => self.provider.name(), "outcome" => counted)
            .increment(1);

        let done_ms = clock.now_ms();
        let mut tx = db.begin().await?;
        let Some(mut row) = store::get_for_update(&mut tx, &row.instance_id, email_id).await? else {
            return Ok(true);
        };
        let status = match &outcome {
            Ok(()) => Some("DELIVERED"),
            Err(SendError::Permanent(_)) => Some("REJECTED"),
            Err(SendError::Transient(_)) if row.attempts >= MAX_ATTEMPTS => Some("FAILED"),
            Err(SendError::Transient(_)) => None,
        };
        match status {
            Some(s) => {
                row.dispatch_at = None;
                row.record["status"] = json!(s);
                store::update(&mut tx, &row, done_ms).await?;
                audit(db, &mut tx, &row, done_ms).await?;
            }
            None => {
                // Retry later: 5 s, then 25 s.
                row.dispatch_at = Some(done_ms + 5_000 * 5_i64.pow(row.attempts.clamp(1, 3) as u32 - 1));
                store::update(&mut tx, &row, done_ms).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Dispatches `email_id` in the background and waits for it a little, so that a send
    /// answered right away has usually been handed over already.
    pub async fn dispatch_soon(&self, db: &Db, clock: &Clock, email_id: &str) {
        let (this, db, clock, id) = (self.clone(), db.clone(), clock.clone(), email_id.to_string());
        let task = tokio::spawn(async move {
            if let Err(e) = this.dispatch(&db, &clock, &id).await {
                tracing::warn!(email = %id, error = %e, "email dispatch failed");
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
    }

    /// Runs for the life of the process: sends scheduled emails when they are due and
    /// retries failed attempts.
    pub fn spawn_dispatcher(&self, db: Db, clock: Clock) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let now_ms = clock.now_ms();
                let due = match db.emails_due(&this.key, now_ms, now_ms - ORPHANED_AFTER_MS, 50).await {
                    Ok(due) => due,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read due emails");
                        continue;
                    }
                };
                for id in due {
                    if let Err(e) = this.dispatch(&db, &clock, &id).await {
                        tracing::warn!(email = %id, error = %e, "email dispatch failed");
                    }
                }
            }
        })
    }
}

async fn claimed_row(tx: &mut crate::store::Tx, email_id: &str) -> crate::store::sql::Result<Option<store::EmailRow>> {
    let row = crate::store::sql::query("SELECT instance_id FROM emails WHERE id = $1")
        .bind(email_id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) => store::get_for_update(tx, &r.get::<String, _>("instance_id"), email_id).await,
        None => Ok(None),
    }
}

/// Delivery changes are made by the server itself.
fn delivery_actor() -> Actor {
    Actor { kind: "SYSTEM", id: "00000000-0000-0000-0000-000000000000".into(), username: "email-delivery".into() }
}

async fn audit(db: &Db, tx: &mut crate::store::Tx, row: &store::EmailRow, now_ms: i64) -> anyhow::Result<()> {
    let instance = db.instance_name_of(&row.instance_id).await?;
    let actor = delivery_actor();
    let record: &Value = &row.record;
    let event = DataEvent {
        tenant_id: &row.tenant_id,
        instance: instance.as_deref(),
        entity: "EMAIL",
        operation: Operation::Update,
        actor: &actor,
        record_id: record["id"].as_str().unwrap_or_default(),
        patient_id: row.patient_id.as_deref(),
        patient_full_name: row.patient_id.as_ref().and_then(|_| record["patientInfo"].as_str().map(String::from)),
        cdt_name: None,
        cdt_relation: None,
        record: record.into(),
        subtype: None,
    };
    crate::store::audit::record_write(tx, &event, now_ms).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let u = SmtpUrl::parse("smtp+insecure://127.0.0.1:2525").unwrap();
        assert_eq!(
            (u.security, u.host.as_str(), u.port, u.credentials),
            (SmtpSecurity::Insecure, "127.0.0.1", 2525, None)
        );
        let u = SmtpUrl::parse("smtp://me%40x.org:p%3Ass@mail.example.org").unwrap();
        assert_eq!((u.security, u.host.as_str(), u.port), (SmtpSecurity::StartTls, "mail.example.org", 587));
        assert_eq!(u.credentials, Some(("me@x.org".into(), "p:ss".into())));
        let u = SmtpUrl::parse("smtps://mail.example.org").unwrap();
        assert_eq!(
            (u.security, u.port, u.key()),
            (SmtpSecurity::ImplicitTls, 465, "smtps://mail.example.org:465".into())
        );
        let u = SmtpUrl::parse("smtps://[::1]:2465").unwrap();
        assert_eq!((u.host.as_str(), u.key()), ("::1", "smtps://[::1]:2465".into()));
        assert_eq!(SmtpUrl::parse("smtp+insecure://relay").unwrap().port, 25);
        for bad in
            ["smtp://host:port", "smtp://", "http://mail.example.org", "smtp://mail.example.org?tls=opportunistic"]
        {
            assert!(SmtpUrl::parse(bad).is_err(), "{bad}");
        }
        let tls = ClientTls::default();
        for url in ["smtps://mail.example.org", "smtp://u:p@mail.example.org:2587", "smtp+insecure://127.0.0.1"] {
            assert!(Smtp::new(&SmtpUrl::parse(url).unwrap(), &tls).is_ok(), "{url}");
        }
    }

    #[test]
    fn messages_carry_their_attachments() {
        let m = OutgoingEmail {
            tenant_id: "t".into(),
            instance_id: "i".into(),
            email_id: "e".into(),
            message_id: "20240101.1.ABC@openwelkin.local".into(),
            from: "care@x.org".into(),
            from_name: Some("Nick Snow".into()),
            to: "pat@x.org".into(),
            to_name: None,
            subject: "Hello".into(),
            body: "Body text".into(),
            secure: false,
            attachments: vec![Attachment {
                id: "a".into(),
                file_name: "notes.txt".into(),
                content_type: "text/plain".into(),
                data: b"file".to_vec(),
            }],
            now_ms: 0,
        };
        let raw = String::from_utf8(build_message(&m).unwrap().formatted()).unwrap();
        assert!(raw.contains("Subject: Hello"), "{raw}");
        assert!(raw.contains("Message-ID: <20240101.1.ABC@openwelkin.local>"), "{raw}");
        assert!(raw.contains("filename=\"notes.txt\""), "{raw}");
        let bad = OutgoingEmail { to: "not an address".into(), ..m };
        assert!(matches!(build_message(&bad), Err(SendError::Permanent(_))));
    }
}
