//! RSS 1.0 (RDF) items without `<link>`, which feed-rs drops.
//!
//! feed-rs keeps an RSS 1.0 item only when it has a link. Before parsing an `rdf:RDF` document,
//! [`add_missing_item_links`] gives every `<item>` without one a `<link>`: its `rdf:about` when
//! that is an absolute http(s) URL (RSS 1.0 says the two are the same), else the placeholder
//! [`NO_LINK`], which [`crate::feed::parse`] removes again after parsing, so the item has no link
//! and its key comes from its text. Crossing the boundary: decoded text in, the text with links
//! added out (`None` when nothing was missing).

use feed_rs::model::Feed;
use quick_xml::events::{BytesStart, Event};

/// Placeholder link of items that had none; never shown, removed right after parsing.
pub(crate) const NO_LINK: &str = "urn:x-newswatch:no-link";

/// The document with a `<link>` added to every RSS 1.0 item lacking one, or `None`.
pub(crate) fn add_missing_item_links(text: &str) -> Option<String> {
    let root = crate::feed::repair::root_start_tag(text)?;
    if local_name(root.name) != "RDF" {
        return None;
    }
    let mut reader = quick_xml::Reader::from_str(text);
    // Insertions: (offset just after the item's start tag, the link element to insert).
    let mut inserts: Vec<(usize, String)> = Vec::new();
    // The open item: where its start tag ends, its link element name, its `rdf:about`, and
    // whether a link was seen; with the depth inside it.
    let mut open: Option<(usize, String, Option<String>, bool)> = None;
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().ok()?;
        let position = usize::try_from(reader.buffer_position()).ok()?;
        match event {
            Event::Start(start) => {
                depth += 1;
                match &mut open {
                    None if depth == 2 && local_name(start.name().into_inner()) == "item" => {
                        let (link, about) = item_link_and_about(&start);
                        open = Some((position, link, about, false));
                    }
                    Some((_, _, _, seen)) if depth == 3 => {
                        *seen |= local_name(start.name().into_inner()) == "link";
                    }
                    _ => {}
                }
            }
            Event::Empty(empty) => {
                if let Some((_, _, _, seen)) = &mut open
                    && depth == 2
                {
                    *seen |= local_name(empty.name().into_inner()) == "link";
                }
            }
            Event::End(_) => {
                if depth == 2
                    && let Some((at, name, about, seen)) = open.take()
                    && !seen
                {
                    // The raw attribute value (references still escaped) is valid element text.
                    let href = about.filter(|a| is_web_url(a));
                    let href = href.as_deref().unwrap_or(NO_LINK);
                    inserts.push((at, format!("<{name}>{href}</{name}>")));
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if inserts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len() + inserts.len() * 64);
    let mut pos = 0;
    for (at, link) in inserts {
        out.push_str(text.get(pos..at)?);
        out.push_str(&link);
        pos = at;
    }
    out.push_str(text.get(pos..)?);
    Some(out)
}

/// The link element name for an item (same prefix as the item) and its `rdf:about`.
fn item_link_and_about(start: &BytesStart<'_>) -> (String, Option<String>) {
    let name = start.name().into_inner().to_owned();
    let link = match name.rsplit_once(':') {
        Some((prefix, _)) => format!("{prefix}:link"),
        None => "link".to_owned(),
    };
    let about = start
        .attributes()
        .flatten()
        .find_map(|a| (local_name(a.key.into_inner()) == "about").then(|| a.value.to_string()));
    (link, about)
}

fn local_name(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn is_web_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// Removes the [`NO_LINK`] placeholders [`add_missing_item_links`] put in.
pub(crate) fn drop_placeholder_links(feed: &mut Feed) {
    for entry in &mut feed.entries {
        entry.links.retain(|link| link.href != NO_LINK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_added_only_where_missing() {
        let text = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://x.example/"><title>X</title><link>https://x.example/</link></channel>
<item rdf:about="https://x.example/1"><title>one</title><link>https://x.example/one</link></item>
<item rdf:about="https://x.example/2"><title>two</title></item>
<item rdf:about="urn:uuid:3"><title>three</title><dc:subject><x/></dc:subject></item>
<item><title>four</title><description>d</description></item>
</rdf:RDF>"#;
        let fixed = add_missing_item_links(text).unwrap_or_default();
        assert!(fixed.contains(r#"<item rdf:about="https://x.example/2"><link>https://x.example/2</link><title>two</title>"#), "{fixed}");
        assert!(fixed.contains(r#"<item rdf:about="urn:uuid:3"><link>urn:x-newswatch:no-link</link><title>three</title>"#), "{fixed}");
        assert!(
            fixed.contains("<item><link>urn:x-newswatch:no-link</link><title>four</title>"),
            "{fixed}"
        );
        assert_eq!(fixed.matches("<link>").count(), 5, "{fixed}");
    }

    #[test]
    fn prefixed_items_get_prefixed_links() {
        let text = r#"<rdf:RDF xmlns:rdf="r" xmlns:rss="http://purl.org/rss/1.0/"><rss:item><rss:title>t</rss:title></rss:item></rdf:RDF>"#;
        assert_eq!(
            add_missing_item_links(text).as_deref(),
            Some(
                r#"<rdf:RDF xmlns:rdf="r" xmlns:rss="http://purl.org/rss/1.0/"><rss:item><rss:link>urn:x-newswatch:no-link</rss:link><rss:title>t</rss:title></rss:item></rdf:RDF>"#
            )
        );
    }

    #[test]
    fn other_documents_untouched() {
        assert_eq!(
            add_missing_item_links("<rss><channel><item><title>t</title></item></channel></rss>"),
            None
        );
        assert_eq!(
            add_missing_item_links("<rdf:RDF><item><link>l</link></item></rdf:RDF>"),
            None
        );
        assert_eq!(
            add_missing_item_links("<rdf:RDF><item><title>t</item></rdf:RDF>"),
            None
        );
        assert_eq!(add_missing_item_links(""), None);
    }
}
