//! Finding the patterns that start at a word start by looking up the word there.
//!
//! Owns [`WordTable`], built by [`super::search::Search`] from the patterns that start on a word
//! boundary; candidates leave as (pattern, start, end), as from the automaton walk it replaces.
//!
//! Why a table: walking a byte automaton from every word start costs a chain of dependent
//! loads per byte, and for 10,000 terms that automaton is a ~10 MB DFA whose states mostly sit
//! outside the caches (parsing an article between two items evicts them). Here a word costs one
//! hash of its bytes and one probe of a table of a few hundred KB.
//!
//! What makes it exact. Let `T` be the text from a word start up to the next space. A pattern
//! starts there when it is a prefix of the text from there on, so:
//! - a pattern with a space is found only when its first word (up to its first space) *is* `T`
//!   (the text must have that space where the pattern has it); such patterns are listed under
//!   their first word and compared in full;
//! - a pattern without a space is a prefix of `T`. Either it is `T` itself (one lookup), or it
//!   ends inside `T`, where its hit survives the right-boundary check only if a word boundary
//!   lies there (inside `T` only between scripts: "kim이", one lookup per such boundary) or if
//!   the term checks no right boundary at all (prefix terms, terms ending in Hangul or an
//!   unspaced script). Those "loose" patterns keep a small anchored automaton walked from every
//!   word start, so every prefix of `T` among them is found.
//!
//! The candidates are therefore the automaton walk's, minus those the right-boundary check
//! would reject anyway; the differential tests against the overlapping reference search check
//! the hits.

use std::ops::Range;

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous;
use aho_corasick::{Anchored, BuildError, MatchKind, StartKind, dfa};
use foldhash::HashMap;

use super::scan::is_boundary;

/// The anchored automaton of the loose patterns: a DFA when it can be built (the fastest walk),
/// else a contiguous NFA (smaller; the DFA builder refuses past its state limit).
enum Trie {
    Dfa(dfa::DFA),
    Nfa(contiguous::NFA),
}

/// What starts with one word: the pattern that is that word, and the patterns whose first
/// word it is (a range of [`WordTable::multi`]).
#[derive(Default)]
struct Entry {
    whole: Option<usize>,
    multi: Range<usize>,
}

/// A word pattern as given to [`WordTable::new`]: its id in the watch set, its folded text, and
/// whether some term of it checks no right boundary.
pub(super) struct WordPattern<'a> {
    pub id: usize,
    pub text: &'a str,
    pub loose: bool,
}

pub(super) struct WordTable {
    table: HashMap<Box<[u8]>, Entry>,
    /// Patterns with a space: (pattern id, folded bytes), grouped by first word.
    multi: Vec<(usize, Box<[u8]>)>,
    /// The longest key: a longer word is never looked up.
    longest: usize,
    /// Loose patterns without a space, and their ids.
    loose: Option<Trie>,
    loose_ids: Vec<usize>,
}

