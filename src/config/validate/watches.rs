//! The `[[watch]]` tables: terms, exclusions and queries parsed (every error at its line and
//! column), the feeds, tags and sinks each names checked against those configured, duplicate
//! names refused, each watch made a [`WatchSpec`].
//!
//! Owns `watches`, called by [`super::validate`].

use super::*;

/// Why a term would match far more than its author meant, if it would: a term that folds to
/// a single letter or digit ("C++" → "c", "U-2" is fine) alerts on every stray letter. Scripts
/// written without spaces are exempt: one Han character can be a word.
fn too_loose(spec: &TermSpec) -> Option<String> {
    let folded = crate::text::fold::fold_term(&spec.text);
    let mut chars = folded.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if !crate::text::script::is_unspaced(c) && !spec.kind.is_prefix() => {
            Some(format!(
                "matches as the single character `{folded}` (punctuation is ignored), so it would \
                 match every lone `{folded}` (an alert for each, or as an exclusion or after NOT, \
                 a match hidden for each); write a longer phrase"
            ))
        }
        _ => None,
    }
}

fn term(t: &Sp<String>, what: &str, errors: &mut Vec<ConfigError>) -> Option<TermSpec> {
    match parse_term(&t.value) {
        // An exclusion as loose as that would hide every match with a lone letter in it.
        Ok(spec) if too_loose(&spec).is_some() => {
            let why = too_loose(&spec).unwrap_or_default();
            errors.push(t.loc.error(format!("{what} \"{}\" {why}", t.value)));
            None
        }
        Ok(spec) => Some(spec),
        Err(e) => {
            errors.push(
                t.loc
                    .error(format!("{what} \"{}\": {}", t.value, e.message)),
            );
            None
        }
    }
}

