//! Quick PostgreSQL reads outside a transaction (`Query::quick`: a few rows by a unique
//! key) share a few connections instead of taking one each: tokio-postgres sends the
//! statements of concurrent callers on one connection one after the other without waiting
//! (pipelining), so a burst of reads is one write on the socket and one wake-up of the
//! backend, not one each. Measured on 2 cores with 16 clients reading patients by id: the
//! kernel was 44 % of the server's CPU, half of it sending each statement to the read's own
//! backend and switching to it; one shared connection made 18-21k reads/s where a
//! connection per read made 11-15k (two shared: 13.7-17.5k, four: 13-16k). Only quick reads
//! share: a slow statement would hold up every read queued behind it.
//!
//! A shared connection is a pool connection kept out of the pool. It is let go when it
//! broke or reached a server that no longer takes writes (`discard`), or when the pool was
//! swept after it was opened (`postgres::sweep`, after a failover; `postgres::get` never
//! hands out a pooled connection opened before a sweep either): the next read on its
//! slot takes a fresh one, which finds the new primary, and the old one is closed, never
//! given back, once the reads still using it are done (`Detached`).

use super::error::{Error, Result};
use super::postgres;
use super::sqlite::{Output, Want};
use super::value::Value;
use deadpool_postgres::{Object, Pool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct Readers {
    /// The shared connections, each opened at its first read.
    slots: Box<[Mutex<Option<Arc<Detached>>>]>,
    next: AtomicUsize,
}

impl Readers {
    /// One shared connection per two cores (one on the 2-core machine measured above): a
    /// backend answers a point read with about 25 µs of CPU, so one connection carries
    /// about 40,000 reads/s before its backend is the limit.
    pub fn new() -> Readers {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let shared = (cores / 2).clamp(1, 8);
        Readers { slots: (0..shared).map(|_| Mutex::new(None)).collect(), next: AtomicUsize::new(0) }
    }

    /// Runs a quick read on a shared connection; one that fails for a reason that makes
    /// its connection unusable lets the connection go (`discard`).
    pub async fn run(&self, pool: &Pool, sql: &str, args: &[Value], persistent: bool, want: Want) -> Result<Output> {
        let client = self.get(pool).await?;
        let result = postgres::run(&client, sql, args, persistent, want).await;
        if result.as_ref().is_err_and(Error::retryable) {
            self.discard(pool, &client);
        }
        result
    }

    /// A connection for one read, shared with other reads.
    async fn get(&self, pool: &Pool) -> Result<Arc<Detached>> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        if let Some(shared) = slot.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if !shared.is_closed() && !postgres::opened_before_last_sweep(shared) {
                return Ok(shared.clone());
            }
        }
        let client = Arc::new(Detached(Some(postgres::get(pool).await?)));
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(client.clone());
        Ok(client)
    }

    /// Lets go of a connection that broke, and sweeps the pool (`postgres::discard` says
    /// why); it is closed once the reads still using it are done.
    fn discard(&self, pool: &Pool, client: &Arc<Detached>) {
        for slot in self.slots.iter() {
            let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            if slot.as_ref().is_some_and(|shared| Arc::ptr_eq(shared, client)) {
                *slot = None;
            }
        }
        postgres::sweep(pool);
    }
}

/// A pool connection that is closed when dropped instead of going back to the pool: a
/// shared connection is let go because it broke, or may lead to a former primary.
pub struct Detached(Option<Object>);

impl std::ops::Deref for Detached {
    type Target = Object;
    fn deref(&self) -> &Object {
        self.0.as_ref().expect("taken only on drop")
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(Object::take(client));
        }
    }
}
