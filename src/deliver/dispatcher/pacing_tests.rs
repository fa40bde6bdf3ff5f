//! How one claimed batch is paced and cut short: the rate limit, concurrency, the lease, the
//! delivery age limit, unreadable rows and digest thresholds (the batch loop in `send.rs`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::health::Health;
use super::send::{DrainReport, Pace};
use super::tests::{Fake, Limits, commit, enqueue, enqueue_to, ok, run_batch, store_with};
use super::*;
use crate::deliver::alert::Alert;
use crate::deliver::rate::Rate;
use crate::deliver::sink::{SEND_LIMIT, SendError, SendFuture};
use crate::store::NewDelivery;
use crate::store::sqlite::SqliteStore;

/// A sink (no digests) that takes `delay` per send and records when each alert went out and
/// how many sends were in flight at once.
pub(super) struct Probe {
    pub delay: Duration,
    pub in_flight: AtomicUsize,
    pub most: AtomicUsize,
    pub sent: Mutex<Vec<(String, Instant)>>,
}

impl Probe {
    pub fn new(delay: Duration) -> Probe {
        Probe {
            delay,
            in_flight: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            sent: Mutex::new(Vec::new()),
        }
    }

    pub fn titles(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.0.clone())
            .collect()
    }
}

impl Sink for Probe {
    fn name(&self) -> &str {
        "fake"
    }

    fn send<'a>(&'a self, alert: &'a Alert, _key: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.sent
                .lock()
                .unwrap()
                .push((alert.title.clone(), Instant::now()));
            ok()
        })
    }
}

fn pace(concurrency: usize, bucket: Option<Bucket>) -> Pace {
    Pace {
        bucket,
        digest_after: 5,
        concurrency,
        beat: None,
    }
}

/// Claim every due delivery of "fake" and send it as one batch.
async fn send(
    store: &SqliteStore,
    sink: &dyn Sink,
    pace: Pace,
    max_age: Duration,
    lease: Duration,
) -> (DrainReport, Option<i64>) {
    send_limited(store, sink, pace, max_age, lease, SEND_LIMIT).await
}

/// [`send`], with each send cut at `send_limit`.
async fn send_limited(
    store: &SqliteStore,
    sink: &dyn Sink,
    mut pace: Pace,
    max_age: Duration,
    lease: Duration,
    send_limit: Duration,
) -> (DrainReport, Option<i64>) {
    let now = now_millis();
    let batch = store
        .claim_due("fake", now, now + ms(lease), 100)
        .await
        .unwrap();
    let limits = Limits {
        max_age,
        lease,
        send_limit,
    };
    let (mut health, mut hold) = (Health::default(), Hold::default());
    run_batch(
        store,
        sink,
        &mut pace,
        &mut health,
        &mut hold,
        batch,
        limits,
    )
    .await
}

const HOUR: Duration = Duration::from_secs(3600);

/// The rate limit was checked only by reading: a `ready` that never waits, or one that gives
/// up after its first wait, passed every test.
#[tokio::test]
async fn a_rate_limit_spaces_the_sends_of_a_batch() {
    let store = store_with(&["a", "b", "c"]).await;
    let sink = Probe::new(Duration::ZERO);
    let bucket = Bucket::new(Rate::new(1, Duration::from_millis(300)));
    let (report, pause) = send(&store, &sink, pace(1, Some(bucket)), HOUR, LEASE).await;
    assert_eq!((report.sent, pause), (3, None));
    let sent = sink.sent.lock().unwrap().clone();
    let spread = sent[2].1 - sent[0].1;
    assert!(
        spread >= Duration::from_millis(550),
        "3 sends at 1 per 300 ms took {spread:?}"
    );
}

