//! The status report: feeds, watches, outbox and dead letters, as one serializable value.
//!
//! Owns [`StatusReport`] (with each feed's and watch's daily series over [`HISTORY_DAYS`]) and
//! [`collect`]. Served as JSON at `/api/status`, rendered as HTML at
//! `/`, and printed by `newswatch status` (from the daemon, or read-only from the state file).
//! Feed URLs and errors in it are redacted ([`crate::config::secret::redact_url`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::secret::{redact_url, shown_error};
use crate::deliver::Alert;
use crate::plan::Plan;
use crate::store::{DeliveryRow, FeedDay, FeedState, Millis, Store, StoreError, WatchDay};

/// Days in each history series: today (UTC) and the 13 before it.
pub const HISTORY_DAYS: i64 = 14;
const DAY_MS: Millis = 86_400_000;

/// One feed's day: polls by result and new items.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FeedDayStatus {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    pub ok: i64,
    pub not_modified: i64,
    pub failed: i64,
    pub new_items: i64,
}

/// One watch's day: alerts (one per item, whatever the sinks).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WatchDayStatus {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    pub alerts: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FeedStatus {
    pub name: String,
    pub url: String,
    pub last_poll_at: Option<Millis>,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    pub failures: u32,
    pub next_poll_at: Option<Millis>,
    pub items_seen: i64,
    pub suppressed: i64,
    /// [`HISTORY_DAYS`] days, oldest first, today last.
    #[serde(default)]
    pub history: Vec<FeedDayStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WatchStatus {
    pub name: String,
    pub sinks: Vec<String>,
    /// Items alerted since the state began counting them (created, or upgraded to the
    /// release that counts them; kept beside the outbox, never pruned with it): the page's
    /// "all time" column; `history` gives the recent days.
    pub alerts: i64,
    /// [`HISTORY_DAYS`] days, oldest first, today last.
    #[serde(default)]
    pub history: Vec<WatchDayStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliveryStatus {
    pub id: i64,
    pub sink: String,
    pub watch: String,
    pub feed: String,
    pub title: String,
    pub link: Option<String>,
    pub state: String,
    pub attempts: u32,
    pub created_at: Millis,
    pub next_attempt_at: Millis,
    pub sent_at: Option<Millis>,
    pub last_error: Option<String>,
}

/// A story of a watch that groups items into stories, still open (reported within its window).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoryStatus {
    pub watch: String,
    /// The title of its first item (the one alerted).
    pub title: String,
    /// Feeds that reported it, the first one first.
    pub sources: Vec<String>,
    /// Items grouped into it.
    pub items: usize,
    /// When its latest item was seen.
    pub last_seen: Millis,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusReport {
    pub version: String,
    /// "daemon" when served by a running daemon, "state file" when read offline.
    pub source: String,
    pub generated_at: Millis,
    pub feeds: Vec<FeedStatus>,
    pub watches: Vec<WatchStatus>,
    pub pending: i64,
    pub dead: i64,
    pub oldest_pending_at: Option<Millis>,
    pub recent_alerts: Vec<DeliveryStatus>,
    /// The longest waiting pending deliveries, oldest first (at most [`PENDING_LISTED`]): those
    /// stuck behind a failing sink, not the newest ones about to go.
    pub pending_deliveries: Vec<DeliveryStatus>,
    pub dead_letters: Vec<DeliveryStatus>,
    /// Open stories, most recently reported first (at most [`STORIES_SHOWN`]).
    #[serde(default)]
    pub stories: Vec<StoryStatus>,
    /// The instances sharing a PostgreSQL database (empty for a single daemon's SQLite file).
    #[serde(default)]
    pub instances: Vec<crate::store::lease::InstanceRow>,
}

/// Open stories listed by status.
pub const STORIES_SHOWN: usize = 50;

/// How many pending deliveries a report lists.
pub const PENDING_LISTED: i64 = 50;

/// A list's count for its heading: the total, and which part of it is listed when not all
/// (`which`: "oldest", "newest").
pub fn listed_count(total: i64, listed: usize, which: &str) -> String {
    if i64::try_from(listed).is_ok_and(|n| n < total) {
        format!("{total}; the {which} {listed} listed")
    } else {
        total.to_string()
    }
}

impl StatusReport {
    pub fn feeds_failing(&self) -> usize {
        self.feeds
            .iter()
            .filter(|f| f.last_result.as_deref() == Some("error"))
            .count()
    }

    /// One line for systemd's STATUS=.
    pub fn summary(&self) -> String {
        Summary {
            feeds: self.feeds.len(),
            failing: self.feeds_failing(),
            pending: self.pending,
            dead: self.dead,
            oldest_pending_at: self.oldest_pending_at,
        }
        .line()
    }
}

/// The counts behind systemd's STATUS= line and the state gauges of `/metrics`: two cheap
/// queries, where the full [`StatusReport`] also lists deliveries and counts alerts per watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub feeds: usize,
    pub failing: usize,
    pub pending: i64,
    pub dead: i64,
    pub oldest_pending_at: Option<Millis>,
}

