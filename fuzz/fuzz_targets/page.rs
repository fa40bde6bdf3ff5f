//! An article page as full text reads it: charset (header, `<meta>`, detection) → main-text
//! extraction → folding. Must never panic, hang or exhaust memory, whatever the bytes: a page
//! is written by whoever an item links to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newswatch::feed::charset::decode_page;
use newswatch::text::article::extract_article;
use newswatch::text::fold::fold;

/// Content types the first input byte selects (a header competes with the page's `<meta>`).
const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("text/html; charset=utf-8"),
    Some("text/html; charset=windows-1251"),
    Some("text/html"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let page = decode_page(body, content_type);
    if let Ok(article) = extract_article(&page.text) {
        let folded = fold(&article.text);
        let len = folded.as_str().len();
        if len > 0 {
            let range = folded.original_range(0..len);
            assert!(
                article.text.is_char_boundary(range.start)
                    && article.text.is_char_boundary(range.end)
            );
        }
    }
});
