//! HTML fragment → plain text, and HTML entity decoding (in `entities`, beside it).
//!
//! Owns the one place where feed markup becomes the text that keyword matching and alerts see.
//! Crossing the boundary: `&str` in, `String` / `Cow<str>` out; no types of its own.
//!
//! This is a small forgiving tokenizer, not an HTML parser: feed summaries are fragments, often
//! broken, and all we need is their readable text. It never fails and never panics; whatever it
//! cannot classify as markup is kept as text.

use memchr::memmem;

mod entities;
mod visible;

pub(crate) use entities::CP1252_C1;
pub use entities::decode_entities;
use entities::{cp1252_c1, for_each_decoded};
use visible::visible_ascii_run;

/// Elements whose whole content is dropped: code, styling, metadata and fallbacks, never prose.
const DROPPED_ELEMENTS: &[&str] = &[
    "script", "style", "head", "noscript", "template", "iframe", "object", "svg", "math",
];

/// Dropped elements that, when never closed, swallow the rest of the input (as a browser does).
/// For the others (e.g. a stray `<head>` in a fragment) an unclosed start tag is just ignored,
/// so one odd tag cannot erase a whole article.
const DROP_TO_END_WHEN_UNCLOSED: &[&str] = &["script", "style", "noscript", "template"];

/// Elements that start and end a paragraph: rendered with a blank line around them.
const PARAGRAPH_ELEMENTS: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "aside",
    "nav",
    "main",
    "figure",
    "pre",
    "table",
    "ul",
    "ol",
    "dl",
    "hr",
    "address",
    "details",
    "fieldset",
    "form",
];

/// Elements that sit on a line of their own.
const LINE_ELEMENTS: &[&str] = &[
    "br",
    "div",
    "li",
    "tr",
    "dt",
    "dd",
    "caption",
    "figcaption",
    "summary",
    "option",
    "legend",
];

/// Table cells: kept apart by a space so adjacent cells don't glue together.
const CELL_ELEMENTS: &[&str] = &["td", "th"];

/// Converts an HTML fragment (or plain text) to readable plain text.
///
/// Script/style/head/noscript/template content is dropped, comments and other `<!…>`/`<?…>`
/// markup removed, CDATA markers removed (their content is treated as HTML, since that is what a
/// CDATA-wrapped feed field contains), tags removed, all HTML5 entities decoded, block elements
/// turned into line breaks, runs of whitespace collapsed, at most one blank line kept, and the
/// result trimmed. Input without any markup keeps its own line breaks.
pub fn html_to_text(html: &str) -> String {
    if has_markup(html) {
        markup_to_text(html)
    } else {
        plain_to_text(html)
    }
}

/// True when the input contains anything a browser would treat as markup.
fn has_markup(s: &str) -> bool {
    s.match_indices('<').any(|(i, _)| {
        matches!(s.as_bytes().get(i + 1), Some(b) if b.is_ascii_alphabetic() || matches!(b, b'/' | b'!' | b'?'))
    })
}

/// Text that is plain by declaration (e.g. Media RSS `type="plain"`): no entity decoding, no
/// markup, only the whitespace normalisation [`html_to_text`] applies to its output.
pub fn plain_text(s: &str) -> String {
    let mut out = TextBuilder::new(true, s.len());
    out.push_text(s);
    out.finish()
}

/// The text of a field its format types as plain text (an Atom `type="text"` or untyped title
/// or summary, a JSON Feed `content_text`). Publishers put escaped HTML there often enough
/// ("Old &lt;b&gt;summary&lt;/b&gt;") that a field which [looks like HTML](looks_like_html)
/// is read as HTML; any other is plain text, where a `<` is a character, never a tag that
/// would hide the words after it ("XSS via <script> tag", "Why x <y matters").
pub fn typed_plain_to_text(s: &str) -> String {
    if looks_like_html(s) {
        html_to_text(s)
    } else {
        plain_to_text(s)
    }
}

