//! The Prometheus recorder behind `GET /metrics`: installed once per process by `serve`,
//! rendered on each scrape after the gauges that are read rather than counted (the
//! connection pools, the webhook backlog) have been refreshed.

use super::names;
use crate::clock::Clock;
use crate::store::Db;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Upper bounds of the HTTP and webhook latency buckets, in seconds.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// The database's, finer at the low end: a read by id takes tens of microseconds.
const DB_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Histogram samples are folded into their buckets at each scrape and at least this often,
/// so that an unscraped server does not keep them all.
const UPKEEP: Duration = Duration::from_secs(5);
/// The backlog is counted at most this often, however many scrapers there are.
const BACKLOG_EVERY: Duration = Duration::from_secs(1);
/// A backlog count that takes longer is given up; the gauges keep their last values.
const BACKLOG_LIMIT: Duration = Duration::from_secs(2);

/// The process's one recorder (the `metrics` facade has one global recorder).
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// What a scrape renders: the recorder and where the scrape-time gauges come from.
#[derive(Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
    db: Db,
    clock: Clock,
    /// When the backlog was last counted.
    counted: Arc<tokio::sync::Mutex<Option<Instant>>>,
}

/// Installs the recorder, once per process (later calls do nothing): from then on the
/// `metrics` macros record. Must run inside the Tokio runtime (it spawns the upkeep).
pub fn install_recorder() -> anyhow::Result<PrometheusHandle> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Prefix("openwelkin_db_".into()), DB_BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|_| anyhow::anyhow!("another metrics recorder is installed in this process"))?;
    let _ = HANDLE.set(handle.clone());
    names::describe();
    spawn_upkeep(handle.clone());
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    metrics::gauge!(names::START_TIME).set(started.as_secs_f64());
    Ok(handle)
}

impl Exporter {
    /// The exporter of the installed recorder (installed now if it was not) for a server
    /// on `db`.
    pub fn new(db: &Db, clock: &Clock) -> anyhow::Result<Exporter> {
        let handle = install_recorder()?;
        let backend = match db.backend() {
            crate::store::Backend::Sqlite => "sqlite",
            crate::store::Backend::Postgres => "postgres",
        };
        metrics::gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "backend" => backend).set(1.0);
        Ok(Exporter { handle, db: db.clone(), clock: clock.clone(), counted: Default::default() })
    }
}

fn spawn_upkeep(handle: PrometheusHandle) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    });
}

impl Exporter {
    /// The metrics in the Prometheus text format (version 0.0.4).
    pub async fn render(&self) -> String {
        self.read_pools();
        self.count_backlog().await;
        self.handle.render()
    }

    fn read_pools(&self) {
        for p in self.db.reader().status() {
            metrics::gauge!(names::DB_CONNECTIONS, "pool" => p.pool, "state" => "idle").set(p.idle as f64);
            if let Some(n) = p.in_use {
                metrics::gauge!(names::DB_CONNECTIONS, "pool" => p.pool, "state" => "in_use").set(n as f64);
            }
            if let Some(n) = p.max {
                metrics::gauge!(names::DB_CONNECTIONS_MAX, "pool" => p.pool).set(n as f64);
            }
            metrics::gauge!(names::DB_WAITING, "pool" => p.pool).set(p.waiting as f64);
        }
    }

    /// Counts the webhook backlog, unless it was counted within `BACKLOG_EVERY` (scrapes
    /// at the same moment wait for one count). A failed or slow count is logged and the
    /// gauges keep their last values.
    async fn count_backlog(&self) {
        let mut counted = self.counted.lock().await;
        if counted.is_some_and(|at| at.elapsed() < BACKLOG_EVERY) {
            return;
        }
        match tokio::time::timeout(BACKLOG_LIMIT, self.db.webhook_backlog()).await {
            Ok(Ok(b)) => {
                let now = self.clock.now_ms();
                let age = |oldest: Option<i64>| oldest.map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0);
                metrics::gauge!(names::WEBHOOK_BACKLOG, "stage" => "fan_out").set(b.events as f64);
                metrics::gauge!(names::WEBHOOK_BACKLOG, "stage" => "delivery").set(b.deliveries as f64);
                metrics::gauge!(names::WEBHOOK_LAG, "stage" => "fan_out").set(age(b.oldest_event_ms));
                metrics::gauge!(names::WEBHOOK_LAG, "stage" => "delivery").set(age(b.oldest_delivery_ms));
                *counted = Some(Instant::now());
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "counting the webhook backlog for the metrics failed"),
            Err(_) => tracing::warn!("counting the webhook backlog for the metrics took too long"),
        }
    }
}
