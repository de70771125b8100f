//! `openwelkin serve`.

use super::DatabaseArg;
use crate::api::{router, AppState};
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
    /// Create the demo tenant, instances, API client, users and patients (idempotent).
    #[arg(long, env = "OPENWELKIN_DEMO")]
    pub demo: bool,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let clock = Clock::system();
    let db = Db::connect(&args.db.database).await?;
    if args.demo {
        crate::demo::ensure(&db, &clock).await?;
    }
    let state = AppState::new(db.clone(), clock).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to learn the port.
    println!("openwelkin listening on http://{addr}");
    std::io::stdout().flush()?;
    tracing::info!(%addr, backend = ?db.backend(), ready_ms = started.elapsed().as_millis() as u64, "ready");
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown()).await?;
    db.close().await;
    Ok(())
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
