//! The last resort for an XML feed the parser still refuses after the repairs: find the items
//! or entries it refuses on their own, and read the feed without them.
//!
//! Owns [`drop_unreadable_items`]. One entry the parser library cannot read (an Atom
//! `<content type="image/png"/>` with neither body nor `src`: "missing content") failed the
//! whole feed, and held back every other item for as long as it was listed.

use std::ops::Range;

use super::tags::{Tag, tags};
use crate::feed::cap::is_item_name;

/// Work allowed for trying each item alone, in bytes parsed: every try parses the feed's text
/// around its items once more, so a feed whose text outside the items is long, with many
/// items, is not tried item by item (its failure stands). At most 4 times the document, too:
/// a small one is parsed in place, on the runtime's threads.
pub(crate) const MAX_TRIED_BYTES: usize = 16 << 20;

/// Items tried one by one at most: each try sets a parser up again.
pub(crate) const MAX_TRIED_ITEMS: usize = 2_000;

/// The document without the items or entries `reads` refuses, each tried alone in the text
/// around the items; `None` when the document's items cannot be told (other syntax errors),
/// trying them would cost more than [`MAX_TRIED_BYTES`], or every item reads or none does
/// (then the fault is not in the items).
pub(crate) fn drop_unreadable_items(text: &str, reads: impl Fn(&str) -> bool) -> Option<String> {
    let items = item_ranges(text)?;
    let (first, last) = (items.first()?.start, items.last()?.end);
    let (head, tail) = (text.get(..first)?, text.get(last..)?);
    let around = head.len() + tail.len();
    let work = around
        .saturating_mul(items.len())
        .saturating_add(last - first);
    if items.len() > MAX_TRIED_ITEMS || work > MAX_TRIED_BYTES.min(text.len().saturating_mul(4)) {
        return None;
    }
    let refused: Vec<&Range<usize>> = items
        .iter()
        .filter(|r| {
            text.get((*r).clone())
                .is_none_or(|item| !reads(&format!("{head}{item}{tail}")))
        })
        .collect();
    if refused.is_empty() || refused.len() == items.len() {
        return None;
    }
    // The text as it is, the refused items cut out: what stands between items stays.
    let mut kept = String::with_capacity(text.len());
    let mut from = 0;
    for r in refused {
        kept.push_str(text.get(from..r.start)?);
        from = r.end;
    }
    kept.push_str(text.get(from..)?);
    Some(kept)
}

/// Where each top-level item or entry element is (start tag to end tag, in document order);
/// `None` on a syntax error.
fn item_ranges(text: &str) -> Option<Vec<Range<usize>>> {
    let mut ranges = Vec::new();
    // The depth of the open item, and where it started.
    let mut open: Option<(usize, usize)> = None;
    let mut depth = 0usize;
    for tag in tags(text)? {
        match tag {
            Tag::Start(name, span) => {
                if open.is_none() && is_item_name(&name) {
                    open = Some((depth, span.start));
                }
                depth += 1;
            }
            Tag::Empty(name, span) if open.is_none() && is_item_name(&name) => ranges.push(span),
            Tag::Empty(..) => {}
            Tag::End(span) => {
                depth = depth.checked_sub(1)?;
                if let Some((d, start)) = open
                    && d == depth
                {
                    ranges.push(start..span.end);
                    open = None;
                }
            }
        }
    }
    Some(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_items_the_parser_refuses_are_dropped_and_the_rest_kept() {
        let text = "<rss><channel><title>t</title><item><title>a</title></item>\
                    <item><title>bad</title></item><item/><item><title>c</title></item>\
                    </channel></rss>";
        let reads = |t: &str| !t.contains("bad");
        assert_eq!(
            drop_unreadable_items(text, reads).as_deref(),
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
            drop_unreadable_items(few, reads).as_deref(),
            Some("<rss><item>ok</item></rss>")
        );
    }
}
