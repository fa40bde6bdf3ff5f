//! When a UTF-8 label is believed. Written against mutation testing (docs/testing.md), which
//! showed no test reached the part of `utf8_or_mostly_utf8` that walks past invalid bytes.

use super::*;

const TEXT: &str = "<rss version=\"2.0\"><channel><title>Последние новости из России и мира</title></channel></rss>";

/// Regression: a legacy feed behind a server that calls everything UTF-8 was decoded as UTF-8,
/// every Cyrillic letter a U+FFFD, because the check believed the label as soon as the ASCII
/// markup after the last legacy byte was valid UTF-8. Bytes with no valid multi-byte sequence
/// are not UTF-8, whatever the label says: they are detected.
#[test]
fn a_utf8_label_on_legacy_bytes_is_not_believed() {
    let body = encoding_rs::WINDOWS_1251.encode(TEXT).0.into_owned();
    let decoded = decode(&body, Some("application/rss+xml; charset=utf-8"));
    assert_eq!(decoded.encoding, "windows-1251");
    assert_eq!(decoded.text, TEXT);
}

#[test]
fn mostly_utf8_means_a_valid_multibyte_sequence_somewhere() {
    assert!(utf8_or_mostly_utf8(b"plain ascii"));
    assert!(utf8_or_mostly_utf8("Grüße".as_bytes()));
    // Valid multi-byte text after a stray byte, and before one.
    assert!(utf8_or_mostly_utf8(b"a \xA9 b Gr\xC3\xBC\xC3\x9Fe"));
    assert!(utf8_or_mostly_utf8(b"Gr\xC3\xBC\xC3\x9Fe \xA9 end"));
    // Only ASCII around the invalid bytes: not UTF-8, wherever the invalid bytes sit.
    assert!(!utf8_or_mostly_utf8(b"a \xCF\xEE b"));
    assert!(!utf8_or_mostly_utf8(b"\xCF\xEE b"));
    assert!(!utf8_or_mostly_utf8(b"a \xCF\xEE"));
    assert!(!utf8_or_mostly_utf8(b"a \xE2\x82"));
}
