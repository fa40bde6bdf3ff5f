//! Finding where the folded terms occur in folded text: which automaton, started where.
//!
//! Owns [`Search`], built once per watch set from the distinct folded patterns, and
//! [`word_starts`]. Candidates leave here as (pattern, start, end) and are checked against word
//! boundaries, case and the hit cap by `scan.rs`; nothing here leaves `matcher::watchset`.
//!
//! Almost every term must start on a word boundary (its first character belongs to a script
//! written with spaces). An unanchored overlapping search over every byte walks an automaton
//! one dependent memory load per byte (a 10 MB DFA for 10,000 terms, most of it outside the
//! caches) and reports every "aid" inside "said" only for the boundary check to reject it. So
//! these "word" patterns are looked up only where a word starts, by the word there, in a
//! [`WordTable`] (see `words.rs` for why that finds every hit the overlapping search would,
//! nested ones included: "war" inside "the war" is found from the start of "war"). Patterns
//! that start with a character of a script written without spaces (CJK, Thai, ...) may start
//! anywhere and keep an overlapping search over their own, usually empty, automaton; so do all
//! patterns of a small set, where that search's prefilter beats a lookup at every word start.
//!
//! The previous strategy, one overlapping search over all patterns, is built on first use as
//! the reference that [`super::WatchSet::matches_uncapped`] and the differential tests use.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, BuildError, MatchKind};

use super::CompileError;
use super::words::{WordPattern, WordTable};
use crate::text::proclitic;
use crate::text::script::{Class, breaks, class, is_unspaced};

/// Up to this many patterns, all go to the overlapping search (see [`Search::new`]).
const FEW_PATTERNS: usize = 16;

/// The compiled patterns of a watch set.
pub(super) struct Search {
    /// Every distinct folded pattern; index = pattern id of the watch set.
    patterns: Vec<String>,
    /// The patterns that start on a word boundary, looked up from word starts.
    words: Option<WordTable>,
    /// Overlapping search for the patterns that may start anywhere, mapped through `free_ids`.
    free: Option<AhoCorasick>,
    free_ids: Vec<usize>,
    /// Overlapping search over every pattern: the reference engine, built on first use.
    reference: OnceLock<Result<AhoCorasick, BuildError>>,
}

/// A DFA for an overlapping search when its size allows, else what the builder picks.
fn overlapping(patterns: &[&str]) -> Result<AhoCorasick, BuildError> {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::DFA))
        .build(patterns)
        .or_else(|_| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(patterns)
        })
}

