//! Stories: deciding whether a new item reports a story already seen in a recent window.
//!
//! This module owns the grouping algorithm only; it is pure and synchronous (no store, no
//! pipeline, no sinks). Its parts:
//!
//! - [`signature`]: an item's title and lead, folded with [`crate::text::fold`], turned into a
//!   compact [`Signature`]: weighted content terms, named entities and numbers, and the key of the
//!   exact folded title.
//! - [`vocab`]: document frequencies learned from the window's own items, so a term's weight
//!   reflects how rare it is *now* ("Kursk" is rare in general, common in a week about Kursk).
//! - [`decide`]: the score of (new item, earlier item) and the same-story decision.
//! - [`index`]: [`StoryIndex`], the per-watch window of recent stories with a sub-linear
//!   candidate lookup (an inverted index probed with the item's heaviest terms, by prefix
//!   filtering, so it finds every story a full scan would), exact-title and
//!   canonical-link fast paths, and expiry by time.
//!
//! Types crossing the boundary: [`StoryItem`] (what the caller passes in), [`StoryConfig`]
//! (window and threshold, validated once), [`StoryIndex::assign`] returning an [`Assignment`]
//! (`NewStory(id)` or `SameStory(id, score)`), [`StoryId`] and [`StoryError`].

pub mod decide;
pub mod index;
pub mod signature;
pub mod vocab;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use decide::{DEFAULT_THRESHOLD, Weighed, score};
pub use index::StoryIndex;
pub use signature::Signature;
pub use vocab::Vocabulary;

/// The default story window: an item joins a story last reported at most this long ago.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(48 * 3600);

/// One item as the grouping sees it. Times are Unix seconds (the item's published time, or
/// when it was first seen if it has none).
#[derive(Debug, Clone, Copy)]
pub struct StoryItem<'a> {
    pub title: &'a str,
    pub lead: &'a str,
    pub link: Option<&'a str>,
    pub published: i64,
}

/// A story's id, unique within one [`StoryIndex`], increasing in creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoryId(pub u64);

/// Where [`StoryIndex::assign`] put an item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Assignment {
    /// The item starts a new story.
    NewStory(StoryId),
    /// The item reports this earlier story; the score is the similarity that decided it
    /// (1.0 for the exact-title and canonical-link fast paths).
    SameStory(StoryId, f64),
}

impl Assignment {
    /// The story the item belongs to, either way.
    pub fn story(&self) -> StoryId {
        match *self {
            Assignment::NewStory(id) | Assignment::SameStory(id, _) => id,
        }
    }
}

/// Grouping settings of one watch: `story_window` and `story_threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoryConfig {
    window: Duration,
    threshold: f64,
}

impl Default for StoryConfig {
    fn default() -> Self {
        Self {
            window: DEFAULT_WINDOW,
            threshold: DEFAULT_THRESHOLD,
        }
    }
}

impl StoryConfig {
    /// Validates a window (at least one second) and a threshold (a number in 0..=1).
    pub fn new(window: Duration, threshold: f64) -> Result<Self, StoryError> {
        if window.as_secs() == 0 || window > index::MAX_JOIN_GAP {
            return Err(StoryError::Window(window));
        }
        if !(0.0..=1.0).contains(&threshold) {
            return Err(StoryError::Threshold(threshold));
        }
        Ok(Self { window, threshold })
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The window in whole seconds, saturated to `i64` for arithmetic on Unix times.
    pub(crate) fn window_secs(&self) -> i64 {
        i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX)
    }
}

/// Invalid grouping settings.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StoryError {
    #[error("story_threshold must be a number from 0 to 1, got {0}")]
    Threshold(f64),
    /// At most 15 days: a story lives at most twice its window, and a restart rebuilds the
    /// grouping from 30 days of story rows. A longer window would group differently after a
    /// restart than before it.
    #[error(
        "story_window must be from one second to 15 days (a story stays open up to twice its \
         window, and a restart rebuilds the grouping from 30 days), got {}",
        shown_window(*.0)
    )]
    Window(Duration),
}

/// A window as written in days when it is whole days (`31d`: humantime writes "1month 13h 26m
/// 24s", its month being 30.44 days).
fn shown_window(d: Duration) -> String {
    const DAY: u64 = 24 * 3600;
    match d.as_secs() {
        s if s >= DAY && s % DAY == 0 && d.subsec_nanos() == 0 => format!("{}d", s / DAY),
        _ => humantime::format_duration(d).to_string(),
    }
}
