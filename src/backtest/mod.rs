//! Backtest: replay the item archive through a set of watches, as the daemon would have.
//!
//! Owns [`Replay`] (the inner loop: decompress a record, match its items, group the matches
//! of watches with `stories` ([`stories`]), apply the daemon's cross-feed link rule) and
//! [`Report`] / [`WatchReport`] (what a backtest found, per watch, per day and per sink). The archive types come from [`crate::store::archive`]; the command
//! line that prints a report is `crate::cli::backtest`.
//!
//! Exactness: the daemon matched only new, alertable items, in commit order, and dropped a
//! watch's alert when the same watch had alerted the same canonical link within
//! [`REPEAT_WINDOW`] before that commit (judged once per watch and link within one commit).
//! The archive keeps items in commit order with their alertable flag, and [`Replay`] applies
//! the same rule with the record's first-seen time as the commit time, so with the same
//! watches a replay finds the alerts the daemon enqueued. A watch with `stories` is grouped
//! first, as in the daemon (only a story's first item is an alert, and only it meets the link
//! rule), from an empty grouping at the replay's start: a story the daemon had open from
//! before the replayed range opens again in the replay.

pub mod stories;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::FeedPlan;
use crate::deliver::alert::Meaning;
use crate::feed::FeedItem;
use crate::matcher::{FeedRef, Match, Scratch, WatchSet};
use crate::semantic::score::ItemVector;
use crate::store::Millis;
use crate::store::archive::{ArchiveDecoder, ArchiveError, ArchiveRow, ArchivedItem};
use crate::story::StoryConfig;
use stories::{StoryOutcome, StoryReplay};

pub use crate::daemon::refresh::REPEAT_WINDOW;

/// One match the replay found.
#[derive(Debug, Clone)]
pub struct Found {
    /// Index in the replayed [`WatchSet`]'s specs.
    pub watch: usize,
    pub feed: String,
    /// When the daemon first saw the item (the alert's day).
    pub first_seen: Millis,
    /// Shared by every watch that matched the item (moved out of the decoded record, not
    /// copied).
    pub item: Arc<FeedItem>,
    pub m: Match,
    /// Why a semantic watch matched it.
    pub meaning: Option<Meaning>,
    /// Dropped as a repeat of a link the same watch alerted recently.
    pub suppressed: bool,
    /// A watch with stories: what the match became (`None` for other watches).
    pub story: Option<StoryOutcome>,
}

/// The replay's state between records: link memory, buffers.
pub struct Replay<'a> {
    watches: &'a WatchSet,
    tags: HashMap<&'a str, &'a [String]>,
    /// (watch, canonical link) → when it last alerted.
    links: HashMap<(usize, String), Millis>,
    window: Millis,
    decoder: ArchiveDecoder,
    items: Vec<ArchivedItem>,
    scratch: Scratch,
    /// Watches with stories, by index in the replayed set.
    stories: HashMap<usize, StoryReplay>,
}

impl<'a> Replay<'a> {
    /// `feeds` gives feed-scoped watches the tags of the configured feeds; an archived feed no
    /// longer configured has no tags (its name still counts).
    pub fn new(watches: &'a WatchSet, feeds: &'a [FeedPlan], repeat_window: Duration) -> Self {
        Replay {
            watches,
            tags: feeds
                .iter()
                .map(|f| (f.name.as_str(), f.tags.as_slice()))
                .collect(),
            links: HashMap::new(),
            window: i64::try_from(repeat_window.as_millis()).unwrap_or(i64::MAX),
            decoder: ArchiveDecoder::default(),
            items: Vec::new(),
            scratch: Scratch::default(),
            stories: HashMap::new(),
        }
    }

    /// Group the matches of the replayed watches that `stories` names (the plan's, by watch).
    pub fn with_stories(mut self, stories: &BTreeMap<String, StoryConfig>) -> Self {
        self.stories = self
            .watches
            .specs()
            .iter()
            .enumerate()
            .filter_map(|(i, spec)| Some((i, StoryReplay::new(*stories.get(&spec.name)?))))
            .collect();
        self
    }

    /// Replay one record: every match of its alertable items goes to `found`, in the order
    /// the daemon enqueued them. Returns the number of items in the record.
    pub fn record(
        &mut self,
        row: &ArchiveRow,
        found: &mut impl FnMut(Found),
    ) -> Result<usize, ArchiveError> {
        let r = self.matched(row)?;
        self.emit(row, r.matched, found);
        Ok(r.items)
    }

