//! Raw configuration: TOML files read into plain structs that remember where each value was.
//!
//! Owns [`RawConfig`] and its parts, and [`read_file`]. Nothing here judges meaning (durations,
//! URLs, references between sections): it only checks TOML syntax, key names and value types,
//! collecting every problem instead of stopping at the first. [`crate::config::validate`] turns a
//! `RawConfig` into the [`crate::config::Plan`] the rest of the program uses.

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::error::{ConfigError, SourceFile};

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: Arc<Path>,
    pub line: usize,
    pub column: usize,
}

impl Loc {
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
    pub feeds: Option<Vec<Sp<String>>>,
    /// Kept with its own location: an empty list is an error pointed at it.
    pub sinks: Option<Sp<Vec<Sp<String>>>>,
    pub fields: Option<Vec<Sp<String>>>,
}

const WATCH_KEYS: &[&str] = &[
    "name", "terms", "query", "exclude", "feeds", "sinks", "fields",
];

/// Everything read from one file.
#[derive(Debug, Default)]
pub struct RawConfig {
    pub daemon: Option<RawDaemon>,
    pub feeds: Vec<RawFeed>,
    pub sinks: Vec<RawSink>,
    pub watches: Vec<RawWatch>,
}

/// Reads values out of one file, recording errors against it.
struct Reader<'a> {
    src: &'a SourceFile,
    errors: &'a mut Vec<ConfigError>,
}

type Entry<'i> = (Spanned<Cow<'i, str>>, Spanned<DeValue<'i>>);

/// A table being consumed: known keys are taken out, whatever remains is unknown.
struct Table<'i> {
    entries: Vec<Entry<'i>>,
    what: String,
}

impl<'i> Table<'i> {
    fn new(t: DeTable<'i>, what: impl Into<String>) -> Self {
        let mut entries: Vec<Entry<'i>> = t.into_iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        Table {
            entries,
            what: what.into(),
        }
    }

    fn take(&mut self, key: &str) -> Option<Spanned<DeValue<'i>>> {
        let i = self.entries.iter().position(|(k, _)| k.get_ref() == key)?;
        Some(self.entries.remove(i).1)
    }
}