impl Summary {
    pub fn line(&self) -> String {
        format!(
            "{} feeds ({} failing), {} pending, {} dead",
            self.feeds, self.failing, self.pending, self.dead
        )
    }
}

/// The line systemd shows (`STATUS=`): the [`Summary`], or why the state could not be read
/// (the last good line, left in place, showed a database that is down as all well).
pub async fn status_line<S: Store>(store: &S, plan: &Plan) -> String {
    match summarize(store, plan).await {
        Ok(s) => s.line(),
        Err(e) => {
            let said = format!("cannot read the state: {e}");
            crate::deliver::render::truncate_bytes(&said, 200).to_string()
        }
    }
}

/// The [`Summary`] of the configured feeds and the outbox.
pub async fn summarize<S: Store>(store: &S, plan: &Plan) -> Result<Summary, StoreError> {
    let states = store.feed_states().await?;
    // By name: a search of every state per configured feed took seconds at 16,000 feeds, on
    // every scrape of /metrics and every status line to systemd.
    let failed: std::collections::HashSet<&str> = states
        .iter()
        .filter(|s| s.last_result.as_deref() == Some("error"))
        .map(|s| s.feed.as_str())
        .collect();
    let failing = plan
        .feeds
        .iter()
        .filter(|f| failed.contains(f.name.as_str()))
        .count();
    let outbox = store.outbox_summary().await?;
    Ok(Summary {
        feeds: plan.feeds.len(),
        failing,
        pending: outbox.pending,
        dead: outbox.dead,
        oldest_pending_at: outbox.oldest_pending,
    })
}

fn delivery(d: DeliveryRow) -> DeliveryStatus {
    let alert: Option<Alert> = serde_json::from_str(&d.alert_json).ok();
    DeliveryStatus {
        id: d.id,
        sink: d.sink,
        watch: d.watch,
        feed: d.feed,
        title: alert.as_ref().map(|a| a.title.clone()).unwrap_or_default(),
        link: alert.and_then(|a| a.link),
        // Marked sent, but nothing went to the platform: not a message the channel shows.
        state: if d.quiet && d.state == "sent" {
            "skipped".to_string()
        } else {
            d.state
        },
        attempts: d.attempts,
        created_at: d.created_at,
        next_attempt_at: d.next_attempt_at,
        sent_at: d.sent_at,
        // A sink's answer, quoted in the error: shown like a feed's error.
        last_error: d.last_error.as_deref().map(shown_error),
    }
}

