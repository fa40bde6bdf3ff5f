//! One news item as the rest of the daemon sees it, and its stable identity.
//!
//! Owns [`FeedItem`] and [`ItemKey`] (both cross into matching, state and alerting) and their
//! construction from a feed-rs entry (which stays inside `crate::feed`).

use chrono::{DateTime, Utc};
use feed_rs::model::{Category, Content, Entry, Link, MediaObject, Person, Text};
use sha2::{Digest, Sha256};
use url::Url;

use crate::text::html::{html_to_text, plain_text, typed_plain_to_text};
use crate::text::mojibake::undo_double_utf8;

/// Identity of an item within its feed, stable across fetches: the daemon uses it to tell new
/// items from ones already seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ItemKey(pub String);

/// Prefix of keys derived from an item's text because it has neither id nor link.
const HASH_KEY_PREFIX: &str = "h:";
/// Prefix of the second key of such an item, from its text without its date ([`text_alias`]).
const TEXT_KEY_PREFIX: &str = "t:";
/// Hex digits of the SHA-256 kept in a hash key (128 bits: collisions are not a concern).
const HASH_KEY_HEX_LEN: usize = 32;

/// Longest item key or canonical link, in bytes, kept as it is ([`bounded_key`]). PostgreSQL
/// refuses an index entry past about 2,700 bytes (the `seen` key holds the feed's name and the
/// item's key, `link_seen`'s the watch's and the link), and one refused row fails the commit of
/// the whole poll: the feed would be fetched again and fail again, none of its items alerted.
pub const MAX_KEY_BYTES: usize = 2000;

/// Bytes of a longer key kept before the hash of the whole ([`bounded_key`]).
const BOUNDED_PREFIX_BYTES: usize = 1000;

/// `key` unchanged if it has at most [`MAX_KEY_BYTES`], else its first
/// [`BOUNDED_PREFIX_BYTES`] (cut on a character boundary), then ` h:` and the first 32 hex
/// digits of the SHA-256 of the whole: as stable as the key, and as distinct. A NUL character
/// (a JSON Feed id may hold `\u0000`) becomes U+FFFD: PostgreSQL refuses NUL in text, and the
/// feed's every poll failed to read which of its items were seen.
pub fn bounded_key(key: String) -> String {
    let key = if key.contains('\0') {
        key.replace('\0', "\u{FFFD}")
    } else {
        key
    };
    if key.len() <= MAX_KEY_BYTES {
        return key;
    }
    let mut cut = BOUNDED_PREFIX_BYTES;
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{} {HASH_KEY_PREFIX}{}",
        &key[..cut],
        sha256_hex(&[key.as_str()])
    )
}

/// The first [`HASH_KEY_HEX_LEN`] hex digits of the SHA-256 of `parts`, joined by NUL bytes.
fn sha256_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update([0u8]);
        }
        hasher.update(part.as_bytes());
    }
    let mut hex = String::with_capacity(HASH_KEY_HEX_LEN);
    for byte in hasher.finalize().iter().take(HASH_KEY_HEX_LEN / 2) {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// A feed entry reduced to plain text and absolute links.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FeedItem {
    /// Stable: guid/id from the source, else the link, else a hash of title, summary and date.
    pub key: ItemKey,
    /// Plain text on one line, entities decoded, tags stripped.
    pub title: String,
    /// Absolute link to the article (resolved against the feed's base when relative).
    pub link: Option<String>,
    /// Published, else updated; `None` when missing or unparseable.
    pub published: Option<DateTime<Utc>>,
    /// Plain text of the summary/description.
    pub summary: String,
    /// Plain text of the full content (content:encoded, Atom content, JSON content_html/text).
    pub content: String,
    pub categories: Vec<String>,
    pub authors: Vec<String>,
    /// Plain text of the article page's main text, for feeds with `full_text` whose page was
    /// fetched (see [`crate::feed::page`]); empty otherwise.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
}

