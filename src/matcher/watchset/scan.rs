//! Scanning one field: the candidates of [`super::search::Search`], filtered by word boundaries
//! and exact case, recorded as [`RawHit`]s up to the cap, then grouped by term
//! ([`group_by_term`]). Used by [`WatchSet::matches_with`];
//! nothing here leaves `matcher::watchset`.

use std::ops::Range;

use super::{Field, RawHit, Scratch, WatchSet};
use crate::text::fold::{fold_into, fold_keep_case};
use crate::text::proclitic;
use crate::text::script::{breaks, class};

/// Which search finds the candidates: the production one, or the reference (one overlapping
/// search over every pattern, the engine before word-start anchoring) that tests compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strategy {
    WordStarts,
    Overlapping,
}

impl WatchSet {
    pub(super) fn scan_list(
        &self,
        strategy: Strategy,
        list: &[String],
        field: Field,
        cap: u32,
        scratch: &mut Scratch,
    ) {
        // Each entry is scanned alone so a phrase never spans two categories; offsets refer to
        // the entries joined with ", " (the field's plain text).
        let mut base = 0;
        for (i, entry) in list.iter().enumerate() {
            if i > 0 {
                base += 2;
            }
            let from = scratch.hits.len();
            self.scan_text(strategy, entry, field, base, cap, scratch);
            // Word positions count from each entry's start: set the entries far apart, so
            // that no NEAR holds across two of them (a phrase never spans two either).
            let stride = (i as u32).saturating_mul(ENTRY_WORDS);
            for h in &mut scratch.hits[from..] {
                h.words = (
                    h.words.0.saturating_add(stride),
                    h.words.1.saturating_add(stride),
                );
            }
            base += entry.len();
        }
    }

    pub(super) fn scan_text(
        &self,
        strategy: Strategy,
        text: &str,
        field: Field,
        base: usize,
        cap: u32,
        s: &mut Scratch,
    ) {
        if text.is_empty() {
            return;
        }
        fold_into(text, &mut s.folded);
        let f = s.folded.as_str();
        let bytes = f.as_bytes();
        // Word index at a folded offset, counted incrementally: matches arrive in order of
        // their end position, so starts are non-decreasing per pattern length; a small cache of
        // the last position keeps this linear in practice.
        // Word positions (for NEAR) come from the space offsets, computed only once this field
        // has a hit: most fields of most items have none.
        let mut spaces: Option<Vec<u32>> = None;
        // The languages whose proclitics a term may start after (Arabic `و`, Hebrew `ה`...):
        // read once, at the first word or candidate that needs them.
        let mut context: Option<proclitic::Context> = None;
        let mut cands = std::mem::take(&mut s.cands);
        cands.clear();
        // Candidates found from word starts start on a boundary already: the first `checked`.
        let checked = match strategy {
            Strategy::WordStarts => self.search.find(f, &mut context, &mut s.starts, &mut cands),
            Strategy::Overlapping => {
                if self.search.find_all(f, &mut cands).is_err() {
                    // Only the reference engine (tests, benchmarks) gets here, and it builds
                    // what the production automata were built from at compile time; an empty
                    // result makes any comparison with it fail loudly.
                    cands.clear();
                }
                0
            }
        };
        let mut left_boundary = |start: usize| {
            boundary_before(f, start)
                || context
                    .get_or_insert_with(|| proclitic::Context::of(f))
                    .is_start(f, start)
        };
        for (i, &(pattern, start, raw_end)) in cands.iter().enumerate() {
            let left_checked = i < checked;
            for &t in &self.pattern_terms[pattern] {
                let term = &self.terms[t];
                // Hits come in text order per term, so the ones kept are the first ones; once a
                // capped term has its `cap` hits in this field, later candidates are dropped
                // before any boundary or case check (a broad term's 60 occurrences cost a
                // counter compare each, not a UTF-8 decode and a fold).
                if !term.uncapped && s.counts[t] >= cap {
                    continue;
                }
                if !left_checked && term.need_left && start > 0 && !left_boundary(start) {
                    continue;
                }
                let end = if term.spec.kind.is_prefix() {
                    extend_word(f, raw_end)
                } else if term.need_right && raw_end < bytes.len() && !boundary_before(f, raw_end) {
                    continue;
                } else {
                    raw_end
                };
                let orig = s.folded.original_range(start..end);
                if let Some(exact) = &term.exact {
                    let got = fold_keep_case(slice(text, orig.clone()));
                    // A hit of the term's contracted pattern is its contracted spelling.
                    let ok = std::iter::once(exact)
                        .chain(&term.exact_contracted)
                        .any(|e| {
                            if term.spec.kind.is_prefix() {
                                got.starts_with(e.as_str())
                            } else {
                                &got == e
                            }
                        });
                    if !ok {
                        continue;
                    }
                }
                if s.counts[t] == 0 {
                    s.counted.push(t);
                }
                s.counts[t] += 1;
                // Word positions are read only by NEAR, whose terms are exactly the uncapped
                // ones: other hits skip the word count (and a field without NEAR hits never
                // scans for spaces).
                let words = if term.uncapped {
                    let sp = spaces.get_or_insert_with(|| word_breaks(f));
                    // A break at the hit's start (no space: a char of an unspaced script)
                    // comes before its word; one at its end, after.
                    let w0 = sp.partition_point(|&p| (p as usize) <= start) as u32;
                    let w1 = sp.partition_point(|&p| (p as usize) < end) as u32;
                    (w0, w1)
                } else {
                    (0, 0)
                };
                s.hits.push(RawHit {
                    term: t,
                    field,
                    orig: (base + orig.start, base + orig.end),
                    words,
                });
            }
        }
        s.cands = cands;
    }
}

