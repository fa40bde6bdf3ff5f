//! Dispatcher tests against an in-memory store and a scriptable fake sink.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::health::Health;
use super::outbox::Outbox;
use super::send::{BatchContext, DrainReport, LEASE, Pace, send_batch};
use super::*;
use crate::deliver::alert::Alert;
use crate::deliver::digest::{Digest, digest_key};
use crate::deliver::sink::{SendError, SendFuture, SendOk};
use crate::store::sqlite::SqliteStore;
use crate::store::{Delivery, NewDelivery, PollCommit};

/// A sink that carries up to four alerts per digest, refuses any digest or alert titled
/// "bad", answers 500 to any alert titled "poison", and can be told to answer "retry later"
/// or to fail everything.
#[derive(Default)]
pub(super) struct Fake {
    pub digests: Mutex<Vec<(Vec<String>, String)>>,
    pub singles: Mutex<Vec<(String, String)>>,
    pub busy: Mutex<bool>,
    pub down: Mutex<bool>,
}

impl Fake {
    /// The titles of the alerts sent one by one, in order.
    pub(super) fn single_titles(&self) -> Vec<String> {
        self.singles
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.0.clone())
            .collect()
    }
}

pub(super) fn ok() -> Result<SendOk, SendError> {
    Ok(SendOk {
        status: Some(200),
        ..SendOk::default()
    })
}

impl Sink for Fake {
    fn name(&self) -> &str {
        "fake"
    }

    fn send<'a>(&'a self, alert: &'a Alert, key: &'a str) -> SendFuture<'a> {
        self.singles
            .lock()
            .unwrap()
            .push((alert.title.clone(), key.to_string()));
        let title = alert.title.clone();
        let down = *self.down.lock().unwrap();
        Box::pin(async move {
            match title.as_str() {
                "bad" => Err(SendError::permanent("HTTP 400")),
                _ if down => Err(SendError::retryable("HTTP 503")),
                "poison" => Err(SendError::retryable("HTTP 500")),
                _ => ok(),
            }
        })
    }

    fn digests(&self) -> bool {
        true
    }

    fn digest_fit(&self, d: &Digest) -> usize {
        d.items().len().clamp(1, 4)
    }

    fn send_digest<'a>(&'a self, d: &'a Digest<'a>, key: &'a str) -> SendFuture<'a> {
        let titles: Vec<String> = d.items().iter().map(|a| a.title.clone()).collect();
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
                ok()
            }
        })
    }
}

pub(super) async fn enqueue(store: &SqliteStore, titles: &[&str], from: usize) {
    enqueue_to(store, "fake", titles, from, now_millis()).await;
}

/// Queue alerts titled `titles` for `sink`, as found by a poll at `now`; keys count from `from`.
pub(super) async fn enqueue_to(
    store: &SqliteStore,
    sink: &str,
    titles: &[&str],
    from: usize,
    now: i64,
) {
    enqueue_on(store, sink, titles, from, now).await;
}

/// [`enqueue_to`] on any store.
pub(super) async fn enqueue_on(
    store: &impl Store,
    sink: &str,
    titles: &[&str],
    from: usize,
    now: i64,
) {
    let mut alert = crate::deliver::template::sample_alert();
    let deliveries = titles
        .iter()
        .enumerate()
        .map(|(i, t)| {
            alert.title = t.to_string();
            alert.item_key = format!("k{}", from + i);
            NewDelivery {
                idem_key: format!("key{}", from + i),
                sink: sink.into(),
                watch: "w".into(),
                item_key: alert.item_key.clone(),
                alert_json: serde_json::to_string(&alert).unwrap(),
                canonical_link: None,
            }
        })
        .collect();
    let item_keys = (from..from + titles.len())
        .map(|i| format!("k{i}"))
        .collect();
    commit(store, item_keys, deliveries, now).await;
}

/// Store `deliveries` as found by a poll of feed "f" at `now` that saw `item_keys` (its
/// lease taken first, for a store of several instances).
pub(super) async fn commit(
    store: &impl Store,
    item_keys: Vec<String>,
    deliveries: Vec<NewDelivery>,
    now: i64,
) {
    let claim = crate::store::lease::FeedClaim {
        feed: "f",
        config_url: "file:f",
        host: "f",
    };
    let granted = store.claim_feeds(&[claim], now, 8).await.unwrap();
    assert_eq!(granted, [crate::store::lease::Claim::Granted]);
    store
        .commit_poll(&PollCommit {
            feed: "f".into(),
            config_url: "file:f".into(),
            now,
            next_poll_at: now,
            item_keys,
            deliveries,
            repeat_window_ms: 0,
            ..Default::default()
        })
        .await
        .unwrap();
}

