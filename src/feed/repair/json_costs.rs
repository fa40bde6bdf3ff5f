//! What a JSON Feed would make the parser copy or compare past all bounds: cut before it
//! reads it.
//!
//! Owns [`drop_costly_json`]. feed-rs copies the feed's authors into every item that has none
//! (a 1 MB author name over 10,000 empty items, a 1 MB document, is 10 GB), compares each
//! author's name with every one before it (a list of 15,000 authors is 10^8 comparisons, a
//! 16 MiB list 10^11), and makes a category of some hundred bytes of each tag (16 MiB of `""`
//! tags took a gigabyte). Every array but the feed's `items` (lists of authors, tags,
//! attachments, hubs; an item may itself be written as an array, its lists unnamed) is cut
//! after its first [`MAX_LIST`] entries (what an item keeps of its authors and categories),
//! and the feed's `author`/`authors` are dropped when copying them into every item could pass
//! [`COPY_BUDGET`]. Read in one pass over the text's tokens, without building its values.
//! Crossing the boundary: decoded text in, the rewritten text out (`None` when nothing is
//! cut).

use std::ops::Range;

use super::splice;
use crate::feed::cap::{Tok, is_key, json_tokens};
use crate::feed::item::MAX_LIST;

/// Bytes the parser may be made to copy of the feed's authors into its items.
const COPY_BUDGET: u64 = 64 * 1024 * 1024;

/// What an author copied costs beyond its text: the structure it is kept in.
const AUTHOR_COST: u64 = 128;

/// An open object or array.
struct Frame {
    array: bool,
    /// The key it is the value of (the raw text between its quotes), in an object.
    key: Option<Range<usize>>,
    /// Where its value starts.
    start: usize,
    /// Commas read at its own level (its entries, less one).
    commas: usize,
    /// Whether it is cut after [`MAX_LIST`] entries (every array but the feed's `items`).
    capped: bool,
    /// Where the entries past [`MAX_LIST`] start: the comma after the last one kept.
    cut_from: Option<usize>,
}

/// The text with its long lists cut and its feed-level authors dropped when they would cost
/// too much to copy; `None` when neither is needed.
pub(crate) fn drop_costly_json(text: &str) -> Option<String> {
    let mut open: Vec<Frame> = Vec::new();
    // In an object, whether the next string is a key; the last key read.
    let mut expect_key = false;
    let mut key: Option<Range<usize>> = None;
    let mut cuts: Vec<(Range<usize>, &str)> = Vec::new();
    // The feed's own `author`/`authors` values, and how many items it has.
    let mut feed_authors: Vec<Range<usize>> = Vec::new();
    let mut feed_author_entries = 0u64;
    let mut items = 0u64;
    let key_is = |key: &Option<Range<usize>>, name: &str| {
        key.as_ref().is_some_and(|k| is_key(&text[k.clone()], name))
    };
    for tok in json_tokens(text) {
        let (i, c) = match tok {
            Tok::Str(from, to) => {
                if expect_key && open.last().is_some_and(|f| !f.array) {
                    key = Some(from..to);
                    expect_key = false;
                }
                continue;
            }
            Tok::Byte(i, c) => (i, c),
        };
        match c {
            b'{' | b'[' => {
                let in_object = open.last().is_some_and(|f| !f.array);
                let key = if in_object { key.take() } else { None };
                let items = open.len() == 1 && key_is(&key, "items");
                open.push(Frame {
                    array: c == b'[',
                    capped: c == b'[' && !items,
                    key,
                    start: i,
                    commas: 0,
                    cut_from: None,
                });
                expect_key = c == b'{';
            }
            b',' => match open.last_mut() {
                Some(frame) if frame.array => {
                    frame.commas += 1;
                    if frame.commas == MAX_LIST && frame.capped {
                        frame.cut_from = Some(i);
                    }
                }
                Some(_) => expect_key = true,
                None => {}
            },
            b'}' | b']' => {
                let Some(frame) = open.pop() else {
                    continue;
                };
                if let Some(from) = frame.cut_from {
                    cuts.push((from..i, ""));
                }
                // The feed object is the first frame; its keys' values sit one level in.
                if open.len() == 1 {
                    if key_is(&frame.key, "items") && frame.array {
                        items = frame.commas as u64 + 1;
                    } else if key_is(&frame.key, "author") || key_is(&frame.key, "authors") {
                        feed_authors.push(frame.start..i + 1);
                        feed_author_entries += if frame.array {
                            frame.commas.min(MAX_LIST) as u64 + 1
                        } else {
                            1
                        };
                    }
                }
                expect_key = false;
            }
            _ => {}
        }
    }
    let author_bytes: u64 = feed_authors.iter().map(|r| r.len() as u64).sum();
    let copies = author_bytes
        .saturating_add(feed_author_entries.saturating_mul(AUTHOR_COST))
        .saturating_mul(items);
    if copies > COPY_BUDGET {
        cuts.extend(feed_authors.into_iter().map(|r| (r, "null")));
    }
    (!cuts.is_empty()).then(|| splice(text, cuts))
}

