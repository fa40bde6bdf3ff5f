//! Fast script classification of single characters for word-boundary logic.
//!
//! Matching runs on folded text (see [`crate::text::fold`]), where words of
//! space-delimited scripts are already separated by ASCII spaces. Scripts that
//! are written without spaces between words (Chinese, Japanese, Thai, ...)
//! need different boundary rules, and Korean (spaced, but agglutinative: a
//! particle is glued to the noun, "북한군이") needs its own. This module only
//! answers "which of those families is this char in"; the boundary decisions
//! live with the matcher.
//!
//! The checks are hand-written block ranges instead of Unicode property
//! lookups because they run once or twice per match candidate on the hot path;
//! a few comparisons beat a trie lookup, and everything below U+0E00 (ASCII,
//! Latin, Greek, Cyrillic, Arabic, Indic) is rejected by the first compare.
//! Whole blocks are used, so a few punctuation or unassigned code points in
//! those blocks are included; that is harmless because folded text has
//! already turned punctuation into spaces. The tests check the ranges against
//! the Unicode `Script` property.

/// True for chars of scripts written without spaces between words: Han
/// (unified ideographs with all extensions, compatibility ideographs,
/// radicals), Hiragana, Katakana (with halfwidth forms and the phonetic
/// extensions), Bopomofo, Thai, Lao, Khmer and Myanmar.
#[inline]
pub fn is_unspaced(c: char) -> bool {
    let c = u32::from(c);
    if c < 0x0E00 {
        return false;
    }
    matches!(
        c,
        0x0E00..=0x0EFF // Thai, Lao
            | 0x1000..=0x109F // Myanmar
            | 0x1780..=0x17FF // Khmer
            | 0x19E0..=0x19FF // Khmer Symbols
            | 0x2E80..=0x2FDF // CJK Radicals Supplement, Kangxi Radicals
            | 0x3005..=0x3007 // 々 〆 〇 (iteration mark, closing mark, ideographic zero)
            | 0x3021..=0x3029 // Hangzhou numerals
            | 0x3031..=0x3035 // vertical kana repeat marks
            | 0x3038..=0x303C // more Hangzhou numerals, 〻 〼
            | 0x3041..=0x309F // Hiragana
            | 0x30A1..=0x30FA // Katakana letters (not ゠ U+30A0, not ・ U+30FB)
            | 0x30FC..=0x30FF // ー and Katakana iteration marks, digraph ヿ
            | 0x3100..=0x312F // Bopomofo
            | 0x31A0..=0x31BF // Bopomofo Extended
            | 0x31F0..=0x31FF // Katakana Phonetic Extensions
            | 0x3400..=0x4DBF // CJK Extension A
            | 0x4E00..=0x9FFF // CJK Unified Ideographs
            | 0xA9E0..=0xA9FF // Myanmar Extended-B
            | 0xAA60..=0xAA7F // Myanmar Extended-A
            | 0xF900..=0xFAFF // CJK Compatibility Ideographs
            | 0xFF66..=0xFF9F // Halfwidth Katakana
            | 0x116D0..=0x116FF // Myanmar Extended-C
            | 0x16FE2..=0x16FE3 // Old Chinese hook and iteration marks (Han)
            | 0x16FF0..=0x16FFF // Vietnamese reading marks and other Han signs
            | 0x1AFF0..=0x1B16F // Kana Extended-B, Kana Supplement, Kana Extended-A, Small Kana
            | 0x20000..=0x3FFFF // Supplementary and Tertiary Ideographic Planes (Han only)
    )
}

/// True for Hangul: precomposed syllables, conjoining jamo (with extensions
/// A and B), compatibility jamo and halfwidth jamo.
#[inline]
pub fn is_hangul(c: char) -> bool {
    let c = u32::from(c);
    if c < 0x1100 {
        return false;
    }
    matches!(
        c,
        0x1100..=0x11FF // Hangul Jamo
            | 0x3131..=0x318E // Hangul Compatibility Jamo
            | 0xA960..=0xA97F // Hangul Jamo Extended-A
            | 0xAC00..=0xD7A3 // Hangul Syllables
            | 0xD7B0..=0xD7FF // Hangul Jamo Extended-B
            | 0xFFA0..=0xFFDC // Halfwidth Hangul jamo
    )
}

/// Which of the boundary families a char is in: what [`is_unspaced`] and [`is_hangul`] say,
/// asked once. The word-boundary loops over folded text classify each char once with it
/// instead of asking both questions about both sides of every pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A script written with spaces (and everything not in the two others).
    Spaced,
    /// [`is_unspaced`].
    Unspaced,
    /// [`is_hangul`].
    Hangul,
}

