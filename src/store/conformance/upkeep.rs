//! What outlives one poll: the feeds the configuration names (removed ones pruned after the
//! retention), the prune of seen keys and link memory (sparing a quiet feed's latest
//! document), and per-sink facts learnt at run time.

use super::{commit, delivery, keep_all, not_modified};
use crate::store::{Millis, PruneRules, Store};

pub(crate) async fn sink_state_persists<S: Store>(s: S) {
    assert_eq!(s.sink_state("tg", "chat_id").await.unwrap(), None);
    s.set_sink_state("tg", "chat_id", "-100").await.unwrap();
    s.set_sink_state("tg", "chat_id", "-200").await.unwrap();
    assert_eq!(
        s.sink_state("tg", "chat_id").await.unwrap().as_deref(),
        Some("-200")
    );
}

/// One sink's fact does not leak to another sink or another key.
pub(crate) async fn sink_state_is_kept_per_sink_and_key<S: Store>(s: S) {
    s.set_sink_state("tg", "chat_id", "-100").await.unwrap();
    s.set_sink_state("tg2", "chat_id", "-300").await.unwrap();
    s.set_sink_state("tg", "thread", "7").await.unwrap();
    let get = async |sink, key| s.sink_state(sink, key).await.unwrap();
    assert_eq!(get("tg", "chat_id").await.as_deref(), Some("-100"));
    assert_eq!(get("tg2", "chat_id").await.as_deref(), Some("-300"));
    assert_eq!(get("tg", "thread").await.as_deref(), Some("7"));
    assert_eq!(get("tg2", "thread").await, None);
    assert_eq!(get("other", "chat_id").await, None);
}

/// Regression: feeds removed from the configuration kept their rows and seen keys forever.
pub(crate) async fn removed_feeds_are_pruned_after_the_retention<S: Store>(s: S) {
    super::add(&s, "kept", 1000, &["k1"], "chat").await;
    super::add(&s, "gone", 1000, &["k2"], "chat").await;
    s.sync_feeds(&["kept".into()], 2_000).await.unwrap();
    // A later reload does not restart the removed feed's clock.
    s.sync_feeds(&["kept".into()], 50_000).await.unwrap();
    let rules = |removed_before| PruneRules {
        removed_before,
        ..keep_all()
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
    assert!(s.feed_state("gone").await.unwrap().is_none());
    assert!(
        s.known_items("gone", &["k2".into()])
            .await
            .unwrap()
            .is_empty()
    );
    // The kept feed keeps its seen key.
    assert_eq!(
        s.known_items("kept", &["k1".into()]).await.unwrap().len(),
        1
    );
    // A feed that comes back before the retention is unstamped.
    super::add(&s, "back", 1000, &["k3"], "chat").await;
    s.sync_feeds(&["kept".into()], 4_000).await.unwrap();
    s.sync_feeds(&["kept".into(), "back".into()], 5_000)
        .await
        .unwrap();
    assert_eq!(s.prune(rules(Millis::MAX)).await.unwrap(), 0);
    assert!(s.feed_state("back").await.unwrap().is_some());
}

/// Regression: a configuration without a feed (another instance's on PostgreSQL, or `run
/// --once -c subset.toml` on the same database) marked it removed, and nothing but another
/// sync of a configuration naming it cleared the mark: the instance still polling the feed
/// had its seen keys and feed row pruned after the retention, and its next poll was a
/// baseline that marked new matches seen without alerting them. A poll (committed, a 304
/// or failed) says some configuration still has the feed.
pub(crate) async fn a_feed_still_polled_is_not_pruned_as_removed<S: Store>(s: S) {
    for feed in ["committed", "unchanged", "failing"] {
        super::add(&s, feed, 1_000, &["k"], "chat").await;
    }
    s.sync_feeds(&["other".into()], 2_000).await.unwrap();
    s.commit_poll(&commit("committed", 3_000, &["k"], vec![]))
        .await
        .unwrap();
    not_modified(&s, "unchanged", 3_000).await;
    super::fail(&s, "failing", 3_000, 1).await;
    let rules = PruneRules {
        removed_before: Millis::MAX,
        ..keep_all()
    };
    assert_eq!(s.prune(rules).await.unwrap(), 0);
    for feed in ["committed", "unchanged", "failing"] {
        assert!(s.feed_state(feed).await.unwrap().is_some(), "{feed}");
        assert_eq!(
            s.known_items(feed, &["k".into()]).await.unwrap().len(),
            1,
            "{feed}"
        );
    }
}

pub(crate) async fn prune_spares_the_latest_document_of_a_quiet_feed<S: Store>(s: S) {
    let rules = PruneRules {
        seen_before: 5000,
        ..keep_all()
    };
    s.commit_poll(&commit("a", 1000, &["k1"], vec![]))
        .await
        .unwrap();
    // 304s for longer than the retention: k1 is still in the feed.
    not_modified(&s, "a", 8000).await;
    assert_eq!(s.prune(rules).await.unwrap(), 0);
    assert_eq!(s.known_items("a", &["k1".into()]).await.unwrap().len(), 1);
    // Once k1 has left the document, it ages out.
    s.commit_poll(&commit("a", 9000, &["k2"], vec![]))
        .await
        .unwrap();
    assert_eq!(s.prune(rules).await.unwrap(), 1);
    let known = s
        .known_items("a", &["k1".into(), "k2".into()])
        .await
        .unwrap();
    assert!(known.contains("k2") && !known.contains("k1"));
}

pub(crate) async fn prune_forgets_old_rows<S: Store>(s: S) {
    s.commit_poll(&commit("a", 1000, &["old"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("a", 9000, &["new"], vec![]))
        .await
        .unwrap();
    let rules = PruneRules {
        seen_before: 5000,
        ..keep_all()
    };
    assert_eq!(s.prune(rules).await.unwrap(), 1);
    let known = s
        .known_items("a", &["old".into(), "new".into()])
        .await
        .unwrap();
    assert_eq!(known.into_iter().collect::<Vec<_>>(), ["new"]);
}

/// `links_before` forgets link memory: a link last alerted before it is no longer a repeat,
/// even inside the commit's repeat window.
pub(crate) async fn prune_forgets_link_memory_before_links_before<S: Store>(s: S) {
    let link = Some("https://x.example/story");
    s.commit_poll(&commit(
        "a",
        1000,
        &["k1"],
        vec![delivery("k1", "hook", "w", link)],
    ))
    .await
    .unwrap();
    let rules = |links_before| PruneRules {
        links_before,
        ..keep_all()
    };
    assert_eq!(s.prune(rules(1000)).await.unwrap(), 0);
    // The seen key stays (its rule keeps all); the link memory goes.
    assert_eq!(s.prune(rules(5000)).await.unwrap(), 1);
    assert_eq!(s.known_items("a", &["k1".into()]).await.unwrap().len(), 1);
    let out = s
        .commit_poll(&commit(
            "b",
            6000,
            &["k2"],
            vec![delivery("k2", "hook", "w", link)],
        ))
        .await
        .unwrap();
    assert_eq!((out.enqueued, out.suppressed), (1, 0));
}
