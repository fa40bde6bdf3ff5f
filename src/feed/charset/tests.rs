//! The charset decision on whole bodies: labels, byte-order marks, wide encodings,
//! detection, and what the XML parser then gets.

use super::*;

fn rss_in(encoding: &str, title: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"{encoding}\"?><rss version=\"2.0\"><channel><title>{title}</title></channel></rss>"
    )
}

/// `text` in `encoding`'s bytes.
pub(super) fn encode(encoding: &'static Encoding, text: &str) -> Vec<u8> {
    encoding.encode(text).0.into_owned()
}

#[test]
fn utf8_without_labels() {
    let decoded = decode("<rss>Привет</rss>".as_bytes(), None);
    assert_eq!(decoded.encoding, "UTF-8");
    assert_eq!(decoded.text, "<rss>Привет</rss>");
}

#[test]
fn utf8_bom_removed() {
    let decoded = decode(b"\xEF\xBB\xBF<rss/>", None);
    assert_eq!(
        (decoded.text.as_str(), decoded.encoding),
        ("<rss/>", "UTF-8")
    );
}

#[test]
fn declaration_encoding_used_and_removed() {
    let body = encode(
        encoding_rs::WINDOWS_1251,
        &rss_in("windows-1251", "Новости"),
    );
    let decoded = decode(&body, None);
    assert_eq!(decoded.encoding, "windows-1251");
    assert!(decoded.text.contains("<title>Новости</title>"));
    assert!(
        decoded.text.starts_with("<?xml version=\"1.0\"?>"),
        "{}",
        decoded.text
    );
}

#[test]
fn http_charset_overrides_declaration() {
    let body = encode(encoding_rs::KOI8_R, &rss_in("windows-1251", "Новости"));
    let decoded = decode(&body, Some("application/rss+xml; charset=\"KOI8-R\""));
    assert_eq!(decoded.encoding, "KOI8-R");
    assert!(decoded.text.contains("Новости"));
}

/// Regression: a server's default charset (`ISO-8859-1`) was believed over a windows-1251
/// feed's own declaration: every Cyrillic letter came out as a Latin accent, and no Russian
/// term matched. When both name legacy encodings, the declaration wins if the bytes are its
/// encoding's; the HTTP label still wins when the bytes are its (above).
#[test]
fn a_servers_default_charset_does_not_override_a_legacy_declaration_the_bytes_bear_out() {
    let text = "Северокорейские войска прибыли в Курскую область, сообщает Киев";
    let body = encode(encoding_rs::WINDOWS_1251, &rss_in("windows-1251", text));
    for served in [
        "text/xml; charset=ISO-8859-1",
        "application/rss+xml; charset=windows-1252",
    ] {
        let decoded = decode(&body, Some(served));
        assert_eq!(decoded.encoding, "windows-1251", "{served}");
        assert!(decoded.text.contains(text), "{served}: {decoded:?}");
    }
    // A Latin-1 feed whose declaration is wrong keeps the HTTP label.
    let text = "Les troupes nord-coréennes arrivées à Koursk, selon Kiev : réaction";
    let body = encode(encoding_rs::WINDOWS_1252, &rss_in("windows-1251", text));
    let decoded = decode(&body, Some("text/xml; charset=windows-1252"));
    assert_eq!(decoded.encoding, "windows-1252");
    assert!(decoded.text.contains(text), "{decoded:?}");
}

#[test]
fn bogus_labels_fall_through() {
    let body = encode(encoding_rs::WINDOWS_1251, &rss_in("bogus", "Новости"));
    let decoded = decode(&body, Some("text/xml; charset=nonsense"));
    assert!(decoded.text.contains("Новости"), "{decoded:?}");
}

