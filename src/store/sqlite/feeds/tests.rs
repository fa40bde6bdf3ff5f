//! A feed's polls against an in-memory database: the repeat window's edge, per-watch alert
//! counts on a repeated commit, a feed's state read back, a failed poll stored. Written against
//! mutation testing (docs/testing.md).

use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::tests::{commit, delivery};
use crate::store::{FailureRecord, Millis, Store};

/// The repeat window of the shared `commit` helper.
const WEEK: Millis = 7 * 24 * 3600 * 1000;

/// The same story in another feed is a repeat within the 7-day window and a new alert after it:
/// the window counts back from now, it does not reach back forever.
#[tokio::test]
async fn a_link_seen_before_the_repeat_window_alerts_again() {
    let s = SqliteStore::in_memory().await.unwrap();
    let link = Some("https://x.example/story");
    let t0: Millis = 1_700_000_000_000;
    s.commit_poll(&commit(
        "a",
        t0,
        &["k1"],
        vec![delivery("k1", "hook", "w", link)],
    ))
    .await
    .unwrap();
    let within = s
        .commit_poll(&commit(
            "b",
            t0 + WEEK - 1,
            &["k2"],
            vec![delivery("k2", "hook", "w", link)],
        ))
        .await
        .unwrap();
    assert_eq!((within.enqueued, within.suppressed), (0, 1));
    let after = s
        .commit_poll(&commit(
            "c",
            t0 + WEEK + 1,
            &["k3"],
            vec![delivery("k3", "hook", "w", link)],
        ))
        .await
        .unwrap();
    assert_eq!((after.enqueued, after.suppressed), (1, 0));
}

/// A commit repeated with deliveries already in the outbox (a crash before the caller saw the
/// result) enqueues nothing and must not count the watch's alerts again.
#[tokio::test]
async fn a_repeated_commit_does_not_count_its_alerts_twice() {
    let s = SqliteStore::in_memory().await.unwrap();
    let c = commit(
        "a",
        1000,
        &["k1", "k2"],
        vec![delivery("k1", "hook", "w", None)],
    );
    assert_eq!(s.commit_poll(&c).await.unwrap().enqueued, 1);
    assert_eq!(s.commit_poll(&c).await.unwrap().enqueued, 0);
    assert_eq!(s.alert_counts().await.unwrap(), [("w".to_string(), 1)]);
}

/// A feed re-added by a reload reads its own state back by name: without it, its next poll
/// would be a new baseline and the items that arrived meanwhile would never alert.
#[tokio::test]
async fn one_feeds_state_is_read_back_by_name() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.commit_poll(&commit("a", 1000, &["k1"], vec![]))
        .await
        .unwrap();
    let st = s.feed_state("a").await.unwrap().unwrap();
    assert_eq!(st.feed, "a");
    assert!(st.baselined);
    assert_eq!(st.items_seen, 1);
    assert_eq!(st.next_poll_at, Some(61_000));
    assert!(s.feed_state("b").await.unwrap().is_none());
}

/// A failed poll is stored: the error for the operator, the failure count the backoff grows
/// from, the HTML streak, and the next poll time that survives a restart.
#[tokio::test]
async fn a_failed_poll_is_stored_with_its_error_count_and_next_time() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.record_failure(&FailureRecord {
        feed: "a",
        config_url: "https://a.example/rss",
        error: "HTTP 503",
        failures: 3,
        html_streak: 1,
        now: 5000,
        next_poll_at: 99_000,
    })
    .await
    .unwrap();
    let st = s.feed_state("a").await.unwrap().unwrap();
    assert_eq!(st.failures, 3);
    assert_eq!(st.html_streak, 1);
    assert_eq!(st.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(st.last_result.as_deref(), Some("error"));
    assert_eq!(st.last_poll_at, Some(5000));
    assert_eq!(st.next_poll_at, Some(99_000));
}
