//! The last resort for an XML feed the parser still refuses after the repairs: find the items
//! or entries it refuses on their own, and read the feed without them.
//!
//! Owns [`drop_unreadable_items`]. One entry the parser library cannot read (an Atom
//! `<content type="image/png"/>` with neither body nor `src`: "missing content") failed the
//! whole feed, and held back every other item for as long as it was listed.

/// Work allowed for trying each item alone, in bytes parsed: every try parses the feed's text
/// around its items once more, so a feed whose text outside the items is long, with many
/// items, is not tried item by item (its failure stands).
const MAX_TRIED_BYTES: usize = 16 << 20;

/// The document without the items or entries `reads` refuses, each tried alone in the text
/// around the items; `None` when the document's items cannot be told (other syntax errors),
/// trying them would cost more than [`MAX_TRIED_BYTES`], or every item reads or none does
/// (then the fault is not in the items).
pub(crate) fn drop_unreadable_items(text: &str, reads: impl Fn(&str) -> bool) -> Option<String> {
    let items = item_ranges(text)?;
    let (first, last) = (items.first()?.start, items.last()?.end);
    let (head, tail) = (&text[..first], &text[last..]);
    let around = head.len() + tail.len();
    if around
        .saturating_mul(items.len())
        .saturating_add(last - first)
        > MAX_TRIED_BYTES
    {
        return None;
    }
    let kept: Vec<&str> = items
        .iter()
        .map(|r| &text[r.clone()])
        .filter(|item| reads(&format!("{head}{item}{tail}")))
        .collect();
    if kept.is_empty() || kept.len() == items.len() {
        return None;
    }
    Some(format!("{head}{}{tail}", kept.join("\n")))
}

/// Where each top-level item or entry element is (start tag to end tag, in document order);
/// `None` on a syntax error.
fn item_ranges(text: &str) -> Option<Vec<std::ops::Range<usize>>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut ranges = Vec::new();
    // The depth of the open item, and where it started.
    let mut open: Option<(usize, usize)> = None;
    let mut depth = 0usize;
    loop {
        let at = usize::try_from(reader.buffer_position()).ok()?;
        match reader.read_event().ok()? {
            Event::Start(start) => {
                if open.is_none() && is_item(start.name().as_ref()) {
                    open = Some((depth, at));
                }
                depth += 1;
            }
            Event::Empty(start) if open.is_none() && is_item(start.name().as_ref()) => {
                ranges.push(at..usize::try_from(reader.buffer_position()).ok()?);
            }
            Event::End(_) => {
                depth = depth.checked_sub(1)?;
                if let Some((d, start)) = open
                    && d == depth
                {
                    ranges.push(start..usize::try_from(reader.buffer_position()).ok()?);
                    open = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Some(ranges)
}

/// `item` or `entry`, in any namespace.
fn is_item(name: &str) -> bool {
    let local = name.rsplit(':').next().unwrap_or(name);
    local == "item" || local == "entry"
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
                "<rss><channel><title>t</title><item><title>a</title></item>\n<item/>\n\
                 <item><title>c</title></item></channel></rss>"
            )
        );
        assert_eq!(drop_unreadable_items(text, |_| true), None);
        assert_eq!(drop_unreadable_items(text, |_| false), None);
        // Not well-formed: nothing is tried.
        assert_eq!(drop_unreadable_items("<rss><item></rss>", reads), None);
    }

    #[test]
    fn a_document_whose_items_cost_too_much_to_try_one_by_one_is_left_as_it_is() {
        let head = format!("<rss><channel><title>{}</title>", "x".repeat(1 << 20));
        let text = format!("{head}{}</channel></rss>", "<item>bad</item>".repeat(20));
        assert_eq!(drop_unreadable_items(&text, |t| !t.contains("bad")), None);
    }
}
