//! Links as the addresses of stories: the canonical form two feeds' links to one article share
//! (the cross-feed repeat rule's `link_seen`, the grouping's same-link rule, the page cache),
//! and the links a document's items share, which are no one story's address.
//!
//! Owns [`canonical_link`], [`shared_links`] and [`own_link`]; strings in, strings out.

use std::collections::{HashMap, HashSet};

/// The canonical form of a link for cross-feed repeat detection (and the page cache's key):
/// scheme and host lower-cased, tracking parameters (see [`TRACKING_PARAMETERS`]) removed,
/// trailing slash ignored. A fragment names one post of a page (a live blog's `/live#post-2`)
/// and is kept, unless it is empty or reads like parameters (a tracker's `#xtor=RSS-3208`,
/// `#utm_source=rss`): dropped, every post of a live blog after the first was suppressed as a
/// repeat of it while the blog listed fewer than three. `None` for a site's front page:
/// items of a feed that all link there are different items, and remembering that link
/// dropped every one after the first as a repeat.
pub fn canonical_link(link: &str) -> Option<String> {
    let mut u = url::Url::parse(link.trim()).ok()?;
    let fragment = u
        .fragment()
        .filter(|f| !f.is_empty() && !f.contains('=') && !is_page_part(f))
        .map(str::to_owned);
    u.set_fragment(None);
    crate::feed::retain_query(&mut u, |k| !is_tracking_parameter(k));
    if crate::feed::front_page(&u) {
        return None;
    }
    let path = u.path().to_string();
    if path.len() > 1 && path.ends_with('/') {
        u.set_path(path.trim_end_matches('/'));
    }
    // `Url` already lower-cases scheme and host.
    let mut s = u.to_string();
    if s.ends_with('/') {
        s.pop();
    }
    if let Some(f) = fragment {
        s.push('#');
        s.push_str(&f);
    }
    // Stored and indexed (`link_seen`): bounded in length like an item's key.
    Some(crate::feed::bounded_key(s))
}

/// Anchors that name a part of every page, not one post of it: `#top`, `#comments`...
const PAGE_PARTS: &[&str] = &[
    "top",
    "comments",
    "comment",
    "respond",
    "reply",
    "main",
    "content",
    "maincontent",
    "main-content",
    "disqus_thread",
    "article",
    "story",
    "more",
];

/// How fragments that say where a reader came from start (`#ref-rss`, `#rss`, `#xtor-…`):
/// one feed links an article so, another without.
const FRAGMENT_TRACKERS: &[&str] = &["ref", "rss", "utm", "xtor", "from", "src", "source"];

/// Whether fragment `f` names no post: one of [`PAGE_PARTS`], or starts like one of
/// [`FRAGMENT_TRACKERS`], in any case.
fn is_page_part(f: &str) -> bool {
    let lower = f.to_ascii_lowercase();
    PAGE_PARTS.contains(&lower.as_str()) || FRAGMENT_TRACKERS.iter().any(|t| lower.starts_with(t))
}

/// How many different items (different keys) of one document must carry a link for it to be
/// a page they share rather than one story's address. Two are not enough: a story re-issued
/// under a new guid while the old item is still listed is two items with one link, and the
/// second must stay a repeat.
const SHARED_BY: usize = 3;

/// Query parameters that say where a reader came from, never which page: campaign tags
/// (`utm_*`, the BBC's `at_*` and comScore's `ns_*`) and click ids of ad and mail platforms.
/// Two feeds linking one article with different tags are one story (the BBC's feeds link
/// each article `?at_medium=RSS&at_campaign=…`, other sites the bare address).
const TRACKING_PREFIXES: &[&str] = &["utm_", "at_", "ns_"];
const TRACKING_PARAMETERS: &[&str] = &[
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid",
    "mc_eid", "_hsenc", "_hsmi", "ocid", "cmpid", "smid",
];

/// Whether a query parameter's name is one of [`TRACKING_PARAMETERS`] or starts with one of
/// [`TRACKING_PREFIXES`], in any case.
fn is_tracking_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    TRACKING_PREFIXES.iter().any(|p| name.starts_with(p))
        || TRACKING_PARAMETERS.contains(&name.as_str())
}

/// The canonical links (see [`canonical_link`]) that [`SHARED_BY`] or more different items of
/// one document carry. Such a link is the address of a page the items share (a section, a
/// press page, a live blog), not of one story: a feed whose items all link to `/en/press` had
/// every match after the first suppressed for a week as a repeat of it, and grouped into its
/// story by the same-link rule. Neither rule reads such a link (see [`own_link`]).
pub fn shared_links<'a>(
    items: impl IntoIterator<Item = &'a crate::feed::FeedItem>,
) -> HashSet<String> {
    let mut keys: HashMap<String, HashSet<&str>> = HashMap::new();
    for it in items {
        if let Some(link) = it.link.as_deref().and_then(canonical_link) {
            keys.entry(link).or_default().insert(&it.key.0);
        }
    }
    keys.into_iter()
        .filter(|(_, k)| k.len() >= SHARED_BY)
        .map(|(link, _)| link)
        .collect()
}

