//! Feed health rules at chosen times: the pure judgement, and whole passes over a store.

use super::*;
use crate::store::sqlite::SqliteStore;
use crate::store::{FailureRecord, PollCommit};

const H: Millis = 3_600_000;
const AFTER: Duration = Duration::from_secs(6 * 3600);

fn facts(last_result: &str, reported: HealthState) -> FeedHealth {
    FeedHealth {
        feed: "f".into(),
        last_result: Some(last_result.into()),
        last_error: Some("HTTP 503".into()),
        last_poll_at: None,
        failing_since: (last_result == "error").then_some(0),
        reported,
        reported_at: None,
        last_item_day: Some(0),
    }
}

/// Regression: failure and silence were measured to now, not to the feed's last poll. After
/// the daemon was down for a day, every feed with a rhythm was reported silent and every feed
/// whose last poll had failed was reported failing, at start, before any poll; and then
/// recovered at its first poll.
#[test]
fn failure_and_silence_are_measured_to_the_last_poll() {
    // Failing for an hour when the daemon stopped; judged 10 h later, before any poll.
    let mut failing = facts("error", HealthState::Ok);
    failing.last_poll_at = Some(H);
    assert_eq!(judge("f", &failing, None, 11 * H, AFTER), None);
    // Its next poll fails too: now it has failed for 6 h and more.
    failing.last_poll_at = Some(11 * H);
    let v = judge("f", &failing, None, 11 * H, AFTER).unwrap();
    assert_eq!(v.kind, Kind::Failing);
    // Hourly items until 10 h, last polled at 11 h (fine); judged a day later, before any poll.
    let arrivals: Vec<Millis> = (0..=10).map(|i| i * H).collect();
    let mut quiet = facts("ok", HealthState::Ok);
    quiet.last_poll_at = Some(11 * H);
    assert_eq!(judge("f", &quiet, Some(&arrivals), 35 * H, AFTER), None);
    // Polled at 35 h with still nothing new: silent.
    quiet.last_poll_at = Some(35 * H);
    let v = judge("f", &quiet, Some(&arrivals), 35 * H, AFTER).unwrap();
    assert_eq!(v.kind, Kind::Silent);
}

#[test]
fn a_feed_fails_after_health_after_and_recovers_once() {
    let failing = facts("error", HealthState::Ok);
    assert_eq!(judge("f", &failing, None, 6 * H - 1, AFTER), None);
    let v = judge("f", &failing, None, 6 * H, AFTER).unwrap();
    assert_eq!((v.kind, v.to), (Kind::Failing, HealthState::Failing));
    assert_eq!(v.title, "Feed failing for 6h: f");
    assert!(v.detail.ends_with("Last error: HTTP 503"), "{}", v.detail);
    // Reported: nothing more while it fails.
    let reported = facts("error", HealthState::Failing);
    assert_eq!(judge("f", &reported, None, 100 * H, AFTER), None);
    for ok in ["ok", "not_modified"] {
        let v = judge("f", &facts(ok, HealthState::Failing), None, 7 * H, AFTER).unwrap();
        assert_eq!((v.kind, v.to), (Kind::Recovered, HealthState::Ok));
    }
    // A success resets the run: failing_since is only read while the last poll failed.
    let mut stale = facts("ok", HealthState::Ok);
    stale.failing_since = Some(0);
    assert_eq!(judge("f", &stale, None, 100 * H, AFTER), None);
}

