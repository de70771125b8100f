//! `openwelkin serve`.

use super::DatabaseArg;
use crate::api::router;
use crate::app::AppState;
use crate::clock::Clock;
use crate::store::Db;
use clap::Args;
use std::io::Write;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, env = "OPENWELKIN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub db: DatabaseArg,
    /// Longest wait, in milliseconds, for a database connection; a request that waits
    /// longer (the database down or restarting) is answered 503 DATABASE_UNAVAILABLE.
    #[arg(long, env = "OPENWELKIN_DB_TIMEOUT_MS", default_value_t = 5_000)]
    pub db_timeout_ms: u64,
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
    pub sms: crate::delivery::sms::SmsArgs,
    #[command(flatten)]
    pub email: crate::delivery::email::EmailArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
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
    fn settings(&self) -> crate::events::webhooks::WebhookSettings {
        crate::events::webhooks::WebhookSettings {
            retry_base_ms: self.webhook_retry_base_ms.max(1),
            retry_window_ms: self.webhook_retry_window_ms,
            lease_ms: self.webhook_lease_ms.max(100),
            allow_private: self.allow_private_webhooks,
            ..Default::default()
        }
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let clock = Clock::system();
    let db = Db::connect_with(&args.db.database, std::time::Duration::from_millis(args.db_timeout_ms.max(1))).await?;
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
    }
    let mut state = AppState::new(db.clone(), clock).await?;
    state.settings().files = crate::files::FileStore::local(
        args.files_dir.clone().unwrap_or_else(|| crate::files::default_dir(&args.db.database)),
    );
    state.settings().sms = args.sms.provider(&db)?;
    state.settings().email = args.email.delivery(&db)?;
    state.settings().webhooks = args.webhooks.settings();
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
    });
    if !args.webhooks.no_webhook_worker {
        tokio::spawn(crate::events::webhooks::run(db.clone(), state.clock.clone(), state.webhooks.clone()));
    }
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to learn the port.
    println!("openwelkin listening on http://{addr}");
    std::io::stdout().flush()?;
    tracing::info!(%addr, backend = ?db.backend(), ready_ms = started.elapsed().as_millis() as u64, "ready");
    serve_http(listener, router(state), shutdown()).await;
    db.close().await;
    Ok(())
}

/// Serves HTTP/1.1 on `listener` until `signal`, then stops accepting and waits for the
/// open connections to finish their requests. What `axum::serve` does, except that hyper's
/// own limits on the request head are raised above those of `api::guard`, so that a head
/// over the guard's limits is answered in the Welkin error format, not with hyper's empty
/// 431.
async fn serve_http(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    signal: impl std::future::Future<Output = ()>,
) {
    use crate::api::guard::{HYPER_MAX_BUF_SIZE, HYPER_MAX_HEADERS};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    use tokio::sync::watch;

    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().max_headers(HYPER_MAX_HEADERS).max_buf_size(HYPER_MAX_BUF_SIZE);
    let builder = std::sync::Arc::new(builder);
    // Every connection holds a `closed` receiver and watches `stop`: the accept loop ends at
    // the signal, connections then finish gracefully, and the loop waits for the last one.
    let (stop, _) = watch::channel(false);
    let (closed_tx, closed_rx) = watch::channel(());
    let mut signal = std::pin::pin!(signal);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            _ = &mut signal => break,
        };
        let builder = builder.clone();
        let service = TowerToHyperService::new(app.clone());
        let mut stopping = stop.subscribe();
        let closed = closed_rx.clone();
        tokio::spawn(async move {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
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
                }
            }
            drop(closed);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(closed_rx);
    closed_tx.closed().await;
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

fn report(tenant: &str, applied: &[crate::provision::Applied]) {
    for a in applied {
        match a.published {
            Some(v) => tracing::info!(tenant, instance = %a.instance, version = v, "designer published"),
            None => tracing::info!(tenant, instance = %a.instance, "designer unchanged"),
        }
    }
}
