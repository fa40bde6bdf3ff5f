//! Byte → UTF-8 decoding of a fetched feed body, in front of the XML parser.
//!
//! Owns the charset decision. Crossing the boundary: raw body bytes and the HTTP `Content-Type`
//! go in; [`Decoded`] (UTF-8 text plus the name of the encoding used) comes out.
//!
//! feed-rs only looks at the XML declaration, so the HTTP charset, detection and UTF-16/32 without
//! a BOM would be lost. The decision order follows RFC 3023 and Python feedparser:
//! 1. a byte order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE);
//! 2. the UTF-16/32 shape of the first character (`<\0?\0`, `\0<\0?`, ...), which no
//!    ASCII-compatible label can describe;
//! 3. the HTTP `Content-Type` `charset=` parameter (overrides the XML declaration, except
//!    where both name legacy encodings and the bytes are the declaration's: see `arbitrate`;
//!    alone, a Latin-1 label is taken for a server's default when the bytes are another
//!    script's: see `server_default`);
//! 4. the XML declaration's `encoding=`;
//! 5. UTF-8 when the bytes are valid UTF-8, else detection with chardetng.
//!
//! A label that is unknown, or that plainly contradicts the bytes, falls through to the next
//! step; decoding never fails (invalid sequences become U+FFFD). The returned text has no BOM and
//! its XML declaration carries no `encoding` attribute, so the XML parser won't decode it again.

use std::ops::Range;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

/// How far into the body we look for the XML declaration (it must be at the very start, but
/// leading garbage or whitespace is common enough to allow some slack). The parse's repair of
/// leading garbage starts the document at a declaration this far in, so the decoder must see
/// (and take out) the same one: a declaration it missed made the parser decode the text again.
pub(crate) const DECLARATION_WINDOW: usize = 64 * 1024;

/// A feed body decoded to UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The text, without BOM and without an `encoding` attribute in its XML declaration.
    pub text: String,
    /// Name of the encoding actually used (WHATWG names, plus `UTF-32LE`/`UTF-32BE`).
    pub encoding: &'static str,
}

/// Decodes `body` to UTF-8, choosing the encoding as described in the module docs.
pub fn decode(body: &[u8], content_type: Option<&str>) -> Decoded {
    let (charset, skip) = choose(body, content_type);
    let text = charset.decode(body.get(skip..).unwrap_or_default());
    let text = text
        .strip_prefix('\u{FEFF}')
        .map(str::to_owned)
        .unwrap_or(text);
    Decoded {
        text: remove_declared_encoding(text),
        encoding: charset.name(),
    }
}

/// Decodes an HTML page (an article fetched for full text): a byte order mark, else the HTTP
/// `charset=`, else a `<meta charset>` / `<meta http-equiv="Content-Type">` in the first
/// [`META_WINDOW`] bytes, else UTF-8 when valid, else detection. A label that contradicts the
/// bytes falls through, as for feeds.
pub fn decode_page(body: &[u8], content_type: Option<&str>) -> Decoded {
    let (charset, skip) = sniff_bom(body).unwrap_or_else(|| {
        let labelled = http_charset(content_type)
            .and_then(|label| usable_label(label, body))
            .or_else(|| meta_charset(body).and_then(|label| usable_label(label, body)));
        (labelled.unwrap_or_else(|| unlabelled(body)), 0)
    });
    let text = charset.decode(body.get(skip..).unwrap_or_default());
    Decoded {
        text: text
            .strip_prefix('\u{FEFF}')
            .map(str::to_owned)
            .unwrap_or(text),
        encoding: charset.name(),
    }
}

/// How far into a page its `<meta>` charset is looked for. HTML's prescan stops at 1024 bytes;
/// pages that put a long `<title>` or scripts first still say it within a few KB.
pub const META_WINDOW: usize = 4096;

