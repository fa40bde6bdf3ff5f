//! The feed parsing entry point: bytes in, items (or an HTML page's feed links) out.
//!
//! Owns the pipeline charset → HTML check → feed-rs → repair and retry → [`FeedItem`]s, and the
//! error type. Crossing the boundary: the body, its `Content-Type` and URL go in; [`Parsed`] or
//! [`ParseError`] come out. feed-rs types never leave this module tree.

use std::borrow::Cow;
use std::time::Duration;

use feed_rs::model::Feed;
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use url::Url;

use crate::feed::charset;
use crate::feed::discover;
use crate::feed::item::{
    FeedItem, absolute_url, distinguish_shared_ids, one_line_text, preferred_link,
};
use crate::feed::repair::{self, Repair, root_start_tag};
use crate::feed::rss1;

pub(crate) mod depth;

/// A successfully parsed feed.
#[derive(Debug, Clone)]
pub struct ParsedFeed {
    /// Plain-text feed title.
    pub title: Option<String>,
    /// Absolute link to the site the feed belongs to.
    pub site_link: Option<String>,
    /// RSS `<ttl>`: how long the publisher asks clients to cache the feed.
    pub ttl: Option<Duration>,
    pub items: Vec<FeedItem>,
    /// The encoding the body was actually decoded with.
    pub encoding: &'static str,
    /// What had to be fixed for the feed to parse (empty for a well-formed feed), for logs.
    pub repairs: Vec<Repair>,
    /// The ids this document gave several different items (each then keyed `ID LINK`), for
    /// the feed to remember (see [`crate::feed::item::key_known_shared`]).
    pub shared_ids: Vec<String>,
}

/// What a fetched body turned out to be.
#[derive(Debug, Clone)]
pub enum Parsed {
    Feed(ParsedFeed),
    /// An HTML page advertising feeds: their absolute URLs, best first (never empty).
    Html {
        feed_links: Vec<String>,
    },
}

/// Why a body could not be used as a feed. Messages are meant for the user's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but whitespace.
    #[error("not a feed: empty document")]
    Empty,
    /// Text without any element or JSON object.
    #[error("not a feed: no root element (neither XML nor JSON content)")]
    NoRoot,
    /// Ill-formed XML that the repairs could not fix; `line` is 1-based in the decoded body.
    #[error("not a feed: XML parse error{}: {message}", at_line(*.line))]
    Xml {
        line: Option<usize>,
        message: String,
    },
    /// Well-formed XML of some other vocabulary.
    #[error("not a feed: root element <{root}> is not RSS, Atom or RDF")]
    UnknownRoot { root: String },
    /// JSON that is not a JSON Feed we can read.
    #[error("not a feed: invalid JSON Feed: {0}")]
    Json(String),
    /// A feed that breaks a rule feed-rs enforces (e.g. an Atom content type it rejects).
    #[error("not a feed: {0}")]
    Invalid(String),
    /// Elements nested deeper than [`depth::MAX_DEPTH`]: refused unread (feed-rs reads some
    /// levels by recursion, and enough of them overflow the stack).
    #[error("not a feed: elements nest more than {max} deep (line {line})")]
    TooDeep { line: usize, max: usize },
    /// feed-rs panicked on the document (caught; see `run_feed_rs`).
    #[error("not a feed: the feed parser crashed on this document")]
    ParserCrashed,
    /// An HTML page that advertises no feed.
    #[error("HTML page without a feed link")]
    HtmlWithoutFeedLink,
}

fn at_line(line: Option<usize>) -> String {
    line.map(|line| format!(" at line {line}"))
        .unwrap_or_default()
}

/// Parses a fetched body.
///
/// `content_type` is the HTTP `Content-Type` (its charset wins over the XML declaration);
/// `base_url` is where the body came from, used to make links absolute.
pub fn parse(
    body: &[u8],
    content_type: Option<&str>,
    base_url: Option<&Url>,
) -> Result<Parsed, ParseError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let decoded = charset::decode(body, content_type);
    let text = decoded.text.as_str();
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    if !is_json(text) && discover::looks_like_html(text, content_type) {
        return html_page(text, base_url);
    }
    let (mut feed, repairs) = parse_with_repairs(text, base_url)?;
    rss1::drop_placeholder_links(&mut feed);
    Ok(Parsed::Feed(build(
        &feed,
        decoded.encoding,
        repairs,
        base_url,
    )))
}

