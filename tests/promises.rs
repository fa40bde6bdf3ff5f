//! Regression tests for paths that silently lost, repeated or stalled alerts, each against the
//! real daemon, a local news server and a local webhook receiver (all on loopback).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Daemon, FeedServer, Item, Receiver, daemon_section, wait_for};
use newswatch::store::Store;
use newswatch::store::sqlite::SqliteStore;

const TROOPS: &str =
    "[[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\nsinks = [\"hook\"]\n";

fn config(feed: &str, hook: &Receiver, extra: &str) -> String {
    format!(
        "{}\n[[feed]]\nname = \"news\"\nurl = \"{feed}\"\n\n[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n\n{TROOPS}",
        daemon_section(extra),
        hook.url(),
    )
}

/// The daemon watching `feed` for the troops watch and sending to `hook`, started; its state
/// lives in the directory returned with it.
fn watching(feed: &FeedServer, hook: &Receiver) -> (tempfile::TempDir, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&feed.url(), hook, ""));
    d.start();
    (dir, d)
}

/// Wait until the feed server has answered `n` more requests.
async fn polls(feed: &FeedServer, n: u64, d: &Daemon) {
    let target = feed.requests() + n;
    assert!(
        wait_for(Duration::from_secs(30), || feed.requests() >= target).await,
        "{}",
        d.log()
    );
}

/// Regression: one soft-404 or home-page answer from a feed URL made discovery store the page's
/// feed link as the feed's new URL for good, and the new document's backlog alerted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_html_page_does_not_re_point_the_feed() {
    let feed = FeedServer::start(vec![Item::new("a", "Weather")]).await;
    // The page links another feed (a site-wide one) that shares one item with this one: too
    // few for the same feed moved, so its backlog is baselined.
    feed.set_other(vec![
        Item::new("o1", "North Korean troops in the backlog"),
        Item::new("o2", "Markets"),
        Item::new("o3", "Sport"),
        Item::new("a", "Weather"),
    ]);
    let hook = Receiver::ok().await;
    let (_dir, mut d) = watching(&feed, &hook);
    polls(&feed, 2, &d).await;
    // One HTML answer, then the feed again.
    feed.set_html(true);
    polls(&feed, 1, &d).await;
    feed.set_html(false);
    polls(&feed, 2, &d).await;
    assert_eq!(
        feed.other_requests(),
        0,
        "followed a passing page\n{}",
        d.log()
    );
    // HTML three polls in a row: the page is what the URL serves now; follow its link, and
    // baseline the new document instead of alerting its backlog.
    feed.set_html(true);
    assert!(
        wait_for(Duration::from_secs(30), || feed.other_requests() >= 1).await,
        "{}",
        d.log()
    );
    assert!(
        wait_for(Duration::from_secs(10), || d.log().contains("feed moved")).await,
        "{}",
        d.log()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        hook.delivered().is_empty(),
        "the moved feed's backlog alerted"
    );
    d.stop();
}

/// Regression: a feed whose URL came to serve an HTML page linking to the same feed at a new
/// address was baselined there like a new feed, so what it published meanwhile never alerted.
/// A linked document listing an item the feed has seen is the same feed: its new items alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_moved_behind_an_html_page_alerts_what_it_published_meanwhile() {
    let feed = FeedServer::start(vec![Item::new("a", "Weather")]).await;
    feed.set_other(vec![
        Item::new("n", "North Korean troops cross into Kursk"),
        Item::new("a", "Weather"),
    ]);
    let hook = Receiver::ok().await;
    let (_dir, mut d) = watching(&feed, &hook);
    polls(&feed, 2, &d).await;
    feed.set_html(true);
    assert!(
        wait_for(Duration::from_secs(30), || feed.other_requests() >= 1).await,
        "{}",
        d.log()
    );
    assert!(
        wait_for(Duration::from_secs(10), || hook.delivered().len() == 1).await,
        "the moved feed's new item did not alert\n{}",
        d.log()
    );
    d.stop();
}

/// Regression: a download cut off inside an item (`…<guid>n</guid>…North Korean tr`) was
/// repaired by closing the item, stored as seen with half its text; the whole item that came
/// later was known, and the whole document came back under the same ETag as 304. The item cut off is dropped and the cut document's validators are not
/// kept, so the next poll reads the whole item and alerts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_cut_off_by_a_truncated_download_alerts_when_it_comes_whole() {
    let feed = FeedServer::start(vec![Item::new("a", "Weather")]).await;
    let hook = Receiver::ok().await;
    let (_dir, mut d) = watching(&feed, &hook);
    polls(&feed, 2, &d).await;
    // Its key (guid) comes before the cut, the words that match after it.
    feed.set_cut_after(Some("North Korean tr"));
    feed.push(Item {
        description: "<p>North Korean troops cross into Kursk</p>".into(),
        ..Item::new("n", "Evening briefing")
    });
    polls(&feed, 2, &d).await;
    assert!(hook.delivered().is_empty(), "{}", d.log());
    // Said in the log, with the feed's name.
    assert!(
        wait_for(Duration::from_secs(5), || d
            .log()
            .contains("dropped an item cut off by the end of the document"))
        .await,
        "{}",
        d.log()
    );
    feed.set_cut_after(None);
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "the item cut off never alerted\n{}",
        d.log()
    );
    d.stop();
}

