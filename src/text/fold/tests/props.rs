//! Property tests: random strings of tricky and block characters, folded, against the
//! offset map's and the term folding's invariants, and the ASCII loop against its model.

use super::*;

pub(super) fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('a', 'z'),
        2 => Just(' '),
        1 => prop::sample::select(vec![
            'A', 'Z', 'e', 'i', 'I', '.', '-', '\'', '0', '9',
            'ß', 'ẞ', 'İ', 'ı', 'ﬁ', 'ﬀ', 'ς', 'Σ', 'ΐ', 'ᾳ', 'ͅ', 'й', 'и', 'Й', 'ё',
            '\u{300}', '\u{301}', '\u{306}', '\u{308}', '\u{323}', '\u{338}', '\u{345}',
            '\u{3099}', '\u{309A}', '\u{FF9E}', '\u{FF9F}', 'ｶ', 'ﾊ', 'か', 'カ',
            '\u{1100}', '\u{1161}', '\u{11A8}', '\u{1160}', '가', '각', 'ㄱ', 'ﾡ',
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{FE0F}', '\u{E0100}', '\u{AD}',
            '😀', '👍', '\u{1F3FD}', '🇺', '❤', 'Ａ', 'ｚ', '１', '　', '①', '½', '㈱', '㍿',
            '‘', '’', '“', '”', '—', 'ʼ', 'ǅ', 'Ǆ', 'ﷺ', 'ŉ', '北', '\u{0E35}', '\u{0E48}',
            'ท', 'क', '\u{093F}', '\u{094D}', 'ب', '\u{064E}', '\u{0B47}', '\u{0B3E}', 'ଓ',
            '<', '=', '\u{0}', '\u{FFFD}', '\u{10FFFF}',
        ]),
        2 => block_char(),
        1 => any::<char>(),
    ]
}

/// Any char of the blocks where folding has the most special cases.
pub(super) fn block_char() -> impl Strategy<Value = char> {
    const BLOCKS: [(u32, u32); 14] = [
        (0x00A0, 0x024F), // Latin-1, Latin Extended
        (0x0300, 0x036F), // combining diacritics
        (0x0370, 0x03FF), // Greek
        (0x0400, 0x04FF), // Cyrillic
        (0x0900, 0x097F), // Devanagari
        (0x0E00, 0x0EFF), // Thai, Lao
        (0x1100, 0x11FF), // Hangul jamo
        (0x1E00, 0x1FFF), // Latin Extended Additional, Greek Extended
        (0x2000, 0x215F), // punctuation, letterlike, number forms
        (0x2460, 0x24FF), // enclosed alphanumerics
        (0x3000, 0x30FF), // CJK punctuation, kana
        (0x3130, 0x33FF), // compatibility jamo, enclosed CJK, squared
        (0xFB00, 0xFB4F), // ligatures
        (0xFF00, 0xFFEF), // halfwidth and fullwidth forms
    ];
    prop::sample::select(BLOCKS.to_vec())
        .prop_flat_map(|(lo, hi)| lo..=hi)
        .prop_map(|u| char::from_u32(u).unwrap_or('?'))
}

pub(super) fn tricky_string() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..40).prop_map(|v| v.into_iter().collect())
}

pub(super) fn check_map(s: &str) -> Result<(), TestCaseError> {
    let f = fold(s);
    let text = f.as_str();
    let mut prev: Option<Range<usize>> = None;
    for (i, c) in text.char_indices() {
        let r = f.original_range(i..i + c.len_utf8());
        prop_assert!(
            r.start < r.end && r.end <= s.len(),
            "{r:?} for {c:?} in {s:?}"
        );
        prop_assert!(s.is_char_boundary(r.start) && s.is_char_boundary(r.end));
        if let Some(p) = &prev {
            prop_assert!(
                p.start <= r.start && p.end <= r.end,
                "{p:?} then {r:?} in {s:?}"
            );
        }
        // multi-char ranges agree with their ends
        let whole = f.original_range(0..i + c.len_utf8());
        prop_assert!(s.is_char_boundary(whole.start) && s.is_char_boundary(whole.end));
        prop_assert!(whole.start <= r.start && whole.end == r.end);
        prev = Some(r);
    }
    Ok(())
}

pub(super) fn check_term(s: &str) -> Result<(), TestCaseError> {
    let t = fold_term(s);
    prop_assert_eq!(fold_term(&t), t.clone(), "not idempotent for {:?}", s);
    prop_assert!(!t.starts_with(' ') && !t.ends_with(' ') && !t.contains("  "));
    let folded = fold(s);
    prop_assert_eq!(folded.as_str(), t.as_str());
    let k = fold_keep_case(s);
    prop_assert_eq!(fold_keep_case(&k), k.clone());
    prop_assert_eq!(fold_term(&k), t);
    Ok(())
}

/// Plain per-byte model of the rules for ASCII text, to check the
/// block-wise ASCII loop against.
pub(super) fn ascii_model(s: &str, fold_case: bool) -> (String, Vec<u32>) {
    let (mut text, mut map, mut sep) = (String::new(), Vec::new(), None);
    for (i, b) in s.bytes().enumerate() {
        if b.is_ascii_alphanumeric() {
            if let Some(p) = sep.take().filter(|_| !text.is_empty()) {
                text.push(' ');
                map.push(p);
            }
            text.push(char::from(if fold_case {
                b.to_ascii_lowercase()
            } else {
                b
            }));
            map.push(i as u32);
        } else if sep.is_none() {
            sep = Some(i as u32);
        }
    }
    (text, map)
}

#[test]
fn ascii_loop_examples() {
    for s in [
        "",
        " ",
        "a",
        "Ab",
        "  leading and trailing  ",
        "exactly8",
        "exactly8 bytes!!",
        "a,b.c-d  e\t\nf",
        "U.S. and U.K. -- 2024/25: ok?!",
        "........a........b........",
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@[`{/:",
    ] {
        for fold_case in [true, false] {
            let mut f = Folded::new();
            fold_with(s, &mut f, fold_case, false, true);
            let (text, map) = ascii_model(s, fold_case);
            assert_eq!((f.as_str(), &f.map), (text.as_str(), &map), "{s:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn prop_ascii_loop_matches_model(
        s in "[a-zA-Z0-9 ,.'\\-@\\[`{/:\n]{0,80}",
        fold_case in any::<bool>(),
    ) {
        let mut f = Folded::new();
        fold_with(&s, &mut f, fold_case, false, true);
        let (text, map) = ascii_model(&s, fold_case);
        prop_assert_eq!(f.as_str(), text.as_str());
        prop_assert_eq!(&f.map, &map);
    }

    #[test]
    fn prop_any_string_map(s in any::<String>()) {
        check_map(&s)?;
    }

    #[test]
    fn prop_tricky_string_map(s in tricky_string()) {
        check_map(&s)?;
    }

    #[test]
    fn prop_any_string_term(s in any::<String>()) {
        check_term(&s)?;
    }

    #[test]
    fn prop_tricky_string_term(s in tricky_string()) {
        check_term(&s)?;
    }
}
