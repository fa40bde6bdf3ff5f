//! The real daemon against a local news server and webhook receiver: seen items, baselines,
//! restarts, conditional GET, reload.

mod common;

use std::time::Duration;

use common::{Daemon, FeedServer, Item, Receiver, daemon_section, wait_for};

fn config(feed: &FeedServer, hook: &Receiver, extra_daemon: &str, watches: &str) -> String {
    format!(
        "{}\n[[feed]]\nname = \"news\"\nurl = \"{}\"\n\n[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n\n{}",
        daemon_section(extra_daemon),
        feed.url(),
        hook.url(),
        watches
    )
}

const TROOPS: &str = "[[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\n";

fn boring(n: usize) -> Vec<Item> {
    (0..n)
        .map(|i| Item::new(&format!("old{i}"), "Weather in Kyiv today"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_item_is_delivered_exactly_once_even_across_restarts() {
    let feed = FeedServer::start(boring(3)).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&feed, &hook, "", TROOPS));
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= 2).await,
        "{}",
        d.log()
    );
    feed.push(Item::new("n1", "North Korean troops reach Kursk"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    let r = &hook.delivered()[0];
    assert_eq!(r.body["type"], "alert.matched");
    assert_eq!(r.body["data"]["watch"], "troops");
    assert_eq!(r.body["data"]["item_key"], "n1");
    assert!(r.id.starts_with("nw_"));
    // More polls (304s) add nothing.
    let polls = feed.requests();
    assert!(wait_for(Duration::from_secs(20), || feed.requests() >= polls + 3).await);
    assert!(
        feed.not_modified() >= 2,
        "conditional GET should answer 304"
    );
    assert_eq!(hook.got().len(), 1);
    d.stop();
    // A restart re-reads the feed (validators survive, but force a full fetch too).
    feed.set_etags(false);
    d.start();
    let polls = feed.requests();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= polls + 3).await,
        "{}",
        d.log()
    );
    assert_eq!(
        hook.got().len(),
        1,
        "restart must not re-alert: {}",
        d.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_without_guid_or_link_are_not_realerted() {
    let feed = FeedServer::start(boring(2)).await;
    feed.set_etags(false); // every poll is a full parse
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&feed, &hook, "", TROOPS));
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= 2).await,
        "{}",
        d.log()
    );
    feed.push(Item {
        guid: None,
        link: None,
        title: "North Korean troops, no guid, no link".into(),
        description: "Seen near the border.".into(),
        published: None,
    });
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    let polls = feed.requests();
    assert!(wait_for(Duration::from_secs(20), || feed.requests() >= polls + 4).await);
    assert_eq!(hook.got().len(), 1, "{}", d.log());
    let key = hook.delivered()[0].body["data"]["item_key"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(key.starts_with("h:"), "derived key: {key}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_feed_is_baselined() {
    let old: Vec<Item> = (0..50)
        .map(|i| Item::new(&format!("o{i}"), "North Korean troops, an old story"))
        .collect();
    let feed = FeedServer::start(old).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&feed, &hook, "", TROOPS));
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= 3).await,
        "{}",
        d.log()
    );
    assert!(hook.got().is_empty(), "50 old items must not alert");
    // Only what arrives after the baseline alerts.
    feed.push(Item::new("fresh", "North Korean troops, fresh"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    assert_eq!(hook.delivered()[0].body["data"]["item_key"], "fresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_broken_file_keeps_the_old_config() {
    let feed = FeedServer::start(boring(1)).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let good = config(&feed, &hook, "", TROOPS);
    let mut d = Daemon::new(dir.path(), &good);
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= 2).await,
        "{}",
        d.log()
    );
    d.write_config(&format!(
        "{good}\n[[watch]]\nname = \"broken\"\nquery = \"a AND (\"\n"
    ));
    d.signal("HUP");
    assert!(
        wait_for(Duration::from_secs(10), || d
            .log()
            .contains("reload rejected"))
        .await,
        "{}",
        d.log()
    );
    assert!(
        d.log().contains("query column"),
        "the log says why: {}",
        d.log()
    );
    feed.push(Item::new("a1", "North Korean troops after a bad reload"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    // A good reload adds a watch that applies to items arriving after it.
    // Its `[semantic]` table no watch uses is said, not refused.
    d.write_config(&format!(
        "{good}\n[[watch]]\nname = \"plan\"\nterms = [\"Victory Plan\"]\n\n[semantic]\nthreads = 1\n"
    ));
    d.signal("HUP");
    assert!(
        wait_for(Duration::from_secs(10), || d
            .log()
            .contains("configuration reloaded"))
        .await,
        "{}",
        d.log()
    );
    assert!(
        d.log()
            .contains("[semantic] is not used: no watch has `about`"),
        "{}",
        d.log()
    );
    // A poll in flight during the reload runs to its end under the old watches: let it (and
    // one more) fetch before the item arrives, so only polls under the new watches see it.
    let polls = feed.requests();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= polls + 2).await,
        "{}",
        d.log()
    );
    feed.push(Item::new("a2", "Zelensky presents the Victory Plan"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 2).await,
        "{}",
        d.log()
    );
    assert_eq!(hook.delivered()[1].body["data"]["watch"], "plan");
    d.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_polls_delivers_and_exits() {
    let feed = FeedServer::start(vec![Item::new("x1", "North Korean troops")]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&feed, &hook, "on_new_feed = \"all\"", TROOPS).replace(
        "name = \"news\"\n",
        "name = \"news\"\ninterval = \"500ms\"\n",
    );
    std::fs::write(dir.path().join("n.toml"), &cfg).unwrap();
    let out = common::run_once(&dir.path().join("n.toml")).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // A setting that does less than written is logged at start.
    assert!(
        err.contains("feed `news`: `interval` (500ms) is below `min_poll_interval`"),
        "{err}"
    );
    assert_eq!(hook.delivered().len(), 1);
    // Unreachable receiver: the alert stays queued and the exit code says so.
    let cfg = cfg.replace(&hook.url(), "http://127.0.0.1:9/hook");
    std::fs::write(dir.path().join("n.toml"), cfg).unwrap();
    feed.push(Item::new("x2", "More North Korean troops"));
    let out = common::run_once(&dir.path().join("n.toml")).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 delivery not delivered yet; queued, retried at the next run"),
        "{err}"
    );
    assert!(!err.contains("dead letters"), "{err}");
}

