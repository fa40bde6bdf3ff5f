//! Whole ingest of one body: charset → repair → parse → items → HTML→text, then folding of every
//! field with the map back. Must never panic, hang or exhaust memory, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newswatch::feed::{Parsed, parse};
use newswatch::text::fold::fold;

/// Content types the first input byte selects (a server's header competes with the document).
const CONTENT_TYPES: [Option<&str>; 5] = [
    None,
    Some("application/rss+xml; charset=utf-8"),
    Some("text/xml; charset=windows-1251"),
    Some("text/html"),
    Some("application/json"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let base = url::Url::parse("https://example.com/feed/").ok();
    let Ok(Parsed::Feed(feed)) = parse(body, content_type, base.as_ref()) else {
        return;
    };
    for item in &feed.items {
        let fields = [&item.title, &item.summary, &item.content];
        for text in fields
            .into_iter()
            .chain(&item.categories)
            .chain(&item.authors)
        {
            let folded = fold(text);
            let len = folded.as_str().len();
            if len > 0 {
                let range = folded.original_range(0..len);
                assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
            }
        }
    }
});
