//! Fetching a feed's bytes: HTTP(S) with conditional GET, or a local file.
//!
//! Owns [`Fetcher`], [`FetchOptions`], [`Validators`], [`Fetched`] and [`FetchError`]. Callers
//! pass a [`FeedSource`] and the validators stored from the last poll; they get raw bytes and the
//! headers that matter (never `.text()`: the charset layer in [`crate::feed::charset`] decides
//! how to decode). Guarantees that hostile servers cannot break: a total deadline per fetch
//! (a server trickling one byte a second is cut off), a cap on the *decompressed* body enforced
//! while streaming (a gzip bomb stops at the cap), and at most [`MAX_REDIRECTS`] redirects.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use tokio::io::AsyncReadExt;

use crate::config::FeedSource;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// How fetches behave; from `[daemon]`.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub user_agent: String,
    /// Deadline for the whole fetch, redirects and body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Largest decompressed body accepted, in bytes.
    pub max_body_size: u64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            user_agent: crate::config::plan::DEFAULT_USER_AGENT.to_string(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_size: 16 * 1024 * 1024,
        }
    }
}

/// Cache validators from the previous successful fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A successful fetch.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// 304: nothing changed since the validators were issued.
    NotModified {
        max_age: Option<Duration>,
    },
    Body(Box<Body>),
}

/// A fetched body and the metadata the scheduler and parser need.
#[derive(Debug, Clone)]
pub struct Body {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    /// The URL the body came from after redirects (the base for relative links).
    pub final_url: Option<url::Url>,
    /// Set when every redirect hop was permanent (301/308): the feed has moved.
    pub moved_to: Option<url::Url>,
    /// The address the body was read from (`None` for a file): whether the feed is on a
    /// private network is judged by where it came from, not by a later DNS answer.
    pub remote_addr: Option<std::net::SocketAddr>,
    pub validators: Validators,
    /// `Cache-Control: max-age`, a lower bound for the next poll.
    pub max_age: Option<Duration>,
}

/// Why a fetch failed. Messages are for operators: they say what happened, not how.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("body larger than the {limit}-byte limit (max_body_size)")]
    TooLarge { limit: u64 },
    #[error("HTTP {status}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// Not fetched by policy: an article page (scheme, private address), or a public feed's
    /// hop to a private address.
    #[error("not fetched: {0}")]
    Refused(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("redirect without a valid Location")]
    BadRedirect,
    #[error("{0}")]
    Network(String),
    #[error("cannot read {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

impl FetchError {
    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Fetches feeds. Cheap to clone: the HTTP client (and its connection pool) is shared.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    /// For article pages linked from public feeds: connects to public addresses only.
    public: reqwest::Client,
    /// For a public feed's hops to another host (a redirect, a linked or moved feed): public
    /// addresses only. Through a proxy from the environment (which resolves the names, and
    /// whose own name may well be private) it is the feed client.
    feed_public: reqwest::Client,
    /// Whether each configured URL's host is private, by host, and when that was looked up
    /// ([`Fetcher::origin_is_private`]).
    origins: std::sync::Arc<std::sync::Mutex<HashMap<String, (bool, std::time::Instant)>>>,
    opts: FetchOptions,
}

/// How long a configured URL's verdict (private or public) is kept before it is looked up
/// again: a feed that moved is polled at its new URL every few minutes, and a lookup on each
/// poll would cost up to [`crate::feed::page::address`]'s 2 s of its fetch time.
const ORIGIN_TTL: Duration = Duration::from_secs(600);

/// Whether the environment names a proxy reqwest uses for feeds.
fn env_proxy() -> bool {
    [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ]
    .iter()
    .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// What a feed accepts.
const FEED_ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
     application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5";
/// What an article page accepts.
const PAGE_ACCEPT: &str = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1";

/// One HTTP GET as [`Fetcher::fetch_http`] runs it.
struct Get<'a> {
    client: &'a reqwest::Client,
    accept: &'static str,
    validators: &'a Validators,
    /// Checked on the first URL and on every redirect target.
    hop: &'a (dyn Fn(&url::Url) -> Result<(), FetchError> + Sync),
    /// An article page: only an HTML answer (or one that does not say) is read, and only
    /// up to what extraction reads of it.
    page: bool,
    /// A feed: the URL its configuration names, which decides where its hops may lead
    /// ([`Fetcher::needs_public_only`]).
    origin: Option<&'a url::Url>,
}