/// JSON Feed is recognised the way feed-rs does: by `{` before any `<`.
fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

fn html_page(text: &str, base_url: Option<&Url>) -> Result<Parsed, ParseError> {
    let feed_links = discover::feed_links(text, base_url);
    if feed_links.is_empty() {
        Err(ParseError::HtmlWithoutFeedLink)
    } else {
        Ok(Parsed::Html { feed_links })
    }
}

/// Parses (after the few rewrites every document gets: items past the cap cut, Atom 0.3 and old
/// RSS namespaces upgraded, child elements of text elements wrapped); on failure repairs the
/// text and tries once more. The error reported is the one of the document as served, so its
/// line numbers match what the publisher has.
fn parse_with_repairs<'a>(
    text: &'a str,
    base_url: Option<&Url>,
) -> Result<(Feed, Vec<Repair>), ParseError> {
    // Items past the cap are cut off before anything else reads the text.
    let (text, mut repairs) = match crate::feed::cap::cap_items(text, crate::feed::cap::MAX_ITEMS) {
        Some(cut) => (cut, vec![Repair::TooManyItems]),
        None => (Cow::Borrowed(text), Vec::new()),
    };
    // JSON has no elements: the rewrites of markup leave it alone.
    let xml = !is_json(&text);
    let mut rewrite = |text: Cow<'a, str>, fix: &dyn Fn(&str) -> Option<String>, noted| {
        rewritten(text, fix, noted, &mut repairs)
    };
    // Atom 0.3 parses "successfully" into nothing, so it is upgraded before the first attempt.
    let text = rewrite(text, &repair::upgrade_atom_0_3, Some(Repair::Atom03));
    // So do RSS 0.90 and RSS 2.0 in UserLand's namespace.
    let text = rewrite(text, &repair::rss_namespace, Some(Repair::RssNamespace));
    // HTML written unescaped into a text element is well-formed XML as long as its tags
    // close, and then feed-rs reads the element's text only up to its first tag
    // (`<description>Officials said <em>North Korean troops</em> crossed</description>` read
    // "Officials said "): such content is wrapped in CDATA before the first attempt, not only
    // when the document fails to parse.
    let text = rewrite(
        text,
        &|t| xml.then(|| repair::wrap_child_elements(t)).flatten(),
        Some(Repair::RawMarkup),
    );
    // RSS 1.0 items without <link> would be dropped by feed-rs: give them one first.
    let text = rewrite(text, &rss1::add_missing_item_links, None);
    let text = if xml {
        bounded(text, &mut repairs)?
    } else {
        rewritten(
            text,
            &repair::drop_costly_json,
            Some(Repair::CostlyJson),
            &mut repairs,
        )
    };
    let base = atom_base(&text, base_url);
    let run_feed_rs = |text: &str| run_feed_rs(text, base.as_deref());
    let first_error = match run_feed_rs(&text) {
        Ok(feed) => return Ok((feed, repairs)),
        Err(error) => error,
    };
    if !xml {
        // A lone surrogate escape is no JSON any reader here builds a value of: mended first,
        // so the repairs after it can read the document.
        let mended = repair::json::lone_surrogates(&text);
        if let Some(fixed) = &mended {
            note(&mut repairs, [Repair::JsonFeed]);
            if let Ok(feed) = run_feed_rs(fixed) {
                return Ok((feed, repairs));
            }
        }
        let text: &str = mended.as_deref().unwrap_or(&text);
        if let Some(fixed) = repair::json::normalize_json_feed(text)
            && let Ok(feed) = run_feed_rs(&fixed)
        {
            note(&mut repairs, [Repair::JsonFeed]);
            return Ok((feed, repairs));
        }
        let reads = |t: &str| run_feed_rs(t).is_ok();
        if let Some(salvaged) = repair::json::drop_unreadable_items(text, reads)
            && let Ok(feed) = run_feed_rs(&salvaged.text)
        {
            note(&mut repairs, salvaged.repairs());
            return Ok((feed, repairs));
        }
    } else {
        let repaired = repair::repair(&text);
        // Repairs can make an RSS 1.0 document readable that was not before.
        let linked = rss1::add_missing_item_links(&repaired.text);
        let fixed = linked.as_deref().unwrap_or(&repaired.text);
        // A repair can bring to light markup the checks could not see past in the text as
        // served (`<title>Rock < Roll's</title>`: the `'` opened a quote to the end of the
        // document, the repair escaped the `<`): the repaired text is checked again.
        let mut later = Vec::new();
        let fixed = bounded(Cow::Borrowed(fixed), &mut later)?;
        if !repaired.applied.is_empty()
            && let Ok(feed) = run_feed_rs(&fixed)
        {
            note(&mut repairs, repaired.applied);
            note(&mut repairs, later);
            return Ok((feed, repairs));
        }
        // The last resort: the items the parser refuses on their own are left out (each text
        // tried is checked too: taking an item out can end what hid the rest).
        let reads = |t: &str| {
            bounded(Cow::Borrowed(t), &mut Vec::new()).is_ok_and(|t| run_feed_rs(&t).is_ok())
        };
        if let Some(salvaged) = repair::salvage::drop_unreadable_items(&fixed, reads)
            && let Ok(salvaged_text) = bounded(Cow::Borrowed(&salvaged.text), &mut later)
            && let Ok(feed) = run_feed_rs(&salvaged_text)
        {
            note(&mut repairs, repaired.applied);
            note(&mut repairs, later);
            note(&mut repairs, salvaged.repairs());
            return Ok((feed, repairs));
        }
    }
    Err(match first_error {
        Some(error) => describe(error, &text),
        None => ParseError::ParserCrashed,
    })
}

