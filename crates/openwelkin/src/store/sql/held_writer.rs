//! The writer thread: runs the transactions whose writes were all held back until their
//! commit (`Tx::defer`: a create's row, its audit row, its outbox row), in batches.
//!
//! Each such transaction is queued here whole, and one thread takes everything queued at
//! once, runs it on the writer connection and commits it as one group (`SqliteEngine::
//! run_held`). Without it each transaction took the writer lock in turn from its own task:
//! the lock was handed from task to task, and each hand-over waited for the next task to be
//! scheduled on a runtime thread busy with HTTP work, while the writer sat idle; the groups
//! stayed small (about five creates), and a group's cost (its `COMMIT`, the log pages it
//! writes, its flush) is much the same whatever its size.

use super::error::{Error, Result};
use super::query::Deferred;
use super::sqlite::{SqliteEngine, MAX_GROUP};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Instant;
use tokio::sync::oneshot;

/// A transaction waiting for the writer thread.
pub struct Held {
    /// Shared with the caller, who frees them (`SqliteEngine::commit_held` says why).
    pub statements: Arc<Vec<Deferred>>,
    /// When it was queued: it waits for the writer from then (a transaction still waiting
    /// after the engine's acquire timeout is refused unrun, as one waiting for the writer
    /// lock gives up).
    pub queued: Instant,
    pub done: oneshot::Sender<Result<()>>,
}

pub struct HeldQueue {
    queued: Mutex<Vec<Held>>,
    ready: Condvar,
    stop: AtomicBool,
}

impl HeldQueue {
    pub fn new() -> Arc<HeldQueue> {
        Arc::new(HeldQueue { queued: Mutex::new(Vec::new()), ready: Condvar::new(), stop: AtomicBool::new(false) })
    }

    /// Starts the writer thread for `engine`; it ends with `stop` or with the engine.
    pub fn start(self: &Arc<Self>, engine: Weak<SqliteEngine>) -> std::io::Result<()> {
        let queue = self.clone();
        std::thread::Builder::new().name("sqlite-writer".into()).spawn(move || queue.run(&engine))?;
        Ok(())
    }

    pub fn push(&self, held: Held) {
        self.queued.lock().unwrap_or_else(|e| e.into_inner()).push(held);
        self.ready.notify_one();
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        self.ready.notify_all();
    }

    /// Transactions queued and not yet taken by the thread.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queued.lock().unwrap().len()
    }

    fn run(&self, engine: &Weak<SqliteEngine>) {
        loop {
            let batch = {
                let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
                while queued.is_empty() && !self.stop.load(Ordering::Acquire) {
                    queued = self.ready.wait(queued).unwrap_or_else(|e| e.into_inner());
                }
                // A group of at most MAX_GROUP: a steady stream still commits regularly.
                let n = queued.len().min(MAX_GROUP);
                queued.drain(..n).collect::<Vec<_>>()
            };
            // Held only while the batch runs: the engine can go away between batches.
            match engine.upgrade() {
                Some(engine) if !batch.is_empty() => engine.run_held(batch),
                Some(_) => return,
                None => {
                    for held in batch {
                        let _ = held.done.send(Err(Error::Connect("the database was closed".into())));
                    }
                    return;
                }
            }
        }
    }
}
