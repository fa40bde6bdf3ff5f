//! Media times too large to read: the feed parser library reads `<itunes:duration>` and the
//! Media RSS `start`, `end` and `time` attributes into a `u64` of seconds with `unwrap()`, so
//! a value of 20 digits or more panicked it, and the whole feed was lost for one podcast
//! episode's duration. Nothing in newswatch reads these times.
//!
//! Owns [`drop_huge_media_times`], one of the repairs tried after a failed (or crashed) parse.

use std::sync::OnceLock;

use regex::Regex;

/// A run of digits this long is no media time (ten digits of seconds are 317 years): dropped
/// well before a `u64` overflows, and before hours × 3600 does.
const MAX_DIGITS: usize = 9;

/// The text with every `duration` element (any prefix, its text plain or in CDATA) and every
/// `start`, `end` or `time` attribute whose value holds a run of more than [`MAX_DIGITS`]
/// digits, or a digit other than 0-9 (the library's pattern takes any Unicode digit, and its
/// number parser only ASCII ones: `１２３４` panicked it too), removed; `None` when there is none.
pub(super) fn drop_huge_media_times(text: &str) -> Option<String> {
    static ELEMENT: OnceLock<Option<Regex>> = OnceLock::new();
    static ATTRIBUTE: OnceLock<Option<Regex>> = OnceLock::new();
    let digits = MAX_DIGITS + 1;
    let element = ELEMENT
        .get_or_init(|| {
            Regex::new(&format!(
                r"<([\w.-]+:)?duration(\s[^>]*)?>\s*(<!\[CDATA\[)?[^<\]]*(\d{{{digits},}}|[\d&&[^0-9]])[^<\]]*(\]\]>)?\s*</([\w.-]+:)?duration\s*>"
            ))
            .ok()
        })
        .as_ref()?;
    let attribute = ATTRIBUTE
        .get_or_init(|| {
            Regex::new(&format!(
                r#"\s(start|end|time)\s*=\s*("[^"<>]*(\d{{{digits},}}|[\d&&[^0-9]])[^"<>]*"|'[^'<>]*(\d{{{digits},}}|[\d&&[^0-9]])[^'<>]*')"#
            ))
            .ok()
        })
        .as_ref()?;
    if !element.is_match(text) && !attribute.is_match(text) {
        return None;
    }
    let text = element.replace_all(text, "");
    Some(attribute.replace_all(&text, "").into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_times_too_large_to_read_are_dropped() {
        let text = "<item><itunes:duration>12345678901234567890123</itunes:duration>\
                    <itunes:duration>1:02:03</itunes:duration>\
                    <media:thumbnail url=\"u\" time=\"99999999999999999999\"/>\
                    <media:content url=\"v\" start='0' end=\"12345678901\"/></item>";
        assert_eq!(
            drop_huge_media_times(text).as_deref(),
            Some(
                "<item><itunes:duration>1:02:03</itunes:duration>\
                 <media:thumbnail url=\"u\"/><media:content url=\"v\" start='0'/></item>"
            )
        );
        assert_eq!(
            drop_huge_media_times("<itunes:duration>3600</itunes:duration>"),
            None
        );
        // In CDATA, or in digits other than 0-9 (they panicked the library too).
        for bad in [
            "<itunes:duration><![CDATA[123456789012345678901]]></itunes:duration>",
            "<itunes:duration>１２３４</itunes:duration>",
        ] {
            assert_eq!(drop_huge_media_times(bad).as_deref(), Some(""), "{bad}");
        }
        // A quote in text is not an attribute: nothing across elements is removed.
        let text = "<title>He said end=\"soon</title><link>https://x.example/?id=12345678901</link>\
                    <guid isPermaLink=\"false\">g</guid>";
        assert_eq!(drop_huge_media_times(text), None);
    }
}
