//! Item keys across polls: an item keyed one way beside others and another way alone is the
//! same item, and a new item is never taken for an old one. Whole polls against a local file,
//! with an in-memory store.

use super::tests::{enqueued_by_poll, file_plan, poll_plain};
use super::*;

/// The file of a feed `f` in a fresh folder (kept while the test runs) and an in-memory store.
async fn fixture() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    crate::store::sqlite::SqliteStore,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    (dir, path, store)
}

/// One poll of feed `f` with `doc` written at `path`: the alerts it queued.
async fn enqueued_by(
    store: &crate::store::sqlite::SqliteStore,
    path: &std::path::Path,
    doc: &str,
) -> usize {
    std::fs::write(path, doc).unwrap();
    enqueued_by_poll(store, path).await
}

/// Regression: a feed that puts one constant in every `<guid>` and lists one item at a time
/// had each new item keyed by the constant alone, the key of the item before it: taken as
/// seen, it never alerted (a black-box test lost every item after the third). The feed had
/// shown the id to be shared (two items under it in one document, keyed `ID LINK`); it now
/// remembers that, and keys an item alone under it the same way.
#[tokio::test]
async fn an_item_alone_under_an_id_the_feed_gave_several_items_is_keyed_by_its_link() {
    let (_dir, path, store) = fixture().await;
    let poll = async |names: &[&str]| {
        let items: String = names
            .iter()
            .map(|n| {
                format!(
                    "<item><guid isPermaLink=\"false\">latest-story</guid>\
                     <link>https://site.example/news/2024/{n}</link><title>troops {n}</title></item>"
                )
            })
            .collect();
        let doc = format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>");
        enqueued_by(&store, &path, &doc).await
    };
    assert_eq!(poll(&["b", "a"]).await, 0, "a new feed: baselined");
    let state = store.feed_state("f").await.unwrap().unwrap();
    assert_eq!(state.shared_ids, ["latest-story"]);
    assert_eq!(poll(&["c"]).await, 1);
    assert_eq!(poll(&["d"]).await, 1, "the item after the first one alone");
    assert_eq!(poll(&["d"]).await, 0);
    assert_eq!(poll(&["e", "d"]).await, 1);
    // An item seen beside others, listed alone, is the item it was.
    assert_eq!(poll(&["a"]).await, 0);
    // The memory stays with the feed while documents show one item at a time.
    assert_eq!(poll(&["f"]).await, 1);
    let state = store.feed_state("f").await.unwrap().unwrap();
    assert_eq!(state.shared_ids, ["latest-story"]);
}

/// The same without links (a review found the lone item keyed by the id alone when it had
/// no link, while the group had keyed it by its text): an item seen beside others is seen
/// alone, and a new one alone alerts.
#[tokio::test]
async fn an_item_without_a_link_alone_under_a_shared_id_is_keyed_by_its_text() {
    let (_dir, path, store) = fixture().await;
    let poll = async |names: &[&str]| {
        let items: String = names
            .iter()
            .map(|n| format!("<item><guid isPermaLink=\"false\">latest</guid><title>troops {n}</title></item>"))
            .collect();
        let doc = format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>");
        enqueued_by(&store, &path, &doc).await
    };
    assert_eq!(poll(&["c", "b", "a"]).await, 0, "a new feed: baselined");
    assert_eq!(poll(&["a"]).await, 0, "seen beside others");
    assert_eq!(poll(&["d"]).await, 1);
    assert_eq!(poll(&["e"]).await, 1);
    assert_eq!(poll(&["e"]).await, 0);
}

