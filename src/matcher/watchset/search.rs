//! Finding where the folded terms occur in folded text: which automaton, started where.
//!
//! Owns [`Search`], built once per watch set from the distinct folded patterns, and
//! [`word_starts`]. Candidates leave here as (pattern, start, end) and are checked against word
//! boundaries, case and the hit cap by `scan.rs`; nothing here leaves `matcher::watchset`.
//!
//! Almost every term must start on a word boundary (its first character belongs to a script
//! written with spaces). An unanchored overlapping search over every byte walks the automaton
//! one dependent memory load per byte (a 10 MB DFA for 10,000 terms, most of it outside the
//! caches) and reports every "aid" inside "said" only for the boundary check to reject it. So
//! these "word" patterns sit in an anchored automaton (a trie whose missing transitions are
//! dead ends) walked only from the places where a word starts, each walk ending at the first
//! byte no pattern continues with, mostly within a few bytes and in the trie's hot top states.
//! Every pattern that starts at an anchor is reported, nested ones too ("war" inside "the war"
//! is found from the anchor of "war"), so the candidates are exactly those of the overlapping
//! search that pass the left boundary check, and per pattern in the same (text) order; no
//! second pass for nested terms is needed. Patterns that start with a character of a script
//! written without spaces (CJK, Thai, ...) may start anywhere and keep an overlapping search
//! over their own, usually empty, automaton; so do all patterns of a small set, where that
//! search's prefilter beats walking from every word start.
//!
//! The previous strategy, one overlapping search over all patterns, is built on first use as
//! the reference that [`super::WatchSet::matches_uncapped`] and the differential tests use.

use std::sync::OnceLock;

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous;
use aho_corasick::{
    AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Anchored, BuildError, MatchKind, StartKind,
    dfa,
};

use super::CompileError;
use super::scan::is_boundary;
use crate::text::script::is_unspaced;

/// Up to this many patterns, all go to the overlapping search (see [`Search::new`]).
const FEW_PATTERNS: usize = 16;

/// The anchored automaton of the word patterns: a DFA when it can be built (the fastest walk),
/// else a contiguous NFA (smaller; the DFA builder refuses past its state limit).
enum Trie {
    Dfa(dfa::DFA),
    Nfa(contiguous::NFA),
}

