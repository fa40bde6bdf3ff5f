//! The dispatcher: one worker per sink claims due deliveries and sends them in order.
//!
//! Owns [`Dispatcher`]. A worker sends one delivery at a time (per-sink concurrency 1 keeps
//! order), each send waiting for the sink's rate limit ([`crate::deliver::rate`]). When more
//! than `digest_after` alerts wait for a chat sink, they go out as digest messages, as many per
//! message as the platform's limits allow, and each is marked sent when its digest is. A
//! retryable failure pauses the whole sink until the retry time, since the next alert would
//! meet the same outage or rate limit; a permanent failure dead-letters that one delivery and
//! the worker moves on. After `max_delivery_age` a failing delivery is dead.
//! Shutdown stops claiming; the send in flight finishes (the caller bounds it with a grace
//! period), and anything claimed but unsent is released for the next start.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Plan, SinkPlan, SinkValue};
use crate::deliver::alert::Alert;
use crate::deliver::digest::digest_key;
use crate::deliver::rate::{Bucket, Rate, default_rate};
use crate::deliver::retry::delivery_backoff;
use crate::deliver::sink::{SendError, SendOk, Sink, build_sink};
use crate::store::{Delivery, Millis, Store, now_millis};

/// How long a claim holds a delivery; longer than any single send.
const LEASE: Duration = Duration::from_secs(300);
/// Deliveries claimed per round trip to the store.
const BATCH: i64 = 16;
/// Deliveries a digest-capable sink claims at once, to see a burst whole.
const DIGEST_CLAIM: usize = 100;
/// Default `digest_after`: more alerts than this waiting for one sink become digests.
pub const DIGEST_AFTER: usize = 5;
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

/// A claimed delivery with its alert decoded.
struct Claimed {
    d: Delivery,
    alert: Alert,
}

/// How a sink's worker sends: its rate limit and digest threshold, from its plan.
struct Pace {
    bucket: Option<Bucket>,
    /// A burst of more than this many waiting alerts is sent as digests.
    digest_after: usize,
    /// The dispatcher's progress counter, bumped while waiting so the watchdog sees a worker
    /// that waits on purpose as alive.
    progress: Option<Arc<AtomicU64>>,
}

/// Sleep `wait` in slices of at most [`TICK`], bumping `progress` at each; false when
/// cancelled first.
async fn nap(wait: Duration, progress: Option<&AtomicU64>, token: &CancellationToken) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(p) = progress {
            p.fetch_add(1, Ordering::Relaxed);
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return !token.is_cancelled();
        }
        tokio::select! {
            _ = token.cancelled() => return false,
            _ = tokio::time::sleep(left.min(TICK)) => {}
        }
    }
}

impl Pace {
    fn of(sp: &SinkPlan) -> Pace {
        // Validated at load time; a bad value here falls back to the platform default.
        let rate = match sp.get_str("rate") {
            Some(text) => Rate::parse(text).unwrap_or_else(|_| default_rate(sp.kind)),
            None => default_rate(sp.kind),
        };
        let digest_after = match sp.settings.get("digest_after") {
            Some(SinkValue::Int(n)) => usize::try_from(*n).unwrap_or(DIGEST_AFTER),
            _ => DIGEST_AFTER,
        };
        Pace {
            bucket: rate.map(Bucket::new),
            digest_after,
            progress: None,
        }
    }

    /// Wait for the rate limit and take a token; false when cancelled first.
    async fn ready(&mut self, token: &CancellationToken) -> bool {
        let Some(b) = self.bucket.as_mut() else {
            return !token.is_cancelled();
        };
        loop {
            let wait = b.wait_time();
            if wait.is_zero() {
                b.take();
                return !token.is_cancelled();
            }
            if !nap(wait, self.progress.as_deref(), token).await {
                return false;
            }
        }
    }
}