/// Regression: `run --once` said of alerts its receiver refused for good (dead letters, never
/// retried unless asked) that they "stay queued".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_names_dead_letters_apart_from_queued_deliveries() {
    let feed = FeedServer::start(vec![Item::new("x1", "North Korean troops")]).await;
    let hook = Receiver::start(Box::new(|_, _| (400, vec![], Duration::ZERO))).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&feed, &hook, "on_new_feed = \"all\"", TROOPS);
    std::fs::write(dir.path().join("n.toml"), &cfg).unwrap();
    let out = common::run_once(&dir.path().join("n.toml")).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 delivery failed for good and became dead letters")
            && err.contains("deliveries retry --dead"),
        "{err}"
    );
    assert!(!err.contains("retried at the next run"), "{err}");
}

/// Regression: `run --once` exited 0 when feeds could not be polled (every one of them, even):
/// a cron job saw success while nothing was read. The good feed's alert is still delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_exits_1_naming_the_feeds_it_could_not_poll() {
    let feed = FeedServer::start(vec![Item::new("x1", "North Korean troops")]).await;
    let broken = FeedServer::start(vec![]).await;
    broken.set_fail(Some(500));
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "{}[[feed]]\nname = \"broken\"\nurl = \"{}\"\n",
        config(&feed, &hook, "on_new_feed = \"all\"", TROOPS),
        broken.url()
    );
    std::fs::write(dir.path().join("n.toml"), &cfg).unwrap();
    let out = common::run_once(&dir.path().join("n.toml")).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 of the feeds could not be polled: broken"),
        "{err}"
    );
    assert!(!err.contains("retried at the next run"), "{err}");
    assert_eq!(hook.delivered().len(), 1, "the good feed's alert went out");
    // Fixed, the next run is clean.
    broken.set_fail(None);
    let out = common::run_once(&dir.path().join("n.toml")).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A daemon started on a feed whose configured URL answers 301 to its `/feed.xml`.
async fn start_on_moved_url() -> (FeedServer, Receiver, tempfile::TempDir, Daemon) {
    let feed = FeedServer::start(boring(1)).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&feed, &hook, "", TROOPS).replace(&feed.url(), &feed.moved_url());
    let mut d = Daemon::new(dir.path(), &cfg);
    d.start();
    (feed, hook, dir, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_redirect_moves_the_feed() {
    let (feed, _hook, _dir, mut d) = start_on_moved_url().await;
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= 4).await,
        "{}",
        d.log()
    );
    assert_eq!(
        feed.moved_requests(),
        1,
        "after a 301 the new URL is polled directly"
    );
    assert!(d.log().contains("feed moved"), "{}", d.log());
    d.stop();
    // The move is remembered across restarts.
    d.start();
    let polls = feed.requests();
    assert!(wait_for(Duration::from_secs(20), || feed.requests() >= polls + 2).await);
    assert_eq!(feed.moved_requests(), 1);
}

