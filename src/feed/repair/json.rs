//! The JSON Feed repair: what JSON Feed 1.1 tells readers to accept, which feed-rs refuses.
//!
//! Owns [`normalize_json_feed`], tried by the parser after a JSON Feed failed to parse. An
//! item `id` given as a number (`"id": 123`; the spec says to coerce it to a string) and a
//! missing `version` each failed the whole feed.

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

#[cfg(test)]
mod tests {
    use super::*;

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