/// `YYYY-MM-DD` of a UTC day number.
pub fn day_date(day: i64) -> String {
    chrono::DateTime::from_timestamp(day.saturating_mul(86_400), 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Stored days by (name, day): a page of 10,000 feeds looks each day up once.
type ByDay<'a, T> = HashMap<(&'a str, i64), &'a T>;

/// One feed's entry per day of `days` (missing days are zeros).
fn feed_series(
    rows: &ByDay<'_, FeedDay>,
    feed: &str,
    days: std::ops::RangeInclusive<i64>,
) -> Vec<FeedDayStatus> {
    days.map(|day| {
        let r = rows.get(&(feed, day));
        FeedDayStatus {
            date: day_date(day),
            ok: r.map_or(0, |r| r.ok),
            not_modified: r.map_or(0, |r| r.not_modified),
            failed: r.map_or(0, |r| r.failed),
            new_items: r.map_or(0, |r| r.items),
        }
    })
    .collect()
}

fn watch_series(
    rows: &ByDay<'_, WatchDay>,
    watch: &str,
    days: std::ops::RangeInclusive<i64>,
) -> Vec<WatchDayStatus> {
    days.map(|day| WatchDayStatus {
        date: day_date(day),
        alerts: rows.get(&(watch, day)).map_or(0, |r| r.alerts),
    })
    .collect()
}

/// The stored days since `from`, or none with a warning: a state file not yet migrated by a
/// newer daemon (`newswatch status` reads it as it is) has no history tables, and the rest of
/// the report is still worth showing.
async fn history<S: Store>(store: &S, from: i64) -> (Vec<FeedDay>, Vec<WatchDay>) {
    match (store.feed_days(from).await, store.watch_days(from).await) {
        (Ok(f), Ok(w)) => (f, w),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "no daily history in the state (not migrated yet?)");
            (Vec::new(), Vec::new())
        }
    }
}

/// Build the report from the store and the configuration.
pub async fn collect<S: Store>(
    store: &S,
    plan: &Plan,
    source: &str,
) -> Result<StatusReport, StoreError> {
    collect_at(store, plan, source, crate::store::now_millis()).await
}

/// [`collect`] as of `now` (its history series end on now's UTC day).
pub async fn collect_at<S: Store>(
    store: &S,
    plan: &Plan,
    source: &str,
    now: Millis,
) -> Result<StatusReport, StoreError> {
    let today = now.div_euclid(DAY_MS);
    let days = today - (HISTORY_DAYS - 1)..=today;
    let (feed_days, watch_days) = history(store, *days.start()).await;
    let feed_days: ByDay<'_, FeedDay> = feed_days
        .iter()
        .map(|r| ((r.feed.as_str(), r.day), r))
        .collect();
    let watch_days: ByDay<'_, WatchDay> = watch_days
        .iter()
        .map(|r| ((r.watch.as_str(), r.day), r))
        .collect();
    let states = store.feed_states().await?;
    let states: HashMap<&str, &FeedState> = states.iter().map(|s| (s.feed.as_str(), s)).collect();
    let feeds = plan
        .feeds
        .iter()
        .map(|f| {
            let st = states.get(f.name.as_str()).copied();
            FeedStatus {
                name: f.name.clone(),
                // Feed URLs may carry credentials; so may errors that quote them (also
                // those stored by a release that did not redact).
                url: st
                    .and_then(|s| s.moved_url.as_deref())
                    .map_or_else(|| f.source.redacted(), redact_url),
                last_poll_at: st.and_then(|s| s.last_poll_at),
                last_result: st.and_then(|s| s.last_result.clone()),
                last_error: st.and_then(|s| s.last_error.as_deref().map(shown_error)),
                failures: st.map_or(0, |s| s.failures),
                next_poll_at: st.and_then(|s| s.next_poll_at),
                items_seen: st.map_or(0, |s| s.items_seen),
                suppressed: st.map_or(0, |s| s.suppressed),
                history: feed_series(&feed_days, &f.name, days.clone()),
            }
        })
        .collect();
    let counts = store.alert_counts().await?;
    let counts: HashMap<&str, i64> = counts.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    let watches = plan
        .watches
        .specs()
        .iter()
        .map(|w| WatchStatus {
            name: w.name.clone(),
            sinks: w.sinks.clone(),
            alerts: counts.get(w.name.as_str()).copied().unwrap_or(0),
            history: watch_series(&watch_days, &w.name, days.clone()),
        })
        .collect();
    let summary = store.outbox_summary().await?;
    let list = |v: Vec<DeliveryRow>| v.into_iter().map(delivery).collect::<Vec<_>>();
    Ok(StatusReport {
        version: env!("CARGO_PKG_VERSION").to_string(),
        source: source.to_string(),
        generated_at: now,
        feeds,
        watches,
        pending: summary.pending,
        dead: summary.dead,
        oldest_pending_at: summary.oldest_pending,
        recent_alerts: list(store.list_deliveries("sent", 20).await?),
        pending_deliveries: list(store.oldest_pending(PENDING_LISTED).await?),
        dead_letters: list(store.list_deliveries("dead", 50).await?),
        stories: stories(store, plan, now).await?,
        instances: store.instances().await?,
    })
}

