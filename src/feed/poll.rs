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
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PollError::Fetch(e) => e.retry_after(),
            _ => None,
        }
    }
}

/// Poll a feed once. When the source answers with an HTML page, its feed link is followed
/// only if `follow` (one hop); otherwise that is a [`PollError::HtmlPage`].
pub async fn poll(
    fetcher: &Fetcher,
    source: &FeedSource,
    validators: &Validators,
    follow: bool,
) -> Result<Polled, PollError> {
    let body = match fetcher.fetch(source, validators).await? {
        Fetched::NotModified { max_age } => return Ok(Polled::NotModified { max_age }),
        Fetched::Body(b) => b,
    };
    match parse(
        &body.bytes,
        body.content_type.as_deref(),
        body.final_url.as_ref(),
    )? {
        Parsed::Feed(feed) => Ok(Polled::Feed {
            feed,
            body: BodyMeta::of(&body),
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
            let linked = fetcher
                .fetch(&FeedSource::Http(url.clone()), &Validators::default())
                .await
                .map_err(|e| wrap(e.into()))?;
            let Fetched::Body(b2) = linked else {
                return Err(wrap(PollError::Parse(ParseError::HtmlWithoutFeedLink)));
            };
            match parse(&b2.bytes, b2.content_type.as_deref(), b2.final_url.as_ref())
                .map_err(|e| wrap(e.into()))?
            {
                Parsed::Feed(feed) => Ok(Polled::Feed {
                    feed,
                    // The linked feed's metadata: callers poll the discovered URL from now on.
                    body: BodyMeta::of(&b2),
                    discovered: Some(url),
                }),
                Parsed::Html { .. } => Err(wrap(PollError::Parse(ParseError::HtmlWithoutFeedLink))),
            }
        }
    }
}
