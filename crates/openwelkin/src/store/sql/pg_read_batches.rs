//! Reads by key that arrive together are answered by one PostgreSQL statement
//! (`Query::batched`): the callers' arguments go as one JSON array, the batched form of the
//! statement joins each element to its rows (`CROSS JOIN LATERAL`, so each is still an
//! index lookup), and every row carries `batch_row`, the position of the caller it belongs
//! to. Most of a point read's cost in the backend is per statement (bind, executor start,
//! the answer's framing), not per row: pgbench on the patient read gave 17k statements/s
//! alone and 11k statements/s of four keys each (44k rows/s).
//!
//! The queue works as the group commit's (`pg_groups.rs`): a read is queued; while fewer
//! than `RUNNERS` tasks are reading, one is started, which takes everything queued, sends it
//! as one statement on a shared connection (`pg_readers.rs`), hands out the rows, and goes
//! on until the queue is empty. A read alone on a quiet server is sent at once.
//!
//! A batch that fails (a broken connection, an argument PostgreSQL refuses, such as a NUL)
//! is read again one caller at a time, each with its own statement, so that every caller
//! gets the answer its own read gives. Rows go to the caller whose position they carry, and
//! the batched statement still filters by every argument (the instance among them), so a
//! caller never sees another's rows.

use super::error::{Error, Result};
use super::pg_readers::Readers;
use super::sqlite::{Output, Want};
use super::value::Value;
use crate::telemetry::names::{DB_BATCHED_READS, DB_READ_BATCHES};
use deadpool_postgres::Pool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Batches in flight at most, each on a shared connection. Two keep the connection busy
/// while the other batch's rows are handed out and the next is gathered.
const RUNNERS: usize = 2;

/// Reads per batch at most.
const MAX_BATCH: usize = 64;

/// The column of a batched statement that names the caller of each row (from 1).
const BATCH_ROW: &str = "batch_row";

pub struct ReadBatches {
    /// The shared connections the batches are sent on.
    readers: Arc<Readers>,
    /// One queue per batched statement, by the address of its text (a `&'static str`).
    queues: Mutex<HashMap<usize, Queue>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    running: usize,
}

/// A caller's read, and what it needs to be read alone.
struct Waiting {
    sql: String,
    args: Vec<Value>,
    persistent: bool,
    want: Want,
    done: oneshot::Sender<Result<Output>>,
}

/// What a runner needs, shared with the task it runs in.
#[derive(Clone)]
struct Runner {
    batches: Arc<ReadBatches>,
    pool: Pool,
    batched: &'static str,
}

impl ReadBatches {
    pub fn new(readers: Arc<Readers>) -> ReadBatches {
        ReadBatches { readers, queues: Mutex::default() }
    }

    /// Reads `sql` with `args` (all text), together with the same read of other callers:
    /// `batched` is the statement over `$1`, a JSON array of each caller's arguments.
    pub async fn run(
        self: &Arc<Self>,
        pool: &Pool,
        batched: &'static str,
        sql: &str,
        args: &[Value],
        persistent: bool,
        want: Want,
    ) -> Result<Output> {
        let (done, answer) = oneshot::channel();
        let waiting = Waiting { sql: sql.to_string(), args: args.to_vec(), persistent, want, done };
        let start = {
            let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            let queue = queues.entry(batched.as_ptr() as usize).or_default();
            queue.waiting.push(waiting);
            let start = queue.running < RUNNERS;
            queue.running += usize::from(start);
            start
        };
        if start {
            let runner = Runner { batches: self.clone(), pool: pool.clone(), batched };
            tokio::spawn(runner.run());
        }
        answer.await.unwrap_or_else(|_| Err(Error::Connect("the read batch ended before this read".into())))
    }
}

impl Runner {
    /// Reads what is queued, batch after batch, until nothing is.
    async fn run(self) {
        let mut running = Running(Some(self.clone()));
        loop {
            let batch: Vec<Waiting> = {
                let mut queues = self.batches.queues.lock().unwrap_or_else(|e| e.into_inner());
                let queue = queues.entry(self.batched.as_ptr() as usize).or_default();
                if queue.waiting.is_empty() {
                    queue.running -= 1;
                    running.0 = None;
                    return;
                }
                let n = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..n).collect()
            };
            self.read(batch).await;
        }
    }

    async fn read(&self, batch: Vec<Waiting>) {
        if let [_] = batch.as_slice() {
            let Waiting { sql, args, persistent, want, done } = batch.into_iter().next().expect("one read");
            let _ = done.send(self.batches.readers.run(&self.pool, &sql, &args, persistent, want).await);
            return;
        }
        let answered = match keys_of(&batch) {
            Some(keys) => {
                self.batches.readers.run(&self.pool, self.batched, &[Value::Text(keys)], true, Want::All).await.ok()
            }
            None => None,
        };
        match answered {
            Some(output) => {
                metrics::counter!(DB_READ_BATCHES, "outcome" => "answered").increment(1);
                metrics::counter!(DB_BATCHED_READS).increment(batch.len() as u64);
                hand_out(batch, output.rows)
            }
            None => {
                metrics::counter!(DB_READ_BATCHES, "outcome" => "read_alone").increment(1);
                self.each_alone(batch).await
            }
        }
    }

    /// Each read with its own statement, for its own answer.
    async fn each_alone(&self, batch: Vec<Waiting>) {
        let reads = batch.into_iter().map(|w| async move {
            let result = self.batches.readers.run(&self.pool, &w.sql, &w.args, w.persistent, w.want).await;
            let _ = w.done.send(result);
        });
        futures_util::future::join_all(reads).await;
    }
}

/// The batch's arguments as a JSON array of arrays of strings; `None` when one is not text.
fn keys_of(batch: &[Waiting]) -> Option<String> {
    let keys = batch
        .iter()
        .map(|w| w.args.iter().map(|a| if let Value::Text(s) = a { Some(s.as_str()) } else { None }).collect())
        .collect::<Option<Vec<Vec<&str>>>>()?;
    serde_json::to_string(&keys).ok()
}

/// Gives each caller the rows that carry its position.
fn hand_out(batch: Vec<Waiting>, rows: Vec<super::row::Row>) {
    let mut each: Vec<Vec<super::row::Row>> = batch.iter().map(|_| Vec::new()).collect();
    for row in rows {
        let at = row.get::<i64, _>(BATCH_ROW) as usize;
        if let Some(rows) = at.checked_sub(1).and_then(|i| each.get_mut(i)) {
            rows.push(row);
        }
    }
    for (w, mut rows) in batch.into_iter().zip(each) {
        if w.want == Want::First {
            rows.truncate(1);
        }
        let affected = rows.len() as u64;
        let _ = w.done.send(Ok(Output { rows, affected }));
    }
}

/// Counts a runner out if it ends without doing so itself (a panic): the next read then
/// starts another.
struct Running(Option<Runner>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(runner) = self.0.take() {
            let mut queues = runner.batches.queues.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(queue) = queues.get_mut(&(runner.batched.as_ptr() as usize)) {
                queue.running -= 1;
            }
        }
    }
}
