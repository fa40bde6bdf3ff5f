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
    // Only with a `color`, `face` or `size` attribute; always here: leaving foreign content
    // where the parser stays in it only overestimates.
    "font",
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

/// Elements inside `<svg>`/`<math>` whose content the parser reads as HTML again (SVG's and
/// MathML's integration points; `annotation-xml` only with an HTML encoding, counted always:
/// reading HTML where there is none only overestimates).
const INTEGRATION_POINTS: &[&str] = &[
    "foreignObject",
    "desc",
    "title",
    "mi",
    "mo",
    "mn",
    "ms",
    "mtext",
    "annotation-xml",
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
    // Open `<svg>`/`<math>` elements around the current one (0: HTML), and the integration
    // points (`<foreignObject>`, `<mtext>` ...) inside them, each with the count to go back to.
    let mut foreign = 0usize;
    let mut islands: Vec<(&str, usize)> = Vec::new();
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
        let Some((tag_end, self_closing)) = super::tag::tag_end(b, name_end) else {
            break;
        };
        i = tag_end + 1;
        let name = &html[name_start..name_end];
        if closing {
            stack.close(name);
            if islands
                .last()
                .is_some_and(|(island, _)| island.eq_ignore_ascii_case(name))
            {
                // Back from the island's HTML into the `<svg>`/`<math>` around it.
                foreign = islands.pop().map_or(0, |(_, outer)| outer);
            } else if is(name, &["svg", "math"]) {
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
            // The parser leaves every `<svg>`/`<math>` open, also one an island is in.
            foreign = 0;
            islands.clear();
        }
        if self_closing && foreign > 0 {
            continue;
        }
        if foreign > 0 && is(name, INTEGRATION_POINTS) {
            // HTML again inside it: a `/` is ignored and every element nests.
            islands.push((name, foreign));
            foreign = 0;
        } else if is(name, &["svg", "math"]) && !self_closing {
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
mod tests;
