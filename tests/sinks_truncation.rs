//! Regression: truncation after escaping cut inside `&amp;`, a backslash escape, `<url|…>`,
//! `[t](url)` or an HTML tag (Discord titles; template and long-link paths of Slack,
//! Mattermost, Google Chat, Teams, Matrix, Telegram and ntfy), leaving a dangling `&am`, an odd
//! trailing backslash that escapes the ellipsis, or a link or tag that swallows what follows.
//!
//! A property per platform: any title, snippet, link and template output, of any length, fits
//! the platform's limits and stays well-formed in its markup.

mod sinks_support;

use std::sync::Arc;

use newswatch::deliver::{Alert, AlertSnippet, Sink};
use proptest::prelude::*;
use serde_json::Value;
use sinks_support::{seed_alert, sink};

const BASE: &str = "http://127.0.0.1:9";

/// A template whose own text outgrows every limit whatever the snippet budget, so the sink
/// must cut its output.
const LONG_TEMPLATE: &str = "{% for i in range(60) %}{{ title_link }} · {{ terms_text }} — {{ title }}\n{% endfor %}{{ snippet }}";

fn sinks() -> Vec<(&'static str, bool, Arc<dyn Sink>)> {
    let kinds: [(&str, &str); 8] = [
        ("slack", "type = \"slack\"\nurl = \"{B}/slack\""),
        ("mattermost", "type = \"mattermost\"\nurl = \"{B}/mm\""),
        ("discord", "type = \"discord\"\nurl = \"{B}/discord\""),
        ("teams", "type = \"teams\"\nurl = \"{B}/teams\""),
        ("googlechat", "type = \"googlechat\"\nurl = \"{B}/gchat\""),
        (
            "matrix",
            "type = \"matrix\"\nhomeserver = \"{B}\"\nroom = \"!r:example.org\"\naccess_token = \"t\"",
        ),
        (
            "telegram",
            "type = \"telegram\"\napi_base = \"{B}\"\nbot_token = \"1:A\"\nchat_id = 1",
        ),
        (
            "ntfy",
            "type = \"ntfy\"\nserver = \"{B}\"\ntopic = \"news\"",
        ),
    ];
    let mut out = Vec::new();
    for (kind, conf) in kinds {
        let conf = conf.replace("{B}", BASE);
        out.push((kind, false, sink(&conf)));
        let templated = format!("{conf}\ntemplate = '''{LONG_TEMPLATE}'''");
        out.push((kind, true, sink(&templated)));
    }
    out
}

/// Text that is all escaping work: markup of every platform, entities, mentions, emoji.
fn hostile_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("&"),
            Just("<"),
            Just(">"),
            Just("\\"),
            Just("*"),
            Just("_"),
            Just("["),
            Just("]"),
            Just("("),
            Just(")"),
            Just("|"),
            Just("\""),
            Just("`"),
            Just("~"),
            Just("#"),
            Just("@"),
            Just("@room"),
            Just("<!channel>"),
            Just("&amp;"),
            Just(" "),
            Just("\n"),
            Just("é"),
            Just("😀"),
            Just("troops"),
            Just("word"),
        ],
        0..max,
    )
    .prop_map(|v| v.concat())
}

fn link() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("https://news.example/a?x=1&lt=2|b>c(d)".to_string())),
        (1usize..8).prop_map(|k| Some(format!(
            "https://news.example/{}?q=a&b=c",
            "p".repeat(k * 2500)
        ))),
    ]
}

fn alert(title: String, snippet: String, link: Option<String>) -> Alert {
    let marks = snippet
        .match_indices("troops")
        .map(|(i, _)| (i, i + "troops".len()))
        .collect();
    let mut a = seed_alert();
    a.title = title;
    a.link = link;
    a.snippet = AlertSnippet {
        text: snippet,
        marks,
    };
    a
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Every `\` escapes a Markdown special (a cut never leaves one escaping the ellipsis or
/// nothing), every unescaped `[` opens a complete `[text](url)`, `**` come in pairs.
fn markdown_ok(s: &str) -> Result<(), String> {
    let specials = "\\*_~`[]<>#|";
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut bold = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let next = chars.get(i + 1).copied();
                if !next.is_some_and(|n| specials.contains(n)) {
                    return Err(format!("a backslash escaping {next:?} at {i}"));
                }
                i += 2;
                continue;
            }
            '[' => {
                let rest: String = chars[i..].iter().collect();
                let close =
                    unescaped_find(&rest, ']').ok_or_else(|| format!("an unclosed `[` at {i}"))?;
                let after = &rest[close + 1..];
                if !(after.starts_with('(') && after.contains(')')) {
                    return Err(format!("a `[…]` without its `(url)` at {i}"));
                }
            }
            // Link ends are checked from their `[`; a lone `]` is unescaped feed text.
            ']' if !chars[..i].contains(&'[') => {
                return Err(format!("an unescaped `]` at {i}"));
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                bold += 1;
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if bold % 2 == 1 {
        return Err("an unclosed `**`".into());
    }
    Ok(())
}

fn unescaped_find(s: &str, want: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == want {
            return Some(i);
        }
    }
    None
}