/// Common elements of the HTML that publishers escape into plain-text fields.
const PLAIN_FIELD_ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "cite",
    "code",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
];

/// Common elements that never close (`<br>`, `<img src="…">`): one of them, whole, is as
/// sure a sign of markup as a closing tag. An RSS title "Victory&lt;br&gt;Plan" was read as
/// the words "victory br plan" (a watch on "Victory Plan" missed it), and an `<img>`'s
/// `src="plan.png"` fired a watch on "png".
const VOID_ELEMENTS: &[&str] = &["br", "hr", "img", "wbr"];

/// True when a plain-typed field is really HTML (after Python feedparser's `lookslikehtml`):
/// it has a closing tag, a whole void element's tag (see [`VOID_ELEMENTS`]) or an entity
/// reference, and every tag in it is a common element. A `<script>` or `<y` is then a
/// character sequence, not markup.
fn looks_like_html(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut closing_or_entity = false;
    for (i, _) in s.match_indices('<') {
        let rest = bytes.get(i + 1..).unwrap_or_default();
        let (closing, rest) = match rest.first() {
            Some(b'/') => (true, rest.get(1..).unwrap_or_default()),
            _ => (false, rest),
        };
        let name_len = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 {
            if closing {
                return false;
            }
            continue; // "a < b": not a tag
        }
        let name =
            String::from_utf8_lossy(rest.get(..name_len).unwrap_or_default()).to_ascii_lowercase();
        if !PLAIN_FIELD_ELEMENTS.contains(&name.as_str()) {
            return false;
        }
        closing_or_entity |=
            closing || (VOID_ELEMENTS.contains(&name.as_str()) && whole_tag(&rest[name_len..]));
    }
    closing_or_entity || has_entity(s)
}

/// Whether `after_name`, what follows a tag's name, ends the tag: `>`, `/>` or attributes
/// and then `>`, before any other `<` (not "a <br and b").
fn whole_tag(after_name: &[u8]) -> bool {
    match after_name.first() {
        Some(b'>') => true,
        Some(b'/' | b' ' | b'\t' | b'\n' | b'\r') => {
            let end = after_name.iter().position(|&b| b == b'<' || b == b'>');
            end.is_some_and(|i| after_name[i] == b'>')
        }
        _ => false,
    }
}

/// True when `s` holds an entity or character reference (`&amp;`, `&#38;`, `&#x26;`).
fn has_entity(s: &str) -> bool {
    s.match_indices('&').any(|(i, _)| {
        let rest = s.as_bytes().get(i + 1..).unwrap_or_default();
        // A reference's name is at most 32 bytes: its `;` is looked for no further (searched
        // to the end of the text at every `&`, a field of a million `&` took minutes).
        let near = rest.get(..rest.len().min(33)).unwrap_or_default();
        let Some(len) = near.iter().position(|&b| b == b';') else {
            return false;
        };
        let body = near.get(..len).unwrap_or_default();
        !body.is_empty()
            && (body.iter().all(u8::is_ascii_alphanumeric)
                || body.strip_prefix(b"#").is_some_and(|n| {
                    let n = n.strip_prefix(b"x").or(n.strip_prefix(b"X")).unwrap_or(n);
                    !n.is_empty() && n.iter().all(u8::is_ascii_hexdigit)
                }))
    })
}

/// Plain text: decode entities, keep line structure, normalize whitespace.
fn plain_to_text(s: &str) -> String {
    let mut out = TextBuilder::new(true, s.len());
    for_each_decoded(s, |piece| out.push_text(piece));
    out.finish()
}

/// What sits at a `<` in the input.
enum Markup<'a> {
    /// Not markup at all: a literal `<`.
    Literal,
    /// Comment, doctype, processing instruction: dropped.
    Ignored,
    /// `<![CDATA[`: the marker is dropped and the matching `]]>` too.
    CdataOpen,
    Start {
        name: &'a str,
        self_closing: bool,
    },
    End {
        name: &'a str,
    },
}

