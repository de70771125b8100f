//! Moving the pending entries of PostgreSQL's patient trigram indexes into the indexes, on
//! a task of the server's rather than inside a create.
//!
//! A GIN index with fast update (the default) adds each new row's trigrams to a pending
//! list, and the insert that finds the list past its limit (256 kB, migration 0026) moves
//! all of it into the index before it returns. With the group commit every create queued
//! behind that insert waits as well. Measured (2 cores, 32 clients, after 10 s of creates
//! at the maximum rate, about 110k patients): paced at half that rate, the p99 of creates
//! was 120-200 ms, the slowest 210-240 ms; with `fastupdate` off, 115-118 ms; a 64 kB
//! limit, 44 ms; with the search index dropped, 5-12 ms; with the lists emptied every
//! 50 ms by another connection, 7.0-7.2 ms (slowest 13-18 ms), at an unchanged maximum rate
//! (11.2k / 11.5k → 11.2k / 11.6k creates/s).
//!
//! So `run` empties the lists every `EVERY` (a 256 kB list takes about 1,000 creates, some
//! 70 ms at this machine's maximum rate) whenever this process wrote patients since
//! (`note_written`), and every `AT_LEAST_EVERY` for what other processes wrote (other
//! nodes, the CLI's seeding), so an idle server sends nothing. Every node of a database
//! runs it: a cleanup waits for a running one and then finds little to do. SQLite's search
//! index is written once per group commit (`patients_fts_pending`) and needs none of this.

use super::{Backend, Db};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the lists are emptied while this process writes patients.
const EVERY: Duration = Duration::from_millis(50);
/// How often they are emptied regardless.
const AT_LEAST_EVERY: Duration = Duration::from_secs(10);

/// Patient rows this process inserted or whose search text it changed (PostgreSQL).
static WRITTEN: AtomicU64 = AtomicU64::new(0);

/// Called by the store for each patient row it writes that adds trigram index entries.
pub fn note_written() {
    WRITTEN.fetch_add(1, Ordering::Relaxed);
}

/// The trigram (GIN) indexes of patients, whose pending lists `run` empties.
const STATEMENT: &str = "SELECT gin_clean_pending_list('patients_search_trgm'::regclass) \
     + gin_clean_pending_list('patients_territories_trgm'::regclass) AS pages";

impl Db {
    /// Moves the pending entries of the patient trigram indexes into the indexes; answers
    /// how many pages of pending entries there were (always 0 on SQLite).
    pub async fn empty_search_pending_lists(&self) -> super::sql::Result<i64> {
        if self.backend() != Backend::Postgres {
            return Ok(0);
        }
        let row = super::sql::query(STATEMENT).fetch_one(self.reader()).await?;
        Ok(row.get("pages"))
    }
}

/// Runs for as long as the server does (PostgreSQL only; on SQLite it returns at once).
pub async fn run(db: Db) {
    if db.backend() != Backend::Postgres {
        return;
    }
    let mut seen = WRITTEN.load(Ordering::Relaxed);
    let mut last = Instant::now();
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let written = WRITTEN.load(Ordering::Relaxed);
        if written == seen && last.elapsed() < AT_LEAST_EVERY {
            continue;
        }
        seen = written;
        last = Instant::now();
        // Down or failing over: the next tick tries again, and the server's own requests
        // report the outage.
        if let Err(e) = db.empty_search_pending_lists().await {
            tracing::debug!(error = %e, "emptying the search indexes' pending lists");
        }
    }
}
