//! The scheduler's bookkeeping: where each feed lands when it is first scheduled (its stored
//! time, clamped, or spread out), what a reload keeps, the per-host semaphores, the loop that
//! starts due feeds (and only those) and how long it sleeps. Feeds are read from a local file,
//! so a poll takes milliseconds. Written against mutation testing (docs/testing.md).

use std::path::Path;

use super::poll::failed_by_panic;
use super::*;
use crate::feed::fetch::FetchOptions;
use crate::store::sqlite::SqliteStore;
use crate::store::{FailureRecord, FeedState};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn plan_of(feeds: &[(&str, &str)], daemon: &str) -> Arc<Plan> {
    let mut toml = format!("[daemon]\n{daemon}\n");
    for (name, url) in feeds {
        toml.push_str(&format!("\n[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
    }
    Arc::new(crate::plan::load_str(Path::new("t.toml"), toml).unwrap())
}

/// A local feed file (each feed needs a URL of its own): `seed.rss` or `seed.atom`.
fn seed_url(ext: &str) -> String {
    format!("file://{FIXTURES}/seed.{ext}")
}

fn news_url(name: &str) -> String {
    format!("https://news.example/{name}")
}

/// A plan of feeds named `names` at [`news_url`]s, and those URLs.
fn news_plan(names: &[&str], daemon: &str) -> (Arc<Plan>, Vec<String>) {
    let urls: Vec<String> = names.iter().map(|n| news_url(n)).collect();
    let feeds: Vec<(&str, &str)> = names
        .iter()
        .copied()
        .zip(urls.iter().map(String::as_str))
        .collect();
    (plan_of(&feeds, daemon), urls)
}

async fn scheduler(
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
async fn store_next_poll(store: &SqliteStore, feed: &str, config_url: &str, in_ms: i64) {
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
async fn store_next_success(store: &SqliteStore, feed: &str, config_url: &str, in_ms: i64) {
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
fn due_in(s: &Scheduler<SqliteStore>, feed: &str, from: Instant) -> Duration {
    let at = s.due.get(feed).copied();
    let at = at.unwrap_or_else(|| panic!("{feed} is not scheduled"));
    assert!(at >= from, "{feed} is due before the scheduler started");
    at - from
}

fn polled(states: &[FeedState], feed: &str) -> bool {
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

#[tokio::test]
async fn one_pass_polls_every_feed_and_stores_its_state() {
    let plan = plan_of(&[("a", &seed_url("rss")), ("b", &seed_url("atom"))], "");
    let store = SqliteStore::in_memory().await.unwrap();
    let (s, _tx) = scheduler(plan, store).await;
    let ctx = s.ctx.clone();
    let tracker = TaskTracker::new();
    s.run_once(&tracker).await;
    let states = ctx.store.feed_states().await.unwrap();
    assert!(polled(&states, "a") && polled(&states, "b"), "{states:?}");
    assert!(ctx.beat.get() >= 2, "each finished poll bumps the beat");
}

#[tokio::test]
async fn a_poll_asks_for_a_sweep_only_when_a_reload_landed_while_it_ran() {
    let plan = plan_of(&[("a", &seed_url("rss"))], "");
    let (mut s, tx) = scheduler(plan.clone(), SqliteStore::in_memory().await.unwrap()).await;
    let tracker = TaskTracker::new();
    let (done_tx, mut done_rx) = mpsc::channel(4);
    let sweep = s.ctx.sweep.clone();
    s.spawn(
        plan.feeds[0].clone(),
        host_key(&plan.feeds[0].source),
        done_tx.clone(),
        &tracker,
    );
    assert!(s.in_flight.contains("a"));
    let done = done_rx.recv().await.unwrap();
    assert_eq!(done.feed, "a");
    assert!(done.next_in.is_some());
    assert!(
        !asked(&sweep).await,
        "a sweep after a poll under the current plan"
    );
    // The task runs only once this one waits: the reload lands while it runs.
    s.spawn(
        plan.feeds[0].clone(),
        host_key(&plan.feeds[0].source),
        done_tx,
        &tracker,
    );
    tx.send(plan_of(&[("a", &seed_url("rss"))], "")).unwrap();
    done_rx.recv().await.unwrap();
    assert!(
        asked(&sweep).await,
        "no sweep after a poll that outlived its plan"
    );
}

/// Whether a sweep was asked for (a stored `notify_one` permit).
async fn asked(sweep: &Notify) -> bool {
    tokio::time::timeout(Duration::from_millis(100), sweep.notified())
        .await
        .is_ok()
}

/// Run the loop for `for_ms`, then stop it; returns the store's feed states and the beats.
async fn run_for(s: Scheduler<SqliteStore>, for_ms: u64) -> (Vec<FeedState>, u64) {
    let ctx = s.ctx.clone();
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    let task = tokio::spawn(s.run(token.clone(), tracker.clone()));
    tokio::time::sleep(Duration::from_millis(for_ms)).await;
    token.cancel();
    task.await.unwrap();
    tracker.close();
    tracker.wait().await;
    (ctx.store.feed_states().await.unwrap(), ctx.beat.get())
}

#[tokio::test]
async fn the_loop_starts_due_feeds_and_only_those() {
    let (due, later) = (seed_url("rss"), seed_url("atom"));
    let plan = plan_of(
        &[("due", &due), ("later", &later)],
        "poll_interval = \"10m\"",
    );
    let store = SqliteStore::in_memory().await.unwrap();
    // Stored under the configured URL as the store keeps it (`file:PATH`).
    let stored = |i: usize| plan.feeds[i].source.to_string();
    store_next_poll(&store, "due", &stored(0), -1000).await;
    store_next_poll(&store, "later", &stored(1), 120_000).await;
    let (s, _tx) = scheduler(plan, store).await;
    let (states, beats) = run_for(s, 1500).await;
    assert!(
        polled(&states, "due"),
        "a due feed was not polled: {states:?}"
    );
    assert!(
        !polled(&states, "later"),
        "a feed due in 2 minutes was polled at once"
    );
    assert!(
        beats < 50,
        "the loop spun ({beats} beats in 1.5 s) instead of sleeping"
    );
}

#[tokio::test]
async fn the_loop_skips_a_feed_in_flight_and_a_stale_heap_entry() {
    let plan = plan_of(
        &[("busy", &seed_url("rss")), ("stale", &seed_url("atom"))],
        "poll_interval = \"10m\"",
    );
    let (mut s, _tx) = scheduler(plan, SqliteStore::in_memory().await.unwrap()).await;
    let now = Instant::now();
    // `busy` is due, but a poll of it is still running: its completion reschedules it.
    s.in_flight.insert("busy".into());
    s.schedule("busy", now);
    // `stale` was due now, then moved an hour ahead: the old heap entry must not start it.
    s.schedule("stale", now);
    s.due
        .insert("stale".into(), now + Duration::from_secs(3600));
    // Only the entries above are due (the startup spread may have put another at 0 s).
    s.heap.retain(|Reverse((at, _))| *at == now);
    let (states, beats) = run_for(s, 1000).await;
    assert!(
        !polled(&states, "busy"),
        "a second poll of a feed in flight"
    );
    assert!(
        !polled(&states, "stale"),
        "a stale heap entry started a poll"
    );
    // Nothing left to wait for: the loop wakes for its heartbeat only.
    assert!(beats < 10, "the idle loop spun: {beats} beats in 1 s");
}

#[tokio::test]
async fn a_crashed_poll_of_a_feed_with_no_state_names_the_feed_and_backs_off() {
    let plan = plan_of(&[("f", "https://x.example/rss")], "poll_interval = \"10m\"");
    let store = SqliteStore::in_memory().await.unwrap();
    let before = now_millis();
    let wait = failed_by_panic(&store, &plan, &plan.feeds[0], None).await;
    // The first failure waits the interval, jittered over its upper half.
    assert!(
        wait >= Duration::from_secs(5 * 60) && wait <= Duration::from_secs(10 * 60),
        "{wait:?}"
    );
    let stored = &store.feed_states().await.unwrap()[0];
    assert_eq!(stored.feed, "f");
    assert_eq!(stored.failures, 1);
    // The stored time is the one the wait leads to.
    let at = stored.next_poll_at.unwrap() - before;
    let wait_ms = wait.as_millis() as i64;
    assert!(
        (wait_ms..=wait_ms + 1000).contains(&at),
        "{at} vs {wait_ms}"
    );
}

/// Feeds due within START_AHEAD of a wake-up start with it (early, never late); later ones,
/// stale entries and feeds still polling wait.
#[tokio::test]
async fn a_wake_up_starts_the_feeds_due_within_start_ahead_only() {
    let (plan, _) = news_plan(&["now", "soon", "later", "busy"], "poll_interval = \"10m\"");
    let (mut s, _tx) = scheduler(plan, SqliteStore::in_memory().await.unwrap()).await;
    let now = Instant::now();
    s.heap.clear();
    s.due.clear();
    s.schedule("now", now);
    s.schedule("soon", now + START_AHEAD - Duration::from_millis(1));
    s.schedule("later", now + START_AHEAD + Duration::from_millis(1));
    s.schedule("busy", now);
    s.in_flight.insert("busy".into());
    // A stale entry: "soon" was rescheduled since.
    s.heap.push(Reverse((now, "soon".to_string())));
    let started: Vec<String> = s.take_due(now);
    assert_eq!(started, ["now", "soon"]);
    assert_eq!(s.take_due(now).len(), 0, "nothing is started twice");
    let later: Vec<String> = s.take_due(now + Duration::from_millis(2));
    assert_eq!(later, ["later"]);
}

/// Regression: a feed's state is read from the store when its poll starts (no copy is kept in
/// memory); a read that fails must not poll the feed as if it had no state, which would take
/// a new baseline and never alert the items that arrived since its last poll. The states of
/// the polls started together are read in one query, which one bad row fails: the feeds
/// started with it must still be polled.
#[tokio::test]
async fn a_poll_whose_state_cannot_be_read_polls_nothing_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let url = seed_url("rss");
    let other = seed_url("atom");
    store_next_poll(&store, "a", &url, 0).await;
    store_next_poll(&store, "b", &other, 0).await;
    let plan = plan_of(&[("a", &url), ("b", &other)], "");
    let (mut s, _tx) = scheduler(plan.clone(), store).await;
    // A value the store cannot read back (a blob where text belongs), written behind its back.
    let mut raw = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        path.display()
    ))
    .await
    .unwrap();
    sqlx::query("UPDATE feeds SET etag = x'ff00' WHERE feed = 'a'")
        .execute(&mut raw)
        .await
        .unwrap();
    let tracker = TaskTracker::new();
    let (done_tx, mut done_rx) = mpsc::channel(4);
    let batch = plan
        .feeds
        .iter()
        .map(|f| (f.clone(), host_key(&f.source)))
        .collect();
    s.start_batch(batch, done_tx, &tracker);
    let mut dones = Vec::new();
    for _ in 0..2 {
        dones.push(done_rx.recv().await.unwrap());
    }
    dones.sort_by(|x, y| x.feed.cmp(&y.feed));
    assert_eq!(dones[0].feed, "a");
    assert_eq!(
        dones[0].next_in, None,
        "an unreadable state must not be polled"
    );
    assert_eq!(dones[1].feed, "b");
    assert!(dones[1].next_in.is_some(), "b was held back by a's bad row");
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT feed, baselined, last_result FROM feeds WHERE feed IN ('a', 'b') ORDER BY feed",
    )
    .fetch_all(&mut raw)
    .await
    .unwrap();
    assert_eq!(
        rows[0],
        ("a".to_string(), 0, "error".to_string()),
        "a was polled"
    );
    assert_eq!(rows[1].1, 1, "b was not polled: {rows:?}");
    for done in dones {
        s.finished(done);
    }
    assert!(s.in_flight.is_empty());
    assert!(s.due.contains_key("a"), "the feed must be retried");
}
