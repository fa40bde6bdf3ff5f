//! All watches compiled into one Aho-Corasick automaton, and their evaluation over an item.
//!
//! Owns [`WatchSet`], [`WatchSpec`], [`Condition`], [`FeedScope`], [`Match`] and [`Hit`].
//! The config layer builds `WatchSpec`s (already validated); the pipeline calls
//! [`WatchSet::matches`] once per item and gets back every watch that matched, with its hits.
//!
//! One pass per field finds every term of every watch: the automaton holds each distinct folded
//! term once and maps it to the terms (with their kinds) that share it. Then only the watches
//! that have at least one hit are evaluated, so cost grows with hits, not with watch count.
//!
//! A watch needs to know whether it matched and where its first hits are, not every occurrence:
//! hits are recorded up to [`HIT_CAP`] per (term, field), the first ones in the text, so a
//! broad term ("Ukraine", "the war") hitting 60 times in a long article costs 8 recorded hits,
//! not 60, in evaluation, snippets and alerts. Terms that sit inside some watch's `NEAR` are
//! recorded in full, so `NEAR` sees every position and its result never depends on the cap.
//!
//! The automaton reports every occurrence (`MatchKind::Standard`), not leftmost-longest ones:
//! watches share it, so one watch's "korean troops" must still be found inside another watch's
//! "north korean troops", and a candidate rejected by the word-boundary check must not hide a
//! shorter valid one that starts inside it. It is walked from word starts only, see
//! [`search`].

use std::collections::HashSet;
use std::sync::Arc;

use crate::feed::FeedItem;
use crate::matcher::query::{Expr, Field, FieldMask, TermSpec};
use crate::matcher::snippet::{Snippet, make_snippet};
use crate::text::fold::{Folded, fold_keep_case, fold_term};
use crate::text::script::{is_hangul, is_unspaced};

mod compile;
mod eval;
#[cfg(test)]
mod near_tests;
mod scan;
mod search;
#[cfg(test)]
mod tests;
mod words;

use eval::*;
use scan::Strategy;
use search::Search;

/// Hits recorded and reported per (term, field): the first ones in the text. `NEAR` operands
/// are recorded in full (see the module docs) and report the first of the hits that
/// satisfied the NEAR.
pub const HIT_CAP: usize = 8;

/// Which feeds a watch applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FeedScope {
    #[default]
    All,
    /// Feeds named here, or carrying one of these tags.
    Some {
        names: Vec<String>,
        tags: Vec<String>,
    },
}

impl FeedScope {
    pub fn applies(&self, feed_name: &str, feed_tags: &[String]) -> bool {
        match self {
            FeedScope::All => true,
            FeedScope::Some { names, tags } => {
                names.iter().any(|n| n == feed_name) || tags.iter().any(|t| feed_tags.contains(t))
            }
        }
    }
}

/// What a watch looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Any of these terms.
    Terms(Vec<TermSpec>),
    /// A boolean query.
    Query(Expr),
}

/// A validated watch, as the config layer hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSpec {
    pub name: String,
    pub condition: Condition,
    pub exclude: Vec<TermSpec>,
    /// Fields searched by terms that carry no `field:` scope.
    pub fields: FieldMask,
    pub feeds: FeedScope,
    pub sinks: Vec<String>,
}

impl WatchSpec {
    /// A watch of plain phrases over the default fields, every feed, no sinks (benchmarks and
    /// measurements build these).
    pub fn phrases(name: impl Into<String>, terms: impl IntoIterator<Item = String>) -> Self {
        WatchSpec {
            name: name.into(),
            condition: Condition::Terms(
                terms
                    .into_iter()
                    .map(|text| TermSpec {
                        text,
                        kind: crate::matcher::query::TermKind::Phrase,
                    })
                    .collect(),
            ),
            exclude: vec![],
            fields: FieldMask::DEFAULT,
            feeds: FeedScope::All,
            sinks: vec![],
        }
    }
}

/// The feed an item came from, for feed-scoped watches. `None` applies every watch.
#[derive(Debug, Clone, Copy)]
pub struct FeedRef<'a> {
    pub name: &'a str,
    pub tags: &'a [String],
}

/// One place a term was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hit {
    /// The term as written in the config, e.g. `North Korean troops` or `troop*` (shared with
    /// the compiled term: a match does not copy it).
    pub term: Arc<str>,
    pub field: Field,
    /// Byte offsets into that field's plain text.
    pub start: usize,
    pub end: usize,
}