/// Regression: a send launched was not run while the loop waited to launch the next one (the
/// rate limit, the database): the first of two sends at 1 per second started only when the
/// second could go. Its time limit runs from its launch, so it must make progress meanwhile.
#[tokio::test]
async fn a_send_in_flight_runs_while_the_next_launch_waits_for_the_rate_limit() {
    let store = store_with(&["a", "b"]).await;
    let sink = Probe::new(Duration::from_millis(50));
    let bucket = Bucket::new(Rate::new(1, Duration::from_secs(1)));
    let started = Instant::now();
    let (report, _) = send(&store, &sink, pace(2, Some(bucket)), HOUR, LEASE).await;
    assert_eq!(report.sent, 2);
    let sent = sink.sent.lock().unwrap().clone();
    assert_eq!(sent[0].0, "a");
    let first = sent[0].1 - started;
    assert!(
        first < Duration::from_millis(700),
        "the first send answered {first:?} after the launch, behind the second's wait"
    );
    assert!(sent[1].1 - started >= Duration::from_millis(950));
}

/// Regression: a launch put back because an answer came during its wait for the rate limit
/// had already taken its token, so each answer that came during a wait cost the sink a whole
/// interval: a webhook at 1 per second with room for two in flight sent at one per 2 s.
#[tokio::test]
async fn an_answer_during_the_wait_for_the_rate_limit_costs_no_token() {
    let store = store_with(&["a", "b", "c"]).await;
    let sink = Probe::new(Duration::from_millis(50));
    let bucket = Bucket::new(Rate::new(1, Duration::from_secs(1)));
    let started = Instant::now();
    let (report, _) = send(&store, &sink, pace(2, Some(bucket)), HOUR, LEASE).await;
    assert_eq!(report.sent, 3);
    let sent = sink.sent.lock().unwrap().clone();
    let last = sent[2].1 - started;
    assert!(
        (Duration::from_millis(1_950)..Duration::from_millis(3_000)).contains(&last),
        "the third of three sends at 1 per second answered after {last:?}"
    );
}

/// A sink whose every send fails at once (its receiver down), counting the sends.
#[derive(Default)]
struct Down {
    sends: AtomicUsize,
}

impl Sink for Down {
    fn name(&self) -> &str {
        "fake"
    }

    fn send<'a>(&'a self, _alert: &'a Alert, _key: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            self.sends.fetch_add(1, Ordering::SeqCst);
            Err(SendError::retryable("connection refused"))
        })
    }
}

/// Regression: answers that came while the next launch waited (for the database, here the
/// stored key of each first attempt) were recorded only once the loop stopped launching, and
/// a slot freed by each failure let it go on: a receiver that was down got the whole batch
/// (12 sends at a concurrency of 4) before its first failure paused the sink.
#[tokio::test]
async fn a_receiver_that_is_down_gets_no_more_than_one_round_of_sends() {
    let titles: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
    let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
    let store = store_with(&titles).await;
    let sink = Down::default();
    let (report, pause) = send(&store, &sink, pace(4, None), HOUR, LEASE).await;
    let sends = sink.sends.load(Ordering::SeqCst);
    // At most the first round: an answer that comes while the next send is being launched
    // stops that launch, and the failure pauses the sink.
    assert!(
        sends <= 4,
        "{sends} sends to a receiver that is down, at a concurrency of 4"
    );
    assert_eq!(report.retry, sends);
    assert!(pause.is_some(), "a failure pauses the sink");
}

/// Regression: a failure that came while the next launch waited for the rate limit was
/// recorded only after that launch, so a receiver that was down got one more send, against
/// the failure's pause. The launch waits for the answer's record now, which pauses the sink.
#[tokio::test]
async fn a_failure_during_the_next_launchs_wait_stops_that_launch() {
    let store = store_with(&["a", "b", "c"]).await;
    let sink = Down::default();
    // The first send goes at once and fails at once; the second waits 200 ms for a token.
    let bucket = Bucket::new(Rate::new(1, Duration::from_millis(200)));
    let (report, pause) = send(&store, &sink, pace(4, Some(bucket)), HOUR, LEASE).await;
    assert_eq!(
        sink.sends.load(Ordering::SeqCst),
        1,
        "only the first went out"
    );
    assert_eq!(report.retry, 1);
    assert!(pause.is_some(), "the failure pauses the sink");
}

