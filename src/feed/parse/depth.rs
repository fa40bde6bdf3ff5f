//! How deep a document's elements nest, read before feed-rs reads it.
//!
//! Owns [`MAX_DEPTH`] and [`too_deep`]. feed-rs reads some elements by recursion, one call
//! per level (`<media:group>` inside `<media:group>`): a feed of a thousand nested groups
//! overflowed a 2 MiB thread stack, which aborts the whole process, a panic handler cannot
//! catch it, and the daemon restarted into the same feed. The scan follows XML's lexical
//! rules as quick-xml reads them (comments, CDATA sections, processing instructions and
//! declarations hold no elements; a `>` inside a quoted attribute value does not end a tag; a
//! tag ending in `/>` is empty), so it counts the levels the parser will see.

use memchr::{memchr, memmem};

/// Deepest nesting read: far past real feeds (a few levels, a few dozen with XHTML content),
/// far short of what overflows the stack (some hundreds of `<media:group>`s on 2 MiB, counted
/// from an empty stack; the daemon's own frames come first).
pub const MAX_DEPTH: usize = 128;

/// The byte offset of the first start tag that nests deeper than `max`, if one does.
pub fn too_deep(text: &str, max: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(p) = memchr(b'<', &b[i..]) {
        let at = i + p;
        let rest = &b[at..];
        i = if rest.starts_with(b"<!--") {
            past(b, at + 4, b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            past(b, at + 9, b"]]>")
        } else if rest.starts_with(b"<?") {
            past(b, at + 2, b"?>")
        } else if rest.starts_with(b"<!") {
            declaration_end(b, at + 2)
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            memchr(b'>', &b[at..]).map_or(b.len(), |q| at + q + 1)
        } else {
            let (end, empty) = tag_end(b, at + 1);
            if !empty {
                depth += 1;
                if depth > max {
                    return Some(at);
                }
            }
            end
        };
    }
    None
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
        ] {
            // A start tag cut short still counts as a level.
            assert_eq!(
                too_deep(s, 0).is_some(),
                s == "<" || s.starts_with("<a"),
                "{s}"
            );
        }
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
}