/// Markdown text without the `(url)` of its links (a URL keeps its own `&`).
fn without_link_urls(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("](") {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 2..];
        rest = rest.find(')').map_or("", |j| &rest[j + 1..]);
    }
    out.push_str(rest);
    out
}

/// Every `&` starts a whole entity.
fn entities_ok(s: &str) -> Result<(), String> {
    for (i, _) in s.match_indices('&') {
        let rest = &s[i..];
        let ok = ["&amp;", "&lt;", "&gt;", "&quot;"]
            .iter()
            .any(|e| rest.starts_with(e));
        if !ok {
            return Err(format!(
                "a broken entity at {i}: {:?}",
                rest.chars().take(8).collect::<String>()
            ));
        }
    }
    Ok(())
}

/// Slack / Google Chat: every markup `<` (Chat: not followed by U+200B) is a complete
/// `<…>` link, and (Slack) every `&` outside link URLs starts an entity.
fn angle_links_ok(s: &str, chat: bool) -> Result<(), String> {
    let mut text = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        text.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if chat && after.starts_with('\u{200B}') {
            rest = after;
            continue;
        }
        let end = after
            .find('>')
            .ok_or_else(|| format!("an unclosed `<` in {:?}", &rest[i..]))?;
        let inner = &after[..end];
        if inner.replace("<\u{200B}", "").contains('<') {
            return Err(format!("a `<` inside a link: {inner:?}"));
        }
        // The link text is feed text; the URL part keeps its `&`.
        if let Some((_, label)) = inner.split_once('|') {
            text.push_str(label);
        }
        rest = &after[end + 1..];
    }
    text.push_str(rest);
    if chat { Ok(()) } else { entities_ok(&text) }
}

