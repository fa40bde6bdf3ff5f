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

/// The alert's fields but its hits, borrowed: what [`Alert::to_json`] leaves to serde.
/// Field names and attributes as in [`Alert`]; the test `to_json_is_the_derived_json` fails
/// if a field is added there and not here.
#[derive(Serialize)]
struct AlertHead<'a> {
    watch: &'a str,
    feed: &'a str,
    item_key: &'a str,
    title: &'a str,
    link: &'a Option<String>,
    published: &'a Option<DateTime<Utc>>,
    snippet: &'a AlertSnippet,
    matched_at: &'a DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    story: &'a Option<StoryRef>,
}

impl Alert {
    /// The alert as stored in the outbox: the same JSON value as serde's, with `hits` last.
    ///
    /// The hits are written here rather than by serde: an alert of a broad watchlist carries
    /// dozens of them, and serde_json's per-write overhead (a dozen small writes per hit)
    /// made encoding them ~20 % of the matching pipeline on long articles.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let head = serde_json::to_string(&AlertHead {
            watch: &self.watch,
            feed: &self.feed,
            item_key: &self.item_key,
            title: &self.title,
            link: &self.link,
            published: &self.published,
            snippet: &self.snippet,
            matched_at: &self.matched_at,
            story: &self.story,
        })?;
        let mut out = String::with_capacity(head.len() + 16 + self.hits.len() * 48);
        // `head` is an object: `{...}`; the hits go in before its closing brace.
        out.push_str(head.strip_suffix('}').unwrap_or(&head));
        out.push_str(",\"hits\":[");
        let mut num = itoa::Buffer::new();
        for (i, h) in self.hits.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"term\":");
            push_json_str(&mut out, &h.term);
            out.push_str(",\"field\":");
            push_json_str(&mut out, &h.field);
            out.push_str(",\"start\":");
            out.push_str(num.format(h.start));
            out.push_str(",\"end\":");
            out.push_str(num.format(h.end));
            out.push('}');
        }
        out.push_str("]}");
        Ok(out)
    }
}

/// `s` as a JSON string: quotes, backslashes and control characters escaped, as serde_json
/// escapes them.
fn push_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0C => "\\f",
            0..=0x1F => "",
            _ => continue,
        };
        // `i` is an ASCII byte, so both slices end on character boundaries.
        out.push_str(s.get(from..i).unwrap_or(""));
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        } else {
            out.push_str(short);
        }
        from = i + 1;
    }
    out.push_str(s.get(from..).unwrap_or(""));
    out.push('"');
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
    use proptest::prelude::*;

    fn alert(text: String, n: usize, story: bool, link: bool) -> Alert {
        Alert {
            watch: format!("w{text}"),
            feed: text.clone(),
            item_key: format!("k{text}"),
            title: text.clone(),
            link: link.then(|| format!("https://example.org/{text}")),
            published: DateTime::from_timestamp(1_730_000_000, 5),
            hits: (0..n)
                .map(|i| AlertHit {
                    term: Arc::from(format!("{text}{i}")),
                    field: Cow::Borrowed(if i % 2 == 0 { "content" } else { "title" }),
                    start: i * 7,
                    end: i * 7 + usize::MAX / 2,
                })
                .collect(),
            snippet: AlertSnippet {
                text: text.clone(),
                marks: vec![(0, 1), (3, 9)],
            },
            matched_at: DateTime::from_timestamp(1_730_000_100, 0).unwrap_or_default(),
            story: story.then(|| StoryRef {
                id: text.clone(),
                sources: vec![text.clone(), "b".into()],
            }),
        }
    }

    #[test]
    fn to_json_escapes_what_json_requires() {
        let a = alert(
            "q\"b\\s\n\r\t\u{8}\u{c}\u{1}\u{1f}é😀\u{7f}".into(),
            3,
            true,
            true,
        );
        let v: serde_json::Value = serde_json::from_str(&a.to_json().unwrap()).unwrap();
        assert_eq!(v, serde_json::to_value(&a).unwrap());
    }

    proptest! {
        /// The hand-written hits and the serde-written rest make the same JSON value as the
        /// derived `Serialize`, and read back as the same alert.
        #[test]
        fn to_json_is_the_derived_json(
            text in "\\PC{0,12}|[\\x00-\\x20\"\\\\a]{0,6}",
            n in 0usize..5,
            story: bool,
            link: bool,
        ) {
            let a = alert(text, n, story, link);
            let j = a.to_json().unwrap();
            let v: serde_json::Value = serde_json::from_str(&j).unwrap();
            prop_assert_eq!(v, serde_json::to_value(&a).unwrap());
            prop_assert_eq!(serde_json::from_str::<Alert>(&j).unwrap(), a);
        }
    }

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
