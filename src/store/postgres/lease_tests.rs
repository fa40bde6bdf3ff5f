//! Several instances on one database: feed and sink leases, takeover, release on stop.
//!
//! Each test opens two instances on one fresh schema. Claims take explicit times far ahead
//! of the clock with a lease of a minute, so the heartbeat (every 20 s, on the real clock)
//! never moves them while a test runs; `a_dead_instances_feeds_are_taken_over` uses the real
//! clock and a short lease to watch the heartbeat itself.

use std::time::Duration;

use super::PgStore;
use super::testing::{fresh_options, skip};
use crate::store::lease::{Claim, FeedClaim, SinkHold};
use crate::store::{FailureRecord, NewDelivery, PollCommit, Store, StoreError, now_millis};

const LEASE: Duration = Duration::from_secs(60);
const LEASE_MS: i64 = 60_000;

/// Two instances on one new schema, or `None` (printed) without a server.
async fn two(lease: Duration) -> Option<(PgStore, PgStore)> {
    let opts = match fresh_options().await {
        Ok(o) => o,
        Err(why) => return skip(why),
    };
    let a = PgStore::open_instance_with(opts.clone(), lease)
        .await
        .unwrap();
    let b = PgStore::open_instance_with(opts, lease).await.unwrap();
    Some((a, b))
}

/// Whether `s` gets (or keeps) the lease on `sink` at `now`.
async fn holds(s: &PgStore, sink: &str, now: i64) -> bool {
    matches!(s.hold_sink(sink, now).await.unwrap(), SinkHold::Held { .. })
}

/// Far ahead of the clock: the heartbeat leaves leases this late alone.
fn t0() -> i64 {
    now_millis() + 3_600_000
}

fn url(feed: &str) -> String {
    format!("https://example.org/{feed}")
}

async fn claim(s: &PgStore, feed: &str, host: &str, now: i64, per_host: usize) -> Claim {
    let u = url(feed);
    let c = FeedClaim {
        feed,
        config_url: &u,
        host,
    };
    s.claim_feeds(&[c], now, per_host).await.unwrap()[0]
}

fn commit(feed: &str, now: i64, key: &str, sink: &str) -> PollCommit {
    PollCommit {
        feed: feed.into(),
        config_url: url(feed),
        now,
        next_poll_at: now + 300_000,
        item_keys: vec![key.into()],
        deliveries: vec![NewDelivery {
            idem_key: format!("{feed}-{key}"),
            sink: sink.into(),
            watch: "w".into(),
            item_key: key.into(),
            alert_json: "{}".into(),
            canonical_link: None,
        }],
        repeat_window_ms: 3_600_000,
        ..Default::default()
    }
}

