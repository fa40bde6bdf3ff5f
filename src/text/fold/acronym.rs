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
///
/// Driven by the full stops of the original, not by the words: prose has a full stop every
/// sentence or so, almost always followed by a space (then it is not a joining stop), so most
/// texts cost one byte search.
pub(super) fn join_dotted_letters(src: &str, buf: &mut Vec<u8>, map: &mut Vec<u32>) {
    // Spaces standing for exactly one full stop between two one-letter words, in order, with
    // the letters on either side and where the right one ends.
    let mut joins: Vec<(usize, char, char, usize)> = Vec::new();
    let bytes = src.as_bytes();
    // 0xEF and 0xE2 lead the UTF-8 of the three compatibility forms of the full stop.
    for d in memchr::memchr3_iter(b'.', 0xEF, 0xE2, bytes) {
        let Some(end) = full_stop_end(src, d) else {
            continue;
        };
        // A word char must touch the stop on both sides; ASCII neighbours decide at once.
        let ascii_separator =
            |b: Option<&u8>| b.is_none_or(|b| b.is_ascii() && !b.is_ascii_alphanumeric());
        if d == 0 || ascii_separator(bytes.get(d - 1)) || ascii_separator(bytes.get(end)) {
            continue;
        }
        let (Ok(d32), Ok(end32)) = (u32::try_from(d), u32::try_from(end)) else {
            break;
        };
        let p = map.partition_point(|&m| m < d32);
        let is_stop_space =
            buf.get(p) == Some(&b' ') && map.get(p) == Some(&d32) && map.get(p + 1) == Some(&end32);
        if !is_stop_space {
            continue;
        }
        let left_start = buf[..p]
            .iter()
            .rposition(|&x| x == b' ')
            .map_or(0, |i| i + 1);
        let right_end = buf[p + 1..]
            .iter()
            .position(|&x| x == b' ')
            .map_or(buf.len(), |i| p + 1 + i);
        if let (Some(left), Some(right)) = (
            acronym_letter(&buf[left_start..p]),
            acronym_letter(&buf[p + 1..right_end]),
        ) {
            joins.push((p, left, right, right_end));
        }
    }
    if joins.is_empty() {
        return;
    }
    // Consecutive joins whose shared letter lies between them form one run.
    let mut drops: Vec<usize> = Vec::with_capacity(joins.len());
    let mut run = Run::default();
    let mut prev_right_end: Option<usize> = None;
    for &(p, left, right, right_end) in &joins {
        // The previous join's right letter is this join's left one.
        let continues = prev_right_end == Some(p);
        if !continues {
            run.finish(&mut drops);
            run.start(left);
        }
        run.extend(p, right);
        prev_right_end = Some(right_end);
    }
    run.finish(&mut drops);
    if drops.is_empty() {
        return;
    }
    // `drops` is ascending: one pass keeps every byte not listed.
    let n = buf.len();
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

/// The end of the full stop starting at byte `d` of `src`, if one does.
fn full_stop_end(src: &str, d: usize) -> Option<usize> {
    let rest = src.get(d..)?;
    [".", "\u{FF0E}", "\u{FE52}", "\u{2024}"]
        .iter()
        .find(|stop| rest.starts_with(*stop))
        .map(|stop| d + stop.len())
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
        // Two or more ASCII bytes, or more than one char's worth: not one letter.
        [b, ..] if b.is_ascii() => None,
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
        // Unspaced scripts are not cased: no acronyms there (and no separators between
        // their chars, rule 6).
        assert_eq!(fold_term("中.国"), "中国");
        assert_eq!(fold_term("a.国"), "a 国");
        // "ß" folds to two letters: not a single letter, in either mode.
        assert_eq!(fold_term("ß.U."), "ss u");
        assert_eq!(fold_keep_case("ß.U."), "ß U");
        // Case mapping that changes a letter's UTF-8 length (Ⱥ is 2 bytes, ⱥ 3) joins alike.
        assert_eq!(fold_keep_case("Ⱥ.Ⱥ.Ⱥ"), "ȺȺȺ");
        assert_eq!(fold_term("Ⱥ.Ⱥ.Ⱥ"), "ⱥⱥⱥ");
    }
}
