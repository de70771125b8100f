//! `openwelkin serve`.

use super::DatabaseArg;
use crate::api::router;
use crate::app::AppState;
use crate::clock::Clock;
use crate::net::conn::{Activity, Limits, Watched};
use crate::net::tls::ClientTls;
use crate::services::provider_auth::{parse_public_url, ProviderSigning};
use crate::store::Db;
use anyhow::Context;
use clap::Args;
use std::io::Write;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, env = "OPENWELKIN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Serve `GET /metrics` (Prometheus, no authentication) on this address alone, in plain
    /// HTTP, instead of on --listen; port 0 picks a free port (printed at start). Bind it
    /// to an address only the scraper reaches.
    #[arg(long, env = "OPENWELKIN_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    #[command(flatten)]
    pub db: DatabaseArg,
    /// Longest wait, in milliseconds, for a database connection; a request that waits
    /// longer (the database down or restarting) is answered 503 DATABASE_UNAVAILABLE.
    #[arg(long, env = "OPENWELKIN_DB_TIMEOUT_MS", default_value_t = 5_000)]
    pub db_timeout_ms: u64,
    /// Do not keep the configuration counter in the process (PostgreSQL: a LISTEN
    /// connection; SQLite: a read every 50 ms); every request reads it instead (one more
    /// query per request, and a change made through the CLI is seen at once). For a
    /// connection pooler that cannot LISTEN (PgBouncer in transaction mode).
    #[arg(long, env = "OPENWELKIN_NO_CONFIG_LISTENER")]
    pub no_config_listener: bool,
    /// Create the demo tenant, instances, API client, users and patients (idempotent).
    #[arg(long, env = "OPENWELKIN_DEMO")]
    pub demo: bool,
    /// A designer root folder (one subfolder per tenant) to publish at start; see
    /// docs/DESIGNER.md. Instances whose current formation differs get a new version.
    #[arg(long, env = "OPENWELKIN_DESIGNER")]
    pub designer: Option<std::path::PathBuf>,
    /// Directory of uploaded files (document files); by default a folder next to the
    /// SQLite database (`openwelkin.db` → `openwelkin-files`), else `./openwelkin-files`.
    #[arg(long, env = "OPENWELKIN_FILES_DIR")]
    pub files_dir: Option<std::path::PathBuf>,
    /// Serve the emulator controls under `/_emulator/` (always on with `--demo`).
    #[arg(long, env = "OPENWELKIN_EMULATOR")]
    pub emulator: bool,
    /// Bearer token for `/_emulator/`; when absent one is generated and printed once at start.
    #[arg(long, env = "OPENWELKIN_EMULATOR_TOKEN", hide_env_values = true)]
    pub emulator_token: Option<String>,
    #[command(flatten)]
    pub console: ConsoleArgs,
    #[command(flatten)]
    pub sms: crate::delivery::sms::SmsArgs,
    #[command(flatten)]
    pub email: crate::delivery::email::EmailArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub callbacks: CallbackArgs,
    #[command(flatten)]
    pub edge: EdgeArgs,
}

/// Provider callbacks signed by the provider (docs/PROVIDERS.md). Twilio's auth token is
/// `--twilio-auth-token` (the SMS flags): when set, `X-Twilio-Signature` is checked.
#[derive(Args)]
pub struct CallbackArgs {
    /// The public base URL of this server (`https://care.example.org`, with a path if a
    /// proxy in front strips one). Twilio signs the URL it called, which behind a proxy is
    /// not the one this server sees, and webhook payloads' `url` links to the changed
    /// record under it. Without it: for signatures, the request's `X-Forwarded-Proto`
    /// (else this server's own scheme) and `Host`; for payload links, the bound address.
    #[arg(long, env = "OPENWELKIN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Mailgun's HTTP webhook signing key: inbound email posted without a bearer token
    /// must then carry Mailgun's `timestamp`, `token` and `signature`.
    #[arg(long, env = "OPENWELKIN_MAILGUN_SIGNING_KEY", hide_env_values = true)]
    pub mailgun_signing_key: Option<String>,
}

