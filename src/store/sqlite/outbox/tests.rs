//! The outbox against a real (in-memory) SQLite: groups, counts, pruning, purging, clock steps.

use crate::store::sqlite::SqliteStore;
use crate::store::{Millis, NewDelivery, PollCommit, PruneRules, Store};

fn delivery(key: &str, sink: &str) -> NewDelivery {
    NewDelivery {
        idem_key: key.into(),
        sink: sink.into(),
        watch: "w".into(),
        item_key: key.into(),
        alert_json: "{}".into(),
        canonical_link: None,
    }
}

async fn with(feed: &str, now: Millis, keys: &[&str], sink: &str) -> SqliteStore {
    let s = SqliteStore::in_memory().await.unwrap();
    add(&s, feed, now, keys, sink).await;
    s
}

async fn add(s: &SqliteStore, feed: &str, now: Millis, keys: &[&str], sink: &str) {
    s.commit_poll(&PollCommit {
        feed: feed.into(),
        config_url: format!("https://{feed}.example/rss"),
        now,
        next_poll_at: now + 60_000,
        item_keys: keys.iter().map(|k| k.to_string()).collect(),
        deliveries: keys.iter().map(|k| delivery(k, sink)).collect(),
        ..Default::default()
    })
    .await
    .unwrap();
}

async fn count(s: &SqliteStore, state: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = ?1")
        .bind(state)
        .fetch_one(&s.pool)
        .await
        .unwrap()
}

/// The trigger-kept counts agree with the table after every kind of change.
async fn counts_agree(s: &SqliteStore) {
    let sum = s.outbox_summary().await.unwrap();
    assert_eq!(
        (sum.pending, sum.sent, sum.dead),
        (
            count(s, "pending").await,
            count(s, "sent").await,
            count(s, "dead").await
        )
    );
}

#[tokio::test]
async fn a_claim_takes_a_stored_group_whole() {
    let s = with("a", 1000, &["k1", "k2", "k3", "k4"], "chat").await;
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    // k2 and k4 went out as one digest that must be retried together.
    s.begin_attempt(&[c[1].id, c[3].id], "nw_d_x")
        .await
        .unwrap();
    s.mark_retry(&[c[1].id, c[3].id], "HTTP 503", 5000)
        .await
        .unwrap();
    s.mark_sent(&[c[0].id], 2000).await.unwrap();
    s.release(&[c[2].id]).await.unwrap();
    // A claim of one row that starts the group brings its partner along.
    let again = s.claim_due("chat", 5000, 65_000, 1).await.unwrap();
    let keys: Vec<(&str, Option<&str>)> = again
        .iter()
        .map(|d| (d.idem_key.as_str(), d.group_key.as_deref()))
        .collect();
    assert_eq!(keys, [("k2", Some("nw_d_x")), ("k4", Some("nw_d_x"))]);
    counts_agree(&s).await;
}

#[tokio::test]
async fn counts_follow_every_change_and_alerts_are_counted_once_per_watch_and_item() {
    let s = SqliteStore::in_memory().await.unwrap();
    let mut deliveries: Vec<NewDelivery> = ["k1", "k2", "k3"]
        .iter()
        .map(|k| delivery(k, "chat"))
        .collect();
    // The same item for a second sink is the same alert.
    deliveries.push(NewDelivery {
        idem_key: "k1-other-sink".into(),
        ..delivery("k1", "other")
    });
    s.commit_poll(&PollCommit {
        feed: "a".into(),
        config_url: "https://a.example/rss".into(),
        now: 1000,
        item_keys: vec!["k1".into(), "k2".into(), "k3".into()],
        deliveries,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(s.alert_counts().await.unwrap(), [("w".to_string(), 3)]);
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    s.mark_sent(&[c[0].id], 2000).await.unwrap();
    s.mark_dead(&[c[1].id], "HTTP 400", 2000).await.unwrap();
    counts_agree(&s).await;
    s.retry_dead(3000, &["chat".into()]).await.unwrap();
    counts_agree(&s).await;
    s.prune(PruneRules {
        seen_before: 0,
        sent_before: 10_000,
        dead_before: 0,
        removed_before: 0,
        stories_before: 0,
    })
    .await
    .unwrap();
    counts_agree(&s).await;
    assert_eq!(s.outbox_summary().await.unwrap().sent, 0);
}

/// Regression: dead letters were never pruned and could only pile up.
#[tokio::test]
async fn dead_letters_are_pruned_after_dead_retention_and_purged_on_request() {
    let s = with("a", 1000, &["k1", "k2", "k3"], "chat").await;
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    s.mark_dead(&[c[0].id], "HTTP 400", 1_000).await.unwrap();
    s.mark_dead(&[c[1].id], "HTTP 400", 50_000).await.unwrap();
    s.mark_dead(&[c[2].id], "HTTP 400", 90_000).await.unwrap();
    let rules = PruneRules {
        seen_before: 0,
        sent_before: 0,
        dead_before: 10_000,
        removed_before: 0,
        stories_before: 0,
    };
    assert_eq!(s.prune(rules).await.unwrap(), 1);
    assert_eq!(count(&s, "dead").await, 2);
    // `deliveries purge --dead --older-than …` deletes those that died before the cut.
    assert_eq!(s.purge_dead(60_000).await.unwrap(), 1);
    assert_eq!(s.purge_dead(Millis::MAX).await.unwrap(), 1);
    counts_agree(&s).await;
}

/// Regression: `deliveries retry --dead` revived dead letters of sinks that no longer exist,
/// which then waited forever for a worker.
#[tokio::test]
async fn retry_dead_leaves_dead_letters_of_removed_sinks_dead() {
    let s = with("a", 1000, &["k1"], "kept").await;
    add(&s, "b", 1000, &["k2"], "gone").await;
    assert_eq!(s.dead_letter_unconfigured(&[]).await.unwrap(), 2);
    assert_eq!(s.retry_dead(5000, &["kept".into()]).await.unwrap(), (1, 1));
    let pending = s.list_deliveries("pending", 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].sink, "kept");
}

/// Regression: feeds removed from the configuration kept their rows and seen keys forever.
#[tokio::test]
async fn removed_feeds_are_pruned_after_the_retention() {
    let s = with("kept", 1000, &["k1"], "chat").await;
    add(&s, "gone", 1000, &["k2"], "chat").await;
    s.sync_feeds(&["kept".into()], 2_000).await.unwrap();
    // A later reload does not restart the removed feed's clock.
    s.sync_feeds(&["kept".into()], 50_000).await.unwrap();
    let rules = |removed_before| PruneRules {
        seen_before: 0,
        sent_before: 0,
        dead_before: 0,
        removed_before,
        stories_before: 0,
    };
    assert_eq!(s.prune(rules(1_000)).await.unwrap(), 0);
    assert_eq!(
        s.prune(rules(3_000)).await.unwrap(),
        2,
        "seen key and feed row"
    );
    let feeds: Vec<String> = s
        .feed_states()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.feed)
        .collect();
    assert_eq!(feeds, ["kept"]);
    assert!(
        s.known_items("gone", &["k2".into()])
            .await
            .unwrap()
            .is_empty()
    );
    // A feed that comes back before the retention is unstamped.
    add(&s, "back", 1000, &["k3"], "chat").await;
    s.sync_feeds(&["kept".into()], 4_000).await.unwrap();
    s.sync_feeds(&["kept".into(), "back".into()], 5_000)
        .await
        .unwrap();
    assert_eq!(s.prune(rules(Millis::MAX)).await.unwrap(), 0);
}

