//! The JSON Feed repair: what JSON Feed 1.1 tells readers to accept, which feed-rs refuses.
//!
//! Owns [`normalize_json_feed`], tried by the parser after a JSON Feed failed to parse, and
//! [`drop_unreadable_items`], tried after that. An item `id` given as a number (`"id": 123`;
//! the spec says to coerce it to a string) and a missing `version` each failed the whole feed.

use serde_json::Value;

/// The version written into a feed that has none.
const VERSION: &str = "https://jsonfeed.org/version/1.1";

/// The feed with numeric ids as strings and a `version` where it had none; `None` when it is
/// not a JSON object or there was nothing to change.
pub(crate) fn normalize_json_feed(text: &str) -> Option<String> {
    let mut feed: Value = serde_json::from_str(text).ok()?;
    let object = feed.as_object_mut()?;
    let mut changed = false;
    if !object.get("version").is_some_and(Value::is_string) {
        object.insert("version".into(), Value::String(VERSION.into()));
        changed = true;
    }
    if let Some(items) = object.get_mut("items").and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(Value::Number(n)) = item.get("id") {
                let id = n.to_string();
                item.insert("id".into(), Value::String(id));
                changed = true;
            }
        }
    }
    changed.then(|| feed.to_string())
}

/// An item's keys a watch reads, kept when the item is read with its text alone.
const TEXT: &[&str] = &[
    "id",
    "url",
    "external_url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "date_published",
    "date_modified",
    "tags",
    "author",
    "authors",
];

/// The [`TEXT`] keys left out of the second try: the bodies and authors, whose own structure
/// a parser may refuse when an item's title and summary read.
const BODY_OR_AUTHOR: &[&str] = &["content_html", "content_text", "author", "authors"];

/// `item` with only the keys `keep` takes, and only the strings among its `tags`; `None`
/// when that leaves it as it was.
fn text_only(item: &Value, keep: impl Fn(&str) -> bool) -> Option<Value> {
    let object = item.as_object()?;
    let mut kept = serde_json::Map::new();
    for (key, value) in object.iter().filter(|(k, _)| keep(k)) {
        let value = match (key.as_str(), value) {
            ("tags", Value::Array(tags)) => {
                Value::Array(tags.iter().filter(|t| t.is_string()).cloned().collect())
            }
            _ => value.clone(),
        };
        kept.insert(key.clone(), value);
    }
    let kept = Value::Object(kept);
    (kept != *item).then_some(kept)
}

