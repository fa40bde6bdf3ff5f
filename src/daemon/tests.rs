//! Unit tests of the daemon: settings and the listener kept over a reload, the watchdog, the prune loop's retention rules.

use super::reload::{keep_listener, keep_start_settings};
use super::*;
use std::os::unix::net::UnixDatagram;

fn plan(daemon: &str) -> Plan {
    let toml =
        format!("[daemon]\n{daemon}\n[[feed]]\nname = \"f\"\nurl = \"https://news.example/rss\"\n");
    crate::plan::load_str(Path::new("t.toml"), toml).unwrap()
}

/// Regression: a reload that changed a setting read at start only (`state`, `lease`,
/// `user_agent`, ...) logged "configuration reloaded" and published the new value, which
/// nothing used.
#[test]
fn a_reload_keeps_and_names_the_settings_read_at_start() {
    let running = plan("state = \"a.db\"\nuser_agent = \"nw/1\"\nretention = \"30d\"");
    let mut new = plan(
        "state = \"b.db\"\nuser_agent = \"nw/2\"\nlease = \"60s\"\nmax_concurrent_fetches = 4\n\
         fetch_timeout = \"5s\"\nmax_body_size = \"1MiB\"\nper_host_concurrency = 1\n\
         shutdown_grace = \"5s\"\nlog_level = \"debug\"\nretention = \"60d\"",
    );
    let changed = keep_start_settings(&running, &mut new);
    assert_eq!(
        changed,
        [
            "state",
            "lease",
            "max_concurrent_fetches",
            "per_host_concurrency",
            "fetch_timeout",
            "user_agent",
            "max_body_size",
            "shutdown_grace",
            "log_level"
        ]
    );
    let (old, d) = (&running.daemon, &new.daemon);
    assert_eq!(
        (&d.state, &d.user_agent, d.lease),
        (&old.state, &old.user_agent, old.lease)
    );
    assert_eq!(
        (
            d.max_concurrent_fetches,
            d.per_host_concurrency,
            d.fetch_timeout
        ),
        (
            old.max_concurrent_fetches,
            old.per_host_concurrency,
            old.fetch_timeout
        )
    );
    assert_eq!(
        (d.max_body_size, d.shutdown_grace, &d.log_level),
        (old.max_body_size, old.shutdown_grace, &old.log_level)
    );
    // What a reload does apply stays new.
    assert_eq!(d.retention, Duration::from_secs(60 * 86_400));
    let mut same = plan("state = \"a.db\"\nuser_agent = \"nw/1\"");
    assert!(keep_start_settings(&running, &mut same).is_empty());
    let pg = plan("state = \"postgres://u:p@localhost/db\"");
    let mut other_pg = plan("state = \"postgres://u:p@localhost/other\"");
    assert_eq!(keep_start_settings(&pg, &mut other_pg), ["state"]);
}

/// Regression: a reload that dropped `listen_token` (with `listen` set back to loopback in
/// the file, or under `run --listen`) opened the still-bound open address to anyone.
#[test]
fn a_reload_keeps_the_bound_listener_and_refuses_to_drop_its_token() {
    let open = plan("listen = \"0.0.0.0:9480\"\nlisten_token = \"s3cret-token\"");
    let mut dropped = plan("listen = \"127.0.0.1:9480\"");
    let e = keep_listener(&open, &mut dropped).unwrap_err();
    assert!(
        e.contains("0.0.0.0:9480") && e.contains("listen_token"),
        "{e}"
    );

    let mut kept = plan("listen = \"127.0.0.1:9999\"\nlisten_token = \"other-token\"");
    keep_listener(&open, &mut kept).unwrap();
    assert_eq!(
        kept.daemon.listen, open.daemon.listen,
        "listen is read at start only"
    );

    // On loopback no token is needed, before or after.
    let local = plan("listen = \"127.0.0.1:9480\"");
    let mut new = plan("listen = \"0.0.0.0:9480\"\nlisten_token = \"s3cret-token\"");
    keep_listener(&local, &mut new).unwrap();
    assert_eq!(new.daemon.listen, local.daemon.listen);
}

