//! Differential test of the hit cap: the engine as used (hits recorded up to `HIT_CAP` per
//! term and field) against the same engine recording every hit (`matches_uncapped`, the
//! engine as it was before the cap), on the long-article benchmark corpus and on generated
//! items dense with repeated words and watches with AND/OR/NOT/NEAR.
//!
//! What must hold, per item: the same watches match, in the same order (so `NEAR`, `NOT` and
//! excludes decide exactly as before); each reported hit is one the full engine reports; per
//! (term, field) the hits are identical when there are at most `HIT_CAP` of them, else they
//! include the first `HIT_CAP` (a watch without `NEAR` reports exactly those); the snippet is
//! cut from the same place, with the same marks when no term's hits were cut.

use std::collections::BTreeMap;

use newswatch::feed::{FeedItem, ItemKey, Parsed, parse};
use newswatch::matcher::{
    Condition, FeedScope, FieldMask, HIT_CAP, Hit, Match, Scratch, TermKind, TermSpec, WatchSet,
    WatchSpec, parse_query,
};
use proptest::prelude::*;

// The benchmark corpus itself, so what is measured is what is checked.
#[path = "../benches/common/mod.rs"]
mod bench_common;

type Groups<'a> = BTreeMap<(String, String), Vec<&'a Hit>>;

fn groups(hits: &[Hit]) -> Groups<'_> {
    let mut g: Groups<'_> = BTreeMap::new();
    for h in hits {
        g.entry((h.term.to_string(), h.field.name().to_string()))
            .or_default()
            .push(h);
    }
    for v in g.values_mut() {
        v.sort_by_key(|h| (h.start, h.end));
    }
    g
}

/// Checks one item; `near[w]` says whether watch `w` uses NEAR. `Err` names the difference.
fn compare(
    set: &WatchSet,
    near: &[bool],
    it: &FeedItem,
    scratch: &mut Scratch,
) -> Result<(), String> {
    let capped: Vec<Match> = set.matches_with(it, None, scratch);
    let full: Vec<Match> = set.matches_uncapped(it, None, scratch);
    let cw: Vec<usize> = capped.iter().map(|m| m.watch).collect();
    let fw: Vec<usize> = full.iter().map(|m| m.watch).collect();
    if cw != fw {
        return Err(format!("watches differ: capped {cw:?}, full {fw:?}"));
    }
    for (c, f) in capped.iter().zip(&full) {
        let name = &set.specs()[c.watch].name;
        if let Some(h) = c.hits.iter().find(|h| !f.hits.contains(h)) {
            return Err(format!("{name}: hit {h:?} not reported by the full engine"));
        }
        let (cg, fg) = (groups(&c.hits), groups(&f.hits));
        let mut cut = false;
        for (k, fv) in &fg {
            let cv = cg.get(k).map(Vec::as_slice).unwrap_or(&[]);
            let ok = if fv.len() <= HIT_CAP {
                cv == fv.as_slice()
            } else if near[c.watch] {
                cv.len() >= HIT_CAP && cv[..HIT_CAP] == fv[..HIT_CAP]
            } else {
                cv == &fv[..HIT_CAP]
            };
            if !ok {
                return Err(format!("{name} {k:?}: capped {cv:?}, full {fv:?}"));
            }
            cut |= cv.len() < fv.len();
        }
        if c.snippet.text != f.snippet.text || c.snippet.field != f.snippet.field {
            return Err(format!(
                "{name}: snippet {:?} vs {:?}",
                c.snippet, f.snippet
            ));
        }
        if !cut && c.snippet.marks != f.snippet.marks {
            return Err(format!("{name}: marks {:?} vs {:?}", c.snippet, f.snippet));
        }
    }
    Ok(())
}

fn watch(name: String, condition: Condition) -> WatchSpec {
    WatchSpec {
        name,
        condition,
        exclude: Vec::new(),
        fields: FieldMask::DEFAULT,
        feeds: FeedScope::All,
        sinks: Vec::new(),
    }
}

fn query(q: &str) -> Condition {
    match parse_query(q) {
        Ok(e) => Condition::Query(e),
        Err(e) => panic!("{q}: {e}"),
    }
}

