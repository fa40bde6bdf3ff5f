//! The Universal Feed Parser encoding and ill-formed corpora (tests/fixtures/feedparser, see
//! tests/fixtures/README.md):
//! every file parses or fails with a message, never panics; where a file's `Expect:` line checks
//! decoded text or the detected encoding, our result must agree.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use newswatch::feed::{Parsed, ParsedFeed, parse};
use newswatch::text::html::html_to_text;

/// The corpora, inside the repository (BSD-2-Clause, tests/fixtures/feedparser/LICENSE).
const CORPORA: &[&str] = &["feedparser/encoding", "feedparser/illformed"];

/// Expectations we knowingly do not meet, with the reason.
const KNOWN_DIVERGENCES: &[(&str, &str)] = &[(
    "bozo_linenoise.xml",
    "declared UTF-8 with one stray byte: we keep UTF-8 (U+FFFD for the byte); feedparser falls back to windows-1252 and gets mojibake",
)];

fn fixture_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for corpus in CORPORA {
        collect(&fixtures.join(corpus), &mut files);
    }
    files.sort();
    assert!(
        files.len() > 90,
        "fixtures missing: found {} files",
        files.len()
    );
    files
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// The fixture's leading comment read as ASCII (NULs dropped so UTF-16/32 files read too).
fn comment(bytes: &[u8]) -> String {
    let ascii: Vec<u8> = bytes.iter().copied().filter(|&b| b != 0).collect();
    let text = String::from_utf8_lossy(&ascii);
    let end = text.find("-->").unwrap_or(text.len());
    text[..end].to_owned()
}

/// The value of a `Name:` line in the comment.
fn comment_field<'a>(comment: &'a str, name: &str) -> Option<&'a str> {
    comment
        .lines()
        .find_map(|line| line.trim().strip_prefix(name))
        .map(str::trim)
}

/// `Header: Content-type: ...` → the Content-Type value.
fn content_type(comment: &str) -> Option<String> {
    comment.lines().find_map(|line| {
        let header = line.trim().strip_prefix("Header:")?.trim();
        let (name, value) = header.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-type")
            .then(|| value.trim().to_owned())
    })
}

#[test]
fn every_fixture_parses_or_fails_cleanly() {
    let mut ok = 0;
    let mut clean_errors = Vec::new();
    let mut offenders = Vec::new();
    for path in fixture_files() {
        let bytes = std::fs::read(&path).unwrap_or_default();
        let ct = content_type(&comment(&bytes));
        match catch_unwind(AssertUnwindSafe(|| parse(&bytes, ct.as_deref(), None))) {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(error)) if !error.to_string().trim().is_empty() => {
                clean_errors.push(format!("{}: {error}", path.display()));
            }
            Ok(Err(_)) => offenders.push(format!("{}: empty error message", path.display())),
            Err(_) => offenders.push(format!("{}: panicked", path.display())),
        }
    }
    println!(
        "fixtures: {ok} parsed OK, {} clean errors",
        clean_errors.len()
    );
    for error in &clean_errors {
        println!("  {error}");
    }
    assert!(
        offenders.is_empty(),
        "offending fixtures:\n{}",
        offenders.join("\n")
    );
}

/// Decodes a Python string literal body with `\uXXXX`, `\xXX` and simple escapes.
fn python_string(literal: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = literal.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let hex_len = match chars.next()? {
            'u' => 4,
            'x' => 2,
            'U' => 8,
            'n' => {
                out.push('\n');
                continue;
            }
            't' => {
                out.push('\t');
                continue;
            }
            other => {
                out.push(other);
                continue;
            }
        };
        let hex: String = chars.by_ref().take(hex_len).collect();
        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
    }
    Some(out)
}

/// One `lhs == rhs` clause we know how to check.
#[derive(Debug)]
enum Check {
    FeedTitle(String),
    ItemTitle(String),
    ItemSummary(String),
    ItemLink(String),
    Encoding(String),
}

/// Splits an Expect expression on top-level ` and ` (outside quotes).
fn clauses(expr: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote = None;
    let mut start = 0;
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if expr[i..].starts_with(" and ") => {
                parts.push(expr[start..i].trim());
                start = i + 5;
                i += 4;
            }
            None => {}
        }
        i += 1;
    }
    parts.push(expr[start..].trim());
    parts
}

fn parse_check(clause: &str) -> Option<Check> {
    let (lhs, rhs) = clause.split_once(" == ")?;
    let lhs = lhs.trim();
    let rhs = rhs.trim();
    if let Some(inner) = lhs.strip_prefix("ord(").and_then(|l| l.strip_suffix(')')) {
        let code: u32 = rhs.parse().ok()?;
        let text = char::from_u32(code)?.to_string();
        return summary_field(inner).then_some(Check::ItemSummary(text));
    }
    let rhs = rhs.strip_prefix('u').unwrap_or(rhs);
    let quote = rhs.chars().next().filter(|q| *q == '\'' || *q == '"')?;
    let value = python_string(rhs.strip_prefix(quote)?.strip_suffix(quote)?)?;
    let lhs_norm = lhs.replace("[\"", "['").replace("\"]", "']");
    Some(match lhs_norm.as_str() {
        "feed['title']" | "feed.title" => Check::FeedTitle(value),
        "entries[0]['title']" | "entries[0].title" => Check::ItemTitle(value),
        "entries[0]['link']" | "entries[0].link" => Check::ItemLink(value),
        "encoding" => Check::Encoding(value),
        other if summary_field(other) => Check::ItemSummary(value),
        _ => return None,
    })
}