#[test]
fn silence_is_judged_against_the_feeds_own_rhythm() {
    // Every 6 h: 24 h floor. Every 20 h: 60 h. Four arrivals: no rhythm yet.
    let every = |gap: Millis, n: i64| (0..n).map(|i| i * gap).collect::<Vec<_>>();
    assert_eq!(silence_after(&every(6 * H, 5)), Some(24 * H));
    assert_eq!(silence_after(&every(20 * H, 5)), Some(60 * H));
    assert_eq!(silence_after(&every(H, 4)), None);
    // The median, not the mean: one long gap does not stretch it.
    assert_eq!(
        silence_after(&[0, H, 2 * H, 3 * H, 4 * H, 400 * H]),
        Some(24 * H)
    );

    let arrivals = every(6 * H, 8); // last at 42 h
    let ok = facts("ok", HealthState::Ok);
    assert_eq!(judge("f", &ok, Some(&arrivals), 66 * H, AFTER), None);
    let v = judge("f", &ok, Some(&arrivals), 66 * H + 1, AFTER).unwrap();
    assert_eq!((v.kind, v.to), (Kind::Silent, HealthState::Silent));
    assert!(v.detail.contains("every 6h"), "{}", v.detail);
    // Too few arrivals: never silent.
    assert_eq!(judge("f", &ok, Some(&arrivals[..4]), 1000 * H, AFTER), None);
    // Quiet is counted from a recovery too: a feed back from failing is not silent at once.
    let mut back = ok.clone();
    back.reported_at = Some(60 * H);
    assert_eq!(judge("f", &back, Some(&arrivals), 70 * H, AFTER), None);
    assert!(judge("f", &back, Some(&arrivals), 84 * H + 1, AFTER).is_some());
    // Silent, then an item after the report: publishing again, once.
    let mut silent = facts("ok", HealthState::Silent);
    silent.reported_at = Some(70 * H);
    assert_eq!(judge("f", &silent, Some(&[]), 80 * H, AFTER), None);
    let v = judge("f", &silent, Some(&[75 * H]), 80 * H, AFTER).unwrap();
    assert_eq!((v.kind, v.to), (Kind::Recovered, HealthState::Ok));
    // A silent feed that starts failing is reported failing.
    let mut broke = facts("error", HealthState::Silent);
    broke.failing_since = Some(70 * H);
    let v = judge("f", &broke, Some(&[]), 76 * H, AFTER).unwrap();
    assert_eq!(v.kind, Kind::Failing);
}

#[test]
fn only_feeds_quiet_since_before_yesterday_are_looked_at() {
    let day = 86_400_000;
    let mut h = facts("ok", HealthState::Ok);
    h.last_item_day = Some(10);
    // An item on day 10 may be from its first millisecond: over 24 h old from day 11 on.
    assert!(!may_be_silent(&h, 11 * day - 1));
    assert!(may_be_silent(&h, 11 * day + 1));
    assert!(may_be_silent(&h, 12 * day));
    h.last_item_day = None;
    assert!(!may_be_silent(&h, 12 * day));
    assert!(!may_be_silent(&facts("error", HealthState::Ok), 12 * day));
}

#[test]
fn spans_read_well() {
    assert_eq!(span(6 * H), "6h");
    assert_eq!(span(6 * H + 12 * 60_000), "6h 12m");
    assert_eq!(span(50 * H), "2d 2h");
    assert_eq!(span(1500), "1s");
    assert_eq!(span(40 * 60_000), "40m");
}

fn plan() -> Plan {
    crate::plan::load_str(
        std::path::Path::new("t.toml"),
        "[daemon]\nhealth_sinks = [\"ops\", \"pager\"]\nhealth_after = \"2h\"\n\n\
         [[feed]]\nname = \"f\"\nurl = \"https://user:pw@f.example/rss\"\n\n\
         [[sink]]\nname = \"ops\"\ntype = \"stdout\"\n\n\
         [[sink]]\nname = \"pager\"\ntype = \"stdout\"\n"
            .to_string(),
    )
    .unwrap()
}

async fn fail(s: &SqliteStore, now: Millis) {
    s.record_failure(&FailureRecord {
        feed: "f",
        config_url: "https://user:pw@f.example/rss",
        error: "HTTP 503",
        failures: 1,
        html_streak: 0,
        now,
        next_poll_at: now + 60_000,
    })
    .await
    .unwrap();
}

