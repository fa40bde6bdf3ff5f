//! A feed renamed in the configuration: the same URL under a new name is the same feed, whose
//! first poll goes on from what it had seen under the old name. Whole polls against local
//! files, with an in-memory store.

use super::tests::{poll_plain, rss};
use super::*;

/// A plan of the feeds `feeds` (name, file), with a watch on "troops".
fn plan_of(feeds: &[(&str, &std::path::Path)]) -> Plan {
    let feeds: String = feeds
        .iter()
        .map(|(n, path)| format!("[[feed]]\nname = \"{n}\"\nurl = \"{}\"\n\n", path.display()))
        .collect();
    crate::plan::load_str(
        std::path::Path::new("t.toml"),
        format!(
            "{feeds}[[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"troops\"]\nsinks = [\"out\"]\n"
        ),
    )
    .unwrap()
}

/// One successful poll of `name`, configured alone to read `path`, which serves the items
/// `guids` (each a match); the alerts it queued.
async fn poll_as(
    store: &crate::store::sqlite::SqliteStore,
    path: &std::path::Path,
    name: &str,
    guids: &[&str],
) -> usize {
    std::fs::write(path, rss(guids)).unwrap();
    let plan = plan_of(&[(name, path)]);
    let state = store.feed_state(name).await.unwrap();
    match poll_plain(store, &plan, &plan.feeds[0], state.as_ref())
        .await
        .unwrap()
        .outcome
    {
        Refreshed::Ok { enqueued, .. } => enqueued,
        o => panic!("{o:?}"),
    }
}

/// Regression: renaming a feed made it a new feed, and its first poll a baseline, so what
/// the feed published between its last poll under the old name and its first under the new
/// one never alerted. The feed it was renamed from (same URL, a name no longer configured)
/// lends it what it had seen: the new items alert, the ones seen do not, and from then on the
/// feed goes on under its new name.
#[tokio::test]
async fn a_renamed_feed_alerts_what_was_published_since_its_last_poll_under_the_old_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    let poll = async |name: &str, guids: &[&str]| poll_as(&store, &path, name, guids).await;
    assert_eq!(poll("old", &["a", "b"]).await, 0, "a new feed: baselined");
    assert_eq!(poll("old", &["c", "a", "b"]).await, 1);
    // Renamed: `d` was published since the last poll under the old name.
    assert_eq!(poll("new", &["d", "c", "a", "b"]).await, 1);
    assert_eq!(poll("new", &["e", "d", "c", "a", "b"]).await, 1);
    assert_eq!(poll("new", &["e", "d", "c", "a", "b"]).await, 0);
    let new = store.feed_state("new").await.unwrap().unwrap();
    assert!(new.baselined, "the renamed feed lives at its URL now");
}

/// Review regression: only the keys of the first document under the new name were stored
/// under it, so when that document was shorter than the feed (a cut-off download, a shorter
/// variant), the items it did not list were new again at the next poll, and alerted twice.
#[tokio::test]
async fn a_renamed_feed_whose_first_document_is_short_does_not_alert_its_old_items_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    let poll = async |name: &str, guids: &[&str]| poll_as(&store, &path, name, guids).await;
    assert_eq!(
        poll("old", &["a", "b", "c"]).await,
        0,
        "a new feed: baselined"
    );
    assert_eq!(poll("new", &["d", "a"]).await, 1, "renamed: its new item");
    assert_eq!(
        poll("new", &["e", "d", "c", "b", "a"]).await,
        1,
        "the items the old name saw are still seen"
    );
}

/// Only a name no longer configured lends what it had seen: a feed that moved to another URL
/// while a new one took its old URL is still configured, and the new feed is baselined. Nor
/// is a feed at a URL no feed had anything's new name.
#[tokio::test]
async fn a_new_feed_on_a_url_another_configured_feed_left_and_one_elsewhere_are_baselined() {
    let dir = tempfile::tempdir().unwrap();
    let (path, moved, elsewhere) = (
        dir.path().join("f.xml"),
        dir.path().join("g.xml"),
        dir.path().join("h.xml"),
    );
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    assert_eq!(poll_as(&store, &path, "old", &["a", "b"]).await, 0);
    // `old` now reads g.xml (not polled yet: its row still names f.xml), `new` reads f.xml.
    std::fs::write(&moved, rss(&["a", "b"])).unwrap();
    std::fs::write(&path, rss(&["c", "a", "b"])).unwrap();
    let plan = plan_of(&[("old", &moved), ("new", &path)]);
    let done = poll_plain(&store, &plan, &plan.feeds[1], None)
        .await
        .unwrap();
    assert!(
        matches!(done.outcome, Refreshed::Ok { enqueued: 0, .. }),
        "another configured feed's URL before: baselined, {:?}",
        done.outcome
    );
    assert_eq!(
        poll_as(&store, &elsewhere, "other", &["d", "a", "b"]).await,
        0,
        "a URL no feed had: a new feed"
    );
}

/// The first successful poll of a renamed feed counts, also after failed ones (its first
/// polls under the new name failed: it still has its old name's items to go on from), and a
/// document that turned over while the feed was renamed is judged as at a new address: its
/// items dated after the last poll under the old name alert, the undated ones do not.
#[tokio::test]
async fn a_renamed_feed_whose_first_polls_failed_or_whose_document_turned_over_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    assert_eq!(poll_as(&store, &path, "old", &["a", "b"]).await, 0);
    let now = crate::store::now_millis();
    store
        .record_failure(&crate::store::FailureRecord {
            feed: "new",
            config_url: &path.display().to_string(),
            error: "HTTP 503",
            failures: 1,
            html_streak: 0,
            now,
            next_poll_at: now,
        })
        .await
        .unwrap();
    // Dates have whole seconds: the next one is after the old name's last poll.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let fresh = chrono::Utc::now().to_rfc2822();
    let doc = format!(
        "<rss version=\"2.0\"><channel><title>t</title>\
         <item><guid>a</guid><title>troops a</title></item>\
         <item><guid>n</guid><title>troops n</title><pubDate>{fresh}</pubDate></item>\
         <item><guid>u</guid><title>troops u</title></item>\
         <item><guid>v</guid><title>troops v</title></item></channel></rss>"
    );
    std::fs::write(&path, doc).unwrap();
    let plan = plan_of(&[("new", &path)]);
    let state = store.feed_state("new").await.unwrap();
    assert!(state.is_some(), "the failure was stored under the new name");
    let done = poll_plain(&store, &plan, &plan.feeds[0], state.as_ref())
        .await
        .unwrap();
    assert!(
        matches!(done.outcome, Refreshed::Ok { enqueued: 1, .. }),
        "{:?}",
        done.outcome
    );
}