impl CallbackArgs {
    fn signing(&self, sms: &crate::delivery::sms::SmsArgs, https: bool) -> anyhow::Result<ProviderSigning> {
        let secret = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(String::from);
        let public_url = match self.public_url.as_deref().filter(|u| !u.trim().is_empty()) {
            Some(u) => Some(parse_public_url(u).map_err(|e| anyhow::anyhow!("--public-url {e}"))?),
            None => None,
        };
        Ok(ProviderSigning {
            twilio_auth_token: secret(&sms.twilio_auth_token),
            mailgun_signing_key: secret(&self.mailgun_signing_key),
            public_url,
            https,
        })
    }
}

/// The web console (`/console/`).
#[derive(Args)]
pub struct ConsoleArgs {
    /// Do not serve the web console at /console/.
    #[arg(long, env = "OPENWELKIN_NO_CONSOLE")]
    pub no_console: bool,
    /// Console sign-in attempts allowed per operator name in five minutes (then five
    /// minutes blocked).
    #[arg(long, env = "OPENWELKIN_CONSOLE_SIGNIN_LIMIT", default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..))]
    pub console_signin_limit: i64,
    /// Console sign-in attempts allowed per client address in five minutes.
    #[arg(long, env = "OPENWELKIN_CONSOLE_ADDRESS_SIGNIN_LIMIT", default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..))]
    pub console_address_signin_limit: i64,
}

/// TLS and the limits on connections.
#[derive(Args)]
pub struct EdgeArgs {
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first);
    /// needs --tls-key. TLS 1.2 and 1.3 only; HTTP/2 and HTTP/1.1 by ALPN.
    #[arg(long, env = "OPENWELKIN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "OPENWELKIN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// CA certificates (a PEM bundle) trusted for outbound TLS (webhooks, the Twilio API,
    /// SMTP) besides the built-in Mozilla roots: for private CAs.
    #[arg(long, env = "OPENWELKIN_CA_FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Once the first byte of a request head has arrived, the whole head must arrive
    /// within this many milliseconds; a new connection's first head (and its TLS
    /// handshake) counts from the connection.
    #[arg(long, env = "OPENWELKIN_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_timeout_ms: u64,
    /// Close a connection that has had no request for this many milliseconds, or whose
    /// client has not read its response for as long. Keep it above the idle timeout of a
    /// load balancer in front (60 s on many).
    #[arg(long, env = "OPENWELKIN_IDLE_TIMEOUT_MS", default_value_t = 75_000)]
    pub idle_timeout_ms: u64,
    /// A request body must arrive whole within this many milliseconds of its head, else
    /// the request is answered 408 REQUEST_TIMEOUT and the connection closed.
    #[arg(long, env = "OPENWELKIN_BODY_TIMEOUT_MS", default_value_t = 60_000)]
    pub body_timeout_ms: u64,
    /// Most connections open at once; further clients wait in the listen queue until one
    /// closes.
    #[arg(long, env = "OPENWELKIN_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

impl EdgeArgs {
    fn limits(&self) -> Limits {
        let ms = |v: u64| std::time::Duration::from_millis(v.max(1));
        Limits {
            header_timeout: ms(self.header_timeout_ms),
            idle_timeout: ms(self.idle_timeout_ms),
            body_timeout: ms(self.body_timeout_ms),
        }
    }
}

