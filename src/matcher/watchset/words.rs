//! Finding the patterns that start at a word start by looking up the word there.
//!
//! Owns [`WordTable`], built by [`super::search::Search`] from the patterns that start on a word
//! boundary; candidates leave as (pattern, start, end), as from the automaton walk it replaces.
//!
//! Why a table: walking a byte automaton from every word start costs a chain of dependent
//! loads per byte, and for 10,000 terms that automaton is a ~10 MB DFA whose states mostly sit
//! outside the caches (parsing an article between two items evicts them). Here a word costs one
//! hash of its bytes and one look at a filter of 16 to 32 KB, and the few words that pass it a
//! probe of a table.
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

use crate::text::script::{breaks, class};

/// The anchored automaton of the loose patterns: a DFA when it can be built (the fastest walk),
/// else a contiguous NFA (smaller; the DFA builder refuses past its state limit).
enum Trie {
    Dfa(dfa::DFA),
    Nfa(contiguous::NFA),
}

/// What starts with one word: the pattern that is that word, and the patterns whose first
/// word it is (a range of [`WordTable::multi`]).
#[derive(Clone)]
struct Entry {
    whole: Option<usize>,
    multi: Range<usize>,
    /// A one-word Bloom filter of how those phrases go on: the [`opening_bit`] of each
    /// phrase's first 3 bytes after the word (the space and two characters), every bit for a
    /// phrase with fewer. A text whose bit is not set opens none of them.
    openings: u64,
}

/// The bit of [`Entry::openings`] for the 3 bytes (a space and two characters) that follow a
/// word, in the low bytes of `after`.
#[inline]
fn opening_bit(after: u64) -> u64 {
    1 << ((after & 0xFF_FFFF).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58)
}

/// A word pattern as given to [`WordTable::new`]: its id in the watch set, its folded text, and
/// whether some term of it checks no right boundary.
pub(super) struct WordPattern<'a> {
    pub id: usize,
    pub text: &'a str,
    pub loose: bool,
}

/// Words of up to this many bytes (most of them) are keyed by their bytes: packed with their
/// length in a `u64`, so a lookup hashes and compares one integer and reads no key from the
/// heap. Longer words are looked up by their bytes in a hash map.
const SHORT: usize = 7;

/// An open-addressing table of [`short_key`]s (never 0: the length byte is at least 1) →
/// [`Entry`], at most a quarter full, probed linearly. A general hash map costs several times
/// more per lookup here, where every word that passes the [`Filter`] (and in text that is not
/// ASCII, every word) is looked up; most of those are in the table, found at their first slot.
///
/// Keys and entries are two arrays with the same slots: a probe reads only keys (8 bytes a
/// slot, so more of them stay in the caches), and a hit reads its entry at an address known
/// before the key is compared, so the two loads overlap instead of one waiting for the other
/// (with 10,000 terms the table does not fit in the first-level cache, and a separate entry
/// list indexed by the slot's value was a second cache miss per hit).
struct ShortTable {
    keys: Vec<u64>,
    entries: Vec<Entry>,
    mask: usize,
}

impl ShortTable {
    fn new(words: Vec<(u64, Entry)>) -> ShortTable {
        let cap = (words.len() * 4).next_power_of_two().max(16);
        let empty = Entry {
            whole: None,
            multi: 0..0,
            openings: 0,
        };
        let mut t = ShortTable {
            keys: vec![0; cap],
            entries: vec![empty; cap],
            mask: cap - 1,
        };
        for (k, e) in words {
            let mut i = t.slot(k);
            while t.keys[i] != 0 && t.keys[i] != k {
                i = (i + 1) & t.mask;
            }
            t.keys[i] = k;
            t.entries[i] = e;
        }
        t
    }

    /// Where `k`'s probe starts: a folded multiply (the high and low halves of a 128-bit
    /// product, XORed) mixes every byte of the word into the low bits.
    #[inline]
    fn slot(&self, k: u64) -> usize {
        let p = u128::from(k) * 0x9E37_79B9_7F4A_7C15;
        ((p as u64) ^ ((p >> 64) as u64)) as usize & self.mask
    }

