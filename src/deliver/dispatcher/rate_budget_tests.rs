//! A sink's rate budget across the workers that take its queue: a restarted daemon, a run of
//! `run --once` after another, go on from the messages the outbox shows sent. Also what
//! `run --once` does when another instance takes its queue over (PostgreSQL).

use std::time::Instant;

use super::reload_tests::fake_webhook;
use super::send::DrainReport;
use super::tests::{enqueue_on, enqueue_to};
use super::worker_tests::{Hinted, Running, dispatcher, plan, until};
use super::*;
use crate::store::sqlite::SqliteStore;

/// Regression: a daemon's workers started with full rate buckets, so a daemon restarted
/// (by systemd, after a crash) sent a full burst whatever its sink had just received. A sink at 1 per 3 s that sent a message a moment
/// before the restart now waits for its rate before the next one.
#[tokio::test]
async fn a_restarted_daemon_goes_on_from_the_rate_its_sinks_spent() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    // What the daemon before the restart sent: "a", just now.
    enqueue_to(&store, "fake", &["a"], 0, now_millis()).await;
    let claimed = store
        .claim_due("fake", now_millis(), now_millis() + 60_000, 10)
        .await
        .unwrap();
    Store::mark_sent(store.as_ref(), &[claimed[0].id], now_millis())
        .await
        .unwrap();
    enqueue_to(&store, "fake", &["b"], 1, now_millis()).await;
    let sink = Arc::new(Hinted::default());
    let d = dispatcher(store.clone(), sink.clone());
    let started = Instant::now();
    let running = Running::start(&d, &fake_webhook("rate = \"1/3s\"\nconcurrency = 1"));
    until("b to be sent", 10, || {
        !sink.attempts.lock().unwrap().is_empty()
    })
    .await;
    running.stop().await;
    let after = sink.attempts.lock().unwrap()[0].1 - started;
    assert!(
        after >= Duration::from_millis(2900),
        "b was sent {after:?} after the restart, right after a, at 1 per 3 s"
    );
}

/// Regression: `run --once` started each run with a full rate bucket, so run from cron every
/// minute it sent a burst of the sink's `rate` count each minute, whatever the last run had
/// sent. A run right after one that sent at 1 per 3 s waits for the rate before sending.
#[tokio::test]
async fn run_once_goes_on_from_the_rate_the_last_run_spent() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let sink = Arc::new(Hinted::default());
    let d = dispatcher(store.clone(), sink.clone());
    let p = plan(&fake_webhook("rate = \"1/3s\"\nconcurrency = 1"));
    enqueue_to(&store, "fake", &["a"], 0, now_millis()).await;
    assert_eq!(d.drain_once(&p).await.unwrap().sent, 1);
    enqueue_to(&store, "fake", &["b"], 1, now_millis()).await;
    let report = d.drain_once(&p).await.unwrap();
    assert_eq!(
        report,
        DrainReport {
            sent: 1,
            ..DrainReport::default()
        }
    );
    let attempts = sink.attempts.lock().unwrap().clone();
    let gap = attempts[1].1 - attempts[0].1;
    assert!(
        gap >= Duration::from_millis(2900),
        "the second run sent b {gap:?} after the first run sent a, at 1 per 3 s"
    );
}