/// Broad term watches (the benchmark's 1,000 terms in watches of five), and queries mixing
/// broad terms with NEAR, NOT and AND, some sharing terms with the term watches.
fn corpus_watches() -> (WatchSet, Vec<bool>) {
    let mut specs: Vec<WatchSpec> = bench_common::articles::broad_terms(1_000)
        .chunks(5)
        .enumerate()
        .map(|(i, c)| {
            let terms = c
                .iter()
                .map(|t| TermSpec {
                    text: t.clone(),
                    kind: TermKind::Phrase,
                })
                .collect();
            watch(format!("w{i}"), Condition::Terms(terms))
        })
        .collect();
    let mut near = vec![false; specs.len()];
    for (i, q) in [
        "Ukraine NEAR/3 sanctions",
        "(war OR troops) NEAR/2 \"prime minister\"",
        "Russia NEAR/1 Ukraine",
        "government AND NOT war",
        "\"the war\" NEAR/5 (Russia NEAR/3 forces)",
        "president AND (talks OR ceasefire) AND NOT \"peace talks\"",
        "security NEAR/10 police",
    ]
    .iter()
    .enumerate()
    {
        specs.push(watch(format!("q{i}"), query(q)));
        near.push(q.contains("NEAR"));
    }
    match WatchSet::compile(specs) {
        Ok(s) => (s, near),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn capped_hits_agree_with_every_hit_on_the_long_article_corpus() {
    let (set, near) = corpus_watches();
    let mut scratch = Scratch::default();
    let (mut items, mut cut) = (0, 0);
    for doc in bench_common::articles::long_feeds(8)
        .into_iter()
        .chain(bench_common::articles::short_feeds(4))
    {
        let Ok(Parsed::Feed(f)) = parse(doc.as_bytes(), None, None) else {
            panic!("corpus document parses");
        };
        for it in &f.items {
            items += 1;
            if let Err(e) = compare(&set, &near, it, &mut scratch) {
                panic!("item {}: {e}", it.key.0);
            }
            let full: usize = set
                .matches_uncapped(it, None, &mut scratch)
                .iter()
                .map(|m| m.hits.len())
                .sum();
            let capped: usize = set
                .matches_with(it, None, &mut scratch)
                .iter()
                .map(|m| m.hits.len())
                .sum();
            cut += usize::from(capped < full);
        }
    }
    assert_eq!(items, 8 * 5 + 4 * 20);
    // The corpus must exercise the cap, or this test compares nothing that changed.
    assert!(cut >= 30, "only {cut} items had hits cut");
}

fn item(title: String, summary: String, content: String, categories: Vec<String>) -> FeedItem {
    FeedItem {
        key: ItemKey("k".into()),
        title,
        link: None,
        published: None,
        summary,
        content,
        categories,
        authors: Vec::new(),
        body: String::new(),
    }
}

const WORDS: &[&str] = &[
    "war", "ukraine", "troops", "the", "peace", "talks", "minister",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..120).prop_map(|w| w.join(" "))
}

fn operand() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(WORDS).prop_map(str::to_string),
        (prop::sample::select(WORDS), prop::sample::select(WORDS))
            .prop_map(|(a, b)| format!("\"{a} {b}\"")),
        (prop::sample::select(WORDS), prop::sample::select(WORDS))
            .prop_map(|(a, b)| format!("({a} OR {b})")),
    ]
}

fn query_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (operand(), operand(), 1u32..6).prop_map(|(a, b, n)| format!("{a} NEAR/{n} {b}")),
        (operand(), operand(), operand(), 1u32..4, 1u32..4)
            .prop_map(|(a, b, c, n, m)| format!("({a} NEAR/{n} {b}) NEAR/{m} {c}")),
        (operand(), operand()).prop_map(|(a, b)| format!("{a} AND NOT {b}")),
        (operand(), operand(), operand()).prop_map(|(a, b, c)| format!("{a} {b} OR {c}")),
        (operand(), operand(), operand(), 1u32..4)
            .prop_map(|(a, b, c, n)| format!("{a} AND ({b} NEAR/{n} {c})")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn capped_hits_agree_with_every_hit_on_generated_items(
        title in text(),
        summary in text(),
        content in text(),
        queries in prop::collection::vec(query_text(), 1..5),
        terms in prop::collection::vec(operand().prop_filter("no groups", |o| !o.starts_with('(')), 1..4),
    ) {
        let mut specs = Vec::new();
        let mut near = Vec::new();
        for (i, q) in queries.iter().enumerate() {
            specs.push(watch(format!("q{i}"), query(q)));
            near.push(q.contains("NEAR"));
        }
        specs.push(watch(
            "terms".into(),
            Condition::Terms(
                terms
                    .iter()
                    .map(|t| TermSpec { text: t.trim_matches('"').to_string(), kind: TermKind::Phrase })
                    .collect(),
            ),
        ));
        near.push(false);
        let set = WatchSet::compile(specs).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let it = item(title, summary, content, Vec::new());
        let mut scratch = Scratch::default();
        if let Err(e) = compare(&set, &near, &it, &mut scratch) {
            return Err(TestCaseError::fail(format!("{queries:?} {terms:?}: {e}")));
        }
    }
}

