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

/// A first round's commits, as the writer batches them: a baseline, a poll with an alert and
/// a poll in another feed with the same story (a repeat, judged against the alert committed
/// just before it in the same transaction).
fn round(t0: Millis) -> Vec<crate::store::PollCommit> {
    let link = Some("https://x.example/story");
    vec![
        commit("a", t0, &["a1", "a2", "a3"], vec![]),
        commit("b", t0, &["b1"], vec![delivery("b1", "s", "w", link)]),
        commit("c", t0, &["c1"], vec![delivery("c1", "s", "w", link)]),
    ]
}

/// Commits queued together are one transaction, and each poll's outcome and stored state are
/// what committing it alone, in the same order, gives.
#[tokio::test]
async fn commits_queued_together_store_each_poll_as_it_would_alone() {
    let t0: Millis = 1_700_000_000_000;
    let alone = SqliteStore::in_memory().await.unwrap();
    let mut want = Vec::new();
    for c in round(t0) {
        want.push(alone.commit_poll(&c).await.unwrap());
    }
    let batched = SqliteStore::in_memory().await.unwrap();
    let commits = round(t0);
    // Queued in the same tick, through the store's own writer.
    let got: Vec<_> =
        futures_util::future::join_all(commits.iter().map(|c| batched.commit_poll(c)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    assert_eq!(got, want);
    assert_eq!(got[0].new_items, 3);
    assert_eq!((got[1].enqueued, got[2].suppressed), (1, 1));
    assert_eq!(
        batched.feed_states().await.unwrap(),
        alone.feed_states().await.unwrap()
    );
    assert_eq!(
        batched.outbox_summary().await.unwrap(),
        alone.outbox_summary().await.unwrap()
    );
    // A second round refreshes the keys it finds and counts only the new one.
    let again = commit("a", t0 + 1, &["a1", "a2", "a4"], vec![]);
    assert_eq!(batched.commit_poll(&again).await.unwrap().new_items, 1);
    let seen: Vec<(String, Millis, Millis)> = sqlx::query_as(
        "SELECT item_key, first_seen, last_seen FROM seen WHERE feed = 'a' ORDER BY item_key",
    )
    .fetch_all(&batched.pool)
    .await
    .unwrap();
    let at = |k: &str, f, l| (k.to_string(), f, l);
    assert_eq!(
        seen,
        [
            at("a1", t0, t0 + 1),
            at("a2", t0, t0 + 1),
            at("a3", t0, t0),
            at("a4", t0 + 1, t0 + 1)
        ]
    );
}

/// A commit that fails inside a batch (here a trigger refuses one item) takes the batch's
/// transaction down with it: the batch is retried one commit at a time, so the failing poll
/// hears its own error (and is not baselined: it is polled again) and its neighbours are
/// stored, nothing lost.
#[tokio::test]
async fn a_failing_commit_in_a_batch_fails_alone_and_its_neighbours_are_stored() {
    let t0: Millis = 1_700_000_000_000;
    let s = SqliteStore::in_memory().await.unwrap();
    sqlx::query(
        "CREATE TRIGGER poison BEFORE INSERT ON seen WHEN NEW.item_key = 'poison'
         BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
    )
    .execute(&s.pool)
    .await
    .unwrap();
    let mut commits = round(t0);
    commits.insert(1, commit("p", t0, &["ok", "poison"], vec![]));
    let results = super::write(&s.pool, commits).await;
    let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
    assert_eq!(ok, [true, false, true, true]);
    assert!(
        results[1]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("poisoned")
    );
    let states = s.feed_states().await.unwrap();
    let baselined: Vec<(&str, bool)> = states
        .iter()
        .map(|st| (st.feed.as_str(), st.baselined))
        .collect();
    assert_eq!(baselined, [("a", true), ("b", true), ("c", true)]);
    assert_eq!(s.outbox_summary().await.unwrap().pending, 1);
    let p_seen: i64 = sqlx::query_scalar("SELECT count(*) FROM seen WHERE feed = 'p'")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(p_seen, 0, "the failed commit left nothing behind");
}
