//! A poll's commit: seen keys (per feed), deliveries keyed by idempotency key, cross-feed
//! repeat suppression by canonical link within the repeat window, and the counts it reports.

use super::{WEEK, commit, delivery, listed};
use crate::store::{Millis, NewDelivery, Store};

pub(crate) async fn commit_marks_seen_and_enqueues_once<S: Store>(s: S) {
    let out = s
        .commit_poll(&commit(
            "a",
            1000,
            &["k1", "k2"],
            vec![delivery("d1", "hook", "w", None)],
        ))
        .await
        .unwrap();
    assert_eq!((out.new_items, out.enqueued), (2, 1));
    // The same commit again (a crash before the caller saw the result): nothing new.
    let out = s
        .commit_poll(&commit(
            "a",
            2000,
            &["k1", "k2"],
            vec![delivery("d1", "hook", "w", None)],
        ))
        .await
        .unwrap();
    assert_eq!((out.new_items, out.enqueued), (0, 0));
    let known = s
        .known_items("a", &["k1".into(), "k3".into()])
        .await
        .unwrap();
    assert!(known.contains("k1") && !known.contains("k3"));
    let st = &s.feed_states().await.unwrap()[0];
    assert!(st.baselined);
    assert_eq!(st.items_seen, 2);
    assert_eq!(listed(&s, "pending").await.len(), 1);
}

/// A later document lists known keys again with a new one: only the new one is new.
pub(crate) async fn a_later_commit_refreshes_known_keys_and_counts_only_new_ones<S: Store>(s: S) {
    let first = s
        .commit_poll(&commit("a", 1000, &["k1", "k2"], vec![]))
        .await
        .unwrap();
    assert_eq!(first.new_items, 2);
    let again = s
        .commit_poll(&commit("a", 2000, &["k1", "k2", "k3"], vec![]))
        .await
        .unwrap();
    assert_eq!(
        (again.new_items, again.enqueued, again.suppressed),
        (1, 0, 0)
    );
    let st = s.feed_state("a").await.unwrap().unwrap();
    assert_eq!((st.items_seen, st.last_poll_at), (3, Some(2000)));
    let keys: Vec<String> = ["k1", "k2", "k3", "k4"].map(String::from).to_vec();
    let mut known: Vec<String> = s
        .known_items("a", &keys)
        .await
        .unwrap()
        .into_iter()
        .collect();
    known.sort();
    assert_eq!(known, ["k1", "k2", "k3"]);
}

