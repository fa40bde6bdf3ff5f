//! Folding with the map back: the input is `text \0 term`. Every hit of the term's fold in the
//! text's fold maps back to char boundaries of the original, in order; the matcher's hits do too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newswatch::feed::{FeedItem, ItemKey};
use newswatch::matcher::{Condition, FeedScope, FieldMask, WatchSet, WatchSpec, parse_term};
use newswatch::text::fold::{fold, fold_keep_case, fold_term};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let (text, term) = input.split_once('\0').unwrap_or((&input, "x"));
    let folded = fold(text);
    let f = folded.as_str();
    let t = fold_term(term);
    assert_eq!(fold_term(&t), t, "term fold not idempotent");
    let k = fold_keep_case(term);
    assert_eq!(
        fold_term(&k),
        t,
        "keep-case fold disagrees with the term fold"
    );
    // Every char of the folded text maps to a non-empty, ordered range on char boundaries.
    let mut last = 0;
    for (i, c) in f.char_indices() {
        let r = folded.original_range(i..i + c.len_utf8());
        assert!(r.start < r.end && r.end <= text.len(), "{r:?}");
        assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
        assert!(r.start >= last, "map goes backwards");
        last = r.start;
    }
    if !t.is_empty() {
        for (start, _) in f.match_indices(t.as_str()) {
            let r = folded.original_range(start..start + t.len());
            assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
        }
    }
    // The same through the matcher, for a term as a user would write it.
    let Ok(spec) = parse_term(term) else {
        return;
    };
    let Ok(set) = WatchSet::compile(vec![WatchSpec {
        name: "w".into(),
        condition: Condition::Terms(vec![spec]),
        exclude: Vec::new(),
        fields: FieldMask::DEFAULT,
        feeds: FeedScope::All,
        sinks: Vec::new(),
    }]) else {
        return;
    };
    let item = FeedItem {
        key: ItemKey("k".into()),
        title: text.to_owned(),
        link: None,
        published: None,
        summary: text.to_owned(),
        content: String::new(),
        categories: Vec::new(),
        authors: Vec::new(),
        body: String::new(),
    };
    for m in set.matches(&item, None) {
        for hit in &m.hits {
            assert!(hit.start < hit.end && hit.end <= text.len());
            assert!(text.is_char_boundary(hit.start) && text.is_char_boundary(hit.end));
        }
        let _ = m.snippet.marked();
    }
});
