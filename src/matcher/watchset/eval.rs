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
            Node::Near(..) => !self.positions(n).is_empty(),
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
    /// or a nested NEAR.
    pub(super) fn positions(&self, n: &Node) -> Vec<Pos> {
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
                let (ls, rs) = (self.positions(l), self.positions(r));
                let mut out = Vec::new();
                for a in &ls {
                    for b in &rs {
                        if a.field == b.field && within(a.words, b.words, *d) {
                            let mut hits = a.hits.clone();
                            hits.extend_from_slice(&b.hits);
                            out.push(Pos {
                                field: a.field,
                                words: (a.words.0.min(b.words.0), a.words.1.max(b.words.1)),
                                hits,
                            });
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
