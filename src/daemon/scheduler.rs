//! The scheduler: polls each feed when it is due, within global and per-host limits.
//!
//! Owns [`Scheduler`]. It keeps a min-heap of (next poll time, feed), hands each due feed to
//! the admission (`admit.rs`), which starts its poll task as soon as its host and the daemon
//! have room (one in flight per feed), and takes the new configuration from a watch channel on
//! reload: added feeds are scheduled, removed ones dropped, the rest keep their times. It keeps
//! no copy of the feeds' states: each poll reads its feed's from the store.
//!
//! On a shared database every instance schedules every feed and claims it from the store
//! before polling; a feed's first-choice instance asks when it is due, the others a moment
//! later ([`crate::store::Store::claim_delay`]), so they do not race for it.
//!
//! Times in memory are on the monotonic clock: a wall clock stepped back by an hour must not
//! stop polling for an hour. Times survive restarts through the store's wall-clock
//! `next_poll_at`, clamped on load to at most max(interval, backoff_cap) ahead, so a restored
//! database or a clock that ran ahead cannot park a feed either.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{FeedPlan, FeedSource};
use crate::feed::fetch::Fetcher;
use crate::plan::Plan;
use crate::store::{FeedState, Store};

mod admit;
mod claim;
mod hosts;
mod poll;
mod reload;
mod report;
use admit::Admission;
use hosts::host_key;
use poll::Poll;

/// The scheduler loop wakes at least this often, so a stalled loop is visible to the watchdog.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// Polls due within this much of a wake-up start with it, a little early (never late), so
/// thousands of feeds make a few wake-ups per second rather than one per poll: at 1,000+
/// polls/s, waking the runtime for each poll cost more than the polls themselves.
const START_AHEAD: Duration = Duration::from_millis(50);

/// A finished poll, reported back to the scheduler loop.
struct Done {
    feed: String,
    /// The host key it was started under (its place in the [`Admission`] counts).
    host: String,
    /// When it was polled: the configured source it was polled under, and the host its feed
    /// lives on (a permanent redirect's, else the source's), for the admission's next turn.
    lives_on: Option<(FeedSource, String)>,
    /// The wait before the next poll; `None` when nothing could be stored (or read).
    next_in: Option<Duration>,
    /// The feed could not be polled (fetch, parse, store, or a crash); a feed another
    /// instance polls is not a failure here.
    failed: bool,
}

/// Shared by every poll task.
pub struct PollContext<S> {
    pub store: Arc<S>,
    pub fetcher: Fetcher,
    /// Polls and article pages share these limits.
    pub limits: Arc<crate::feed::limits::FetchLimits>,
    /// Article pages for feeds with `full_text` (pacing and the page cache live here).
    pub pages: crate::feed::page::Pages,
    /// Woken after a poll enqueued deliveries, so they go out without waiting for a tick.
    pub wake_dispatch: Arc<Notify>,
    /// Told when a poll that started under an older configuration has committed: rows it
    /// wrote for a sink the reload removed must be swept (see `daemon::sweep_loop`).
    pub sweep: Arc<Notify>,
    /// Bumped after every completed poll and every turn of the loop; the watchdog reads it.
    pub beat: crate::ops::liveness::Beat,
    /// Which matches open a story and which update one.
    pub stories: crate::daemon::stories::Stories,
    /// The semantic watches' model and its threads (idle without semantic watches).
    pub semantic: Arc<crate::semantic::runtime::Semantic>,
}

pub struct Scheduler<S> {
    ctx: Arc<PollContext<S>>,
    plan: watch::Receiver<Arc<Plan>>,
    heap: BinaryHeap<Reverse<(Instant, String)>>,
    /// The authoritative next time per feed; heap entries that disagree are stale.
    due: HashMap<String, Instant>,
    /// Feeds due and not finished: queued in `admission` or polling.
    in_flight: HashSet<String>,
    /// Which due feeds get a task now (see `admit.rs`).
    admission: Admission,
    /// Feed name → position in the current plan, so a due feed is found without a scan.
    index: HashMap<String, usize>,
    /// The plan the schedule was last synced with: a reload compares each feed with it.
    synced: Option<Arc<Plan>>,
    /// `run --once`: a round with no next one, so a feed busy for a moment is asked for again.
    once: bool,
    /// Feeds a permanent redirect moved to another host than their configured URL's, by
    /// name: the admission counts them with that host's feeds, whose per-host permits their
    /// polls take. Read from the stored states at start, then from each poll's [`Done`]; a
    /// hint for the admission only (a poll reads where to fetch from its state in the store).
    moved_hosts: HashMap<String, String>,
    /// Feeds whose last poll failed, by name (from the stored states at start, then from
    /// each poll's [`Done`]): their schedule is a backoff or a server's `Retry-After`, which a
    /// reload that changes their interval keeps.
    failing: HashSet<String>,
    /// Feeds a reload gave another address or interval while they were being polled: their
    /// poll works out its next time for the old ones, so [`Self::finished`] schedules them
    /// anew.
    stale_times: HashSet<String>,
    /// Feeds whose poll finished after a reload removed them: their lease is given up (see
    /// [`Store::leave_feed`]) by the loop, which has the tracker to run it on.
    gone: Vec<String>,
}