/// Words across scripts and boundaries: spaced and unspaced scripts (a CJK or Thai term may
/// start anywhere, a Latin one only at a word start), Hangul with attached particles, terms
/// inside longer words ("aid" in "said"), apostrophes, diacritics and case.
const MIXED: &[&str] = &[
    "war",
    "the",
    "said",
    "aid",
    "toward",
    "Ukraine's",
    "naïve",
    "WAR",
    "Aid",
    "北京",
    "北京市",
    "서울",
    "서울이",
    "Kim이",
    "คน",
    "ไทย",
    "東京",
    "war-torn",
    "naive",
    "troops",
    "troop",
];

fn mixed_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(MIXED),
            prop::sample::select(&[" ", " ", " ", "", ", ", "-", "\n"][..]),
        ),
        0..60,
    )
    .prop_map(|v| v.into_iter().flat_map(|(w, s)| [w, s]).collect())
}

fn mixed_term() -> impl Strategy<Value = TermSpec> {
    (
        prop::collection::vec(prop::sample::select(MIXED), 1..3),
        prop::sample::select(&[" ", ""][..]),
        prop::sample::select(
            &[
                TermKind::Phrase,
                TermKind::Prefix,
                TermKind::ExactCase,
                TermKind::ExactCasePrefix,
            ][..],
        ),
    )
        .prop_map(|(w, sep, kind)| TermSpec {
            text: w.join(sep),
            kind,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    /// The production search walks an anchored automaton from word starts only (plus an
    /// overlapping search for terms in unspaced scripts); the reference runs one overlapping
    /// search over every byte and checks boundaries afterwards. They must find the same hits.
    #[test]
    fn word_start_search_agrees_with_overlapping_search_across_scripts(
        title in mixed_text(),
        content in mixed_text(),
        categories in prop::collection::vec(mixed_text(), 0..3),
        watches in prop::collection::vec(prop::collection::vec(mixed_term(), 1..4), 1..5),
        query_watch in (prop::sample::select(MIXED), prop::sample::select(MIXED), 1u32..4),
    ) {
        let mut specs: Vec<WatchSpec> = watches
            .iter()
            .enumerate()
            .map(|(i, t)| watch(format!("w{i}"), Condition::Terms(t.clone())))
            .collect();
        let mut near = vec![false; specs.len()];
        let (a, b, n) = query_watch;
        specs.push(watch("q".into(), query(&format!("\"{a}\" NEAR/{n} \"{b}\""))));
        near.push(true);
        // Terms that never occur, so the set is large enough for the word-start search (a few
        // patterns go to the overlapping search, whose prefilter is faster).
        specs.push(watch(
            "padding".into(),
            Condition::Terms(
                (0..40)
                    .map(|i| TermSpec { text: format!("zqx{i}"), kind: TermKind::Phrase })
                    .collect(),
            ),
        ));
        near.push(false);
        for s in &mut specs {
            s.fields = FieldMask::single(newswatch::matcher::Field::Title)
                .union(FieldMask::single(newswatch::matcher::Field::Content))
                .union(FieldMask::single(newswatch::matcher::Field::Category));
        }
        let set = WatchSet::compile(specs).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let it = item(title, String::new(), content, categories);
        let mut scratch = Scratch::default();
        if let Err(e) = compare(&set, &near, &it, &mut scratch) {
            return Err(TestCaseError::fail(format!("{watches:?} {query_watch:?}: {e}")));
        }
    }
}
