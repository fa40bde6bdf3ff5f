//! Feed ingestion: from a feed's URL or file to plain-text [`FeedItem`]s.
//!
//! Module map (data flows top to bottom):
//! - [`fetch`]: HTTP(S) with conditional GET, caps and deadlines, or a local file → bytes.
//! - [`coding`]: content codings the HTTP client left (raw or zlib `deflate`, stacked codings)
//!   undone, and a body gzip-compressed without a `Content-Encoding` saying so, decompressed.
//! - [`charset`]: bytes → UTF-8 (BOM, HTTP charset, XML declaration, detection).
//! - [`discover`]: recognises HTML pages and extracts their advertised feed links.
//! - [`repair`]: textual fixes for ill-formed XML, tried only after a failed parse.
//! - [`media`]: the repair for Media RSS text elements feed-rs rejects (empty, odd `type`).
//! - [`rss1`]: RSS 1.0 items without `<link>` (feed-rs drops them) get one before parsing.
//! - [`parse`]: the entry point [`parse()`](parse::parse) tying the above to feed-rs.
//! - [`date`]: feed timestamps, strict first, leniently repaired otherwise.
//! - [`item`]: [`FeedItem`] and its stable [`ItemKey`].
//! - [`poll`]: one poll as a script: fetch → parse → (follow an HTML page's feed link).
//! - [`limits`]: global and per-host fetch permits, shared by polls and article pages.
//! - [`page`]: full text: new items' article pages → their main text in `body`.
//!
//! Only the types re-exported here cross into the rest of the daemon; feed-rs stays inside.

pub mod cap;
pub mod charset;
pub mod coding;
pub mod date;
pub mod discover;
pub mod fetch;
pub mod item;
pub mod limits;
pub mod media;
pub mod page;
pub mod parse;
pub mod poll;
pub mod repair;
pub mod rss1;

pub use charset::Decoded;
pub use item::{
    FeedItem, ItemKey, MAX_KEY_BYTES, bounded_key, front_page, retain_query, text_alias,
};
pub use parse::{ParseError, Parsed, ParsedFeed, parse};
pub use repair::Repair;