/// Every test ran with one send in flight: a loop that launched past `concurrency` (or not up
/// to it) passed them all.
#[tokio::test]
async fn webhooks_send_up_to_their_concurrency_and_chat_sinks_one_at_a_time() {
    let titles = ["a", "b", "c", "d", "e", "f"];
    let store = store_with(&titles).await;
    let chat = Probe::new(Duration::from_millis(50));
    let (report, pause) = send(&store, &chat, pace(1, None), HOUR, LEASE).await;
    assert_eq!(
        (report.sent, pause),
        (6, None),
        "a batch sent whole asks for no pause"
    );
    assert_eq!(chat.most.load(Ordering::SeqCst), 1);
    assert_eq!(chat.titles(), titles, "one at a time, in outbox order");

    let store = store_with(&titles).await;
    let hook = Probe::new(Duration::from_millis(200));
    let (report, _) = send(&store, &hook, pace(3, None), HOUR, LEASE).await;
    assert_eq!(report.sent, 6);
    assert_eq!(hook.most.load(Ordering::SeqCst), 3);
}

/// A batch must not outlive its claim: once half the lease is spent, nothing more is launched
/// and the rest is released for the next claim at once (not left leased).
#[tokio::test]
async fn half_a_lease_spent_sending_stops_the_batch_and_releases_the_rest() {
    let store = store_with(&["a", "b", "c"]).await;
    let sink = Probe::new(Duration::from_millis(1000));
    let lease = Duration::from_millis(3000);
    let (report, _) = send(&store, &sink, pace(1, None), HOUR, lease).await;
    // a at 0 s, b at 1 s; c would start at 2 s, past half the 3 s lease.
    assert_eq!(sink.titles(), ["a", "b"]);
    assert_eq!((report.sent, report.retry, report.dead), (2, 0, 0));
    let now = now_millis();
    let again = store.claim_due("fake", now, now + 1000, 100).await.unwrap();
    assert_eq!(
        again.len(),
        1,
        "the unsent delivery is claimable again at once"
    );
}

/// `max_delivery_age` was tested end to end only, where a breakage that never gives up (or
/// gives up at once) is hard to tell from a slow receiver.
#[tokio::test]
async fn a_failing_delivery_older_than_max_age_is_dead_and_a_younger_one_retried() {
    let store = SqliteStore::in_memory().await.unwrap();
    let now = now_millis();
    enqueue_to(&store, "fake", &["old"], 0, now - 2 * ms(HOUR)).await;
    let sink = Fake::default();
    *sink.down.lock().unwrap() = true;
    let (report, pause) = send(&store, &sink, pace(1, None), HOUR, LEASE).await;
    assert_eq!((report.dead, report.retry), (1, 0));
    assert_eq!(pause, None, "a dead letter does not pause the sink");
    let dead = store.list_deliveries("dead", 10).await.unwrap();
    let error = dead[0].last_error.clone().unwrap_or_default();
    assert!(error.starts_with("gave up after 1 attempts"), "{error}");

    enqueue_to(&store, "fake", &["young"], 1, now_millis() - ms(HOUR) / 2).await;
    let (report, pause) = send(&store, &sink, pace(1, None), HOUR, LEASE).await;
    assert_eq!((report.dead, report.retry), (0, 1));
    assert!(pause.is_some());
}