    /// The feed of a record as feed-scoped watches see it (the configured feed's tags).
    pub fn feed_ref<'r>(&'r self, row: &'r ArchiveRow) -> FeedRef<'r> {
        feed_ref(&self.tags, row)
    }

    /// A record's alertable items, each with its keyword matches (maybe none: semantic
    /// watches judge them next) and its stored vector.
    pub fn matched(&mut self, row: &ArchiveRow) -> Result<Replayed, ArchiveError> {
        self.items.clear();
        self.decoder.decode(row, &mut self.items)?;
        let n = self.items.len();
        let mut out = Replayed {
            matched: Vec::with_capacity(n),
            vectors: Vec::with_capacity(n),
            items: n,
        };
        let mut items = std::mem::take(&mut self.items);
        for a in items.drain(..).filter(|a| a.alertable) {
            let feed = feed_ref(&self.tags, row);
            let matches = self
                .watches
                .matches_with(&a.item, Some(feed), &mut self.scratch);
            out.matched
                .push((a.item, matches.into_iter().map(|m| (m, None)).collect()));
            out.vectors.push(a.vector);
        }
        self.items = items;
        Ok(out)
    }

    /// The link rule over one record's matches, in order; each match goes to `found`.
    pub fn emit(&mut self, row: &ArchiveRow, matched: Vec<Matched>, found: &mut impl FnMut(Found)) {
        // The daemon judges a (watch, link) once per commit: a second item of the same commit
        // with the same link alerts too.
        let mut judged: HashMap<(usize, String), bool> = HashMap::new();
        let now = row.first_seen;
        // The record holds the poll's new items, not the whole document: a link they share
        // is read as shared, one shared with items seen before is not (see `shared_links`).
        let shared = crate::store::shared_links(matched.iter().map(|(item, _)| item));
        for (item, matches) in matched {
            if matches.is_empty() {
                continue;
            }
            let a = ArchivedItem {
                item,
                alertable: true,
                vector: None,
            };
            let canonical = crate::store::own_link(a.item.link.as_deref(), &shared);
            let link = a.item.link.clone().filter(|_| canonical.is_some());
            let item = Arc::new(a.item);
            for (m, meaning) in matches {
                let story = self
                    .stories
                    .get_mut(&m.watch)
                    .map(|s| s.place(&row.feed, &item, link.as_deref(), now));
                // A match that joined a story is not an alert: the link rule neither judges
                // it nor learns from it.
                let joined = matches!(
                    story,
                    Some((_, StoryOutcome::Updates | StoryOutcome::Quiet))
                );
                let suppressed = match &canonical {
                    _ if joined => false,
                    None => false,
                    Some(link) => {
                        let key = (m.watch, link.clone());
                        match judged.get(&key) {
                            Some(s) => *s,
                            None => {
                                let s = self
                                    .links
                                    .get(&key)
                                    .is_some_and(|at| *at > now - self.window);
                                if !s {
                                    self.links.insert(key.clone(), now);
                                }
                                judged.insert(key, s);
                                s
                            }
                        }
                    }
                };
                if let (Some((id, _)), true) = (story, suppressed)
                    && let Some(s) = self.stories.get_mut(&m.watch)
                {
                    s.not_alerted(id);
                }
                found(Found {
                    watch: m.watch,
                    feed: row.feed.clone(),
                    first_seen: now,
                    item: item.clone(),
                    m,
                    meaning,
                    suppressed,
                    story: story.map(|(_, o)| o),
                });
            }
        }
    }
}

fn feed_ref<'r>(tags: &HashMap<&str, &'r [String]>, row: &'r ArchiveRow) -> FeedRef<'r> {
    FeedRef {
        name: &row.feed,
        tags: tags.get(row.feed.as_str()).copied().unwrap_or(&[]),
    }
}

/// An alertable item and its matches, each with its meaning when a semantic watch made it.
pub type Matched = (FeedItem, Vec<(Match, Option<Meaning>)>);

/// One record replayed: its alertable items' keyword matches and vectors (beside each
/// other), and how many items it held in all.
pub struct Replayed {
    pub matched: Vec<Matched>,
    pub vectors: Vec<Option<ItemVector>>,
    pub items: usize,
}

