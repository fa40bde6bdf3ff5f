//! Grouping one poll's matches: alerts, updates, quiet repeats, and the cache rebuilt from the
//! store.

use super::*;
use crate::deliver::alert::AlertSnippet;
use crate::store::sqlite::SqliteStore;
use crate::store::{PollCommit, Store};

const KURSK_A: &str = "North Korean troops reach the Kursk front line, Kyiv says";
const KURSK_B: &str = "Kyiv says North Korean troops have reached the Kursk front line";
const OTHER: &str = "Central bank raises interest rates to curb inflation";

fn plan(stories: bool) -> Plan {
    let on = if stories { "stories = true\n" } else { "" };
    crate::plan::load_str(
        std::path::Path::new("t.toml"),
        format!(
            "[[feed]]\nname = \"a\"\nurl = \"https://a.example/rss\"\n\n\
             [[feed]]\nname = \"b\"\nurl = \"https://b.example/rss\"\n\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"Kursk\", \"inflation\"]\n{on}"
        ),
    )
    .unwrap()
}

/// An empty cache, an empty store, and the plan.
async fn setup(stories: bool) -> (Stories, SqliteStore, Plan) {
    let store = SqliteStore::in_memory().await.unwrap();
    (Stories::default(), store, plan(stories))
}

fn item(key: &str, title: &str) -> FeedItem {
    let mut it = FeedItem::titled(key, title);
    it.link = Some(format!("https://news.example/{key}"));
    it
}

fn alert(feed: &str, it: &FeedItem) -> Alert {
    Alert {
        watch: "w".into(),
        feed: feed.into(),
        item_key: it.key.0.clone(),
        title: it.title.clone(),
        link: it.link.clone(),
        published: None,
        hits: vec![],
        snippet: AlertSnippet {
            text: String::new(),
            marks: vec![],
        },
        matched_at: chrono::Utc::now(),
        story: None,
        meaning: None,
    }
}

async fn group_one(
    s: &Stories,
    store: &SqliteStore,
    plan: &Plan,
    feed: &str,
    it: &FeedItem,
) -> (Grouped, Vec<StoryItemRow>) {
    group_at(s, store, plan, feed, it, 1_700_000_000_000).await
}

/// [`group_one`] with the clock at `now` (ms).
async fn group_at(
    s: &Stories,
    store: &SqliteStore,
    plan: &Plan,
    feed: &str,
    it: &FeedItem,
    now: i64,
) -> (Grouped, Vec<StoryItemRow>) {
    let found = vec![Found {
        watch: "w",
        item: it,
        link: it.link.as_deref(),
        alert: alert(feed, it),
    }];
    let (mut g, rows, _) = s.group(store, plan, feed, now, found).await.unwrap();
    assert_eq!(g.len(), 1);
    (g.remove(0), rows)
}

/// The cache's generation now (no rebuild runs in these tests between a grouping and this).
fn now_generation(s: &Stories) -> u64 {
    s.rebuilds.load(std::sync::atomic::Ordering::SeqCst)
}

/// Store what a poll would: its story rows (the cache is rebuilt from them).
async fn commit(store: &SqliteStore, feed: &str, rows: Vec<StoryItemRow>) {
    store
        .commit_poll(&PollCommit {
            feed: feed.into(),
            config_url: format!("https://{feed}.example/rss"),
            now: 1_700_000_000_000,
            story_items: rows,
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_watch_without_stories_alerts_every_match_and_stores_no_rows() {
    let (s, store, p) = setup(false).await;
    for (feed, key, title) in [("a", "1", KURSK_A), ("b", "2", KURSK_B)] {
        let it = item(key, title);
        let (g, rows) = group_one(&s, &store, &p, feed, &it).await;
        assert_eq!(g, Grouped::Alert(alert(feed, &it)).with_time_of(&g));
        assert!(rows.is_empty());
    }
}

#[tokio::test]
async fn the_same_story_from_a_second_feed_updates_the_first_alert() {
    let (s, store, p) = setup(true).await;
    let first = item("1", KURSK_A);
    let (g, rows) = group_one(&s, &store, &p, "a", &first).await;
    let Grouped::Alert(a) = g else {
        panic!("the first item is alerted, got {g:?}")
    };
    let story = a
        .story
        .clone()
        .expect("a story watch's alert names its story");
    assert_eq!(story.sources, vec!["a".to_string()]);
    assert_eq!(story.id, story_id("w", "a", "1"));
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].alert.is_some(),
        "the first item's row keeps its alert"
    );

    let (g, rows) = group_one(&s, &store, &p, "b", &item("2", KURSK_B)).await;
    let Grouped::Update(u) = g else {
        panic!("the second source updates the story, got {g:?}")
    };
    assert_eq!(
        u.alert.title, KURSK_A,
        "an update shows the story's first alert"
    );
    assert_eq!(u.alert.feed, "a");
    let ustory = u.alert.story.clone().unwrap();
    assert_eq!(ustory.id, story.id);
    assert_eq!(ustory.sources, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(u.story_key("out"), idempotency_key("w", "out", "a", "1"));
    assert_ne!(u.key("out"), u.story_key("out"));
    assert_ne!(u.key("out"), u.key("other"));
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].story,
        story_number("w", "a", "1"),
        "stored as the story's"
    );
    assert!(rows[0].alert.is_none());

    // A third item from a source already named: nothing new to show.
    let (g, _) = group_one(&s, &store, &p, "b", &item("3", KURSK_A)).await;
    assert_eq!(g, Grouped::Quiet);
}

