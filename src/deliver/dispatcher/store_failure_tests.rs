//! What the batch loop does when the store fails: a stand-in store around the real SQLite one
//! fails the calls a test names. `SqliteStore` cannot be made to fail on demand, so these
//! paths had no test, and the waits they set could have been anything. Also what it records
//! in the metrics, read from a recorder local to the test.

use std::collections::HashSet;
use std::sync::Mutex;

use super::health::Health;
use super::outbox::Outbox;
use super::send::{DrainReport, LEASE, TICK, ms};
use super::tests::{Fake, Limits, run_batch, send_claimed, send_claimed_holding, store_with};
use super::*;
use crate::store::StoreError;
use crate::store::lease::SinkHold;
use crate::store::sqlite::SqliteStore;

/// The real store, except that the [`Outbox`] calls named in `failing` fail.
struct Failing {
    inner: SqliteStore,
    failing: HashSet<&'static str>,
    /// Every call made, failed or not, in order.
    calls: Mutex<Vec<&'static str>>,
    /// How many more times `hold_sink` grants the lease (for a millisecond, so the next
    /// launch asks again) before another instance has it; `None`: always held.
    holds_left: Mutex<Option<usize>>,
    /// `begin_send` answers false: another instance took the rows (PostgreSQL).
    marks_refused: Mutex<bool>,
    /// How long `begin_send` takes (a database struggling).
    start_delay: Mutex<Duration>,
    /// Another instance claims every row before a failure is recorded (it took the sink
    /// over while the send was in flight).
    claimed_elsewhere: Mutex<bool>,
}

impl Failing {
    fn new(inner: SqliteStore, failing: &[&'static str]) -> Failing {
        Failing {
            inner,
            failing: failing.iter().copied().collect(),
            calls: Mutex::new(Vec::new()),
            holds_left: Mutex::new(None),
            marks_refused: Mutex::new(false),
            start_delay: Mutex::new(Duration::ZERO),
            claimed_elsewhere: Mutex::new(false),
        }
    }

    /// Claim every row again, as a taker would once the claim ran out.
    async fn claim_elsewhere(&self) {
        if *self.claimed_elsewhere.lock().unwrap() {
            let later = now_millis() + 10 * ms(LEASE);
            self.inner
                .claim_due("fake", later, later + ms(LEASE), 100)
                .await
                .unwrap();
        }
    }

    /// The sink's lease passes to another instance after `n` more renewals.
    fn lease_lost_after(self, n: usize) -> Failing {
        *self.holds_left.lock().unwrap() = Some(n);
        self
    }

    /// Note the call; an error if it is one that fails.
    fn call(&self, name: &'static str) -> Result<(), StoreError> {
        self.calls.lock().unwrap().push(name);
        if self.failing.contains(name) {
            Err(StoreError::Db(sqlx::Error::Protocol(format!(
                "{name} fails in this test"
            ))))
        } else {
            Ok(())
        }
    }
}

impl Outbox for Failing {
    async fn begin_send(
        &self,
        sink: &str,
        ids: &[i64],
        key: Option<&str>,
        claim: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.call("begin_send")?;
        let delay = *self.start_delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        if *self.marks_refused.lock().unwrap() {
            return Ok(false);
        }
        Outbox::begin_send(&self.inner, sink, ids, key, claim, until).await
    }

    async fn mark_sent(&self, ids: &[i64], now: i64) -> Result<(), StoreError> {
        self.call("mark_sent")?;
        Outbox::mark_sent(&self.inner, ids, now).await
    }

    async fn mark_quiet(&self, ids: &[i64], now: i64) -> Result<(), StoreError> {
        self.call("mark_sent")?;
        Outbox::mark_quiet(&self.inner, ids, now).await
    }

    async fn mark_sent_ref(&self, id: i64, now: i64, message_ref: &str) -> Result<(), StoreError> {
        self.call("mark_sent")?;
        Outbox::mark_sent_ref(&self.inner, id, now, message_ref).await
    }

