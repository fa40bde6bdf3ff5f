//! Full text: the article page behind an item whose feed carries only a teaser, fetched and
//! reduced to its main text, which becomes the item's `body` field.
//!
//! Owns [`FullText`] / [`FullTextMode`] (a feed's `full_text` and `full_text_min_chars`),
//! [`PageSettings`] (`[daemon] page_rate` and `page_timeout`), [`Pages`] (the fetching state
//! the daemon keeps: per-host pacing and the page cache) and [`PageReport`]. In: the new items
//! of one poll that will be matched; out: the same items with `body` filled where a page gave
//! text.
//!
//! The promises, in order of importance:
//! - **Never lose an item.** A page that fails, is refused, times out or yields no text
//!   leaves its item with the feed's own text; nothing here returns an error to the poll.
//! - **Never delay an item beyond the page deadline.** All of one poll's pages share one
//!   deadline (`page_timeout`, 10 s): a page whose host's turn comes later is skipped, not
//!   waited for.
//! - **Polite.** Pages to one host are spaced by `page_rate` (1 per second) across all feeds,
//!   a host's `Retry-After` is honoured, the per-host and global fetch permits apply, and one
//!   canonical link is fetched once ([`cache`]), never again for the same item.
//! - **Safe.** http(s) only, at most 5 redirects, never a private address unless the feed
//!   itself is on one ([`address`]); the feed fetcher's body cap; charset from the header and
//!   `<meta>`.
//!
//! Modules: [`address`] (private addresses, the public-only resolver), [`pacer`] (per-host
//! turns), [`cache`] (canonical link → outcome).

pub mod address;
pub mod cache;
pub mod pacer;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::rate::Rate;
use crate::feed::FeedItem;
use crate::feed::fetch::{FetchError, Fetcher};
use crate::feed::limits::FetchLimits;

/// A feed's `full_text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FullTextMode {
    /// Never fetch pages (the default).
    #[default]
    Off,
    /// Fetch the page when the item's own text is shorter than `full_text_min_chars`.
    Auto,
    /// Fetch the page of every new item.
    Always,
}

impl FullTextMode {
    pub const NAMES: &'static str = "\"off\", \"auto\" or \"always\"";

    pub fn parse(s: &str) -> Option<FullTextMode> {
        match s.trim() {
            "off" => Some(FullTextMode::Off),
            "auto" => Some(FullTextMode::Auto),
            "always" => Some(FullTextMode::Always),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FullTextMode::Off => "off",
            FullTextMode::Auto => "auto",
            FullTextMode::Always => "always",
        }
    }
}

/// A feed's full-text policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FullText {
    pub mode: FullTextMode,
    /// For `auto`: items whose own text (the longer of summary and content, in characters)
    /// is shorter than this get their page fetched.
    pub min_chars: usize,
}

/// `full_text_min_chars` unless set.
pub const DEFAULT_MIN_CHARS: usize = 500;

impl Default for FullText {
    fn default() -> Self {
        FullText {
            mode: FullTextMode::Off,
            min_chars: DEFAULT_MIN_CHARS,
        }
    }
}

impl FullText {
    /// Whether `item` wants its page: by the mode, and only with an http(s) link.
    pub fn wants(&self, item: &FeedItem) -> bool {
        let Some(link) = item.link.as_deref() else {
            return false;
        };
        // Schemes are case-insensitive: `HTTPS://…` is a web link too.
        let scheme = link.split_once(':').map_or("", |(s, _)| s);
        if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
            return false;
        }
        match self.mode {
            FullTextMode::Off => false,
            FullTextMode::Always => true,
            FullTextMode::Auto => {
                let own = item
                    .summary
                    .chars()
                    .count()
                    .max(item.content.chars().count());
                own < self.min_chars
            }
        }
    }
}

/// `[daemon] page_rate` and `page_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSettings {
    /// Pages per host (`None`: "off", no spacing beyond the per-host permits).
    pub rate: Option<Rate>,
    /// Deadline for all of one poll's pages together, from when the first is asked for.
    pub timeout: Duration,
}

