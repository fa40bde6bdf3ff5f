//! Whole polls of story-grouping watches against local files and an in-memory store: what the
//! commit decides (a repeat suppressed) and what the grouping then makes of the story.

use super::tests::poll_grouped;
use super::*;
use crate::daemon::stories::Stories;

const KURSK_A: &str = "North Korean troops reach the Kursk front line, Kyiv says";
const KURSK_B: &str = "Kyiv says North Korean troops have reached the Kursk front line";

/// Feeds `a` and `c` (files in `dir`), every item alerted from the first poll, one watch
/// grouping stories.
fn plan(dir: &std::path::Path) -> Plan {
    crate::plan::load_str(
        std::path::Path::new("t.toml"),
        format!(
            "[daemon]\non_new_feed = \"all\"\n\n\
             [[feed]]\nname = \"a\"\nurl = \"{}\"\n\n[[feed]]\nname = \"c\"\nurl = \"{}\"\n\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"North Korean troops\"]\nsinks = [\"out\"]\n\
             stories = true\n",
            dir.join("a.xml").display(),
            dir.join("c.xml").display()
        ),
    )
    .unwrap()
}

/// An RSS document of (guid, title, link, hours ago) items.
fn write(path: &std::path::Path, items: &[(&str, &str, &str, i64)]) {
    let now = chrono::Utc::now();
    let items: String = items
        .iter()
        .map(|(guid, title, link, hours)| {
            let date = (now - chrono::Duration::hours(*hours)).to_rfc2822();
            format!(
                "<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>\
                 <pubDate>{date}</pubDate></item>"
            )
        })
        .collect();
    let doc = format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>");
    std::fs::write(path, doc).unwrap();
}

/// One poll of `feed` with the daemon's shared grouping; the deliveries it queued.
async fn poll(
    store: &crate::store::sqlite::SqliteStore,
    plan: &Plan,
    stories: &Stories,
    feed: &str,
) -> usize {
    let f = plan.feeds.iter().find(|f| f.name == feed).unwrap();
    let state = store.feed_state(feed).await.unwrap();
    let done = poll_grouped(store, plan, f, state.as_ref(), stories)
        .await
        .unwrap();
    match done.outcome {
        Refreshed::Ok { enqueued, .. } => enqueued,
        o => panic!("{o:?}"),
    }
}

/// Regression (review): grouping opened a story with the item's alert before the commit
/// judged that alert a repeat (its link alerted within the week) and suppressed it. The story
/// kept the unsent alert: every later report became an update of it, and updates of an
/// alert never sent are dropped, so a development reported by another feed reached no one.
/// Such a story is stored without the alert, and its next report alerts in its place.
#[tokio::test]
async fn a_story_opened_by_a_suppressed_repeat_alerts_its_next_report() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path());
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    let stories = Stories::default();
    let (a, c) = (dir.path().join("a.xml"), dir.path().join("c.xml"));
    // Four days ago: alerted, opening a story that has since left the two-day window.
    write(&a, &[("a1", KURSK_A, "https://a.example/kursk", 96)]);
    write(&c, &[]);
    assert_eq!(poll(&store, &plan, &stories, "a").await, 1);
    assert_eq!(poll(&store, &plan, &stories, "c").await, 0);
    // The same link again under a new guid: a repeat within the week, suppressed.
    write(
        &a,
        &[
            ("a2", KURSK_A, "https://a.example/kursk", 1),
            ("a1", KURSK_A, "https://a.example/kursk", 96),
        ],
    );
    assert_eq!(poll(&store, &plan, &stories, "a").await, 0);
    // Another outlet reports it: alerted, not an update of an alert never sent.
    write(&c, &[("c1", KURSK_B, "https://c.example/kursk", 0)]);
    assert_eq!(poll(&store, &plan, &stories, "c").await, 1);
    let queued = store.list_deliveries("pending", 10).await.unwrap();
    assert_eq!(queued.len(), 2, "{queued:?}");
}