/// The open stories of the watches that group: their stored items, by story, within each
/// watch's window of the latest one.
///
/// Read from as far back as an open story can have begun: a story stays open a window after
/// its last item, which may join up to [`MAX_JOIN_GAP`](crate::story::index::MAX_JOIN_GAP) after
/// its first. Read from one window back only, a story whose alerted first item was older
/// showed a later item's title, lacked its first source and undercounted its items.
async fn stories<S: Store>(
    store: &S,
    plan: &Plan,
    now: Millis,
) -> Result<Vec<StoryStatus>, StoreError> {
    let Some(longest) = plan.stories.values().map(|c| c.window()).max() else {
        return Ok(Vec::new());
    };
    let back = longest.saturating_add(crate::story::index::MAX_JOIN_GAP);
    let since = now.saturating_sub(i64::try_from(back.as_millis()).unwrap_or(i64::MAX));
    let mut open: Vec<StoryStatus> = Vec::new();
    let mut at: HashMap<(String, i64), usize> = HashMap::new();
    for r in store.story_items(since).await? {
        let i = *at.entry((r.watch.clone(), r.story)).or_insert_with(|| {
            open.push(StoryStatus {
                watch: r.watch.clone(),
                title: r.title.clone(),
                sources: Vec::new(),
                items: 0,
                last_seen: r.at,
            });
            open.len() - 1
        });
        let s = &mut open[i];
        if r.alert.is_some() {
            s.title = r.title.clone();
        }
        if !s.sources.contains(&r.feed) {
            s.sources.push(r.feed.clone());
        }
        s.items += 1;
        s.last_seen = s.last_seen.max(r.at);
    }
    open.retain(|s| {
        plan.stories.get(&s.watch).is_some_and(|c| {
            now.saturating_sub(s.last_seen)
                <= i64::try_from(c.window().as_millis()).unwrap_or(i64::MAX)
        })
    });
    open.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
    open.truncate(STORIES_SHOWN);
    Ok(open)
}

#[cfg(test)]
mod tests {

    /// Regression: a story update marked done without a message (a silent sink) was listed
    /// among the recent alerts as sent, though nothing reached the channel.
    #[test]
    fn an_update_done_without_a_message_is_listed_as_skipped() {
        let row = |state: &str, quiet: bool| DeliveryRow {
            id: 1,
            idem_key: "k".into(),
            sink: "chat".into(),
            watch: "w".into(),
            feed: "f".into(),
            item_key: "i".into(),
            state: state.into(),
            attempts: 1,
            created_at: 0,
            next_attempt_at: 0,
            last_error: None,
            sent_at: Some(1),
            alert_json: String::new(),
            quiet,
        };
        assert_eq!(delivery(row("sent", true)).state, "skipped");
        assert_eq!(delivery(row("sent", false)).state, "sent");
        assert_eq!(delivery(row("dead", false)).state, "dead");
    }

    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{NewDelivery, PollCommit};

