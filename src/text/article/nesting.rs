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

/// True when the estimated nesting depth of `html` goes past `max`.
pub(super) fn exceeds(html: &str, max: usize) -> bool {
    let b = html.as_bytes();
    let mut depth = 0usize;
    let mut foreign = 0usize;
    let mut i = 0;
    while let Some(off) = memchr(b'<', &b[i..]) {
        let at = i + off;
        if b[at + 1..].starts_with(b"!--") {
            match memmem::find(&b[at + 4..], b"-->") {
                Some(end) => i = at + 4 + end + 3,
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
        let weight = weight(name);
        if closing {
            depth = depth.saturating_sub(weight);
            if is(name, &["svg", "math"]) {
                foreign = foreign.saturating_sub(1);
            }
            continue;
        }
        if is(name, RAW_TEXT) {
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
        depth += weight;
        if depth > max {
            return true;
        }
    }
    false
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

    #[test]
    fn never_panics_on_truncated_tags() {
        for s in [
            "<", "</", "<!--", "<div", "</div", "<a/", "<script", "<<<>>>",
        ] {
            exceeds(s, 0);
        }
    }
}
