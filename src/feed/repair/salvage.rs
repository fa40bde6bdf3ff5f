//! The last resort for an XML feed the parser still refuses after the repairs: find the items
//! or entries it refuses on their own, read them with their text alone, and read the feed
//! without those that still fail.
//!
//! Owns [`drop_unreadable_items`] and [`Salvaged`]. One entry the parser library cannot read
//! (an Atom `<content type="image/png"/>` with neither body nor `src`: "missing content")
//! failed the whole feed, and held back every other item for as long as it was listed; then it
//! was dropped, and a watch never saw its title.

use std::ops::Range;

use super::tags::{MAX_DEPTH, Tag, any_tags, elements, end_name};
use crate::feed::cap::is_item_name;

/// Work allowed for trying each item alone, in bytes parsed: every try parses the feed's text
/// around its items once more, so a feed whose text outside the items is long, with many
/// items, is not tried item by item (its failure stands). At most 4 times the document, too:
/// a small one is parsed in place, on the runtime's threads. The refused items' second and
/// third tries (their text alone) have as much again.
pub(crate) const MAX_TRIED_BYTES: usize = 16 << 20;

/// Items tried one by one at most: each try sets a parser up again.
pub(crate) const MAX_TRIED_ITEMS: usize = 2_000;

/// An item's children a watch reads (by local name), kept when the item is read with its
/// text alone: ids, links, titles, summaries and contents, dates, categories and authors.
const TEXT: &[&str] = &[
    "title",
    "link",
    "guid",
    "id",
    "description",
    "summary",
    "content",
    "encoded",
    "pubDate",
    "published",
    "updated",
    "date",
    "category",
    "subject",
    "author",
    "creator",
];

/// Prefixes of the media and podcast extensions: their elements are no text a watch reads
/// (a `media:content` or `media:title` is neither the item's content nor its title), and a
/// malformed one is what a parser most often refuses.
const MEDIA_PREFIXES: &[&str] = &["media", "itunes", "podcast", "googleplay", "yt", "enc"];

/// Whether a child (by its qualified name) is [`TEXT`] outside the media extensions.
fn is_text(name: &str) -> bool {
    let (prefix, local) = name.rsplit_once(':').unwrap_or(("", name));
    TEXT.contains(&local) && !MEDIA_PREFIXES.contains(&prefix)
}

/// What the last resort made of a document.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Salvaged {
    pub text: String,
    /// Items read with their text alone (their other children dropped).
    pub stripped: usize,
    /// Items dropped: refused even so.
    pub dropped: usize,
}

impl Salvaged {
    /// The repairs to report: items read with their text alone, items dropped.
    pub fn repairs(&self) -> impl Iterator<Item = super::Repair> {
        let stripped = (self.stripped > 0).then_some(super::Repair::UnreadableFields);
        let dropped = (self.dropped > 0).then_some(super::Repair::UnreadableItems);
        stripped.into_iter().chain(dropped)
    }
}

/// The document with the items or entries `reads` refuses, each tried alone in the text
/// around the items, read with their text alone ([`is_text`]; then without their contents and
/// authors either), or dropped when even that fails; `None` when the document's items cannot
/// be told (other syntax errors), trying them would cost more than [`MAX_TRIED_BYTES`], or
/// every item reads as it is, or none even with its text alone (then the fault is not in the
/// items).
pub(crate) fn drop_unreadable_items(text: &str, reads: impl Fn(&str) -> bool) -> Option<Salvaged> {
    let items = item_ranges(text)?;
    let (first, last) = (items.first()?.start, items.last()?.end);
    let (head, tail) = (text.get(..first)?, text.get(last..)?);
    let around = head.len() + tail.len();
    let work = around
        .saturating_mul(items.len())
        .saturating_add(last - first);
    let limit = MAX_TRIED_BYTES.min(text.len().saturating_mul(4));
    if items.len() > MAX_TRIED_ITEMS || work > limit {
        return None;
    }
    let alone = |item: &str| reads(&format!("{head}{item}{tail}"));
    let refused: Vec<&Range<usize>> = items
        .iter()
        .filter(|r| text.get((*r).clone()).is_none_or(|item| !alone(item)))
        .collect();
    if refused.is_empty() {
        return None;
    }
    let every = refused.len() == items.len();
    // The text as it is, each refused item replaced by its text alone or cut out: what
    // stands between items stays.
    let mut out = Salvaged {
        text: String::with_capacity(text.len()),
        stripped: 0,
        dropped: 0,
    };
    // The retries' own bounds: bytes parsed as for the first tries, and parser runs.
    let (mut spent, mut runs) = (0usize, 0usize);
    let mut from = 0;
    for r in refused {
        out.text.push_str(text.get(from..r.start)?);
        from = r.end;
        let item = text.get(r.clone())?;
        let mut text_only = None;
        let mut tried: Option<String> = None;
        let tries: [&dyn Fn(&str) -> bool; 2] = [&is_text, &|name| {
            is_text(name) && !is_body_or_author(name.rsplit(':').next().unwrap_or(name))
        }];
        for keep in tries {
            let Some(kept) = keep_children(item, keep) else {
                continue;
            };
            // An item with no contents or authors: the second try is the first again.
            if tried.as_ref() == Some(&kept) {
                break;
            }
            spent = spent.saturating_add(around + kept.len());
            runs += 1;
            if spent > limit || runs > MAX_TRIED_ITEMS {
                break;
            }
            if alone(&kept) {
                text_only = Some(kept);
                break;
            }
            tried = Some(kept);
        }
        match text_only {
            Some(kept) => {
                out.text.push_str(&kept);
                out.stripped += 1;
            }
            None => out.dropped += 1,
        }
    }
    out.text.push_str(text.get(from..)?);
    // No item read, even with its text alone: the fault is not in the items.
    (!every || out.stripped > 0).then_some(out)
}

