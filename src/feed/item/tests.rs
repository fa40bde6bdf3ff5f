//! Item keys, lists and texts: [`super`]'s unit tests.

use super::*;

/// Regression: an item's categories (and authors, media texts) were de-duplicated by
/// comparing each with all kept before it: 500,000 distinct categories were 10^11
/// comparisons on every poll. Now a set, and a list keeps at most its first 256.
#[test]
fn an_items_lists_keep_their_first_distinct_values_up_to_a_cap() {
    let many: Vec<String> = (0..200_000).map(|i| format!("c{i}")).collect();
    let kept = unique_non_empty(many.iter().map(String::as_str));
    assert_eq!(kept.len(), MAX_LIST);
    assert_eq!((kept[0].as_str(), kept[255].as_str()), ("c0", "c255"));
    let repeated = ["a", "", "b", "a", "<b>b</b>", "c"];
    assert_eq!(unique_non_empty(repeated.into_iter()), ["a", "b", "c"]);
}

#[test]
fn key_prefers_id_then_link_then_hash() {
    assert_eq!(
        item_key(" guid-1 ", Some("http://x/"), "t", "s", None).0,
        "guid-1"
    );
    assert_eq!(
        item_key("", Some("http://x/"), "t", "s", None).0,
        "http://x/"
    );
    let hashed = item_key("", None, "t", "s", None).0;
    assert!(
        hashed.starts_with("h:") && hashed.len() == 2 + 32,
        "{hashed}"
    );
    assert!(hashed[2..].bytes().all(|b| b.is_ascii_hexdigit()));
}

fn item(key: &str, link: Option<&str>, title: &str) -> FeedItem {
    FeedItem {
        key: ItemKey(key.into()),
        link: link.map(String::from),
        title: title.into(),
        ..FeedItem::default()
    }
}

fn keys(items: &[FeedItem]) -> Vec<&str> {
    items.iter().map(|it| it.key.0.as_str()).collect()
}

/// Regression: a feed that gave every item the same `<guid>` had only its first item ever
/// matched; the others shared its key and were taken for it.
#[test]
fn items_sharing_one_guid_get_keys_of_their_own_whatever_their_order() {
    let mut items = vec![
        item("https://site.example/", Some("https://site.example/b"), "B"),
        item("https://site.example/", Some("https://site.example/a"), "A"),
        item("https://site.example/", None, "no link"),
        item("ok-1", Some("https://site.example/c"), "C"),
    ];
    distinguish_shared_ids(&mut items, &[]);
    let hashed = item_key("", None, "no link", "", None).0;
    assert_eq!(
        keys(&items),
        [
            "https://site.example/ https://site.example/b",
            "https://site.example/ https://site.example/a",
            &format!("https://site.example/ {hashed}"),
            "ok-1",
        ]
    );
    // The next poll lists a newer item first: the older ones keep their keys.
    let mut next = vec![
        item("https://site.example/", Some("https://site.example/n"), "N"),
        item("https://site.example/", Some("https://site.example/b"), "B"),
    ];
    distinguish_shared_ids(&mut next, &[]);
    assert_eq!(keys(&next)[1], keys(&items)[0]);
    assert_ne!(keys(&next)[0], keys(&next)[1]);
}

/// Regression: items without a guid that all link to the site's front page all had that
/// link as their key: only the first was ever matched, every later one taken as seen. A
/// lone item of that kind took the last one's key.
#[test]
fn items_that_all_link_to_the_front_page_get_keys_of_their_own() {
    let front = "https://site.example/";
    let mut items = vec![
        item(front, Some(front), "North Korean troops reach Kursk"),
        item(front, Some(front), "Ceasefire talks resume"),
    ];
    distinguish_shared_ids(&mut items, &[]);
    let ks = keys(&items);
    assert_ne!(ks[0], ks[1]);
    assert!(
        ks.iter().all(|k| k.starts_with("https://site.example/ h:")),
        "{ks:?}"
    );
    // The next poll lists a new item first, alone: the older one keeps its key, the new
    // one has its own, whatever else is in the document.
    let mut next = vec![item(front, Some(front), "Ceasefire talks resume")];
    distinguish_shared_ids(&mut next, &[]);
    assert_eq!(keys(&next)[0], ks[1]);
    // The same when the front page is the feed's own site link with a path of its own
    // elsewhere, and for items sharing a link that is no front page.
    let page = "https://site.example/news";
    let mut shared = vec![
        item(page, Some(page), "One"),
        item(page, Some(page), "Two"),
        item(page, Some(page), "Two"),
        item(page, Some("https://site.example/news/3"), "Three"),
    ];
    distinguish_shared_ids(&mut shared, &[]);
    let ks = keys(&shared);
    assert_ne!(ks[0], ks[1]);
    assert_eq!(ks[1], ks[2], "one entry listed twice stays one item");
    assert_eq!(
        ks[3],
        "https://site.example/news https://site.example/news/3"
    );
    assert!(ks[0].starts_with("https://site.example/news https://site.example/news h:"));
    // An article's own link, or a guid with a path, is no front page.
    assert!(is_front_page("https://site.example"));
    assert!(!is_front_page("https://site.example/a"));
    assert!(!is_front_page("https://site.example/?p=3"));
    assert!(!is_front_page("https://site.example/#item-3"));
    assert!(!is_front_page("urn:uuid:1"));
}