pub(super) async fn store_with(titles: &[&str]) -> SqliteStore {
    let store = SqliteStore::in_memory().await.unwrap();
    enqueue(&store, titles, 0).await;
    store
}

/// Claim everything due by `at` (retries included when `at` is in the future) and send it.
async fn send_due(
    store: &SqliteStore,
    sink: &Fake,
    health: &mut Health,
    at: i64,
) -> (DrainReport, Option<i64>) {
    let batch = store.claim_due("fake", at, at + 60_000, 100).await.unwrap();
    send_claimed(store, sink, health, batch, 5).await
}

/// Send a claimed `batch` through `store`, one unit in flight, digests from more than
/// `digest_after` alerts, no rate limit, an hour's `max_age`.
pub(super) async fn send_claimed<S: Outbox>(
    store: &S,
    sink: &dyn Sink,
    health: &mut Health,
    batch: Vec<Delivery>,
    digest_after: usize,
) -> (DrainReport, Option<i64>) {
    let mut hold = Hold::default();
    send_claimed_holding(store, sink, health, &mut hold, batch, digest_after).await
}

/// [`send_claimed`] with the sink's lease as `hold` says.
pub(super) async fn send_claimed_holding<S: Outbox>(
    store: &S,
    sink: &dyn Sink,
    health: &mut Health,
    hold: &mut Hold,
    batch: Vec<Delivery>,
    digest_after: usize,
) -> (DrainReport, Option<i64>) {
    let mut pace = Pace {
        bucket: None,
        digest_after,
        concurrency: 1,
        beat: None,
    };
    let limits = Limits::default();
    run_batch(store, sink, &mut pace, health, hold, batch, limits).await
}

/// The value of sample `name` in a Prometheus rendering.
pub(super) fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// The time limits of a batch in a test.
pub(super) struct Limits {
    pub max_age: Duration,
    pub lease: Duration,
    pub send_limit: Duration,
}

impl Default for Limits {
    /// An hour's `max_age`, the usual claim and send limit.
    fn default() -> Limits {
        Limits {
            max_age: Duration::from_secs(3600),
            lease: LEASE,
            send_limit: crate::deliver::sink::SEND_LIMIT,
        }
    }
}

/// Send a claimed `batch` through `store` as `pace`, `hold` and `limits` say.
pub(super) async fn run_batch<S: Outbox>(
    store: &S,
    sink: &dyn Sink,
    pace: &mut Pace,
    health: &mut Health,
    hold: &mut Hold,
    batch: Vec<Delivery>,
    limits: Limits,
) -> (DrainReport, Option<i64>) {
    let mut report = DrainReport::default();
    let token = CancellationToken::new();
    let cx = BatchContext {
        store,
        sink,
        max_age: limits.max_age,
        lease: limits.lease,
        send_limit: limits.send_limit,
        token: &token,
    };
    let pause = send_batch(&cx, pace, health, hold, batch, &mut report).await;
    (report, pause)
}

async fn send_all(store: &SqliteStore, sink: &Fake) -> DrainReport {
    send_due(store, sink, &mut Health::default(), now_millis())
        .await
        .0
}

const LATER: i64 = 3_600_000;

#[tokio::test]
async fn a_burst_goes_out_as_digests_and_a_refused_digest_one_by_one() {
    let titles = ["a", "b", "c", "d", "e", "bad", "g", "h", "i"];
    let store = store_with(&titles).await;
    let sink = Fake::default();
    let report = send_all(&store, &sink).await;
    assert_eq!((report.sent, report.dead, report.retry), (8, 1, 0));
    let digests = sink.digests.lock().unwrap().clone();
    // a-d, then e/bad/g/h refused and sent alone, then i alone (one left is no digest).
    assert_eq!(digests.len(), 2);
    assert_eq!(digests[0].0, ["a", "b", "c", "d"]);
    assert_eq!(
        digests[0].1,
        digest_key(["key0", "key1", "key2", "key3"].into_iter())
    );
    assert_eq!(sink.single_titles(), ["e", "bad", "g", "h", "i"]);
    let sum = store.outbox_summary().await.unwrap();
    assert_eq!((sum.sent, sum.dead, sum.pending), (8, 1, 0));
}