/// Regression: an instance that took a sink's queue over from another (PostgreSQL) sent with
/// the budget its worker had when the daemon started, full, whatever the other instance had
/// just sent. The rate's count is taken again whenever the worker takes the queue.
#[tokio::test]
async fn an_instance_taking_a_sink_over_goes_on_from_the_rate_the_other_spent() {
    let Some((a, sink, running)) = b_waiting_for_a("rate = \"1/8s\"\nconcurrency = 1").await else {
        return;
    };
    // a sends "a", then stops sending the sink, "b" still queued.
    enqueue_on(a.as_ref(), "fake", &["a", "b"], 0, now_millis()).await;
    let first = a
        .claim_due("fake", now_millis(), now_millis() + 60_000, 1)
        .await
        .unwrap();
    Store::mark_sent(a.as_ref(), &[first[0].id], now_millis())
        .await
        .unwrap();
    let sent_a = Instant::now();
    a.leave_sink("fake").await.unwrap();
    until("b to be sent by the other instance", 20, || {
        !sink.attempts.lock().unwrap().is_empty()
    })
    .await;
    running.stop().await;
    let attempts = sink.attempts.lock().unwrap().clone();
    assert_eq!(attempts[0].0, "b");
    let gap = attempts[0].1 - sent_a;
    assert!(
        gap >= Duration::from_millis(7900),
        "b went {gap:?} after the other instance sent a, at 1 per 8 s"
    );
}

/// Regression (review): an instance's worker read the sink's stored retry hint once, at its
/// start; taking the sink over later (the other instance stopped in a rolling restart), it
/// sent at once into the pause the receiver had asked the other instance for (Telegram's
/// flood control escalates). It waits the hint out.
#[tokio::test]
async fn an_instance_taking_a_sink_over_waits_out_the_stored_retry_hint() {
    let Some((a, sink, running)) = b_waiting_for_a("concurrency = 1").await else {
        return;
    };
    // a is told to pause for 8 s (longer than b's wait between asks for the lease, 5 s at
    // most), then stops, "b" queued.
    let hint_until = now_millis() + 8_000;
    hint::save(a.as_ref(), "fake", hint_until).await;
    enqueue_on(a.as_ref(), "fake", &["b"], 0, now_millis()).await;
    a.leave_sink("fake").await.unwrap();
    until("b to be sent by the other instance", 20, || {
        !sink.attempts.lock().unwrap().is_empty()
    })
    .await;
    let sent_at = now_millis();
    running.stop().await;
    assert!(
        sent_at >= hint_until,
        "b was sent {} ms before the receiver's pause ended",
        hint_until - sent_at
    );
}

/// Instance `a` holds sink "fake" while instance `b`'s daemon starts with it (`extra`: the
/// sink's settings), its worker waiting for the lease; `a`, the sink `b` sends to, and `b`'s
/// daemon. `None` (the test skipped, saying why) without a test database.
async fn b_waiting_for_a(
    extra: &str,
) -> Option<(Arc<crate::store::postgres::PgStore>, Arc<Hinted>, Running)> {
    use crate::store::lease::SinkHold;
    let (a, b) = two_instances(Duration::from_secs(30)).await?;
    let held = Store::hold_sink(a.as_ref(), "fake", now_millis())
        .await
        .unwrap();
    assert!(matches!(held, SinkHold::Held { .. }), "{held:?}");
    let sink = Arc::new(Hinted::default());
    let d = dispatcher(b, sink.clone());
    let running = Running::start(&d, &fake_webhook(extra));
    tokio::time::sleep(Duration::from_millis(500)).await;
    Some((a, sink, running))
}

/// Two instances on a fresh PostgreSQL schema, leasing for `lease`; `None` (the test skipped,
/// saying why) without a test database.
async fn two_instances(
    lease: Duration,
) -> Option<(
    Arc<crate::store::postgres::PgStore>,
    Arc<crate::store::postgres::PgStore>,
)> {
    use crate::store::postgres::{PgStore, testing};
    let opts = match testing::fresh_options().await {
        Ok(o) => o,
        Err(why) => return testing::skip(why),
    };
    let a = PgStore::open_instance_with(opts.clone(), lease).await;
    let b = PgStore::open_instance_with(opts, lease).await;
    Some((Arc::new(a.unwrap()), Arc::new(b.unwrap())))
}

/// A sink whose first send hands the sink's queue to another instance (`a` leaves it, `b`
/// takes it), then takes long enough for the sender's next launch to renew its lease.
struct HandsOver {
    a: Arc<crate::store::postgres::PgStore>,
    b: Arc<crate::store::postgres::PgStore>,
    sent: std::sync::Mutex<Vec<String>>,
}