impl<S: Store> Scheduler<S> {
    pub async fn new(
        ctx: Arc<PollContext<S>>,
        plan: watch::Receiver<Arc<Plan>>,
    ) -> Result<Self, crate::store::StoreError> {
        // The stored states are read once, to restore the times and the moves; each poll
        // reads its feed's state from the store (the one copy of it), so none is kept here.
        let stored: HashMap<String, FeedState> = ctx
            .store
            .feed_states()
            .await?
            .into_iter()
            .map(|s| (s.feed.clone(), s))
            .collect();
        let (host_cap, total_cap) = ctx.limits.task_caps();
        let mut s = Scheduler {
            ctx,
            plan,
            heap: BinaryHeap::new(),
            due: HashMap::new(),
            in_flight: HashSet::new(),
            admission: Admission::new(host_cap, total_cap),
            index: HashMap::new(),
            synced: None,
            once: false,
            moved_hosts: HashMap::new(),
            stale_times: HashSet::new(),
            gone: Vec::new(),
            failing: stored
                .values()
                .filter(|st| st.failures > 0)
                .map(|st| st.feed.clone())
                .collect(),
        };
        s.sync_plan(Some(&stored));
        Ok(s)
    }

    fn schedule(&mut self, feed: &str, at: Instant) {
        // On a shared database the instances that are not the feed's first choice ask later.
        let at = at + self.ctx.store.claim_delay(feed);
        self.due.insert(feed.to_string(), at);
        self.heap.push(Reverse((at, feed.to_string())));
    }

    /// Start the poll of `feed`, which the admission counted under `host` (tests).
    #[cfg(test)]
    fn spawn(
        &mut self,
        feed: FeedPlan,
        host: String,
        done: mpsc::Sender<Done>,
        tracker: &TaskTracker,
    ) {
        self.in_flight.insert(feed.name.clone());
        self.start_batch(vec![(feed, host)], done, tracker);
    }

    /// Start the polls of `batch` (feeds marked in flight, with the host the admission counted
    /// them under): one task claims them, then starts the polls of those granted
    /// ([`Start::polls`]). In `run --once` it asks again for those busy for a moment.
    fn start_batch(
        &mut self,
        batch: Vec<(FeedPlan, String)>,
        done: mpsc::Sender<Done>,
        tracker: &TaskTracker,
    ) {
        // The plan the batch's feeds were taken from (a reload not synced yet is newer): a
        // feed polled under it with the newer one's watches and sinks was a feed the reload
        // removed polled under a plan that took it for current, and no sweep followed.
        let plan = self.synced_plan();
        let ctx = self.ctx.clone();
        let current = self.plan.clone();
        let polls = tracker.clone();
        let patient = self.once;
        tracker.spawn(async move {
            let (mut batch, mut asked) = (batch, 0);
            loop {
                let patience = patient.then(|| claim::PATIENCE.saturating_sub(asked));
                let claimed = claim::claim(ctx.store.as_ref(), &plan, batch, &done, patience).await;
                let start = Start {
                    ctx: &ctx,
                    plan: &plan,
                    current: &current,
                    done: &done,
                };
                start.polls(claimed.granted, &polls).await;
                if claimed.again.is_empty() {
                    return;
                }
                tokio::time::sleep(claimed.wait).await;
                (batch, asked) = (claimed.again, asked + 1);
            }
        });
    }

    /// Queue every entry due by `now + START_AHEAD`, in due order, skipping stale entries and
    /// feeds still queued or polling (their completion reschedules them); returns their names.
    fn take_due(&mut self, now: Instant) -> Vec<String> {
        let horizon = now + START_AHEAD;
        let plan = self.synced_plan();
        let mut due = Vec::new();
        while let Some(Reverse((at, _))) = self.heap.peek() {
            if *at > horizon {
                break;
            }
            let Some(Reverse((at, name))) = self.heap.pop() else {
                break;
            };
            if self.due.get(&name) != Some(&at) || self.in_flight.contains(&name) {
                continue;
            }
            // The name check covers a reload that landed before sync_plan re-indexed.
            let found = self
                .index
                .get(&name)
                .and_then(|&i| plan.feeds.get(i))
                .filter(|f| f.name == name);
            match found {
                Some(_) => {
                    self.in_flight.insert(name.clone());
                    self.admission.push(name.clone());
                    due.push(name);
                }
                // A reload moved or removed it: forget the entry, so the sync_plan that
                // follows the reload schedules it again if it is still configured.
                None => {
                    self.due.remove(&name);
                }
            }
        }
        due
    }