/// A stall limit above `WatchdogSec` (135 s against 120 s, for a day) let a stuck loop go
/// unnoticed past the time systemd gives, and a stuck scheduler for minutes: the limit stays
/// below the units' watchdog interval, with room for a ping's half-interval period.
#[test]
fn the_stall_limit_is_well_within_the_units_watchdog_interval() {
    for (unit, watchdog) in unit_durations("WatchdogSec") {
        assert!(
            STALL + watchdog / 2 <= watchdog,
            "{unit}: a {STALL:?} stall limit against WatchdogSec={watchdog:?}"
        );
    }
}

async fn pings(advance: bool) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_nonblocking(true).unwrap();
    let notifier = Arc::new(Notifier::to_socket(
        &path.display().to_string(),
        Some(Duration::from_millis(100)),
    ));
    let liveness = Liveness::default();
    let (s, d, healthy) = (
        liveness.register("scheduler"),
        liveness.register("sink:stuck"),
        liveness.register("sink:healthy"),
    );
    let token = CancellationToken::new();
    let task = tokio::spawn(watchdog_loop(
        notifier,
        Duration::from_millis(100),
        Duration::from_millis(120),
        liveness,
        token.clone(),
    ));
    for _ in 0..10 {
        // A healthy sink keeps turning either way: it must not hide a stuck one.
        healthy.bump();
        if advance {
            s.bump();
            d.bump();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    token.cancel();
    let _ = task.await;
    let mut n = 0;
    let mut buf = [0u8; 64];
    while let Ok(len) = sock.recv(&mut buf) {
        if &buf[..len] == b"WATCHDOG=1" {
            n += 1;
        }
    }
    n
}

#[tokio::test]
async fn the_watchdog_pings_only_while_the_loops_turn() {
    let alive = pings(true).await;
    assert!(alive >= 5, "{alive} pings while both loops advance");
    // Stuck loops: pings stop once the stall window (120 ms) has passed.
    let stuck = pings(false).await;
    assert!((1..=3).contains(&stuck), "{stuck} pings from stuck loops");
}

/// The daemon's prune forgets archived items after `archive`, and all of them when off.
#[tokio::test]
async fn the_prune_loop_forgets_archived_items_older_than_the_archive_setting() {
    let store = Arc::new(
        crate::store::sqlite::SqliteStore::in_memory()
            .await
            .unwrap(),
    );
    let item = crate::feed::FeedItem::titled("k", "t");
    let now = crate::store::now_millis();
    let day = 86_400_000;
    for (feed, at) in [("old", now - 15 * day), ("new", now - day)] {
        store
            .commit_poll(&crate::store::PollCommit {
                feed: feed.into(),
                config_url: "https://x.example/rss".into(),
                now: at,
                item_keys: vec!["k".into()],
                archive: crate::store::archive::encode(&[(&item, true)], &[]).unwrap(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    for (setting, left) in [("14d", 1), ("off", 0)] {
        let plan = crate::plan::load_str(
            Path::new("t.toml"),
            format!("[daemon]\nlisten = \"off\"\narchive = \"{setting}\"\n"),
        )
        .unwrap();
        let (_tx, rx) = watch::channel(Arc::new(plan));
        let token = CancellationToken::new();
        let task = tokio::spawn(prune_loop(store.clone(), rx, token.clone()));
        let mut records = -1;
        for _ in 0..100 {
            records = store.archive_totals(0).await.unwrap().records;
            if records == left {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        token.cancel();
        task.await.unwrap();
        assert_eq!(records, left, "archive = {setting}");
    }
    let rows = store.archive_page(0, 0, 10).await.unwrap();
    assert!(rows.is_empty());
}

/// Regression: sent deliveries were pruned after a week whatever the watches, and a story
/// takes reports for up to 15 days after its alert: a report joining on day 8 named an alert
/// row that was gone, and its update was marked quiet (never shown). With a watch that groups
/// stories, sent rows are kept as long as the stories' own rows.
#[test]
fn a_story_alert_row_outlives_the_days_its_story_takes_reports() {
    use crate::story::index::{MAX_JOIN_GAP, VOCABULARY_HORIZON};
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap();
    let now = 100 * 24 * 3600 * 1000;
    let with = |stories: &str| {
        let toml = format!(
            "[[feed]]\nname = \"f\"\nurl = \"https://news.example/rss\"\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\
             [[watch]]\nname = \"w\"\nterms = [\"kursk\"]\nsinks = [\"out\"]\n{stories}\n"
        );
        let plan = crate::plan::load_str(Path::new("t.toml"), toml).unwrap();
        super::prune_rules(&plan, now)
    };
    let grouped = with("stories = true");
    assert!(now - grouped.sent_before >= ms(MAX_JOIN_GAP) + ms(Duration::from_secs(86_400)));
    assert_eq!(grouped.sent_before, grouped.stories_before);
    assert_eq!(grouped.stories_before, now - ms(VOCABULARY_HORIZON));
    // Without stories nothing edits a sent alert: a week, as before.
    let plain = with("stories = false");
    assert_eq!(plain.sent_before, now - 7 * 24 * 3600 * 1000);
}

/// Regression: the memory of alerted links (read only for the 7-day repeat window) was kept
/// for the whole `retention` (90 days by default): a row per watch and link alerted, read
/// never again. It goes a day after the window; seen keys keep the retention.
#[test]
fn link_memory_goes_after_the_repeat_window_not_the_retention() {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap();
    let now = 200 * 24 * 3600 * 1000;
    let toml = "[daemon]\nretention = \"90days\"\n\
                [[feed]]\nname = \"f\"\nurl = \"https://news.example/rss\"\n\
                [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\
                [[watch]]\nname = \"w\"\nterms = [\"kursk\"]\nsinks = [\"out\"]\n";
    let plan = crate::plan::load_str(Path::new("t.toml"), toml.to_string()).unwrap();
    let rules = super::prune_rules(&plan, now);
    assert_eq!(
        rules.links_before,
        now - ms(crate::daemon::refresh::REPEAT_WINDOW) - 24 * 3600 * 1000
    );
    assert_eq!(rules.seen_before, now - 90 * 24 * 3600 * 1000);
}

/// Review: a delivery to a removed sink still claimed when a sweep ran (in flight at a kill,
/// on PostgreSQL, whose claims outlive a restart) is left to its claim, and then waited for the
/// next reload. The sweep also runs every claim lease, unasked.
#[tokio::test]
async fn the_sweep_runs_now_and_then_unasked() {
    use crate::store::{NewDelivery, PollCommit, sqlite::SqliteStore};
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let alert = serde_json::to_string(&crate::deliver::template::sample_alert()).unwrap();
    store
        .commit_poll(&PollCommit {
            feed: "f".into(),
            config_url: "https://news.example/rss".into(),
            now: crate::store::now_millis(),
            deliveries: vec![NewDelivery {
                idem_key: "k".into(),
                sink: "gone".into(),
                watch: "w".into(),
                item_key: "i".into(),
                alert_json: alert,
                canonical_link: None,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let (_tx, rx) = watch::channel(Arc::new(plan("listen = \"off\"")));
    let token = CancellationToken::new();
    let sweeping = tokio::spawn(sweep_loop(
        store.clone(),
        rx,
        Arc::new(Notify::new()),
        Duration::from_millis(50),
        token.clone(),
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.outbox_summary().await.unwrap().dead == 0 {
        assert!(std::time::Instant::now() < deadline, "never swept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    token.cancel();
    sweeping.await.unwrap();
}