#[cfg(test)]
mod tests {
    //! The cuts against documents whose lists and authors are known.
    use super::*;

    fn list(n: usize) -> String {
        let names: Vec<String> = (0..n).map(|i| format!("{{\"name\":\"a{i}\"}}")).collect();
        format!("[{}]", names.join(","))
    }

    #[test]
    fn long_lists_keep_their_first_entries() {
        let text = format!(
            r#"{{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{{"id":"1","authors":{},"tags":[{}],"attachments":[]}}]}}"#,
            list(300),
            vec!["\"t\""; 1000].join(",")
        );
        let Some(cut) = drop_costly_json(&text) else {
            panic!("the lists are cut");
        };
        let value: serde_json::Value = serde_json::from_str(&cut).unwrap_or_default();
        let item = &value["items"][0];
        assert_eq!(item["authors"].as_array().map(Vec::len), Some(MAX_LIST));
        assert_eq!(item["authors"][255]["name"], "a255");
        assert_eq!(item["tags"].as_array().map(Vec::len), Some(MAX_LIST));
        // Lists as feeds write them are left alone.
        let text = text.replace(&list(300), &list(3));
        let text = text.replace(&vec!["\"t\""; 1000].join(","), "\"t\"");
        assert_eq!(drop_costly_json(&text), None);
        // An item written as an array (serde reads a struct from one) has its lists unnamed.
        let text = format!(
            r#"{{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[["1",null,null,"t",null,null,null,null,null,null,{}]]}}"#,
            list(300)
        );
        assert!(drop_costly_json(&text).is_some());
    }

    #[test]
    fn feed_authors_too_costly_to_copy_into_every_item_are_dropped() {
        let items = vec!["{\"id\":\"x\"}"; 10_000].join(",");
        let author = format!("{{\"name\":\"{}\"}}", "a".repeat(10_000));
        let text = format!(
            r#"{{"version":"https://jsonfeed.org/version/1.1","title":"t","author":{author},"authors":[{author}],"items":[{items}]}}"#
        );
        let Some(cut) = drop_costly_json(&text) else {
            panic!("the authors are dropped");
        };
        let value: serde_json::Value = serde_json::from_str(&cut).unwrap_or_default();
        assert!(value["author"].is_null() && value["authors"].is_null());
        assert_eq!(value["items"].as_array().map(Vec::len), Some(10_000));
        // A name of ordinary length is copied as before, and so is a long one over few items.
        let short = text.replace(&"a".repeat(10_000), "Desk");
        assert_eq!(drop_costly_json(&short), None);
        let few = text.replace(&items, "{\"id\":\"x\"}");
        assert_eq!(drop_costly_json(&few), None);
    }

    #[test]
    fn escaped_keys_are_read_as_the_parser_reads_them() {
        // The feed's items, however their key is written, are not cut (the cap on items is
        // another's, at 10,000).
        let text = format!(
            r#"{{"\u0069tems":[{}]}}"#,
            vec!["{\"id\":\"1\"}"; 300].join(",")
        );
        assert_eq!(drop_costly_json(&text), None);
        // Nor is an array named `items` inside an item.
        let text = format!(
            r#"{{"items":[{{"items":[{}]}}]}}"#,
            vec!["1"; 300].join(",")
        );
        assert!(drop_costly_json(&text).is_some());
    }

    #[test]
    fn broken_json_never_panics() {
        for s in [
            "",
            "{",
            "}",
            "]]]",
            "{\"authors\":[",
            "[,,,",
            "{\"a\":\"",
            "{,}",
        ] {
            let _ = drop_costly_json(s);
        }
    }
}