impl Reader<'_> {
    fn loc(&self, span: Range<usize>) -> Loc {
        let (line, column) = self.src.line_col(span.start);
        Loc {
            file: self.src.path.clone(),
            line,
            column,
        }
    }

    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.errors.push(self.src.error(span, msg));
    }

    fn finish(&mut self, t: Table<'_>, allowed: &[&str]) {
        for (k, _) in t.entries {
            let key = k.get_ref();
            let hint = closest(key, allowed)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            self.err(k.span(), format!("unknown key `{key}` in {}{hint}", t.what));
        }
    }

    fn string(&mut self, t: &mut Table<'_>, key: &str) -> Option<Sp<String>> {
        let v = t.take(key)?;
        let span = v.span();
        match v.into_inner() {
            DeValue::String(s) => Some(Sp {
                value: s.into_owned(),
                loc: self.loc(span),
            }),
            other => {
                self.err(
                    span,
                    format!(
                        "`{key}` in {} must be a string, not {}",
                        t.what,
                        type_name(&other)
                    ),
                );
                None
            }
        }
    }

    fn int(&mut self, t: &mut Table<'_>, key: &str) -> Option<Sp<i64>> {
        let v = t.take(key)?;
        let span = v.span();
        match v.get_ref() {
            DeValue::Integer(i) => {
                match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                    Ok(n) => Some(Sp {
                        value: n,
                        loc: self.loc(span),
                    }),
                    Err(_) => {
                        self.err(span, format!("`{key}`: integer out of range"));
                        None
                    }
                }
            }
            other => {
                let msg = format!(
                    "`{key}` in {} must be an integer, not {}",
                    t.what,
                    type_name(other)
                );
                self.err(span, msg);
                None
            }
        }
    }

    /// A list of strings; a single string is accepted as a one-element list.
    fn strings(&mut self, t: &mut Table<'_>, key: &str) -> Option<Sp<Vec<Sp<String>>>> {
        let v = t.take(key)?;
        let span = v.span();
        let loc = self.loc(span.clone());
        match v.into_inner() {
            DeValue::String(s) => Some(Sp {
                value: vec![Sp {
                    value: s.into_owned(),
                    loc: loc.clone(),
                }],
                loc,
            }),
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    let ispan = item.span();
                    match item.into_inner() {
                        DeValue::String(s) => out.push(Sp {
                            value: s.into_owned(),
                            loc: self.loc(ispan),
                        }),
                        other => self.err(
                            ispan,
                            format!(
                                "`{key}` in {} must list strings, found {}",
                                t.what,
                                type_name(&other)
                            ),
                        ),
                    }
                }
                Some(Sp { value: out, loc })
            }
            other => {
                self.err(
                    span,
                    format!(
                        "`{key}` in {} must be a list of strings, not {}",
                        t.what,
                        type_name(&other)
                    ),
                );
                None
            }
        }
    }

    fn scalar(&mut self, key: &str, v: Spanned<DeValue<'_>>, what: &str) -> Option<Sp<RawScalar>> {
        let span = v.span();
        let loc = self.loc(span.clone());
        let value = match v.into_inner() {
            DeValue::String(s) => RawScalar::Str(s.into_owned()),
            DeValue::Boolean(b) => RawScalar::Bool(b),
            DeValue::Integer(i) => {
                match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                    Ok(n) => RawScalar::Int(n),
                    Err(_) => {
                        self.err(span, format!("`{key}`: integer out of range"));
                        return None;
                    }
                }
            }
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    let ispan = item.span();
                    match item.into_inner() {
                        DeValue::String(s) => out.push(s.into_owned()),
                        other => {
                            self.err(
                                ispan,
                                format!(
                                    "`{key}` in {what} must list strings, found {}",
                                    type_name(&other)
                                ),
                            );
                            return None;
                        }
                    }
                }
                RawScalar::List(out)
            }
            other => {
                self.err(
                    span,
                    format!("`{key}` in {what}: unexpected {}", type_name(&other)),
                );
                return None;
            }
        };
        Some(Sp { value, loc })
    }

    /// An array of tables such as `[[feed]]`.
    fn tables<'i>(
        &mut self,
        v: Spanned<DeValue<'i>>,
        name: &str,
    ) -> Vec<(Range<usize>, DeTable<'i>)> {
        let span = v.span();
        match v.into_inner() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    let ispan = item.span();
                    match item.into_inner() {
                        DeValue::Table(t) => out.push((ispan, t)),
                        other => self.err(
                            ispan,
                            format!(
                                "`{name}` entries must be tables, found {}",
                                type_name(&other)
                            ),
                        ),
                    }
                }
                out
            }
            DeValue::Table(_) => {
                self.err(
                    span,
                    format!(
                        "`{name}` must be written `[[{name}]]` (an array of tables), not `[{name}]`"
                    ),
                );
                Vec::new()
            }
            other => {
                self.err(
                    span,
                    format!(
                        "`{name}` must be an array of tables, not {}",
                        type_name(&other)
                    ),
                );
                Vec::new()
            }
        }
    }

    fn daemon(&mut self, span: Range<usize>, t: DeTable<'_>) -> RawDaemon {
        let mut t = Table::new(t, "[daemon]");
        let include = self
            .strings(&mut t, "include")
            .map(|s| s.value)
            .unwrap_or_default();
        let include_optional = self
            .strings(&mut t, "include_optional")
            .map(|s| s.value)
            .unwrap_or_default();
        let d = RawDaemon {
            loc: Some(self.loc(span)),
            state: self.string(&mut t, "state"),
            listen: self.string(&mut t, "listen"),
            listen_token: self.string(&mut t, "listen_token"),
            poll_interval: self.string(&mut t, "poll_interval"),
            min_poll_interval: self.string(&mut t, "min_poll_interval"),
            include,
            include_optional,
            user_agent: self.string(&mut t, "user_agent"),
            fetch_timeout: self.string(&mut t, "fetch_timeout"),
            max_body_size: self.string(&mut t, "max_body_size"),
            max_concurrent_fetches: self.int(&mut t, "max_concurrent_fetches"),
            per_host_concurrency: self.int(&mut t, "per_host_concurrency"),
            backoff_cap: self.string(&mut t, "backoff_cap"),
            on_new_feed: self.string(&mut t, "on_new_feed"),
            recent_window: self.string(&mut t, "recent_window"),
            retention: self.string(&mut t, "retention"),
            max_delivery_age: self.string(&mut t, "max_delivery_age"),
            dead_retention: self.string(&mut t, "dead_retention"),
            archive: self.string(&mut t, "archive"),
            shutdown_grace: self.string(&mut t, "shutdown_grace"),
            log_level: self.string(&mut t, "log_level"),
            health_sinks: self.strings(&mut t, "health_sinks"),
            health_after: self.string(&mut t, "health_after"),
            full_text: self.full_text(&mut t),
            page_rate: self.string(&mut t, "page_rate"),
            page_timeout: self.string(&mut t, "page_timeout"),
        };
        self.finish(t, DAEMON_KEYS);
        d
    }

    fn feed(&mut self, span: Range<usize>, t: DeTable<'_>) -> RawFeed {
        let mut t = Table::new(t, "[[feed]]");
        let f = RawFeed {
            loc: self.loc(span),
            url: self.string(&mut t, "url"),
            name: self.string(&mut t, "name"),
            interval: self.string(&mut t, "interval"),
            tags: self
                .strings(&mut t, "tags")
                .map(|s| s.value)
                .unwrap_or_default(),
            full_text: self.full_text(&mut t),
        };
        self.finish(t, FEED_KEYS);
        f
    }

    fn full_text(&mut self, t: &mut Table<'_>) -> RawFullText {
        RawFullText {
            mode: self.string(t, "full_text"),
            min_chars: self.int(t, "full_text_min_chars"),
        }
    }

    fn sink(&mut self, span: Range<usize>, t: DeTable<'_>) -> RawSink {
        let mut t = Table::new(t, "[[sink]]");
        let name = self.string(&mut t, "name");
        let kind = self.string(&mut t, "type");
        let mut settings = Vec::new();
        let what = match &name {
            Some(n) => format!("sink `{}`", n.value),
            None => "[[sink]]".to_string(),
        };
        for (k, v) in std::mem::take(&mut t.entries) {
            let key = Sp {
                value: k.get_ref().to_string(),
                loc: self.loc(k.span()),
            };
            if let Some(value) = self.scalar(&key.value, v, &what) {
                settings.push((key, value));
            }
        }
        RawSink {
            loc: self.loc(span),
            name,
            kind,
            settings,
        }
    }

    fn watch(&mut self, span: Range<usize>, t: DeTable<'_>) -> RawWatch {
        let mut t = Table::new(t, "[[watch]]");
        let w = RawWatch {
            loc: self.loc(span),
            name: self.string(&mut t, "name"),
            terms: self.strings(&mut t, "terms"),
            query: self.string(&mut t, "query"),
            exclude: self
                .strings(&mut t, "exclude")
                .map(|s| s.value)
                .unwrap_or_default(),
            feeds: self.strings(&mut t, "feeds").map(|s| s.value),
            sinks: self.strings(&mut t, "sinks"),
            fields: self.strings(&mut t, "fields").map(|s| s.value),
        };
        self.finish(t, WATCH_KEYS);
        w
    }
}

