//! What each character is to the folder: word, separator, mark, joiner; and the precomputed
//! single-character folds of the common blocks ([`fast_single`]).
//!
//! Used by the folding loop in the parent module; nothing here leaves `text::fold`.

use super::*;

/// Result of folding a cluster that is one char, when it has a short form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Single {
    /// One or two word chars ("É" → "e", "ß" → "ss").
    Word(char, Option<char>),
    /// A separator.
    Sep,
    /// Anything else: take the general path.
    Slow,
}

/// Blocks whose single chars are precomputed, as `[start, end)`: Latin-1
/// through Thai (Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Indic),
/// Latin Extended Additional (Vietnamese) through General Punctuation, CJK
/// punctuation and kana, fullwidth and halfwidth forms.
pub(super) const TABLE_BLOCKS: [(u32, u32); 4] = [
    (0x0080, 0x0E80),
    (0x1E00, 0x2070),
    (0x3000, 0x3100),
    (0xFF00, 0xFFF0),
];
pub(super) const TABLE_LEN: usize = {
    let mut n = 0;
    let mut k = 0;
    while k < TABLE_BLOCKS.len() {
        n += (TABLE_BLOCKS[k].1 - TABLE_BLOCKS[k].0) as usize;
        k += 1;
    }
    n
};

/// Index of `c` in a [`TABLE_BLOCKS`] table.
#[inline]
pub(super) fn table_index(c: u32) -> Option<usize> {
    let mut base = 0;
    for (lo, hi) in TABLE_BLOCKS {
        if c < lo {
            return None;
        }
        if c < hi {
            return Some(base + (c - lo) as usize);
        }
        base += (hi - lo) as usize;
    }
    None
}

/// Precomputed facts about one char of [`TABLE_BLOCKS`].
#[derive(Clone, Copy)]
pub(super) struct Entry {
    single: Single,
    trailing: bool,
}

/// The general path's result and [`is_trailing`] for every char of
/// [`TABLE_BLOCKS`], in both modes (case folded first), built on first use.
/// Computing it with the general path itself means it cannot disagree with
/// it.
pub(super) fn table() -> &'static [Entry] {
    static TABLE: OnceLock<Box<[Entry]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Vec::with_capacity(2 * TABLE_LEN);
        for fold_case in [true, false] {
            let mut w = Writer::new(fold_case);
            for (lo, hi) in TABLE_BLOCKS {
                // The blocks hold no surrogates, so this yields every one.
                for c in (lo..hi).filter_map(char::from_u32) {
                    table.push(Entry {
                        single: w.single_slow(c),
                        trailing: is_trailing(c),
                    });
                }
            }
        }
        table.into_boxed_slice()
    })
}

/// Short form of folding the one-char cluster `c`: hand-written ranges for
/// the big ideograph and syllable blocks (a test checks them against the
/// general path), the precomputed table for the blocks of [`TABLE_BLOCKS`].
#[inline]
pub(super) fn fast_single(c: char, fold_case: bool) -> Single {
    let u = u32::from(c);
    match u {
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xAC00..=0xD7A3 => Single::Word(c, None),
        _ => match table_index(u) {
            Some(k) => {
                let k = if fold_case { k } else { k + TABLE_LEN };
                table().get(k).map_or(Single::Slow, |e| e.single)
            }
            None => Single::Slow,
        },
    }
}

/// [`is_trailing`] with shortcuts for the common blocks.
#[inline]
pub(super) fn is_trailing_fast(c: char) -> bool {
    let u = u32::from(c);
    if u < 0x300 {
        // Below the first mark only the soft hyphen attaches (see [`is_trailing`]).
        return u == 0xAD;
    }
    match u {
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7A3 => false,
        _ => match table_index(u) {
            Some(k) => table().get(k).is_some_and(|e| e.trailing),
            None => is_trailing(c),
        },
    }
}