/// The compiled patterns of a watch set.
pub(super) struct Search {
    /// Every distinct folded pattern; index = pattern id of the watch set.
    patterns: Vec<String>,
    /// Anchored automaton of the patterns that start on a word boundary; its pattern ids map
    /// to the watch set's through `word_ids`.
    words: Option<Trie>,
    word_ids: Vec<usize>,
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
    /// `patterns` are non-empty folded terms, deduplicated.
    pub(super) fn new(patterns: Vec<String>) -> Result<Search, CompileError> {
        let err = |e: BuildError| CompileError::Automaton(e.to_string());
        let (mut word, mut free) = (Vec::new(), Vec::new());
        let (mut word_ids, mut free_ids) = (Vec::new(), Vec::new());
        // A few patterns are found faster by the overlapping search, whose prefilter skips
        // to the rare bytes of the patterns (one term: 3.6 ms against 5.7 ms for the benchmark's
        // 200 long articles) than by a walk from every word start.
        let few = patterns.len() <= FEW_PATTERNS;
        for (id, p) in patterns.iter().enumerate() {
            // The same rule as a term's `need_left`: patterns sharing a folded text share it.
            if !few && p.chars().next().is_some_and(|c| !is_unspaced(c)) {
                word.push(p.as_str());
                word_ids.push(id);
            } else {
                free.push(p.as_str());
                free_ids.push(id);
            }
        }
        let words = if word.is_empty() {
            None
        } else {
            Some(
                match dfa::Builder::new()
                    .match_kind(MatchKind::Standard)
                    .start_kind(StartKind::Anchored)
                    .build(&word)
                {
                    Ok(d) => Trie::Dfa(d),
                    Err(_) => Trie::Nfa(
                        contiguous::Builder::new()
                            .match_kind(MatchKind::Standard)
                            .build(&word)
                            .map_err(err)?,
                    ),
                },
            )
        };
        let free = if free.is_empty() {
            None
        } else {
            Some(overlapping(&free).map_err(err)?)
        };
        Ok(Search {
            patterns,
            words,
            word_ids,
            free,
            free_ids,
            reference: OnceLock::new(),
        })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The word automaton's implementation and the heap size of both, for status and benches.
    pub(super) fn stats(&self) -> (String, usize) {
        let free = self.free.as_ref().map_or(0, AhoCorasick::memory_usage);
        match &self.words {
            Some(Trie::Dfa(d)) => ("anchored DFA".to_string(), d.memory_usage() + free),
            Some(Trie::Nfa(n)) => ("anchored NFA".to_string(), n.memory_usage() + free),
            None if self.free.is_some() => ("unanchored".to_string(), free),
            None => ("empty".to_string(), 0),
        }
    }

    /// Every occurrence of a word pattern in `f` that starts at one of `starts` (ascending;
    /// see [`word_starts`]), then every occurrence of a free pattern, appended to `out` as
    /// (pattern, start, end); returns how many came from word starts (the others still need
    /// their left boundary checked). Per pattern, occurrences come in text order.
    pub(super) fn find(
        &self,
        f: &str,
        starts: &mut Vec<usize>,
        out: &mut Vec<(usize, usize, usize)>,
    ) -> usize {
        if let Some(words) = &self.words {
            word_starts(f, starts);
            match words {
                Trie::Dfa(d) => walk(d, f.as_bytes(), starts, &self.word_ids, out),
                Trie::Nfa(n) => walk(n, f.as_bytes(), starts, &self.word_ids, out),
            }
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

/// Walk the anchored automaton from each start until it dies, reporting the patterns that
/// begin exactly there.
fn walk<A: Automaton>(
    a: &A,
    bytes: &[u8],
    starts: &[usize],
    ids: &[usize],
    out: &mut Vec<(usize, usize, usize)>,
) {
    let Ok(root) = a.start_state(Anchored::Yes) else {
        return;
    };
    for &p in starts {
        let mut sid = root;
        for (i, &b) in bytes[p..].iter().enumerate() {
            sid = a.next_state(Anchored::Yes, sid, b);
            if !a.is_special(sid) {
                continue;
            }
            if a.is_dead(sid) {
                break;
            }
            if a.is_match(sid) {
                let end = p + i + 1;
                for k in 0..a.match_len(sid) {
                    let pid = a.match_pattern(sid, k);
                    // A state's matches include the patterns that are suffixes of its path
                    // (they end here but start later, at their own anchor, if any).
                    if a.pattern_len(pid) == end - p {
                        out.push((ids[pid.as_usize()], p, end));
                    }
                }
            }
        }
    }
}

/// The offsets in folded text where a word starts: where a term that needs a boundary on its
/// left may begin (the positions `boundary_before` accepts, minus spaces, which no folded term
/// starts with).
pub(super) fn word_starts(f: &str, out: &mut Vec<usize>) {
    out.clear();
    let bytes = f.as_bytes();
    if bytes.is_ascii() {
        // In ASCII only a space separates words (folded text has single spaces).
        if bytes.first().is_some_and(|&b| b != b' ') {
            out.push(0);
        }
        out.extend(
            memchr::memchr_iter(b' ', bytes)
                .map(|i| i + 1)
                .filter(|&i| bytes.get(i).is_some_and(|&b| b != b' ')),
        );
        return;
    }
    let mut prev: Option<char> = None;
    for (i, c) in f.char_indices() {
        if c != ' ' && prev.is_none_or(|a| is_boundary(a, c)) {
            out.push(i);
        }
        prev = Some(c);
    }
}
