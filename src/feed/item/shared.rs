//! Items sharing one id: a generator that puts one constant, the site's address or a
//! placeholder in every `<guid>` gives different items one key unless each is told apart.
//!
//! Owns [`distinguish_shared_ids`] (a document's items, at parse time), and the memory of such
//! ids across documents: [`remember_shared`] (what the feed keeps) and [`key_known_shared`]
//! (a later document's lone item under such an id). Keys leave as [`ItemKey`]s.

use url::Url;

use super::{FeedItem, ItemKey, MAX_KEY_BYTES, bounded_key, is_front_page, item_key};

/// Give each item of a document its own key where the source gave several different items
/// one id (seen: generators that put the site's address, or one constant, in every `<guid>`).
/// Such a group's keys become `ID LINK` (else `ID h:…`, the text's hash), whatever the
/// items' order, so a newer item listed first is not taken for the one seen before; items
/// that are the same entry listed twice (same link and text) keep one key. Items of such a
/// group that also share their link (a feed without guids whose items all link to one page)
/// are told apart by their text: `ID LINK h:…`, or `ID h:…` when every item has that link.
///
/// An id that is the feed's own address (`site`: its site link, or the URL it was fetched
/// from), or any site's front page (a link without a path), is such an id even when one item
/// has it: a feed that lists one item at a time gave each new item the key the last one had,
/// and it was taken as seen and never alerted. When the item's link is such an address too,
/// the text's hash stands for it. So is a placeholder such as `0` or `undefined`
/// ([`PLACEHOLDER_IDS`]) when one item has it (several under one are the group above, keyed
/// as they always were), and the address of a section above the item's link
/// ([`is_section_of`]).
///
/// Every key is then bounded in length ([`bounded_key`]).
///
/// Returns the ids this document gave to several different items, for the feed to remember
/// (see [`key_known_shared`]).
pub(crate) fn distinguish_shared_ids(items: &mut [FeedItem], site: &[&str]) -> Vec<String> {
    use std::collections::{HashMap, HashSet};
    let text = text_key;
    let fallback = fallback_key;
    // An empty fragment changes no address: `<link>#</link>` (a template's empty anchor)
    // read against the feed's URL is the feed's own address, one for every item.
    let bare = |a: &str| a.trim_end_matches('#').trim_end_matches('/').len();
    let same = |a: &str, b: &str| a[..bare(a)] == b[..bare(b)];
    let sitewide = |k: &str| is_front_page(k) || site.iter().any(|s| same(s, k));
    let section = |it: &FeedItem| {
        it.link
            .as_deref()
            .is_some_and(|l| is_section_of(&it.key.0, l))
    };
    // Counted for placeholders only: most documents have none, and this runs on every poll.
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for it in items.iter().filter(|it| is_placeholder_id(&it.key.0)) {
        *uses.entry(it.key.0.as_str()).or_default() += 1;
    }
    // A placeholder that one item has: keyed as a group under it keys its items.
    let lone: Vec<bool> = items
        .iter()
        .map(|it| uses.get(it.key.0.as_str()) == Some(&1))
        .collect();
    for (it, lone) in items.iter_mut().zip(lone) {
        if lone || sitewide(&it.key.0) || section(it) {
            let f = fallback(it);
            let f = if sitewide(&f) || same(&f, &it.key.0) {
                text(it)
            } else {
                f
            };
            it.key = ItemKey(format!("{} {f}", it.key.0));
        }
    }
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        by_key.entry(it.key.0.clone()).or_default().push(i);
    }
    let mut shared = Vec::new();
    for (key, group) in by_key.into_iter().filter(|(_, g)| g.len() > 1) {
        let fallbacks: Vec<String> = group.iter().map(|&i| fallback(&items[i])).collect();
        let texts: Vec<String> = group.iter().map(|&i| text(&items[i])).collect();
        let links_differ = fallbacks.iter().collect::<HashSet<_>>().len() > 1;
        // The texts under each link, counted once for the group: comparing each item with
        // every other cost the square of the group (10,000 items under one id: 10^8 steps).
        let mut texts_by_link: HashMap<&str, HashSet<&str>> = HashMap::new();
        for (f, t) in fallbacks.iter().zip(&texts) {
            texts_by_link.entry(f).or_default().insert(t);
        }
        for (j, &i) in group.iter().enumerate() {
            // Another item of the group with this one's link but other text.
            let twins_differ = texts_by_link[fallbacks[j].as_str()].len() > 1;
            items[i].key = ItemKey(match (links_differ, twins_differ) {
                (true, true) => format!("{key} {} {}", fallbacks[j], texts[j]),
                (true, false) => format!("{key} {}", fallbacks[j]),
                (false, true) => format!("{key} {}", texts[j]),
                (false, false) => continue,
            });
        }
        // Only an id kept whole in a lone item's key can be recognised there.
        if links_differ && key.len() <= MAX_KEY_BYTES && !key.contains('\0') {
            shared.push(key);
        }
    }
    // Last, once every key is final: a key made of an id and a link is bounded as a whole.
    for it in items.iter_mut() {
        it.key = ItemKey(bounded_key(std::mem::take(&mut it.key.0)));
    }
    shared.sort_unstable();
    shared
}

