//! A poll's commit against an in-memory database: the repeat window's edge, per-watch alert
//! counts on a repeated commit. Written against mutation testing (docs/testing.md).

use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::tests::{commit, delivery};
use crate::store::{Millis, Store};

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