/// Adds each of `more` to `repairs` that is not there yet: the checks run again on a repaired
/// text, and a repair found twice is reported once.
fn note(repairs: &mut Vec<Repair>, more: impl IntoIterator<Item = Repair>) {
    for repair in more {
        if !repairs.contains(&repair) {
            repairs.push(repair);
        }
    }
}

/// An XML text made fit for the parser, refused when it cannot be: elements nested past
/// [`depth::MAX_DEPTH`] (feed-rs reads some by recursion, and a thousand nested
/// `<media:group>`s overflowed the stack, an abort no panic handler catches); attributes of a
/// tag past its first 256 (see [`repair::drop_excess_attributes`]), `xml:base`
/// values the parser would copy into every link, Media RSS groups it would copy an item's
/// media fields into, and links, categories, enclosures and the like it would keep a structure
/// for each of, past what they are worth (see [`repair::drop_costly_xml_base`],
/// [`repair::drop_costly_media_groups`] and [`repair::drop_costly_repeats`]), dropped and
/// noted in `repairs`.
fn bounded<'t>(text: Cow<'t, str>, repairs: &mut Vec<Repair>) -> Result<Cow<'t, str>, ParseError> {
    // First: escaping the `<` of text read as a tag brings to light what it swallowed.
    let text = rewritten(
        text,
        &repair::drop_excess_attributes,
        Some(Repair::ExcessAttributes),
        repairs,
    );
    if let Some(at) = depth::too_deep(&text, depth::MAX_DEPTH) {
        return Err(ParseError::TooDeep {
            line: line_at(&text, at),
            max: depth::MAX_DEPTH,
        });
    }
    let text = rewritten(
        text,
        &repair::drop_costly_xml_base,
        Some(Repair::CostlyXmlBase),
        repairs,
    );
    let text = rewritten(
        text,
        &repair::drop_costly_media_groups,
        Some(Repair::CostlyMediaGroups),
        repairs,
    );
    Ok(rewritten(
        text,
        &repair::drop_costly_repeats,
        Some(Repair::CostlyRepeats),
        repairs,
    ))
}