/// Webhook delivery settings.
#[derive(Args)]
pub struct WebhookArgs {
    /// First retry delay in milliseconds; each further retry doubles it (at most 6 hours).
    #[arg(long, env = "OPENWELKIN_WEBHOOK_RETRY_BASE_MS", default_value_t = 10_000)]
    pub webhook_retry_base_ms: i64,
    /// Give up on a delivery this many milliseconds after its event (default 24 hours).
    #[arg(long, env = "OPENWELKIN_WEBHOOK_RETRY_WINDOW_MS", default_value_t = 86_400_000)]
    pub webhook_retry_window_ms: i64,
    /// How long a node holds a delivery it took before another node may take it over.
    #[arg(long, env = "OPENWELKIN_WEBHOOK_LEASE_MS", default_value_t = 60_000)]
    pub webhook_lease_ms: i64,
    /// Allow webhook URLs on loopback or private addresses (local receivers, tests).
    #[arg(long, env = "OPENWELKIN_ALLOW_PRIVATE_WEBHOOKS")]
    pub allow_private_webhooks: bool,
    /// Do not run the webhook delivery worker in this process.
    #[arg(long, env = "OPENWELKIN_NO_WEBHOOK_WORKER")]
    pub no_webhook_worker: bool,
}

impl WebhookArgs {
    /// The settings; `public_url` is the base of the links in payloads (`--public-url`, else
    /// the bound address).
    fn settings(&self, tls: &ClientTls, public_url: String) -> crate::events::webhooks::WebhookSettings {
        crate::events::webhooks::WebhookSettings {
            public_url,
            retry_base_ms: self.webhook_retry_base_ms.max(1),
            retry_window_ms: self.webhook_retry_window_ms,
            lease_ms: self.webhook_lease_ms.max(100),
            allow_private: self.allow_private_webhooks,
            tls: tls.clone(),
            ..Default::default()
        }
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    // First, so that everything after it (the start's own transactions) is recorded.
    crate::telemetry::exporter::install_recorder()?;
    // Checked before anything else is done: a bad certificate or CA file stops the start.
    let server_tls = match (&args.edge.tls_cert, &args.edge.tls_key) {
        (Some(cert), Some(key)) => Some(crate::net::tls::server_config(cert, key)?),
        _ => None,
    };
    let client_tls = ClientTls::from_ca_file(args.edge.ca_file.as_deref())?;
    let signing = args.callbacks.signing(&args.sms, server_tls.is_some())?;
    // A --listen that is no address stops the start before the database is touched.
    let listen = listen_address(&args.listen).await?;
    let clock = Clock::system();
    let db = Db::connect_with(&args.db.database, std::time::Duration::from_millis(args.db_timeout_ms.max(1))).await?;
    // Requests then need no query for the configuration counter.
    if !args.no_config_listener {
        db.watch_config();
    }
    if let Some(root) = &args.designer {
        let tenants = crate::designer::Designer::load_root(root).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("the designer folder {} has errors:\n{}", root.display(), lines.join("\n"))
        })?;
        for (tenant, designer) in &tenants {
            report(tenant, &crate::provision::apply_designer(&db, &clock, tenant, designer, None).await?);
        }
    }
    if args.demo {
        crate::demo::ensure(&db, &clock, args.designer.is_none()).await?;
        if !args.console.no_console {
            let password = std::env::var("OPENWELKIN_DEMO_CONSOLE_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "demo-console".into());
            crate::services::operators::ensure(&db, "demo", &password, clock.now_ms())
                .await
                .map_err(|e| anyhow::anyhow!("the demo console operator: {}", e.content.message))?;
        }
    } else {
        warn_of_demo_client(&db).await?;
    }
    let mut state = AppState::new(db.clone(), clock).await?;
    state.settings().files = crate::files::FileStore::local(
        args.files_dir.clone().unwrap_or_else(|| crate::files::default_dir(&args.db.database)),
    );
    state.settings().sms = args.sms.provider(&db, &client_tls)?;
    state.settings().email = args.email.delivery(&db, &client_tls)?;
    // Bound before the webhook settings: payload links default to this address.
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| listen_failed(&args.listen, e))?;
    let addr = listener.local_addr()?;
    let scheme = if server_tls.is_some() { "https" } else { "http" };
    let public_url = signing.public_url.clone().unwrap_or_else(|| format!("{scheme}://{addr}"));
    state.settings().webhooks = args.webhooks.settings(&client_tls, public_url);
    state.settings().provider_signing = signing;
    state.settings().demo = args.demo;
    if !args.console.no_console {
        state.settings().console = Some(crate::services::operators::ConsoleSettings {
            // Browsers send a Secure cookie only over HTTPS: set it exactly when serving TLS.
            secure_cookies: server_tls.is_some(),
            limits: crate::services::operators::SignInLimits {
                per_operator: args.console.console_signin_limit,
                per_address: args.console.console_address_signin_limit,
            },
        });
    }
    let exporter = crate::telemetry::exporter::Exporter::new(&db, &state.clock)?;
    let metrics_listener = match &args.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening for the metrics on {addr}"))?,
        ),
        None => {
            state.settings().metrics = Some(exporter.clone());
            None
        }
    };
    if args.emulator || args.demo {
        let token = match &args.emulator_token {
            Some(t) if !t.is_empty() => t.clone(),
            _ => {
                let t = crate::auth::secrets::generate();
                // Printed once for the operator, like a new client secret; never logged.
                println!("openwelkin emulator token: {t}");
                t
            }
        };
        state.settings().emulator = Some(std::sync::Arc::new(crate::emulator::admin::Emulator::new(&token)));
    }
    // Configured: from here the state is shared.
    crate::services::sms::spawn_scheduler(state.clone());
    state.email.spawn_dispatcher(db.clone(), state.clock.clone());
    // Records of instances reset before a stop (or by the CLI) that are not yet deleted.
    crate::emulator::data::spawn_sweep(crate::emulator::data::Target {
        db: db.clone(),
        clock: state.clock.clone(),
        files: state.files.clone(),
        actor: crate::events::audit::Actor::system(),
    });
    tokio::spawn(crate::store::search_upkeep::run(db.clone()));
    if !args.webhooks.no_webhook_worker {
        tokio::spawn(crate::events::webhooks::run(db.clone(), state.clock.clone(), state.webhooks.clone()));
    }
    let max_connections = args.edge.max_connections as usize;
    // Room for the connections and the process's own files (database, uploads, logs).
    let wanted = max_connections as u64 + 256;
    match crate::net::os::raise_file_limit(wanted) {
        Some(limit) if limit < wanted => tracing::warn!(
            limit,
            max_connections,
            "the open-file limit is below --max-connections plus 256: accepting may fail before the cap is reached"
        ),
        _ => {}
    }
    let limits = args.edge.limits();
    let edge =
        Edge { tls: server_tls.map(tokio_rustls::TlsAcceptor::from), limits, max_connections, return_memory: true };
    let metrics_served = match metrics_listener {
        Some(listener) => {
            let addr = listener.local_addr()?;
            // Before the main line, which tests and scripts wait for.
            println!("openwelkin metrics on http://{addr}/metrics");
            let edge = Edge { tls: None, limits, max_connections: METRICS_CONNECTIONS, return_memory: false };
            let app = crate::api::metrics::router(exporter);
            // Stopped with the API's listener, below.
            Some(tokio::spawn(serve_http(listener, app, edge, std::future::pending())))
        }
        None => None,
    };
    // Tests and scripts read this line to learn the port.
    println!("openwelkin listening on {}://{addr}", if edge.tls.is_some() { "https" } else { "http" });
    std::io::stdout().flush()?;
    tracing::info!(%addr, backend = ?db.backend(), tls = edge.tls.is_some(), ready_ms = started.elapsed().as_millis() as u64, "ready");
    serve_http(listener, router(state), edge, shutdown()).await;
    if let Some(task) = metrics_served {
        task.abort();
    }
    db.close().await;
    Ok(())
}

