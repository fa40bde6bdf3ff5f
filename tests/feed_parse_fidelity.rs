//! What `parse` keeps of ordinary feeds' text and links: plain text from typed and untyped
//! fields, double-encoded UTF-8, RSS 1.0 items, raw markup, permalink guids and `xml:base`.

mod parse_support;

use newswatch::feed::{Parsed, Repair, parse};
use parse_support::{assert_repaired, parse_feed, parse_feed_at, rss_items};
use url::Url;

/// A ~1.5 KB single-item feed, the shape a typical news item has.
fn typical_feed() -> String {
    let paragraph = "<p>North Korean troops have been seen near the front, officials said on Tuesday, as Kyiv presented its &lsquo;Victory Plan&rsquo; to allies.</p>";
    let body = paragraph
        .repeat(7)
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let feed = rss_items(&format!(
        "<item><title>North Korean troops &amp; the Victory Plan</title><link>https://news.example/world/1</link>\
         <guid>https://news.example/world/1</guid><pubDate>Tue, 22 Oct 2024 10:00:00 GMT</pubDate>\
         <category>World</category><description>{body}</description></item>"
    ));
    assert!((1200..2000).contains(&feed.len()), "{}", feed.len());
    feed
}

// How fast a small item parses is measured by the benchmark, not here (a timed test fails on
// a loaded machine and proves nothing on a fast one): `cargo bench --bench articles`, whose
// short items run the same parse + HTML-to-text pipeline (README "Performance").
#[test]
fn a_typical_item_parses_to_plain_text() {
    let feed = typical_feed();
    let Ok(Parsed::Feed(parsed)) = parse(feed.as_bytes(), Some("application/rss+xml"), None) else {
        panic!("the typical feed did not parse as a feed");
    };
    assert_eq!(parsed.items.len(), 1);
    let item = &parsed.items[0];
    assert_eq!(item.title, "North Korean troops & the Victory Plan");
    assert_eq!(item.link.as_deref(), Some("https://news.example/world/1"));
    // The escaped HTML became text: no tags, entities decoded, paragraphs kept apart.
    assert!(!item.summary.contains('<'), "{}", item.summary);
    assert_eq!(
        item.summary.matches("‘Victory Plan’").count(),
        7,
        "{}",
        item.summary
    );
}

#[test]
fn double_encoded_utf8_fields_were_left_as_mojibake() {
    let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Ã‰chos</title>\n\
<item><title>CafÃ© crÃ¨me: Ukraineâ€™s â€˜Victory Planâ€™</title>\n\
<description>&lt;p&gt;Zelenskyy presents the plan â€” again&lt;/p&gt;</description>\n\
<category>Ã‰conomie</category><link>https://news.example/1</link></item>\n\
<item><title>Café and CafÃ© in one field</title><description>ACCIÓN…</description>\n\
<link>https://news.example/2</link></item></channel></rss>";
    let feed = match parse(body.as_bytes(), None, None) {
        Ok(Parsed::Feed(feed)) => feed,
        other => panic!("expected a feed, got {other:?}"),
    };
    assert_eq!(feed.title.as_deref(), Some("Échos"));
    let first = &feed.items[0];
    assert_eq!(first.title, "Café crème: Ukraine’s ‘Victory Plan’");
    assert_eq!(first.summary, "Zelenskyy presents the plan — again");
    assert_eq!(first.categories, vec!["Économie".to_owned()]);
    // Not consistently double-encoded: kept as written.
    let second = &feed.items[1];
    assert_eq!(second.title, "Café and CafÃ© in one field");
    assert_eq!(second.summary, "ACCIÓN…");
}

#[test]
fn rss_1_0_items_without_link_were_dropped() {
    let body = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://wire.example/rss">
    <title>Wire</title><link>https://wire.example/</link><description>d</description>
  </channel>
  <item rdf:about="https://wire.example/1"><title>Linked</title><link>https://wire.example/one</link></item>
  <item rdf:about="https://wire.example/2"><title>About only</title><description>North Korean troops</description></item>
  <item><title>Neither</title><description>Victory Plan</description><dc:date>2024-10-22T10:00:00Z</dc:date></item>
</rdf:RDF>"#;
    let first = match parse(body.as_bytes(), None, None) {
        Ok(Parsed::Feed(feed)) => feed,
        other => panic!("expected a feed, got {other:?}"),
    };
    let titles: Vec<&str> = first.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["Linked", "About only", "Neither"]);
    assert_eq!(
        first.items[0].link.as_deref(),
        Some("https://wire.example/one")
    );
    // RSS 1.0: rdf:about is the item's URI, the same as its link.
    assert_eq!(
        first.items[1].link.as_deref(),
        Some("https://wire.example/2")
    );
    assert_eq!(first.items[1].summary, "North Korean troops");
    let neither = &first.items[2];
    assert_eq!(neither.link, None);
    assert_eq!(neither.summary, "Victory Plan");
    assert!(neither.key.0.starts_with("h:"), "{:?}", neither.key);
    // The key is stable across parses.
    let Ok(Parsed::Feed(second)) = parse(body.as_bytes(), None, None) else {
        panic!("second parse failed");
    };
    assert_eq!(second.items[2].key, neither.key);
}

