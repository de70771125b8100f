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
    /// A designer root folder (one subfolder per tenant) to publish at start; see
    /// docs/DESIGNER.md. Instances whose current formation differs get a new version.
    #[arg(long, env = "OPENWELKIN_DESIGNER")]
    pub designer: Option<std::path::PathBuf>,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let clock = Clock::system();
    let db = Db::connect(&args.db.database).await?;
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

fn report(tenant: &str, applied: &[crate::provision::Applied]) {
    for a in applied {
        match a.published {
            Some(v) => tracing::info!(tenant, instance = %a.instance, version = v, "designer published"),
            None => tracing::info!(tenant, instance = %a.instance, "designer unchanged"),
        }
    }
}