/// Regression: a unit that failed was given up when its *oldest* row passed `max_age`: a
/// digest formed after a pause holds alerts queued hours apart, and the young ones died with
/// the old ones, hours before their own `max_delivery_age`. Each row is judged by its age.
#[tokio::test]
async fn a_failing_digest_gives_up_only_its_rows_older_than_max_age() {
    let store = SqliteStore::in_memory().await.unwrap();
    let now = now_millis();
    enqueue_to(
        &store,
        "fake",
        &["old1", "old2", "old3"],
        0,
        now - 2 * ms(HOUR),
    )
    .await;
    enqueue_to(
        &store,
        "fake",
        &["new1", "new2", "new3"],
        3,
        now - ms(HOUR) / 2,
    )
    .await;
    let sink = Fake::default();
    *sink.busy.lock().unwrap() = true;
    let (report, _) = send(&store, &sink, pace(1, None), HOUR, LEASE).await;
    let first = sink.digests.lock().unwrap()[0].0.clone();
    assert_eq!(
        first,
        ["old1", "old2", "old3", "new1"],
        "one digest of old and new"
    );
    assert_eq!(report.dead, 3, "{report:?}");
    let queued_at = |state: &'static str| {
        let store = &store;
        async move {
            let rows = store.list_deliveries(state, 10).await.unwrap();
            rows.iter().map(|d| d.created_at).collect::<Vec<_>>()
        }
    };
    assert_eq!(queued_at("dead").await, [now - 2 * ms(HOUR); 3]);
    assert_eq!(
        queued_at("pending").await,
        [now - ms(HOUR) / 2; 3],
        "the young alerts wait for their retry"
    );
    // Regression (review): the rows that died kept the digest's key, so revived after the
    // digest went out without them (and its sent rows were pruned, by which `retry_dead`
    // would tell), they went under that key and a platform that keeps keys answered with the
    // message already sent. They die under their own keys; the one retried keeps the digest's.
    let keys: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT state, idem_key, group_key FROM deliveries ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    for (state, idem, group) in &keys[..3] {
        assert_eq!(
            (state.as_str(), group.as_deref()),
            ("dead", Some(idem.as_str()))
        );
    }
    let digest = keys[3].2.clone();
    assert!(
        digest.is_some() && digest != Some(keys[3].1.clone()),
        "{keys:?}"
    );
}

/// A row whose stored alert cannot be read is a dead letter, counted, and the others go out.
#[tokio::test]
async fn an_unreadable_stored_alert_is_a_dead_letter_at_once() {
    let store = store_with(&["a"]).await;
    let broken = NewDelivery {
        idem_key: "broken".into(),
        sink: "fake".into(),
        watch: "w".into(),
        item_key: "broken".into(),
        alert_json: "{not json".into(),
        canonical_link: None,
    };
    commit(&store, vec!["broken".into()], vec![broken], now_millis()).await;
    enqueue(&store, &["b"], 1).await;
    let sink = Fake::default();
    let (report, _) = send(&store, &sink, pace(1, None), HOUR, LEASE).await;
    assert_eq!((report.sent, report.dead), (2, 1));
    let dead = store.list_deliveries("dead", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].idem_key, "broken");
}

/// A burst is *more* than `digest_after` alerts: exactly that many go one by one.
#[tokio::test]
async fn exactly_digest_after_alerts_go_one_by_one() {
    let store = store_with(&["a", "b", "c", "d", "e"]).await;
    let sink = Fake::default();
    let (report, _) = send(&store, &sink, pace(1, None), HOUR, LEASE).await;
    assert_eq!(report.sent, 5);
    assert!(sink.digests.lock().unwrap().is_empty());
    assert_eq!(sink.singles.lock().unwrap().len(), 5);

    let store = SqliteStore::in_memory().await.unwrap();
    enqueue_to(
        &store,
        "fake",
        &["a", "b", "c", "d", "e", "f"],
        0,
        now_millis(),
    )
    .await;
    let sink = Fake::default();
    let (report, _) = send(&store, &sink, pace(1, None), HOUR, LEASE).await;
    assert_eq!(report.sent, 6);
    // a-d, then e-f: digests of 4 and 2.
    assert_eq!(sink.digests.lock().unwrap().len(), 2);
}

