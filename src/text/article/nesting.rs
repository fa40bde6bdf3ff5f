//! A cheap estimate, read from the tags before parsing, of how deep a page's elements nest.
//!
//! Why before parsing: the HTML tree builder checks element scopes by walking the stack of open
//! elements, and Readability walks every ancestor of every paragraph, so both slow down with
//! depth × elements; a page of 200,000 nested `<div>`s must be refused before either runs.
//!
//! The estimate counts start tags minus end tags of the elements that only an end tag closes.
//! Elements that siblings close implicitly (`<p>`, `<li>`, `<td>`, `<option>` ...) are not
//! counted, so sloppy real pages are not overestimated; their containers (`<table>`, lists)
//! count for the levels they imply. Void elements never count; a self-closing tag counts
//! (the HTML parser ignores the `/` on HTML elements) except inside `<svg>`/`<math>`, where it
//! does close the element. Raw-text elements (`<script>`, `<style>` ...) are skipped whole.

use std::collections::HashMap;

use memchr::memchr;
use memchr::memmem;

/// Elements without content.
const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
    "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
];

/// Elements closed implicitly by a sibling or by their container's end tag.
const IMPLICITLY_CLOSED: &[&str] = &[
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot",
    "colgroup", "caption", "rb", "rt", "rp", "rtc", "html", "head", "body",
];

/// Elements whose content is text up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
];

/// HTML elements that end `<svg>`/`<math>` content when they start inside it.
const FOREIGN_BREAKOUT: &[&str] = &[
    "b",
    "big",
    "blockquote",
    "body",
    "br",
    "center",
    "code",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "embed",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "hr",
    "i",
    "img",
    "li",
    "listing",
    "menu",
    "meta",
    "nobr",
    "ol",
    "p",
    "pre",
    "ruby",
    "s",
    "small",
    "span",
    "strong",
    "strike",
    "sub",
    "sup",
    "table",
    "tt",
    "u",
    "ul",
    "var",
];

/// Elements of the HTML spec's "special" category: an end tag of another name stops at one of
/// them (it is ignored unless the element it names is open above it).
const SPECIAL: &[&str] = &[
    "address",
    "applet",
    "area",
    "article",
    "aside",
    "base",
    "basefont",
    "bgsound",
    "blockquote",
    "body",
    "br",
    "button",
    "caption",
    "center",
    "col",
    "colgroup",
    "dd",
    "details",
    "dir",
    "div",
    "dl",
    "dt",
    "embed",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hgroup",
    "hr",
    "html",
    "iframe",
    "img",
    "input",
    "keygen",
    "li",
    "link",
    "listing",
    "main",
    "marquee",
    "menu",
    "meta",
    "nav",
    "noembed",
    "noframes",
    "noscript",
    "object",
    "ol",
    "p",
    "param",
    "plaintext",
    "pre",
    "script",
    "search",
    "section",
    "select",
    "source",
    "style",
    "summary",
    "table",
    "tbody",
    "td",
    "template",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "track",
    "ul",
    "wbr",
    "xmp",
];

/// Formatting elements: the parser reopens them after an end tag of another element closed
/// them (the "active formatting elements").
const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];

/// Elements that end the scope in which a special element's end tag looks for it.
const SCOPE: &[&str] = &[
    "applet", "caption", "html", "table", "td", "th", "marquee", "object", "template",
];

/// What a look at the tags found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// The estimated nesting goes past the limit given.
    TooDeep,
    /// Within the limit; this many start tags (an upper estimate of the elements the parser
    /// makes, to refuse a huge page before parsing it).
    StartTags(usize),
}

/// True when the estimated nesting depth of `html` goes past `max`.
#[cfg(test)]
pub(super) fn exceeds(html: &str, max: usize) -> bool {
    shape(html, max) == Shape::TooDeep
}