/// A watch that matched an item, and why.
#[derive(Debug, Clone)]
pub struct Match {
    /// Index of the watch in [`WatchSet::specs`].
    pub watch: usize,
    pub hits: Vec<Hit>,
    pub snippet: Snippet,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum CompileError {
    #[error("cannot build the term automaton: {0}")]
    Automaton(String),
}

/// A distinct (folded text, kind, exact text) term in the automaton.
#[derive(Debug)]
struct CompiledTerm {
    spec: TermSpec,
    /// `spec` as displayed in hits.
    label: Arc<str>,
    /// For exact-case terms: the term folded without case folding, compared against the
    /// original text of the candidate.
    exact: Option<String>,
    /// For exact-case terms with the Arabic article: `exact` as spelled after ل (see
    /// [`crate::text::proclitic::contracted`]), what a hit of the term's contracted pattern
    /// is compared against.
    exact_contracted: Option<String>,
    need_left: bool,
    need_right: bool,
    /// Inside some watch's `NEAR`: every hit is recorded, whatever the cap.
    uncapped: bool,
}

/// A term occurrence inside one watch: which term, in which fields, positive or excluded.
#[derive(Debug, Clone, Copy)]
struct Occurrence {
    term: usize,
    fields: FieldMask,
}

#[derive(Debug)]
enum Node {
    Term(usize),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Near(Box<Node>, Box<Node>, u32),
}

#[derive(Debug)]
struct CompiledWatch {
    root: Node,
    /// Occurrences referenced by `Node::Term` indices.
    occ: Vec<Occurrence>,
    /// Indices into `occ` that report hits (not under NOT).
    positive: Vec<usize>,
    /// Per occurrence: inside a NEAR, so only hits that satisfied the proximity are reported.
    in_near: Vec<bool>,
    exclude: Vec<Occurrence>,
}

/// A hit in the folded text of one field, before it is attributed to watches.
#[derive(Debug, Clone, Copy)]
struct RawHit {
    term: usize,
    field: Field,
    /// Original byte range in the field text.
    orig: (usize, usize),
    /// Word index of the first and last word of the hit, for NEAR; (0, 0) for a term in no
    /// NEAR, which never reads it.
    words: (u32, u32),
}

/// Reusable buffers for [`WatchSet::matches_with`], so the hot path does not allocate per field.
#[derive(Default)]
pub struct Scratch {
    folded: Folded,
    hits: Vec<RawHit>,
    /// Hits recorded per term in the field being scanned, and the terms counted (to reset).
    counts: Vec<u32>,
    counted: Vec<usize>,
    /// Word starts of the field being scanned, and the automaton's candidates there.
    starts: Vec<(usize, usize)>,
    cands: Vec<(usize, usize, usize)>,
    /// For [`scan::group_by_term`]: per term a count, then an offset (all 0 between calls), the
    /// terms with hits, and the grouped hits.
    by_term: Vec<u32>,
    terms_hit: Vec<usize>,
    grouped: Vec<RawHit>,
}

/// Every watch compiled into one automaton.
pub struct WatchSet {
    specs: Vec<WatchSpec>,
    watches: Vec<CompiledWatch>,
    terms: Vec<CompiledTerm>,
    /// Pattern id → terms sharing that folded text.
    pattern_terms: Vec<Vec<usize>>,
    /// Term → watches that mention it.
    term_watches: Vec<Vec<usize>>,
    search: Search,
    /// Fields that some watch searches; the others are never folded.
    scan: FieldMask,
}

impl std::fmt::Debug for WatchSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchSet")
            .field("watches", &self.specs.len())
            .field("terms", &self.terms.len())
            .finish()
    }
}

impl WatchSet {
    /// The watches, in the order given to [`WatchSet::compile`].
    pub fn specs(&self) -> &[WatchSpec] {
        &self.specs
    }

    /// Number of distinct terms in the automaton.
    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    /// The automaton's implementation and heap size in bytes, for status and benchmarks.
    pub fn automaton_stats(&self) -> (String, usize) {
        self.search.stats()
    }

    /// Every watch that matches `item`. `feed` limits feed-scoped watches; `None` applies all.
    pub fn matches(&self, item: &FeedItem, feed: Option<FeedRef<'_>>) -> Vec<Match> {
        self.matches_with(item, feed, &mut Scratch::default())
    }

    /// Like [`WatchSet::matches`], reusing `scratch`'s buffers.
    pub fn matches_with(
        &self,
        item: &FeedItem,
        feed: Option<FeedRef<'_>>,
        scratch: &mut Scratch,
    ) -> Vec<Match> {
        self.matches_capped(item, feed, scratch, HIT_CAP, Strategy::WordStarts)
    }

    /// Like [`WatchSet::matches_with`] with candidates found by one overlapping search over
    /// every byte, as before word-start anchoring: for benchmarks, which compare the two.
    #[doc(hidden)]
    pub fn matches_overlapping(
        &self,
        item: &FeedItem,
        feed: Option<FeedRef<'_>>,
        scratch: &mut Scratch,
    ) -> Vec<Match> {
        self.matches_capped(item, feed, scratch, HIT_CAP, Strategy::Overlapping)
    }

