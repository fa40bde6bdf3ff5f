//! Snippets: ~200 characters of an item's text around its first hit, with hits marked.
//!
//! Owns [`Snippet`]. Built by the matcher from a [`crate::feed::FeedItem`] and its hits; sinks and
//! `newswatch try` render the marks in their own markup (`**bold**`, `<b>`, ANSI...).

use crate::feed::FeedItem;
use crate::matcher::query::Field;
use crate::matcher::watchset::Hit;

/// Characters of context kept before the first hit.
const BEFORE: usize = 80;
/// Total snippet length in characters (approximate: cuts snap to word boundaries).
const TOTAL: usize = 200;

/// A piece of an item's text with the hits in it marked.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Snippet {
    /// The text, with `…` where it was cut.
    pub text: String,
    /// Field the snippet was taken from.
    pub field: Option<Field>,
    /// Byte ranges of `text` that are hits, sorted and non-overlapping.
    pub marks: Vec<(usize, usize)>,
}

impl Snippet {
    /// The text with every mark wrapped in `open`/`close`, each piece of text passed through
    /// `escape` first (so a sink can HTML-escape feed text but not its own markup).
    pub fn render(&self, open: &str, close: &str, escape: impl Fn(&str) -> String) -> String {
        render_marks(&self.text, &self.marks, open, close, escape)
    }

    /// The text with hits wrapped in `**`.
    pub fn marked(&self) -> String {
        self.render("**", "**", str::to_string)
    }
}

/// `text` with each mark wrapped in `open`/`close` and every piece passed through `escape`.
/// Marks that are out of order, overlapping, or off `text`'s char boundaries are skipped, so a
/// stored alert with damaged marks still renders (unmarked) instead of panicking.
pub fn render_marks(
    text: &str,
    marks: &[(usize, usize)],
    open: &str,
    close: &str,
    escape: impl Fn(&str) -> String,
) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (piece, marked) in mark_segments(text, marks) {
        if marked {
            out.push_str(open);
            out.push_str(&escape(piece));
            out.push_str(close);
        } else {
            out.push_str(&escape(piece));
        }
    }
    out
}

/// `text` split at its marks: each piece with whether it is a hit (empty pieces dropped), for
/// markups where a hit is a separate element (Adaptive Card `TextRun`s) rather than a mark in
/// the text. Damaged marks are skipped as in [`render_marks`].
pub fn mark_segments<'a>(text: &'a str, marks: &[(usize, usize)]) -> Vec<(&'a str, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    for &(s, e) in marks {
        if s < at || s > e || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            continue;
        }
        out.push((&text[at..s], false));
        out.push((&text[s..e], true));
        at = e;
    }
    out.push((&text[at..], false));
    out.retain(|(p, _)| !p.is_empty());
    out
}

/// The plain text of `field` as hits' offsets see it (lists joined with ", ").
pub fn field_text(item: &FeedItem, field: Field) -> std::borrow::Cow<'_, str> {
    match field {
        Field::Title => item.title.as_str().into(),
        Field::Summary => item.summary.as_str().into(),
        Field::Content => item.content.as_str().into(),
        Field::Category => item.categories.join(", ").into(),
        Field::Author => item.authors.join(", ").into(),
        Field::Body => item.body.as_str().into(),
    }
}

