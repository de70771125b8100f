//! The application state every use case and handler is given: the database, the clock,
//! the token signer and the delivery and file settings a server was started with. It
//! lives outside `api` so that the services layer can take it without depending on HTTP.

use crate::auth::tokens::TokenSigner;
use crate::clock::Clock;
use crate::store::ratelimit::TokenLimit;
use crate::store::Db;
use std::sync::Arc;

/// Cloned into every request (by each extractor that needs it), so a clone is one
/// reference count: the fields live behind one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<State>);

pub struct State {
    pub db: Db,
    pub clock: Clock,
    pub signer: TokenSigner,
    pub token_limit: Arc<TokenLimit>,
    /// Verified against when a client name is unknown, so that both cases take as long.
    /// Computed in the background at start (an argon2 hash costs tens of milliseconds,
    /// which the time to ready should not pay); the first use waits for it if need be.
    pub dummy_hash: Arc<std::sync::OnceLock<String>>,
    /// Webhook delivery settings (`serve --webhook-…`), also used by test sends.
    pub webhooks: crate::events::webhooks::WebhookSettings,
    /// Where uploaded files live (`serve --files-dir`).
    pub files: crate::files::FileStore,
    /// Email delivery: SMTP or the local outbox (`serve --smtp-url`, `--email-from`).
    pub email: crate::delivery::email::EmailDelivery,
    /// SMS delivery: the local outbox or a Twilio-compatible API (`serve --sms-provider`).
    pub sms: Arc<dyn crate::delivery::sms::SmsProvider>,
    /// Set when `serve --emulator` (or `--demo`) serves the `/_emulator/` controls.
    pub emulator: Option<Arc<crate::emulator::admin::Emulator>>,
    /// What signed provider callbacks are checked with (`serve --twilio-auth-token`,
    /// `--mailgun-signing-key`, `--public-url`).
    pub provider_signing: crate::services::provider_auth::ProviderSigning,
    /// `serve --demo`: only then is the public demo secret good for a token.
    pub demo: bool,
    /// Set unless `serve --no-console`: the web console is served at `/console/`.
    pub console: Option<crate::services::operators::ConsoleSettings>,
    /// Set when `GET /metrics` is served by the API's router (`serve` without
    /// `--metrics-listen`).
    pub metrics: Option<crate::telemetry::exporter::Exporter>,
}

impl AppState {
    pub async fn new(db: Db, clock: Clock) -> anyhow::Result<Self> {
        let key = db.signing_key(clock.now_ms()).await?;
        Ok(AppState(Arc::new(State {
            // Before `db` moves into the state.
            email: crate::delivery::email::EmailDelivery::local(db.clone()),
            sms: crate::delivery::sms::local(db.clone()),
            db,
            clock,
            signer: TokenSigner::new(&key),
            token_limit: Arc::new(TokenLimit::default()),
            dummy_hash: {
                let cell = Arc::new(std::sync::OnceLock::new());
                let warm = cell.clone();
                tokio::task::spawn_blocking(move || {
                    warm.get_or_init(dummy_hash);
                });
                cell
            },
            webhooks: Default::default(),
            files: crate::files::FileStore::local("openwelkin-files"),
            emulator: None,
            provider_signing: Default::default(),
            demo: false,
            console: None,
            metrics: None,
        })))
    }

    /// The settings a server is started with (`serve` flags), changed before the state is
    /// shared with the router and the background tasks.
    pub fn settings(&mut self) -> &mut State {
        Arc::get_mut(&mut self.0).expect("the state is configured before it is shared")
    }
}

impl std::ops::Deref for AppState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

/// A hash of a random secret nobody knows, verified against when a client is unknown.
pub fn dummy_hash() -> String {
    crate::auth::secrets::hash(&crate::auth::secrets::generate())
}