/// Two alerts to "slack" from two polls of `s` at `t`, claimed by `s` as the sink's holder.
async fn two_claimed_by(s: &PgStore, t: i64) -> Vec<crate::store::Delivery> {
    for (i, key) in ["x", "y"].iter().enumerate() {
        let f = format!("f{i}");
        assert_eq!(claim(s, &f, "h", t, 8).await, Claim::Granted);
        s.commit_poll(&commit(&f, t, key, "slack")).await.unwrap();
    }
    assert!(holds(s, "slack", t).await);
    let claimed = s.claim_due("slack", t, t + 300_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    claimed
}

/// Whether `s` may start sending `row` alone (no new key), marked until `mark`.
async fn starts(s: &PgStore, row: &crate::store::Delivery, mark: i64) -> bool {
    s.begin_send("slack", &[row.id], None, row.claimed_until, mark)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_feed_is_polled_by_one_instance_at_a_time_and_not_again_before_it_is_due() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    assert_eq!(claim(&a, "f", "h", t, 8).await, Claim::Granted);
    // Held by a: b is told when a's lease runs out.
    assert_eq!(
        claim(&b, "f", "h", t + 10, 8).await,
        Claim::Busy {
            until: t + LEASE_MS
        }
    );
    a.commit_poll(&commit("f", t + 20, "x", "s")).await.unwrap();
    // Polled since b scheduled it: b waits for the stored next poll, then gets it.
    assert_eq!(
        claim(&b, "f", "h", t + 30, 8).await,
        Claim::Busy {
            until: t + 20 + 300_000
        }
    );
    assert_eq!(
        claim(&b, "f", "h", t + 20 + 300_000, 8).await,
        Claim::Granted
    );
}

#[tokio::test]
async fn a_poll_whose_lease_passed_to_another_instance_commits_nothing() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    for f in ["f", "g", "h"] {
        assert_eq!(claim(&a, f, "host", t, 8).await, Claim::Granted);
        // a stalls past its lease; b takes the feed over.
        assert_eq!(
            claim(&b, f, "host", t + LEASE_MS + 1, 8).await,
            Claim::Granted
        );
    }
    let lost = |r: Result<(), StoreError>, what: &str| match r {
        Err(StoreError::LeaseLost { .. }) => {}
        other => panic!("{what}: expected LeaseLost, got {other:?}"),
    };
    lost(
        a.commit_poll(&commit("f", t + 5, "x", "s")).await.map(drop),
        "commit",
    );
    lost(
        a.record_not_modified("g", &url("g"), t + 5, t + 300_000)
            .await,
        "304",
    );
    let failure = FailureRecord {
        feed: "h",
        config_url: &url("h"),
        now: t + 5,
        error: "timeout",
        failures: 1,
        next_poll_at: t + 60_000,
        html_streak: 0,
    };
    lost(a.record_failure(&failure).await, "failure");
    // Nothing of a's poll is in the store: no item seen, no delivery queued, no feed state.
    assert_eq!(a.outbox_summary().await.unwrap().pending, 0);
    assert!(a.known_items("f", &["x".into()]).await.unwrap().is_empty());
    for s in b.feed_states().await.unwrap() {
        assert_eq!(s.last_poll_at, None, "{}", s.feed);
    }
    // b's commit goes through and frees the feed.
    b.commit_poll(&commit("f", t + LEASE_MS + 2, "x", "s"))
        .await
        .unwrap();
    assert_eq!(a.outbox_summary().await.unwrap().pending, 1);
}

#[tokio::test]
async fn a_hosts_limit_holds_across_instances() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    assert_eq!(claim(&a, "f1", "news.example", t, 2).await, Claim::Granted);
    assert_eq!(claim(&a, "f2", "news.example", t, 2).await, Claim::Granted);
    assert!(matches!(
        claim(&b, "f3", "news.example", t, 2).await,
        Claim::Busy { .. }
    ));
    assert_eq!(claim(&b, "g1", "other.example", t, 2).await, Claim::Granted);
    // One of the host's polls ends: its place is free for the other instance.
    a.commit_poll(&commit("f1", t + 5, "x", "s")).await.unwrap();
    assert_eq!(
        claim(&b, "f3", "news.example", t + 6, 2).await,
        Claim::Granted
    );
}

#[tokio::test]
async fn a_sink_is_sent_by_one_instance_and_taken_over_with_its_claims_when_the_lease_runs_out() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    assert_eq!(
        b.hold_sink("slack", t + 10).await.unwrap(),
        SinkHold::Busy {
            until: t + LEASE_MS
        }
    );
    // a renews within its lease and keeps the sink.
    assert!(holds(&a, "slack", t + 20_000).await);
    // a dies: after its lease b takes the sink, and what a had claimed is b's to send, under
    // the same keys.
    let later = t + 20_000 + LEASE_MS + 1;
    assert!(holds(&b, "slack", later).await);
    let again = b
        .claim_due("slack", later, later + 300_000, 10)
        .await
        .unwrap();
    let keys = |v: &[crate::store::Delivery]| {
        let mut k: Vec<String> = v.iter().map(|d| d.idem_key.clone()).collect();
        k.sort();
        k
    };
    assert_eq!(keys(&again), keys(&claimed));
}

#[tokio::test]
async fn a_clean_stop_frees_feeds_and_sinks_at_once_and_leaves_the_instance_list() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    assert_eq!(claim(&a, "f", "h", t, 8).await, Claim::Granted);
    a.hold_sink("slack", t).await.unwrap();
    let listed = b.instances().await.unwrap();
    assert_eq!(listed.len(), 2);
    let row = listed
        .iter()
        .find(|i| Some(i.id.as_str()) == a.instance_id())
        .unwrap();
    assert_eq!(row.feeds_leased, 1);
    assert_eq!(row.sinks, vec!["slack".to_string()]);
    assert_eq!(row.pid, i64::from(std::process::id()));
    a.release_leases().await.unwrap();
    assert_eq!(claim(&b, "f", "h", t + 1, 8).await, Claim::Granted);
    assert!(holds(&b, "slack", t + 1).await);
    let ids: Vec<String> = b
        .instances()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, vec![b.instance_id().unwrap().to_string()]);
}