/// The estimated nesting depth of `html` against `max`, and its start tags.
///
/// Open elements are kept on a stack, and an end tag closes what the parser would close: a
/// stray end tag (`</x>` with no `<x>` open, or stopped by a special element before it)
/// closes nothing. Counting every end tag as a close let `<div></x>` repeated nest as deep as
/// it was long.
pub(super) fn shape(html: &str, max: usize) -> Shape {
    let b = html.as_bytes();
    let mut stack = Stack::default();
    let mut start_tags = 0usize;
    let mut foreign = 0usize;
    let mut i = 0;
    while let Some(off) = memchr(b'<', &b[i..]) {
        let at = i + off;
        if b[at + 1..].starts_with(b"!--") {
            match crate::text::html::comment_end(&b[at + 4..]) {
                Some(end) => i = at + 4 + end,
                None => break,
            }
            continue;
        }
        let closing = b.get(at + 1) == Some(&b'/');
        let name_start = at + 1 + usize::from(closing);
        let name_len = b[name_start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b':' | b'_'))
            .count();
        if name_len == 0 || !b[name_start].is_ascii_alphabetic() {
            i = at + 1;
            continue;
        }
        let name_end = name_start + name_len;
        let Some(gt) = memchr(b'>', &b[name_end..]) else {
            break;
        };
        let tag_end = name_end + gt;
        i = tag_end + 1;
        let name = &html[name_start..name_end];
        if closing {
            stack.close(name);
            if is(name, &["svg", "math"]) {
                foreign = foreign.saturating_sub(1);
            }
            continue;
        }
        start_tags += 1;
        // Inside `<svg>`/`<math>` these names are ordinary elements, not raw text: skipping
        // to their end tag hid what followed (`<svg><script>` and 200,000 `<div>`s).
        if foreign == 0 && is(name, RAW_TEXT) {
            match find_end_tag(b, i, name) {
                Some(end) => i = end,
                None => break,
            }
            continue;
        }
        if foreign > 0 && is(name, FOREIGN_BREAKOUT) {
            foreign = 0;
        }
        let self_closing = b[name_end..tag_end].ends_with(b"/");
        if self_closing && foreign > 0 {
            continue;
        }
        if is(name, &["svg", "math"]) && !self_closing {
            foreign += 1;
        }
        if is(name, &["a", "nobr"]) {
            stack.close_link(name);
        }
        stack.push(name);
        if stack.depth > max {
            return Shape::TooDeep;
        }
    }
    Shape::StartTags(start_tags)
}

/// One open element: its name, the levels it adds, and what an end tag's walk down the stack
/// asks of it, read once when it opens.
struct Open<'a> {
    name: &'a str,
    weight: usize,
    special: bool,
    scope: bool,
    formatting: bool,
}

/// The open elements that count, their levels, and how many of each name (lower-cased) are
/// open: an end tag naming nothing open is stray at once, without a walk down the stack (a
/// page of 250 open `<span>`s and then `</x>` repeated took seconds when each walked).
#[derive(Default)]
struct Stack<'a> {
    open: Vec<Open<'a>>,
    names: HashMap<String, usize>,
    depth: usize,
}

impl<'a> Stack<'a> {
    /// A start tag: counted when its element adds levels.
    fn push(&mut self, name: &'a str) {
        let weight = weight(name);
        if weight == 0 {
            return;
        }
        *self.names.entry(name.to_ascii_lowercase()).or_default() += 1;
        self.depth += weight;
        self.open.push(Open {
            name,
            weight,
            special: is(name, SPECIAL),
            scope: is(name, SCOPE),
            formatting: is(name, FORMATTING),
        });
    }

    /// An element leaves the stack.
    fn forget(&mut self, e: &Open<'_>) {
        if let Some(n) = self.names.get_mut(&e.name.to_ascii_lowercase()) {
            *n = n.saturating_sub(1);
        }
        self.depth -= e.weight;
    }

    fn is_open(&self, name: &str) -> bool {
        self.names
            .get(&name.to_ascii_lowercase())
            .is_some_and(|&n| n > 0)
    }

    /// An end tag: closes what the parser would close, if anything. A special element's end
    /// tag looks down to the nearest scope boundary; any other stops at the first special
    /// element that is not it. Formatting elements above the one closed stay counted: the
    /// parser keeps them on its list of active formatting elements and opens a copy again
    /// before the next element or text (`<span><b>x</span>` repeated nests the copies ever
    /// deeper).
    fn close(&mut self, name: &str) {
        if !self.is_open(name) {
            return;
        }
        let special = is(name, SPECIAL);
        let mut found = None;
        for (k, e) in self.open.iter().enumerate().rev() {
            if e.name.eq_ignore_ascii_case(name) {
                found = Some(k);
                break;
            }
            if (special && e.scope) || (!special && e.special) {
                return;
            }
        }
        let Some(k) = found else { return };
        let above = self.open.split_off(k + 1);
        if let Some(closed) = self.open.pop() {
            self.forget(&closed);
        }
        for e in above {
            if e.formatting {
                self.open.push(e);
            } else {
                self.forget(&e);
            }
        }
    }

