//! The history side of the contract: the daily series of polls, new items and alerts, the
//! facts feed health is judged on, arrivals, and recording a health change.

use super::{DAY, alert, commit, fail, keep_all, listed, not_modified};
use crate::store::{FeedDay, HealthChange, HealthState, Millis, NewUpdate, Store};

fn day(feed: &str, day: i64, ok: i64, not_modified: i64, failed: i64, items: i64) -> FeedDay {
    FeedDay {
        feed: feed.into(),
        day,
        ok,
        not_modified,
        failed,
        items,
    }
}

/// Every watch's days of the history as (watch, day, alerts).
async fn watch_alerts<S: Store>(s: &S) -> Vec<(String, i64, i64)> {
    s.watch_days(0)
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.watch, w.day, w.alerts))
        .collect()
}

/// Exactly one count per poll, per new item and per alert, on the UTC day of its own time,
/// whichever method wrote it.
pub(crate) async fn each_poll_item_and_alert_counts_once_on_its_own_day<S: Store>(s: S) {
    let d0 = 20_000 * DAY;
    // Day 0: the baseline (3 items, not new), a 304, an error, and a poll bringing 2 new items
    // of which one alerts two watches, one of them on two sinks.
    s.commit_poll(&commit("a", d0 + 1000, &["k1", "k2", "k3"], vec![]))
        .await
        .unwrap();
    not_modified(&s, "a", d0 + 2000).await;
    fail(&s, "a", d0 + 3000, 1).await;
    s.commit_poll(&commit(
        "a",
        d0 + 4000,
        &["k4", "k5", "k1"],
        vec![
            alert("k4", "hook", "w1"),
            alert("k4", "chat", "w1"),
            alert("k4", "hook", "w2"),
        ],
    ))
    .await
    .unwrap();
    // The same commit again (a crash before the caller saw it): a poll, no items, no alerts.
    s.commit_poll(&commit(
        "a",
        d0 + 5000,
        &["k4", "k5", "k1"],
        vec![alert("k4", "hook", "w1"), alert("k4", "chat", "w1")],
    ))
    .await
    .unwrap();
    // Day 1: a 304 for a feed whose row the 304 creates, two errors, one new item.
    not_modified(&s, "b", d0 + DAY + 10).await;
    fail(&s, "a", d0 + DAY + 20, 1).await;
    fail(&s, "a", d0 + DAY + 30, 2).await;
    s.commit_poll(&commit(
        "a",
        d0 + DAY + 40,
        &["k6"],
        vec![alert("k6", "hook", "w1")],
    ))
    .await
    .unwrap();

    let days = s.feed_days(20_000).await.unwrap();
    assert_eq!(
        days,
        vec![
            day("a", 20_000, 3, 1, 1, 2),
            day("a", 20_001, 1, 0, 2, 1),
            day("b", 20_001, 0, 1, 0, 0),
        ]
    );
    // Earlier days are left out when asked from a later one.
    assert_eq!(s.feed_days(20_001).await.unwrap().len(), 2);
    let w = watch_alerts(&s).await;
    assert_eq!(
        w,
        vec![
            ("w1".into(), 20_000, 1),
            ("w1".into(), 20_001, 1),
            ("w2".into(), 20_000, 1),
        ]
    );
    let later: Vec<(String, i64)> = s
        .watch_days(20_001)
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.watch, w.day))
        .collect();
    assert_eq!(later, [("w1".to_string(), 20_001)]);
}

pub(crate) async fn failing_since_is_the_first_failure_of_the_run_and_clears_on_success<
    S: Store,
