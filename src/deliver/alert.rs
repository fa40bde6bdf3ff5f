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
    /// Why a semantic watch matched: its score, the closest example, the item's closest
    /// sentence. Absent for keyword matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meaning: Option<Meaning>,
}

/// A semantic watch's explanation of a match (see [`crate::semantic`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meaning {
    /// Cosine similarity of the item (title and lead) and the closest `about` example.
    pub score: f32,
    /// That example, as written in the watch.
    pub example: String,
    /// The item's sentence closest to that example (the snippet of a match by meaning alone).
    pub sentence: String,
}

// A score is a finite cosine (never NaN), so equality is an equivalence; alerts compare whole.
impl Eq for Meaning {}

/// A story as an update shows it: its id (stable across its updates) and every source that
/// reported it, the first alert's feed first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoryRef {
    pub id: String,
    pub sources: Vec<String>,
    /// Of an update: when the item that made it was matched (the `timestamp` of an
    /// `alert.updated` event; the alert's `matched_at` stays its first item's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
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
            meaning: None,
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

impl Alert {
    /// The alert as stored in the outbox: the same JSON value as serde's derived
    /// `Serialize` (the test `to_json_is_the_derived_json` compares them, so a field added to
    /// [`Alert`] and not here fails it), with `hits` last.
    ///
    /// Written by hand rather than by serde: an alert of a broad watchlist carries dozens of
    /// hits, and serde_json's per-write overhead (a dozen small writes per hit, a formatter
    /// call per date) made encoding ~20 % of the matching pipeline on long articles.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(
            200 + self.title.len()
                + self.snippet.text.len()
                + self.link.as_ref().map_or(0, String::len)
                // A hit is 51 bytes and its term and field (within 12 bytes, escapes aside).
                + self.hits.iter().map(|h| 63 + h.term.len() + h.field.len()).sum::<usize>(),
        );
        let mut num = itoa::Buffer::new();
        out.push_str("{\"watch\":");
        push_json_str(&mut out, &self.watch);
        out.push_str(",\"feed\":");
        push_json_str(&mut out, &self.feed);
        out.push_str(",\"item_key\":");
        push_json_str(&mut out, &self.item_key);
        out.push_str(",\"title\":");
        push_json_str(&mut out, &self.title);
        out.push_str(",\"link\":");
        match &self.link {
            Some(l) => push_json_str(&mut out, l),
            None => out.push_str("null"),
        }
        out.push_str(",\"published\":");
        match &self.published {
            Some(d) => push_json_date(&mut out, d),
            None => out.push_str("null"),
        }
        out.push_str(",\"snippet\":{\"text\":");
        push_json_str(&mut out, &self.snippet.text);
        out.push_str(",\"marks\":[");
        for (i, (a, b)) in self.snippet.marks.iter().enumerate() {
            out.push_str(if i == 0 { "[" } else { ",[" });
            out.push_str(num.format(*a));
            out.push(',');
            out.push_str(num.format(*b));
            out.push(']');
        }
        out.push_str("]},\"matched_at\":");
        push_json_date(&mut out, &self.matched_at);
        if let Some(story) = &self.story {
            out.push_str(",\"story\":{\"id\":");
            push_json_str(&mut out, &story.id);
            out.push_str(",\"sources\":[");
            for (i, src) in story.sources.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_str(&mut out, src);
            }
            out.push(']');
            if let Some(at) = &story.updated_at {
                out.push_str(",\"updated_at\":");
                push_json_date(&mut out, at);
            }
            out.push('}');
        }
        if let Some(meaning) = &self.meaning {
            // Rare (semantic matches only) and small: serde's float formatting is the one
            // readers expect.
            if let Ok(m) = serde_json::to_string(meaning) {
                out.push_str(",\"meaning\":");
                out.push_str(&m);
            }
        }
        out.push_str(",\"hits\":[");
        // An alert's hits name a few (term, field) pairs dozens of times: each pair's
        // `{"term":…,"field":…,"start":` is escaped once, into `heads`, and copied from there
        // for each of its hits.
        let mut heads = String::with_capacity(512);
        let mut known: Vec<(&str, &str, usize, usize)> = Vec::with_capacity(8);
        for (i, h) in self.hits.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let (term, field) = (&*h.term, &*h.field);
            // Built from a match, a hit's term and field are shared strings: comparing
            // addresses finds the pair without comparing text; read back from the outbox,
            // they are not, and the text decides.
            let found = known
                .iter()
                .find(|k| std::ptr::eq(k.0, term) && std::ptr::eq(k.1, field))
                .or_else(|| known.iter().find(|k| k.0 == term && k.1 == field));
            let (from, to) = match found {
                Some(k) => (k.2, k.3),
                None => {
                    let from = heads.len();
                    heads.push_str("{\"term\":");
                    push_json_str(&mut heads, term);
                    heads.push_str(",\"field\":");
                    push_json_str(&mut heads, field);
                    heads.push_str(",\"start\":");
                    known.push((term, field, from, heads.len()));
                    (from, heads.len())
                }
            };
            out.push_str(heads.get(from..to).unwrap_or_default());
            out.push_str(num.format(h.start));
            out.push_str(",\"end\":");
            out.push_str(num.format(h.end));
            out.push('}');
        }
        out.push_str("]}");
        out
    }
}

