//! The references repair: bare `&` escaped, HTML entities turned into the numeric references
//! XML knows, references to characters XML forbids dropped (outside CDATA and comments).
//!
//! Owns [`fix_references`], applied by [`super::repair`]; it reports the kinds it applied
//! ([`Repair::BareAmpersand`], [`Repair::HtmlEntity`], [`Repair::InvalidCharRef`]).

use super::*;

/// How one `&` in the text is to be treated.
enum Reference {
    /// A well-formed reference XML accepts: copy `len` bytes.
    Keep(usize),
    /// A numeric reference to a forbidden character: drop `len` bytes.
    Invalid(usize),
    /// An HTML entity: replace `len` bytes with numeric references.
    Html(usize, &'static str),
    /// Not a reference at all.
    Bare,
}

/// Escapes bare `&`, converts HTML entities to numeric references and drops references to
/// forbidden characters, outside CDATA sections and comments.
pub(super) fn fix_references(text: &str) -> Option<(String, Vec<Repair>)> {
    if !text.contains('&') {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut kinds = Vec::new();
    let mut pos = 0;
    while let Some(offset) = text[pos..].find(['&', '<']) {
        let at = pos + offset;
        out.push_str(&text[pos..at]);
        if text[at..].starts_with('<') {
            let end = protected_end(text, at);
            out.push_str(&text[at..end]);
            pos = end;
        } else {
            pos = at + apply_reference(&text[at..], &mut out, &mut kinds);
        }
    }
    out.push_str(&text[pos..]);
    (!kinds.is_empty()).then_some((out, kinds))
}

/// End of a CDATA section or comment starting at `lt`, or just past the `<` otherwise.
fn protected_end(text: &str, lt: usize) -> usize {
    let rest = &text[lt..];
    if rest.starts_with("<![CDATA[") {
        after(text, lt, "]]>")
    } else if rest.starts_with("<!--") {
        after(text, lt, "-->")
    } else {
        lt + 1
    }
}

/// Writes the (possibly fixed) reference starting at `rest` (which holds `&`) and returns how
/// many input bytes it consumed.
fn apply_reference(rest: &str, out: &mut String, kinds: &mut Vec<Repair>) -> usize {
    let (consumed, kind) = match classify_reference(rest) {
        Reference::Keep(len) => {
            out.push_str(&rest[..len]);
            return len;
        }
        Reference::Invalid(len) => (len, Repair::InvalidCharRef),
        Reference::Html(len, resolved) => {
            for c in resolved.chars() {
                out.push_str(&format!("&#x{:X};", u32::from(c)));
            }
            (len, Repair::HtmlEntity)
        }
        Reference::Bare => {
            out.push_str("&amp;");
            (1, Repair::BareAmpersand)
        }
    };
    if !kinds.contains(&kind) {
        kinds.push(kind);
    }
    consumed
}

fn classify_reference(rest: &str) -> Reference {
    let body = &rest[1..];
    // Only the next 65 bytes: searching the whole rest of the text for every `&` made a body
    // of bare ampersands quadratic.
    let Some(semicolon) = body.as_bytes().iter().take(65).position(|&b| b == b';') else {
        return Reference::Bare;
    };
    let name = &body[..semicolon];
    let len = semicolon + 2;
    if let Some(number) = name.strip_prefix('#') {
        return match parse_char_ref(number) {
            Some(code) if is_xml_char(code) => Reference::Keep(len),
            Some(_) => Reference::Invalid(len),
            None => Reference::Bare,
        };
    }
    if !is_xml_name(name) {
        return Reference::Bare;
    }
    if quick_xml::escape::resolve_xml_entity(name).is_some() {
        return Reference::Keep(len);
    }
    match quick_xml::escape::resolve_html5_entity(name) {
        Some(resolved) => Reference::Html(len, resolved),
        // Possibly declared in an internal DTD subset; the parser keeps it as literal text.
        None => Reference::Keep(len),
    }
}

/// Parses the digits of `&#...;` / `&#x...;`; `None` when it is not a number at all.
fn parse_char_ref(number: &str) -> Option<u32> {
    let (digits, radix) = match number.strip_prefix(['x', 'X']) {
        Some(hex) => (hex, 16),
        None => (number, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // Too long to be a code point: treat as out of range rather than failing to parse.
    Some(u32::from_str_radix(digits, radix).unwrap_or(u32::MAX))
}

fn is_xml_char(code: u32) -> bool {
    matches!(code, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x1_0000..=0x10_FFFF)
}

fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
}