impl Default for PageSettings {
    fn default() -> Self {
        PageSettings {
            rate: Some(Rate::new(1, Duration::from_secs(1))),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The feed whose items want pages, as the page fetcher needs to know it.
#[derive(Debug, Clone, Copy)]
pub struct PageFeed<'a> {
    /// For logs and metrics.
    pub name: &'a str,
    pub full_text: FullText,
    /// The feed is on a private address (or is a local file): its items may link to pages on
    /// private addresses too.
    pub private: bool,
}

/// What happened to one poll's pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageReport {
    /// Items that wanted their page.
    pub wanted: usize,
    /// Pages fetched by this poll that gave text.
    pub fetched: usize,
    /// Items whose page another poll (or item) had already fetched or tried.
    pub cached: usize,
    /// Pages that failed, were refused, or gave no text.
    pub failed: usize,
    /// Pages not fetched because their host's turn came after the deadline.
    pub skipped: usize,
}

/// One page's outcome for the report and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PageResult {
    Ok,
    Empty,
    Failed,
    Refused,
    Timeout,
    Skipped,
}

impl PageResult {
    fn label(self) -> &'static str {
        match self {
            PageResult::Ok => "ok",
            PageResult::Empty => "empty",
            PageResult::Failed => "failed",
            PageResult::Refused => "refused",
            PageResult::Timeout => "timeout",
            PageResult::Skipped => "skipped",
        }
    }
}

/// The daemon's page fetching state. One per process, shared by every poll.
#[derive(Debug)]
pub struct Pages {
    fetcher: Fetcher,
    limits: Arc<FetchLimits>,
    pacer: pacer::Pacer,
    cache: cache::PageCache,
}

/// Bytes of article text one poll hands to its items at most (a page's text is at most
/// 256 KiB; a poll of 1,000 new items of 16 KB articles takes half of this).
const POLL_TEXT_BUDGET: usize = 32 * 1024 * 1024;

/// The longest `Retry-After` a page host can hold its pages back for.
const MAX_HOLD: Duration = Duration::from_secs(3600);

impl Pages {
    pub fn new(fetcher: Fetcher, limits: Arc<FetchLimits>) -> Pages {
        Pages {
            fetcher,
            limits,
            pacer: pacer::Pacer::default(),
            cache: cache::PageCache::default(),
        }
    }

    /// Fill `body` for the items of `feed` that want their page, within one deadline. Items
    /// whose page gives nothing keep their feed text; this never fails.
    pub async fn fill(
        &self,
        settings: &PageSettings,
        feed: &PageFeed<'_>,
        items: &mut [FeedItem],
    ) -> PageReport {
        let deadline = Instant::now() + settings.timeout;
        let mut report = PageReport::default();
        let wanted: Vec<usize> = (0..items.len())
            .filter(|&i| feed.full_text.wants(&items[i]))
            .collect();
        report.wanted = wanted.len();
        if wanted.is_empty() {
            return report;
        }
        let lapses = Mutex::new(Lapses::default());
        let bodies = futures_util::future::join_all(wanted.iter().map(|&i| {
            let link = items[i].link.clone().unwrap_or_default();
            let lapses = &lapses;
            async move {
                let got = self.body_for(settings, feed, &link, deadline, lapses).await;
                (i, got)
            }
        }))
        .await;
        let mut skipped = 0usize;
        // Each item gets its own copy of the text: many items linking one page (or a few
        // huge pages) must not multiply into gigabytes.
        let mut given = 0usize;
        let mut over_budget = 0usize;
        for (i, (result, text)) in bodies {
            match result {
                None => report.cached += 1,
                Some(PageResult::Ok) => report.fetched += 1,
                Some(PageResult::Skipped) => {
                    report.skipped += 1;
                    skipped += 1;
                }
                Some(_) => report.failed += 1,
            }
            if let Some(t) = text {
                if given + t.len() > POLL_TEXT_BUDGET {
                    over_budget += 1;
                    continue;
                }
                given += t.len();
                items[i].body = t.to_string();
            }
        }
        if over_budget > 0 {
            tracing::warn!(feed = %feed.name, pages = over_budget, budget = POLL_TEXT_BUDGET,
                "article texts left out: this poll's items already hold the most page text one \
                 poll takes; those items are matched on the feed's text");
        }
        let lapses = lapses.into_inner().unwrap_or_else(|e| e.into_inner());
        if lapses.count > 0 {
            // Once per poll, not per page: a feed of 10,000 items with bad links logged 10,000
            // lines a poll, and journald's rate limit then dropped every other message.
            tracing::warn!(feed = %feed.name, pages = lapses.count, first = %lapses.first.join("; "),
                "article pages not used; those items are matched on the feed's text");
        }
        if skipped > 0 {
            // Once per poll, not per page: the host's rate is doing its job.
            tracing::warn!(feed = %feed.name, pages = skipped, deadline = ?settings.timeout,
                "article pages skipped: their hosts' page rate left no turn before the deadline; \
                 those items are matched on the feed's text");
        }
        report
    }

