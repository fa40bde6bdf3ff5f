//! `newswatch backtest` end to end: the real daemon polls local feeds while new items arrive
//! (across a restart), a webhook receiver records what it sent, and a backtest over the same
//! state file must find exactly those alerts. Also: archive off, empty archive, unknown watch.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{Daemon, FeedServer, Item, Receiver, daemon_section, wait_for};

fn config(a: &FeedServer, b: &FeedServer, hook: &Receiver, extra: &str) -> String {
    format!(
        "{}\n[[feed]]\nname = \"wire\"\nurl = \"{}\"\ntags = [\"defence\"]\n\n\
         [[feed]]\nname = \"paper\"\nurl = \"{}\"\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n\n\
         [[sink]]\nname = \"hook2\"\ntype = \"webhook\"\nurl = \"{}\"\n\n\
         [[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\nsinks = [\"hook\", \"hook2\"]\n\n\
         [[watch]]\nname = \"plan\"\nquery = '\"Victory Plan\" NOT football'\nfeeds = [\"tag:defence\"]\nsinks = [\"hook\"]\n",
        daemon_section(extra),
        a.url(),
        b.url(),
        hook.url(),
        hook.url()
    )
}

fn backtest(cfg: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["backtest", "-c"])
        .arg(cfg)
        .args(args)
        .output()
        .unwrap()
}

fn item(id: &str, title: &str, link: &str) -> Item {
    Item {
        link: Some(link.to_string()),
        ..Item::new(id, title)
    }
}

type Alerts = BTreeMap<(String, String, String), usize>;

/// Per (watch, feed, item key) the daemon alerted: how many deliveries (one per sink).
fn delivered(hook: &Receiver) -> Alerts {
    let mut out = Alerts::new();
    for r in hook.delivered() {
        let d = &r.body["data"];
        let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
        *out.entry((s("watch"), s("feed"), s("item_key")))
            .or_default() += 1;
    }
    out
}

