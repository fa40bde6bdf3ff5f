//! The workers around `send_batch`: what they claim and for how long, pausing, reloads and
//! restarts (`run --once` and the daemon's loop).

use std::sync::Mutex;
use std::time::Instant;

use super::pacing_tests::Probe;
use super::send::{DrainReport, LEASE, Pace, ms};
use super::tests::{Fake, ok, store_with};
use super::*;
use crate::deliver::alert::Alert;
use crate::deliver::sink::{SendError, SendFuture};
use crate::store::sqlite::SqliteStore;

pub(super) const STDOUT: &str = "[[sink]]\nname = \"fake\"\ntype = \"stdout\"\n";

pub(super) fn plan(text: &str) -> Arc<Plan> {
    Arc::new(crate::plan::load_str(std::path::Path::new("t.toml"), text.into()).unwrap())
}

pub(super) fn dispatcher<S: Store>(store: Arc<S>, sink: Arc<dyn Sink>) -> Arc<Dispatcher<S>> {
    let factory: SinkFactory = Arc::new(move |_, _, _| Ok(sink.clone()));
    with(store, factory)
}

pub(super) fn with<S: Store>(store: Arc<S>, factory: SinkFactory) -> Arc<Dispatcher<S>> {
    let d = Dispatcher::new(store, reqwest::Client::new(), Arc::new(Notify::new()));
    Arc::new(d.with_factory(factory))
}

/// The daemon's loop, running until dropped.
pub(super) struct Running {
    pub(super) plan: watch::Sender<Arc<Plan>>,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Running {
    pub(super) fn start<S: Store + 'static>(d: &Arc<Dispatcher<S>>, text: &str) -> Running {
        let (plan, rx) = watch::channel(self::plan(text));
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(d.clone().run(rx, token.clone(), tracker.clone()));
        Running {
            plan,
            token,
            tracker,
        }
    }

    pub(super) async fn stop(self) {
        self.token.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Wait up to `secs` for `done`, or fail saying what did not happen.
pub(super) async fn until(what: &str, secs: u64, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_claim_sees_a_whole_burst_and_keeps_every_send_busy() {
    let digesting = Fake::default();
    let one_by_one = Probe::new(Duration::ZERO);
    let p = |digest_after, concurrency| Pace {
        bucket: None,
        digest_after,
        concurrency,
        beat: None,
    };
    assert_eq!(claim_limit(&digesting, &p(5, 1)), 100);
    assert_eq!(claim_limit(&digesting, &p(250, 1)), 251);
    assert_eq!(claim_limit(&one_by_one, &p(5, 1)), 16);
    assert_eq!(claim_limit(&one_by_one, &p(5, 8)), 128);
    assert_eq!(claim_limit(&one_by_one, &p(5, 0)), 16);
}

#[test]
fn a_worker_that_keeps_panicking_waits_longer_each_time_up_to_a_minute() {
    let secs: Vec<u64> = (1..=8).map(|n| restart_wait(n).as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60]);
    assert_eq!(restart_wait(u32::MAX), RESTART_CAP);
}

/// A sink that, during its first send, looks at the store the way a second claimer would:
/// right away (the batch must be leased to this one) and just after the lease (it must be
/// free by then, or a crash would strand it).
struct LeaseProbe {
    store: Arc<SqliteStore>,
    /// Deliveries claimable 1 s from now, and one minute after the lease.
    seen: Mutex<Option<(usize, usize)>>,
}

impl LeaseProbe {
    fn new(store: Arc<SqliteStore>) -> Arc<LeaseProbe> {
        Arc::new(LeaseProbe {
            store,
            seen: Mutex::new(None),
        })
    }
}

impl Sink for LeaseProbe {
    fn name(&self) -> &str {
        "fake"
    }

    fn send<'a>(&'a self, _alert: &'a Alert, _key: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            if self.seen.lock().unwrap().is_some() {
                return ok();
            }
            let now = now_millis();
            let soon = now + 1000;
            let early = self.store.claim_due("fake", soon, soon, 100).await;
            let early = early.map_or(usize::MAX, |v| v.len());
            let after = now + ms(LEASE) + 60_000;
            // Claimed again with a lease already over: the batch in hand is unaffected.
            let late = self.store.claim_due("fake", after, 0, 100).await;
            let late = late.map_or(usize::MAX, |v| v.len());
            *self.seen.lock().unwrap() = Some((early, late));
            ok()
        })
    }
}

#[tokio::test]
async fn run_once_sends_everything_due_and_holds_each_claim_for_the_lease() {
    let store = Arc::new(store_with(&["a", "b", "c"]).await);
    let probe = LeaseProbe::new(store.clone());
    let d = dispatcher(store.clone(), probe.clone());
    let report = d.drain_once(&plan(STDOUT)).await.unwrap();
    assert_eq!(
        report,
        DrainReport {
            sent: 3,
            skipped: 0,
            retry: 0,
            dead: 0
        }
    );
    assert_eq!(*probe.seen.lock().unwrap(), Some((0, 3)));
}

#[tokio::test]
async fn a_worker_holds_each_claim_for_the_lease() {
    let store = Arc::new(store_with(&["a", "b", "c"]).await);
    let probe = LeaseProbe::new(store.clone());
    let d = dispatcher(store.clone(), probe.clone());
    let running = Running::start(&d, STDOUT);
    until("a first send", 10, || probe.seen.lock().unwrap().is_some()).await;
    running.stop().await;
    assert_eq!(*probe.seen.lock().unwrap(), Some((0, 3)));
}

/// A sink that answers the first attempt of "busy" with 429 and a 2 s retry hint, and records
/// every attempt.
#[derive(Default)]
pub(super) struct Hinted {
    pub(super) attempts: Mutex<Vec<(String, Instant)>>,
}

impl Sink for Hinted {
    fn name(&self) -> &str {
        "fake"
    }

    fn send<'a>(&'a self, alert: &'a Alert, _key: &'a str) -> SendFuture<'a> {
        let mut attempts = self.attempts.lock().unwrap();
        let first = !attempts.iter().any(|a| a.0 == alert.title);
        attempts.push((alert.title.clone(), Instant::now()));
        let title = alert.title.as_str();
        Box::pin(async move {
            match title {
                "busy" if first => Err(SendError::Retryable {
                    message: "HTTP 429".into(),
                    retry_after: Some(Duration::from_secs(2)),
                }),
                "flaky" if first => Err(SendError::Retryable {
                    message: "HTTP 500".into(),
                    retry_after: None,
                }),
                _ => ok(),
            }
        })
    }
}

/// The worker's pause was tested through `send_batch`'s return value only: a worker that did
/// not wait, waited for ever, or stopped after waiting passed every test.
#[tokio::test]
async fn a_paused_worker_sends_nothing_until_the_pause_ends_then_resumes() {
    let store = Arc::new(store_with(&["busy", "b"]).await);
    let sink = Arc::new(Hinted::default());
    let d = dispatcher(store.clone(), sink.clone());
    let running = Running::start(&d, STDOUT);
    until("busy, b and busy again", 15, || {
        sink.attempts.lock().unwrap().len() >= 3
    })
    .await;
    running.stop().await;
    let attempts = sink.attempts.lock().unwrap().clone();
    let t0 = attempts[0].1;
    let titles: Vec<&str> = attempts.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert_eq!(titles[0], "busy");
    for (title, at) in &attempts[1..] {
        let after = *at - t0;
        assert!(
            after >= Duration::from_millis(1900),
            "{title} was sent {after:?} into a 2 s pause"
        );
    }
}
