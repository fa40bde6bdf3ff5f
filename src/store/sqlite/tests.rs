//! The SQLite store's feed, seen-item and prune behaviour against an in-memory database.

use super::*;
use crate::store::NewDelivery;

pub(super) fn delivery(key: &str, sink: &str, watch: &str, link: Option<&str>) -> NewDelivery {
    NewDelivery {
        idem_key: key.into(),
        sink: sink.into(),
        watch: watch.into(),
        item_key: key.into(),
        alert_json: "{}".into(),
        canonical_link: link.map(str::to_string),
    }
}

fn rules(seen_before: Millis, sent_before: Millis) -> PruneRules {
    PruneRules {
        seen_before,
        sent_before,
        dead_before: 0,
        removed_before: 0,
        stories_before: 0,
    }
}

/// A commit of `keys` for feed `feed` (URL `https://FEED.example/rss`) at `now`.
pub(super) fn commit(
    feed: &str,
    now: Millis,
    keys: &[&str],
    deliveries: Vec<NewDelivery>,
) -> PollCommit {
    PollCommit {
        feed: feed.into(),
        config_url: format!("https://{feed}.example/rss"),
        now,
        next_poll_at: now + 60_000,
        item_keys: keys.iter().map(|k| k.to_string()).collect(),
        deliveries,
        repeat_window_ms: 7 * 24 * 3600 * 1000,
        ..Default::default()
    }
}

#[tokio::test]
async fn commit_marks_seen_and_enqueues_once() {
    let s = SqliteStore::in_memory().await.unwrap();
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
}

#[tokio::test]
async fn cross_feed_repeats_are_suppressed_and_counted() {
    let s = SqliteStore::in_memory().await.unwrap();
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
}

