//! Scheduling arithmetic and whole polls against local files and an in-memory store.

use super::*;
use crate::daemon::stories::Stories;
use crate::semantic::runtime::Semantic;

fn pages_for(f: &Fetcher) -> Pages {
    let limits = std::sync::Arc::new(crate::feed::limits::FetchLimits::new(8, 2));
    Pages::new(f.clone(), limits)
}

fn net_for<'a>(fetcher: &'a Fetcher, pages: &'a Pages) -> Net<'a> {
    Net { fetcher, pages }
}

/// One poll of `feed` with no story grouping and no semantic watches, as a fresh daemon runs it.
pub(super) async fn poll_plain<S: crate::store::Store>(
    store: &S,
    plan: &Plan,
    feed: &crate::config::FeedPlan,
    state: Option<&FeedState>,
) -> Result<PollResult, StoreError> {
    poll_grouped(store, plan, feed, state, &Stories::default()).await
}

/// [`poll_plain`] with the daemon's story grouping `stories`, kept across polls.
pub(super) async fn poll_grouped<S: crate::store::Store>(
    store: &S,
    plan: &Plan,
    feed: &crate::config::FeedPlan,
    state: Option<&FeedState>,
    stories: &Stories,
) -> Result<PollResult, StoreError> {
    let fetcher = Fetcher::new(crate::feed::fetch::FetchOptions::default()).unwrap();
    let pages = pages_for(&fetcher);
    let judges = Judges {
        stories,
        semantic: &Semantic::default(),
    };
    refresh_feed(
        store,
        net_for(&fetcher, &pages),
        judges,
        plan,
        feed,
        state,
        Permits::none(),
    )
    .await
}

/// A feed file of one item, `a`, that a "North Korean troops" watch matches.
fn troops_feed(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("f.xml");
    std::fs::write(
        &path,
        "<rss version=\"2.0\"><channel><title>t</title><item><guid>a</guid>\
         <title>North Korean troops in Kursk</title></item></channel></rss>",
    )
    .unwrap();
    path
}

fn plan() -> Plan {
    crate::plan::load_str(
        std::path::Path::new("t.toml"),
        "[daemon]\npoll_interval = \"60s\"\nbackoff_cap = \"1h\"\n\n\
         [[feed]]\nname = \"f\"\nurl = \"https://x.example/rss\"\n\n\
         [[feed]]\nname = \"fast\"\nurl = \"https://y.example/rss\"\ninterval = \"1s\"\n"
            .to_string(),
    )
    .unwrap()
}

#[test]
fn a_baseline_waits_anywhere_in_the_interval_so_a_burst_of_new_feeds_spreads_out() {
    let p = plan();
    let f = &p.feeds[0];
    // 60 s interval: offsets over 3–60 s, in every tenth of it.
    let mut tenths = [0usize; 10];
    for _ in 0..2_000 {
        let at = next_after_success(&p, f, 0, &[], true);
        assert!((3_000..=60_000).contains(&at), "{at}");
        tenths[((at - 1) / 6_000) as usize] += 1;
    }
    for (i, n) in tenths.iter().enumerate().skip(1) {
        assert!(*n > 120, "tenth {i}: {tenths:?}");
    }
    // The publisher's hint still holds.
    let at = next_after_success(&p, f, 0, &[Some(Duration::from_secs(600))], true);
    assert_eq!(at, 600_000);
}

#[test]
fn success_waits_the_jittered_interval_or_the_publishers_hint() {
    let p = plan();
    let f = &p.feeds[0];
    for _ in 0..50 {
        let at = next_after_success(&p, f, 0, &[], false);
        assert!((54_000..=60_000).contains(&at), "{at}");
        // max-age / ttl are lower bounds...
        let at = next_after_success(&p, f, 0, &[Some(Duration::from_secs(600)), None], false);
        assert_eq!(at, 600_000);
        // ...capped at max(interval, 15 min), not at backoff_cap.
        let at = next_after_success(&p, f, 0, &[Some(Duration::from_secs(86_400 * 365))], false);
        assert_eq!(at, 900_000);
    }
    // The floor (min_poll_interval, 30 s by default) wins over a shorter feed interval.
    assert_eq!(interval(&p, &p.feeds[1]), Duration::from_secs(30));
}