impl FeedItem {
    /// An item with only a key and a title; tests fill in what they need.
    #[cfg(test)]
    pub(crate) fn titled(key: &str, title: &str) -> FeedItem {
        FeedItem {
            key: ItemKey(key.to_string()),
            title: title.to_string(),
            link: None,
            published: None,
            summary: String::new(),
            content: String::new(),
            categories: vec![],
            authors: vec![],
            body: String::new(),
        }
    }

    /// Builds an item from a feed-rs entry. `link_base` resolves relative links (the feed's site
    /// link, else the URL the feed was fetched from); feed-rs has already applied `xml:base`.
    ///
    /// The entry's `id` must be empty when the source had none: feed-rs would otherwise invent a
    /// random one per parse (see `parse.rs`, which installs an id generator returning "").
    ///
    /// `typed`: the format says which text fields are plain text and which HTML (Atom's
    /// `type`, JSON Feed's `content_text`/`content_html`), so a field typed plain is taken as
    /// plain text. RSS says nothing (feed-rs calls its titles plain, but they carry escaped
    /// HTML in the wild): its fields are read as HTML.
    pub(crate) fn from_entry(entry: &Entry, link_base: Option<&Url>, typed: bool) -> FeedItem {
        let mut title = entry
            .title
            .as_ref()
            .map(|t| one_line_text(t, typed))
            .unwrap_or_default();
        if title.is_empty() {
            // Media RSS items (photo wires, video feeds) may carry their title only there.
            title = media_text(&entry.media, |m| m.title.as_ref()).replace('\n', " ");
        }
        let mut summary = entry
            .summary
            .as_ref()
            .map(|t| rich_text(t, typed))
            .unwrap_or_default();
        if summary.is_empty() {
            // YouTube channel feeds and many Media RSS feeds have no summary: the text users
            // read is `media:group/media:description`.
            summary = media_text(&entry.media, |m| m.description.as_ref());
        }
        let content = entry
            .content
            .as_ref()
            .and_then(|c| content_text(c, typed))
            .unwrap_or_default();
        let raw_link = article_link(&entry.links)
            .or_else(|| id_as_link(&entry.id))
            .or_else(|| preferred_link(&entry.links));
        let absolute = raw_link.and_then(|href| absolute_url(href, link_base));
        let published = entry.published.or(entry.updated);
        let key = item_key(
            &entry.id,
            absolute.as_deref().or(raw_link),
            &title,
            &summary,
            published,
        );
        // Only a web address is the item's link: alerts, templates and webhook receivers put
        // it in an `href`, where a `javascript:` or `data:` link a feed gave would run in the
        // reader's browser (the key above still reads it, as it always has: changing it would
        // make every such item new again).
        let link = absolute.filter(|l| is_web_url(l));
        FeedItem {
            key,
            title,
            link,
            published,
            summary,
            content,
            categories: category_names(&entry.categories),
            authors: author_names(&entry.authors),
            body: String::new(),
        }
    }
}

/// Source id, else link, else `h:` + the first 32 hex digits of SHA-256(title \0 summary \0 date).
fn item_key(
    id: &str,
    link: Option<&str>,
    title: &str,
    summary: &str,
    published: Option<DateTime<Utc>>,
) -> ItemKey {
    let id = id.trim();
    if !id.is_empty() {
        return ItemKey(id.to_owned());
    }
    if let Some(link) = link.map(str::trim).filter(|l| !l.is_empty()) {
        return ItemKey(link.to_owned());
    }
    let date = published.map(|d| d.to_rfc3339()).unwrap_or_default();
    ItemKey(format!(
        "{HASH_KEY_PREFIX}{}",
        sha256_hex(&[title, summary, date.as_str()])
    ))
}

