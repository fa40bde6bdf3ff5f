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

/// Regression: the label was believed as soon as one valid multi-byte sequence turned up, and
/// windows-1251 forms some by accident: a capital before a guillemet ("«НАТО»" holds `CE BB`,
/// a valid "λ"). The whole Russian feed was decoded to U+FFFD, and its watches never matched.
#[test]
fn a_utf8_label_on_legacy_bytes_with_an_accidental_utf8_sequence_is_not_believed() {
    let text = "<rss version=\"2.0\"><channel><title>Генсек «НАТО» и «РБК»: последние новости из России и мира</title></channel></rss>";
    let body = encoding_rs::WINDOWS_1251.encode(text).0.into_owned();
    assert!(std::str::from_utf8(&body).is_err());
    assert!(
        body.windows(2).any(|w| w == [0xCE, 0xBB]),
        "the accidental sequence is there"
    );
    let decoded = decode(&body, Some("application/rss+xml; charset=utf-8"));
    assert_eq!(decoded.encoding, "windows-1251");
    assert_eq!(decoded.text, text);
}

#[test]
fn mostly_utf8_means_valid_multibyte_characters_two_to_each_stray() {
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
    // One valid character among invalid bytes: an accident of a legacy encoding.
    assert!(!utf8_or_mostly_utf8(b"\xCF\xEE \xCE\xBB \xE0\xE1"));
    assert!(!utf8_or_mostly_utf8(b"Gr\xC3\xBC\xC3\x9Fe \xA9 \xA9"));
}

/// A Cyrillic UTF-8 feed with one description cut mid-character.
fn utf8_with_a_stray_byte() -> Vec<u8> {
    let mut body = TEXT
        .replace("</channel>", "<description>Санкции против ")
        .into_bytes();
    body.push(0xD0); // the first byte of a two-byte letter, cut off
    body.extend_from_slice(
        "</description><item><title>Новые санкции</title></item></channel></rss>".as_bytes(),
    );
    body
}

/// Regression: a UTF-8 feed with one stray byte and no label was handed to the detector, which
/// called it windows-1252: every title came out as "Ð¡Ð°Ð½ÐºÑ†Ð¸Ð¸", and every watch on the feed
/// missed. Without a label, XML means UTF-8; nearly all UTF-8 stays UTF-8.
#[test]
fn an_unlabelled_utf8_feed_with_a_stray_byte_is_utf8() {
    let decoded = decode(&utf8_with_a_stray_byte(), Some("application/rss+xml"));
    assert_eq!(decoded.encoding, "UTF-8");
    assert!(
        decoded.text.contains("Последние новости"),
        "{}",
        decoded.text
    );
    assert!(
        decoded.text.contains("Новые санкции\u{3c}"),
        "{}",
        decoded.text
    );
}

/// Regression: the same feed served with a wrong legacy label (a server default) was decoded
/// with that label, because the body was not entirely valid UTF-8.
#[test]
fn a_legacy_label_on_nearly_all_utf8_is_not_believed() {
    for label in ["iso-8859-1", "windows-1251"] {
        let ct = format!("text/xml; charset={label}");
        let decoded = decode(&utf8_with_a_stray_byte(), Some(&ct));
        assert_eq!(decoded.encoding, "UTF-8", "{label}");
        assert!(decoded.text.contains("Новые санкции"), "{label}");
    }
}

/// A legacy text makes valid multi-byte sequences by accident ("Я»" in windows-1251), but far
/// fewer than invalid ones: its label is believed, and without one it is detected.
#[test]
fn legacy_text_with_accidental_utf8_sequences_keeps_its_encoding() {
    let text = TEXT.replace("мира", "мира «Я» — «Я» №1");
    let body = encoding_rs::WINDOWS_1251.encode(&text).0.into_owned();
    assert!(std::str::from_utf8(&body).is_err());
    assert!(!nearly_all_utf8(&body));
    let labelled = decode(&body, Some("text/xml; charset=windows-1251"));
    assert_eq!(
        (labelled.encoding, labelled.text.as_str()),
        ("windows-1251", text.as_str())
    );
    let unlabelled = decode(&body, None);
    assert_eq!(unlabelled.encoding, "windows-1251");
}

#[test]
fn nearly_all_utf8_counts_valid_characters_per_stray_byte() {
    let many = "ü".repeat(UTF8_PER_STRAY);
    assert!(nearly_all_utf8(format!("{many}\u{1}").as_bytes()));
    let mut one_stray = many.clone().into_bytes();
    one_stray.push(0xA9);
    assert!(nearly_all_utf8(&one_stray));
    let mut too_few = "ü".repeat(UTF8_PER_STRAY - 1).into_bytes();
    too_few.push(0xA9);
    assert!(!nearly_all_utf8(&too_few));
    assert!(!nearly_all_utf8(b"ascii only \xA9"));
    assert!(!nearly_all_utf8(b"plain ascii"));
}

