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
        // (Kept whole for keying: see [`web_links_only`].)
        let link = absolute;
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

/// Only a web address is an item's link: alerts, templates and webhook receivers put it in
/// an `href`, where a `javascript:` or `data:` link a feed gave would run in the reader's
/// browser. Applied once the document's keys are final (the keys read such a link, as they
/// always have: changing them would make every such item new again).
pub(crate) fn web_links_only(items: &mut [FeedItem]) {
    for it in items {
        if it
            .link
            .as_deref()
            .is_some_and(|l| !Url::parse(l).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
        {
            it.link = None;
        }
    }
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

mod shared;
pub(crate) use shared::distinguish_shared_ids;
pub use shared::{key_known_shared, remember_shared};

#[cfg(test)]
mod tests;
