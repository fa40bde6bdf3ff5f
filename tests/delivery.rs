//! Delivery end to end: retries, Retry-After, dead letters, signatures, shutdown, and crashes.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Daemon, FeedServer, Item, Receiver, daemon_section, wait_for};
use newswatch::store::Store;
use newswatch::store::sqlite::SqliteStore;

fn config(feed: &FeedServer, hook: &Receiver, extra_daemon: &str, extra_sink: &str) -> String {
    format!(
        "{}\n[[feed]]\nname = \"news\"\nurl = \"{}\"\n\n[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n{}\n\n\
         [[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\n\n\
         [[watch]]\nname = \"plan\"\nterms = [\"Victory Plan\"]\n",
        daemon_section(extra_daemon),
        feed.url(),
        hook.url(),
        extra_sink
    )
}

async fn started(feed: &FeedServer, d: &mut Daemon) {
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= 2).await,
        "{}",
        d.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_is_retried_until_it_recovers() {
    let feed = FeedServer::start(vec![]).await;
    // 500 for the first three attempts, then 200.
    let hook = Receiver::start(Box::new(|n, _| {
        (if n < 3 { 500 } else { 200 }, vec![], Duration::ZERO)
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&feed, &hook, "", ""));
    started(&feed, &mut d).await;
    feed.push(Item::new("r1", "North Korean troops"));
    assert!(
        wait_for(Duration::from_secs(40), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    let got = hook.got();
    assert_eq!(got.len(), 4);
    assert!(
        got.iter().all(|r| r.id == got[0].id),
        "same webhook-id on every attempt"
    );
    assert!(d.log().contains("will retry"), "{}", d.log());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hook.got().len(), 4, "delivered once, then never again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let feed = FeedServer::start(vec![]).await;
    let hook = Receiver::start(Box::new(|n, _| {
        if n == 0 {
            (
                429,
                vec![("retry-after".into(), "2".into())],
                Duration::ZERO,
            )
        } else {
            (200, vec![], Duration::ZERO)
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&feed, &hook, "", ""));
    started(&feed, &mut d).await;
    feed.push(Item::new("r1", "North Korean troops"));
    assert!(
        wait_for(Duration::from_secs(30), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    let got = hook.got();
    assert_eq!(got.len(), 2);
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_secs(2),
        "retried after {gap:?}, asked for 2 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_error_dead_letters_one_alert_and_others_continue() {
    let feed = FeedServer::start(vec![]).await;
    // The receiver rejects the "plan" watch's payload with 400.
    let hook = Receiver::start(Box::new(|_, body| {
        let status = if body["data"]["watch"] == "plan" {
            400
        } else {
            200
        };
        (status, vec![], Duration::ZERO)
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&feed, &hook, "", ""));
    started(&feed, &mut d).await;
    feed.push(Item::new("p1", "Victory Plan unveiled"));
    feed.push(Item::new("t1", "North Korean troops"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    feed.push(Item::new("t2", "More North Korean troops"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 2).await,
        "{}",
        d.log()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let plan_attempts = hook
        .got()
        .iter()
        .filter(|r| r.body["data"]["watch"] == "plan")
        .count();
    assert_eq!(plan_attempts, 1, "a 400 is not retried");
    d.stop();
    let store = SqliteStore::open(&d.state_path()).await.unwrap();
    let sum = store.outbox_summary().await.unwrap();
    assert_eq!((sum.dead, sum.sent, sum.pending), (1, 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_per_standard_webhooks() {
    let feed = FeedServer::start(vec![]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hook.secret"),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
    )
    .unwrap();
    let mut d = Daemon::new(
        dir.path(),
        &config(&feed, &hook, "", "secret = \"file:hook.secret\""),
    );
    started(&feed, &mut d).await;
    feed.push(Item::new("s1", "North Korean troops"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    let r = &hook.delivered()[0];
    let key =
        newswatch::deliver::webhook::secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let ts: i64 = r.timestamp.parse().unwrap();
    let expected = newswatch::deliver::webhook::sign(&key, &r.id, ts, &r.raw);
    assert_eq!(r.signature.as_deref(), Some(expected.as_str()));
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
    // The secret never reaches the log.
    assert!(!d.log().contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
}

/// A daemon (with `extra_daemon`) whose webhook answers its first request after `hook_delay`:
/// one alert's send is put in flight, then the daemon gets SIGTERM. Returns the daemon,
/// stopped, with how it exited and how long the stop took.
async fn term_during_first_send(
    feed: &FeedServer,
    hook_delay: Duration,
    extra_daemon: &str,
    dir: &std::path::Path,
) -> (Receiver, Daemon, Option<std::process::ExitStatus>, Duration) {
    let hook = Receiver::start(Box::new(move |n, _| {
        let delay = if n == 0 { hook_delay } else { Duration::ZERO };
        (200, vec![], delay)
    }))
    .await;
    let mut d = Daemon::new(dir, &config(feed, &hook, extra_daemon, ""));
    started(feed, &mut d).await;
    feed.push(Item::new("slow1", "North Korean troops"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.arrivals() == 1).await,
        "{}",
        d.log()
    );
    tokio::time::sleep(Duration::from_millis(300)).await; // the send is in flight
    let t0 = std::time::Instant::now();
    d.signal("TERM");
    let status = d.wait(Duration::from_secs(40));
    (hook, d, status, t0.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_slow_webhook_exits_cleanly_and_delivers_after_restart() {
    let feed = FeedServer::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    // The first request takes 5 s; the daemon's grace period is 1 s.
    let (hook, mut d, status, took) = term_during_first_send(
        &feed,
        Duration::from_secs(5),
        "shutdown_grace = \"1s\"",
        dir.path(),
    )
    .await;
    assert_eq!(status.map(|s| s.code()), Some(Some(0)), "{}", d.log());
    assert!(
        took < Duration::from_secs(4),
        "exit within the grace period"
    );
    assert!(
        hook.delivered().is_empty(),
        "the slow send was cut off by the exit"
    );
    // After a restart the alert is delivered, with the id of the first attempt.
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    assert_eq!(hook.arrivals(), 2);
    let got = hook.got();
    assert!(got.iter().all(|r| r.id == got[0].id));
}

/// A stop cut a send off after 10 s (the old default grace) though one send may take longer,
/// and the next start sent it again: Slack, Teams and the other platforms that ignore the key
/// showed the alert twice. With the default grace the send finishes before the exit, and the
/// restart sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_send_slower_than_ten_seconds_lets_it_finish_and_never_sends_it_twice() {
    let feed = FeedServer::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let (hook, mut d, status, _) =
        term_during_first_send(&feed, Duration::from_secs(12), "", dir.path()).await;
    assert_eq!(status.map(|s| s.code()), Some(Some(0)), "{}", d.log());
    assert_eq!(hook.delivered().len(), 1, "the send finished: {}", d.log());
    // The restart polls the feed again and sends nothing more.
    d.start();
    let polls = feed.requests();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= polls + 2).await,
        "{}",
        d.log()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(hook.arrivals(), 1, "sent twice: {}", d.log());
}

/// SIGKILL while hundreds of alerts flow: once at a moment of the poll that finds them, then
/// as the first alert arrives and when a third and two thirds have; after the restarts every
/// alert has arrived at least once, and any repeat carries the same webhook-id. (The kills
/// came at fixed moments before, and nothing checked that any of them landed mid-flow.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_loses_nothing() {
    let feed = FeedServer::start(vec![]).await;
    // 30 ms a request, 8 at once: 300 alerts take about a second, long enough to be cut.
    let hook = Receiver::start(Box::new(|_, _| (200, vec![], Duration::from_millis(30)))).await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&feed, &hook, "", ""));
    started(&feed, &mut d).await;
    let n = 300;
    for i in 0..n {
        feed.push(Item::new(
            &format!("k{i}"),
            "North Korean troops on the move",
        ));
    }
    let distinct = || {
        let mut keys: Vec<String> = hook
            .delivered()
            .iter()
            .filter_map(|r| r.body["data"]["item_key"].as_str().map(str::to_string))
            .collect();
        keys.sort();
        keys.dedup();
        keys.len()
    };
    // The feed is polled every second: somewhere in its poll, fetch or commit.
    tokio::time::sleep(Duration::from_millis(
        150 + u64::from(std::process::id() % 700),
    ))
    .await;
    d.kill9();
    d.start();
    // Each kill waits for an alert sent by the process it kills (else it would cut one still
    // starting), and counts as cutting the flow when alerts are still to come.
    let mut mid_flow = 0;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut at_restart = distinct();
    for threshold in [1, n / 3, 2 * n / 3] {
        let want = threshold.max(at_restart + 1).min(n);
        assert!(
            wait_for(Duration::from_secs(60), || distinct() >= want).await,
            "{want} alerts never arrived: {}\n{}",
            distinct(),
            d.log()
        );
        let arrived = distinct();
        d.kill9();
        d.start();
        if arrived > at_restart && arrived < n {
            mid_flow += 1;
        }
        // The killed process's requests in flight are recorded after the receiver's 30 ms:
        // counted before the next wait, so that an alert the new process sends ends it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        at_restart = distinct();
    }
    assert!(
        mid_flow >= 2,
        "the kills came after every alert had arrived: the test cut nothing"
    );
    assert!(
        wait_for(Duration::from_secs(90), || distinct() == n).await,
        "not every alert arrived; got {} distinct\n{}",
        distinct(),
        d.log()
    );
    let mut ids: HashMap<String, String> = HashMap::new();
    for r in hook.got() {
        let key = r.body["data"]["item_key"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let id = ids.entry(key.clone()).or_insert_with(|| r.id.clone());
        assert_eq!(*id, r.id, "repeat of {key} with another webhook-id");
    }
    let total = hook.got().len();
    eprintln!("{n} alerts, {total} requests ({} repeats)", total - n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_failing_past_max_delivery_age_becomes_a_dead_letter() {
    let feed = FeedServer::start(vec![]).await;
    let hook = Receiver::start(Box::new(|_, _| (503, vec![], Duration::ZERO))).await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(
        dir.path(),
        &config(&feed, &hook, "max_delivery_age = \"3s\"", ""),
    );
    started(&feed, &mut d).await;
    feed.push(Item::new("old1", "North Korean troops"));
    assert!(
        wait_for(Duration::from_secs(30), || d
            .log()
            .contains("delivery too old"))
        .await,
        "{}",
        d.log()
    );
    let attempts = hook.got().len();
    assert!(attempts >= 2, "retried before giving up: {attempts}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        hook.got().len(),
        attempts,
        "no attempts after the dead letter"
    );
    d.stop();
    let store = SqliteStore::open(&d.state_path()).await.unwrap();
    let dead = store.list_deliveries("dead", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("gave up after"),
        "{dead:?}"
    );
}
