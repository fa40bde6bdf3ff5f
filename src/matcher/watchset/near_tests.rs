//! `NEAR` against a brute-force reading of its definition, on random texts: whether a watch
//! matches and which hits it reports (every place of every operand compared with every
//! other), and the cost of a text built to multiply places.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::matcher::query::parse_query;

fn set(query: &str) -> WatchSet {
    WatchSet::compile(vec![WatchSpec {
        name: "w".into(),
        condition: Condition::Query(parse_query(query).unwrap()),
        exclude: Vec::new(),
        fields: FieldMask::DEFAULT,
        feeds: FeedScope::All,
        sinks: Vec::new(),
    }])
    .unwrap()
}

fn content(text: &str) -> FeedItem {
    let mut it = FeedItem::titled("k", "");
    it.content = text.into();
    it
}

/// Word gap as the query language counts it: 0 for neighbours' overlap, else the difference.
fn gap(a: (usize, usize), b: (usize, usize)) -> usize {
    if a.1 < b.0 {
        b.0 - a.1
    } else {
        a.0.saturating_sub(b.1)
    }
}

/// Words of `words` equal to `w`, as one-word spans.
fn at(words: &[&str], w: &str) -> Vec<(usize, usize)> {
    (0..words.len())
        .filter(|&i| words[i] == w)
        .map(|i| (i, i))
        .collect()
}

/// The word indices of every hit that takes part in a place of `a NEAR/d1 b`, or with `c`
/// of `(a NEAR/d1 b) NEAR/d2 c`: (matches, reported words).
fn brute(words: &[&str], d1: usize, d2: Option<usize>) -> (bool, BTreeSet<usize>) {
    let (a, b, c) = (at(words, "a"), at(words, "b"), at(words, "c"));
    let mut used = BTreeSet::new();
    for &x in &a {
        for &y in &b {
            if gap(x, y) > d1 {
                continue;
            }
            let span = (x.0.min(y.0), x.1.max(y.1));
            match d2 {
                None => {
                    used.extend([x.0, y.0]);
                }
                Some(d2) => {
                    for &z in &c {
                        if gap(span, z) <= d2 {
                            used.extend([x.0, y.0, z.0]);
                        }
                    }
                }
            }
        }
    }
    (!used.is_empty(), used)
}

/// The word index of each reported hit (words are one letter and a space: 2 bytes each).
fn reported(ws: &WatchSet, text: &str) -> (bool, BTreeSet<usize>) {
    let got = ws.matches(&content(text), None);
    let words = got
        .iter()
        .flat_map(|m| m.hits.iter().map(|h| h.start / 2))
        .collect();
    (!got.is_empty(), words)
}

proptest! {
    #[test]
    fn near_matches_and_reports_as_its_definition_reads(
        words in proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c"), Just("x")], 0..48),
        d1 in 1usize..6,
        d2 in 1usize..6,
    ) {
        let text = words.join(" ");
        let pair = set(&format!("a NEAR/{d1} b"));
        prop_assert_eq!(reported(&pair, &text), brute(&words, d1, None), "a NEAR/{} b", d1);
        let nested = set(&format!("(a NEAR/{d1} b) NEAR/{d2} c"));
        prop_assert_eq!(
            reported(&nested, &text),
            brute(&words, d1, Some(d2)),
            "(a NEAR/{} b) NEAR/{} c",
            d1,
            d2
        );
    }
}

/// Regression: `NEAR` compared every place of one operand with every place of the other and
/// kept every pair, so an item repeating "kyiv drone" held a poll's thread for hours (a
/// megabyte: 10^10 comparisons) and under `NEAR/1000` built a gigabyte of pairs (80 million
/// at this size). The sweep reads only places within reach, a watch's outermost `NEAR` stops
/// at its first place, and a nested one passes on at most [`eval::MAX_NEAR_PLACES`]: the
/// watches still match, and the test ends in a second where it ran out of memory.
#[test]
fn an_item_repeating_both_sides_of_a_near_costs_linear_time() {
    let text = "kyiv drone ".repeat(40_000);
    for query in [
        "kyiv NEAR/1000 drone",
        "(kyiv NEAR/1000 drone) NEAR/1000 kyiv",
    ] {
        let got = set(query).matches(&content(&text), None);
        assert_eq!(got.len(), 1, "{query}");
        assert!(!got[0].hits.is_empty(), "{query}");
    }
}
