//! Where a tag ends, read as the HTML tokenizer reads its attributes.
//!
//! Why not the first `>`: inside a quoted attribute value a `>` is text, so a page whose tag
//! reads `<div title="x><!--">` showed a scan that stopped at the first `>` an unclosed comment
//! (and `'><script>'` an unclosed script) hiding every tag after it, while the parser built
//! them all. Owns [`tag_end`]; [`super::nesting`] calls it for every start and end tag.

/// How a tag ends, as [`tag_end`] read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TagEnd {
    /// The index of its closing `>`.
    pub(super) at: usize,
    /// It closed as `/>`.
    pub(super) self_closing: bool,
    /// It has a `color`, `face` or `size` attribute (a `<font>` that has one leaves `<svg>`
    /// and `<math>` content).
    pub(super) presentational: bool,
}

/// Where the tag whose attributes begin at `from` (just after its name) ends. `None` when the
/// text ends inside the tag (the tokenizer then drops it).
pub(super) fn tag_end(b: &[u8], from: usize) -> Option<TagEnd> {
    let mut state = State::BeforeName;
    let mut i = from;
    let mut name_at = from;
    let mut presentational = false;
    while i < b.len() {
        let c = b[i];
        let space = matches!(c, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
        let was = state;
        state = match state {
            State::DoubleQuoted => {
                // Jump to the closing quote: a long value is one search, not a byte loop.
                i += memchr::memchr(b'"', &b[i..])?;
                State::AfterQuoted
            }
            State::SingleQuoted => {
                i += memchr::memchr(b'\'', &b[i..])?;
                State::AfterQuoted
            }
            _ if c == b'>' => {
                if state == State::Name {
                    presentational |= is_presentational(&b[name_at..i]);
                }
                return Some(TagEnd {
                    at: i,
                    self_closing: state == State::SelfClosing,
                    presentational,
                });
            }
            State::BeforeName | State::SelfClosing | State::AfterQuoted if space => {
                State::BeforeName
            }
            State::BeforeName | State::SelfClosing | State::AfterQuoted | State::Name
                if c == b'/' =>
            {
                State::SelfClosing
            }
            // `=` before any name starts a name (`<div ="x>">` ends at its first `>`).
            State::BeforeName | State::SelfClosing | State::AfterQuoted => State::Name,
            State::Name | State::AfterName if c == b'=' => State::BeforeValue,
            State::Name if space => State::AfterName,
            State::Name => State::Name,
            State::AfterName if space => State::AfterName,
            State::AfterName if c == b'/' => State::SelfClosing,
            State::AfterName => State::Name,
            State::BeforeValue if space => State::BeforeValue,
            State::BeforeValue if c == b'"' => State::DoubleQuoted,
            State::BeforeValue if c == b'\'' => State::SingleQuoted,
            State::Unquoted if space => State::BeforeName,
            State::BeforeValue | State::Unquoted => State::Unquoted,
        };
        if state == State::Name && was != State::Name {
            name_at = i;
        } else if was == State::Name && state != State::Name {
            presentational |= is_presentational(&b[name_at..i]);
        }
        i += 1;
    }
    None
}

fn is_presentational(name: &[u8]) -> bool {
    [&b"color"[..], b"face", b"size"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

/// The tokenizer's states inside a tag, after its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    BeforeName,
    Name,
    AfterName,
    BeforeValue,
    DoubleQuoted,
    SingleQuoted,
    Unquoted,
    AfterQuoted,
    /// Just after a `/`: a `>` now closes the tag as `/>`.
    SelfClosing,
}

#[cfg(test)]
mod tests {
    use super::tag_end;

    fn end(tag: &str) -> Option<(usize, bool)> {
        tag_end(tag.as_bytes(), 0).map(|t| (t.at, t.self_closing))
    }

    #[test]
    fn presentational_attributes_are_noticed_by_name_only() {
        let p = |tag: &str| tag_end(tag.as_bytes(), 0).is_some_and(|t| t.presentational);
        assert!(p(" color=red>"));
        assert!(p(" FACE='x'>"));
        assert!(p(" size>"));
        assert!(p(" a=1 size/>"));
        assert!(!p(" data-color=red>"));
        assert!(!p(" title='color'>"));
        assert!(!p(" colors=1>"));
        assert!(!p(">"));
    }

    #[test]
    fn a_quoted_value_holds_its_greater_than_signs() {
        assert_eq!(end(r#" title="x><!--">"#), Some((15, false)));
        assert_eq!(end(" title='><script>'>"), Some((18, false)));
        assert_eq!(end(r#" a = "1>2" b='3>4'/>"#), Some((19, true)));
        // The text ends inside the value: no tag.
        assert_eq!(end(r#" title="x>"#), None);
    }

    #[test]
    fn a_quote_that_opens_no_value_is_part_of_a_name() {
        // Not after `=`: the tokenizer reads the quote into the attribute's name.
        assert_eq!(end(r#" "x>">"#), Some((3, false)));
        assert_eq!(end(r#" ="x>">"#), Some((4, false)));
        assert_eq!(end(r#" a"b="c>d">"#), Some((10, false)));
    }

    #[test]
    fn self_closing_is_a_slash_just_before_the_end() {
        assert_eq!(end("/>"), Some((1, true)));
        assert_eq!(end(" d='M0 0'/>"), Some((10, true)));
        assert_eq!(end(" a/>"), Some((3, true)));
        // An unquoted value takes the slash.
        assert_eq!(end(" href=x/>"), Some((8, false)));
        assert_eq!(end(" / a>"), Some((4, false)));
        assert_eq!(end(">"), Some((0, false)));
        assert_eq!(end(" a= >"), Some((4, false)));
        assert_eq!(end(""), None);
    }
}
