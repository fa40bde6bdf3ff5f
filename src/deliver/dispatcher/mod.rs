//! The dispatcher: one supervised worker per sink claims due deliveries and sends them.
//!
//! Owns [`Dispatcher`] and [`SinkFactory`]. A worker claims a batch of its sink's due
//! deliveries and hands it to [`send::send_batch`] (units, digests, pacing, recording). Chat
//! sinks send one unit at a time, in order; webhooks up to `concurrency` at once. A retryable
//! failure pauses the sink unless [`health`] tells one failing alert from an outage; a
//! permanent one dead-letters that delivery. After `max_delivery_age` a failing delivery is
//! dead. A worker that panics is restarted with backoff (logged, counted in metrics, its
//! claims released); each worker has its own liveness beat for the watchdog.
//! Shutdown stops claiming; the sends in flight finish (the caller bounds them with a grace
//! period), and anything claimed but unsent is released for the next start. On a shared
//! database a worker sends only while it holds its sink's lease ([`Hold`], checked before
//! each send), and a sink a reload removes is given up (lease and claims) once its worker
//! has stopped.

mod health;
mod hint;
mod left;
#[cfg(test)]
mod metrics_tests;
#[cfg(test)]
mod notes_tests;
mod outbox;
#[cfg(test)]
mod pacing_tests;
#[cfg(test)]
mod rate_budget_tests;
mod record;
#[cfg(test)]
mod reload_tests;
mod send;
#[cfg(test)]
mod store_failure_tests;
#[cfg(test)]
mod story_tests;
#[cfg(test)]
mod tests;
mod units;
#[cfg(test)]
mod worker_tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::deliver::rate::Bucket;
use crate::deliver::sink::{SEND_LIMIT, Sink, SinkMemory, StoreMemory, build_sink};
use crate::ops::liveness::{Beat, Liveness};
use crate::plan::{Plan, SinkPlan};
use crate::store::lease::SinkHold;
use crate::store::{Millis, Store, now_millis};

use left::Left;
use outbox::Outbox;
use send::{BatchContext, Pace, TICK, ms, nap, send_batch};
pub use send::{DrainReport, LEASE};

/// Deliveries claimed per round trip to the store, per unit that may be in flight.
const BATCH: i64 = 16;
/// Deliveries a digest-capable sink claims at once, to see a burst whole.
const DIGEST_CLAIM: usize = 100;
pub use crate::deliver::config::{DIGEST_AFTER, WEBHOOK_CONCURRENCY};
/// Longest wait before restarting a worker that keeps panicking.
const RESTART_CAP: Duration = Duration::from_secs(60);

/// Builds a sink from its plan (the platform sinks; tests put fakes here).
pub type SinkFactory = Arc<
    dyn Fn(&SinkPlan, &reqwest::Client, Arc<dyn SinkMemory>) -> Result<Arc<dyn Sink>, String>
        + Send
        + Sync,
>;

pub struct Dispatcher<S> {
    pub store: Arc<S>,
    pub client: reqwest::Client,
    pub wake: Arc<Notify>,
    /// Each worker's beat is registered here as `sink:NAME`; the watchdog reads it.
    pub liveness: Liveness,
    factory: SinkFactory,
    /// Each sink's pacing as its last worker left it, for the next worker of that sink.
    left: std::sync::Mutex<HashMap<String, Left>>,
}

/// How many deliveries to claim at once: enough to see a burst (digests need more than
/// `digest_after` in hand) and to keep `concurrency` sends busy, few enough to send within
/// the lease otherwise.
fn claim_limit(sink: &dyn Sink, pace: &Pace) -> i64 {
    let n = if sink.digests() {
        pace.digest_after.saturating_add(1).max(DIGEST_CLAIM)
    } else {
        (BATCH as usize).saturating_mul(pace.concurrency.max(1))
    };
    i64::try_from(n).unwrap_or(BATCH)
}

/// A worker's lease on its sink's queue (see [`Store::hold_sink`]), renewed between claims
/// and, within a batch, before each send is launched.
#[derive(Default)]
pub(crate) struct Hold {
    /// When it was taken or last renewed, and until when it runs.
    from: Millis,
    until: Millis,
    /// Taken (not renewed: the worker's first hold, or one after another instance held the
    /// sink) since the worker last looked: the worker recounts its rate budget
    /// ([`Dispatcher::budget_left`]), since another instance may have spent it meanwhile. A
    /// renewal after a long wait is not a take: the instance's heartbeat kept the lease, and
    /// a recount then would throw away what the bucket refilled.
    taken: bool,
}

