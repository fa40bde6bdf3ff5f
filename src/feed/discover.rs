//! Feed autodiscovery: recognising an HTML page and extracting its advertised feeds.
//!
//! Owns the `<link rel="alternate" type="...">` convention. Crossing the boundary: decoded page
//! text and the page URL go in; absolute feed URLs (best first) come out.
//!
//! People paste a site's home page instead of its feed URL; rather than failing with an XML
//! error, the parser reports the feeds the page links to so the daemon can tell the user (or
//! follow the first one).

use url::Url;

use crate::feed::item::absolute_url;
use crate::feed::repair::root_start_tag;
use crate::text::html::decode_entities;

/// Feed media types in `<link type=...>`, best first (XML feeds before JSON ones).
const FEED_TYPES: &[&str] = &[
    "application/atom+xml",
    "application/rss+xml",
    "application/feed+json",
    "application/json",
];

/// Root elements of the feed formats: a document with one of these is never taken for HTML.
const FEED_ROOTS: &[&str] = &["rss", "feed", "RDF", "rdf:RDF", "entry"];

/// Root elements that only an HTML page (or fragment of one) starts with.
const HTML_ROOTS: &[&str] = &["html", "head", "body"];

/// True when `text` is an HTML page rather than a feed: an `<html>`/`<head>`/`<body>` root or an
/// HTML DOCTYPE, or a non-feed root served as `text/html` / `application/xhtml+xml`.
pub fn looks_like_html(text: &str, content_type: Option<&str>) -> bool {
    let root = root_start_tag(text);
    let root_name = root.map(|r| r.name);
    if root_name.is_some_and(|name| FEED_ROOTS.contains(&name)) {
        return false;
    }
    if root_name.is_some_and(|name| HTML_ROOTS.iter().any(|h| h.eq_ignore_ascii_case(name))) {
        return true;
    }
    let prolog = &text[..root.map_or(text.len(), |r| r.start)];
    if contains_ignore_ascii_case(prolog, "<!doctype html") {
        return true;
    }
    let mime = content_type
        .and_then(|ct| ct.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    root.is_some()
        && (mime.eq_ignore_ascii_case("text/html")
            || mime.eq_ignore_ascii_case("application/xhtml+xml"))
        && !feed_after_junk(text)
}

/// Whether a feed starts after some junk near the top: a PHP warning printed before the feed
/// (`<br /><b>Warning</b>: …`) comes with `Content-Type: text/html`, since PHP could no longer
/// send the feed's header; the leading-garbage repair reads such a feed.
fn feed_after_junk(text: &str) -> bool {
    let mut head = text.len().min(64 * 1024);
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let head = &text[..head];
    head.contains("<?xml")
        || ["<rss", "<feed", "<rdf:RDF"].iter().any(|root| {
            head.match_indices(root).any(|(i, _)| {
                head.as_bytes()
                    .get(i + root.len())
                    .is_some_and(|b| b.is_ascii_whitespace() || *b == b'>')
            })
        })
}

/// The feeds an HTML page advertises with `<link rel="alternate" type="<feed type>" href=...>`,
/// resolved against the page's `<base href>` and `base`, deduplicated, best first: Atom, RSS,
/// JSON Feed, then plain JSON; comment feeds last; otherwise in document order. An `href` that
/// cannot be made absolute (no base known) is returned as written.
pub fn feed_links(html: &str, base: Option<&Url>) -> Vec<String> {
    let tags = tags_named(html, &["link", "base"]);
    let page_base = tags
        .iter()
        .find(|tag| tag.name.eq_ignore_ascii_case("base"))
        .and_then(|tag| tag.attr("href"))
        .and_then(|href| absolute_url(href.trim(), base))
        .and_then(|href| Url::parse(&href).ok())
        .and_then(crate::feed::item::usable_base);
    let base = page_base.as_ref().or(base);

    let mut ranked: Vec<(usize, String)> = tags
        .iter()
        .filter(|tag| tag.name.eq_ignore_ascii_case("link"))
        .filter_map(|tag| feed_link(tag, base))
        .collect();
    ranked.sort_by_key(|(rank, _)| *rank);
    // A set, not `links.contains`: a hostile page of many links made that quadratic.
    let mut seen = std::collections::HashSet::with_capacity(ranked.len());
    ranked
        .into_iter()
        .map(|(_, href)| href)
        .filter(|href| seen.insert(href.clone()))
        .collect()
}

/// Rank and resolved href of a `<link>` if it advertises a feed.
fn feed_link(tag: &Tag, base: Option<&Url>) -> Option<(usize, String)> {
    let rel = tag.attr("rel")?;
    if !rel
        .split_ascii_whitespace()
        .any(|r| r.eq_ignore_ascii_case("alternate"))
    {
        return None;
    }
    let media_type = tag.attr("type")?;
    let media_type = media_type.split(';').next().unwrap_or_default().trim();
    let type_rank = FEED_TYPES
        .iter()
        .position(|t| t.eq_ignore_ascii_case(media_type))?;
    let href = tag.attr("href")?;
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let title = tag.attr("title").unwrap_or_default();
    let is_comments = contains_ignore_ascii_case(&title, "comment")
        || contains_ignore_ascii_case(href, "comments/feed");
    let rank = type_rank + if is_comments { FEED_TYPES.len() } else { 0 };
    let resolved = absolute_url(href, base).unwrap_or_else(|| href.to_owned());
    Some((rank, resolved))
}

/// A start tag and its attributes (names lower-cased, values entity-decoded).
struct Tag<'a> {
    name: &'a str,
    attributes: Vec<(String, String)>,
}