    async fn sent_updates(&self, story_key: &str) -> Result<Vec<String>, StoreError> {
        self.call("sent_updates")?;
        Outbox::sent_updates(&self.inner, story_key).await
    }

    async fn mark_retry(
        &self,
        ids: &[i64],
        error: &str,
        at: i64,
        claim: i64,
    ) -> Result<bool, StoreError> {
        self.call("mark_retry")?;
        self.claim_elsewhere().await;
        Outbox::mark_retry(&self.inner, ids, error, at, claim).await
    }

    async fn mark_dead(
        &self,
        ids: &[i64],
        error: &str,
        now: i64,
        claim: i64,
    ) -> Result<bool, StoreError> {
        self.call("mark_dead")?;
        self.claim_elsewhere().await;
        Outbox::mark_dead(&self.inner, ids, error, now, claim).await
    }

    async fn mark_dead_apart(
        &self,
        ids: &[i64],
        error: &str,
        now: i64,
        claim: i64,
    ) -> Result<bool, StoreError> {
        self.call("mark_dead")?;
        self.claim_elsewhere().await;
        Outbox::mark_dead_apart(&self.inner, ids, error, now, claim).await
    }

    async fn release(&self, ids: &[i64], claim: i64) -> Result<(), StoreError> {
        self.call("release")?;
        Outbox::release(&self.inner, ids, claim).await
    }