/// Regression: text fields the format types as plain text were read as HTML, so a `<` in them
/// started a "tag" and the words after it were lost to matching: an Atom `type="text"` title
/// about a `<script>` tag kept only "XSS via", a JSON Feed title "Why x <y matters" only
/// "Why x".
#[test]
fn fields_typed_as_plain_text_keep_their_angle_brackets() {
    let atom = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id><updated>2024-10-21T09:30:00Z</updated>
        <entry><id>urn:1</id><title type="text">XSS via &lt;script&gt; tag in Foo CMS patched</title><updated>2024-10-21T09:30:00Z</updated>
        <summary>a &lt; b, and &lt;c&gt; stays</summary>
        <content type="html">&lt;p&gt;An &lt;b&gt;HTML&lt;/b&gt; body&lt;/p&gt;</content></entry></feed>"#;
    let item = &parse_feed(atom).items[0];
    assert_eq!(item.title, "XSS via <script> tag in Foo CMS patched");
    assert_eq!(item.summary, "a < b, and <c> stays");
    assert_eq!(item.content, "An HTML body");
    let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[
        {"id":"1","title":"Why x <y matters","content_text":"Compare a<b and <script> tags in news","url":"https://example.org/1"},
        {"id":"2","title":"Two","content_html":"<p>An <b>HTML</b> body</p>","url":"https://example.org/2"}]}"#;
    let items = parse_feed(json).items;
    assert_eq!(items[0].title, "Why x <y matters");
    assert_eq!(items[0].content, "Compare a<b and <script> tags in news");
    assert_eq!(items[1].content, "An HTML body");
}

/// RSS does not type its fields: a title with escaped markup (common in the wild) is read as
/// HTML, as before; so is a plain-typed Atom field that looks like HTML (see
/// `feed_formats::atom_0_3`).
#[test]
fn rss_titles_with_escaped_markup_are_still_read_as_html() {
    let body = rss_items(
        "<item><title>&lt;b&gt;Breaking&lt;/b&gt; news</title><link>https://example.org/1</link></item>",
    );
    assert_eq!(parse_feed(&body).items[0].title, "Breaking news");
}

/// Regression: an RSS title was always read as HTML, so a title about markup lost its words
/// after the first `<script>` ("XSS via &lt;script&gt; tag in Foo CMS" read "XSS via") and a
/// `<` with no `>` after it swallowed the rest of a title or description ("Why a&lt;b
/// fails" read "Why a"): a watch on "Foo CMS" or "Postgres" missed them.
#[test]
fn an_rss_title_about_markup_keeps_its_words() {
    let body = rss_items(
        "<item><title>XSS via &lt;script&gt; tag in Foo CMS</title><link>https://example.org/1</link>\
         <description>Why a&lt;b fails in Postgres</description></item>\
         <item><title>Why a&lt;b fails in Postgres</title><link>https://example.org/2</link>\
         <description>&lt;p&gt;Kept &lt;b&gt;bold&lt;/b&gt;&lt;/p&gt;</description></item>",
    );
    let items = parse_feed(&body).items;
    assert_eq!(items[0].title, "XSS via <script> tag in Foo CMS");
    assert_eq!(items[0].summary, "Why a<b fails in Postgres");
    assert_eq!(items[1].title, "Why a<b fails in Postgres");
    assert_eq!(items[1].summary, "Kept bold");
}

