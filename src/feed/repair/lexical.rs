//! The tags of a document as a lexical scan finds them: a scan that never fails.
//!
//! Owns [`marks`] and [`Mark`]. The checks that run before the parser (how deep elements nest,
//! what Media RSS groups would make it copy) must see the whole document even where it is
//! ill-formed, since a repair of a failed first attempt lets the parser read on past the
//! fault; quick-xml's reader stops at the first error. The scan follows XML's lexical rules
//! as quick-xml reads them: comments, CDATA sections, processing instructions and
//! declarations hold no elements; a `>` inside a quoted attribute value does not end a tag; a
//! tag ending in `/>` is empty; a tag cut off by the end of the text reaches to its end.

use std::ops::Range;

use memchr::{memchr, memmem};

/// One tag: a start tag, an empty-element tag (`<name/>`) or an end tag, with the bytes it
/// spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mark {
    Start(Range<usize>),
    Empty(Range<usize>),
    End(Range<usize>),
}

impl Mark {
    /// The bytes of the tag, from its `<` to just past its `>`.
    pub fn span(&self) -> Range<usize> {
        match self {
            Mark::Start(span) | Mark::Empty(span) | Mark::End(span) => span.clone(),
        }
    }

    /// What the tag holds between its `<` (`</`) and its `>` (`/>`).
    pub fn content<'a>(&self, text: &'a str) -> &'a str {
        let span = self.span();
        let from = span.start + if matches!(self, Mark::End(_)) { 2 } else { 1 };
        let tag = text.get(from.min(span.end)..span.end).unwrap_or_default();
        let tag = tag.strip_suffix('>').unwrap_or(tag);
        match self {
            Mark::Empty(_) => tag.strip_suffix('/').unwrap_or(tag),
            Mark::Start(_) | Mark::End(_) => tag,
        }
    }

    /// The tag's qualified name (`media:group`), as quick-xml reads a start tag's: up to the
    /// first white space (`<media:/:group/>` is named `media:/:group`, which feed-rs reads as
    /// a group).
    pub fn name<'a>(&self, text: &'a str) -> &'a str {
        let content = self.content(text);
        &content[..content.find(XML_SPACE).unwrap_or(content.len())]
    }
}

/// Whether `text` holds `byte` at most `max` times: the checks that need more of one to find
/// anything skip a text that has fewer (nearly every feed), counting no further than that.
pub(crate) fn at_most(text: &str, byte: u8, max: usize) -> bool {
    memchr::memchr_iter(byte, text.as_bytes())
        .nth(max)
        .is_none()
}

/// The white space of XML (quick-xml's; not Unicode's).
pub(crate) const XML_SPACE: &[char] = &[' ', '\t', '\r', '\n'];

/// The tags of `text` in document order.
pub(crate) fn marks(text: &str) -> impl Iterator<Item = Mark> + '_ {
    let b = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while let Some(p) = memchr(b'<', &b[i..]) {
            let at = i + p;
            let rest = &b[at..];
            let (end, mark) = if rest.starts_with(b"<!--") {
                (past(b, at + 4, b"-->"), None)
            } else if rest.starts_with(b"<![CDATA[") {
                (past(b, at + 9, b"]]>"), None)
            } else if rest.starts_with(b"<?") {
                (past(b, at + 2, b"?>"), None)
            } else if rest.starts_with(b"<!") {
                (declaration_end(b, at + 2), None)
            } else if rest.starts_with(b"</") {
                // Quotes count in an end tag too, as quick-xml reads it (`</a'>…'>` is one tag).
                let end = tag_end(b, at + 2).0;
                (end, Some(Mark::End(at..end)))
            } else {
                let (end, empty) = tag_end(b, at + 1);
                let span = at..end;
                (
                    end,
                    Some(if empty {
                        Mark::Empty(span)
                    } else {
                        Mark::Start(span)
                    }),
                )
            };
            i = end;
            if mark.is_some() {
                return mark;
            }
        }
        None
    })
}

/// Just past the first `end` at or after `from` (the end of the text when there is none).
fn past(b: &[u8], from: usize, end: &[u8]) -> usize {
    memmem::find(&b[from..], end).map_or(b.len(), |q| from + q + end.len())
}

/// Just past a `<!…>` declaration (`from` is past its `<!`): a `<!DOCTYPE` as quick-xml reads
/// it ([`doctype_end`]), anything else at its first `>` (quick-xml refuses those).
fn declaration_end(b: &[u8], from: usize) -> usize {
    if matches!(b.get(from), Some(b'D' | b'd')) {
        return doctype_end(b, from);
    }
    memchr(b'>', &b[from..]).map_or(b.len(), |q| from + q + 1)
}

