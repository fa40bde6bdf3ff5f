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

pub(super) const LEASE: Duration = Duration::from_secs(60);
pub(super) const LEASE_MS: i64 = 60_000;

/// Two instances on one new schema, or `None` (printed) without a server.
pub(super) async fn two(lease: Duration) -> Option<(PgStore, PgStore)> {
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
pub(super) async fn holds(s: &PgStore, sink: &str, now: i64) -> bool {
    matches!(s.hold_sink(sink, now).await.unwrap(), SinkHold::Held { .. })
}

/// Far ahead of the clock: the heartbeat leaves leases this late alone.
pub(super) fn t0() -> i64 {
    now_millis() + 3_600_000
}

fn url(feed: &str) -> String {
    format!("https://example.org/{feed}")
}

pub(super) async fn claim(s: &PgStore, feed: &str, host: &str, now: i64, per_host: usize) -> Claim {
    let u = url(feed);
    let c = FeedClaim {
        feed,
        config_url: &u,
        host,
    };
    s.claim_feeds(&[c], now, per_host).await.unwrap()[0]
}

pub(super) fn commit(feed: &str, now: i64, key: &str, sink: &str) -> PollCommit {
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
pub(super) async fn two_claimed_by(s: &PgStore, t: i64) -> Vec<crate::store::Delivery> {
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

/// Regression: a feed whose stored next poll was hours away (the backoff a wrong URL earned)
/// was refused to every instance until then, even once a reload corrected its URL: the claim
/// compared the time, not the address it was earned by.
#[tokio::test]
async fn a_feed_whose_url_changed_is_not_held_to_the_old_urls_schedule() {
    let Some((a, _b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    assert_eq!(claim(&a, "f", "h", t, 8).await, Claim::Granted);
    // A failed poll of the old URL, with a backoff of hours.
    let failed_at = |failures: u32, now: i64| FailureRecord {
        feed: "f",
        config_url: "https://typo.example/f",
        error: "HTTP 404",
        failures,
        html_streak: 0,
        now,
        next_poll_at: t + 6 * 3_600_000,
    };
    a.record_failure(&failed_at(5, t + 10)).await.unwrap();
    // The configured URL (`url("f")`) is another one now.
    assert_eq!(claim(&a, "f", "h", t + 20, 8).await, Claim::Granted);
    // Under the same URL, the stored schedule holds.
    let c = FeedClaim {
        feed: "f",
        config_url: "https://typo.example/f",
        host: "h",
    };
    a.record_failure(&failed_at(6, t + 30)).await.unwrap();
    assert_eq!(
        a.claim_feeds(&[c], t + 40, 8).await.unwrap()[0],
        Claim::Busy {
            until: t + 6 * 3_600_000
        }
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

/// Regression (review): a sweep judged another instance alive by this instance's own lease,
/// but each instance beats every third of its own: after a rolling restart gave one a longer
/// lease, the sinks only it had (added in the same change) were made dead letters between
/// its beats. Nor did a sweep spare a sink whose lease another instance holds.
#[tokio::test]
async fn a_sweep_spares_a_live_instance_between_long_beats_and_a_sink_another_holds() {
    let Some((a, b)) = two(Duration::from_secs(30)).await else {
        return;
    };
    let t = now_millis();
    for (i, sink) in ["matrix", "ntfy"].iter().enumerate() {
        let feed = format!("f{i}");
        assert_eq!(claim(&a, &feed, "h", t, 8).await, Claim::Granted);
        a.commit_poll(&commit(&feed, t, "x", sink)).await.unwrap();
    }
    let only_slack = ["slack".to_string()];
    b.dead_letter_unconfigured(&["slack".into(), "matrix".into()])
        .await
        .unwrap();
    // b beats every 40 s (a 2 min lease): 35 s since its last beat, it is alive.
    sqlx::query("UPDATE instances SET heartbeat_at = $1 WHERE id = $2")
        .bind(now_millis() - 35_000)
        .bind(b.instance_id().unwrap())
        .execute(&b.pool)
        .await
        .unwrap();
    // b holds ntfy's lease (its configuration as a said it lacks it; a worker sends it).
    assert!(holds(&b, "ntfy", now_millis()).await);
    assert_eq!(a.dead_letter_unconfigured(&only_slack).await.unwrap(), 0);
    assert_eq!(a.outbox_summary().await.unwrap().pending, 2);
    // b stopped: a's sweep takes both.
    b.release_leases().await.unwrap();
    assert_eq!(a.dead_letter_unconfigured(&only_slack).await.unwrap(), 2);
}

/// Regression (review): the heartbeat renewed every sink lease the instance owned, also of a
/// sink a reload had removed whose worker failed to give the lease up (a lock timeout,
/// logged once): no instance that still had the sink sent its queue until this one
/// restarted. Only the sinks the instance last recorded as its own are renewed.
#[tokio::test]
async fn the_heartbeat_keeps_no_lease_of_a_sink_the_instance_no_longer_has() {
    let lease = Duration::from_millis(900);
    let Some((a, b)) = two(lease).await else {
        return;
    };
    a.dead_letter_unconfigured(&["slack".into(), "matrix".into()])
        .await
        .unwrap();
    assert!(holds(&a, "slack", now_millis()).await);
    assert!(holds(&a, "matrix", now_millis()).await);
    // A reload removes matrix; giving its lease up fails (not called here).
    a.dead_letter_unconfigured(&["slack".into()]).await.unwrap();
    tokio::time::sleep(lease * 2).await;
    assert!(
        !holds(&b, "slack", now_millis()).await,
        "the heartbeat renews the lease of a sink the instance has"
    );
    assert!(
        holds(&b, "matrix", now_millis()).await,
        "a sink the instance no longer has is free once its lease runs out"
    );
}

/// A feed's lease given up by its holder (the feed gone from its configuration) is free at
/// once; given up by another instance, it stays its holder's.
#[tokio::test]
async fn a_feed_left_by_its_holder_is_free_at_once() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    assert_eq!(claim(&a, "f", "h", t, 8).await, Claim::Granted);
    b.leave_feed("f").await.unwrap();
    assert!(matches!(
        claim(&b, "f", "h", t + 1, 8).await,
        Claim::Busy { .. }
    ));
    a.leave_feed("f").await.unwrap();
    assert_eq!(claim(&b, "f", "h", t + 2, 8).await, Claim::Granted);
}