/// `text` as `fix` rewrites it, `noted` added to the repairs when it does; `text` itself when
/// `fix` finds nothing to do.
fn rewritten<'a>(
    text: Cow<'a, str>,
    fix: &dyn Fn(&str) -> Option<String>,
    noted: Option<Repair>,
    repairs: &mut Vec<Repair>,
) -> Cow<'a, str> {
    match fix(&text) {
        Some(fixed) => {
            note(repairs, noted);
            Cow::Owned(fixed)
        }
        None => text,
    }
}

/// The base the parser resolves an Atom document's relative `xml:base` against: the URL it was
/// fetched from (RFC 4287), without credentials, query or fragment (a link resolved against it
/// is shown in alerts). Without a base the parser dropped a relative `xml:base`
/// (`<feed xml:base="/blog/">`: every entry link lost its `/blog/`). Only for a document that
/// has one: the others' relative links are resolved as before, against the feed's alternate
/// link (see `build`). RSS has no `xml:base` rule and gets none. An address longer than
/// [`crate::feed::item::MAX_BASE_URL_BYTES`] is none: feed-rs copies the base into every
/// element it reads and every link it resolves.
fn atom_base(text: &str, base_url: Option<&Url>) -> Option<String> {
    let root = root_start_tag(text)?;
    let atom = root.name == "feed" || root.name.ends_with(":feed");
    if !atom || !repair::has_relative_xml_base(text) {
        return None;
    }
    let mut base = public_base(base_url.filter(|u| matches!(u.scheme(), "http" | "https"))?)?;
    base.set_query(None);
    crate::feed::item::usable_base(base).map(String::from)
}

/// The URL a feed was fetched from as a base for the links of its items: without its user
/// info, fragment and secret query parameters, since a link resolved against it is shown in
/// alerts and sent to every sink (a feed at `https://alice:s3cret@intranet.example/news.rss`
/// without a site link sent the password with each item's relative link, and a `?token=`
/// went with `<link>#</link>`). The rest of the query stays, as written: `<link>#post-5</link>`
/// of `feed.php?lang=en` is `feed.php?lang=en#post-5`. `None` for a URL that cannot be a base.
fn public_base(url: &Url) -> Option<Url> {
    use crate::config::secret::may_be_secret_key;
    let mut base = url.clone();
    base.set_fragment(None);
    base.set_username("").ok()?;
    base.set_password(None).ok()?;
    // Rewritten only when a secret is there: re-encoding changes other queries' bytes.
    if base.query_pairs().any(|(k, _)| may_be_secret_key(&k)) {
        crate::feed::retain_query(&mut base, |k| !may_be_secret_key(k));
    }
    Some(base)
}

/// How much of a text feed-rs looks at to tell JSON from XML (its reader's buffer).
const FEED_RS_PEEK: usize = 8 * 1024;

/// Runs feed-rs; `Err(None)` when it panicked. `base`: see [`atom_base`].
///
/// feed-rs is configured so that entries without a source id keep an empty `id` (its default
/// generator invents a random UUID on every parse, which would make the item look new each
/// time); our own stable key is derived in [`FeedItem::from_entry`]. Sanitizing is off: we reduce
/// HTML to text anyway. feed-rs has `unwrap()`s on numbers taken from the document (e.g.
/// `<itunes:duration>` overflowing u64), so a panic in it must become an error, not a crash.
///
/// The panic is caught quietly ([`crate::panics`]): without that, `newswatch try` on a feed that
/// crashes feed-rs printed the raw panic message ("thread 'main' panicked at … called
/// `Result::unwrap()`…") above its own error.
fn run_feed_rs(text: &str, base: Option<&str>) -> Result<Feed, Option<ParseFeedError>> {
    // feed-rs reads a text as JSON when a `{` comes before any `<` in its first 8 KiB, and
    // reads a feed from an array as well as from an object; the bounds on JSON (the item cap,
    // the copies) are applied to a text that opens with `{`. Any other text it would read as
    // JSON is refused unread (`["https://jsonfeed.org/version/1.1",…,[{},{},…]]` went down the
    // XML path, past every bound): a JSON Feed is an object.
    let head = &text.as_bytes()[..text.len().min(FEED_RS_PEEK)];
    if head.iter().find(|b| matches!(b, b'<' | b'{')) == Some(&b'{') && !is_json(text) {
        return Err(Some(ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot)));
    }
    let attempt = crate::panics::catch_quietly(|| {
        feed_rs::parser::Builder::new()
            .base_uri(base)
            .id_generator(|_links, _title, _uri| String::new())
            .timestamp_parser(crate::feed::date::parse_timestamp)
            .sanitize_content(false)
            .build()
            .parse(text.as_bytes())
    });
    match attempt {
        Some(result) => result.map_err(Some),
        None => Err(None),
    }
}

