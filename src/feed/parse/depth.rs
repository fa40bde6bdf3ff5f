//! How deep a document's elements nest, read before feed-rs reads it.
//!
//! Owns [`MAX_DEPTH`] and [`too_deep`]. feed-rs reads some elements by recursion, one call
//! per level (`<media:group>` inside `<media:group>`): a feed of a thousand nested groups
//! overflowed a 2 MiB thread stack, which aborts the whole process, a panic handler cannot
//! catch it, and the daemon restarted into the same feed. The tags are read by the lexical
//! scan ([`crate::feed::repair::lexical`]), which follows XML's rules as quick-xml reads them,
//! so it counts the levels the parser will see.

use crate::feed::repair::lexical::{Mark, marks};

/// Deepest nesting read: far past real feeds (a few levels, a few dozen with XHTML content),
/// far short of what overflows the stack (some hundreds of `<media:group>`s on 2 MiB, counted
/// from an empty stack; the daemon's own frames come first).
pub const MAX_DEPTH: usize = 128;

/// The byte offset of the first start tag that nests deeper than `max`, if one does.
pub fn too_deep(text: &str, max: usize) -> Option<usize> {
    // Each level opens with a `<`: a text of no more than `max` is not read.
    if crate::feed::repair::lexical::at_most(text, b'<', max) {
        return None;
    }
    let mut depth = 0usize;
    for mark in marks(text) {
        match mark {
            Mark::Start(span) => {
                depth += 1;
                if depth > max {
                    return Some(span.start);
                }
            }
            Mark::End(_) => depth = depth.saturating_sub(1),
            Mark::Empty(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_levels_the_parser_sees() {
        assert_eq!(too_deep(&"<a>".repeat(10), 10), None);
        assert_eq!(too_deep(&"<a>".repeat(11), 10), Some(30));
        assert_eq!(too_deep(&"<a></a>".repeat(1000), 1), None);
        assert_eq!(too_deep(&"<a/>".repeat(1000), 0), None);
        assert_eq!(too_deep(&"<a x='/'>".repeat(3), 2), Some(18));
    }

    #[test]
    fn markup_that_holds_no_elements_is_skipped() {
        let deep = "<a>".repeat(20);
        for quiet in [
            format!("<!--{deep}-->"),
            format!("<![CDATA[{deep}]]>"),
            format!("<?pi {deep}?>"),
            format!("<!DOCTYPE x [<!ENTITY e '>'> {deep}]>"),
            format!("<a t='>{deep}'/>"),
        ] {
            assert_eq!(too_deep(&quiet, 5), None, "{quiet:.40}");
        }
        // What follows them is counted.
        assert!(too_deep(&format!("<!-- x -->{deep}"), 5).is_some());
        assert!(too_deep(&format!("<a t='>'>{deep}"), 5).is_some());
    }

    #[test]
    fn a_start_tag_cut_short_still_counts_as_a_level() {
        assert_eq!(too_deep("<a", 0), Some(0));
        assert_eq!(too_deep("<a x='>", 0), Some(0));
        assert_eq!(too_deep("<!--<a", 0), None);
    }

    /// Regression: a feed of 20,000 nested `<media:group>`s overflowed the stack inside
    /// feed-rs, which aborted the process (the daemon, then again after each restart).
    #[test]
    fn a_feed_nested_past_the_limit_is_refused_not_read() {
        let feed = format!(
            "<?xml version=\"1.0\"?>\n<rss version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\">\
             <channel><title>t</title><item><title>x</title><guid>g</guid>\n{}{}</item></channel></rss>",
            "<media:group>".repeat(20_000),
            "</media:group>".repeat(20_000)
        );
        assert_eq!(
            crate::feed::parse(feed.as_bytes(), None, None).err(),
            Some(crate::feed::parse::ParseError::TooDeep {
                line: 3,
                max: MAX_DEPTH
            })
        );
        // Nested groups a feed may really carry are read.
        let feed = feed.replace(&"<media:group>".repeat(20_000), &"<media:group>".repeat(3));
        let feed = feed.replace(
            &"</media:group>".repeat(20_000),
            &"</media:group>".repeat(3),
        );
        assert!(crate::feed::parse(feed.as_bytes(), None, None).is_ok());
    }

    /// Regression: the depth was checked only on the text as served, where a `'` after a bare
    /// `<` in a title read as a quote running to the end of the document; the repair of the
    /// failed first attempt escaped the `<`, and the parser then read every nested group.
    #[test]
    fn a_nesting_hidden_from_the_first_check_is_found_after_the_repair() {
        let feed = format!(
            "<rss version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\"><channel>\
             <title>Rock < Roll's</title><item><title>x</title><guid>g</guid>{}{}</item></channel></rss>",
            "<media:group>".repeat(MAX_DEPTH * 2),
            "</media:group>".repeat(MAX_DEPTH * 2)
        );
        assert!(matches!(
            crate::feed::parse(feed.as_bytes(), None, None),
            Err(crate::feed::parse::ParseError::TooDeep { .. })
        ));
    }
}