/// An item's canonical link as the address of its story, for the repeat rule and the
/// grouping's same-link rule: `None` when it has none, or when other items of its document
/// carry it too (`shared`, from [`shared_links`]).
pub fn own_link(link: Option<&str>, shared: &HashSet<String>) -> Option<String> {
    link.and_then(canonical_link)
        .filter(|l| !shared.contains(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link too long to index (a tracking URL of thousands of characters) is bounded like
    /// an item's key: `link_seen` holds it.
    #[test]
    fn a_canonical_link_is_bounded_in_length() {
        let long = format!("https://x.example/{}", "p".repeat(30_000));
        let c = canonical_link(&long).unwrap_or_default();
        assert!(c.len() <= crate::feed::MAX_KEY_BYTES, "{}", c.len());
        assert_eq!(canonical_link(&format!("{long}?utm_source=rss")), Some(c));
    }

    #[test]
    fn a_link_three_items_carry_is_shared_and_no_ones_own() {
        let item = |key: &str, link: &str| crate::feed::FeedItem {
            key: crate::feed::ItemKey(key.into()),
            link: Some(link.into()),
            ..Default::default()
        };
        let press = "https://mfa.example/en/press";
        let items = [
            item("a", press),
            item("b", "https://mfa.example/en/press/?utm_source=rss"),
            item("c", press),
            // Two items with one link: a story re-issued under a new guid, still a repeat.
            item("d", "https://news.example/story"),
            item("e", "https://news.example/story"),
            // One item listed three times is one item.
            item("f", "https://news.example/once"),
            item("f", "https://news.example/once"),
            item("f", "https://news.example/once"),
        ];
        let shared = shared_links(&items);
        assert_eq!(
            shared.into_iter().collect::<Vec<_>>(),
            ["https://mfa.example/en/press"]
        );
        let shared = shared_links(&items);
        assert_eq!(own_link(Some(press), &shared), None);
        assert_eq!(
            own_link(Some("https://news.example/story#comments"), &shared).as_deref(),
            Some("https://news.example/story")
        );
        assert_eq!(own_link(None, &shared), None);
    }

    #[test]
    fn tracking_parameters_of_news_sites_are_dropped() {
        assert_eq!(
            canonical_link(
                "https://www.bbc.com/news/articles/c1?at_medium=RSS&at_campaign=rss&ns_source=x"
            )
            .as_deref(),
            Some("https://www.bbc.com/news/articles/c1")
        );
        assert_eq!(
            canonical_link("https://x.example/a?id=7&SMID=tw&mc_cid=1&ocid=msn").as_deref(),
            Some("https://x.example/a?id=7")
        );
        // A parameter that names the page stays, whatever it looks like.
        assert_eq!(
            canonical_link("https://x.example/a?at=3&page=2").as_deref(),
            Some("https://x.example/a?at=3&page=2")
        );
    }

    #[test]
    fn canonical_links() {
        assert_eq!(
            canonical_link("HTTPS://Example.ORG/a/b/?utm_source=x&id=3&fbclid=y#top").as_deref(),
            Some("https://example.org/a/b?id=3")
        );
        assert_eq!(
            canonical_link("https://example.org/a/").as_deref(),
            Some("https://example.org/a")
        );
        assert_eq!(
            canonical_link("https://example.org/a?gclid=1").as_deref(),
            Some("https://example.org/a")
        );
        assert_eq!(canonical_link("not a url"), None);
        // A front page is no article's link: items of a feed that all link there are
        // different items.
        for front in [
            "https://Site.example/",
            "https://site.example",
            "https://site.example/?utm_source=rss",
            "https://site.example/#latest",
        ] {
            assert_eq!(canonical_link(front), None, "{front}");
        }
        assert!(canonical_link("https://site.example/?p=3").is_some());
    }

    /// Regression: the fragment was dropped, so each post of a live blog (`/live#post-2`,
    /// its own guid and text) was a repeat of the first while the blog listed fewer than
    /// three of them, and was never alerted. A fragment that names a post is kept; a
    /// tracker's (`#xtor=RSS-3208`), an empty one and a part of every page (`#comments`) are
    /// not.
    #[test]
    fn a_fragment_naming_a_post_is_part_of_the_link() {
        let live = "https://site.example/live/ukraine-war";
        assert_eq!(
            canonical_link(&format!("{live}#post-2")).as_deref(),
            Some("https://site.example/live/ukraine-war#post-2")
        );
        assert_ne!(
            canonical_link(&format!("{live}#post-2")),
            canonical_link(&format!("{live}#post-3"))
        );
        for same in [
            "#",
            "#xtor=RSS-3208",
            "#utm_source=rss",
            "#ref-rss",
            "#RSS",
            "#comments",
            "#Top",
            "",
        ] {
            assert_eq!(
                canonical_link(&format!("{live}/{same}")).as_deref(),
                Some(live),
                "{same}"
            );
        }
    }
}
