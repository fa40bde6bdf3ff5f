//! Every supported format yields FeedItems with plain text, absolute links, dates and keys.

use newswatch::feed::{FeedItem, Parsed, ParsedFeed, parse};
use url::Url;

fn feed(body: &str, base: Option<&str>) -> ParsedFeed {
    let base = base.and_then(|b| Url::parse(b).ok());
    match parse(body.as_bytes(), None, base.as_ref()) {
        Ok(Parsed::Feed(feed)) => feed,
        other => panic!("expected a feed, got {other:?}"),
    }
}

fn only_item(feed: &ParsedFeed) -> &FeedItem {
    assert_eq!(feed.items.len(), 1, "{feed:?}");
    &feed.items[0]
}

#[test]
fn rss_2_0() {
    let body = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>World &amp; Co</title>
  <link>https://news.example/world/</link>
  <ttl>15</ttl>
  <item>
    <title>North Korean troops &lt;b&gt;in&lt;/b&gt; Kursk &mdash; report</title>
    <link>articles/1</link>
    <guid isPermaLink="false">  tag:news.example,2024:1 </guid>
    <pubDate>Tue, 22 Oct 2024 10:00:00 GMT</pubDate>
    <description><![CDATA[<p>Ukraine&rsquo;s &lsquo;Victory Plan&rsquo;</p><script>alert(1)</script>]]></description>
    <content:encoded><![CDATA[<p>Para one.</p><p>Para&nbsp;two.</p>]]></content:encoded>
    <category>World</category>
    <category>Asia</category>
    <category>World</category>
    <dc:creator>Jane Doe</dc:creator>
  </item>
</channel>
</rss>"#;
    let feed = feed(body, Some("https://feeds.example/rss.xml"));
    assert_eq!(feed.title.as_deref(), Some("World & Co"));
    assert_eq!(
        feed.site_link.as_deref(),
        Some("https://news.example/world/")
    );
    assert_eq!(feed.ttl, Some(std::time::Duration::from_secs(15 * 60)));
    assert_eq!(feed.encoding, "UTF-8");
    assert!(feed.repairs.is_empty());
    let item = only_item(&feed);
    assert_eq!(item.key.0, "tag:news.example,2024:1");
    assert_eq!(item.title, "North Korean troops in Kursk — report");
    assert_eq!(
        item.link.as_deref(),
        Some("https://news.example/world/articles/1")
    );
    assert_eq!(
        item.published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-10-22T10:00:00+00:00")
    );
    assert_eq!(item.summary, "Ukraine’s ‘Victory Plan’");
    assert_eq!(item.content, "Para one.\n\nPara two.");
    assert_eq!(item.categories, ["World", "Asia"]);
    assert_eq!(item.authors, ["Jane Doe"]);
}

#[test]
fn rss_0_91_and_0_92() {
    for version in ["0.91", "0.92"] {
        let body = format!(
            r#"<rss version="{version}"><channel><title>Old</title><link>http://old.example/</link>
            <item><title>Item &amp; one</title><link>http://old.example/1</link><description>Text &lt;i&gt;here&lt;/i&gt;</description></item>
            </channel></rss>"#
        );
        let feed = feed(&body, None);
        let item = only_item(&feed);
        assert_eq!(item.title, "Item & one", "{version}");
        assert_eq!(item.summary, "Text here", "{version}");
        assert_eq!(
            item.key.0, "http://old.example/1",
            "{version}: key falls back to the link"
        );
    }
}

