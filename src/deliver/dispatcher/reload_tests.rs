//! Reloads seen by the delivery workers: removed sinks stop, changed ones restart after the old
//! worker ended (and a sink added back waits for it), the rest keep running; and what a
//! restarted worker keeps of its sink (the rate it spent, a failed request's share, a
//! receiver's retry hint).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::tests::{enqueue_to, ok, store_with};
use super::worker_tests::*;
use super::*;
use crate::deliver::alert::Alert;
use crate::deliver::sink::SendFuture;
use crate::store::sqlite::SqliteStore;

/// A sink tagged with the sink's name and how many times it was built.
struct Tagged {
    name: String,
    generation: usize,
    log: Arc<Mutex<Vec<(String, usize)>>>,
}

impl Sink for Tagged {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, _alert: &'a Alert, _key: &'a str) -> SendFuture<'a> {
        self.log
            .lock()
            .unwrap()
            .push((self.name.clone(), self.generation));
        Box::pin(async { ok() })
    }
}

/// Reloads were tested end to end only, for feeds: a reload that kept every worker, stopped
/// every worker, or kept a changed sink's old worker passed every test.
#[tokio::test]
async fn a_reload_stops_removed_sinks_restarts_changed_ones_and_keeps_the_rest() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let factory: SinkFactory = {
        let log = log.clone();
        let built = Mutex::new(HashMap::<String, usize>::new());
        Arc::new(move |sp, _, _| {
            let mut built = built.lock().unwrap();
            let n = built.entry(sp.name.clone()).or_default();
            *n += 1;
            Ok(Arc::new(Tagged {
                name: sp.name.clone(),
                generation: *n,
                log: log.clone(),
            }) as Arc<dyn Sink>)
        })
    };
    let d = with(store.clone(), factory);
    let sink = |name: &str, extra: &str| {
        format!(
            "[[sink]]\nname = \"{name}\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/{name}\"\n{extra}\n"
        )
    };
    let before = [
        sink("keep", ""),
        sink("change", "concurrency = 2"),
        sink("gone", ""),
    ]
    .concat();
    let after = [sink("keep", ""), sink("change", "concurrency = 3")].concat();
    let running = Running::start(&d, &before);
    let labels = |d: &Dispatcher<SqliteStore>| -> Vec<String> {
        d.liveness.snapshot().into_iter().map(|l| l.0).collect()
    };
    until("three workers", 10, || labels(&d).len() == 3).await;
    running.plan.send(plan(&after)).unwrap();
    until("the removed sink's worker to stop", 10, || {
        !labels(&d).contains(&"sink:gone".to_string())
    })
    .await;
    assert!(
        labels(&d).contains(&"sink:keep".to_string()),
        "{:?}",
        labels(&d)
    );
    let now = now_millis();
    enqueue_to(&store, "keep", &["k"], 0, now).await;
    enqueue_to(&store, "change", &["c"], 1, now).await;
    until("both sinks to send", 10, || log.lock().unwrap().len() >= 2).await;
    running.stop().await;
    let mut sent = log.lock().unwrap().clone();
    sent.sort();
    // keep's worker (and its sink) from the start; change's rebuilt by the reload.
    assert_eq!(sent, [("change".to_string(), 2), ("keep".to_string(), 1)]);
}

/// A sink whose sends take `send_time`, which records when each build of it is dropped (its
/// worker's supervisor, the last holder, has ended).
struct Lingering {
    generation: usize,
    send_time: Duration,
    sending: Arc<Mutex<Vec<usize>>>,
    dropped: Arc<Mutex<Vec<usize>>>,
}

impl Sink for Lingering {
    fn name(&self) -> &str {
        "change"
    }

    fn send<'a>(&'a self, _alert: &'a Alert, _key: &'a str) -> SendFuture<'a> {
        self.sending.lock().unwrap().push(self.generation);
        let wait = self.send_time;
        Box::pin(async move {
            tokio::time::sleep(wait).await;
            ok()
        })
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        self.dropped.lock().unwrap().push(self.generation);
    }
}

