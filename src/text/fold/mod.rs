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
//!    "ß" is "ss", "İ" is "i".
//! 3. Diacritics (combining marks after canonical decomposition) are removed
//!    from Latin and Greek letters and from script-neutral characters such as
//!    digits ("Zelénskyy" is "zelenskyy", "Αθήνα" is "αθηνα"), but kept for
//!    every other script: Cyrillic "й" and "ё" stay, Devanagari, Thai,
//!    Arabic, Hangul keep their marks. The result is composed again (NFC),
//!    so precomposed and decomposed input fold alike. Variation selectors are
//!    presentation hints, not diacritics, and are always dropped.
//! 4. Typographic quotes, apostrophes (including the apostrophe-like modifier
//!    letters U+02B9–U+02BD and U+02EE) and dashes are punctuation, so rule 5
//!    makes them separators like their ASCII look-alikes.
//! 5. Word characters are letters (Alphabetic), numbers and the marks kept by
//!    rule 3. Everything else (whitespace, punctuation, symbols, controls,
//!    zero-width space) is a separator; each run of separators becomes one
//!    ASCII space, never at the start or end. The exceptions are characters
//!    that sit *inside* a word: soft hyphen (`&shy;`), ZWNJ, ZWJ, word joiner
//!    and U+FEFF vanish (before normalization, so what they split composes
//!    again), so "Ukrai&shy;ne" is "ukraine".
//! 6. Han, Kana, Thai and other unspaced scripts are word characters like any
//!    other; no spaces are inserted between them (word boundaries for them
//!    are the matcher's business, see [`crate::text::script`]).
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

use ascii::*;
use chars::*;

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
    fold_with(original, out, fold_case, true);
}

/// Rules 1–6, then rule 7 (dotted acronyms, see [`acronym`]) when `acronyms` is set; the tests
/// check rules 1–6 alone against models of them.
fn fold_with(original: &str, out: &mut Folded, fold_case: bool, acronyms: bool) {
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

/// Output state while folding one text.
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
    map: Vec<u32>,
    clusters: Vec<(u32, u32)>,
    decomposed: Vec<char>,
    /// A separator was seen since the last word char; the space is written
    /// lazily before the next word char, so there is never a trailing one.
    pending: bool,
    /// Original offset where the pending separator run starts.
    sep_start: u32,
    fold_case: bool,
}

impl Writer {
    fn new(fold_case: bool) -> Self {
        Writer {
            fold_case,
            ..Writer::default()
        }
    }

    /// Folds `run`, which is all ASCII and starts at original offset `base`.
    ///
    /// Works on 8 bytes at a time as one `u64` (SWAR): a few arithmetic ops
    /// classify all 8 bytes, lowercase the letters and turn separators
    /// into spaces. In prose most blocks then are final as they stand
    /// (words and single spaces), so they are stored whole with their 8
    /// offsets; otherwise the bytes to drop (a separator after a separator)
    /// are cut out by storing the pieces between them. No per-byte
    /// branches: word boundaries in prose are too irregular to predict.
    ///
    /// Inside this loop a separator's space is written eagerly when it is
    /// seen; the rest of the writer keeps it pending until a word follows,
    /// so the state is converted on entry and exit.
    #[inline]
    fn ascii_run<const FOLD_CASE: bool>(&mut self, run: &[u8], base: u32) {
        let mut prev_word = !self.buf.is_empty();
        if self.pending {
            if prev_word {
                self.buf.push(b' ');
                self.map.push(self.sep_start);
            }
            prev_word = false;
        }
        let start = self.buf.len();
        // Room for the run plus slack: every store writes a whole block.
        self.buf.resize(start + run.len() + 8, 0);
        self.map.resize(start + run.len() + 8, 0);
        let mut k = start;
        let mut pos = base;
        let mut blocks = run.chunks_exact(8);
        for block in blocks.by_ref() {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(block);
            let x = u64::from_le_bytes(bytes);
            let (folded, word) = swar_fold::<FOLD_CASE>(x);
            let sep = HIGH & !word;
            // Spaces for separators.
            let spread = (sep >> 7) * 0xFF;
            let out = (folded & !spread) | (spread & rep(b' '));
            // A separator after a separator (or first in a block that
            // follows one, or at the very start) is dropped.
            let mut drop = sep & ((sep << 8) | if prev_word { 0 } else { 0x80 });
            let mut from = 0;
            loop {
                let to = if drop == 0 {
                    8
                } else {
                    drop.trailing_zeros() as usize / 8
                };
                if from < to {
                    k = self.store_block(k, out >> (8 * from), pos + from as u32, to - from);
                }
                if drop == 0 {
                    break;
                }
                drop &= drop - 1;
                from = to + 1;
            }
            prev_word = word >> 63 != 0;
            pos += 8;
        }
        // The last few bytes one by one, by the same rules.
        let table = if FOLD_CASE { &ASCII_FOLD } else { &ASCII_KEEP };
        for &b in blocks.remainder() {
            let o = table[usize::from(b & 0x7F)];
            let word = o != 0;
            if (word || prev_word)
                && let (Some(slot), Some(m)) = (self.buf.get_mut(k), self.map.get_mut(k))
            {
                *slot = if word { o } else { b' ' };
                *m = pos;
                k += 1;
            }
            prev_word = word;
            pos += 1;
        }
        self.buf.truncate(k);
        self.map.truncate(k);
        self.pending = false;
        if self.buf.last() == Some(&b' ') {
            self.buf.pop();
            if let Some(s) = self.map.pop() {
                self.sep_start = s;
            }
            self.pending = true;
        }
    }