impl Search {
    /// `patterns` are non-empty folded terms, deduplicated; `loose[id]` says whether some
    /// term of pattern `id` checks no right boundary (see [`WordTable`]).
    pub(super) fn new(patterns: Vec<String>, loose: &[bool]) -> Result<Search, CompileError> {
        let err = |e: BuildError| CompileError::Automaton(e.to_string());
        let (mut word, mut free) = (Vec::new(), Vec::new());
        let mut free_ids = Vec::new();
        // A few patterns are found faster by the overlapping search, whose prefilter skips
        // to the rare bytes of the patterns (one term: 3.6 ms against 5.7 ms for the benchmark's
        // 200 long articles) than by a lookup at every word start.
        let few = patterns.len() <= FEW_PATTERNS;
        for (id, p) in patterns.iter().enumerate() {
            // The same rule as a term's `need_left`: patterns sharing a folded text share it.
            if !few && p.chars().next().is_some_and(|c| !is_unspaced(c)) {
                word.push(WordPattern {
                    id,
                    text: p.as_str(),
                    loose: loose.get(id).copied().unwrap_or(true),
                });
            } else {
                free.push(p.as_str());
                free_ids.push(id);
            }
        }
        let words = if word.is_empty() {
            None
        } else {
            Some(WordTable::new(&word).map_err(err)?)
        };
        let free = if free.is_empty() {
            None
        } else {
            Some(overlapping(&free).map_err(err)?)
        };
        Ok(Search {
            patterns,
            words,
            free,
            free_ids,
            reference: OnceLock::new(),
        })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// How the patterns are found and the heap size of the structures, for status and benches.
    pub(super) fn stats(&self) -> (String, usize) {
        let free = self.free.as_ref().map_or(0, AhoCorasick::memory_usage);
        match &self.words {
            Some(w) => ("word table".to_string(), w.memory_usage() + free),
            None if self.free.is_some() => ("unanchored".to_string(), free),
            None => ("empty".to_string(), 0),
        }
    }

    /// Every occurrence of a word pattern in `f` that starts at a word start (see
    /// [`word_starts`]) and may pass the right-boundary check, then every occurrence of a free
    /// pattern, appended to `out` as (pattern, start, end); returns how many came from word
    /// starts (the others still need their left boundary checked). Per pattern, occurrences
    /// come in text order.
    /// `context`: the text's proclitic rules when already read (else read here if needed,
    /// and kept for the caller's boundary checks).
    pub(super) fn find(
        &self,
        f: &str,
        context: &mut Option<proclitic::Context>,
        starts: &mut Vec<(usize, usize)>,
        out: &mut Vec<(usize, usize, usize)>,
    ) -> usize {
        if let Some(words) = &self.words {
            let n = word_starts_in(f, context, starts);
            words.find(f, starts.get_mut(..n).unwrap_or_default(), out);
        }
        let checked = out.len();
        if let Some(ac) = &self.free {
            for m in ac.find_overlapping_iter(f) {
                out.push((self.free_ids[m.pattern().as_usize()], m.start(), m.end()));
            }
        }
        checked
    }

    /// The reference search: every occurrence of every pattern anywhere in `f` (overlapping).
    pub(super) fn find_all(
        &self,
        f: &str,
        out: &mut Vec<(usize, usize, usize)>,
    ) -> Result<(), CompileError> {
        let ac = self
            .reference
            .get_or_init(|| {
                let all: Vec<&str> = self.patterns.iter().map(String::as_str).collect();
                overlapping(&all)
            })
            .as_ref()
            .map_err(|e| CompileError::Automaton(e.to_string()))?;
        for m in ac.find_overlapping_iter(f) {
            out.push((m.pattern().as_usize(), m.start(), m.end()));
        }
        Ok(())
    }
}

/// The offsets in folded text where a word starts: where a term that needs a boundary on its
/// left may begin (the positions `boundary_before` accepts, minus spaces, which no folded term
/// starts with, and chars of scripts written without spaces, which no word pattern starts
/// with; plus, in Arabic and Hebrew, the places after a word's proclitics, see
/// [`proclitic`]). Each comes with the offset of the next space (or the end of the text):
/// the run a word pattern without a space must fit in.
/// They are the first `n` entries of `out`, `n` returned; entries past them are left over
/// from earlier texts.
#[cfg(test)]
pub(super) fn word_starts(f: &str, out: &mut Vec<(usize, usize)>) -> usize {
    word_starts_in(f, &mut None, out)
}

/// [`word_starts`], with the text's proclitic rules read once for the text (`context`).
fn word_starts_in(
    f: &str,
    context: &mut Option<proclitic::Context>,
    out: &mut Vec<(usize, usize)>,
) -> usize {
    let bytes = f.as_bytes();
    if bytes.is_ascii() {
        // In ASCII only a space separates words (folded text has single spaces).
        // Eight bytes at a time: spaces come every ~6 bytes, too often for memchr's vector
        // search (a call and its setup per space) to pay, and a byte loop branches on each.
        // A block's first two spaces (most blocks have one or two) are taken without a branch
        // on whether they are there: each writes its entry, and the count moves on only for a
        // space that ends a word (looping over the spaces of each block mispredicted its exit
        // about once a block: ~600 mispredicted branches per long article). The vector is
        // written in place and keeps its length from text to text (zeroing it as it grew,
        // for every text, cost more than the branches saved).
        let mut n = 0;
        let mut from = 0;
        let mut step = |i: usize, valid: bool, n: &mut usize, out: &mut Vec<(usize, usize)>| {
            if let Some(slot) = out.get_mut(*n) {
                *slot = (from, i);
            }
            *n += usize::from(valid & (i > from));
            from = if valid { i + 1 } else { from };
        };
        let mut blocks = bytes.chunks_exact(8);
        let mut base = 0;
        for block in blocks.by_ref() {
            if out.len() < n + 8 {
                out.resize(2 * (n + 8), (0, 0));
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(block);
            let mut mask = space_mask(u64::from_le_bytes(b));
            for _ in 0..2 {
                step(
                    base + (mask.trailing_zeros() / 8) as usize,
                    mask != 0,
                    &mut n,
                    out,
                );
                mask &= mask.wrapping_sub(1);
            }
            while mask != 0 {
                step(base + mask.trailing_zeros() as usize / 8, true, &mut n, out);
                mask &= mask - 1;
            }
            base += 8;
        }
        if out.len() < n + 9 {
            out.resize(n + 9, (0, 0));
        }
        for (i, &b) in blocks.remainder().iter().enumerate() {
            if b == b' ' {
                step(base + i, true, &mut n, out);
            }
        }
        step(bytes.len(), true, &mut n, out);
        return n;
    }
    out.clear();
    // `is_boundary(prev, c)` with each char classified once. A char of a script written
    // without spaces starts no word pattern (their first chars are of spaced scripts, the
    // others go to the overlapping search), so it is no start here: every Chinese or Japanese
    // character was one, and each was looked up, along with the boundaries after it.
    let mut prev: Option<Class> = None; // None: the text's start or a space
    let mut run_end = 0;
    // The languages whose proclitics (`و`, `ב`...) a term may start after are read at the
    // first word that starts with one.
    for (i, c) in f.char_indices() {
        if c == ' ' {
            prev = None;
            continue;
        }
        let k = class(c);
        if k != Class::Unspaced && prev.is_none_or(|a| breaks(a, k)) {
            if run_end <= i {
                run_end = memchr::memchr(b' ', &bytes[i..]).map_or(bytes.len(), |n| i + n);
            }
            out.push((i, run_end));
            if prev.is_none() && proclitic::may_lead(c) {
                let context = *context.get_or_insert_with(|| proclitic::Context::of(f));
                let word = f.get(i..run_end).unwrap_or_default();
                out.extend(context.starts_in(word).map(|s| (i + s, run_end)));
            }
        }
        prev = Some(k);
    }
    out.len()
}

/// The high bit of each byte of `x` that is a space, and no other bit (exact: no carries
/// between bytes).
fn space_mask(x: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let y = x ^ 0x2020_2020_2020_2020;
    // A byte of `y` is zero iff neither its low seven bits (plus 0x7F) nor its own high bit
    // set the high bit.
    !(((y & LOW7) + LOW7) | y) & !LOW7
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Word starts the slow way: every non-space byte after a space or at the start, with
    /// the next space (or the end).
    fn naive(f: &str) -> Vec<(usize, usize)> {
        let b = f.as_bytes();
        (0..b.len())
            .filter(|&i| b[i] != b' ' && (i == 0 || b[i - 1] == b' '))
            .map(|i| {
                (
                    i,
                    b[i..]
                        .iter()
                        .position(|&c| c == b' ')
                        .map_or(b.len(), |n| i + n),
                )
            })
            .collect()
    }

    #[test]
    fn space_mask_marks_exactly_the_spaces() {
        for x in [0u64, u64::MAX, 0x2020_2020_2020_2020, 0x21A0_1F20_0020_A020] {
            let want = x
                .to_le_bytes()
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b' ')
                .fold(0u64, |m, (i, _)| m | 0x80 << (8 * i));
            assert_eq!(space_mask(x), want, "{x:#x}");
        }
    }

    /// Word starts in any script, the slow way: every char that is no space and no char of an
    /// unspaced script, with a word boundary before it (or the text's start), with the next
    /// space (or the end).
    fn naive_unicode(f: &str) -> Vec<(usize, usize)> {
        let chars: Vec<(usize, char)> = f.char_indices().collect();
        (0..chars.len())
            .filter(|&k| {
                let (_, c) = chars[k];
                c != ' '
                    && !is_unspaced(c)
                    && (k == 0 || super::super::scan::is_boundary(chars[k - 1].1, c))
            })
            .map(|k| {
                let i = chars[k].0;
                (i, f[i..].find(' ').map_or(f.len(), |n| i + n))
            })
            .collect()
    }

    proptest! {
        #[test]
        fn word_starts_in_any_script_agree_with_the_char_by_char_definition(
            f in "[ aé北の가]{0,40}",
        ) {
            let mut out = Vec::new();
            let n = word_starts(&f, &mut out);
            prop_assert_eq!(&out[..n], &naive_unicode(&f)[..]);
        }

        #[test]
        fn ascii_word_starts_agree_with_the_byte_by_byte_definition(
            f in "[ a-c]{0,40}",
            before in "[ a-c]{0,60}",
        ) {
            let mut out = Vec::new();
            let n = word_starts(&f, &mut out);
            prop_assert_eq!(&out[..n], &naive(&f)[..]);
            // The scratch vector is reused from text to text: what another text left in it
            // does not leak into the next.
            word_starts(&before, &mut out);
            let n = word_starts(&f, &mut out);
            prop_assert_eq!(&out[..n], &naive(&f)[..]);
        }
    }
}