    #[inline]
    fn get(&self, k: u64) -> Option<&Entry> {
        let mut i = self.slot(k);
        loop {
            let key = *self.keys.get(i)?;
            if key == k {
                return self.entries.get(i);
            }
            if key == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }
}

pub(super) struct WordTable {
    /// Word → entry, for words of up to [`SHORT`] bytes and for longer ones.
    short: ShortTable,
    long: HashMap<Box<[u8]>, Entry>,
    /// Whether a word may be a key of either (the first pass over an ASCII text).
    filter: Filter,
    /// Patterns with a space: (pattern id, folded bytes), grouped by first word.
    multi: Vec<(usize, Box<[u8]>)>,
    /// Per phrase of `multi`: the up to 8 bytes after its first word (the space and what
    /// follows), as an integer, and the mask of the bytes that are the phrase's. The text's 8
    /// bytes there are compared with it before the whole phrase is: a common first word opens
    /// many phrases, and most of them differ right after it (a word's phrases compared in
    /// full were a `memcmp` call each, most of the matching's mispredicted branches after the
    /// word lookups).
    probes: Vec<(u64, u64)>,
    /// The longest word in the table: a longer word is never looked up.
    longest: usize,
    /// Loose patterns without a space, and their ids.
    loose: Option<Trie>,
    loose_ids: Vec<usize>,
}

/// The first 8 bytes of `tail` as a little-endian integer (zero-padded), and the mask of the
/// bytes present.
fn probe_of(tail: &[u8]) -> (u64, u64) {
    let n = tail.len().min(8);
    let mut b = [0u8; 8];
    b[..n].copy_from_slice(&tail[..n]);
    let mask = if n == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    };
    (u64::from_le_bytes(b), mask)
}

/// The integer key of a word of up to [`SHORT`] bytes: its bytes, then its length in the top
/// byte (so "ab" and "ab\0" differ).
fn short_key(word: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[..word.len()].copy_from_slice(word);
    b[7] = word.len() as u8;
    u64::from_le_bytes(b)
}

/// [`short_key`] of `rest[..len]`, read as one 8-byte load where `rest` is long enough.
fn short_key_at(rest: &[u8], len: usize) -> u64 {
    match rest.first_chunk::<8>() {
        Some(b) => {
            let mask = (1u64 << (8 * len)) - 1;
            (u64::from_le_bytes(*b) & mask) | ((len as u64) << 56)
        }
        None => short_key(&rest[..len]),
    }
}

/// Two bits per hash of a word, set for every word of the table: most words of a text are not
/// in the table, and this says so for nearly all of them from two loads of a bit array that
/// stays in the first-level cache (16 to 32 KB for 10,000 terms), without a branch on the answer
/// (whether a word is there is a branch no processor predicts; cachegrind's branch simulation
/// counted such branches as most of the 10,000-term search's mispredictions). Words whose bit
/// is set are then looked up for real.
struct Filter {
    bits: Vec<u64>,
    /// Bit index mask: the number of bits is a power of two.
    mask: u64,
}

impl Filter {
    /// 16 to 32 bits per word (a power of two in all), two of them set per word: a word not in
    /// the table passes with a chance of at most ~1 in 70 (one bit per word let ~1 in 16
    /// through, and each of those was a real lookup that missed, a branch mispredicted more
    /// often than not).
    fn new<'a>(words: impl Iterator<Item = &'a [u8]> + Clone) -> Filter {
        let n = words.clone().count();
        let nbits = (n * 16).next_power_of_two().max(4096);
        let mut f = Filter {
            bits: vec![0; nbits / 64],
            mask: nbits as u64 - 1,
        };
        for w in words {
            let h = word_hash(w);
            for b in [h & f.mask, (h >> 28) & f.mask] {
                if let Some(word) = f.bits.get_mut((b >> 6) as usize) {
                    *word |= 1 << (b & 63);
                }
            }
        }
        f
    }

    #[inline]
    fn may_have(&self, hash: u64) -> bool {
        let bit = |b: u64| {
            self.bits
                .get((b >> 6) as usize)
                .map_or(0, |w| (w >> (b & 63)) & 1)
        };
        bit(hash & self.mask) & bit((hash >> 28) & self.mask) != 0
    }
}

/// The hash of a word from its first and last 8 bytes (the same 8 when it is shorter: each
/// masked to the word) and its length. [`word_hash_at`] computes it from a text without a
/// branch on the word's length.
fn mix_word(first: u64, last: u64, len: usize) -> u64 {
    // `clamp`: an empty word (never looked up) must not shift by 64.
    let mask = u64::MAX >> (8 * (8 - len.clamp(1, 8)));
    let h = u128::from((first & mask) ^ (last & mask).rotate_left(29) ^ len as u64)
        * 0x9E37_79B9_7F4A_7C15;
    ((h as u64) ^ ((h >> 64) as u64)) >> 7
}

/// [`mix_word`] of a word given alone.
fn word_hash(word: &[u8]) -> u64 {
    let eight = |b: &[u8]| {
        let mut a = [0u8; 8];
        let n = b.len().min(8);
        a[..n].copy_from_slice(&b[..n]);
        u64::from_le_bytes(a)
    };
    let first = eight(word);
    let last = eight(word.get(word.len().saturating_sub(8)..).unwrap_or_default());
    mix_word(first, last, word.len())
}