/// Chars that attach to the preceding char's cluster: anything that can
/// combine with it under normalization (a test checks this against the
/// normalization data), and the invisible joiners, which vanish before
/// normalization: what they split must compose as if they were not there,
/// or folding would not be idempotent ("ᄀ" U+FEFF "ᅡ" is "가").
#[inline]
pub(super) fn is_trailing(c: char) -> bool {
    is_invisible_joiner(c)
        || matches!(
            c,
            // Hangul medial vowels and final consonants compose with L / LV.
            '\u{1161}'..='\u{1175}' | '\u{11A8}'..='\u{11C2}'
            // Compatibility and halfwidth jamo that decompose to those.
            | '\u{3133}' | '\u{3135}'..='\u{3136}' | '\u{313A}'..='\u{313F}' | '\u{314F}'..='\u{3163}'
            | '\u{FFA3}' | '\u{FFA5}'..='\u{FFA6}' | '\u{FFAA}'..='\u{FFAF}' | '\u{FFC2}'..='\u{FFC7}'
            | '\u{FFCA}'..='\u{FFCF}' | '\u{FFD2}'..='\u{FFD7}' | '\u{FFDA}'..='\u{FFDC}'
            // Halfwidth (semi-)voiced sound marks become combining U+3099/U+309A.
            | '\u{FF9E}' | '\u{FF9F}'
            // Thai and Lao sara am: a vowel letter whose decomposition starts
            // with a mark, which is kept or dropped by the consonant before.
            | '\u{0E33}' | '\u{0EB3}'
            // Kirat Rai vowel signs, letters that compose with each other.
            | '\u{16D67}'..='\u{16D68}'
            // Arabic medial forms of marks: a tatweel (which vanishes) and the mark, which
            // then belongs to the letter before.
            | '\u{FCF2}'..='\u{FCF4}' | '\u{FE71}' | '\u{FE77}' | '\u{FE79}' | '\u{FE7B}'
            | '\u{FE7D}' | '\u{FE7F}'
        )
        || is_mark(c)
}

/// Whether `c` is a letterlike symbol (a symbol of U+2100–U+214F: `™`, `℠`, `№`, `℡`,
/// `℻`): one whose compatibility form holds letters is a word of its own (rule 5). Other
/// symbols keep folding into their neighbours as before: squared units (`5㎏` is `5kg`, as
/// the term "5kg" expects), enclosed letters (`Ⓑⓛⓤⓔ` is `blue`) and the squared Japanese
/// words (`トヨタ㍿` is one unspaced run, as the term `トヨタ株式会社`).
pub(super) fn is_symbol(c: char) -> bool {
    ('\u{2100}'..='\u{214F}').contains(&c) && GeneralCategoryGroup::Symbol.contains(GC.get(c))
}

#[inline]
pub(super) fn is_mark(c: char) -> bool {
    // U+0300 is the first mark; this keeps Latin-1 off the property lookup.
    c >= '\u{300}' && GeneralCategoryGroup::Mark.contains(GC.get(c))
}