/// Regression: an ISO-2022-JP label was dropped as not ASCII-compatible, and the 7-bit bytes
/// were then valid UTF-8: the Japanese text came out as escape codes, and no term matched.
#[test]
fn an_iso_2022_jp_feed_is_decoded_by_its_label() {
    let text =
        "<rss version=\"2.0\"><channel><title>北朝鮮軍がクルスクに到着</title></channel></rss>";
    let body = encoding_rs::ISO_2022_JP.encode(text).0.into_owned();
    assert!(body.is_ascii() && body.contains(&0x1B));
    for ct in [Some("application/rss+xml; charset=ISO-2022-JP"), None] {
        let declared;
        let body = if ct.is_some() {
            body.clone()
        } else {
            declared = [
                b"<?xml version=\"1.0\" encoding=\"iso-2022-jp\"?>".as_slice(),
                &body,
            ]
            .concat();
            declared
        };
        let decoded = decode(&body, ct);
        assert_eq!(decoded.encoding, "ISO-2022-JP", "{ct:?}");
        assert!(
            decoded.text.contains("北朝鮮軍がクルスクに到着"),
            "{ct:?}: {}",
            decoded.text
        );
    }
    // And parsed whole: the declaration's encoding is not applied a second time.
    let declared = [
        b"<?xml version=\"1.0\" encoding=\"iso-2022-jp\"?>".as_slice(),
        &body,
    ]
    .concat();
    match crate::feed::parse(&declared, None, None) {
        Ok(crate::feed::Parsed::Feed(f)) => {
            assert_eq!(f.title.as_deref(), Some("北朝鮮軍がクルスクに到着"));
        }
        other => panic!("{other:?}"),
    }
    // The label on bytes that hold no escape (plain ASCII, or 8-bit text) is not believed.
    assert_eq!(
        decode(TEXT.as_bytes(), Some("text/xml; charset=iso-2022-jp")).encoding,
        "UTF-8"
    );
}

/// Regression: a windows-1251 (or KOI8-R, Greek, Hebrew...) feed without an XML declaration
/// behind a server that labels everything `ISO-8859-1` was read as Latin accents
/// (`Çåëåíñêèé`): no Russian term matched, nothing said why. The label alone is taken for a
/// server's default when the bytes are another script's; a Latin document keeps it.
#[test]
fn a_latin_1_label_alone_on_another_scripts_bytes_is_a_servers_default() {
    let russian = "<rss version=\"2.0\"><channel><title>Новости</title><item><title>Зеленский \
                   заявил о новых поставках оружия</title><description>Президент Украины \
                   Владимир Зеленский заявил, что страна получит новые системы ПВО.\
                   </description></item></channel></rss>";
    // (KOI8-R and KOI8-U decode Russian alike: either is this text.)
    for (encoding, name) in [
        (encoding_rs::WINDOWS_1251, "windows-1251"),
        (encoding_rs::KOI8_R, "KOI8-"),
    ] {
        let body = encoding.encode(russian).0.into_owned();
        for label in ["iso-8859-1", "ISO-8859-1", "windows-1252", "us-ascii"] {
            let decoded = decode(&body, Some(&format!("text/xml; charset={label}")));
            assert_eq!(decoded.text, russian, "{label}");
            assert!(
                decoded.encoding.starts_with(name),
                "{label}: {}",
                decoded.encoding
            );
        }
    }
    let greek = "<rss><channel><title>Ειδήσεις</title><item><title>Η κυβέρνηση ανακοίνωσε \
                 νέα μέτρα για την οικονομία της χώρας</title></item></channel></rss>";
    let body = encoding_rs::WINDOWS_1253.encode(greek).0.into_owned();
    let decoded = decode(&body, Some("text/xml; charset=ISO-8859-1"));
    assert_eq!(decoded.text, greek);
    // A Latin document keeps its label, also one a detector might take for another Latin
    // encoding.
    for latin in [
        "<rss><channel><title>Actualités</title><item><title>Le président a annoncé une \
         réforme des retraites à l'Assemblée nationale</title></item></channel></rss>",
        "<rss><channel><title>Nachrichten</title><item><title>Die Bundesregierung plant \
         größere Änderungen für Überstunden</title></item></channel></rss>",
        "<rss><channel><title>Noticias</title><item><title>El Gobierno aprobó la reforma \
         tras una votación en el Congreso de España</title></item></channel></rss>",
    ] {
        let body = encoding_rs::WINDOWS_1252.encode(latin).0.into_owned();
        let decoded = decode(&body, Some("text/xml; charset=iso-8859-1"));
        assert_eq!(
            (decoded.encoding, decoded.text.as_str()),
            ("windows-1252", latin)
        );
    }
}
