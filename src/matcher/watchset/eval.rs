//! Evaluating one watch over its terms' hits: the boolean structure and `NEAR/n`.
//!
//! Used by [`super::WatchSet::matches_with`]; nothing here leaves `matcher::watchset`.

use super::*;

/// Evaluates a watch's expression over the item's hits (sorted by term).
pub(super) struct Eval<'a> {
    pub(super) cw: &'a CompiledWatch,
    pub(super) hits: &'a [RawHit],
}

impl<'a> Eval<'a> {
    /// Hits of an occurrence (in its fields), with their index in the item's hit list.
    pub(super) fn occ_hits(
        &self,
        o: &Occurrence,
    ) -> impl Iterator<Item = (usize, &'a RawHit)> + use<'a> {
        let fields = o.fields;
        let lo = self.hits.partition_point(|h| h.term < o.term);
        let hi = self.hits.partition_point(|h| h.term <= o.term);
        self.hits[lo..hi]
            .iter()
            .enumerate()
            .map(move |(i, h)| (lo + i, h))
            .filter(move |(_, h)| fields.contains(h.field))
    }

    pub(super) fn truth(&self, n: &Node) -> bool {
        match n {
            Node::Term(i) => self.occ_hits(&self.cw.occ[*i]).next().is_some(),
            Node::And(v) => v.iter().all(|x| self.truth(x)),
            Node::Or(v) => v.iter().any(|x| self.truth(x)),
            Node::Not(x) => !self.truth(x),
            // Whether one place exists: the search stops at the first.
            Node::Near(..) => !self.places(n, 1).is_empty(),
        }
    }

    /// Collect the hits that satisfy each NEAR in `n` (outside NOT).
    pub(super) fn near_hits(&self, n: &Node, out: &mut HashSet<usize>) {
        match n {
            Node::Near(..) => {
                for p in self.positions(n) {
                    out.extend(p.hits);
                }
            }
            Node::And(v) | Node::Or(v) => v.iter().for_each(|x| self.near_hits(x, out)),
            Node::Term(_) | Node::Not(_) => {}
        }
    }

    /// Hits (field + word span + hit indices) of a NEAR operand: a term, an OR-group of terms,
    /// or a nested NEAR (at most [`MAX_NEAR_PLACES`] of its places).
    pub(super) fn positions(&self, n: &Node) -> Vec<Pos> {
        self.places(n, MAX_NEAR_PLACES)
    }

    /// [`Self::positions`], a NEAR's own places cut at `limit`, earliest first.
    ///
    /// The places of `a NEAR/d b` are found by a sweep: `b`'s places sorted by field and
    /// start, each of `a`'s reads only those that start within reach of it (`d` words, plus
    /// the longest of `b`'s spans). Comparing every place of one side with every place of the
    /// other took the product of their counts, and kept every pair: an item repeating "kyiv
    /// drone" for a megabyte held a poll's thread for hours and, under `NEAR/1000`, a
    /// gigabyte of pairs.
    fn places(&self, n: &Node, limit: usize) -> Vec<Pos> {
        match n {
            Node::Term(i) => self
                .occ_hits(&self.cw.occ[*i])
                .map(|(idx, h)| Pos {
                    field: h.field,
                    words: h.words,
                    hits: vec![idx],
                })
                .collect(),
            Node::Or(v) => v.iter().flat_map(|x| self.positions(x)).collect(),
            Node::Near(l, r, d) => {
                let mut ls = self.positions(l);
                let mut rs = self.positions(r);
                let key = |p: &Pos| (p.field, p.words.0);
                ls.sort_by_key(key);
                rs.sort_by_key(key);
                let reach = rs
                    .iter()
                    .map(|b| b.words.1.saturating_sub(b.words.0))
                    .max()
                    .unwrap_or(0);
                let mut out = Vec::new();
                for a in &ls {
                    // `b` ends at most `reach` words after it starts, so one that starts
                    // before `from` ends more than `d` words before `a`.
                    let from = a.words.0.saturating_sub(d.saturating_add(reach));
                    let to = a.words.1.saturating_add(*d);
                    let first = rs.partition_point(|b| key(b) < (a.field, from));
                    for b in rs[first..].iter().take_while(|b| key(b) <= (a.field, to)) {
                        if !within(a.words, b.words, *d) {
                            continue;
                        }
                        let mut hits = a.hits.clone();
                        hits.extend_from_slice(&b.hits);
                        out.push(Pos {
                            field: a.field,
                            words: (a.words.0.min(b.words.0), a.words.1.max(b.words.1)),
                            hits,
                        });
                        if out.len() >= limit {
                            return out;
                        }
                    }
                }
                out
            }
            // The parser only allows terms, OR-groups and NEAR as NEAR operands.
            Node::And(_) | Node::Not(_) => Vec::new(),
        }
    }
}

/// Most places a NEAR inside a NEAR passes on, and most a NEAR reports hits from: more than a
/// long article gives (every pair of a term said 100 times and one said 150 times), few
/// enough that a document built to multiply them costs milliseconds. A NEAR of terms and
/// groups always decides on every place of its operands.
pub(super) const MAX_NEAR_PLACES: usize = 16_384;

/// Where a NEAR operand was found.
pub(super) struct Pos {
    pub(super) field: Field,
    pub(super) words: (u32, u32),
    pub(super) hits: Vec<usize>,
}

/// Mark the occurrences that sit inside a NEAR.
pub(super) fn mark_near(n: &Node, inside: bool, out: &mut [bool]) {
    match n {
        Node::Term(i) => out[*i] = inside,
        Node::And(v) | Node::Or(v) => v.iter().for_each(|x| mark_near(x, inside, out)),
        Node::Not(x) => mark_near(x, inside, out),
        Node::Near(l, r, _) => {
            mark_near(l, true, out);
            mark_near(r, true, out);
        }
    }
}

/// Do two word spans lie within `d` words of each other, in either order?
pub(super) fn within(a: (u32, u32), b: (u32, u32), d: u32) -> bool {
    let gap = if a.1 < b.0 {
        b.0 - a.1
    } else {
        a.0.saturating_sub(b.1)
    };
    gap <= d
}
