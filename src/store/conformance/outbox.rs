//! The outbox as the operator and the daemon's upkeep see it: counts, the oldest pending
//! delivery, listings, alerts per watch, dead letters (made, revived, purged, pruned), and the
//! clock's corrections (clamp at start, shift on a step).

use super::{add, commit, counts_agree, delivery, keep_all, listed};
use crate::store::{MAX_CLAIM, Millis, NewDelivery, OutboxSummary, PollCommit, PruneRules, Store};

pub(crate) async fn counts_follow_every_change_and_alerts_are_counted_once_per_watch_and_item<
    S: Store,
>(
    s: S,
) {
    let mut deliveries: Vec<NewDelivery> = ["k1", "k2", "k3"]
        .iter()
        .map(|k| delivery(k, "chat", "w", None))
        .collect();
    // The same item for a second sink is the same alert.
    deliveries.push(NewDelivery {
        idem_key: "k1-other-sink".into(),
        ..delivery("k1", "other", "w", None)
    });
    s.commit_poll(&PollCommit {
        feed: "a".into(),
        config_url: "https://a.example/rss".into(),
        now: 1000,
        item_keys: vec!["k1".into(), "k2".into(), "k3".into()],
        deliveries,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(s.alert_counts().await.unwrap(), [("w".to_string(), 3)]);
    counts_agree(&s).await;
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    s.mark_sent(&[c[0].id], 2000).await.unwrap();
    s.mark_dead(&[c[1].id], "HTTP 400", 2000, c[1].claimed_until)
        .await
        .unwrap();
    counts_agree(&s).await;
    s.retry_dead(3000, &["chat".into()]).await.unwrap();
    counts_agree(&s).await;
    s.prune(PruneRules {
        sent_before: 10_000,
        ..keep_all()
    })
    .await
    .unwrap();
    counts_agree(&s).await;
    assert_eq!(s.outbox_summary().await.unwrap().sent, 0);
    // Counted since the state began: pruning the sent row does not uncount its alert.
    assert_eq!(s.alert_counts().await.unwrap(), [("w".to_string(), 3)]);
}

/// `oldest_pending` is the creation time of the oldest pending delivery, `None` without one.
pub(crate) async fn the_summary_names_the_oldest_pending_delivery<S: Store>(s: S) {
    assert_eq!(s.outbox_summary().await.unwrap(), OutboxSummary::default());
    add(&s, "a", 1000, &["k1"], "chat").await;
    add(&s, "b", 3000, &["k2"], "chat").await;
    let sum = s.outbox_summary().await.unwrap();
    assert_eq!((sum.pending, sum.oldest_pending), (2, Some(1000)));
    let c = s.claim_due("chat", 3000, 63_000, 10).await.unwrap();
    s.mark_sent(&[c[0].id], 4000).await.unwrap();
    assert_eq!(s.outbox_summary().await.unwrap().oldest_pending, Some(3000));
    s.mark_dead(&[c[1].id], "HTTP 400", 4000, c[1].claimed_until)
        .await
        .unwrap();
    assert_eq!(
        s.outbox_summary().await.unwrap(),
        OutboxSummary {
            pending: 0,
            dead: 1,
            sent: 1,
            oldest_pending: None
        }
    );
}

/// The operator's listing: newest first, at most `limit`, one state only, every field as
/// stored.
pub(crate) async fn deliveries_are_listed_newest_first_with_their_fields<S: Store>(s: S) {
    let d = |k: &str, n: u32| NewDelivery {
        idem_key: format!("idem-{k}"),
        alert_json: format!("{{\"n\":{n}}}"),
        ..delivery(k, "chat", "w", None)
    };
    s.commit_poll(&commit(
        "a",
        1000,
        &["k1", "k2"],
        vec![d("k1", 1), d("k2", 2)],
    ))
    .await
    .unwrap();
    s.commit_poll(&commit("b", 2000, &["k3"], vec![d("k3", 3)]))
        .await
        .unwrap();
    let rows = s.list_deliveries("pending", 10).await.unwrap();
    let order: Vec<&str> = rows.iter().map(|r| r.idem_key.as_str()).collect();
    assert_eq!(order, ["idem-k3", "idem-k2", "idem-k1"]);
    let r = &rows[1];
    assert_eq!(
        (
            r.sink.as_str(),
            r.watch.as_str(),
            r.feed.as_str(),
            r.item_key.as_str(),
            r.state.as_str()
        ),
        ("chat", "w", "a", "k2", "pending")
    );
    assert_eq!(
        (r.attempts, r.created_at, r.next_attempt_at, r.sent_at),
        (0, 1000, 1000, None)
    );
    assert_eq!(
        (r.last_error.as_deref(), r.alert_json.as_str()),
        (None, "{\"n\":2}")
    );
    let newest = s.list_deliveries("pending", 1).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].idem_key, "idem-k3");
    assert!(s.list_deliveries("sent", 10).await.unwrap().is_empty());
    let c = s.claim_due("chat", 2000, 62_000, 10).await.unwrap();
    s.mark_dead(&[c[0].id], "HTTP 400", 2500, c[0].claimed_until)
        .await
        .unwrap();
    let dead = s.list_deliveries("dead", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (
            dead[0].idem_key.as_str(),
            dead[0].state.as_str(),
            dead[0].attempts
        ),
        ("idem-k1", "dead", 1)
    );
    assert_eq!(s.list_deliveries("pending", 10).await.unwrap().len(), 2);
}