    /// The plan the index was built from. A reload's plan is visible in `self.plan` before
    /// `sync_plan` runs (the loop may take a finished poll first), and looked up with the old
    /// index, a feed that moved in the list was taken for a removed one and dropped from the
    /// schedule for good.
    fn synced_plan(&self) -> Arc<Plan> {
        self.synced
            .clone()
            .unwrap_or_else(|| self.plan.borrow().clone())
    }

    /// Start the queued feeds the admission lets start now.
    fn admit(&mut self, done: &mpsc::Sender<Done>, tracker: &TaskTracker) {
        let plan = self.synced_plan();
        let feed_of = |index: &HashMap<String, usize>, name: &str| {
            index
                .get(name)
                .and_then(|&i| plan.feeds.get(i))
                .filter(|f| f.name == name)
        };
        let mut batch = Vec::new();
        loop {
            let index = &self.index;
            let moved = &self.moved_hosts;
            let next = self.admission.next(|name| {
                feed_of(index, name).map(|f| {
                    moved
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| host_key(&f.source))
                })
            });
            let Some((name, host)) = next else {
                break;
            };
            // A reload removed it while it waited: forget it, its schedule too (a reload that
            // brings it back schedules it again).
            let Some(host) = host else {
                self.in_flight.remove(&name);
                self.due.remove(&name);
                continue;
            };
            match feed_of(&self.index, &name) {
                Some(f) => batch.push((f.clone(), host)),
                None => {
                    self.in_flight.remove(&name);
                    self.due.remove(&name);
                    self.admission.done(&host);
                }
            }
        }
        if !batch.is_empty() {
            self.start_batch(batch, done.clone(), tracker);
        }
    }

    /// A poll finished: free its place and reschedule its feed if it is still configured.
    fn finished(&mut self, done: Done) {
        self.admission.done(&done.host);
        self.in_flight.remove(&done.feed);
        if done.failed {
            self.failing.insert(done.feed.clone());
        } else {
            self.failing.remove(&done.feed);
        }
        let Some(&i) = self.index.get(&done.feed) else {
            // A failed poll may have kept its lease for a retry that will not come.
            if done.failed {
                self.gone.push(done.feed);
            }
            return;
        };
        // Learnt only while the feed has the source it was polled under: a reload may have
        // given it another address meanwhile.
        let plan = self.synced_plan();
        let Some(feed) = plan.feeds.get(i) else {
            return;
        };
        let source = Some(&feed.source);
        let next_in = if self.stale_times.remove(&done.feed) {
            self.anew(&plan, feed, &done)
        } else {
            done.next_in
        };
        if let Some((polled, host)) = done.lives_on
            && let Some(source) = source.filter(|s| **s == polled)
        {
            if host == host_key(source) {
                self.moved_hosts.remove(&done.feed);
            } else {
                self.moved_hosts.insert(done.feed.clone(), host);
            }
        }
        match next_in {
            Some(next_in) => self.schedule(&done.feed, Instant::now() + next_in),
            // The store failed; try again in a minute rather than never.
            None => self.schedule(&done.feed, Instant::now() + Duration::from_secs(60)),
        }
    }

    /// Poll every feed once, now, and wait for all of them (`run --once`); the feeds whose
    /// poll failed, in the configuration's order.
    pub async fn run_once(mut self, tracker: &TaskTracker) -> Vec<String> {
        self.once = true;
        let plan = self.plan.borrow().clone();
        if plan.daemon.postgres.is_some() {
            // A claim counts this instance's leases with the others': with more tasks of a
            // host than its places, this instance's own polls answered the rest "busy", and
            // while those waited to ask again, the host's next feeds took each place freed.
            // As many tasks as places: a feed waits only for other instances.
            let (_, total_cap) = self.ctx.limits.task_caps();
            self.admission = Admission::new(plan.daemon.per_host_concurrency, total_cap);
        }
        let (tx, mut rx) = mpsc::channel(64);
        for f in &plan.feeds {
            self.in_flight.insert(f.name.clone());
            self.admission.push(f.name.clone());
        }
        let mut tx = Some(tx);
        let mut failed = std::collections::HashSet::new();
        loop {
            if let Some(sender) = &tx {
                self.admit(sender, tracker);
            }
            // Once every feed has its task, the tasks hold the only senders: the round ends
            // when the last one is done, even one that died without reporting.
            if self.admission.queued() == 0 {
                tx = None;
            }
            let Some(done) = rx.recv().await else { break };
            self.admission.done(&done.host);
            self.in_flight.remove(&done.feed);
            if done.failed {
                failed.insert(done.feed);
            }
        }
        // A feed whose task died without reporting was not polled either.
        failed.extend(self.in_flight.drain());
        plan.feeds
            .iter()
            .filter(|f| failed.contains(&f.name))
            .map(|f| f.name.clone())
            .collect()
    }

    /// Give up the leases of feeds a reload removed while a failed poll kept them: the
    /// heartbeat renewed such a lease for as long as this instance ran, and the instances that
    /// still have the feed found it busy.
    fn leave_gone(&mut self, tracker: &TaskTracker) {
        for feed in std::mem::take(&mut self.gone) {
            let store = self.ctx.store.clone();
            tracker.spawn(async move {
                if let Err(e) = store.leave_feed(&feed).await {
                    tracing::warn!(feed = %feed, error = %e, "cannot give up the lease of a feed no longer configured");
                }
            });
        }
    }

    /// The scheduler loop, until `token` is cancelled.
    pub async fn run(mut self, token: CancellationToken, tracker: TaskTracker) {
        let (tx, mut rx) = mpsc::channel::<Done>(256);
        loop {
            // Heartbeat for the watchdog: the loop turns at least every HEARTBEAT.
            self.ctx.beat.bump();
            // A reload that came while the loop took a finished poll or woke for a due feed
            // is synced before anything is started under the plan it replaced.
            if self.plan.has_changed().unwrap_or(false) {
                self.sync_plan(None);
            }
            let now = Instant::now();
            // Start everything due, and what falls due within START_AHEAD, as far as the
            // admission lets; the rest starts as earlier polls finish.
            self.take_due(now);
            self.admit(&tx, &tracker);
            crate::ops::metrics::set_poll_gauges(self.admission.started(), self.admission.queued());
            let wake = self
                .heap
                .peek()
                .map_or(now + HEARTBEAT, |Reverse((at, _))| {
                    (*at).min(now + HEARTBEAT)
                });
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep_until(wake) => {}
                Some(done) = rx.recv() => {
                    // Polls finish in bursts (a batch of 304s is stored at once): take them
                    // all in this turn of the loop.
                    self.finished(done);
                    while let Ok(done) = rx.try_recv() {
                        self.finished(done);
                    }
                    self.leave_gone(&tracker);
                }
                changed = self.plan.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    self.sync_plan(None);
                }
            }
        }
    }
}

