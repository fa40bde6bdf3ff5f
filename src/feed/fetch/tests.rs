//! Unit tests of fetching: hops to private addresses refused, origin verdicts kept, local files,
//! `Retry-After` and cache headers read.

use super::*;

/// A server on loopback: `/elsewhere` redirects to `/feed` under the name `localhost`,
/// `/page` is an HTML page linking to that feed, `/feed` counts its requests.
async fn two_names() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use axum::routing::get;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let elsewhere = format!("http://localhost:{}/feed", addr.port());
    let page = format!(
        "<html><head><link rel=\"alternate\" type=\"application/rss+xml\" \
         href=\"{elsewhere}\"></head></html>"
    );
    let app = axum::Router::new()
        .route(
            "/feed",
            get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { "<rss version=\"2.0\"><channel><title>t</title></channel></rss>" }
            }),
        )
        .route(
            "/elsewhere",
            get(move || async move {
                (
                    axum::http::StatusCode::FOUND,
                    [(axum::http::header::LOCATION, elsewhere)],
                )
            }),
        )
        .route(
            "/page",
            get(move || async move { axum::response::Html(page) }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, hits)
}

/// Regression: a public feed's redirect to another host, and the feed its HTML page
/// links to, could lead to a private address. This server on loopback stands for a
/// public one (its verdict assumed, as a lookup of a public name gives it): the hop to
/// `localhost` is refused before any request, the page's feed link too.
#[tokio::test]
async fn a_public_feeds_hops_to_a_private_address_are_refused() {
    use std::sync::atomic::Ordering;
    let (addr, hits) = two_names().await;
    let f = Fetcher::new(FetchOptions::default()).unwrap();
    f.assume_origin("127.0.0.1", false);
    let source = |path: &str| FeedSource::Http(format!("http://{addr}{path}").parse().unwrap());
    let err = f
        .fetch(&source("/elsewhere"), &Validators::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "not fetched: localhost is a private address and the feed's configured URL \
         (127.0.0.1) is not"
    );
    let err = crate::feed::poll::poll(&f, &source("/page"), &Validators::default(), true, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("localhost is a private address"),
        "{err}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    // The same server taken for what it is, private: both lead to the feed.
    let f = Fetcher::new(FetchOptions::default()).unwrap();
    assert!(
        f.fetch(&source("/elsewhere"), &Validators::default())
            .await
            .is_ok()
    );
    let polled =
        crate::feed::poll::poll(&f, &source("/page"), &Validators::default(), true, None).await;
    assert!(matches!(
        polled,
        Ok(crate::feed::poll::Polled::Feed {
            discovered: Some(_),
            ..
        })
    ));
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

/// The client a public feed's hops to other hosts go through connects to public
/// addresses only: a name that resolves to loopback is refused by its resolver (the hop
/// check catches `localhost` itself sooner; any other name of a private address ends here).
#[tokio::test]
async fn a_public_feeds_hops_resolve_to_public_addresses_only() {
    if env_proxy() {
        eprintln!("skipped: a proxy in the environment resolves names instead");
        return;
    }
    let (addr, hits) = two_names().await;
    let f = Fetcher::new(FetchOptions::default()).unwrap();
    let err = f
        .feed_public
        .get(format!("http://localhost:{}/feed", addr.port()))
        .send()
        .await
        .unwrap_err();
    let err = format!("{:?}", network(err));
    assert!(err.contains("no public address"), "{err}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// Whether a configured name is private is looked up once per [`ORIGIN_TTL`]; a lookup
/// without an answer keeps the last verdict, and without one the name counts as private
/// (an intranet name gone from DNS still leads to where its feed moved).
#[tokio::test]
async fn an_origins_verdict_is_kept_and_outlives_a_failed_lookup() {
    let f = Fetcher::new(FetchOptions::default()).unwrap();
    let gone: url::Url = "http://intranet.invalid/feed".parse().unwrap();
    assert!(
        f.origin_is_private(&gone).await,
        "no answer, no verdict: private"
    );
    let long_ago = std::time::Instant::now()
        .checked_sub(ORIGIN_TTL * 2)
        .unwrap_or_else(std::time::Instant::now);
    f.origins
        .lock()
        .unwrap()
        .insert("intranet.invalid".into(), (false, long_ago));
    assert!(
        !f.origin_is_private(&gone).await,
        "no answer: the last verdict"
    );
    f.assume_origin("intranet.invalid", true);
    assert!(
        f.origin_is_private(&gone).await,
        "a fresh verdict is not looked up"
    );
    let public: url::Url = "http://8.8.8.8/rss".parse().unwrap();
    assert!(!f.origin_is_private(&public).await);
}

/// Regression: `max_body_size = "18446744073709551615"` (accepted) overflowed the one
/// byte read past the limit: every local file read as empty in a release build.
#[tokio::test]
async fn a_local_file_is_read_whole_under_the_largest_body_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.xml");
    std::fs::write(&path, "<rss/>").unwrap();
    let Fetched::Body(body) = read_file(&path, u64::MAX).await.unwrap() else {
        panic!("no body");
    };
    assert_eq!(body.bytes, b"<rss/>");
}

#[test]
fn parses_retry_after_and_max_age() {
    let mut h = HeaderMap::new();
    h.insert(header::RETRY_AFTER, "120".parse().unwrap());
    h.insert(
        header::CACHE_CONTROL,
        "public, max-age=300".parse().unwrap(),
    );
    assert_eq!(retry_after(&h), Some(Duration::from_secs(120)));
    assert_eq!(max_age(&h), Some(Duration::from_secs(300)));
    h.insert(
        header::RETRY_AFTER,
        "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
    );
    assert_eq!(retry_after(&h), Some(Duration::ZERO));
    h.insert(header::RETRY_AFTER, "soon".parse().unwrap());
    assert_eq!(retry_after(&h), None);
}

/// Regression: `Retry-After` in the RFC 850 and asctime forms (which HTTP recipients must
/// accept) and `Max-Age` written with capitals were ignored: polls came sooner than the
/// server asked.
#[test]
fn every_http_date_form_and_any_directive_case_are_read() {
    let mut h = HeaderMap::new();
    for future in [
        "Wednesday, 21-Oct-37 07:28:00 GMT",
        "Wed Oct 21 07:28:00 2037",
        "Wed, 21 Oct 2037 07:28:00 GMT",
        "Wed, 21 Oct 2037 09:28:00 +0200",
    ] {
        h.insert(header::RETRY_AFTER, future.parse().unwrap());
        let wait = retry_after(&h).unwrap_or_default();
        assert!(
            wait > Duration::from_secs(300 * 86_400),
            "{future}: {wait:?}"
        );
    }
    h.insert(
        header::CACHE_CONTROL,
        "public, Max-Age=600".parse().unwrap(),
    );
    assert_eq!(max_age(&h), Some(Duration::from_secs(600)));
    h.insert(
        header::CACHE_CONTROL,
        "s-maxage=5, MAX-AGE = 7".parse().unwrap(),
    );
    assert_eq!(max_age(&h), Some(Duration::from_secs(7)));
}
