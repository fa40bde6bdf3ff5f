//! Item keys across polls: an item keyed one way beside others and another way alone is the
//! same item, and a new item is never taken for an old one. Whole polls against a local file,
//! with an in-memory store.

use super::tests::{file_plan, poll_plain};
use super::*;

/// Regression: a feed that puts one constant in every `<guid>` and lists one item at a time
/// had each new item keyed by the constant alone, the key of the item before it: taken as
/// seen, it never alerted (a black-box test lost every item after the third). The feed had
/// shown the id to be shared (two items under it in one document, keyed `ID LINK`); it now
/// remembers that, and keys an item alone under it the same way.
#[tokio::test]
async fn an_item_alone_under_an_id_the_feed_gave_several_items_is_keyed_by_its_link() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    let plan = file_plan(&path, "off");
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
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
        std::fs::write(&path, doc).unwrap();
        let state = store.feed_state("f").await.unwrap();
        let done = poll_plain(&store, &plan, &plan.feeds[0], state.as_ref())
            .await
            .unwrap();
        match done.outcome {
            Refreshed::Ok { enqueued, .. } => enqueued,
            o => panic!("{o:?}"),
        }
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

/// Regression: a site that moved to https (or to `www.`) rewrote every `<guid>`, and every
/// item its feed listed alerted again under new keys (the repeat rule spares links alerted
/// within a week only, and compares schemes). When most of a document is unknown, its
/// unknown URL keys are looked up respelled too; an item seen under the old spelling is
/// the item it was.
#[tokio::test]
async fn a_feed_whose_guids_moved_to_https_alerts_nothing_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    let plan = file_plan(&path, "off");
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
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
        std::fs::write(&path, doc).unwrap();
        let state = store.feed_state("f").await.unwrap();
        let done = poll_plain(&store, &plan, &plan.feeds[0], state.as_ref())
            .await
            .unwrap();
        match done.outcome {
            Refreshed::Ok { enqueued, .. } => enqueued,
            o => panic!("{o:?}"),
        }
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
