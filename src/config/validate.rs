//! From [`RawConfig`] to [`Plan`]: meaning, defaults and cross-references, every error at once.
//!
//! Owns [`validate`]. Checks durations, sizes, addresses, URLs, secret references, duplicate
//! names, watch terms and queries (with the query's column), and that every feed, tag and sink a
//! watch names exists. Sinks are declared in `sinks`; their settings are typed and checked by
//! the caller's [`SinkTypes`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::error::ConfigError;
use crate::config::plan::{DaemonPlan, FeedPlan, OnNewFeed, Plan, SinkPlan};
use crate::config::raw::{Loc, RawConfig, RawDaemon, RawWatch, Sp, closest};
use crate::config::secret;
mod daemon;
mod fulltext;
mod health;
pub use sinks::{SinkDecl, SinkTypes};
mod semantic;
mod sinks;
mod source;
pub use source::feed_source;
mod stories;
mod watches;

use sinks::sinks;
use watches::{known_sink, watches};

use crate::matcher::{
    Condition, FeedScope, Field, FieldMask, TermSpec, WatchSet, WatchSpec, parse_query, parse_term,
};

/// Validate everything read from the main file and its includes. `base` is the main file's
/// folder: relative paths in the config are relative to it.
pub fn validate<T: SinkTypes>(
    raw: RawConfig,
    path: &Path,
    base: &Path,
    types: &T,
) -> Result<Plan<T::Config>, Vec<ConfigError>> {
    let mut errors = Vec::new();
    // What `check` and the daemon say but do not refuse: settings that do less than written.
    let mut warnings = Vec::new();
    let mut raw_daemon = raw.daemon.unwrap_or_default();
    let raw_health = health::RawHealth::take(&mut raw_daemon);
    let mut daemon = daemon::daemon(raw_daemon, base, &mut errors);
    let feeds = feeds(&raw.feeds, base, &daemon, &mut errors, &mut warnings);
    let sinks = sinks(&raw.sinks, base, types, &mut errors);
    // Sinks and feeds that are defined but failed their own checks: their error is already
    // listed, so a watch naming one must not also call it unknown.
    let unusable = Unusable {
        incomplete: raw.incomplete,
        sinks_declared: !raw.sinks.is_empty(),
        sinks: raw
            .sinks
            .iter()
            .filter_map(|s| s.name.as_ref().map(|n| n.value.as_str()))
            .filter(|n| !sinks.iter().any(|x| x.name == *n))
            .collect(),
        feeds: raw
            .feeds
            .iter()
            .filter_map(|f| f.name.as_ref().map(|n| n.value.as_str()))
            .filter(|n| !feeds.iter().any(|x| x.name == *n))
            .collect(),
        feed_tags: raw
            .feeds
            .iter()
            .filter(|f| {
                f.name
                    .as_ref()
                    .is_none_or(|n| !feeds.iter().any(|x| x.name == n.value))
            })
            .flat_map(|f| f.tags.iter().map(|t| t.value.as_str()))
            .collect(),
    };
    let specs = watches(&raw.watches, &feeds, &sinks, &unusable, &mut errors);
    let stories = stories::stories(&raw.watches, &mut errors);
    let semantic = semantic::semantic(
        raw.semantic.as_ref(),
        &raw.watches,
        &specs,
        base,
        &mut errors,
        &mut warnings,
    );
    daemon.health = health::settings(raw_health, &raw.watches, &sinks, &unusable, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let sent_to: std::collections::HashSet<&str> = specs
        .iter()
        .flat_map(|w| w.sinks.iter().map(String::as_str))
        .collect();
    warnings.extend(sinks::unused(&raw.sinks, &sent_to, &daemon.health.sinks));
    match WatchSet::compile(specs) {
        Ok(ws) => Ok(Plan {
            path: path.to_path_buf(),
            daemon,
            feeds,
            sinks,
            watches: Arc::new(ws),
            stories,
            semantic: semantic.map(Arc::new),
            warnings,
        }),
        Err(e) => Err(vec![ConfigError {
            file: path.into(),
            line: 0,
            column: 0,
            message: e.to_string(),
        }]),
    }
}

/// The longest duration a setting takes: every stored time is milliseconds since 1970 in an
/// `i64`, and a poll or retry scheduled further out than this would overflow it.
/// Years of 365.25 days, as humantime reads `100years` (of 365 days, `100years` itself was
/// refused as longer than 100 years).
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(36_525 * 86_400);

fn duration(v: &Option<Sp<String>>, key: &str, errors: &mut Vec<ConfigError>) -> Option<Duration> {
    let v = v.as_ref()?;
    match crate::config::duration::parse_duration(&v.value) {
        Ok(d) if d.is_zero() => {
            errors.push(v.loc.error(format!("`{key}` must be longer than zero")));
            None
        }
        Ok(d) if d > MAX_DURATION => {
            errors.push(v.loc.error(format!(
                "`{key}` = \"{}\" is longer than 100 years",
                v.value
            )));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            errors.push(v.loc.error(format!(
                "`{key}` = \"{}\": {e} (write durations like \"90s\", \"5m\", \"6h\", \"90days\")",
                v.value
            )));
            None
        }
    }
}

/// Sizes like "16MiB", "512KB", "1048576".
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// The most concurrent fetches either limit takes: far beyond what one process's sockets
/// serve, and far below the bound of the semaphores built from it (a huge value passed
/// `check` and then crashed `run`).
const MAX_CONCURRENCY: usize = 10_000;

/// A concurrency limit: an integer from 1 to [`MAX_CONCURRENCY`].
fn positive(v: &Option<Sp<i64>>, key: &str, errors: &mut Vec<ConfigError>) -> Option<usize> {
    let v = v.as_ref()?;
    match usize::try_from(v.value) {
        Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => Some(n),
        _ => {
            errors.push(v.loc.error(format!(
                "`{key}` must be an integer from 1 to {MAX_CONCURRENCY}"
            )));
            None
        }
    }
}

/// A `name` holding a control character (a line break or tab from a TOML escape, an escape
/// sequence): names are printed in logs, `status`, the status page and messages, where one
/// breaks the layout or drives a terminal. `kind` is "feed", "sink" or "watch".
fn control_in_name(kind: &str, name: &Sp<String>, errors: &mut Vec<ConfigError>) {
    if let Some((at, c)) = name.value.chars().enumerate().find(|(_, c)| c.is_control()) {
        errors.push(name.loc.inside(&name.value, at).error(format!(
            "{kind} `name` must not hold a control character (`{}` at character {})",
            c.escape_unicode(),
            at + 1
        )));
    }
}

/// The folder of the file a value was written in, for resolving relative paths.
fn file_dir<'a>(loc: &'a Loc, fallback: &'a Path) -> &'a Path {
    loc.file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(fallback)
}

/// Sinks and feeds that are configured but failed their own checks (their errors are listed):
/// a watch that names one is not told that it is unknown.
struct Unusable<'a> {
    /// A file could not be read or parsed: any name not found may be defined there, so none
    /// is called unknown (a syntax error in `sinks.toml` made every watch's sink "unknown").
    incomplete: bool,
    /// Some `[[sink]]` is written, usable or not (one without a valid name is in neither
    /// list): a watch is not told that no sink is configured.
    sinks_declared: bool,
    sinks: Vec<&'a str>,
    feeds: Vec<&'a str>,
    /// Tags of those feeds.
    feed_tags: Vec<&'a str>,
}