#[tokio::test]
async fn a_different_story_is_alerted_on_its_own() {
    let (s, store, p) = setup(true).await;
    let (g, first) = group_one(&s, &store, &p, "a", &item("1", KURSK_A)).await;
    assert!(matches!(g, Grouped::Alert(_)));
    let (g, rows) = group_one(&s, &store, &p, "b", &item("2", OTHER)).await;
    let Grouped::Alert(a) = g else {
        panic!("a different story alerts, got {g:?}")
    };
    assert_eq!(a.story.unwrap().id, story_id("w", "b", "2"));
    assert_eq!(rows[0].story, story_number("w", "b", "2"));
    assert_ne!(rows[0].story, first[0].story);
}

#[tokio::test]
async fn stories_survive_a_restart_through_the_store() {
    let (store, p) = (SqliteStore::in_memory().await.unwrap(), plan(true));
    let before = Stories::default();
    let (_, rows) = group_one(&before, &store, &p, "a", &item("1", KURSK_A)).await;
    commit(&store, "a", rows).await;

    // A new process: its cache is built from the stored rows.
    let after = Stories::default();
    let (g, _) = group_one(&after, &store, &p, "b", &item("2", KURSK_B)).await;
    let Grouped::Update(u) = g else {
        panic!("after a restart the second source still updates the story, got {g:?}")
    };
    assert_eq!(u.story_key("out"), idempotency_key("w", "out", "a", "1"));
    // The next new story does not reuse the stored story's number.
    let (_, rows) = group_one(&after, &store, &p, "b", &item("3", OTHER)).await;
    assert_eq!(rows[0].story, story_number("w", "b", "3"));
    assert_ne!(rows[0].story, story_number("w", "a", "1"));
}

#[tokio::test]
async fn a_failed_commit_forgets_what_it_grouped() {
    let (s, store, p) = setup(true).await;
    // Grouped, but never stored (the commit failed).
    let (g, _) = group_one(&s, &store, &p, "a", &item("1", KURSK_A)).await;
    assert!(matches!(g, Grouped::Alert(_)));
    s.invalidate();
    // The same item polled again is a new story, alerted, not an update of itself.
    let (g, _) = group_one(&s, &store, &p, "a", &item("1", KURSK_A)).await;
    assert!(
        matches!(g, Grouped::Alert(_)),
        "an item whose poll was not stored must be alerted when polled again, got {g:?}"
    );
}

