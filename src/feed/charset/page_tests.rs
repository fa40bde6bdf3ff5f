//! How an article page's charset is chosen: the HTTP label, `<meta charset>`/`http-equiv` in
//! the first 4 KiB, then detection ([`decode_page`]).

use super::*;
use encoding_rs::{KOI8_R, SHIFT_JIS, WINDOWS_1251};

const RU: &str = "Северокорейские войска в Курской области";

fn page(head: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head>{head}<title>t</title></head><body><p>{body}</p></body></html>"
    )
}

use super::tests::encode as bytes;

#[test]
fn a_meta_charset_decodes_a_page_without_an_http_charset() {
    let b = bytes(WINDOWS_1251, &page("<meta charset=\"windows-1251\">", RU));
    let d = decode_page(&b, Some("text/html"));
    assert_eq!(d.encoding, "windows-1251");
    assert!(d.text.contains(RU), "{}", d.text);
}

#[test]
fn a_meta_http_equiv_content_type_names_the_charset() {
    let head = "<META HTTP-EQUIV='Content-Type' CONTENT='text/html; charset=KOI8-R'>";
    let b = bytes(KOI8_R, &page(head, RU));
    let d = decode_page(&b, None);
    assert_eq!(d.encoding, "KOI8-R");
    assert!(d.text.contains(RU));
}

/// The header wins over the page's own claim (HTML's order), and a BOM over both.
#[test]
fn the_http_charset_wins_over_meta_and_a_bom_over_both() {
    let b = bytes(WINDOWS_1251, &page("<meta charset=\"koi8-r\">", RU));
    let d = decode_page(&b, Some("text/html; charset=windows-1251"));
    assert_eq!(d.encoding, "windows-1251");
    assert!(d.text.contains(RU));
    let mut b = vec![0xEF, 0xBB, 0xBF];
    b.extend_from_slice(page("<meta charset=\"koi8-r\">", RU).as_bytes());
    let d = decode_page(&b, Some("text/html; charset=windows-1251"));
    assert_eq!(d.encoding, "UTF-8");
    assert!(
        d.text.starts_with("<!doctype"),
        "BOM kept: {:?}",
        &d.text[..10]
    );
    assert!(d.text.contains(RU));
}

#[test]
fn a_page_without_labels_is_utf8_when_valid_else_detected() {
    let d = decode_page(page("", RU).as_bytes(), None);
    assert_eq!(d.encoding, "UTF-8");
    assert!(d.text.contains(RU));
    let ja = "北朝鮮の兵士がロシアに派遣されたと報じられている。".repeat(4);
    let b = bytes(SHIFT_JIS, &page("", &ja));
    let d = decode_page(&b, None);
    assert_eq!(d.encoding, "Shift_JIS");
    assert!(d.text.contains(&ja));
}

/// A `<meta>` past the window is not looked for (the bytes decide), and one that is not a
/// charset declaration is skipped on the way to the one that is.
#[test]
fn only_meta_tags_within_the_window_that_carry_a_charset_count() {
    let late = format!(
        "<!--{}--><meta charset=\"koi8-r\">",
        "x".repeat(META_WINDOW)
    );
    let b = bytes(WINDOWS_1251, &page(&late, &RU.repeat(3)));
    assert_eq!(meta_charset(&b), None);
    let b = page(
        "<meta name=\"viewport\" content=\"width=device-width\"><meta charset = 'koi8-r' >",
        "x",
    );
    assert_eq!(meta_charset(b.as_bytes()), Some("koi8-r"));
    assert_eq!(meta_charset(b"<meta charset=>"), None);
    assert_eq!(meta_charset(b"<meta charset"), None);
}