impl WordTable {
    pub(super) fn new(patterns: &[WordPattern<'_>]) -> Result<WordTable, BuildError> {
        let mut table: HashMap<Box<[u8]>, Entry> = HashMap::default();
        let mut multi: Vec<(&[u8], usize, &[u8])> = Vec::new();
        let (mut loose, mut loose_ids) = (Vec::new(), Vec::new());
        for p in patterns {
            let bytes = p.text.as_bytes();
            match memchr::memchr(b' ', bytes) {
                // A pattern starting with a space could never start at a word start; folded
                // terms do not, and the walk this replaces never found one either.
                Some(0) => {}
                Some(i) => multi.push((&bytes[..i], p.id, bytes)),
                None if p.loose => {
                    loose.push(p.text);
                    loose_ids.push(p.id);
                }
                None => table.entry(bytes.into()).or_default().whole = Some(p.id),
            }
        }
        // Grouped by first word, shortest first (the order the walk reported them in).
        multi.sort_by(|a, b| (a.0, a.2.len()).cmp(&(b.0, b.2.len())));
        let mut grouped = Vec::with_capacity(multi.len());
        let mut i = 0;
        while i < multi.len() {
            let first = multi[i].0;
            let begin = grouped.len();
            while i < multi.len() && multi[i].0 == first {
                grouped.push((multi[i].1, Box::<[u8]>::from(multi[i].2)));
                i += 1;
            }
            table.entry(first.into()).or_default().multi = begin..grouped.len();
        }
        let longest = table.keys().map(|k| k.len()).max().unwrap_or(0);
        let loose = if loose.is_empty() {
            None
        } else {
            Some(
                match dfa::Builder::new()
                    .match_kind(MatchKind::Standard)
                    .start_kind(StartKind::Anchored)
                    .build(&loose)
                {
                    Ok(d) => Trie::Dfa(d),
                    Err(_) => Trie::Nfa(
                        contiguous::Builder::new()
                            .match_kind(MatchKind::Standard)
                            .build(&loose)?,
                    ),
                },
            )
        };
        Ok(WordTable {
            table,
            multi: grouped,
            longest,
            loose,
            loose_ids,
        })
    }

    /// Heap bytes, roughly: keys, entries and the loose automaton.
    pub(super) fn memory_usage(&self) -> usize {
        let entry = std::mem::size_of::<(Box<[u8]>, Entry)>() + 1;
        let keys: usize = self.table.keys().map(|k| k.len()).sum();
        let multi: usize = self.multi.iter().map(|(_, p)| p.len() + 24).sum();
        let loose = match &self.loose {
            Some(Trie::Dfa(d)) => d.memory_usage(),
            Some(Trie::Nfa(n)) => n.memory_usage(),
            None => 0,
        };
        self.table.capacity() * entry + keys + multi + loose
    }

    /// Every pattern occurrence in `f` that starts at one of `starts` and may survive the
    /// right-boundary check (see the module comment), appended to `out` as (pattern, start,
    /// end); per pattern in text order.
    pub(super) fn find(&self, f: &str, starts: &[usize], out: &mut Vec<(usize, usize, usize)>) {
        let bytes = f.as_bytes();
        match &self.loose {
            Some(Trie::Dfa(d)) => walk(d, bytes, starts, &self.loose_ids, out),
            Some(Trie::Nfa(n)) => walk(n, bytes, starts, &self.loose_ids, out),
            None => {}
        }
        for &p in starts {
            let Some(rest) = bytes.get(p..) else {
                continue;
            };
            let word = memchr::memchr(b' ', rest).map_or(rest, |n| &rest[..n]);
            if !word.is_ascii() {
                // Word boundaries inside the word (between scripts): a pattern may end there.
                self.inner_boundaries(f, p, word.len(), out);
            }
            if word.len() > self.longest {
                continue;
            }
            let Some(e) = self.table.get(word) else {
                continue;
            };
            if let Some(id) = e.whole {
                out.push((id, p, p + word.len()));
            }
            for (id, pat) in &self.multi[e.multi.clone()] {
                if rest.starts_with(pat) {
                    out.push((*id, p, p + pat.len()));
                }
            }
        }
    }

    /// The patterns that are the part of the word at `p` (`len` bytes) before a boundary
    /// inside it.
    fn inner_boundaries(
        &self,
        f: &str,
        p: usize,
        len: usize,
        out: &mut Vec<(usize, usize, usize)>,
    ) {
        let Some(word) = f.get(p..p + len) else {
            return;
        };
        let mut chars = word.char_indices();
        let Some((_, mut prev)) = chars.next() else {
            return;
        };
        for (i, c) in chars {
            if is_boundary(prev, c)
                && i <= self.longest
                && let Some(id) = self.table.get(&word.as_bytes()[..i]).and_then(|e| e.whole)
            {
                out.push((id, p, p + i));
            }
            prev = c;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn table(patterns: &[(&str, bool)]) -> WordTable {
        let ps: Vec<WordPattern<'_>> = patterns
            .iter()
            .enumerate()
            .map(|(id, &(text, loose))| WordPattern { id, text, loose })
            .collect();
        WordTable::new(&ps).unwrap()
    }

    fn found(t: &WordTable, f: &str) -> Vec<(usize, usize, usize)> {
        let mut starts = Vec::new();
        super::super::search::word_starts(f, &mut starts);
        let mut out = Vec::new();
        t.find(f, &starts, &mut out);
        out.sort_unstable();
        out
    }

    #[test]
    fn nested_phrases_sharing_a_first_word_are_all_found() {
        let t = table(&[
            ("the war", false),
            ("war", false),
            ("the war in", false),
            ("the", false),
        ]);
        assert_eq!(
            found(&t, "after the war in kursk"),
            vec![(0, 6, 13), (1, 10, 13), (2, 6, 16), (3, 6, 9)]
        );
        // "the wartime" starts with "the war": a candidate, which the right-boundary check
        // then rejects, as it did for the automaton's.
        assert_eq!(found(&t, "the wartime"), vec![(0, 0, 7), (3, 0, 3)]);
    }

    #[test]
    fn a_word_is_found_only_whole_unless_its_pattern_is_loose() {
        let t = table(&[("aid", false), ("sanction", true)]);
        assert_eq!(found(&t, "said aide aid"), vec![(0, 10, 13)]);
        assert_eq!(
            found(&t, "sanctions sanction"),
            vec![(1, 0, 8), (1, 10, 18)]
        );
    }

    #[test]
    fn a_word_ends_where_its_script_changes_inside_a_spaced_word() {
        let t = table(&[("kim", false), ("이", false), ("kim이", false)]);
        assert_eq!(
            found(&t, "kim이 왔다"),
            vec![(0, 0, 3), (1, 3, 6), (2, 0, 6)]
        );
    }

    #[test]
    fn a_word_longer_than_every_key_is_not_looked_up() {
        let t = table(&[("war", false)]);
        assert_eq!(t.longest, 3);
        assert!(found(&t, &"w".repeat(10_000)).is_empty());
    }
}
