//! Answers committed groups once the log holding them is on disk, on a thread of its own.
//!
//! The writer hands each committed group over (`answer`) and goes on with the next one; it
//! never waits for the disk itself. The flusher takes every group handed over since its
//! last flush and makes them durable with one `fdatasync` (`WalSync::wait_durable` with the
//! newest ticket covers every commit before it), then answers them all. A thread rather
//! than a blocking task per group: one flush covers many groups under load, and a group
//! costs a channel send, not a thread woken to wait for a lock and then for the disk.

use super::error::{Error, Result};
use super::wal_sync::WalSync;
use std::sync::mpsc;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A group whose `COMMIT` has run: its ticket (or why the commit failed, as
/// `Error::Commit`) and its members.
pub struct Committed {
    pub ticket: Result<u64>,
    pub members: Vec<oneshot::Sender<Result<()>>>,
}

pub struct Flusher {
    groups: mpsc::Sender<Committed>,
}

impl Flusher {
    /// Starts the thread; it ends once the `Flusher` is dropped and every group handed over
    /// has been answered.
    pub fn start(wal: Arc<WalSync>) -> std::io::Result<Flusher> {
        let (groups, receiver) = mpsc::channel();
        std::thread::Builder::new().name("sqlite-flush".into()).spawn(move || run(&wal, &receiver))?;
        Ok(Flusher { groups })
    }

    /// Answers the group's members once its commit is on disk (or with why it is not).
    pub fn answer(&self, group: Committed) {
        if let Err(mpsc::SendError(group)) = self.groups.send(group) {
            // The thread is gone (it never panics by design): the commit may be in the log
            // but is not known to be on disk, so nobody is told it is.
            let stopped = Error::Commit(Arc::new(Error::Connect("the log flusher stopped".into())));
            answer_all(group, &Err(stopped));
        }
    }
}

fn run(wal: &WalSync, receiver: &mpsc::Receiver<Committed>) {
    while let Ok(first) = receiver.recv() {
        let mut groups = vec![first];
        groups.extend(receiver.try_iter());
        let newest = groups.iter().filter_map(|g| g.ticket.as_ref().ok().copied()).max();
        let durable = match newest {
            Some(ticket) => wal.wait_durable(ticket).map_err(|e| Error::Commit(Arc::new(Error::from(e)))),
            None => Ok(()),
        };
        for group in groups {
            answer_all(group, &durable);
        }
    }
}

/// A member's answer: the group's own failure first, else the flush's outcome; either is a
/// commit failure (`Error::Commit`): the members' writes are not known to be durable.
fn answer_all(group: Committed, durable: &Result<()>) {
    let outcome = match (&group.ticket, durable) {
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        (Ok(_), Ok(())) => Ok(()),
    };
    for member in group.members {
        let _ = member.send(match outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(super::sqlite::shared(e)),
        });
    }
}
