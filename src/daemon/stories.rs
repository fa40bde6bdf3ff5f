//! Stories in the pipeline: which of a poll's matches open a story (alerted as usual) and which
//! report a story already alerted for the same watch (a story update instead of a second
//! alert).
//!
//! Owns [`Stories`]: per watch that groups, a [`StoryIndex`] and what updates need of each
//! live story (its first alert and its sources so far). It is a cache of the store's story
//! rows, rebuilt from them on first use, after a reload that changed a watch's settings, and
//! after a commit that failed (what it had assigned may not be stored): the store stays the one
//! source of truth. [`Stories::group`] takes one poll's matches ([`Found`]) and returns what
//! each became ([`Grouped`]) and the rows the poll commits with them.
//!
//! A story is stored under a number made from its watch and the item that opened it
//! ([`story_number`]), not from a counter: instances sharing a database (or one cache rebuilt
//! while a poll is in flight) never give two stories one number, which would merge them at
//! the next rebuild. In memory each story has the index's own [`StoryId`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::deliver::alert::{Alert, StoryRef};
use crate::deliver::idempotency_key;
use crate::feed::FeedItem;
use crate::plan::Plan;
use crate::store::{Millis, Store, StoreError, StoryItemRow};
use crate::story::index::VOCABULARY_HORIZON;
use crate::story::{Assignment, StoryConfig, StoryId, StoryIndex, StoryItem};

/// Characters of an item's summary (or content) the grouping compares with its title.
const LEAD_CHARS: usize = 600;

/// Characters of an item's title the grouping reads and stores: more than any headline; a
/// "title" of megabytes of words was indexed and kept whole for the window, each word an
/// entry of the index and the vocabulary.
const TITLE_CHARS: usize = 500;

/// The first [`TITLE_CHARS`] characters of `title`.
fn title_cut(title: &str) -> &str {
    title
        .char_indices()
        .nth(TITLE_CHARS)
        .map_or(title, |(at, _)| &title[..at])
}

/// The story-grouping state of every watch that groups.
#[derive(Default)]
pub struct Stories {
    state: tokio::sync::Mutex<State>,
    /// Set when a commit failed: the next poll rebuilds from the store first.
    stale: AtomicBool,
    /// How many times the cache was rebuilt from the store (see [`Uncommitted::committed`]).
    rebuilds: AtomicU64,
}

#[derive(Default)]
struct State {
    loaded: bool,
    watches: HashMap<String, WatchStories>,
}

struct WatchStories {
    config: StoryConfig,
    index: StoryIndex,
    live: HashMap<StoryId, Live>,
}

/// What a story update needs of a live story.
struct Live {
    /// The number its rows are stored under.
    number: i64,
    /// The first alert, naming the story; `None` if its row is gone (pruned, or unreadable),
    /// and then no update is made.
    alert: Option<Alert>,
    /// Feeds that reported it, the first alert's first.
    sources: Vec<String>,
}

/// One match of a poll, in document order.
pub struct Found<'a> {
    pub watch: &'a str,
    pub item: &'a FeedItem,
    /// The item's link when it is the address of its story (see [`crate::store::own_link`]):
    /// the same-link rule reads it, and the story's row keeps it.
    pub link: Option<&'a str>,
    pub alert: Alert,
}

/// What a match became.
#[derive(Debug, Clone, PartialEq)]
pub enum Grouped {
    /// Alerted: the first item of its story (its `story` names it), or a match of a watch
    /// that does not group.
    Alert(Alert),
    /// A later item of an alerted story from a new source: the story's alert is updated.
    Update(StoryUpdate),
    /// A later item from a source the story already names: nothing new to show.
    Quiet,
}

impl Grouped {
    /// What it did to its story, for a watch that groups: "opened", "updated" or "quiet".
    pub fn outcome(&self) -> &'static str {
        match self {
            Grouped::Alert(_) => "opened",
            Grouped::Update(_) => "updated",
            Grouped::Quiet => "quiet",
        }
    }
}

