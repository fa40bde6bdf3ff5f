//! HTML entity and character reference decoding (HTML5 rules), for the converter beside it.
//!
//! Owns [`decode_entities`] and the walk [`for_each_decoded`] the converter feeds its output
//! with, and the windows-1252 reading of the C1 range ([`CP1252_C1`], [`cp1252_c1`]). `&str` in,
//! text pieces out; no types cross the boundary.

use std::borrow::Cow;

/// Windows-1252 meanings of the C1 range U+0080..=U+009F (0 = unassigned).
///
/// HTML5 maps numeric references in this range through this table, and feeds that were written
/// in windows-1252 but labelled ISO-8859-1 carry these code points as raw characters too
/// ("demoronizing"); C1 controls are never meant as text.
pub(crate) const CP1252_C1: [u16; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
    0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

/// Longest entity name we try to resolve (`&CounterClockwiseContourIntegral;` is 31).
const MAX_ENTITY_NAME: usize = 40;

/// Decodes HTML5 named entities and numeric character references; unknown entities are left as
/// they are. Borrows when there is nothing to decode.
pub fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for_each_decoded(s, |piece| out.push_str(piece));
    Cow::Owned(out)
}

/// Walks `s` as a sequence of text pieces with entities decoded, without building a string
/// (the HTML converter feeds them straight into its output).
pub(super) fn for_each_decoded(s: &str, mut emit: impl FnMut(&str)) {
    let mut rest = s;
    while let Some(amp) = memchr::memchr(b'&', rest.as_bytes()) {
        emit(&rest[..amp]);
        let after = &rest[amp + 1..];
        match decode_reference(after) {
            Some((Resolved::Named(text), used)) => {
                emit(text);
                rest = &after[used..];
            }
            Some((Resolved::Char(c), used)) => {
                emit(c.encode_utf8(&mut [0; 4]));
                rest = &after[used..];
            }
            None => {
                emit("&");
                rest = after;
            }
        }
    }
    emit(rest);
}

/// What a reference decodes to.
enum Resolved {
    Named(&'static str),
    Char(char),
}

/// Decodes the reference that follows a `&`; returns it and how many bytes it used.
fn decode_reference(after_amp: &str) -> Option<(Resolved, usize)> {
    if let Some(numeric) = after_amp.strip_prefix('#') {
        let (c, used) = decode_numeric(numeric)?;
        return Some((Resolved::Char(c), used + 1));
    }
    let name_len = after_amp
        .bytes()
        .take(MAX_ENTITY_NAME + 1)
        .take_while(u8::is_ascii_alphanumeric)
        .count();
    if name_len == 0
        || name_len > MAX_ENTITY_NAME
        || after_amp.as_bytes().get(name_len) != Some(&b';')
    {
        return None;
    }
    let resolved = quick_xml::escape::resolve_html5_entity(&after_amp[..name_len])?;
    Some((Resolved::Named(resolved), name_len + 1))
}

/// Decodes `123;` / `x7B;` (the part after `&#`), `;` optional as in HTML5.
fn decode_numeric(s: &str) -> Option<(char, usize)> {
    let (radix, digits_start) = match s.as_bytes().first() {
        Some(b'x' | b'X') => (16, 1),
        _ => (10, 0),
    };
    let digits = s[digits_start..]
        .bytes()
        .take_while(|b| (*b as char).is_digit(radix))
        .count();
    if digits == 0 {
        return None;
    }
    let end = digits_start + digits;
    // Saturate instead of overflowing: anything past U+10FFFF is replaced anyway.
    let code = s[digits_start..end].bytes().fold(0u32, |acc, b| {
        let digit = (b as char).to_digit(radix).unwrap_or(0);
        acc.saturating_mul(radix).saturating_add(digit)
    });
    let used = if s.as_bytes().get(end) == Some(&b';') {
        end + 1
    } else {
        end
    };
    Some((numeric_char(code), used))
}

/// HTML5 rules for a numeric reference's code point.
fn numeric_char(code: u32) -> char {
    if (0x80..=0x9F).contains(&code) {
        return cp1252_c1(code).unwrap_or(char::REPLACEMENT_CHARACTER);
    }
    match char::from_u32(code) {
        Some('\0') | None => char::REPLACEMENT_CHARACTER,
        Some(c) => c,
    }
}

/// The windows-1252 character for a C1 code point, if that byte is assigned there.
pub(super) fn cp1252_c1(code: u32) -> Option<char> {
    let index = usize::try_from(code.checked_sub(0x80)?).ok()?;
    let mapped = *CP1252_C1.get(index)?;
    if mapped == 0 {
        None
    } else {
        char::from_u32(u32::from(mapped))
    }
}
