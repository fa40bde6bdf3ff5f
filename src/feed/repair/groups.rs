//! Media RSS groups and ratings the parser would copy past all bounds: dropped before it
//! reads them.
//!
//! Owns [`drop_costly_media_groups`]. feed-rs copies an item's Media RSS fields (title,
//! description, thumbnails, credits, texts, community, rating) into every `<media:group>` under
//! it, nested groups included, and a scope's rating into each of its `<media:content>`s, so a
//! long field and many groups multiply: a 100 KB `<media:title>` over 2,000 groups (218 KB)
//! took 204 MB, a 100 KB `<media:rating>` over 2,000 contents 201 MB, and 16 MiB of empty
//! `<media:group/>`s 1.4 GB. Where the copies could pass [`COPY_BUDGET`], every group but the
//! first of each item is dropped, whole (nested groups too, and the first when the item's own
//! fields pass [`KEEP_LIMIT`]), and every rating (nothing of ours reads them): the item's own
//! media fields still come out once, with its first group, as they did.
//! Whole, not unwrapped: a group's tag can declare the namespace its children are read in, and
//! its children read as the item's would replace the item's own.
//! Crossing the boundary: decoded text in, the rewritten text out (`None` when it is cheap).

use std::collections::HashSet;
use std::ops::Range;

use super::lexical::{Mark, XML_SPACE, marks};
use super::splice;

/// The Media RSS namespace, as feed-rs recognises it (the exact string).
const MRSS: &str = "http://search.yahoo.com/mrss/";

/// Bytes the parser may be made to copy or keep for groups.
const COPY_BUDGET: u64 = 64 * 1024 * 1024;

/// What the parser keeps for each group beyond the fields copied into it (measured: 1.1
/// million empty groups took 1.4 GB, some 1.3 KB each).
const GROUP_COST: u64 = 1536;

/// The most an item's own media fields may cost for its first group to be kept: they are
/// copied into it once.
const KEEP_LIMIT: u64 = 1024 * 1024;

/// What a field copied costs beyond its text: the structure it is kept in (a 21-byte
/// `<media:thumbnail url=""/>` is a 248-byte thumbnail).
const FIELD_COST: u64 = 256;

/// Deepest nesting followed: the depth check ([`crate::feed::parse`]) refuses deeper
/// documents before this runs; the bound keeps this scan's own stack small without it.
const MAX_DEPTH: usize = 1024;

/// Drops every Media RSS group but the first of each item, and every rating, when the copies
/// the parser would make could pass [`COPY_BUDGET`]; `None` when they cannot (or nothing is
/// left to drop).
pub(crate) fn drop_costly_media_groups(text: &str) -> Option<String> {
    // Cheap tests first: most feeds have no Media RSS, most of the rest no groups or ratings.
    if !text.contains(MRSS) || !(text.contains("group") || text.contains("rating")) {
        return None;
    }
    let names = MediaNames::declared(text);
    if Survey::of(text, &names, false)?.cost <= COPY_BUDGET {
        return None;
    }
    // Read again to note what to cut: most documents never get here, and the list can be long.
    let cuts = Survey::of(text, &names, true)?.cuts;
    (!cuts.is_empty()).then(|| splice(text, cuts.into_iter().map(|c| (c, "")).collect()))
}

/// What an element is to the parser's Media RSS reading.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An item, or any element that is not Media RSS: fields under it are its own.
    Scope,
    /// `<media:group>`: a scope that inherits its parent's fields.
    Group,
    /// `<media:content>`: its fields belong to the scope around it; it takes that scope's
    /// rating.
    Content,
    /// A field copied into groups.
    Field,
    /// `<media:rating>`: copied into groups and into contents.
    Rating,
}

/// An open element, with what is known of its scope so far.
struct Frame {
    kind: Kind,
    tag: Range<usize>,
    /// Index of the scope (or group) this element's fields, contents and groups count toward.
    around: Option<usize>,
    /// What the fields written directly in this scope cost to copy, and of those its rating.
    own: u64,
    rating: u64,
    /// Groups under this scope (nested ones too), and contents in it and in them.
    groups: u64,
    contents: u64,
    /// The first group directly under this scope (not a group): kept when the scope's own
    /// fields are short enough to copy once.
    first_group: Option<Range<usize>>,
}

/// The cost of a document's groups and what to cut to remove it.
struct Survey {
    cost: u64,
    /// Group and rating elements, in the order their ends were read (when asked for).
    cuts: Vec<Range<usize>>,
    collect: bool,
}