    /// One item's page text, through the cache. The result is `None` when the cache answered.
    async fn body_for(
        &self,
        settings: &PageSettings,
        feed: &PageFeed<'_>,
        link: &str,
        deadline: Instant,
        lapses: &Mutex<Lapses>,
    ) -> (Option<PageResult>, cache::Outcome) {
        // A feed on a private address may fetch private pages and a public one may not: one
        // link's outcome is never shared between the two kinds (a public feed would get an
        // intranet page's text, or an intranet feed a public feed's refusal).
        //
        // The canonical link keeps a fragment that names one post of a page that grows (a
        // live blog's `/live#post-2`): the page fetched for the first post holds none of the
        // later ones, so each is its own key. One that reads like parameters (`#xtor=RSS-3208`)
        // is a tracker's: one article linked so from several feeds is still fetched once.
        let key = format!(
            "{}{}",
            if feed.private { "private " } else { "" },
            crate::store::canonical_link(link).unwrap_or_else(|| link.to_string()),
        );
        let slot = self.cache.slot(&key);
        if let Some(done) = slot.get() {
            crate::ops::metrics::record_page("cached", None);
            return (None, done.clone());
        }
        let mut fresh = None;
        // Two polls asking for one link at once share one fetch; a page skipped for its
        // host's rate leaves the slot empty for the next asker.
        let got = tokio::time::timeout_at(
            deadline,
            slot.get_or_try_init(|| async {
                let (result, text) = self
                    .fetch_text(settings, feed, link, deadline, lapses)
                    .await;
                fresh = Some(result);
                match result {
                    PageResult::Skipped => Err(()),
                    _ => Ok(text),
                }
            }),
        )
        .await;
        match (got, fresh) {
            (Ok(Ok(text)), Some(result)) => (Some(result), text.clone()),
            // Filled by another poll while this one waited for it.
            (Ok(Ok(text)), None) => {
                crate::ops::metrics::record_page("cached", None);
                (None, text.clone())
            }
            (Ok(Err(())), _) => (Some(PageResult::Skipped), None),
            // Logged and counted like any page that timed out: the wait was for a permit,
            // another poll's fetch of the link, or the extraction.
            (Err(_), _) => {
                let (result, _) = Self::give_up(
                    feed,
                    lapses,
                    link,
                    PageResult::Timeout,
                    "the poll's page deadline passed",
                );
                (Some(result), None)
            }
        }
    }

