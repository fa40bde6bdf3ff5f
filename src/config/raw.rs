//! Raw configuration: TOML files read into plain structs that remember where each value was.
//!
//! Owns [`RawConfig`] and its parts; [`read_file`] (in `reader`) fills them. Nothing here judges meaning (durations,
//! URLs, references between sections): it only checks TOML syntax, key names and value types,
//! collecting every problem instead of stopping at the first. [`crate::config::validate`] turns a
//! `RawConfig` into the [`crate::config::Plan`] the rest of the program uses.

use std::path::Path;
use std::sync::Arc;

use crate::config::error::ConfigError;

mod pieces;
mod reader;
pub use reader::read_file;

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: Arc<Path>,
    pub line: usize,
    pub column: usize,
    /// For a string written in the file as it reads (a literal string, or one without
    /// escapes): the line and column of its first character, so that a position inside it
    /// (a query's syntax error) can be named in the file ([`Loc::inside`]).
    pub text_start: Option<(usize, usize)>,
}

impl Loc {
    /// Where the character at `index` (counted in characters) of the string `value` written
    /// here stands in the file; where the value starts when it is not in the file as it
    /// reads (escapes), or `index` is past its end.
    pub fn inside(&self, value: &str, index: usize) -> Loc {
        let Some((mut line, mut column)) = self.text_start else {
            return self.clone();
        };
        if index > value.chars().count() {
            return self.clone();
        }
        for c in value.chars().take(index) {
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        Loc {
            line,
            column,
            ..self.clone()
        }
    }

    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub loc: Loc,
}

/// `[daemon]`.
#[derive(Debug, Default)]
pub struct RawDaemon {
    pub loc: Option<Loc>,
    pub state: Option<Sp<String>>,
    pub listen: Option<Sp<String>>,
    pub listen_token: Option<Sp<String>>,
    pub poll_interval: Option<Sp<String>>,
    pub min_poll_interval: Option<Sp<String>>,
    pub include: Vec<Sp<String>>,
    /// Include patterns that may match no file (a drop-in folder that is often empty).
    pub include_optional: Vec<Sp<String>>,
    pub user_agent: Option<Sp<String>>,
    pub fetch_timeout: Option<Sp<String>>,
    pub max_body_size: Option<Sp<String>>,
    pub max_concurrent_fetches: Option<Sp<i64>>,
    pub per_host_concurrency: Option<Sp<i64>>,
    pub backoff_cap: Option<Sp<String>>,
    pub on_new_feed: Option<Sp<String>>,
    pub recent_window: Option<Sp<String>>,
    pub retention: Option<Sp<String>>,
    pub max_delivery_age: Option<Sp<String>>,
    pub dead_retention: Option<Sp<String>>,
    pub archive: Option<Sp<String>>,
    pub shutdown_grace: Option<Sp<String>>,
    pub lease: Option<Sp<String>>,
    pub log_level: Option<Sp<String>>,
    pub health_sinks: Option<Sp<Vec<Sp<String>>>>,
    pub health_after: Option<Sp<String>>,
    /// Defaults for every feed's `full_text` and `full_text_min_chars`.
    pub full_text: RawFullText,
    pub page_rate: Option<Sp<String>>,
    pub page_timeout: Option<Sp<String>>,
}

/// `full_text` and `full_text_min_chars`, in `[daemon]` (for every feed) or a `[[feed]]`.
#[derive(Debug, Default)]
pub struct RawFullText {
    pub mode: Option<Sp<String>>,
    pub min_chars: Option<Sp<i64>>,
}

const DAEMON_KEYS: &[&str] = &[
    "state",
    "listen",
    "listen_token",
    "poll_interval",
    "min_poll_interval",
    "include",
    "include_optional",
    "user_agent",
    "fetch_timeout",
    "max_body_size",
    "max_concurrent_fetches",
    "per_host_concurrency",
    "backoff_cap",
    "on_new_feed",
    "recent_window",
    "retention",
    "max_delivery_age",
    "dead_retention",
    "archive",
    "shutdown_grace",
    "lease",
    "log_level",
    "health_sinks",
    "health_after",
    "full_text",
    "full_text_min_chars",
    "page_rate",
    "page_timeout",
];

/// One `[[feed]]`.
#[derive(Debug)]
pub struct RawFeed {
    pub loc: Loc,
    pub url: Option<Sp<String>>,
    pub name: Option<Sp<String>>,
    pub interval: Option<Sp<String>>,
    pub tags: Vec<Sp<String>>,
    pub full_text: RawFullText,
    /// Keys given a value of the wrong type: reported when read, so not "missing" too.
    pub mistyped: Vec<String>,
}

const FEED_KEYS: &[&str] = &[
    "url",
    "name",
    "interval",
    "tags",
    "full_text",
    "full_text_min_chars",
];

/// One `[[sink]]`: common keys typed, the rest kept by name for the sink type to check.
#[derive(Debug)]
pub struct RawSink {
    pub loc: Loc,
    pub name: Option<Sp<String>>,
    pub kind: Option<Sp<String>>,
    /// Every other key, as strings / string lists / integers / booleans.
    pub settings: Vec<(Sp<String>, Sp<RawScalar>)>,
    /// Keys given a value of the wrong type: reported when read, so not "missing" too.
    pub mistyped: Vec<String>,
}

/// A sink setting's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawScalar {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
}