fn watch<C>(
    w: &RawWatch,
    feeds: &[FeedPlan],
    sinks: &[SinkPlan<C>],
    unusable: &Unusable<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<WatchSpec> {
    let before = errors.len();
    let mistyped = |key: &str| w.mistyped.iter().any(|k| k == key);
    let name = match &w.name {
        Some(n) if !n.value.trim().is_empty() => {
            super::control_in_name("watch", n, errors);
            n.value.clone()
        }
        None if mistyped("name") => String::new(),
        _ => {
            errors.push(w.loc.error("[[watch]] needs a non-empty `name`"));
            String::new()
        }
    };
    let terms_condition = |terms: &Sp<Vec<Sp<String>>>, errors: &mut Vec<ConfigError>| {
        if terms.value.is_empty() {
            errors.push(terms.loc.error(format!("watch `{name}`: `terms` is empty")));
            return None;
        }
        let parsed: Vec<TermSpec> = terms
            .value
            .iter()
            .filter_map(|t| term(t, "term", errors))
            .collect();
        Some(Condition::Terms(parsed))
    };
    let query_condition =
        |q: &Sp<String>, errors: &mut Vec<ConfigError>| match parse_query(&q.value) {
            Ok(e) => {
                let loose: Vec<String> = e
                    .terms()
                    .iter()
                    .filter_map(|(t, _)| too_loose(t).map(|why| format!("\"{}\" {why}", t.text)))
                    .collect();
                if loose.is_empty() {
                    Some(Condition::Query(e))
                } else {
                    for l in loose {
                        errors.push(q.loc.error(format!("watch `{name}`: query term {l}")));
                    }
                    None
                }
            }
            Err(e) => {
                errors.push(query_error(&name, q, e.column, &e.message));
                None
            }
        };
    let condition = match (&w.terms, &w.query) {
        (Some(terms), Some(q)) => {
            // Each is checked too: `check` lists every error at once, not the next one after
            // this is mended.
            terms_condition(terms, errors);
            query_condition(q, errors);
            errors.push(q.loc.error(format!(
                "watch `{name}` has both `terms` and `query`; use one (a query can say `a OR b`)"
            )));
            None
        }
        // A semantic watch alone: no keyword matches it; its meaning decides (`about` is
        // checked by `semantic`).
        (None, None) if w.about.is_some() => Some(Condition::Terms(Vec::new())),
        (None, None) => {
            if !["terms", "query", "about"].iter().any(|k| mistyped(k)) {
                errors.push(
                    w.loc
                        .error(format!("watch `{name}` needs `terms`, `query` or `about`")),
                );
            }
            None
        }
        (Some(terms), None) => terms_condition(terms, errors),
        (None, Some(q)) => query_condition(q, errors),
    };
    let exclude: Vec<TermSpec> = w
        .exclude
        .iter()
        .filter_map(|t| term(t, "exclude term", errors))
        .collect();
    let fields = match &w.fields {
        None => FieldMask::DEFAULT,
        Some(list) if list.is_empty() => {
            errors.push(w.loc.error(format!("watch `{name}`: `fields` is empty")));
            FieldMask::DEFAULT
        }
        Some(list) => {
            let mut fs = Vec::new();
            for f in list {
                match Field::from_name(&f.value) {
                    Some(x) => fs.push(x),
                    None => errors.push(f.loc.error(format!(
                        "watch `{name}`: unknown field `{}` (fields: title, summary, content, category, author, body)",
                        f.value
                    ))),
                }
            }
            FieldMask::of(&fs)
        }
    };
    let feed_scope = match &w.feeds {
        None => FeedScope::All,
        // At the key (it was reported at the `[[watch]]` line).
        Some(list) if list.value.is_empty() => {
            errors.push(list.loc.error(format!(
                "watch `{name}`: `feeds = []` names no feed, so the watch would never match: \
                 leave `feeds` out for every feed"
            )));
            FeedScope::All
        }
        Some(list) => {
            let (mut names, mut tags) = (Vec::new(), Vec::new());
            for f in &list.value {
                if let Some(tag) = f.value.strip_prefix("tag:") {
                    if feeds.iter().any(|x| x.tags.iter().any(|t| t == tag)) {
                        tags.push(tag.to_string());
                    } else if unusable.incomplete || unusable.feed_tags.contains(&tag) {
                        // Only a feed that failed its own checks has it: that error is listed.
                    } else {
                        errors.push(
                            f.loc
                                .error(format!("watch `{name}`: no feed has the tag `{tag}`")),
                        );
                    }
                } else if feeds.iter().any(|x| x.name == f.value) {
                    names.push(f.value.clone());
                } else if unusable.incomplete || unusable.feeds.contains(&f.value.as_str()) {
                    // A feed that failed its own checks: its error is listed already.
                } else {
                    let all: Vec<&str> = feeds.iter().map(|x| x.name.as_str()).collect();
                    let hint = closest(&f.value, &all)
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default();
                    // A watch may name a feed by its URL (the name of a feed without one),
                    // secrets and all: the message shows it redacted. (The names it suggests
                    // are redacted when made from a URL; one that still shows a credential
                    // has its own warning.)
                    errors.push(f.loc.error(format!(
                        "watch `{name}`: unknown feed `{}`{hint}",
                        crate::config::secret::redact_urls_in(&f.value)
                    )));
                }
            }
            FeedScope::Some { names, tags }
        }
    };
    // A watch that resolves to no sink would have its matches marked seen and never
    // delivered: lost for good. That is a configuration error, never a silent default.
    let sink_names = match &w.sinks {
        // (A sink that failed its own checks is reported already; the plan is discarded.)
        None if sinks.is_empty() && !unusable.sinks_declared && !unusable.incomplete => {
            errors.push(w.loc.error(format!(
                "watch `{name}` has no sink: no [[sink]] is configured (is the file that \
                 defines them missing from `include`?), so its matches would never be delivered"
            )));
            Vec::new()
        }
        None => sinks.iter().map(|s| s.name.clone()).collect(),
        Some(list) if list.value.is_empty() => {
            errors.push(list.loc.error(format!(
                "watch `{name}`: `sinks` is empty, so its matches would never be delivered \
                 (name a sink, or leave `sinks` out to use every sink)"
            )));
            Vec::new()
        }
        Some(list) => {
            let mut out = Vec::new();
            for s in &list.value {
                // An unusable sink counts as named: the plan is discarded anyway, because
                // its error is in the list.
                if known_sink(s, sinks, unusable, &format!("watch `{name}`"), errors) {
                    out.push(s.value.clone());
                }
            }
            out
        }
    };
    if errors.len() != before {
        return None;
    }
    Some(WatchSpec {
        name,
        condition: condition?,
        exclude,
        fields,
        feeds: feed_scope,
        sinks: sink_names,
    })
}

/// Is `s` a configured sink (or one that failed its own checks, already reported)? If not,
/// a located error from `what` naming the closest sink.
pub(super) fn known_sink<C>(
    s: &Sp<String>,
    sinks: &[SinkPlan<C>],
    unusable: &Unusable<'_>,
    what: &str,
    errors: &mut Vec<ConfigError>,
) -> bool {
    if sinks.iter().any(|x| x.name == s.value)
        || unusable.sinks.contains(&s.value.as_str())
        || unusable.incomplete
    {
        return true;
    }
    let all: Vec<&str> = sinks.iter().map(|x| x.name.as_str()).collect();
    let hint = closest(&s.value, &all)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    errors.push(
        s.loc
            .error(format!("{what}: unknown sink `{}`{hint}", s.value)),
    );
    false
}

pub(super) fn watches<C>(
    raw: &[RawWatch],
    feeds: &[FeedPlan],
    sinks: &[SinkPlan<C>],
    unusable: &Unusable<'_>,
    errors: &mut Vec<ConfigError>,
) -> Vec<WatchSpec> {
    let mut out = Vec::new();
    let mut seen: HashMap<String, Loc> = HashMap::new();
    for w in raw {
        if let Some(n) = &w.name {
            if let Some(prev) = seen.get(&n.value) {
                errors.push(n.loc.error(format!(
                    "duplicate watch name `{}` (first defined at {}:{})",
                    n.value,
                    prev.file.display(),
                    prev.line
                )));
                // Its settings are still checked (every error at once), then it is left out.
                let _ = watch(w, feeds, sinks, unusable, errors);
                continue;
            }
            seen.insert(n.value.clone(), n.loc.clone());
        }
        if let Some(spec) = watch(w, feeds, sinks, unusable, errors) {
            out.push(spec);
        }
    }
    out
}

/// A query's syntax error at `column` (in characters, from 1) of query `q`: named at that
/// character in the file when the query is written there as it reads, its line of the query
/// quoted with a caret under the column (a query written over several lines was quoted
/// whole, with the caret under the wrong line, and named at its first line).
fn query_error(name: &str, q: &Sp<String>, column: usize, message: &str) -> ConfigError {
    // An error at the end of the query (a dangling `OR`, a `(` never closed) is shown after
    // its last word, not on the empty line a `'''` string ends with.
    let end = q.value.trim_end().chars().count();
    let index = column.saturating_sub(1).min(end);
    let before: String = q.value.chars().take(index).collect();
    let line_no = before.matches('\n').count();
    let line = q.value.split('\n').nth(line_no).unwrap_or_default();
    let col = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count()
        + 1;
    let at = if q.value.contains('\n') {
        format!("query line {}, column {col}", line_no + 1)
    } else {
        format!("query column {col}")
    };
    q.loc.inside(&q.value, index).error(format!(
        "watch `{name}`: {at}: {message}\n    {}\n    {}^",
        line.trim_end_matches('\r'),
        " ".repeat(col - 1)
    ))
}