/// Regression: a CDN's `Cache-Control: max-age=3600` stretched a 2-minute feed to hourly
/// polls (hints were capped only at backoff_cap, 6 h).
#[test]
fn cache_hints_delay_a_poll_by_at_most_max_of_interval_and_15_minutes() {
    let p = crate::plan::load_str(
        std::path::Path::new("t.toml"),
        "[[feed]]\nname = \"two\"\nurl = \"https://x.example/rss\"\ninterval = \"2m\"\n\n\
         [[feed]]\nname = \"hourly\"\nurl = \"https://y.example/rss\"\ninterval = \"1h\"\n"
            .to_string(),
    )
    .unwrap();
    let hour = Some(Duration::from_secs(3600));
    for _ in 0..50 {
        assert_eq!(
            next_after_success(&p, &p.feeds[0], 0, &[hour], false),
            900_000
        );
        // A feed polled hourly anyway may wait out an hour-long hint...
        let at = next_after_success(&p, &p.feeds[1], 0, &[hour], false);
        assert_eq!(at, 3_600_000);
        // ...but not a day-long one.
        let at = next_after_success(
            &p,
            &p.feeds[1],
            0,
            &[Some(Duration::from_secs(86_400))],
            false,
        );
        assert_eq!(at, 3_600_000);
    }
}

#[test]
fn failures_back_off_exponentially_capped_and_honour_retry_after() {
    let p = plan();
    let f = &p.feeds[0];
    for _ in 0..50 {
        let a1 = next_after_failure(&p, f, 0, 1, None);
        assert!((30_000..=60_000).contains(&a1), "{a1}");
        let a3 = next_after_failure(&p, f, 0, 3, None);
        assert!((120_000..=240_000).contains(&a3), "{a3}");
        // Capped, never disabled.
        let a = next_after_failure(&p, f, 0, 1000, None);
        assert!((1_800_000..=3_600_000).contains(&a), "{a}");
        let a = next_after_failure(&p, f, 0, 1, Some(Duration::from_secs(300)));
        assert!(a >= 300_000);
    }
}

/// Regression: a failure's retry was drawn from half the interval up, so a feed polled at
/// `min_poll_interval` was retried after 15 s when it failed, more often than any feed may be.
#[test]
fn a_failing_feed_is_never_polled_more_often_than_min_poll_interval() {
    let p = crate::plan::load_str(
        std::path::Path::new("t.toml"),
        "[daemon]\nmin_poll_interval = \"30s\"\n\n\
         [[feed]]\nname = \"fast\"\nurl = \"https://x.example/rss\"\ninterval = \"30s\"\n"
            .to_string(),
    )
    .unwrap();
    for _ in 0..50 {
        let a = next_after_failure(&p, &p.feeds[0], 0, 1, None);
        assert!((30_000..=30_000).contains(&a), "{a}");
    }
    // And `check` refuses a cap below that floor.
    let e = crate::plan::load_str(
        std::path::Path::new("t.toml"),
        "[daemon]\nbackoff_cap = \"10s\"\n".to_string(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("t.toml:2:15: `backoff_cap` (10s) is shorter than `min_poll_interval` (30s)"),
        "{e}"
    );
    // Also when only `min_poll_interval` is set, above the default cap (6 h).
    let e = crate::plan::load_str(
        std::path::Path::new("t.toml"),
        "[daemon]\nmin_poll_interval = \"7h\"\npoll_interval = \"8h\"\n".to_string(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(
            "t.toml:2:21: `backoff_cap` (21600s) is shorter than `min_poll_interval` (25200s)"
        ),
        "{e}"
    );
    // A cap written wrong has its own error, not this one about the default.
    let e = crate::plan::load_str(
        std::path::Path::new("t.toml"),
        "[daemon]\nmin_poll_interval = \"7h\"\npoll_interval = \"8h\"\nbackoff_cap = \"6 hourz\"\n"
            .to_string(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("backoff_cap") && !e.contains("is shorter than"),
        "{e}"
    );
}

/// Regression: `Retry-After` was counted from the poll's start, not from the answer: a 503
/// that came 25 s into the poll with `Retry-After: 120` had the feed asked again 95 s after it.
#[tokio::test]
async fn retry_after_counts_from_the_answer_not_the_polls_start() {
    let p = plan();
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    let failed = Failed {
        config_url: "https://x.example/rss",
        failures: 0,
        html_streak: 0,
        now: 1_000_000,
        fetched_in: Duration::from_secs(25),
    };
    for _ in 0..20 {
        let r = failed
            .record(
                &store,
                &p,
                &p.feeds[0],
                "HTTP 503",
                Some(Duration::from_secs(120)),
            )
            .await
            .unwrap();
        assert!(r.next_in >= Duration::from_secs(145), "{:?}", r.next_in);
    }
}

/// Regression: a page's linked feed that answered `Retry-After` had it dropped on the way up
/// (wrapped as a discovery error), so the next poll came on the plain backoff and fetched the
/// page and the feed again, however long the server asked to wait.
#[test]
fn retry_after_of_a_discovered_feed_is_kept() {
    use crate::feed::fetch::FetchError;
    use crate::feed::poll::PollError;
    let e = PollError::Discovery {
        page: "https://x.example/".into(),
        link: "https://x.example/feed".into(),
        source: Box::new(PollError::Fetch(FetchError::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(3600)),
        })),
    };
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3600)));
}