/// Just past a `<!DOCTYPE …>`, read as quick-xml's DTD parser reads it: quoted literals hide
/// `[` and `>` before the internal subset; inside it, comments, processing instructions and
/// quoted values of `<!ENTITY>`, `<!ATTLIST>` and `<!NOTATION>` hide `]` and `>`. (Read as
/// "up to the first `>` outside `[…]`", `<!DOCTYPE rss SYSTEM "a[b">` hid the whole document
/// that followed it from the checks, while the parser read it all.)
fn doctype_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    loop {
        let Some(k) = b[i..]
            .iter()
            .position(|c| matches!(c, b'\'' | b'"' | b'[' | b'>'))
        else {
            return b.len();
        };
        let c = b[i + k];
        i += k + 1;
        match c {
            b'>' => return i,
            b'[' => break,
            quote => match memchr(quote, &b[i..]) {
                Some(q) => i += q + 1,
                None => return b.len(),
            },
        }
    }
    loop {
        let Some(k) = memchr::memchr2(b']', b'<', &b[i..]) else {
            return b.len();
        };
        i += k + 1;
        if b[i - 1] == b']' {
            return memchr(b'>', &b[i..]).map_or(b.len(), |q| i + q + 1);
        }
        let markup = &b[i..];
        i = if markup.starts_with(b"?") {
            past(b, i + 1, b"?>")
        } else if markup.starts_with(b"!--") {
            past(b, i + 3, b"-->")
        } else if [&b"!ENTITY"[..], b"!ATTLIST", b"!NOTATION"]
            .iter()
            .any(|k| markup.starts_with(k))
        {
            tag_end(b, i).0
        } else {
            memchr(b'>', markup).map_or(b.len(), |q| i + q + 1)
        };
    }
}

/// Just past a start tag's `>` (quoted attribute values skipped), and whether it is empty
/// (`/>`).
fn tag_end(b: &[u8], from: usize) -> (usize, bool) {
    let mut quote = None;
    for (k, &c) in b[from..].iter().enumerate() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'>') => {
                let at = from + k;
                return (at + 1, at > from && b[at - 1] == b'/');
            }
            _ => {}
        }
    }
    (b.len(), false)
}

#[cfg(test)]
mod tests {
    //! The scan against documents whose tags are known.
    use super::*;

    fn listed(text: &str) -> Vec<(char, &str)> {
        marks(text)
            .map(|m| {
                let kind = match m {
                    Mark::Start(_) => 's',
                    Mark::Empty(_) => 'e',
                    Mark::End(_) => '/',
                };
                (kind, m.name(text))
            })
            .collect()
    }

    #[test]
    fn tags_are_listed_with_their_names() {
        assert_eq!(
            listed("<a x='>'><m:b/>t</a ><c\n/><m:/:g/><m:x/y:g>"),
            [
                ('s', "a"),
                ('e', "m:b"),
                ('/', "a"),
                ('e', "c"),
                ('e', "m:/:g"),
                ('s', "m:x/y:g")
            ]
        );
    }

    /// Regression (review): an end tag ended at its first `>`, while quick-xml reads quotes in
    /// it, so `</a'>x<b"'>` read as an end tag and a start tag whose quote ran on, and hid
    /// what followed from the checks (nested groups then overflowed
    /// the parser's stack).
    #[test]
    fn an_end_tag_ends_where_the_parser_ends_it() {
        assert_eq!(
            listed("<a'>x<b\"'></a'>x<b\"'><c/>"),
            [('s', "a'>x<b\"'"), ('/', "a'>x<b\"'"), ('e', "c")]
        );
    }

    #[test]
    fn markup_that_holds_no_elements_is_skipped() {
        for quiet in [
            "<!--<a>-->",
            "<![CDATA[<a>]]>",
            "<?pi <a>?>",
            "<!DOCTYPE x [<!ENTITY e '>'> <a>]>",
        ] {
            assert_eq!(listed(quiet), [], "{quiet}");
        }
    }

    /// Regression: the scan took a DOCTYPE to end at its first `>` outside `[…]`, so a `[` in
    /// a quoted literal hid every tag after it from the depth and copy checks (20,000 nested
    /// groups then overflowed the parser's stack), while quick-xml read them all.
    #[test]
    fn a_doctype_ends_where_the_parser_ends_it() {
        for doctype in [
            r#"<!DOCTYPE rss SYSTEM "a[b">"#,
            r#"<!DOCTYPE rss PUBLIC "-//x>" 'y]'>"#,
            r#"<!DOCTYPE rss [<!ENTITY e "]>"> <!-- ]> --> <?pi ]>?> <!ATTLIST a b CDATA '>'>]>"#,
            "<!doctype html>",
        ] {
            assert_eq!(listed(&format!("{doctype}<a/>")), [('e', "a")], "{doctype}");
        }
    }

    #[test]
    fn truncated_markup_never_panics() {
        for s in [
            "<",
            "</",
            "<!--",
            "<![CDATA[",
            "<?",
            "<!",
            "<a",
            "<a '",
            "<a/",
            "</a",
        ] {
            let all: Vec<Mark> = marks(s).collect();
            assert!(all.iter().all(|m| m.span().end == s.len()), "{s}");
            assert_eq!(
                all.len(),
                usize::from(!s.starts_with("<!") && !s.starts_with("<?")),
                "{s}"
            );
        }
    }
}