/// The real clock: a live instance's heartbeat keeps its lease through a slow poll; once it
/// is gone (its heartbeat stops), the lease runs out and another instance takes the feed.
#[tokio::test]
async fn a_dead_instances_feeds_are_taken_over_within_the_lease() {
    let lease = Duration::from_millis(900);
    let Some((a, b)) = two(lease).await else {
        return;
    };
    assert_eq!(claim(&a, "f", "h", now_millis(), 8).await, Claim::Granted);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert!(
        matches!(
            claim(&b, "f", "h", now_millis(), 8).await,
            Claim::Busy { .. }
        ),
        "the heartbeat renews the lease of a poll in flight"
    );
    drop(a);
    let dead = std::time::Instant::now();
    loop {
        if claim(&b, "f", "h", now_millis(), 8).await == Claim::Granted {
            break;
        }
        assert!(
            dead.elapsed() < lease * 2,
            "not taken over within the lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn each_feed_has_one_first_choice_among_the_live_instances() {
    // A short lease: the heartbeat (a third of it) soon tells the first instance of the second.
    let Some((a, b)) = two(Duration::from_millis(600)).await else {
        return;
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let feeds: Vec<String> = (0..200).map(|i| format!("feed-{i}")).collect();
    let firsts = |s: &PgStore| feeds.iter().filter(|f| s.claim_delay(f).is_zero()).count();
    let (on_a, on_b) = (firsts(&a), firsts(&b));
    for f in &feeds {
        let (da, db) = (a.claim_delay(f), b.claim_delay(f));
        assert!(
            da.is_zero() != db.is_zero(),
            "{f}: delays {da:?} and {db:?}: exactly one instance asks first"
        );
    }
    assert!(on_a > 50 && on_b > 50, "{on_a} and {on_b} of 200");
    // The second leaves: within a beat the first asks first for every feed.
    b.release_leases().await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(firsts(&a), feeds.len());
}

/// Regression: a sink with no lease row yet (a first start, or after a clean stop) could be
/// taken by two instances at once: the `FOR UPDATE` that should have ordered them had no row
/// to lock, and both wrote their lease and sent the queue.
#[tokio::test]
async fn two_instances_asking_for_a_new_sink_at_once_do_not_both_get_it() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    for i in 0..40 {
        let sink = format!("s{i}");
        let (x, y) = tokio::join!(a.hold_sink(&sink, t), b.hold_sink(&sink, t));
        let held = [x.unwrap(), y.unwrap()]
            .iter()
            .filter(|h| matches!(h, SinkHold::Held { .. }))
            .count();
        assert_eq!(held, 1, "sink {sink} held by {held} instances");
    }
}

/// A sink gone from one instance's configuration (a reload) is given up at once: its claims
/// go back and another instance that has it takes it. Before, the heartbeat went on renewing
/// the lease of a sink no worker sent, and its queue waited for as long as that instance ran.
#[tokio::test]
async fn a_sink_an_instance_no_longer_has_passes_at_once_to_one_that_has_it() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    assert_eq!(claim(&a, "f", "h", t, 8).await, Claim::Granted);
    a.commit_poll(&commit("f", t, "x", "slack")).await.unwrap();
    assert!(holds(&a, "slack", t).await);
    assert_eq!(
        a.claim_due("slack", t, t + 300_000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(!holds(&b, "slack", t + 1).await);
    a.leave_sink("slack").await.unwrap();
    assert!(holds(&b, "slack", t + 2).await);
    assert_eq!(
        b.claim_due("slack", t + 2, t + 300_000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Giving up a sink this instance does not hold frees nothing of the holder's.
    a.leave_sink("slack").await.unwrap();
    assert!(!holds(&a, "slack", t + 3).await);
}

/// Regression: an instance whose configuration lacked a sink dead-lettered every pending
/// delivery of it, including those another instance (with a newer configuration, during a
/// rollout) was sending. Now the sinks another live instance has are left alone; an
/// instance that has not said which sinks it has (an older version) protects them all; once
/// no live instance has the sink, its deliveries become dead letters as before.
#[tokio::test]
async fn a_sweep_leaves_alone_the_deliveries_of_sinks_another_live_instance_has() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    assert_eq!(claim(&a, "f", "h", t, 8).await, Claim::Granted);
    a.commit_poll(&commit("f", t, "x", "matrix")).await.unwrap();
    let only_slack = ["slack".to_string()];
    // b has said nothing yet: everything is protected.
    assert_eq!(a.dead_letter_unconfigured(&only_slack).await.unwrap(), 0);
    b.dead_letter_unconfigured(&["slack".into(), "matrix".into()])
        .await
        .unwrap();
    assert_eq!(a.dead_letter_unconfigured(&only_slack).await.unwrap(), 0);
    assert_eq!(a.outbox_summary().await.unwrap().pending, 1);
    // b's configuration drops the sink too: now no one sends it.
    assert_eq!(b.dead_letter_unconfigured(&only_slack).await.unwrap(), 1);
    let summary = a.outbox_summary().await.unwrap();
    assert_eq!((summary.pending, summary.dead), (0, 1));
}

/// Regression: a takeover gave back every claim of the previous holder at once, so a send
/// that holder had in flight when its lease ran out (the database stalled past the lease, the
/// send still going) was sent a second time by the taker; chat platforms show it twice. A row
/// marked as being sent stays claimed until its mark passes; the others go at once.
#[tokio::test]
async fn a_takeover_does_not_resend_a_send_still_in_flight_at_the_old_holder() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    let in_flight = &claimed[0];
    let mark = t + 130_000;
    assert!(
        starts(&a, in_flight, mark).await,
        "the holder marks its send"
    );
    // a's lease runs out while the send is in flight; b takes the sink over.
    let later = t + LEASE_MS + 1;
    assert!(holds(&b, "slack", later).await);
    let taken = b
        .claim_due("slack", later, later + 300_000, 10)
        .await
        .unwrap();
    let keys = |v: &[crate::store::Delivery]| -> Vec<String> {
        v.iter().map(|d| d.idem_key.clone()).collect()
    };
    assert_eq!(
        keys(&taken),
        keys(&claimed[1..]),
        "only the row not in flight"
    );
    // a may not mark another send: the sink is b's now.
    assert!(!starts(&a, &claimed[1], later + 130_000).await);
    // b marks its own send of the other row.
    assert!(starts(&b, &taken[0], later + 130_000).await);
    // a's send never answered (or a died with it): once its mark has passed, b sends it.
    assert!(
        b.claim_due("slack", mark - 1, mark + 300_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let after_mark = b
        .claim_due("slack", mark + 1, mark + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(keys(&after_mark), keys(&claimed[..1]));
}

/// Regression: a batch that outlived its sink lease and got the lease back (the instance that
/// had taken the sink over stopped meanwhile) started a send of a row that instance had
/// claimed and was still sending, and replaced the key it was sent under: the receiver got it
/// twice, the second time under a new key. A send starts only under the claim its batch took
/// the rows with.
#[tokio::test]
async fn a_batch_that_got_the_lease_back_does_not_start_rows_claimed_elsewhere_meanwhile() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    let row = &claimed[1];
    // a stalls past its lease; b takes the sink over and starts sending the row.
    let later = t + LEASE_MS + 1;
    assert!(holds(&b, "slack", later).await);
    let taken = b
        .claim_due("slack", later, later + 300_000, 10)
        .await
        .unwrap();
    let Some(theirs) = taken.iter().find(|d| d.id == row.id) else {
        panic!("the taker claims the row");
    };
    let mark = later + 130_000;
    assert!(
        b.begin_send(
            "slack",
            &[row.id],
            Some("nw_d_b"),
            theirs.claimed_until,
            mark
        )
        .await
        .unwrap()
    );
    // b stops cleanly while its send is out; a comes back and gets the lease again.
    b.release_leases().await.unwrap();
    assert!(holds(&a, "slack", later + 1_000).await);
    assert!(
        !a.begin_send(
            "slack",
            &[row.id],
            Some("nw_d_a"),
            row.claimed_until,
            later + 131_000
        )
        .await
        .unwrap(),
        "a's claim on the row was taken over: its send must not start"
    );
    let (key, until): (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT group_key, sending_until FROM deliveries WHERE id = $1")
            .bind(row.id)
            .fetch_one(&a.pool)
            .await
            .unwrap();
    assert_eq!((key.as_deref(), until), (Some("nw_d_b"), Some(mark)));
    // The row b was sending is not claimed before its mark passes, by a either.
    assert!(
        a.claim_due("slack", later + 2_000, later + 302_000, 10)
            .await
            .unwrap()
            .iter()
            .all(|d| d.id != row.id)
    );
}

/// Regression: a clock step moved claims and retry times but not the marks of sends in
/// flight: stepped forward, a mark passed early and a takeover could send again a send still
/// in flight; stepped back, the row (and newer updates of its story) waited an extra step.
#[tokio::test]
async fn a_clock_step_moves_the_marks_of_sends_in_flight_too() {
    let Some((a, _b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    let mark = t + 130_000;
    assert!(starts(&a, &claimed[0], mark).await);
    let step = 3_600_000;
    a.shift_times(step).await.unwrap();
    // Whatever clears the claim, the mark holds the row for the time it had left.
    let claim = claimed[0].claimed_until + step;
    a.release(&[claimed[0].id, claimed[1].id], claim)
        .await
        .unwrap();
    let moved = mark + step;
    let before = a
        .claim_due("slack", moved - 1, moved + 300_000, 10)
        .await
        .unwrap();
    assert!(before.iter().all(|d| d.id != claimed[0].id));
    let after = a
        .claim_due("slack", moved + 1, moved + 300_000, 10)
        .await
        .unwrap();
    assert!(after.iter().any(|d| d.id == claimed[0].id));
}

/// Regression: the old holder's late release of its unsent rows, after a takeover, cleared the
/// new holder's claim on them: its next claim took them a second time, and its start of the
/// first batch failed the claim check (the batch stopped, and said the sink had passed to
/// another instance). A release gives back only the claim it names.
#[tokio::test]
async fn a_late_release_by_the_old_holder_leaves_the_new_holders_claim() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    let later = t + LEASE_MS + 1;
    assert!(holds(&b, "slack", later).await);
    let taken = b
        .claim_due("slack", later, later + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    // a stops its batch at last and gives back what it did not send.
    let ids = [claimed[0].id, claimed[1].id];
    a.release(&ids, claimed[0].claimed_until).await.unwrap();
    assert!(
        b.claim_due("slack", later + 1, later + 300_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "b's claim holds"
    );
    assert!(starts(&b, &taken[0], later + 130_000).await);
}

/// A send recorded while another instance took the sink over is not marked again: its row is
/// no longer pending.
#[tokio::test]
async fn a_row_recorded_as_sent_cannot_be_marked_for_another_send() {
    let Some((a, _b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    assert_eq!(claim(&a, "f", "h", t, 8).await, Claim::Granted);
    a.commit_poll(&commit("f", t, "x", "slack")).await.unwrap();
    assert!(holds(&a, "slack", t).await);
    let claimed = a.claim_due("slack", t, t + 300_000, 10).await.unwrap();
    let id = claimed[0].id;
    assert!(
        a.begin_send("slack", &[id], None, claimed[0].claimed_until, t + 130_000)
            .await
            .unwrap()
    );
    a.mark_sent(&[id], t + 1_000).await.unwrap();
    assert!(
        !a.begin_send("slack", &[id], None, claimed[0].claimed_until, t + 140_000)
            .await
            .unwrap()
    );
}

/// A row being sent stays unclaimed until its mark passes even when its claim was cleared
/// (the old holder's late release of its batch, after a takeover), and a clean stop gives
/// back the claims of a stopping instance except the rows it is still sending.
#[tokio::test]
async fn a_row_being_sent_is_not_claimed_until_its_mark_passes_whoever_clears_its_claim() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let now = now_millis();
    let claimed = two_claimed_by(&a, now).await;
    let mark = now + 130_000;
    assert!(starts(&a, &claimed[0], mark).await);
    // A clean stop: the row not being sent goes at once, the other waits for its mark.
    a.release_leases().await.unwrap();
    assert!(holds(&b, "slack", now + 1).await);
    let taken = b
        .claim_due("slack", now + 1, now + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].id, claimed[1].id);
    // Whatever clears the claim (here a release of the claim the clean stop left, which runs
    // to the mark), the mark still holds the row.
    a.release(&[claimed[0].id], mark).await.unwrap();
    assert!(
        b.claim_due("slack", now + 2, now + 300_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let after = b
        .claim_due("slack", mark + 1, mark + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, claimed[0].id);
}

/// A start is all or nothing: with one row of the unit recorded elsewhere, neither its mark
/// nor its key is written; otherwise the key of a first attempt is stored with the mark.
#[tokio::test]
async fn a_start_is_recorded_for_the_whole_unit_or_not_at_all() {
    let Some((a, _b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    let ids = [claimed[0].id, claimed[1].id];
    a.mark_sent(&ids[1..], t).await.unwrap();
    assert!(
        !a.begin_send(
            "slack",
            &ids,
            Some("nw_d_1"),
            claimed[0].claimed_until,
            t + 130_000
        )
        .await
        .unwrap()
    );
    let (key, mark): (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT group_key, sending_until FROM deliveries WHERE id = $1")
            .bind(ids[0])
            .fetch_one(&a.pool)
            .await
            .unwrap();
    assert_eq!((key, mark), (None, None));
    assert!(
        a.begin_send(
            "slack",
            &ids[..1],
            Some("nw_d_2"),
            claimed[0].claimed_until,
            t + 130_000
        )
        .await
        .unwrap()
    );
    let key: Option<String> = sqlx::query_scalar("SELECT group_key FROM deliveries WHERE id = $1")
        .bind(ids[0])
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(key.as_deref(), Some("nw_d_2"));
}

/// An update of a story (to "slack"), committed by `s` with a poll of `feed` at `t`.
async fn update(s: &PgStore, feed: &str, t: i64, n: usize) {
    assert_eq!(claim(s, feed, "h", t, 8).await, Claim::Granted);
    let mut c = commit(feed, t, &format!("u{n}"), "slack");
    let delivery = c.deliveries.remove(0);
    c.updates = vec![crate::store::NewUpdate {
        delivery,
        story_key: "f0-x".into(),
    }];
    s.commit_poll(&c).await.unwrap();
}

/// Regression: updates of a story that a stopped holder was sending were held until their
/// mark passed, while a newer update of the story went at once; sent after it, the older ones
/// would set the message back to fewer sources. The newer update now waits, and then all go
/// together.
#[tokio::test]
async fn a_newer_story_update_waits_for_older_ones_a_stopped_holder_was_sending() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    // The story's alert, sent.
    assert_eq!(claim(&a, "f0", "h", t, 8).await, Claim::Granted);
    a.commit_poll(&commit("f0", t, "x", "slack")).await.unwrap();
    assert!(holds(&a, "slack", t).await);
    let alert = a.claim_due("slack", t, t + 300_000, 10).await.unwrap();
    a.mark_sent(&[alert[0].id], t).await.unwrap();
    // Two updates, claimed and being sent by a when it stops answering.
    update(&a, "f1", t + 1_000, 1).await;
    update(&a, "f2", t + 2_000, 2).await;
    let sending = a
        .claim_due("slack", t + 3_000, t + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(sending.len(), 2);
    let ids: Vec<i64> = sending.iter().map(|d| d.id).collect();
    let mark = t + 133_000;
    assert!(
        a.begin_send("slack", &ids, None, sending[0].claimed_until, mark)
            .await
            .unwrap()
    );
    // A newer update comes while b holds the sink: it waits for the older ones.
    let later = t + LEASE_MS + 10_000;
    assert!(holds(&b, "slack", later).await);
    update(&b, "f3", later, 3).await;
    assert!(
        b.claim_due("slack", later, later + 300_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let all = b
        .claim_due("slack", mark + 1, mark + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        3,
        "the three updates go together, the newest carrying them"
    );
}