/// Regression: one item with raw HTML in its description (`x<br>y`, a `<p>` never closed) or
/// a bare `<` in its title failed the whole feed ("not a feed: XML parse error"), so every
/// item of it was lost on every poll until the publisher fixed it.
#[test]
fn raw_markup_in_one_item_does_not_lose_the_feed() {
    let body = rss_items(
        "<item><title>5 < 6 in the polls</title><link>https://example.org/1</link>\
         <description>x<br>y <p>Victory Plan</description></item>\
         <item><title>Clean</title><link>https://example.org/2</link><description>ok</description></item>",
    );
    let feed = assert_repaired(&body, Repair::RawMarkup);
    assert_eq!(feed.items.len(), 2);
    assert_eq!(feed.items[0].title, "5 < 6 in the polls");
    assert_eq!(feed.items[0].summary, "x\ny\n\nVictory Plan");
    assert_eq!(feed.items[1].title, "Clean");
}

/// Regression: HTML written unescaped into a text element is well-formed XML when its tags
/// close, and the parser then read the element's text only up to its first tag:
/// "Officials said <em>North Korean troops</em> crossed" was the summary "Officials said ",
/// and a description that opens with `<p>` was empty. The watch never saw the words.
#[test]
fn well_formed_raw_html_in_a_description_keeps_all_its_words() {
    let body = rss_items(
        "<item><title>Front line</title><link>https://example.org/1</link>\
         <description>Officials said <em>North Korean troops</em> crossed the border.</description></item>\
         <item><title>Second</title><link>https://example.org/2</link>\
         <description><p>Kyiv presented the <b>Victory Plan</b>.</p></description>\
         <content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><p>Full <i>text</i> here.</p></content:encoded></item>",
    );
    let feed = assert_repaired(&body, Repair::RawMarkup);
    assert_eq!(
        feed.items[0].summary,
        "Officials said North Korean troops crossed the border."
    );
    assert_eq!(feed.items[1].summary, "Kyiv presented the Victory Plan.");
    assert_eq!(feed.items[1].content, "Full text here.");
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
        <entry><id>urn:1</id><title type="html">A <b>bold</b> title</title>
        <summary type="html">Seen: <em>North Korean troops</em> in Kursk.</summary>
        <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Kept <b>as</b> xhtml.</div></content></entry></feed>"#;
    let feed = assert_repaired(atom, Repair::RawMarkup);
    assert_eq!(feed.items[0].title, "A bold title");
    assert_eq!(feed.items[0].summary, "Seen: North Korean troops in Kursk.");
    assert_eq!(feed.items[0].content, "Kept as xhtml.");
}

/// Regression: an RSS item with a permalink `<guid>` and no `<link>` (the form the RSS spec
/// allows, and blogs such as scripting.com use) had no link, or its `<comments>` page stood
/// for it: the alert linked nowhere or to the comments, full text was never fetched and a
/// repeat of the story in another feed was not recognised.
#[test]
fn a_permalink_guid_is_the_link_of_an_item_without_one() {
    let feed = parse_feed(&rss_items(
        "<item><title>Permalink only</title><guid>https://example.org/2024/10/21/a</guid>\
         <comments>https://example.org/2024/10/21/a#comments</comments></item>\
         <item><title>Opaque id</title><guid isPermaLink=\"false\">post-17</guid>\
         <comments>https://example.org/p/17#comments</comments></item>\
         <item><title>Both</title><guid>https://example.org/?p=18</guid><link>https://example.org/p/18</link></item>\
         <item><title>Front page id</title><guid>https://example.org/</guid></item>",
    ));
    let links: Vec<_> = feed.items.iter().map(|i| i.link.as_deref()).collect();
    assert_eq!(
        links,
        [
            Some("https://example.org/2024/10/21/a"),
            Some("https://example.org/p/17#comments"),
            Some("https://example.org/p/18"),
            None,
        ]
    );
    assert_eq!(feed.items[0].key.0, "https://example.org/2024/10/21/a");
}

/// The wrapping of child elements before the first parse touches only text elements that hold
/// elements: not Atom `type="xhtml"` content (whose XHTML may hold a `<summary>` or `<title>`
/// of its own: wrapped, it showed its tags as text), not a JSON Feed's strings, not an
/// element whose only markup is a comment (the parser reads past those).
#[test]
fn only_text_elements_with_child_elements_are_wrapped_before_parsing() {
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
        <entry><id>urn:1</id><title>One<!-- cached --></title>
        <content type = "xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><details><summary>Show <b>code</b></summary>Body</details></div></content>
        <summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><title>Inner</title> text</div></summary></entry></feed>"#;
    let feed = parse_feed(atom);
    assert_eq!(feed.repairs, vec![]);
    assert_eq!(feed.items[0].title, "One");
    assert!(
        !feed.items[0].content.contains('<'),
        "{:?}",
        feed.items[0].content
    );
    assert!(
        feed.items[0].content.contains("Show code"),
        "{:?}",
        feed.items[0].content
    );
    assert!(
        !feed.items[0].summary.contains('<'),
        "{:?}",
        feed.items[0].summary
    );
    let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1","title":"<title>x</title>","content_text":"<summary>a <b>b</b></summary>"}]}"#;
    let feed = parse_feed(json);
    assert_eq!(feed.repairs, vec![]);
    assert_eq!(feed.items[0].content, "<summary>a <b>b</b></summary>");
}