#[test]
fn rss_1_0_rdf() {
    let body = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="http://rdf.example/"><title>RDF feed</title><link>http://rdf.example/</link>
    <items><rdf:Seq><rdf:li resource="http://rdf.example/a"/></rdf:Seq></items></channel>
  <item rdf:about="http://rdf.example/a">
    <title>RDF item</title><link>http://rdf.example/a</link>
    <description>About &lt;b&gt;RDF&lt;/b&gt;</description>
    <dc:date>2024-10-22T10:00:00Z</dc:date>
    <dc:creator>Ann</dc:creator>
  </item>
</rdf:RDF>"#;
    let feed = feed(body, None);
    assert_eq!(feed.title.as_deref(), Some("RDF feed"));
    let item = only_item(&feed);
    assert_eq!(item.title, "RDF item");
    assert_eq!(item.link.as_deref(), Some("http://rdf.example/a"));
    assert_eq!(item.summary, "About RDF");
    assert!(item.published.is_some());
}

#[test]
fn atom_1_0() {
    let body = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://atom.example/blog/">
  <title type="html">Atom &lt;em&gt;feed&lt;/em&gt;</title>
  <link rel="alternate" href="https://atom.example/"/>
  <link rel="self" href="https://atom.example/feed.atom"/>
  <id>urn:feed</id><updated>2024-10-22T10:00:00Z</updated>
  <entry>
    <title type="text">Atom &amp; entry</title>
    <link rel="replies" href="comments/1"/>
    <link rel="alternate" href="posts/1"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <updated>2024-10-23T10:00:00Z</updated>
    <published>2024-10-22T09:30:00+02:00</published>
    <author><name>Bob</name></author>
    <category term="politics" label="Politics"/>
    <category term="war"/>
    <summary type="html">&lt;p&gt;Summary&lt;/p&gt;</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>XHTML <b>content</b></p><ul><li>one</li></ul></div></content>
  </entry>
</feed>"#;
    let feed = feed(body, None);
    assert_eq!(feed.title.as_deref(), Some("Atom feed"));
    assert_eq!(feed.site_link.as_deref(), Some("https://atom.example/"));
    let item = only_item(&feed);
    assert_eq!(item.key.0, "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a");
    assert_eq!(item.title, "Atom & entry");
    assert_eq!(
        item.link.as_deref(),
        Some("https://atom.example/blog/posts/1")
    );
    assert_eq!(
        item.published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-10-22T07:30:00+00:00")
    );
    assert_eq!(item.summary, "Summary");
    assert_eq!(item.content, "XHTML content\n\none");
    assert_eq!(item.categories, ["Politics", "war"]);
    assert_eq!(item.authors, ["Bob"]);
}

#[test]
fn atom_0_3() {
    let body = r#"<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#">
  <title>Atom 0.3 feed</title>
  <link rel="alternate" type="text/html" href="http://old-atom.example/"/>
  <modified>2004-10-22T10:00:00Z</modified>
  <entry>
    <title>Old entry</title>
    <link rel="alternate" type="text/html" href="http://old-atom.example/1"/>
    <id>tag:old-atom.example,2004:1</id>
    <issued>2004-10-22T10:00:00Z</issued>
    <modified>2004-10-22T11:00:00Z</modified>
    <summary>Old &lt;b&gt;summary&lt;/b&gt;</summary>
    <content type="text/html" mode="escaped">&lt;p&gt;Old content&lt;/p&gt;</content>
    <author><name>Carol</name></author>
  </entry>
</feed>"#;
    let feed = feed(body, None);
    assert_eq!(feed.title.as_deref(), Some("Atom 0.3 feed"));
    let item = only_item(&feed);
    assert_eq!(item.key.0, "tag:old-atom.example,2004:1");
    assert_eq!(item.title, "Old entry");
    assert_eq!(item.link.as_deref(), Some("http://old-atom.example/1"));
    assert_eq!(item.summary, "Old summary");
    assert_eq!(item.content, "Old content");
    assert!(item.published.is_some());
    assert_eq!(item.authors, ["Carol"]);
}