/// A document cut at the item cap is closed by the repairs the same way on every poll: its
/// validators are kept (they were dropped as if the download had been cut off, so the largest
/// feeds were fetched whole on every poll).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_past_the_item_cap_is_still_fetched_conditionally() {
    let items = (0..10_005)
        .map(|i| Item::new(&format!("i{i}"), "Weather"))
        .collect();
    let feed = FeedServer::start(items).await;
    let hook = Receiver::ok().await;
    let (_dir, mut d) = watching(&feed, &hook);
    polls(&feed, 3, &d).await;
    assert!(feed.not_modified() >= 1, "{}", d.log());
    d.stop();
}

/// Regression: the scheduler took the global fetch permit before the per-host one, so 60 feeds
/// of one dead publisher held the global permits while waiting for that host, and every other
/// feed waited behind them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_hole_host_does_not_starve_other_feeds() {
    // Accepts connections on another loopback address and never answers.
    let hole = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let hole_addr = hole.local_addr().unwrap();
    // When the first connection came: the polls have begun.
    let first_dead_poll = Arc::new(Mutex::new(None::<Instant>));
    let first = first_dead_poll.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = hole.accept().await {
            first.lock().unwrap().get_or_insert_with(Instant::now);
            held.push(sock);
        }
    });
    let good = FeedServer::start(vec![Item::new("a", "Weather")]).await;
    let hook = Receiver::ok().await;
    let mut cfg = daemon_section(
        "max_concurrent_fetches = 8\nper_host_concurrency = 2\nfetch_timeout = \"5s\"",
    );
    for i in 0..60 {
        cfg.push_str(&format!(
            "\n[[feed]]\nname = \"dead{i}\"\nurl = \"http://{hole_addr}/f{i}.xml\"\n"
        ));
    }
    cfg.push_str(&format!(
        "\n[[feed]]\nname = \"good\"\nurl = \"{}\"\n\n[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n\n{TROOPS}",
        good.url(),
        hook.url()
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &cfg);
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || d.log().contains("starting")).await,
        "{}",
        d.log()
    );
    // Measured from the first poll of the dead host, not from the log line: between the two
    // the daemon opens its state and builds its clients, which a loaded machine can stretch.
    assert!(
        wait_for(Duration::from_secs(20), || first_dead_poll
            .lock()
            .unwrap()
            .is_some())
        .await,
        "{}",
        d.log()
    );
    let started = first_dead_poll.lock().unwrap().unwrap();
    // Its first poll within one fetch timeout of the start, then every second or so, while
    // the dead host's polls time out two at a time.
    let limit = Duration::from_secs(5).saturating_sub(started.elapsed());
    assert!(
        wait_for(limit, || good.requests() >= 1).await,
        "the good feed waited behind the dead host\n{}",
        d.log()
    );
    assert!(
        wait_for(Duration::from_secs(10), || good.requests() >= 4).await,
        "{} polls of the good feed in {:?}",
        good.requests(),
        started.elapsed()
    );
    d.stop();
}

/// Regression: rows committed for a sink removed by a reload, by a poll that was in flight
/// during the reload, stayed pending forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_in_flight_during_a_reload_leaves_no_orphan_deliveries() {
    let feed = FeedServer::start(vec![Item::new("a", "Weather")]).await;
    // The receiver keeps failing, so nothing is sent before the reload lands.
    let hook = Receiver::start(Box::new(|_, _| (503, vec![], Duration::ZERO))).await;
    let (_dir, mut d) = watching(&feed, &hook);
    polls(&feed, 2, &d).await;
    // The next poll hangs for 3 s and then brings a match for `hook`.
    feed.set_delay(Duration::from_secs(3));
    feed.push(Item::new("b", "North Korean troops cross the border"));
    let before = feed.requests();
    // Wait for that poll's request (a request arriving from now on waits the 3 s), rather than
    // sleep and hope the poll has started: a poll starting after the reload would bring the
    // match for `console` only, and no delivery for `hook` would be left to check.
    let arrived = feed.arrivals();
    assert!(
        wait_for(Duration::from_secs(20), || feed.arrivals() > arrived).await,
        "{}",
        d.log()
    );
    // While it is in flight: `hook` is removed.
    d.write_config(&format!(
        "{}\n[[feed]]\nname = \"news\"\nurl = \"{}\"\n\n[[sink]]\nname = \"console\"\ntype = \"stdout\"\n\n\
         [[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\nsinks = [\"console\"]\n",
        daemon_section(""),
        feed.url()
    ));
    d.signal("HUP");
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() > before).await,
        "{}",
        d.log()
    );
    let state = d.state_path();
    let mut orphan = true;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let store = SqliteStore::open_read_only(&state).await.unwrap();
        let pending = store.list_deliveries("pending", 10).await.unwrap();
        let dead = store.list_deliveries("dead", 10).await.unwrap();
        if pending.iter().all(|r| r.sink != "hook") && dead.iter().any(|r| r.sink == "hook") {
            orphan = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !orphan,
        "a delivery for the removed sink stayed pending\n{}",
        d.log()
    );
    d.stop();
}