/// Wait until both feeds were polled twice more (what was pushed before has been read).
async fn two_more_polls(a: &FeedServer, b: &FeedServer) {
    let polls = (a.requests(), b.requests());
    assert!(
        wait_for(Duration::from_secs(20), || a.requests() >= polls.0 + 2
            && b.requests() >= polls.1 + 2)
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backtest_on_the_archive_reproduces_exactly_the_alerts_the_daemon_sent() {
    // Each feed's backlog has matches: they are baselined, never sent, never backtested.
    let wire = FeedServer::start(vec![
        Item::new("w0", "North Korean troops: the backlog"),
        Item::new("w00", "Victory Plan, old news"),
    ])
    .await;
    let paper = FeedServer::start(vec![Item::new("p0", "North Korean troops, archived")]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&wire, &paper, &hook, ""));
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || wire.requests() >= 1
            && paper.requests() >= 1)
        .await,
        "{}",
        d.log()
    );

    // Poll after poll, new items: matches, near-misses, a story both feeds carry (the
    // same link: each watch alerts it once), a football report the query excludes.
    wire.push(item(
        "w1",
        "North Korean troops reach Kursk",
        "https://news.example/kursk",
    ));
    wire.push(Item::new("w2", "Zelensky presents the Victory Plan"));
    wire.push(Item::new("w3", "Kimberly wins the cup"));
    paper.push(Item::new("p1", "Weather: sunny"));
    let sent = |n: usize| {
        let hook = hook.clone();
        move || hook.delivered().len() >= n
    };
    // w1 → troops×2 sinks, w2 → plan×1.
    assert!(
        wait_for(Duration::from_secs(20), sent(3)).await,
        "{}",
        d.log()
    );
    paper.push(item(
        "p2",
        "North Korean troops reach Kursk, says ministry",
        "https://NEWS.example/kursk/?utm_source=rss",
    ));
    wire.push(Item::new("w4", "Victory Plan: football fans react"));
    paper.push(Item::new("p3", "Victory Plan debated"));
    two_more_polls(&wire, &paper).await;

    // A restart: the archive survives it, and the new daemon keeps adding to it.
    d.stop();
    d.start();
    wire.push(Item::new("w5", "North Korean troops and the Victory Plan"));
    paper.push(Item::new("p4", "More North Korean troops"));
    // w5 → troops×2 + plan×1, p4 → troops×2.
    assert!(
        wait_for(Duration::from_secs(20), sent(8)).await,
        "{}",
        d.log()
    );
    two_more_polls(&wire, &paper).await;
    d.stop();

    assert_eq!(hook.delivered().len(), 8, "{}", d.log());
    let sent_alerts = delivered(&hook);

    let out = backtest(&d.config, &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut replayed = Alerts::new();
    let mut per_sink_total = 0;
    for w in report["watches"].as_array().unwrap() {
        let name = w["watch"].as_str().unwrap().to_string();
        let sinks = w["sinks"].as_array().unwrap().len();
        for a in w["alerts"].as_array().unwrap() {
            let key = (
                name.clone(),
                a["feed"].as_str().unwrap().to_string(),
                a["item_key"].as_str().unwrap().to_string(),
            );
            assert!(replayed.insert(key, sinks).is_none(), "alerted twice: {a}");
        }
        for n in w["per_sink"].as_object().unwrap().values() {
            per_sink_total += n.as_u64().unwrap();
        }
    }
    assert_eq!(replayed, sent_alerts, "backtest differs from what was sent");
    assert_eq!(per_sink_total, 8);
    // The paper's copy of the Kursk story was dropped as a repeat by both: counted, not sent.
    let troops = &report["watches"][0];
    assert_eq!(troops["watch"], "troops");
    assert_eq!(troops["suppressed"], 1);
    // Every new item was archived (the backlog too), across the restart.
    assert_eq!(report["items"], 12, "{report:#}");

    // --watch narrows to one watch; the human output shows the alerts as `try` does, the
    // chart and the sink counts.
    let out = backtest(&d.config, &["--watch", "plan"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("▶ plan  [wire]  Zelensky presents the Victory Plan"),
        "{text}"
    );
    assert!(text.contains("plan: 2 alerts"), "{text}");
    assert!(text.contains("per sink: hook 2"), "{text}");
    assert!(text.contains('█'), "{text}");
    assert!(!text.contains("▶ troops"), "{text}");

    // A range with nothing in it says so, and what the archive holds before it.
    std::thread::sleep(Duration::from_millis(5));
    let out = backtest(&d.config, &["--since", "1ms"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("holds no items from the last 1ms"), "{text}");
    assert!(text.contains("12 older items are archived"), "{text}");

    // An unknown watch is an error naming it and the watches there are.
    let out = backtest(&d.config, &["--watch", "plan", "--watch", "troop"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no watch named \"troop\""), "{err}");
    assert!(err.contains("troops, plan"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_archive_off_nothing_is_archived_and_backtest_says_the_archive_is_empty() {
    let wire = FeedServer::start(vec![Item::new("w0", "North Korean troops")]).await;
    let paper = FeedServer::start(vec![]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(
        dir.path(),
        &config(&wire, &paper, &hook, "archive = \"off\""),
    );
    d.start();
    assert!(wait_for(Duration::from_secs(20), || wire.requests() >= 1).await);
    wire.push(Item::new("w1", "North Korean troops again"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 2).await,
        "{}",
        d.log()
    );
    d.stop();
    let out = backtest(&d.config, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("the item archive holds no items"), "{text}");
    assert!(text.contains("`archive` is \"off\""), "{text}");
    // Nothing written: the table is empty (read with the JSON form, which says 0 items).
    let out = backtest(&d.config, &["--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["items"], 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no items"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backtest_reads_beside_a_running_daemon_without_its_lock() {
    let wire = FeedServer::start(vec![]).await;
    let paper = FeedServer::start(vec![]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&wire, &paper, &hook, ""));
    d.start();
    assert!(wait_for(Duration::from_secs(20), || wire.requests() >= 1).await);
    wire.push(Item::new("w1", "North Korean troops"));
    assert!(wait_for(Duration::from_secs(20), || hook.delivered().len() == 2).await);
    let out = backtest(&d.config, &["--json", "--since", "1h"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["watches"][0]["alerts"][0]["item_key"], "w1");
    // The daemon still runs and still polls.
    let polls = wire.requests();
    assert!(wait_for(Duration::from_secs(20), || wire.requests() > polls).await);
    d.stop();
}