/// A reload that changed a sink started its new worker, which registered `sink:NAME`, while
/// the old worker finished its send; the old supervisor then unregistered `sink:NAME`, and
/// the new worker was no longer watched: stuck, it would not have stopped the watchdog pings.
#[tokio::test]
async fn a_worker_restarted_by_a_reload_was_unwatched_once_the_old_one_ended() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let sending = Arc::new(Mutex::new(Vec::new()));
    let dropped = Arc::new(Mutex::new(Vec::new()));
    let factory: SinkFactory = {
        let (sending, dropped) = (sending.clone(), dropped.clone());
        let built = Mutex::new(0);
        Arc::new(move |_, _, _| {
            let mut built = built.lock().unwrap();
            *built += 1;
            Ok(Arc::new(Lingering {
                generation: *built,
                send_time: Duration::from_millis(500),
                sending: sending.clone(),
                dropped: dropped.clone(),
            }) as Arc<dyn Sink>)
        })
    };
    let d = with(store.clone(), factory);
    let sink = |concurrency: usize| {
        format!(
            "[[sink]]\nname = \"change\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/c\"\nconcurrency = {concurrency}\n"
        )
    };
    let labels = |d: &Dispatcher<SqliteStore>| -> Vec<String> {
        d.liveness.snapshot().into_iter().map(|l| l.0).collect()
    };
    let running = Running::start(&d, &sink(2));
    enqueue_to(&store, "change", &["a"], 0, now_millis()).await;
    until("the first worker to start sending", 10, || {
        *sending.lock().unwrap() == [1]
    })
    .await;
    running.plan.send(plan(&sink(3))).unwrap();
    until("the first worker's supervisor to end", 10, || {
        dropped.lock().unwrap().contains(&1)
    })
    .await;
    assert_eq!(
        labels(&d),
        ["sink:change"],
        "the new worker must stay watched"
    );
    // And it is the new worker's beat that is watched: it keeps moving.
    let before = d.liveness.snapshot()[0].1;
    until("the new worker's beat to move", 5, || {
        d.liveness.snapshot().first().is_some_and(|l| l.1 > before)
    })
    .await;
    running.stop().await;
    assert!(labels(&d).is_empty(), "{:?}", labels(&d));
}

/// When a send started and ended, and which build of the sink made it.
type Span = (usize, Instant, Option<Instant>);

/// A sink recording when each of its sends starts and ends, by build.
struct Timed {
    generation: usize,
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Sink for Timed {
    fn name(&self) -> &str {
        "change"
    }

    fn send<'a>(&'a self, _alert: &'a Alert, _key: &'a str) -> SendFuture<'a> {
        let i = {
            let mut spans = self.spans.lock().unwrap();
            spans.push((self.generation, Instant::now(), None));
            spans.len() - 1
        };
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            self.spans.lock().unwrap()[i].2 = Some(Instant::now());
            ok()
        })
    }
}

/// A factory of [`Timed`] sinks recording into `spans`, numbered by build from 1.
fn timed(spans: &Arc<Mutex<Vec<Span>>>) -> SinkFactory {
    let spans = spans.clone();
    let built = Mutex::new(0);
    Arc::new(move |_, _, _| {
        let mut built = built.lock().unwrap();
        *built += 1;
        Ok(Arc::new(Timed {
            generation: *built,
            spans: spans.clone(),
        }) as Arc<dyn Sink>)
    })
}

/// Regression: a reload that changed a sink started its new worker at once, beside the old
/// one finishing its sends: two workers of one sink sent at the same time (out of order, past
/// its concurrency and rate).
#[tokio::test]
async fn a_changed_sinks_new_worker_starts_after_the_old_one_ended() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let spans = Arc::new(Mutex::new(Vec::new()));
    let factory = timed(&spans);
    let d = with(store.clone(), factory);
    let sink = |concurrency: usize| {
        format!(
            "[[sink]]\nname = \"change\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/c\"\nconcurrency = {concurrency}\n"
        )
    };
    let running = Running::start(&d, &sink(1));
    enqueue_to(&store, "change", &["a"], 0, now_millis()).await;
    until("the first worker to start sending", 10, || {
        spans.lock().unwrap().len() == 1
    })
    .await;
    // Changed while its send is in flight; more waits to be sent.
    running.plan.send(plan(&sink(2))).unwrap();
    enqueue_to(&store, "change", &["b"], 1, now_millis()).await;
    d.wake.notify_waiters();
    until("both sends to end", 15, || {
        let s = spans.lock().unwrap();
        s.len() == 2 && s.iter().all(|(_, _, end)| end.is_some())
    })
    .await;
    running.stop().await;
    let s = spans.lock().unwrap().clone();
    let (old, new) = (&s[0], &s[1]);
    assert_eq!(
        (old.0, new.0),
        (1, 2),
        "sent by the old build, then the new one"
    );
    assert!(
        new.1 >= old.2.unwrap(),
        "the new worker sent while the old one's send was in flight"
    );
}