/// Regression: the rebuild's flag was cleared before the store was read. A read that failed
/// (the database down, twice in a row in a failover) left the cache, with a failed poll's
/// items in it, in use for good: polled again, the item was quiet, never alerted.
#[tokio::test]
async fn a_rebuild_whose_read_fails_is_tried_again_by_the_next_poll() {
    let (s, store, p) = setup(true).await;
    let (g, rows) = group_one(&s, &store, &p, "a", &item("1", KURSK_A)).await;
    assert!(matches!(g, Grouped::Alert(_)));
    drop(s.uncommitted(rows.len(), now_generation(&s)));
    // The store cannot be read: the poll fails.
    sqlx::query("ALTER TABLE story_items RENAME TO story_items_away")
        .execute(store.pool())
        .await
        .unwrap();
    let it = item("2", OTHER);
    let found = vec![Found {
        watch: "w",
        item: &it,
        link: it.link.as_deref(),
        alert: alert("b", &it),
    }];
    assert!(
        s.group(&store, &p, "b", 1_700_000_000_000, found)
            .await
            .is_err()
    );
    sqlx::query("ALTER TABLE story_items_away RENAME TO story_items")
        .execute(store.pool())
        .await
        .unwrap();
    let (g, _) = group_one(&s, &store, &p, "a", &item("1", KURSK_A)).await;
    assert!(
        matches!(g, Grouped::Alert(_)),
        "the item of the poll that was not stored is alerted, got {g:?}"
    );
}

/// Regression: a poll that panicked (or failed) after grouping left its items in the cache
/// though the store never got them; polled again, the item joined its own unstored story from
/// the same feed and was never alerted. The guard forgets the cache unless the commit landed.
#[tokio::test]
async fn a_poll_that_ends_between_grouping_and_commit_forgets_what_it_grouped() {
    let (s, store, p) = setup(true).await;
    let (g, rows) = group_one(&s, &store, &p, "a", &item("1", KURSK_A)).await;
    assert!(matches!(g, Grouped::Alert(_)));
    drop(s.uncommitted(rows.len(), now_generation(&s)));
    let (g, rows) = group_one(&s, &store, &p, "a", &item("1", KURSK_A)).await;
    assert!(
        matches!(g, Grouped::Alert(_)),
        "polled again after an uncommitted poll, the item is alerted, got {g:?}"
    );
    // A poll that grouped no story rows has nothing to forget: its guard costs no rebuild.
    drop(s.uncommitted(0, now_generation(&s)));
    assert!(!s.stale.load(std::sync::atomic::Ordering::SeqCst));
    // Committed, the guard leaves the cache alone: the same item again is quiet.
    let guard = s.uncommitted(rows.len(), now_generation(&s));
    commit(&store, "a", rows).await;
    guard.committed();
    let (g, _) = group_one(&s, &store, &p, "a", &item("1", KURSK_A)).await;
    assert_eq!(g, Grouped::Quiet);
}

/// Regression: a rebuilt cache numbered new stories from the stored ones on, so a story
/// grouped but not yet stored (its poll still in flight) and the next new story got the same
/// id, and their rows merged into one story.
#[tokio::test]
async fn a_rebuild_does_not_hand_out_an_id_again() {
    let (s, store, p) = setup(true).await;
    let (_, in_flight) = group_one(&s, &store, &p, "a", &item("1", KURSK_A)).await;
    s.invalidate();
    let (g, rows) = group_one(&s, &store, &p, "c", &item("3", OTHER)).await;
    assert!(matches!(g, Grouped::Alert(_)), "{g:?}");
    assert_ne!(rows[0].story, in_flight[0].story, "one id for two stories");
}

/// Regression: when a story's only stored row was a later source's update (its first item's
/// poll failed after grouping, or committed later), the story had no alert, and every item of
/// it, the first one polled again included, was quiet: the story was never alerted.
#[tokio::test]
async fn a_story_whose_alert_was_never_stored_is_alerted_by_its_next_source() {
    let (s, store, p) = setup(true).await;
    let (_, _lost) = group_one(&s, &store, &p, "a", &item("1", KURSK_A)).await;
    let (g, rows) = group_one(&s, &store, &p, "b", &item("2", KURSK_B)).await;
    assert!(matches!(g, Grouped::Update(_)), "{g:?}");
    commit(&store, "b", rows).await;
    // Feed a's commit failed: the cache is rebuilt from b's row alone.
    s.invalidate();
    let (g, rows) = group_one(&s, &store, &p, "a", &item("1", KURSK_A)).await;
    let Grouped::Alert(a) = g else {
        panic!("the story's first item, polled again, must be alerted, got {g:?}")
    };
    // Regression: the alerting feed came last ("b", "a"), and messages, which take the first
    // source for the alert's own feed, said "also reported by a" of a's own alert.
    assert_eq!(
        a.story.unwrap().sources,
        vec!["a".to_string(), "b".to_string()]
    );
    assert!(rows[0].alert.is_some(), "its row keeps the alert now");
}

