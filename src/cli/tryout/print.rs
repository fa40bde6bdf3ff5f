//! How `try` and `backtest` show an item and its match: [`print_human`] for a reader,
//! [`json_line`]/[`JsonLine`] for `--json`, the story line under a match ([`StoryLine`]), a
//! semantic watch's near misses. Takes the matcher's [`Match`] and the item; writes to any
//! [`Write`].

use std::io::Write;

use serde::Serialize;

use crate::deliver::alert::Meaning;
use crate::feed::FeedItem;
use crate::matcher::{Hit, Match, WatchSet};
use crate::semantic::combine as meaning;

/// One line of `--json` output (also one alert of `backtest --json`).
#[derive(Serialize)]
pub(crate) struct JsonLine<'a> {
    watch: Option<&'a str>,
    feed: &'a str,
    item_key: &'a str,
    title: &'a str,
    link: Option<&'a str>,
    published: Option<String>,
    hits: &'a [Hit],
    snippet: Option<String>,
    sinks: &'a [String],
    /// For a watch with stories: the story this item would join or open.
    #[serde(skip_serializing_if = "Option::is_none")]
    story: Option<StoryLine>,
    /// For a semantic watch: the score, the closest example and sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    meaning: Option<Meaning>,
    /// A semantic watch's near miss (not an alert): one of the best items below its
    /// threshold.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    near_miss: bool,
    /// A match the daemon would drop: the same watch alerted the same canonical link from an
    /// earlier source (this names it) in this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    repeat_of: Option<String>,
}

impl JsonLine<'_> {
    pub(crate) fn with_story(mut self, story: Option<StoryLine>) -> Self {
        self.story = story;
        self
    }

    pub(crate) fn with_meaning(mut self, meaning: Option<&Meaning>) -> Self {
        self.meaning = meaning.cloned();
        self
    }

    pub(crate) fn with_repeat_of(mut self, source: Option<&str>) -> Self {
        self.repeat_of = source.map(str::to_string);
        self
    }
}

/// Where `try` would put a match of a watch with stories.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct StoryLine {
    /// The story's number in this run, from 1.
    pub(crate) number: u64,
    /// Whether this item opens the story (alerted) or joins it (an update of its alert).
    pub(crate) opens: bool,
    /// Of an item that joins: whether its feed is one the story already names, so nothing is
    /// sent (the daemon's quiet join), not an update.
    pub(crate) known_source: bool,
    /// The story's first item: its feed and title.
    pub(crate) first_feed: String,
    pub(crate) first_title: String,
}

/// The JSON form of one item and, when it matched, its match.
pub(crate) fn json_line<'a>(
    watches: &'a WatchSet,
    feed: &'a str,
    item: &'a FeedItem,
    m: Option<&'a Match>,
) -> JsonLine<'a> {
    let spec = m.map(|m| &watches.specs()[m.watch]);
    JsonLine {
        watch: spec.map(|s| s.name.as_str()),
        feed,
        item_key: &item.key.0,
        title: &item.title,
        link: item.link.as_deref(),
        published: item.published.map(|p| p.to_rfc3339()),
        hits: m.map_or(&[], |m| &m.hits),
        snippet: m.map(|m| m.snippet.marked()),
        sinks: spec.map_or(&[], |s| &s.sinks),
        story: None,
        meaning: None,
        near_miss: false,
        repeat_of: None,
    }
}

/// The story line under a match of a watch with stories.
pub(crate) fn print_story(out: &mut impl Write, s: &StoryLine) -> std::io::Result<()> {
    if s.opens {
        writeln!(out, "  story {}: opens it (alerted)", s.number)
    } else if s.known_source {
        writeln!(
            out,
            "  story {}: joins \"{}\" [{}] (from a feed it already names: nothing is sent)",
            s.number, s.first_title, s.first_feed
        )
    } else {
        writeln!(
            out,
            "  story {}: joins \"{}\" [{}] (an update of that alert, not a new one)",
            s.number, s.first_title, s.first_feed
        )
    }
}

pub(crate) fn print_json(
    out: &mut impl Write,
    watches: &WatchSet,
    feed: &str,
    item: &FeedItem,
    m: Option<&Match>,
) -> std::io::Result<()> {
    let text =
        serde_json::to_string(&json_line(watches, feed, item, m)).map_err(std::io::Error::other)?;
    writeln!(out, "{text}")
}