/// The key an item without id and link is also remembered by: its title and summary alone
/// (`t:` and a hash), `None` for an item keyed otherwise. Such an item's key holds its date,
/// and a feed that dates every item with the time the document was built gave each of them a
/// new key at every poll: every match alerted again at every poll. The daemon takes such an
/// item as seen when either key is (so the same text published again within the retention
/// is taken as the same item: with neither id nor link, nothing tells the two apart).
pub fn text_alias(item: &FeedItem) -> Option<String> {
    let key = &item.key.0;
    let hashed = key.len() == HASH_KEY_PREFIX.len() + HASH_KEY_HEX_LEN
        && key.starts_with(HASH_KEY_PREFIX)
        && *key == item_key("", None, &item.title, &item.summary, item.published).0;
    hashed.then(|| {
        format!(
            "{TEXT_KEY_PREFIX}{}",
            sha256_hex(&[&item.title, &item.summary])
        )
    })
}

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
pub(crate) fn distinguish_shared_ids(items: &mut [FeedItem], site: &[&str]) {
    use std::collections::{HashMap, HashSet};
    let text = |it: &FeedItem| item_key("", None, &it.title, &it.summary, it.published).0;
    let fallback = |it: &FeedItem| match it.link.as_deref().map(str::trim) {
        Some(link) if !link.is_empty() => link.to_owned(),
        _ => text(it),
    };
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
    }
    // Last, once every key is final: a key made of an id and a link is bounded as a whole.
    for it in items.iter_mut() {
        it.key = ItemKey(bounded_key(std::mem::take(&mut it.key.0)));
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

/// Whether `link` is a site's front page (an http(s) URL without a path, query or fragment):
/// the address of no one article, so no item's own id.
pub fn is_front_page(link: &str) -> bool {
    Url::parse(link.trim()).is_ok_and(|u| u.fragment().is_none() && front_page(&u))
}

/// Whether `u` (its fragment aside) is a site's front page: see [`is_front_page`].
pub fn front_page(u: &Url) -> bool {
    matches!(u.scheme(), "http" | "https") && u.path() == "/" && u.query().is_none()
}

/// Title-like text: plain text on a single line (`typed`: see [`FeedItem::from_entry`]). An
/// untyped (RSS) title is read as HTML only when it looks like HTML: titles carry escaped
/// markup (`&lt;b&gt;Breaking&lt;/b&gt;`) and also literal text about markup ("XSS via
/// &lt;script&gt; tag in Foo CMS"), which as HTML lost every word after the `<script>`.
pub(crate) fn one_line_text(text: &Text, typed: bool) -> String {
    let plain = if typed {
        rich_text(text, typed)
    } else {
        undo_double_utf8(typed_plain_to_text(&text.content))
    };
    if plain.contains('\n') {
        plain.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        plain
    }
}

/// The plain text of a text field: as plain text when the format typed it so, else as HTML.
fn rich_text(text: &Text, typed: bool) -> String {
    if typed && text.content_type.subty() == "plain" {
        undo_double_utf8(typed_plain_to_text(&text.content))
    } else {
        field_text(&text.content)
    }
}

/// The plain text of one HTML (or plain) field, with double-encoded UTF-8 undone when the whole
/// field is double-encoded.
fn field_text(html: &str) -> String {
    undo_double_utf8(html_to_text(html))
}

/// The distinct non-empty texts one Media RSS element gives across an entry's media objects,
/// as plain text, one paragraph each. `type="plain"` (the Media RSS default) is taken as is:
/// a video description's `<3` or `a<b` is not markup.
fn media_text(media: &[MediaObject], element: impl Fn(&MediaObject) -> Option<&Text>) -> String {
    let texts = media.iter().filter_map(element).map(|text| {
        if text.content_type.subty() == "plain" {
            undo_double_utf8(plain_text(&text.content))
        } else {
            field_text(&text.content)
        }
    });
    distinct(texts, MAX_MEDIA_TEXTS).join("\n\n")
}

/// Plain text of textual content; binary payloads (images, base64) and out-of-line content
/// (`src=`) have none.
fn content_text(content: &Content, typed: bool) -> Option<String> {
    let body = content.body.as_deref()?;
    let media_type = &content.content_type;
    let subtype = media_type.subty();
    if typed && media_type.ty() == "text" && subtype == "plain" {
        return Some(undo_double_utf8(typed_plain_to_text(body)));
    }
    let textual = media_type.ty() == "text"
        || subtype.as_str().ends_with("xml")
        || subtype.as_str().contains("html");
    textual.then(|| field_text(body))
}

/// The article link: the first plain/alternate link that is not a comments link, else the first.
pub(crate) fn preferred_link(links: &[Link]) -> Option<&str> {
    article_link(links).or_else(|| {
        links
            .first()
            .map(|link| link.href.trim())
            .filter(|href| !href.is_empty())
    })
}

/// The first link that is the article itself (no target such as comments, and no `rel` other
/// than `alternate`).
fn article_link(links: &[Link]) -> Option<&str> {
    links
        .iter()
        .find(|link| {
            link.target.is_none()
                && link
                    .rel
                    .as_deref()
                    .is_none_or(|rel| rel.eq_ignore_ascii_case("alternate"))
        })
        .map(|link| link.href.trim())
        .filter(|href| !href.is_empty())
}

/// An item's id as its link, for an item with no link to the article: an RSS `<guid>` is a
/// permalink unless it says otherwise, and feeds that give one leave `<link>` out (the parser
/// keeps no `isPermaLink`, so any id that is an http(s) URL counts). Without this the item
/// had no link, or its comments page stood for it: no link in the alert, no full text, and no
/// repeat across feeds recognised. A front page is no article's address (see
/// [`is_front_page`]).
fn id_as_link(id: &str) -> Option<&str> {
    let id = id.trim();
    Url::parse(id)
        .is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host().is_some() && !front_page(&u)
        })
        .then_some(id)
}