/// Regression: a poll whose commit the database refused (on PostgreSQL, an index entry too
/// long) recorded nothing: no failure, no error for the operator, no backoff; the feed was
/// fetched in full again a minute later, and failed again, for good.
/// A plan polling [`troops_feed`] (written in `dir`) every ten minutes.
fn troops_every_ten_minutes(dir: &std::path::Path) -> Plan {
    let feed_path = troops_feed(dir);
    crate::plan::load_str(
        std::path::Path::new("t.toml"),
        format!(
            "[daemon]\npoll_interval = \"10m\"\n\n[[feed]]\nname = \"f\"\nurl = \"{}\"\n",
            feed_path.display()
        ),
    )
    .unwrap()
}

#[tokio::test]
async fn a_poll_the_database_refuses_to_store_is_a_failed_poll_with_backoff() {
    use crate::store::Store;
    use crate::store::sqlite::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let plan = troops_every_ten_minutes(dir.path());
    let store = SqliteStore::in_memory().await.unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse BEFORE INSERT ON seen BEGIN SELECT RAISE(ABORT, 'refused'); END",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let before = FeedState {
        feed: "f".into(),
        config_url: plan.feeds[0].source.to_string(),
        failures: 1,
        ..FeedState::default()
    };
    let r = poll_plain(&store, &plan, &plan.feeds[0], Some(&before))
        .await
        .unwrap();
    assert!(
        matches!(&r.outcome, Refreshed::Failed { error } if error.contains("refused")),
        "{:?}",
        r.outcome
    );
    // The second failure in a row: 10 min doubled, jittered over its upper half.
    assert!(r.next_in >= Duration::from_secs(10 * 60), "{:?}", r.next_in);
    let stored = store.feed_state("f").await.unwrap().unwrap();
    assert_eq!(stored.failures, 2);
    assert!(
        stored
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("cannot store this poll"),
        "{:?}",
        stored.last_error
    );
    assert!(
        store
            .known_items("f", &["a".into()])
            .await
            .unwrap()
            .is_empty()
    );
}

/// Regression: a poll whose seen items could not be read (PostgreSQL refused a key holding
/// NUL) was rescheduled a minute later with nothing recorded: the feed was fetched in full
/// every minute for good, with no failure count, backoff or error for the operator.
#[tokio::test]
async fn a_poll_whose_seen_items_cannot_be_read_is_a_failed_poll_with_backoff() {
    use crate::store::Store;
    use crate::store::sqlite::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let plan = troops_every_ten_minutes(dir.path());
    let store = SqliteStore::in_memory().await.unwrap();
    sqlx::query("ALTER TABLE seen RENAME TO seen_elsewhere")
        .execute(store.pool())
        .await
        .unwrap();
    let r = poll_plain(&store, &plan, &plan.feeds[0], None)
        .await
        .unwrap();
    assert!(
        matches!(&r.outcome, Refreshed::Failed { error } if error.contains("which of this poll's items were seen")),
        "{:?}",
        r.outcome
    );
    assert!(r.next_in >= Duration::from_secs(5 * 60), "{:?}", r.next_in);
    let stored = store.feed_state("f").await.unwrap().unwrap();
    assert_eq!(stored.failures, 1);
}

