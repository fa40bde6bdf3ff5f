//! Folding of news text and watch terms into one canonical matching form,
//! with a byte map from the folded text back to the original.
//!
//! This module owns the folding rules. Everything that compares terms with
//! text must go through it, on both sides, so that the two are folded
//! identically: items are folded with [`fold_into`] (or [`fold`]), terms with
//! [`fold_term`], exact-case terms are verified with [`fold_keep_case`].
//! The only type that crosses the boundary is [`Folded`]: the folded text
//! plus the map that turns a hit in it back into a byte range of the original
//! (for snippets and highlighting).
//!
//! # Rules
//!
//! 1. Unicode NFKC: fullwidth "ＵＳ" is "US", "ﬁ" is "fi", "①" is "1".
//! 2. Full case folding: "ЗЕЛЕНСКИЙ" is "зеленский", final "ς" is "σ",
//!    "ß" is "ss", "İ" is "i". Turkish dotless "ı" is "i" in both modes, as
//!    a diacritic dropped: its capital is "I", so "KILIÇDAROĞLU",
//!    "Kılıçdaroğlu" and "Kilicdaroglu" fold alike.
//! 3. Diacritics (combining marks after canonical decomposition) are removed
//!    from Latin and Greek letters and from script-neutral characters such as
//!    digits ("Zelénskyy" is "zelenskyy", "Αθήνα" is "αθηνα"), but kept for
//!    every other script: Cyrillic "й" and "ї" stay, Devanagari, Thai,
//!    Hangul keep their marks. Except the marks writers put in or leave out at
//!    will (`chars::optional_mark`): "ё" is "е", stress accents go, Arabic
//!    harakat and the hamza on an alef go, Hebrew points go. The result is composed again (NFC),
//!    so precomposed and decomposed input fold alike. Variation selectors are
//!    presentation hints, not diacritics, and are always dropped.
//! 4. Typographic quotes, apostrophes (including the apostrophe-like modifier
//!    letters U+02B9–U+02BD and U+02EE) and dashes are punctuation, so rule 5
//!    makes them separators like their ASCII look-alikes.
//! 5. Word characters are letters (Alphabetic), numbers and the marks kept by
//!    rule 3. Everything else (whitespace, punctuation, symbols, controls,
//!    zero-width space) is a separator; each run of separators becomes one
//!    ASCII space, never at the start or end. The exceptions are characters
//!    that sit *inside* a word: soft hyphen (`&shy;`), ZWNJ, ZWJ, word joiner,
//!    U+FEFF and the Arabic tatweel (U+0640, a stretch of the line between
//!    letters: "العـراق" is "العراق") vanish (before normalization, so what
//!    they split composes again), so "Ukrai&shy;ne" is "ukraine". A letterlike
//!    symbol (U+2100–U+214F) whose compatibility form holds letters is a word
//!    of its own, separated from its neighbours: "Bluetooth™" is "bluetooth
//!    tm", not "bluetoothtm", which the term "Bluetooth" would miss.
//! 6. Han, Kana, Thai and other unspaced scripts are word characters like any
//!    other; no spaces are inserted between them (word boundaries for them
//!    are the matcher's business, see [`crate::text::script`]). A separator
//!    run *between* two of their chars is dropped: publishers put zero-width
//!    spaces inside their words ("กรุงเทพ\u{200B}มหานคร", "中华\u{200B}人民"),
//!    which hid every term spanning one, and a term typed with a space
//!    ("北朝鮮 軍") never matched the unspaced text ("北朝鮮軍が"). So does
//!    punctuation there ("东京、大阪" is "东京大阪"): a run that folded to a
//!    space and a space must fold alike, or folding would not be idempotent
//!    (terms and text must fold the same whichever was folded first), and
//!    these scripts match inside words anyway. Korean is written with spaces
//!    and keeps them.
//! 7. Dotted acronyms: single cased letters separated by single full stops
//!    are one word, "U.S." is "us", "u.s.a." is "usa", "U.S.-led" is
//!    "us led". Initials with spaces ("J. R. R.") and "e.g.", "i.e.",
//!    "a.m.", "p.m." stay single letters (see [`acronym`]).
//!
//! # Units and the map back
//!
//! The original is cut into clusters: a character plus the characters that
//! can combine with it under normalization or whose marks depend on it
//! (combining marks, Hangul medial and final jamo, halfwidth kana voicing
//! marks, Thai "ำ"). Each cluster is folded on
//! its own, which is exactly what whole-string normalization would do at
//! those boundaries, and every folded byte records the start of the cluster
//! that produced it. Expansions ("ß" → "ss") map all their bytes to the one
//! cluster, contractions ("e" + U+0301 → "e") map to the whole cluster. A
//! separator space maps to the separator run it replaces.
//!
//! # Speed
//!
//! English news is nearly all ASCII, so ASCII runs are folded 8 bytes at a
//! time with plain integer arithmetic and no per-byte branches; only
//! non-ASCII runs take the Unicode path. There, single chars of the common
//! blocks (Latin, Greek, Cyrillic, Arabic, Indic, punctuation, kana,
//! fullwidth forms) come from a table that the general path fills on first
//! use, and Han and Hangul syllables are recognized by range. Everything
//! else streams through ICU's allocation-free normalizing iterators with a
//! reusable buffer. Reusing one [`Folded`] with [`fold_into`] keeps
//! all buffers across calls, so steady-state folding does not allocate.

