//! One poll of one feed, as a script: fetch → decode → parse (→ follow an HTML page's feed link).
//!
//! Owns [`poll`], [`Polled`] and [`PollError`]. Used by `newswatch try` and by the daemon's
//! scheduler; neither needs to know about charsets, repairs or autodiscovery.

use std::time::Duration;

use crate::config::FeedSource;
use crate::feed::fetch::{Body, FetchError, Fetched, Fetcher, Validators};
use crate::feed::parse::{ParseError, Parsed, ParsedFeed, parse};

/// What a poll produced.
// One value per poll, moved once and never stored in bulk: the size difference is harmless.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Polled {
    NotModified {
        max_age: Option<Duration>,
    },
    Feed {
        feed: ParsedFeed,
        /// Metadata of the response the feed came from (validators, redirects, max-age).
        body: BodyMeta,
        /// Set when the source was an HTML page and the feed was found through its
        /// `<link rel="alternate">`.
        discovered: Option<url::Url>,
    },
}

/// A fetched body's metadata without the bytes.
#[derive(Debug, Clone)]
pub struct BodyMeta {
    pub final_url: Option<url::Url>,
    pub moved_to: Option<url::Url>,
    pub remote_addr: Option<std::net::SocketAddr>,
    pub validators: Validators,
    pub max_age: Option<Duration>,
    pub bytes: usize,
}

impl BodyMeta {
    fn of(b: &Body) -> BodyMeta {
        BodyMeta {
            final_url: b.final_url.clone(),
            moved_to: b.moved_to.clone(),
            remote_addr: b.remote_addr,
            validators: b.validators.clone(),
            max_age: b.max_age,
            bytes: b.bytes.len(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("fetch failed: {0}")]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("the page at {page} links to {link}, which is not a feed either: {source}")]
    Discovery {
        page: String,
        link: String,
        source: Box<PollError>,
    },
    /// An HTML page whose feed link was not followed this time (see [`poll`]'s `follow`).
    #[error(
        "the feed URL served an HTML page instead of a feed (a page linking to {link}); \
         not followed yet: a passing error or home page must not move the feed"
    )]
    HtmlPage { link: String },
}

impl PollError {
    /// The server's `Retry-After`, also when it answered the feed a page linked to.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PollError::Fetch(e) => e.retry_after(),
            PollError::Discovery { source, .. } => source.retry_after(),
            _ => None,
        }
    }
}

/// Poll a feed once. When the source answers with an HTML page, its feed link is followed
/// only if `follow` (one hop); otherwise that is a [`PollError::HtmlPage`]. `origin` is the
/// URL the feed's configuration names when `source` is another (the feed moved): where the
/// fetches may lead is decided by it ([`Fetcher::fetch_from`]).
pub async fn poll(
    fetcher: &Fetcher,
    source: &FeedSource,
    validators: &Validators,
    follow: bool,
    origin: Option<&url::Url>,
) -> Result<Polled, PollError> {
    // One `fetch_timeout` for an HTML page and the feed it links to (each had its own, so a
    // poll through a page could take twice as long): the feed gets what the page's fetch left.
    // The page's parse is not counted: it may wait for a place on the blocking pool.
    let timeout = fetcher.options().timeout;
    let started = tokio::time::Instant::now();
    let origin = origin.or(source.url());
    let body = match fetcher.fetch_from(source, validators, origin).await? {
        Fetched::NotModified { max_age } => return Ok(Polled::NotModified { max_age }),
        Fetched::Body(b) => b,
    };
    let left = timeout.saturating_sub(started.elapsed());
    let meta = BodyMeta::of(&body);
    match parse_body(*body).await? {
        Parsed::Feed(feed) => Ok(Polled::Feed {
            feed,
            body: meta,
            discovered: None,
        }),
        Parsed::Html { feed_links } => {
            let page = source.to_string();
            let Some(link) = feed_links.first() else {
                return Err(PollError::Parse(ParseError::HtmlWithoutFeedLink));
            };
            if !follow {
                return Err(PollError::HtmlPage { link: link.clone() });
            }
            let wrap = |e: PollError| PollError::Discovery {
                page: page.clone(),
                link: link.clone(),
                source: Box::new(e),
            };
            let url = url::Url::parse(link)
                .map_err(|_| wrap(PollError::Parse(ParseError::HtmlWithoutFeedLink)))?;
            // One hop only: a feed link pointing at another HTML page is an error, not a loop.
            let (linked, none) = (FeedSource::Http(url.clone()), Validators::default());
            let linked = fetcher.fetch_from(&linked, &none, origin);
            let linked = tokio::time::timeout(left, linked)
                .await
                .unwrap_or(Err(FetchError::Timeout(left)))
                .map_err(|e| wrap(e.into()))?;
            let Fetched::Body(b2) = linked else {
                return Err(wrap(PollError::Parse(ParseError::HtmlWithoutFeedLink)));
            };
            // The linked feed's metadata: callers poll the discovered URL from now on.
            let meta = BodyMeta::of(&b2);
            match parse_body(*b2).await.map_err(|e| wrap(e.into()))? {
                Parsed::Feed(feed) => Ok(Polled::Feed {
                    feed,
                    body: meta,
                    discovered: Some(url),
                }),
                Parsed::Html { .. } => Err(wrap(PollError::Parse(ParseError::HtmlWithoutFeedLink))),
            }
        }
    }
}