/// Regression: story rows are stored in commit order. When a story's alert was committed
/// after an update of it (its poll was slower), a rebuild took the alert's row for the whole
/// story and forgot the update's source: the next source's update counted two sources again
/// and repeated the key of the update already sent, so it was dropped as a duplicate.
#[tokio::test]
async fn a_rebuild_keeps_the_sources_of_an_update_stored_before_its_alert() {
    let (s, store, p) = setup(true).await;
    let (_, alert_rows) = group_one(&s, &store, &p, "a", &item("1", KURSK_A)).await;
    let (g, update_rows) = group_one(&s, &store, &p, "b", &item("2", KURSK_B)).await;
    let Grouped::Update(first) = g else {
        panic!("{g:?}")
    };
    commit(&store, "b", update_rows).await;
    commit(&store, "a", alert_rows).await;
    // A restart: the cache comes from the rows, the update's first.
    let after = Stories::default();
    let (g, _) = group_one(&after, &store, &p, "c", &item("3", KURSK_A)).await;
    let Grouped::Update(u) = g else {
        panic!("the third source updates the story, got {g:?}")
    };
    assert_eq!(u.story_key("out"), idempotency_key("w", "out", "a", "1"));
    assert_eq!(
        u.alert.story.as_ref().unwrap().sources,
        vec!["a".to_string(), "b".to_string(), "c".to_string()]
    );
    assert_ne!(u.key("out"), first.key("out"), "a new edit, not a repeat");
}

/// Regression: two instances on one database numbered stories each from its own counter, so
/// after both had rebuilt from the same rows their next new stories got one number, and the
/// next rebuild merged them: an update then edited the other story's alert.
#[tokio::test]
async fn two_instances_never_store_two_stories_under_one_number() {
    let (store, p) = (SqliteStore::in_memory().await.unwrap(), plan(true));
    let (one, two) = (Stories::default(), Stories::default());
    let (_, rows) = group_one(&one, &store, &p, "a", &item("1", KURSK_A)).await;
    commit(&store, "a", rows).await;
    // Both rebuild from that row, then each opens a new story of its own feed.
    let (_, rows_one) = group_one(&one, &store, &p, "a", &item("2", OTHER)).await;
    let (_, rows_two) = group_one(
        &two,
        &store,
        &p,
        "b",
        &item("3", "Parliament passes the budget after inflation vote"),
    )
    .await;
    assert_ne!(rows_one[0].story, rows_two[0].story);
    commit(&store, "a", rows_one).await;
    commit(&store, "b", rows_two).await;
    // A third instance rebuilds: the budget story's next source updates its own alert.
    let three = Stories::default();
    let (g, _) = group_one(
        &three,
        &store,
        &p,
        "a",
        &item("4", "Parliament passes the budget after inflation vote"),
    )
    .await;
    let Grouped::Update(u) = g else {
        panic!("{g:?}")
    };
    assert_eq!(u.story_key("out"), idempotency_key("w", "out", "b", "3"));
    assert_eq!(u.alert.story.as_ref().unwrap().sources, ["b", "a"]);
}

/// A stored number seen again after its story expired (the item that opened it came back
/// once its `seen` row was pruned) opens a new story on rebuild: the old story's feeds are
/// not taken for this one's, which would make their reports quiet.
#[tokio::test]
async fn a_number_reopened_after_its_story_expired_starts_with_its_own_sources() {
    let (s, store, p) = setup(true).await;
    let now_secs = 1_700_000_000;
    let first = item("1", KURSK_A);
    let row = |feed: &str, published: i64| StoryItemRow {
        watch: "w".into(),
        story: 7,
        feed: feed.into(),
        item_key: "1".into(),
        title: KURSK_A.into(),
        lead: String::new(),
        link: first.link.clone(),
        published,
        alert: Some(alert(feed, &first).to_json()),
        at: 0,
    };
    commit(&store, "a", vec![row("a", now_secs - 4 * 86_400)]).await;
    commit(&store, "b", vec![row("b", now_secs - 3600)]).await;
    let (g, _) = group_one(&s, &store, &p, "a", &item("2", KURSK_B)).await;
    let Grouped::Update(u) = g else {
        panic!("feed a reports the reopened story anew, got {g:?}")
    };
    assert_eq!(u.alert.story.unwrap().sources, ["b", "a"]);
}