/// Regression: a relative `xml:base` in an Atom feed was dropped (the parser had no base to
/// resolve it against), so `<feed xml:base="/blog/">` with an entry link `2024/p.html` linked
/// to the site's `/2024/p.html`, not `/blog/2024/p.html`: a broken link in the alert and no
/// full text. Atom's relative references are resolved against the document's URL (RFC 4287),
/// RSS's against the channel link as before.
#[test]
fn a_relative_xml_base_in_atom_resolves_against_the_feed_url() {
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/blog/"><title>t</title>
        <link rel="alternate" href="https://example.org/"/>
        <entry><id>urn:1</id><title>One</title><link href="2024/p.html"/></entry></feed>"#;
    let url = Url::parse("https://example.org/feeds/all.atom").unwrap();
    let Ok(Parsed::Feed(feed)) = parse(atom.as_bytes(), None, Some(&url)) else {
        panic!("not a feed");
    };
    assert_eq!(
        feed.items[0].link.as_deref(),
        Some("https://example.org/blog/2024/p.html")
    );
    // The base is the feed's URL without its credentials or query: a link resolved against it
    // is shown in alerts. Without a relative `xml:base`, links resolve as before, against the
    // alternate link.
    let secret = Url::parse("https://user:pw@example.org/feeds/all.atom?token=s3cret").unwrap();
    let empty = atom.replace("2024/p.html", "");
    let Ok(Parsed::Feed(feed)) = parse(empty.as_bytes(), None, Some(&secret)) else {
        panic!("not a feed");
    };
    let link = feed.items[0].link.clone().unwrap_or_default();
    assert!(!link.contains("s3cret") && !link.contains("pw"), "{link}");
    let plain = atom.replace(" xml:base=\"/blog/\"", "");
    let Ok(Parsed::Feed(feed)) = parse(plain.as_bytes(), None, Some(&url)) else {
        panic!("not a feed");
    };
    assert_eq!(
        feed.items[0].link.as_deref(),
        Some("https://example.org/2024/p.html")
    );
    let rss = rss_items(
        "<link>https://site.example/news/</link><item><title>x</title><link>2024/q.html</link></item>",
    );
    let Ok(Parsed::Feed(feed)) = parse(rss.as_bytes(), None, Some(&url)) else {
        panic!("not a feed");
    };
    assert_eq!(
        feed.items[0].link.as_deref(),
        Some("https://site.example/news/2024/q.html")
    );
}

/// Regression: an `xml:base` that is no URL (a host with a space) failed the whole document,
/// reported as "root element <feed> is not RSS, Atom or RDF": every item lost on every poll.
#[test]
fn an_xml_base_that_is_no_url_does_not_lose_the_feed() {
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://exa mple.org/"><title>t</title>
        <entry><id>urn:1</id><title>North Korean troops</title><link href="https://example.org/a"/></entry></feed>"#;
    let feed = assert_repaired(atom, Repair::XmlBase);
    assert_eq!(feed.items[0].title, "North Korean troops");
    assert_eq!(feed.items[0].link.as_deref(), Some("https://example.org/a"));
}

/// Regression: a JSON Feed with numeric item ids (JSON Feed 1.1: readers coerce them to
/// strings) or without `version` failed as a whole ("invalid JSON Feed").
#[test]
fn a_json_feed_with_numeric_ids_and_no_version_is_read() {
    let body = r#"{"title":"t","items":[{"id":123,"title":"North Korean troops","url":"https://example.org/1"},{"id":124,"title":"Two"}]}"#;
    let feed = assert_repaired(body, Repair::JsonFeed);
    assert_eq!(feed.items.len(), 2);
    assert_eq!(feed.items[0].key.0, "123");
    assert_eq!(feed.items[0].title, "North Korean troops");
}