/// The address `--listen` names (a host name is resolved; the first address is used).
async fn listen_address(listen: &str) -> anyhow::Result<std::net::SocketAddr> {
    let not_an_address = |why: String| {
        anyhow::anyhow!("--listen {listen:?} is not an address to listen on: {why} (expected HOST:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:443)")
    };
    let mut addresses = tokio::net::lookup_host(listen).await.map_err(|e| not_an_address(e.to_string()))?;
    addresses.next().ok_or_else(|| not_an_address("the name has no address".into()))
}

/// Why `--listen` could not be bound, naming the address.
fn listen_failed(listen: &str, e: std::io::Error) -> anyhow::Error {
    use std::io::ErrorKind;
    let why = match e.kind() {
        ErrorKind::AddrInUse => {
            "the address is already in use (another openwelkin, or another program, listens there)".to_string()
        }
        ErrorKind::AddrNotAvailable => "the address is not one of this machine's".to_string(),
        ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need a privilege, e.g. CAP_NET_BIND_SERVICE)".to_string()
        }
        _ => e.to_string(),
    };
    anyhow::anyhow!("cannot listen on {listen} (--listen): {why}")
}

/// Connections the metrics listener serves at once (scrapers are few).
const METRICS_CONNECTIONS: usize = 16;

/// How connections are served: TLS or not, and their limits.
struct Edge {
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    max_connections: usize,
    /// Give memory back after connections close (the API's listener; not the metrics',
    /// whose scrapes would trigger it while the API is busy).
    return_memory: bool,
}