/// Characters that only join, hyphenate or stretch within a word: soft hyphen, ZWNJ, ZWJ,
/// word joiner, zero-width no-break space, Arabic tatweel (kashida, a typographic stretch
/// common in headlines). They vanish instead of separating words or staying in them.
#[inline]
pub(super) fn is_invisible_joiner(c: char) -> bool {
    matches!(
        c,
        '\u{AD}' | '\u{640}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

#[inline]
pub(super) fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{180B}'..='\u{180D}' | '\u{180F}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Rule 5: letters, numbers and (kept) marks.
#[inline]
pub(super) fn is_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    // Apostrophe look-alikes that Unicode files as modifier letters (ʼ in
    // Ukrainian, ʻ in Uzbek and Hawaiian): rule 4 makes them separators so
    // that all apostrophe spellings fold alike.
    // U+02BE/U+02BF (half rings, the ʾ and ʿ of "Qurʾan" and "Shiʿa") likewise.
    if matches!(c, '\u{02B9}'..='\u{02BF}' | '\u{02EE}') {
        return false;
    }
    let gc = GC.get(c);
    WORD_GC.contains(gc) || (gc == GeneralCategory::OtherSymbol && ALPHABETIC.contains(c))
}

/// The base letter of a Latin letter whose stroke or bar is part of its code point, not a
/// combining mark (decomposition leaves "Ł" whole): rule 3 drops Latin diacritics, so
/// "Łódź" must fold as "Lodz" does, "Đà Nẵng" as "Da Nang", "Ørsted" as "Orsted". Case is
/// kept (a `case:` term compares it).
#[inline]
pub(super) fn stroke_base(c: char) -> Option<char> {
    Some(match c {
        'ł' => 'l',
        'Ł' => 'L',
        'đ' => 'd',
        'Đ' => 'D',
        'ø' => 'o',
        'Ø' => 'O',
        'ħ' => 'h',
        'Ħ' => 'H',
        'ŧ' => 't',
        'Ŧ' => 'T',
        _ => return None,
    })
}

/// Rule 3's exceptions in scripts that keep their marks: marks that writers of the language
/// put in or leave out at will, dropped so both spellings fold alike. Cyrillic: the dieresis
/// of `ё` (Russian prints `е` for it nearly everywhere: "Артёмовск" is "Артемовск") and the
/// stress acute on a vowel (`Моско́вский`); the marks that make letters stay (`й`, `ї`, `ў`,
/// Macedonian `ќ`, `ѓ`: a breve, a dieresis on `і`, an acute on a consonant). Arabic: the
/// short vowels and other harakat (U+064B–U+0652, the dagger alef U+0670), which print
/// text mostly omits (`مُحَمَّد` is `محمد`), and the hamza or madda on an alef, which
/// outlets write or drop (`الأسد` is `الاسد`, `آ` is `ا`); the hamza on `ؤ` and `ئ` stays.
/// Hebrew: the vowel points and dots (niqqud, U+05B0–U+05C7), absent from print text
/// (`שָׁלוֹם` is `שלום`).
#[inline]
pub(super) fn optional_mark(base: char, mark: char) -> bool {
    match base {
        'е' | 'Е' if mark == '\u{308}' => true,
        _ if is_cyrillic_vowel(base) => mark == '\u{301}',
        'ا' => matches!(mark, '\u{64B}'..='\u{655}' | '\u{670}'),
        '\u{5D0}'..='\u{5EA}' => matches!(mark, '\u{5B0}'..='\u{5C7}'),
        _ => matches!(mark, '\u{64B}'..='\u{652}' | '\u{670}'),
    }
}

/// Whether marks after `base` may be optional ones (see [`optional_mark`]): Cyrillic vowels,
/// Arabic-script and Hebrew letters.
#[inline]
pub(super) fn has_optional_marks(base: char) -> bool {
    is_cyrillic_vowel(base)
        || matches!(
                base,
                '\u{620}'..='\u{64A}' | '\u{66E}'..='\u{6D3}' | '\u{6D5}' | '\u{6EE}'..='\u{6FF}'
                | '\u{750}'..='\u{77F}' | '\u{8A0}'..='\u{8C9}'
                | '\u{5D0}'..='\u{5EA}'
        )
}

/// The Cyrillic vowels a stress accent is written on, in both cases (case-kept folding sees
/// capitals).
#[inline]
fn is_cyrillic_vowel(c: char) -> bool {
    matches!(
        c,
        'а' | 'е'
            | 'и'
            | 'о'
            | 'у'
            | 'ы'
            | 'э'
            | 'ю'
            | 'я'
            | 'і'
            | 'є'
            | 'А'
            | 'Е'
            | 'И'
            | 'О'
            | 'У'
            | 'Ы'
            | 'Э'
            | 'Ю'
            | 'Я'
            | 'І'
            | 'Є'
    )
}

/// Rule 3: bases whose diacritics are dropped.
#[inline]
pub(super) fn strips_marks(base: char) -> bool {
    base.is_ascii()
        || matches!(
            SCRIPT.get(base),
            Script::Latin | Script::Greek | Script::Common
        )
}