/// `/metrics` and `status` must not scan the outbox: the plans use indexes or tiny tables.
#[tokio::test]
async fn summary_queries_use_indexes() {
    let s = with("a", 1000, &["k1"], "chat").await;
    for sql in [
        "SELECT MIN(created_at) FROM deliveries WHERE state = 'pending'",
        "SELECT id FROM deliveries WHERE state = 'dead' ORDER BY id DESC LIMIT 50",
        "DELETE FROM deliveries WHERE state = 'sent' AND sent_at < 5",
    ] {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(&s.pool)
                .await
                .unwrap();
        let text: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
        assert!(
            text.iter().all(|t| !t.starts_with("SCAN deliveries")),
            "{sql}: {text:?}"
        );
        assert!(text.iter().any(|t| t.contains("INDEX")), "{sql}: {text:?}");
    }
}

/// Regression: a database restored from a machine whose clock ran ahead parked its retries
/// (and made its deliveries look too young to die) for as long as the clock had been ahead.
#[tokio::test]
async fn times_from_the_future_are_clamped_at_start() {
    let s = with("a", 90_000_000, &["k1", "k2"], "chat").await;
    let c = s
        .claim_due("chat", 90_000_000, 90_060_000, 10)
        .await
        .unwrap();
    s.mark_retry(&[c[0].id], "HTTP 503", 99_000_000)
        .await
        .unwrap();
    s.mark_retry(&[c[1].id], "HTTP 503", 1_500).await.unwrap();
    s.clamp_times(1_000, 600_000).await.unwrap();
    let rows = s.list_deliveries("pending", 10).await.unwrap();
    let mut times: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| (r.next_attempt_at, r.created_at))
        .collect();
    times.sort();
    assert_eq!(times, [(1_500, 1_000), (601_000, 1_000)]);
}

/// Regression: retries, leases and poll times compared wall-clock milliseconds, so a clock
/// stepped back by an hour held every retry for an hour.
#[tokio::test]
async fn a_clock_step_moves_the_stored_schedule_along() {
    let s = with("a", 1_000_000, &["k1"], "chat").await;
    let c = s.claim_due("chat", 1_000_000, 1_060_000, 10).await.unwrap();
    s.mark_retry(&[c[0].id], "HTTP 503", 1_010_000)
        .await
        .unwrap();
    // The wall clock jumps back an hour: the retry is still 10 s away, not an hour and 10 s.
    s.shift_times(-3_600_000).await.unwrap();
    let row = &s.list_deliveries("pending", 1).await.unwrap()[0];
    assert_eq!(row.next_attempt_at, 1_010_000 - 3_600_000);
    assert_eq!(row.created_at, 1_000_000 - 3_600_000);
    let feed = &s.feed_states().await.unwrap()[0];
    assert_eq!(feed.next_poll_at, Some(1_060_000 - 3_600_000));
}

/// Pruning goes in batches (the connection is shared); every batch is taken, not only the
/// first.
#[tokio::test]
async fn a_large_backlog_is_pruned_whole_in_batches() {
    let s = SqliteStore::in_memory().await.unwrap();
    sqlx::query(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 12001)
         INSERT INTO deliveries (idem_key, sink, watch, feed, item_key, alert, state, created_at,
                                 next_attempt_at, sent_at)
         SELECT 'k' || i, 's', 'w', 'f', 'k' || i, '{}', 'sent', 1, 1, 1 FROM k",
    )
    .execute(&s.pool)
    .await
    .unwrap();
    let removed = s
        .prune(PruneRules {
            seen_before: 0,
            sent_before: 10,
            dead_before: 0,
            removed_before: 0,
            stories_before: 0,
        })
        .await
        .unwrap();
    assert_eq!(removed, 12_001);
    counts_agree(&s).await;
}