    /// Like [`WatchSet::matches_with`] with every hit recorded and reported (no [`HIT_CAP`]),
    /// found by one overlapping search over every byte rather than from word starts: the
    /// engine as it was before both, kept as the reference the production one is tested
    /// against. Not for production use: its cost grows with every occurrence of every term,
    /// and its automaton is built on the first call.
    #[doc(hidden)]
    pub fn matches_uncapped(
        &self,
        item: &FeedItem,
        feed: Option<FeedRef<'_>>,
        scratch: &mut Scratch,
    ) -> Vec<Match> {
        self.matches_capped(item, feed, scratch, usize::MAX, Strategy::Overlapping)
    }

    fn matches_capped(
        &self,
        item: &FeedItem,
        feed: Option<FeedRef<'_>>,
        scratch: &mut Scratch,
        cap: usize,
        st: Strategy,
    ) -> Vec<Match> {
        if self.search.is_empty() {
            return Vec::new();
        }
        scratch.hits.clear();
        if scratch.counts.len() != self.terms.len() {
            scratch.counts = vec![0; self.terms.len()];
            scratch.counted.clear();
        }
        for field in Field::ALL {
            if !self.scan.contains(field) {
                continue;
            }
            // The cap counts per (term, field).
            for t in scratch.counted.drain(..) {
                scratch.counts[t] = 0;
            }
            let cap = cap.min(u32::MAX as usize) as u32;
            let s = &mut *scratch;
            match field {
                Field::Title => self.scan_text(st, &item.title, field, 0, cap, s),
                Field::Summary => self.scan_text(st, &item.summary, field, 0, cap, s),
                Field::Content => self.scan_text(st, &item.content, field, 0, cap, s),
                Field::Category => self.scan_list(st, &item.categories, field, cap, s),
                Field::Author => self.scan_list(st, &item.authors, field, cap, s),
                Field::Body => self.scan_text(st, &item.body, field, 0, cap, s),
            }
        }
        if scratch.hits.is_empty() {
            return Vec::new();
        }
        scan::group_by_term(scratch, self.terms.len());
        let hits = &scratch.hits;

        let mut candidates: Vec<usize> = Vec::new();
        let mut last_term = usize::MAX;
        for h in hits {
            if h.term != last_term {
                candidates.extend_from_slice(&self.term_watches[h.term]);
                last_term = h.term;
            }
        }
        candidates.sort_unstable();
        candidates.dedup();

        let mut out = Vec::new();
        for w in candidates {
            let spec = &self.specs[w];
            if let Some(f) = feed
                && !spec.feeds.applies(f.name, f.tags)
            {
                continue;
            }
            let cw = &self.watches[w];
            let ev = Eval { cw, hits };
            if cw.exclude.iter().any(|o| ev.occ_hits(o).next().is_some()) {
                continue;
            }
            if !ev.truth(&cw.root) {
                continue;
            }
            out.push(self.build_match(w, cw, &ev, item, cap));
        }
        out
    }

    fn build_match(
        &self,
        w: usize,
        cw: &CompiledWatch,
        ev: &Eval<'_>,
        item: &FeedItem,
        cap: usize,
    ) -> Match {
        let mut raw: Vec<usize> = Vec::new();
        // Hits that made a NEAR true; other hits of NEAR operands are not why it matched.
        let mut near_ok = HashSet::new();
        ev.near_hits(&cw.root, &mut near_ok);
        // The first `cap` per field, as hits outside NEAR are recorded (a term recorded in
        // full because another occurrence of it sits in a NEAR too); of a term inside NEAR,
        // only hits that made it true, and no more of those either: an item repeating the
        // two sides of a NEAR thousands of times put every pair's hits into each alert.
        // Hits are sorted by field.
        for &oi in &cw.positive {
            let o = cw.occ[oi];
            let mut field = None;
            let mut n = 0;
            for (idx, h) in ev.occ_hits(&o) {
                if cw.in_near[oi] && !near_ok.contains(&idx) {
                    continue;
                }
                if field != Some(h.field) {
                    field = Some(h.field);
                    n = 0;
                }
                if n < cap {
                    raw.push(idx);
                    n += 1;
                }
            }
        }
        // In the order hits are shown (field, position; ties by term), and a term used twice
        // in one watch yields its hits once: one sort for both.
        raw.sort_unstable_by_key(|&i| {
            let h = &ev.hits[i];
            (h.field, h.orig.0, h.orig.1, i)
        });
        raw.dedup();
        let hits: Vec<Hit> = raw
            .iter()
            .map(|&i| {
                let h = &ev.hits[i];
                Hit {
                    term: self.terms[h.term].label.clone(),
                    field: h.field,
                    start: h.orig.0,
                    end: h.orig.1,
                }
            })
            .collect();
        let snippet = make_snippet(item, &hits);
        Match {
            watch: w,
            hits,
            snippet,
        }
    }
}
