//! Which items of a poll are new, and which a watch alerts: items without guid or link, items
//! that all link to one page. Whole polls against local files and an in-memory store.

use super::tests::{file_plan, poll_plain};
use super::*;

/// Regression: a feed without guids whose items all link to the site's front page alerted
/// its first matching item only. The others shared its key (taken as seen), and the link
/// memory took each for a repeat of the first.
#[tokio::test]
async fn items_that_all_link_to_the_front_page_each_alert() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    let plan = file_plan(&path, "off");
    let doc = |titles: &[&str]| {
        let items: String = titles
            .iter()
            .map(|t| format!("<item><title>{t}</title><link>https://site.example/</link></item>"))
            .collect();
        format!(
            "<rss version=\"2.0\"><channel><title>t</title><link>https://site.example/</link>{items}</channel></rss>"
        )
    };
    let docs = [
        doc(&["troops one"]),
        doc(&["troops three", "troops two", "troops one"]),
    ];
    // The baseline, then both new items.
    assert_eq!(
        enqueued_per_poll(&plan, &path, &docs).await,
        [(1, 0), (2, 2)]
    );
}

/// Polls of `plan`'s first feed, a file at `path` holding each of `docs` in turn, on a fresh
/// store: the new items each poll counted and the deliveries it enqueued.
async fn enqueued_per_poll(
    plan: &Plan,
    path: &std::path::Path,
    docs: &[String],
) -> Vec<(usize, usize)> {
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    let feed = &plan.feeds[0];
    let mut enqueued = Vec::new();
    for doc in docs {
        std::fs::write(path, doc).unwrap();
        let stored = store.feed_state(&feed.name).await.unwrap();
        let r = poll_plain(&store, plan, feed, stored.as_ref())
            .await
            .unwrap();
        match r.outcome {
            Refreshed::Ok {
                new_items,
                enqueued: n,
                ..
            } => enqueued.push((new_items, n)),
            other => panic!("{other:?}"),
        }
    }
    enqueued
}

/// Regression: an item with neither guid nor link is keyed by its text and date, and a feed
/// that dates every item with the time the document was built gave each one a new key at
/// every poll: every match alerted again at every poll, a flood. Such an item is also known by
/// its text alone.
#[tokio::test]
async fn items_without_guid_or_link_redated_at_every_poll_alert_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    let plan = file_plan(&path, "off");
    let doc = |titles: &[&str], minute: u32| {
        let items: String = titles
            .iter()
            .map(|t| {
                format!(
                    "<item><title>{t}</title><description>Reported today.</description>\
                     <pubDate>Tue, 22 Oct 2024 10:{minute:02}:00 GMT</pubDate></item>"
                )
            })
            .collect();
        format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>")
    };
    let docs = [
        doc(&["troops one"], 1),
        doc(&["troops two", "troops one"], 2),
        doc(&["troops two", "troops one"], 3),
    ];
    // The baseline (its item stored, not alerted), then "troops two" once; the redated
    // "troops one" is no new item either (before: a new row and a new item at every poll).
    assert_eq!(
        enqueued_per_poll(&plan, &path, &docs).await,
        [(1, 0), (1, 1), (0, 0)]
    );
}

/// Regression: a feed whose items all link to one page of the site (a press page, a section)
/// alerted one match a week: the link memory took each later match, under its own guid, for
/// a repeat of the first one's link. A link that three or more items of the document carry
/// is no story's address and is not remembered.
#[tokio::test]
async fn items_that_all_link_to_one_section_page_each_alert() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    let plan = file_plan(&path, "off");
    let doc = |guids: &[&str]| {
        let items: String = guids
            .iter()
            .map(|g| {
                format!(
                    "<item><guid>{g}</guid><title>troops {g}</title>\
                     <link>https://mfa.example/en/press</link></item>"
                )
            })
            .collect();
        format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>")
    };
    let docs = [
        doc(&["a", "b", "c"]),
        doc(&["d", "a", "b", "c"]),
        doc(&["e", "d", "a", "b", "c"]),
    ];
    // The baseline, then d, then e.
    assert_eq!(
        enqueued_per_poll(&plan, &path, &docs).await,
        [(3, 0), (1, 1), (1, 1)]
    );
}

/// Regression: each post of a live blog (its own guid and text, linked `/live#post-N`) was
/// suppressed as a repeat of the first while the blog listed fewer than three posts: the
/// link's fragment was dropped, so all had one link. A fragment that names a post is part of
/// the link; a re-issued post (a new guid, the same link) is still a repeat.
#[tokio::test]
async fn each_post_of_a_live_blog_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    let plan = file_plan(&path, "off");
    let doc = |posts: &[(&str, u32)]| {
        let items: String = posts
            .iter()
            .map(|(guid, n)| {
                format!(
                    "<item><guid isPermaLink=\"false\">{guid}</guid>\
                     <link>https://site.example/live/ukraine-war#post-{n}</link>\
                     <title>troops update {n}</title></item>"
                )
            })
            .collect();
        format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>")
    };
    let docs = [
        doc(&[("live-post-0", 0)]),
        doc(&[("live-post-1", 1), ("live-post-0", 0)]),
        doc(&[("live-post-2", 2), ("live-post-1", 1)]),
        doc(&[("live-post-3", 3)]),
        // Post 3 re-issued under a new guid: the same post.
        doc(&[("live-post-3b", 3)]),
    ];
    // The baseline, then each new post, then the re-issued one suppressed.
    assert_eq!(
        enqueued_per_poll(&plan, &path, &docs).await,
        [(1, 0), (1, 1), (1, 1), (1, 1), (1, 0)]
    );
}
