//! The dispatcher: one worker per sink claims due deliveries and sends them in order.
//!
//! Owns [`Dispatcher`]. A worker sends one delivery at a time (per-sink concurrency 1 keeps
//! order). A retryable failure pauses the whole sink until the retry time, since the next
//! alert would meet the same outage or rate limit; a permanent failure dead-letters that one
//! delivery and the worker moves on. After `max_delivery_age` a failing delivery is dead.
//! Shutdown stops claiming; the send in flight finishes (the caller bounds it with a grace
//! period), and anything claimed but unsent is released for the next start.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Plan, SinkPlan};
use crate::deliver::alert::Alert;
use crate::deliver::retry::delivery_backoff;
use crate::deliver::sink::{SendError, Sink, build_sink};
use crate::store::{Delivery, Millis, Store, now_millis};

/// How long a claim holds a delivery; longer than any single send.
const LEASE: Duration = Duration::from_secs(300);
/// Deliveries claimed per round trip to the store.
const BATCH: i64 = 16;
/// How often an idle worker looks for retries that came due.
const TICK: Duration = Duration::from_secs(1);

/// Counts of one `drain_once` run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    pub sent: usize,
    pub retry: usize,
    pub dead: usize,
}

pub struct Dispatcher<S> {
    pub store: Arc<S>,
    pub client: reqwest::Client,
    pub wake: Arc<Notify>,
    /// Bumped by every worker round; the watchdog reads it.
    pub progress: Arc<AtomicU64>,
}

