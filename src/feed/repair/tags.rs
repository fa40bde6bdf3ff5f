//! The start and end tags of a document as the parser reads them, with where each begins and
//! ends: what the repairs that cut or drop items ([`super::truncated`], [`super::salvage`])
//! need to know about the document's structure.
//!
//! Owns [`tags`] and [`Tag`].

use std::ops::Range;

/// One tag, with the bytes it spans.
pub(super) enum Tag {
    Start(String, Range<usize>),
    /// `<name/>`.
    Empty(String, Range<usize>),
    End(Range<usize>),
}

/// The tags of `text` in order (text, comments and the rest left out); `None` on a syntax
/// error, when there is no reliable structure to read.
pub(super) fn tags(text: &str) -> Option<Vec<Tag>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = Vec::new();
    loop {
        let at = usize::try_from(reader.buffer_position()).ok()?;
        let event = reader.read_event().ok()?;
        let span = at..usize::try_from(reader.buffer_position()).ok()?;
        out.push(match event {
            Event::Start(t) => Tag::Start(t.name().as_ref().to_owned(), span),
            Event::Empty(t) => Tag::Empty(t.name().as_ref().to_owned(), span),
            Event::End(_) => Tag::End(span),
            Event::Eof => break,
            _ => continue,
        });
    }
    Some(out)
}
