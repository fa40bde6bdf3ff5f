//! `newswatch try`: read feeds, show which items would alert and why. No state, no sends.
//!
//! Its printing ([`print`]: [`print_human`], [`json_line`]) is shared with `newswatch
//! backtest`, so both show a match the same way.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::config::FeedSource;
use crate::config::secret::{redact_url, shown_error};
use crate::feed::FeedItem;
use crate::feed::fetch::{FetchOptions, Fetcher, Validators};
use crate::feed::limits::FetchLimits;
use crate::feed::page::{FullText, FullTextMode, PageFeed, PageReport, Pages};
use crate::feed::parse::{Parsed, ParsedFeed};
use crate::feed::poll::{Polled, poll};
use crate::matcher::{FeedRef, Match, Scratch};
use crate::plan::Plan;
use crate::semantic::combine::{self as meaning, Detail};
use crate::semantic::runtime::Semantic;
use crate::story::{Assignment, StoryId, StoryIndex};

mod print;

pub(super) use print::{JsonLine, Why, json_line, print_human};
use print::{StoryLine, print_json, print_near_misses};

/// The cross-feed link rule over the sources `try` reads, in order, as the daemon applies it
/// to polls committed one after another: a watch's match of a canonical link that it alerted
/// from an earlier source is a repeat, dropped. Within one source (one poll) the same link
/// alerts each time, as in the daemon.
#[derive(Default)]
struct Links {
    /// (watch, canonical link) → the source that alerted it and that source's number.
    alerted: HashMap<(usize, String), (usize, String)>,
}

impl Links {
    /// `None` when the match alerts (and is remembered), else the earlier source's name.
    /// `link`: the match's canonical link when it is its own (see [`crate::store::own_link`]).
    fn judge(
        &mut self,
        watch: usize,
        link: Option<String>,
        source: (usize, &str),
    ) -> Option<String> {
        let link = link?;
        let (at, name) = self
            .alerted
            .entry((watch, link))
            .or_insert_with(|| (source.0, source.1.to_string()));
        (*at != source.0).then(|| name.clone())
    }
}

/// Story grouping over the items `try` reads, in order, as the daemon would do it from an
/// empty state.
#[derive(Default)]
struct Grouping {
    /// Per watch: its index, and each story's first item (feed, title).
    watches: HashMap<String, (StoryIndex, Firsts)>,
}

/// Per story: its first item's feed and title, and the feeds that reported it.
type Firsts = HashMap<StoryId, (String, String, HashSet<String>)>;

impl Grouping {
    fn place(
        &mut self,
        plan: &Plan,
        watch: &str,
        feed: &str,
        item: &FeedItem,
        link: Option<&str>,
    ) -> Option<StoryLine> {
        let config = plan.stories.get(watch)?;
        let (index, firsts) = self
            .watches
            .entry(watch.to_string())
            .or_insert_with(|| (StoryIndex::new(*config), HashMap::new()));
        let lead = crate::daemon::stories::lead(item);
        let now = crate::store::now_millis();
        let a = index.assign(&crate::daemon::stories::story_item(item, &lead, link, now));
        let opens = matches!(a, Assignment::NewStory(_));
        let (first_feed, first_title, sources) = firsts
            .entry(a.story())
            .or_insert_with(|| (feed.to_string(), item.title.clone(), HashSet::new()));
        // As the daemon does: a join from a feed the story names already shows nothing new.
        let known_source = !sources.insert(feed.to_string()) && !opens;
        Some(StoryLine {
            number: a.story().0 + 1,
            opens,
            known_source,
            first_feed: first_feed.clone(),
            first_title: first_title.clone(),
        })
    }
}

/// What `try` was asked to do.
pub struct Args<'a> {
    pub config: &'a Path,
    pub sources: &'a [String],
    pub json: bool,
    pub all: bool,
    /// `--full-text`: fetch the items' article pages (`auto` or `always`) and match their
    /// text as the `body` field, as the daemon does for a feed with `full_text`.
    pub full_text: Option<FullTextMode>,
}