/// Build the snippet around the first hit, preferring running text (summary, content, the
/// article page's body) over the title, since the title is shown on its own anyway.
pub fn make_snippet(item: &FeedItem, hits: &[Hit]) -> Snippet {
    let order = [
        Field::Summary,
        Field::Content,
        Field::Body,
        Field::Title,
        Field::Category,
        Field::Author,
    ];
    let Some(first) = order.iter().find_map(|f| {
        hits.iter()
            .filter(|h| h.field == *f)
            .min_by_key(|h| h.start)
    }) else {
        return Snippet::default();
    };
    let text = field_text(item, first.field);
    let (ws, we) = window(&text, first.start, first.end);
    // Offsets (relative to the window) that must be translated into the collapsed text.
    let mut wanted: Vec<usize> = Vec::new();
    for h in hits
        .iter()
        .filter(|h| h.field == first.field && h.start >= ws && h.end <= we)
    {
        wanted.push(h.start - ws);
        wanted.push(h.end - ws);
    }
    let lead = if ws > 0 { "…" } else { "" };
    let (body, mapped) = collapse_mapping(&text[ws..we], &wanted);
    let mut out = String::with_capacity(body.len() + 8);
    out.push_str(lead);
    out.push_str(&body);
    let mut marks: Vec<(usize, usize)> = mapped
        .chunks_exact(2)
        .map(|p| (lead.len() + p[0], lead.len() + p[1]))
        .filter(|(s, e)| s < e)
        .collect();
    marks.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(marks.len());
    for (s, e) in marks {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    if we < text.len() {
        out.push('…');
    }
    Snippet {
        text: out,
        field: Some(first.field),
        marks: merged,
    }
}

/// Byte window of about [`TOTAL`] characters around `start..end`, snapped to whitespace.
///
/// Where the text around the hit is ASCII (most news text), a character is a byte and the
/// window is computed from the offsets; elsewhere [`window_chars`] walks the characters. Both
/// give the same window (`ascii_window_is_the_char_walk` checks it).
fn window(text: &str, start: usize, end: usize) -> (usize, usize) {
    let start = floor_char(text, start.min(text.len()));
    let end = floor_char(text, end.min(text.len())).max(start);
    let lo = start.saturating_sub(BEFORE);
    let hi = end.saturating_add(TOTAL).min(text.len());
    if !text.as_bytes().get(lo..hi).is_some_and(<[u8]>::is_ascii) {
        return window_chars(text, start, end);
    }
    let mut ws = lo;
    if ws > 0 {
        // Snap forward to a word start so we do not show half a word.
        if let Some(off) = text[ws..start].find(is_ascii_space) {
            ws += off + 1;
        }
    }
    let remaining = TOTAL.saturating_sub(end - ws);
    let mut we = (end + remaining.max(1)).min(text.len());
    if we < text.len()
        && let Some(off) = text[end..we].rfind(is_ascii_space)
    {
        we = end + off;
    }
    (ws, we.max(end))
}

/// `char::is_whitespace` for ASCII: `is_ascii_whitespace` leaves out the vertical tab.
fn is_ascii_space(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\x0b'
}

/// [`window`] walking characters, for text that is not ASCII around the hit; `start..end` is
/// already clamped to `text` and its character boundaries.
fn window_chars(text: &str, start: usize, end: usize) -> (usize, usize) {
    // Walk back BEFORE chars, then forward to the first word start.
    let mut ws = start;
    for (n, (i, _)) in text[..start].char_indices().rev().enumerate() {
        ws = i;
        if n + 1 >= BEFORE {
            break;
        }
    }
    if ws > 0 {
        // Snap forward to a word start so we do not show half a word.
        if let Some(off) = text[ws..start].find(char::is_whitespace) {
            ws += off;
            ws += text[ws..].chars().next().map_or(0, char::len_utf8);
        }
    }
    let used = text[ws..end].chars().count();
    let remaining = TOTAL.saturating_sub(used);
    let mut we = end;
    for (n, (i, c)) in text[end..].char_indices().enumerate() {
        we = end + i + c.len_utf8();
        if n + 1 >= remaining {
            break;
        }
    }
    if we < text.len()
        && let Some(off) = text[end..we].rfind(char::is_whitespace)
    {
        we = end + off;
    }
    (ws, we.max(end))
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Collapse whitespace runs (including newlines between paragraphs) to one space and trim,
/// translating each offset of `wanted` (byte offsets of `s`) into the collapsed text. One pass,
/// no per-byte table: this runs for every match.
fn collapse_mapping(s: &str, wanted: &[usize]) -> (String, Vec<usize>) {
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_unstable_by_key(|&i| wanted[i]);
    if s.is_ascii() {
        return collapse_ascii(s, wanted, &order);
    }
    collapse_chars(s, wanted, &order)
}

/// [`collapse_mapping`] of ASCII text, a byte at a time without a branch on whether the byte
/// is a space: words and spaces alternate at random, and the character walk's branch there
/// was most of a snippet's mispredicted branches (a few hundred per long article against a
/// broad watchlist). Each byte is written (a whitespace byte as a space) and the output moves
/// on unless it follows whitespace; an offset maps to the output's length before its byte,
/// which is where the character walk puts it too (`ascii_collapse_is_the_char_walk`).
fn collapse_ascii(s: &str, wanted: &[usize], order: &[usize]) -> (String, Vec<usize>) {
    let bytes = s.as_bytes();
    let mut buf = vec![0u8; bytes.len()];
    let mut mapped = vec![0; wanted.len()];
    let mut next = 0;
    let mut n = 0;
    // Leading whitespace writes nothing, as if whitespace came before the text.
    let mut prev_ws = true;
    for (i, &b) in bytes.iter().enumerate() {
        while let Some(&k) = order.get(next)
            && wanted[k] == i
        {
            mapped[k] = n;
            next += 1;
        }
        let ws = (b == b' ') | (b.wrapping_sub(b'\t') < 5);
        // As a mask, not an `if`: the compiler made that a branch.
        let m = 0u8.wrapping_sub(u8::from(ws));
        if let Some(slot) = buf.get_mut(n) {
            *slot = (b & !m) | (b' ' & m);
        }
        n += usize::from(!(ws & prev_ws));
        prev_ws = ws;
    }
    // A space written for trailing whitespace goes.
    n -= usize::from(prev_ws && n > 0);
    buf.truncate(n);
    for &k in order.get(next..).unwrap_or_default() {
        mapped[k] = n;
    }
    match String::from_utf8(buf) {
        Ok(out) => (out, mapped),
        // Not reached: ASCII in, ASCII out.
        Err(_) => collapse_chars(s, wanted, order),
    }
}

/// [`collapse_mapping`] walking characters, for text that is not ASCII.
fn collapse_chars(s: &str, wanted: &[usize], order: &[usize]) -> (String, Vec<usize>) {
    let mut mapped = vec![0; wanted.len()];
    let mut next = 0;
    let mut out = String::with_capacity(s.len());
    // Words are copied whole (one `push_str` per word, not per char); offsets inside a word
    // map by their distance from the word's start.
    let mut word_start: Option<usize> = None;
    let mut pending_space = false;
    let flush = |out: &mut String, from: usize, to: usize, pending: &mut bool| {
        if *pending && !out.is_empty() {
            out.push(' ');
        }
        *pending = false;
        out.push_str(&s[from..to]);
    };
    for (i, c) in s.char_indices() {
        if c.is_whitespace() {
            if let Some(ws) = word_start.take() {
                let base = out.len() + usize::from(pending_space && !out.is_empty());
                // `<=`: an offset at the word's end (a hit's end) maps to the end of the word.
                while next < order.len() && wanted[order[next]] <= i {
                    mapped[order[next]] = base + wanted[order[next]].saturating_sub(ws);
                    next += 1;
                }
                flush(&mut out, ws, i, &mut pending_space);
            }
            pending_space = true;
            // Offsets on whitespace map to where the next word will start.
            while next < order.len() && wanted[order[next]] <= i {
                mapped[order[next]] = out.len() + usize::from(!out.is_empty());
                next += 1;
            }
        } else if word_start.is_none() {
            word_start = Some(i);
        }
    }
    if let Some(ws) = word_start {
        let base = out.len() + usize::from(pending_space && !out.is_empty());
        while next < order.len() && wanted[order[next]] <= s.len() {
            mapped[order[next]] = base + wanted[order[next]].saturating_sub(ws);
            next += 1;
        }
        flush(&mut out, ws, s.len(), &mut pending_space);
    }
    while next < order.len() {
        mapped[order[next]] = out.len();
        next += 1;
    }
    (out, mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_mapping_tracks_offsets() {
        let s = "  a  b\n\ncd ";
        let (c, m) = collapse_mapping(s, &[8, 10, 2, 3, 5, 6]);
        assert_eq!(c, "a b cd");
        assert_eq!(&c[m[0]..m[1]], "cd");
        assert_eq!(&c[m[2]..m[3]], "a");
        assert_eq!(&c[m[4]..m[5]], "b");
    }

    #[test]
    fn window_is_about_two_hundred_chars_and_contains_the_hit() {
        let text = "word ".repeat(200);
        let (s, e) = window(&text, 500, 504);
        assert!(s <= 500 && e >= 504);
        let n = text[s..e].chars().count();
        assert!((150..=210).contains(&n), "{n}");
    }

    #[test]
    fn damaged_marks_are_skipped_not_panicked_on() {
        let marks = [(4, 2), (0, 1), (0, 99), (1, 2)];
        assert_eq!(
            render_marks("aéb", &marks, "[", "]", str::to_string),
            "[a]éb"
        );
    }

    #[test]
    fn render_escapes_text_not_marks() {
        let s = Snippet {
            text: "a <b> c".into(),
            field: None,
            marks: vec![(2, 5)],
        };
        assert_eq!(
            s.render("<i>", "</i>", |t| t.replace('<', "&lt;")),
            "a <i>&lt;b></i> c"
        );
    }

    proptest::proptest! {
        /// The ASCII shortcut gives the character walk's window, wherever the hit is.
        #[test]
        fn ascii_window_is_the_char_walk(
            text in "[a-z \n\t\x0b\x0c\r.]{0,400}|[a-zé \u{a0}\u{85}]{0,300}|[a-z ]{0,300}é[a-z ]{0,300}",
            a in 0usize..420,
            len in 0usize..260,
        ) {
            let start = floor_char(&text, a.min(text.len()));
            let end = floor_char(&text, (start + len).min(text.len()));
            proptest::prop_assert_eq!(
                window(&text, start, end),
                window_chars(&text, start, end.max(start))
            );
        }

        /// The byte-at-a-time collapse of ASCII text gives the character walk's text and
        /// offsets, wherever the offsets fall (in words, on whitespace, past the end).
        #[test]
        fn ascii_collapse_is_the_char_walk(
            text in "[a-c \n\t\x0b\x0c\r\x1c.]{0,60}",
            wanted in proptest::collection::vec(0usize..64, 0..8),
        ) {
            let mut order: Vec<usize> = (0..wanted.len()).collect();
            order.sort_unstable_by_key(|&i| wanted[i]);
            proptest::prop_assert_eq!(
                collapse_mapping(&text, &wanted),
                collapse_chars(&text, &wanted, &order)
            );
        }

        /// Whatever the whitespace around it, a marked hit shows exactly the hit's text.
        #[test]
        fn marks_cover_exactly_the_hit(
            words in proptest::collection::vec("[a-zé]{1,8}", 1..80),
            seps in proptest::collection::vec("[ \n\t\u{a0}]{1,3}", 80),
            pick in 0usize..80,
        ) {
            let mut text = String::new();
            let mut spans = Vec::new();
            for (i, w) in words.iter().enumerate() {
                let start = text.len();
                text.push_str(w);
                spans.push((start, text.len()));
                text.push_str(&seps[i]);
            }
            let (start, end) = spans[pick % spans.len()];
            let item = crate::feed::FeedItem {
                key: crate::feed::ItemKey("k".into()),
                title: String::new(),
                link: None,
                published: None,
                summary: text.clone(),
                content: String::new(),
                categories: vec![],
                authors: vec![],
                body: String::new(),
            };
            let hit = Hit { term: "t".into(), field: Field::Summary, start, end };
            let sn = make_snippet(&item, &[hit]);
            proptest::prop_assert_eq!(sn.marks.len(), 1);
            let (ms, me) = sn.marks[0];
            proptest::prop_assert_eq!(&sn.text[ms..me], &text[start..end]);
        }
    }
}
