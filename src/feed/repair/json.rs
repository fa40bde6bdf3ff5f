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

/// The feed without the items `reads` refuses, each tried alone (after
/// [`normalize_json_feed`]); `None` when it is not a JSON object with items, or every item
/// reads (or none does: then the fault is not in the items). One item with a field of the
/// wrong type (`"size_in_bytes": "123"`, a number among `tags`) failed the whole feed, and held
/// back every other item while it was listed.
pub(crate) fn drop_unreadable_items(text: &str, reads: impl Fn(&str) -> bool) -> Option<String> {
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
    let kept: Vec<Value> = items
        .into_iter()
        .filter(|item| {
            item.is_object() && {
                let alone = serde_json::json!({"version": VERSION, "title": "", "items": [item]});
                reads(&alone.to_string())
            }
        })
        .collect();
    if kept.is_empty() || kept.len() == total {
        return None;
    }
    feed["items"] = Value::Array(kept);
    Some(feed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_items_the_parser_refuses_are_dropped_and_the_rest_kept() {
        let reads = |t: &str| !t.contains("bad");
        let text = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1"},{"id":"bad"},{"id":2}]}"#;
        let kept = drop_unreadable_items(text, reads).unwrap();
        let v: Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(v["items"], serde_json::json!([{"id":"1"},{"id":"2"}]));
        assert_eq!(v["title"], "t");
        // Items that are no objects are dropped untried.
        let tried = std::cell::Cell::new(0);
        let with_numbers = r#"{"version":"x","items":[0,{"id":"1"},[],{"id":"2","bad":1}]}"#;
        let kept = drop_unreadable_items(with_numbers, |t| {
            tried.set(tried.get() + 1);
            !t.contains("bad")
        });
        let v: Value = serde_json::from_str(&kept.unwrap()).unwrap();
        assert_eq!(v["items"], serde_json::json!([{"id":"1"}]));
        assert_eq!(tried.get(), 2);
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
}