/// Regression: a site that moved to https (or to `www.`) rewrote every `<guid>`, and every
/// item its feed listed alerted again under new keys (the repeat rule spares links alerted
/// within a week only, and compares schemes). When most of a document is unknown, its
/// unknown URL keys are looked up respelled too; an item seen under the old spelling is
/// the item it was.
#[tokio::test]
async fn a_feed_whose_guids_moved_to_https_alerts_nothing_again() {
    let (_dir, path, store) = fixture().await;
    let poll = async |base: &str, names: &[&str]| {
        let items: String = names
            .iter()
            .map(|n| {
                format!(
                    "<item><guid>{base}/news/{n}</guid><link>{base}/news/{n}</link>\
                     <title>troops {n}</title></item>"
                )
            })
            .collect();
        let doc = format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>");
        enqueued_by(&store, &path, &doc).await
    };
    let (http, https, www) = (
        "http://site.example",
        "https://site.example",
        "https://www.site.example",
    );
    assert_eq!(
        poll(http, &["c", "b", "a"]).await,
        0,
        "a new feed: baselined"
    );
    assert_eq!(poll(http, &["d", "c", "b", "a"]).await, 1);
    assert_eq!(
        poll(https, &["d", "c", "b", "a"]).await,
        0,
        "moved to https"
    );
    assert_eq!(
        poll(www, &["e", "d", "c", "b", "a"]).await,
        1,
        "and to www."
    );
    assert_eq!(poll(www, &["e", "d", "c", "b", "a"]).await, 0);
}

#[test]
fn a_url_key_is_respelled_with_the_other_scheme_and_host() {
    assert_eq!(
        keys::respelled("http://site.example/news/a?x=1"),
        [
            "https://site.example/news/a?x=1",
            "http://www.site.example/news/a?x=1",
            "https://www.site.example/news/a?x=1"
        ]
    );
    assert_eq!(
        keys::respelled("https://www.site.example/a"),
        [
            "http://www.site.example/a",
            "https://site.example/a",
            "http://site.example/a"
        ]
    );
    for none in [
        "tag:site.example,2024:1",
        "latest-story",
        "ftp://site.example/a",
        "",
    ] {
        assert_eq!(keys::respelled(none), Vec::<String>::new(), "{none}");
    }
}

/// Regression: a poll's alerts were queued, and sent, in the document's order, newest first,
/// so a chat channel showed the oldest of a burst last, as if it were the latest. They go
/// oldest first: by date when every new item is dated, else in the document's order reversed.
#[tokio::test]
async fn a_polls_alerts_are_queued_oldest_first() {
    use crate::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    let plan = file_plan(&path, "off");
    for (dates, want) in [
        // Newest first, as feeds list them.
        (["12:00", "11:00", "10:00"], ["c", "b", "a"]),
        // Out of order: by date.
        (["11:00", "12:00", "10:00"], ["c", "a", "b"]),
        // One undated: the document's order, reversed.
        (["12:00", "", "10:00"], ["c", "b", "a"]),
    ] {
        let store = crate::store::sqlite::SqliteStore::in_memory()
            .await
            .unwrap();
        let item = |g: &str, d: &str| {
            let date = if d.is_empty() {
                String::new()
            } else {
                format!("<pubDate>Mon, 07 Dec 2026 {d}:00 GMT</pubDate>")
            };
            format!("<item><guid>{g}</guid><title>troops {g}</title>{date}</item>")
        };
        let items: String = ["a", "b", "c"]
            .iter()
            .zip(dates)
            .map(|(g, d)| item(g, d))
            .collect();
        std::fs::write(
            &path,
            format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>"),
        )
        .unwrap();
        // `on_new_feed = "all"` is not needed: a stored state that has seen another item
        // makes this poll a usual one.
        let state = FeedState {
            feed: "f".into(),
            config_url: plan.feeds[0].source.to_string(),
            baselined: true,
            last_success_at: Some(1),
            ..FeedState::default()
        };
        poll_plain(&store, &plan, &plan.feeds[0], Some(&state))
            .await
            .unwrap();
        let now = crate::store::now_millis();
        let queued = store.claim_due("out", now, now + 60_000, 10).await.unwrap();
        let item_of = |key: &str| {
            ["a", "b", "c"]
                .into_iter()
                .find(|g| crate::deliver::idempotency_key("w", "out", "f", g) == key)
        };
        let order: Vec<&str> = queued.iter().filter_map(|d| item_of(&d.idem_key)).collect();
        assert_eq!(order, want, "dates {dates:?}");
    }
}
