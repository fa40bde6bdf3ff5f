//! Tags with more attributes than any feed writes: cut before the parser reads them.
//!
//! Owns [`drop_excess_attributes`]. The XML reader checks each attribute of a tag against the
//! ones before it, and on a tag of many distinct names followed by many repeats of one
//! (`<x a0="" … a17999="" z="" z="" …>`) each repeat is compared with every earlier name: a
//! 287 KB document took 0.28 s, 16 MiB would take a quarter of an hour, at every poll. Feeds
//! write a handful per tag; the attributes of a tag past its first [`MAX_ATTRIBUTES`] are
//! dropped. Crossing the boundary: decoded text in, the rewritten text out (`None` when no tag
//! has that many).

use std::ops::Range;

use super::lexical::{Mark, marks};

/// Attributes kept of one tag: far more than any feed writes (an XHTML element in content
/// may carry a dozen), few enough that comparing each with every other costs little.
pub(crate) const MAX_ATTRIBUTES: usize = 256;

/// The text with the attributes of each tag past its first [`MAX_ATTRIBUTES`] removed.
pub(crate) fn drop_excess_attributes(text: &str) -> Option<String> {
    let cuts: Vec<Range<usize>> = marks(text)
        .filter_map(|mark| match mark {
            Mark::Start(span) | Mark::Empty(span) => excess(text.as_bytes(), span),
            Mark::End(_) => None,
        })
        .collect();
    if cuts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for cut in cuts {
        out.push_str(&text[copied..cut.start]);
        copied = cut.end;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// In the tag at `span`, the bytes of its attributes past the first [`MAX_ATTRIBUTES`]: from
/// the end of the last value kept to the tag's closing `>` or `/>`.
fn excess(b: &[u8], span: Range<usize>) -> Option<Range<usize>> {
    let tag = &b[span.clone()];
    let mut quote = None;
    let mut seen = 0usize;
    let mut kept_end = None;
    for (k, &c) in tag.iter().enumerate() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                if seen == MAX_ATTRIBUTES {
                    kept_end = Some(k + 1);
                }
            }
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'=') => {
                seen += 1;
                if seen > MAX_ATTRIBUTES {
                    // After the last value kept; without one (an unquoted value, which the
                    // reader refuses anyway), before this attribute's name.
                    let name_start = tag[..k]
                        .iter()
                        .rposition(|c| c.is_ascii_whitespace() || matches!(c, b'"' | b'\''))
                        .map_or(k, |p| p + 1);
                    let from = span.start + kept_end.unwrap_or(name_start);
                    let close = if tag.ends_with(b"/>") {
                        2
                    } else {
                        usize::from(tag.ends_with(b">"))
                    };
                    return Some(from..span.end - close);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    //! The cut against tags whose attributes are counted.
    use super::*;

    fn tag(n: usize, end: &str) -> String {
        let attrs: String = (0..n).map(|i| format!(" a{i}='{i}'")).collect();
        format!("<x{attrs}{end}")
    }

    #[test]
    fn attributes_past_the_limit_are_dropped() {
        for end in ["/>", ">"] {
            let text = format!("<r>{}</r>", tag(MAX_ATTRIBUTES + 40, end));
            assert_eq!(
                drop_excess_attributes(&text),
                Some(format!("<r>{}</r>", tag(MAX_ATTRIBUTES, end)))
            );
        }
        // A tag of as many as the limit is left as it is, and a `=` in a value is no
        // attribute.
        let text = format!(
            "<r>{}<y t='{}'/></r>",
            tag(MAX_ATTRIBUTES, ">"),
            "=".repeat(999)
        );
        assert_eq!(drop_excess_attributes(&text), None);
    }

    #[test]
    fn odd_tags_never_panic() {
        for text in [
            format!("<x{}", " a=".repeat(300)),
            format!("<x{}'", " a=''".repeat(300)),
            format!("<x {}>", "=".repeat(300)),
            format!("<x{}{}/>", " a=b".repeat(300), " c=''".repeat(300)),
        ] {
            let _ = drop_excess_attributes(&text);
        }
    }
}