impl Hold {
    /// Ask the store at the next renewal, whatever this instance last heard.
    fn forget(&mut self) {
        self.until = 0;
    }

    /// Whether the last renewal found the sink held by another instance (or was forgotten).
    fn lost(&self) -> bool {
        self.until == 0
    }

    /// Renew the lease once a third of it has passed. `None`: send; `Some(wait)`: another
    /// instance holds it (or the store failed), ask again after `wait`.
    async fn renew<S: Outbox>(&mut self, store: &S, sink: &str) -> Option<Duration> {
        let now = now_millis();
        if now < self.until && now - self.from < (self.until - self.from) / 3 {
            return None;
        }
        match store.hold_sink(sink, now).await {
            Ok(SinkHold::Held { until }) => {
                if self.lost() {
                    tracing::info!(sink, "this instance sends the sink's queue");
                    self.taken = true;
                }
                (self.from, self.until) = (now, until);
                None
            }
            Ok(SinkHold::Busy { until }) => {
                if self.until > now {
                    tracing::warn!(sink, "the sink's lease passed to another instance");
                }
                self.until = 0;
                Some(Duration::from_millis((until - now).clamp(100, 5_000) as u64))
            }
            Err(e) => {
                tracing::error!(sink, error = %e, "cannot renew the sink's lease");
                // Sending on past the lease could break its order across instances, and
                // another instance may take the sink then and send the same rows. The last
                // third is left unused: for a send launched just before it, and for clocks
                // that differ between machines.
                if now >= self.until - (self.until - self.from) / 3 {
                    return Some(TICK);
                }
                None
            }
        }
    }
}

/// How a worker starts: its sink's plan and pacing, the sink's health so far, and until
/// when it waits first.
struct Start {
    sp: SinkPlan,
    pace: Pace,
    health: health::Health,
    pause_until: Millis,
}

/// How long to wait before restarting a worker after its `restarts`-th panic in a row: 1 s,
/// doubling, at most [`RESTART_CAP`].
fn restart_wait(restarts: u32) -> Duration {
    Duration::from_secs(1u64 << restarts.saturating_sub(1).min(6)).min(RESTART_CAP)
}

impl<S: Store> Dispatcher<S> {
    pub fn new(store: Arc<S>, client: reqwest::Client, wake: Arc<Notify>) -> Self {
        Dispatcher {
            store,
            client,
            wake,
            liveness: Liveness::default(),
            factory: Arc::new(build_sink),
            left: std::sync::Mutex::default(),
        }
    }

    /// The same dispatcher with sinks built by `factory` (tests).
    pub fn with_factory(mut self, factory: SinkFactory) -> Self {
        self.factory = factory;
        self
    }