    async fn hold_sink(&self, _sink: &str, now: i64) -> Result<SinkHold, StoreError> {
        self.call("hold_sink")?;
        let mut left = self.holds_left.lock().unwrap();
        Ok(match left.as_mut() {
            None => SinkHold::Held { until: i64::MAX },
            Some(0) => SinkHold::Busy {
                until: now + 30_000,
            },
            Some(n) => {
                *n -= 1;
                SinkHold::Held { until: now + 1 }
            }
        })
    }
}

/// Claim every due delivery of "fake" and send it through `store`, one unit at a time, no
/// digests; the report, the pause returned, and the wall-clock span the call took.
async fn send(store: &Failing, sink: &Fake) -> (DrainReport, Option<i64>, (i64, i64)) {
    let batch = claim_all(store).await;
    let before = now_millis();
    let (report, pause) = send_claimed(store, sink, &mut Health::default(), batch, 100).await;
    (report, pause, (before, now_millis()))
}

/// Every due delivery of "fake", claimed for the usual lease.
async fn claim_all(store: &Failing) -> Vec<crate::store::Delivery> {
    let now = now_millis();
    store
        .inner
        .claim_due("fake", now, now + ms(LEASE), 100)
        .await
        .unwrap()
}

/// Titles of the deliveries of "fake" that can be claimed now (neither leased nor done).
async fn claimable(store: &SqliteStore) -> Vec<String> {
    let now = now_millis();
    let mut titles: Vec<String> = store
        .claim_due("fake", now, now + 1, 100)
        .await
        .unwrap()
        .iter()
        .map(|d| {
            serde_json::from_str::<crate::deliver::alert::Alert>(&d.alert_json)
                .unwrap()
                .title
        })
        .collect();
    titles.sort();
    titles
}

/// `begin_send` failing: nothing is sent (without its stored key a retry could regroup the
/// alerts under another key; unmarked, an instance taking the sink over could send it again
/// while it is in flight), the batch is given back, and the worker tries again one tick
/// later, not at once (a spin against a failing store) and not never.
#[tokio::test]
async fn an_attempt_that_cannot_be_recorded_is_not_sent_and_is_tried_again_a_tick_later() {
    let store = Failing::new(store_with(&["a", "b"]).await, &["begin_send"]);
    let sink = Fake::default();
    let (report, pause, (before, after)) = send(&store, &sink).await;
    assert!(
        sink.singles.lock().unwrap().is_empty(),
        "sent without a key"
    );
    assert_eq!(report, DrainReport::default());
    let pause = pause.expect("the worker must pause after the store failed");
    assert!(
        (before + ms(TICK)..=after + ms(TICK)).contains(&pause),
        "paused until {} ms from the send, not one tick ({} ms)",
        pause - before,
        ms(TICK)
    );
    assert_eq!(
        *store.calls.lock().unwrap(),
        ["hold_sink", "begin_send", "release"]
    );
    assert_eq!(claimable(&store.inner).await, ["a", "b"]);
}

/// A start refused (the sink or the rows passed to another instance: PostgreSQL) sends
/// nothing, gives the batch back and pauses a tick; the next launch asks the store for the
/// lease again instead of trusting what this instance last heard (else it would claim, be
/// refused and release in a loop, hiding the rows from the instance that has them).
#[tokio::test]
async fn a_refused_start_sends_nothing_and_asks_for_the_lease_again() {
    let store = Failing::new(store_with(&["a", "b"]).await, &[]);
    *store.marks_refused.lock().unwrap() = true;
    let sink = Fake::default();
    let mut hold = Hold::default();
    let batch = claim_all(&store).await;
    let (report, pause) =
        send_claimed_holding(&store, &sink, &mut Health::default(), &mut hold, batch, 100).await;
    assert!(
        sink.singles.lock().unwrap().is_empty(),
        "sent rows another instance has"
    );
    assert_eq!(report, DrainReport::default());
    assert!(pause.is_some(), "a refused start must pause the worker");
    *store.marks_refused.lock().unwrap() = false;
    let batch = claim_all(&store).await;
    send_claimed_holding(&store, &sink, &mut Health::default(), &mut hold, batch, 100).await;
    assert_eq!(
        *store.calls.lock().unwrap(),
        [
            "hold_sink",
            "begin_send",
            "release",
            "hold_sink",
            "begin_send",
            "mark_sent",
            "begin_send",
            "mark_sent"
        ]
    );
}

/// A start that takes half the send limit (the database struggling) is not sent: what is
/// left of the limit may be too short for the receiver, and a send cut short would count
/// against the delivery as the receiver's failure. The unit goes back to the queue.
#[tokio::test]
async fn a_start_that_takes_half_the_send_limit_gives_the_unit_back() {
    let store = Failing::new(store_with(&["a", "b"]).await, &[]);
    *store.start_delay.lock().unwrap() = Duration::from_millis(300);
    let sink = Fake::default();
    let batch = claim_all(&store).await;
    let mut pace = super::send::Pace {
        bucket: None,
        digest_after: 100,
        concurrency: 1,
        beat: None,
    };
    let limits = Limits {
        send_limit: Duration::from_millis(500),
        ..Limits::default()
    };
    let (mut health, mut hold) = (Health::default(), Hold::default());
    let (report, pause) = run_batch(
        &store,
        &sink,
        &mut pace,
        &mut health,
        &mut hold,
        batch,
        limits,
    )
    .await;
    assert!(
        sink.singles.lock().unwrap().is_empty(),
        "sent after a slow start"
    );
    assert_eq!((report, pause), (DrainReport::default(), None));
    assert_eq!(
        *store.calls.lock().unwrap(),
        ["hold_sink", "begin_send", "release"]
    );
    assert_eq!(claimable(&store.inner).await, ["a", "b"]);
}

/// Regression: an answer that came while the next send's start was being recorded was kept
/// for later and that send went anyway: a receiver that had just failed (or asked to wait)
/// got one more alert before the sink paused. It is recorded first, as one that comes during
/// the other waits before a launch is. (Repeated: whether the answer comes during the start
/// or during an earlier wait depends on which future the runtime polls first.)
#[tokio::test]
async fn an_answer_that_comes_while_a_start_is_recorded_stops_that_send() {
    for _ in 0..6 {
        let store = Failing::new(store_with(&["a", "b", "c"]).await, &[]);
        *store.start_delay.lock().unwrap() = Duration::from_millis(30);
        let sink = Fake::default();
        *sink.down.lock().unwrap() = true;
        let batch = claim_all(&store).await;
        let mut pace = super::send::Pace {
            bucket: None,
            digest_after: 100,
            concurrency: 2,
            beat: None,
        };
        let (mut health, mut hold) = (Health::default(), Hold::default());
        let (report, pause) = run_batch(
            &store,
            &sink,
            &mut pace,
            &mut health,
            &mut hold,
            batch,
            Limits::default(),
        )
        .await;
        assert_eq!(
            sink.single_titles(),
            ["a"],
            "sent after the receiver failed"
        );
        assert_eq!(
            report,
            DrainReport {
                sent: 0,
                skipped: 0,
                retry: 1,
                dead: 0
            }
        );
        assert!(pause.is_some(), "the failure pauses the sink");
    }
}

/// A result that cannot be written: the delivery counts as a retry (it stays claimed; when
/// its lease runs out it is sent again under the same key: at worst a repeat, never a loss),
/// the worker pauses for that lease, and the rest of the batch is given back.
#[tokio::test]
async fn a_result_that_cannot_be_recorded_is_a_retry_after_the_lease() {
    let store = Failing::new(store_with(&["a", "b"]).await, &["mark_sent"]);
    let sink = Fake::default();
    let (report, pause, (before, after)) = send(&store, &sink).await;
    assert_eq!(sink.single_titles(), ["a"]);
    assert_eq!(
        report,
        DrainReport {
            sent: 0,
            skipped: 0,
            retry: 1,
            dead: 0
        }
    );
    let pause = pause.expect("the worker must pause after the store failed");
    assert!(
        (before + ms(LEASE)..=after + ms(LEASE)).contains(&pause),
        "paused until {} ms from the send, not the lease ({} ms)",
        pause - before,
        ms(LEASE)
    );
    assert_eq!(
        *store.calls.lock().unwrap(),
        ["hold_sink", "begin_send", "mark_sent", "release"]
    );
    // "a" waits out its lease; "b" was never attempted and can go at once.
    assert_eq!(claimable(&store.inner).await, ["b"]);
}

/// A failure not recorded because the rows were claimed again elsewhere meanwhile: no dead
/// letter is counted, the new claim is left alone (the taker retries the row), and the batch
/// goes on.
#[tokio::test]
async fn a_failure_the_store_refuses_under_a_lost_claim_is_neither_dead_nor_released() {
    let store = Failing::new(store_with(&["bad", "b"]).await, &[]);
    *store.claimed_elsewhere.lock().unwrap() = true;
    let sink = Fake::default();
    let (report, pause, _) = send(&store, &sink).await;
    assert_eq!(sink.single_titles(), ["bad", "b"]);
    assert_eq!(
        report,
        DrainReport {
            sent: 1,
            skipped: 0,
            retry: 1,
            dead: 0
        }
    );
    assert_eq!(pause, None);
    assert!(
        store
            .inner
            .list_deliveries("dead", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let pending = store.inner.list_deliveries("pending", 10).await.unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|r| (r.attempts, r.last_error.clone()))
            .collect::<Vec<_>>(),
        [(0, None)],
        "the failure is not recorded on a row claimed elsewhere"
    );
    assert!(
        claimable(&store.inner).await.is_empty(),
        "the new claim holds"
    );
}

/// The delivery latency histogram gets one sample per delivery sent, the time from its match
/// to its send; dead letters and retries add none.
#[test]
fn each_sent_delivery_records_its_latency_since_the_match_and_only_those() {
    let recorded = crate::ops::metrics::Recorded::new();
    let (report, (before, after)) = recorded.run(async {
        let store = Failing::new(store_with(&["a", "b", "bad"]).await, &[]);
        let (report, _, span) = send(&store, &Fake::default()).await;
        (report, span)
    });
    assert_eq!(
        report,
        DrainReport {
            sent: 2,
            skipped: 0,
            retry: 0,
            dead: 1
        }
    );
    let text = recorded.text();
    let value = |name: &str| super::tests::sample(&text, name);
    assert_eq!(value("newswatch_delivery_latency_seconds_count"), 2.0);
    let matched = crate::deliver::template::sample_alert()
        .matched_at
        .timestamp_millis();
    let sum = value("newswatch_delivery_latency_seconds_sum");
    let (low, high) = (2 * (before - matched), 2 * (after - matched));
    assert!(
        (low as f64 / 1000.0 - 0.001..=high as f64 / 1000.0 + 0.001).contains(&sum),
        "two latencies summing to {sum} s, not between {low} and {high} ms"
    );
}

/// Regression: a batch went on sending for as long as its claim ran (150 s) without asking
/// whether it still held the sink's lease (30 s); an instance that took the sink over in
/// between cleared the claims and sent the same rows again. Now each launch renews the
/// lease: once it is lost, nothing more is sent and the rest is given back.
#[tokio::test]
async fn a_batch_stops_sending_when_the_sinks_lease_passes_to_another_instance() {
    let store = Failing::new(store_with(&["a", "b", "c"]).await, &[]).lease_lost_after(1);
    let sink = Fake::default();
    let batch = claim_all(&store).await;
    let mut hold = Hold::default();
    let (report, pause) =
        send_claimed_holding(&store, &sink, &mut Health::default(), &mut hold, batch, 100).await;
    assert_eq!(sink.single_titles(), ["a"]);
    assert_eq!(report.sent, 1);
    assert_eq!(pause, None);
    assert_eq!(
        *store.calls.lock().unwrap(),
        [
            "hold_sink",
            "begin_send",
            "mark_sent",
            "hold_sink",
            "release"
        ]
    );
    // Given back at once, for the instance that holds the sink now.
    assert_eq!(claimable(&store.inner).await, ["b", "c"]);
}

/// A lease that cannot be renewed (the database unreachable): sending goes on through the
/// first two thirds of the lease and stops for its last third, which is left for a send
/// launched just before and for clocks that differ between machines.
#[tokio::test]
async fn a_lease_that_cannot_be_renewed_is_used_for_two_thirds_only() {
    for (elapsed, sends) in [(11_000, 2), (21_000, 0)] {
        let store = Failing::new(store_with(&["a", "b"]).await, &["hold_sink"]);
        let sink = Fake::default();
        let now = now_millis();
        let batch = claim_all(&store).await;
        let mut hold = Hold {
            from: now - elapsed,
            until: now - elapsed + 30_000,
            taken: false,
        };
        let (report, _) =
            send_claimed_holding(&store, &sink, &mut Health::default(), &mut hold, batch, 100)
                .await;
        assert_eq!(
            report.sent, sends,
            "{elapsed} ms into a 30 s lease that cannot be renewed"
        );
        assert_eq!(sink.single_titles().len(), sends);
    }
}

/// A hold is "taken" (its worker recounts the sink's rate budget) on the worker's first hold
/// and on a hold after another instance held the sink; not on a renewal, even one whose local
/// lease time had passed (the instance's heartbeat kept the lease in the store): a recount
/// there threw away what the bucket had refilled, so a slow rate sent slower still.
#[tokio::test]
async fn a_hold_is_taken_on_its_first_grant_and_after_another_instance_not_on_renewals() {
    let store = Failing::new(store_with(&[]).await, &[]).lease_lost_after(2);
    let mut hold = Hold::default();
    assert_eq!(hold.renew(&store, "fake").await, None);
    assert!(std::mem::take(&mut hold.taken), "the first grant");
    // Held until 1 ms later: the next renewal asks the store, after the local time passed.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(hold.renew(&store, "fake").await, None);
    assert!(!hold.taken, "a renewal");
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(
        hold.renew(&store, "fake").await.is_some(),
        "another instance"
    );
    assert!(hold.lost() && !hold.taken);
    *store.holds_left.lock().unwrap() = Some(1);
    assert_eq!(hold.renew(&store, "fake").await, None);
    assert!(hold.taken, "held again after another instance");
}