/// One `[[watch]]`.
#[derive(Debug)]
pub struct RawWatch {
    pub loc: Loc,
    pub name: Option<Sp<String>>,
    pub terms: Option<Sp<Vec<Sp<String>>>>,
    pub query: Option<Sp<String>>,
    pub exclude: Vec<Sp<String>>,
    /// Kept with its own location, like `sinks`: an empty list is an error pointed at it.
    pub feeds: Option<Sp<Vec<Sp<String>>>>,
    /// Kept with its own location: an empty list is an error pointed at it.
    pub sinks: Option<Sp<Vec<Sp<String>>>>,
    pub fields: Option<Vec<Sp<String>>>,
    /// Story grouping: on or off, how similar, over how long.
    pub stories: Option<Sp<bool>>,
    pub story_threshold: Option<Sp<f64>>,
    pub story_window: Option<Sp<String>>,
    /// Semantic watches: example sentences, negative ones, threshold, how they combine.
    pub about: Option<Sp<Vec<Sp<String>>>>,
    pub not_about: Option<Sp<Vec<Sp<String>>>>,
    pub similarity: Option<Sp<f64>>,
    pub mode: Option<Sp<String>>,
    /// Keys given a value of the wrong type: reported when read, so not "missing" too.
    pub mistyped: Vec<String>,
}

const WATCH_KEYS: &[&str] = &[
    "name",
    "terms",
    "query",
    "exclude",
    "feeds",
    "sinks",
    "fields",
    "stories",
    "story_threshold",
    "story_window",
    "about",
    "not_about",
    "similarity",
    "mode",
];

/// The `[semantic]` table (main file only).
#[derive(Debug)]
pub struct RawSemantic {
    pub loc: Loc,
    pub model: Option<Sp<String>>,
    pub threads: Option<Sp<i64>>,
}

const SEMANTIC_KEYS: &[&str] = &["model", "threads"];

/// Everything read from one file.
#[derive(Debug, Default)]
pub struct RawConfig {
    pub daemon: Option<RawDaemon>,
    pub semantic: Option<RawSemantic>,
    pub feeds: Vec<RawFeed>,
    pub sinks: Vec<RawSink>,
    pub watches: Vec<RawWatch>,
    /// A file could not be read or parsed (its errors are listed): the feeds and sinks it
    /// defines are unknown, so a name that is not found may be one of them.
    pub incomplete: bool,
}