/// An item's text as a key part: the hash of its title, summary and date.
fn text_key(it: &FeedItem) -> String {
    item_key("", None, &it.title, &it.summary, it.published).0
}

/// What tells apart items under one id: the link, else the text's hash (see
/// [`distinguish_shared_ids`]; [`key_known_shared`] must key a lone item the same way).
fn fallback_key(it: &FeedItem) -> String {
    match it.link.as_deref().map(str::trim) {
        Some(link) if !link.is_empty() => link.to_owned(),
        _ => text_key(it),
    }
}

/// The shared ids a feed keeps after a poll: those it knew that this document shows again,
/// then this document's new ones, then the rest it knew, each once, at most
/// [`crate::store::MAX_SHARED_IDS`] (a document with more shared ids than that pushes out
/// only ids it does not show).
pub fn remember_shared(found: &[String], known: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let again = known.iter().filter(|id| found.contains(id));
    for id in again.chain(found).chain(known) {
        if out.len() < crate::store::MAX_SHARED_IDS && !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

/// Keys the items whose id the feed is known to give several items (`known`: ids an earlier
/// document of the feed gave different items, see [`distinguish_shared_ids`]) as that
/// document keyed them, `ID LINK` (`ID` and the text's hash without a link), also when one
/// item has it. A feed that puts one constant in every `<guid>` and lists one item at a time
/// had each new item keyed by the id alone, the key the last one had: taken as seen, it
/// never alerted. An item listed twice keeps one key. (Items of a group that also shared
/// their link were keyed with their text too: alone, such an item is keyed by its link.)
pub fn key_known_shared(items: &mut [FeedItem], known: &[String]) {
    if known.is_empty() {
        return;
    }
    for it in items.iter_mut() {
        if known.contains(&it.key.0) {
            it.key = ItemKey(bounded_key(format!("{} {}", it.key.0, fallback_key(it))));
        }
    }
}

/// Whether `id` is the address of a section that holds `link` (`https://site.example/news/`
/// for `https://site.example/news/2024/troops-reach-kursk`): a listing page, the address of
/// no one article. Generators that put the section's address in every `<guid>` keyed a lone
/// item `ID` and one beside others `ID LINK` (a group under one id), so a feed listing one
/// item at a time had every new item taken for the last one, and one whose listing went from
/// one item to several alerted one again and missed the next. Such an id is keyed `ID LINK`
/// alone too. Only an id whose path ends with `/`, on the link's host, and whose last segment
/// is not a number (nor a number and a slug, `123-troops`) is taken for a section (`/news/`,
/// `/tag/g20/`): `https://site.example/news/123` or `…/news/123/` beside
/// `…/news/123/troops-reach-kursk` is the short address of that article (its key must not
/// change when the article's slug does). A year as a section (`/news/2024/`) reads as such a
/// number and keeps its key: the two cannot be told apart.
fn is_section_of(id: &str, link: &str) -> bool {
    // The id alone rules out most items (a guid that is no address, or an article's): the link
    // is parsed only when the id could be a section's.
    let Ok(id) = Url::parse(id.trim()) else {
        return false;
    };
    let last = id
        .path()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    let number = last.split('-').next().unwrap_or("");
    let article_id = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    let section_like = !article_id
        && matches!(id.scheme(), "http" | "https")
        && id.query().is_none()
        && id.fragment().is_none()
        && id.host_str().is_some()
        && id.path().ends_with('/');
    section_like
        && Url::parse(link.trim()).is_ok_and(|link| {
            id.host_str() == link.host_str()
                && link.path().len() > id.path().len()
                && link.path().starts_with(id.path())
        })
}

/// Ids that generators write when they have none to give (a template's empty variable, a
/// default value): `0`, `null`, `undefined`, `[object Object]`...
const PLACEHOLDER_IDS: &[&str] = &[
    "0",
    "-1",
    "#",
    "null",
    "nil",
    "none",
    "nan",
    "undefined",
    "[object object]",
];

/// Whether `id` is a placeholder ([`PLACEHOLDER_IDS`], in any case): the id of no one item,
/// so each item under it is told apart by its link (see [`distinguish_shared_ids`]).
fn is_placeholder_id(id: &str) -> bool {
    let id = id.trim();
    PLACEHOLDER_IDS.iter().any(|p| p.eq_ignore_ascii_case(id))
}