    /// Build every sink of the plan, or say which cannot be built.
    pub fn build_sinks(&self, plan: &Plan) -> Result<HashMap<String, Arc<dyn Sink>>, Vec<String>> {
        let mut out = HashMap::new();
        let mut errors = Vec::new();
        for s in &plan.sinks {
            let memory = Arc::new(StoreMemory(self.store.clone()));
            match (self.factory)(s, &self.client, memory) {
                Ok(sink) => {
                    out.insert(s.name.clone(), sink);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// One pass over every sink: send each due delivery once (`run --once`).
    pub async fn drain_once(&self, plan: &Plan) -> Result<DrainReport, Vec<String>> {
        let sinks = self.build_sinks(plan)?;
        let mut report = DrainReport::default();
        let never = CancellationToken::new();
        for sp in &plan.sinks {
            let Some(sink) = sinks.get(&sp.name) else {
                continue;
            };
            let mut pace = Pace::of(sp);
            let mut health = health::Health::default();
            let cx = BatchContext {
                store: self.store.as_ref(),
                sink: sink.as_ref(),
                max_age: plan.daemon.max_delivery_age,
                lease: LEASE,
                send_limit: SEND_LIMIT,
                token: &never,
            };
            // Another instance sends this sink's queue (PostgreSQL): it is not ours to drain.
            let now = now_millis();
            // Its receiver asked for a pause that has not ended: the next run sends.
            if hint::load(self.store.as_ref(), &sp.name).await > now {
                tracing::info!(sink = %sp.name, "the receiver's retry hint holds; left queued");
                continue;
            }
            let mut hold = match self.store.hold_sink(&sp.name, now).await {
                // Each run starts where the last ones left the sink's rate: run from cron
                // every minute, a full bucket each time sent a burst each minute.
                Ok(SinkHold::Held { until }) => Hold {
                    from: now,
                    until,
                    taken: true,
                },
                Ok(SinkHold::Busy { .. }) => continue,
                Err(e) => return Err(vec![e.to_string()]),
            };
            loop {
                self.recount(&sp.name, &mut pace, &mut hold).await;
                let now = now_millis();
                // Every poll has committed: a story update whose alert is not in the outbox
                // now has none to wait for.
                let batch = self
                    .store
                    .claim_due_orphans(
                        &sp.name,
                        now,
                        now + ms(cx.lease),
                        claim_limit(sink.as_ref(), &pace),
                        now,
                    )
                    .await
                    .map_err(|e| vec![e.to_string()])?;
                if batch.is_empty() {
                    break;
                }
                let paused =
                    send_batch(&cx, &mut pace, &mut health, &mut hold, batch, &mut report).await;
                // Another instance took the sink during the batch: the rest of the queue is
                // its to send (claiming it again here went round without end).
                if paused.is_some() || hold.lost() {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// Run one supervised worker per sink until `token` is cancelled, following reloads.
    pub async fn run(
        self: Arc<Self>,
        mut plan: watch::Receiver<Arc<Plan>>,
        token: CancellationToken,
        tracker: TaskTracker,
    ) {
        let mut workers: HashMap<String, (SinkPlan, CancellationToken, JoinHandle<()>)> =
            HashMap::new();
        // Removed sinks whose last worker (and lease release) has not ended yet: a reload
        // that adds one back starts its worker after them, as for a changed sink.
        let mut ending: HashMap<String, JoinHandle<()>> = HashMap::new();
        loop {
            ending.retain(|_, h| !h.is_finished());
            let current = plan.borrow_and_update().clone();
            let sinks = match self.build_sinks(&current) {
                Ok(s) => s,
                Err(errors) => {
                    // The config was checked before it was swapped in; this is unreachable in
                    // practice, but a sink we cannot build must not stop the others.
                    for e in errors {
                        tracing::error!(error = %e, "sink unavailable");
                    }
                    HashMap::new()
                }
            };
            // Stop workers of removed or changed sinks; start workers for new or changed ones.
            let stopped: Vec<String> = workers
                .iter()
                .filter(|(name, (sp, _, _))| {
                    !(current.sinks.iter().any(|s| s == sp) && sinks.contains_key(*name))
                })
                .map(|(name, _)| name.clone())
                .collect();
            // A changed sink's new worker starts once the old one has ended (its sends in
            // flight recorded): two workers of one sink at once would send out of order and
            // past its concurrency and rate.
            let mut previous: HashMap<String, JoinHandle<()>> = HashMap::new();
            for name in stopped {
                let Some((_, t, handle)) = workers.remove(&name) else {
                    continue;
                };
                t.cancel();
                if current.sinks.iter().any(|s| s.name == name) {
                    previous.insert(name, handle);
                } else {
                    // Gone from this configuration: once its last send is recorded, its lease
                    // goes to an instance that still has it (it would otherwise be renewed by
                    // this instance's heartbeat for as long as it runs).
                    let store = self.store.clone();
                    let gone = name.clone();
                    let (me, now_plan) = (self.clone(), plan.clone());
                    let leave = tracker.spawn(async move {
                        let _ = handle.await;
                        // Its pacing (and its plan's secrets) are no one's, unless a reload
                        // added the sink back meanwhile: its next worker takes them.
                        let names: Vec<String> =
                            now_plan.borrow().sinks.iter().map(|s| s.name.clone()).collect();
                        if !names.contains(&gone) {
                            me.left().remove(&gone);
                            // What its sends in flight left queued (a failure, to retry) has
                            // no worker now: a dead letter, as the reload's sweep made the rest.
                            match store.dead_letter_unconfigured(&names).await {
                                Ok(n) if n > 0 => tracing::warn!(sink = %gone, deliveries = n,
                                    "deliveries in flight to a sink no longer configured failed; \
                                     now dead letters"),
                                Ok(_) => {}
                                Err(e) => tracing::error!(sink = %gone, error = %e,
                                    "cannot check for removed sinks"),
                            }
                        }
                        if let Err(e) = store.leave_sink(&gone).await {
                            tracing::error!(sink = %gone, error = %e, "cannot give up the sink's lease");
                        }
                    });
                    ending.insert(name, leave);
                }
            }
            // The pacing (and the plan's secrets) of a sink gone from the configuration whose
            // worker has ended: no one's. One added back before then finds it.
            self.left().retain(|name, _| {
                current.sinks.iter().any(|s| &s.name == name) || ending.contains_key(name)
            });
            for sp in &current.sinks {
                if workers.contains_key(&sp.name) {
                    continue;
                }
                let Some(sink) = sinks.get(&sp.name).cloned() else {
                    continue;
                };
                let t = token.child_token();
                let me = self.clone();
                let max_age = current.daemon.max_delivery_age;
                let (run_sp, run_t) = (sp.clone(), t.clone());
                let before = previous
                    .remove(&sp.name)
                    .or_else(|| ending.remove(&sp.name));
                let handle = tracker.spawn(async move {
                    if let Some(old) = before {
                        let _ = old.await;
                    }
                    me.supervise(sink, run_sp, max_age, run_t).await
                });
                workers.insert(sp.name.clone(), (sp.clone(), t, handle));
            }
            tokio::select! {
                _ = token.cancelled() => break,
                changed = plan.changed() => if changed.is_err() { break },
            }
        }
    }

    /// Run a sink's worker; restart it, with backoff, whenever it panics.
    async fn supervise(
        self: Arc<Self>,
        sink: Arc<dyn Sink>,
        sp: SinkPlan,
        max_age: Duration,
        token: CancellationToken,
    ) {
        let name = sp.name.clone();
        let label = format!("sink:{name}");
        let beat = self.liveness.register(&label);
        let mut restarts: u32 = 0;
        loop {
            // Read, not taken: a worker a second reload stops before it sends anything puts
            // nothing back, and the next one must still find the pacing (taken, it started
            // with a full bucket and no pause).
            let left = self.left().get(&name).cloned();
            let fresh = left.is_none();
            let (mut pace, health, mut pause_until) = Left::resume(left, &sp);
            if fresh {
                // Taken from nothing (this process's first worker of the sink): a hint a
                // worker before the restart, or another instance, was given still holds.
                pause_until = pause_until.max(hint::load(self.store.as_ref(), &name).await);
            }
            pace.beat = Some(beat.clone());
            let run = {
                let (me, sink, token, beat) =
                    (self.clone(), sink.clone(), token.clone(), beat.clone());
                let start = Start {
                    sp: sp.clone(),
                    pace,
                    health,
                    pause_until,
                };
                tokio::spawn(async move { me.worker(sink, start, max_age, beat, token).await })
            };
            match run.await {
                Ok(()) => break,
                Err(e) if e.is_panic() => {
                    restarts = restarts.saturating_add(1);
                    crate::ops::metrics::record_worker_restart(&name);
                    let wait = restart_wait(restarts);
                    tracing::error!(sink = %name, error = %e, restarts, restart_in_s = wait.as_secs(),
                        "delivery worker panicked; restarting it");
                    // Its claims would otherwise wait out the lease.
                    if let Err(e) = self.store.release_sink(&name).await {
                        tracing::error!(sink = %name, error = %e, "cannot release claims");
                    }
                    if !nap(wait, Some(&beat), &token).await {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        // By beat: a reload that restarted this sink has registered its new worker already.
        self.liveness.unregister(&label, &beat);
    }

    /// `bucket` of a worker that has just taken its sink's queue (the daemon's start, a sink
    /// added or changed by a reload, `run --once`, a takeover from another instance), with at
    /// most what the messages the sink received in the last `per` of its rate leave; `Err`
    /// with it unchanged when the store cannot say (the caller asks again later).
    async fn budget_left(&self, sink: &str, bucket: Bucket) -> Result<Bucket, Bucket> {
        let per = i64::try_from(bucket.rate().per.as_millis()).unwrap_or(i64::MAX);
        let now = crate::store::now_millis();
        match self.store.sends_since(sink, now.saturating_sub(per)).await {
            Ok(sent_at) if sent_at.is_empty() => Ok(bucket),
            Ok(sent_at) => {
                tracing::info!(
                    sink,
                    sent = sent_at.len(),
                    "rate budget: recent sends counted"
                );
                Ok(bucket.spent(&sent_at, now))
            }
            Err(e) => {
                tracing::warn!(sink, error = %e,
                    "cannot count recent sends; the rate budget goes on as it was until it can");
                Err(bucket)
            }
        }
    }

    /// Recount `pace`'s budget when `hold` was just taken (see [`Hold::taken`]); a recount
    /// that failed is tried again at the next call.
    async fn recount(&self, sink: &str, pace: &mut Pace, hold: &mut Hold) {
        if !std::mem::take(&mut hold.taken) {
            return;
        }
        if let Some(bucket) = pace.bucket.take() {
            pace.bucket = Some(match self.budget_left(sink, bucket).await {
                Ok(b) => b,
                Err(b) => {
                    hold.taken = true;
                    b
                }
            });
        }
    }

    /// The sinks' pacing left by their workers (a poisoned lock still holds whole entries:
    /// each is replaced at once).
    fn left(&self) -> std::sync::MutexGuard<'_, HashMap<String, Left>> {
        self.left.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn worker(
        &self,
        sink: Arc<dyn Sink>,
        start: Start,
        max_age: Duration,
        beat: Beat,
        token: CancellationToken,
    ) {
        let name = sink.name().to_string();
        let Start {
            sp,
            mut pace,
            mut health,
            pause_until,
        } = start;
        let wait = Duration::from_millis((pause_until - now_millis()).max(0) as u64);
        if !wait.is_zero() && !nap(wait, Some(&beat), &token).await {
            return;
        }
        let cx = BatchContext {
            store: self.store.as_ref(),
            sink: sink.as_ref(),
            max_age,
            lease: LEASE,
            send_limit: SEND_LIMIT,
            token: &token,
        };
        let mut hold = Hold::default();
        // Another instance held the sink since this worker last sent (or since it started):
        // what that one was told to wait is read when the queue is taken over. Not at a take
        // with no wait before it: the start read the stored hint already (a reload that gave
        // the sink another platform deliberately starts it afresh).
        let mut waited_for_lease = false;
        loop {
            if token.is_cancelled() {
                break;
            }
            beat.bump();
            // Several instances (PostgreSQL): only the holder of the sink's lease sends its
            // queue, so its order and rate limits hold across them.
            if let Some(wait) = hold.renew(self.store.as_ref(), &name).await {
                waited_for_lease = true;
                if !nap(wait, Some(&beat), &token).await {
                    break;
                }
                continue;
            }
            if hold.taken
                && std::mem::take(&mut waited_for_lease)
                && !hint::wait_out(self.store.as_ref(), &name, &beat, &token).await
            {
                break;
            }
            self.recount(&name, &mut pace, &mut hold).await;
            // Register for a wake-up before looking, so an enqueue in between is not missed.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let now = now_millis();
            let batch = match self
                .store
                .claim_due(
                    &name,
                    now,
                    now + ms(cx.lease),
                    claim_limit(sink.as_ref(), &pace),
                )
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(sink = %name, error = %e, "cannot claim deliveries");
                    Vec::new()
                }
            };
            let idle = batch.is_empty();
            let mut report = DrainReport::default();
            let pause_until =
                send_batch(&cx, &mut pace, &mut health, &mut hold, batch, &mut report).await;
            if !idle {
                self.left().insert(
                    name.clone(),
                    Left {
                        plan: sp.clone(),
                        bucket: pace.bucket.clone(),
                        health: health.clone(),
                        pause_until: pause_until.unwrap_or(0),
                    },
                );
            }
            if let Some(at) = pause_until {
                let wait = Duration::from_millis((at - now_millis()).max(0) as u64);
                if !nap(wait, Some(&beat), &token).await {
                    break;
                }
                continue;
            }
            if idle {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = &mut woken => {}
                    _ = tokio::time::sleep(TICK) => {}
                }
            }
        }
    }
}
