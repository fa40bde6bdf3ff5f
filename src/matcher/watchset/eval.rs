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
    ///
    /// A NEAR's places are not every pair of its operands' places within reach (comparing
    /// each with each took the product of their counts and kept every pair: an item
    /// repeating "kyiv drone" held a poll's thread for hours, and under `NEAR/1000` built
    /// gigabytes of pairs). Each place of either side is paired with the place of the other
    /// side within reach that ends last ([`widest`]): at most one pair per place, found by a
    /// sort and a binary search each. No match is lost, at any depth: every pair within reach
    /// lies inside one of those (the pair its earlier-starting member makes with its widest
    /// partner), and a wider place is at least as near anything a NEAR around it looks for.
    /// Every hit within reach of the other side is in one (its own widest pair).
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
                // Two single mentions (terms, OR-groups) must be two: one word never makes
                // the pair (see [`apart`]).
                let pair = if single(l) && single(r) {
                    apart
                } else {
                    widest
                };
                let mut pairs = pair(&ls, &rs, *d);
                pairs.extend(pair(&rs, &ls, *d).into_iter().map(|(j, i)| (i, j)));
                pairs.sort_unstable();
                pairs.dedup();
                pairs
                    .into_iter()
                    .map(|(i, j)| {
                        let (a, b) = (&ls[i], &rs[j]);
                        let mut hits = a.hits.clone();
                        hits.extend_from_slice(&b.hits);
                        Pos {
                            field: a.field,
                            words: (a.words.0.min(b.words.0), a.words.1.max(b.words.1)),
                            hits,
                        }
                    })
                    .collect()
            }
            // The parser only allows terms, OR-groups and NEAR as NEAR operands.
            Node::And(_) | Node::Not(_) => Vec::new(),
        }
    }
}

/// For each place of `from`, the place of `to` within `d` words of it (same field) that ends
/// last, if any: (index in `from`, index in `to`).
///
/// `a` and `b` are within `d` words when `b` starts at most `d` words after `a` ends and `a`
/// starts at most `d` words after `b` ends ([`within`]). Of the places of `to` that start by
/// `a`'s end plus `d` (a prefix, sorted by start), the one that ends last is the only one
/// that must be asked the second condition: if it fails, every other fails too.
fn widest(from: &[Pos], to: &[Pos], d: u32) -> Vec<(usize, usize)> {
    let key = |j: usize| (to[j].field, to[j].words.0);
    let mut order: Vec<usize> = (0..to.len()).collect();
    order.sort_unstable_by_key(|&j| key(j));
    // last_end[k]: of order[..=k] in order[k]'s field, the place that ends last.
    let mut last_end: Vec<usize> = Vec::with_capacity(order.len());
    for (k, &j) in order.iter().enumerate() {
        let prev = k
            .checked_sub(1)
            .map(|p| last_end[p])
            .filter(|&b| to[b].field == to[j].field && to[b].words.1 >= to[j].words.1);
        last_end.push(prev.unwrap_or(j));
    }
    from.iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let reach = (a.field, a.words.1.saturating_add(d));
            let k = order.partition_point(|&j| key(j) <= reach);
            let b = last_end[k.checked_sub(1)?];
            (to[b].field == a.field && within(a.words, to[b].words, d)).then_some((i, b))
        })
        .collect()
}

/// Whether every place of NEAR operand `n` is one hit (a term or an OR-group of terms), not
/// a nested NEAR's span of several.
fn single(n: &Node) -> bool {
    match n {
        Node::Term(_) => true,
        Node::Or(v) => v.iter().all(single),
        Node::And(_) | Node::Not(_) | Node::Near(..) => false,
    }
}

/// As [`widest`], for operands whose places are single hits, pairing only hits that share no
/// word: `(Trump OR Biden) NEAR/5 (Biden OR Harris)` fired on "Biden visits Ohio" (the one
/// "Biden" was both sides), `Korea* NEAR/3 "North Korean"` on "North Korean economy grows",
/// `kyiv NEAR/1 kyiv` on one "Kyiv". For each place of `from`: the place of `to` that starts
/// after it ends, within `d` words, and ends last (what a NEAR around this one needs: every
/// pair of hits apart lies inside the pair its earlier member makes so), and the place of
/// `to` that ends last before it starts, within `d` words (so that every hit taking part in
/// a pair is in one, for the report).
fn apart(from: &[Pos], to: &[Pos], d: u32) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    // After: a window of `to` by start, (a.end, a.end + d], sliding as `from` is taken by
    // end; the deque holds the window's places by decreasing end (its front ends last).
    let mut by_start: Vec<usize> = (0..to.len()).collect();
    by_start.sort_unstable_by_key(|&j| (to[j].field, to[j].words.0));
    let mut by_end_from: Vec<usize> = (0..from.len()).collect();
    by_end_from.sort_unstable_by_key(|&i| (from[i].field, from[i].words.1));
    let mut window = std::collections::VecDeque::new();
    let (mut lo, mut hi) = (0, 0);
    for &i in &by_end_from {
        let a = &from[i];
        let last = (a.field, a.words.1.saturating_add(d));
        while let Some(&j) = by_start.get(hi)
            && (to[j].field, to[j].words.0) <= last
        {
            while window
                .back()
                .is_some_and(|&k: &usize| to[by_start[k]].words.1 <= to[j].words.1)
            {
                window.pop_back();
            }
            window.push_back(hi);
            hi += 1;
        }
        while let Some(&j) = by_start.get(lo)
            && lo < hi
            && (to[j].field, to[j].words.0) <= (a.field, a.words.1)
        {
            lo += 1;
        }
        while window.front().is_some_and(|&k| k < lo) {
            window.pop_front();
        }
        if let Some(&k) = window.front() {
            pairs.push((i, by_start[k]));
        }
    }
    // Before: the place of `to` ending last before `a` starts.
    let mut by_end: Vec<usize> = (0..to.len()).collect();
    by_end.sort_unstable_by_key(|&j| (to[j].field, to[j].words.1));
    for (i, a) in from.iter().enumerate() {
        let k = by_end.partition_point(|&j| (to[j].field, to[j].words.1) < (a.field, a.words.0));
        if let Some(&j) = k.checked_sub(1).and_then(|k| by_end.get(k))
            && to[j].field == a.field
            && a.words.0 - to[j].words.1 <= d
        {
            pairs.push((i, j));
        }
    }
    pairs
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