    /// Folds a short all-ASCII `run` starting at original offset `base`,
    /// byte by byte.
    fn ascii_short(&mut self, run: &[u8], base: u32) {
        let table = if self.fold_case {
            &ASCII_FOLD
        } else {
            &ASCII_KEEP
        };
        for (pos, &b) in (base..).zip(run) {
            match table[usize::from(b & 0x7F)] {
                0 if !self.pending => {
                    self.pending = true;
                    self.sep_start = pos;
                }
                0 => {}
                o => {
                    if self.pending {
                        self.pending = false;
                        if !self.buf.is_empty() {
                            self.buf.push(b' ');
                            self.map.push(self.sep_start);
                        }
                    }
                    self.buf.push(o);
                    self.map.push(pos);
                }
            }
        }
    }

    /// Stores the low `len` bytes of `bytes` at output position `k`, with
    /// offsets `pos..pos + len`, and returns the new position. Always writes
    /// 8 bytes and 8 offsets (the excess is overwritten or truncated later),
    /// which compiles to a few wide stores.
    #[inline(always)]
    fn store_block(&mut self, k: usize, bytes: u64, pos: u32, len: usize) -> usize {
        let offsets: [u32; 8] = std::array::from_fn(|t| pos + t as u32);
        if let (Some(out), Some(map)) = (self.buf.get_mut(k..k + 8), self.map.get_mut(k..k + 8)) {
            out.copy_from_slice(&bytes.to_le_bytes());
            map.copy_from_slice(&offsets);
            k + len
        } else {
            k // unreachable: the output grows by at most one byte per byte read
        }
    }

    /// Removes the word byte the ASCII loop wrote for original offset `pos`
    /// (and a space written just before it), restoring the separator state
    /// as it was before that byte. Returns false if the last output byte is
    /// not that byte.
    fn unemit_ascii(&mut self, pos: usize) -> bool {
        if self.map.last() != Some(&(pos as u32)) || self.pending {
            return false;
        }
        self.buf.pop();
        self.map.pop();
        if self.buf.last() == Some(&b' ') {
            self.buf.pop();
            if let Some(s) = self.map.pop() {
                self.sep_start = s;
            }
            self.pending = true;
        }
        true
    }

    /// Folds a run of non-ASCII text (possibly led by one ASCII letter that
    /// carries its marks) cluster by cluster. `base` is the run's offset in
    /// the original.
    fn unicode_run(&mut self, run: &str, base: u32) {
        let mut chars = run.char_indices();
        let mut next = chars.next();
        while let Some((off, c)) = next {
            let mut end = off + c.len_utf8();
            next = chars.next();
            while let Some((o, t)) = next {
                if !is_trailing_fast(t) {
                    break;
                }
                end = o + t.len_utf8();
                next = chars.next();
            }
            let (cs, ce) = (base + off as u32, base + end as u32);
            let single = if end == off + c.len_utf8() {
                fast_single(c, self.fold_case)
            } else {
                Single::Slow
            };
            match single {
                Single::Word(a, b) => {
                    self.word(a, cs);
                    if let Some(b) = b {
                        self.word(b, cs);
                    }
                    self.note_cluster(cs, ce);
                }
                Single::Sep => self.sep(cs, ce),
                Single::Slow => {
                    if let Some(cluster) = run.get(off..end) {
                        self.cluster_slow(cluster, cs, ce);
                    }
                }
            }
        }
    }