/// The status listed the 50 newest pending deliveries: with a sink failing for hours and more
/// than 50 behind it, the ones stuck longest (the first to look at) were never shown.
pub(crate) async fn status_lists_the_longest_waiting_pending_deliveries<S: Store>(s: S) {
    let keys: Vec<String> = (0..5).map(|n| format!("k{n}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let rows = keys
        .iter()
        .map(|k| delivery(k, "chat", "w", None))
        .collect();
    s.commit_poll(&commit("a", 1000, &refs, rows))
        .await
        .unwrap();
    let c = s.claim_due("chat", 2000, 62_000, 1).await.unwrap();
    s.mark_sent(&[c[0].id], 2100).await.unwrap();
    let oldest: Vec<String> = (s.oldest_pending(2).await.unwrap())
        .into_iter()
        .map(|r| r.item_key)
        .collect();
    assert_eq!(oldest, ["k1", "k2"]);
    let all = s.oldest_pending(10).await.unwrap();
    assert!(all.iter().all(|r| r.state == "pending"), "{all:?}");
    assert_eq!(all.len(), 4);
    // A dead letter revived later is queued anew: listed after those waiting since before,
    // though its id is older (review).
    let c = s.claim_due("chat", 3000, 63_000, 1).await.unwrap();
    s.mark_dead(&[c[0].id], "HTTP 400", 3000, c[0].claimed_until)
        .await
        .unwrap();
    s.retry_dead(4000, &["chat".into()]).await.unwrap();
    let order: Vec<String> = (s.oldest_pending(10).await.unwrap())
        .into_iter()
        .map(|r| r.item_key)
        .collect();
    assert_eq!(order, ["k2", "k3", "k4", "k1"]);
}

/// Alerts per watch: one per watch and item, whatever the sinks, each watch on its own.
pub(crate) async fn alert_counts_are_kept_per_watch<S: Store>(s: S) {
    assert!(s.alert_counts().await.unwrap().is_empty());
    s.commit_poll(&commit(
        "a",
        1000,
        &["k1", "k2"],
        vec![
            super::alert("k1", "hook", "w1"),
            super::alert("k1", "chat", "w1"),
            super::alert("k2", "hook", "w1"),
            super::alert("k1", "hook", "w2"),
        ],
    ))
    .await
    .unwrap();
    let mut counts = s.alert_counts().await.unwrap();
    counts.sort();
    assert_eq!(counts, [("w1".to_string(), 2), ("w2".to_string(), 1)]);
}

pub(crate) async fn dead_letters_can_be_listed_and_retried<S: Store>(s: S) {
    s.commit_poll(&commit(
        "a",
        1000,
        &["k1"],
        vec![delivery("d1", "hook", "w", None)],
    ))
    .await
    .unwrap();
    let c = s.claim_due("hook", 1000, 2000, 10).await.unwrap();
    s.mark_dead(&[c[0].id], "HTTP 400", 1000, c[0].claimed_until)
        .await
        .unwrap();
    let dead = s.list_deliveries("dead", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 400"));
    assert_eq!(dead[0].attempts, 1);
    assert!(
        s.claim_due("hook", 5000, 6000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.retry_dead(5000, &["hook".into()]).await.unwrap(), (1, 0));
    let again = s.claim_due("hook", 5000, 6000, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 0));
    // Tried with no key stored (as a release before the outbox's groups tried every alert):
    // revived with its attempts at 0, it keeps its own key, so it is never folded into a
    // digest under another (review: the rule for such rows read their attempts, which the
    // revival had just cleared).
    assert_eq!(again[0].group_key.as_deref(), Some("d1"));
}

/// Regression: a digest whose oldest alerts died (too old) while the rest went out under its
/// key was revived by `retry_dead` under that key: Google Chat and Matrix answer a key they
/// know with the message already sent, without the revived alerts, which were marked sent
/// unseen. They take their own keys; a digest that died whole keeps its key (sent again
/// under it, a platform that saw an attempt answers with that message).
pub(crate) async fn a_digest_partly_sent_revives_its_dead_alerts_under_their_own_keys<S: Store>(
    s: S,
) {
    s.commit_poll(&commit(
        "a",
        1000,
        &["k1", "k2", "k3"],
        vec![
            delivery("d1", "chat", "w", None),
            delivery("d2", "chat", "w", None),
            delivery("d3", "chat", "w", None),
        ],
    ))
    .await
    .unwrap();
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    let id = |k: &str| c.iter().find(|d| d.idem_key == k).map(|d| d.id).unwrap();
    let all = [id("d1"), id("d2"), id("d3")];
    s.begin_attempt(&all, "digest-D").await.unwrap();
    s.mark_dead(&[id("d1")], "too old", 2000, c[0].claimed_until)
        .await
        .unwrap();
    s.mark_sent(&[id("d2"), id("d3")], 2000).await.unwrap();
    // A second digest, dead whole.
    s.commit_poll(&commit(
        "b",
        3000,
        &["k4", "k5"],
        vec![
            delivery("d4", "chat", "w", None),
            delivery("d5", "chat", "w", None),
        ],
    ))
    .await
    .unwrap();
    let c = s.claim_due("chat", 3000, 63_000, 10).await.unwrap();
    let ids: Vec<i64> = c.iter().map(|d| d.id).collect();
    s.begin_attempt(&ids, "digest-E").await.unwrap();
    s.mark_dead(&ids, "too old", 4000, c[0].claimed_until)
        .await
        .unwrap();
    assert_eq!(s.retry_dead(5000, &["chat".into()]).await.unwrap(), (3, 0));
    let mut keys: Vec<(String, Option<String>)> = s
        .claim_due("chat", 5000, 65_000, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.idem_key, d.group_key))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            ("d1".to_string(), Some("d1".to_string())),
            ("d4".to_string(), Some("digest-E".to_string())),
            ("d5".to_string(), Some("digest-E".to_string())),
        ]
    );
}