/// The allowed key nearest to a misspelt one, if it is close enough to be a likely typo.
pub fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (edit_distance(key, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::error::SourceFile;

    fn read(text: &str) -> (RawConfig, Vec<ConfigError>) {
        let src = SourceFile::new("t.toml".into(), text.into());
        let mut out = RawConfig::default();
        let mut errors = Vec::new();
        read_file(&src, true, &mut out, &mut errors);
        (out, errors)
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_all_reported() {
        let (raw, errors) = read(
            "[daemon]\npoll_intervall = \"5m\"\n\n[[feed]]\nurl = 5\nnmae = \"x\"\n\n[[watch]]\nterms = [1]\n",
        );
        assert_eq!(raw.feeds.len(), 1);
        let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 4, "{msgs:#?}");
        assert!(msgs[0].starts_with(
            "t.toml:2:1: unknown key `poll_intervall` in [daemon] (did you mean `poll_interval`?)"
        ));
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("t.toml:5:7: `url` in [[feed]] must be a string"))
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("t.toml:6:1: unknown key `nmae`"))
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("t.toml:9:10: `terms` in [[watch]] must list strings"))
        );
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let (_, errors) = read("[daemon]\nstate = \"x\nfoo = 1\n");
        assert!(!errors.is_empty());
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.starts_with("TOML syntax"));
    }

    /// A file of many feeds, with errors spread through it, for reading whole and in pieces.
    fn many_feeds(bad: &str) -> String {
        let mut t = "[daemon]\nstate = \"s.db\"\npoll_intervall = \"5m\"\n\n".to_string();
        for i in 0..20_000 {
            t.push_str(&format!(
                "[[feed]]\nname = \"f{i}\"\nurl = \"https://x.example/{i}\"\n"
            ));
            match i {
                7_000 => t.push_str("tags = [\"a\", 5]\n"),
                13_000 => t.push_str(bad),
                _ => {}
            }
            t.push('\n');
        }
        t.push_str("[[sink]]\nname = \"s\"\ntype = \"stdout\"\n\n[[watch]]\nterms = [\"x\"]\nsinks = [\"s\"]\n");
        t
    }

    fn read_whole(text: &str) -> (RawConfig, Vec<ConfigError>) {
        let src = SourceFile::new("t.toml".into(), text.into());
        let mut out = RawConfig::default();
        let mut errors = Vec::new();
        reader::read_piece(&src, 0..text.len(), true, &mut out, &mut errors, true);
        (out, errors)
    }

    /// Regression (issue 14: 212 MB to load 100,000 feeds, most of it the parser's tokens,
    /// events and tree of the whole document): a big file is read in pieces, and what it
    /// reads, values, locations and errors, is what reading it whole gives.
    #[test]
    fn a_big_file_read_in_pieces_reads_as_it_does_whole() {
        let text = many_feeds("nmae = \"x\"\n");
        assert!(pieces::cut(&text).len() > 4);
        let (pieced, pieced_errors) = read(&text);
        let (whole, whole_errors) = read_whole(&text);
        assert_eq!(pieced.feeds.len(), 20_000);
        assert_eq!(format!("{pieced:?}"), format!("{whole:?}"));
        assert_eq!(pieced_errors.len(), 3, "{pieced_errors:#?}");
        let mut sorted = pieced_errors.clone();
        sorted.sort_by_key(|e| (e.line, e.column));
        assert_eq!(sorted, whole_errors);
    }

    /// A syntax error in a later piece: the file is read whole, so the error is the
    /// parser's for the whole document and nothing of the earlier pieces is kept twice.
    #[test]
    fn a_syntax_error_in_a_piece_is_reported_as_for_the_whole_file() {
        let text = many_feeds("url = \"unterminated\n");
        let (pieced, pieced_errors) = read(&text);
        let (whole, whole_errors) = read_whole(&text);
        assert!(!pieced_errors.is_empty());
        assert_eq!(pieced_errors, whole_errors);
        assert_eq!(format!("{pieced:?}"), format!("{whole:?}"));
    }

    #[test]
    fn single_table_instead_of_array_is_explained() {
        let (_, errors) = read("[feed]\nurl = \"x\"\n");
        assert!(errors[0].message.contains("[[feed]]"), "{errors:?}");
    }
}
