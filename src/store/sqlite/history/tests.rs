//! The day tables and feed health facts, as the 0007 triggers keep them: exactly one count per
//! poll, per new item and per alert, whichever store method wrote it.

use super::super::SqliteStore;
use super::super::tests::commit;
use crate::store::{
    FailureRecord, FeedDay, HealthChange, HealthState, Millis, NewDelivery, PruneRules, Store,
};

const DAY: Millis = 86_400_000;

fn delivery(item: &str, sink: &str, watch: &str) -> NewDelivery {
    NewDelivery {
        idem_key: format!("{watch}/{sink}/{item}"),
        sink: sink.into(),
        watch: watch.into(),
        item_key: item.into(),
        alert_json: "{}".into(),
        canonical_link: None,
    }
}

async fn fail(s: &SqliteStore, feed: &str, now: Millis, failures: u32) {
    s.record_failure(&FailureRecord {
        feed,
        config_url: &format!("https://{feed}.example/rss"),
        error: "HTTP 500",
        failures,
        html_streak: 0,
        now,
        next_poll_at: now + 60_000,
    })
    .await
    .unwrap();
}

async fn not_modified(s: &SqliteStore, feed: &str, now: Millis) {
    s.record_not_modified(
        feed,
        &format!("https://{feed}.example/rss"),
        now,
        now + 60_000,
    )
    .await
    .unwrap();
}

fn day(feed: &str, day: i64, ok: i64, not_modified: i64, failed: i64, items: i64) -> FeedDay {
    FeedDay {
        feed: feed.into(),
        day,
        ok,
        not_modified,
        failed,
        items,
    }
}

#[tokio::test]
async fn each_poll_item_and_alert_counts_once_on_its_own_day() {
    let s = SqliteStore::in_memory().await.unwrap();
    let d0 = 20_000 * DAY;
    // Day 0: the baseline (3 items, not new), a 304, an error, and a poll bringing 2 new items
    // of which one alerts two watches, one of them on two sinks.
    s.commit_poll(&commit("a", d0 + 1000, &["k1", "k2", "k3"], vec![]))
        .await
        .unwrap();
    not_modified(&s, "a", d0 + 2000).await;
    fail(&s, "a", d0 + 3000, 1).await;
    s.commit_poll(&commit(
        "a",
        d0 + 4000,
        &["k4", "k5", "k1"],
        vec![
            delivery("k4", "hook", "w1"),
            delivery("k4", "chat", "w1"),
            delivery("k4", "hook", "w2"),
        ],
    ))
    .await
    .unwrap();
    // The same commit again (a crash before the caller saw it): a poll, no items, no alerts.
    s.commit_poll(&commit(
        "a",
        d0 + 5000,
        &["k4", "k5", "k1"],
        vec![delivery("k4", "hook", "w1"), delivery("k4", "chat", "w1")],
    ))
    .await
    .unwrap();
    // Day 1: a 304 for a feed whose row the 304 creates, two errors, one new item.
    not_modified(&s, "b", d0 + DAY + 10).await;
    fail(&s, "a", d0 + DAY + 20, 1).await;
    fail(&s, "a", d0 + DAY + 30, 2).await;
    s.commit_poll(&commit(
        "a",
        d0 + DAY + 40,
        &["k6"],
        vec![delivery("k6", "hook", "w1")],
    ))
    .await
    .unwrap();

    let days = s.feed_days(20_000).await.unwrap();
    assert_eq!(
        days,
        vec![
            day("a", 20_000, 3, 1, 1, 2),
            day("a", 20_001, 1, 0, 2, 1),
            day("b", 20_001, 0, 1, 0, 0),
        ]
    );
    // Earlier days are left out when asked from a later one.
    assert_eq!(s.feed_days(20_001).await.unwrap().len(), 2);
    let w: Vec<(String, i64, i64)> = s
        .watch_days(0)
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.watch, w.day, w.alerts))
        .collect();
    assert_eq!(
        w,
        vec![
            ("w1".into(), 20_000, 1),
            ("w1".into(), 20_001, 1),
            ("w2".into(), 20_000, 1),
        ]
    );
}