/// Regression: a sink removed while its worker had a send in flight and added back by the
/// next reload got its new worker at once, beside the old one; and the old one's lease
/// release, when it ended, freed the new worker's claims.
#[tokio::test]
async fn a_sink_added_back_waits_for_its_removed_worker() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let spans = Arc::new(Mutex::new(Vec::new()));
    let factory = timed(&spans);
    let d = with(store.clone(), factory);
    let with_sink =
        "[[sink]]\nname = \"change\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/c\"\n";
    let without = "[[sink]]\nname = \"other\"\ntype = \"stdout\"\n";
    let running = Running::start(&d, with_sink);
    enqueue_to(&store, "change", &["a"], 0, now_millis()).await;
    until("the first worker to start sending", 10, || {
        spans.lock().unwrap().len() == 1
    })
    .await;
    running.plan.send(plan(without)).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    running.plan.send(plan(with_sink)).unwrap();
    enqueue_to(&store, "change", &["b"], 1, now_millis()).await;
    d.wake.notify_waiters();
    until("both sends to end", 15, || {
        let s = spans.lock().unwrap();
        s.len() == 2 && s.iter().all(|(_, _, end)| end.is_some())
    })
    .await;
    running.stop().await;
    let s = spans.lock().unwrap().clone();
    let (old, new) = (&s[0], &s[1]);
    // (The stdout sink of the plan without it is a build too.)
    assert!(
        old.0 == 1 && new.0 > 1,
        "sent by the old build, then a new one: {s:?}"
    );
    assert!(
        new.1 >= old.2.unwrap(),
        "the new worker sent while the removed one's send was in flight"
    );
    // Both deliveries recorded as sent: the old worker's lease release freed nothing of the
    // new one's.
    let sum = store.outbox_summary().await.unwrap();
    assert_eq!((sum.pending, sum.dead), (0, 0));
}

/// A webhook sink named "fake" with `extra` settings.
pub(super) fn fake_webhook(extra: &str) -> String {
    format!(
        "[[sink]]\nname = \"fake\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/f\"\n{extra}\n"
    )
}

/// Send `first` through a sink at 1 per 3 s, reload a change of the sink (not its rate)
/// `reloads` times, then queue "b": it must go a whole rate's interval after `first`'s first
/// request.
async fn assert_rate_kept_across_reloads(first: &'static str, reloads: usize) {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let sink = Arc::new(Hinted::default());
    let d = dispatcher(store.clone(), sink.clone());
    let running = Running::start(&d, &fake_webhook("rate = \"1/3s\"\nconcurrency = 1"));
    enqueue_to(&store, "fake", &[first], 0, now_millis()).await;
    until("the first request", 10, || {
        !sink.attempts.lock().unwrap().is_empty()
    })
    .await;
    // Changed (not its rate); the old worker has ended once the liveness label is the new
    // worker's, but the next send must still wait for the bucket.
    for n in 0..reloads {
        let concurrency = format!("rate = \"1/3s\"\nconcurrency = {}", n + 2);
        running
            .plan
            .send(plan(&fake_webhook(&concurrency)))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    enqueue_to(&store, "fake", &["b"], 1, now_millis()).await;
    d.wake.notify_waiters();
    until("b to be sent", 10, || {
        sink.attempts.lock().unwrap().iter().any(|a| a.0 == "b")
    })
    .await;
    running.stop().await;
    let attempts = sink.attempts.lock().unwrap().clone();
    // `first` itself may be retried before "b" (a failed one, claimed with it by id).
    let b = attempts.iter().find(|a| a.0 == "b").map(|a| a.1);
    let gap = b.unwrap() - attempts[0].1;
    assert!(
        gap >= Duration::from_millis(2900),
        "b was sent {gap:?} after {first}'s first request, at 1 per 3 s ({reloads} reloads)"
    );
}

/// Regression: a reload that changed a sink started its new worker with a full rate bucket.
/// A sink at 1 per 3 s that had just sent sent again at once after every reload.
#[tokio::test]
async fn a_reload_keeps_the_rate_a_sink_has_spent() {
    assert_rate_kept_across_reloads("a", 1).await;
}

/// A request that failed spent the rate too, though the outbox shows nothing sent: the
/// budget a reload's new worker counts from the outbox alone would be full. The worker's
/// bucket goes on across the reload (this test passes only with it carried: the one above
/// passes on the outbox's count alone). The sink is changed, so its pause after the failure
/// is not carried over (the receiver gave no hint).
#[tokio::test]
async fn a_reload_keeps_the_rate_a_failed_request_spent() {
    assert_rate_kept_across_reloads("flaky", 1).await;
}

/// Regression: a worker took its sink's pacing out of the dispatcher's memory when it
/// started, and put it back only after a batch it sent: a worker a second reload stopped
/// before it sent anything left nothing, and the third started with a full bucket and no
/// pause. Two reloads in a row sent into the spent rate.
#[tokio::test]
async fn two_quick_reloads_keep_the_rate_a_sink_has_spent() {
    assert_rate_kept_across_reloads("flaky", 2).await;
}

/// Regression: a reload that changed a sink the receiver had asked to wait (429 with a retry
/// hint) started its new worker unpaused: it sent the next alert into the receiver's wait.
#[tokio::test]
async fn a_reload_keeps_a_receivers_retry_hint() {
    let store = Arc::new(store_with(&["busy", "b"]).await);
    let sink = Arc::new(Hinted::default());
    let d = dispatcher(store.clone(), sink.clone());
    let running = Running::start(&d, &fake_webhook("concurrency = 1"));
    until("busy to be refused", 10, || {
        !sink.attempts.lock().unwrap().is_empty()
    })
    .await;
    running
        .plan
        .send(plan(&fake_webhook("concurrency = 2")))
        .unwrap();
    until("b and busy again", 15, || {
        sink.attempts.lock().unwrap().len() >= 3
    })
    .await;
    running.stop().await;
    let attempts = sink.attempts.lock().unwrap().clone();
    let t0 = attempts[0].1;
    for (title, at) in &attempts[1..] {
        let after = *at - t0;
        assert!(
            after >= Duration::from_millis(1900),
            "{title} was sent {after:?} into the receiver's 2 s wait"
        );
    }
}

/// A sink whose send takes 300 ms and fails (retryable), counting its sends.
struct SlowFailing(Arc<Mutex<usize>>);

impl Sink for SlowFailing {
    fn name(&self) -> &str {
        "gone"
    }

    fn send<'a>(&'a self, _alert: &'a Alert, _key: &'a str) -> SendFuture<'a> {
        *self.0.lock().unwrap() += 1;
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Err(crate::deliver::sink::SendError::retryable(
                "HTTP 500".to_string(),
            ))
        })
    }
}

