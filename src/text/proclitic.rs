//! Arabic proclitics as word starts. The conjunctions و ("and") and ف ("so") and the
//! prepositions ب ("in, with"), ل ("to, for") and ك ("like") are written joined to the word
//! they precede: "وروسيا" is "and Russia", "بغزة" "in Gaza", "بالأسد" "with al-Assad". A
//! term may start after one or two of them at the start of a word, as if a word boundary lay
//! there: "روسيا" matches "وروسيا", "الأسد" matches "بالأسد" and "وبالأسد". Before, a watch on
//! an Arabic name missed it after every "and", "in" and "to".
//!
//! Only where that reading is safe:
//! - in folded text written in Arabic: it has a core Arabic letter (U+0621–U+064A) and no
//!   letter of the extended block (U+0671–U+06FF) that Persian and Urdu write (ی, ک, پ, گ...):
//!   in Persian "برای" is "for", not ب + "رای" ("vote");
//! - in a word of core Arabic letters only, with at least three letters after the proclitics:
//!   "ولد" and "بلد" are words, not و + "لد".
//!
//! What it costs: a term that is an Arabic word without its first letter matches that word
//! too ("امل", hope or the Amal movement, matches "كامل", complete). The article ال is not a
//! proclitic here: "اسد" does not match "الاسد". The folded text is unchanged; word positions
//! (NEAR) count the whole word.
//!
//! Crossing the boundary: [`in_arabic`], [`starts_in`] and [`is_start`], for the matcher's
//! word starts and its left-boundary check.

/// The two bytes of a proclitic letter in UTF-8: و U+0648, ف U+0641, ب U+0628, ل U+0644,
/// ك U+0643.
fn is_proclitic(b: &[u8]) -> bool {
    matches!(
        b,
        [0xD9, 0x88] | [0xD9, 0x81] | [0xD8, 0xA8] | [0xD9, 0x84] | [0xD9, 0x83]
    )
}

/// Whether `b` (two bytes) is the UTF-8 of a core Arabic letter, U+0621–U+064A.
fn is_core_letter(b: &[u8]) -> bool {
    matches!(b, [0xD8, 0xA1..=0xBF] | [0xD9, 0x80..=0x8A])
}

/// Letters a word must have after its proclitics.
const MIN_REST: usize = 3;

/// Proclitics a word may start with: a conjunction and a preposition ("وبروسيا", "and in
/// Russia").
const MAX_PROCLITICS: usize = 2;

/// Whether folded text `f` is written in Arabic (see the module docs): the rule applies to it.
pub fn in_arabic(f: &str) -> bool {
    let bytes = f.as_bytes();
    // Most text holds no Arabic at all: one search for the letters' lead bytes.
    if memchr::memchr2(0xD8, 0xD9, bytes).is_none() {
        return false;
    }
    let mut core = false;
    for c in f.chars() {
        match u32::from(c) {
            0x0621..=0x064A => core = true,
            0x0671..=0x06FF => return false,
            _ => {}
        }
    }
    core
}

/// The offsets inside `word` (folded, no space in it) after each of its leading proclitics
/// where a term may start: none, one or two.
pub fn starts_in(word: &str) -> impl Iterator<Item = usize> + '_ {
    let b = word.as_bytes();
    let arabic = b.len().is_multiple_of(2)
        && b.len() / 2 > MIN_REST
        && b.chunks_exact(2).all(is_core_letter);
    let letters = b.len() / 2;
    (1..=MAX_PROCLITICS)
        .take_while(move |&k| {
            arabic && letters - k >= MIN_REST && is_proclitic(&b[2 * (k - 1)..2 * k])
        })
        .map(|k| 2 * k)
}

/// Whether a term may start at byte `at` of folded text `f` (written in Arabic, see
/// [`in_arabic`]) after the proclitics of the word `at` is in.
pub fn is_start(f: &str, at: usize) -> bool {
    let bytes = f.as_bytes();
    if at == 0 || at > bytes.len() {
        return false;
    }
    let from = memchr::memrchr(b' ', &bytes[..at]).map_or(0, |p| p + 1);
    let to = memchr::memchr(b' ', &bytes[at..]).map_or(bytes.len(), |p| at + p);
    f.get(from..to)
        .is_some_and(|word| starts_in(word).any(|s| from + s == at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::fold::fold_term;

    /// Where a term may start in `word` (written folded), as the rest of the word from there.
    fn starts(word: &str) -> Vec<&str> {
        assert_eq!(fold_term(word), word, "written folded");
        starts_in(word).map(|s| &word[s..]).collect()
    }

    #[test]
    fn a_term_may_start_after_one_or_two_proclitics() {
        assert_eq!(starts("وروسيا"), ["روسيا"]);
        assert_eq!(starts("بغزة"), ["غزة"]);
        assert_eq!(starts("لاسرائيل"), ["اسرائيل"]);
        assert_eq!(starts("بالاسد"), ["الاسد"]);
        assert_eq!(starts("وبالاسد"), ["بالاسد", "الاسد"]);
        // Both letters are proclitics: "وريا" is a start too (no term is that word).
        assert_eq!(starts("فكوريا"), ["كوريا", "وريا"]);
        // Three letters after it at least; two at most.
        assert_eq!(starts("ولد"), Vec::<&str>::new());
        assert_eq!(starts("وبلد"), ["بلد"]);
        assert_eq!(starts("وبلدة"), ["بلدة", "لدة"]);
        assert_eq!(starts("وبلبنان"), ["بلبنان", "لبنان"]);
        // Not the article, not another letter.
        assert_eq!(starts("الاسد"), Vec::<&str>::new());
        assert_eq!(starts("روسيا"), Vec::<&str>::new());
        // Persian and Urdu letters: not this rule's word.
        assert_eq!(starts("برای"), Vec::<&str>::new());
        assert_eq!(starts("kyiv"), Vec::<&str>::new());
    }

    #[test]
    fn only_arabic_text_is_read_so() {
        assert!(in_arabic(&fold_term("قوات كورية شمالية وروسيا")));
        assert!(!in_arabic("north korean troops"));
        // Persian: ی and ک.
        assert!(!in_arabic(&fold_term("نیروهای کره شمالی برای روسیه")));
        // Arabic-Indic digits alone are no Arabic text.
        assert!(!in_arabic(&fold_term("٢٠٢٥")));
    }

    #[test]
    fn a_start_is_found_from_any_offset_of_its_word() {
        let f = fold_term("قوات وبروسيا");
        let word = f.find(" و").map_or(0, |p| p + 1);
        let at: Vec<usize> = (0..=f.len()).filter(|&i| is_start(&f, i)).collect();
        assert_eq!(at, [word + 2, word + 4]);
        assert!(!is_start(&f, 0) && !is_start(&f, f.len() + 1));
    }
}