    /// A link (or `<nobr>`) opened while one is still open closes the earlier one first (the
    /// parser's adoption agency): a list of links left unclosed does not nest. Only when no
    /// block was opened inside it since: then the agency moves the block out and opens a copy
    /// of the link inside it, and the depth grows as counted.
    fn close_link(&mut self, name: &str) {
        if !self.is_open(name) {
            return;
        }
        let Some(k) = self
            .open
            .iter()
            .rposition(|e| e.name.eq_ignore_ascii_case(name))
        else {
            return;
        };
        if self.open[k + 1..].iter().all(|e| !e.special) {
            let e = self.open.remove(k);
            self.forget(&e);
        }
    }
}

/// Levels of nesting an element's start tag adds.
fn weight(name: &str) -> usize {
    if is(name, VOID) || is(name, IMPLICITLY_CLOSED) {
        0
    } else if name.eq_ignore_ascii_case("table") {
        // table, tbody, tr, td: the last three are closed implicitly.
        4
    } else if is(name, &["ul", "ol", "dl", "select"]) {
        2
    } else {
        1
    }
}

fn is(name: &str, set: &[&str]) -> bool {
    set.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// Index of the `<` of the first `</name` at or after `from`, ignoring case.
fn find_end_tag(b: &[u8], from: usize, name: &str) -> Option<usize> {
    let mut i = from;
    while let Some(off) = memmem::find(&b[i..], b"</") {
        let at = i + off;
        let candidate = &b[at + 2..];
        if candidate.len() >= name.len()
            && candidate[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        {
            return Some(at);
        }
        i = at + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_nested_divs_and_ignores_closed_ones() {
        assert!(exceeds(&"<div>".repeat(20), 10));
        assert!(!exceeds(&"<div>a</div>".repeat(1000), 10));
        assert!(!exceeds(&"<div>".repeat(10), 10));
    }

    #[test]
    fn implicitly_closed_and_void_elements_do_not_count() {
        assert!(!exceeds(
            &"<p>para<li>item<td>cell<br><img src=x>".repeat(1000),
            5
        ));
    }

    #[test]
    fn tables_count_for_the_levels_they_imply() {
        assert!(exceeds(&"<table><tr><td>".repeat(3), 10));
        assert!(!exceeds(&"<table><tr><td>x</table>".repeat(100), 10));
    }

    #[test]
    fn self_closing_counts_in_html_but_not_in_svg() {
        assert!(exceeds(&"<div/>".repeat(20), 10));
        let icons = format!("<svg>{}</svg>", "<path d='M0 0'/>".repeat(1000)).repeat(50);
        assert!(!exceeds(&icons, 10));
        // An HTML element inside <svg> leaves it: its `/` is ignored again.
        assert!(exceeds(&format!("<svg>{}", "<div/>".repeat(20)), 10));
    }

    #[test]
    fn raw_text_and_comments_are_skipped() {
        let page = format!(
            "<script>{}</script><style>{}</STYLE><!--{}-->",
            "<div>".repeat(100),
            "<div>".repeat(100),
            "<div>".repeat(100)
        );
        assert!(!exceeds(&page, 10));
        assert!(!exceeds("<script>never closed <div><div><div>", 1));
    }

    /// Regression: a comment ended only at `-->`, so `<!-->` (a whole comment to the parser)
    /// hid every tag after it from the estimate: 800,000 nested `<div>` went to the parser.
    #[test]
    fn a_comment_the_tokenizer_ends_early_hides_nothing_after_it() {
        let divs = "<div>".repeat(20);
        for opener in ["<!-->", "<!--->", "<!-- a --!>", "<!-- a -- b -->"] {
            assert!(exceeds(&format!("<body>{opener}{divs}"), 10), "{opener}");
        }
        // The earliest end of either kind ends it.
        assert!(exceeds(&format!("<!-- a --!>{divs}<!-- b -->"), 10));
        assert!(!exceeds(&format!("<!-- {divs} -->"), 10));
        // A page of comments is one pass, not a search to the end at each.
        assert!(!exceeds(&"<!--a--><p>".repeat(300_000), 10));
    }

    /// Regression: every end tag lowered the estimate, also one the parser ignores, so
    /// `<div></x>` repeated 45,000 times nested 45,000 deep (58 s of extraction) while the
    /// estimate stayed at 1.
    #[test]
    fn stray_end_tags_close_nothing() {
        assert!(exceeds(&"<div></x>".repeat(20), 10));
        // Stopped by a special element on the way down: `</span>` does not close through a
        // `<div>`.
        assert!(exceeds(&"<span><div></span>".repeat(10), 10));
        // A special element's end tag stops at a table.
        assert!(exceeds(&"<div><table></div>".repeat(3), 10));
        // What the parser does close still closes.
        assert!(!exceeds(&"<div><span></div>".repeat(1000), 10));
        assert!(!exceeds(&"<b><i>x</i></b>".repeat(1000), 10));
        // A formatting element closed by another's end tag is reopened by the parser.
        assert!(exceeds(&"<span><b>x</span>".repeat(20), 10));
        let ids: String = (0..20).map(|n| format!("<div><b id={n}>x</div>")).collect();
        assert!(exceeds(&ids, 10));
        assert!(!exceeds(&"<section><div><div></section>".repeat(1000), 10));
        assert!(!exceeds(&"<svg><g><g></svg>".repeat(1000), 10));
        assert!(!exceeds(&"<DIV>x</div>".repeat(1000), 10));
    }

    /// Regression: each end tag walked down the stack of open elements, so 250 open `<span>`s
    /// and then 800,000 `</x>` took 7 s to scan (release build); what nothing open names
    /// is stray at once. (Timed only loosely: the bug was seconds, the scan is milliseconds.)
    #[test]
    fn stray_end_tags_do_not_walk_the_stack() {
        let page = format!("{}{}", "<span>".repeat(250), "</x>".repeat(800_000));
        let started = std::time::Instant::now();
        assert_eq!(shape(&page, 256), Shape::StartTags(250));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    /// Regression: a list whose links were left unclosed (`<li><a href=…>x</li>` repeated)
    /// counted a level per link, and a long one was refused; the parser closes the open link
    /// when the next one starts.
    #[test]
    fn a_new_link_closes_the_open_one() {
        assert!(!exceeds(
            &format!("<ul>{}</ul>", "<li><a href=x>x</li>".repeat(1000)),
            10
        ));
        assert!(!exceeds(&"<nobr>x".repeat(1000), 10));
        // A block opened inside the link: the parser nests a copy of the link in it.
        assert!(exceeds(&"<a href=x><div>".repeat(6), 10));
        // Other formatting elements left open are still counted: with distinct attributes
        // the parser reopens every earlier one inside each new item (only identical ones
        // are capped at three), so they nest as deep.
        assert!(exceeds(&"<li><b>x</li>".repeat(20), 10));
    }

    /// Regression: `<script>`, `<style>` and `<title>` inside `<svg>` were skipped to their
    /// end tag as raw text, which the parser does not do there: with none, the scan stopped.
    #[test]
    fn raw_text_names_in_svg_are_elements() {
        let page = format!("<svg><script>{}", "<div>".repeat(300));
        assert_eq!(shape(&page, 256), Shape::TooDeep);
        let page = format!("<math><style>{}", "<div>".repeat(300));
        assert_eq!(shape(&page, 256), Shape::TooDeep);
        // Outside them, still raw text.
        let page = format!("<script>{}</script>", "<div>".repeat(300));
        assert_eq!(shape(&page, 256), Shape::StartTags(1));
    }

    #[test]
    fn counts_start_tags() {
        let page = "<div><br><img src=x></div><script><div><div></script><!--<p>-->";
        assert_eq!(shape(page, 10), Shape::StartTags(4));
        assert_eq!(shape(&"<div>".repeat(11), 10), Shape::TooDeep);
    }

    #[test]
    fn never_panics_on_truncated_tags() {
        for s in [
            "<", "</", "<!--", "<div", "</div", "<a/", "<script", "<<<>>>",
        ] {
            exceeds(s, 0);
        }
    }
}