/// Read one TOML file into `out`. `main` says whether `[daemon]` is allowed (only in the main
/// file; included files add feeds, sinks and watches).
pub fn read_file(src: &SourceFile, main: bool, out: &mut RawConfig, errors: &mut Vec<ConfigError>) {
    let (doc, syntax) = DeTable::parse_recoverable(&src.text);
    let mut r = Reader { src, errors };
    let had_syntax_errors = !syntax.is_empty();
    for e in syntax {
        let span = e.span().unwrap_or(0..0);
        r.err(span, format!("TOML syntax: {}", e.message().trim()));
    }
    if had_syntax_errors {
        // The recovered tree may be partial; reading it would add confusing follow-up errors.
        return;
    }
    let mut top = Table::new(doc.into_inner(), "the top level");
    if let Some(d) = top.take("daemon") {
        let span = d.span();
        match d.into_inner() {
            DeValue::Table(t) if main => out.daemon = Some(r.daemon(span, t)),
            DeValue::Table(_) => r.err(
                span,
                "[daemon] belongs in the main configuration file, not in an included one",
            ),
            other => r.err(
                span,
                format!("`daemon` must be a table, not {}", type_name(&other)),
            ),
        }
    }
    if let Some(v) = top.take("feed") {
        for (span, t) in r.tables(v, "feed") {
            let f = r.feed(span, t);
            out.feeds.push(f);
        }
    }
    if let Some(v) = top.take("sink") {
        for (span, t) in r.tables(v, "sink") {
            let s = r.sink(span, t);
            out.sinks.push(s);
        }
    }
    if let Some(v) = top.take("watch") {
        for (span, t) in r.tables(v, "watch") {
            let w = r.watch(span, t);
            out.watches.push(w);
        }
    }
    r.finish(top, &["daemon", "feed", "sink", "watch"]);
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
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

    #[test]
    fn single_table_instead_of_array_is_explained() {
        let (_, errors) = read("[feed]\nurl = \"x\"\n");
        assert!(errors[0].message.contains("[[feed]]"), "{errors:?}");
    }
}
