//! What the parse tests share: a document parsed as a feed, and RSS around some items.

#![allow(dead_code)]

use newswatch::feed::{Parsed, ParsedFeed, Repair, parse};
use url::Url;

pub fn parse_feed(body: &str) -> ParsedFeed {
    parse_feed_at(body, None)
}

/// `body` parsed as a feed fetched from `base`.
pub fn parse_feed_at(body: &str, base: Option<&Url>) -> ParsedFeed {
    match parse(body.as_bytes(), None, base) {
        Ok(Parsed::Feed(feed)) => feed,
        other => panic!("expected a feed, got {other:?}"),
    }
}

pub fn rss_items(items: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>"#
    )
}

pub fn assert_repaired(body: &str, repair: Repair) -> ParsedFeed {
    let feed = parse_feed(body);
    assert!(
        feed.repairs.contains(&repair),
        "{repair:?} not in {:?}",
        feed.repairs
    );
    feed
}
