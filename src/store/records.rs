//! The rows that cross the [`Store`](super::Store) trait: what a poll commits
//! ([`PollCommit`], [`NewDelivery`], [`NewUpdate`], [`StoryItemRow`]), what the store remembers
//! of a feed ([`FeedState`]), the outbox as the dispatcher claims and records it
//! ([`Delivery`], [`FailureRecord`], [`CommitOutcome`]) and as `status`/`deliveries` list it
//! ([`DeliveryRow`], [`OutboxSummary`]), the daily history and feed health ([`FeedDay`],
//! [`WatchDay`], [`FeedHealth`], [`HealthChange`], [`HealthState`]) and [`PruneRules`].
//! Plain data: every rule about them lives in the trait's documentation and the backends.

use super::{Millis, archive};

/// What the store remembers about one feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedState {
    pub feed: String,
    pub config_url: String,
    /// Where a permanent redirect moved the feed; used while `config_url` is unchanged.
    pub moved_url: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_poll_at: Option<Millis>,
    pub last_success_at: Option<Millis>,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    pub failures: u32,
    pub next_poll_at: Option<Millis>,
    pub baselined: bool,
    pub items_seen: i64,
    pub suppressed: i64,
    /// Consecutive polls on which the (effective) URL served an HTML page instead of a feed.
    pub html_streak: u32,
    /// Ids the feed's documents gave several different items, newest first (see
    /// [`crate::feed::item::key_known_shared`]).
    pub shared_ids: Vec<String>,
}

/// How many shared ids a feed keeps: real feeds have one or two (a constant, a placeholder).
pub const MAX_SHARED_IDS: usize = 32;

/// [`FeedState::shared_ids`] as stored: a JSON list, `''` for none.
pub fn shared_ids_text(ids: &[String]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        serde_json::to_string(ids).unwrap_or_default()
    }
}

/// [`FeedState::shared_ids`] from its stored text; none from text that is no list (nothing
/// lost but this memory).
pub fn shared_ids_of(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

impl FeedState {
    /// The failures in a row and HTML pages in a row a poll of `config_url` goes on from:
    /// the stored ones when they were counted for that address, none for a new one (a feed
    /// moved to another address starts its backoff afresh).
    pub fn streaks_at(state: Option<&FeedState>, config_url: &str) -> (u32, u32) {
        state
            .filter(|s| s.config_url == config_url)
            .map_or((0, 0), |s| (s.failures, s.html_streak))
    }
}

/// One alert to enqueue for one sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub idem_key: String,
    pub sink: String,
    pub watch: String,
    pub item_key: String,
    /// The serialized [`crate::deliver::Alert`].
    pub alert_json: String,
    /// Canonical link for cross-feed repeat suppression, if the item has a link.
    pub canonical_link: Option<String>,
}

/// A story update to enqueue: `delivery` carries the story's first alert with every source so
/// far; the sink shows it by editing (or following up) the message of the story's alert to the
/// same sink, whose idempotency key is `story_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpdate {
    pub delivery: NewDelivery,
    pub story_key: String,
    /// The story alert's item (feed, item key), when known. Stored already (its poll has
    /// committed) but with no delivery under `story_key`, the alert never went to this sink
    /// (suppressed as a cross-feed repeat, the sink added since, pruned): the update is not
    /// queued, as there is no message to edit. Not stored yet, the update waits for it.
    pub alert_item: Option<(String, String)>,
}

/// An item grouped into a story, as stored so the stories' index can be rebuilt at start.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct StoryItemRow {
    pub watch: String,
    /// The story's number within its watch.
    pub story: i64,
    pub feed: String,
    pub item_key: String,
    pub title: String,
    pub lead: String,
    pub link: Option<String>,
    /// Unix seconds, as the grouping compares times.
    pub published: i64,
    /// The story's first item only: its alert (JSON), which updates show with more sources.
    pub alert: Option<String>,
    /// When it was stored (set by the store from the poll's time; read back for status).
    pub at: Millis,
}

/// Everything one successful poll writes, applied in one transaction.
#[derive(Debug, Clone, Default)]
pub struct PollCommit {
    pub feed: String,
    pub config_url: String,
    /// A move found by this poll; `None` keeps the stored one.
    pub moved_url: Option<String>,
    /// The configured URL answered this poll itself (the moved one had failed): the stored
    /// move is forgotten.
    pub back_to_config: bool,
    /// This poll was a baseline that withheld the feed's backlog from a document cut off
    /// before its end: the feed is not stored as baselined, so its next poll judges the rest
    /// of the backlog as at a new address (what is dated before this poll stays quiet), not
    /// as news.
    pub baseline_incomplete: bool,
    /// The feed's shared ids after this poll ([`FeedState::shared_ids`]), stored as they are.
    pub shared_ids: Vec<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub now: Millis,
    pub next_poll_at: Millis,
    /// The feed this one was renamed from (its first successful poll under its name): its
    /// seen keys are stored under this feed's name first, so an item it saw and this document
    /// does not list (a shorter or cut-off document) stays seen.
    pub seen_from: Option<String>,
    /// Keys of every item in the document (new ones are inserted, known ones refreshed).
    pub item_keys: Vec<String>,
    /// Deliveries for the new items' matches.
    pub deliveries: Vec<NewDelivery>,
    /// How long a canonical link suppresses repeats of the same watch.
    pub repeat_window_ms: Millis,
    /// The new items' text for the archive (`None`: archive off, or nothing new).
    pub archive: Option<archive::ArchiveRecord>,
    /// Story updates for new items that report a story already alerted.
    pub updates: Vec<NewUpdate>,
    /// The new items that joined or opened a story.
    pub story_items: Vec<StoryItemRow>,
    /// When the poll grouped its items into stories (0: at `now`): its updates' wait for
    /// their alert ([`ALERT_WAIT`](super::ALERT_WAIT)) counts from then, not from the poll's start, which may
    /// be long before (article pages).
    pub grouped_at: Millis,
}