/// Regression: a learned move was kept for good, so a feed whose new URL broke while the
/// configured one answered again failed forever. Now, after three failures in a row, every
/// other poll asks the configured URL, and the move is forgotten when it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_whose_new_url_fails_goes_back_to_the_configured_url() {
    let (feed, hook, _dir, mut d) = start_on_moved_url().await;
    assert!(
        wait_for(Duration::from_secs(20), || d.log().contains("feed moved")).await,
        "{}",
        d.log()
    );
    // The new URL breaks; the configured one serves the feed itself again.
    feed.set_fail(Some(500));
    feed.set_moved_serves(true);
    assert!(
        wait_for(Duration::from_secs(40), || d
            .log()
            .contains("the configured URL answers: polling it again"))
        .await,
        "{}",
        d.log()
    );
    let (moved, broken) = (feed.moved_requests(), feed.requests());
    feed.push(Item::new("n1", "North Korean troops reach Kursk"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    assert!(feed.moved_requests() > moved);
    assert_eq!(
        feed.requests(),
        broken,
        "the broken new URL was polled again"
    );
    d.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_story_from_two_feeds_alerts_once_per_watch() {
    let a = FeedServer::start(vec![]).await;
    let b = FeedServer::start(vec![]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "{}\n[[feed]]\nname = \"a\"\nurl = \"{}\"\n\n[[feed]]\nname = \"b\"\nurl = \"{}\"\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n\n{TROOPS}",
        daemon_section(""),
        a.url(),
        b.url(),
        hook.url()
    );
    let mut d = Daemon::new(dir.path(), &cfg);
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || a.requests() >= 2
            && b.requests() >= 2)
        .await,
        "{}",
        d.log()
    );
    let mut story = Item::new("s1", "North Korean troops");
    story.link = Some("https://news.example/story?utm_source=rss".into());
    a.push(story.clone());
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    story.guid = Some("other-guid".into());
    story.link = Some("HTTPS://NEWS.example/story/#comments".into());
    b.push(story);
    assert!(
        wait_for(Duration::from_secs(20), || d.log().contains("suppressed=1")).await,
        "{}",
        d.log()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(hook.got().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_new_feed_recent_alerts_only_recent_items() {
    let mut old = Item::new("old", "North Korean troops, last year");
    old.published = Some("Sun, 20 Oct 2024 09:30:00 GMT".into());
    let mut fresh = Item::new("fresh", "North Korean troops, this morning");
    fresh.published = Some(chrono::Utc::now().to_rfc2822());
    // No date at all: first-seen time (now) stands in, so it is recent.
    let mut undated = Item::new("undated", "North Korean troops, undated");
    undated.published = None;
    // Regression: an item dated years ahead (an events feed dating items by the event) was
    // "recent", and a new events feed alerted its whole backlog. Within `recent_window` ahead
    // (a publisher's clock or zone a few hours off) it still is.
    let mut event = Item::new("event", "North Korean troops parade, 2035");
    event.published = Some("Sat, 01 Dec 2035 09:30:00 GMT".into());
    let mut ahead = Item::new("ahead", "North Korean troops, zone off by three hours");
    ahead.published = Some((chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc2822());
    let feed = FeedServer::start(vec![old, fresh, undated, event, ahead]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(
        dir.path(),
        &config(
            &feed,
            &hook,
            "on_new_feed = \"recent\"\nrecent_window = \"24h\"",
            TROOPS,
        ),
    );
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 3).await,
        "{}",
        d.log()
    );
    let polls = feed.requests();
    assert!(wait_for(Duration::from_secs(20), || feed.requests() >= polls + 2).await);
    let mut keys: Vec<String> = hook
        .delivered()
        .iter()
        .map(|r| {
            r.body["data"]["item_key"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    keys.sort();
    assert_eq!(keys, ["ahead", "fresh", "undated"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_state_refuses_to_start() {
    let feed = FeedServer::start(boring(1)).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&feed, &hook, "", TROOPS));
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= 1).await,
        "{}",
        d.log()
    );
    let out = common::run_once(&d.config).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another newswatch is running with the state file"),
        "{err}"
    );
    // The first one is unaffected, and once it stops the state is free again.
    d.stop();
    let out = common::run_once(&d.config).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Regression: the signal handlers were installed only once the daemon was up, so a SIGHUP
/// during its startup (a migration, a model loading, thousands of feeds scheduled) ended the
/// process, which systemd counts as a clean exit and does not restart. Now the reload is
/// applied once the daemon runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_during_startup_is_a_reload_once_running() {
    let dir = tempfile::tempdir().unwrap();
    // Enough feeds that starting takes a while after the state is open.
    let mut feeds = String::new();
    for i in 0..3000 {
        std::fs::write(
            dir.path().join(format!("feed{i}.xml")),
            "<rss version=\"2.0\"><channel><title>t</title></channel></rss>",
        )
        .unwrap();
        feeds.push_str(&format!(
            "[[feed]]\nname = \"f{i}\"\nurl = \"file:feed{i}.xml\"\ninterval = \"1h\"\n\n"
        ));
    }
    let config = format!(
        "{}\n{feeds}[[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n{TROOPS}",
        daemon_section("")
    );
    let mut d = Daemon::new(dir.path(), &config);
    d.start();
    // The state is open ("starting" is logged after it): signal at once.
    let started = std::time::Instant::now();
    while !d.log().contains("starting") {
        assert!(started.elapsed() < Duration::from_secs(30), "{}", d.log());
        std::thread::sleep(Duration::from_millis(1));
    }
    d.signal("HUP");
    assert!(
        wait_for(Duration::from_secs(30), || d
            .log()
            .contains("SIGHUP: reloading configuration"))
        .await,
        "the reload was applied once running:\n{}",
        d.log()
    );
    d.stop();
}
