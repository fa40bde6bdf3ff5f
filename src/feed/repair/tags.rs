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

/// The name in the end tag at `span` (`</name >`).
pub(super) fn end_name<'t>(text: &'t str, span: &Range<usize>) -> &'t str {
    text.get(span.clone())
        .unwrap_or_default()
        .trim_start_matches("</")
        .trim_end_matches('>')
        .trim_end()
}

/// How deep elements may nest before a repair gives up on the document: far deeper than any
/// feed, and a bound on what a document of nothing but start tags (16 MiB of `<a>`) makes
/// the repairs keep (four million open elements, each a name).
pub(super) const MAX_DEPTH: usize = 1024;

/// Most elements [`elements`] lists: more than any one item holds (it reads one item at a
/// time).
pub(super) const MAX_ELEMENTS: usize = 100_000;

/// The tags of `text` in order (text, comments and the rest left out), read as they come: an
/// `Err` on a syntax error, when there is no reliable structure to read, and nothing after
/// it. Read, not collected: a list of every tag of a 16 MiB document of `<a/>` took some
/// 300 MB.
pub(super) fn tags(text: &str) -> impl Iterator<Item = Result<Tag, ()>> + '_ {
    read_tags(text, true)
}

/// As [`tags`], an end tag that does not match the open element being no error: the salvage
/// of items ([`elements`], `salvage::item_ranges`) matches end tags to elements by name.
pub(super) fn any_tags(text: &str) -> impl Iterator<Item = Result<Tag, ()>> + '_ {
    read_tags(text, false)
}

fn read_tags(text: &str, check_end_names: bool) -> impl Iterator<Item = Result<Tag, ()>> + '_ {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = check_end_names;
    let mut failed = false;
    std::iter::from_fn(move || {
        while !failed {
            let at = reader.buffer_position();
            let read = reader.read_event().ok().and_then(|event| {
                let span =
                    usize::try_from(at).ok()?..usize::try_from(reader.buffer_position()).ok()?;
                Some((event, span))
            });
            let Some((event, span)) = read else {
                failed = true;
                return Some(Err(()));
            };
            return match event {
                Event::Start(t) => Some(Ok(Tag::Start(t.name().as_ref().to_owned(), span))),
                Event::Empty(t) => Some(Ok(Tag::Empty(t.name().as_ref().to_owned(), span))),
                Event::End(_) => Some(Ok(Tag::End(span))),
                Event::Eof => None,
                _ => continue,
            };
        }
        None
    })
}

/// One element whose end was read: its qualified name, its
/// start tag, and its end tag (`None` for `<name/>`).
pub(super) struct Element {
    pub name: String,
    pub start_tag: Range<usize>,
    pub end_tag: Option<Range<usize>>,
}

impl Element {
    /// The bytes from its start tag to its end tag.
    pub fn span(&self) -> Range<usize> {
        self.start_tag.start..self.end_tag.as_ref().map_or(self.start_tag.end, |e| e.end)
    }
}

/// The elements of `text` in document order (by where they start), those never closed left
/// out (an end tag closes the nearest open element of its name; one with none open is
/// skipped); `None` on a syntax error, elements nested deeper than [`MAX_DEPTH`] or more than
/// [`MAX_ELEMENTS`] of them.
pub(super) fn elements(text: &str) -> Option<Vec<Element>> {
    // Each element as its start tag is read, its end tag filled in when that comes.
    let mut all: Vec<(Element, bool)> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for tag in any_tags(text) {
        if open.len() > MAX_DEPTH {
            return None;
        }
        let (name, start_tag, empty) = match tag.ok()? {
            Tag::Start(name, span) => (name, span, false),
            Tag::Empty(name, span) => (name, span, true),
            // An end tag closes the nearest open element of its name; those opened after it
            // stay unclosed (`<author>Jane <jane@example.com></author>`), and one with no
            // such element open is stray: counted tag by tag, either made the item's own end
            // tag close one of its children, and the item could not be read by its text.
            Tag::End(end_tag) => {
                let name = end_name(text, &end_tag);
                let Some(k) = open.iter().rposition(|&i| all[i].0.name == name) else {
                    continue;
                };
                let (element, closed) = all.get_mut(open[k])?;
                open.truncate(k);
                element.end_tag = Some(end_tag);
                *closed = true;
                continue;
            }
        };
        if all.len() == MAX_ELEMENTS {
            return None;
        }
        if !empty {
            open.push(all.len());
        }
        let end_tag = None;
        // An empty element is closed as it is read.
        all.push((
            Element {
                name,
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