/// Regression: a feed that lists one item at a time, each under a placeholder guid
/// (`<guid>0</guid>`, `undefined`), gave each new item the key the last one had: it was
/// taken as seen and never alerted. A placeholder is told apart by the item's link, as a
/// group sharing it always was (the same keys: a feed of several such items keeps them).
#[test]
fn a_lone_item_under_a_placeholder_guid_gets_a_key_of_its_own() {
    for placeholder in ["0", "undefined", "NULL", "[object Object]"] {
        let mut first = vec![item(placeholder, Some("https://site.example/a"), "A")];
        distinguish_shared_ids(&mut first, &[]);
        let mut next = vec![item(placeholder, Some("https://site.example/b"), "B")];
        distinguish_shared_ids(&mut next, &[]);
        assert_ne!(keys(&first), keys(&next), "{placeholder}");
        assert_eq!(
            keys(&next),
            [format!("{placeholder} https://site.example/b")]
        );
    }
    // Several under one: the keys they had as a group, and a lone item's key is the one
    // it has in a group with other links.
    let mut group = vec![
        item("0", Some("https://site.example/b"), "B"),
        item("0", Some("https://site.example/a"), "A"),
    ];
    distinguish_shared_ids(&mut group, &[]);
    assert_eq!(
        keys(&group),
        ["0 https://site.example/b", "0 https://site.example/a"]
    );
    let mut lone = vec![item("0", Some("https://site.example/a"), "A")];
    distinguish_shared_ids(&mut lone, &[]);
    assert_eq!(keys(&lone)[0], keys(&group)[1]);
    // Regression: an item linked to `#` (the feed's own URL with an empty fragment) was
    // keyed by that link, one for every item: its text stands for it, as for a link to
    // the feed's own URL.
    let feed = "https://site.example/rss";
    let mut a = vec![item("#", Some("https://site.example/rss#"), "A")];
    distinguish_shared_ids(&mut a, &[feed]);
    let mut b = vec![item("#", Some("https://site.example/rss#"), "B")];
    distinguish_shared_ids(&mut b, &[feed]);
    assert_ne!(keys(&a), keys(&b));
    assert_eq!(
        keys(&b)[0],
        format!("# {}", item_key("", None, "B", "", None).0)
    );
    // Several sharing their link too, or one entry listed twice: the keys they had.
    let page = "https://site.example/news";
    let mut shared = vec![
        item("0", Some(page), "One"),
        item("0", Some(page), "Two"),
        item("undefined", Some(page), "Three"),
        item("undefined", Some(page), "Three"),
    ];
    distinguish_shared_ids(&mut shared, &[]);
    let one = item_key("", None, "One", "", None).0;
    assert_eq!(keys(&shared)[0], format!("0 {one}"));
    assert_eq!(keys(&shared)[2], "undefined");
    assert_eq!(keys(&shared)[3], "undefined");
    // A real id that is a number is no placeholder.
    for real in ["10", "00", "1"] {
        let mut items = vec![item(real, Some("https://site.example/a"), "A")];
        distinguish_shared_ids(&mut items, &[]);
        assert_eq!(keys(&items), [real]);
    }
    // A lone item without a link: its text's hash.
    let mut bare = vec![item("-1", None, "Bare")];
    distinguish_shared_ids(&mut bare, &[]);
    let hashed = item_key("", None, "Bare", "", None).0;
    assert_eq!(keys(&bare), [format!("-1 {hashed}")]);
}