impl Survey {
    /// The cost of `text`'s groups, and the elements to cut when `collect`; `None` for a
    /// document nested past [`MAX_DEPTH`].
    fn of(text: &str, names: &MediaNames, collect: bool) -> Option<Survey> {
        let mut survey = Survey {
            cost: 0,
            cuts: Vec::new(),
            collect,
        };
        let mut open: Vec<Frame> = Vec::new();
        for mark in marks(text) {
            let tag = mark.span();
            let kind = match &mark {
                Mark::End(_) => {
                    if let Some(frame) = open.pop() {
                        survey.close(&mut open, frame, tag);
                    }
                    continue;
                }
                Mark::Start(_) | Mark::Empty(_) => names.kind(mark.name(text)),
            };
            // Fields inside a content belong to the scope around the content.
            let around = match open.last() {
                Some(parent) if parent.kind == Kind::Content => parent.around,
                Some(_) => Some(open.len() - 1),
                None => None,
            };
            let frame = Frame {
                kind,
                tag: tag.clone(),
                around,
                own: 0,
                rating: 0,
                groups: 0,
                contents: 0,
                first_group: None,
            };
            if matches!(mark, Mark::Empty(_)) {
                survey.close(&mut open, frame, tag.end..tag.end);
            } else if open.len() == MAX_DEPTH {
                return None;
            } else {
                open.push(frame);
            }
        }
        // Elements left open (a truncated document) are closed where the text ends.
        while let Some(frame) = open.pop() {
            survey.close(&mut open, frame, text.len()..text.len());
        }
        Some(survey)
    }

    /// Accounts for an element whose end tag (`end`, empty for `<name/>`) was read; `open`
    /// holds the elements around it.
    fn close(&mut self, open: &mut [Frame], frame: Frame, end: Range<usize>) {
        let element = frame.tag.start..end.end.max(frame.tag.end);
        let copied = element.len() as u64 + FIELD_COST;
        let around = frame.around.and_then(|i| open.get_mut(i));
        match frame.kind {
            Kind::Field | Kind::Rating => {
                if let Some(scope) = around {
                    scope.own += copied;
                    if frame.kind == Kind::Rating {
                        scope.rating += copied;
                    }
                }
                if frame.kind == Kind::Rating {
                    self.cut(element);
                }
            }
            Kind::Content => {
                if let Some(scope) = around {
                    scope.contents += 1;
                }
            }
            Kind::Group | Kind::Scope => {
                // Every field into each group under the scope; the rating into each content.
                let copies = frame
                    .own
                    .saturating_mul(frame.groups)
                    .saturating_add(frame.rating.saturating_mul(frame.contents));
                self.cost = self.cost.saturating_add(copies);
                if frame.kind == Kind::Scope
                    && let Some(first) = frame.first_group
                    && frame.own > KEEP_LIMIT
                {
                    self.cut(first);
                }
                if frame.kind == Kind::Group {
                    self.cost = self.cost.saturating_add(GROUP_COST);
                    match around {
                        Some(scope) => {
                            scope.groups += frame.groups + 1;
                            scope.contents += frame.contents;
                            // The first group of an item is kept (for now); a group inside a
                            // group never is: a chain of firsts would copy at every level.
                            if scope.kind == Kind::Scope && scope.first_group.is_none() {
                                scope.first_group = Some(element);
                            } else {
                                self.cut(element);
                            }
                        }
                        None => self.cut(element),
                    }
                }
            }
        }
    }

    /// Notes an element to cut, when cuts are collected.
    fn cut(&mut self, element: Range<usize>) {
        if self.collect {
            self.cuts.push(element);
        }
    }
}

/// The names the document gives the Media RSS namespace: its prefixes, and whether it is a
/// default namespace somewhere (declarations are taken document-wide, not by scope: a name
/// counted that the parser would not read only makes the estimate higher).
struct MediaNames<'a> {
    prefixes: HashSet<&'a str>,
    default: bool,
}

impl<'a> MediaNames<'a> {
    /// Every `xmlns:prefix="…mrss/"` and `xmlns="…mrss/"` of the document, wherever it is.
    fn declared(text: &'a str) -> Self {
        let mut names = MediaNames {
            prefixes: HashSet::new(),
            default: false,
        };
        for (at, _) in text.match_indices(MRSS) {
            let Some(quote) = text[..at].chars().next_back() else {
                continue;
            };
            if !matches!(quote, '"' | '\'') || !text[at + MRSS.len()..].starts_with(quote) {
                continue;
            }
            let Some(before) = text[..at - 1].trim_end_matches(XML_SPACE).strip_suffix('=') else {
                continue;
            };
            let before = before.trim_end_matches(XML_SPACE);
            // The attribute's name, as quick-xml delimits it: anything after white space (or
            // the quote that closed the value before it).
            let name_start = before
                .rfind(|c: char| XML_SPACE.contains(&c) || matches!(c, '"' | '\''))
                .map_or(0, |i| i + 1);
            let name = &before[name_start..];
            if name == "xmlns" {
                names.default = true;
            } else if let Some(prefix) = name.strip_prefix("xmlns:") {
                names.prefixes.insert(prefix);
            }
        }
        names
    }

    /// What the element of this qualified name is to the parser: its prefix is what comes
    /// before the first `:` (quick-xml), its local name what comes after the last (feed-rs:
    /// `<media:x:group>` is a group).
    fn kind(&self, qualified: &str) -> Kind {
        let local = match qualified.split_once(':') {
            Some((prefix, rest)) if self.prefixes.contains(prefix) => {
                rest.rsplit(':').next().unwrap_or(rest)
            }
            None if self.default => qualified,
            _ => return Kind::Scope,
        };
        match local {
            "group" => Kind::Group,
            "content" => Kind::Content,
            "rating" => Kind::Rating,
            "title" | "description" | "thumbnail" | "credit" | "text" | "community" => Kind::Field,
            _ => Kind::Scope,
        }
    }
}

#[cfg(test)]
mod tests;