/// Regression: a feed moved to a new address by a reload kept the old address's failure
/// count: the new address's first failure (its DNS not ready yet) waited out the backoff of
/// the old one's sixth, up to `backoff_cap`, instead of one interval.
#[tokio::test]
async fn a_new_address_does_not_inherit_the_old_ones_failures() {
    use crate::store::Store;
    use crate::store::sqlite::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let plan = crate::plan::load_str(
        std::path::Path::new("t.toml"),
        format!(
            "[daemon]\npoll_interval = \"10m\"\n\n[[feed]]\nname = \"f\"\nurl = \"{}\"\n",
            dir.path().join("not-there-yet.xml").display()
        ),
    )
    .unwrap();
    let store = SqliteStore::in_memory().await.unwrap();
    let before = FeedState {
        feed: "f".into(),
        config_url: "https://old.example/rss".into(),
        failures: 6,
        html_streak: 2,
        ..FeedState::default()
    };
    let r = poll_plain(&store, &plan, &plan.feeds[0], Some(&before))
        .await
        .unwrap();
    assert!(
        matches!(r.outcome, Refreshed::Failed { .. }),
        "{:?}",
        r.outcome
    );
    assert!(r.next_in <= Duration::from_secs(10 * 60), "{:?}", r.next_in);
    let stored = store.feed_state("f").await.unwrap().unwrap();
    assert_eq!((stored.failures, stored.html_streak), (1, 0));
}

/// Regression guard: the exactly-once tests passed with the "already seen" filter removed,
/// because the outbox's unique key dropped the repeats silently; once sent rows are pruned
/// (after a week) only the seen keys stand between an old item and a second alert.
#[tokio::test]
async fn an_item_seen_before_does_not_alert_again_after_its_sent_row_is_pruned() {
    use crate::store::sqlite::SqliteStore;
    use crate::store::{PruneRules, Store};
    let dir = tempfile::tempdir().unwrap();
    let feed_path = troops_feed(dir.path());
    let plan = crate::plan::load_str(
        std::path::Path::new("t.toml"),
        format!(
            "[daemon]\non_new_feed = \"all\"\n\n[[feed]]\nname = \"f\"\nurl = \"{}\"\n\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"North Korean troops\"]\nsinks = [\"out\"]\n",
            feed_path.display()
        ),
    )
    .unwrap();
    let store = SqliteStore::in_memory().await.unwrap();
    let feed = &plan.feeds[0];
    let first = poll_plain(&store, &plan, feed, None).await.unwrap();
    assert!(
        matches!(first.outcome, Refreshed::Ok { enqueued: 1, .. }),
        "{:?}",
        first.outcome
    );
    let now = crate::store::now_millis();
    let claimed = store.claim_due("out", now, now + 60_000, 10).await.unwrap();
    store.mark_sent(&[claimed[0].id], now).await.unwrap();
    store
        .prune(PruneRules {
            seen_before: 0,
            links_before: 0,
            sent_before: now + 1,
            dead_before: 0,
            removed_before: 0,
            stories_before: 0,
        })
        .await
        .unwrap();
    assert_eq!(store.outbox_summary().await.unwrap().sent, 0);
    // The same document again, fetched in full (a file has no validators).
    let stored = store.feed_state(&feed.name).await.unwrap();
    let again = poll_plain(&store, &plan, feed, stored.as_ref())
        .await
        .unwrap();
    assert!(
        matches!(
            again.outcome,
            Refreshed::Ok {
                new_items: 0,
                enqueued: 0,
                ..
            }
        ),
        "{:?}",
        again.outcome
    );
    assert_eq!(store.outbox_summary().await.unwrap().pending, 0);
}

