//! The query parser and compiler: the input is `query \0 item text`. Parsing never panics; a
//! query that parses compiles, and matching it never panics and yields hits inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newswatch::feed::{FeedItem, ItemKey};
use newswatch::matcher::{Condition, FeedScope, FieldMask, WatchSet, WatchSpec, parse_query};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let (query, text) = input
        .split_once('\0')
        .unwrap_or((&input, "North Korean troops"));
    let expr = match parse_query(query) {
        Ok(expr) => expr,
        Err(error) => {
            // Errors point at a column inside (or just past) the query.
            let _ = error.to_string();
            return;
        }
    };
    let set = WatchSet::compile(vec![WatchSpec {
        name: "q".into(),
        condition: Condition::Query(expr),
        exclude: Vec::new(),
        fields: FieldMask::DEFAULT,
        feeds: FeedScope::All,
        sinks: Vec::new(),
    }])
    .expect("a parsed query compiles");
    let item = FeedItem {
        key: ItemKey("k".into()),
        title: text.to_owned(),
        link: None,
        published: None,
        summary: text.chars().rev().collect(),
        content: text.to_owned(),
        categories: vec![text.to_owned()],
        authors: Vec::new(),
        body: String::new(),
    };
    for m in set.matches(&item, None) {
        for hit in &m.hits {
            assert!(hit.start <= hit.end && hit.end <= text.len().max(item.summary.len()));
        }
    }
});