/// The [`Class`] of `c`. The commonest blocks are answered first: everything below U+0E00,
/// the CJK Unified Ideographs and the Hangul syllables.
#[inline]
pub fn class(c: char) -> Class {
    match u32::from(c) {
        0..0x0E00 => Class::Spaced,
        0x4E00..=0x9FFF => Class::Unspaced,
        0xAC00..=0xD7A3 => Class::Hangul,
        _ if is_unspaced(c) => Class::Unspaced,
        _ if is_hangul(c) => Class::Hangul,
        _ => Class::Spaced,
    }
}

/// Is there a word boundary between two neighbouring chars of these classes, neither a space?
/// Any change into or out of a script written without spaces, or into or out of Hangul.
#[inline]
pub fn breaks(a: Class, b: Class) -> bool {
    a == Class::Unspaced || b == Class::Unspaced || (a == Class::Hangul) != (b == Class::Hangul)
}

#[cfg(test)]
mod tests {
    use super::*;
    use icu_properties::CodePointMapData;
    use icu_properties::props::{GeneralCategory, GeneralCategoryGroup, Script};

    const UNSPACED: [Script; 8] = [
        Script::Han,
        Script::Hiragana,
        Script::Katakana,
        Script::Bopomofo,
        Script::Thai,
        Script::Lao,
        Script::Khmer,
        Script::Myanmar,
    ];

    fn all_chars() -> impl Iterator<Item = char> {
        (0..=0x10FFFF_u32).filter_map(char::from_u32)
    }

    #[test]
    fn examples() {
        for c in "北京東京ひらがなカタカナｶﾀｶﾅไทยລາວខ្មែរမြန်မာㄅㄆ々ー𠀋".chars()
        {
            assert!(is_unspaced(c), "{c:?} should be unspaced");
            assert!(!is_hangul(c), "{c:?} is not Hangul");
        }
        for c in "북한군이각ㄱﾡ".chars() {
            assert!(is_hangul(c), "{c:?} should be Hangul");
            assert!(!is_unspaced(c), "{c:?} is spaced");
        }
        for c in "aZ9éЙжΩαאب्क 。、・".chars() {
            assert!(!is_unspaced(c), "{c:?} should be spaced");
            assert!(!is_hangul(c), "{c:?} is not Hangul");
        }
    }

    /// Every letter, mark or number whose Script is one of the unspaced
    /// scripts is covered, and nothing covered has a different real script.
    #[test]
    fn unspaced_matches_script_property() {
        let script = CodePointMapData::<Script>::new();
        let gc = CodePointMapData::<GeneralCategory>::new();
        let wordy = GeneralCategoryGroup::Letter
            .union(GeneralCategoryGroup::Mark)
            .union(GeneralCategoryGroup::Number);
        let mut wrong = Vec::new();
        for c in all_chars() {
            let s = script.get(c);
            let is_word = wordy.contains(gc.get(c));
            if is_word && UNSPACED.contains(&s) && !is_unspaced(c) {
                wrong.push(format!("missing U+{:04X} ({s:?})", c as u32));
            }
            if is_unspaced(c)
                && gc.get(c) != GeneralCategory::Unassigned
                && !UNSPACED.contains(&s)
                && !matches!(s, Script::Common | Script::Inherited)
            {
                wrong.push(format!("extra U+{:04X} ({s:?})", c as u32));
            }
        }
        assert!(wrong.is_empty(), "{wrong:?}");
    }

    #[test]
    fn class_is_what_the_two_questions_say() {
        for c in all_chars() {
            let want = match (is_unspaced(c), is_hangul(c)) {
                (true, false) => Class::Unspaced,
                (false, true) => Class::Hangul,
                (false, false) => Class::Spaced,
                (true, true) => panic!("{c:?} is in both families"),
            };
            assert_eq!(class(c), want, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn hangul_matches_script_property() {
        let script = CodePointMapData::<Script>::new();
        let gc = CodePointMapData::<GeneralCategory>::new();
        for c in all_chars() {
            let s = script.get(c);
            if GeneralCategoryGroup::Letter.contains(gc.get(c)) && s == Script::Hangul {
                assert!(is_hangul(c), "{c:?} U+{:04X}", c as u32);
            }
            if is_hangul(c) && gc.get(c) != GeneralCategory::Unassigned {
                assert_eq!(s, Script::Hangul, "{c:?} U+{:04X}", c as u32);
            }
        }
    }
}