/// Regression (review of upgrades): an alert a release before the outbox's groups had tried
/// (attempts counted, no key stored) was folded into a digest after the upgrade, under a new
/// key: had its try reached the platform, a receiver dropping repeats by key (Matrix's
/// transaction id, the webhook's idempotency key) showed it twice. It goes alone, under its
/// own key; the others still make a digest.
#[tokio::test]
async fn an_alert_tried_before_the_upgrade_goes_alone_under_its_own_key() {
    let store = store_with(&["a", "b", "c", "d", "e", "f", "g"]).await;
    sqlx::query("UPDATE deliveries SET attempts = 1 WHERE idem_key = 'key2'")
        .execute(store.pool())
        .await
        .unwrap();
    let sink = Fake::default();
    let report = send_all(&store, &sink).await;
    assert_eq!(report.sent, 7);
    assert_eq!(*sink.singles.lock().unwrap(), [("c".into(), "key2".into())]);
    let digests: Vec<Vec<String>> = sink
        .digests
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.0.clone())
        .collect();
    assert_eq!(digests, [vec!["a", "b", "d", "e"], vec!["f", "g"]]);
}

#[tokio::test]
async fn few_alerts_go_one_by_one_and_a_retried_digest_comes_due_together() {
    let store = store_with(&["a", "b", "c"]).await;
    let sink = Fake::default();
    let report = send_all(&store, &sink).await;
    assert_eq!(report.sent, 3);
    assert!(sink.digests.lock().unwrap().is_empty());

    let store = store_with(&["a", "b", "c", "d", "e", "f"]).await;
    *sink.busy.lock().unwrap() = true;
    let report = send_all(&store, &sink).await;
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

/// Regression: the digest group and key were recomputed for every claimed batch, so a digest
/// retried after a timeout (with alert 9 arrived meanwhile) reached the receiver again under
/// a new key, with other alerts in it.
#[tokio::test]
async fn a_retried_digest_is_the_same_group_under_the_same_key() {
    let store = store_with(&["a", "b", "c", "d", "e", "f"]).await;
    let sink = Fake::default();
    *sink.busy.lock().unwrap() = true;
    let mut health = Health::default();
    send_due(&store, &sink, &mut health, now_millis()).await;
    let first = sink.digests.lock().unwrap()[0].clone();
    assert_eq!(first.0, ["a", "b", "c", "d"]);
    // More news arrives while the digest waits for its retry.
    enqueue(&store, &["g", "h", "i"], 6).await;
    *sink.busy.lock().unwrap() = false;
    let (report, _) = send_due(&store, &sink, &mut health, now_millis() + LATER).await;
    assert_eq!(report.sent, 9);
    let digests = sink.digests.lock().unwrap().clone();
    assert_eq!(
        digests[1], first,
        "the retry is the same digest under the same key"
    );
    // The others form digests of their own; none holds a-d again.
    for (titles, key) in &digests[2..] {
        assert_ne!(key, &first.1);
        assert!(
            titles
                .iter()
                .all(|t| !["a", "b", "c", "d"].contains(&t.as_str()))
        );
    }
    let sum = store.outbox_summary().await.unwrap();
    assert_eq!((sum.sent, sum.pending), (9, 0));
}

/// Regression: an alert whose lone send timed out could later be folded into a digest, and
/// reach the receiver twice under two keys.
#[tokio::test]
async fn an_alert_attempted_alone_is_never_folded_into_a_digest() {
    let store = store_with(&["x"]).await;
    let sink = Fake::default();
    *sink.down.lock().unwrap() = true;
    send_due(&store, &sink, &mut Health::default(), now_millis()).await;
    assert_eq!(*sink.singles.lock().unwrap(), [("x".into(), "key0".into())]);
    // A burst arrives before the retry; the receiver is back.
    enqueue(&store, &["b", "c", "d", "e", "f", "g"], 1).await;
    let back = Fake::default();
    let (report, _) = send_due(&store, &back, &mut Health::default(), now_millis() + LATER).await;
    assert_eq!(report.sent, 7);
    // x goes alone again, under its own key; the burst is digested without it.
    assert_eq!(*back.singles.lock().unwrap(), [("x".into(), "key0".into())]);
    let digests = back.digests.lock().unwrap().clone();
    assert_eq!(digests.len(), 2, "{digests:?}");
    for (titles, _) in &digests {
        assert!(!titles.contains(&"x".to_string()), "{titles:?}");
    }
}

/// Regression: claims were `ORDER BY id` and every retryable failure paused the sink, so one
/// alert the receiver answers 500 to held every later alert until it became a dead letter.
#[tokio::test]
async fn one_poison_alert_does_not_stall_the_sink() {
    let store = store_with(&["poison", "a", "b", "c"]).await;
    let sink = Fake::default();
    let mut health = Health::default();
    let mut at = now_millis();
    let mut rounds = 0;
    while store.outbox_summary().await.unwrap().sent < 3 {
        rounds += 1;
        assert!(
            rounds <= 3,
            "the queue did not move on after 3 failures of one alert"
        );
        let (_, pause) = send_due(&store, &sink, &mut health, at).await;
        if rounds < 3 {
            assert!(
                pause.is_some(),
                "round {rounds}: a first failure pauses the sink"
            );
        }
        at += LATER;
    }
    let sum = store.outbox_summary().await.unwrap();
    assert_eq!((sum.sent, sum.pending, sum.dead), (3, 1, 0));
    // The poison alert keeps its own growing backoff.
    let rows = store.list_deliveries("pending", 10).await.unwrap();
    assert_eq!(rows[0].attempts, 3);
}

#[tokio::test]
async fn an_outage_pauses_the_sink_after_two_alerts_fail() {
    let store = store_with(&["a", "b", "c"]).await;
    let sink = Fake::default();
    *sink.down.lock().unwrap() = true;
    let mut health = Health::default();
    let mut at = now_millis();
    for _ in 0..5 {
        let (report, pause) = send_due(&store, &sink, &mut health, at).await;
        // At most one alert, and one probe after an alert that failed 3 times, per pause: a
        // down receiver is not hammered.
        assert!(report.retry <= 2, "{report:?}");
        assert!(pause.is_some());
        at += LATER;
    }
}

/// A sink that panics on its first send, then delivers.
struct Flaky {
    calls: AtomicUsize,
    sent: Arc<Mutex<Vec<String>>>,
}

impl Sink for Flaky {
    fn name(&self) -> &str {
        "fake"
    }

    fn send<'a>(&'a self, alert: &'a Alert, _key: &'a str) -> SendFuture<'a> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        assert!(n > 0, "a sink bug on a hostile alert");
        self.sent.lock().unwrap().push(alert.title.clone());
        Box::pin(async { ok() })
    }
}

