//! Reading one TOML file into the raw structs: tables consumed key by key, every type error
//! and unknown key recorded (with a "did you mean"), nothing judged beyond TOML types.
//!
//! Owns [`read_file`]; the structs it fills are [`super`]'s.

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::*;
use crate::config::error::{ConfigError, SourceFile};

/// Reads values out of one file (one piece of it at a time), recording errors against it.
pub(super) struct Reader<'a> {
    src: &'a SourceFile,
    errors: &'a mut Vec<ConfigError>,
    /// Where the piece being read starts in the file: its spans count from there.
    base: usize,
}

type Entry<'i> = (Spanned<Cow<'i, str>>, Spanned<DeValue<'i>>);

/// A table being consumed: known keys are taken out, whatever remains is unknown.
struct Table<'i> {
    entries: Vec<Entry<'i>>,
    what: String,
    /// Keys given a value of the wrong type (reported here): a later "needs `key`" would
    /// repeat the error as if the key were missing.
    mistyped: Vec<String>,
}

impl<'i> Table<'i> {
    fn new(t: DeTable<'i>, what: impl Into<String>) -> Self {
        let mut entries: Vec<Entry<'i>> = t.into_iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        Table {
            entries,
            what: what.into(),
            mistyped: Vec::new(),
        }
    }

    fn take(&mut self, key: &str) -> Option<Spanned<DeValue<'i>>> {
        let i = self.entries.iter().position(|(k, _)| k.get_ref() == key)?;
        Some(self.entries.remove(i).1)
    }
}

impl Reader<'_> {
    fn loc(&self, span: Range<usize>) -> Loc {
        let (line, column) = self.src.line_col(self.base + span.start);
        Loc {
            file: self.src.path.clone(),
            line,
            column,
            text_start: None,
        }
    }

    /// [`Reader::loc`] of a string `value` written at `span`, knowing where its text starts
    /// when the file holds it as it reads: between its quotes (after the newline a
    /// multi-line string's opening quotes may be followed by), with no escape in it.
    fn string_loc(&self, span: Range<usize>, value: &str) -> Loc {
        let raw = self
            .src
            .text
            .get(self.base + span.start..self.base + span.end)
            .unwrap_or_default();
        let quotes = ["'''", "\"\"\"", "'", "\""]
            .into_iter()
            .find(|q| raw.len() >= 2 * q.len() && raw.starts_with(q) && raw.ends_with(q));
        let text_start = quotes.and_then(|q| {
            let inner = &raw[q.len()..raw.len() - q.len()];
            let newline = if q.len() == 3 {
                ["\r\n", "\n"]
                    .into_iter()
                    .find(|n| inner.starts_with(n))
                    .map_or(0, str::len)
            } else {
                0
            };
            (&inner[newline..] == value).then(|| {
                self.src
                    .line_col(self.base + span.start + q.len() + newline)
            })
        });
        Loc {
            text_start,
            ..self.loc(span)
        }
    }

    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        let span = self.base + span.start..self.base + span.end;
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
                loc: self.string_loc(span, &s),
                value: s.into_owned(),
            }),
            other => {
                t.mistyped.push(key.to_string());
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
                t.mistyped.push(key.to_string());
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

    fn boolean(&mut self, t: &mut Table<'_>, key: &str) -> Option<Sp<bool>> {
        let v = t.take(key)?;
        let span = v.span();
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp {
                value: *b,
                loc: self.loc(span),
            }),
            other => {
                t.mistyped.push(key.to_string());
                let msg = format!(
                    "`{key}` in {} must be true or false, not {}",
                    t.what,
                    type_name(other)
                );
                self.err(span, msg);
                None
            }
        }
    }

    /// A number: a float, or an integer (`1` for `1.0`).
    fn float(&mut self, t: &mut Table<'_>, key: &str) -> Option<Sp<f64>> {
        let v = t.take(key)?;
        let span = v.span();
        let parsed = match v.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
                .ok()
                .map(|n| n as f64),
            other => {
                t.mistyped.push(key.to_string());
                let msg = format!(
                    "`{key}` in {} must be a number, not {}",
                    t.what,
                    type_name(other)
                );
                self.err(span, msg);
                return None;
            }
        };
        match parsed {
            Some(value) => Some(Sp {
                value,
                loc: self.loc(span),
            }),
            None => {
                self.err(span, format!("`{key}`: not a number"));
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
                t.mistyped.push(key.to_string());
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
            lease: self.string(&mut t, "lease"),
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

    fn semantic(&mut self, span: Range<usize>, t: DeTable<'_>) -> RawSemantic {
        let mut t = Table::new(t, "[semantic]");
        let s = RawSemantic {
            loc: self.loc(span),
            model: self.string(&mut t, "model"),
            threads: self.int(&mut t, "threads"),
        };
        self.finish(t, SEMANTIC_KEYS);
        s
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
            // Last: after every getter above has recorded its type errors.
            mistyped: std::mem::take(&mut t.mistyped),
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
            match self.scalar(&key.value, v, &what) {
                Some(value) => settings.push((key, value)),
                // Reported where it is written; not to be reported missing too.
                None => t.mistyped.push(key.value),
            }
        }
        RawSink {
            loc: self.loc(span),
            name,
            kind,
            settings,
            mistyped: t.mistyped,
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
            feeds: self.strings(&mut t, "feeds"),
            sinks: self.strings(&mut t, "sinks"),
            fields: self.strings(&mut t, "fields").map(|s| s.value),
            stories: self.boolean(&mut t, "stories"),
            story_threshold: self.float(&mut t, "story_threshold"),
            story_window: self.string(&mut t, "story_window"),
            about: self.strings(&mut t, "about"),
            not_about: self.strings(&mut t, "not_about"),
            similarity: self.float(&mut t, "similarity"),
            mode: self.string(&mut t, "mode"),
            // Last: after every getter above has recorded its type errors.
            mistyped: std::mem::take(&mut t.mistyped),
        };
        self.finish(t, WATCH_KEYS);
        w
    }
}

