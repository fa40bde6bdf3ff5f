//! The daemon and chat sinks end to end: a burst becomes a few digest messages (429 honoured
//! on the way), a trickle is paced by the sink's rate limit, and Matrix retries carry the same
//! txnId no sooner than `retry_after_ms`.

mod common;
mod sinks_support;

use std::time::Duration;

use common::{Daemon, FeedServer, Item, daemon_section, wait_for};
use newswatch::store::Store;
use newswatch::store::sqlite::SqliteStore;
use sinks_support::{Fake, Got, strings};

fn config(feed: &FeedServer, fake: &Fake, extra_sink: &str) -> String {
    format!(
        "{}\n[[feed]]\nname = \"news\"\nurl = \"{}\"\n\n\
         [[sink]]\nname = \"newsroom\"\ntype = \"slack\"\nurl = \"{}/slack/T0/B0/x\"\n{extra_sink}\n\n\
         [[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\n",
        daemon_section(""),
        feed.url(),
        fake.base(),
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

fn title(i: usize) -> String {
    // Long titles, so the digest has to spread over several sections.
    format!(
        "Report {i:02}: North Korean troops seen moving towards the front, {}",
        "according to several independent sources ".repeat(3)
    )
}

/// The requests answered 200.
fn delivered(fake: &Fake) -> Vec<Got> {
    fake.got()
        .into_iter()
        .filter(|g| g.body["blocks"].is_array() && g.path.starts_with("/slack"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_becomes_a_few_digests_within_limits() {
    let feed = FeedServer::start(vec![]).await;
    // The first message meets a 429; everything after it is accepted.
    let fake = Fake::start(Box::new(|n, _| {
        if n == 0 {
            (
                429,
                vec![("retry-after", "2".into())],
                "rate_limited".into(),
            )
        } else {
            (200, vec![], "ok".into())
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&feed, &fake, ""));
    started(&feed, &mut d).await;
    for i in 0..30 {
        feed.push(Item::new(&format!("b{i}"), &title(i)));
    }
    let all_present = |got: &[Got]| {
        (0..30).all(|i| {
            let needle = format!("Report {i:02}:");
            got.iter()
                .skip(1)
                .any(|g| strings(&g.body).iter().any(|s| s.contains(&needle)))
        })
    };
    assert!(
        wait_for(Duration::from_secs(30), || all_present(&fake.got())).await,
        "{}",
        d.log()
    );
    let got = fake.got();
    // The 429 was honoured: nothing was sent again for 2 s.
    assert!(got[1].at - got[0].at >= Duration::from_secs(2));
    // A handful of messages, not thirty.
    assert!(got.len() <= 6, "{} messages", got.len());
    // The fake records a request before it answers, and the daemon logs the digest only
    // after the answer: wait for the line rather than race it.
    assert!(
        wait_for(Duration::from_secs(10), || d
            .log()
            .contains("delivered a digest"))
        .await,
        "{}",
        d.log()
    );
    for g in delivered(&fake) {
        let blocks = g.body["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50);
        for b in blocks {
            let text = b["text"]["text"].as_str().unwrap_or_default();
            assert!(
                text.chars().count() <= 3000,
                "{} chars",
                text.chars().count()
            );
        }
    }
    d.stop();
    let store = SqliteStore::open(&d.state_path()).await.unwrap();
    let sum = store.outbox_summary().await.unwrap();
    assert_eq!((sum.sent, sum.pending, sum.dead), (30, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickle_is_paced_by_the_rate_limit() {
    let feed = FeedServer::start(vec![]).await;
    let fake = Fake::start(Box::new(|_, _| (200, vec![], "ok".into()))).await;
    let dir = tempfile::tempdir().unwrap();
    // Three alerts stay under digest_after: they go one by one, at most one per 1.5 s.
    let mut d = Daemon::new(
        dir.path(),
        &config(&feed, &fake, "rate = \"2/3s\"\ndigest_after = 5"),
    );
    started(&feed, &mut d).await;
    for i in 0..3 {
        feed.push(Item::new(&format!("t{i}"), &title(i)));
    }
    assert!(
        wait_for(Duration::from_secs(30), || fake.got().len() == 3).await,
        "{}",
        d.log()
    );
    let got = fake.got();
    // A burst of two, then the rate: the third waits 1.5 s for its token.
    assert!(
        got[2].at - got[0].at >= Duration::from_millis(1400),
        "{:?}",
        got[2].at - got[0].at
    );
    for g in &got {
        assert_eq!(g.body["blocks"][1]["type"], "context", "single alerts");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_retries_from_the_daemon_reuse_the_txn_id() {
    let feed = FeedServer::start(vec![]).await;
    let fake = Fake::start(Box::new(|n, _| {
        if n < 2 {
            (
                429,
                vec![],
                r#"{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 1200}"#.into(),
            )
        } else {
            (200, vec![], r#"{"event_id": "$1"}"#.into())
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "{}\n[[feed]]\nname = \"news\"\nurl = \"{}\"\n\n\
         [[sink]]\nname = \"room\"\ntype = \"matrix\"\nhomeserver = \"{}\"\n\
         room = \"!r:example.org\"\naccess_token = \"syt_x\"\n\n\
         [[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\n",
        daemon_section(""),
        feed.url(),
        fake.base(),
    );
    let mut d = Daemon::new(dir.path(), &cfg);
    started(&feed, &mut d).await;
    feed.push(Item::new("m1", "North Korean troops"));
    assert!(
        wait_for(Duration::from_secs(30), || fake.got().len() == 3).await,
        "{}",
        d.log()
    );
    let got = fake.got();
    assert!(
        got.iter()
            .all(|g| g.method == "PUT" && g.path == got[0].path)
    );
    let txn = got[0].path.rsplit('/').next().unwrap();
    assert!(txn.starts_with("nw_") && txn.len() == 35, "{txn}");
    for w in got.windows(2) {
        assert!(
            w[1].at - w[0].at >= Duration::from_millis(1200),
            "retried too soon"
        );
    }
}