#[test]
fn legacy_encodings_round_trip() {
    let cases: [(&'static Encoding, &str, &str); 8] = [
        (encoding_rs::WINDOWS_1251, "windows-1251", "Новости дня"),
        (encoding_rs::KOI8_R, "koi8-r", "Новости дня"),
        (encoding_rs::EUC_KR, "euc-kr", "년 뉴스"),
        (encoding_rs::BIG5, "big5", "新聞報導"),
        (encoding_rs::GBK, "gb2312", "新闻报道"),
        (encoding_rs::SHIFT_JIS, "Shift_JIS", "ニュース"),
        (encoding_rs::ISO_8859_2, "iso-8859-2", "Zażółć gęślą"),
        (encoding_rs::ISO_8859_7, "iso-8859-7", "Ειδήσεις"),
    ];
    for (encoding, label, title) in cases {
        let decoded = decode(&encode(encoding, &rss_in(label, title)), None);
        assert!(decoded.text.contains(title), "{label}: {decoded:?}");
    }
}

#[test]
fn detection_when_unlabelled_and_not_utf8() {
    let text = "<rss version=\"2.0\"><channel><title>Последние новости из России и мира</title></channel></rss>";
    let decoded = decode(&encode(encoding_rs::WINDOWS_1251, text), None);
    assert_eq!(decoded.encoding, "windows-1251");
    assert_eq!(decoded.text, text);
}

#[test]
fn utf16_with_and_without_bom() {
    let text = rss_in("utf-16", "Grüße");
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let le_bom = [&[0xFF, 0xFE][..], &le].concat();
    let be_bom = [&[0xFE, 0xFF][..], &be].concat();
    for (body, name) in [
        (le, "UTF-16LE"),
        (be, "UTF-16BE"),
        (le_bom, "UTF-16LE"),
        (be_bom, "UTF-16BE"),
    ] {
        let decoded = decode(&body, Some("text/xml; charset=iso-8859-1"));
        assert_eq!(decoded.encoding, name);
        assert!(decoded.text.contains("Grüße"));
        assert!(
            !decoded.text.contains("utf-16"),
            "declaration not rewritten: {}",
            decoded.text
        );
    }
}

#[test]
fn utf32_with_and_without_bom() {
    let text = rss_in("utf-32", "Grüße");
    let be: Vec<u8> = text
        .chars()
        .flat_map(|c| u32::from(c).to_be_bytes())
        .collect();
    let le: Vec<u8> = text
        .chars()
        .flat_map(|c| u32::from(c).to_le_bytes())
        .collect();
    let le_bom = [&[0xFF, 0xFE, 0, 0][..], &le].concat();
    for (body, name) in [(be, "UTF-32BE"), (le, "UTF-32LE"), (le_bom, "UTF-32LE")] {
        let decoded = decode(&body, None);
        assert_eq!(decoded.encoding, name);
        assert!(decoded.text.contains("Grüße"));
    }
}

#[test]
fn utf16_label_on_ascii_bytes_is_ignored() {
    let decoded = decode(rss_in("utf-16", "plain").as_bytes(), None);
    assert_eq!(decoded.encoding, "UTF-8");
    assert!(decoded.text.contains("<title>plain</title>"));
}

#[test]
fn utf8_served_as_latin1_stays_utf8() {
    let decoded = decode(
        rss_in("utf-8", "Grüße").as_bytes(),
        Some("text/xml; charset=ISO-8859-1"),
    );
    assert_eq!(decoded.encoding, "UTF-8");
    assert!(decoded.text.contains("Grüße"));
}

#[test]
fn mostly_utf8_with_stray_byte_stays_utf8() {
    let mut body = rss_in("utf-8", "Grüße").into_bytes();
    body.extend_from_slice(b"<!-- \xA9 -->");
    let decoded = decode(&body, None);
    assert_eq!(decoded.encoding, "UTF-8");
    assert!(decoded.text.contains("Grüße"));
}

#[test]
fn charset_parameter_parsing() {
    assert_eq!(
        http_charset(Some("text/xml;charset= 'us-ascii'")),
        Some("us-ascii")
    );
    assert_eq!(
        http_charset(Some("text/xml;charset = us-ascii")),
        Some("us-ascii")
    );
    assert_eq!(http_charset(Some("text/xml; charset:iso-8859-1")), None);
    assert_eq!(http_charset(Some("text/xml; qs=0.9")), None);
    assert_eq!(http_charset(Some("text/xml;")), None);
}

#[test]
fn odd_inputs_do_not_panic() {
    for body in [
        &b""[..],
        b"\xFF",
        b"\xFF\xFE",
        b"\0\0\0",
        b"<?xml encoding=",
        b"<?xml encoding='x?>",
    ] {
        let _ = decode(body, Some("text/xml; charset=utf-32"));
    }
}