/// One match for a reader: watch, feed, title, link, why, and the snippet (highlighted when
/// `color`).
pub(crate) fn print_human(
    out: &mut impl Write,
    watches: &WatchSet,
    feed: &str,
    item: &FeedItem,
    m: &Match,
    color: bool,
    why: Why<'_>,
) -> std::io::Result<()> {
    let spec = &watches.specs()[m.watch];
    let (b, hl, dim, r) = if color {
        ("\x1b[1m", "\x1b[1;33m", "\x1b[2m", "\x1b[0m")
    } else {
        ("", "", "", "")
    };
    writeln!(out, "{b}▶ {}{r}  [{feed}]  {b}{}{r}", spec.name, item.title)?;
    if let Some(link) = &item.link {
        writeln!(out, "  {link}")?;
    }
    // "term (field)" once each, with a count when a term hit several times.
    let mut terms: Vec<(String, usize)> = Vec::new();
    for h in &m.hits {
        let label = format!("{} ({})", h.term, h.field);
        match terms.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => terms.push((label, 1)),
        }
    }
    let terms: Vec<String> = terms
        .into_iter()
        .map(|(l, n)| if n > 1 { format!("{l} ×{n}") } else { l })
        .collect();
    let published = item
        .published
        .map_or_else(|| "no date".to_string(), |p| p.to_rfc3339());
    if !terms.is_empty() {
        writeln!(out, "  {dim}{published} · matched: {}{r}", terms.join(", "))?;
    }
    if let Some(mn) = why.meaning {
        writeln!(
            out,
            "  {dim}{}meaning {:.2}, closest to \"{}\"{r}",
            if terms.is_empty() {
                format!("{published} · ")
            } else {
                String::new()
            },
            mn.score,
            mn.example
        )?;
    }
    let snippet = if color {
        m.snippet.render(hl, r, str::to_string)
    } else {
        m.snippet.marked()
    };
    writeln!(out, "  {snippet}")?;
    if let Some(s) = why.story {
        print_story(out, s)?;
    }
    if let Some(src) = why.repeat_of {
        writeln!(
            out,
            "  {dim}a repeat: this watch alerted the same link from [{src}], so this is not sent{r}"
        )?;
    }
    writeln!(out)
}

/// What `try` says under a match besides its hits: the story it would join or open, why a
/// semantic watch matched.
#[derive(Default, Clone, Copy)]
pub(crate) struct Why<'a> {
    pub story: Option<&'a StoryLine>,
    pub meaning: Option<&'a Meaning>,
    /// `try` only: the earlier source whose alert of the same link makes this one a repeat.
    pub repeat_of: Option<&'a str>,
}

/// Each semantic watch's best items below its threshold, to tune `similarity` by.
pub(crate) fn print_near_misses(
    out: &mut impl Write,
    misses: &[meaning::NearMiss],
    items: &[FeedItem],
    feed: &str,
    json: bool,
) -> std::io::Result<()> {
    let mut last: Option<&str> = None;
    for nm in misses {
        let Some(item) = items.get(nm.item) else {
            continue;
        };
        if json {
            let line = JsonLine {
                watch: Some(&nm.watch),
                feed,
                item_key: &item.key.0,
                title: &item.title,
                link: item.link.as_deref(),
                published: item.published.map(|p| p.to_rfc3339()),
                hits: &[],
                snippet: Some(nm.meaning.sentence.clone()),
                sinks: &[],
                story: None,
                meaning: Some(nm.meaning.clone()),
                near_miss: true,
                repeat_of: None,
            };
            let text = serde_json::to_string(&line).map_err(std::io::Error::other)?;
            writeln!(out, "{text}")?;
            continue;
        }
        if last != Some(nm.watch.as_str()) {
            writeln!(
                out,
                "near misses of {} (the best items it did not alert):",
                nm.watch
            )?;
            last = Some(&nm.watch);
        }
        let why = match &nm.vetoed_by {
            Some(n) => format!("closer to not_about \"{n}\""),
            None => format!("closest to \"{}\"", nm.meaning.example),
        };
        writeln!(
            out,
            "  {:.2}  [{feed}] {}  ({why})",
            nm.meaning.score, item.title
        )?;
    }
    if last.is_some() {
        writeln!(out)?;
    }
    Ok(())
}
