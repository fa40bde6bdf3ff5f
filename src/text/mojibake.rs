//! Undoing double-encoded UTF-8 ("mojibake"): UTF-8 bytes that were read as windows-1252 (or
//! ISO-8859-1) and encoded as UTF-8 again, so `é` arrives as `Ã©` and `…` as `â€¦`.
//!
//! Owns [`undo_double_utf8`], applied to each plain-text field of an item. A field is only
//! changed when *all* of it is consistently double-encoded: every non-ASCII character maps back
//! to one windows-1252 byte and the bytes form valid UTF-8. Two-byte sequences are further
//! limited to the lead bytes of Latin-1, Greek, Cyrillic, Hebrew and Arabic (`Â Ã Î Ï Ð Ñ × Ø
//! Ù`): legitimate upper-case text such as `ACCIÓN…` or `CAFÉ’` is valid UTF-8 when re-encoded
//! too (`Ó` + `…` is a two-byte sequence), and must stay as written. Three- and four-byte
//! sequences need two or three symbols in a row after a letter, which real text does not have.

use crate::text::html::CP1252_C1;

/// Two-byte UTF-8 lead bytes accepted (see the module docs).
const TWO_BYTE_LEADS: [u8; 9] = [0xC2, 0xC3, 0xCE, 0xCF, 0xD0, 0xD1, 0xD7, 0xD8, 0xD9];

/// `text` with double-encoded UTF-8 undone when the whole of it is consistently double-encoded,
/// else `text` unchanged.
pub fn undo_double_utf8(text: String) -> String {
    // Every double-encoded sequence starts with a lead byte read as `Â`..`ô` (U+00C2..U+00F4),
    // all of which are encoded as 0xC3 0x82..0xB4.
    if !text.as_bytes().contains(&0xC3) {
        return text;
    }
    let mut bytes = Vec::with_capacity(text.len());
    for c in text.chars() {
        match windows_1252_byte(c) {
            Some(b) => bytes.push(b),
            None => return text,
        }
    }
    if !plausible_leads(&bytes) {
        return text;
    }
    match String::from_utf8(bytes) {
        // Text holds no control character (the HTML and plain-text readers dropped them):
        // "undone" into one (`Â›` is U+009B, a terminal's CSI) it was not double-encoded text,
        // and the control would reach the terminal that shows it.
        Ok(undone)
            if !undone
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t')) =>
        {
            undone
        }
        _ => text,
    }
}

/// The byte windows-1252 (with ISO-8859-1's C1 code points) reads as `c`.
fn windows_1252_byte(c: char) -> Option<u8> {
    let code = u32::from(c);
    if code < 0x100 {
        return u8::try_from(code).ok();
    }
    let index = CP1252_C1.iter().position(|&m| u32::from(m) == code)?;
    u8::try_from(0x80 + index).ok()
}

/// False when a two-byte sequence starts with a lead byte outside [`TWO_BYTE_LEADS`].
fn plausible_leads(bytes: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let len = match b {
            0x00..=0x7F => 1,
            0xC0..=0xDF if !TWO_BYTE_LEADS.contains(&b) => return false,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            // Continuation bytes without a lead and invalid leads fail UTF-8 validation later.
            _ => 4,
        };
        i += len;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn undo(s: &str) -> String {
        undo_double_utf8(s.to_owned())
    }

    #[test]
    fn double_encoded_fields_are_decoded() {
        assert_eq!(undo("CafÃ© crÃ¨me"), "Café crème");
        assert_eq!(
            undo("Ukraineâ€™s â€˜Victory Planâ€™ â€¦"),
            "Ukraine’s ‘Victory Plan’ …"
        );
        // `с` is D1 81; 0x81 is unassigned in windows-1252 and survives as U+0081.
        assert_eq!(undo("Ð—ÐµÐ»ÐµÐ½Ñ\u{81}ÐºÐ¸Ð¹"), "Зеленский");
        assert_eq!(undo("åŒ—æœ\u{9D}é®®"), "北朝鮮");
        // ISO-8859-1 reading: raw C1 code points instead of the windows-1252 symbols.
        assert_eq!(undo("â\u{80}¦"), "…");
    }

    /// Regression: `Â›[2J` "undid" into U+009B `[2J`, a C1 control sequence (clear the
    /// screen), which reached titles shown by `newswatch status` in a terminal.
    #[test]
    fn text_that_would_undo_into_a_control_character_is_kept() {
        for s in [
            "Â›[2J News",
            "Â\u{9B}[2J News",
            "Ã©\u{C2}\u{8D} up",
            "CafÃ©\u{C2}\u{85}",
        ] {
            assert_eq!(undo(s), s, "{s:?}");
        }
    }

    #[test]
    fn partly_or_not_double_encoded_fields_are_kept() {
        for s in [
            "Café",
            "Café and CafÃ©",
            "ACCIÓN…",
            "L’ÉTÉ”",
            "CAFÉ’ ok",
            "São Paulo",
            "Zelensky → Kyiv",
            "plain ascii",
            "",
        ] {
            assert_eq!(undo(s), s, "{s:?}");
        }
    }
}
