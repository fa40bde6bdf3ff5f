//! A feed's stored state, as each kind of poll leaves it: a commit, a 304, a failure, a
//! changed URL; read back one feed, some feeds or all.

use super::{commit, url};
use crate::store::{FailureRecord, Millis, Store};

/// Everything the next poll starts from is stored with the commit, and a success ends a run
/// of failures and HTML answers.
pub(crate) async fn a_commit_stores_the_polls_feed_state<S: Store>(s: S) {
    s.record_failure(&FailureRecord {
        feed: "a",
        config_url: &url("a"),
        error: "HTTP 503",
        failures: 2,
        html_streak: 1,
        now: 500,
        next_poll_at: 700,
    })
    .await
    .unwrap();
    let mut c = commit("a", 1000, &["k1", "k2", "k3"], vec![]);
    c.etag = Some("\"v1\"".into());
    c.last_modified = Some("Tue, 01 Dec 2026 10:00:00 GMT".into());
    c.moved_url = Some("https://moved.example/rss".into());
    c.shared_ids = vec!["latest-story".into(), "0".into()];
    s.commit_poll(&c).await.unwrap();
    let st = s.feed_state("a").await.unwrap().unwrap();
    let want = crate::store::FeedState {
        feed: "a".into(),
        config_url: url("a"),
        moved_url: Some("https://moved.example/rss".into()),
        etag: Some("\"v1\"".into()),
        last_modified: Some("Tue, 01 Dec 2026 10:00:00 GMT".into()),
        last_poll_at: Some(1000),
        last_success_at: Some(1000),
        last_result: Some("ok".into()),
        last_error: None,
        failures: 0,
        next_poll_at: Some(61_000),
        baselined: true,
        items_seen: 3,
        suppressed: 0,
        html_streak: 0,
        shared_ids: vec!["latest-story".into(), "0".into()],
    };
    assert_eq!(st, want);
    assert_eq!(s.feed_states().await.unwrap(), [want]);
    // A later commit that found no new move keeps the stored one: the poller fetches from
    // it and reports a move only on the poll that found it.
    s.commit_poll(&commit("a", 2000, &["k1"], vec![]))
        .await
        .unwrap();
    let st = s.feed_state("a").await.unwrap().unwrap();
    assert_eq!(st.moved_url.as_deref(), Some("https://moved.example/rss"));
    // The validators are the latest response's: none this time. So are the shared ids.
    assert_eq!((st.etag, st.last_modified), (None, None));
    assert_eq!(st.shared_ids, Vec::<String>::new());
    // The configured URL answered itself: the move is forgotten.
    let mut back = commit("a", 3000, &["k1"], vec![]);
    back.back_to_config = true;
    s.commit_poll(&back).await.unwrap();
    let st = s.feed_state("a").await.unwrap().unwrap();
    assert_eq!(st.moved_url, None);
    // A baseline of a cut-off document leaves the feed unbaselined; the next commit
    // baselines it.
    let mut cut = commit("b", 1000, &["k1"], vec![]);
    cut.baseline_incomplete = true;
    s.commit_poll(&cut).await.unwrap();
    let st = s.feed_state("b").await.unwrap().unwrap();
    assert_eq!((st.baselined, st.last_success_at), (false, Some(1000)));
    s.commit_poll(&commit("b", 2000, &["k1", "k2"], vec![]))
        .await
        .unwrap();
    assert!(s.feed_state("b").await.unwrap().unwrap().baselined);
}

pub(crate) async fn a_changed_url_forgets_validators_and_moves<S: Store>(s: S) {
    let mut c = commit("a", 1000, &[], vec![]);
    c.etag = Some("\"v1\"".into());
    c.moved_url = Some("https://new.example/rss".into());
    s.commit_poll(&c).await.unwrap();
    let st = &s.feed_states().await.unwrap()[0];
    assert_eq!(st.moved_url.as_deref(), Some("https://new.example/rss"));
    s.record_not_modified("a", "https://changed.example/rss", 2000, 3000)
        .await
        .unwrap();
    let st = &s.feed_states().await.unwrap()[0];
    assert_eq!(st.moved_url, None);
    assert_eq!(st.etag, None);
    assert_eq!(st.config_url, "https://changed.example/rss");
}