/// The charset named by the first `<meta>` tag carrying one, within [`META_WINDOW`].
fn meta_charset(body: &[u8]) -> Option<&str> {
    let head = body.get(..body.len().min(META_WINDOW))?;
    let lower = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = find(lower.get(from..)?, b"<meta") {
        let start = from + i;
        let end = lower[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        if let Some(c) = find(tag, b"charset") {
            let rest = &tag[c + b"charset".len()..];
            let skip_ws = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_whitespace()).count();
            let mut j = skip_ws(rest);
            if rest.get(j) == Some(&b'=') {
                j += 1;
                j += skip_ws(&rest[j..]);
                while matches!(rest.get(j), Some(b'"' | b'\'')) {
                    j += 1;
                }
                let len = rest[j..]
                    .iter()
                    .take_while(|b| {
                        !matches!(b, b'"' | b'\'' | b';' | b'/') && !b.is_ascii_whitespace()
                    })
                    .count();
                let at = start + c + b"charset".len() + j;
                if len > 0 {
                    return std::str::from_utf8(&head[at..at + len]).ok();
                }
            }
        }
        from = end;
    }
    None
}

/// Removes the `encoding="..."` attribute from the XML declaration, if any.
///
/// The text is already UTF-8; a declaration still saying e.g. `windows-1251` would make the XML
/// parser decode it a second time.
fn remove_declared_encoding(text: String) -> String {
    let Some(span) = declared_encoding_span(text.as_bytes()) else {
        return text;
    };
    let mut text = text;
    text.replace_range(span.attribute, "");
    text
}

/// An encoding we can decode with: encoding_rs, or UTF-32 (which encoding_rs leaves out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Whatwg(&'static Encoding),
    Utf32 { big_endian: bool },
}

impl Charset {
    fn name(self) -> &'static str {
        match self {
            Charset::Whatwg(encoding) => encoding.name(),
            Charset::Utf32 { big_endian: true } => "UTF-32BE",
            Charset::Utf32 { big_endian: false } => "UTF-32LE",
        }
    }

    /// True for encodings in which ASCII text is stored as ASCII bytes.
    fn is_ascii_compatible(self) -> bool {
        match self {
            Charset::Whatwg(encoding) => encoding.is_ascii_compatible(),
            Charset::Utf32 { .. } => false,
        }
    }

    fn decode(self, bytes: &[u8]) -> String {
        match self {
            Charset::Whatwg(encoding) => {
                let (text, _had_errors) = encoding.decode_without_bom_handling(bytes);
                text.into_owned()
            }
            Charset::Utf32 { big_endian } => decode_utf32(bytes, big_endian),
        }
    }
}

/// Picks the encoding and how many leading bytes (a BOM) to skip.
fn choose(body: &[u8], content_type: Option<&str>) -> (Charset, usize) {
    if let Some(found) = sniff_bom(body) {
        return found;
    }
    if let Some(wide) = sniff_wide(body) {
        return (wide, 0);
    }
    let http = http_charset(content_type).and_then(|label| usable_label(label, body));
    let declared = declared_charset(body).and_then(|label| usable_label(label, body));
    let labelled = match (http, declared) {
        (Some(h), Some(d)) if h != d && is_legacy(h) && is_legacy(d) => Some(arbitrate(body, h, d)),
        (Some(h), None) => Some(server_default(body, h)),
        (h, d) => h.or(d),
    };
    (labelled.unwrap_or_else(|| unlabelled(body)), 0)
}

/// A single- or multi-byte legacy encoding: any byte sequence decodes in most of them, so a
/// wrong one is never refused by the bytes, only read as the wrong letters.
fn is_legacy(c: Charset) -> bool {
    matches!(c, Charset::Whatwg(e) if e != UTF_8 && e.is_ascii_compatible())
}