/// [`word_hash`] of the `len` (1 or more) bytes at the start of `rest`, read as two 8-byte
/// loads where `rest` is long enough.
#[inline]
fn word_hash_at(rest: &[u8], len: usize) -> u64 {
    match (
        rest.first_chunk::<8>(),
        rest.get(len.saturating_sub(8)..)
            .and_then(|r| r.first_chunk::<8>()),
    ) {
        (Some(first), Some(last)) => {
            mix_word(u64::from_le_bytes(*first), u64::from_le_bytes(*last), len)
        }
        _ => rest.get(..len).map_or(0, word_hash),
    }
}

impl WordTable {
    pub(super) fn new(patterns: &[WordPattern<'_>]) -> Result<WordTable, BuildError> {
        let mut by_word: HashMap<&[u8], Entry> = HashMap::default();
        let mut multi: Vec<(&[u8], usize, &[u8])> = Vec::new();
        let (mut loose, mut loose_ids) = (Vec::new(), Vec::new());
        let empty = || Entry {
            whole: None,
            multi: 0..0,
            openings: 0,
        };
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
                None => by_word.entry(bytes).or_insert_with(empty).whole = Some(p.id),
            }
        }
        // Grouped by first word, shortest first (the order the walk reported them in).
        multi.sort_by(|a, b| (a.0, a.2.len()).cmp(&(b.0, b.2.len())));
        let mut grouped = Vec::with_capacity(multi.len());
        let mut i = 0;
        while i < multi.len() {
            let first = multi[i].0;
            let begin = grouped.len();
            let mut openings = 0;
            while i < multi.len() && multi[i].0 == first {
                let (_, id, pat) = multi[i];
                openings |= match pat.get(first.len()..first.len() + 3) {
                    Some(o) => {
                        opening_bit(u64::from(o[0]) | u64::from(o[1]) << 8 | u64::from(o[2]) << 16)
                    }
                    None => u64::MAX,
                };
                grouped.push((id, Box::<[u8]>::from(pat)));
                i += 1;
            }
            let e = by_word.entry(first).or_insert_with(empty);
            e.multi = begin..grouped.len();
            e.openings = openings;
        }
        let longest = by_word.keys().map(|k| k.len()).max().unwrap_or(0);
        let filter = Filter::new(by_word.keys().copied());
        let (mut short, mut long) = (Vec::new(), HashMap::default());
        for (word, entry) in by_word {
            if word.len() <= SHORT {
                short.push((short_key(word), entry));
            } else {
                long.insert(Box::from(word), entry);
            }
        }
        let short = ShortTable::new(short);
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
            short,
            long,
            filter,
            probes: grouped
                .iter()
                .map(|(_, pat)| {
                    let first = memchr::memchr(b' ', pat).unwrap_or(pat.len());
                    probe_of(pat.get(first..).unwrap_or_default())
                })
                .collect(),
            multi: grouped,
            longest,
            loose,
            loose_ids,
        })
    }

    /// Heap bytes, roughly: both maps, phrases and the loose automaton.
    pub(super) fn memory_usage(&self) -> usize {
        let short = self.short.keys.len() * std::mem::size_of::<(u64, Entry)>()
            + self.filter.bits.len() * 8;
        let long = self.long.capacity() * (std::mem::size_of::<(Box<[u8]>, Entry)>() + 1)
            + self.long.keys().map(|k| k.len()).sum::<usize>();
        let multi: usize = self
            .multi
            .iter()
            .map(|(_, p)| p.len() + std::mem::size_of::<(usize, Box<[u8]>)>())
            .sum();
        let loose = match &self.loose {
            Some(Trie::Dfa(d)) => d.memory_usage(),
            Some(Trie::Nfa(n)) => n.memory_usage(),
            None => 0,
        };
        let probes = self.probes.len() * std::mem::size_of::<(u64, u64)>();
        short + long + multi + probes + loose
    }

    /// The entry of the `len` bytes at the start of `rest`.
    #[inline]
    fn lookup(&self, rest: &[u8], len: usize) -> Option<&Entry> {
        if len > self.longest || len == 0 {
            return None;
        }
        if len <= SHORT {
            self.short.get(short_key_at(rest, len))
        } else {
            self.lookup_long(rest.get(..len)?)
        }
    }

    /// Kept out of line: long words are the rare case, and the hash map's code would weigh on
    /// every short lookup inlined into the loop.
    #[inline(never)]
    fn lookup_long(&self, word: &[u8]) -> Option<&Entry> {
        self.long.get(word)
    }

    /// Every pattern occurrence in `f` that starts at one of `starts` (word starts, each with
    /// the offset of the next space; see `search::word_starts`) and may survive the
    /// right-boundary check (see the module comment), appended to `out` as (pattern, start,
    /// end); per pattern in text order. `starts` is scratch: in ASCII text its first entries
    /// are overwritten with the words that may be in the table.
    pub(super) fn find(
        &self,
        f: &str,
        starts: &mut [(usize, usize)],
        out: &mut Vec<(usize, usize, usize)>,
    ) {
        let bytes = f.as_bytes();
        match &self.loose {
            Some(Trie::Dfa(d)) => walk(d, bytes, starts, &self.loose_ids, out),
            Some(Trie::Nfa(n)) => walk(n, bytes, starts, &self.loose_ids, out),
            None => {}
        }
        if !bytes.is_ascii() {
            // Word boundaries inside words (between scripts) end patterns too, found in the
            // same pass so each pattern's hits stay in text order.
            for &(p, run_end) in starts.iter() {
                if bytes.get(p..run_end).is_some_and(|w| !w.is_ascii()) {
                    self.inner_boundaries(f, p, run_end, out);
                }
                self.at_word(bytes, p, run_end, out);
            }
            return;
        }
        // First the words that may be in the table, kept without a branch on the answer (see
        // `Filter`), then only those are looked up for their patterns.
        let mut kept = 0;
        for i in 0..starts.len() {
            let (p, run_end) = starts[i];
            let maybe = bytes.get(p..).is_some_and(|rest| {
                let len = run_end.saturating_sub(p);
                self.filter.may_have(word_hash_at(rest, len)) & (len != 0)
            });
            starts[kept] = (p, run_end);
            kept += usize::from(maybe);
        }
        for &(p, run_end) in starts.get(..kept).unwrap_or_default() {
            self.at_word(bytes, p, run_end, out);
        }
    }

    /// The patterns that start with the word `bytes[p..run_end]`: the word itself, and the
    /// phrases it opens that the text goes on with.
    #[inline]
    fn at_word(
        &self,
        bytes: &[u8],
        p: usize,
        run_end: usize,
        out: &mut Vec<(usize, usize, usize)>,
    ) {
        let Some(rest) = bytes.get(p..) else {
            return;
        };
        let len = run_end.saturating_sub(p);
        let Some(e) = self.lookup(rest, len) else {
            return;
        };
        if let Some(id) = e.whole {
            out.push((id, p, run_end));
        }
        // The text's 8 bytes from the end of the word on, where every phrase listed under
        // the word has its first space.
        let after = rest
            .get(len..)
            .and_then(|r| r.first_chunk::<8>())
            .map(|b| u64::from_le_bytes(*b));
        let phrases = self.multi.get(e.multi.clone()).unwrap_or_default();
        let probes = self.probes.get(e.multi.clone()).unwrap_or_default();
        // Most occurrences of a word open none of its phrases, and going through them to find
        // out (a loop whose length changes from word to word, a branch on each probe) was
        // ~550 mispredicted branches per long article against 10,000 terms: the filter
        // answers most of them with one test.
        if let Some(a) = after
            && e.openings & opening_bit(a) == 0
        {
            return;
        }
        for ((id, pat), &(probe, mask)) in phrases.iter().zip(probes) {
            if after.is_some_and(|a| a & mask != probe) {
                continue;
            }
            if rest.starts_with(pat) {
                out.push((*id, p, p + pat.len()));
            }
        }
    }

    /// The patterns that are the part of the word `f[p..end]` before a boundary inside it.
    fn inner_boundaries(
        &self,
        f: &str,
        p: usize,
        end: usize,
        out: &mut Vec<(usize, usize, usize)>,
    ) {
        let Some(word) = f.get(p..end) else {
            return;
        };
        let mut chars = word.char_indices();
        let Some((_, first)) = chars.next() else {
            return;
        };
        // `word` holds no space: `is_boundary` of two neighbours is `breaks` of their
        // classes, each char classified once.
        let mut prev = class(first);
        for (i, c) in chars {
            if i > self.longest {
                // No pattern is longer: reading on to the end of the word made a long run
                // with a word start at every other character ("a北a北…") quadratic.
                break;
            }
            let k = class(c);
            if breaks(prev, k)
                && let Some(id) = self.lookup(word.as_bytes(), i).and_then(|e| e.whole)
            {
                out.push((id, p, p + i));
            }
            prev = k;
        }
    }
}

/// Walk the anchored automaton from each start until it dies, reporting the patterns that
/// begin exactly there.
fn walk<A: Automaton>(
    a: &A,
    bytes: &[u8],
    starts: &[(usize, usize)],
    ids: &[usize],
    out: &mut Vec<(usize, usize, usize)>,
) {
    let Ok(root) = a.start_state(Anchored::Yes) else {
        return;
    };
    for &(p, _) in starts {
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
mod tests;
