//! Outbox operations whose effect or count someone relies on: a restarted sink worker giving its
//! leases back, `deliveries retry` and `deliveries purge --dead` reporting how many rows they
//! touched. Written against mutation testing (docs/testing.md).

use crate::store::sqlite::SqliteStore;
use crate::store::{NewDelivery, PollCommit, Store};

fn delivery(key: &str, sink: &str) -> NewDelivery {
    NewDelivery {
        idem_key: format!("{sink}-{key}"),
        sink: sink.into(),
        watch: "w".into(),
        item_key: key.into(),
        alert_json: "{}".into(),
        canonical_link: None,
    }
}

/// A sink worker that restarts gives back every lease of its sink at once (and only of its
/// sink): without that, its claimed alerts would wait for the lease to run out.
#[tokio::test]
async fn releasing_a_sink_frees_its_leased_deliveries_only() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.commit_poll(&PollCommit {
        feed: "a".into(),
        config_url: "https://a.example/rss".into(),
        now: 1000,
        item_keys: vec!["k1".into(), "k2".into()],
        deliveries: vec![
            delivery("k1", "chat"),
            delivery("k2", "chat"),
            delivery("k1", "other"),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        s.claim_due("chat", 1000, 61_000, 10).await.unwrap().len(),
        2
    );
    assert_eq!(
        s.claim_due("other", 1000, 61_000, 10).await.unwrap().len(),
        1
    );
    s.release_sink("chat").await.unwrap();
    assert_eq!(
        s.claim_due("chat", 2000, 62_000, 10).await.unwrap().len(),
        2
    );
    assert!(
        s.claim_due("other", 2000, 62_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn three_for_chat(s: &SqliteStore) -> Vec<i64> {
    s.commit_poll(&PollCommit {
        feed: "a".into(),
        config_url: "https://a.example/rss".into(),
        now: 1000,
        item_keys: vec!["k1".into(), "k2".into(), "k3".into()],
        deliveries: ["k1", "k2", "k3"]
            .iter()
            .map(|k| delivery(k, "chat"))
            .collect(),
        ..Default::default()
    })
    .await
    .unwrap();
    let claimed = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    claimed.iter().map(|d| d.id).collect()
}

/// `deliveries retry` says how many waiting retries it brought forward: those due later only.
#[tokio::test]
async fn retry_now_counts_the_retries_it_brings_forward() {
    let s = SqliteStore::in_memory().await.unwrap();
    let ids = three_for_chat(&s).await;
    s.mark_retry(&ids[..2], "HTTP 503", 900_000).await.unwrap();
    s.mark_retry(&ids[2..], "HTTP 503", 1500).await.unwrap();
    assert_eq!(s.retry_pending_now(2000).await.unwrap(), 2);
    assert_eq!(
        s.claim_due("chat", 2000, 62_000, 10).await.unwrap().len(),
        3
    );
    assert_eq!(s.retry_pending_now(2000).await.unwrap(), 0);
}

/// `deliveries purge --dead` says how many dead letters it deleted.
#[tokio::test]
async fn purging_dead_letters_counts_what_it_deleted() {
    let s = SqliteStore::in_memory().await.unwrap();
    let ids = three_for_chat(&s).await;
    s.mark_dead(&ids, "HTTP 400", 5000).await.unwrap();
    assert_eq!(s.purge_dead(5000).await.unwrap(), 0);
    assert_eq!(s.purge_dead(5001).await.unwrap(), 3);
    assert_eq!(s.outbox_summary().await.unwrap().dead, 0);
}