/// HTML: tags complete and balanced, entities whole, `href` values included.
fn html_ok(s: &str) -> Result<(), String> {
    let mut open: Vec<String> = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        entities_ok(&rest[..i])?;
        let after = &rest[i + 1..];
        let end = after
            .find('>')
            .ok_or_else(|| format!("an unclosed tag in {:?}", &rest[i..]))?;
        let tag = &after[..end];
        if tag.contains('<') {
            return Err(format!("a `<` inside a tag: {tag:?}"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            if open.pop().as_deref() != Some(name) {
                return Err(format!("`</{name}>` closes nothing open in {s:?}"));
            }
        } else {
            let name = tag.split_whitespace().next().unwrap_or_default();
            if let Some(href) = tag.split_once("href=\"").map(|(_, h)| h) {
                entities_ok(href.trim_end_matches('"'))?;
            }
            if name != "br" {
                open.push(name.to_string());
            }
        }
        rest = &after[end + 1..];
    }
    entities_ok(rest)?;
    if !open.is_empty() {
        return Err(format!("unclosed elements {open:?}"));
    }
    Ok(())
}

/// The body carries a message, is within the platform's limits and its markup is well-formed.
fn check(kind: &str, v: &Value) -> Result<(), String> {
    let bytes = serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
    let limit = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("{what} over the limit"))
        }
    };
    // A body within every limit because it says nothing is not a pass.
    let present = |t: &str, what: &str| {
        if t.trim().is_empty() {
            Err(format!("{what} is empty or missing"))
        } else {
            Ok(())
        }
    };
    match kind {
        "slack" => {
            present(str_at(v, "/blocks/0/text/text"), "the first section")?;
            limit(str_at(v, "/text").chars().count() <= 3000, "text")?;
            for b in v["blocks"].as_array().into_iter().flatten() {
                let t = b
                    .pointer("/text/text")
                    .or_else(|| b.pointer("/elements/0/text"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                limit(t.chars().count() <= 3000, "section")?;
                angle_links_ok(t, false)?;
            }
        }
        "mattermost" => {
            let t = str_at(v, "/text");
            present(t, "text")?;
            limit(t.chars().count() <= 16_383, "text")?;
            markdown_ok(t)?;
        }
        "discord" => {
            let e = &v["embeds"][0];
            let (title, desc) = (str_at(e, "/title"), str_at(e, "/description"));
            let footer = str_at(e, "/footer/text");
            present(desc, "description")?;
            limit(utf16(title) <= 256, "title")?;
            limit(utf16(desc) <= 4096, "description")?;
            limit(utf16(title) + utf16(desc) + utf16(footer) <= 6000, "embed")?;
            markdown_ok(title)?;
            markdown_ok(desc)?;
        }
        "teams" => {
            present(
                str_at(v, "/attachments/0/content/body/0/inlines/0/text"),
                "the title block",
            )?;
            limit(bytes <= 20_000, "body")?;
            for b in v
                .pointer("/attachments/0/content/body")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|b| b["type"] == "TextBlock")
            {
                let t = str_at(b, "/text");
                markdown_ok(t)?;
                entities_ok(&without_link_urls(t))?;
            }
        }
        "googlechat" => {
            let t = str_at(v, "/text");
            present(t, "text")?;
            limit(t.chars().count() <= 4096, "text")?;
            angle_links_ok(t, true)?;
        }
        "matrix" => {
            present(str_at(v, "/body"), "body")?;
            present(str_at(v, "/formatted_body"), "formatted_body")?;
            limit(bytes <= 40_000, "content")?;
            html_ok(str_at(v, "/formatted_body"))?;
        }
        "telegram" => {
            let t = str_at(v, "/text");
            present(t, "text")?;
            limit(utf16(t) <= 4096, "text")?;
            html_ok(t)?;
        }
        "ntfy" => {
            present(str_at(v, "/message"), "message")?;
            limit(str_at(v, "/message").len() <= 4096, "message")?;
            limit(bytes <= 8192, "body")?;
            if v["markdown"] == true {
                markdown_ok(str_at(v, "/message"))?;
            }
        }
        other => return Err(format!("unknown kind {other}")),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn truncation_after_escaping_broke_markup(
        title in hostile_text(800),
        snippet in hostile_text(4000),
        link in link(),
    ) {
        let a = alert(title, snippet, link);
        for (kind, templated, s) in SINKS.with(|s| s.clone()) {
            let body = s.preview(&a).unwrap();
            if let Err(e) = check(kind, &body) {
                let text = serde_json::to_string(&body).unwrap_or_default();
                prop_assert!(false, "{kind} (template: {templated}): {e}\n{:.3000}", text);
            }
        }
    }
}

thread_local! {
    static SINKS: Vec<(&'static str, bool, Arc<dyn Sink>)> = sinks();
}

/// The checks themselves catch what they are for.
#[test]
fn the_checks_reject_broken_markup() {
    assert!(markdown_ok("ab\\…").is_err());
    assert!(markdown_ok("[ti…").is_err());
    assert!(markdown_ok("**bold…").is_err());
    assert!(markdown_ok("\\*ok\\* [t](https://x.example) **b**").is_ok());
    assert!(entities_ok("a &am…").is_err());
    assert!(angle_links_ok("x <https://x.example|ti…", false).is_err());
    assert!(angle_links_ok("x <\u{200B}b> <https://x.example|t>", true).is_ok());
    assert!(html_ok("<b><a href=\"u\">t…").is_err());
    assert!(html_ok("<b>x</b> &lt;i&gt; <a href=\"h?a=1&amp;b\">t</a>").is_ok());
    for kind in [
        "slack",
        "mattermost",
        "discord",
        "teams",
        "googlechat",
        "matrix",
        "telegram",
        "ntfy",
    ] {
        assert!(
            check(kind, &Value::Null).is_err(),
            "{kind}: an empty body passed"
        );
    }
}

/// Regression: an item without a title (RSS 2.0 allows a description alone; it matched there)
/// made Teams send an empty title run, and the other platforms an empty bold or linked title.
/// Every chat message now shows "(no title)" in its place.
#[test]
fn an_item_without_a_title_shows_no_title_instead_of_an_empty_run() {
    for link in [None, Some("https://news.example/a".to_string())] {
        let a = alert(" ".to_string(), "North Korean troops".to_string(), link);
        for (kind, templated, s) in SINKS.with(|s| s.clone()) {
            let body = s.preview(&a).unwrap();
            check(kind, &body).unwrap_or_else(|e| panic!("{kind} (template: {templated}): {e}"));
            let text = serde_json::to_string(&body).unwrap();
            assert!(
                text.contains("(no title)"),
                "{kind} (template: {templated}): {text}"
            );
        }
    }
}