>(
    s: S,
) {
    s.commit_poll(&commit("a", 1000, &["k1"], vec![]))
        .await
        .unwrap();
    assert_eq!(s.feed_health().await.unwrap()[0].failing_since, None);
    fail(&s, "a", 2000, 1).await;
    fail(&s, "a", 3000, 2).await;
    let h = &s.feed_health().await.unwrap()[0];
    assert_eq!(h.feed, "a");
    assert_eq!(h.failing_since, Some(2000));
    assert_eq!(h.last_result.as_deref(), Some("error"));
    assert_eq!(h.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(h.reported, HealthState::Ok);
    assert_eq!(h.reported_at, None);
    not_modified(&s, "a", 4000).await;
    assert_eq!(s.feed_health().await.unwrap()[0].failing_since, None);
    fail(&s, "a", 5000, 1).await;
    assert_eq!(s.feed_health().await.unwrap()[0].failing_since, Some(5000));
    s.commit_poll(&commit("a", 6000, &["k1"], vec![]))
        .await
        .unwrap();
    assert_eq!(s.feed_health().await.unwrap()[0].failing_since, None);
}

/// Regression: a clock step moved poll times but not the times items arrived, so a step
/// forward of a day made every feed with a rhythm a day quiet at once: reported silent at the
/// next health pass, and publishing again at its next item. A step of seconds leaves them.
pub(crate) async fn a_clock_step_of_hours_moves_the_arrivals_silence_is_judged_on<S: Store>(s: S) {
    for (n, key) in ["k1", "k2", "k3"].into_iter().enumerate() {
        let at = 10 * DAY + n as Millis * 3_600_000;
        s.commit_poll(&commit("a", at, &[key], vec![]))
            .await
            .unwrap();
    }
    let before = s.arrivals("a", 0).await.unwrap();
    assert_eq!(before, vec![10 * DAY + 3_600_000, 10 * DAY + 7_200_000]);
    s.shift_times(5_000).await.unwrap();
    assert_eq!(
        s.arrivals("a", 0).await.unwrap(),
        before,
        "a step of seconds"
    );
    s.shift_times(DAY).await.unwrap();
    let after: Vec<Millis> = before.iter().map(|t| t + DAY).collect();
    assert_eq!(s.arrivals("a", 0).await.unwrap(), after);
    s.shift_times(-2 * DAY).await.unwrap();
    let back: Vec<Millis> = before.iter().map(|t| t - DAY).collect();
    assert_eq!(s.arrivals("a", 0).await.unwrap(), back);
}

pub(crate) async fn arrivals_leave_out_the_baseline_and_group_one_polls_items<S: Store>(s: S) {
    s.commit_poll(&commit("a", 1000, &["k1", "k2"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("a", 2000, &["k3", "k4", "k1"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("a", 3000, &["k5"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("a", 4000, &["k5"], vec![]))
        .await
        .unwrap();
    assert_eq!(s.arrivals("a", 0).await.unwrap(), vec![2000, 3000]);
    assert_eq!(s.arrivals("a", 2500).await.unwrap(), vec![3000]);
    // Another feed's items are not this feed's arrivals.
    s.commit_poll(&commit("b", 500, &["b1"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("b", 2500, &["b2"], vec![]))
        .await
        .unwrap();
    assert_eq!(s.arrivals("a", 0).await.unwrap(), vec![2000, 3000]);
    assert_eq!(s.arrivals("b", 0).await.unwrap(), vec![2500]);
    assert_eq!(
        s.feed_health()
            .await
            .unwrap()
            .iter()
            .find(|h| h.feed == "a")
            .unwrap()
            .last_item_day,
        Some(0)
    );
    // A changed URL is a new baseline: what came before is not this document's rhythm.
    let mut moved = commit("a", 5000, &["k9", "k5"], vec![]);
    moved.config_url = "https://elsewhere.example/rss".into();
    s.commit_poll(&moved).await.unwrap();
    assert_eq!(s.arrivals("a", 0).await.unwrap(), Vec::<Millis>::new());
    // Its next new item is an arrival again.
    let mut next = moved.clone();
    next.now = 6000;
    next.item_keys.push("k10".into());
    s.commit_poll(&next).await.unwrap();
    assert_eq!(s.arrivals("a", 0).await.unwrap(), vec![6000]);
}

/// Every feed with a stored row is listed, with the latest day that brought new items.
pub(crate) async fn feed_health_lists_every_feed_with_its_last_item_day<S: Store>(s: S) {
    s.commit_poll(&commit("a", 20_000 * DAY, &["k1"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("a", 20_001 * DAY, &["k2"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("a", 20_002 * DAY, &["k2"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit("b", 20_002 * DAY, &["b1"], vec![]))
        .await
        .unwrap();
    fail(&s, "c", 20_002 * DAY, 1).await;
    let mut health: Vec<(String, Option<i64>, Option<String>)> = s
        .feed_health()
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.feed, h.last_item_day, h.last_result))
        .collect();
    health.sort();
    let ok = Some("ok".to_string());
    assert_eq!(
        health,
        [
            ("a".to_string(), Some(20_001), ok.clone()),
            ("b".to_string(), None, ok),
            ("c".to_string(), None, Some("error".to_string())),
        ]
    );
}

pub(crate) async fn a_health_change_is_recorded_once_with_its_alerts<S: Store>(s: S) {
    s.commit_poll(&commit("a", 1000, &["k1"], vec![]))
        .await
        .unwrap();
    let change = HealthChange {
        feed: "a".into(),
        from: HealthState::Ok,
        to: HealthState::Failing,
        at: 9000,
        deliveries: vec![alert("health:failing:1", "ops", "feed health")],
    };
    assert!(s.record_health(&change).await.unwrap());
    // A second instance deciding the same change from the same old state: nothing.
    assert!(!s.record_health(&change).await.unwrap());
    let h = &s.feed_health().await.unwrap()[0];
    assert_eq!(
        (h.reported, h.reported_at),
        (HealthState::Failing, Some(9000))
    );
    assert_eq!(s.outbox_summary().await.unwrap().pending, 1);
    let due = s.claim_due("ops", 9000, 10_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].created_at, 9000);
    let row = &listed(&s, "pending").await[0];
    assert_eq!(
        (row.watch.as_str(), row.feed.as_str(), row.item_key.as_str()),
        ("feed health", "a", "health:failing:1")
    );
}

/// A change decided from a state that is not the stored one records nothing and enqueues
/// nothing; one from the stored state does, each in turn.
pub(crate) async fn a_health_change_from_a_state_not_stored_is_refused<S: Store>(s: S) {
    s.commit_poll(&commit("a", 1000, &["k1"], vec![]))
        .await
        .unwrap();
    let change = |from, to, at, key: &str| HealthChange {
        feed: "a".into(),
        from,
        to,
        at,
        deliveries: vec![alert(key, "ops", "feed health")],
    };
    use HealthState::{Failing, Ok, Silent};
    assert!(
        !s.record_health(&change(Failing, Ok, 2000, "h1"))
            .await
            .unwrap()
    );
    let h = &s.feed_health().await.unwrap()[0];
    assert_eq!((h.reported, h.reported_at), (Ok, None));
    assert_eq!(s.outbox_summary().await.unwrap().pending, 0);
    assert!(
        s.record_health(&change(Ok, Silent, 3000, "h2"))
            .await
            .unwrap()
    );
    assert!(
        !s.record_health(&change(Failing, Ok, 4000, "h3"))
            .await
            .unwrap()
    );
    assert!(
        s.record_health(&change(Silent, Ok, 5000, "h4"))
            .await
            .unwrap()
    );
    let h = &s.feed_health().await.unwrap()[0];
    assert_eq!((h.reported, h.reported_at), (Ok, Some(5000)));
    let mut keys: Vec<String> = listed(&s, "pending")
        .await
        .into_iter()
        .map(|r| r.item_key)
        .collect();
    keys.sort();
    assert_eq!(keys, ["h2", "h4"]);
}

/// The prune keeps the history's last 31 days behind the newest recorded day, relative to
/// the data rather than the clock (a daemon stopped for a month still shows its last weeks).
pub(crate) async fn history_keeps_about_a_month_behind_the_newest_day<S: Store>(s: S) {
    for d in [0, 10, 40, 41] {
        not_modified(&s, "a", d * DAY).await;
    }
    s.prune(keep_all()).await.unwrap();
    let days: Vec<i64> = s
        .feed_days(0)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.day)
        .collect();
    assert_eq!(days, vec![10, 40, 41]);
}

/// Regression: history written while the clock ran ahead (a machine that booted without
/// time, a state file from one) stayed in the future: the prune, which keeps a month behind
/// the newest day, deleted the real history, and the feed's last item day stayed ahead of
/// now, so it was never judged silent. The start's clamp counts such days on today.
pub(crate) async fn history_of_a_clock_that_ran_ahead_is_counted_on_today<S: Store>(s: S) {
    let today = 20_000;
    s.commit_poll(&commit("a", (today - 1) * DAY, &["k1"], vec![]))
        .await
        .unwrap();
    // Forty days ahead: a poll with a new item and an alert, and a 304.
    let ahead = (today + 40) * DAY;
    s.commit_poll(&commit(
        "a",
        ahead,
        &["k1", "k2"],
        vec![alert("k2", "hook", "w1")],
    ))
    .await
    .unwrap();
    not_modified(&s, "a", ahead + 1000).await;
    not_modified(&s, "a", today * DAY + 5).await;
    s.clamp_times(today * DAY + 10, 0).await.unwrap();
    assert_eq!(
        s.feed_days(0).await.unwrap(),
        vec![day("a", today - 1, 1, 0, 0, 0), day("a", today, 1, 2, 0, 1)]
    );
    let w = watch_alerts(&s).await;
    assert_eq!(w, [("w1".to_string(), today, 1)]);
    // The prune keeps the day before: the newest day is today again.
    s.prune(keep_all()).await.unwrap();
    assert_eq!(s.feed_days(0).await.unwrap().len(), 2);
    // The item that arrived ahead arrived now, as far as silence is judged.
    assert_eq!(
        s.arrivals("a", 0).await.unwrap(),
        [today * DAY + 10],
        "arrivals after the baseline"
    );
    assert_eq!(s.feed_health().await.unwrap()[0].failing_since, None);
}

/// A story update names the item that reported the story again: a new (feed, item) for the
/// watch, but not an alert, so the day's alert count and the watch's total leave it out.
pub(crate) async fn a_story_update_is_not_counted_as_an_alert<S: Store>(s: S) {
    let d0 = 20_000 * DAY;
    s.commit_poll(&commit("a", d0, &["k1"], vec![]))
        .await
        .unwrap();
    s.commit_poll(&commit(
        "a",
        d0 + 10,
        &["k2"],
        vec![alert("k2", "hook", "w")],
    ))
    .await
    .unwrap();
    let mut second = commit("b", d0 + 20, &["x1"], vec![]);
    second.updates = vec![NewUpdate {
        delivery: alert("x1", "hook", "w"),
        story_key: "w/hook/k2".into(),
        alert_item: None,
    }];
    s.commit_poll(&second).await.unwrap();
    let days = s.watch_days(20_000).await.unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].alerts, 1, "{days:?}");
    assert_eq!(s.alert_counts().await.unwrap(), [("w".to_string(), 1)]);
    assert_eq!(s.outbox_summary().await.unwrap().pending, 2);
}