/// Regression: a PHP warning printed before a feed comes with `Content-Type: text/html` (PHP
/// can no longer send the feed's header once output started), and the feed was taken for an
/// HTML page without a feed link: it failed on every poll. The same body with an XML type was
/// read through the leading-garbage repair, and now it is with either.
#[test]
fn a_feed_after_a_php_warning_served_as_html_is_read() {
    let body = format!(
        "<br />\n<b>Warning</b>:  Cannot modify header information - headers already sent in \
         <b>/var/www/feed.php</b> on line <b>3</b><br />\n{}",
        rss_items(
            "<item><title>North Korean troops</title><link>https://example.org/1</link></item>"
        )
    );
    for ct in ["text/html; charset=UTF-8", "text/xml"] {
        match parse(body.as_bytes(), Some(ct), None) {
            Ok(Parsed::Feed(feed)) => {
                assert_eq!(feed.items[0].title, "North Korean troops", "{ct}");
                assert!(feed.repairs.contains(&Repair::LeadingGarbage), "{ct}");
            }
            other => panic!("{ct}: expected a feed, got {other:?}"),
        }
    }
    // An HTML page is still one.
    let page = "<html><head><title>x</title></head><body><p>no feed</p></body></html>";
    assert!(parse(page.as_bytes(), Some("text/html"), None).is_err());
}

/// Regression: the encoding declared after more than 1 KiB of PHP warnings was not seen by the
/// decoder (it looked 1 KiB in) but was by the parser once the junk was cut: the text, already
/// decoded, was decoded again as windows-1251, and every Cyrillic title came out garbled (or,
/// with a long declaration, the parser crashed).
#[test]
fn a_legacy_encoding_declared_after_long_junk_is_decoded_once() {
    let warning = "<br />\n<b>Warning</b>:  Undefined variable $x in <b>/var/www/feed.php</b> on line <b>3</b><br />\n";
    let feed = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss version=\"2.0\"><channel><title>t</title>\
         <item><title>Войска КНДР в Курске</title><link>https://example.org/1</link></item></channel></rss>";
    let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(feed);
    for junk in [1, 20, 200] {
        let mut body = warning.repeat(junk).into_bytes();
        body.extend_from_slice(&cp1251);
        match parse(&body, Some("text/xml"), None) {
            Ok(Parsed::Feed(f)) => {
                assert_eq!(
                    f.items[0].title,
                    "Войска КНДР в Курске",
                    "{} bytes of junk",
                    body.len() - cp1251.len()
                );
                assert_eq!(f.encoding, "windows-1251");
            }
            other => panic!("{junk} warnings: expected a feed, got {other:?}"),
        }
    }
}

/// Regression: a feed that lists one item at a time with the site's address as every guid
/// gave each new item the key of the one before: the new item was taken as seen and never
/// alerted. An id that is the feed's own address keys its item with the link, even alone.
#[test]
fn a_lone_item_whose_guid_is_the_site_address_is_keyed_by_its_link() {
    let one = |n: u32| {
        format!(
            r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://s.example/</link>
            <item><title>Item {n}</title><guid>https://s.example/</guid><link>https://s.example/{n}</link></item></channel></rss>"#
        )
    };
    let first = parse_feed(&one(1)).items[0].key.clone();
    let second = parse_feed(&one(2)).items[0].key.clone();
    assert_ne!(first, second);
    assert_eq!(second.0, "https://s.example/ https://s.example/2");
    // Listed with others it gets the same key, whatever the order.
    let both = rss_items(
        "<item><title>Item 3</title><guid>https://s.example/</guid><link>https://s.example/3</link></item>\
         <item><title>Item 2</title><guid>https://s.example/</guid><link>https://s.example/2</link></item>",
    )
    .replace("<title>t</title>", "<title>t</title><link>https://s.example/</link>");
    assert_eq!(parse_feed(&both).items[1].key, second);
}

