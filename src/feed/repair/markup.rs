//! The raw-markup repair: HTML written unescaped into a feed's text elements.
//!
//! Owns [`wrap_child_elements`], which the parser runs before its first attempt (see
//! `feed::parse`), and [`wrap_raw_markup`], which [`super::repair`] runs after a failed one.
//! Hand-made feeds and some CMS templates put an item's HTML straight into `<description>`
//! (`x<br>y`, `<p>x` never closed) or a bare `<` into a title (`5 < 6`): one such item made
//! the whole document ill-formed, and every item of the feed was lost on every poll; and when
//! the tags do close (`Officials said <em>North Korean troops</em> crossed`), the document is
//! well-formed but the parser reads the element's text only up to its first tag. The
//! content of each text element that holds a `<` outside CDATA is wrapped in one CDATA
//! section, which the parser reads as text; the item's HTML is reduced to text later, as for
//! any description.

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// Searchers built once: building one costs more than searching an element's few bytes.
static CDATA_OPEN: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"<![CDATA["));
static CDATA_CLOSE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"]]>"));
/// The length of the longest of [`TEXT_ELEMENTS`].
const LONGEST_NAME: usize = "media:description".len();

/// The end tag of each of [`TEXT_ELEMENTS`], in its order.
static CLOSE_TAGS: LazyLock<Vec<Finder<'static>>> = LazyLock::new(|| {
    TEXT_ELEMENTS
        .iter()
        .map(|name| Finder::new(format!("</{name}>").as_bytes()).into_owned())
        .collect()
});
static TYPE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"type"));
static COMMENT_CLOSE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"-->"));

/// Elements whose content is text (or HTML written as text) in RSS and Atom. Atom's
/// `type="xhtml"` (and any non-text `type`) holds real child elements and is left alone.
const TEXT_ELEMENTS: &[&str] = &[
    "title",
    "description",
    "summary",
    "content",
    "content:encoded",
    "subtitle",
    "media:title",
    "media:description",
    "itunes:summary",
];

/// Wraps the content of every text element that holds raw markup in CDATA; `None` when no
/// element does. Comments and CDATA sections elsewhere are skipped, never searched for tags.
/// The repair of a document that failed to parse: any `<` in the text counts.
pub(super) fn wrap_raw_markup(text: &str) -> Option<String> {
    wrap(text, has_raw_markup)
}

/// Wraps the content of every text element that holds a child element (`<em>`, `<p>`) in
/// CDATA; `None` when no element does. Run on every XML document before its first parse: a
/// well-formed document is changed only where the parser would read the element's text up
/// to its first child and drop the rest (a comment or a processing instruction does not
/// count: the parser reads past those).
pub(crate) fn wrap_child_elements(text: &str) -> Option<String> {
    wrap(text, has_child_element)
}