/// What the polls of a claimed batch start with.
struct Start<'a, S> {
    ctx: &'a Arc<PollContext<S>>,
    plan: &'a Arc<Plan>,
    current: &'a watch::Receiver<Arc<Plan>>,
    done: &'a mpsc::Sender<Done>,
}

impl<S: Store> Start<'_, S> {
    /// Read the granted feeds' states from the store in one query (the store holds the one
    /// copy of them; a read per poll cost more than the rest of a 304), then spawn their poll
    /// tasks. A feed whose state cannot be read is not polled (retried in a minute): without
    /// its state a poll would be a baseline, and the items that arrived since the last poll
    /// would never alert.
    async fn polls(&self, batch: Vec<(FeedPlan, String)>, polls: &TaskTracker) {
        if batch.is_empty() {
            return;
        }
        let names: Vec<String> = batch.iter().map(|(f, _)| f.name.clone()).collect();
        let mut states = claim::read_states(self.ctx.store.as_ref(), &names)
            .await
            .into_iter();
        // Every feed of the batch gets its poll or its `Done`: a feed left out of both
        // would count as in flight forever and never be polled again.
        for (feed, host) in batch {
            match states.next() {
                Some(Ok(state)) => {
                    let poll = Poll {
                        ctx: self.ctx.clone(),
                        plan: self.plan.clone(),
                        current: self.current.clone(),
                        feed,
                        host,
                        state,
                        done: self.done.clone(),
                    };
                    polls.spawn(poll.run());
                }
                read => {
                    let error = match read {
                        Some(Err(e)) => e.to_string(),
                        _ => "the store returned no state for it".to_string(),
                    };
                    tracing::error!(feed = %feed.name, %error, "cannot read the feed's state; retrying in a minute");
                    let _ = self
                        .done
                        .send(Done {
                            feed: feed.name,
                            host,
                            lives_on: None,
                            next_in: None,
                            failed: true,
                        })
                        .await;
                }
            }
        }
    }
}

#[cfg(test)]
mod loop_tests;
#[cfg(test)]
mod schedule_tests;

#[cfg(test)]
mod budget_tests;