impl Tag<'_> {
    fn attr(&self, name: &str) -> Option<String> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }
}

/// The attributes discovery reads; others are skipped, not kept.
const READ_ATTRIBUTES: [&str; 4] = ["rel", "type", "href", "title"];

/// Most tags [`tags_named`] returns: a page's feed links sit among its first few dozen
/// `<link>`s, and a body of nothing but `<link a a a …>` was kept whole (each attribute a
/// pair of strings: some 40 bytes of memory for each 2 of the body).
const MAX_TAGS: usize = 4096;

/// The first [`MAX_TAGS`] start tags with one of `names` (ASCII case-insensitive), outside
/// comments, each with the first of each of its [`READ_ATTRIBUTES`] (a repeated attribute's
/// first value is the one that counts, as in browsers).
fn tags_named<'a>(html: &'a str, names: &[&str]) -> Vec<Tag<'a>> {
    let mut tags = Vec::new();
    let mut pos = 0;
    while tags.len() < MAX_TAGS
        && let Some(offset) = html.get(pos..).and_then(|rest| rest.find('<'))
    {
        let lt = pos + offset;
        let rest = &html[lt + 1..];
        if rest.starts_with("!--") {
            pos = rest.find("-->").map_or(html.len(), |i| lt + 1 + i + 3);
            continue;
        }
        let name_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        let name = &rest[..name_len];
        pos = lt + 1 + name_len;
        if name_len > 0 && names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            let (attributes, end) = parse_attributes(&html[pos..]);
            pos += end;
            tags.push(Tag { name, attributes });
        }
    }
    tags
}

/// Parses `attr=value` pairs up to the closing `>`; returns those discovery reads (the first
/// of each) and the bytes consumed.
fn parse_attributes(s: &str) -> (Vec<(String, String)>, usize) {
    let bytes = s.as_bytes();
    let mut attributes = Vec::new();
    let mut i = 0;
    loop {
        while bytes
            .get(i)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == b'/')
        {
            i += 1;
        }
        match bytes.get(i) {
            None => return (attributes, i),
            Some(b'>') => return (attributes, i + 1),
            Some(_) => {}
        }
        let name_len = s[i..]
            .bytes()
            .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'=' | b'>' | b'/'))
            .count()
            .max(1);
        let name = s
            .get(i..i + name_len)
            .unwrap_or_default()
            .to_ascii_lowercase();
        i += name_len;
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let keep =
            READ_ATTRIBUTES.contains(&name.as_str()) && !attributes.iter().any(|(n, _)| *n == name);
        let mut value = String::new();
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            let (raw, used) = attribute_value(&s[i..]);
            if keep {
                value = decode_entities(raw).into_owned();
            }
            i += used;
        }
        if keep {
            attributes.push((name, value));
        }
    }
}