/// A row of a unit that dies apart from the rest (too old, while they are retried) takes its
/// own key at once: revived after the unit's sent rows are pruned, it still goes alone.
pub(crate) async fn a_row_that_dies_apart_from_its_unit_takes_its_own_key<S: Store>(s: S) {
    s.commit_poll(&commit(
        "a",
        1000,
        &["k1", "k2"],
        vec![
            delivery("d1", "chat", "w", None),
            delivery("d2", "chat", "w", None),
        ],
    ))
    .await
    .unwrap();
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    let ids: Vec<i64> = c.iter().map(|d| d.id).collect();
    s.begin_attempt(&ids, "digest-F").await.unwrap();
    let d1 = c.iter().find(|d| d.idem_key == "d1").map(|d| d.id).unwrap();
    assert!(
        s.mark_dead_apart(&[d1], "too old", 2000, c[0].claimed_until)
            .await
            .unwrap()
    );
    assert_eq!(s.retry_dead(3000, &["chat".into()]).await.unwrap(), (1, 0));
    let again = s.claim_due("chat", 3000, 63_000, 10).await.unwrap();
    let d1 = again.iter().find(|d| d.idem_key == "d1").unwrap();
    assert_eq!(d1.group_key.as_deref(), Some("d1"));
}

/// `retry_dead` makes a dead letter due now (not before) with its attempts reset.
pub(crate) async fn a_revived_dead_letter_is_due_now_with_its_attempts_reset<S: Store>(s: S) {
    add(&s, "a", 1000, &["k1"], "chat").await;
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    s.mark_retry(&[c[0].id], "HTTP 503", 2000, c[0].claimed_until)
        .await
        .unwrap();
    let c = s.claim_due("chat", 2000, 62_000, 10).await.unwrap();
    s.mark_dead(&[c[0].id], "HTTP 400", 2000, c[0].claimed_until)
        .await
        .unwrap();
    assert_eq!(listed(&s, "dead").await[0].attempts, 2);
    assert_eq!(s.retry_dead(5000, &["chat".into()]).await.unwrap(), (1, 0));
    let row = &listed(&s, "pending").await[0];
    assert_eq!((row.attempts, row.next_attempt_at), (0, 5000));
    assert!(listed(&s, "dead").await.is_empty());
    assert!(
        s.claim_due("chat", 4999, 64_999, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.claim_due("chat", 5000, 65_000, 10).await.unwrap().len(),
        1
    );
    // Nothing dead is left to revive.
    assert_eq!(s.retry_dead(6000, &["chat".into()]).await.unwrap(), (0, 0));
}

pub(crate) async fn deliveries_of_removed_sinks_become_dead_letters<S: Store>(s: S) {
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
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].sink, "gone");
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("sink `gone` is no longer configured")
    );
    assert_eq!(s.dead_letter_unconfigured(&[]).await.unwrap(), 1);
    assert_eq!(s.dead_letter_unconfigured(&[]).await.unwrap(), 0);
    let sum = s.outbox_summary().await.unwrap();
    assert_eq!((sum.pending, sum.dead), (0, 2));
}