/// Regression (review of the metrics): a poll's matches and story outcomes were counted when
/// matched, before its commit; a commit the store refused left the items new, the next poll
/// matched them again, and `newswatch_matches_total` counted each match twice. Counted once
/// the poll is stored.
#[test]
fn a_poll_the_store_refuses_counts_its_matches_when_they_are_stored() {
    let recorded = crate::ops::metrics::Recorded::new();
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path());
    let matches = "newswatch_matches_total{watch=\"w\"}";
    let opened = "newswatch_story_items_total{watch=\"w\",outcome=\"opened\"}";
    let count = |series: &str| recorded.value(series).unwrap_or(0.0);
    let store = recorded
        .unrecorded(crate::store::sqlite::SqliteStore::in_memory())
        .unwrap();
    let stories = Stories::default();
    write(
        &dir.path().join("a.xml"),
        &[("a1", KURSK_A, "https://a.example/kursk", 1)],
    );
    recorded.run(async {
        sqlx::query(
            "CREATE TRIGGER refuse BEFORE INSERT ON seen \
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let f = &plan.feeds[0];
        let done = poll_grouped(&store, &plan, f, None, &stories)
            .await
            .unwrap();
        assert!(
            matches!(done.outcome, Refreshed::Failed { .. }),
            "{:?}",
            done.outcome
        );
    });
    assert_eq!((count(matches), count(opened)), (0.0, 0.0));
    recorded.run(async {
        sqlx::query("DROP TRIGGER refuse")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(poll(&store, &plan, &stories, "a").await, 1);
    });
    assert_eq!((count(matches), count(opened)), (1.0, 1.0));
}

/// Regression (review of costs at scale): the stories' cache (30 days of story rows, read
/// under its lock) was rebuilt after any poll that opened a story and had a repeat of any
/// watch suppressed, though only a story opened by the suppressed alert itself is stored
/// otherwise than the cache holds it. A busy day rebuilt it at most polls.
#[tokio::test]
async fn a_repeat_of_another_watch_keeps_the_stories_cache() {
    let dir = tempfile::tempdir().unwrap();
    let plan = crate::plan::load_str(
        std::path::Path::new("t.toml"),
        format!(
            "[daemon]\non_new_feed = \"all\"\n\n\
             [[feed]]\nname = \"a\"\nurl = \"{}\"\n\n[[feed]]\nname = \"c\"\nurl = \"{}\"\n\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"missile\"]\nsinks = [\"out\"]\n\
             stories = true\n\n\
             [[watch]]\nname = \"plain\"\nterms = [\"Kursk\"]\nsinks = [\"out\"]\n\
             stories = false\n",
            dir.path().join("a.xml").display(),
            dir.path().join("c.xml").display()
        ),
    )
    .unwrap();
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    let stories = Stories::default();
    let (a, c) = (dir.path().join("a.xml"), dir.path().join("c.xml"));
    write(&a, &[("a1", KURSK_A, "https://a.example/kursk", 3)]);
    write(&c, &[]);
    // `plain` alerts a1 (no missile in it for `w`).
    assert_eq!(poll(&store, &plan, &stories, "a").await, 1);
    assert_eq!(poll(&store, &plan, &stories, "c").await, 0);
    // c: the Kursk link again (a repeat for `plain`, suppressed), and a story opened by `w`.
    write(
        &c,
        &[
            (
                "c1",
                "Kursk region shelled overnight",
                "https://a.example/kursk",
                2,
            ),
            (
                "c2",
                "Pyongyang fires a ballistic missile into the Sea of Japan",
                "https://c.example/missile",
                2,
            ),
        ],
    );
    let f = plan.feeds.iter().find(|f| f.name == "c").unwrap();
    let state = store.feed_state("c").await.unwrap();
    let done = poll_grouped(&store, &plan, f, state.as_ref(), &stories)
        .await
        .unwrap();
    assert!(
        matches!(
            done.outcome,
            Refreshed::Ok {
                enqueued: 1,
                suppressed: 1,
                ..
            }
        ),
        "{:?}",
        done.outcome
    );
    let rebuilt = stories.rebuilt();
    // The next match of `w` groups with the cache as it was. (A second later: a file's
    // change within the second of its last read could answer "not modified".)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    write(
        &a,
        &[
            (
                "a2",
                "Seoul says the missile flew 800 km before falling into the sea",
                "https://a.example/missile",
                1,
            ),
            ("a1", KURSK_A, "https://a.example/kursk", 3),
        ],
    );
    poll(&store, &plan, &stories, "a").await;
    assert_eq!(stories.rebuilt(), rebuilt, "the cache was rebuilt");
}
