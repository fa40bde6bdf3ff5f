//! Pages a feed must not make the daemon fetch, or share: private addresses and other
//! schemes, a private page for a public feed, and redirects, against a real local server.

use std::sync::atomic::Ordering;

use super::tests::{fast, feed, item, pages, serve};
use super::*;

/// A public feed's items cannot make the daemon fetch from the operator's own network:
/// loopback by address or by name, nor anything but http(s) after a redirect.
#[tokio::test]
async fn private_addresses_and_other_schemes_are_refused() {
    let (addr, hits) = serve().await;
    let pages = pages();
    let port = addr.port();
    let mut items = vec![
        item("ip", &format!("http://127.0.0.1:{port}/p/a"), ""),
        item("name", &format!("http://localhost:{port}/p/b"), ""),
        item("v6", &format!("http://[::1]:{port}/p/c"), ""),
    ];
    let r = pages
        .fill(&fast(), &feed(FullTextMode::Auto, false), &mut items)
        .await;
    assert_eq!((r.fetched, r.failed), (0, 3), "{r:?}");
    assert_eq!(
        hits.pages.load(Ordering::SeqCst),
        0,
        "a private page was requested"
    );
    // A feed on loopback may link beside it, but a redirect to file: is refused.
    let mut items = vec![item("f", &format!("http://{addr}/to-file"), "")];
    let r = pages
        .fill(&fast(), &feed(FullTextMode::Auto, true), &mut items)
        .await;
    assert_eq!((r.fetched, r.failed), (0, 1), "{r:?}");
}

/// Regression: the page cache was keyed by link alone, so a public feed linking an intranet
/// page an intranet feed had fetched got its text from the cache, and the intranet feed got
/// a public feed's refusal of the same link for six hours.
#[tokio::test]
async fn a_private_page_is_never_shared_with_a_public_feed() {
    let (addr, hits) = serve().await;
    let pages = pages();
    let link = format!("http://{addr}/p/intranet");
    let mut public = vec![item("pub", &link, "")];
    let r = pages
        .fill(&fast(), &feed(FullTextMode::Auto, false), &mut public)
        .await;
    assert_eq!((r.fetched, r.failed, r.cached), (0, 1, 0), "{r:?}");
    let mut private = vec![item("priv", &link, "")];
    let r = pages
        .fill(&fast(), &feed(FullTextMode::Auto, true), &mut private)
        .await;
    assert_eq!((r.fetched, r.cached), (1, 0), "{r:?}");
    assert!(private[0].body.contains("Victory Plan"));
    let mut public = vec![item("pub2", &link, "")];
    let r = pages
        .fill(&fast(), &feed(FullTextMode::Auto, false), &mut public)
        .await;
    assert_eq!(
        (r.fetched, r.cached),
        (0, 1),
        "the public refusal, not the text: {r:?}"
    );
    assert_eq!(public[0].body, "");
    assert_eq!(hits.pages.load(Ordering::SeqCst), 1);
}

/// Regression: a link whose scheme was written in capitals never got its page.
#[test]
fn a_link_scheme_in_capitals_wants_its_page() {
    let f = feed(FullTextMode::Always, false).full_text;
    assert!(f.wants(&item("a", "HTTPS://news.example/a", "")));
    assert!(f.wants(&item("b", "Http://news.example/b", "")));
    assert!(!f.wants(&item("c", "mailto:desk@news.example", "")));
    assert!(!f.wants(&item("d", "httpx://news.example/d", "")));
}

#[tokio::test]
async fn redirects_are_followed_up_to_five() {
    let (addr, _) = serve().await;
    let pages = pages();
    let mut items = vec![
        item("five", &format!("http://{addr}/r/4"), ""),
        item("six", &format!("http://{addr}/r/5"), ""),
    ];
    let r = pages
        .fill(&fast(), &feed(FullTextMode::Auto, true), &mut items)
        .await;
    assert_eq!((r.fetched, r.failed), (1, 1), "{r:?}");
    assert!(items[0].body.contains("Victory Plan"));
    assert_eq!(items[1].body, "");
}