/// Keeps the query parameters of `u` whose name `keep` accepts (re-encoded), and drops the
/// query when none is left: trackers out of a canonical link, secrets out of a feed's base.
pub fn retain_query(u: &mut Url, keep: impl Fn(&str) -> bool) {
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(kept);
    }
}

/// Longest URL a document may give to resolve its other links against (a channel's site link,
/// a page's `<base href>`): each relative link resolved against it copies it, so a long one
/// and many links multiply (a 100 KB site link and 1,000 items, a 150 KB feed, took 300 MB).
/// Real ones are under a few hundred bytes; a longer one is not used as a base.
pub(crate) const MAX_BASE_URL_BYTES: usize = 2048;

/// `base` when it is short enough to resolve links against (see [`MAX_BASE_URL_BYTES`]).
pub(crate) fn usable_base(base: Url) -> Option<Url> {
    (base.as_str().len() <= MAX_BASE_URL_BYTES).then_some(base)
}

/// Whether `url` (absolute) is an http(s) address.
fn is_web_url(url: &str) -> bool {
    Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// `href` as an absolute URL string, joined to `base` when relative; `None` if neither works.
pub(crate) fn absolute_url(href: &str, base: Option<&Url>) -> Option<String> {
    match Url::parse(href) {
        Ok(url) => Some(url.into()),
        Err(url::ParseError::RelativeUrlWithoutBase) => base?.join(href).ok().map(Into::into),
        Err(_) => None,
    }
}

/// Category labels (else terms), trimmed, without empties or duplicates.
fn category_names(categories: &[Category]) -> Vec<String> {
    let names = categories
        .iter()
        .map(|c| c.label.as_deref().unwrap_or(&c.term));
    unique_non_empty(names)
}

/// Author names (else e-mail addresses), without empties or duplicates.
fn author_names(authors: &[Person]) -> Vec<String> {
    let names = authors
        .iter()
        .filter_map(|p| p.name.as_deref().or(p.email.as_deref()));
    unique_non_empty(names)
}

/// Values kept of one item's list (categories, authors): real items carry a handful, tag-happy
/// sites a hundred or more (with 64, a `category:` watch missed the 65th tag). A hostile item
/// with half a million distinct categories took minutes of a core to compare each with all
/// before it, on every poll; with a set, 256 cost little more than 64.
pub(crate) const MAX_LIST: usize = 256;

/// Media texts kept of one item (titles, descriptions of its media objects).
const MAX_MEDIA_TEXTS: usize = 16;

fn unique_non_empty<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    distinct(values.map(field_text), MAX_LIST)
}

/// The first `max` distinct non-empty values, in order.
fn distinct(values: impl Iterator<Item = String>, max: usize) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for value in values {
        if out.len() == max {
            break;
        }
        if !value.is_empty() && seen.insert(value.clone()) {
            out.push(value);
        }
    }
    out
}

#[cfg(test)]
mod tests;