impl crate::deliver::sink::Sink for HandsOver {
    fn name(&self) -> &str {
        "fake"
    }

    fn send<'a>(
        &'a self,
        alert: &'a crate::deliver::alert::Alert,
        _key: &'a str,
    ) -> crate::deliver::sink::SendFuture<'a> {
        let first = {
            let mut sent = self.sent.lock().unwrap();
            sent.push(alert.title.clone());
            sent.len() == 1
        };
        Box::pin(async move {
            if first {
                self.a.leave_sink("fake").await.unwrap();
                let held = Store::hold_sink(self.b.as_ref(), "fake", now_millis())
                    .await
                    .unwrap();
                assert!(
                    matches!(held, crate::store::lease::SinkHold::Held { .. }),
                    "{held:?}"
                );
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            super::tests::ok()
        })
    }
}

/// Regression: `run --once` on PostgreSQL went on claiming its sink's queue after another
/// instance had taken the sink over during a batch: each batch stopped at its first launch
/// and gave the rows back, and the next claimed them again, without end. It stops, and the
/// rest is the other instance's to send.
#[tokio::test]
async fn run_once_stops_draining_a_sink_another_instance_took_over() {
    // A short lease, so the second launch (400 ms after the first) asks the store again.
    let Some((a, b)) = two_instances(Duration::from_millis(900)).await else {
        return;
    };
    enqueue_on(a.as_ref(), "fake", &["a", "b", "c"], 0, now_millis()).await;
    let sink = Arc::new(HandsOver {
        a: a.clone(),
        b: b.clone(),
        sent: std::sync::Mutex::default(),
    });
    let d = dispatcher(a.clone(), sink.clone());
    let p = plan(&fake_webhook("concurrency = 1"));
    let report = tokio::time::timeout(Duration::from_secs(20), d.drain_once(&p))
        .await
        .expect("run --once kept claiming a sink another instance holds")
        .unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(*sink.sent.lock().unwrap(), ["a"]);
    // The rest was given back, for the instance that holds the sink now.
    let now = now_millis();
    let left = b.claim_due("fake", now, now + 60_000, 10).await.unwrap();
    assert_eq!(left.len(), 2, "b and c wait for the other instance");
}

/// Regression: a receiver's retry hint lived in the worker alone, so a daemon restarted during
/// it (or `run --once`, or another instance taking the sink over) sent at once into the pause
/// and met another 429. Here the receiver asks for 2 s; a new daemon on the same state sends
/// nothing before they have passed, and `run --once` leaves the queue for its next run.
#[tokio::test]
async fn a_receivers_retry_hint_outlives_the_daemon_that_was_given_it() {
    let store = Arc::new(super::tests::store_with(&["busy", "b"]).await);
    let first = Arc::new(Hinted::default());
    let d = dispatcher(store.clone(), first.clone());
    let running = Running::start(&d, super::worker_tests::STDOUT);
    until("busy to be refused", 10, || {
        !first.attempts.lock().unwrap().is_empty()
    })
    .await;
    running.stop().await;
    let refused = first.attempts.lock().unwrap()[0].1;
    let p = plan(super::worker_tests::STDOUT);
    let once = Arc::new(Hinted::default());
    let report = dispatcher(store.clone(), once.clone())
        .drain_once(&p)
        .await
        .unwrap();
    assert_eq!(report, DrainReport::default());
    assert!(once.attempts.lock().unwrap().is_empty());
    let second = Arc::new(Hinted::default());
    let d = dispatcher(store.clone(), second.clone());
    let running = Running::start(&d, super::worker_tests::STDOUT);
    until("the restarted daemon to send", 10, || {
        !second.attempts.lock().unwrap().is_empty()
    })
    .await;
    running.stop().await;
    let after = second.attempts.lock().unwrap()[0].1 - refused;
    assert!(
        after >= Duration::from_millis(1900),
        "sent {after:?} after the receiver asked for 2 s"
    );
}