#[tokio::test]
async fn failing_since_is_the_first_failure_of_the_run_and_clears_on_success() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.commit_poll(&commit("a", 1000, &["k1"], vec![]))
        .await
        .unwrap();
    fail(&s, "a", 2000, 1).await;
    fail(&s, "a", 3000, 2).await;
    let h = &s.feed_health().await.unwrap()[0];
    assert_eq!(h.failing_since, Some(2000));
    assert_eq!(h.last_result.as_deref(), Some("error"));
    assert_eq!(h.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(h.reported, HealthState::Ok);
    not_modified(&s, "a", 4000).await;
    assert_eq!(s.feed_health().await.unwrap()[0].failing_since, None);
    fail(&s, "a", 5000, 1).await;
    assert_eq!(s.feed_health().await.unwrap()[0].failing_since, Some(5000));
    s.commit_poll(&commit("a", 6000, &["k1"], vec![]))
        .await
        .unwrap();
    assert_eq!(s.feed_health().await.unwrap()[0].failing_since, None);
}

#[tokio::test]
async fn arrivals_leave_out_the_baseline_and_group_one_polls_items() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.commit_poll(&commit("a", 1000, &["k1", "k2"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("a", 2000, &["k3", "k4", "k1"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("a", 3000, &["k5"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("a", 4000, &["k5"], vec![]))
        .await
        .unwrap();
    assert_eq!(s.arrivals("a", 0).await.unwrap(), vec![2000, 3000]);
    assert_eq!(s.arrivals("a", 2500).await.unwrap(), vec![3000]);
    assert_eq!(s.feed_health().await.unwrap()[0].last_item_day, Some(0));
    // A changed URL is a new baseline: what came before is not this document's rhythm.
    let mut moved = commit("a", 5000, &["k9", "k5"], vec![]);
    moved.config_url = "https://elsewhere.example/rss".into();
    s.commit_poll(&moved).await.unwrap();
    assert_eq!(s.arrivals("a", 0).await.unwrap(), Vec::<Millis>::new());
}

#[tokio::test]
async fn a_health_change_is_recorded_once_with_its_alerts() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.commit_poll(&commit("a", 1000, &["k1"], vec![]))
        .await
        .unwrap();
    let change = HealthChange {
        feed: "a".into(),
        from: HealthState::Ok,
        to: HealthState::Failing,
        at: 9000,
        deliveries: vec![delivery("health:failing:1", "ops", "feed health")],
    };
    assert!(s.record_health(&change).await.unwrap());
    // A second instance deciding the same change from the same old state: nothing.
    assert!(!s.record_health(&change).await.unwrap());
    let h = &s.feed_health().await.unwrap()[0];
    assert_eq!(
        (h.reported, h.reported_at),
        (HealthState::Failing, Some(9000))
    );
    assert_eq!(s.outbox_summary().await.unwrap().pending, 1);
    let due = s.claim_due("ops", 9000, 10_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
}

#[tokio::test]
async fn history_keeps_about_a_month_behind_the_newest_day() {
    let s = SqliteStore::in_memory().await.unwrap();
    for d in [0, 10, 40, 41] {
        not_modified(&s, "a", d * DAY).await;
    }
    s.prune(PruneRules {
        seen_before: 0,
        sent_before: 0,
        dead_before: 0,
        removed_before: 0,
        stories_before: 0,
    })
    .await
    .unwrap();
    let days: Vec<i64> = s
        .feed_days(0)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.day)
        .collect();
    assert_eq!(days, vec![10, 40, 41]);
}

/// A story update names the item that reported the story again: a new (feed, item) for the
/// watch, but not an alert, so the day's alert count and the watch's total leave it out.
#[tokio::test]
async fn a_story_update_is_not_counted_as_an_alert() {
    let s = SqliteStore::in_memory().await.unwrap();
    let d0 = 20_000 * DAY;
    s.commit_poll(&commit("a", d0, &["k1"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit(
        "a",
        d0 + 10,
        &["k2"],
        vec![delivery("k2", "hook", "w")],
    ))
    .await
    .unwrap();
    let mut second = commit("b", d0 + 20, &["x1"], vec![]);
    second.updates = vec![crate::store::NewUpdate {
        delivery: delivery("x1", "hook", "w"),
        story_key: "w/hook/k2".into(),
    }];
    s.commit_poll(&second).await.unwrap();
    let days = s.watch_days(20_000).await.unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].alerts, 1, "{days:?}");
    assert_eq!(s.alert_counts().await.unwrap(), [("w".to_string(), 1)]);
    assert_eq!(s.outbox_summary().await.unwrap().pending, 2);
}