/// What one watch would have sent.
#[derive(Debug, Clone, Default)]
pub struct WatchReport {
    /// Alerts, in the order the daemon would have enqueued them.
    pub alerts: Vec<Found>,
    /// Matches dropped as repeats of a recently alerted link.
    pub suppressed: usize,
    /// Matches that joined a story already alerted from a new source: a story update each
    /// (to every sink), not an alert.
    pub story_updates: usize,
    /// Matches that joined a story and sent nothing (from a source it already names).
    pub story_quiet: usize,
    /// Alerts per UTC day of first sight.
    pub per_day: BTreeMap<NaiveDate, usize>,
    /// Deliveries per sink (an alert goes to each of the watch's sinks).
    pub per_sink: BTreeMap<String, usize>,
}

/// A whole backtest: per watch (in [`WatchSet::specs`] order), and what was read.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub watches: Vec<WatchReport>,
    pub items: usize,
    pub records: usize,
    /// Records that could not be read (damaged), skipped: in the range, or before it where
    /// they would have told the link rule what was alerted.
    pub unreadable: usize,
    pub first_seen: Option<Millis>,
    pub last_seen: Option<Millis>,
}

impl Report {
    pub fn new(watches: &WatchSet) -> Report {
        Report {
            // Every sink of a watch is counted, those that would have received nothing too
            // (a script reading `per_sink["ops"]` finds 0, not nothing).
            watches: watches
                .specs()
                .iter()
                .map(|spec| WatchReport {
                    per_sink: spec.sinks.iter().map(|s| (s.clone(), 0)).collect(),
                    ..WatchReport::default()
                })
                .collect(),
            ..Report::default()
        }
    }

    /// Count a record replayed within the reported range.
    pub fn read(&mut self, row: &ArchiveRow, items: usize) {
        self.items += items;
        self.records += 1;
        self.first_seen = Some(
            self.first_seen
                .map_or(row.first_seen, |t| t.min(row.first_seen)),
        );
        self.last_seen = Some(
            self.last_seen
                .map_or(row.first_seen, |t| t.max(row.first_seen)),
        );
    }

    pub fn add(&mut self, watches: &WatchSet, f: Found) {
        let w = &mut self.watches[f.watch];
        match f.story {
            Some(StoryOutcome::Updates) => {
                w.story_updates += 1;
                return;
            }
            Some(StoryOutcome::Quiet) => {
                w.story_quiet += 1;
                return;
            }
            Some(StoryOutcome::Opens) | None => {}
        }
        if f.suppressed {
            w.suppressed += 1;
            return;
        }
        *w.per_day.entry(day(f.first_seen)).or_default() += 1;
        for sink in &watches.specs()[f.watch].sinks {
            *w.per_sink.entry(sink.clone()).or_default() += 1;
        }
        // Kept until the end of the run: only what an alert shows (its hits and snippet are
        // in the match), not the item's texts, which with full text are whole articles.
        let item = Arc::new(FeedItem {
            key: f.item.key.clone(),
            title: f.item.title.clone(),
            link: f.item.link.clone(),
            published: f.item.published,
            summary: String::new(),
            content: String::new(),
            categories: Vec::new(),
            authors: Vec::new(),
            body: String::new(),
        });
        w.alerts.push(Found { item, ..f });
    }
}

/// The UTC day of a stored time.
pub fn day(t: Millis) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(t)
        .unwrap_or_default()
        .date_naive()
}

/// Eighths of a block, for bars with sub-character resolution.
const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

/// A bar of `n` out of `max`, at most `width` characters; a non-zero count shows at least ▏.
pub fn bar(n: usize, max: usize, width: usize) -> String {
    if n == 0 || max == 0 {
        return String::new();
    }
    let eighths = (n * width * 8).div_ceil(max).max(1);
    let mut s = "█".repeat(eighths / 8);
    let rest = eighths % 8;
    if rest > 0 {
        s.push(EIGHTHS[rest - 1]);
    }
    s
}

/// One line per day from `from` to `to` (days without alerts included, so gaps show).
pub fn chart(per_day: &BTreeMap<NaiveDate, usize>, from: NaiveDate, to: NaiveDate) -> Vec<String> {
    let max = per_day.values().copied().max().unwrap_or(0);
    let digits = max.to_string().len();
    let mut out = Vec::new();
    let mut d = from;
    while d <= to {
        let n = per_day.get(&d).copied().unwrap_or(0);
        out.push(format!("{d} {n:>digits$} {}", bar(n, max, 40)));
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests;
