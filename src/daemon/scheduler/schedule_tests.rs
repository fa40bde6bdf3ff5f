//! The scheduler's bookkeeping: where each feed lands when it is first scheduled (its stored
//! time, clamped, or spread out), what a reload keeps, the per-host semaphores; and the helpers
//! the loop's tests (`loop_tests`) share. Feeds are read from a local file, so a poll takes
//! milliseconds. Written against mutation testing (docs/testing.md).

use std::path::Path;

use super::*;
use crate::feed::fetch::FetchOptions;
use crate::store::sqlite::SqliteStore;
use crate::store::{FailureRecord, FeedState, now_millis};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

pub(super) fn plan_of(feeds: &[(&str, &str)], daemon: &str) -> Arc<Plan> {
    let mut toml = format!("[daemon]\n{daemon}\n");
    for (name, url) in feeds {
        toml.push_str(&format!("\n[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
    }
    Arc::new(crate::plan::load_str(Path::new("t.toml"), toml).unwrap())
}

/// A local feed file (each feed needs a URL of its own): `seed.rss` or `seed.atom`.
pub(super) fn seed_url(ext: &str) -> String {
    format!("file://{FIXTURES}/seed.{ext}")
}

pub(super) fn news_url(name: &str) -> String {
    format!("https://news.example/{name}")
}

/// A plan of feeds named `names` at [`news_url`]s, and those URLs.
pub(super) fn news_plan(names: &[&str], daemon: &str) -> (Arc<Plan>, Vec<String>) {
    let urls: Vec<String> = names.iter().map(|n| news_url(n)).collect();
    let feeds: Vec<(&str, &str)> = names
        .iter()
        .copied()
        .zip(urls.iter().map(String::as_str))
        .collect();
    (plan_of(&feeds, daemon), urls)
}

pub(super) async fn scheduler(
    plan: Arc<Plan>,
    store: SqliteStore,
) -> (Scheduler<SqliteStore>, watch::Sender<Arc<Plan>>) {
    let limits = Arc::new(crate::feed::limits::FetchLimits::new(
        plan.daemon.max_concurrent_fetches,
        plan.daemon.per_host_concurrency,
    ));
    let ctx = context(store, limits);
    let (tx, rx) = watch::channel(plan);
    (Scheduler::new(ctx, rx).await.unwrap(), tx)
}

/// The poll context of the scheduler tests, with these limits.
pub(super) fn context(
    store: SqliteStore,
    limits: Arc<crate::feed::limits::FetchLimits>,
) -> Arc<PollContext<SqliteStore>> {
    let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
    Arc::new(PollContext {
        store: Arc::new(store),
        pages: crate::feed::page::Pages::new(fetcher.clone(), limits.clone()),
        limits,
        fetcher,
        wake_dispatch: Arc::new(Notify::new()),
        sweep: Arc::new(Notify::new()),
        beat: crate::ops::liveness::Beat::default(),
        stories: Default::default(),
        semantic: Default::default(),
    })
}

/// Store a next poll time for `feed` (as a failed poll would), `in_ms` from now.
pub(super) async fn store_next_poll(store: &SqliteStore, feed: &str, config_url: &str, in_ms: i64) {
    let now = now_millis();
    store
        .record_failure(&FailureRecord {
            feed,
            config_url,
            error: "e",
            failures: 1,
            html_streak: 0,
            now,
            next_poll_at: now + in_ms,
        })
        .await
        .unwrap();
}

/// Store a next poll time for `feed` as a successful poll would, `in_ms` from now.
pub(super) async fn store_next_success(
    store: &SqliteStore,
    feed: &str,
    config_url: &str,
    in_ms: i64,
) {
    let now = now_millis();
    store
        .commit_poll(&crate::store::PollCommit {
            feed: feed.into(),
            config_url: config_url.into(),
            now,
            next_poll_at: now + in_ms,
            ..Default::default()
        })
        .await
        .unwrap();
}

/// How far after `from` the feed is due.
pub(super) fn due_in(s: &Scheduler<SqliteStore>, feed: &str, from: Instant) -> Duration {
    let at = s.due.get(feed).copied();
    let at = at.unwrap_or_else(|| panic!("{feed} is not scheduled"));
    assert!(at >= from, "{feed} is due before the scheduler started");
    at - from
}

pub(super) fn polled(states: &[FeedState], feed: &str) -> bool {
    states
        .iter()
        .any(|s| s.feed == feed && s.last_result.as_deref() == Some("ok"))
}

#[tokio::test]
async fn a_restart_keeps_each_stored_schedule_clamped_to_the_longest_wait() {
    let (plan, urls) = news_plan(
        &["soon", "late", "past", "moved", "fresh"],
        "poll_interval = \"10m\"\nbackoff_cap = \"1h\"",
    );
    let store = SqliteStore::in_memory().await.unwrap();
    store_next_poll(&store, "soon", &urls[0], 120_000).await;
    store_next_poll(&store, "late", &urls[1], 3 * 86_400_000).await;
    store_next_poll(&store, "past", &urls[2], -3_600_000).await;
    // Stored for the URL the feed had before: not this feed's schedule.
    store_next_poll(&store, "moved", "https://old.example/rss", 120_000).await;
    let before = Instant::now();
    let (s, _tx) = scheduler(plan, store).await;
    let took = before.elapsed();
    let soon = due_in(&s, "soon", before);
    assert!(
        soon <= Duration::from_secs(120) + took && soon >= Duration::from_secs(118),
        "a stored schedule 2 min ahead became {soon:?}"
    );
    let late = due_in(&s, "late", before);
    assert!(
        late <= Duration::from_secs(3600) + took && late >= Duration::from_secs(3599),
        "a schedule 3 days ahead must be clamped to max(interval, backoff_cap) = 1 h: {late:?}"
    );
    assert!(
        due_in(&s, "past", before) <= took,
        "a schedule in the past is due at once"
    );
    for spread in ["moved", "fresh"] {
        let d = due_in(&s, spread, before);
        assert!(
            d <= Duration::from_secs(10) + took,
            "{spread}: no stored schedule of its own, so spread over 10 s: {d:?}"
        );
    }
    assert_eq!(s.heap.len(), 5);
}

#[tokio::test]
async fn a_reload_spreads_new_feeds_keeps_old_times_and_forgets_removed_feeds() {
    let [kept, gone, added] = ["kept", "gone", "added"].map(news_url);
    let store = SqliteStore::in_memory().await.unwrap();
    store_next_poll(&store, "kept", &kept, 120_000).await;
    store_next_poll(&store, "gone", &gone, 120_000).await;
    store_next_poll(&store, "added", &added, 120_000).await;
    let daemon = "poll_interval = \"10m\"";
    let plan = plan_of(&[("kept", &kept), ("gone", &gone)], daemon);
    let (mut s, tx) = scheduler(plan, store).await;
    let kept_at = s.due["kept"];
    // `added` has a stored schedule (a reload removed it and the next one brings it back):
    // a reload spreads it all the same.
    let before = Instant::now();
    tx.send(plan_of(&[("kept", &kept), ("added", &added)], daemon))
        .unwrap();
    s.sync_plan(None);
    assert_eq!(
        s.due["kept"], kept_at,
        "a reload must not move a scheduled feed"
    );
    let added = due_in(&s, "added", before);
    assert!(
        added <= Duration::from_secs(10) + before.elapsed(),
        "a feed added by a reload is spread like a new one, whatever the store says: {added:?}"
    );
    assert!(!s.due.contains_key("gone"));
    assert!(
        s.heap.iter().all(|Reverse((_, name))| name != "gone"),
        "a removed feed left in the heap"
    );
    assert_eq!(s.index.len(), 2);
}

/// Regression: a reload kept a changed feed's old schedule, so a corrected URL waited out the
/// backoff its old address had earned (up to `backoff_cap`), and a shortened interval the
/// rest of the long one.
#[tokio::test]
async fn a_reload_schedules_a_feed_whose_url_or_interval_changed_like_a_new_one() {
    let [fixed, faster, same] = ["fixed", "faster", "same"].map(news_url);
    let store = SqliteStore::in_memory().await.unwrap();
    // A failing feed at a wrong address, a healthy feed due in 6 h, a failing feed.
    store_next_poll(&store, "fixed", "https://typo.example/rss", 6 * 3_600_000).await;
    store_next_success(&store, "faster", &faster, 6 * 3_600_000).await;
    store_next_poll(&store, "same", &same, 6 * 3_600_000).await;
    let feeds = |fixed_url: &str, faster_every: &str| {
        let mut toml = "[daemon]\npoll_interval = \"6h\"\nbackoff_cap = \"6h\"\n".to_string();
        toml.push_str(&format!(
            "[[feed]]\nname = \"fixed\"\nurl = \"{fixed_url}\"\n"
        ));
        toml.push_str(&format!(
            "[[feed]]\nname = \"faster\"\nurl = \"{faster}\"\ninterval = \"{faster_every}\"\n"
        ));
        toml.push_str(&format!("[[feed]]\nname = \"same\"\nurl = \"{same}\"\n"));
        Arc::new(crate::plan::load_str(Path::new("t.toml"), toml).unwrap())
    };
    let (mut s, tx) = scheduler(feeds("https://typo.example/rss", "6h"), store).await;
    let start = Instant::now();
    for name in ["fixed", "faster", "same"] {
        assert!(
            due_in(&s, name, start) > Duration::from_secs(5 * 3600),
            "{name}: restored"
        );
    }
    let same_at = s.due["same"];
    let before = Instant::now();
    tx.send(feeds(&fixed, "2m")).unwrap();
    s.sync_plan(None);
    for name in ["fixed", "faster"] {
        let d = due_in(&s, name, before);
        assert!(
            d <= Duration::from_secs(10) + before.elapsed(),
            "{name} changed: scheduled like a new feed, not {d:?} away"
        );
    }
    assert_eq!(s.due["same"], same_at, "an unchanged feed keeps its time");
}

/// Regression: a reload that changed a failing feed's interval (a new `poll_interval`, for
/// every feed without its own) scheduled it like a new feed, within seconds: the backoff it
/// had earned and a server's `Retry-After` were thrown away, and every failing feed was
/// fetched again at once. Only its interval changed, not its address: it keeps its time.
#[tokio::test]
async fn a_reload_of_the_interval_keeps_a_failing_feeds_backoff() {
    let [failing, healthy] = ["failing", "healthy"].map(news_url);
    let store = SqliteStore::in_memory().await.unwrap();
    store_next_poll(&store, "failing", &failing, 2 * 3_600_000).await;
    store_next_success(&store, "healthy", &healthy, 2 * 3_600_000).await;
    let feeds = [("failing", failing.as_str()), ("healthy", healthy.as_str())];
    let (mut s, tx) = scheduler(plan_of(&feeds, "poll_interval = \"6h\""), store).await;
    let failing_at = s.due["failing"];
    let before = Instant::now();
    tx.send(plan_of(&feeds, "poll_interval = \"5m\"")).unwrap();
    s.sync_plan(None);
    assert_eq!(
        s.due["failing"], failing_at,
        "a failing feed keeps its backoff"
    );
    assert!(
        due_in(&s, "healthy", before) <= Duration::from_secs(10) + before.elapsed(),
        "a healthy feed takes its new interval at once"
    );
    // Once a poll of it succeeds, it is a healthy feed like any other.
    s.finished(Done {
        feed: "failing".into(),
        host: String::new(),
        lives_on: None,
        next_in: Some(Duration::from_secs(3600)),
        failed: false,
    });
    let before = Instant::now();
    tx.send(plan_of(&feeds, "poll_interval = \"7m\"")).unwrap();
    s.sync_plan(None);
    assert!(due_in(&s, "failing", before) <= Duration::from_secs(10) + before.elapsed());
}

/// Regression: a feed being polled when a reload gave it another address or interval was
/// scheduled, when that poll ended, by the time the poll worked out for the old ones: a fixed
/// URL waited out the old address's backoff (up to `backoff_cap`), a day's interval cut to
/// five minutes waited the day.
#[tokio::test]
async fn a_feed_a_reload_changes_while_it_is_polled_is_scheduled_anew_when_the_poll_ends() {
    let [fixed, faster, failed, slow] = ["fixed", "faster", "failed", "slow"].map(news_url);
    let typo = "https://typo.example/rss";
    let feeds = |fixed_url: &str, every: &str| {
        let mut toml = "[daemon]\npoll_interval = \"6h\"\nbackoff_cap = \"6h\"\n".to_string();
        toml.push_str(&format!(
            "[[feed]]\nname = \"fixed\"\nurl = \"{fixed_url}\"\n"
        ));
        for (name, url) in [("faster", &faster), ("failed", &failed), ("slow", &slow)] {
            let every = if name == "slow" { "6h" } else { every };
            toml.push_str(&format!(
                "[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\ninterval = \"{every}\"\n"
            ));
        }
        Arc::new(crate::plan::load_str(Path::new("t.toml"), toml).unwrap())
    };
    let old = feeds(typo, "6h");
    let (mut s, tx) = scheduler(old.clone(), SqliteStore::in_memory().await.unwrap()).await;
    for name in ["fixed", "faster", "failed", "slow"] {
        s.in_flight.insert(name.into());
    }
    tx.send(feeds(&fixed, "2m")).unwrap();
    s.sync_plan(None);
    let six_hours = Some(Duration::from_secs(6 * 3600));
    let source = |name: &str| {
        let f = old.feeds.iter().find(|f| f.name == name).unwrap();
        Some((f.source.clone(), host_key(&f.source)))
    };
    let before = Instant::now();
    for (name, failed) in [
        ("fixed", true),
        ("faster", false),
        ("failed", true),
        ("slow", false),
    ] {
        s.finished(Done {
            feed: name.into(),
            host: String::new(),
            lives_on: source(name),
            next_in: six_hours,
            failed,
        });
    }
    let slack = before.elapsed();
    assert!(
        due_in(&s, "fixed", before) <= Duration::from_secs(10) + slack,
        "a new address is polled like a new feed, not after the old one's backoff"
    );
    assert!(
        due_in(&s, "faster", before) <= Duration::from_secs(120) + slack,
        "a shorter interval counts from the poll that ended"
    );
    for name in ["failed", "slow"] {
        assert!(
            due_in(&s, name, before) >= Duration::from_secs(6 * 3600),
            "{name}: a backoff earned by the same address, or an unchanged feed, keeps its time"
        );
    }
    // A poll that polled nothing (its state unreadable) keeps its own retry, a minute: it
    // tried neither address.
    tx.send(feeds(typo, "2m")).unwrap();
    s.sync_plan(None);
    s.in_flight.insert("fixed".into());
    tx.send(feeds(&fixed, "2m")).unwrap();
    s.sync_plan(None);
    let before = Instant::now();
    s.finished(Done {
        feed: "fixed".into(),
        host: String::new(),
        lives_on: None,
        next_in: None,
        failed: true,
    });
    assert!(due_in(&s, "fixed", before) >= Duration::from_secs(60));
    // Once scheduled anew, a feed's next poll is its own again.
    s.finished(Done {
        feed: "faster".into(),
        host: String::new(),
        lives_on: source("faster"),
        next_in: six_hours,
        failed: false,
    });
    assert!(due_in(&s, "faster", before) >= Duration::from_secs(6 * 3600));
}

/// Regression: a reload's plan was read before `sync_plan` re-indexed it (the loop took a
/// finished poll first). A feed waiting for its host's turn that the reload moved in the list
/// was taken for a removed one: out of the queue, but still marked scheduled, so the sync
/// never scheduled it again, and it was never polled again.
#[tokio::test]
async fn a_feed_waiting_its_turn_when_a_reload_moves_it_stays_scheduled() {
    let daemon = "poll_interval = \"10m\"";
    let (a, b) = (seed_url("rss"), seed_url("atom"));
    let (mut s, tx) = scheduler(
        plan_of(&[("a", &a), ("b", &b)], daemon),
        SqliteStore::in_memory().await.unwrap(),
    )
    .await;
    // `b` was due and waits in the admission queue.
    let due: Vec<String> = s.take_due(Instant::now() + Duration::from_secs(3600));
    assert!(due.contains(&"b".to_string()), "{due:?}");
    // A reload adds a feed before both; the loop admits before it syncs.
    tx.send(plan_of(
        &[("new", &news_url("new")), ("a", &a), ("b", &b)],
        daemon,
    ))
    .unwrap();
    let (done_tx, _done_rx) = mpsc::channel(16);
    let tracker = TaskTracker::new();
    s.admit(&done_tx, &tracker);
    s.sync_plan(None);
    for feed in ["a", "b"] {
        let scheduled = s.due.get(feed).is_some_and(|at| {
            s.heap
                .iter()
                .any(|Reverse((t, n))| n.as_str() == feed && t == at)
        });
        assert!(
            s.in_flight.contains(feed) || scheduled,
            "{feed} is neither polling nor scheduled"
        );
    }
    tracker.close();
    tracker.wait().await;
}

#[tokio::test]
async fn thousands_of_new_feeds_are_spread_over_6_ms_each() {
    let names: Vec<String> = (0..2500).map(|i| format!("f{i}")).collect();
    let urls: Vec<String> = names.iter().map(|n| news_url(n)).collect();
    let feeds: Vec<(&str, &str)> = names
        .iter()
        .zip(&urls)
        .map(|(n, u)| (n.as_str(), u.as_str()))
        .collect();
    let plan = plan_of(&feeds, "poll_interval = \"1h\"");
    let before = Instant::now();
    let (s, _tx) = scheduler(plan, SqliteStore::in_memory().await.unwrap()).await;
    let took = before.elapsed();
    let latest = names.iter().map(|n| due_in(&s, n, before)).max().unwrap();
    // 2500 feeds × 6 ms = 15 s; uniform over it, 2500 draws all under 11 s have a
    // probability of (11/15)^2500.
    assert!(
        latest <= Duration::from_secs(15) + took,
        "spread past 15 s: {latest:?}"
    );
    assert!(
        latest > Duration::from_secs(11),
        "2500 feeds spread over no more than 11 s: {latest:?}"
    );
}

#[tokio::test]
async fn a_hosts_semaphore_is_shared_and_outlives_a_reload_only_while_held() {
    let daemon = "per_host_concurrency = 3";
    let plan = plan_of(
        &[
            ("a", "https://One.example/a"),
            ("b", "https://one.example/b"),
            ("c", "https://two.example/c"),
            ("d", "https://three.example/d"),
        ],
        daemon,
    );
    let (mut s, tx) = scheduler(plan.clone(), SqliteStore::in_memory().await.unwrap()).await;
    let limits = s.ctx.limits.clone();
    let host = |i: usize| host_key(&plan.feeds[i].source);
    let a = limits.acquire(&host(0)).await;
    let b = limits.acquire(&host(1)).await;
    // One host in any letter case: one semaphore, two of its three permits taken.
    assert_eq!(limits.available("one.example"), 1);
    let c = limits.acquire(&host(2)).await;
    let d = limits.acquire(&host(3)).await;
    assert_eq!(limits.available("two.example"), 2);
    assert_eq!(
        limits.hosts(),
        ["one.example", "three.example", "two.example"]
    );
    // A reload keeps only two.example; one.example's semaphore is still held (a poll in
    // flight), three.example's is not.
    drop((b, c, d));
    tx.send(plan_of(&[("c", "https://two.example/c")], daemon))
        .unwrap();
    s.sync_plan(None);
    assert_eq!(
        limits.hosts(),
        ["one.example", "two.example"],
        "kept: the configured host and the one a poll still holds"
    );
    drop(a);
    tx.send(plan_of(&[("c", "https://two.example/c")], daemon))
        .unwrap();
    s.sync_plan(None);
    assert_eq!(limits.hosts(), ["two.example"]);
}

#[test]
fn a_feed_file_has_no_host() {
    let file = FeedSource::File("/srv/feeds/a.xml".into());
    assert_eq!(host_key(&file), "");
    let http = FeedSource::Http(url::Url::parse("https://News.Example:8443/rss").unwrap());
    assert_eq!(host_key(&http), "news.example");
}