/// The HTTP charset and the XML declaration name two legacy encodings: the declaration is
/// believed when the detector finds its encoding in the bytes, else the HTTP one (RFC 3023's
/// order). A server's default charset (Apache's `AddDefaultCharset ISO-8859-1`) in front of
/// a windows-1251 feed that says so in its declaration read every Cyrillic letter as Latin
/// accents: no Russian term matched, and its alerts came out as mojibake.
fn arbitrate(body: &[u8], http: Charset, declared: Charset) -> Charset {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(body, true);
    if Charset::Whatwg(detector.guess(None, false)) == declared {
        declared
    } else {
        http
    }
}

/// Encodings of scripts other than Latin that the detector may find: a document in one of
/// them, labelled Latin-1, reads as nothing but accented letters.
const NOT_LATIN: &[&Encoding] = &[
    encoding_rs::WINDOWS_1251,
    encoding_rs::KOI8_R,
    encoding_rs::KOI8_U,
    encoding_rs::ISO_8859_5,
    encoding_rs::IBM866,
    encoding_rs::WINDOWS_1253,
    encoding_rs::ISO_8859_7,
    encoding_rs::WINDOWS_1255,
    encoding_rs::ISO_8859_8,
    encoding_rs::ISO_8859_8_I,
    encoding_rs::WINDOWS_1256,
    encoding_rs::ISO_8859_6,
    encoding_rs::WINDOWS_874,
    encoding_rs::SHIFT_JIS,
    encoding_rs::EUC_JP,
    encoding_rs::EUC_KR,
    encoding_rs::GBK,
    encoding_rs::BIG5,
];

/// The HTTP charset alone labels the document: a server's default (`ISO-8859-1`, which WHATWG
/// reads as windows-1252) is believed unless the detector finds a script other than Latin in
/// the bytes. A server's `AddDefaultCharset ISO-8859-1` in front of a windows-1251 feed with
/// no declaration read every Cyrillic letter as a Latin accent: no Russian term matched.
/// Another Latin encoding (windows-1250, say) is not taken over the label: the detector
/// cannot tell those apart as surely.
fn server_default(body: &[u8], http: Charset) -> Charset {
    if http != Charset::Whatwg(encoding_rs::WINDOWS_1252) || body.is_ascii() {
        return http;
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(body, true);
    let guess = detector.guess(None, false);
    if NOT_LATIN.contains(&guess) {
        Charset::Whatwg(guess)
    } else {
        http
    }
}

fn sniff_bom(body: &[u8]) -> Option<(Charset, usize)> {
    // UTF-32LE's BOM starts with UTF-16LE's, so it is checked first.
    match body {
        [0xFF, 0xFE, 0, 0, ..] => Some((Charset::Utf32 { big_endian: false }, 4)),
        [0, 0, 0xFE, 0xFF, ..] => Some((Charset::Utf32 { big_endian: true }, 4)),
        [0xEF, 0xBB, 0xBF, ..] => Some((Charset::Whatwg(UTF_8), 3)),
        [0xFF, 0xFE, ..] => Some((Charset::Whatwg(UTF_16LE), 2)),
        [0xFE, 0xFF, ..] => Some((Charset::Whatwg(UTF_16BE), 2)),
        _ => None,
    }
}

/// UTF-16/32 without BOM, recognised from the zero bytes around the first character, which in a
/// feed is `<` or whitespace.
fn sniff_wide(body: &[u8]) -> Option<Charset> {
    let starts_markup = |b: u8| b == b'<' || b.is_ascii_whitespace();
    match body {
        [0, 0, 0, c, ..] if starts_markup(*c) => Some(Charset::Utf32 { big_endian: true }),
        [c, 0, 0, 0, ..] if starts_markup(*c) => Some(Charset::Utf32 { big_endian: false }),
        [0, c, 0, d, ..] if starts_markup(*c) && *d != 0 => Some(Charset::Whatwg(UTF_16BE)),
        [c, 0, d, 0, ..] if starts_markup(*c) && *d != 0 => Some(Charset::Whatwg(UTF_16LE)),
        _ => None,
    }
}

/// The `charset` parameter of a Content-Type value, unquoted.
fn http_charset(content_type: Option<&str>) -> Option<&str> {
    content_type?.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (!value.is_empty()).then_some(value)
    })
}

