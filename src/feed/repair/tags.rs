//! The start and end tags of a document as the parser reads them, with where each begins and
//! ends: what the repairs that cut or drop items ([`super::truncated`], [`super::salvage`])
//! need to know about the document's structure.
//!
//! Owns [`tags`], [`Tag`], [`elements`] and [`Element`].

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

/// One element whose end was read: its qualified name, how deep it sits (the root at 0), its
/// start tag, and its end tag (`None` for `<name/>`).
pub(super) struct Element {
    pub name: String,
    pub depth: usize,
    pub start_tag: Range<usize>,
    pub end_tag: Option<Range<usize>>,
}

impl Element {
    /// The bytes from its start tag to its end tag.
    pub fn span(&self) -> Range<usize> {
        self.start_tag.start..self.end_tag.as_ref().map_or(self.start_tag.end, |e| e.end)
    }
}

/// The elements of `text` in document order (by where they start), those left open at its end
/// left out; `None` on a syntax error or an end tag without its start.
pub(super) fn elements(text: &str) -> Option<Vec<Element>> {
    // Each element as its start tag is read, its end tag filled in when that comes.
    let mut all: Vec<(Element, bool)> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for tag in tags(text)? {
        let (name, start_tag, empty) = match tag {
            Tag::Start(name, span) => (name, span, false),
            Tag::Empty(name, span) => (name, span, true),
            Tag::End(end_tag) => {
                let (element, closed) = all.get_mut(open.pop()?)?;
                element.end_tag = Some(end_tag);
                *closed = true;
                continue;
            }
        };
        let depth = open.len();
        if !empty {
            open.push(all.len());
        }
        let end_tag = None;
        // An empty element is closed as it is read.
        all.push((
            Element {
                name,
                depth,
                start_tag,
                end_tag,
            },
            empty,
        ));
    }
    Some(
        all.into_iter()
            .filter(|(_, closed)| *closed)
            .map(|(e, _)| e)
            .collect(),
    )
}