    /// The general path: drop joiners → NFKD → case fold → drop marks where
    /// rule 3 says so → NFC → classify, streamed through ICU's iterators with one reusable
    /// buffer between decomposition and composition.
    fn cluster_slow(&mut self, cluster: &str, cs: u32, ce: u32) {
        let mut decomposed = std::mem::take(&mut self.decomposed);
        decomposed.clear();
        let mut marks = Marks::Drop;
        // Joiners vanish before normalization, so the letters on either side compose.
        let visible = cluster.chars().filter(|&c| !is_invisible_joiner(c));
        for d in NFKD.normalize_iter(visible) {
            if d == '\u{345}' {
                // Ypogegrammeni is an iota in disguise (its case fold is
                // "ι"), not a diacritic; keep it as a letter in both modes
                // so that case-kept and case-folded text agree.
                marks.push('ι', &mut decomposed);
            } else if !self.fold_case {
                marks.push(d, &mut decomposed);
            } else if matches!(d, 'ß' | 'ẞ') {
                // The only multi-char full folds left after NFKD (checked
                // by a test); simple_fold maps them to "ß".
                marks.push('s', &mut decomposed);
                marks.push('s', &mut decomposed);
            } else {
                marks.push(CASE.simple_fold(d), &mut decomposed);
            }
        }
        let mut wrote = false;
        for e in NFC.normalize_iter(decomposed.iter().copied()) {
            if is_word(e) {
                self.word(e, cs);
                wrote = true;
            } else {
                self.sep(cs, ce);
            }
        }
        if wrote {
            self.note_cluster(cs, ce);
        }
        self.decomposed = decomposed;
    }

    /// Folds the one-char cluster `c` with the general path and returns its
    /// short form, for [`table`]. Leaves the writer empty.
    fn single_slow(&mut self, c: char) -> Single {
        // Start after a word, so that a leading separator in the output
        // ("ŉ" → "ʼn" → " n") shows up as a space instead of vanishing as it
        // would at the start of the text.
        self.buf.clear();
        self.buf.push(b'x');
        self.map.clear();
        self.map.push(0);
        self.clusters.clear();
        self.pending = false;
        self.cluster_slow(c.encode_utf8(&mut [0; 4]), 1, 2);
        let out = self.buf.get(1..).and_then(|b| std::str::from_utf8(b).ok());
        let mut chars = out.unwrap_or_default().chars();
        let short = match (chars.next(), chars.next(), chars.next()) {
            (None, ..) if self.pending => Single::Sep,
            (Some(a), b, None) if !self.pending && a != ' ' && b != Some(' ') => Single::Word(a, b),
            _ => Single::Slow,
        };
        self.buf.clear();
        self.map.clear();
        self.clusters.clear();
        self.pending = false;
        short
    }

    /// Notes a separator from the Unicode-path cluster `cs..ce`.
    #[inline]
    fn sep(&mut self, cs: u32, ce: u32) {
        if !self.pending {
            self.pending = true;
            self.sep_start = cs;
            self.note_cluster(cs, ce);
        }
    }

    /// Writes one word char produced by the cluster starting at `cs`.
    #[inline(always)]
    fn word(&mut self, c: char, cs: u32) {
        if self.pending {
            self.pending = false;
            if !self.buf.is_empty() {
                self.buf.push(b' ');
                self.map.push(self.sep_start);
            }
        }
        // One fixed-size append per length: a variable-length
        // `extend_from_slice` becomes a memcpy call and a byte-push loop
        // reloads the lengths every byte, either costing more than the
        // rest of the char's work.
        let mut tmp = [0u8; 4];
        match *c.encode_utf8(&mut tmp).as_bytes() {
            [a] => {
                self.buf.push(a);
                self.map.push(cs);
            }
            [a, b] => {
                self.buf.extend_from_slice(&[a, b]);
                self.map.extend_from_slice(&[cs; 2]);
            }
            [a, b, c] => {
                self.buf.extend_from_slice(&[a, b, c]);
                self.map.extend_from_slice(&[cs; 3]);
            }
            _ => {
                self.buf.extend_from_slice(&tmp);
                self.map.extend_from_slice(&[cs; 4]);
            }
        }
    }

    /// Records a Unicode-path cluster that the map refers to.
    #[inline]
    fn note_cluster(&mut self, cs: u32, ce: u32) {
        if self.clusters.last().is_none_or(|&(s, _)| s != cs) {
            self.clusters.push((cs, ce));
        }
    }
}

/// What to do with combining marks, decided by the last base char seen.
#[derive(Clone, Copy)]
enum Marks {
    /// After a Latin, Greek or script-neutral base, a separator, or nothing.
    Drop,
    /// After a word char of any other script.
    Keep,
}

impl Marks {
    /// Appends `c` unless it is a mark to drop, and updates the state.
    #[inline]
    fn push(&mut self, c: char, out: &mut Vec<char>) {
        if is_mark(c) {
            if matches!(self, Marks::Keep) && !is_variation_selector(c) {
                out.push(c);
            }
            return;
        }
        *self = if is_word(c) && !strips_marks(c) {
            Marks::Keep
        } else {
            Marks::Drop
        };
        out.push(c);
    }
}

#[cfg(test)]
mod tests;