/// The encoding named in the XML declaration (read as ASCII: we only get here for bodies that
/// are not UTF-16/32).
fn declared_charset(body: &[u8]) -> Option<&str> {
    let span = declared_encoding_span(body)?;
    std::str::from_utf8(body.get(span.value)?).ok()
}

/// Resolves a label to an encoding we will actually use for these bytes, or `None` to fall
/// through to the next step.
fn usable_label(label: &str, body: &[u8]) -> Option<Charset> {
    let charset = resolve_label(label)?;
    // ISO-2022-JP is 7-bit: its Japanese text is escape sequences in ASCII bytes, which pass
    // for UTF-8. Believed when the bytes are 7-bit and hold an escape; before, such a feed
    // was decoded as UTF-8 and its Japanese came out as `ESC$B…` codes that no term matched.
    if charset == Charset::Whatwg(encoding_rs::ISO_2022_JP) {
        return (body.is_ascii() && body.contains(&0x1B)).then_some(charset);
    }
    // The body is ASCII-compatible (UTF-16/32 shapes were ruled out before): a UTF-16/32 label
    // contradicts the bytes and would turn the whole document into garbage.
    if !charset.is_ascii_compatible() {
        return None;
    }
    if charset == Charset::Whatwg(UTF_8) {
        return utf8_or_mostly_utf8(body).then_some(charset);
    }
    // UTF-8 containing multi-byte sequences is almost never meant as a legacy encoding: this
    // is the classic "UTF-8 feed served as ISO-8859-1" misconfiguration, also when a stray
    // byte (an excerpt cut mid-character) makes the body not quite valid.
    if has_multibyte_utf8(body) || nearly_all_utf8(body) {
        return Some(Charset::Whatwg(UTF_8));
    }
    Some(charset)
}

/// Maps a charset label to an encoding; unknown labels, and labels WHATWG maps to the
/// "replacement" encoding (which decodes everything to U+FFFD), give `None`.
fn resolve_label(label: &str) -> Option<Charset> {
    let normalized = label.trim().to_ascii_lowercase().replace('_', "-");
    match normalized.as_str() {
        "utf-32" | "utf-32be" | "ucs-4" | "ucs-4be" => {
            return Some(Charset::Utf32 { big_endian: true });
        }
        "utf-32le" | "ucs-4le" => return Some(Charset::Utf32 { big_endian: false }),
        _ => {}
    }
    let encoding = Encoding::for_label(normalized.as_bytes())?;
    (encoding != encoding_rs::REPLACEMENT).then_some(Charset::Whatwg(encoding))
}