#[tokio::test]
async fn claims_are_leased_ordered_and_released() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.commit_poll(&commit(
        "a",
        1000,
        &["k1", "k2"],
        vec![
            delivery("d1", "hook", "w", None),
            delivery("d2", "hook", "w2", None),
            delivery("d3", "other", "w", None),
        ],
    ))
    .await
    .unwrap();
    let c = s.claim_due("hook", 1000, 61_000, 10).await.unwrap();
    assert_eq!(
        c.iter().map(|d| d.idem_key.as_str()).collect::<Vec<_>>(),
        ["d1", "d2"]
    );
    // Leased: a second claim gets nothing until the lease ends.
    assert!(
        s.claim_due("hook", 2000, 62_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    s.mark_sent(&[c[0].id], 3000).await.unwrap();
    s.mark_retry(&[c[1].id], "HTTP 500", 10_000).await.unwrap();
    assert!(
        s.claim_due("hook", 5000, 65_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s.claim_due("hook", 10_000, 70_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    s.mark_dead(&[again[0].id], "HTTP 400", 10_000)
        .await
        .unwrap();
    let sum = s.outbox_summary().await.unwrap();
    assert_eq!((sum.pending, sum.sent, sum.dead), (1, 1, 1));
    let other = s.claim_due("other", 10_000, 70_000, 10).await.unwrap();
    s.release(&[other[0].id]).await.unwrap();
    assert_eq!(
        s.claim_due("other", 10_000, 70_000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_changed_url_forgets_validators_and_moves() {
    let s = SqliteStore::in_memory().await.unwrap();
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
}

#[tokio::test]
async fn dead_letters_can_be_listed_and_retried() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.commit_poll(&commit(
        "a",
        1000,
        &["k1"],
        vec![delivery("d1", "hook", "w", None)],
    ))
    .await
    .unwrap();
    let c = s.claim_due("hook", 1000, 2000, 10).await.unwrap();
    s.mark_dead(&[c[0].id], "HTTP 400", 1000).await.unwrap();
    let dead = s.list_deliveries("dead", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 400"));
    assert_eq!(s.retry_dead(5000, &["hook".into()]).await.unwrap(), (1, 0));
    let again = s.claim_due("hook", 5000, 6000, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 0));
}

#[tokio::test]
async fn deliveries_of_removed_sinks_become_dead_letters() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.commit_poll(&commit(
        "a",
        1000,
        &["k1"],
        vec![
            delivery("d1", "kept", "w", None),
            delivery("d2", "gone", "w", None),
        ],
    ))
    .await
    .unwrap();
    assert_eq!(
        s.dead_letter_unconfigured(&["kept".into()]).await.unwrap(),
        1
    );
    let dead = s.list_deliveries("dead", 10).await.unwrap();
    assert_eq!(dead[0].sink, "gone");
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("sink `gone` is no longer configured")
    );
    assert_eq!(s.dead_letter_unconfigured(&[]).await.unwrap(), 1);
}

#[tokio::test]
async fn sink_state_persists() {
    let s = SqliteStore::in_memory().await.unwrap();
    assert_eq!(s.sink_state("tg", "chat_id").await.unwrap(), None);
    s.set_sink_state("tg", "chat_id", "-100").await.unwrap();
    s.set_sink_state("tg", "chat_id", "-200").await.unwrap();
    assert_eq!(
        s.sink_state("tg", "chat_id").await.unwrap().as_deref(),
        Some("-200")
    );
}

#[tokio::test]
async fn prune_spares_the_latest_document_of_a_quiet_feed() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.commit_poll(&commit("a", 1000, &["k1"], vec![]))
        .await
        .unwrap();
    // 304s for longer than the retention: k1 is still in the feed.
    s.record_not_modified("a", "https://a.example/rss", 8000, 9000)
        .await
        .unwrap();
    assert_eq!(s.prune(rules(5000, 0)).await.unwrap(), 0);
    // Once k1 has left the document, it ages out.
    s.commit_poll(&commit("a", 9000, &["k2"], vec![]))
        .await
        .unwrap();
    assert_eq!(s.prune(rules(5000, 0)).await.unwrap(), 1);
    let known = s
        .known_items("a", &["k1".into(), "k2".into()])
        .await
        .unwrap();
    assert!(known.contains("k2") && !known.contains("k1"));
}

#[tokio::test]
async fn prune_forgets_old_rows() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.commit_poll(&commit("a", 1000, &["old"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("a", 9000, &["new"], vec![]))
        .await
        .unwrap();
    assert_eq!(s.prune(rules(5000, 0)).await.unwrap(), 1);
    let known = s
        .known_items("a", &["old".into(), "new".into()])
        .await
        .unwrap();
    assert_eq!(known.len(), 1);
}

fn archived(feed: &str, now: Millis, keys: &[&str]) -> PollCommit {
    let items: Vec<crate::feed::FeedItem> = keys
        .iter()
        .map(|k| crate::feed::FeedItem::titled(k, &format!("item {k}")))
        .collect();
    let refs: Vec<_> = items.iter().map(|i| (i, true)).collect();
    PollCommit {
        archive: crate::store::archive::encode(&refs).unwrap(),
        ..commit(feed, now, keys, vec![])
    }
}

#[tokio::test]
async fn a_polls_new_items_are_archived_with_its_commit_and_read_back_in_commit_order() {
    let s = SqliteStore::in_memory().await.unwrap();
    s.commit_poll(&archived("a", 1000, &["k1", "k2"]))
        .await
        .unwrap();
    s.commit_poll(&archived("b", 2000, &["k3"])).await.unwrap();
    s.commit_poll(&commit("a", 3000, &["k1"], vec![]))
        .await
        .unwrap();
    let t = s.archive_totals(0).await.unwrap();
    assert_eq!((t.records, t.items, t.oldest), (2, 3, Some(1000)));
    assert!(t.bytes > 0);
    let rows = s.archive_page(0, 0, 10).await.unwrap();
    let order: Vec<(&str, Millis, u32)> = rows
        .iter()
        .map(|r| (r.feed.as_str(), r.first_seen, r.items))
        .collect();
    assert_eq!(order, [("a", 1000, 2), ("b", 2000, 1)]);
    // Paging by id, and `since`.
    let next = s.archive_page(0, rows[0].id, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].feed, "b");
    assert_eq!(s.archive_page(1500, 0, 10).await.unwrap().len(), 1);
    let mut items = Vec::new();
    crate::store::archive::ArchiveDecoder::default()
        .decode(&rows[0], &mut items)
        .unwrap();
    let keys: Vec<&str> = items.iter().map(|i| i.item.key.0.as_str()).collect();
    assert_eq!(keys, ["k1", "k2"]);
}

#[tokio::test]
async fn archive_prune_removes_records_first_seen_before_the_cut_in_batches() {
    let s = SqliteStore::in_memory().await.unwrap();
    // More than one prune batch of old records, and one recent.
    for i in 0..(PRUNE_BATCH + 3) {
        s.commit_poll(&archived("a", 1000 + i, &[&format!("k{i}")]))
            .await
            .unwrap();
    }
    s.commit_poll(&archived("a", 1_000_000, &["new"]))
        .await
        .unwrap();
    let n = s.prune_archive(500_000).await.unwrap();
    assert_eq!(n, PRUNE_BATCH as u64 + 3);
    let t = s.archive_totals(0).await.unwrap();
    assert_eq!((t.records, t.items), (1, 1));
    // "off" prunes everything.
    let off = crate::store::archive::ArchiveKeep::Off.prune_before(2_000_000);
    assert_eq!(s.prune_archive(off).await.unwrap(), 1);
    assert_eq!(s.archive_totals(0).await.unwrap().records, 0);
}

/// The scheduler reads the states of the polls it starts together in one call: every listed
/// feed with a state, none other, past the size of one statement's parameter list.
#[tokio::test]
async fn feed_states_of_reads_the_listed_feeds_in_one_call() {
    let s = SqliteStore::in_memory().await.unwrap();
    let names: Vec<String> = (0..BATCH + 20).map(|i| format!("f{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        s.commit_poll(&commit(n, 1000 + i as i64, &["k"], vec![]))
            .await
            .unwrap();
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