/// The feed with the items `reads` refuses, each tried alone (after [`normalize_json_feed`]),
/// read with their text alone ([`TEXT`]; then without their bodies and authors either) or
/// dropped when even that fails; `None` when it is
/// not a JSON object with items, or every item reads as it is, or none even with its text
/// alone. One item with a field of the wrong type (`"size_in_bytes": "123"`, a number
/// among `tags`) failed the whole feed, and held back every other item while it was listed;
/// then it was dropped, and a watch never saw its title.
pub(crate) fn drop_unreadable_items(
    text: &str,
    reads: impl Fn(&str) -> bool,
) -> Option<super::salvage::Salvaged> {
    let text = normalize_json_feed(text).map_or(std::borrow::Cow::Borrowed(text), Into::into);
    let mut feed: Value = serde_json::from_str(&text).ok()?;
    let items = std::mem::take(feed.as_object_mut()?.get_mut("items")?.as_array_mut()?);
    let total = items.len();
    if total > super::salvage::MAX_TRIED_ITEMS || text.len() > super::salvage::MAX_TRIED_BYTES {
        return None;
    }
    // Each item is tried in a feed of its own with only the keys a feed must have, the
    // version written here: none of the feed's own text (a huge `description` or `version`)
    // is copied once per item. An item that is no object is no item: dropped untried.
    let alone = |item: &Value| {
        item.is_object()
            && reads(
                &serde_json::json!({"version": VERSION, "title": "", "items": [item]}).to_string(),
            )
    };
    let (mut stripped, mut dropped, mut read) = (0, 0, 0);
    let mut kept = Vec::with_capacity(total);
    for item in items {
        if alone(&item) {
            read += 1;
            kept.push(item);
        } else if let Some(plain) = text_only(&item, |k| TEXT.contains(&k))
            .filter(|plain| alone(plain))
            .or_else(|| {
                text_only(&item, |k| TEXT.contains(&k) && !BODY_OR_AUTHOR.contains(&k))
                    .filter(|plain| alone(plain))
            })
        {
            stripped += 1;
            kept.push(plain);
        } else {
            dropped += 1;
        }
    }
    // Every item read as it was, or none even with its text alone: nothing to salvage.
    if read == total || read + stripped == 0 {
        return None;
    }
    feed["items"] = Value::Array(kept);
    Some(super::salvage::Salvaged {
        text: feed.to_string(),
        stripped,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_items_the_parser_refuses_are_dropped_and_the_rest_kept() {
        let reads = |t: &str| !t.contains("bad");
        let text = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1"},{"id":"bad"},{"id":2}]}"#;
        let kept = drop_unreadable_items(text, reads).unwrap();
        assert_eq!((kept.stripped, kept.dropped), (0, 1));
        let v: Value = serde_json::from_str(&kept.text).unwrap();
        assert_eq!(v["items"], serde_json::json!([{"id":"1"},{"id":"2"}]));
        assert_eq!(v["title"], "t");
        // Items that are no objects are dropped untried.
        let tried = std::cell::Cell::new(0);
        let with_numbers = r#"{"version":"x","items":[0,{"id":"1"},[],{"id":"2","bad":1}]}"#;
        let kept = drop_unreadable_items(with_numbers, |t| {
            tried.set(tried.get() + 1);
            !t.contains("bad")
        });
        let v: Value = serde_json::from_str(&kept.unwrap().text).unwrap();
        // The last one read without its unknown key.
        assert_eq!(v["items"], serde_json::json!([{"id":"1"},{"id":"2"}]));
        assert_eq!(tried.get(), 3);
        // Every item reads, or none does: nothing to drop.
        assert_eq!(drop_unreadable_items(text, |_| true), None);
        assert_eq!(drop_unreadable_items(text, |_| false), None);
    }

    #[test]
    fn numeric_ids_become_strings_and_a_missing_version_is_set() {
        let fixed =
            normalize_json_feed(r#"{"title":"t","items":[{"id":123},{"id":"a"},{"id":1.5}]}"#);
        let v: Value = serde_json::from_str(&fixed.unwrap()).unwrap();
        assert_eq!(v["version"], VERSION);
        assert_eq!(v["items"][0]["id"], "123");
        assert_eq!(v["items"][1]["id"], "a");
        assert_eq!(v["items"][2]["id"], "1.5");
    }

    #[test]
    fn a_conforming_feed_or_other_json_is_left_alone() {
        let ok = r#"{"version":"https://jsonfeed.org/version/1","items":[{"id":"1"}]}"#;
        assert_eq!(normalize_json_feed(ok), None);
        assert_eq!(normalize_json_feed("[1,2]"), None);
        assert_eq!(normalize_json_feed("{not json"), None);
    }

    /// An item refused for a field a watch does not read is kept with its text alone, the
    /// strings among its tags kept; every item so refused is salvaged too.
    #[test]
    fn a_refused_item_is_read_by_its_text_alone_before_it_is_dropped() {
        let reads = |t: &str| !t.contains("bad");
        let text = r#"{"version":"x","items":[{"id":"1","title":"t","attachments":[{"url":"bad"}],"tags":["a",{"bad":1}]},{"id":"2","title":"u","image":"bad","content_text":"c"},{"id":"3","title":"v","content_html":"bad","authors":[{"name":"n"}]}]}"#;
        let kept = drop_unreadable_items(text, reads).unwrap();
        assert_eq!((kept.stripped, kept.dropped), (3, 0));
        let v: Value = serde_json::from_str(&kept.text).unwrap();
        assert_eq!(
            v["items"],
            serde_json::json!([
                {"id":"1","title":"t","tags":["a"]},
                {"id":"2","title":"u","content_text":"c"},
                {"id":"3","title":"v"}
            ])
        );
    }
}