/// HTML (with tags): a single pass over text runs and markup.
fn markup_to_text(html: &str) -> String {
    let mut out = TextBuilder::new(false, html.len());
    let mut open_cdata = 0usize;
    // Dropped elements found to have no end tag: searching again for each repeat of such a
    // start tag would make `<iframe><iframe>...` quadratic.
    let mut never_closed: Vec<&str> = Vec::new();
    let tail = Tail::of(html);
    let mut pos = 0;
    while pos < html.len() {
        let Some(lt) = memchr::memchr(b'<', &html.as_bytes()[pos..]).map(|i| pos + i) else {
            push_html_text(&mut out, &html[pos..], &mut open_cdata);
            break;
        };
        push_html_text(&mut out, &html[pos..lt], &mut open_cdata);
        let (markup, end) = classify(html, lt, &tail);
        pos = match markup {
            Markup::Literal => {
                out.push_text("<");
                end
            }
            Markup::Ignored => end,
            Markup::CdataOpen => {
                open_cdata += 1;
                end
            }
            Markup::Start { name, self_closing } => {
                apply_tag_break(&mut out, name);
                if !self_closing && is_one_of(name, DROPPED_ELEMENTS) {
                    skip_dropped_element(html, end, name, &mut never_closed)
                } else {
                    end
                }
            }
            Markup::End { name } => {
                apply_tag_break(&mut out, name);
                end
            }
        };
    }
    out.finish()
}

/// Pushes a run of HTML text, dropping the `]]>` that closes a CDATA marker we removed.
fn push_html_text(out: &mut TextBuilder, text: &str, open_cdata: &mut usize) {
    let mut rest = text;
    while *open_cdata > 0 {
        let Some(close) = memmem::find(rest.as_bytes(), b"]]>") else {
            break;
        };
        for_each_decoded(&rest[..close], |piece| out.push_text(piece));
        rest = &rest[close + 3..];
        *open_cdata -= 1;
    }
    for_each_decoded(rest, |piece| out.push_text(piece));
}

/// Where a comment whose `<!--` came just before `b` ends (the offset after its end), as the
/// HTML tokenizer ends it: `<!-->` and `<!--->` are whole comments, and `--!>` closes one as
/// `-->` does. Only `-->` ended one, so a page of `<!-->` and 800,000 `<div>` counted one
/// tag in the article extractor's nesting estimate and went to the parser, whose tree of that
/// depth took hours; and a summary's `<!-->` hid all the text after it.
pub(crate) fn comment_end(b: &[u8]) -> Option<usize> {
    if b.starts_with(b">") {
        return Some(1);
    }
    if b.starts_with(b"->") {
        return Some(2);
    }
    // One pass to the first end of either kind (two searches to the end of the page at
    // every comment would be quadratic in a page of comments).
    let mut from = 0;
    while let Some(dashes) = memmem::find(b.get(from..)?, b"--") {
        let after = from + dashes + 2;
        match b.get(after..) {
            Some([b'>', ..]) => return Some(after + 1),
            Some([b'!', b'>', ..]) => return Some(after + 2),
            _ => from = from + dashes + 1,
        }
    }
    None
}

/// Where the last `>` and the last attribute sign (`=`, a quote) of the input are: whether a
/// `<` is a tag or a literal depends on what follows it to the end, and reading to the end
/// again at each `<` made `<a ` repeated quadratic (120 KB of it took 2 s).
struct Tail {
    last_gt: Option<usize>,
    last_attr_sign: Option<usize>,
}

impl Tail {
    fn of(html: &str) -> Tail {
        Tail {
            last_gt: memchr::memrchr(b'>', html.as_bytes()),
            last_attr_sign: memchr::memrchr3(b'=', b'"', b'\'', html.as_bytes()),
        }
    }

    /// True when nothing at or after `from` is a `>` or an attribute sign.
    fn bare_from(&self, from: usize) -> bool {
        self.last_gt.is_none_or(|at| at < from) && self.last_attr_sign.is_none_or(|at| at < from)
    }
}