/// Regression: a reload that removed a sink made its delivery in flight a dead letter; the
/// send then succeeded (a dead letter counted that never was), or failed and its retry went
/// unrecorded ("claimed again elsewhere"), the dead letter saying no attempt was made. A
/// claimed delivery is left to its worker, and swept once released.
pub(crate) async fn a_delivery_in_flight_to_a_removed_sink_is_left_to_its_worker<S: Store>(s: S) {
    s.commit_poll(&commit(
        "a",
        1000,
        &["k1"],
        vec![delivery("d1", "gone", "w", None)],
    ))
    .await
    .unwrap();
    let now = crate::store::now_millis();
    let claimed = s.claim_due("gone", now, now + 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(s.dead_letter_unconfigured(&[]).await.unwrap(), 0);
    // Its send failed: back in the queue, with the attempt, then swept.
    s.mark_retry(&[claimed[0].id], "HTTP 500", now, claimed[0].claimed_until)
        .await
        .unwrap();
    assert_eq!(s.dead_letter_unconfigured(&[]).await.unwrap(), 1);
    let dead = s.list_deliveries("dead", 10).await.unwrap();
    assert_eq!(dead[0].attempts, 1, "{dead:?}");
}

/// Regression: `deliveries retry --dead` revived dead letters of sinks that no longer exist,
/// which then waited forever for a worker.
pub(crate) async fn retry_dead_leaves_dead_letters_of_removed_sinks_dead<S: Store>(s: S) {
    add(&s, "a", 1000, &["k1"], "kept").await;
    add(&s, "b", 1000, &["k2"], "gone").await;
    assert_eq!(s.dead_letter_unconfigured(&[]).await.unwrap(), 2);
    assert_eq!(s.retry_dead(5000, &["kept".into()]).await.unwrap(), (1, 1));
    let pending = s.list_deliveries("pending", 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].sink, "kept");
    assert_eq!(listed(&s, "dead").await[0].sink, "gone");
}

async fn three_for_chat<S: Store>(s: &S) -> Vec<i64> {
    let d = |key: &str| NewDelivery {
        idem_key: format!("chat-{key}"),
        ..delivery(key, "chat", "w", None)
    };
    s.commit_poll(&PollCommit {
        feed: "a".into(),
        config_url: "https://a.example/rss".into(),
        now: 1000,
        item_keys: vec!["k1".into(), "k2".into(), "k3".into()],
        deliveries: ["k1", "k2", "k3"].iter().map(|k| d(k)).collect(),
        ..Default::default()
    })
    .await
    .unwrap();
    let claimed = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    claimed.iter().map(|d| d.id).collect()
}

/// `deliveries retry` says how many waiting retries it brought forward: those due later only.
pub(crate) async fn retry_now_counts_the_retries_it_brings_forward<S: Store>(s: S) {
    let ids = three_for_chat(&s).await;
    s.mark_retry(&ids[..2], "HTTP 503", 900_000, 61_000)
        .await
        .unwrap();
    s.mark_retry(&ids[2..], "HTTP 503", 1500, 61_000)
        .await
        .unwrap();
    assert_eq!(s.retry_pending_now(2000).await.unwrap(), 2);
    assert_eq!(
        s.claim_due("chat", 2000, 62_000, 10).await.unwrap().len(),
        3
    );
    assert_eq!(s.retry_pending_now(2000).await.unwrap(), 0);
}