/// Bytes of an article page read: extraction cuts the page at
/// [`crate::text::article::MAX_PAGE_BYTES`], so what follows is never downloaded (one byte
/// more, so the cut is seen).
const PAGE_READ: u64 = crate::text::article::MAX_PAGE_BYTES as u64 + 1;

/// Whether a `Content-Type` may be an HTML page (no type said: it may).
pub(crate) fn may_be_html(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|t| {
        let media = t.split(';').next().unwrap_or_default().trim();
        media.is_empty() || media.to_ascii_lowercase().contains("html")
    })
}

impl Fetcher {
    pub fn new(opts: FetchOptions) -> Result<Fetcher, FetchError> {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(opts.user_agent.clone())
                .connect_timeout(opts.connect_timeout)
                // We follow redirects ourselves to learn whether they were permanent (and, for
                // pages, to check where each one leads).
                .redirect(reqwest::redirect::Policy::none())
                .pool_idle_timeout(Duration::from_secs(90))
        };
        let built = |b: reqwest::ClientBuilder| {
            b.build()
                .map_err(|e| FetchError::Network(format!("cannot build HTTP client: {e}")))
        };
        let client = built(builder())?;
        // Never through a proxy from the environment: the proxy would resolve the page's
        // host, out of the address check's sight, and reach the private network for any
        // link a public feed publishes.
        let public = built(
            builder()
                .no_proxy()
                .dns_resolver(std::sync::Arc::new(crate::feed::page::address::PublicOnly)),
        )?;
        let feed_public = if env_proxy() {
            client.clone()
        } else {
            built(
                builder().dns_resolver(std::sync::Arc::new(crate::feed::page::address::PublicOnly)),
            )?
        };
        Ok(Fetcher {
            client,
            public,
            feed_public,
            origins: std::sync::Arc::default(),
            opts,
        })
    }

    pub fn options(&self) -> &FetchOptions {
        &self.opts
    }

    /// Whether a hop of a feed's fetch to `url` goes through the public-only client: it
    /// leaves the host of `origin` (the URL the feed's configuration names), and that is
    /// public. An error for such a hop to an address written in `url`. A hop to another host
    /// (a redirect, the feed an HTML page links to, the URL a feed moved to, polled from then
    /// on) is written by whoever runs the server: from a public origin it may not lead to a
    /// private address (a feed redirected to `http://169.254.169.254/` or a router's admin
    /// page made the daemon fetch it from inside the operator's network). An origin on a
    /// private network (an intranet, a test farm on loopback) may lead anywhere.
    async fn needs_public_only(
        &self,
        origin: &url::Url,
        url: &url::Url,
    ) -> Result<bool, FetchError> {
        if url.host() == origin.host() || self.origin_is_private(origin).await {
            return Ok(false);
        }
        if crate::feed::page::address::url_is_private(url) == Some(true) {
            return Err(FetchError::Refused(format!(
                "{} is a private address and the feed's configured URL ({}) is not",
                url.host_str().unwrap_or_default(),
                origin.host_str().unwrap_or_default()
            )));
        }
        Ok(true)
    }

    /// Whether a feed's configured URL is on a private network: its host a private address or
    /// `localhost`, or a name that resolves to private addresses only. Kept for
    /// [`ORIGIN_TTL`]. A lookup without an answer keeps the last verdict (an intranet name
    /// gone from DNS, its feed moved to another: still private), and without one the origin
    /// counts as private: whoever can make the name fail to resolve can as well point it at a
    /// private address, which the feed's own host may always be.
    async fn origin_is_private(&self, origin: &url::Url) -> bool {
        use crate::feed::page::address::{resolves_private, url_is_private};
        let host = origin.host_str().unwrap_or_default().to_ascii_lowercase();
        let last = self.origins.lock().ok().and_then(|m| m.get(&host).copied());
        if let Some((private, at)) = last
            && at.elapsed() < ORIGIN_TTL
        {
            return private;
        }
        if let Some(known) = url_is_private(origin) {
            return known;
        }
        let private = resolves_private(origin)
            .await
            .or(last.map(|(p, _)| p))
            .unwrap_or(true);
        if let Ok(mut m) = self.origins.lock() {
            m.insert(host, (private, std::time::Instant::now()));
        }
        private
    }

    /// Take `host` for a configured URL on a private network or not, as a lookup would
    /// (tests: a feed on loopback standing for a public one).
    #[cfg(test)]
    pub(crate) fn assume_origin(&self, host: &str, private: bool) {
        if let Ok(mut m) = self.origins.lock() {
            m.insert(host.to_owned(), (private, std::time::Instant::now()));
        }
    }

    /// Fetch a feed, conditionally when validators are given: the feed its configuration
    /// names (its hops elsewhere guarded by [`Fetcher::needs_public_only`]).
    pub async fn fetch(
        &self,
        source: &FeedSource,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        self.fetch_from(source, validators, None).await
    }

    /// [`Self::fetch`] for a feed reached from `origin`, the URL its configuration names (a
    /// moved feed, a page's feed link): it may lead to private addresses only when `origin`
    /// is on one. `None`: `source` is the origin.
    pub async fn fetch_from(
        &self,
        source: &FeedSource,
        validators: &Validators,
        origin: Option<&url::Url>,
    ) -> Result<Fetched, FetchError> {
        match source {
            FeedSource::File(p) => read_file(p, self.opts.max_body_size).await,
            FeedSource::Http(url) => {
                let get = Get {
                    client: &self.client,
                    accept: FEED_ACCEPT,
                    validators,
                    hop: &|_| Ok(()),
                    page: false,
                    origin: Some(origin.unwrap_or(url)),
                };
                let deadline = self.opts.timeout;
                match tokio::time::timeout(deadline, self.fetch_http(url.clone(), get)).await {
                    Ok(r) => r,
                    Err(_) => Err(FetchError::Timeout(deadline)),
                }
            }
        }
    }

    /// Fetch an article page: http(s) only on every hop, never from a private address unless
    /// `allow_private` (the feed itself is on one), within `deadline`, under the same body cap
    /// as feeds. A 304 cannot happen (no validators are sent).
    /// Fetch an article page by `deadline` (an instant, the poll's own: a duration measured
    /// here would end a moment after it, and which of the two fired first decided whether
    /// the page counted as timed out or as cut short).
    pub async fn fetch_page(
        &self,
        url: &url::Url,
        allow_private: bool,
        deadline: tokio::time::Instant,
    ) -> Result<Body, FetchError> {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let hop = move |u: &url::Url| page_hop(u, allow_private);
        let get = Get {
            client: if allow_private {
                &self.client
            } else {
                &self.public
            },
            accept: PAGE_ACCEPT,
            validators: &Validators::default(),
            hop: &hop,
            page: true,
            origin: None,
        };
        match tokio::time::timeout_at(deadline, self.fetch_http(url.clone(), get)).await {
            Ok(Ok(Fetched::Body(b))) => Ok(*b),
            Ok(Ok(Fetched::NotModified { .. })) => Err(FetchError::Status {
                status: 304,
                retry_after: None,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(FetchError::Timeout(left)),
        }
    }

    async fn fetch_http(&self, mut url: url::Url, get: Get<'_>) -> Result<Fetched, FetchError> {
        let validators = get.validators;
        let mut all_permanent = true;
        let mut redirected = false;
        for _ in 0..=MAX_REDIRECTS {
            (get.hop)(&url)?;
            let client = match &get.origin {
                Some(origin) if self.needs_public_only(origin, &url).await? => &self.feed_public,
                _ => get.client,
            };
            let mut req = client.get(url.clone()).header(header::ACCEPT, get.accept);
            if let Some(e) = &validators.etag {
                req = req.header(header::IF_NONE_MATCH, e);
            }
            if let Some(lm) = &validators.last_modified {
                req = req.header(header::IF_MODIFIED_SINCE, lm);
            }
            let mut resp = req.send().await.map_err(network)?;
            let status = resp.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                // Raw UTF-8 in a Location is common (`/новости/rss`); `join` percent-encodes it.
                let next = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or(FetchError::BadRedirect)?;
                all_permanent &= matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                redirected = true;
                url = next;
                continue;
            }
            let headers = resp.headers().clone();
            let remote_addr = resp.remote_addr();
            let max_age = max_age(&headers);
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Fetched::NotModified { max_age });
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    status: status.as_u16(),
                    retry_after: retry_after(&headers),
                });
            }
            let limit = self.opts.max_body_size;
            if get.page {
                // A PDF, a video or a podcast episode linked as the article: not read at all
                // (it was downloaded to the body cap, then found to hold no article).
                let kind = headers
                    .get(header::CONTENT_TYPE)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                if !may_be_html(kind.as_deref()) {
                    return Err(FetchError::Refused(format!(
                        "not a web page ({})",
                        kind.unwrap_or_default()
                    )));
                }
            } else if resp.content_length().is_some_and(|n| n > limit) && !is_compressed(&headers) {
                return Err(FetchError::TooLarge { limit });
            }
            let mut bytes = Vec::new();
            // Chunks arrive decompressed but for codings the client left (feed::coding, which
            // caps its own output), so this caps the decompressed size.
            while let Some(chunk) = resp.chunk().await.map_err(network)? {
                if get.page && bytes.len() as u64 + chunk.len() as u64 >= PAGE_READ {
                    // The page's start is all extraction reads: the rest is never fetched.
                    let keep = usize::try_from(PAGE_READ).unwrap_or(usize::MAX) - bytes.len();
                    bytes.extend_from_slice(&chunk[..keep.min(chunk.len())]);
                    break;
                }
                if bytes.len() as u64 + chunk.len() as u64 > limit {
                    return Err(FetchError::TooLarge { limit });
                }
                bytes.extend_from_slice(&chunk);
            }
            let text_header = |h| {
                headers
                    .get(h)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let bytes = crate::feed::coding::undo_listed(
                bytes,
                text_header(header::CONTENT_ENCODING).as_deref(),
                // A page is read to its start, as the loop above reads one the client inflated.
                if get.page {
                    PAGE_READ.min(limit)
                } else {
                    limit
                },
                !get.page,
            )?;
            // (Not an article page: cut at its start, it is no whole stream.)
            let bytes = if get.page {
                bytes
            } else {
                crate::feed::coding::gunzip_unlabelled(bytes, limit)?
            };
            return Ok(Fetched::Body(Box::new(Body {
                bytes,
                content_type: text_header(header::CONTENT_TYPE),
                moved_to: (redirected && all_permanent).then(|| url.clone()),
                final_url: Some(url),
                remote_addr,
                validators: Validators {
                    etag: text_header(header::ETAG),
                    last_modified: text_header(header::LAST_MODIFIED),
                },
                max_age,
            })));
        }
        Err(FetchError::TooManyRedirects)
    }
}