/// Regression: RSS 0.90 (`rdf:RDF` in Netscape's namespace) parsed into no items, without an
/// error: feed-rs reads RSS 1.0's namespace only.
#[test]
fn rss_0_90() {
    let body = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
  <channel>
    <title>Mozilla Dot Org</title>
    <link>http://www.mozilla.org</link>
    <description>the Mozilla Organization web site</description>
  </channel>
  <item>
    <title>North Korean troops reach Kursk</title>
    <link>http://www.mozilla.org/status/1</link>
  </item>
</rdf:RDF>"#;
    let feed = feed(body, None);
    assert_eq!(feed.title.as_deref(), Some("Mozilla Dot Org"));
    let item = only_item(&feed);
    assert_eq!(item.title, "North Korean troops reach Kursk");
    assert_eq!(
        item.link.as_deref(),
        Some("http://www.mozilla.org/status/1")
    );
}

/// Regression: RSS 2.0 with UserLand's default namespace on `<rss>` parsed into no items.
#[test]
fn rss_2_0_in_userland_namespace() {
    let body = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns="http://backend.userland.com/rss2"><channel><title>t</title>
<item><title>North Korean troops reach Kursk</title><link>https://x.example/1</link></item>
</channel></rss>"#;
    let item = only_item(&feed(body, None)).clone();
    assert_eq!(item.title, "North Korean troops reach Kursk");
    // Other namespaces on `<rss>` are left alone.
    let other = body.replace(
        "xmlns=\"http://backend.userland.com/rss2\"",
        "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"",
    );
    assert_eq!(only_item(&feed(&other, None)).title, item.title);
}

#[test]
fn json_feed() {
    let body = r#"{
      "version": "https://jsonfeed.org/version/1.1",
      "title": "JSON &amp; feed",
      "home_page_url": "https://json.example/",
      "items": [
        {"id": "1", "url": "https://json.example/1", "title": "First",
         "content_html": "<p>Hello <b>world</b></p>", "summary": "Short",
         "date_published": "2024-10-22T10:00:00Z", "tags": ["a", "b"],
         "authors": [{"name": "Dee"}]},
        {"id": "2", "title": "Second", "content_text": "Plain\n\nlines"}
      ]
    }"#;
    let feed = feed(body, None);
    assert_eq!(feed.title.as_deref(), Some("JSON & feed"));
    assert_eq!(feed.site_link.as_deref(), Some("https://json.example/"));
    assert_eq!(feed.items.len(), 2);
    let first = &feed.items[0];
    assert_eq!(first.key.0, "1");
    assert_eq!(first.content, "Hello world");
    assert_eq!(first.summary, "Short");
    assert_eq!(first.categories, ["a", "b"]);
    assert_eq!(first.authors, ["Dee"]);
    assert!(first.published.is_some());
    assert_eq!(feed.items[1].content, "Plain\n\nlines");
}

#[test]
fn relative_item_link_resolved_against_base_url_when_feed_has_no_link() {
    let body = r#"<rss version="2.0"><channel><title>t</title><item><title>x</title><link>/a/b</link></item></channel></rss>"#;
    let feed = feed(body, Some("https://base.example/feed.xml"));
    assert_eq!(
        only_item(&feed).link.as_deref(),
        Some("https://base.example/a/b")
    );
}

#[test]
fn missing_and_bad_dates_are_none() {
    let body = r#"<rss version="2.0"><channel><item><title>a</title><pubDate>yesterday-ish</pubDate></item><item><title>b</title></item></channel></rss>"#;
    let feed = feed(body, None);
    assert!(feed.items.iter().all(|item| item.published.is_none()));
}

#[test]
fn updated_used_when_published_missing() {
    let body = r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><title>t</title><updated>2024-10-22T10:00:00Z</updated></entry></feed>"#;
    let feed = feed(body, None);
    assert!(only_item(&feed).published.is_some());
}

#[test]
fn feed_item_serializes_with_transparent_key() {
    let body = r#"<rss version="2.0"><channel><item><guid>g1</guid><title>t</title></item></channel></rss>"#;
    let feed = feed(body, None);
    let json = serde_json::to_value(only_item(&feed)).unwrap_or_default();
    assert_eq!(json["key"], "g1");
    assert_eq!(json["title"], "t");
}