/// A content or author element: the children whose own structure (a `type`, nested names) a
/// parser may refuse when an item's title and summary read.
fn is_body_or_author(name: &str) -> bool {
    matches!(name, "content" | "encoded" | "author" | "creator")
}

/// `item` (one element) with only the closed children whose qualified name `keep` takes;
/// `None` when it has no markup to drop, or its structure cannot be read.
fn keep_children(item: &str, keep: &dyn Fn(&str) -> bool) -> Option<String> {
    let all = elements(item)?;
    let (root, inside) = all.split_first()?;
    let close = root.end_tag.as_ref()?;
    let mut out = String::from(item.get(..root.start_tag.end)?);
    // Markup between the children taken is dropped: a child not taken, and one never closed
    // (`<category>A <b B</category>` leaves the category open), which the parser refused.
    // A child is an element that starts after the one before it ended: not by its depth,
    // which a child never closed raises for every sibling after it (they were all dropped).
    let mut dropped = false;
    // Where the text copied ends, and where the last child ends (what starts before it is
    // inside it).
    let (mut from, mut child_end) = (root.start_tag.end, root.start_tag.end);
    for child in inside.iter() {
        let span = child.span();
        if span.start < child_end {
            continue;
        }
        child_end = span.end;
        if !keep(&child.name) {
            dropped = true;
            continue;
        }
        dropped |= item.get(from..span.start)?.contains('<');
        out.push_str(item.get(span.clone())?);
        from = span.end;
    }
    dropped |= item.get(from..close.start)?.contains('<');
    out.push_str(item.get(close.start..)?);
    dropped.then_some(out)
}