mod acronym;
mod ascii;
mod chars;
mod writer;

use ascii::*;
use chars::*;
use writer::*;

use std::ops::Range;
use std::sync::OnceLock;

use icu_casemap::CaseMapperBorrowed;
use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};
use icu_properties::props::{Alphabetic, GeneralCategory, GeneralCategoryGroup, Script};
use icu_properties::{
    CodePointMapData, CodePointMapDataBorrowed, CodePointSetData, CodePointSetDataBorrowed,
};

// The ICU objects are cheap borrowed views of compiled-in data; as consts
// they cost nothing to "construct" at each use.
const NFKD: DecomposingNormalizerBorrowed<'static> = DecomposingNormalizerBorrowed::new_nfkd();
const NFC: ComposingNormalizerBorrowed<'static> = ComposingNormalizerBorrowed::new_nfc();
const CASE: CaseMapperBorrowed<'static> = CaseMapperBorrowed::new();
const GC: CodePointMapDataBorrowed<'static, GeneralCategory> =
    CodePointMapData::<GeneralCategory>::new();
const SCRIPT: CodePointMapDataBorrowed<'static, Script> = CodePointMapData::<Script>::new();
const ALPHABETIC: CodePointSetDataBorrowed<'static> = CodePointSetData::new::<Alphabetic>();

const WORD_GC: GeneralCategoryGroup = GeneralCategoryGroup::Letter
    .union(GeneralCategoryGroup::Number)
    .union(GeneralCategoryGroup::Mark);

/// Folded text plus the map from its bytes back to the original text.
///
/// Reuse one value with [`fold_into`] on hot paths: its buffers keep their
/// capacity across calls.
#[derive(Debug, Clone, Default)]
pub struct Folded {
    /// The folded text (see the module docs for the rules).
    text: String,
    /// For each byte of `text`: the original byte offset where the cluster
    /// that produced it starts; for a separator space, where the separator
    /// run it stands for starts. Never decreasing.
    map: Vec<u32>,
    /// `(start, end)` original byte offsets of every cluster folded by the
    /// Unicode path that `map` refers to, sorted by start. Clusters from the
    /// ASCII path are one byte long and not listed, which keeps that path
    /// to one map entry per byte.
    clusters: Vec<(u32, u32)>,
    /// Decomposed chars of one cluster in the Unicode path, kept only to
    /// reuse the allocation.
    decomposed: Vec<char>,
}

impl Folded {
    /// An empty value; fill it with [`fold_into`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The folded text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Maps a byte range of the folded text to the byte range of the
    /// original text covering exactly the characters (with their trailing
    /// combining marks) that produced those folded bytes.
    ///
    /// `folded` should be non-empty and lie on char boundaries of
    /// [`Self::as_str`]. Out-of-bounds or empty input is clamped to the
    /// nearest non-empty range instead of panicking, and an empty folded
    /// text yields `0..0`. The result always lies on char boundaries of the
    /// original (for a range that starts or ends on a separator space, the
    /// separator run it stands for is included).
    pub fn original_range(&self, folded: Range<usize>) -> Range<usize> {
        let len = self.map.len();
        if len == 0 {
            return 0..0;
        }
        let first = folded.start.min(len - 1);
        let last = folded.end.clamp(first + 1, len) - 1;
        let start = self.map[first];
        let end = self.end_of(last);
        start as usize..end as usize
    }

    /// Original end offset of whatever produced folded byte `i`.
    fn end_of(&self, i: usize) -> u32 {
        let start = self.map[i];
        if self.text.as_bytes()[i] == b' ' {
            // A separator space stands for the original up to the next word.
            // Folded text never ends with a space, so i + 1 exists; the next
            // word can start inside the same cluster ("½" → "1 2"), then the
            // space stands for that cluster.
            if let Some(&next) = self.map.get(i + 1).filter(|&&next| next > start) {
                return next;
            }
        }
        self.cluster_end(start)
    }

    /// End of the cluster starting at `start`: listed clusters come from the
    /// Unicode path, all others are single ASCII bytes.
    fn cluster_end(&self, start: u32) -> u32 {
        match self.clusters.binary_search_by_key(&start, |&(s, _)| s) {
            Ok(k) => self.clusters[k].1,
            Err(_) => start + 1,
        }
    }
}