/// A story's id is `story_` and 32 hex digits, one per watch and first item, and its stored
/// number is the first 15 of them (a mutant returning an empty id was not caught: every test
/// compared ids with ids).
#[test]
fn story_ids_and_numbers_come_from_one_hash_of_watch_and_first_item() {
    let id = story_id("w", "a", "1");
    let hex = id.strip_prefix("story_").unwrap_or_else(|| panic!("{id}"));
    assert_eq!(hex.len(), 32, "{id}");
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert_eq!(
        story_number("w", "a", "1"),
        i64::from_str_radix(&hex[..15], 16).unwrap()
    );
    assert_ne!(id, story_id("w", "a", "2"));
    assert_ne!(id, story_id("w", "b", "1"));
    assert_ne!(id, story_id("v", "a", "1"));
    assert_ne!(story_number("w", "a", "1"), story_number("w", "a", "2"));
}

impl Grouped {
    /// The same value with `matched_at` taken from `other` (alerts built at different
    /// instants compare equal otherwise).
    fn with_time_of(mut self, other: &Grouped) -> Grouped {
        if let (Grouped::Alert(a), Grouped::Alert(b)) = (&mut self, other) {
            a.matched_at = b.matched_at;
        }
        self
    }
}

/// Feed "a" opens the Kursk story: the poll's rows, not committed yet, and its guard.
async fn open_uncommitted<'s>(
    s: &'s Stories,
    store: &SqliteStore,
    p: &Plan,
) -> (Vec<StoryItemRow>, Uncommitted<'s>) {
    let first = item("1", KURSK_A);
    let found = vec![Found {
        watch: "w",
        item: &first,
        link: first.link.as_deref(),
        alert: alert("a", &first),
    }];
    let (g, rows, generation) = s
        .group(store, p, "a", 1_700_000_000_000, found)
        .await
        .unwrap();
    assert!(matches!(g[0], Grouped::Alert(_)));
    let guard = s.uncommitted(rows.len(), generation);
    (rows, guard)
}

/// Feed "b" reports the Kursk story: an update of the first alert, not a second alert.
async fn second_report_updates(s: &Stories, store: &SqliteStore, p: &Plan) {
    let (g, _) = group_one(s, store, p, "b", &item("2", KURSK_B)).await;
    assert!(
        matches!(g, Grouped::Update(_)),
        "the second report updates the first alert, got {g:?}"
    );
}

/// Regression: a poll rebuilt the cache from the store (after another poll's commit failed)
/// while a third poll, which had opened a story, had not committed yet. The rebuilt cache did
/// not have that story, and nothing made it stale again once the poll committed: the next
/// report of the story from another feed opened it anew and was alerted a second time.
#[tokio::test]
async fn a_rebuild_before_a_grouped_poll_commits_does_not_lose_its_story() {
    let (s, store, p) = setup(true).await;
    let (rows, guard) = open_uncommitted(&s, &store, &p).await;
    // Another poll's commit failed; a third poll rebuilds the cache before "a" commits.
    s.invalidate();
    let (g, other_rows) = group_one(&s, &store, &p, "c", &item("3", OTHER)).await;
    assert!(matches!(g, Grouped::Alert(_)));
    commit(&store, "c", other_rows).await;
    commit(&store, "a", rows).await;
    guard.committed();
    second_report_updates(&s, &store, &p).await;
}

/// Regression (review): a rebuild moved the generation only after it had read the store and
/// rebuilt, so a poll that grouped in the old cache and committed in between (after the read,
/// on another thread) saw its own generation, kept the cache, and its story was missing from
/// it for good: the next report opened the story anew and alerted a second time.
#[tokio::test]
async fn a_poll_committed_while_a_rebuild_reads_does_not_lose_its_story() {
    let (s, store, p) = setup(true).await;
    let (rows, guard) = open_uncommitted(&s, &store, &p).await;
    // Another poll rebuilds the cache; "a" commits just after that poll read the store.
    let now_secs = crate::store::now_millis() / 1000;
    let read = async {
        let read = store.story_items(0).await;
        commit(&store, "a", rows).await;
        guard.committed();
        read
    };
    let mut state = s.state.lock().await;
    s.rebuild(&mut state, &p, now_secs, read).await.unwrap();
    drop(state);
    second_report_updates(&s, &store, &p).await;
}