/// A date as chrono's `Serialize` writes it (its `Debug` form: `2024-10-27T03:33:20Z`, with
/// `.mmm`, `.uuuuuu` or `.nnnnnnnnn` when there is a fraction), quoted. Written digit by digit
/// for years 0-9999 (chrono's formatter machinery cost ~3 k instructions a date); other years
/// and leap seconds go through chrono itself.
fn push_json_date(out: &mut String, d: &DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    out.push('"');
    let (year, nano) = (d.year(), d.nanosecond());
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        use std::fmt::Write;
        // Writing into a String cannot fail.
        let _ = write!(out, "{d:?}");
        out.push('"');
        return;
    }
    fn digits(out: &mut String, n: u32, width: u32) {
        for k in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(k) % 10) as u8));
        }
    }
    digits(out, year.unsigned_abs(), 4);
    out.push('-');
    digits(out, d.month(), 2);
    out.push('-');
    digits(out, d.day(), 2);
    out.push('T');
    digits(out, d.hour(), 2);
    out.push(':');
    digits(out, d.minute(), 2);
    out.push(':');
    digits(out, d.second(), 2);
    if nano != 0 {
        out.push('.');
        if nano % 1_000_000 == 0 {
            digits(out, nano / 1_000_000, 3);
        } else if nano % 1_000 == 0 {
            digits(out, nano / 1_000, 6);
        } else {
            digits(out, nano, 9);
        }
    }
    out.push_str("Z\"");
}

/// Which bytes a JSON string must escape: control characters, `"` and `\\`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// `s` as a JSON string: quotes, backslashes and control characters escaped, as serde_json
/// escapes them. The text between escapes is copied in one piece (most strings have none).
fn push_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(at) = bytes[from..]
        .iter()
        .position(|&b| NEEDS_ESCAPE[usize::from(b)])
    {
        let i = from + at;
        // `i` is an ASCII byte, so both slices end on character boundaries.
        out.push_str(s.get(from..i).unwrap_or(""));
        let b = bytes[i];
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0C => out.push_str("\\f"),
            _ => {
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xF)]));
            }
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
        dated(text, n, story, link, Some(1_730_000_000_000_000_005))
    }

    /// [`alert`] published at `published_ns` (nanoseconds since the epoch), if any; the
    /// snippet carries `n` marks.
    fn dated(text: String, n: usize, story: bool, link: bool, published_ns: Option<i64>) -> Alert {
        Alert {
            watch: format!("w{text}"),
            feed: text.clone(),
            item_key: format!("k{text}"),
            title: text.clone(),
            link: link.then(|| format!("https://example.org/{text}")),
            published: published_ns.map(DateTime::from_timestamp_nanos),
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
                marks: (0..n).map(|i| (i * 3, i * 3 + 1)).collect(),
            },
            matched_at: DateTime::from_timestamp(1_730_000_100, 0).unwrap_or_default(),
            story: story.then(|| StoryRef {
                id: text.clone(),
                sources: vec![text.clone(), "b".into()],
                // An update's time (the hand-written JSON dropped it: every update sent out
                // of the outbox carried the story's first match time).
                updated_at: published_ns.map(|ns| DateTime::from_timestamp_nanos(ns + 7)),
            }),
            meaning: None,
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
        let v: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
        assert_eq!(v, serde_json::to_value(&a).unwrap());
    }

    #[test]
    fn dates_are_written_as_chrono_writes_them() {
        let day = 1_730_000_000_000_000_000i64;
        for ns in [
            0,
            1_000_000_000,
            5,
            120_000_000,
            123_000,
            123_456_789,
            999_999_999,
            i64::MIN,
            i64::MAX,
        ] {
            let d = DateTime::from_timestamp_nanos(day.saturating_add(ns));
            let mut ours = String::new();
            push_json_date(&mut ours, &d);
            assert_eq!(ours, serde_json::to_string(&d).unwrap(), "{ns}");
        }
        // Years outside 0-9999 and leap seconds take chrono's own path.
        for d in [
            chrono::NaiveDate::from_ymd_opt(-1, 1, 1),
            chrono::NaiveDate::from_ymd_opt(12_345, 6, 7),
            chrono::NaiveDate::from_ymd_opt(2016, 12, 31),
        ] {
            let date = d.unwrap();
            for t in [
                date.and_hms_opt(1, 2, 3),
                date.and_hms_nano_opt(23, 59, 59, 1_500_000_000),
            ] {
                let d = t.unwrap().and_utc();
                let mut ours = String::new();
                push_json_date(&mut ours, &d);
                assert_eq!(ours, serde_json::to_string(&d).unwrap(), "{d:?}");
            }
        }
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
            published_ns in proptest::option::of(i64::MIN..i64::MAX),
            score in proptest::option::of(-1.0f32..=1.0),
        ) {
            let mut a = dated(text.clone(), n, story, link, published_ns);
            a.meaning = score.map(|score| Meaning {
                score,
                example: text.clone(),
                sentence: format!("{text}."),
            });
            let j = a.to_json();
            let v: serde_json::Value = serde_json::from_str(&j).unwrap();
            // Compared with the derived serializer's text read back (`to_value` would widen
            // the f32 score to f64 digits that no writer prints).
            let derived: serde_json::Value =
                serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
            prop_assert_eq!(v, derived);
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