/// No usable label: UTF-8 when valid or nearly so (XML's default), otherwise the detector's
/// guess.
fn unlabelled(body: &[u8]) -> Charset {
    if std::str::from_utf8(body).is_ok() || nearly_all_utf8(body) {
        return Charset::Whatwg(UTF_8);
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(body, true);
    Charset::Whatwg(detector.guess(None, true))
}

/// True if `body` is valid UTF-8 and has at least one non-ASCII character.
fn has_multibyte_utf8(body: &[u8]) -> bool {
    !body.is_ascii() && std::str::from_utf8(body).is_ok()
}

/// True if a UTF-8 label should be believed: the bytes are valid UTF-8, or their valid
/// multi-byte characters outnumber their invalid sequences [`LABELLED_UTF8_PER_STRAY`] to one
/// (a UTF-8 feed with a few stray legacy bytes is better decoded as UTF-8 with replacement
/// characters than wholesale as a guessed legacy encoding). One valid sequence is not enough:
/// legacy text forms some by accident (windows-1251 "«НАТО»" holds `CE BB`), among hundreds
/// of invalid ones.
fn utf8_or_mostly_utf8(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok() || utf8_per_stray_at_least(body, LABELLED_UTF8_PER_STRAY)
}

/// True if the non-ASCII text of `body` is UTF-8 but for a few stray bytes: at least
/// [`UTF8_PER_STRAY`] valid multi-byte characters for each invalid sequence. A legacy text
/// forms valid multi-byte sequences only by accident (a windows-1251 "Я»" is one), far fewer
/// than its invalid ones; a UTF-8 text with a cut character has one invalid sequence among
/// many valid ones. Used where no UTF-8 label backs the bytes, so the bar is high.
fn nearly_all_utf8(body: &[u8]) -> bool {
    utf8_per_stray_at_least(body, UTF8_PER_STRAY)
}

/// True if `body` has valid multi-byte characters, at least `per_stray` of them for each
/// invalid sequence.
fn utf8_per_stray_at_least(body: &[u8], per_stray: usize) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    let mut rest = body;
    loop {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                valid += text.bytes().filter(|&b| b >= 0xC0).count();
                break;
            }
            Err(error) => {
                let good = rest.get(..error.valid_up_to()).unwrap_or_default();
                valid += good.iter().filter(|&&b| b >= 0xC0).count();
                invalid += 1;
                let skip = error.valid_up_to() + error.error_len().unwrap_or(rest.len());
                match rest.get(skip..) {
                    Some(tail) => rest = tail,
                    None => break,
                }
            }
        }
    }
    valid > 0 && invalid.saturating_mul(per_stray) <= valid
}

/// Valid multi-byte characters needed per invalid sequence for [`nearly_all_utf8`].
const UTF8_PER_STRAY: usize = 20;

/// The same for bytes labelled UTF-8 ([`utf8_or_mostly_utf8`]): the label tips a close call,
/// not a lopsided one.
const LABELLED_UTF8_PER_STRAY: usize = 2;

/// Where the `encoding` attribute sits in an XML declaration near the start of `bytes`.
struct EncodingSpan {
    /// The attribute with its leading whitespace: what to cut out.
    attribute: Range<usize>,
    /// The label between the quotes.
    value: Range<usize>,
}

fn declared_encoding_span(bytes: &[u8]) -> Option<EncodingSpan> {
    let window = bytes.get(..DECLARATION_WINDOW.min(bytes.len()))?;
    let decl_start = find(window, b"<?xml")?;
    let decl_end = decl_start + find(bytes.get(decl_start..)?, b"?>")?;
    let decl = bytes.get(decl_start..decl_end)?;
    let name = find(decl, b"encoding")?;
    let mut i = name + b"encoding".len();
    i += count_whitespace(decl.get(i..)?);
    if decl.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    i += count_whitespace(decl.get(i..)?);
    let quote = *decl.get(i).filter(|q| matches!(q, b'"' | b'\''))?;
    let value_start = i + 1;
    let value_len = decl.get(value_start..)?.iter().position(|&b| b == quote)?;
    let attr_start = decl[..name]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    Some(EncodingSpan {
        attribute: decl_start + attr_start..decl_start + value_start + value_len + 1,
        value: decl_start + value_start..decl_start + value_start + value_len,
    })
}

fn count_whitespace(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_whitespace()).count()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Decodes UTF-32; invalid code points and a trailing partial unit become U+FFFD.
fn decode_utf32(bytes: &[u8], big_endian: bool) -> String {
    let chunks = bytes.chunks_exact(4);
    let partial = !chunks.remainder().is_empty();
    let mut text: String = chunks
        .map(|unit| {
            let unit = [unit[0], unit[1], unit[2], unit[3]];
            let code = if big_endian {
                u32::from_be_bytes(unit)
            } else {
                u32::from_le_bytes(unit)
            };
            char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect();
    if partial {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    text
}

/// The charset decision on whole bodies.
#[cfg(test)]
mod tests;

/// When a UTF-8 label is believed (pinned against mutation testing: docs/testing.md).
#[cfg(test)]
mod label_tests;

/// How an article page's charset is chosen ([`decode_page`]).
#[cfg(test)]
mod page_tests;
