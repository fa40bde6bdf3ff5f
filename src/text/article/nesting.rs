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
//! Each open element knows how the parser reads what is inside it (HTML, foreign content, or
//! HTML again in an integration point such as `<foreignObject>`), so leaving `<svg>` (by its
//! end tag, or a `<div>` that breaks out) is read as the parser reads it. Where the scan could
//! be out of step with the tokenizer it errs towards counting more.

use std::collections::HashMap;

use memchr::memchr;
use memchr::memmem;

mod names;
use names::*;

use super::tag::TagEnd;

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
        let bogus = match b.get(at + 1) {
            Some(b'!' | b'?') => true,
            Some(b'/') => !b.get(at + 2).is_some_and(u8::is_ascii_alphabetic),
            _ => false,
        };
        if bogus {
            // `<!DOCTYPE`, `<?xml`, `</1`: a bogus comment to the tokenizer, ended by the
            // first `>` (a tag read inside it, `<!x <script>`, hid what followed).
            match memchr(b'>', &b[at + 1..]) {
                Some(gt) => i = at + 1 + gt + 1,
                None => break,
            }
            continue;
        }
        let name_start = at + 1 + usize::from(closing);
        if !b.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            i = at + 1;
            continue;
        }
        // The tokenizer's tag name runs to whitespace, `/` or `>` (`<a.b="x>` is the name
        // `a.b="x`, not an attribute opening a quote).
        let name_len = b[name_start..]
            .iter()
            .take_while(|c| !matches!(c, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>'))
            .count();
        let name_end = name_start + name_len;
        let name = &html[name_start..name_end];
        let tag = match super::tag::tag_end(b, name_end) {
            Some(tag) => tag,
            // The text ends inside the tag. Read the rest anyway, from its first `>`: should
            // this scan be out of step with the tokenizer, it counts more, never less.
            None => match memchr(b'>', &b[name_end..]) {
                Some(gt) => TagEnd {
                    at: name_end + gt,
                    self_closing: false,
                    presentational: false,
                },
                None => break,
            },
        };
        i = tag.at + 1;
        if closing {
            stack.close(name);
            continue;
        }
        start_tags += 1;
        let mut mode = stack.mode();
        if matches!(mode, Mode::Foreign(_))
            && (is(name, FOREIGN_BREAKOUT)
                || (name.eq_ignore_ascii_case("font") && tag.presentational))
        {
            stack.leave_foreign();
            mode = stack.mode();
        }
        match mode {
            // Inside `<svg>`/`<math>` these names are ordinary elements, not raw text:
            // skipping to their end tag hid what followed (`<svg><script>` and 200,000
            // `<div>`s). Where it may be either, they are read as elements: more counted.
            Mode::Html if is(name, RAW_TEXT) => {
                match find_end_tag(b, i, name) {
                    Some(end) => i = end,
                    None => break,
                }
                continue;
            }
            Mode::Foreign(_) if tag.self_closing => continue,
            Mode::Html | Mode::Unsure if tag.self_closing && is(name, &["svg", "math"]) => {
                continue;
            }
            Mode::Html if is(name, &["a", "nobr"]) => stack.close_link(name),
            _ => {}
        }
        stack.push(name, mode);
        if stack.depth > max {
            return Shape::TooDeep;
        }
    }
    Shape::StartTags(start_tags)
}

/// How the parser reads the next start tag, by the element it would go into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// As HTML: a `/` is ignored, raw-text elements swallow what follows.
    Html,
    /// In `<svg>` or `<math>` content (of that namespace): a `/` closes the element, there is
    /// no raw text, a few HTML names leave it.
    Foreign(Ns),
    /// In MathML's `annotation-xml`, which is HTML only with an HTML `encoding`: read as HTML
    /// that hides nothing (a `/` ignored, no raw text), which can only count more.
    Unsure,
}

/// An element's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Html,
    Svg,
    Math,
}

/// One open element: its name, the levels it adds, and what an end tag's walk down the stack
/// asks of it, read once when it opens.
struct Open<'a> {
    name: &'a str,
    weight: usize,
    special: bool,
    scope: bool,
    formatting: bool,
    ns: Ns,
    /// What the parser reads inside it: HTML for HTML elements and the integration points
    /// of SVG and MathML, else their content.
    inside: Mode,
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
    /// A start tag read in `mode`: counted when its element adds levels (in `<svg>` and
    /// `<math>` content every element does: no name there is void or closed by a sibling).
    fn push(&mut self, name: &'a str, mode: Mode) {
        let ns = match mode {
            Mode::Foreign(ns) => ns,
            Mode::Html | Mode::Unsure if name.eq_ignore_ascii_case("svg") => Ns::Svg,
            Mode::Html | Mode::Unsure if name.eq_ignore_ascii_case("math") => Ns::Math,
            Mode::Html | Mode::Unsure => Ns::Html,
        };
        let inside = match ns {
            // What an element of unsure content holds is unsure too.
            Ns::Html if mode == Mode::Unsure => Mode::Unsure,
            Ns::Html => Mode::Html,
            Ns::Svg if is(name, SVG_ISLANDS) => Mode::Html,
            Ns::Math if is(name, MATH_ISLANDS) => Mode::Html,
            Ns::Math if name.eq_ignore_ascii_case("annotation-xml") => Mode::Unsure,
            ns => Mode::Foreign(ns),
        };
        // Foreign content has no void or sibling-closed names; unsure content counts as it.
        let weight = if ns == Ns::Html && mode == Mode::Html {
            weight(name)
        } else {
            1
        };
        if weight == 0 {
            return;
        }
        *self.names.entry(name.to_ascii_lowercase()).or_default() += 1;
        self.depth += weight;
        let html = ns == Ns::Html;
        // The spec's special and scope categories hold the integration points too.
        let island = !html && inside != Mode::Foreign(ns);
        self.open.push(Open {
            name,
            weight,
            special: if html { is(name, SPECIAL) } else { island },
            scope: if html { is(name, SCOPE) } else { island },
            formatting: html && is(name, FORMATTING),
            ns,
            inside,
        });
    }

    /// How the next start tag is read: by the innermost open element (HTML when none).
    fn mode(&self) -> Mode {
        self.open.last().map_or(Mode::Html, |e| e.inside)
    }

    /// A start tag that leaves `<svg>`/`<math>` content (`<div>`, `<font color>`): the
    /// parser closes the foreign elements up to the nearest HTML element or integration point.
    fn leave_foreign(&mut self) {
        while let Some(e) = self.open.last() {
            if e.ns == Ns::Html || e.inside != Mode::Foreign(e.ns) {
                return;
            }
            if let Some(e) = self.open.pop() {
                self.forget(&e);
            }
        }
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
        // In `<svg>`/`<math>` content (an integration point too) an end tag closes the
        // nearest open element of its name among the foreign ones above the first HTML
        // element, whatever lies between: `</svg>` in a `<foreignObject>` closes both.
        if self.open.last().is_some_and(|e| e.ns != Ns::Html) {
            for k in (0..self.open.len()).rev() {
                if self.open[k].ns == Ns::Html {
                    break;
                }
                if self.open[k].name.eq_ignore_ascii_case(name) {
                    for e in self.open.split_off(k) {
                        self.forget(&e);
                    }
                    return;
                }
            }
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