/// Regression: a delivery worker that panicked vanished while the dispatcher still listed
/// it; its sink's alerts waited forever, and the watchdog (one shared counter) did not see it.
#[tokio::test]
async fn a_panicking_delivery_worker_is_restarted() {
    let store = Arc::new(store_with(&["a", "b"]).await);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let flaky = Arc::new(Flaky {
        calls: AtomicUsize::new(0),
        sent: sent.clone(),
    });
    let factory: SinkFactory = {
        let flaky = flaky.clone();
        Arc::new(move |_, _, _| Ok(flaky.clone() as Arc<dyn Sink>))
    };
    let client = reqwest::Client::new();
    let d = Arc::new(
        Dispatcher::new(store.clone(), client, Arc::new(Notify::new())).with_factory(factory),
    );
    let plan = crate::plan::load_str(
        std::path::Path::new("t.toml"),
        "[[sink]]\nname = \"fake\"\ntype = \"stdout\"\n".into(),
    )
    .unwrap();
    let (_tx, rx) = watch::channel(Arc::new(plan));
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    tracker.spawn(d.clone().run(rx, token.clone(), tracker.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sent.lock().unwrap().len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*sent.lock().unwrap(), ["a", "b"]);
    // The restarted worker is still watched, under its own beat.
    assert_eq!(d.liveness.snapshot()[0].0, "sink:fake");
    token.cancel();
    tracker.close();
    tracker.wait().await;
    assert!(d.liveness.snapshot().is_empty());
}

/// A sink that answers "retry in 2 s" and notes when (µs since the epoch) it answered.
#[derive(Default)]
struct Hinting {
    answered_us: Mutex<i64>,
}

impl Sink for Hinting {
    fn name(&self) -> &str {
        "fake"
    }

    fn send<'a>(&'a self, _: &'a Alert, _: &'a str) -> SendFuture<'a> {
        *self.answered_us.lock().unwrap() = chrono::Utc::now().timestamp_micros();
        Box::pin(async {
            Err(SendError::Retryable {
                message: "HTTP 429".into(),
                retry_after: Some(Duration::from_secs(2)),
            })
        })
    }
}

/// Regression: the retry time was the answer's time truncated to the millisecond plus the
/// hint, so a receiver that said "retry after 2 s" was asked again up to 1 ms sooner.
#[tokio::test]
async fn a_retry_after_hint_is_never_cut_short_by_millisecond_rounding() {
    for round in 0..20 {
        let store = store_with(&["a"]).await;
        let sink = Hinting::default();
        let batch = store
            .claim_due("fake", now_millis(), now_millis() + 60_000, 10)
            .await
            .unwrap();
        let (report, _) = send_claimed(&store, &sink, &mut Health::default(), batch, 5).await;
        assert_eq!(report.retry, 1);
        let rows = store.list_deliveries("pending", 10).await.unwrap();
        let answered = *sink.answered_us.lock().unwrap();
        assert!(
            rows[0].next_attempt_at * 1000 >= answered + 2_000_000,
            "round {round}: retry at {} ms, answered at {answered} µs",
            rows[0].next_attempt_at
        );
    }
}
