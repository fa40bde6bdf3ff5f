//! Unit tests of the word table: which patterns are found at which word starts.

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
    let n = super::super::search::word_starts(f, &mut starts);
    let mut out = Vec::new();
    t.find(f, &mut starts[..n], &mut out);
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
fn phrases_are_compared_past_their_first_eight_bytes_and_near_the_end_of_the_text() {
    let t = table(&[
        ("north korean troops", false),
        ("north korean troopships", false),
        ("north kor", false),
        ("north k", false),
    ]);
    // The 8 bytes after "north" (" korean ") agree for the first two phrases: the rest
    // decides. Under 8 bytes after the word, the phrases are compared in full. Every
    // phrase the text starts with is a candidate (the right-boundary check comes later).
    assert_eq!(
        found(&t, "north korean troopships"),
        vec![(0, 0, 19), (1, 0, 23), (2, 0, 9), (3, 0, 7)]
    );
    assert_eq!(
        found(&t, "north korean troops!"),
        vec![(0, 0, 19), (2, 0, 9), (3, 0, 7)]
    );
    assert_eq!(found(&t, "north kor"), vec![(2, 0, 9), (3, 0, 7)]);
    assert_eq!(found(&t, "north k"), vec![(3, 0, 7)]);
    assert_eq!(found(&t, "north korea"), vec![(2, 0, 9), (3, 0, 7)]);
    assert_eq!(found(&t, "north koala bears"), vec![(3, 0, 7)]);
    assert!(found(&t, "north south").is_empty());
    assert_eq!(
        probe_of(b" kor"),
        (u64::from_le_bytes(*b" kor\0\0\0\0"), 0xFFFF_FFFF)
    );
    assert_eq!(probe_of(b" korean troops").1, u64::MAX);
}

#[test]
fn long_words_sharing_a_hash_are_told_apart_by_their_bytes() {
    // Same length, same first and last 8 bytes: the same hash, so the same bit of the filter.
    let (kept, other) = ("abcdefghxijklmnop", "abcdefghyijklmnop");
    assert_eq!(word_hash(kept.as_bytes()), word_hash(other.as_bytes()));
    let t = table(&[(kept, false), ("abcdefgh", false)]);
    assert_eq!(found(&t, other), vec![]);
    assert_eq!(found(&t, &format!("{other} {kept}")), vec![(0, 18, 35)]);
    assert_eq!(found(&t, "abcdefgh abcdefghi"), vec![(1, 0, 8)]);
}

#[test]
fn a_word_opens_only_the_phrases_the_text_goes_on_with() {
    // Tails of 3 bytes or more only: the filter of how the phrases go on decides alone
    // whether they are compared.
    let t = table(&[
        ("north korean", false),
        ("north pole", false),
        ("north", false),
    ]);
    assert_eq!(found(&t, "north america"), vec![(2, 0, 5)]);
    assert_eq!(found(&t, "north pole"), vec![(1, 0, 10), (2, 0, 5)]);
    assert_eq!(
        found(&t, "the north korean army"),
        vec![(0, 4, 16), (2, 4, 9)]
    );
}

#[test]
fn a_word_longer_than_every_key_is_not_looked_up() {
    let t = table(&[("war", false)]);
    assert_eq!(t.longest, 3);
    assert!(t.lookup(b"warsaw", 6).is_none());
    assert!(found(&t, &"w".repeat(10_000)).is_empty());
}

proptest::proptest! {
    /// The first pass hashes a word where it stands in the text (8-byte loads that run past
    /// it); that must be the hash the table was built with, for every length and position,
    /// the end of the text included.
    #[test]
    fn a_word_hashes_alike_in_a_text_and_alone(text in "[a-z ]{0,40}") {
        let mut starts = Vec::new();
        let n = super::super::search::word_starts(&text, &mut starts);
        for &(p, end) in &starts[..n] {
            let b = text.as_bytes();
            proptest::prop_assert_eq!(word_hash_at(&b[p..], end - p), word_hash(&b[p..end]));
        }
    }
}

/// Every key of a crowded short-word table is found with its own entry, also those pushed
/// past their home slot by another key, and a key not in it is not. Word tests with a few
/// patterns never put two keys on one home slot; the differential tests compare two paths
/// over the same table, so a lookup that missed displaced keys went unnoticed by both
/// (mutation testing: `key == 0` as `key != 0`, the probe step's `&` as `|`).
#[test]
fn every_key_of_a_crowded_short_table_is_found_with_its_entry() {
    let entry = |n: u64| Entry {
        whole: None,
        multi: 0..0,
        openings: n,
    };
    let keys: Vec<u64> = (1..=4000u64)
        .map(|n| n.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1)
        .collect();
    let t = ShortTable::new(keys.iter().map(|&k| (k, entry(k))).collect());
    let displaced = keys.iter().filter(|&&k| t.keys[t.slot(k)] != k).count();
    assert!(displaced > 100, "only {displaced} keys off their home slot");
    for &k in &keys {
        assert_eq!(t.get(k).map(|e| e.openings), Some(k), "key {k:#x}");
    }
    for n in 1..=4000u64 {
        let absent = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) & !1;
        assert!(t.get(absent).is_none(), "absent key {absent:#x} found");
    }
}