/// Record the result of sending `c` (alone or in a digest). `retry_at` is the shared retry
/// time of a digest, so its alerts come due together and are digested again.
async fn record<S: Store>(
    store: &S,
    sink: &str,
    c: &Claimed,
    result: &Result<SendOk, SendError>,
    max_age: Duration,
    retry_at: Option<Millis>,
) -> Attempt {
    let (d, alert) = (&c.d, &c.alert);
    let now = now_millis();
    let record = match result {
        Ok(ok) => {
            tracing::info!(sink, watch = %alert.watch, feed = %alert.feed,
                id = %d.idem_key, status = ?ok.status, attempts = d.attempts + 1, "delivered");
            store.mark_sent(d.id, now).await.map(|_| Attempt::Sent)
        }
        Err(SendError::Permanent { message }) => {
            tracing::warn!(sink, watch = %alert.watch, id = %d.idem_key,
                error = %message, "delivery failed permanently; kept as a dead letter");
            store.mark_dead(d.id, message).await.map(|_| Attempt::Dead)
        }
        Err(SendError::Retryable {
            message,
            retry_after,
        }) => {
            if now - d.created_at > ms(max_age) {
                let msg = format!("gave up after {} attempts: {message}", d.attempts + 1);
                tracing::warn!(sink, watch = %alert.watch, id = %d.idem_key,
                    error = %msg, "delivery too old; kept as a dead letter");
                store.mark_dead(d.id, &msg).await.map(|_| Attempt::Dead)
            } else {
                let at = retry_at.unwrap_or_else(|| {
                    now.saturating_add(ms(delivery_backoff(d.attempts, *retry_after)))
                });
                tracing::warn!(sink, watch = %alert.watch, id = %d.idem_key,
                    error = %message, retry_in_ms = at - now, "delivery failed; will retry");
                store
                    .mark_retry(d.id, message, at)
                    .await
                    .map(|_| Attempt::Retry(at))
            }
        }
    };
    let latency = (now - alert.matched_at.timestamp_millis()).max(0) as u64;
    match &record {
        Ok(Attempt::Sent) => {
            crate::ops::metrics::record_delivery(sink, "sent", Some(Duration::from_millis(latency)))
        }
        Ok(Attempt::Dead) => crate::ops::metrics::record_delivery(sink, "dead", None),
        Ok(Attempt::Retry(_)) | Err(_) => crate::ops::metrics::record_delivery(sink, "retry", None),
    }
    match record {
        Ok(a) => a,
        Err(e) => {
            // The lease expires and the delivery is retried: at worst a repeat with the same
            // idempotency key, never a loss.
            tracing::error!(sink, delivery = d.id, error = %e, "cannot record delivery result");
            Attempt::Retry(now + ms(LEASE))
        }
    }
}

/// Decode claimed deliveries; an unreadable stored alert is a dead letter at once.
async fn decode<S: Store>(
    store: &S,
    sink: &str,
    batch: Vec<Delivery>,
    report: &mut DrainReport,
) -> Vec<Claimed> {
    let mut out = Vec::with_capacity(batch.len());
    for d in batch {
        match serde_json::from_str::<Alert>(&d.alert_json) {
            Ok(alert) => out.push(Claimed { d, alert }),
            Err(e) => {
                let msg = format!("stored alert is unreadable: {e}");
                tracing::error!(sink, delivery = d.id, error = %msg, "dead letter");
                let _ = store.mark_dead(d.id, &msg).await;
                report.dead += 1;
            }
        }
    }
    out
}

/// Send one claimed batch of a sink: as digests when more than `digest_after` alerts wait and
/// the sink can combine them, else one by one; each send waits for the rate limit. Stops at
/// the first retryable failure (the sink pauses: the next send would meet the same outage),
/// on cancellation, or when the lease runs short; whatever was not attempted is released.
/// Returns when the sink should pause until, if it should.
async fn send_batch<S: Store>(
    store: &S,
    sink: &dyn Sink,
    pace: &mut Pace,
    batch: Vec<Delivery>,
    max_age: Duration,
    token: &CancellationToken,
    report: &mut DrainReport,
) -> Option<Millis> {
    let name = sink.name();
    let claimed_at = now_millis();
    let items = decode(store, name, batch, report).await;
    let digest = sink.digests() && items.len() > pace.digest_after;
    let mut next = 0;
    let mut pause = None;
    // Alerts of a digest the receiver refused for good: sent one by one, so a single bad
    // alert (or a gone webhook) is classified on its own.
    let mut singles_until = 0;
    while next < items.len() {
        if now_millis() - claimed_at > ms(LEASE) / 2 || !pace.ready(token).await {
            break;
        }
        let rest = &items[next..];
        let n = if digest && next >= singles_until {
            let alerts: Vec<Alert> = rest.iter().map(|c| c.alert.clone()).collect();
            sink.digest_fit(&alerts).clamp(1, rest.len())
        } else {
            1
        };
        if n == 1 {
            let c = &rest[0];
            let result = sink.send(&c.alert, &c.d.idem_key).await;
            next += 1;
            match record(store, name, c, &result, max_age, None).await {
                Attempt::Sent => report.sent += 1,
                Attempt::Dead => report.dead += 1,
                Attempt::Retry(at) => {
                    report.retry += 1;
                    pause = Some(at);
                    break;
                }
            }
            continue;
        }
        let chunk = &rest[..n];
        let alerts: Vec<Alert> = chunk.iter().map(|c| c.alert.clone()).collect();
        let key = digest_key(chunk.iter().map(|c| c.d.idem_key.as_str()));
        let result = sink.send_digest(&alerts, &key).await;
        match &result {
            Ok(ok) => tracing::info!(sink = name, alerts = n, id = %key, status = ?ok.status,
                "delivered a digest"),
            Err(SendError::Permanent { message }) => {
                tracing::warn!(sink = name, alerts = n, error = %message,
                    "digest refused; sending its alerts one by one");
                singles_until = next + n;
                continue;
            }
            Err(SendError::Retryable { .. }) => {}
        }
        let retry_at = match &result {
            Err(SendError::Retryable { retry_after, .. }) => {
                let attempts = chunk.iter().map(|c| c.d.attempts).max().unwrap_or(0);
                Some(now_millis().saturating_add(ms(delivery_backoff(attempts, *retry_after))))
            }
            _ => None,
        };
        next += n;
        for c in chunk {
            match record(store, name, c, &result, max_age, retry_at).await {
                Attempt::Sent => report.sent += 1,
                Attempt::Dead => report.dead += 1,
                Attempt::Retry(at) => {
                    report.retry += 1;
                    pause = Some(at);
                }
            }
        }
        if pause.is_some() {
            break;
        }
    }
    let unsent: Vec<i64> = items[next..].iter().map(|c| c.d.id).collect();
    if !unsent.is_empty() {
        let _ = store.release(&unsent).await;
    }
    pause
}