/// Regression: a feed whose generator puts the section's address in every `<guid>` keyed a
/// lone item by that address and items beside others by address and link: listing one item at
/// a time, each new item was taken for the last one and never alerted.
#[test]
fn a_lone_item_under_its_sections_address_gets_a_key_of_its_own() {
    let section = "https://site.example/news/";
    let a = "https://site.example/news/2024/troops-reach-kursk";
    let b = "https://site.example/news/2024/ceasefire-talks";
    let mut first = vec![item(section, Some(a), "A")];
    distinguish_shared_ids(&mut first, &[]);
    let mut next = vec![item(section, Some(b), "B")];
    distinguish_shared_ids(&mut next, &[]);
    assert_eq!(keys(&first), [format!("{section} {a}")]);
    assert_eq!(keys(&next), [format!("{section} {b}")]);
    // The key a lone item has is the one it has beside others under the same address.
    // A section's name may hold digits.
    let g20 = "https://site.example/tag/g20/";
    let mut tagged = vec![item(g20, Some("https://site.example/tag/g20/summit"), "G")];
    distinguish_shared_ids(&mut tagged, &[]);
    assert_eq!(
        keys(&tagged),
        [format!("{g20} https://site.example/tag/g20/summit")]
    );
    let mut both = vec![item(section, Some(b), "B"), item(section, Some(a), "A")];
    distinguish_shared_ids(&mut both, &[]);
    assert_eq!(keys(&both), [keys(&next)[0], keys(&first)[0]]);
    // An article's own short address keeps its key (a new slug is no new item), and so do
    // ids on another host, with a query, or that are the link itself.
    for (id, link) in [
        (
            "https://site.example/news/123",
            "https://site.example/news/123/troops",
        ),
        (
            "https://site.example/news/123/",
            "https://site.example/news/123/troops",
        ),
        (
            "https://site.example/123-troops/",
            "https://site.example/123-troops/amp",
        ),
        ("https://other.example/news/", a),
        ("https://site.example/?p=3", "https://site.example/?p=3/x"),
        (a, a),
        ("tag:site.example,2024:/news/", a),
    ] {
        let mut lone = vec![item(id, Some(link), "A")];
        distinguish_shared_ids(&mut lone, &[]);
        assert_eq!(keys(&lone), [id], "{id} for {link}");
    }
}

/// Regression: the items of a group under one id were each compared with every other
/// (a feed of 10,000 items under one `<guid>` cost 10^8 steps a poll). Every item still
/// gets its own key, and twins (one link, other texts) are still told apart.
#[test]
fn ten_thousand_items_under_one_guid_get_keys_of_their_own() {
    let mut items: Vec<FeedItem> = (0..10_000)
        .map(|n| {
            let link = format!("https://site.example/{}", n / 2);
            item("0", Some(&link), &format!("item {n}"))
        })
        .collect();
    distinguish_shared_ids(&mut items, &[]);
    let distinct: std::collections::HashSet<&str> = keys(&items).into_iter().collect();
    assert_eq!(distinct.len(), 10_000);
    let hashed = item_key("", None, "item 7", "", None).0;
    assert_eq!(items[7].key.0, format!("0 https://site.example/3 {hashed}"));
}

/// Regression: a JSON Feed id holding `\u0000` went into the item's key as it was, and
/// PostgreSQL refuses NUL in text: every poll of the feed failed to read which items were
/// seen, and none of its items was ever alerted.
#[test]
fn a_nul_in_an_id_does_not_reach_the_key() {
    let body = br#"{"version": "https://jsonfeed.org/version/1.1", "title": "t",
        "items": [{"id": "a\u0000b", "title": "North Korean troops", "url": "https://x.example/1"}]}"#;
    let Ok(crate::feed::Parsed::Feed(doc)) = crate::feed::parse(body, None, None) else {
        panic!("the feed did not parse");
    };
    assert_eq!(doc.items[0].key.0, "a\u{FFFD}b");
    assert_eq!(bounded_key("x\0y".into()), "x\u{FFFD}y");
}

/// One entry listed twice (same id and link) stays one item, under its plain id.
#[test]
fn an_entry_listed_twice_keeps_its_one_key() {
    let mut items = vec![
        item("g1", Some("https://x.example/1"), "One"),
        item("g1", Some("https://x.example/1"), "One"),
        item("g2", None, "Two"),
        item("g2", None, "Two"),
    ];
    distinguish_shared_ids(&mut items, &[]);
    assert_eq!(keys(&items), ["g1", "g1", "g2", "g2"]);
}

