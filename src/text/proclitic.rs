//! Proclitics as word starts: the short words Arabic and Hebrew write joined to the next one.
//!
//! Arabic joins the conjunctions و ("and") and ف ("so") and the prepositions ب ("in, with"),
//! ل ("to, for") and ك ("like"): "وروسيا" is "and Russia", "بغزة" "in Gaza", "بالأسد" "with
//! al-Assad". Hebrew joins ו ("and"), ה ("the"), ב ("in"), ל ("to"), מ ("from"), ש ("that")
//! and כ ("as"): "הכנסת" is "the Knesset", "בירושלים" "in Jerusalem", "והצבא" "and the
//! army". A term may start after the proclitics at the start of a word, as if a word boundary
//! lay there: "روسيا" matches "وروسيا", "כנסת" matches "הכנסת". Before, a watch on a name
//! missed it after every "and", "in" and "to" (and in Hebrew, after every "the").
//!
//! Only where that reading is safe:
//! - in folded text written in that language: Arabic has a core Arabic letter (U+0621–U+064A)
//!   and no letter of the extended block (U+0671–U+06FF) that Persian and Urdu write (ی, ک,
//!   پ, گ...), since in Persian "برای" is "for", not ب + "رای" ("vote"); Hebrew has a Hebrew
//!   letter and none of the ligatures Yiddish writes (װ, ױ, ײ), since Yiddish joins none;
//! - in a word of that script's letters only, after at most two proclitics in Arabic and three
//!   in Hebrew ("ומהצבא", "and from the army"), with at least three letters left in Arabic
//!   ("ولد" and "بلد" are words, not و + "لد") and two in Hebrew, whose words are short
//!   ("בצה״ל", "in the IDF", folds to "בצה ל": the term "צה״ל" is "צה ל").
//!
//! What it costs: a term that is a word without its first letter or two matches that word too
//! (Arabic "امل", hope or the Amal movement, matches "كامل", complete; Hebrew "דינה", Dina,
//! matches "מדינה", state). The Arabic article ال is not a proclitic: "اسد" does not match
//! "الاسد". The folded text is unchanged; word positions (NEAR) count the whole word.
//!
//! The article ال after the proclitic ل is written without its alef: ل + "الجيش" ("the army")
//! is "للجيش" ("for the army"), ل + "الامم المتحدة" is "للامم المتحدة" ("to the United
//! Nations"), and before a word that starts with ل one lam goes too: ل + "اللجنة" ("the
//! committee") is "للجنة". A term that starts with the article also matches that spelling
//! ([`contracted`]: the matcher adds it as another pattern of the term), where any word may
//! start (so after و and ف too: "وللجيش"). Before, a watch on "الجيش" missed "to the army",
//! one of the commonest forms in Arabic news. Not in Hebrew, whose ב, ל, כ also swallow the
//! article ("לכנסת", "to the Knesset"): a Hebrew term written without it ("כנסת") matches
//! there already, and too many Hebrew words start with a ה that is no article.
//!
//! Crossing the boundary: [`Context`] (which rules a text is read with), [`may_lead`], for the
//! matcher's word starts and its left-boundary check; [`contracted`], for its compiler.

/// One language's rule: its letters and proclitics (each two bytes of UTF-8), how many of
/// them a word may start with and how many letters must be left.
struct Rule {
    is_letter: fn(&[u8]) -> bool,
    is_proclitic: fn(&[u8]) -> bool,
    max: usize,
    min_rest: usize,
}

const ARABIC: Rule = Rule {
    // U+0621–U+064A (the tatweel, U+0640, never reaches folded text).
    is_letter: |b| matches!(b, [0xD8, 0xA1..=0xBF] | [0xD9, 0x80..=0x8A]),
    // و U+0648, ف U+0641, ب U+0628, ل U+0644, ك U+0643.
    is_proclitic: |b| {
        matches!(
            b,
            [0xD9, 0x88] | [0xD9, 0x81] | [0xD8, 0xA8] | [0xD9, 0x84] | [0xD9, 0x83]
        )
    },
    max: 2,
    min_rest: 3,
};

const HEBREW: Rule = Rule {
    // U+05D0–U+05EA.
    is_letter: |b| matches!(b, [0xD7, 0x90..=0xAA]),
    // ו U+05D5, ה U+05D4, ב U+05D1, כ U+05DB, ל U+05DC, מ U+05DE, ש U+05E9.
    is_proclitic: |b| matches!(b, [0xD7, 0x95 | 0x94 | 0x91 | 0x9B | 0x9C | 0x9E | 0xA9]),
    max: 3,
    min_rest: 2,
};