/// One successful poll of feed `f` at `path`, from its stored state; the alerts it queued.
pub(super) async fn enqueued_by_poll(
    store: &crate::store::sqlite::SqliteStore,
    path: &std::path::Path,
) -> usize {
    let plan = file_plan(path, "off");
    let state = store.feed_state("f").await.unwrap();
    let done = poll_plain(store, &plan, &plan.feeds[0], state.as_ref())
        .await
        .unwrap();
    match done.outcome {
        Refreshed::Ok { enqueued, .. } => enqueued,
        o => panic!("{o:?}"),
    }
}

pub(super) fn file_plan(feed: &std::path::Path, archive: &str) -> Plan {
    crate::plan::load_str(
        std::path::Path::new("t.toml"),
        format!(
            "[daemon]\narchive = \"{archive}\"\n\n[[feed]]\nname = \"f\"\nurl = \"{}\"\n\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"troops\"]\nsinks = [\"out\"]\n",
            feed.display()
        ),
    )
    .unwrap()
}

pub(super) fn rss(guids: &[&str]) -> String {
    let items: String = guids
        .iter()
        .map(|g| format!("<item><guid>{g}</guid><title>troops {g}</title></item>"))
        .collect();
    format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>")
}

async fn archived_items(store: &crate::store::sqlite::SqliteStore) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut dec = crate::store::archive::ArchiveDecoder::default();
    for row in store.archive_page(0, 0, 100).await.unwrap() {
        dec.decode(&row, &mut out).unwrap();
    }
    out.into_iter()
        .map(|a| (a.item.key.0, a.alertable))
        .collect()
}

#[tokio::test]
async fn new_items_are_archived_with_whether_they_were_matched_and_off_archives_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    for (setting, want_on) in [("14d", true), ("off", false)] {
        let plan = file_plan(&path, setting);
        let store = crate::store::sqlite::SqliteStore::in_memory()
            .await
            .unwrap();
        std::fs::write(&path, rss(&["a", "b"])).unwrap();
        poll_plain(&store, &plan, &plan.feeds[0], None)
            .await
            .unwrap();
        std::fs::write(&path, rss(&["c", "a", "b"])).unwrap();
        let stored = store.feed_state(&plan.feeds[0].name).await.unwrap();
        let again = poll_plain(&store, &plan, &plan.feeds[0], stored.as_ref())
            .await
            .unwrap();
        assert!(
            matches!(again.outcome, Refreshed::Ok { enqueued: 1, .. }),
            "{:?}",
            again.outcome
        );
        let got = archived_items(&store).await;
        if want_on {
            // The baselined backlog is archived but was never alertable (oldest first: the
            // undated document's order reversed); the known items of the second poll are not
            // archived again.
            let want = [("b", false), ("a", false), ("c", true)];
            let want: Vec<(String, bool)> = want.iter().map(|(k, a)| (k.to_string(), *a)).collect();
            assert_eq!(got, want);
        } else {
            assert_eq!(got, vec![]);
            assert_eq!(store.archive_totals(0).await.unwrap().records, 0);
        }
    }
}

/// Regression: the URL a feed moved to (a permanent redirect, an HTML page's feed link) was
/// polled from then on as if the operator had configured it: a public feed that once
/// redirected to a name later pointed at a private address was fetched there. The configured
/// URL decides: a public one (an address of the public internet, never connected to here)
/// does not lead to loopback, and the poll fails before any connection.
#[tokio::test]
async fn a_public_feed_moved_to_a_private_address_is_not_polled_there() {
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    let plan = crate::plan::load_str(
        std::path::Path::new("t.toml"),
        "[[feed]]\nname = \"f\"\nurl = \"http://8.8.8.8/rss\"\n".to_string(),
    )
    .unwrap();
    let feed = &plan.feeds[0];
    let state = FeedState {
        feed: "f".into(),
        config_url: feed.source.to_string(),
        // Nothing listens on the discard port: a connection would fail otherwise.
        moved_url: Some("http://127.0.0.1:9/rss".into()),
        baselined: true,
        ..FeedState::default()
    };
    let result = poll_plain(&store, &plan, feed, Some(&state)).await.unwrap();
    let Refreshed::Failed { error } = result.outcome else {
        panic!("{:?}", result.outcome)
    };
    assert!(
        error.contains(
            "127.0.0.1 is a private address and the feed's configured URL (8.8.8.8) is not"
        ),
        "{error}"
    );
}