/// A feed re-added by a reload reads its own state back by name: without it, its next poll
/// would be a new baseline and the items that arrived meanwhile would never alert.
pub(crate) async fn one_feeds_state_is_read_back_by_name<S: Store>(s: S) {
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

/// The scheduler reads the states of the polls it starts together in one call: every listed
/// feed with a state, none other, past the size of one statement's parameter list (SQLite's
/// is 500 here).
pub(crate) async fn feed_states_of_reads_the_listed_feeds_in_one_call<S: Store>(s: S) {
    let names: Vec<String> = (0..520).map(|i| format!("f{i}")).collect();
    // Committed together, as a first round commits its baselines.
    let commits: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, n)| commit(n, 1000 + i as i64, &["k"], vec![]))
        .collect();
    for out in futures_util::future::join_all(commits.iter().map(|c| s.commit_poll(c))).await {
        out.unwrap();
    }
    let mut asked: Vec<String> = names.iter().step_by(2).cloned().collect();
    asked.push("never-polled".into());
    let mut got: Vec<(String, Option<Millis>)> = s
        .feed_states_of(&asked)
        .await
        .unwrap()
        .into_iter()
        .map(|st| (st.feed, st.last_poll_at))
        .collect();
    got.sort();
    let mut want: Vec<(String, Option<Millis>)> = names
        .iter()
        .enumerate()
        .step_by(2)
        .map(|(i, n)| (n.clone(), Some(1000 + i as i64)))
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert!(s.feed_states_of(&[]).await.unwrap().is_empty());
}

/// The feeds last configured with a URL are found by it, whatever their names (a renamed
/// feed's first poll looks for its old name so), and a feed that moved to another URL is
/// found by its new one only.
pub(crate) async fn feeds_at_url_finds_every_name_last_configured_with_it<S: Store>(s: S) {
    let shared = "https://shared.example/rss";
    for (feed, at) in [("old", 1000), ("older", 500), ("moved", 800)] {
        let mut c = commit(feed, at, &["k"], vec![]);
        c.config_url = shared.into();
        s.commit_poll(&c).await.unwrap();
    }
    s.commit_poll(&commit("other", 900, &["k"], vec![]))
        .await
        .unwrap();
    // `moved` is polled at its own URL since.
    s.commit_poll(&commit("moved", 2000, &["k"], vec![]))
        .await
        .unwrap();
    let found: Vec<(String, Option<Millis>)> = s
        .feeds_at_url(shared)
        .await
        .unwrap()
        .into_iter()
        .map(|st| (st.feed, st.last_success_at))
        .collect();
    assert_eq!(
        found,
        [
            ("old".to_string(), Some(1000)),
            ("older".to_string(), Some(500))
        ]
    );
    assert!(
        s.feeds_at_url("https://none.example/rss")
            .await
            .unwrap()
            .is_empty()
    );
}

/// A failed poll is stored: the error for the operator, the failure count the backoff grows
/// from, the HTML streak, and the next poll time that survives a restart.
pub(crate) async fn a_failed_poll_is_stored_with_its_error_count_and_next_time<S: Store>(s: S) {
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
    // A feed that never succeeded is not baselined and has no success time.
    assert_eq!((st.baselined, st.last_success_at), (false, None));
    assert_eq!(s.feed_states().await.unwrap(), [st]);
}

/// A failure of the same URL changes the poll's facts only: the validators, the baseline and
/// the last success stay (the next poll still asks conditionally and alerts on new items).
pub(crate) async fn a_failure_keeps_the_validators_and_the_last_success<S: Store>(s: S) {
    let mut c = commit("a", 1000, &["k1"], vec![]);
    c.etag = Some("\"v1\"".into());
    c.last_modified = Some("yesterday".into());
    s.commit_poll(&c).await.unwrap();
    s.record_failure(&FailureRecord {
        feed: "a",
        config_url: &url("a"),
        error: "timeout",
        failures: 1,
        html_streak: 0,
        now: 2000,
        next_poll_at: 9000,
    })
    .await
    .unwrap();
    let st = s.feed_state("a").await.unwrap().unwrap();
    assert_eq!(
        (st.etag.as_deref(), st.last_modified.as_deref()),
        (Some("\"v1\""), Some("yesterday"))
    );
    assert_eq!((st.baselined, st.items_seen), (true, 1));
    assert_eq!(
        (st.last_success_at, st.last_poll_at, st.next_poll_at),
        (Some(1000), Some(2000), Some(9000))
    );
    assert_eq!(
        (st.last_result.as_deref(), st.last_error.as_deref()),
        (Some("error"), Some("timeout"))
    );
}