/// Identifies the markup at `lt` (which holds `<`) and where it ends (exclusive).
fn classify<'a>(html: &'a str, lt: usize, tail: &Tail) -> (Markup<'a>, usize) {
    let rest = &html[lt..];
    let bytes = rest.as_bytes();
    if let Some(comment) = rest.strip_prefix("<!--") {
        let end = comment_end(comment.as_bytes()).map_or(html.len(), |i| lt + 4 + i);
        return (Markup::Ignored, end);
    }
    if rest.starts_with("<![CDATA[") {
        return (Markup::CdataOpen, lt + "<![CDATA[".len());
    }
    match bytes.get(1) {
        Some(b'!' | b'?') => (Markup::Ignored, find_byte(html, lt, b'>')),
        Some(b'/') if bytes.get(2).is_some_and(u8::is_ascii_alphabetic) => {
            let name = tag_name(&rest[2..]);
            (Markup::End { name }, find_byte(html, lt, b'>'))
        }
        Some(b) if b.is_ascii_alphabetic() => {
            let name = tag_name(&rest[1..]);
            if tail.bare_from(lt + 1 + name.len()) {
                // No `>` to the end and nothing like an attribute: text that holds a `<`
                // ("why a<b fails"), not a tag that swallows the rest of it. A summary cut
                // inside a tag (`<a href="https://ex.com/lo`) is still a tag, dropped.
                return (Markup::Literal, lt + 1);
            }
            let end = start_tag_end(html, lt + 1 + name.len());
            let self_closing = html[..end].ends_with("/>");
            (Markup::Start { name, self_closing }, end)
        }
        _ => (Markup::Literal, lt + 1),
    }
}

/// The tag name at the start of `s` (letters, digits, `-`, `:`).
fn tag_name(s: &str) -> &str {
    let len = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'_'))
        .count();
    &s[..len]
}

/// Position just past the next `b` at or after `from`, or the end of input.
fn find_byte(html: &str, from: usize, b: u8) -> usize {
    html.as_bytes()[from..]
        .iter()
        .position(|&c| c == b)
        .map_or(html.len(), |i| from + i + 1)
}

/// End of a start tag whose attributes begin at `from`: the first `>` outside a quoted attribute
/// value. A quote that never closes falls back to the first `>` (broken feed HTML is common, and
/// swallowing the rest of an article over one stray quote would lose real text).
fn start_tag_end(html: &str, from: usize) -> usize {
    let bytes = html.as_bytes();
    let mut i = from;
    let mut after_equals = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'>' => return i + 1,
            b'=' => after_equals = true,
            b'"' | b'\'' if after_equals => {
                match bytes[i + 1..].iter().position(|&c| c == b) {
                    Some(close) => i += close + 1,
                    None => return find_byte(html, i, b'>'),
                }
                after_equals = false;
            }
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0C' => {}
            _ => after_equals = false,
        }
        i += 1;
    }
    html.len()
}

/// Skips the content of a dropped element that starts at `from`; returns where text resumes.
fn skip_dropped_element<'a>(
    html: &str,
    from: usize,
    name: &'a str,
    never_closed: &mut Vec<&'a str>,
) -> usize {
    let known_unclosed = never_closed.iter().any(|n| n.eq_ignore_ascii_case(name));
    let close = if known_unclosed {
        None
    } else {
        find_end_tag(html, from, name)
    };
    match close {
        Some(close) => find_byte(html, close, b'>'),
        None => {
            if !known_unclosed {
                never_closed.push(name);
            }
            if is_one_of(name, DROP_TO_END_WHEN_UNCLOSED) {
                html.len()
            } else {
                from
            }
        }
    }
}

