//! The configuration counter without a query per request.
//!
//! `config_cache` trusts a cached tenant, client or instance only at the counter it was
//! read at, so every authenticated request needs the counter. Reading it per request is
//! a PostgreSQL round trip, and on SQLite a read transaction of its own (its shared-memory
//! locks were a tenth of a read by id's CPU). So `serve` keeps a copy in an atomic that
//! requests use instead of the database:
//! - PostgreSQL: one dedicated connection per server (`application_name`
//!   `openwelkin config listener PID`) runs `LISTEN openwelkin_config`; `bump` sends
//!   `pg_notify` in the transaction of every change, delivered on its commit. On each
//!   notification, and every `POLL` as a fallback, the listener reads the counter.
//! - SQLite: a task reads the counter every `SQLITE_POLL` (a change made through the CLI
//!   writes the same file, but nothing tells this process). The counter only grows there,
//!   so every read of it (the poller's, a token exchange's) can only move the copy forward
//!   (`saw`).
//!
//! A request uses that copy only when it is certainly recent enough; otherwise it reads
//! the counter as before (a "fallback read", counted by reason):
//! - `not_listening`: the listener is not connected (start-up, lost connection,
//!   failover), or its last successful read is older than `TRUSTED_FOR`. A connection that
//!   died silently (or a poller starved of CPU) is therefore distrusted within
//!   `TRUSTED_FOR` of its last read, so a change made elsewhere (another node, the CLI) is
//!   seen within that time whatever happens to the listener, and within milliseconds
//!   (PostgreSQL) or `SQLITE_POLL` (SQLite) normally.
//! - `own_change`: this process bumped the counter to a value the listener has not read
//!   yet. The API and the console disable a client and expect the very next request
//!   refused; `bump` records the value it wrote (`RETURNING v`), and until the listener
//!   has read at least that value, requests read the database. A bump whose transaction
//!   rolled back never shows up, so this rule lapses after `OWN_CHANGE_FOR`; by then a
//!   committed change has long been read.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The channel `bump` notifies and the listener listens on.
pub const CHANNEL: &str = "openwelkin_config";

/// The listener connection's `application_name`, followed by the process id, to find a
/// node's listener in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "openwelkin config listener";

/// How often the listener reads the counter without a notification.
const POLL: Duration = Duration::from_millis(500);

/// How often the SQLite poller reads the counter: the longest a change made through the
/// CLI waits to be seen (a read transaction 20 times a second costs nothing measurable).
const SQLITE_POLL: Duration = Duration::from_millis(50);

/// The longest a read of the listener may take before its connection is given up.
const READ_LIMIT: Duration = Duration::from_millis(500);

/// How long after its last successful read the listener's copy is trusted.
const TRUSTED_FOR: Duration = Duration::from_millis(1000);

/// How long this process's own bump, not yet read back by the listener, sends requests
/// to the database.
const OWN_CHANGE_FOR: Duration = Duration::from_secs(2);

/// Wait before connecting again after the listener's connection failed.
const RECONNECT_AFTER: Duration = Duration::from_millis(200);

/// Milliseconds since the first use of this module: an `Instant` that fits an atomic.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// The last counter value this process wrote, and when. Process-wide rather than per
/// `Db`: `bump` runs on a transaction's connection, without the `Db`; several `Db`s in one
/// process (tests) then only read the database more often, never less.
static OWN_BUMP: AtomicI64 = AtomicI64::new(i64::MIN);
static OWN_BUMP_AT: AtomicU64 = AtomicU64::new(0);

/// Records that this process bumped the counter to `v` (uncommitted yet).
pub fn bumped_to(v: i64) {
    OWN_BUMP.fetch_max(v, Ordering::SeqCst);
    OWN_BUMP_AT.store(now_ms(), Ordering::SeqCst);
}

/// Why a request reads the counter from the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    NotListening,
    OwnChange,
}

impl Fallback {
    pub fn label(self) -> &'static str {
        match self {
            Fallback::NotListening => "not_listening",
            Fallback::OwnChange => "own_change",
        }
    }
}

/// What the decision needs, as plain values (the unit tests build them).
#[derive(Clone, Copy, Debug)]
struct Snapshot {
    connected: bool,
    /// The counter the listener read last, and when (0: never).
    version: i64,
    read_at_ms: u64,
    own_bump: i64,
    own_bump_at_ms: u64,
    now_ms: u64,
}