    #[tokio::test]
    async fn history_series_cover_fourteen_days_oldest_first_with_dates() {
        let plan = crate::plan::load_str(
            std::path::Path::new("t.toml"),
            "[[feed]]\nname = \"a\"\nurl = \"https://a.example/rss\"\n\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"troops\"]\n"
                .to_string(),
        )
        .unwrap();
        let store = SqliteStore::in_memory().await.unwrap();
        let at = |day: i64| day * DAY_MS + 3_600_000;
        let commit = |now: Millis, keys: &[&str], deliveries: Vec<NewDelivery>| PollCommit {
            feed: "a".into(),
            config_url: "https://a.example/rss".into(),
            now,
            next_poll_at: now + 60_000,
            item_keys: keys.iter().map(|k| k.to_string()).collect(),
            deliveries,
            repeat_window_ms: 0,
            ..Default::default()
        };
        // Day 19_990 is outside the window; 20_000 is its first day, 20_013 today.
        store
            .commit_poll(&commit(at(19_990), &["k0"], vec![]))
            .await
            .unwrap();
        store
            .commit_poll(&commit(at(20_000), &["k1"], vec![]))
            .await
            .unwrap();
        let alert = NewDelivery {
            idem_key: "i2".into(),
            sink: "out".into(),
            watch: "w".into(),
            item_key: "k2".into(),
            alert_json: "{}".into(),
            canonical_link: None,
        };
        store
            .commit_poll(&commit(at(20_013), &["k2"], vec![alert]))
            .await
            .unwrap();
        let r = collect_at(&store, &plan, "daemon", at(20_013))
            .await
            .unwrap();
        let f = &r.feeds[0].history;
        assert_eq!(f.len(), HISTORY_DAYS as usize);
        assert_eq!(f[0].date, day_date(20_000));
        assert_eq!(f[13].date, day_date(20_013));
        assert_eq!(
            (f[0].ok, f[0].new_items, f[1].ok, f[13].ok, f[13].new_items),
            (1, 1, 0, 1, 1)
        );
        let w = &r.watches[0].history;
        assert_eq!(w.len(), 14);
        assert_eq!(w.iter().map(|d| d.alerts).sum::<i64>(), 1);
        assert_eq!(w[13].alerts, 1);
        assert_eq!(day_date(20_000), "2024-10-04");
        // The JSON carries the same series.
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["feeds"][0]["history"][13]["new_items"], 1);
        assert_eq!(j["watches"][0]["history"][13]["date"], day_date(20_013));
    }

    /// Regression (review): open stories were read from one window back, so a story whose
    /// alerted first item was older than that (open, as a later report joined it) was listed
    /// with the later report's title, without its first source, and with fewer items.
    #[tokio::test]
    async fn an_open_story_keeps_its_alerted_title_and_first_source_past_one_window() {
        use crate::store::StoryItemRow;
        let plan = crate::plan::load_str(
            std::path::Path::new("t.toml"),
            "[[feed]]\nname = \"x\"\nurl = \"https://x.example/rss\"\n\n\
             [[feed]]\nname = \"y\"\nurl = \"https://y.example/rss\"\n\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"troops\"]\nstories = true\n"
                .to_string(),
        )
        .unwrap();
        let store = SqliteStore::in_memory().await.unwrap();
        let hour: Millis = 3_600_000;
        let t = 1_700_000_000_000;
        let row = |feed: &str, title: &str, alert: Option<&str>| StoryItemRow {
            watch: "w".into(),
            story: 1,
            feed: feed.into(),
            item_key: title.into(),
            title: title.into(),
            lead: String::new(),
            link: None,
            published: 0,
            alert: alert.map(str::to_string),
            at: 0,
        };
        for (feed, at, r) in [
            ("x", t, row("x", "Troops reach Kursk", Some("{}"))),
            ("y", t + 30 * hour, row("y", "Kursk: troops arrive", None)),
        ] {
            let mut c = crate::store::conformance::commit(feed, at, &[&r.title], vec![]);
            c.story_items = vec![r];
            store.commit_poll(&c).await.unwrap();
        }
        let report = collect_at(&store, &plan, "daemon", t + 50 * hour)
            .await
            .unwrap();
        assert_eq!(report.stories.len(), 1);
        let s = &report.stories[0];
        assert_eq!(
            (s.title.as_str(), s.sources.clone(), s.items),
            (
                "Troops reach Kursk",
                vec!["x".to_string(), "y".to_string()],
                2
            )
        );
        // A window after its last report it is closed.
        let later = collect_at(&store, &plan, "daemon", t + 79 * hour)
            .await
            .unwrap();
        assert!(later.stories.is_empty());
    }
}
