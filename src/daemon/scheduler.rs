//! The scheduler: polls each feed when it is due, within global and per-host limits.
//!
//! Owns [`Scheduler`]. It keeps a min-heap of (next poll time, feed), starts a poll task for
//! each due feed (one in flight per feed), and takes the new configuration from a watch channel
//! on reload: added feeds are scheduled, removed ones dropped, the rest keep their times.
//! Times survive restarts through the store's `next_poll_at`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{FeedPlan, FeedSource, Plan};
use crate::daemon::refresh::{Refreshed, refresh_feed};
use crate::feed::fetch::Fetcher;
use crate::store::{FeedState, Millis, Store, now_millis};

/// The scheduler loop wakes at least this often, so a stalled loop is visible to the watchdog.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// A finished poll, reported back to the scheduler loop.
struct Done {
    feed: String,
    state: Option<FeedState>,
}

/// Shared by every poll task.
pub struct PollContext<S> {
    pub store: Arc<S>,
    pub fetcher: Fetcher,
    /// Woken after a poll enqueued deliveries, so they go out without waiting for a tick.
    pub wake_dispatch: Arc<Notify>,
    /// Bumped after every completed poll; the watchdog reads it to know the loop is alive.
    pub progress: Arc<std::sync::atomic::AtomicU64>,
}

pub struct Scheduler<S> {
    ctx: Arc<PollContext<S>>,
    plan: watch::Receiver<Arc<Plan>>,
    global: Arc<Semaphore>,
    hosts: HashMap<String, Arc<Semaphore>>,
    states: HashMap<String, FeedState>,
    heap: BinaryHeap<Reverse<(Millis, String)>>,
    /// The authoritative next time per feed; heap entries that disagree are stale.
    due: HashMap<String, Millis>,
    in_flight: HashSet<String>,
    /// Feed name → position in the current plan, so a due feed is found without a scan.
    index: HashMap<String, usize>,
}

fn host_key(source: &FeedSource) -> String {
    match source {
        FeedSource::Http(u) => u.host_str().unwrap_or("").to_ascii_lowercase(),
        FeedSource::File(_) => String::new(),
    }
}

impl<S: Store> Scheduler<S> {
    pub async fn new(
        ctx: Arc<PollContext<S>>,
        plan: watch::Receiver<Arc<Plan>>,
    ) -> Result<Self, crate::store::StoreError> {
        let states = ctx
            .store
            .feed_states()
            .await?
            .into_iter()
            .map(|s| (s.feed.clone(), s))
            .collect();
        let max = plan.borrow().daemon.max_concurrent_fetches;
        let mut s = Scheduler {
            ctx,
            plan,
            global: Arc::new(Semaphore::new(max)),
            hosts: HashMap::new(),
            states,
            heap: BinaryHeap::new(),
            due: HashMap::new(),
            in_flight: HashSet::new(),
            index: HashMap::new(),
        };
        s.sync_plan(true);
        Ok(s)
    }

    /// Schedule feeds the plan has and we do not; forget feeds it no longer has.
    fn sync_plan(&mut self, startup: bool) {
        let plan = self.plan.borrow().clone();
        let now = now_millis();
        self.index = plan
            .feeds
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        let index = &self.index;
        self.due.retain(|k, _| index.contains_key(k));
        // Feeds without a stored schedule start spread out: over 10 s for a few, over up to a
        // whole interval for thousands, so a big new config does not poll in one burst.
        let unscheduled = plan
            .feeds
            .iter()
            .filter(|f| !self.due.contains_key(&f.name))
            .count() as u64;
        let spread_all = Duration::from_secs(10).max(Duration::from_millis(6 * unscheduled));
        for f in &plan.feeds {
            if self.due.contains_key(&f.name) {
                continue;
            }
            let stored = self
                .states
                .get(&f.name)
                .filter(|s| s.config_url == f.source.to_string())
                .and_then(|s| s.next_poll_at);
            let at = match stored {
                // A restart keeps the persisted schedule (already jittered).
                Some(at) if startup => at,
                _ => {
                    let spread = crate::daemon::refresh::interval(&plan, f)
                        .min(spread_all)
                        .as_millis() as u64;
                    now + rand::rng().random_range(0..=spread) as i64
                }
            };
            self.schedule(&f.name, at);
        }
    }

    fn schedule(&mut self, feed: &str, at: Millis) {
        self.due.insert(feed.to_string(), at);
        self.heap.push(Reverse((at, feed.to_string())));
    }

    fn host_semaphore(&mut self, source: &FeedSource, per_host: usize) -> Arc<Semaphore> {
        self.hosts
            .entry(host_key(source))
            .or_insert_with(|| Arc::new(Semaphore::new(per_host)))
            .clone()
    }