/// Seen keys belong to their feed: another feed's copy of a key is new to this one.
pub(crate) async fn known_items_are_per_feed<S: Store>(s: S) {
    s.commit_poll(&commit("a", 1000, &["k1"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("b", 1000, &["k2"], vec![]))
        .await
        .unwrap();
    let both = ["k1".to_string(), "k2".to_string()];
    let known = s.known_items("a", &both).await.unwrap();
    assert_eq!(known.into_iter().collect::<Vec<_>>(), ["k1"]);
    assert!(s.known_items("a", &[]).await.unwrap().is_empty());
    assert!(
        s.known_items("never-polled", &both)
            .await
            .unwrap()
            .is_empty()
    );
    // The same key first seen by another feed is a new item there.
    let out = s
        .commit_poll(&commit("b", 2000, &["k1", "k2"], vec![]))
        .await
        .unwrap();
    assert_eq!(out.new_items, 1);
}

pub(crate) async fn cross_feed_repeats_are_suppressed_and_counted<S: Store>(s: S) {
    let link = Some("https://x.example/story");
    s.commit_poll(&commit(
        "a",
        1000,
        &["k1"],
        vec![delivery("d1", "hook", "w", link)],
    ))
    .await
    .unwrap();
    let out = s
        .commit_poll(&commit(
            "b",
            2000,
            &["k9"],
            vec![
                delivery("d2", "hook", "w", link),
                delivery("d3", "hook", "other-watch", link),
            ],
        ))
        .await
        .unwrap();
    assert_eq!((out.enqueued, out.suppressed), (1, 1));
    let states = s.feed_states().await.unwrap();
    assert_eq!(states.iter().find(|f| f.feed == "b").unwrap().suppressed, 1);
    assert_eq!(states.iter().find(|f| f.feed == "a").unwrap().suppressed, 0);
    // The suppressed delivery is not queued; the other watch's is.
    let mut keys: Vec<String> = listed(&s, "pending")
        .await
        .into_iter()
        .map(|r| r.idem_key)
        .collect();
    keys.sort();
    assert_eq!(keys, ["d1", "d3"]);
}

/// The same story in another feed is a repeat within the 7-day window and a new alert after it:
/// the window counts back from now, it does not reach back forever (and a suppressed repeat
/// does not restart it).
pub(crate) async fn a_link_seen_before_the_repeat_window_alerts_again<S: Store>(s: S) {
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

/// A repeat is judged per watch and link, once per commit: the first alert of a link goes to
/// every sink of the watch, a repeat to none. Each alert dropped is counted once, however
/// many sinks it would have gone to (regression: counted per sink, `suppressed` and
/// `newswatch_repeats_suppressed_total` said two alerts for one alert to two sinks).
pub(crate) async fn a_link_is_judged_once_per_watch_not_per_sink<S: Store>(s: S) {
    let link = Some("https://x.example/story");
    let out = s
        .commit_poll(&commit(
            "a",
            1000,
            &["k1"],
            vec![
                delivery("d1", "hook", "w", link),
                delivery("d2", "chat", "w", link),
            ],
        ))
        .await
        .unwrap();
    assert_eq!((out.enqueued, out.suppressed), (2, 0));
    let out = s
        .commit_poll(&commit(
            "b",
            2000,
            &["k2", "k3"],
            ["k2", "k3"]
                .iter()
                .flat_map(|k| ["hook", "chat"].map(|sink| (*k, sink)))
                .map(|(k, sink)| NewDelivery {
                    canonical_link: link.map(str::to_string),
                    ..super::alert(k, sink, "w")
                })
                .collect(),
        ))
        .await
        .unwrap();
    // Two alerts (k2 and k3, each to two sinks) dropped.
    assert_eq!((out.enqueued, out.suppressed), (0, 2));
    assert_eq!(s.feed_state("b").await.unwrap().unwrap().suppressed, 2);
    assert_eq!(listed(&s, "pending").await.len(), 2);
}

/// The outbox is keyed by idempotency key: a key already queued (by another commit, or twice
/// in one) is not queued again, counted as enqueued, or counted as an alert.
pub(crate) async fn idempotency_keys_enqueued_twice_stay_one_row<S: Store>(s: S) {
    let out = s
        .commit_poll(&commit(
            "a",
            1000,
            &["k1"],
            vec![delivery("same", "hook", "w", None)],
        ))
        .await
        .unwrap();
    assert_eq!(out.enqueued, 1);
    let mut other = delivery("same", "hook", "w", None);
    other.item_key = "k2".into();
    let out = s
        .commit_poll(&commit("b", 2000, &["k2"], vec![other]))
        .await
        .unwrap();
    assert_eq!((out.new_items, out.enqueued), (1, 0));
    let out = s
        .commit_poll(&commit(
            "c",
            3000,
            &["k3"],
            vec![
                delivery("twice", "hook", "w", None),
                delivery("twice", "hook", "w", None),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(out.enqueued, 1);
    let rows = listed(&s, "pending").await;
    let mut rows: Vec<(String, String, String)> = rows
        .into_iter()
        .map(|r| (r.idem_key, r.feed, r.item_key))
        .collect();
    rows.sort();
    let row = |k: &str, f: &str, i: &str| (k.to_string(), f.to_string(), i.to_string());
    // The first row stays as it was queued (feed a), not the second commit's.
    assert_eq!(rows, [row("same", "a", "same"), row("twice", "c", "twice")]);
    assert_eq!(s.alert_counts().await.unwrap(), [("w".to_string(), 2)]);
    assert_eq!(s.outbox_summary().await.unwrap().pending, 2);
}

/// A commit repeated with deliveries already in the outbox (a crash before the caller saw the
/// result) enqueues nothing and must not count the watch's alerts again.
pub(crate) async fn a_repeated_commit_does_not_count_its_alerts_twice<S: Store>(s: S) {
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
