//! The JSON Feed repair: what JSON Feed 1.1 tells readers to accept, which feed-rs refuses.
//!
//! Owns [`normalize_json_feed`], tried by the parser after a JSON Feed failed to parse, and
//! [`drop_unreadable_items`], tried after that. An item `id` given as a number (`"id": 123`;
//! the spec says to coerce it to a string) and a missing `version` each failed the whole feed.

use serde_json::Value;

/// JSON values a repair reads a document with at most: it builds each one (a `Value` is
/// 32 bytes and more), and 16 MiB of `0,0,0,…` in a key no reader uses made two repairs
/// hold about 270 MB each while the parser itself had skipped them. Far more than a feed of
/// [`crate::feed::cap::MAX_ITEMS`] items with a few dozen fields each.
const MAX_VALUES: usize = 1_000_000;

/// The version written into a feed that has none.
const VERSION: &str = "https://jsonfeed.org/version/1.1";

/// The feed's own keys the parser reads as text (besides `title` and `version`).
const FEED_TEXT: &[&str] = &[
    "home_page_url",
    "feed_url",
    "language",
    "description",
    "icon",
    "favicon",
];

/// The feed with numeric ids as strings, a `version` and a `title` where it had none, and its
/// own keys of the wrong type left out; `None` when it is not a JSON object or there was
/// nothing to change. The feed's title and authors are no item's text, but the parser
/// refused the whole feed for them: a feed with no `title` (or a number there, or an
/// `"author": "Jane"`) lost every item at every poll.
pub(crate) fn normalize_json_feed(text: &str) -> Option<String> {
    if crate::feed::cap::json_values_exceed(text, MAX_VALUES) {
        return None;
    }
    normalized(text)
}

