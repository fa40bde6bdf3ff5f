//! The commit writer against an in-memory database: commits queued in one tick are one
//! transaction that stores each poll as it would alone, and a failing commit fails alone.
//! (What a commit stores is the store's contract, checked by the conformance suite.)

use crate::store::conformance::{commit, delivery};
use crate::store::sqlite::SqliteStore;
use crate::store::{Millis, Store};

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
