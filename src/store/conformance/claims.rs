//! Claiming deliveries and recording each attempt: outbox order, `limit`, leases, a stored
//! group taken whole, retries, sends, late failures, releases (story updates: [`super::story_claims`]).

use super::story_claims::story;
use super::{add, commit, counts_agree, delivery, listed};
use crate::store::{Millis, NewDelivery, OutboxSummary, PollCommit, Store};

/// The idempotency keys of claimed deliveries, in claim order.
pub(super) fn keys(claimed: &[crate::store::Delivery]) -> Vec<&str> {
    claimed.iter().map(|d| d.idem_key.as_str()).collect()
}

pub(crate) async fn claims_are_leased_ordered_and_released<S: Store>(s: S) {
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
    assert_eq!(keys(&c), ["d1", "d2"]);
    assert_eq!(
        (c[0].sink.as_str(), c[0].attempts, c[0].created_at),
        ("hook", 0, 1000)
    );
    assert_eq!(
        (c[0].group_key.as_deref(), c[0].story_key.as_deref()),
        (None, None)
    );
    // Leased: a second claim gets nothing until the lease ends.
    assert!(
        s.claim_due("hook", 2000, 62_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    s.mark_sent(&[c[0].id], 3000).await.unwrap();
    s.mark_retry(&[c[1].id], "HTTP 500", 10_000, c[1].claimed_until)
        .await
        .unwrap();
    assert!(
        s.claim_due("hook", 5000, 65_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s.claim_due("hook", 10_000, 70_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    s.mark_dead(&[again[0].id], "HTTP 400", 10_000, again[0].claimed_until)
        .await
        .unwrap();
    let sum = s.outbox_summary().await.unwrap();
    assert_eq!((sum.pending, sum.sent, sum.dead), (1, 1, 1));
    let other = s.claim_due("other", 10_000, 70_000, 10).await.unwrap();
    s.release(&[other[0].id], other[0].claimed_until)
        .await
        .unwrap();
    assert_eq!(
        s.claim_due("other", 10_000, 70_000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Outbox order is enqueue order, across commits; `limit` cuts it; other sinks' rows and
/// rows not yet due are left alone.
pub(crate) async fn claim_due_takes_the_oldest_due_first_up_to_the_limit<S: Store>(s: S) {
    add(&s, "a", 1000, &["k1", "k2", "k3"], "chat").await;
    add(&s, "b", 2000, &["k4"], "chat").await;
    add(&s, "c", 2000, &["k5"], "other").await;
    // Not due before it was created.
    assert!(
        s.claim_due("chat", 999, 60_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let first = s.claim_due("chat", 1000, 60_000, 2).await.unwrap();
    assert_eq!(keys(&first), ["k1", "k2"]);
    let rest = s.claim_due("chat", 1500, 60_000, 10).await.unwrap();
    assert_eq!(keys(&rest), ["k3"], "k4 is not due before 2000");
    let rest = s.claim_due("chat", 2000, 60_000, 10).await.unwrap();
    assert_eq!(keys(&rest), ["k4"]);
    let other = s.claim_due("other", 2000, 60_000, 10).await.unwrap();
    assert_eq!(keys(&other), ["k5"]);
    assert!(
        s.claim_due("chat", 3000, 60_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A lease holds until `lease_until` and not after: a worker that died mid-send does not keep
/// its claim forever. Claiming is not an attempt.
pub(crate) async fn a_lease_ends_at_lease_until<S: Store>(s: S) {
    add(&s, "a", 1000, &["k1"], "chat").await;
    let c = s.claim_due("chat", 1000, 5000, 10).await.unwrap();
    assert_eq!(keys(&c), ["k1"]);
    assert!(
        s.claim_due("chat", 4999, 9000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s.claim_due("chat", 5000, 9000, 10).await.unwrap();
    assert_eq!((keys(&again), again[0].attempts), (vec!["k1"], 0));
    assert_eq!(again[0].id, c[0].id);
    // Leased anew until 9000.
    assert!(
        s.claim_due("chat", 8999, 20_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let row = &listed(&s, "pending").await[0];
    assert_eq!(row.attempts, 0);
}

pub(crate) async fn a_claim_takes_a_stored_group_whole<S: Store>(s: S) {
    add(&s, "a", 1000, &["k1", "k2", "k3", "k4"], "chat").await;
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    // k2 and k4 went out as one digest that must be retried together.
    s.begin_attempt(&[c[1].id, c[3].id], "nw_d_x")
        .await
        .unwrap();
    s.mark_retry(&[c[1].id, c[3].id], "HTTP 503", 5000, c[1].claimed_until)
        .await
        .unwrap();
    s.mark_sent(&[c[0].id], 2000).await.unwrap();
    s.release(&[c[2].id], c[2].claimed_until).await.unwrap();
    // A claim of one row that starts the group brings its partner along.
    let again = s.claim_due("chat", 5000, 65_000, 1).await.unwrap();
    let keys: Vec<(&str, Option<&str>)> = again
        .iter()
        .map(|d| (d.idem_key.as_str(), d.group_key.as_deref()))
        .collect();
    assert_eq!(keys, [("k2", Some("nw_d_x")), ("k4", Some("nw_d_x"))]);
    counts_agree(&s).await;
}

/// `begin_attempt` records the key before the send; a retry is claimed with it, so it goes
/// out under the same key.
pub(crate) async fn a_lone_attempt_keeps_its_key_across_retries<S: Store>(s: S) {
    add(&s, "a", 1000, &["k1", "k2"], "chat").await;
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    assert_eq!(c[0].group_key, None, "no attempt yet");
    s.begin_attempt(&[c[0].id], "k1").await.unwrap();
    s.mark_retry(&[c[0].id], "timeout", 2000, c[0].claimed_until)
        .await
        .unwrap();
    s.release(&[c[1].id], c[1].claimed_until).await.unwrap();
    let again = s.claim_due("chat", 2000, 62_000, 10).await.unwrap();
    let got: Vec<(&str, Option<&str>)> = again
        .iter()
        .map(|d| (d.idem_key.as_str(), d.group_key.as_deref()))
        .collect();
    assert_eq!(got, [("k1", Some("k1")), ("k2", None)]);
}

/// A failed attempt counts, keeps its error, waits until its time and no longer, however long
/// the claim's lease was.
pub(crate) async fn a_retry_is_due_at_its_time_and_drops_the_lease<S: Store>(s: S) {
    add(&s, "a", 1000, &["k1"], "chat").await;
    let c = s.claim_due("chat", 1000, 100_000, 10).await.unwrap();
    s.mark_retry(&[c[0].id], "HTTP 503", 10_000, c[0].claimed_until)
        .await
        .unwrap();
    let row = &listed(&s, "pending").await[0];
    assert_eq!(
        (row.attempts, row.last_error.as_deref(), row.next_attempt_at),
        (1, Some("HTTP 503"), 10_000)
    );
    assert_eq!(row.sent_at, None);
    assert!(
        s.claim_due("chat", 9_999, 20_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s.claim_due("chat", 10_000, 20_000, 10).await.unwrap();
    assert_eq!((keys(&again), again[0].attempts), (vec!["k1"], 1));
    // A second failure counts again.
    s.mark_retry(&[again[0].id], "HTTP 502", 11_000, again[0].claimed_until)
        .await
        .unwrap();
    let row = &listed(&s, "pending").await[0];
    assert_eq!(
        (row.attempts, row.last_error.as_deref()),
        (2, Some("HTTP 502"))
    );
}

/// A sent delivery counts its attempt, forgets the last error, records when, and is never
/// claimed again.
pub(crate) async fn a_sent_delivery_is_listed_with_its_time_and_not_claimed_again<S: Store>(s: S) {
    add(&s, "a", 1000, &["k1", "k2"], "chat").await;
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    s.mark_retry(&[c[0].id], "HTTP 503", 2000, c[0].claimed_until)
        .await
        .unwrap();
    let again = s.claim_due("chat", 2000, 62_000, 10).await.unwrap();
    assert_eq!(keys(&again), ["k1"]);
    // Sent together (a digest): both in one call.
    s.mark_sent(&[c[0].id, c[1].id], 7000).await.unwrap();
    let mut sent: Vec<(String, u32, Option<Millis>, Option<String>)> = listed(&s, "sent")
        .await
        .into_iter()
        .map(|r| (r.idem_key, r.attempts, r.sent_at, r.last_error))
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        [
            ("k1".to_string(), 2, Some(7000), None),
            ("k2".to_string(), 1, Some(7000), None)
        ]
    );
    assert!(
        s.claim_due("chat", 1_000_000, 2_000_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.outbox_summary().await.unwrap(),
        OutboxSummary {
            pending: 0,
            dead: 0,
            sent: 2,
            oldest_pending: None
        }
    );
}

/// The messages a sink received since a time, each with when it went: its sent alerts, a
/// digest (attempted under one key) once, two sends in the same millisecond twice; not another sink's, not
/// pending ones, not those sent before.
pub(crate) async fn sends_since_counts_a_sinks_messages<S: Store>(s: S) {
    add(&s, "a", 1000, &["k1", "k2", "k3", "k4", "k5", "k6"], "chat").await;
    add(&s, "b", 1000, &["o1"], "other").await;
    assert_eq!(s.sends_since("chat", 0).await.unwrap().len(), 0);
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    let id = |k: &str| c.iter().find(|d| d.idem_key == k).map(|d| d.id).unwrap();
    s.mark_sent(&[id("k1")], 2000).await.unwrap();
    // A digest of two: one message.
    s.begin_attempt(&[id("k2"), id("k3")], "digest-1")
        .await
        .unwrap();
    s.mark_sent(&[id("k2"), id("k3")], 5000).await.unwrap();
    s.mark_sent_ref(id("k4"), 6000, "m4").await.unwrap();
    // Two sends of a sink with concurrency, recorded in one millisecond: two messages.
    s.mark_sent(&[id("k5")], 7000).await.unwrap();
    s.mark_sent(&[id("k6")], 7000).await.unwrap();
    let o = s.claim_due("other", 1000, 61_000, 10).await.unwrap();
    s.mark_sent(&[o[0].id], 5500).await.unwrap();
    assert_eq!(
        s.sends_since("chat", 0).await.unwrap(),
        [2000, 5000, 6000, 7000, 7000],
        "each message's time, oldest first"
    );
    assert_eq!(s.sends_since("chat", 5000).await.unwrap().len(), 4);
    assert_eq!(s.sends_since("chat", 7001).await.unwrap().len(), 0);
    assert_eq!(s.sends_since("other", 0).await.unwrap().len(), 1);
    assert_eq!(s.sends_since("nobody", 0).await.unwrap().len(), 0);
}

/// Regression: a failure recorded late by a batch whose claim had run out (its send outlived
/// the lease; another batch, another instance's after a takeover, claimed the row and was
/// sending it) cleared the new claim: the row was claimed, and sent, a third time. A failure
/// is recorded only under the claim it names; true when it was.
pub(crate) async fn a_late_failure_leaves_the_claim_taken_since<S: Store>(s: S) {
    s.commit_poll(&story("a", 1000, "k1", Some("alert1"), None))
        .await
        .unwrap();
    let old = s.claim_due("hook", 1000, 61_000, 10).await.unwrap();
    let new = s.claim_due("hook", 61_000, 121_000, 10).await.unwrap();
    assert_eq!(new.len(), 1, "the claim ran out: the row is claimed again");
    let id = [old[0].id];
    let late_retry = s.mark_retry(&id, "timed out", 70_000, old[0].claimed_until);
    assert!(
        !late_retry.await.unwrap(),
        "not recorded: the row is claimed again"
    );
    let late_dead = s.mark_dead(&id, "HTTP 400", 70_000, old[0].claimed_until);
    assert!(!late_dead.await.unwrap());
    let row = &listed(&s, "pending").await[0];
    assert_eq!((row.attempts, row.last_error.as_deref()), (0, None));
    assert!(
        s.claim_due("hook", 62_000, 122_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "the new claim holds"
    );
    // The holder's own result is recorded.
    let retry = s.mark_retry(&id, "HTTP 503", 63_000, new[0].claimed_until);
    assert!(retry.await.unwrap());
    let row = &listed(&s, "pending").await[0];
    assert_eq!(
        (row.attempts, row.last_error.as_deref()),
        (1, Some("HTTP 503"))
    );
    assert_eq!(
        s.claim_due("hook", 63_000, 123_000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Regression: a failure recorded for a row another instance had sent meanwhile (the first
/// lost the sink's lease while its send was in flight) turned the sent alert into a dead
/// letter, which `deliveries retry --dead` would send again. A result other than "sent" now
/// changes pending rows only.
pub(crate) async fn a_late_failure_never_overwrites_a_sent_delivery<S: Store>(s: S) {
    s.commit_poll(&story("a", 1000, "k1", Some("alert1"), None))
        .await
        .unwrap();
    let c = s.claim_due("hook", 1000, 61_000, 10).await.unwrap();
    s.mark_sent(&[c[0].id], 1500).await.unwrap();
    s.mark_dead(&[c[0].id], "timed out", 1600, c[0].claimed_until)
        .await
        .unwrap();
    s.mark_retry(&[c[0].id], "timed out", 9000, c[0].claimed_until)
        .await
        .unwrap();
    let sent = listed(&s, "sent").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (
            sent[0].sent_at,
            sent[0].attempts,
            sent[0].last_error.as_deref()
        ),
        (Some(1500), 1, None)
    );
    assert_eq!(s.outbox_summary().await.unwrap().dead, 0);
}

/// A release (shutdown, sink paused) gives the claim back at once, counts no attempt, and
/// touches only pending deliveries.
pub(crate) async fn a_release_gives_a_claim_back_without_an_attempt<S: Store>(s: S) {
    add(&s, "a", 1000, &["k1", "k2"], "chat").await;
    let c = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    s.mark_sent(&[c[1].id], 1500).await.unwrap();
    s.release(&[c[0].id, c[1].id], c[0].claimed_until)
        .await
        .unwrap();
    let again = s.claim_due("chat", 1000, 61_000, 10).await.unwrap();
    assert_eq!((keys(&again), again[0].attempts), (vec!["k1"], 0));
    let sum = s.outbox_summary().await.unwrap();
    assert_eq!((sum.pending, sum.sent), (1, 1));
    // Releasing nothing is fine.
    s.release(&[], 0).await.unwrap();
    // A release names its claim: a row claimed since by another batch keeps that claim.
    let mine = s.claim_due("chat", 70_000, 130_000, 10).await.unwrap();
    assert_eq!(keys(&mine), ["k1"]);
    s.release(&[mine[0].id], 61_000).await.unwrap();
    assert!(
        s.claim_due("chat", 70_000, 130_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A sink worker that restarts gives back every lease of its sink at once (and only of its
/// sink): without that, its claimed alerts would wait for the lease to run out.
pub(crate) async fn releasing_a_sink_frees_its_leased_deliveries_only<S: Store>(s: S) {
    let d = |key: &str, sink: &str| NewDelivery {
        idem_key: format!("{sink}-{key}"),
        ..delivery(key, sink, "w", None)
    };
    s.commit_poll(&PollCommit {
        feed: "a".into(),
        config_url: "https://a.example/rss".into(),
        now: 1000,
        item_keys: vec!["k1".into(), "k2".into()],
        deliveries: vec![d("k1", "chat"), d("k2", "chat"), d("k1", "other")],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        s.claim_due("chat", 1000, 61_000, 10).await.unwrap().len(),
        2
    );
    assert_eq!(
        s.claim_due("other", 1000, 61_000, 10).await.unwrap().len(),
        1
    );
    s.release_sink("chat").await.unwrap();
    assert_eq!(
        s.claim_due("chat", 2000, 62_000, 10).await.unwrap().len(),
        2
    );
    assert!(
        s.claim_due("other", 2000, 62_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