/// A story update: the story's first alert with every source so far, and what its keys are
/// made from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryUpdate {
    /// The item that reported the story again (its row in the outbox names it).
    pub item_key: String,
    /// The story's first alert, `story.sources` naming every source so far.
    pub alert: Alert,
}

impl StoryUpdate {
    /// The idempotency key of the story's alert to `sink`: the message this update edits.
    pub fn story_key(&self, sink: &str) -> String {
        idempotency_key(
            &self.alert.watch,
            sink,
            &self.alert.feed,
            &self.alert.item_key,
        )
    }

    /// This update's own key for `sink`, one per reporting item (and number of sources): a
    /// retry is the same edit, a new report a new one. Keyed by the count alone, two reports
    /// that two instances (or a cache rebuilt after a failed commit) each grouped as the
    /// story's second source had one key, and the store kept the first and dropped the other.
    pub fn key(&self, sink: &str) -> String {
        let sources = self
            .alert
            .story
            .as_ref()
            .map_or(&[][..], |s| &s.sources[..]);
        // The reporting feed is the last source the grouping added.
        let feed = sources.last().map_or("", String::as_str);
        let item = format!(
            "{}\0update {}\0{feed}\0{}",
            self.alert.item_key,
            sources.len(),
            self.item_key
        );
        idempotency_key(&self.alert.watch, sink, &self.alert.feed, &item)
    }
}

/// The number a story opened by `item_key` of `feed` is stored under: 60 bits of the same
/// hash as its [`story_id`], so every instance and every rebuild gives it the same one, and
/// two stories never share one.
pub fn story_number(watch: &str, feed: &str, item_key: &str) -> i64 {
    let hex = story_hash(watch, feed, item_key);
    i64::from_str_radix(hex.get(..15).unwrap_or(&hex), 16).unwrap_or(0)
}

/// A story's id as receivers see it: stable, from its watch and first item.
pub fn story_id(watch: &str, feed: &str, item_key: &str) -> String {
    format!("story_{}", story_hash(watch, feed, item_key))
}

/// The hex hash naming the story `item_key` of `feed` opened for `watch`.
fn story_hash(watch: &str, feed: &str, item_key: &str) -> String {
    let key = idempotency_key(watch, "\0story", feed, item_key);
    key.trim_start_matches("nw_").to_string()
}

/// The text the grouping compares besides the title: the summary, else the start of the
/// content.
pub fn lead(item: &FeedItem) -> String {
    let text = if item.summary.trim().is_empty() {
        &item.content
    } else {
        &item.summary
    };
    text.chars().take(LEAD_CHARS).collect()
}

/// `item` as the grouping sees it at `now` (ms): its title cut to [`TITLE_CHARS`], its time
/// its published time, never later than now, else now. `link`: the item's link when it is the
/// address of its story (see [`crate::store::own_link`]).
pub fn story_item<'a>(
    item: &'a FeedItem,
    lead: &'a str,
    link: Option<&'a str>,
    now: Millis,
) -> StoryItem<'a> {
    let now_secs = now / 1000;
    StoryItem {
        title: title_cut(&item.title),
        lead,
        link,
        published: item
            .published
            .map_or(now_secs, |p| p.timestamp())
            .min(now_secs),
    }
}

impl Stories {
    /// Forget the cache: the next poll rebuilds it from the store (a commit failed).
    pub fn invalidate(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }

    /// A guard for a poll that grouped `rows` story rows: unless [`Uncommitted::committed`]
    /// is called, dropping it forgets the cache. A poll that fails or panics anywhere between
    /// grouping and its commit left the cache holding items the store never got: polled
    /// again, the item joined its own unstored story from the same feed and was never alerted.
    ///
    /// `generation` is the one [`Stories::group`] returned: a rebuild since then read the store
    /// without this poll's rows, which it commits later (see [`Uncommitted::committed`]).
    pub fn uncommitted(&self, rows: usize, generation: u64) -> Uncommitted<'_> {
        Uncommitted((rows > 0).then_some((self, generation)))
    }

    /// Group one poll's matches of `feed`, in order. `now` is the poll's time. Returns what
    /// each match became, the story rows to commit with the poll, and the cache's generation
    /// they were grouped in (for [`Stories::uncommitted`]).
    pub async fn group<S: Store>(
        &self,
        store: &S,
        plan: &Plan,
        feed: &str,
        now: Millis,
        found: Vec<Found<'_>>,
    ) -> Result<(Vec<Grouped>, Vec<StoryItemRow>, u64), StoreError> {
        if !found.iter().any(|f| plan.stories.contains_key(f.watch)) {
            return Ok((
                found.into_iter().map(|f| Grouped::Alert(f.alert)).collect(),
                vec![],
                self.rebuilds.load(Ordering::SeqCst),
            ));
        }
        let mut state = self.state.lock().await;
        let settings_changed = plan.stories.len() != state.watches.len()
            || plan
                .stories
                .iter()
                .any(|(w, c)| state.watches.get(w).is_none_or(|s| s.config != *c));
        // The clock read now, under the lock, not the poll's start (`now`): a poll that took a
        // minute to fetch would otherwise find the grouping "ahead" of it after a faster poll.
        // Every item's time is at most its poll's start, so only a clock stepped back puts the
        // grouping ahead of this.
        let now_secs = crate::store::now_millis().max(now) / 1000;
        let ahead = state.ahead_of(now_secs);
        if ahead {
            tracing::warn!(
                "the clock is behind the stories' latest item (stepped back?): rebuilding the \
                 grouping with no item later than now"
            );
        }
        if !state.loaded || settings_changed || ahead || self.stale.load(Ordering::SeqCst) {
            let since = now
                .saturating_sub(i64::try_from(VOCABULARY_HORIZON.as_millis()).unwrap_or(i64::MAX));
            self.rebuild(
                &mut state,
                plan,
                now_secs,
                crate::store::within(store.story_items(since)),
            )
            .await?;
        }
        // Read under the lock: no rebuild comes between the grouping and this number.
        let generation = self.rebuilds.load(Ordering::SeqCst);
        let mut out = Vec::with_capacity(found.len());
        let mut rows = Vec::new();
        for f in found {
            match state.watches.get_mut(f.watch) {
                None => out.push(Grouped::Alert(f.alert)),
                Some(w) => {
                    let (g, row) = w.group(feed, f, now);
                    out.push(g);
                    rows.push(row);
                }
            }
        }
        Ok((out, rows, generation))
    }
}

impl Stories {
    /// Rebuild the cache from the rows `read` gives (the store's, read now).
    ///
    /// The generation moves and the stale mark is cleared *before* the read: a poll that
    /// grouped in the old cache and commits while this reads or rebuilds may be missing from
    /// the rows read, and its [`Uncommitted::committed`] must see a new generation and mark
    /// the cache stale again, for the next poll to rebuild it with its rows. Moved after the
    /// rebuild, both let such a poll's story be lost (found in review): its next report opened
    /// the story anew and alerted again. A read that fails marks the cache stale (a failed
    /// read must not leave a cache holding a failed poll's items in use for good).
    async fn rebuild(
        &self,
        state: &mut State,
        plan: &Plan,
        now_secs: i64,
        read: impl Future<Output = Result<Vec<StoryItemRow>, StoreError>>,
    ) -> Result<(), StoreError> {
        self.stale.store(false, Ordering::SeqCst);
        self.rebuilds.fetch_add(1, Ordering::SeqCst);
        let rows = match read.await {
            Ok(rows) => rows,
            Err(e) => {
                self.invalidate();
                return Err(e);
            }
        };
        *state = State::rebuild(plan, &rows, now_secs);
        Ok(())
    }
}

/// See [`Stories::uncommitted`].
#[must_use = "dropped, it forgets the stories' cache"]
pub struct Uncommitted<'a>(Option<(&'a Stories, u64)>);

