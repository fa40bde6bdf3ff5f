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

    /// The tag's qualified name (`media:group`), as written.
    pub fn name<'a>(&self, text: &'a str) -> &'a str {
        let span = self.span();
        let from = span.start + if matches!(self, Mark::End(_)) { 2 } else { 1 };
        let tag = text.get(from.min(span.end)..span.end).unwrap_or_default();
        let len = tag
            .find(|c: char| c.is_ascii_whitespace() || matches!(c, '/' | '>'))
            .unwrap_or(tag.len());
        &tag[..len]
    }
}

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
                let end = memchr(b'>', rest).map_or(b.len(), |q| at + q + 1);
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

/// Just past a `<!…>` declaration, its internal subset (`[…]`) included.
fn declaration_end(b: &[u8], from: usize) -> usize {
    let mut in_subset = false;
    for (k, &c) in b[from..].iter().enumerate() {
        match c {
            b'[' => in_subset = true,
            b']' => in_subset = false,
            b'>' if !in_subset => return from + k + 1,
            _ => {}
        }
    }
    b.len()
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
            listed("<a x='>'><m:b/>t</a ><c\n/>"),
            [('s', "a"), ('e', "m:b"), ('/', "a"), ('e', "c")]
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