/// Turns a feed-rs error into a message about the document.
fn describe(error: ParseFeedError, text: &str) -> ParseError {
    match error {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => match root_start_tag(text) {
            // A name is a few characters; a hostile document's "name" can run for megabytes.
            Some(root) => ParseError::UnknownRoot {
                root: root.name.chars().take(80).collect(),
            },
            None => ParseError::NoRoot,
        },
        ParseFeedError::ParseError(kind) => ParseError::Invalid(kind.to_string()),
        ParseFeedError::XmlReader(error) => ParseError::Xml {
            line: xml_error_line(text),
            message: xml_message(&error.to_string()),
        },
        ParseFeedError::JsonSerde(error) => ParseError::Json(error.to_string()),
        ParseFeedError::JsonUnsupportedVersion(version) => {
            ParseError::Json(format!("unsupported version {version}"))
        }
        ParseFeedError::IoError(error) => ParseError::Invalid(error.to_string()),
    }
}

/// feed-rs prefixes quick-xml's message with its own wrapper names; keep the useful part.
fn xml_message(message: &str) -> String {
    message
        .strip_prefix("Parser error: ")
        .unwrap_or(message)
        .to_owned()
}

/// Line of the first XML error, found by a plain quick-xml pass (feed-rs does not report
/// positions). Only run after a failure.
fn xml_error_line(text: &str) -> Option<usize> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let position = loop {
        match reader.read_event() {
            Ok(Event::Eof) => return None,
            Ok(Event::GeneralRef(reference)) if reference.resolve_char_ref().is_err() => {
                break reader.buffer_position();
            }
            Ok(_) => {}
            Err(_) => break reader.error_position(),
        }
    };
    let position = usize::try_from(position)
        .unwrap_or(usize::MAX)
        .min(text.len());
    Some(line_at(text, position))
}

/// The 1-based line of byte `at` of `text`.
fn line_at(text: &str, at: usize) -> usize {
    let before = text.as_bytes().get(..at).unwrap_or_default();
    before.iter().filter(|&&b| b == b'\n').count() + 1
}

