//! Tags with more attributes than any feed writes: cut before the parser reads them.
//!
//! Owns [`drop_excess_attributes`]. The XML reader checks each attribute of a tag against the
//! ones before it, and on a tag of many distinct names followed by many repeats of one
//! (`<x a0="" … a17999="" z="" z="" …>`) each repeat is compared with every earlier name: a
//! 287 KB document took 0.28 s, 16 MiB would take a quarter of an hour, at every poll. Feeds
//! write a handful per tag; a tag of more than [`MAX_ATTRIBUTES`] is written again with its
//! first ones, as the reader's own iterator reads them. Crossing the boundary: decoded text
//! in, the rewritten text out (`None` when no tag has that many).

use std::ops::Range;

use quick_xml::events::BytesStart;

use super::lexical::{Mark, XML_SPACE, marks};

/// Attributes kept of one tag: far more than any feed writes (an XHTML element in content
/// may carry a dozen), few enough that comparing each with every other costs little.
pub(crate) const MAX_ATTRIBUTES: usize = 256;

/// The text with each tag of more than [`MAX_ATTRIBUTES`] attributes written again with its
/// first ones.
pub(crate) fn drop_excess_attributes(text: &str) -> Option<String> {
    let cuts: Vec<(Range<usize>, String)> = marks(text)
        .filter_map(|mark| match mark {
            Mark::Start(span) => rewritten(text, span, false),
            Mark::Empty(span) => rewritten(text, span, true),
            Mark::End(_) => None,
        })
        .collect();
    if cuts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (span, tag) in cuts {
        out.push_str(&text[copied..span.start]);
        out.push_str(&tag);
        copied = span.end;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// The tag at `span` with its first [`MAX_ATTRIBUTES`] attributes, when it has more: counted
/// and read by the XML reader's own attribute iterator (with its duplicate check off, which
/// is what costs), so what is counted is what the parser would compare; the attributes it
/// cannot read are left out.
fn rewritten(text: &str, span: Range<usize>, empty: bool) -> Option<(Range<usize>, String)> {
    let tag = &text[span.clone()];
    // Each attribute takes a space and a name at least: most tags are too short to be read.
    if tag.len() <= 2 * MAX_ATTRIBUTES {
        return None;
    }
    let inner = tag.strip_prefix('<')?;
    let inner = inner.strip_suffix('>').unwrap_or(inner);
    let inner = if empty {
        inner.strip_suffix('/').unwrap_or(inner)
    } else {
        inner
    };
    let name_len = inner.find(XML_SPACE).unwrap_or(inner.len());
    // Only a tag the reader takes for one (`a < b` in text is no tag).
    let starts_name = inner
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || matches!(c, '_' | ':'));
    if !starts_name {
        return None;
    }
    let start = BytesStart::from_content(inner, name_len);
    if start.attributes().with_checks(false).count() <= MAX_ATTRIBUTES {
        return None;
    }
    let mut out = format!("<{}", &inner[..name_len]);
    for attribute in start
        .attributes()
        .with_checks(false)
        .filter_map(Result::ok)
        .take(MAX_ATTRIBUTES)
    {
        let (key, value) = (attribute.key.0, &attribute.value);
        let quote = if value.contains('"') { '\'' } else { '"' };
        out.push_str(&format!(" {key}={quote}{value}{quote}"));
    }
    out.push_str(if empty { "/>" } else { ">" });
    Some((span, out))
}

#[cfg(test)]
mod tests {
    //! The cut against tags whose attributes are counted.
    use super::*;

    fn tag(n: usize, end: &str) -> String {
        let attrs: String = (0..n).map(|i| format!(" a{i}=\"{i}\"")).collect();
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

    /// Regression (review): counting `=` outside quotes missed attributes after a stray quote
    /// (`x=y"`), which the reader's iterator does not take for one.
    #[test]
    fn attributes_are_counted_as_the_reader_reads_them() {
        let attrs: String = (0..300).map(|i| format!(" a{i}=v")).collect();
        let text = format!("<title x=y\"{attrs}\">t</title>");
        assert!(drop_excess_attributes(&text).is_some());
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