/// Regression: an item's relative link was resolved against the URL the feed was fetched from,
/// credentials and query included: a feed at `https://alice:s3cret@…/news.rss?token=…` without
/// a site link sent the password with every alert's link (to every sink, the status page, the
/// webhook's `data.link`), and `<link>#post-5</link>` sent the token too. The rest of the
/// query stays: that link is a post of the page the query names.
#[test]
fn a_feeds_credentials_never_reach_its_items_links_or_keys() {
    let url = Url::parse(
        "https://alice:s3cret@intranet.example/news.rss?token=abc&lang=en&feedkey=fk&spaceKey=ENG",
    )
    .unwrap();
    let body = rss_items(
        "<item><title>Troops reach Kursk</title><link>/news/42</link></item>\
         <item><guid>g-2</guid><title>Talks resume</title><link>#post-5</link></item>\
         <item><title>Victory Plan</title><link>?id=7</link></item>",
    );
    let Ok(Parsed::Feed(feed)) = parse(body.as_bytes(), None, Some(&url)) else {
        panic!("not a feed")
    };
    let links: Vec<Option<&str>> = feed.items.iter().map(|i| i.link.as_deref()).collect();
    assert_eq!(
        links,
        [
            Some("https://intranet.example/news/42"),
            Some("https://intranet.example/news.rss?lang=en&spaceKey=ENG#post-5"),
            Some("https://intranet.example/news.rss?id=7"),
        ]
    );
    for it in &feed.items {
        for secret in ["s3cret", "alice", "token", "feedkey"] {
            assert!(
                !it.key.0.contains(secret),
                "{secret} in the key {}",
                it.key.0
            );
        }
    }
}

/// Regression: the parser copies the `xml:base` in force into every link it resolves, so a
/// long base and many links multiplied: a 20 KB base and 20,000 one-letter links (a 340 KB
/// document) took 400 MB. Such bases are dropped before the parse.
#[test]
fn a_long_xml_base_over_many_links_is_dropped_not_copied_into_each() {
    let atom = format!(
        r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://e.example/{}/"><title>t</title><id>i</id>
        <entry><id>urn:1</id><title>North Korean troops</title><link href="https://example.org/a"/>{}</entry></feed>"#,
        "a".repeat(20_000),
        r#"<link rel="related" href="x"/>"#.repeat(20_000)
    );
    let feed = assert_repaired(&atom, Repair::CostlyXmlBase);
    assert_eq!(feed.items[0].link.as_deref(), Some("https://example.org/a"));
    // A base of ordinary length stays.
    let atom = atom.replace(&"a".repeat(20_000), "news");
    let Ok(Parsed::Feed(feed)) = parse(atom.as_bytes(), None, None) else {
        panic!("an ordinary base parses");
    };
    assert!(!feed.repairs.contains(&Repair::CostlyXmlBase));
}

/// Regression: relative item links were resolved against the channel's site link, however
/// long, each copying it: a 100 KB site link and 1,000 items (a 150 KB feed) took 300 MB. A
/// site link past 2 KB is no base; the feed's own address is.
#[test]
fn a_long_site_link_is_no_base_for_item_links() {
    let items: String = (0..3)
        .map(|i| format!("<item><title>t{i}</title><link>{i}.html</link></item>"))
        .collect();
    let rss = format!(
        "<rss version=\"2.0\"><channel><title>t</title><link>https://site.example/{}/</link>{items}</channel></rss>",
        "a".repeat(100_000)
    );
    let base = Url::parse("https://feeds.example/news/rss.xml").ok();
    let feed = parse_feed_at(&rss, base.as_ref());
    assert_eq!(
        feed.items[0].link.as_deref(),
        Some("https://feeds.example/news/0.html")
    );
}

/// Regression: the address a feed was fetched from is the base of its relative links, and it
/// was used however long (a server can redirect to a 400 KB address): each link copied it,
/// and an Atom feed with a relative `xml:base` had the parser copy it into every element. An
/// address past 2 KB is no base.
#[test]
fn a_long_feed_address_is_no_base_for_item_links() {
    let long = Url::parse(&format!(
        "https://feeds.example/{}/rss.xml",
        "a".repeat(100_000)
    ))
    .ok();
    let rss = "<rss version=\"2.0\"><channel><title>t</title><item><title>t</title><link>0.html</link></item></channel></rss>";
    let feed = parse_feed_at(rss, long.as_ref());
    assert!(feed.items[0].link.as_ref().is_none_or(|l| l.len() < 4096));
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="x/"><title>t</title><id>i</id>
        <entry><id>urn:1</id><title>t</title><link href="a"/></entry></feed>"#;
    let feed = parse_feed_at(atom, long.as_ref());
    assert!(feed.items[0].link.as_ref().is_none_or(|l| l.len() < 4096));
    // An address of ordinary length is the base, as before.
    let short = Url::parse("https://feeds.example/news/rss.xml").ok();
    let feed = parse_feed_at(rss, short.as_ref());
    assert_eq!(
        feed.items[0].link.as_deref(),
        Some("https://feeds.example/news/0.html")
    );
}