/// Folds `original` into `out`, replacing its previous content and reusing
/// its allocations.
///
/// Offsets are kept as `u32`, so only the first 4 GiB of a (pathological)
/// larger input are folded.
pub fn fold_into(original: &str, out: &mut Folded) {
    fold_impl(original, out, true);
}

/// Folds `original` into a new [`Folded`].
pub fn fold(original: &str) -> Folded {
    let mut out = Folded::new();
    fold_into(original, &mut out);
    out
}

/// Folds a watch term exactly like text is folded, returning only the
/// folded text.
/// Whether `c` is a combining mark (general category M): in folded text, part of the word of
/// the char before it.
pub fn is_combining_mark(c: char) -> bool {
    is_mark(c)
}

pub fn fold_term(s: &str) -> String {
    fold(s).text
}

/// Folds with all rules except case folding; used to verify exact-case terms
/// ("US" must not match "us") against the same span of the original.
pub fn fold_keep_case(s: &str) -> String {
    let mut out = Folded::new();
    fold_impl(s, &mut out, false);
    out.text
}

/// The longest prefix of `s` whose offsets fit the `u32` map.
fn limit(s: &str) -> &str {
    let max = u32::MAX as usize;
    if s.len() <= max {
        return s;
    }
    let mut n = max;
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s.get(..n).unwrap_or_default()
}

fn fold_impl(original: &str, out: &mut Folded, fold_case: bool) {
    fold_with(original, out, fold_case, true, true);
}

/// As [`fold`], except that a separator between two chars of unspaced scripts stays a space
/// (rule 6 joins them for matching): for splitting folded text into words where the
/// publisher wrote them apart (story signatures compare words; joined, a Japanese headline
/// was one word, and two reports of one event shared none).
pub fn fold_words(original: &str) -> Folded {
    let mut out = Folded::new();
    fold_with(original, &mut out, true, true, false);
    out
}

/// [`fold_words`] with all rules except case folding (as [`fold_keep_case`]).
pub fn fold_words_keep_case(original: &str) -> String {
    let mut out = Folded::new();
    fold_with(original, &mut out, false, true, false);
    out.text
}

/// Rules 1–6, then rule 7 (dotted acronyms, see [`acronym`]) when `acronyms` is set; the tests
/// check rules 1–6 alone against models of them.
fn fold_with(
    original: &str,
    out: &mut Folded,
    fold_case: bool,
    acronyms: bool,
    join_unspaced: bool,
) {
    let src = limit(original);
    let bytes = src.as_bytes();
    let mut w = Writer {
        buf: std::mem::take(&mut out.text).into_bytes(),
        map: std::mem::take(&mut out.map),
        clusters: std::mem::take(&mut out.clusters),
        decomposed: std::mem::take(&mut out.decomposed),
        pending: false,
        sep_start: 0,
        fold_case,
        join_unspaced,
    };
    w.buf.clear();
    w.map.clear();
    w.clusters.clear();
    // Folded ASCII is never longer than the original; other text may grow,
    // the vectors then grow as usual.
    w.buf.reserve(bytes.len());
    w.map.reserve(bytes.len());

    let mut i = 0;
    while let Some(rest) = bytes.get(i..).filter(|r| !r.is_empty()) {
        let n = ascii_prefix_len(rest);
        if let Some(run) = rest.get(..n).filter(|r| !r.is_empty()) {
            if run.len() < 8 {
                // Spaces and short words between non-ASCII words: not
                // worth setting up the block loop.
                w.ascii_short(run, i as u32);
            } else if fold_case {
                w.ascii_run::<true>(run, i as u32);
            } else {
                w.ascii_run::<false>(run, i as u32);
            }
        }
        i += n;
        if i >= bytes.len() {
            break;
        }
        let mut j = i + 1;
        while j < bytes.len() && !bytes[j].is_ascii() {
            j += 1;
        }
        // A combining mark right after an ASCII letter belongs to that
        // letter's cluster ("e" + U+0301): take the letter back from the
        // ASCII output and fold it together with its marks.
        let mut start = i;
        if i > 0
            && bytes[i - 1].is_ascii_alphanumeric()
            && src
                .get(i..)
                .and_then(|s| s.chars().next())
                .is_some_and(is_trailing)
            && w.unemit_ascii(i - 1)
        {
            start = i - 1;
        }
        if let Some(run) = src.get(start..j) {
            w.unicode_run(run, start as u32);
        }
        i = j;
    }

    if acronyms {
        acronym::join_dotted_letters(src, &mut w.buf, &mut w.map);
    }
    out.text = String::from_utf8(w.buf)
        // Unreachable: only whole UTF-8 sequences are ever written. Stay
        // total anyway rather than panic on a hot path.
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    out.map = w.map;
    out.clusters = w.clusters;
    out.decomposed = w.decomposed;
}

#[cfg(test)]
mod tests;