pub async fn run(args: Args<'_>) -> ExitCode {
    let Args {
        config,
        sources,
        json,
        all,
        full_text,
    } = args;
    // Nothing is sent: sink secrets may be missing from this shell.
    let plan = match crate::plan::load_never_sending(config) {
        Ok(p) => p,
        Err(e) => {
            tell!("{e}");
            return ExitCode::from(2);
        }
    };
    let fetcher = match Fetcher::new(FetchOptions {
        user_agent: plan.daemon.user_agent.clone(),
        timeout: plan.daemon.fetch_timeout,
        max_body_size: plan.daemon.max_body_size,
        ..FetchOptions::default()
    }) {
        Ok(f) => f,
        Err(e) => {
            tell!("newswatch: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pages = full_text.map(|_| {
        let d = &plan.daemon;
        let limits = std::sync::Arc::new(FetchLimits::new(
            d.max_concurrent_fetches,
            d.per_host_concurrency,
        ));
        Pages::new(fetcher.clone(), limits)
    });
    let engine = Semantic::new();
    // A model that cannot be loaded is the configuration's fault (`check` reports it as an
    // error at its `[semantic] model` key): the same exit as an invalid configuration.
    if let Some(sp) = &plan.semantic
        && let Err(e) = engine.prepare(sp)
    {
        tell!("newswatch: {e}");
        return ExitCode::from(2);
    }
    let color = !json && std::io::stdout().is_terminal();
    let mut failed = false;
    let mut grouping = Grouping::default();
    let mut links = Links::default();
    let mut stdout = std::io::stdout().lock();
    for (number, src) in sources.iter().enumerate() {
        let (mut feed, feed_url, remote) = match read_source(&plan, &fetcher, src).await {
            Ok(f) => f,
            Err(e) => {
                tell!(
                    "newswatch: cannot read {}: {}",
                    redact_url(src),
                    shown_error(&e)
                );
                failed = true;
                continue;
            }
        };
        // A source that is one of the configured feeds gets that feed's name and tags (so
        // feed-scoped watches behave as in the daemon); any other source is tried against
        // every watch.
        let configured = configured_feed(&plan, src);
        // Another source is shown (lines, `--json`, the summary) without the credentials a
        // URL may carry, as its errors are.
        let shown_src = redact_url(src);
        let feed_name = configured.map_or(shown_src.as_str(), |f| f.name.as_str());
        let feed_ref = configured.map(|f| FeedRef {
            name: &f.name,
            tags: &f.tags,
        });
        // An item listed twice is one item, as in the daemon (the first one counts; its
        // page is fetched once).
        let listed = feed.items.len();
        let mut keys = std::collections::HashSet::new();
        feed.items.retain(|it| keys.insert(it.key.0.clone()));
        let relisted = listed - feed.items.len();
        let mut page_note = String::new();
        if let (Some(pages), Some(mode)) = (&pages, full_text) {
            let policy = FullText {
                mode,
                min_chars: configured
                    .map_or(plan.daemon.full_text.min_chars, |f| f.full_text.min_chars),
            };
            let r = fill_pages(
                &plan,
                pages,
                feed_url.as_ref(),
                remote,
                feed_name,
                policy,
                &mut feed.items,
            )
            .await;
            page_note = format!(
                ", pages: {} wanted, {} gave text, {} failed, {} skipped",
                r.wanted,
                r.fetched + r.cached,
                r.failed,
                r.skipped
            );
        }
        // Judged in the order the daemon queues a poll's alerts, oldest first, so the first
        // report of a story is the one that opens it (before, `try` took the document's
        // newest-first order and named another item the alert than the daemon sent).
        crate::daemon::refresh::oldest_items_first(&mut feed.items);
        let mut repeats = 0usize;
        let mut scratch = Scratch::default();
        let keyword: Vec<Vec<Match>> = feed
            .items
            .iter()
            .map(|item| plan.watches.matches_with(item, feed_ref, &mut scratch))
            .collect();
        let refs: Vec<&FeedItem> = feed.items.iter().collect();
        let judged = match meaning::judge(
            &engine,
            plan.semantic.as_ref(),
            &plan.watches,
            feed_ref,
            &refs,
            &[],
            keyword,
            Detail::NearMisses,
        )
        .await
        {
            Ok(j) => j,
            Err(e) => {
                tell!("newswatch: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut shown = 0usize;
        let shared = crate::store::shared_links(&feed.items);
        for (item, matches) in feed.items.iter().zip(&judged.matches) {
            let own = crate::store::own_link(item.link.as_deref(), &shared);
            let link = item.link.as_deref().filter(|_| own.is_some());
            for (m, meaning) in matches {
                let watch = &plan.watches.specs()[m.watch].name;
                let story = grouping.place(&plan, watch, feed_name, item, link);
                // A match that joined a story is not an alert: the link rule neither judges
                // it nor learns from it (as in the daemon and `backtest`).
                let opens = story.as_ref().is_none_or(|s| s.opens);
                let repeat_of = if opens {
                    links.judge(m.watch, own.clone(), (number, feed_name))
                } else {
                    None
                };
                if repeat_of.is_some() {
                    repeats += 1;
                } else if opens {
                    shown += 1;
                }
                let r = if json {
                    let line = json_line(&plan.watches, feed_name, item, Some(m))
                        .with_story(story)
                        .with_meaning(meaning.as_ref())
                        .with_repeat_of(repeat_of.as_deref());
                    serde_json::to_string(&line)
                        .map_err(std::io::Error::other)
                        .and_then(|t| writeln!(stdout, "{t}"))
                } else {
                    let why = Why {
                        story: story.as_ref(),
                        meaning: meaning.as_ref(),
                        repeat_of: repeat_of.as_deref(),
                    };
                    print_human(&mut stdout, &plan.watches, feed_name, item, m, color, why)
                };
                if let Some(end) = stopped(r, failed) {
                    return end;
                }
            }
            if all && matches.is_empty() {
                let r = if json {
                    print_json(&mut stdout, &plan.watches, feed_name, item, None)
                } else {
                    writeln!(stdout, "  (no match) [{feed_name}] {}", item.title)
                };
                if let Some(end) = stopped(r, failed) {
                    return end;
                }
            }
        }
        let r = print_near_misses(
            &mut stdout,
            &judged.near_misses,
            &feed.items,
            feed_name,
            json,
        );
        if let Some(end) = stopped(r, failed) {
            return end;
        }
        if !json {
            let mut dropped = String::new();
            if relisted > 0 {
                dropped.push_str(&format!(", {relisted} listed twice (counted once)"));
            }
            if repeats > 0 {
                dropped.push_str(&format!(
                    ", {repeats} dropped as repeats of a link alerted from an earlier source"
                ));
            }
            tell!(
                "{shown_src}: {} read, {} would be sent{dropped} ({}{page_note}{})",
                super::counted(listed, "item", "items"),
                super::counted(shown, "alert", "alerts"),
                feed.encoding,
                if feed.repairs.is_empty() {
                    String::new()
                } else {
                    let fixed: Vec<String> = feed.repairs.iter().map(ToString::to_string).collect();
                    format!(", repaired: {}", fixed.join("; "))
                }
            );
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// How a failed write to stdout ends the command, if it does: a closed pipe (`try … | head`)
/// is the reader's choice, so the exit says what was found so far (before, 1 with no message,
/// which a script with `pipefail` took for an unreadable source); any other error is named.
fn stopped(r: std::io::Result<()>, failed: bool) -> Option<ExitCode> {
    let done = if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    };
    r.is_err().then(|| super::after_output(r, done))
}

/// Article pages for one source's items, as the daemon fetches them (same deadline, rate,
/// address rules). `feed_url`: where the feed came from over HTTP (`None`: a file or standard
/// input, whose items may link to private addresses); `remote`: the address it was read from.
async fn fill_pages(
    plan: &Plan,
    pages: &Pages,
    feed_url: Option<&url::Url>,
    remote: Option<std::net::IpAddr>,
    feed_name: &str,
    policy: FullText,
    items: &mut [FeedItem],
) -> PageReport {
    let private = crate::feed::page::address::feed_is_private(feed_url, remote).await;
    let feed = PageFeed {
        name: feed_name,
        full_text: policy,
        private,
    };
    pages.fill(&plan.daemon.pages, &feed, items).await
}

/// The configured feed a source names: by feed name, by URL, or by the same file (a source
/// path is read relative to the working directory, config paths to the config file; the same
/// file however written: `../dir/feed.xml`, a symlink).
fn configured_feed<'p>(plan: &'p Plan, src: &str) -> Option<&'p crate::config::FeedPlan> {
    let wanted = crate::config::validate::feed_source(src, Path::new(".")).ok();
    // `absolute` keeps `..` as written: `../repro/sport.xml` was another file than
    // `sport.xml`, and the feed's scope was not applied. A file that is gone compares as
    // written.
    let file = |p: &Path| {
        std::fs::canonicalize(p)
            .or_else(|_| std::path::absolute(p))
            .ok()
    };
    // The source's own file is resolved once, not once per configured feed.
    let wanted_file = match &wanted {
        Some(FeedSource::File(b)) => file(b),
        _ => None,
    };
    let same = |a: &FeedSource| match (a, &wanted) {
        (FeedSource::File(a), Some(FeedSource::File(_))) => file(a) == wanted_file,
        (a, Some(b)) => a == b,
        (_, None) => false,
    };
    plan.feeds.iter().find(|f| f.name == src || same(&f.source))
}

/// The parsed feed, and the URL it came from when it came over HTTP (after redirects) with
/// the address it was read from.
async fn read_source(
    plan: &Plan,
    fetcher: &Fetcher,
    src: &str,
) -> Result<(ParsedFeed, Option<url::Url>, Option<std::net::IpAddr>), String> {
    if src == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(plan.daemon.max_body_size.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
        if bytes.len() as u64 > plan.daemon.max_body_size {
            return Err(format!(
                "input larger than max_body_size ({} bytes)",
                plan.daemon.max_body_size
            ));
        }
        return match crate::feed::parse(&bytes, None, None).map_err(|e| e.to_string())? {
            Parsed::Feed(f) => Ok((f, None, None)),
            Parsed::Html { feed_links } => Err(format!(
                "standard input is an HTML page; try its feed link instead: {}",
                feed_links.join(", ")
            )),
        };
    }
    // A configured feed's name is accepted as a source too.
    let source = match plan.feed(src) {
        Some(f) => f.source.clone(),
        None => crate::config::validate::feed_source(src, Path::new("."))?,
    };
    match poll(fetcher, &source, &Validators::default(), true, None).await {
        Ok(Polled::Feed {
            feed,
            discovered,
            body,
        }) => {
            if let Some(u) = discovered {
                tell!(
                    "{}: HTML page; using its feed {}",
                    redact_url(src),
                    redact_url(u.as_str())
                );
            }
            let feed_url = match source {
                FeedSource::Http(u) => Some(body.final_url.unwrap_or(u)),
                FeedSource::File(_) => None,
            };
            Ok((feed, feed_url, body.remote_addr.map(|a| a.ip())))
        }
        Ok(Polled::NotModified { .. }) => Err("server answered 304 Not Modified".into()),
        Err(e) => Err(e.to_string()),
    }
}