/// Regression: an item key had no length bound, and PostgreSQL refuses an index entry past
/// about 2,700 bytes: one item with a 3 KB guid (or a link, without a guid) failed the
/// commit of every poll of its feed, none of whose items was ever alerted.
#[test]
fn keys_past_the_bound_keep_their_start_and_a_hash_of_the_whole() {
    let short = "x".repeat(MAX_KEY_BYTES);
    assert_eq!(bounded_key(short.clone()), short);
    let long = format!("urn:feed:{}", "é".repeat(3000));
    let b = bounded_key(long.clone());
    assert!(b.len() <= MAX_KEY_BYTES, "{}", b.len());
    assert!(long.starts_with(b.split(" h:").next().unwrap_or_default()));
    assert_eq!(bounded_key(long.clone()), b, "stable");
    // Two keys alike for their first thousand bytes stay apart.
    assert_ne!(
        bounded_key(format!("{long}a")),
        bounded_key(format!("{long}b"))
    );
    // An id and a link made one key: bounded as a whole.
    let link = format!("https://x.example/{}", "p".repeat(5000));
    let mut items = vec![
        item("same", Some(&link), "A"),
        item("same", Some("https://x.example/b"), "B"),
        item(&long, None, "C"),
    ];
    distinguish_shared_ids(&mut items, &[]);
    assert!(items.iter().all(|it| it.key.0.len() <= MAX_KEY_BYTES));
    assert!(items[0].key.0.starts_with("same https://x.example/ppp"));
    assert_eq!(items[1].key.0, "same https://x.example/b");
    assert_eq!(items[2].key.0, b);
}

#[test]
fn hash_key_separates_fields() {
    // Without the separator "ab"+"c" and "a"+"bc" would collide.
    assert_ne!(
        item_key("", None, "ab", "c", None),
        item_key("", None, "a", "bc", None)
    );
}

#[test]
fn relative_links_resolved() {
    let base = Url::parse("https://example.com/news/").ok();
    assert_eq!(
        absolute_url("a/1", base.as_ref()).as_deref(),
        Some("https://example.com/news/a/1")
    );
    assert_eq!(
        absolute_url("/b", base.as_ref()).as_deref(),
        Some("https://example.com/b")
    );
    assert_eq!(absolute_url("a/1", None), None);
    assert_eq!(
        absolute_url("https://o.org/x", None).as_deref(),
        Some("https://o.org/x")
    );
}

#[test]
fn only_an_item_keyed_by_its_text_has_a_text_alias() {
    let mut it = FeedItem::titled("", "Storm warning");
    it.summary = "Coastal areas".into();
    it.published = chrono::DateTime::from_timestamp(1_700_000_000, 0);
    it.key = item_key("", None, &it.title, &it.summary, it.published);
    let alias = text_alias(&it).unwrap();
    assert!(alias.starts_with("t:"), "{alias}");
    // Another date, the same text: the same alias.
    let mut later = it.clone();
    later.published = chrono::DateTime::from_timestamp(1_700_003_600, 0);
    later.key = item_key("", None, &later.title, &later.summary, later.published);
    assert_ne!(later.key, it.key);
    assert_eq!(text_alias(&later).as_deref(), Some(alias.as_str()));
    // Keyed by a guid, a link, or a shared guid and its text: none.
    for key in [
        "guid-1",
        "https://x.example/a",
        "0 h:0123456789abcdef0123456789abcdef",
    ] {
        it.key = ItemKey(key.into());
        assert_eq!(text_alias(&it), None, "{key}");
    }
}

/// A feed keeps at most 32 shared ids: those a document shows again first, then its new
/// ones, then the rest it knew (a document with many shared ids pushed out ids still in use
/// when its own came first).
#[test]
fn a_feed_keeps_the_shared_ids_a_document_shows_again_first() {
    let known: Vec<String> = (0..32).map(|i| format!("k{i}")).collect();
    let found: Vec<String> = vec!["k31".into(), "new".into()];
    let kept = remember_shared(&found, &known);
    assert_eq!(kept.len(), crate::store::MAX_SHARED_IDS);
    assert_eq!(kept[..3], ["k31", "new", "k0"]);
    assert!(!kept.contains(&"k30".to_string()), "{kept:?}");
    assert_eq!(remember_shared(&[], &known), known);
}
