//! The `xml:base` repair: attributes whose value is no URL reference.
//!
//! Owns [`drop_bad_xml_base`] and [`drop_costly_xml_base`]. The feed parser resolves every `xml:base` it meets and fails the
//! whole document on one it cannot read as a URL (`xml:base="http://exa mple.org/"`, a host
//! with a space): every item of the feed was lost on every poll, under the misleading error
//! that the root was not a feed. Such an attribute says nothing usable, so it is dropped and
//! the references under it are resolved as if it were absent.

use url::Url;

/// Removes each `xml:base` attribute (in a tag, not in text) whose value is neither an
/// absolute URL nor a relative reference; `None` when there is none.
pub(super) fn drop_bad_xml_base(text: &str) -> Option<String> {
    drop_xml_base_where(text, |value| !readable(value))
}

/// Bytes of resolved links the parser may be made to build from `xml:base` values: it copies
/// the base in force into every link it resolves, so a long base and many links multiply (a
/// 20 KB base and 20,000 one-letter links, a 340 KB document, took 400 MB).
const BASE_BUDGET: usize = 64 * 1024 * 1024;

/// Removes every `xml:base` attribute (in a tag) when their values, all together (nested
/// relative bases add up), times the document's tags could exceed [`BASE_BUDGET`]; `None`
/// when they cannot (or there is none). The links under them are then resolved as if they
/// were absent: against the feed's own address.
pub(crate) fn drop_costly_xml_base(text: &str) -> Option<String> {
    let values: usize = xml_bases(text)
        .filter(|&at| in_tag(&text[..at]))
        .filter_map(|at| attribute_value(&text[at + "xml:base".len()..]))
        .map(|(value, _)| value.len())
        .sum();
    if values == 0 {
        return None;
    }
    let tags = memchr::memchr_iter(b'<', text.as_bytes()).count();
    if values.saturating_mul(tags) <= BASE_BUDGET {
        return None;
    }
    drop_xml_base_where(text, |_| true)
}

/// Removes each `xml:base` attribute (in a tag) whose value `drop` picks.
fn drop_xml_base_where(text: &str, drop: impl Fn(&str) -> bool) -> Option<String> {
    let mut out = String::new();
    let mut copied = 0;
    for at in xml_bases(text) {
        if at < copied || !in_tag(&text[..at]) {
            continue;
        }
        let Some((value, end)) = attribute_value(&text[at + "xml:base".len()..]) else {
            continue;
        };
        if !drop(value) {
            continue;
        }
        // The attribute and the whitespace before it go.
        let start = text[..at].trim_end().len();
        out.push_str(&text[copied..start]);
        copied = at + "xml:base".len() + end;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// How far back from an attribute name its tag's `<` is looked for: farther than any tag of a
/// feed, and a bound that keeps a document of `xml:base` written over and over, with no markup,
/// linear.
const TAG_REACH: usize = 8 * 1024;

/// Where each `xml:base` of the text starts (found with a vectorised search: most documents
/// have none, and this runs on every XML document).
fn xml_bases(text: &str) -> impl Iterator<Item = usize> + '_ {
    memchr::memmem::find_iter(text.as_bytes(), b"xml:base")
}

/// Whether a tag of the document has an `xml:base` that is a relative reference (the parser
/// drops such a base when it was given none to resolve it against).
pub(crate) fn has_relative_xml_base(text: &str) -> bool {
    xml_bases(text).any(|at| {
        in_tag(&text[..at])
            && attribute_value(&text[at + "xml:base".len()..]).is_some_and(|(value, _)| {
                matches!(
                    Url::parse(value),
                    Err(url::ParseError::RelativeUrlWithoutBase)
                )
            })
    })
}

/// Whether the text before an attribute name ends inside a start tag: the name follows
/// whitespace, and the nearest `<` or `>` before it is a `<`.
fn in_tag(before: &str) -> bool {
    let bytes = before.as_bytes();
    let window = &bytes[bytes.len().saturating_sub(TAG_REACH)..];
    before.ends_with(|c: char| c.is_ascii_whitespace())
        && window
            .iter()
            .rev()
            .find(|b| matches!(b, b'<' | b'>'))
            .is_some_and(|b| *b == b'<')
}

/// The quoted value after an attribute name (`= "…"` or `='…'`, spaces allowed around `=`)
/// and the length of all that; `None` when it is not written so.
fn attribute_value(rest: &str) -> Option<(&str, usize)> {
    let after_name = rest.trim_start();
    let after_eq = after_name.strip_prefix('=')?.trim_start();
    let quote = after_eq
        .chars()
        .next()
        .filter(|c| matches!(c, '"' | '\''))?;
    let value_len = after_eq[1..].find(quote)?;
    let value = &after_eq[1..1 + value_len];
    let consumed = rest.len() - after_eq.len() + 1 + value_len + 1;
    Some((value, consumed))
}

/// Whether the parser can use the value: an absolute URL, or a reference relative to one.
fn readable(value: &str) -> bool {
    matches!(
        Url::parse(value),
        Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_base_is_dropped_and_the_rest_kept() {
        let text = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://exa mple.org/"><entry xml:base = 'https://ok.example/a/'><title>xml:base="http://x y/" in text</title></entry></feed>"#;
        assert_eq!(
            drop_bad_xml_base(text).as_deref(),
            Some(
                r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry xml:base = 'https://ok.example/a/'><title>xml:base="http://x y/" in text</title></entry></feed>"#
            )
        );
    }

    #[test]
    fn readable_bases_are_left_alone() {
        for text in [
            r#"<feed xml:base="/blog/"><entry xml:base="https://a.example/"/></feed>"#,
            r#"<feed xml:base="../up/"/>"#,
            "<feed><title>about xml:base</title></feed>",
            r#"<feed xml:base="http://exa mple.org/"#,
        ] {
            assert_eq!(drop_bad_xml_base(text), None, "{text}");
        }
    }
}