/// Serves `listener` until `signal`, then stops accepting and waits for the open
/// connections to finish their requests. What `axum::serve` does, and:
///
/// * hyper's own limits on the request head are raised above those of `api::guard`, so
///   that a head over the guard's limits is answered in the Welkin error format, not with
///   hyper's empty 431;
/// * with TLS, the handshake (bounded by the header timeout) comes first, then HTTP/2 or
///   HTTP/1.1 as the client chose by ALPN; without TLS, HTTP/1.1 only;
/// * at most `max_connections` connections are open at once, each under the limits of
///   `net::conn` (header, idle and body timeouts);
/// * when connections have closed, the memory they used is given back to the system.
async fn serve_http(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    edge: Edge,
    signal: impl std::future::Future<Output = ()>,
) {
    use crate::api::guard::{HYPER_MAX_BUF_SIZE, HYPER_MAX_HEADERS};
    use hyper_util::rt::TokioExecutor;
    use hyper_util::server::conn::auto::Builder;
    use std::sync::Arc;
    use tokio::sync::{watch, Semaphore};

    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().max_headers(HYPER_MAX_HEADERS).max_buf_size(HYPER_MAX_BUF_SIZE);
    let builder = Arc::new(if edge.tls.is_some() { builder } else { builder.http1_only() });
    let permits = Arc::new(Semaphore::new(edge.max_connections));
    let memory = MemoryReturn::spawn(edge.return_memory);
    let mut warned_full: Option<std::time::Instant> = None;
    // Every connection holds a `closed` receiver and watches `stop`: the accept loop ends at
    // the signal, connections then finish gracefully, and the loop waits for the last one.
    let (stop, _) = watch::channel(false);
    let (closed_tx, closed_rx) = watch::channel(());
    let mut signal = std::pin::pin!(signal);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = &mut signal => break,
        };
        if permits.available_permits() == 0 && warned_full.is_none_or(|at| at.elapsed().as_secs() >= 60) {
            tracing::warn!(max_connections = edge.max_connections, "connection cap reached; new clients wait");
            warned_full = Some(std::time::Instant::now());
        }
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            _ = &mut signal => break,
        };
        let (builder, app, tls, limits) = (builder.clone(), app.clone(), edge.tls.clone(), edge.limits);
        let (stopping, closed, memory) = (stop.subscribe(), closed_rx.clone(), memory.clone());
        memory.opened();
        tokio::spawn(async move {
            let activity = Activity::new();
            match tls {
                None => {
                    serve_connection(
                        &builder,
                        Watched::new(stream, activity.clone()),
                        app,
                        peer,
                        activity,
                        limits,
                        stopping,
                    )
                    .await
                }
                Some(acceptor) => match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        serve_connection(
                            &builder,
                            Watched::new(stream, activity.clone()),
                            app,
                            peer,
                            activity,
                            limits,
                            stopping,
                        )
                        .await
                    }
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                },
            }
            drop(permit);
            memory.closed();
            drop(closed);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(closed_rx);
    closed_tx.closed().await;
}