/// Whether a word starting with `c` may start with a proclitic: the cheap test before
/// [`Context::of`] reads the whole text.
pub fn may_lead(c: char) -> bool {
    matches!(
        c,
        'و' | 'ف' | 'ب' | 'ل' | 'ك' | 'ו' | 'ה' | 'ב' | 'כ' | 'ל' | 'מ' | 'ש'
    )
}

/// The spelling of folded term `term` after the proclitic ل when it starts with the Arabic
/// article (see the module docs): "لل" + the rest, less the rest's first ل if it has one. None
/// unless the term's first word is Arabic letters only, the article and at least one letter
/// more.
pub fn contracted(term: &str) -> Option<String> {
    let first = term.split(' ').next().unwrap_or_default();
    let rest = first.strip_prefix("ال")?;
    let b = rest.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(2) || !b.chunks_exact(2).all(ARABIC.is_letter) {
        return None;
    }
    let rest = rest.strip_prefix('ل').unwrap_or(rest);
    Some(format!("لل{rest}{}", &term[first.len()..]))
}

/// Which languages' proclitics a folded text is read with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
    arabic: bool,
    hebrew: bool,
}

impl Context {
    /// The rules folded text `f` is read with (see the module docs).
    pub fn of(f: &str) -> Context {
        let bytes = f.as_bytes();
        // Most text holds neither script: one search for their letters' lead bytes.
        if memchr::memchr3(0xD7, 0xD8, 0xD9, bytes).is_none() {
            return Context::default();
        }
        let (mut arabic, mut persian, mut hebrew, mut yiddish) = (false, false, false, false);
        // By pairs of bytes, not chars (decoding every char cost more than the rest of the
        // rule): the lead bytes 0xD7–0xDB are never a continuation byte, so a pair starting
        // with one is a char.
        for pair in bytes.windows(2) {
            match (pair[0], pair[1]) {
                (0xD7, 0x90..=0xAA) => hebrew = true,  // U+05D0–U+05EA
                (0xD7, 0xB0..=0xB2) => yiddish = true, // U+05F0–U+05F2
                (0xD8, 0xA1..=0xBF) | (0xD9, 0x80..=0x8A) => arabic = true, // U+0621–U+064A
                (0xD9, 0xB1..=0xBF) | (0xDA | 0xDB, _) => persian = true, // U+0671–U+06FF
                _ => {}
            }
        }
        Context {
            arabic: arabic && !persian,
            hebrew: hebrew && !yiddish,
        }
    }

    /// Whether no rule applies (most text).
    pub fn is_empty(self) -> bool {
        !self.arabic && !self.hebrew
    }

