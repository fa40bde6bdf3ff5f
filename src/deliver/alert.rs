//! The alert: what is stored in the outbox and rendered by each sink at send time.
//!
//! Owns [`Alert`] and [`idempotency_key`]. Built by the pipeline from a [`crate::matcher::Match`]
//! and its [`crate::feed::FeedItem`]; serialized as JSON into the outbox, so a template or
//! payload fix applies to retries of alerts already queued.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::feed::FeedItem;
use crate::matcher::Match;
use crate::matcher::snippet::{mark_segments, render_marks};

/// One hit, as stored with an alert.
///
/// A long article yields dozens of hits per alert, all naming one of a few terms and fields:
/// the term is shared with the compiled watch (`Arc`) and a field name is a static string, so
/// building an alert allocates nothing per hit (two `String`s per hit were ~25 % of the
/// matching pipeline on long articles). Both serialize as plain JSON strings, as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertHit {
    pub term: Arc<str>,
    /// The field's name (`title`, `summary`, ...): borrowed when built from a match, owned when
    /// read back from the outbox.
    pub field: Cow<'static, str>,
    pub start: usize,
    pub end: usize,
}

/// The snippet, as stored: text plus byte ranges of the hits in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSnippet {
    pub text: String,
    pub marks: Vec<(usize, usize)>,
}

impl AlertSnippet {
    /// As [`Snippet::render`]: marks wrapped in `open`/`close`, text passed through `escape`.
    pub fn render(&self, open: &str, close: &str, escape: impl Fn(&str) -> String) -> String {
        render_marks(&self.text, &self.marks, open, close, escape)
    }

    /// The text split at its marks: `(piece, is a hit)`, see [`mark_segments`].
    pub fn segments(&self) -> Vec<(&str, bool)> {
        mark_segments(&self.text, &self.marks)
    }
}

/// A matched item for one watch: everything a sink needs to say what and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub watch: String,
    pub feed: String,
    pub item_key: String,
    pub title: String,
    pub link: Option<String>,
    /// When the item was published, else when newswatch first saw it.
    pub published: Option<DateTime<Utc>>,
    pub hits: Vec<AlertHit>,
    pub snippet: AlertSnippet,
    /// When the match was made.
    pub matched_at: DateTime<Utc>,
    /// The story this alert reports, for watches that group items into stories: its id, and
    /// on a story update every source so far. Absent for watches without stories and from
    /// alerts stored before stories existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<StoryRef>,
}

/// A story as an update shows it: its id (stable across its updates) and every source that
/// reported it, the first alert's feed first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoryRef {
    pub id: String,
    pub sources: Vec<String>,
}

/// What chat messages show for an item without a title (RSS 2.0 asks for a title *or* a
/// description; a match in the description alone still alerts).
pub const NO_TITLE: &str = "(no title)";

impl Alert {
    /// The title as chat messages show it: [`NO_TITLE`] when the item has none (an empty bold
    /// or linked run shows nothing, or breaks the platform's markup). Machine formats (the
    /// webhook, stdout JSON) carry the title as it is.
    pub fn shown_title(&self) -> &str {
        if self.title.trim().is_empty() {
            NO_TITLE
        } else {
            &self.title
        }
    }

    pub fn new(watch: &str, feed: &str, item: &FeedItem, m: &Match, now: DateTime<Utc>) -> Alert {
        Alert {
            watch: watch.to_string(),
            feed: feed.to_string(),
            item_key: item.key.0.clone(),
            title: item.title.clone(),
            link: item.link.clone(),
            published: item.published.or(Some(now)),
            hits: m
                .hits
                .iter()
                .map(|h| AlertHit {
                    term: Arc::clone(&h.term),
                    field: Cow::Borrowed(h.field.name()),
                    start: h.start,
                    end: h.end,
                })
                .collect(),
            snippet: AlertSnippet {
                text: m.snippet.text.clone(),
                marks: m.snippet.marks.clone(),
            },
            matched_at: now,
            story: None,
        }
    }

    /// The distinct matched terms, in order of first hit.
    pub fn terms(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for h in &self.hits {
            if !out.contains(&&*h.term) {
                out.push(&h.term);
            }
        }
        out
    }
}

/// The stable idempotency key of one (watch, sink, item) delivery: the same on every attempt and
/// after every restart, so receivers can drop repeats (`webhook-id`, Matrix `txnId`).
pub fn idempotency_key(watch: &str, sink: &str, feed: &str, item_key: &str) -> String {
    let mut h = Sha256::new();
    for part in [watch, sink, feed, item_key] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("nw_{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_stable_and_distinct() {
        let a = idempotency_key("w", "s", "f", "k");
        assert_eq!(a, idempotency_key("w", "s", "f", "k"));
        assert_ne!(a, idempotency_key("w", "s2", "f", "k"));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(
            idempotency_key("ab", "c", "f", "k"),
            idempotency_key("a", "bc", "f", "k")
        );
        assert!(a.starts_with("nw_") && a.len() == 35);
    }
}