/// Where each top-level item or entry element is (start tag to end tag, in document order;
/// an item inside another is part of it); `None` on a syntax error, an end tag without its
/// start, or elements nested deeper than [`MAX_DEPTH`]. Read from the tags as they come,
/// keeping only the open elements: a list of every element of a 16 MiB document of `<a/>`
/// took some 300 MB.
fn item_ranges(text: &str) -> Option<Vec<Range<usize>>> {
    // Each item or entry read whole, and each open element: where its start tag begins, if
    // it is an item or entry.
    let mut closed: Vec<Range<usize>> = Vec::new();
    let mut open: Vec<Option<usize>> = Vec::new();
    for tag in any_tags(text) {
        if open.len() > MAX_DEPTH {
            return None;
        }
        match tag.ok()? {
            Tag::Start(name, span) => open.push(is_item_name(&name).then_some(span.start)),
            Tag::Empty(name, span) if is_item_name(&name) => closed.push(span),
            Tag::Empty(..) => {}
            // An item's end tag ends the item open, whatever its children left open or
            // closed twice (`<author>Jane <jane@example.com></author>`): counted tag by tag,
            // the item ran to the channel's end tag, and the item tried alone was no item.
            Tag::End(span) if is_item_name(end_name(text, &span)) => {
                while let Some(top) = open.pop() {
                    if let Some(start) = top {
                        closed.push(start..span.end);
                        break;
                    }
                }
            }
            Tag::End(span) => {
                if let Some(start) = open.pop()? {
                    closed.push(start..span.end);
                }
            }
        }
    }
    // In document order; one inside another is part of it.
    closed.sort_by_key(|r| r.start);
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for r in closed {
        if ranges.last().is_none_or(|last| r.start >= last.end) {
            ranges.push(r);
        }
    }
    Some(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items are found from the tags as they are read (a list of every element of the
    /// document was kept before, some 300 MB for 16 MiB of `<a/>`): top-level items in
    /// document order, an item inside another part of it, also inside an element left open,
    /// and a document nested deeper than [`MAX_DEPTH`] is not read.
    #[test]
    fn items_are_found_as_the_tags_are_read_and_deep_nesting_is_refused() {
        let text = "<rss><channel><item><a/><item>x</item></item><item/><entry>e</entry>";
        let got: Vec<&str> = item_ranges(text)
            .unwrap()
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(
            got,
            [
                "<item><a/><item>x</item></item>",
                "<item/>",
                "<entry>e</entry>"
            ]
        );
        // Inside an item left open, the items read whole are listed.
        let open = "<rss><item><item>a</item><item>b</item>";
        let got: Vec<&str> = item_ranges(open)
            .unwrap()
            .into_iter()
            .map(|r| &open[r])
            .collect();
        assert_eq!(got, ["<item>a</item>", "<item>b</item>"]);
        assert_eq!(item_ranges("<rss></item></rss>"), None);
        let deep = format!("<rss>{}<item/>", "<a>".repeat(MAX_DEPTH + 1));
        assert_eq!(item_ranges(&deep), None);
        let shallow = format!("<rss>{}<item/>", "<a>".repeat(MAX_DEPTH - 1));
        assert_eq!(item_ranges(&shallow).map(|r| r.len()), Some(1));
        // An item's elements are listed up to MAX_ELEMENTS, that many included.
        let item = |n: usize| format!("<item>{}</item>", "<a/>".repeat(n - 1));
        let most = super::super::tags::MAX_ELEMENTS;
        assert_eq!(elements(&item(most)).map(|e| e.len()), Some(most));
        assert!(elements(&item(most + 1)).is_none());
    }

    #[test]
    fn the_items_the_parser_refuses_are_dropped_and_the_rest_kept() {
        let text = "<rss><channel><title>t</title><item><title>a</title></item>\
                    <item><title>bad</title></item><item/><item><title>c</title></item>\
                    </channel></rss>";
        let reads = |t: &str| !t.contains("bad");
        assert_eq!(
            drop_unreadable_items(text, reads)
                .map(|s| s.text)
                .as_deref(),
            Some(
                "<rss><channel><title>t</title><item><title>a</title></item>\
                 <item/><item><title>c</title></item></channel></rss>"
            )
        );
        assert_eq!(drop_unreadable_items(text, |_| true), None);
        assert_eq!(drop_unreadable_items(text, |_| false), None);
        // Not well-formed: nothing is tried.
        assert_eq!(drop_unreadable_items("<rss><item></rss>", reads), None);
    }

    #[test]
    fn a_document_whose_items_cost_too_much_to_try_one_by_one_is_left_as_it_is() {
        let tried = std::cell::Cell::new(0);
        let reads = |t: &str| {
            tried.set(tried.get() + 1);
            !t.contains("bad")
        };
        // Long text around 20 items: 20 tries of 1 MiB each are more than 4 times the text.
        let head = format!("<rss><channel><title>{}</title>", "x".repeat(1 << 20));
        let items = format!("{}<item>bad</item>", "<item>ok</item>".repeat(19));
        let text = format!("{head}{items}</channel></rss>");
        assert_eq!(drop_unreadable_items(&text, reads), None);
        // More items than are tried one by one.
        let many = format!(
            "<rss>{}<item>bad</item></rss>",
            "<item/>".repeat(MAX_TRIED_ITEMS)
        );
        assert_eq!(drop_unreadable_items(&many, reads), None);
        assert_eq!(tried.get(), 0);
        // Within both bounds, the same shape is tried.
        let few = "<rss><item>ok</item><item>bad</item></rss>";
        assert_eq!(
            drop_unreadable_items(few, reads).map(|s| s.text).as_deref(),
            Some("<rss><item>ok</item></rss>")
        );
    }

    /// An item refused for a field a watch does not read is kept with its text alone: first
    /// with its contents and authors, then without them too; one refused even so is dropped.
    #[test]
    fn a_refused_item_is_read_by_its_text_alone_before_it_is_dropped() {
        let text = "<rss><channel><title>t</title>\
                    <item><title>a</title></item>\
                    <item><title>b</title><media:thumbnail bad=\"1\"/><enclosure>bad</enclosure>\
                    <description>d</description></item>\
                    <item><title>c</title><content:encoded>bad</content:encoded><x:y/></item>\
                    <item><title>d</title><content:encoded>body</content:encoded>\
                    <media:content>bad</media:content><media:title>x</media:title></item>\
                    <item><title>bad</title><foo/></item>\
                    </channel></rss>";
        let reads = |t: &str| !t.contains("bad");
        let salvaged = drop_unreadable_items(text, reads).unwrap();
        assert_eq!(
            salvaged.text,
            "<rss><channel><title>t</title>\
             <item><title>a</title></item>\
             <item><title>b</title><description>d</description></item>\
             <item><title>c</title></item>\
             <item><title>d</title><content:encoded>body</content:encoded></item>\
             </channel></rss>"
        );
        // `d` keeps its content: `media:content` is no content of the item's own.
        assert_eq!((salvaged.stripped, salvaged.dropped), (3, 1));
        assert_eq!(
            salvaged.repairs().collect::<Vec<_>>(),
            [
                super::super::Repair::UnreadableFields,
                super::super::Repair::UnreadableItems
            ]
        );
        // Every item refused as it is, but read with its text alone: salvaged too (a
        // generator that writes every enclosure wrong).
        let every = "<rss><item><title>a</title><enclosure>bad</enclosure></item>\
                     <item><title>b</title><enclosure>bad</enclosure></item></rss>";
        let salvaged = drop_unreadable_items(every, reads).unwrap();
        assert_eq!(
            salvaged.text,
            "<rss><item><title>a</title></item><item><title>b</title></item></rss>"
        );
        // None read, even so: the fault is elsewhere.
        assert_eq!(drop_unreadable_items(every, |_| false), None);
    }
}