#[cfg(test)]
impl Stories {
    /// How many times the cache was rebuilt from the store.
    pub(crate) fn rebuilt(&self) -> u64 {
        self.rebuilds.load(Ordering::SeqCst)
    }
}

impl Uncommitted<'_> {
    /// The poll's rows are stored: the cache holds what the store holds, unless another poll
    /// rebuilt it from the store between this poll's grouping and its commit. That rebuild read
    /// the store without this poll's rows and dropped its grouping: the story it opened was
    /// opened again by the next report (alerted twice), and an update of it lost (the next one
    /// had its key and was dropped as a repeat). Then the cache is forgotten again, and the
    /// next poll rebuilds it with these rows.
    pub fn committed(mut self) {
        if let Some((s, generation)) = self.0.take()
            && s.rebuilds.load(Ordering::SeqCst) != generation
        {
            s.invalidate();
        }
    }
}

impl Drop for Uncommitted<'_> {
    fn drop(&mut self) {
        if let Some((s, _)) = self.0 {
            s.invalidate();
        }
    }
}

/// How far a story index's time may run ahead of the clock before the grouping is rebuilt.
/// Items are grouped at their published time, never later than the clock, so only a clock
/// stepped back puts the index ahead: then stories opened after the step expired at once
/// (their time was already a window behind the index's), and every report of them alerted,
/// for as long as the step.
const AHEAD_TOLERANCE_SECS: i64 = 60;

impl State {
    /// Is any watch's index later than `now_secs` (Unix seconds), beyond the tolerance?
    fn ahead_of(&self, now_secs: i64) -> bool {
        self.loaded
            && self
                .watches
                .values()
                .any(|w| w.index.now() > now_secs.saturating_add(AHEAD_TOLERANCE_SECS))
    }

    /// The cache as the stored rows (in grouping order) make it, for the plan's watches, with
    /// no row later than `now_secs` (rows grouped before a clock step back are taken as now).
    fn rebuild(plan: &Plan, rows: &[StoryItemRow], now_secs: i64) -> State {
        let mut watches: HashMap<String, WatchStories> = plan
            .stories
            .iter()
            .map(|(w, c)| {
                (
                    w.clone(),
                    WatchStories {
                        config: *c,
                        index: StoryIndex::new(*c),
                        live: HashMap::new(),
                    },
                )
            })
            .collect();
        // Stored number → the index's id for it, per watch.
        let mut ids: HashMap<(&str, i64), StoryId> = HashMap::new();
        for r in rows {
            let Some(w) = watches.get_mut(&r.watch) else {
                continue;
            };
            let next = StoryId(ids.len() as u64);
            let id = *ids.entry((r.watch.as_str(), r.story)).or_insert(next);
            let item = StoryItem {
                title: title_cut(&r.title),
                lead: &r.lead,
                link: r.link.as_deref(),
                published: r.published.min(now_secs),
            };
            w.index.restore(&item, id);
            if w.index.items_in(id) == Some(1) {
                // Opened by this row: a story under the same number before it (its first
                // item seen again after its `seen` row was pruned) has expired, and its
                // sources are not this one's.
                w.live.remove(&id);
            }
            // Decoded once here, not on every update.
            let alert = r
                .alert
                .as_deref()
                .and_then(|j| serde_json::from_str::<Alert>(j).ok());
            match w.live.get_mut(&id) {
                None => {
                    w.live.insert(
                        id,
                        Live {
                            number: r.story,
                            alert,
                            sources: vec![r.feed.clone()],
                        },
                    );
                }
                Some(l) => match alert {
                    // Rows come in commit order, not grouping order: a story's alert may be
                    // stored after an update of it (its poll committed later). The alert's
                    // sources are the story's as they stood when it was grouped, the update's
                    // after it; the latest count keeps an update's key from repeating one
                    // already used. A second alert row (one item alerted in the place of an
                    // alert not stored yet) adds its sources only: the first alert known is
                    // the one the running daemon's updates edited.
                    Some(a) if l.alert.is_none() => {
                        let known = a.story.as_ref().map_or(&[][..], |s| &s.sources[..]);
                        let mut sources: Vec<String> = known.to_vec();
                        if !sources.contains(&r.feed) {
                            sources.insert(0, r.feed.clone());
                        }
                        for f in &l.sources {
                            if !sources.contains(f) {
                                sources.push(f.clone());
                            }
                        }
                        l.sources = sources;
                        l.alert = Some(a);
                    }
                    _ => {
                        if !l.sources.contains(&r.feed) {
                            l.sources.push(r.feed.clone());
                        }
                    }
                },
            }
        }
        for w in watches.values_mut() {
            w.forget_expired();
        }
        State {
            loaded: true,
            watches,
        }
    }
}

