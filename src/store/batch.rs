//! Group commit: writes that need not be a transaction of their own (a 304's feed state) are
//! queued, and one writer task applies everything queued within [`TICK`] in one transaction.
//!
//! Owns [`Batcher`], the queue's sending half a store holds, and the writer loop behind it,
//! and [`NotModified`], the row both stores batch. What crosses it: a row (`T`) in, that
//! row's own `Result<R>` out. The SQLite store runs two writers: the 304s' feed states
//! (`sqlite::polls`) and the polls' commits (`sqlite::feeds`: baselines and new items); the
//! PostgreSQL store batches the 304s (`postgres::polls`), where each transaction is a flush
//! of the server's write-ahead log. A caller's
//! future resolves only once its row is committed (or has failed), so a poll is not reported
//! done, and its feed not polled again, before its state is stored; SIGTERM waits for polls
//! in flight, and with them for their rows. After a `kill -9`, rows still queued (at most one
//! tick's worth) are lost: those feeds keep their previous `next_poll_at` and are polled
//! earlier after the restart, nothing else.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::store::{Millis, NO_ANSWER_LIMIT, StoreError};

/// How long the first queued row waits for others before its batch is written. A 304's
/// feed is not due again for at least `min_poll_interval` (1 s or more), so the wait
/// delays nothing but the poll's own completion.
pub const TICK: Duration = Duration::from_millis(200);
/// Rows per transaction at most; a full batch is written at once.
pub const MAX_ROWS: usize = 1024;
/// How long one batch may take before it is given up ([`NO_ANSWER_LIMIT`]): without a bound,
/// a database that stopped answering held the writer, and every poll that queued a row
/// behind it, until every poll slot was taken and polling stopped while the process ran on.
const WRITE_LIMIT: Duration = NO_ANSWER_LIMIT;

/// How long the first queued poll commit waits for others. Shorter than [`TICK`]: a commit
/// may carry alerts, and its wait is on their way out; at a first round's 1,000+ baselines
/// a second it still makes batches of dozens.
pub const COMMIT_TICK: Duration = Duration::from_millis(20);
/// Poll commits per transaction at most: each is a handful of statements, and the one
/// connection is held for the whole batch (readers such as `known_items` wait behind it).
pub const COMMIT_MAX_ROWS: usize = 256;

/// One 304 to record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotModified {
    pub feed: String,
    pub config_url: String,
    pub now: Millis,
    pub next_poll_at: Millis,
}

/// Can these 304s be written as one statement? Not when two name one feed: that cannot
/// come from the scheduler (one poll per feed in flight), and one by one they keep their order.
pub fn one_per_feed(rows: &[NotModified]) -> bool {
    let feeds: std::collections::HashSet<&str> = rows.iter().map(|r| r.feed.as_str()).collect();
    feeds.len() == rows.len()
}

/// One queued row and where its result goes.
struct Queued<T, R> {
    row: T,
    done: oneshot::Sender<Result<R, StoreError>>,
}

/// The sending half of a writer. Cheap to clone; the writer stops (after writing what is
/// queued) when the last clone is dropped.
pub struct Batcher<T, R = ()> {
    tx: mpsc::Sender<Queued<T, R>>,
}

impl<T, R> Clone for Batcher<T, R> {
    fn clone(&self) -> Self {
        Batcher {
            tx: self.tx.clone(),
        }
    }
}

impl<T, R> std::fmt::Debug for Batcher<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Start a writer on the current runtime. `write` applies one batch and returns one
    /// result per row, in order.
    pub fn spawn<W, Fut>(tick: Duration, max_rows: usize, write: W) -> Batcher<T, R>
    where
        W: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<Result<R, StoreError>>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(max_rows.max(1) * 2);
        tokio::spawn(writer(rx, tick, max_rows.max(1), write));
        Batcher { tx }
    }

    /// Queue `row` and wait until it is written.
    pub async fn write(&self, row: T) -> Result<R, StoreError> {
        let (done, result) = oneshot::channel();
        self.tx
            .send(Queued { row, done })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        result.await.map_err(|_| StoreError::WriterGone)?
    }
}

async fn writer<T, R, W, Fut>(
    mut rx: mpsc::Receiver<Queued<T, R>>,
    tick: Duration,
    max: usize,
    mut write: W,
) where
    W: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Vec<Result<R, StoreError>>>,
{
    let mut open = true;
    while open {
        let Some(first) = rx.recv().await else {
            return;
        };
        let deadline = Instant::now() + tick;
        let mut batch = vec![first];
        while batch.len() < max {
            tokio::select! {
                q = rx.recv() => match q {
                    Some(q) => batch.push(q),
                    // Every sender is gone: write what is queued, then stop.
                    None => { open = false; break; }
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let (rows, waiters): (Vec<T>, Vec<_>) = batch.into_iter().map(|q| (q.row, q.done)).unzip();
        // A write that panics or never ends fails its batch only: the writer goes on with the
        // next one (before, a panic ended it, and every later write failed until a restart).
        let written =
            tokio::time::timeout(WRITE_LIMIT, AssertUnwindSafe(write(rows)).catch_unwind());
        let (mut results, failure): (_, fn() -> StoreError) = match written.await {
            Ok(Ok(results)) => (results.into_iter(), || StoreError::WriterGone),
            Ok(Err(_)) => {
                tracing::error!(
                    rows = waiters.len(),
                    "writing a batch of feed states panicked"
                );
                (Vec::new().into_iter(), || StoreError::WritePanicked)
            }
            Err(_) => {
                tracing::error!(
                    rows = waiters.len(),
                    limit_s = WRITE_LIMIT.as_secs(),
                    "a batch of feed states got no answer from the database in time; given up"
                );
                (Vec::new().into_iter(), || StoreError::NoAnswer {
                    secs: WRITE_LIMIT.as_secs(),
                })
            }
        };
        for w in waiters {
            // A missing result is a bug in `write` (or the write failed as above); the caller
            // hears of it rather than hangs.
            let r = results.next().unwrap_or_else(|| Err(failure()));
            // The caller may have stopped waiting (its task was cancelled): the row is written.
            let _ = w.send(r);
        }
    }
}

#[cfg(test)]
mod tests;
