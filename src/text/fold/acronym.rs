//! Rule 7 of the fold: dotted acronyms. Single letters separated by single full stops are one
//! word: "U.S." folds to "us", "U.K." to "uk", "u.s.a." to "usa", "U.S.-led" to "us led".
//!
//! Runs after the other rules, on the folded text and its map: a separator space is dropped when
//! the words on both sides are single cased letters and the original separator it stands for is
//! exactly one full stop (`.`, or a compatibility form of it: fullwidth `．`, small `﹒`, one dot
//! leader `․`). The letters keep their map entries, so hits still map back to the original.
//!
//! Not joined, so that they collide with no more terms than before:
//! - initials written with spaces, "J. R. R. Tolkien" (the separator is ". ", not "."), stay
//!   single letters: "j r r tolkien";
//! - the two-letter abbreviations "e.g.", "i.e.", "a.m." and "p.m." (any case) stay "e g",
//!   "i e", "a m", "p m": joined they would be the words "am" and "pm" (a term "PM" for prime
//!   minister would fire on every "5 p.m.").
//!
//! Crossing the boundary: only [`join_dotted_letters`], called by the fold on its own buffers.

use super::CASE;

/// Dotted two-letter abbreviations that are not acronyms, folded (see the module docs).
const NOT_ACRONYMS: [[char; 2]; 4] = [['e', 'g'], ['i', 'e'], ['a', 'm'], ['p', 'm']];

/// Drops the separator spaces inside dotted acronyms from `buf` (folded text, words separated by
/// single spaces) and `map` (one original offset per byte; a space maps to the start of the
/// separator run it stands for). `src` is the original text.
pub(super) fn join_dotted_letters(src: &str, buf: &mut Vec<u8>, map: &mut Vec<u32>) {
    // Cheap pre-check on the original: no byte that can start a full stop, nothing to do. (0xEF
    // and 0xE2 lead the UTF-8 of the three compatibility forms.)
    if !src.bytes().any(|b| matches!(b, b'.' | 0xEF | 0xE2)) {
        return;
    }
    let mut drops: Vec<usize> = Vec::new();
    let mut run = Run::default();
    // The space after the previous word, when that word was a letter and the space stands for
    // one full stop.
    let mut dot_after_letter: Option<usize> = None;
    let n = buf.len();
    let mut a = 0;
    while a < n {
        let b = buf[a..]
            .iter()
            .position(|&x| x == b' ')
            .map_or(n, |i| a + i);
        match acronym_letter(&buf[a..b]) {
            Some(letter) => {
                match dot_after_letter {
                    Some(space) => run.extend(space, letter),
                    None => {
                        run.finish(&mut drops);
                        run.start(letter);
                    }
                }
                dot_after_letter =
                    (b < n && is_full_stop(src, map[b], map.get(b + 1).copied())).then_some(b);
            }
            None => {
                run.finish(&mut drops);
                dot_after_letter = None;
            }
        }
        a = b + 1;
    }
    run.finish(&mut drops);
    if drops.is_empty() {
        return;
    }
    // `drops` is ascending: one pass keeps every byte not listed.
    let mut next = drops.iter().copied().peekable();
    let mut keep = 0;
    for i in 0..n {
        if next.peek() == Some(&i) {
            next.next();
            continue;
        }
        buf[keep] = buf[i];
        map[keep] = map[i];
        keep += 1;
    }
    buf.truncate(keep);
    map.truncate(keep);
}

/// The letters of the dotted run being read and the spaces between them.
#[derive(Default)]
struct Run {
    len: usize,
    first_two: [char; 2],
    spaces: Vec<usize>,
}

impl Run {
    fn start(&mut self, letter: char) {
        self.len = 1;
        self.first_two = [letter, ' '];
        self.spaces.clear();
    }

    fn extend(&mut self, space: usize, letter: char) {
        if self.len == 1 {
            self.first_two[1] = letter;
        }
        self.len += 1;
        self.spaces.push(space);
    }

    /// Ends the run: its spaces are dropped when it is an acronym.
    fn finish(&mut self, drops: &mut Vec<usize>) {
        let abbreviation = self.len == 2 && NOT_ACRONYMS.contains(&self.first_two);
        if self.len >= 2 && !abbreviation {
            drops.extend_from_slice(&self.spaces);
        }
        self.len = 0;
        self.spaces.clear();
    }
}