/// Regression: items are grouped at their time, never later than the clock, and the index's
/// time only moves forward. After the clock was stepped back more than the window, every
/// story opened expired at once (its time was a window behind the index's), so every report
/// of it alerted again, for as long as the step. The grouping is rebuilt with no row later
/// than the clock.
#[tokio::test]
async fn a_clock_stepped_back_past_the_window_does_not_stop_grouping() {
    const DAY: i64 = 86_400_000;
    // The grouping reads the clock itself too (the later of it and the poll's time): the
    // test's times lie ahead of it, so the poll's time is the clock.
    let t = crate::store::now_millis() + 30 * DAY;
    let (s, store, p) = setup(true).await;
    let (_, rows) = group_at(&s, &store, &p, "a", &item("1", OTHER), t).await;
    commit(&store, "a", rows).await;
    // Stepped back three days; the window is two.
    let back = t - 3 * DAY;
    let (g, rows) = group_at(&s, &store, &p, "a", &item("2", KURSK_A), back).await;
    assert!(matches!(g, Grouped::Alert(_)), "{g:?}");
    commit(&store, "a", rows).await;
    let (g, _) = group_at(&s, &store, &p, "b", &item("3", KURSK_B), back + 3_600_000).await;
    assert!(
        matches!(g, Grouped::Update(_)),
        "the second report an hour later updates the story, got {g:?}"
    );
}

/// Regression (review): the grouping compared its time with the poll's start, so a poll that
/// took over a minute to fetch, grouping after a faster poll, found it "ahead" and rebuilt
/// the whole grouping (and clamped every row to its stale start). A poll whose start is a few
/// minutes old groups as usual.
#[tokio::test]
async fn a_slow_poll_does_not_take_the_grouping_for_a_clock_step() {
    let (s, store, p) = setup(true).await;
    let now = crate::store::now_millis();
    let (_, rows) = group_at(&s, &store, &p, "a", &item("1", KURSK_A), now).await;
    commit(&store, "a", rows).await;
    let before = now_generation(&s);
    let slow = now - 5 * 60_000;
    let (g, _) = group_at(&s, &store, &p, "b", &item("2", KURSK_B), slow).await;
    assert!(matches!(g, Grouped::Update(_)), "{g:?}");
    assert_eq!(
        now_generation(&s),
        before,
        "the slow poll rebuilt the grouping"
    );
}

/// Regression: a title was grouped and stored whole, so an item whose "title" was megabytes
/// of words put each word in the index and the vocabulary for the window, and in its stored
/// row, read again at every start. The grouping reads and stores its first [`TITLE_CHARS`]
/// characters; a second report under the same long title still joins the story.
#[tokio::test]
async fn a_title_of_endless_words_is_grouped_and_stored_by_its_start() {
    let (s, store, p) = setup(true).await;
    let words: String = (0..50_000).map(|i| format!(" ж{i}")).collect();
    let long = format!("{KURSK_A}{words}");
    let (g, rows) = group_one(&s, &store, &p, "a", &item("1", &long)).await;
    assert!(matches!(g, Grouped::Alert(_)), "{g:?}");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].title.chars().count(), TITLE_CHARS);
    assert!(long.starts_with(&rows[0].title));
    commit(&store, "a", rows).await;
    let (g, _) = group_one(&s, &store, &p, "b", &item("2", &long)).await;
    assert!(matches!(g, Grouped::Update(..)), "{g:?}");
}

/// Regression (review): an update's key was made from the story and its number of sources,
/// so two reports grouped apart (by two instances, or before and after a rebuild) as the
/// story's second source had one key: the store kept the first and dropped the other.
#[test]
fn two_reports_of_as_many_sources_have_their_own_update_keys() {
    let with = |feed: &str, item: &str| {
        let mut alert = crate::deliver::template::sample_alert();
        alert.story = Some(StoryRef {
            id: "st".into(),
            sources: vec!["a".into(), feed.into()],
            updated_at: None,
        });
        StoryUpdate {
            item_key: item.into(),
            alert,
        }
    };
    assert_ne!(with("b", "2").key("out"), with("c", "3").key("out"));
    assert_ne!(with("b", "2").key("out"), with("c", "2").key("out"));
    assert_eq!(
        with("b", "2").key("out"),
        with("b", "2").key("out"),
        "a retry"
    );
}
