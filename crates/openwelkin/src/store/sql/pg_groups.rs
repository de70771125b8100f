//! PostgreSQL's group commit: transactions whose writes were all held back until their
//! commit (`Tx::defer`: a create's row, its audit row, its outbox row) are committed
//! several at once, in one transaction on one connection, their identical single-row
//! `INSERT`s sent as one multi-row `INSERT` each (`merge.rs` says why: most of a create's
//! cost in the database is per statement and per transaction, not per row).
//!
//! A transaction is queued; while fewer than `RUNNERS` tasks are committing, one is
//! started, and it takes everything queued, commits it, and goes on until the queue is
//! empty. A create alone on a quiet server is thus committed at once, as before; under
//! load the queue fills while the runners are busy and groups grow by themselves.
//!
//! Failures are each transaction's own, as if it had run alone: when a group fails before
//! its `COMMIT` (a duplicate key, a broken connection), every member runs again on its
//! own, and gets what its own run says. A failed `COMMIT` is every member's failure: its
//! outcome is unknown (`Error::Commit`), as for a transaction alone.

use super::error::{Error, Result};
use super::merge::merge;
use super::pg_read_batches::ReadBatches;
use super::pg_readers::Readers;
use super::postgres;
use super::query::{Deferred, PgConn};
use deadpool_postgres::Object;
use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Runners at most, each committing its group on a connection of its own. One is the
/// fastest: measured on 2 cores with 16 clients creating patients, one runner made
/// 6,400-7,000 creates/s (groups of ~7.8, ~200 µs of CPU per create in all), two at all
/// times 5,000-5,500 (groups of 4-5, ~280-300 µs): two multi-row inserts at once contend
/// for the same last pages of the patient indexes, and smaller groups pay the
/// per-transaction cost more often. But with one runner every transaction waits for the
/// group before its own, and a slow group (the trigram index's pending list merged into
/// the index, a checkpoint) holds all of them: at half the maximum rate the p99 was 13-16
/// ms. So a second runner starts when a backlog builds behind a busy one
/// (`SECOND_RUNNER_AT`), and stops once the backlog is gone: 6,100/s, p99 7.0-7.5 ms.
const RUNNERS: usize = 2;

/// Transactions waiting behind a busy runner that start the second.
const SECOND_RUNNER_AT: usize = 12;

/// Transactions per group at most: a steady stream still commits regularly.
const MAX_GROUP: usize = 64;

/// The pool of PostgreSQL connections, and the group commit that uses it.
#[derive(Clone)]
pub struct PgPool {
    connections: deadpool_postgres::Pool,
    /// The connections quick reads outside a transaction share (`pg_readers.rs`).
    pub readers: Arc<Readers>,
    /// Reads by key answered together (`pg_read_batches.rs`).
    pub read_batches: Arc<ReadBatches>,
    groups: Arc<Mutex<Groups>>,
}

struct Groups {
    queued: VecDeque<Queued>,
    running: usize,
    /// The connections of runners that ended, for the next ones: their multi-row
    /// statements are prepared already. Under load a runner ends often (whenever it finds
    /// the queue empty, as it does right after answering a group whose callers have not
    /// sent their next request yet), and a connection from the pool would have to prepare
    /// them again, one group size after another.
    spare: Vec<Object>,
}

struct Queued {
    statements: Vec<Deferred>,
    done: oneshot::Sender<Result<()>>,
}

impl Deref for PgPool {
    type Target = deadpool_postgres::Pool;
    fn deref(&self) -> &deadpool_postgres::Pool {
        &self.connections
    }
}

impl PgPool {
    pub fn new(connections: deadpool_postgres::Pool) -> PgPool {
        let readers = Arc::new(Readers::new());
        PgPool {
            connections,
            read_batches: Arc::new(ReadBatches::new(readers.clone())),
            readers,
            groups: Arc::new(Mutex::new(Groups { queued: VecDeque::new(), running: 0, spare: Vec::new() })),
        }
    }

    /// Commits a transaction made of held-back writes only, with others queued beside it.
    /// `Ok` once the database acknowledged the `COMMIT` that included it.
    pub async fn commit_held(&self, statements: Vec<Deferred>) -> Result<()> {
        let (done, answer) = oneshot::channel();
        let start = {
            let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            groups.queued.push_back(Queued { statements, done });
            let start = groups.running == 0 || (groups.running < RUNNERS && groups.queued.len() >= SECOND_RUNNER_AT);
            groups.running += usize::from(start);
            start
        };
        if start {
            tokio::spawn(self.clone().run());
        }
        answer.await.unwrap_or_else(|_| Err(Error::Connect("the group commit ended before this transaction".into())))
    }

    /// A runner: commits what is queued, group after group, until nothing is (or, while
    /// another runs, until no backlog is left for two). It keeps its connection between
    /// groups: the multi-row statements, one per group size, stay prepared on it.
    async fn run(self) {
        let mut running = Running(Some(self.groups.clone()));
        let mut connection = self.groups.lock().unwrap_or_else(|e| e.into_inner()).spare.pop();
        loop {
            let group: Vec<Queued> = {
                let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
                let backlog = groups.queued.len() >= SECOND_RUNNER_AT;
                if groups.queued.is_empty() || (groups.running > 1 && !backlog) {
                    groups.running -= 1;
                    groups.spare.extend(connection.take());
                    running.0 = None;
                    return;
                }
                let n = groups.queued.len().min(MAX_GROUP);
                groups.queued.drain(..n).collect()
            };
            self.commit_group(group, &mut connection).await;
        }
    }

    async fn commit_group(&self, mut group: Vec<Queued>, connection: &mut Option<Object>) {
        if group.len() == 1 {
            let Queued { statements, done } = group.remove(0);
            let _ = done.send(self.commit_on(connection, statements).await);
            return;
        }
        let transactions: Vec<Vec<Deferred>> = group.iter_mut().map(|q| std::mem::take(&mut q.statements)).collect();
        match self.commit_on(connection, merge(&transactions)).await {
            Ok(()) => group.into_iter().for_each(|q| drop(q.done.send(Ok(())))),
            Err(Error::Commit(e)) => group.into_iter().for_each(|q| drop(q.done.send(Err(Error::Commit(e.clone()))))),
            Err(Error::PoolTimedOut) => group.into_iter().for_each(|q| drop(q.done.send(Err(Error::PoolTimedOut)))),
            // Nothing was committed: each runs again alone, for its own answer.
            Err(_) => {
                let alone = transactions
                    .into_iter()
                    .map(|statements| async move { self.commit_on(&mut None, statements).await });
                let results = futures_util::future::join_all(alone).await;
                for (q, result) in group.into_iter().zip(results) {
                    let _ = q.done.send(result);
                }
            }
        }
    }

    /// `BEGIN`, the statements and `COMMIT` in one round trip, on `connection` (taken
    /// from the pool when there is none). The connection is kept for the next group while
    /// it is clean (`PgConn::commit`).
    async fn commit_on(&self, connection: &mut Option<Object>, statements: Vec<Deferred>) -> Result<()> {
        let client = match connection.take() {
            Some(client) => client,
            None => postgres::get_for_write(&self.connections).await?,
        };
        let mut pg = PgConn::new(client, "BEGIN");
        pg.deferred = statements;
        let (result, clean) = pg.commit().await;
        *connection = clean;
        result
    }
}

/// Counts a runner out if it ends without doing so itself (a panic): the queue then starts
/// another.
struct Running(Option<Arc<Mutex<Groups>>>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(groups) = self.0.take() {
            groups.lock().unwrap_or_else(|e| e.into_inner()).running -= 1;
        }
    }
}