fn commit(now: Millis, keys: &[&str]) -> PollCommit {
    PollCommit {
        feed: "f".into(),
        config_url: "https://user:pw@f.example/rss".into(),
        now,
        next_poll_at: now + 60_000,
        item_keys: keys.iter().map(|k| k.to_string()).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn each_change_is_recorded_and_enqueued_once_per_sink() {
    let s = SqliteStore::in_memory().await.unwrap();
    let p = plan();
    let t0 = 1_000 * H;
    s.commit_poll(&commit(t0, &["a"])).await.unwrap();
    fail(&s, t0 + H).await;
    assert!(evaluate(&s, &p, t0 + 2 * H).await.unwrap().is_empty());
    // Measured to the last poll: failing since t0 + 1 h, polled (and failing) at t0 + 3 h.
    fail(&s, t0 + 3 * H).await;
    assert_eq!(evaluate(&s, &p, t0 + 3 * H).await.unwrap(), [Kind::Failing]);
    assert!(evaluate(&s, &p, t0 + 4 * H).await.unwrap().is_empty());
    let due = s
        .claim_due("ops", t0 + 4 * H, t0 + 5 * H, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    let a: Alert = serde_json::from_str(&due[0].alert_json).unwrap();
    assert_eq!(a.watch, HEALTH_WATCH);
    assert_eq!(a.feed, "f");
    assert!(a.snippet.text.contains("HTTP 503"), "{}", a.snippet.text);
    assert!(
        !a.link.unwrap_or_default().contains("pw"),
        "the link is redacted"
    );
    s.commit_poll(&commit(t0 + 5 * H, &["a"])).await.unwrap();
    assert_eq!(
        evaluate(&s, &p, t0 + 5 * H).await.unwrap(),
        [Kind::Recovered]
    );
    assert!(evaluate(&s, &p, t0 + 6 * H).await.unwrap().is_empty());
    // Each change once to each health sink, under keys of its own (a key shared by the two
    // sinks lost the second's row to the outbox's unique key).
    assert_eq!(s.outbox_summary().await.unwrap().pending, 4);
    let mut keys = std::collections::HashSet::new();
    for sink in ["ops", "pager"] {
        let rows = s.claim_due(sink, t0 + 6 * H, t0 + 7 * H, 10).await.unwrap();
        assert_eq!(rows.len(), 2, "{sink}: failing and recovered");
        keys.extend(rows.into_iter().map(|r| r.idem_key));
    }
    assert_eq!(keys.len(), 4, "{keys:?}");
    // Without health sinks, nothing is judged (and nothing recorded).
    let mut off = p.clone();
    off.daemon.health.sinks.clear();
    fail(&s, t0 + 7 * H).await;
    assert!(evaluate(&s, &off, t0 + 100 * H).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_feed_silent_against_its_rhythm_is_reported_then_publishing_again() {
    let s = SqliteStore::in_memory().await.unwrap();
    let p = plan();
    let t0 = 1_000 * H;
    s.commit_poll(&commit(t0, &["base"])).await.unwrap();
    for i in 1..=6 {
        s.commit_poll(&commit(t0 + i * 6 * H, &[&format!("k{i}")]))
            .await
            .unwrap();
    }
    // Last item at t0 + 36 h; polled fine (304s) ever since.
    s.record_not_modified("f", "https://user:pw@f.example/rss", t0 + 80 * H, 0)
        .await
        .unwrap();
    assert!(evaluate(&s, &p, t0 + 59 * H).await.unwrap().is_empty());
    assert_eq!(evaluate(&s, &p, t0 + 61 * H).await.unwrap(), [Kind::Silent]);
    assert!(evaluate(&s, &p, t0 + 90 * H).await.unwrap().is_empty());
    s.commit_poll(&commit(t0 + 95 * H, &["new"])).await.unwrap();
    assert_eq!(
        evaluate(&s, &p, t0 + 95 * H).await.unwrap(),
        [Kind::Recovered]
    );
    assert!(evaluate(&s, &p, t0 + 96 * H).await.unwrap().is_empty());
}

/// Regression: arrivals were read over the 14 days before now, so a feed publishing every 3
/// days (silent after 9) had two arrivals left in that window when its silence was due: no
/// rhythm, and it was never reported silent.
#[tokio::test]
async fn a_feed_publishing_every_three_days_is_reported_silent() {
    let s = SqliteStore::in_memory().await.unwrap();
    let p = plan();
    let t0 = 1_000 * H;
    s.commit_poll(&commit(t0, &["base"])).await.unwrap();
    for i in 1..=5 {
        s.commit_poll(&commit(t0 + i * 72 * H, &[&format!("k{i}")]))
            .await
            .unwrap();
    }
    // Last item at t0 + 15 days; polled fine ever since. Silent after 3 × 3 days.
    let last = t0 + 360 * H;
    s.record_not_modified("f", "https://user:pw@f.example/rss", last + 300 * H, 0)
        .await
        .unwrap();
    assert!(evaluate(&s, &p, last + 215 * H).await.unwrap().is_empty());
    assert_eq!(
        evaluate(&s, &p, last + 217 * H).await.unwrap(),
        [Kind::Silent]
    );
}

#[test]
fn the_loop_turns_at_a_quarter_of_health_after_within_bounds() {
    assert_eq!(period(Duration::from_secs(2)), Duration::from_secs(1));
    assert_eq!(period(Duration::from_secs(120)), Duration::from_secs(30));
    assert_eq!(period(AFTER), Duration::from_secs(60));
}

/// Regression: the failing alert quoted the stored error as it was, where the status page
/// shows it redacted: an error stored by an earlier release could send a feed URL's token
/// (and control characters) to the health sinks.
#[test]
fn a_failing_alert_shows_the_error_as_the_status_page_does() {
    let mut failing = facts("error", HealthState::Ok);
    failing.last_error = Some("HTTP 503 (https://news.example/feed?token=s3cret)\u{1b}[31m".into());
    let v = judge("f", &failing, None, 6 * H, AFTER).unwrap();
    assert!(!v.detail.contains("s3cret"), "{}", v.detail);
    assert!(!v.detail.contains('\u{1b}'), "{}", v.detail);
    assert!(v.detail.contains("HTTP 503"), "{}", v.detail);
}

/// Regression: a store error on one feed's health row ended the whole pass (`?`), so every
/// feed judged after it went unreported, and the log named no feed. The pass goes on.
#[tokio::test]
async fn a_feed_whose_health_cannot_be_recorded_does_not_hold_back_the_others() {
    let s = SqliteStore::in_memory().await.unwrap();
    let p = crate::plan::load_str(
        std::path::Path::new("t.toml"),
        "[daemon]\nhealth_sinks = [\"ops\"]\nhealth_after = \"2h\"\n\n\
         [[feed]]\nname = \"a\"\nurl = \"https://a.example/rss\"\n\n\
         [[feed]]\nname = \"b\"\nurl = \"https://b.example/rss\"\n\n\
         [[sink]]\nname = \"ops\"\ntype = \"stdout\"\n"
            .to_string(),
    )
    .unwrap();
    let t0 = 1_000 * H;
    for at in [t0 + H, t0 + 3 * H] {
        for feed in ["a", "b"] {
            s.record_failure(&FailureRecord {
                feed,
                config_url: &format!("https://{feed}.example/rss"),
                error: "HTTP 503",
                failures: 1,
                html_streak: 0,
                now: at,
                next_poll_at: at + 60_000,
            })
            .await
            .unwrap();
        }
    }
    // Feed a's row refuses its report (judged first, by name).
    sqlx::query(
        "CREATE TRIGGER broken_a BEFORE UPDATE OF reported ON feed_health
         WHEN NEW.feed = 'a' BEGIN SELECT RAISE(ABORT, 'a broken row'); END",
    )
    .execute(s.pool())
    .await
    .unwrap();
    assert_eq!(evaluate(&s, &p, t0 + 3 * H).await.unwrap(), [Kind::Failing]);
    let due = s
        .claim_due("ops", t0 + 3 * H, t0 + 4 * H, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert!(
        due[0].alert_json.contains("\"feed\":\"b\""),
        "{}",
        due[0].alert_json
    );
}