/// A send that never answered held its batch, its worker and a stop for good (the one-request
/// timeout does not cover a platform's announced wait, a resend or a sink's own loop): it is
/// cut at the send limit and retried later under the same key.
#[tokio::test]
async fn a_send_that_never_ends_is_cut_at_the_send_limit_and_retried() {
    let store = store_with(&["hangs"]).await;
    let sink = Hangs::default();
    let started = Instant::now();
    let (report, _) = send_limited(
        &store,
        &sink,
        pace(1, None),
        HOUR,
        LEASE,
        // Long enough that recording the start (an SQLite write, under load) never takes
        // half of it: that gives the unit back instead of sending it.
        Duration::from_secs(1),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!((report.sent, report.retry, report.dead), (0, 1, 0));
    assert_eq!(sink.keys.lock().unwrap().len(), 1);
    let pending = store.list_deliveries("pending", 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    let hung = &pending[0];
    assert_eq!(hung.attempts, 1);
    assert!(
        hung.last_error
            .as_deref()
            .unwrap()
            .contains("no answer within 1 s")
    );
    assert!(
        hung.next_attempt_at > now_millis(),
        "retried later, not at once"
    );
}

/// A worker's beat moved only while it waited: a batch of slow sends back to back (each up
/// to the send limit) looked stuck to the watchdog, which stopped its pings and had systemd
/// kill the daemon in the middle of a send.
#[tokio::test]
async fn a_worker_beats_whenever_a_send_answers() {
    let beats = beats_sending(&["a", "b", "c", "d"], Duration::from_millis(20)).await;
    assert!(beats >= 4, "{beats} beats for 4 sends");
}

/// Send `titles` through a [`Probe`] taking `delay` per send, one at a time; every send must
/// succeed. Returns how often the worker's beat moved.
async fn beats_sending(titles: &[&str], delay: Duration) -> u64 {
    let store = store_with(titles).await;
    let sink = Probe::new(delay);
    let beat = crate::ops::liveness::Liveness::default().register("sink:fake");
    let mut p = pace(1, None);
    p.beat = Some(beat.clone());
    let (report, _) = send(&store, &sink, p, HOUR, LEASE).await;
    assert_eq!(report.sent, titles.len());
    beat.get()
}

/// The same while one slow send is in flight (a send may take up to the send limit, longer
/// than the watchdog's stall limit): the worker beats every tick it waits.
#[tokio::test]
async fn a_worker_beats_while_a_slow_send_is_in_flight() {
    let beats = beats_sending(&["a"], Duration::from_millis(2_500)).await;
    assert!(beats >= 3, "{beats} beats for one 2.5 s send");
}

/// A stop waits `shutdown_grace` for the sends in flight: shorter than one send, it cut a
/// send off halfway, and the next start sent it again.
#[test]
fn the_default_shutdown_grace_outlasts_any_one_send() {
    use crate::deliver::{chat::WAIT_IN_SEND, http::TIMEOUT, telegram::CALLS};
    // The longest sends: Telegram's three requests, and a request after an announced wait.
    assert!(SEND_LIMIT >= TIMEOUT * CALLS, "{SEND_LIMIT:?}");
    assert!(SEND_LIMIT >= WAIT_IN_SEND + TIMEOUT * 2, "{SEND_LIMIT:?}");
    let grace = crate::config::DaemonPlan::default().shutdown_grace;
    assert!(grace > SEND_LIMIT, "{grace:?} <= {SEND_LIMIT:?}");
    // systemd waits longer than the grace before it kills the daemon.
    for (unit, stop) in crate::daemon::unit_durations("TimeoutStopSec") {
        assert!(
            stop > grace,
            "{unit}: TimeoutStopSec={stop:?} is not above {grace:?}"
        );
    }
}

/// A sink that never answers alerts titled "hangs"; it records the key of every send.
#[derive(Default)]
struct Hangs {
    keys: Mutex<Vec<String>>,
}

impl Sink for Hangs {
    fn name(&self) -> &str {
        "fake"
    }

    fn send<'a>(&'a self, alert: &'a Alert, key: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            self.keys.lock().unwrap().push(key.to_string());
            if alert.title == "hangs" {
                std::future::pending::<()>().await;
            }
            ok()
        })
    }
}

/// The store clamps claims and send marks written by a clock that ran ahead to
/// [`crate::store::MAX_CLAIM`] at start: a real one must never reach it, or a claim of a
/// running instance would be cut short.
#[test]
fn claims_and_send_marks_stay_within_what_the_store_keeps_at_start() {
    use super::send::{LEASE, SEND_MARK_MARGIN, ms};
    use crate::store::MAX_CLAIM;
    assert!(ms(LEASE) < MAX_CLAIM, "{LEASE:?}");
    assert!(
        ms(SEND_LIMIT + SEND_MARK_MARGIN) < MAX_CLAIM,
        "{SEND_LIMIT:?}"
    );
}