/// `deliveries purge --dead` says how many dead letters it deleted.
pub(crate) async fn purging_dead_letters_counts_what_it_deleted<S: Store>(s: S) {
    let ids = three_for_chat(&s).await;
    s.mark_dead(&ids, "HTTP 400", 5000, 61_000).await.unwrap();
    assert_eq!(s.purge_dead(5000).await.unwrap(), 0);
    assert_eq!(s.purge_dead(5001).await.unwrap(), 3);
    assert_eq!(s.outbox_summary().await.unwrap().dead, 0);
}

/// Regression: dead letters were never pruned and could only pile up.
pub(crate) async fn dead_letters_are_pruned_after_dead_retention_and_purged_on_request<S: Store>(
    s: S,
) {
    add(&s, "a", 1000, &["k1", "k2", "k3"], "chat").await;
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    s.mark_dead(&[c[0].id], "HTTP 400", 1_000, c[0].claimed_until)
        .await
        .unwrap();
    s.mark_dead(&[c[1].id], "HTTP 400", 50_000, c[1].claimed_until)
        .await
        .unwrap();
    s.mark_dead(&[c[2].id], "HTTP 400", 90_000, c[2].claimed_until)
        .await
        .unwrap();
    let rules = PruneRules {
        dead_before: 10_000,
        ..keep_all()
    };
    assert_eq!(s.prune(rules).await.unwrap(), 1);
    assert_eq!(listed(&s, "dead").await.len(), 2);
    // `deliveries purge --dead --older-than …` deletes those that died before the cut.
    assert_eq!(s.purge_dead(60_000).await.unwrap(), 1);
    assert_eq!(listed(&s, "dead").await[0].idem_key, "k3");
    assert_eq!(s.purge_dead(Millis::MAX).await.unwrap(), 1);
    counts_agree(&s).await;
}

/// Regression: a database restored from a machine whose clock ran ahead parked its retries
/// (and made its deliveries look too young to die) for as long as the clock had been ahead.
pub(crate) async fn times_from_the_future_are_clamped_at_start<S: Store>(s: S) {
    add(&s, "a", 90_000_000, &["k1", "k2"], "chat").await;
    let c = s
        .claim_due("chat", 90_000_000, 90_060_000, 10)
        .await
        .unwrap();
    s.mark_retry(&[c[0].id], "HTTP 503", 99_000_000, c[0].claimed_until)
        .await
        .unwrap();
    s.mark_retry(&[c[1].id], "HTTP 503", 1_500, c[1].claimed_until)
        .await
        .unwrap();
    s.clamp_times(1_000, 600_000).await.unwrap();
    let rows = s.list_deliveries("pending", 10).await.unwrap();
    let mut times: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| (r.next_attempt_at, r.created_at))
        .collect();
    times.sort();
    assert_eq!(times, [(1_500, 1_000), (601_000, 1_000)]);
    // Regression (PostgreSQL): the clamp claimed the unclaimed rows for MAX_CLAIM (LEAST
    // skips a NULL claim), so nobody sent them for ten minutes.
    let due = s.claim_due("chat", 1_500, 61_500, 10).await.unwrap();
    assert_eq!(due.len(), 1, "the row due at 1.5 s is claimable then");
    assert_eq!(due[0].id, c[1].id);
}

/// Regression: claims and send marks written by a clock that ran ahead (the machine's clock
/// was put right while the daemon was down, or another instance's runs ahead) were kept as
/// they were: the deliveries stayed claimed, and unsent, for as long as the clock had been
/// ahead. Clamped at start, they run out at most [`MAX_CLAIM`] later.
pub(crate) async fn claims_from_the_future_are_clamped_at_start<S: Store>(s: S) {
    add(&s, "a", 90_000_000, &["k1", "k2"], "chat").await;
    let c = s
        .claim_due("chat", 90_000_000, 90_300_000, 10)
        .await
        .unwrap();
    assert_eq!(c.len(), 2);
    let first = [c[0].id];
    let start = s.begin_send("chat", &first, None, c[0].claimed_until, 90_130_000);
    assert!(start.await.unwrap());
    s.clamp_times(1_000, 600_000).await.unwrap();
    let early = s.claim_due("chat", 1_000, 2_000, 10).await.unwrap();
    assert!(
        early.is_empty(),
        "a clamped claim still runs until its bound"
    );
    let later = 1_000 + MAX_CLAIM + 1;
    let again = s
        .claim_due("chat", later, later + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 2, "claim and mark run out within the bound");
}