/// Finds `</name` (ASCII case-insensitive, followed by a non-name byte) at or after `from`.
fn find_end_tag(html: &str, from: usize, name: &str) -> Option<usize> {
    let bytes = html.as_bytes();
    let name = name.as_bytes();
    let mut search = from;
    while let Some(offset) = html[search..].find("</") {
        let start = search + offset;
        let name_start = start + 2;
        let name_end = name_start + name.len();
        let matches = bytes
            .get(name_start..name_end)
            .is_some_and(|candidate| candidate.eq_ignore_ascii_case(name))
            && !bytes
                .get(name_end)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-');
        if matches {
            return Some(start);
        }
        search = name_start;
    }
    None
}

/// Line or paragraph break implied by an element's start or end tag.
fn apply_tag_break(out: &mut TextBuilder, name: &str) {
    if is_one_of(name, PARAGRAPH_ELEMENTS) {
        out.break_lines(2);
    } else if is_one_of(name, LINE_ELEMENTS) {
        out.break_lines(1);
    } else if is_one_of(name, CELL_ELEMENTS) {
        out.push_text(" ");
    }
}

fn is_one_of(name: &str, set: &[&str]) -> bool {
    set.iter()
        .any(|candidate| candidate.eq_ignore_ascii_case(name))
}

/// Accumulates output text with whitespace collapsing and bounded line breaks.
struct TextBuilder {
    out: String,
    pending_space: bool,
    pending_breaks: u8,
    /// Plain-text mode: `\n` in the input is a line break rather than collapsible space.
    keep_newlines: bool,
}

impl TextBuilder {
    fn new(keep_newlines: bool, capacity: usize) -> Self {
        TextBuilder {
            out: String::with_capacity(capacity),
            pending_space: false,
            pending_breaks: 0,
            keep_newlines,
        }
    }

    /// Requests `n` (1 = new line, 2 = blank line) line breaks before the next text.
    fn break_lines(&mut self, n: u8) {
        self.pending_breaks = self.pending_breaks.max(n);
        self.pending_space = false;
    }

    fn push_text(&mut self, text: &str) {
        let mut rest = text;
        while !rest.is_empty() {
            // Fast path: words of visible ASCII with single spaces between them are copied in
            // one go: collapsing leaves them as they are.
            let run = visible_ascii_run(rest.as_bytes());
            if run > 0 {
                self.push_visible(&rest[..run]);
                rest = &rest[run..];
                continue;
            }
            let Some(c) = rest.chars().next() else { break };
            rest = &rest[c.len_utf8()..];
            self.push_char(c);
        }
    }

    fn push_char(&mut self, c: char) {
        match c {
            '\n' if self.keep_newlines => {
                self.pending_breaks = (self.pending_breaks + 1).min(2);
                self.pending_space = false;
            }
            // The vertical tab is a line break in text from word processors (Word's manual
            // line break), and U+001C–U+001F separate fields: dropped like other controls,
            // they glued "Victory\vPlan" into one word.
            ' ' | '\t' | '\n' | '\r' | '\x0B' | '\x0C' | '\x1C'..='\x1F' | '\u{A0}' => {
                if self.pending_breaks == 0 {
                    self.pending_space = true;
                }
            }
            _ => {
                if let Some(c) = printable(c) {
                    self.push_visible(c.encode_utf8(&mut [0; 4]));
                }
            }
        }
    }

    /// Appends visible text, first emitting the pending separator (none at the very start).
    fn push_visible(&mut self, visible: &str) {
        if !self.out.is_empty() {
            if self.pending_breaks > 0 {
                for _ in 0..self.pending_breaks {
                    self.out.push('\n');
                }
            } else if self.pending_space {
                self.out.push(' ');
            }
        }
        self.pending_breaks = 0;
        self.pending_space = false;
        self.out.push_str(visible);
    }

    fn finish(self) -> String {
        self.out
    }
}

/// Maps a character to what should appear in text: C1 controls through windows-1252, other
/// control characters dropped.
fn printable(c: char) -> Option<char> {
    let code = u32::from(c);
    if (0x80..=0x9F).contains(&code) {
        return cp1252_c1(code);
    }
    if c.is_control() { None } else { Some(c) }
}

#[cfg(test)]
mod tests;