/// Order `s.hits` by (term, field, start) without a comparison sort (which took ~7 % of
/// matching a long article against a broad watchlist): they were recorded field by field in
/// `Field` order (see [`WatchSet::scan_text`]) and, per term and field, in text order (one pattern per term, its
/// candidates by start), so a stable counting sort by term alone gives that order.
pub(super) fn group_by_term(s: &mut Scratch, terms: usize) {
    if s.by_term.len() != terms {
        s.by_term = vec![0; terms];
    }
    s.terms_hit.clear();
    for h in &s.hits {
        let c = &mut s.by_term[h.term];
        if *c == 0 {
            s.terms_hit.push(h.term);
        }
        *c += 1;
    }
    s.terms_hit.sort_unstable();
    let mut at = 0;
    for &t in &s.terms_hit {
        let c = s.by_term[t];
        s.by_term[t] = at;
        at += c;
    }
    s.grouped.clear();
    s.grouped.extend_from_slice(&s.hits);
    for h in &s.hits {
        let p = &mut s.by_term[h.term];
        s.grouped[*p as usize] = *h;
        *p += 1;
    }
    for &t in &s.terms_hit {
        s.by_term[t] = 0;
    }
    std::mem::swap(&mut s.hits, &mut s.grouped);
    debug_assert!(
        s.hits
            .windows(2)
            .all(|w| (w[0].term, w[0].field, w[0].orig.0) < (w[1].term, w[1].field, w[1].orig.0)),
        "hits were not recorded in field and text order per term"
    );
}

/// Words a list entry (a category, an author) is given for its word positions: more than the
/// longest NEAR distance (1,000), so entries are never near each other.
const ENTRY_WORDS: u32 = 1 << 16;

/// Where the words of folded text break, for word positions (NEAR): every space, and between
/// two chars with a word boundary and no space between them. So each char of a script written
/// without spaces (Chinese, Japanese, Thai) is a word of its own, marks staying with their
/// base, as is the switch into or out of Hangul. The index of the word at an offset is the
/// number of breaks at or before it. Without this, a whole unspaced clause was one word, and
/// any two hits in it were "near".
fn word_breaks(f: &str) -> Vec<u32> {
    if f.is_ascii() {
        return memchr_spaces(f.as_bytes());
    }
    let mut out = Vec::with_capacity(f.len() / 6 + 1);
    let mut prev = ' ';
    for (i, c) in f.char_indices() {
        if c == ' '
            || (prev != ' ' && is_boundary(prev, c) && !crate::text::fold::is_combining_mark(c))
        {
            out.push(i as u32);
        }
        prev = c;
    }
    out
}

/// Offsets of the spaces in folded text; folded text separates words with exactly one space,
/// so the number of spaces before an offset is the index of the word there.
fn memchr_spaces(bytes: &[u8]) -> Vec<u32> {
    // memchr's vectorised search, and a capacity guess (a word every ~6 bytes) that saves the
    // doublings: this ran on every field with a hit and took ~7% of a backtest's time as a
    // byte-by-byte filter.
    let mut out = Vec::with_capacity(bytes.len() / 6 + 1);
    out.extend(memchr::memchr_iter(b' ', bytes).map(|i| i as u32));
    out
}

fn char_before(s: &str, at: usize) -> Option<char> {
    s[..at].chars().next_back()
}

fn char_at(s: &str, at: usize) -> Option<char> {
    s[at..].chars().next()
}

/// Is there a word boundary between the chars `a` and `b` of folded text? Spaces separate words;
/// so does any change into or out of a script written without spaces, or into or out of Hangul
/// (Korean particles attach directly to the preceding word: "Kim이").
pub(super) fn is_boundary(a: char, b: char) -> bool {
    a == ' ' || b == ' ' || breaks(class(a), class(b))
}

fn boundary_before(f: &str, at: usize) -> bool {
    match (char_before(f, at), char_at(f, at)) {
        (Some(a), Some(b)) => is_boundary(a, b),
        _ => true,
    }
}

/// For a prefix term, the hit extends to the end of the word it starts.
fn extend_word(f: &str, mut end: usize) -> usize {
    while end < f.len() && !boundary_before(f, end) {
        end += char_at(f, end).map_or(1, char::len_utf8);
    }
    end
}

/// `text[r]`, or "" if the fold's map ever produced a range off the text (it does not; the
/// exact-case check must still never panic on feed input).
fn slice(text: &str, r: Range<usize>) -> &str {
    text.get(r).unwrap_or("")
}
