//! Feed health alerts end to end, with the real binary and local feed servers: a feed that
//! fails, recovers, goes silent and publishes again is reported once per change at a webhook,
//! across a restart, and counted in `/metrics`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Daemon, FeedServer, Item, Receiver, wait_for};
use newswatch::store::sqlite::SqliteStore;
use newswatch::store::{Millis, PollCommit, Store};

const HOUR: Millis = 3_600_000;

fn config(listen: &str, feeds: &[(&str, String)], hook: &str) -> String {
    let mut c = format!(
        "[daemon]\nstate = \"state.db\"\nlisten = \"{listen}\"\npoll_interval = \"1s\"\n\
         min_poll_interval = \"1s\"\nbackoff_cap = \"2s\"\n\
         health_sinks = [\"hook\"]\nhealth_after = \"2s\"\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{hook}\"\n\n\
         [[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\n\n"
    );
    for (name, url) in feeds {
        c.push_str(&format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n\n"));
    }
    c
}

/// Health alerts the webhook received: (title, snippet).
fn health_alerts(hook: &Receiver) -> Vec<(String, String)> {
    hook.delivered()
        .iter()
        .filter(|r| r.body["data"]["watch"] == "feed health")
        .map(|r| {
            (
                r.body["data"]["title"].as_str().unwrap_or("").to_string(),
                r.body["data"]["snippet"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn titles(hook: &Receiver) -> Vec<String> {
    health_alerts(hook).into_iter().map(|(t, _)| t).collect()
}

async fn metrics(listen: &str) -> String {
    reqwest::get(format!("http://{listen}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn restart_on_new_port(d: &mut Daemon, feeds: &[(&str, String)], hook: &Receiver) -> String {
    d.stop();
    d.start_listening(|listen| config(listen, feeds, &hook.url()))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_feed_alerts_once_and_its_recovery_once_across_a_restart() {
    let feed = FeedServer::start(vec![Item::new("a1", "Weather")]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let feeds = [("news", feed.url())];
    let mut d = Daemon::new(dir.path(), "");
    let listen = d
        .start_listening(|listen| config(listen, &feeds, &hook.url()))
        .await;
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= 2).await,
        "{}",
        d.log()
    );
    assert!(
        titles(&hook).is_empty(),
        "a healthy feed: {:?}",
        titles(&hook)
    );

    feed.set_fail(Some(503));
    assert!(
        wait_for(Duration::from_secs(20), || !titles(&hook).is_empty()).await,
        "no failing alert\n{}",
        d.log()
    );
    // More failed polls and health passes: still one alert.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let got = health_alerts(&hook);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].0.starts_with("Feed failing for ") && got[0].0.ends_with(": news"),
        "{got:?}"
    );
    assert!(
        got[0].1.contains("503"),
        "the last error is in the alert: {got:?}"
    );
    let m = metrics(&listen).await;
    assert!(
        m.contains("newswatch_feed_health_alerts_total{kind=\"failing\"} 1"),
        "{m}"
    );

    // A restart while the feed still fails: it was reported, so nothing new.
    let requests = feed.requests();
    let listen = restart_on_new_port(&mut d, &feeds, &hook).await;
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= requests + 3).await,
        "{}",
        d.log()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(titles(&hook).len(), 1, "{:?}", titles(&hook));

    // It recovers after the restart: one recovery alert.
    feed.set_fail(None);
    assert!(
        wait_for(Duration::from_secs(20), || titles(&hook).len() >= 2).await,
        "no recovery alert\n{}",
        d.log()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let t = titles(&hook);
    assert_eq!(t.len(), 2, "{t:?}");
    assert_eq!(t[1], "Feed recovered: news");
    let m = metrics(&listen).await;
    assert!(
        m.contains("newswatch_feed_health_alerts_total{kind=\"recovered\"} 1"),
        "{m}"
    );
    assert!(!m.contains("kind=\"failing\""), "{m}");
    // Each change under its own idempotency key.
    let ids: Vec<String> = hook
        .delivered()
        .iter()
        .filter(|r| r.body["data"]["watch"] == "feed health")
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    d.stop();
}

/// A feed with a rhythm: baselined 6 days ago, then an item every 6 hours until 2 days ago;
/// and a rare feed with three items, which has no rhythm to judge by.
async fn seed_history(state: &Path, quiet_url: &str, rare_url: &str) {
    let store = SqliteStore::open(state).await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let commit = |feed: &str, url: &str, at: Millis, key: String| PollCommit {
        feed: feed.into(),
        config_url: url.into(),
        now: at,
        next_poll_at: at + 60_000,
        item_keys: vec![key],
        ..Default::default()
    };
    store
        .commit_poll(&commit("quiet", quiet_url, now - 144 * HOUR, "base".into()))
        .await
        .unwrap();
    for i in 0..13 {
        let at = now - 120 * HOUR + i * 6 * HOUR;
        store
            .commit_poll(&commit("quiet", quiet_url, at, format!("k{i}")))
            .await
            .unwrap();
    }
    store
        .commit_poll(&commit("rare", rare_url, now - 240 * HOUR, "base".into()))
        .await
        .unwrap();
    for i in 0..3 {
        let at = now - 200 * HOUR + i * 24 * HOUR;
        store
            .commit_poll(&commit("rare", rare_url, at, format!("r{i}")))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_feed_alerts_once_and_again_when_it_publishes_across_a_restart() {
    let feed = FeedServer::start(vec![]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let rare_url = format!("http://{}/other.xml", feed.addr);
    seed_history(&dir.path().join("state.db"), &feed.url(), &rare_url).await;
    let feeds = [("quiet", feed.url()), ("rare", rare_url)];
    let mut d = Daemon::new(dir.path(), "");
    let listen = d
        .start_listening(|listen| config(listen, &feeds, &hook.url()))
        .await;
    assert!(
        wait_for(Duration::from_secs(20), || !titles(&hook).is_empty()).await,
        "no silence alert\n{}",
        d.log()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = health_alerts(&hook);
    assert_eq!(got.len(), 1, "one alert, none for the rare feed: {got:?}");
    assert!(
        got[0].0.starts_with("Feed silent for 2d") && got[0].0.ends_with(": quiet"),
        "{got:?}"
    );
    assert!(got[0].1.contains("usually publishes every 6h"), "{got:?}");
    let m = metrics(&listen).await;
    assert!(
        m.contains("newswatch_feed_health_alerts_total{kind=\"silent\"} 1"),
        "{m}"
    );

    // Restarted while still silent: nothing new.
    let requests = feed.requests();
    let listen = restart_on_new_port(&mut d, &feeds, &hook).await;
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= requests + 2).await,
        "{}",
        d.log()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(titles(&hook).len(), 1, "{:?}", titles(&hook));

    // A new item after the restart: publishing again, once.
    feed.push(Item::new("fresh", "Weather"));
    assert!(
        wait_for(Duration::from_secs(20), || titles(&hook).len() >= 2).await,
        "no publishing-again alert\n{}",
        d.log()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let t = titles(&hook);
    assert_eq!(t.len(), 2, "{t:?}");
    assert!(t[0].starts_with("Feed silent for 2d"), "{t:?}");
    assert_eq!(t[1], "Feed publishing again: quiet");
    let m = metrics(&listen).await;
    assert!(
        m.contains("newswatch_feed_health_alerts_total{kind=\"recovered\"} 1"),
        "{m}"
    );
    d.stop();
}