fn ms(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What became of one attempt.
enum Attempt {
    Sent,
    /// Retry at this time; the sink pauses until then.
    Retry(Millis),
    Dead,
}

async fn attempt<S: Store>(store: &S, sink: &dyn Sink, d: &Delivery, max_age: Duration) -> Attempt {
    let alert: Alert = match serde_json::from_str(&d.alert_json) {
        Ok(a) => a,
        Err(e) => {
            let msg = format!("stored alert is unreadable: {e}");
            tracing::error!(sink = sink.name(), delivery = d.id, error = %msg, "dead letter");
            let _ = store.mark_dead(d.id, &msg).await;
            return Attempt::Dead;
        }
    };
    let result = sink.send(&alert, &d.idem_key).await;
    let now = now_millis();
    let record = match &result {
        Ok(ok) => {
            tracing::info!(sink = sink.name(), watch = %alert.watch, feed = %alert.feed,
                id = %d.idem_key, status = ?ok.status, attempts = d.attempts + 1, "delivered");
            store.mark_sent(d.id, now).await.map(|_| Attempt::Sent)
        }
        Err(SendError::Permanent { message }) => {
            tracing::warn!(sink = sink.name(), watch = %alert.watch, id = %d.idem_key,
                error = %message, "delivery failed permanently; kept as a dead letter");
            store.mark_dead(d.id, message).await.map(|_| Attempt::Dead)
        }
        Err(SendError::Retryable {
            message,
            retry_after,
        }) => {
            if now - d.created_at > ms(max_age) {
                let msg = format!("gave up after {} attempts: {message}", d.attempts + 1);
                tracing::warn!(sink = sink.name(), watch = %alert.watch, id = %d.idem_key,
                    error = %msg, "delivery too old; kept as a dead letter");
                store.mark_dead(d.id, &msg).await.map(|_| Attempt::Dead)
            } else {
                let at = now + ms(delivery_backoff(d.attempts, *retry_after));
                tracing::warn!(sink = sink.name(), watch = %alert.watch, id = %d.idem_key,
                    error = %message, retry_in_ms = at - now, "delivery failed; will retry");
                store
                    .mark_retry(d.id, message, at)
                    .await
                    .map(|_| Attempt::Retry(at))
            }
        }
    };
    match record {
        Ok(a) => a,
        Err(e) => {
            // The lease expires and the delivery is retried: at worst a repeat with the same
            // idempotency key, never a loss.
            tracing::error!(sink = sink.name(), delivery = d.id, error = %e, "cannot record delivery result");
            Attempt::Retry(now + ms(LEASE))
        }
    }
}

impl<S: Store> Dispatcher<S> {
    /// Build every sink of the plan, or say which cannot be built.
    pub fn build_sinks(&self, plan: &Plan) -> Result<HashMap<String, Arc<dyn Sink>>, Vec<String>> {
        let mut out = HashMap::new();
        let mut errors = Vec::new();
        for s in &plan.sinks {
            let memory = Arc::new(crate::deliver::sink::StoreMemory(self.store.clone()));
            match build_sink(s, &self.client, memory) {
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
        for sp in &plan.sinks {
            let Some(sink) = sinks.get(&sp.name) else {
                continue;
            };
            let mut paused = false;
            while !paused {
                let now = now_millis();
                let batch = match self
                    .store
                    .claim_due(&sp.name, now, now + ms(LEASE), BATCH)
                    .await
                {
                    Ok(b) => b,
                    Err(e) => return Err(vec![e.to_string()]),
                };
                if batch.is_empty() {
                    break;
                }
                let mut rest = batch.iter();
                for d in rest.by_ref() {
                    match attempt(
                        self.store.as_ref(),
                        sink.as_ref(),
                        d,
                        plan.daemon.max_delivery_age,
                    )
                    .await
                    {
                        Attempt::Sent => report.sent += 1,
                        Attempt::Dead => report.dead += 1,
                        Attempt::Retry(_) => {
                            report.retry += 1;
                            paused = true;
                            break;
                        }
                    }
                }
                let unsent: Vec<i64> = rest.map(|d| d.id).collect();
                if !unsent.is_empty() {
                    let _ = self.store.release(&unsent).await;
                }
            }
        }
        Ok(report)
    }

    /// Run one worker per sink until `token` is cancelled, following configuration reloads.
    pub async fn run(
        self: Arc<Self>,
        mut plan: watch::Receiver<Arc<Plan>>,
        token: CancellationToken,
        tracker: TaskTracker,
    ) {
        let mut workers: HashMap<String, (SinkPlan, CancellationToken)> = HashMap::new();
        loop {
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
            workers.retain(|name, (sp, t)| {
                let keep = current.sinks.iter().any(|s| s == sp) && sinks.contains_key(name);
                if !keep {
                    t.cancel();
                }
                keep
            });
            for sp in &current.sinks {
                if workers.contains_key(&sp.name) {
                    continue;
                }
                let Some(sink) = sinks.get(&sp.name).cloned() else {
                    continue;
                };
                let t = token.child_token();
                workers.insert(sp.name.clone(), (sp.clone(), t.clone()));
                let me = self.clone();
                let max_age = current.daemon.max_delivery_age;
                tracker.spawn(async move { me.worker(sink, max_age, t).await });
            }
            tokio::select! {
                _ = token.cancelled() => break,
                changed = plan.changed() => if changed.is_err() { break },
            }
        }
    }

    async fn worker(&self, sink: Arc<dyn Sink>, max_age: Duration, token: CancellationToken) {
        let name = sink.name().to_string();
        loop {
            if token.is_cancelled() {
                break;
            }
            self.progress.fetch_add(1, Ordering::Relaxed);
            // Register for a wake-up before looking, so an enqueue in between is not missed.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let now = now_millis();
            let batch = match self
                .store
                .claim_due(&name, now, now + ms(LEASE), BATCH)
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(sink = %name, error = %e, "cannot claim deliveries");
                    Vec::new()
                }
            };
            let mut pause_until: Option<Millis> = None;
            let mut rest = batch.iter();
            for d in rest.by_ref() {
                if token.is_cancelled() {
                    // Not started: give it back for the next start.
                    let _ = self.store.release(&[d.id]).await;
                    continue;
                }
                if let Attempt::Retry(at) =
                    attempt(self.store.as_ref(), sink.as_ref(), d, max_age).await
                {
                    pause_until = Some(at);
                    break;
                }
            }
            let unsent: Vec<i64> = rest.map(|d| d.id).collect();
            if !unsent.is_empty() {
                let _ = self.store.release(&unsent).await;
            }
            if let Some(at) = pause_until {
                let wait = Duration::from_millis((at - now_millis()).max(0) as u64);
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
                continue;
            }
            if batch.is_empty() {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = &mut woken => {}
                    _ = tokio::time::sleep(TICK) => {}
                }
            }
        }
    }
}