/// Clamping touches only what is out of bounds, and only pending deliveries.
pub(crate) async fn clamping_leaves_times_within_the_horizon_and_finished_rows_alone<S: Store>(
    s: S,
) {
    add(&s, "a", 500, &["k1"], "chat").await;
    add(&s, "b", 90_000_000, &["k2"], "chat").await;
    let c = s
        .claim_due("chat", 90_000_000, 90_060_000, 10)
        .await
        .unwrap();
    s.mark_retry(&[c[0].id], "HTTP 503", 2_000, c[0].claimed_until)
        .await
        .unwrap();
    s.mark_sent(&[c[1].id], 90_000_500).await.unwrap();
    s.clamp_times(1_000, 600_000).await.unwrap();
    let pending = &listed(&s, "pending").await[0];
    assert_eq!((pending.next_attempt_at, pending.created_at), (2_000, 500));
    let sent = &listed(&s, "sent").await[0];
    assert_eq!(
        (sent.created_at, sent.sent_at),
        (90_000_000, Some(90_000_500))
    );
}

/// Regression: retries, leases and poll times compared wall-clock milliseconds, so a clock
/// stepped back by an hour held every retry for an hour.
pub(crate) async fn a_clock_step_moves_the_stored_schedule_along<S: Store>(s: S) {
    add(&s, "a", 1_000_000, &["k1"], "chat").await;
    let c = s.claim_due("chat", 1_000_000, 1_060_000, 10).await.unwrap();
    s.mark_retry(&[c[0].id], "HTTP 503", 1_010_000, c[0].claimed_until)
        .await
        .unwrap();
    // The wall clock jumps back an hour: the retry is still 10 s away, not an hour and 10 s.
    s.shift_times(-3_600_000).await.unwrap();
    let row = &s.list_deliveries("pending", 1).await.unwrap()[0];
    assert_eq!(row.next_attempt_at, 1_010_000 - 3_600_000);
    assert_eq!(row.created_at, 1_000_000 - 3_600_000);
    let feed = &s.feed_states().await.unwrap()[0];
    assert_eq!(feed.next_poll_at, Some(1_060_000 - 3_600_000));
}

/// Regression: a clock step moved poll and retry times but not the time a feed began to
/// fail, so a step forward of `health_after` reported every failing feed as failing for that
/// long at its next failed poll (and then recovered): an alert per failing feed.
pub(crate) async fn a_clock_step_moves_the_time_a_feed_began_to_fail<S: Store>(s: S) {
    s.record_failure(&crate::store::FailureRecord {
        feed: "a",
        config_url: "https://a.example/rss",
        error: "HTTP 503",
        failures: 1,
        html_streak: 0,
        now: 1_000_000,
        next_poll_at: 1_060_000,
    })
    .await
    .unwrap();
    let before = s.feed_health().await.unwrap();
    assert_eq!(before[0].failing_since, Some(1_000_000));
    s.shift_times(86_400_000).await.unwrap();
    let after = s.feed_health().await.unwrap();
    assert_eq!(after[0].failing_since, Some(1_000_000 + 86_400_000));
    assert_eq!(
        after[0].reported_at,
        before[0].reported_at.map(|t| t + 86_400_000)
    );
}

/// A lease moves with the clock: held for as long as it had left, then free.
pub(crate) async fn a_clock_step_moves_leases_too<S: Store>(s: S) {
    add(&s, "a", 1_000_000, &["k1"], "chat").await;
    let c = s.claim_due("chat", 1_000_000, 1_060_000, 10).await.unwrap();
    assert_eq!(c.len(), 1);
    s.shift_times(-3_600_000).await.unwrap();
    let end = 1_060_000 - 3_600_000;
    assert!(
        s.claim_due("chat", end - 1, end + 60_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s.claim_due("chat", end, end + 60_000, 10).await.unwrap();
    assert_eq!(
        (again.len(), again[0].created_at),
        (1, 1_000_000 - 3_600_000)
    );
}