/// A failed poll, as stored.
#[derive(Debug, Clone, Copy)]
pub struct FailureRecord<'a> {
    pub feed: &'a str,
    pub config_url: &'a str,
    pub error: &'a str,
    /// Consecutive failures, this one included.
    pub failures: u32,
    /// Consecutive HTML answers, this one included if it was one (else unchanged).
    pub html_streak: u32,
    pub now: Millis,
    pub next_poll_at: Millis,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    pub new_items: usize,
    pub enqueued: usize,
    /// Alerts dropped because the same watch alerted the same canonical link recently.
    pub suppressed: usize,
    /// Of those, the alerts that opened a story (its row stored without the alert): the
    /// stories' cache, which holds the alert, no longer holds what the store holds.
    pub unsent_story_alerts: usize,
}

/// A claimed delivery, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub idem_key: String,
    pub sink: String,
    pub alert_json: String,
    pub attempts: u32,
    pub created_at: Millis,
    /// The key it was first attempted under: its own idempotency key when sent alone, a
    /// digest's key when sent in one. `None` until the first attempt.
    pub group_key: Option<String>,
    /// A story update: the idempotency key of the story's alert to this sink (`None`: an
    /// alert).
    pub story_key: Option<String>,
    /// A story update: the platform's id of the message the story's alert was sent as, when
    /// it was sent alone and the sink returned one.
    pub message_ref: Option<String>,
    /// A story update whose story's alert to this sink was never sent: dead, or still not in
    /// the outbox past [`ALERT_WAIT`](super::ALERT_WAIT). There is no message to edit or follow up, and it is
    /// dropped unsent.
    pub orphan: bool,
    /// The end of the claim that took it (`lease_until` of [`Store::claim_due`]): a send
    /// starts only while the row is still under that claim ([`Store::begin_send`]).
    pub claimed_until: Millis,
}

/// What the hourly prune forgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneRules {
    /// Seen keys last seen before this (the latest document's items excepted).
    pub seen_before: Millis,
    /// Link memory (the cross-feed repeat rule) alerted before this: only the repeat window
    /// is ever read, so keeping it for the whole retention only grows the table.
    pub links_before: Millis,
    /// Sent deliveries sent before this.
    pub sent_before: Millis,
    /// Dead letters that died before this.
    pub dead_before: Millis,
    /// Feeds removed from the configuration before this, with their seen keys.
    pub removed_before: Millis,
    /// Items grouped into stories stored before this.
    pub stories_before: Millis,
}

/// A delivery as listed for the operator (status, dead letters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: i64,
    pub idem_key: String,
    pub sink: String,
    pub watch: String,
    pub feed: String,
    pub item_key: String,
    pub state: String,
    pub attempts: u32,
    pub created_at: Millis,
    pub next_attempt_at: Millis,
    pub last_error: Option<String>,
    pub sent_at: Option<Millis>,
    pub alert_json: String,
    /// Marked sent without a message to the platform (a story update with nothing to show on
    /// its sink: [`crate::store::Store::mark_quiet`]).
    pub quiet: bool,
}

/// Counts for status and `run --once`'s exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxSummary {
    pub pending: i64,
    pub dead: i64,
    pub sent: i64,
    pub oldest_pending: Option<Millis>,
}

/// One feed's day in the history (UTC day number: milliseconds / 86,400,000).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedDay {
    pub feed: String,
    pub day: i64,
    pub ok: i64,
    pub not_modified: i64,
    pub failed: i64,
    /// New items (a baseline's items are not new).
    pub items: i64,
}

/// One watch's day in the history.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct WatchDay {
    pub watch: String,
    pub day: i64,
    pub alerts: i64,
}

/// A feed's health as last alerted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HealthState {
    #[default]
    Ok,
    Failing,
    Silent,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Ok => "ok",
            HealthState::Failing => "failing",
            HealthState::Silent => "silent",
        }
    }

    /// The stored name; anything unknown reads as `Ok` (a hand-edited row must not stop
    /// the loop).
    pub fn parse(s: &str) -> HealthState {
        match s {
            "failing" => HealthState::Failing,
            "silent" => HealthState::Silent,
            _ => HealthState::Ok,
        }
    }
}

/// What feed health is judged on, per feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHealth {
    pub feed: String,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    /// When the feed was last polled (its poll's start).
    pub last_poll_at: Option<Millis>,
    /// The first failed poll of the current run of failures; `None` after a success.
    pub failing_since: Option<Millis>,
    /// The state last alerted, and since when.
    pub reported: HealthState,
    pub reported_at: Option<Millis>,
    /// The latest UTC day with new items in the kept history, if any.
    pub last_item_day: Option<i64>,
}

/// A health state change to record, with the alerts it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    pub feed: String,
    pub from: HealthState,
    pub to: HealthState,
    pub at: Millis,
    /// Rows for the outbox (`watch` is the synthetic health watch, `item_key` names the change).
    pub deliveries: Vec<NewDelivery>,
}