/// [`normalize_json_feed`] of a document already found within [`MAX_VALUES`].
fn normalized(text: &str) -> Option<String> {
    let mut feed: Value = serde_json::from_str(text).ok()?;
    let object = feed.as_object_mut()?;
    // Written again, a key given twice keeps its last value, as most JSON readers take it:
    // the parser refused the whole feed for one item's `"title"` written twice.
    let mut changed = serde_json::from_str::<Twice>(text).is_ok_and(|t| t.0);
    for key in ["version", "title"] {
        if !object.get(key).is_some_and(Value::is_string) {
            let value = match (key, object.get(key)) {
                ("title", Some(Value::Number(n))) => n.to_string(),
                ("title", _) => String::new(),
                _ => VERSION.into(),
            };
            object.insert(key.into(), Value::String(value));
            changed = true;
        }
    }
    let before = object.len();
    object.retain(|key, value| !FEED_TEXT.contains(&key.as_str()) || value.is_string());
    changed |= object.len() != before;
    if let Some(author) = object.get("author")
        && author_of(author).as_ref() != Some(author)
    {
        match author_of(author) {
            Some(clean) => object.insert("author".into(), clean),
            None => object.remove("author"),
        };
        changed = true;
    }
    if let Some(authors) = object.get("authors") {
        let clean: Vec<Value> = authors
            .as_array()
            .map(|list| list.iter().filter_map(author_of).collect())
            .unwrap_or_default();
        if authors.as_array() != Some(&clean) {
            object.insert("authors".into(), Value::Array(clean));
            changed = true;
        }
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

/// Whether a JSON value holds an object with a key given twice.
struct Twice(bool);

impl<'de> serde::Deserialize<'de> for Twice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Twice, D::Error> {
        d.deserialize_any(TwiceVisitor)
    }
}

struct TwiceVisitor;

impl<'de> serde::de::Visitor<'de> for TwiceVisitor {
    type Value = Twice;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Twice, M::Error> {
        let mut seen = std::collections::HashSet::new();
        let mut twice = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            twice |= !seen.insert(key);
            twice |= map.next_value::<Twice>()?.0;
        }
        Ok(Twice(twice))
    }

    fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut seq: S) -> Result<Twice, S::Error> {
        let mut twice = false;
        while let Some(t) = seq.next_element::<Twice>()? {
            twice |= t.0;
        }
        Ok(Twice(twice))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Twice, E> {
        Ok(Twice(false))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Twice, E> {
        Ok(Twice(false))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Twice, E> {
        Ok(Twice(false))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Twice, E> {
        Ok(Twice(false))
    }

    fn visit_str<E>(self, _: &str) -> Result<Twice, E> {
        Ok(Twice(false))
    }

    fn visit_unit<E>(self) -> Result<Twice, E> {
        Ok(Twice(false))
    }
}

/// The document with each lone UTF-16 surrogate escape (`"\ud83d"` not followed by its low
/// half, or a low half alone) written as `\ufffd`; `None` when it has none. `JSON.stringify`
/// writes one for an emoji cut in half, and the parser refused the whole feed for it
/// ("unexpected end of hex escape"). Escapes are read inside strings only, an escaped
/// backslash as such.
pub(crate) fn lone_surrogates(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let unit = |at: usize| -> Option<u16> {
        let hex = b.get(at..at + 6)?;
        if hex[0] != b'\\' || hex[1] != b'u' {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
    };
    let high = |u: u16| (0xD800..0xDC00).contains(&u);
    let low = |u: u16| (0xDC00..0xE000).contains(&u);
    let mut out: Option<String> = None;
    let (mut copied, mut i, mut in_string) = (0, 0, false);
    while i < b.len() {
        match b[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                let lone = match unit(i) {
                    Some(u) if high(u) => !unit(i + 6).is_some_and(low),
                    Some(u) => low(u),
                    None => false,
                };
                if lone {
                    let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                    o.push_str(&text[copied..i]);
                    o.push_str("\\ufffd");
                    copied = i + 6;
                    i += 6;
                    continue;
                }
                // A pair, or any other escape: both halves, or the escaped character, as
                // they are.
                i += match unit(i) {
                    Some(u) if high(u) => 12,
                    Some(_) => 6,
                    None => 2,
                };
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

/// An author as the parser reads one: an object whose `name` and `url` are text (others
/// left out); `None` when it is no object.
fn author_of(author: &Value) -> Option<Value> {
    let object = author.as_object()?;
    let kept: serde_json::Map<String, Value> = object
        .iter()
        .filter(|(key, value)| !matches!(key.as_str(), "name" | "url") || value.is_string())
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Some(Value::Object(kept))
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
            // One tag written as a string, not a list of one.
            ("tags", Value::String(_)) => Value::Array(vec![value.clone()]),
            ("author" | "authors", _) | (_, Value::String(_)) => value.clone(),
            // A number where text belongs (`"title": 2024`) is read as its text; a date
            // given as a number is no date the parser reads.
            (key, Value::Number(n)) if !key.starts_with("date_") => Value::String(n.to_string()),
            // Anything else where text belongs (an object, a list, null) is left out, so the
            // rest of the item's text reads.
            _ => continue,
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
    if text.len() > super::salvage::MAX_TRIED_BYTES
        || crate::feed::cap::json_values_exceed(text, MAX_VALUES)
    {
        return None;
    }
    let text = normalized(text).map_or(std::borrow::Cow::Borrowed(text), Into::into);
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

    /// Regression: `JSON.stringify` writes an emoji cut in half as a lone surrogate escape,
    /// and the parser refused the whole feed for it ("unexpected end of hex escape").
    #[test]
    fn lone_surrogate_escapes_become_the_replacement_character() {
        let fixed = lone_surrogates(r#"{"a":"two \ud83d","b":"\udc00x","c":"\ud83d\ude00"}"#);
        assert_eq!(
            fixed.as_deref(),
            Some(r#"{"a":"two \ufffd","b":"\ufffdx","c":"\ud83d\ude00"}"#)
        );
        let v: Value = serde_json::from_str(&fixed.unwrap()).unwrap();
        assert_eq!(v["a"], "two \u{FFFD}");
        assert_eq!(v["c"], "\u{1F600}");
        // Pairs, an escaped backslash before `u`, escapes outside strings: left alone.
        assert_eq!(lone_surrogates(r#"{"a":"\ud83d\ude00 \\ud83d \n"}"#), None);
        assert_eq!(lone_surrogates(r#"{"a":"\u0041"}"#), None);
        // A high half before another high half: both lone.
        assert_eq!(
            lone_surrogates(r#"["\ud83d\ud83d"]"#).as_deref(),
            Some(r#"["\ufffd\ufffd"]"#)
        );
    }

    /// Regression: one item with a key given twice (`"title"` written twice) failed the whole
    /// feed ("duplicate field `title`"). The last value is kept, as most JSON readers do.
    #[test]
    fn a_key_given_twice_keeps_its_last_value() {
        let text = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1","title":"a","title":"b"}]}"#;
        let v: Value = serde_json::from_str(&normalize_json_feed(text).unwrap()).unwrap();
        assert_eq!(v["items"][0]["title"], "b");
        let nested =
            r#"{"version":"v","title":"t","items":[{"id":"1","author":{"name":"x","name":"y"}}]}"#;
        assert!(normalize_json_feed(nested).is_some());
    }

    #[test]
    fn a_conforming_feed_or_other_json_is_left_alone() {
        let ok = r#"{"version":"https://jsonfeed.org/version/1","title":"t","items":[{"id":"1"}]}"#;
        assert_eq!(normalize_json_feed(ok), None);
        assert_eq!(normalize_json_feed("[1,2]"), None);
        assert_eq!(normalize_json_feed("{not json"), None);
    }

    /// Regression: the parser needs the feed's `title` as text and its authors as objects,
    /// so a JSON Feed with no title (or `"author": "Jane"`) was refused whole at every poll,
    /// every item lost; one item with a tag written as a string, a number for a title or a
    /// date, was dropped with its title.
    #[test]
    fn a_feed_of_wrong_typed_fields_reads_every_item_it_can() {
        let read = |text: &str| match crate::feed::parse::parse(text.as_bytes(), None, None) {
            Ok(crate::feed::parse::Parsed::Feed(feed)) => Ok(feed),
            Ok(_) => Err("a page, not a feed".to_string()),
            Err(e) => Err(e.to_string()),
        };
        for feed in [
            r#"{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","title":"Kursk"}]}"#,
            r#"{"version":"https://jsonfeed.org/version/1.1","title":null,"items":[{"id":"1","title":"Kursk"}]}"#,
            r#"{"title":7,"author":"Jane","authors":[{"name":3},"Joe"],"icon":1,"items":[{"id":"1","title":"Kursk"}]}"#,
        ] {
            let parsed = read(feed).unwrap_or_else(|e| panic!("{feed}: {e}"));
            assert_eq!(parsed.items.len(), 1, "{feed}");
            assert_eq!(parsed.items[0].title, "Kursk", "{feed}");
        }
        let items = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[
            {"id":"1","title":"Klarna IPO","tags":"finance"},
            {"id":"2","title":2024,"summary":"Kursk"},
            {"id":"3","title":"Dated","date_published":1700000000,"url":{"href":"x"}},
            {"id":"4","title":"Fine"}]}"#;
        let parsed = read(items).unwrap();
        let titles: Vec<&str> = parsed.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, ["Klarna IPO", "2024", "Dated", "Fine"]);
    }

    /// Regression (review): both repairs built the whole document before any limit was
    /// checked, so a feed-rs failure on 16 MiB of numbers in a key no reader uses held
    /// hundreds of MB per poll slot. A document of more values than a repair reads is left
    /// as the parser judged it.
    #[test]
    fn a_document_of_endless_values_is_not_built_by_a_repair() {
        let numbers = vec!["0"; MAX_VALUES + 1].join(",");
        let text = format!(r#"{{"items":[{{"id":1}},{{"id":"bad"}}],"x":[{numbers}]}}"#);
        assert_eq!(normalize_json_feed(&text), None);
        // One item refused: without the cap, the salvage would build the document.
        assert_eq!(drop_unreadable_items(&text, |t| !t.contains("bad")), None);
        // Strings hold no values: the brackets and commas in them do not count.
        let quoted = format!(r#"{{"items":[{{"id":1}}],"x":"{numbers}"}}"#);
        assert!(normalize_json_feed(&quoted).is_some());
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