/// The case-folded letter when `word` is one cased letter (one char whose case folding is one
/// lowercase char), in either fold mode: the decision must not depend on whether case is kept.
fn acronym_letter(word: &[u8]) -> Option<char> {
    match *word {
        [b] if b.is_ascii_alphabetic() => Some(char::from(b.to_ascii_lowercase())),
        [_] => None,
        _ if word.len() > 4 => None,
        _ => {
            let mut chars = std::str::from_utf8(word).ok()?.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            let mut utf8 = [0; 4];
            let folded = CASE.fold_string(c.encode_utf8(&mut utf8));
            let mut folded = folded.chars();
            let f = folded.next()?;
            (folded.next().is_none() && f.is_lowercase()).then_some(f)
        }
    }
}

/// True when the original between `start` and `end` (the separator run a space stands for) is
/// exactly one full stop.
fn is_full_stop(src: &str, start: u32, end: Option<u32>) -> bool {
    let Some(end) = end else {
        return false;
    };
    matches!(
        src.get(start as usize..end as usize),
        Some("." | "\u{FF0E}" | "\u{FE52}" | "\u{2024}")
    )
}

#[cfg(test)]
mod tests {
    use super::super::{fold, fold_keep_case, fold_term};

    fn hit<'a>(original: &'a str, folded_needle: &str) -> &'a str {
        let f = fold(original);
        let at = f
            .as_str()
            .find(folded_needle)
            .unwrap_or_else(|| panic!("{folded_needle:?} not in {:?}", f.as_str()));
        let r = f.original_range(at..at + folded_needle.len());
        &original[r]
    }

    #[test]
    fn dotted_acronyms_fold_to_the_acronym() {
        assert_eq!(fold_term("U.S."), "us");
        assert_eq!(fold_term("the U.S. and the U.K."), "the us and the uk");
        assert_eq!(fold_term("E.U. rules"), "eu rules");
        assert_eq!(fold_term("u.s.a."), "usa");
        assert_eq!(fold_term("U.S.-led coalition"), "us led coalition");
        assert_eq!(fold_term("(U.S.)"), "us");
        assert_eq!(fold_term("U.S"), "us");
        assert_eq!(fold_keep_case("the U.S.-led"), "the US led");
        // Compatibility forms of the full stop are full stops (rule 1, NFKC).
        assert_eq!(fold_term("Ｕ．Ｓ．"), "us");
        // Cased letters of any script.
        assert_eq!(fold_term("С.Ш.А."), "сша");
        assert_eq!(fold_term("É.-U."), "e u");
    }

    #[test]
    fn hits_in_dotted_acronyms_map_back() {
        assert_eq!(hit("the U.S.-led coalition", "us"), "U.S");
        assert_eq!(hit("the U.S.-led coalition", "us led"), "U.S.-led");
        assert_eq!(hit("in u.s.a. today", "usa"), "u.s.a");
        assert_eq!(hit("Ｕ．Ｓ． forces", "us forces"), "Ｕ．Ｓ． forces");
    }

    #[test]
    fn initials_and_abbreviations_are_not_acronyms() {
        assert_eq!(fold_term("J. R. R. Tolkien"), "j r r tolkien");
        assert_eq!(fold_term("J.R.R. Tolkien"), "jrr tolkien");
        assert_eq!(fold_term("e.g. this, i.e. that"), "e g this i e that");
        assert_eq!(fold_term("at 5 p.m. or 9 A.M."), "at 5 p m or 9 a m");
        // Only two-letter runs are exempt.
        assert_eq!(fold_term("a.m.e."), "ame");
    }

    #[test]
    fn not_single_letters_not_joined() {
        assert_eq!(fold_term("t.co"), "t co");
        assert_eq!(fold_term("No.1"), "no 1");
        assert_eq!(fold_term("A.1.B"), "a 1 b");
        assert_eq!(fold_term("U..S"), "u s");
        assert_eq!(fold_term("U . S"), "u s");
        assert_eq!(fold_term("1.5"), "1 5");
        // Unspaced scripts are not cased: no acronyms there.
        assert_eq!(fold_term("中.国"), "中 国");
        // "ß" folds to two letters: not a single letter, in either mode.
        assert_eq!(fold_term("ß.U."), "ss u");
        assert_eq!(fold_keep_case("ß.U."), "ß U");
    }
}
