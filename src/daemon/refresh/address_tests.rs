//! Whether a document at another address is the same feed: a changed `url`, a permanent
//! redirect, the configured URL polled again after a move. Whole polls against local files and
//! a local HTTP server, with an in-memory store.

use super::tests::{enqueued_by_poll, rss};
use super::*;

/// Regression: a changed `url` was always baselined, so a feed moved to another address of
/// the same document (http to https, a new domain), or flipping between two URLs while
/// instances on the old and the new configuration share a database, took what it published
/// meanwhile as seen. A URL whose items are mostly ones the feed has seen is the same feed:
/// its new items alert. One that is mostly new is still a new document, baselined.
#[tokio::test]
async fn a_changed_url_serving_the_items_seen_alerts_what_is_new_and_a_new_document_is_baselined() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two, other) = (
        dir.path().join("one.xml"),
        dir.path().join("two.xml"),
        dir.path().join("other.xml"),
    );
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    let poll = async |path: &std::path::Path, guids: &[&str]| {
        std::fs::write(path, rss(guids)).unwrap();
        enqueued_by_poll(&store, path).await
    };
    assert_eq!(poll(&one, &["a", "b"]).await, 0, "a new feed: baselined");
    // The same document at a new address, with one item more: it alerts.
    assert_eq!(poll(&two, &["c", "a", "b"]).await, 1);
    // Back to the old address (an instance still on the old configuration): its new item
    // alerts too.
    assert_eq!(poll(&one, &["d", "c", "a", "b"]).await, 1);
    // And forth again.
    assert_eq!(poll(&two, &["e", "d", "c", "a", "b"]).await, 1);
    // A different document (one item in common of four): baselined.
    assert_eq!(poll(&other, &["x", "y", "z", "a"]).await, 0);
    assert_eq!(poll(&other, &["w", "x", "y", "z", "a"]).await, 1);
}

/// The same feed at another address may list more than it did: of its items not seen, those
/// published long before the feed's last successful poll are backlog and do not alert; half
/// of the items seen is enough to be the same feed.
#[tokio::test]
async fn a_broader_document_at_a_new_address_alerts_only_what_is_newer_than_the_last_poll() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    let poll = async |name: &str, items: &[(&str, Option<&str>)]| {
        let path = dir.path().join(name);
        let items: String = items
            .iter()
            .map(|(g, date)| {
                let date = date.map_or(String::new(), |d| format!("<pubDate>{d}</pubDate>"));
                format!("<item><guid>{g}</guid><title>troops {g}</title>{date}</item>")
            })
            .collect();
        let doc = format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>");
        std::fs::write(&path, doc).unwrap();
        enqueued_by_poll(&store, &path).await
    };
    let old = Some("Mon, 02 Jan 2006 15:04:05 GMT");
    let seen = [("a", None), ("b", None), ("c", None), ("d", None)];
    assert_eq!(poll("one.xml", &seen).await, 0, "a new feed: baselined");
    // Four of seven seen: the same feed. The new item alerts; the two from 2006 it never
    // listed before are backlog.
    let mut broader = vec![("n", None)];
    broader.extend(seen);
    broader.extend([("o1", old), ("o2", old)]);
    assert_eq!(poll("two.xml", &broader).await, 1);
    // Exactly half seen is still the same feed.
    let half = [("p", None), ("q", None), ("a", None), ("b", None)];
    assert_eq!(poll("three.xml", &half).await, 2);
}

/// Regression: a changed URL whose document shares some items with the feed but not half
/// (the feed turned over more than half while the daemon was stopped, or the site-wide feed
/// replaced one of its sections) was baselined whole, so what was published since the feed
/// was last read never alerted. It is still baselined, but its items dated after the last
/// successful poll alert; older and undated ones stay quiet.
#[tokio::test]
async fn a_document_sharing_a_few_items_alerts_what_was_published_since_the_last_poll() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    let poll = async |name: &str, items: &[(&str, Option<String>)]| {
        let path = dir.path().join(name);
        let items: String = items
            .iter()
            .map(|(g, date)| {
                let date = date
                    .as_ref()
                    .map_or(String::new(), |d| format!("<pubDate>{d}</pubDate>"));
                format!("<item><guid>{g}</guid><title>troops {g}</title>{date}</item>")
            })
            .collect();
        let doc = format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>");
        std::fs::write(&path, doc).unwrap();
        enqueued_by_poll(&store, &path).await
    };
    let old = || Some("Mon, 02 Jan 2006 15:04:05 GMT".to_string());
    let seen = [("a", None), ("b", None), ("c", None), ("d", None)];
    assert_eq!(poll("one.xml", &seen).await, 0, "a new feed: baselined");
    // Dates have whole seconds: the next one is after the first poll.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // One of six seen: another document. Of the five new items, the one dated after the
    // first poll alerts; one dated ahead of now (an event's date) does not.
    let fresh = Some(chrono::Utc::now().to_rfc2822());
    let ahead = Some((chrono::Utc::now() + chrono::Duration::days(30)).to_rfc2822());
    let turned_over = [
        ("a", None),
        ("n", fresh),
        ("o", old()),
        ("u", None),
        ("v", old()),
        ("e", ahead),
    ];
    assert_eq!(poll("two.xml", &turned_over).await, 1);
    // A document with nothing in common is a stranger: baselined whole, dated or not.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let later = Some(chrono::Utc::now().to_rfc2822());
    assert_eq!(poll("three.xml", &[("x", later), ("y", None)]).await, 0);
}