/// Where an article page (or a redirect on the way to it) may lead.
fn page_hop(url: &url::Url, allow_private: bool) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::Refused(format!(
            "{} is not an http(s) address",
            crate::config::secret::redact_url(url.as_str())
        )));
    }
    if !allow_private && crate::feed::page::address::url_is_private(url) == Some(true) {
        return Err(FetchError::Refused(format!(
            "{} is a private address and the feed is not",
            url.host_str().unwrap_or_default()
        )));
    }
    Ok(())
}

fn is_compressed(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_ENCODING).is_some()
}

/// A network error in words an operator can act on, without reqwest's nested Debug noise.
fn network(e: reqwest::Error) -> FetchError {
    use std::error::Error as _;
    let mut msg = if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_body() || e.is_decode() {
        "error reading the body".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    FetchError::Network(msg)
}

async fn read_file(path: &Path, limit: u64) -> Result<Fetched, FetchError> {
    let file_err = |source| FetchError::File {
        path: path.display().to_string(),
        source,
    };
    let f = tokio::fs::File::open(path).await.map_err(file_err)?;
    let mut bytes = Vec::new();
    // Read one byte past the limit to tell "exactly at the limit" from "over it".
    f.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(file_err)?;
    if bytes.len() as u64 > limit {
        return Err(FetchError::TooLarge { limit });
    }
    let bytes = crate::feed::coding::gunzip_unlabelled(bytes, limit)?;
    Ok(Fetched::Body(Box::new(Body {
        bytes,
        content_type: None,
        final_url: url::Url::from_file_path(std::path::absolute(path).unwrap_or_default()).ok(),
        moved_to: None,
        remote_addr: None,
        validators: Validators::default(),
        max_age: None,
    })))
}

/// `Retry-After`: delay-seconds or an HTTP date, in any of the three forms a recipient must
/// accept (IMF-fixdate, RFC 850, asctime); a zone other than GMT in the first is read too.
pub fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when: std::time::SystemTime = match httpdate::parse_http_date(v) {
        Ok(t) => t,
        Err(_) => chrono::DateTime::parse_from_rfc2822(v).ok()?.into(),
    };
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// `Cache-Control: max-age=N` (directive names are case-insensitive).
pub fn max_age(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(header::CACHE_CONTROL)?.to_str().ok()?;
    v.split(',').find_map(|d| {
        let (name, n) = d.trim().split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        n.trim()
            .trim_matches('"')
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests;