/// The counter to use without reading the database, or why not.
fn decide(s: Snapshot) -> Result<i64, Fallback> {
    let fresh = s.read_at_ms != 0 && s.now_ms.saturating_sub(s.read_at_ms) < TRUSTED_FOR.as_millis() as u64;
    if !s.connected || !fresh {
        return Err(Fallback::NotListening);
    }
    let own_change_recent = s.now_ms.saturating_sub(s.own_bump_at_ms) < OWN_CHANGE_FOR.as_millis() as u64;
    if own_change_recent && s.version < s.own_bump {
        return Err(Fallback::OwnChange);
    }
    Ok(s.version)
}

/// The listener's copy of the counter, shared by a `Db` and its clones.
#[derive(Default)]
pub struct ConfigWatch {
    /// Whether a listener was started for this `Db` (only `serve` starts one): without
    /// it, reading the database is the design, not a fallback, and is not counted.
    started: AtomicBool,
    /// SQLite: the counter only grows, so a read never moves the copy back (`saw`).
    polling: AtomicBool,
    connected: AtomicBool,
    version: AtomicI64,
    read_at_ms: AtomicU64,
}

impl ConfigWatch {
    /// The counter to use without a query, or why the database must be read. `None` when
    /// no listener runs (SQLite, the CLI).
    pub fn current(&self) -> Option<Result<i64, Fallback>> {
        if !self.started.load(Ordering::SeqCst) {
            return None;
        }
        // The read time before the value: a value stored after this time check is at
        // least as new as the time says.
        let read_at_ms = self.read_at_ms.load(Ordering::SeqCst);
        Some(decide(Snapshot {
            connected: self.connected.load(Ordering::SeqCst),
            version: self.version.load(Ordering::SeqCst),
            read_at_ms,
            own_bump: OWN_BUMP.load(Ordering::SeqCst),
            own_bump_at_ms: OWN_BUMP_AT.load(Ordering::SeqCst),
            now_ms: now_ms(),
        }))
    }

    fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::SeqCst);
        metrics::gauge!(crate::telemetry::names::CONFIG_LISTENER_CONNECTED).set(if connected { 1.0 } else { 0.0 });
    }

    /// The value before the time: a request that sees the new time sees this value.
    fn read(&self, version: i64) {
        if self.polling.load(Ordering::SeqCst) {
            self.saw(version);
        } else {
            self.version.store(version, Ordering::SeqCst);
        }
        self.read_at_ms.store(now_ms(), Ordering::SeqCst);
    }

    /// A successful read of the listener or the poller: its copy is current and trusted.
    fn read_up_to_date(&self, version: i64) {
        self.read(version);
        if !self.connected.load(Ordering::SeqCst) {
            self.set_connected(true);
        }
    }

    /// A counter value read from the database outside the poller (SQLite): the copy moves
    /// forward to it at once, so a token issued after a change made through the CLI is
    /// checked against that change, not against the copy from before it. PostgreSQL's
    /// copy is the listener's alone (after a failover the counter may even go back).
    pub fn saw(&self, version: i64) {
        if self.polling.load(Ordering::SeqCst) {
            self.version.fetch_max(version, Ordering::SeqCst);
        }
    }

    /// Starts the SQLite poller: the counter read from `pool` every `SQLITE_POLL`.
    pub fn start_polling(self: &Arc<Self>, pool: Arc<crate::store::sql::Pool>) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        self.polling.store(true, Ordering::SeqCst);
        self.set_connected(false);
        let watch = self.clone();
        tokio::spawn(async move {
            let mut poll = tokio::time::interval(SQLITE_POLL);
            poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                poll.tick().await;
                match super::config_cache::read_counter(&pool).await {
                    Ok(v) => watch.read_up_to_date(v),
                    Err(e) => {
                        if watch.connected.load(Ordering::SeqCst) {
                            tracing::warn!(error = %e, "reading the configuration counter failed; requests read it until a read succeeds");
                            watch.set_connected(false);
                        }
                    }
                }
            }
        });
    }

    /// Starts the listener on its own connection to the database `config` names (the
    /// pool's settings: several hosts, `target_session_attrs=read-write`, so that a
    /// reconnection after a failover finds the new primary).
    pub fn start(self: &Arc<Self>, mut config: tokio_postgres::Config) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        self.set_connected(false);
        config.application_name(format!("{APPLICATION_NAME} {}", std::process::id()));
        // As the pool: each host given up after this long (a failover's dead primary).
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(crate::store::DEFAULT_DB_TIMEOUT);
        }
        let watch = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = watch.listen(&config).await {
                    tracing::warn!(error = %e, "the configuration listener lost its connection; requests read the counter until it is back");
                }
                watch.set_connected(false);
                tokio::time::sleep(RECONNECT_AFTER).await;
            }
        });
    }

    /// One connection's life: `LISTEN`, then read the counter on every notification and
    /// every `POLL`, until the connection fails or a read takes longer than `READ_LIMIT`.
    async fn listen(&self, config: &tokio_postgres::Config) -> anyhow::Result<()> {
        use futures_util::StreamExt;
        let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
        let (notified, mut notifications) = tokio::sync::mpsc::unbounded_channel::<()>();
        // The connection's messages: notifications go to the loop below; the channel
        // closes when the connection ends.
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let tokio_postgres::AsyncMessage::Notification(_) = message {
                    let _ = notified.send(());
                }
            }
        });
        let _stop_driver = AbortOnDrop(driver);
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        // Listening before the first read: a change committed after it is notified. The
        // read also asks whether the server still takes writes: after a failover the old
        // primary may live on read-only (or as a standby), where nothing changes any more;
        // the listener then reconnects, and the URL's target_session_attrs=read-write
        // leads it to the new primary, as it leads the pool.
        let statement = client
            .prepare(
                "SELECT v, pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' AS read_only \
                 FROM config_version WHERE id = 1",
            )
            .await?;
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                n = notifications.recv() => if n.is_none() {
                    anyhow::bail!("the connection closed");
                },
                _ = poll.tick() => {}
            }
            // Notifications that came meanwhile are answered by the same read.
            while notifications.try_recv().is_ok() {}
            let row = tokio::time::timeout(READ_LIMIT, client.query_one(&statement, &[]))
                .await
                .map_err(|_| anyhow::anyhow!("reading the counter took over {READ_LIMIT:?}"))??;
            if row.get::<_, bool>(1) {
                anyhow::bail!("the server no longer takes writes (a failover?)");
            }
            self.read_up_to_date(row.get(0));
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steady() -> Snapshot {
        Snapshot { connected: true, version: 7, read_at_ms: 10_000, own_bump: 5, own_bump_at_ms: 9_000, now_ms: 10_100 }
    }

    #[test]
    fn a_fresh_read_of_a_connected_listener_is_used() {
        assert_eq!(decide(steady()), Ok(7));
    }

    #[test]
    fn without_a_connection_or_a_recent_read_the_database_is_read() {
        assert_eq!(decide(Snapshot { connected: false, ..steady() }), Err(Fallback::NotListening));
        assert_eq!(decide(Snapshot { read_at_ms: 0, now_ms: 10, ..steady() }), Err(Fallback::NotListening));
        // A connection that died silently: its last read is trusted for under a second.
        assert_eq!(decide(Snapshot { now_ms: 10_999, ..steady() }), Ok(7));
        assert_eq!(decide(Snapshot { now_ms: 11_000, ..steady() }), Err(Fallback::NotListening));
    }

    #[test]
    fn a_polled_copy_only_moves_forward() {
        let watch = ConfigWatch::default();
        watch.polling.store(true, Ordering::SeqCst);
        watch.read(5);
        watch.saw(7);
        assert_eq!(watch.version.load(Ordering::SeqCst), 7, "a token exchange's read moves it forward");
        watch.read(6);
        assert_eq!(watch.version.load(Ordering::SeqCst), 7, "an older poll does not move it back");
        // The listener's copy (PostgreSQL) is its own: a counter that went back after a
        // failover is followed, and reads elsewhere do not touch it.
        let listener = ConfigWatch::default();
        listener.read(9);
        listener.read(4);
        listener.saw(12);
        assert_eq!(listener.version.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn an_own_change_not_yet_read_back_sends_requests_to_the_database() {
        let own = Snapshot { own_bump: 8, own_bump_at_ms: 10_050, ..steady() };
        assert_eq!(decide(own), Err(Fallback::OwnChange));
        // Read back by the listener: its copy is used again.
        assert_eq!(decide(Snapshot { version: 8, ..own }), Ok(8));
        // A bump whose transaction rolled back is never read back: the rule lapses.
        assert_eq!(decide(Snapshot { now_ms: 12_050, read_at_ms: 12_000, ..own }), Ok(7));
    }
}
