//! A batch of 304s against an in-memory database: the same rows, history counts and URL
//! handling as one 304 at a time.

use super::{NotModified, write};
use crate::store::conformance::commit;
use crate::store::sqlite::SqliteStore;
use crate::store::{FeedState, Millis, Store};

const T0: Millis = 1_700_000_000_000;

fn row(feed: &str, url: &str, now: Millis) -> NotModified {
    NotModified {
        feed: feed.into(),
        config_url: url.into(),
        now,
        next_poll_at: now + 60_000,
    }
}

async fn state(s: &SqliteStore, feed: &str) -> FeedState {
    s.feed_state(feed).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_batch_of_304s_stores_each_feed_as_a_single_304_would() {
    let s = SqliteStore::in_memory().await.unwrap();
    for f in ["a", "b", "moved"] {
        let mut c = commit(f, T0, &["k1"], vec![]);
        c.etag = Some("\"v1\"".into());
        s.commit_poll(&c).await.unwrap();
    }
    s.record_failure(&crate::store::FailureRecord {
        feed: "b",
        config_url: "https://b.example/rss",
        error: "HTTP 500",
        failures: 2,
        html_streak: 1,
        now: T0 + 1,
        next_poll_at: T0 + 2,
    })
    .await
    .unwrap();
    let rows = vec![
        row("a", "https://a.example/rss", T0 + 10),
        row("b", "https://b.example/rss", T0 + 20),
        // No row yet, and a row for another URL: both take the one-row path in the batch.
        row("new", "https://new.example/rss", T0 + 30),
        row("moved", "https://elsewhere.example/rss", T0 + 40),
    ];
    let results = write(&s.pool, rows).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    for (f, now) in [("a", T0 + 10), ("b", T0 + 20), ("new", T0 + 30)] {
        let st = state(&s, f).await;
        assert_eq!(st.last_result.as_deref(), Some("not_modified"), "{f}");
        assert_eq!(
            (st.last_poll_at, st.last_success_at, st.next_poll_at),
            (Some(now), Some(now), Some(now + 60_000)),
            "{f}"
        );
        assert_eq!((st.failures, st.html_streak, st.last_error), (0, 0, None));
    }
    assert_eq!(state(&s, "a").await.etag.as_deref(), Some("\"v1\""));
    let moved = state(&s, "moved").await;
    assert_eq!(moved.config_url, "https://elsewhere.example/rss");
    assert_eq!((moved.etag, moved.baselined), (None, false));
    // The history trigger counted each 304 once.
    let days = s.feed_days(0).await.unwrap();
    let nm: Vec<(&str, i64)> = days
        .iter()
        .filter(|d| d.not_modified > 0)
        .map(|d| (d.feed.as_str(), d.not_modified))
        .collect();
    assert_eq!(nm, [("a", 1), ("b", 1), ("moved", 1), ("new", 1)]);
    // And b is no longer failing.
    let health = s.feed_health().await.unwrap();
    let b = health.iter().find(|h| h.feed == "b").unwrap();
    assert_eq!(b.failing_since, None);
}

#[tokio::test]
async fn two_304s_of_one_feed_in_a_batch_keep_their_order() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.commit_poll(&commit("a", T0, &[], vec![])).await.unwrap();
    let results = write(
        &s.pool,
        vec![
            row("a", "https://a.example/rss", T0 + 10),
            row("a", "https://a.example/rss", T0 + 20),
        ],
    )
    .await;
    assert_eq!(results.len(), 2);
    assert_eq!(state(&s, "a").await.last_poll_at, Some(T0 + 20));
}

/// `record_not_modified` resolves only once the row is committed: another connection to the
/// file sees it at once (the daemon reports a poll done, and stops on SIGTERM, only then).
#[tokio::test]
async fn a_recorded_304_is_committed_when_the_call_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let s = SqliteStore::open(&path).await.unwrap();
    s.commit_poll(&commit("a", T0, &[], vec![])).await.unwrap();
    s.commit_poll(&commit("b", T0, &[], vec![])).await.unwrap();
    let (ra, rb) = tokio::join!(
        s.record_not_modified("a", "https://a.example/rss", T0 + 5, T0 + 9),
        s.record_not_modified("b", "https://b.example/rss", T0 + 6, T0 + 9),
    );
    ra.unwrap();
    rb.unwrap();
    let reader = SqliteStore::open_read_only(&path).await.unwrap();
    let states = reader.feed_states().await.unwrap();
    let polled: Vec<Option<Millis>> = states.iter().map(|st| st.last_poll_at).collect();
    assert_eq!(polled, [Some(T0 + 5), Some(T0 + 6)]);
}