    fn start(&mut self, feed: FeedPlan, done: mpsc::Sender<Done>, tracker: &TaskTracker) {
        let plan = self.plan.borrow().clone();
        let host = self.host_semaphore(&feed.source, plan.daemon.per_host_concurrency);
        let global = self.global.clone();
        let ctx = self.ctx.clone();
        let state = self.states.get(&feed.name).cloned();
        self.in_flight.insert(feed.name.clone());
        tracker.spawn(async move {
            // Permits are taken inside the task, so a busy host delays only its own feeds.
            let _g = global.acquire_owned().await;
            let _h = host.acquire_owned().await;
            let started = std::time::Instant::now();
            // The refresh runs in its own task: if it panics (a parser bug on a hostile
            // document), the feed is still reported done and rescheduled, never stuck.
            let inner = {
                let (ctx, plan, feed) = (ctx.clone(), plan.clone(), feed.clone());
                tokio::spawn(async move {
                    refresh_feed(
                        ctx.store.as_ref(),
                        &ctx.fetcher,
                        &plan,
                        &feed,
                        state.as_ref(),
                    )
                    .await
                })
            };
            let result = match inner.await {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!(feed = %feed.name, error = %e, "poll task failed; rescheduling the feed");
                    None
                }
            };
            let took = started.elapsed();
            let state = match result {
                None => None,
                Some(Ok((outcome, state))) => {
                    log_outcome(&feed.name, &outcome, took);
                    record_metrics(&outcome, took);
                    if matches!(outcome, Refreshed::Ok { enqueued, .. } if enqueued > 0) {
                        ctx.wake_dispatch.notify_waiters();
                    }
                    Some(state)
                }
                Some(Err(e)) => {
                    tracing::error!(feed = %feed.name, error = %e, "cannot record poll result");
                    None
                }
            };
            ctx.progress
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = done
                .send(Done {
                    feed: feed.name.clone(),
                    state,
                })
                .await;
        });
    }

    /// Poll every feed once, now, and wait for all of them (`run --once`).
    pub async fn run_once(mut self, tracker: &TaskTracker) {
        let plan = self.plan.borrow().clone();
        let (tx, mut rx) = mpsc::channel(64);
        for f in plan.feeds.iter().cloned() {
            self.start(f, tx.clone(), tracker);
        }
        drop(tx);
        while rx.recv().await.is_some() {}
    }

    /// The scheduler loop, until `token` is cancelled.
    pub async fn run(mut self, token: CancellationToken, tracker: TaskTracker) {
        let (tx, mut rx) = mpsc::channel::<Done>(256);
        loop {
            // Heartbeat for the watchdog: the loop turns at least every HEARTBEAT.
            self.ctx
                .progress
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let now = now_millis();
            // Start everything due.
            while let Some(Reverse((at, _))) = self.heap.peek() {
                if *at > now {
                    break;
                }
                let Some(Reverse((at, name))) = self.heap.pop() else {
                    break;
                };
                if self.due.get(&name) != Some(&at) || self.in_flight.contains(&name) {
                    continue; // stale entry, or still polling: its completion reschedules it
                }
                let plan = self.plan.borrow().clone();
                // The name check covers a reload that landed before sync_plan re-indexed.
                let found = self
                    .index
                    .get(&name)
                    .and_then(|&i| plan.feeds.get(i))
                    .filter(|f| f.name == name);
                match found {
                    Some(f) => self.start(f.clone(), tx.clone(), &tracker),
                    // A reload moved or removed it: forget the entry, so the sync_plan that
                    // follows the reload schedules it again if it is still configured.
                    None => {
                        self.due.remove(&name);
                    }
                }
            }
            let cap = HEARTBEAT.as_millis() as i64;
            let sleep_ms = self
                .heap
                .peek()
                .map_or(cap, |Reverse((at, _))| (*at - now).clamp(0, cap));
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(sleep_ms as u64)) => {}
                Some(done) = rx.recv() => {
                    self.in_flight.remove(&done.feed);
                    let still_configured = self.due.contains_key(&done.feed);
                    if let Some(state) = done.state {
                        let at = state.next_poll_at.unwrap_or_else(|| now_millis() + 60_000);
                        self.states.insert(done.feed.clone(), state);
                        if still_configured {
                            self.schedule(&done.feed, at);
                        }
                    } else if still_configured {
                        // The store failed; try again in a minute rather than never.
                        self.schedule(&done.feed, now_millis() + 60_000);
                    }
                }
                changed = self.plan.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    self.sync_plan(false);
                }
            }
        }
    }
}

fn record_metrics(outcome: &Refreshed, took: Duration) {
    use crate::ops::metrics::{record_items, record_poll};
    match outcome {
        Refreshed::NotModified => record_poll("not_modified", took),
        Refreshed::Ok {
            items,
            new_items,
            suppressed,
            ..
        } => {
            record_poll("ok", took);
            record_items(*items, *new_items, *suppressed);
        }
        Refreshed::Failed { .. } => record_poll("error", took),
    }
}

fn log_outcome(feed: &str, outcome: &Refreshed, took: Duration) {
    let ms = took.as_millis() as u64;
    match outcome {
        Refreshed::NotModified => tracing::debug!(feed, ms, "not modified"),
        Refreshed::Ok {
            items,
            new_items,
            enqueued,
            suppressed,
            baseline,
        } => tracing::info!(
            feed, ms, items, new_items, enqueued, suppressed, baseline, "polled"
        ),
        Refreshed::Failed { error } => tracing::warn!(feed, ms, error = %error, "poll failed"),
    }
}