/// Regression: a reload that removed a sink while its send was in flight made the delivery a
/// dead letter at once (saying no attempt was made); the send then failed, its retry went
/// unrecorded ("claimed again elsewhere, which retries them": nothing did). The reload's
/// sweep leaves a delivery in flight alone, and once the worker has recorded the failure, its
/// end makes it a dead letter with its attempt.
#[tokio::test]
async fn a_send_in_flight_to_a_removed_sink_fails_into_a_dead_letter_with_its_attempt() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let sends = Arc::new(Mutex::new(0));
    let sink: Arc<dyn Sink> = Arc::new(SlowFailing(sends.clone()));
    let d = super::worker_tests::dispatcher(store.clone(), sink);
    let gone = "[[sink]]\nname = \"gone\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/g\"\n";
    let running = Running::start(&d, gone);
    enqueue_to(&store, "gone", &["a"], 0, now_millis()).await;
    until("the send to start", 10, || *sends.lock().unwrap() == 1).await;
    running.plan.send(plan(STDOUT)).unwrap();
    // The daemon's sweep after the reload.
    assert_eq!(
        store
            .dead_letter_unconfigured(&["fake".into()])
            .await
            .unwrap(),
        0,
        "in flight: its worker records it"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let dead = loop {
        let dead = store.list_deliveries("dead", 10).await.unwrap();
        if !dead.is_empty() || Instant::now() > deadline {
            break dead;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    running.stop().await;
    assert_eq!(dead.len(), 1, "a dead letter once the worker ended");
    assert_eq!(dead[0].attempts, 1, "{dead:?}");
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("sink `gone` is no longer configured")
    );
    assert_eq!(store.outbox_summary().await.unwrap().pending, 0);
    assert_eq!(*sends.lock().unwrap(), 1);
}

/// Regression (review): the stored retry hint was read at every worker start, so a reload
/// that gave a sink another platform (deliberately started afresh, see `Left::resume`) waited
/// out the old platform's pause (Telegram's hour) before its first message. It is read at a
/// start from nothing, and at a take over from another instance.
#[tokio::test]
async fn a_reload_to_another_platform_does_not_wait_out_the_old_ones_hint() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let sink = Arc::new(Hinted::default());
    let d = dispatcher(store.clone(), sink.clone());
    let running = Running::start(&d, &fake_webhook("concurrency = 1"));
    enqueue_to(&store, "fake", &["a"], 0, now_millis()).await;
    until("a to be sent on the old platform", 10, || {
        sink.attempts.lock().unwrap().len() == 1
    })
    .await;
    // The old platform asked for a pause of a minute.
    hint::save(store.as_ref(), "fake", now_millis() + 60_000).await;
    running
        .plan
        .send(plan(
            "[[sink]]\nname = \"fake\"\ntype = \"ntfy\"\ntopic = \"t\"\n",
        ))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    enqueue_to(&store, "fake", &["b"], 1, now_millis()).await;
    until("b to be sent on the new platform", 10, || {
        sink.attempts.lock().unwrap().len() == 2
    })
    .await;
    running.stop().await;
}