fn feeds(
    raw: &[crate::config::raw::RawFeed],
    base: &Path,
    daemon: &DaemonPlan,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigError>,
) -> Vec<FeedPlan> {
    let mut out = Vec::new();
    let mut names: HashMap<String, Loc> = HashMap::new();
    let mut urls: HashMap<String, (String, Loc)> = HashMap::new();
    let mut documents: HashMap<String, (String, Loc)> = HashMap::new();
    for f in raw {
        let Some(url) = &f.url else {
            if !f.mistyped.iter().any(|k| k == "url") {
                errors.push(f.loc.error("[[feed]] needs a `url`"));
            }
            continue;
        };
        let name = match &f.name {
            Some(n) if n.value.trim().is_empty() => {
                errors.push(n.loc.error("feed `name` must not be empty"));
                continue;
            }
            Some(n) => {
                control_in_name("feed", n, errors);
                n.value.clone()
            }
            // The URL is shown wherever the name is (logs, status): never its credentials
            // (as the first rules knew them: the name is the feed's identity in the state).
            None => secret::feed_name_of_url(url.value.trim()),
        };
        let name_loc = f.name.as_ref().map_or(&url.loc, |n| &n.loc);
        // A duplicate is still checked (every error at once), then left out.
        let duplicate = names.get(&name).map(|prev| {
            errors.push(name_loc.error(format!(
                "duplicate feed name `{name}` (first defined at {}:{})",
                prev.file.display(),
                prev.line
            )));
        });
        if duplicate.is_none() {
            names.insert(name.clone(), name_loc.clone());
        }
        // Paths are relative to the file the feed is written in (an included file's folder).
        let source = match feed_source(&url.value, file_dir(&f.loc, base)) {
            Ok(s) => Some(s),
            Err(e) => {
                errors.push(url.loc.error(e));
                None
            }
        };
        // The other settings are checked whatever the URL's fate: every error at once.
        let interval = duration(&f.interval, "interval", errors);
        let mut tags = Vec::new();
        for t in &f.tags {
            if t.value.trim().is_empty() {
                errors.push(t.loc.error("empty tag"));
            } else {
                tags.push(t.value.clone());
            }
        }
        let full_text = fulltext::full_text(&f.full_text, daemon.full_text, errors);
        let Some(source) = source.filter(|_| duplicate.is_none()) else {
            continue;
        };
        let key = source.to_string();
        if let Some((other, prev)) = urls.get(&key) {
            errors.push(url.loc.error(format!(
                "feed url `{}` is already used by feed `{other}` ({}:{})",
                secret::redact_url(&url.value),
                prev.file.display(),
                prev.line
            )));
            continue;
        }
        // The same document written another way (`./feed.xml`, a fragment, another case of
        // the host) was accepted by earlier releases: a warning, so such a configuration
        // still loads after an upgrade (an error would keep the daemon from starting).
        let document = source.same_document_key();
        if let Some((other, prev)) = documents.get(&document) {
            warnings.push(url.loc.error(format!(
                "feed url `{}` reads the same document as feed `{other}` ({}:{}): each of its \
                 items alerts twice, under both feeds; remove one",
                secret::redact_url(&url.value),
                prev.file.display(),
                prev.line
            )));
        }
        documents.insert(document, (name.clone(), url.loc.clone()));
        urls.insert(key, (name.clone(), url.loc.clone()));
        // Named after a URL whose credential the name shows (a tracker's `passkey`): the name
        // keeps it, since it is the feed's identity in the state; a `name` hides it.
        if f.name.is_none() && secret::name_shows_a_secret(url.value.trim()) {
            warnings.push(url.loc.error(format!(
                "feed `{}` has no `name`: it is named after its URL, and that name (shown in logs, \
                 `status` and alerts) holds a credential; give it a `name` (the feed goes on under \
                 it from what it has seen)",
                secret::redact_url(url.value.trim())
            )));
        }
        // Polled at the floor: said, so that nobody counts on the shorter interval (it was
        // raised without a word).
        let floor = daemon.min_poll_interval;
        if let (Some(i), Some(written)) = (interval.filter(|i| *i < floor), &f.interval) {
            warnings.push(written.loc.error(format!(
                "feed `{name}`: `interval` ({}) is below `min_poll_interval` ({}): it is polled every {}",
                humantime::format_duration(i),
                humantime::format_duration(floor),
                humantime::format_duration(floor)
            )));
        }
        out.push(FeedPlan {
            name,
            source,
            interval,
            tags,
            full_text,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(dir: &Path, text: &str) -> String {
        match crate::plan::load_str(&dir.join("main.toml"), text.to_string()) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    /// While an included file cannot be parsed, the feeds, tags and sinks it may define are
    /// not called unknown, and a watch is not told that no sink exists.
    #[test]
    fn names_are_not_unknown_while_a_file_cannot_be_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let watch = "[[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n\
                     feeds = [\"gone\", \"tag:gone\"]\n";
        let text = format!("[daemon]\ninclude = [\"more.toml\"]\n\n{watch}");
        std::fs::write(dir.path().join("more.toml"), "[[sink]]\nname = \"out\n").unwrap();
        let broken = check(dir.path(), &text);
        assert!(broken.contains("TOML syntax"), "{broken}");
        for false_error in ["unknown feed", "no feed has the tag", "has no sink"] {
            assert!(!broken.contains(false_error), "{false_error}: {broken}");
        }
        // Readable, the same names are unknown, and the missing sinks are said.
        std::fs::write(dir.path().join("more.toml"), "").unwrap();
        let read = check(dir.path(), &text);
        for error in [
            "unknown feed `gone`",
            "no feed has the tag `gone`",
            "has no sink",
        ] {
            assert!(read.contains(error), "{error}: {read}");
        }
    }

    /// Regression: a feed named with a line break (`name = "World\nNews"`) broke `status`'s
    /// table and every log line that names it; a tab or an escape sequence, the same. Each
    /// kind of name is refused at its place, every one at once.
    #[test]
    fn a_name_with_a_control_character_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[[feed]]\nname = \"World\\nNews\"\nurl = \"https://example.com/rss\"\n\n\
                    [[sink]]\nname = \"\"\"\nout\tput\"\"\"\ntype = \"stdout\"\n\n\
                    [[watch]]\nname = \"w\\u001b[2J\"\nterms = [\"Victory Plan\"]\n";
        let e = check(dir.path(), text);
        for want in [
            "main.toml:2:8: feed `name` must not hold a control character (`\\u{a}` at character 6)",
            "main.toml:7:4: sink `name` must not hold a control character (`\\u{9}` at character 4)",
            "main.toml:11:8: watch `name` must not hold a control character (`\\u{1b}` at character 2)",
        ] {
            assert!(e.contains(want), "{want}\n{e}");
        }
        let plain = "[[feed]]\nname = \"World News\"\nurl = \"https://example.com/rss\"\n";
        assert!(!check(dir.path(), plain).contains("control character"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16MiB"), Some(16 << 20));
        assert_eq!(parse_size("512KB"), Some(512_000));
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_size("99999999999999999999GiB"), None);
    }
}