/// Regression: a permanent redirect was followed as the same feed whatever it led to, so a
/// retired section feed redirected to the site-wide feed alerted every item of the site-wide
/// feed, weeks-old ones too. The document a redirect leads to is judged as a changed URL's:
/// the same feed (most items seen) alerts what is new, another document is baselined; a
/// redirect to where the feed already lives is no new address.
#[tokio::test]
async fn a_permanent_redirect_to_another_document_is_baselined_and_to_the_same_alerts_the_new() {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use std::sync::atomic::{AtomicBool, Ordering};
    let moved = std::sync::Arc::new(AtomicBool::new(false));
    let turned = std::sync::Arc::new(AtomicBool::new(false));
    let route = |from_moved: bool, to: &'static str, body: String| {
        let moved = moved.clone();
        axum::routing::get(move || {
            let body = body.clone();
            let moved = moved.load(Ordering::SeqCst);
            async move {
                if from_moved && moved {
                    (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)]).into_response()
                } else {
                    ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
                }
            }
        })
    };
    let app = axum::Router::new()
        .route(
            "/section.xml",
            route(true, "/site.xml", rss(&["a", "b", "c"])),
        )
        .route("/site.xml", route(false, "", rss(&["w", "x", "y", "z"])))
        .route(
            "/http.xml",
            route(true, "/https.xml", rss(&["a", "b", "c"])),
        )
        .route("/https.xml", {
            // After an outage, a feed that turned over all but one item.
            let turned = turned.clone();
            axum::routing::get(move || {
                let items: &[&str] = if turned.load(Ordering::SeqCst) {
                    &["p", "q", "r", "s", "n"]
                } else {
                    &["n", "a", "b", "c"]
                };
                let body = rss(items);
                async move { ([(header::CONTENT_TYPE, "application/rss+xml")], body) }
            })
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let poll = async |store: &crate::store::sqlite::SqliteStore, path: &str| {
        enqueued_by_poll(store, std::path::Path::new(&format!("http://{addr}{path}"))).await
    };
    let (other, same) = (
        crate::store::sqlite::SqliteStore::in_memory()
            .await
            .unwrap(),
        crate::store::sqlite::SqliteStore::in_memory()
            .await
            .unwrap(),
    );
    assert_eq!(
        poll(&other, "/section.xml").await,
        0,
        "a new feed: baselined"
    );
    assert_eq!(poll(&same, "/http.xml").await, 0, "a new feed: baselined");
    moved.store(true, Ordering::SeqCst);
    assert_eq!(poll(&other, "/section.xml").await, 0, "another document");
    assert_eq!(
        poll(&same, "/http.xml").await,
        1,
        "the same feed's new item"
    );
    // Review regression: the moved feed failed three times, so its configured URL is polled
    // as a fallback, and it still redirects to where the feed lives. That is no new address:
    // the feed's four new items alert as after any outage (judged as a new document, the
    // turned-over feed was baselined and they were lost).
    let config_url = format!("http://{addr}/http.xml");
    let now = crate::store::now_millis();
    same.record_failure(&crate::store::FailureRecord {
        feed: "f",
        config_url: &config_url,
        error: "HTTP 503",
        failures: 3,
        html_streak: 0,
        now,
        next_poll_at: now,
    })
    .await
    .unwrap();
    turned.store(true, Ordering::SeqCst);
    assert_eq!(
        poll(&same, "/http.xml").await,
        4,
        "the fallback's new items"
    );
}

/// Regression: a new feed's first poll, a baseline, of a document cut off by the end of its
/// download marked the items before the cut seen; the next poll, of the whole document,
/// alerted every item past the cut as news (years-old ones). A baseline of a cut-off
/// document leaves the feed unbaselined: the next poll judges the rest of the backlog as the
/// same feed at a new address, where what is dated before the last poll is backlog.
#[tokio::test]
async fn a_baseline_of_a_cut_off_document_keeps_the_rest_of_the_backlog_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    let store = crate::store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    let item = |guid: &str, date: &str| {
        format!(
            "<item><guid>{guid}</guid><title>troops {guid}</title><pubDate>{date}</pubDate></item>"
        )
    };
    let backlog: String = (1..=20)
        .rev()
        .map(|n| {
            item(
                &format!("g{n}"),
                &format!("Mon, {n:02} Jan 2024 10:00:00 GMT"),
            )
        })
        .collect();
    let doc = |fresh: &str| {
        format!("<rss version=\"2.0\"><channel><title>t</title>{fresh}{backlog}</channel></rss>")
    };
    let whole = doc("");
    // Cut inside the twelfth item: eleven items are read (more than half of the whole
    // document's), the cut one is dropped.
    let cut = whole.find("<guid>g9<").unwrap() + 3;
    std::fs::write(&path, &whole[..cut]).unwrap();
    assert_eq!(
        enqueued_by_poll(&store, &path).await,
        0,
        "a new feed: baselined"
    );
    let state = store.feed_state("f").await.unwrap().unwrap();
    assert!(
        !state.baselined,
        "the baseline saw only part of the backlog"
    );
    // The whole document, with one item published since: only that one alerts.
    let fresh = item("new", &chrono::Utc::now().to_rfc2822());
    std::fs::write(&path, doc(&fresh)).unwrap();
    assert_eq!(enqueued_by_poll(&store, &path).await, 1);
    assert!(store.feed_state("f").await.unwrap().unwrap().baselined);
    // From then on as usual.
    std::fs::write(&path, doc(&format!("{}{fresh}", item("next", "")))).unwrap();
    assert_eq!(enqueued_by_poll(&store, &path).await, 1);
}