    /// The offsets inside `word` (folded, no space in it) after each of its leading
    /// proclitics where a term may start: none, or one per proclitic.
    pub fn starts_in(self, word: &str) -> impl Iterator<Item = usize> + '_ {
        let b = word.as_bytes();
        let of_script = |rule: &'static Rule| {
            b.len().is_multiple_of(2)
                && b.len() / 2 > rule.min_rest
                && b.chunks_exact(2).all(rule.is_letter)
        };
        let rule = if self.arabic && of_script(&ARABIC) {
            Some(&ARABIC)
        } else if self.hebrew && of_script(&HEBREW) {
            Some(&HEBREW)
        } else {
            None
        };
        let letters = b.len() / 2;
        (1..=rule.map_or(0, |r| r.max))
            .take_while(move |&k| {
                rule.is_some_and(|r| {
                    letters - k >= r.min_rest && (r.is_proclitic)(&b[2 * (k - 1)..2 * k])
                })
            })
            .map(|k| 2 * k)
    }

    /// Whether a term may start at byte `at` of folded text `f` after the proclitics of the
    /// word `at` is in.
    pub fn is_start(self, f: &str, at: usize) -> bool {
        let bytes = f.as_bytes();
        if self.is_empty() || at == 0 || at > bytes.len() {
            return false;
        }
        let from = memchr::memrchr(b' ', &bytes[..at]).map_or(0, |p| p + 1);
        let to = memchr::memchr(b' ', &bytes[at..]).map_or(bytes.len(), |p| at + p);
        f.get(from..to)
            .is_some_and(|word| self.starts_in(word).any(|s| from + s == at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::fold::fold_term;

    /// Where a term may start in `word` (written folded) read in `text`, as the rest of the word
    /// from there.
    fn starts_among<'a>(word: &'a str, text: &str) -> Vec<&'a str> {
        assert_eq!(fold_term(word), word, "written folded");
        Context::of(text)
            .starts_in(word)
            .map(|s| &word[s..])
            .collect()
    }

    fn starts(word: &str) -> Vec<&str> {
        starts_among(word, word)
    }

    #[test]
    fn an_arabic_term_may_start_after_one_or_two_proclitics() {
        assert_eq!(starts("وروسيا"), ["روسيا"]);
        assert_eq!(starts("بغزة"), ["غزة"]);
        assert_eq!(starts("لروسيا"), ["روسيا"]);
        assert_eq!(starts("كالعادة"), ["العادة"]);
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
        // Persian and Urdu letters: not this rule's word, nor its text.
        assert_eq!(starts("برای"), Vec::<&str>::new());
        assert_eq!(starts_among("وروسيا", "وروسيا برای"), Vec::<&str>::new());
        assert_eq!(starts("kyiv"), Vec::<&str>::new());
    }

    #[test]
    fn a_hebrew_term_may_start_after_up_to_three_proclitics() {
        assert_eq!(starts("הכנסת"), ["כנסת", "נסת"]);
        assert_eq!(starts("בירושלים"), ["ירושלים"]);
        assert_eq!(starts("והצבא"), ["הצבא", "צבא"]);
        assert_eq!(starts("ומהצבא"), ["מהצבא", "הצבא", "צבא"]);
        assert_eq!(starts("לירושלים"), ["ירושלים"]);
        assert_eq!(starts("מירושלים"), ["ירושלים"]);
        assert_eq!(starts("שבכנסת"), ["בכנסת", "כנסת", "נסת"]);
        assert_eq!(starts("כשהצבא"), ["שהצבא", "הצבא", "צבא"]);
        // Two letters left at least ("בצה״ל" folds to "בצה ל").
        assert_eq!(starts("בצה"), ["צה"]);
        assert_eq!(starts("בה"), Vec::<&str>::new());
        assert_eq!(starts("ירושלים"), Vec::<&str>::new());
        // Yiddish joins none: a text with its ligatures is read without the rule.
        assert_eq!(
            starts_among("בירושלים", "בירושלים ײִדיש"),
            Vec::<&str>::new()
        );
        // A word of two scripts is neither's.
        assert_eq!(starts_among("בירוroma", "בירוroma"), Vec::<&str>::new());
    }

    #[test]
    fn a_term_with_the_article_is_spelled_without_its_alef_after_lam() {
        assert_eq!(contracted("الجيش").as_deref(), Some("للجيش"));
        assert_eq!(contracted("الامم المتحدة").as_deref(), Some("للامم المتحدة"));
        // ل + اللجنة: the article's alef and one lam go.
        assert_eq!(contracted("اللجنة").as_deref(), Some("للجنة"));
        assert_eq!(contracted("الف").as_deref(), Some("للف"));
        for none in ["ال", "جيش", "الجيش2", "kyiv", "الجيشی", "הכנסת", ""] {
            assert_eq!(contracted(none), None, "{none}");
        }
        assert_eq!(contracted(&fold_term("الأمم")).as_deref(), Some("للامم"));
    }

    #[test]
    fn texts_are_read_in_their_language() {
        let arabic = Context::of(&fold_term("قوات كورية شمالية وروسيا"));
        assert!(arabic.arabic && !arabic.hebrew);
        assert!(Context::of("north korean troops").is_empty());
        // Persian: ی and ک.
        assert!(Context::of(&fold_term("نیروهای کره شمالی برای روسیه")).is_empty());
        // Arabic-Indic digits alone are no Arabic text.
        assert!(Context::of(&fold_term("٢٠٢٥")).is_empty());
        let hebrew = Context::of(&fold_term("חיילים צפון קוריאנים ברוסיה"));
        assert!(hebrew.hebrew && !hebrew.arabic);
    }

    #[test]
    fn a_start_is_found_from_any_offset_of_its_word() {
        let f = fold_term("قوات وبروسيا");
        let context = Context::of(&f);
        let word = f.find(" و").map_or(0, |p| p + 1);
        let at: Vec<usize> = (0..=f.len() + 1)
            .filter(|&i| context.is_start(&f, i))
            .collect();
        assert_eq!(at, [word + 2, word + 4]);
        assert!(!Context::default().is_start(&f, word + 2));
    }
}