/// Serves one connection until it ends, breaks a limit (it is then dropped, which closes
/// it) or the server stops (it is then shut down gracefully).
async fn serve_connection<I>(
    builder: &hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    io: I,
    app: axum::Router,
    peer: std::net::SocketAddr,
    activity: std::sync::Arc<Activity>,
    limits: Limits,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;

    // The client's address, for whatever counts per address (console sign-in throttle).
    let service = tower::ServiceBuilder::new()
        .map_request(move |mut req: axum::http::Request<_>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            req
        })
        .service(crate::net::conn::service(app, activity.clone(), limits));
    let service = TowerToHyperService::new(service);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let mut watchdog = tokio::time::interval(limits.tick());
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = stopping.wait_for(|stop| *stop), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = watchdog.tick() => {
                if let Some(why) = activity.verdict(&limits) {
                    tracing::debug!(why, "connection closed");
                    break;
                }
            }
        }
    }
}

/// Gives memory back to the system after connections close (`net::os`): a second after a
/// close, when at least 64 connections have closed since the last time or none is left
/// open, and at most every five seconds. The first round runs a second after start, with
/// no close: start-up work (migrations, the OpenAPI document, the dummy password hash)
/// frees most of what it allocated in the middle of the heap, where glibc keeps it (an
/// idle server held 35 MB instead of 30 MB).
#[derive(Clone)]
struct MemoryReturn {
    open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    closes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    wake: std::sync::Arc<tokio::sync::Notify>,
}

impl MemoryReturn {
    fn spawn(enabled: bool) -> Self {
        let this = MemoryReturn { open: Default::default(), closes: Default::default(), wake: Default::default() };
        if !enabled {
            // Nothing waits for `wake`: counting connections does nothing.
            return this;
        }
        this.wake.notify_one();
        let that = this.clone();
        tokio::spawn(async move {
            use std::sync::atomic::Ordering;
            loop {
                that.wake.notified().await;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let closes = that.closes.swap(0, Ordering::Relaxed);
                let open = that.open.load(Ordering::Relaxed);
                if closes >= 64 || open == 0 {
                    let started = std::time::Instant::now();
                    crate::net::os::release_free_memory();
                    tracing::debug!(closes, took_us = started.elapsed().as_micros() as u64, "free memory returned");
                    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
                }
            }
        });
        this
    }

    fn opened(&self) {
        self.open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn closed(&self) {
        self.open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.closes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.wake.notify_one();
    }
}

/// As `axum::serve` does: a connection reset before it was accepted is nothing; anything
/// else (such as running out of file descriptors) is logged and retried after a second.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accept error");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// A database that once ran `--demo` keeps the demo client, whose secret is public. Served
/// without `--demo`, tokens are refused for that secret (`api::token`); the operator is
/// told which client it is and how to retire it.
async fn warn_of_demo_client(db: &Db) -> anyhow::Result<()> {
    let Some(client) = crate::demo::client_with_public_secret(db).await? else { return Ok(()) };
    let (tenant, name) = (crate::demo::TENANT, client.name.as_str());
    let advice = format!(
        "API client {name} of tenant {tenant} still has the public demo secret; tokens for it are refused while \
         serving without --demo. Rotate it (openwelkin clients rotate-secret --tenant {tenant} --name {name}) or \
         disable it (openwelkin clients disable --tenant {tenant} --name {name})"
    );
    tracing::warn!("{advice}");
    // On stdout too, beside the other start lines an operator reads.
    println!("openwelkin: warning: {advice}");
    Ok(())
}

fn report(tenant: &str, applied: &[crate::provision::Applied]) {
    for a in applied {
        match a.published {
            Some(v) => tracing::info!(tenant, instance = %a.instance, version = v, "designer published"),
            None => tracing::info!(tenant, instance = %a.instance, "designer unchanged"),
        }
    }
}