/// A 304 is a success that changes nothing in the document: the poll's times are stored, a
/// run of failures and HTML answers ends, the validators and the baseline stay.
pub(crate) async fn a_304_stores_the_poll_and_keeps_the_validators<S: Store>(s: S) {
    let mut c = commit("a", 1000, &["k1"], vec![]);
    c.etag = Some("\"v1\"".into());
    s.commit_poll(&c).await.unwrap();
    s.record_failure(&FailureRecord {
        feed: "a",
        config_url: &url("a"),
        error: "HTTP 500",
        failures: 2,
        html_streak: 1,
        now: 1001,
        next_poll_at: 1002,
    })
    .await
    .unwrap();
    s.record_not_modified("a", &url("a"), 1010, 61_010)
        .await
        .unwrap();
    let st = s.feed_state("a").await.unwrap().unwrap();
    assert_eq!(st.last_result.as_deref(), Some("not_modified"));
    assert_eq!(
        (st.last_poll_at, st.last_success_at, st.next_poll_at),
        (Some(1010), Some(1010), Some(61_010))
    );
    assert_eq!((st.failures, st.html_streak, st.last_error), (0, 0, None));
    assert_eq!(st.etag.as_deref(), Some("\"v1\""));
    assert_eq!((st.baselined, st.items_seen), (true, 1));
}

/// A 304 for a feed without a row makes one, and one for a changed URL resets it: neither is
/// a baseline, so the next full document is (its items must not alert as new).
pub(crate) async fn a_304_for_an_unknown_feed_or_a_changed_url_is_not_a_baseline<S: Store>(s: S) {
    let mut c = commit("moved", 1000, &["k1"], vec![]);
    c.etag = Some("\"v1\"".into());
    s.commit_poll(&c).await.unwrap();
    // Two 304s at once, as the scheduler's polls finish.
    let new_url = url("new");
    let (new, moved) = tokio::join!(
        s.record_not_modified("new", &new_url, 1030, 61_030),
        s.record_not_modified("moved", "https://elsewhere.example/rss", 1040, 61_040),
    );
    new.unwrap();
    moved.unwrap();
    let new = s.feed_state("new").await.unwrap().unwrap();
    assert_eq!(new.config_url, url("new"));
    assert_eq!(new.last_result.as_deref(), Some("not_modified"));
    assert_eq!(
        (new.last_poll_at, new.next_poll_at, new.baselined),
        (Some(1030), Some(61_030), false)
    );
    let moved = s.feed_state("moved").await.unwrap().unwrap();
    assert_eq!(moved.config_url, "https://elsewhere.example/rss");
    assert_eq!((moved.etag, moved.baselined), (None, false));
    assert_eq!(moved.last_poll_at, Some(1040));
    // The next full document of the new URL is a baseline: nothing in it is new.
    let mut again = commit("moved", 2000, &["k1", "k2"], vec![]);
    again.config_url = "https://elsewhere.example/rss".into();
    s.commit_poll(&again).await.unwrap();
    assert!(s.feed_state("moved").await.unwrap().unwrap().baselined);
}

/// A renamed feed's first commit takes the old name's seen keys: an item the old name saw
/// stays seen under the new one, listed in this document or not, and only the keys neither
/// has seen count as new.
pub(crate) async fn a_commit_seen_from_another_feed_keeps_what_that_feed_saw<S: Store>(s: S) {
    s.commit_poll(&commit("old", 1000, &["k1", "k2", "k3"], vec![]))
        .await
        .unwrap();
    let mut c = commit("new", 2000, &["k1", "k4"], vec![]);
    c.seen_from = Some("old".into());
    let out = s.commit_poll(&c).await.unwrap();
    assert_eq!(out.new_items, 1);
    let keys = ["k1", "k2", "k3", "k4", "k5"];
    assert_eq!(known(&s, "new", &keys).await, ["k1", "k2", "k3", "k4"]);
    // The old name keeps its own keys, until the prune takes them with its row.
    assert_eq!(known(&s, "old", &keys).await, ["k1", "k2", "k3"]);
}

/// Which of `keys` `feed` has seen, sorted.
async fn known<S: Store>(s: &S, feed: &str, keys: &[&str]) -> Vec<String> {
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let mut known: Vec<String> = s
        .known_items(feed, &keys)
        .await
        .unwrap()
        .into_iter()
        .collect();
    known.sort();
    known
}

/// Review regression: the keys of the old name's latest full document were copied with their
/// old `last_seen`, no longer the feed's `last_fetch_at`, so the prune took those older than
/// the retention (a feed that had answered 304 for months), and they alerted again.
pub(crate) async fn keys_seen_from_another_feed_keep_the_latest_documents_spare<S: Store>(s: S) {
    s.commit_poll(&commit("old", 1000, &["k1", "k2", "k3"], vec![]))
        .await
        .unwrap();
    let mut c = commit("new", 10_000, &["k4", "k1"], vec![]);
    c.seen_from = Some("old".into());
    s.commit_poll(&c).await.unwrap();
    s.prune(super::PruneRules {
        seen_before: 5000,
        ..super::keep_all()
    })
    .await
    .unwrap();
    let keys = ["k1", "k2", "k3", "k4"];
    assert_eq!(known(&s, "new", &keys).await, keys);
}