impl WatchStories {
    fn group(&mut self, feed: &str, f: Found<'_>, now: Millis) -> (Grouped, StoryItemRow) {
        let f_watch = f.watch;
        let lead = lead(f.item);
        let item = story_item(f.item, &lead, f.link, now);
        let published = item.published;
        let assignment = self.index.assign(&item);
        let id = assignment.story();
        let live = match assignment {
            Assignment::SameStory(..) => self.live.get_mut(&id),
            Assignment::NewStory(_) => None,
        };
        let number = live
            .as_ref()
            .map_or_else(|| story_number(f.watch, feed, &f.item.key.0), |l| l.number);
        let mut row = StoryItemRow {
            watch: f.watch.to_string(),
            story: number,
            feed: feed.to_string(),
            item_key: f.item.key.0.clone(),
            title: item.title.to_string(),
            lead,
            link: f.link.map(str::to_owned),
            published,
            alert: None,
            at: now,
        };
        let grouped = match live {
            None => {
                // A new story (or one whose first row is gone): alerted, and remembered.
                let mut alert = f.alert;
                alert.story = Some(StoryRef {
                    id: story_id(f.watch, feed, &f.item.key.0),
                    sources: vec![feed.to_string()],
                    updated_at: None,
                });
                row.alert = Some(alert.to_json());
                self.live.insert(
                    id,
                    Live {
                        number,
                        alert: Some(alert.clone()),
                        sources: vec![feed.to_string()],
                    },
                );
                Grouped::Alert(alert)
            }
            Some(l) if l.sources.iter().any(|s| s == feed) => Grouped::Quiet,
            Some(l) => {
                l.sources.push(feed.to_string());
                match l.alert.clone() {
                    Some(mut alert) => {
                        alert.story = Some(StoryRef {
                            id: story_id(&alert.watch, &alert.feed, &alert.item_key),
                            sources: l.sources.clone(),
                            updated_at: Some(f.alert.matched_at),
                        });
                        Grouped::Update(StoryUpdate {
                            item_key: f.item.key.0.clone(),
                            alert,
                        })
                    }
                    // The story's alert is not known (its first item's row was not stored,
                    // or stored after this one's): this item alerts in its place, rather than
                    // the story going unsent.
                    None => {
                        // The alert's own feed comes first: messages name the others as
                        // "also reported by".
                        l.sources.retain(|s| s != feed);
                        l.sources.insert(0, feed.to_string());
                        let mut alert = f.alert;
                        alert.story = Some(StoryRef {
                            id: story_id(f.watch, feed, &f.item.key.0),
                            sources: l.sources.clone(),
                            updated_at: None,
                        });
                        row.alert = Some(alert.to_json());
                        l.alert = Some(alert.clone());
                        Grouped::Alert(alert)
                    }
                }
            }
        };
        let outcome = grouped.outcome();
        tracing::debug!(watch = f_watch, feed, story = number, outcome, "story");
        if self.live.len() > 2 * self.index.len() + 64 {
            self.forget_expired();
        }
        (grouped, row)
    }

    /// Drop what updates kept of stories the index has let expire.
    fn forget_expired(&mut self) {
        let index = &self.index;
        self.live.retain(|id, _| index.items_in(*id).is_some());
    }
}

#[cfg(test)]
mod tests;