    /// Fetch and extract one page: the host's turn, permits, the fetch, the extraction.
    async fn fetch_text(
        &self,
        settings: &PageSettings,
        feed: &PageFeed<'_>,
        link: &str,
        deadline: Instant,
        lapses: &Mutex<Lapses>,
    ) -> (PageResult, cache::Outcome) {
        let give_up =
            |result: PageResult, why: &str| Self::give_up(feed, lapses, link, result, why);
        let Ok(url) = url::Url::parse(link) else {
            return give_up(PageResult::Refused, "not a valid URL");
        };
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let gap = settings.rate.map_or(Duration::ZERO, |r| r.interval());
        let Some(turn) = self.pacer.reserve(&host, gap, deadline) else {
            crate::ops::metrics::record_page(PageResult::Skipped.label(), None);
            return (PageResult::Skipped, None);
        };
        tokio::time::sleep_until(turn).await;
        // The host may have said "wait" (429/503 with Retry-After) since the turn was taken:
        // a new turn after the hold, so the pages it held back go at the page rate again, not
        // all at once when it ends (into a host that just asked for a pause).
        if self.pacer.held_until(&host).is_some() {
            let Some(turn) = self.pacer.reserve(&host, gap, deadline) else {
                crate::ops::metrics::record_page(PageResult::Skipped.label(), None);
                return (PageResult::Skipped, None);
            };
            tokio::time::sleep_until(turn).await;
        }
        let permits = self.limits.acquire_page(&host).await;
        let started = std::time::Instant::now();
        let left = deadline.saturating_duration_since(Instant::now());
        let body = match self.fetcher.fetch_page(&url, feed.private, deadline).await {
            Ok(b) => b,
            Err(e) => {
                if let FetchError::Status {
                    status: 429 | 503,
                    retry_after: Some(ra),
                } = &e
                {
                    self.pacer.hold(&host, Instant::now() + (*ra).min(MAX_HOLD));
                }
                let result = match e {
                    // Cut short by this poll's deadline (its turn came late), not by the
                    // page's own time: skipped, not remembered as failed, so another poll
                    // linking the page may fetch it with its full time.
                    FetchError::Timeout(_) if left < settings.timeout / 2 => PageResult::Skipped,
                    // "Not now" from the host: skipped, not remembered as failed for hours,
                    // so a poll after the pause may fetch it.
                    FetchError::Status { status: 429, .. }
                    | FetchError::Status {
                        status: 503,
                        retry_after: Some(_),
                    } => PageResult::Skipped,
                    FetchError::Timeout(_) => PageResult::Timeout,
                    FetchError::Refused(_) => PageResult::Refused,
                    _ => PageResult::Failed,
                };
                if result == PageResult::Skipped {
                    // Counted with the pages skipped for their host's pace, not warned about.
                    crate::ops::metrics::record_page(result.label(), None);
                    tracing::debug!(feed = %feed.name, url = %crate::config::secret::redact_url(link),
                        error = %e, "article page skipped for now; the item is matched on the feed's text");
                    return (result, None);
                }
                return give_up(result, &e.to_string());
            }
        };
        // Extraction is CPU work (a few ms for a big page, under two seconds for the worst one
        // the limits let through): off the async threads, one per core, and the page's
        // permits go with it. A poll that stops waiting (its deadline, shutdown) leaves the
        // work running: its slot and permits stay taken until it ends, so abandoned
        // extractions cannot pile up beyond those bounds.
        // Slots of their own: a hostile page's second must not hold up other feeds' parsing.
        static EXTRACTION: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> =
            std::sync::OnceLock::new();
        let text = crate::aside::run_in(&EXTRACTION, move || {
            let _permits = permits;
            let html = crate::feed::charset::decode_page(&body.bytes, body.content_type.as_deref());
            crate::text::article::extract_article(&html.text)
        })
        .await;
        let took = Some(started.elapsed());
        match text {
            Ok(Ok(article)) if !article.text.trim().is_empty() => {
                crate::ops::metrics::record_page(PageResult::Ok.label(), took);
                (PageResult::Ok, Some(Arc::from(article.text)))
            }
            Ok(Ok(_)) => give_up(PageResult::Empty, "no article text found"),
            Ok(Err(e)) => give_up(PageResult::Empty, &e.to_string()),
            Err(_) => give_up(PageResult::Failed, "the page's extraction crashed"),
        }
    }

    /// A page that gave nothing: counted, noted for the poll's one warning (the link is never
    /// fetched again for this item), and the item keeps its feed text.
    fn give_up(
        feed: &PageFeed<'_>,
        lapses: &Mutex<Lapses>,
        link: &str,
        result: PageResult,
        why: &str,
    ) -> (PageResult, cache::Outcome) {
        crate::ops::metrics::record_page(result.label(), None);
        let shown = crate::config::secret::redact_url(link);
        tracing::debug!(feed = %feed.name, url = %shown, result = result.label(), error = %why,
            "article page not used; the item is matched on the feed's text");
        let mut lapses = lapses.lock().unwrap_or_else(|e| e.into_inner());
        lapses.count += 1;
        if lapses.first.len() < Lapses::SHOWN {
            // As feed errors are shown (URLs redacted, control characters escaped), shorter.
            let note = format!("{shown} ({}: {why})", result.label());
            let note = crate::config::secret::shown_error(&note);
            lapses
                .first
                .push(crate::deliver::render::truncate_bytes(&note, 400).into_owned());
        }
        (result, None)
    }
}

/// The pages of one poll that gave nothing: how many, and the first few, for its one warning.
#[derive(Debug, Default)]
struct Lapses {
    count: usize,
    first: Vec<String>,
}

impl Lapses {
    /// Pages named in the warning; the rest are counted.
    const SHOWN: usize = 3;
}

#[cfg(test)]
mod deadline_tests;
#[cfg(test)]
mod safety_tests;
#[cfg(test)]
mod tests;