fn wrap(text: &str, wrapped: fn(&str) -> bool) -> Option<String> {
    let mut out = String::new();
    let mut copied = 0;
    let mut pos = 0;
    // Names whose closing tag is known to be missing from some position on: looking for it
    // again from every later start tag would make a document of unclosed titles quadratic.
    let mut unclosed: Vec<&str> = Vec::new();
    // Each name's end tag last found, and the next item boundary: both remembered while ahead.
    let mut found: Vec<(&str, usize)> = Vec::new();
    let mut boundaries = Boundaries::default();
    while let Some(offset) = text
        .get(pos..)
        .and_then(|rest| memchr::memchr(b'<', rest.as_bytes()))
    {
        let lt = pos + offset;
        if let Some(past) = past_section(text, lt) {
            pos = past;
            continue;
        }
        let rest = &text[lt..];
        let Some((name, tag_end, text_content)) = text_element_start(rest) else {
            pos = lt + 1;
            continue;
        };
        let inner_start = lt + tag_end;
        let close = if unclosed.contains(&name) {
            None
        } else if let Some(&(_, end)) = found
            .iter()
            .find(|(n, end)| *n == name && *end >= inner_start)
        {
            // The end tag found for an earlier start of this name, still ahead: the first
            // one after this start too (searched again, each start of a stretch of them
            // scanned to it: quadratic).
            Some(end)
        } else {
            let end = closing_tag(text, inner_start, name);
            found.retain(|(n, _)| *n != name);
            match end {
                Some(end) => found.push((name, end)),
                None => unclosed.push(name),
            }
            end
        };
        // A text element whose end tag comes only after its item ended (`<description>Officials
        // said</item>`, or `</desc>` mistyped), or never, ends where its item does: wrapped to
        // the next item's `</description>`, it swallowed that item whole, without a word in the
        // log.
        let boundary = text_content
            .then(|| boundaries.next_after(text, inner_start))
            .flatten()
            .filter(|&b| close.is_none_or(|end| b < end));
        if let Some(b) = boundary {
            let cut = &text[inner_start..b];
            out.push_str(&text[copied..inner_start]);
            if cut.contains('<') {
                out.push_str(&as_cdata(cut));
            } else {
                out.push_str(cut);
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
            copied = b;
            pos = b;
            continue;
        }
        let Some(inner_end) = close else {
            pos = inner_start;
            continue;
        };
        let inner = &text[inner_start..inner_end];
        // Atom's `type="xhtml"` content is elements, whatever names they have (an XHTML
        // `<summary>` inside `<details>`): left alone, and not searched for text elements.
        if text_content && wrapped(inner) {
            out.push_str(&text[copied..inner_start]);
            out.push_str(&as_cdata(inner));
            copied = inner_end;
        }
        pos = inner_end;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// A start tag of a text element at the start of `rest`: its name, the tag's length, and
/// whether its `type` makes its content text (not when it says the element holds elements).
/// Not for an empty element (`<title/>`).
fn text_element_start(rest: &str) -> Option<(&'static str, usize, bool)> {
    let after = rest.get(1..)?;
    // The name up to its delimiter (which must be there), compared whole: the length first.
    // Read no further than the longest name: `<a` repeated over megabytes read to the end at
    // each `<` was quadratic.
    let len = after
        .bytes()
        .take(LONGEST_NAME + 1)
        .position(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))?;
    let name = TEXT_ELEMENTS
        .iter()
        .find(|n| n.as_bytes() == &after.as_bytes()[..len])?;
    // The tag ends at the first `>`; a `<` before it means it never ends. Looking no further
    // than the next `<` keeps a document of start tags with no `>` after them ("<title " over
    // and over) linear: each would otherwise be searched to the end of the document.
    let end = memchr::memchr2(b'<', b'>', rest.get(1..)?.as_bytes())? + 1;
    if rest.as_bytes().get(end) != Some(&b'>') {
        return None;
    }
    let tag_len = end + 1;
    let tag = &rest[..tag_len];
    if tag.ends_with("/>") {
        return None;
    }
    Some((name, tag_len, text_type(tag)))
}

/// Whether a start tag's `type` (if any) makes its content text: none, or a text or HTML type.
fn text_type(tag: &str) -> bool {
    let mut from = 0;
    while let Some(at) = tag.get(from..).and_then(|rest| TYPE.find(rest.as_bytes())) {
        let at = from + at;
        from = at + "type".len();
        // The attribute `type`, not `xtype` or `media:type`, with spaces around `=` allowed.
        let named = tag[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let Some(value) = tag[from..].trim_start().strip_prefix('=').filter(|_| named) else {
            continue;
        };
        let value = value
            .trim_start()
            .trim_start_matches(['"', '\''])
            .split(['"', '\''])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        return matches!(value.as_str(), "text" | "html" | "plain") || value.starts_with("text/");
    }
    true
}

/// Where the closing tag `</name>` of an element whose content starts at `from` begins,
/// skipping CDATA sections (which may hold anything).
///
/// The closing tag found is searched for again only when a CDATA section runs past it: an
/// element of many CDATA sections would otherwise be searched from each one to its end.
fn closing_tag(text: &str, from: usize, name: &str) -> Option<usize> {
    let close = CLOSE_TAGS.get(TEXT_ELEMENTS.iter().position(|n| *n == name)?)?;
    let find_close = |at: usize| Some(at + close.find(text.get(at..)?.as_bytes())?);
    let mut pos = from;
    let mut end = find_close(pos)?;
    loop {
        match CDATA_OPEN.find(text.get(pos..end)?.as_bytes()) {
            Some(cdata) => {
                pos = end_of(text, pos + cdata, &CDATA_CLOSE);
                if pos > end {
                    end = find_close(pos)?;
                }
            }
            None => return Some(end),
        }
    }
}

/// The next item boundary ([`item_boundary`]) after a position, remembered: the first one
/// after `from` is the first one after any later position up to it, so a run of text elements
/// in one item (or a document with none) is searched once, not once per element.
#[derive(Default)]
struct Boundaries {
    /// `(from, the first boundary at or after it)`, once searched.
    known: Option<(usize, Option<usize>)>,
}

impl Boundaries {
    fn next_after(&mut self, text: &str, at: usize) -> Option<usize> {
        if let Some((from, next)) = self.known
            && from <= at
            && next.is_none_or(|b| b >= at)
        {
            return next;
        }
        let next = item_boundary(text.get(at..)?).map(|b| at + b);
        self.known = Some((at, next));
        next
    }
}

/// Where the first item or entry tag (`<item>`, `</item>`, `<entry …>`, `</entry>`) outside
/// CDATA sections and comments is in element content: no text element spans one.
fn item_boundary(inner: &str) -> Option<usize> {
    let mut at = 0;
    while let Some(lt) = memchr::memchr(b'<', &inner.as_bytes()[at..]) {
        let start = at + lt;
        if let Some(past) = past_section(inner, start) {
            at = past;
            continue;
        }
        let tail = &inner[start..];
        let name = tail[1..].strip_prefix('/').unwrap_or(&tail[1..]);
        let boundary = ["item", "entry"].iter().any(|n| {
            name.strip_prefix(n).is_some_and(|after| {
                after.starts_with(|c: char| c == '>' || c.is_ascii_whitespace())
            })
        });
        if boundary {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

/// Whether element content holds a `<` outside its CDATA sections.
fn has_raw_markup(inner: &str) -> bool {
    let mut rest = inner;
    while let Some(lt) = memchr::memchr(b'<', rest.as_bytes()) {
        let tail = &rest[lt..];
        if !tail.starts_with("<![CDATA[") {
            return true;
        }
        match CDATA_CLOSE.find(tail.as_bytes()) {
            Some(end) => rest = &tail[end + 3..],
            None => return false,
        }
    }
    false
}

/// Whether element content holds a child element's start tag outside its CDATA sections.
fn has_child_element(inner: &str) -> bool {
    let mut rest = inner;
    while let Some(lt) = memchr::memchr(b'<', rest.as_bytes()) {
        let tail = &rest[lt..];
        if tail.as_bytes().get(1).is_some_and(u8::is_ascii_alphabetic) {
            return true;
        }
        rest = match tail.strip_prefix("<![CDATA[") {
            Some(cdata) => match CDATA_CLOSE.find(cdata.as_bytes()) {
                Some(end) => &cdata[end + 3..],
                None => return false,
            },
            None => &tail[1..],
        };
    }
    false
}

/// The content as one CDATA section: its own CDATA markers dropped (their text is text
/// either way), and any `]]>` in it split across two sections.
fn as_cdata(inner: &str) -> String {
    let plain = inner.replace("<![CDATA[", "").replace("]]>", "");
    format!("<![CDATA[{}]]>", plain.replace("]]", "]]]]><![CDATA["))
}

/// Where the CDATA section or comment that starts at `lt` ends (just past it, or the end of
/// `text`); `None` when none starts there. Their text may hold anything: never tags.
fn past_section(text: &str, lt: usize) -> Option<usize> {
    let rest = text.get(lt..)?;
    if rest.starts_with("<![CDATA[") {
        Some(end_of(text, lt, &CDATA_CLOSE))
    } else if rest.starts_with("<!--") {
        Some(end_of(text, lt, &COMMENT_CLOSE))
    } else {
        None
    }
}

/// Position just past `needle` searched from `from`, or the end of `text`.
fn end_of(text: &str, from: usize, needle: &Finder<'static>) -> usize {
    text.get(from..)
        .and_then(|rest| needle.find(rest.as_bytes()))
        .map_or(text.len(), |i| from + i + needle.needle().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_text_element_is_longer_than_the_name_read() {
        assert!(TEXT_ELEMENTS.iter().all(|n| n.len() <= LONGEST_NAME));
    }

    #[test]
    fn raw_html_and_bare_brackets_in_text_elements_become_cdata() {
        let text = "<rss><channel><item><title>5 < 6</title>\
                    <description>x<br>y <p>z</description></item></channel></rss>";
        assert_eq!(
            wrap_raw_markup(text).as_deref(),
            Some(
                "<rss><channel><item><title><![CDATA[5 < 6]]></title>\
                 <description><![CDATA[x<br>y <p>z]]></description></item></channel></rss>"
            )
        );
    }

    #[test]
    fn cdata_comments_xhtml_and_clean_elements_are_left_alone() {
        let clean = "<rss><channel><title>a &lt; b</title><!-- <title>x<y</title> -->\
                     <description><![CDATA[<p>ok</p>]]></description></channel></rss>";
        assert_eq!(wrap_raw_markup(clean), None);
        let xhtml = "<feed><content type=\"xhtml\"><div>x<br/></div></content>\
                     <summary type='html'>a<b>c</summary></feed>";
        assert_eq!(
            wrap_raw_markup(xhtml).as_deref(),
            Some(
                "<feed><content type=\"xhtml\"><div>x<br/></div></content>\
                 <summary type='html'><![CDATA[a<b>c]]></summary></feed>"
            )
        );
        // A close tag inside a CDATA section does not end the element.
        let inner_cdata = "<description><![CDATA[</description>]]> <b>x</description>";
        assert_eq!(
            wrap_raw_markup(inner_cdata).as_deref(),
            Some("<description><![CDATA[</description> <b>x]]></description>")
        );
    }

    #[test]
    fn a_cdata_end_inside_the_content_is_split() {
        assert_eq!(as_cdata("a ]]> <b>"), "<![CDATA[a  <b>]]>");
        assert_eq!(as_cdata("x]]y<"), "<![CDATA[x]]]]><![CDATA[y<]]>");
    }

    /// Runs the repair on `text` on its own thread: `Some` with its result, `None` when it has
    /// not finished after 60 s. Not a performance goal (those are benchmarks): a guard
    /// against a hang, for inputs the repair handles in milliseconds and a quadratic one in
    /// many minutes.
    fn repaired_within_a_minute(text: String) -> Option<Option<String>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(wrap_raw_markup(&text));
        });
        rx.recv_timeout(std::time::Duration::from_secs(60)).ok()
    }

    /// Regression: a start tag with no `>` after it was searched to the end of the document,
    /// from every one of them: 16 MiB of "<title " (a few KB gzipped) held a parse thread and
    /// the poll's fetch permits for half an hour, on every poll.
    #[test]
    fn start_tags_never_closed_by_a_bracket_stay_linear() {
        let mut text = String::from("<rss version=\"2.0\"><channel>");
        text.push_str(&"<title ".repeat(600_000));
        assert_eq!(repaired_within_a_minute(text), Some(None));
        // A tag broken by a `<` is not a start tag; the next one is.
        assert_eq!(
            wrap_raw_markup("<title <title>a<b</title>").as_deref(),
            Some("<title <title><![CDATA[a<b]]></title>")
        );
    }

    /// Regression: the closing tag was searched for again after each CDATA section of an
    /// element, from that section to the end of the document.
    #[test]
    fn an_element_of_many_cdata_sections_stays_linear() {
        let mut text = String::from("<rss version=\"2.0\"><channel><item><title>");
        text.push_str(&"<![CDATA[x]]>".repeat(400_000));
        text.push_str("</title><description>a<br>b</description></item></channel></rss>");
        let repaired = repaired_within_a_minute(text.clone()).expect("finished");
        let expected = text.replace(
            "<description>a<br>b</description>",
            "<description><![CDATA[a<br>b]]></description>",
        );
        assert_eq!(repaired, Some(expected));
        // A CDATA section past the first closing tag found: the element ends after it.
        assert_eq!(
            wrap_raw_markup("<title><![CDATA[</title>]]>a<b</title>").as_deref(),
            Some("<title><![CDATA[</title>a<b]]></title>")
        );
    }

    /// Regression: a `<description>` never closed in its item was wrapped as CDATA up to the
    /// next item's `</description>`, and that item vanished into it (its title glued to the
    /// text, never matched, nothing in the log). The element ends where its item does.
    #[test]
    fn a_text_element_left_open_ends_with_its_item() {
        let text = "<item><title>Bad</title><description>Officials said</item>\
                    <item><title>Good troops</title><description>fine</description></item>";
        assert_eq!(
            wrap_raw_markup(text).as_deref(),
            Some(
                "<item><title>Bad</title><description>Officials said</description></item>\
                 <item><title>Good troops</title><description>fine</description></item>"
            )
        );
        // Markup in it is wrapped; an Atom entry alike; before the parser's first attempt too.
        let atom = "<entry><summary>a <b>b</entry><entry><summary>c</summary></entry>";
        let fixed = "<entry><summary><![CDATA[a <b>b]]></summary></entry>\
                     <entry><summary>c</summary></entry>";
        assert_eq!(wrap_raw_markup(atom).as_deref(), Some(fixed));
        assert_eq!(wrap_child_elements(atom).as_deref(), Some(fixed));
        // An item tag inside CDATA or a comment is text; `<items>` is no item.
        let inside = "<description><![CDATA[</item>]]><!-- <entry> --> <items/></description>";
        assert_eq!(item_boundary(&inside[13..inside.len() - 14]), None);
    }

    /// Review of the fix above: the element cut at its item was searched for its end tag
    /// again from every later start of its name, each scanning to the one far end tag: 16 MiB
    /// of `<title>x</item>` held a poll for hours. And an element whose end tag never comes
    /// was not cut at its item at all.
    #[test]
    fn elements_cut_at_their_items_stay_linear_and_need_no_end_tag() {
        let mut text = String::from("<rss><channel>");
        text.push_str(&"<title>x</item>".repeat(1_000_000));
        text.push_str("</title>");
        let repaired = repaired_within_a_minute(text).expect("finished");
        assert!(repaired.is_some_and(|r| r.contains("<title>x</title></item>")));
        let mut none_after = String::from("<rss><channel>");
        none_after.push_str(&"<item><description>x<b>y".repeat(200_000));
        assert!(repaired_within_a_minute(none_after).is_some());
        // The same template bug in every item, no end tag anywhere.
        let text = "<item><title>A</title><description>x</item>\
                    <item><title>B</title><description>y <b>z</item></channel></rss>";
        assert_eq!(
            wrap_raw_markup(text).as_deref(),
            Some(
                "<item><title>A</title><description>x</description></item>\
                 <item><title>B</title><description><![CDATA[y <b>z]]></description></item>\
                 </channel></rss>"
            )
        );
    }

    #[test]
    fn unclosed_text_elements_stay_linear_and_unchanged() {
        let text = "<title>".repeat(50_000);
        assert_eq!(wrap_raw_markup(&text), None);
        assert_eq!(wrap_raw_markup("<title>a<b"), None);
        assert_eq!(wrap_raw_markup("<titles>a<b</titles>"), None);
    }
}