/// How many deliveries to claim at once: enough to see a burst (digests need more than
/// `digest_after` in hand), few enough to send within the lease otherwise.
fn claim_limit(sink: &dyn Sink, pace: &Pace) -> i64 {
    if sink.digests() {
        i64::try_from(pace.digest_after.saturating_add(1).max(DIGEST_CLAIM)).unwrap_or(BATCH)
    } else {
        BATCH
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
        let never = CancellationToken::new();
        for sp in &plan.sinks {
            let Some(sink) = sinks.get(&sp.name) else {
                continue;
            };
            let mut pace = Pace::of(sp);
            loop {
                let now = now_millis();
                let batch = match self
                    .store
                    .claim_due(
                        &sp.name,
                        now,
                        now + ms(LEASE),
                        claim_limit(sink.as_ref(), &pace),
                    )
                    .await
                {
                    Ok(b) => b,
                    Err(e) => return Err(vec![e.to_string()]),
                };
                if batch.is_empty() {
                    break;
                }
                let paused = send_batch(
                    self.store.as_ref(),
                    sink.as_ref(),
                    &mut pace,
                    batch,
                    plan.daemon.max_delivery_age,
                    &never,
                    &mut report,
                )
                .await;
                if paused.is_some() {
                    break;
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
                let mut pace = Pace::of(sp);
                pace.progress = Some(self.progress.clone());
                tracker.spawn(async move { me.worker(sink, pace, max_age, t).await });
            }
            tokio::select! {
                _ = token.cancelled() => break,
                changed = plan.changed() => if changed.is_err() { break },
            }
        }
    }

    async fn worker(
        &self,
        sink: Arc<dyn Sink>,
        mut pace: Pace,
        max_age: Duration,
        token: CancellationToken,
    ) {
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
                .claim_due(
                    &name,
                    now,
                    now + ms(LEASE),
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
            let pause_until = send_batch(
                self.store.as_ref(),
                sink.as_ref(),
                &mut pace,
                batch,
                max_age,
                &token,
                &mut report,
            )
            .await;
            if let Some(at) = pause_until {
                let wait = Duration::from_millis((at - now_millis()).max(0) as u64);
                if !nap(wait, Some(&self.progress), &token).await {
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::deliver::sink::SendFuture;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{NewDelivery, PollCommit};

    /// A sink that carries up to four alerts per digest, refuses any digest or alert titled
    /// "bad", and can be told to answer "retry later".
    #[derive(Default)]
    struct Fake {
        digests: Mutex<Vec<(Vec<String>, String)>>,
        singles: Mutex<Vec<String>>,
        busy: Mutex<bool>,
    }

    impl Sink for Fake {
        fn name(&self) -> &str {
            "fake"
        }

        fn send<'a>(&'a self, alert: &'a Alert, _key: &'a str) -> SendFuture<'a> {
            self.singles.lock().unwrap().push(alert.title.clone());
            let bad = alert.title == "bad";
            Box::pin(async move {
                if bad {
                    Err(SendError::permanent("HTTP 400"))
                } else {
                    Ok(SendOk {
                        status: Some(200),
                        detail: String::new(),
                    })
                }
            })
        }

        fn digests(&self) -> bool {
            true
        }

        fn digest_fit(&self, alerts: &[Alert]) -> usize {
            alerts.len().clamp(1, 4)
        }

        fn send_digest<'a>(&'a self, alerts: &'a [Alert], key: &'a str) -> SendFuture<'a> {
            let titles: Vec<String> = alerts.iter().map(|a| a.title.clone()).collect();
            let bad = titles.iter().any(|t| t == "bad");
            let busy = *self.busy.lock().unwrap();
            self.digests.lock().unwrap().push((titles, key.to_string()));
            Box::pin(async move {
                if busy {
                    Err(SendError::Retryable {
                        message: "HTTP 429".into(),
                        retry_after: Some(Duration::from_secs(60)),
                    })
                } else if bad {
                    Err(SendError::permanent("HTTP 400"))
                } else {
                    Ok(SendOk {
                        status: Some(200),
                        detail: String::new(),
                    })
                }
            })
        }
    }

    async fn store_with(titles: &[&str]) -> SqliteStore {
        let store = SqliteStore::in_memory().await.unwrap();
        let mut alert = crate::deliver::template::sample_alert();
        let deliveries = titles
            .iter()
            .enumerate()
            .map(|(i, t)| {
                alert.title = t.to_string();
                alert.item_key = format!("k{i}");
                NewDelivery {
                    idem_key: format!("key{i}"),
                    sink: "fake".into(),
                    watch: "w".into(),
                    item_key: alert.item_key.clone(),
                    alert_json: serde_json::to_string(&alert).unwrap(),
                    canonical_link: None,
                }
            })
            .collect();
        let now = now_millis();
        store
            .commit_poll(&PollCommit {
                feed: "f".into(),
                config_url: "file:f".into(),
                now,
                next_poll_at: now,
                item_keys: (0..titles.len()).map(|i| format!("k{i}")).collect(),
                deliveries,
                repeat_window_ms: 0,
                ..Default::default()
            })
            .await
            .unwrap();
        store
    }

    async fn send_all(store: &SqliteStore, sink: &Fake, digest_after: usize) -> DrainReport {
        let mut pace = Pace {
            bucket: None,
            digest_after,
            progress: None,
        };
        let now = now_millis();
        let batch = store
            .claim_due("fake", now, now + 60_000, 100)
            .await
            .unwrap();
        let mut report = DrainReport::default();
        send_batch(
            store,
            sink,
            &mut pace,
            batch,
            Duration::from_secs(3600),
            &CancellationToken::new(),
            &mut report,
        )
        .await;
        report
    }

    #[tokio::test]
    async fn a_burst_goes_out_as_digests_and_a_refused_digest_one_by_one() {
        let titles = ["a", "b", "c", "d", "e", "bad", "g", "h", "i"];
        let store = store_with(&titles).await;
        let sink = Fake::default();
        let report = send_all(&store, &sink, 5).await;
        assert_eq!((report.sent, report.dead, report.retry), (8, 1, 0));
        let digests = sink.digests.lock().unwrap().clone();
        // a-d, then e/bad/g/h refused and sent alone, then i alone (one left is no digest).
        assert_eq!(digests.len(), 2);
        assert_eq!(digests[0].0, ["a", "b", "c", "d"]);
        assert_eq!(
            digests[0].1,
            digest_key(["key0", "key1", "key2", "key3"].into_iter())
        );
        assert_eq!(*sink.singles.lock().unwrap(), ["e", "bad", "g", "h", "i"]);
        let sum = store.outbox_summary().await.unwrap();
        assert_eq!((sum.sent, sum.dead, sum.pending), (8, 1, 0));
    }

    #[tokio::test]
    async fn few_alerts_go_one_by_one_and_a_retried_digest_comes_due_together() {
        let store = store_with(&["a", "b", "c"]).await;
        let sink = Fake::default();
        let report = send_all(&store, &sink, 5).await;
        assert_eq!(report.sent, 3);
        assert!(sink.digests.lock().unwrap().is_empty());

        let store = store_with(&["a", "b", "c", "d", "e", "f"]).await;
        *sink.busy.lock().unwrap() = true;
        let report = send_all(&store, &sink, 5).await;
        assert_eq!((report.sent, report.retry), (0, 4));
        // All four wait for the same time, no sooner than the hint; the rest was released.
        let rows = store.list_deliveries("pending", 10).await.unwrap();
        let mut retry_times: Vec<i64> = rows
            .iter()
            .filter(|r| r.attempts == 1)
            .map(|r| r.next_attempt_at)
            .collect();
        retry_times.dedup();
        assert_eq!(retry_times.len(), 1);
        assert!(retry_times[0] >= now_millis() + 59_000);
        assert_eq!(rows.iter().filter(|r| r.attempts == 0).count(), 2);
    }
}