/// Webhook receivers get several alerts at once (`concurrency`, default 8); chat sinks one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_sinks_send_concurrently() {
    for (setting, expect_max) in [("", 8), ("concurrency = 1\n", 1)] {
        let feed = FeedServer::start(vec![Item::new("a", "Weather")]).await;
        let hook =
            Receiver::start(Box::new(|_, _| (200, vec![], Duration::from_millis(300)))).await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(&feed.url(), &hook, "").replace(
            "type = \"webhook\"\n",
            &format!("type = \"webhook\"\n{setting}"),
        );
        let mut d = Daemon::new(dir.path(), &cfg);
        d.start();
        polls(&feed, 2, &d).await;
        for i in 0..20 {
            feed.push(Item::new(&format!("n{i}"), "North Korean troops"));
        }
        let mut max_in_flight = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        while hook.got().len() < 20 && Instant::now() < deadline {
            max_in_flight = max_in_flight.max(hook.arrivals() - hook.got().len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(hook.got().len(), 20, "{}", d.log());
        assert!(
            max_in_flight <= expect_max && max_in_flight * 2 > expect_max,
            "{setting:?}: {max_in_flight} in flight at most"
        );
        // Every alert once, each under its own key.
        let mut ids: Vec<String> = hook.got().into_iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 20);
        d.stop();
    }
}

/// The scheduler forgets a feed a reload removes (its memory follows the configuration); a
/// feed re-added later must still know it was baselined, or what arrived meanwhile is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_removed_and_re_added_by_reloads_keeps_its_baseline() {
    let feed = FeedServer::start(vec![Item::new("a", "Weather")]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let full = config(&feed.url(), &hook, "");
    let mut d = Daemon::new(dir.path(), &full);
    d.start();
    polls(&feed, 2, &d).await;
    // Removed: only a file feed stays.
    let other = dir.path().join("other.xml");
    std::fs::write(
        &other,
        "<rss version=\"2.0\"><channel><title>o</title></channel></rss>",
    )
    .unwrap();
    let without = full.replace(
        &format!("name = \"news\"\nurl = \"{}\"", feed.url()),
        &format!("name = \"other\"\nurl = \"{}\"", other.display()),
    );
    assert_ne!(without, full);
    d.write_config(&without);
    d.signal("HUP");
    assert!(
        wait_for(Duration::from_secs(10), || d
            .log()
            .contains("configuration reloaded"))
        .await,
        "{}",
        d.log()
    );
    feed.push(Item::new("b", "North Korean troops arrive"));
    // Back again.
    d.write_config(&full);
    d.signal("HUP");
    assert!(
        wait_for(Duration::from_secs(30), || hook.delivered().len() == 1).await,
        "the item that arrived while the feed was out of the configuration was lost\n{}",
        d.log()
    );
    d.stop();
}

/// Regression: renaming a feed (a new `name`, the same `url`) made it a new feed, whose
/// first poll was a baseline, so what the feed published between the last poll under the old
/// name and the first under the new one was lost. Renamed while the daemon was stopped, the
/// item published meanwhile alerts, once; the items alerted before do not again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_renamed_while_stopped_alerts_what_it_published_meanwhile() {
    let feed = FeedServer::start(vec![Item::new("a", "Weather")]).await;
    let hook = Receiver::ok().await;
    let (_dir, mut d) = watching(&feed, &hook);
    polls(&feed, 1, &d).await;
    feed.push(Item::new("b", "North Korean troops in Kursk"));
    assert!(
        wait_for(Duration::from_secs(30), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    d.stop();
    feed.push(Item::new("c", "North Korean troops cross the river"));
    let renamed = config(&feed.url(), &hook, "").replace("name = \"news\"", "name = \"front\"");
    assert!(renamed.contains("name = \"front\""));
    d.write_config(&renamed);
    d.start();
    assert!(
        wait_for(Duration::from_secs(30), || hook.delivered().len() == 2).await,
        "the item published while the feed was being renamed was lost\n{}",
        d.log()
    );
    polls(&feed, 3, &d).await;
    let delivered = hook.delivered();
    assert_eq!(delivered.len(), 2, "{}", d.log());
    let data = &delivered[1].body["data"];
    assert_eq!(
        (data["item_key"].as_str(), data["feed"].as_str()),
        (Some("c"), Some("front")),
        "{data:?}"
    );
    assert!(d.log().contains("renamed_from"), "{}", d.log());
    d.stop();
}
