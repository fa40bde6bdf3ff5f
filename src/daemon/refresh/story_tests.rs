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