fn summary_field(lhs: &str) -> bool {
    matches!(
        lhs,
        "entries[0]['description']"
            | "entries[0].description"
            | "entries[0]['summary']"
            | "entries[0].summary"
    )
}

/// feedparser reports Python codec names; we report WHATWG names (where us-ascii and
/// iso-8859-1 mean windows-1252, gb2312 means GBK). For a pure-ASCII body "us-ascii" and UTF-8
/// decode identically, so both are accepted. chardetng reports KOI8-U (a superset) for KOI8-R.
fn same_encoding(expected: &str, ours: &str) -> bool {
    let expected_lower = expected.to_ascii_lowercase();
    if expected_lower.eq_ignore_ascii_case(ours) {
        return true;
    }
    if expected_lower == "us-ascii" && ours == "UTF-8" {
        return true;
    }
    let canonical = encoding_rs::Encoding::for_label(expected_lower.as_bytes()).map(|e| e.name());
    match canonical {
        // GBK decodes as gb18030 in encoding_rs; KOI8-U is the detector's superset of KOI8-R.
        Some("gb18030") => ours == "GBK" || ours == "gb18030",
        Some("KOI8-R") => ours == "KOI8-R" || ours == "KOI8-U",
        Some(name) => name.eq_ignore_ascii_case(ours),
        None => false,
    }
}

fn verify(check: &Check, feed: &ParsedFeed) -> Result<(), String> {
    let item = feed.items.first();
    let (what, expected, actual) = match check {
        Check::FeedTitle(v) => (
            "feed title",
            html_to_text(v),
            feed.title.clone().unwrap_or_default(),
        ),
        Check::ItemTitle(v) => (
            "item title",
            html_to_text(v),
            item.map(|i| i.title.clone()).unwrap_or_default(),
        ),
        Check::ItemSummary(v) => (
            "item summary",
            html_to_text(v),
            item.map(|i| i.summary.clone()).unwrap_or_default(),
        ),
        Check::ItemLink(v) => (
            "item link",
            v.clone(),
            item.and_then(|i| i.link.clone()).unwrap_or_default(),
        ),
        Check::Encoding(v) => {
            return if same_encoding(v, feed.encoding) {
                Ok(())
            } else {
                Err(format!("encoding: expected {v}, got {}", feed.encoding))
            };
        }
    };
    if expected == actual {
        Ok(())
    } else {
        Err(format!("{what}: expected {expected:?}, got {actual:?}"))
    }
}

#[test]
fn expect_lines_that_check_text_or_encoding_agree() {
    let mut text_checked = 0;
    let mut encoding_checked = 0;
    let mut failures = Vec::new();
    let mut diverged = Vec::new();
    for path in fixture_files() {
        let bytes = std::fs::read(&path).unwrap_or_default();
        let comment = comment(&bytes);
        let Some(expr) = comment_field(&comment, "Expect:") else {
            continue;
        };
        let checks: Vec<Check> = clauses(expr).into_iter().filter_map(parse_check).collect();
        if checks.is_empty() {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let ct = content_type(&comment);
        let outcome = match parse(&bytes, ct.as_deref(), None) {
            Ok(Parsed::Feed(feed)) => checks
                .iter()
                .map(|check| verify(check, &feed))
                .collect::<Result<Vec<()>, String>>()
                .map(|_| ()),
            Ok(Parsed::Html { .. }) => Err("parsed as an HTML page".to_owned()),
            Err(error) => Err(format!("parse error: {error}")),
        };
        let is_text = checks.iter().any(|c| !matches!(c, Check::Encoding(_)));
        if let Some((_, reason)) = KNOWN_DIVERGENCES.iter().find(|(file, _)| *file == name) {
            diverged.push(format!("{name}: {reason} ({outcome:?})"));
            continue;
        }
        if is_text {
            text_checked += 1;
        } else {
            encoding_checked += 1;
        }
        if let Err(why) = outcome {
            failures.push(format!("{}: {why}", path.display()));
        }
    }
    println!(
        "Expect checks: {} text checks + {} encoding checks = {} files checked, {} failed; {} known divergences",
        text_checked,
        encoding_checked,
        text_checked + encoding_checked,
        failures.len(),
        diverged.len()
    );
    for d in &diverged {
        println!("  diverges: {d}");
    }
    assert!(text_checked >= 10, "too few text checks: {text_checked}");
    assert!(
        failures.is_empty(),
        "Expect mismatches:\n{}",
        failures.join("\n")
    );
}