/// Bodies from this size on are parsed on the blocking pool.
const PARSE_ASIDE: usize = 256 * 1024;

/// Parse a fetched body. A large one (up to the 16 MiB body cap, 10,000 items) takes a good
/// part of a second, so it is parsed aside ([`crate::aside`]: the blocking pool, one per
/// core); a small one is parsed in place, where the hand-off would cost more than the parse.
async fn parse_body(body: Body) -> Result<Parsed, ParseError> {
    let aside = body.bytes.len() >= PARSE_ASIDE;
    let run = move || {
        parse(
            &body.bytes,
            body.content_type.as_deref(),
            body.final_url.as_ref(),
        )
    };
    if !aside {
        return run();
    }
    // A panic outside feed-rs (which `parse` already catches) is reported like one inside.
    crate::aside::run(run)
        .await
        .unwrap_or(Err(ParseError::ParserCrashed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(bytes: Vec<u8>) -> Body {
        Body {
            bytes,
            content_type: Some("application/rss+xml".into()),
            final_url: None,
            moved_to: None,
            remote_addr: None,
            validators: Validators::default(),
            max_age: None,
        }
    }

    fn rss(items: usize) -> Vec<u8> {
        let mut s = String::from("<rss version=\"2.0\"><channel><title>t</title>");
        for i in 0..items {
            s.push_str(&format!(
                "<item><guid>g{i}</guid><title>North Korean troops {i}</title>\
                 <description>{}</description></item>",
                "Reports from the front line. ".repeat(8)
            ));
        }
        s.push_str("</channel></rss>");
        s.into_bytes()
    }

    /// A 16 MiB document parsed on the runtime's thread held up every other task there
    /// (polls, sends, lease renewals) for as long as the parse took.
    #[tokio::test(flavor = "current_thread")]
    async fn a_large_document_is_parsed_without_holding_up_the_runtime() {
        let doc = rss(6_000);
        assert!(doc.len() >= PARSE_ASIDE);
        // 1.6 MB take longer than a millisecond to parse in any build.
        let parsed = crate::aside::assert_runtime_kept_running(parse_body(body(doc))).await;
        let Parsed::Feed(feed) = parsed.unwrap() else {
            panic!("not a feed");
        };
        assert_eq!(feed.items.len(), 6_000);
    }

    #[tokio::test]
    async fn a_small_document_parses_in_place_the_same() {
        let doc = rss(3);
        assert!(doc.len() < PARSE_ASIDE);
        let Parsed::Feed(feed) = parse_body(body(doc)).await.unwrap() else {
            panic!("not a feed");
        };
        assert_eq!(feed.items.len(), 3);
        assert_eq!(feed.items[0].title, "North Korean troops 0");
    }
}