/// Read one TOML file into `out`. `main` says whether `[daemon]` is allowed (only in the main
/// file; included files add feeds, sinks and watches).
///
/// A big file is parsed a piece at a time (see [`super::pieces`]); should a piece have a
/// syntax error, what the pieces added is dropped and the file is read whole, so its errors
/// are reported exactly as the parser sees the whole document.
pub fn read_file(src: &SourceFile, main: bool, out: &mut RawConfig, errors: &mut Vec<ConfigError>) {
    let pieces = super::pieces::cut(&src.text);
    if pieces.len() > 1 {
        let before = (
            out.daemon.is_some(),
            out.feeds.len(),
            out.sinks.len(),
            out.watches.len(),
            errors.len(),
        );
        let mut parsed = true;
        for p in pieces {
            parsed = read_piece(src, p, main, out, errors, false);
            if !parsed {
                break;
            }
        }
        if parsed {
            return;
        }
        let (daemon, feeds, sinks, watches, errs) = before;
        if !daemon {
            out.daemon = None;
        }
        out.feeds.truncate(feeds);
        out.sinks.truncate(sinks);
        out.watches.truncate(watches);
        errors.truncate(errs);
    }
    read_piece(src, 0..src.text.len(), main, out, errors, true);
}

/// Read `range` of the file as a document of its own. On a syntax error, records the errors
/// if `report`, and returns false having read nothing.
pub(super) fn read_piece(
    src: &SourceFile,
    range: Range<usize>,
    main: bool,
    out: &mut RawConfig,
    errors: &mut Vec<ConfigError>,
    report: bool,
) -> bool {
    let base = range.start;
    let (doc, syntax) = DeTable::parse_recoverable(&src.text[range]);
    let mut r = Reader { src, errors, base };
    if !syntax.is_empty() {
        // The recovered tree may be partial; reading it would add confusing follow-up errors.
        if report {
            for e in syntax {
                let span = e.span().unwrap_or(0..0);
                r.err(span, format!("TOML syntax: {}", e.message().trim()));
            }
            out.incomplete = true;
        }
        return false;
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
    if let Some(d) = top.take("semantic") {
        let span = d.span();
        match d.into_inner() {
            DeValue::Table(t) if main => out.semantic = Some(r.semantic(span, t)),
            DeValue::Table(_) => r.err(
                span,
                "[semantic] belongs in the main configuration file, not in an included one",
            ),
            other => r.err(
                span,
                format!("`semantic` must be a table, not {}", type_name(&other)),
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
    r.finish(top, &["daemon", "semantic", "feed", "sink", "watch"]);
    true
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
