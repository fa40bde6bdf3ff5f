//! The folding loop's output state ([`Writer`]): the ASCII fast path, the Unicode path per
//! cluster, and the separator and mark handling both share.
//!
//! Used by [`super::fold_with`]; nothing here leaves `text::fold`.

use super::*;
use crate::text::script::is_unspaced;

/// Output state while folding one text.
#[derive(Default)]
pub(super) struct Writer {
    pub(super) buf: Vec<u8>,
    pub(super) map: Vec<u32>,
    pub(super) clusters: Vec<(u32, u32)>,
    pub(super) decomposed: Vec<char>,
    /// A separator was seen since the last word char; the space is written
    /// lazily before the next word char, so there is never a trailing one.
    pub(super) pending: bool,
    /// Original offset where the pending separator run starts.
    pub(super) sep_start: u32,
    pub(super) fold_case: bool,
    /// Rule 6's joining of unspaced chars across a separator (off for [`super::fold_words`]).
    pub(super) join_unspaced: bool,
}

impl Writer {
    pub(super) fn new(fold_case: bool) -> Self {
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
    pub(super) fn ascii_run<const FOLD_CASE: bool>(&mut self, run: &[u8], base: u32) {
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
    pub(super) fn ascii_short(&mut self, run: &[u8], base: u32) {
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
    pub(super) fn store_block(&mut self, k: usize, bytes: u64, pos: u32, len: usize) -> usize {
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
    pub(super) fn unemit_ascii(&mut self, pos: usize) -> bool {
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
    pub(super) fn unicode_run(&mut self, run: &str, base: u32) {
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
    pub(super) fn cluster_slow(&mut self, cluster: &str, cs: u32, ce: u32) {
        let mut decomposed = std::mem::take(&mut self.decomposed);
        decomposed.clear();
        let mut marks = Marks::Drop;
        // Joiners vanish before normalization, so the letters on either side compose.
        let visible = cluster.chars().filter(|&c| !is_invisible_joiner(c));
        for d in NFKD.normalize_iter(visible) {
            let d = stroke_base(d).unwrap_or(d);
            if is_invisible_joiner(d) {
                // Out of a compatibility form ("ﹱ" is a tatweel and a mark): dropped all
                // the same, or folding the folded text would drop it then.
                continue;
            } else if d == '\u{345}' {
                // Ypogegrammeni is an iota in disguise (its case fold is
                // "ι"), not a diacritic; keep it as a letter in both modes
                // so that case-kept and case-folded text agree.
                marks.push('ι', &mut decomposed);
            } else if d == 'ı' {
                // Turkish dotless i: its capital is "I" (and "İ" folds to "i"),
                // so without this one word folds two ways by its case.
                marks.push('i', &mut decomposed);
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
        // A symbol whose compatibility form holds letters (`™` is "TM") is a word of its own:
        // joined, "Bluetooth™" folded to "bluetoothtm" and the term "Bluetooth" missed it.
        let symbol = cluster.chars().next().is_some_and(is_symbol);
        if symbol {
            self.sep(cs, ce);
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
        // The separator after it stands for nothing of the original: it maps to where the
        // next cluster starts (the separator run rule 5 speaks of is empty).
        if symbol && !self.pending {
            self.pending = true;
            self.sep_start = ce;
        }
        if wrote {
            self.note_cluster(cs, ce);
        }
        self.decomposed = decomposed;
    }

    /// Folds the one-char cluster `c` with the general path and returns its
    /// short form, for [`table`]. Leaves the writer empty.
    pub(super) fn single_slow(&mut self, c: char) -> Single {
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
    pub(super) fn sep(&mut self, cs: u32, ce: u32) {
        if !self.pending {
            self.pending = true;
            self.sep_start = cs;
            self.note_cluster(cs, ce);
        }
    }

    /// Writes one word char produced by the cluster starting at `cs`.
    #[inline(always)]
    pub(super) fn word(&mut self, c: char, cs: u32) {
        if self.pending {
            self.pending = false;
            // No space between two chars of unspaced scripts (rule 6).
            let joined = self.join_unspaced && is_unspaced(c) && last_is_unspaced(&self.buf);
            if !self.buf.is_empty() && !joined {
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
    pub(super) fn note_cluster(&mut self, cs: u32, ce: u32) {
        if self.clusters.last().is_none_or(|&(s, _)| s != cs) {
            self.clusters.push((cs, ce));
        }
    }
}

/// Whether the last char of folded `buf` is of a script written without spaces (see rule 6
/// of the module docs: a separator between two such chars is dropped).
#[inline]
fn last_is_unspaced(buf: &[u8]) -> bool {
    // The last char's first byte is the last byte that is no continuation byte.
    let Some(start) = buf.iter().rposition(|&b| b & 0xC0 != 0x80) else {
        return false;
    };
    std::str::from_utf8(&buf[start..])
        .ok()
        .and_then(|s| s.chars().next())
        .is_some_and(is_unspaced)
}

/// What to do with combining marks, decided by the last base char seen.
#[derive(Clone, Copy)]
pub(super) enum Marks {
    /// After a Latin, Greek or script-neutral base, a separator, or nothing.
    Drop,
    /// After a word char of any other script.
    Keep,
    /// After a base whose optional marks go while its letter-making ones stay (see
    /// [`optional_mark`]).
    Optional(char),
}

impl Marks {
    /// Appends `c` unless it is a mark to drop, and updates the state.
    #[inline]
    pub(super) fn push(&mut self, c: char, out: &mut Vec<char>) {
        if is_mark(c) {
            let keep = match *self {
                Marks::Drop => false,
                Marks::Keep => true,
                Marks::Optional(base) => !optional_mark(base, c),
            };
            if keep && !is_variation_selector(c) {
                out.push(c);
            }
            return;
        }
        *self = if !is_word(c) || strips_marks(c) {
            Marks::Drop
        } else if has_optional_marks(c) {
            Marks::Optional(c)
        } else {
            Marks::Keep
        };
        out.push(c);
    }
}