/// Builds our model from feed-rs's.
fn build(
    feed: &Feed,
    encoding: &'static str,
    repairs: Vec<Repair>,
    base_url: Option<&Url>,
) -> ParsedFeed {
    // A base is copied into each link resolved against it: one too long is none (the address
    // a server redirected to can be 400 KB: over 10,000 relative links, 4 GB).
    let public = base_url
        .and_then(public_base)
        .and_then(crate::feed::item::usable_base);
    let site_link =
        preferred_link(&feed.links).and_then(|href| absolute_url(href, public.as_ref()));
    let site_url = site_link
        .as_deref()
        .and_then(|link| Url::parse(link).ok())
        .and_then(crate::feed::item::usable_base);
    let link_base = site_url.as_ref().or(public.as_ref());
    // Atom and JSON Feed type their text fields; RSS does not (see `FeedItem::from_entry`).
    let typed = matches!(
        feed.feed_type,
        feed_rs::model::FeedType::Atom | feed_rs::model::FeedType::JSON
    );
    let title = feed
        .title
        .as_ref()
        .map(|t| one_line_text(t, typed))
        .filter(|title| !title.is_empty());
    let mut items: Vec<FeedItem> = feed
        .entries
        .iter()
        .map(|entry| FeedItem::from_entry(entry, link_base, typed))
        .collect();
    // The feed's own address as configured, and as its items' links are resolved against.
    let site: Vec<&str> = site_link
        .as_deref()
        .into_iter()
        .chain(base_url.map(Url::as_str))
        .chain(public.as_ref().map(Url::as_str))
        .collect();
    let shared_ids = distinguish_shared_ids(&mut items, &site);
    crate::feed::item::web_links_only(&mut items);
    ParsedFeed {
        shared_ids,
        title,
        site_link,
        ttl: feed
            .ttl
            .map(|minutes| Duration::from_secs(u64::from(minutes) * 60)),
        items,
        encoding,
        repairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quiet hook itself is tested in `crate::panics`; the CLI test checks the terminal.
    #[test]
    fn a_feed_rs_crash_is_caught_and_the_next_parse_works() {
        let crashing = "<rss version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\">\
            <channel><item><link>https://x.example/</link>\
            <itunes:duration>12345678901234567890123</itunes:duration></item></channel></rss>";
        assert!(matches!(run_feed_rs(crashing, None), Err(None)));
        assert!(run_feed_rs("<rss version=\"2.0\"><channel/></rss>", None).is_ok());
    }

    /// Regression: the items of one document were bounded only by the body cap; 16 MiB of
    /// `<item/>` took 2.3 GB and 11 s to parse. Past the cap the document is cut and the
    /// rest of it parses as usual.
    #[test]
    fn a_document_with_more_items_than_the_cap_keeps_the_first_ones() {
        let cap = crate::feed::cap::MAX_ITEMS;
        let mut xml = String::from("<rss version=\"2.0\"><channel><title>t</title>");
        for i in 0..cap + 5 {
            xml.push_str(&format!(
                "<item><guid>g{i}</guid><title>n{i}</title></item>"
            ));
        }
        xml.push_str("</channel></rss>");
        let Ok(Parsed::Feed(feed)) = parse(xml.as_bytes(), None, None) else {
            panic!("not a feed");
        };
        assert_eq!(feed.items.len(), cap);
        assert_eq!(feed.items[cap - 1].title, format!("n{}", cap - 1));
        assert!(
            feed.repairs.contains(&Repair::TooManyItems),
            "{:?}",
            feed.repairs
        );
        // JSON Feed alike.
        let items: Vec<String> = (0..cap + 5)
            .map(|i| format!("{{\"id\":\"g{i}\",\"title\":\"n{i}\"}}"))
            .collect();
        let json = format!(
            "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"t\",\"items\":[{}]}}",
            items.join(",")
        );
        let Ok(Parsed::Feed(feed)) = parse(json.as_bytes(), None, None) else {
            panic!("not a feed");
        };
        assert_eq!(feed.items.len(), cap);
        assert_eq!(feed.repairs, [Repair::TooManyItems]);
    }

    /// The parser gives items that share one `<guid>` keys of their own (see
    /// [`distinguish_shared_ids`]).
    #[test]
    fn a_feed_with_one_guid_for_every_item_parses_to_distinct_keys() {
        let xml = "<rss version=\"2.0\"><channel><title>t</title>\
            <item><title>A</title><guid>https://site.example/</guid><link>https://site.example/a</link></item>\
            <item><title>B</title><guid>https://site.example/</guid><link>https://site.example/b</link></item>\
            </channel></rss>";
        let Ok(Parsed::Feed(feed)) = parse(xml.as_bytes(), None, None) else {
            panic!("not a feed");
        };
        let keys: Vec<&str> = feed.items.iter().map(|it| it.key.0.as_str()).collect();
        assert_eq!(
            keys,
            [
                "https://site.example/ https://site.example/a",
                "https://site.example/ https://site.example/b"
            ]
        );
    }
}