/// A quoted or unquoted attribute value at the start of `s`, and the bytes it spans.
fn attribute_value(s: &str) -> (&str, usize) {
    match s.as_bytes().first() {
        Some(&quote @ (b'"' | b'\'')) => match s[1..].find(quote as char) {
            Some(len) => (&s[1..1 + len], len + 2),
            None => (&s[1..], s.len()),
        },
        _ => {
            let len = s
                .bytes()
                .take_while(|b| !b.is_ascii_whitespace() && *b != b'>')
                .count();
            (&s[..len], len)
        }
    }
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!DOCTYPE html>
<html><head>
<link rel="stylesheet" href="/style.css">
<!-- <link rel="alternate" type="application/rss+xml" href="/commented-out"> -->
<link rel="alternate" type="application/rss+xml" title="Comments Feed" href="/comments/feed/">
<link rel="alternate" type="application/json" href="/feed.json">
<LINK REL="Alternate" TYPE="application/rss+xml" HREF="/feed.rss?a=1&amp;b=2">
<link rel=alternate type=application/atom+xml href=https://other.example/atom.xml>
<link rel="alternate" type="application/rss+xml" href="/feed.rss?a=1&amp;b=2">
<link rel="alternate" hreflang="de" href="/de/">
</head><body>x</body></html>"#;

    /// Regression: every attribute of every `<link>` was kept, so a body of `<html><link a a
    /// a …` (16 MiB: 8 million attributes) took some 600 MB to search for feed links. Only
    /// the attributes discovery reads are kept, the first of each, and at most
    /// [`MAX_TAGS`] tags.
    #[test]
    fn a_page_of_endless_attributes_and_tags_keeps_only_what_discovery_reads() {
        let attrs = format!("<html><link{} rel=alternate>", " a".repeat(100_000));
        let tags = tags_named(&attrs, &["link"]);
        assert_eq!(tags.len(), 1);
        assert_eq!(tags[0].attributes, [("rel".into(), "alternate".into())]);

        let repeated = r#"<link rel="alternate" type="application/rss+xml" href="/first.xml" href="/second.xml">"#;
        assert_eq!(feed_links(repeated, None), ["/first.xml"]);

        let many = "<link href=x>".repeat(MAX_TAGS + 10);
        assert_eq!(tags_named(&many, &["link"]).len(), MAX_TAGS);
        let page = format!("<html><head>{many}{PAGE}");
        assert!(
            feed_links(&page, None).is_empty(),
            "links past the first {MAX_TAGS} tags are not read"
        );
    }

    #[test]
    fn extracts_resolves_ranks_and_dedups() {
        let base = Url::parse("https://example.com/blog/").ok();
        assert_eq!(
            feed_links(PAGE, base.as_ref()),
            [
                "https://other.example/atom.xml",
                "https://example.com/feed.rss?a=1&b=2",
                "https://example.com/feed.json",
                "https://example.com/comments/feed/",
            ]
        );
    }

    #[test]
    fn base_element_is_honoured() {
        let html = r#"<html><head><base href="/sub/"><link rel="alternate" type="application/atom+xml" href="atom.xml"></head></html>"#;
        let base = Url::parse("https://example.com/index.html").ok();
        assert_eq!(
            feed_links(html, base.as_ref()),
            ["https://example.com/sub/atom.xml"]
        );
    }

    #[test]
    fn relative_href_without_base_kept_as_written() {
        let html = r#"<link rel="alternate" type="application/rss+xml" href="/rss">"#;
        assert_eq!(feed_links(html, None), ["/rss"]);
    }

    #[test]
    fn html_recognised_and_feeds_not() {
        assert!(looks_like_html(PAGE, None));
        assert!(looks_like_html("<body>x</body>", None));
        assert!(looks_like_html(
            "<div>x</div>",
            Some("text/html; charset=utf-8")
        ));
        assert!(!looks_like_html(
            "<rss version=\"2.0\"/>",
            Some("text/html")
        ));
        assert!(!looks_like_html("<?xml version=\"1.0\"?><feed/>", None));
        assert!(!looks_like_html("<foo/>", None));
    }

    #[test]
    fn odd_markup_does_not_panic() {
        for html in [
            "<link",
            "<link rel=",
            "<link rel=\"",
            "<!--",
            "<base href=",
            "<link é=é>",
            "<",
        ] {
            let _ = feed_links(html, None);
            let _ = looks_like_html(html, Some("text/html"));
        }
    }
}
