//! Textual repairs of ill-formed feed XML, applied after a first parse attempt failed (the
//! raw-markup one also before it: see [`wrap_raw_markup`]).
//!
//! Owns the list of fixes and the prolog scan that locates the root element. Crossing the
//! boundary: decoded UTF-8 text goes in; [`Repaired`] (the fixed text as a `Cow`, borrowed when
//! nothing changed) and the [`Repair`]s that were applied come out, so the caller can log them.
//!
//! Each fix is conservative: it only rewrites what a strict XML parser rejects (or what makes
//! feed-rs give up on the root), and leaves CDATA sections and comments alone.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

mod attributes;
mod base;
mod groups;
pub(crate) mod json;
mod json_costs;
pub(crate) mod lexical;
mod markup;

pub(crate) use attributes::drop_excess_attributes;
pub(crate) use base::{drop_costly_xml_base, has_relative_xml_base};
pub(crate) use groups::drop_costly_media_groups;
pub(crate) use json_costs::drop_costly_json;
pub(crate) use markup::wrap_child_elements;
mod references;
mod repeats;
pub(crate) use repeats::drop_costly_repeats;
pub(crate) mod salvage;
mod tags;
mod times;
mod truncated;

use truncated::{close_open_elements, drop_partial_item, drop_truncated_tag};

/// One kind of fix applied to a feed's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Repair {
    /// Text (e.g. whitespace, a PHP warning) before `<?xml` or the root element was removed.
    LeadingGarbage,
    /// The `<!DOCTYPE ...>` declaration was removed.
    Doctype,
    /// Control characters that XML forbids were removed.
    ControlCharacters,
    /// Numeric character references to characters XML forbids (e.g. `&#0;`) were removed.
    InvalidCharRef,
    /// HTML named entities unknown to XML (`&nbsp;`, `&eacute;`...) became numeric references.
    HtmlEntity,
    /// A bare `&` not starting an entity was escaped as `&amp;`.
    BareAmpersand,
    /// Raw markup in a text element (`<description>x<br>y</description>`, `<title>5 < 6`)
    /// was wrapped in CDATA, and a text element left open ended with its item (see [`markup`]).
    RawMarkup,
    /// `xml:base` attributes whose value is no URL reference were dropped (see [`base`]).
    XmlBase,
    /// `xml:base` attributes so long that resolving every link against them would take more
    /// memory than the document is worth were dropped (see [`base`]).
    CostlyXmlBase,
    /// Attributes of a tag past its first 256 were dropped (the XML reader compares each with
    /// every one before it: see [`attributes`]).
    ExcessAttributes,
    /// JSON Feed lists of authors, tags or attachments were cut after their first 256
    /// entries, or the feed's authors dropped where copying them into every item would cost
    /// more than they are worth (see [`json_costs`]).
    CostlyJson,
    /// Media RSS groups under which the parser would copy an item's media fields past all
    /// bounds were dropped (all but the first of each item) with the ratings (see [`groups`]).
    CostlyMediaGroups,
    /// Links, categories, enclosures and other elements the parser keeps a structure for each
    /// of, repeated under one element past what they are worth, were dropped past the first
    /// of their name there (see [`repeats`]).
    CostlyRepeats,
    /// `<rss>` without (or with an unknown) `version` got `version="2.0"`.
    RssVersion,
    /// A tag, CDATA section or comment cut off by the end of the document (a truncated
    /// download) was dropped.
    TruncatedTag,
    /// Elements left open at the end of the document (a truncated download) were closed.
    UnclosedElements,
    /// Items the feed parser refuses on their own (a field of the wrong type), even with
    /// their text alone, were dropped and the rest of the feed read; before, one such item
    /// failed the whole feed.
    UnreadableItems,
    /// Items the feed parser refuses on their own were read with their text alone (ids,
    /// links, titles, summaries, contents, dates, categories), their other fields dropped.
    UnreadableFields,
    /// `<itunes:duration>` elements and Media RSS `start`/`end`/`time` attributes too large to
    /// read were dropped (the feed parser library panicked on them: see [`times`]).
    MediaTime,
    /// An item or entry cut off by the end of the document (a truncated download) was
    /// dropped: kept, it would be stored as seen with half its text, and the whole item
    /// that comes with a later poll would be taken as known.
    PartialItem,
    /// `<rss>` content not inside a `<channel>` (or an empty `<rss>`) was wrapped in one.
    RssChannel,
    /// Atom text constructs with a MIME type (`text/plain`, `application/xhtml+xml`...) in
    /// `type` got the Atom 1.0 value (`text`, `html`, `xhtml`).
    AtomTextType,
    /// An Atom 0.3 feed was rewritten as Atom 1.0 (namespace and element names).
    Atom03,
    /// An RSS 0.90 document (`rdf:RDF` in Netscape's namespace) or an RSS 2.0 one in
    /// UserLand's namespace got the namespace its parser reads: before, it parsed into no
    /// items at all, without an error.
    RssNamespace,
    /// Empty Media RSS `media:title`/`media:description` elements were dropped and their
    /// `type` set to `plain` or `html` (see [`crate::feed::media`]).
    MediaText,
    /// A JSON Feed's numeric item ids became strings, a missing `version` or `title` was set,
    /// feed fields of the wrong type were left out, a key given twice kept its last value, a
    /// lone surrogate escape became U+FFFD (see [`json`]).
    JsonFeed,
    /// Items past [`crate::feed::cap::MAX_ITEMS`] were dropped (the document was cut before
    /// the first of them).
    TooManyItems,
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Repair::LeadingGarbage => "removed text before the XML start",
            Repair::Doctype => "removed the DOCTYPE declaration",
            Repair::ControlCharacters => {
                "removed control characters not allowed in XML (those between words as spaces)"
            }
            Repair::InvalidCharRef => {
                "removed character references to characters not allowed in XML"
            }
            Repair::HtmlEntity => "converted HTML entities to numeric character references",
            Repair::BareAmpersand => "escaped bare '&' characters",
            Repair::RawMarkup => {
                "wrapped raw markup in text elements as CDATA (a text element left open ends \
                 with its item)"
            }
            Repair::JsonFeed => {
                "read the JSON Feed past what its parser refuses (numeric item ids, a missing \
                 version or title, feed fields of the wrong type, keys given twice, lone \
                 surrogate escapes)"
            }
            Repair::XmlBase => "dropped xml:base attributes that are not URLs",
            Repair::CostlyXmlBase => {
                "dropped xml:base attributes too long to resolve every link against"
            }
            Repair::ExcessAttributes => {
                return write!(
                    f,
                    "dropped the attributes of a tag past its first {}",
                    attributes::MAX_ATTRIBUTES
                );
            }
            Repair::CostlyJson => {
                return write!(
                    f,
                    "cut JSON Feed lists past {} entries, or feed authors too costly to copy into every item",
                    crate::feed::item::MAX_LIST
                );
            }
            Repair::CostlyMediaGroups => {
                "dropped Media RSS groups (all but the first of each item) and ratings the parser would copy too often"
            }
            Repair::CostlyRepeats => {
                "dropped the last of an element's many links, categories, enclosures or media elements, too many for the parser to keep"
            }
            Repair::RssVersion => "set the missing or unknown <rss> version to 2.0",
            Repair::TruncatedTag => {
                "dropped a tag, CDATA section or comment cut off at the end of the document"
            }
            Repair::UnclosedElements => "closed elements left open at the end of the document",
            Repair::PartialItem => "dropped an item cut off by the end of the document",
            Repair::UnreadableItems => "dropped items the feed parser cannot read",
            Repair::UnreadableFields => {
                "read items with fields the feed parser cannot read by their text alone"
            }
            Repair::MediaTime => "dropped media durations and times too large to read",
            Repair::RssChannel => "wrapped <rss> content in the missing <channel>",
            Repair::AtomTextType => "normalized Atom text types to text/html/xhtml",
            Repair::Atom03 => "converted Atom 0.3 to Atom 1.0",
            Repair::RssNamespace => {
                "read an RSS 0.90 or namespaced RSS 2.0 document as RSS 1.0/2.0"
            }
            Repair::MediaText => "dropped empty Media RSS texts and normalized their types",
            Repair::TooManyItems => {
                return write!(
                    f,
                    "kept the first {} items of a document that has more",
                    crate::feed::cap::MAX_ITEMS
                );
            }
        })
    }
}

/// The outcome of [`repair`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired<'a> {
    pub text: Cow<'a, str>,
    pub applied: Vec<Repair>,
}

/// Applies every repair that changes something, in a fixed order: the prolog first (so the
/// later passes see the real document), then characters and references, then structure.
pub fn repair(text: &str) -> Repaired<'_> {
    let mut repaired = Repaired {
        text: Cow::Borrowed(text),
        applied: Vec::new(),
    };
    repaired.apply(Repair::LeadingGarbage, strip_leading_garbage);
    repaired.apply(Repair::Doctype, strip_doctype);
    repaired.apply(Repair::ControlCharacters, strip_control_characters);
    repaired.apply(Repair::TruncatedTag, drop_truncated_tag);
    if let Some((fixed, kinds)) = references::fix_references(&repaired.text) {
        repaired.text = Cow::Owned(fixed);
        repaired.applied.extend(kinds);
    }
    repaired.apply(Repair::RawMarkup, markup::wrap_raw_markup);
    repaired.apply(Repair::XmlBase, base::drop_bad_xml_base);
    repaired.apply(Repair::RssVersion, fix_rss_version);
    repaired.apply(Repair::RssChannel, wrap_rss_channel);
    repaired.apply(Repair::PartialItem, drop_partial_item);
    repaired.apply(Repair::UnclosedElements, close_open_elements);
    repaired.apply(Repair::AtomTextType, normalize_atom_text_types);
    repaired.apply(Repair::MediaText, crate::feed::media::fix_media_text);
    repaired.apply(Repair::MediaTime, times::drop_huge_media_times);
    repaired
}

impl Repaired<'_> {
    /// Runs one fix; records it when it changed the text.
    fn apply(&mut self, kind: Repair, fix: fn(&str) -> Option<String>) {
        if let Some(fixed) = fix(&self.text) {
            self.text = Cow::Owned(fixed);
            self.applied.push(kind);
        }
    }
}

/// The root element's start tag as located by [`root_start_tag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RootTag<'a> {
    /// Byte offset of the `<`.
    pub start: usize,
    /// The tag name as written (may carry a prefix, e.g. `rdf:RDF`).
    pub name: &'a str,
    /// The whole start tag, `<` through `>` (or to the end of input if unterminated).
    pub tag: &'a str,
}

/// Finds the first element start tag, skipping the prolog (declaration, processing
/// instructions, comments, DOCTYPE) and any stray text.
pub(crate) fn root_start_tag(text: &str) -> Option<RootTag<'_>> {
    let mut pos = 0;
    let mut no_subset_end = text.len();
    while let Some(offset) = text.get(pos..)?.find('<') {
        let lt = pos + offset;
        let rest = &text[lt..];
        if rest.starts_with("<?") {
            pos = after(text, lt, "?>");
        } else if rest.starts_with("<!--") {
            pos = after(text, lt, "-->");
        } else if rest.starts_with("<!") {
            pos = doctype_end(text, lt, &mut no_subset_end);
        } else if rest.as_bytes().get(1).is_some_and(u8::is_ascii_alphabetic) {
            let name_len = rest[1..]
                .bytes()
                .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'>' | b'/'))
                .count();
            let tag_len = rest.find('>').map_or(rest.len(), |i| i + 1);
            return Some(RootTag {
                start: lt,
                name: rest.get(1..1 + name_len)?,
                tag: &rest[..tag_len],
            });
        } else {
            pos = lt + 1;
        }
    }
    None
}

/// Position just past `needle` searched from `from`, or the end of input.
fn after(text: &str, from: usize, needle: &str) -> usize {
    text.get(from..)
        .and_then(|rest| rest.find(needle))
        .map_or(text.len(), |i| from + i + needle.len())
}

/// End (exclusive) of a `<!DOCTYPE ...>` starting at `lt`, including an internal subset `[...]`.
///
/// Called once per `<!` while looking for the root element, so no search here may run to the
/// end of the text each time (a body of `<!x>` or `<![>` repeated made that quadratic: minutes
/// of CPU for a few MB): the `[` is looked for only before the first `>`, and `no_subset_end`
/// remembers from where on a `]` is known to be missing (`text.len()` when nothing is known).
fn doctype_end(text: &str, lt: usize, no_subset_end: &mut usize) -> usize {
    let rest = text.get(lt..).unwrap_or_default();
    let Some(close) = rest.find('>') else {
        return text.len();
    };
    if let Some(open) = rest[..close].find('[') {
        let from = lt + open;
        if from < *no_subset_end {
            match text[from..].find(']') {
                Some(subset_close) => return after(text, from + subset_close, ">"),
                // An unterminated internal subset: the DOCTYPE ends at its first `>`.
                None => *no_subset_end = from,
            }
        }
    }
    lt + close + 1
}

/// Drops everything before `<?xml` (when it is near the start) or else before the first markup.
fn strip_leading_garbage(text: &str) -> Option<String> {
    // A declaration after some junk (whitespace, an editor artefact, a PHP notice that itself
    // contains markup) marks the real start; otherwise the first tag-like `<` does.
    let start = text
        .find("<?xml")
        .filter(|&p| p < crate::feed::charset::DECLARATION_WINDOW)
        .or_else(|| {
            text.match_indices('<').map(|(i, _)| i).find(|&i| {
                text.as_bytes()
                    .get(i + 1)
                    .is_some_and(|b| b.is_ascii_alphabetic() || matches!(b, b'!' | b'?'))
            })
        })?;
    (start > 0).then(|| text[start..].to_owned())
}

/// Removes a DOCTYPE declaration from the prolog. Feeds don't need one, and external or broken
/// DTDs (an XHTML DOCTYPE on an RSS feed, say) are a classic cause of parse failures.
fn strip_doctype(text: &str) -> Option<String> {
    let root = root_start_tag(text).map_or(text.len(), |root| root.start);
    let prolog = &text[..root];
    let start = prolog.match_indices("<!").map(|(i, _)| i).find(|&i| {
        prolog
            .get(i + 2..i + 9)
            .is_some_and(|keyword| keyword.eq_ignore_ascii_case("DOCTYPE"))
    })?;
    let end = doctype_end(text, start, &mut text.len());
    let mut fixed = String::with_capacity(text.len());
    fixed.push_str(&text[..start]);
    fixed.push_str(text.get(end..).unwrap_or_default());
    Some(fixed)
}

/// True for characters XML 1.0 does not allow in a document.
fn is_forbidden_char(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// The document without the characters XML forbids. Those that separate words (vertical
/// tab, form feed, the information separators U+001C–U+001F) become spaces in text: removed,
/// they glued "Victory\vPlan" into one word. Inside markup (`<ti\vtle>`), and the others
/// anywhere, they go.
fn strip_control_characters(text: &str) -> Option<String> {
    text.contains(is_forbidden_char).then(|| {
        let mut in_markup = false;
        text.chars()
            .filter_map(|c| {
                match c {
                    '<' => in_markup = true,
                    '>' => in_markup = false,
                    _ => {}
                }
                match c {
                    '\u{B}' | '\u{C}' | '\u{1C}'..='\u{1F}' if !in_markup => Some(' '),
                    c if is_forbidden_char(c) => None,
                    c => Some(c),
                }
            })
            .collect()
    })
}

/// RSS versions feed-rs dispatches on; anything else makes it report "no root element".
const KNOWN_RSS_VERSIONS: &[&str] = &["2.0", "0.91", "0.92", ""];

/// Gives a `<rss>` root without a usable `version` attribute `version="2.0"`.
fn fix_rss_version(text: &str) -> Option<String> {
    let root = root_start_tag(text)?;
    if root.name != "rss" {
        return None;
    }
    let tag_start = root.start;
    match attribute_value_span(root.tag, "version") {
        Some(value) if KNOWN_RSS_VERSIONS.contains(&root.tag[value.clone()].trim()) => None,
        Some(value) => {
            let mut fixed = text.to_owned();
            fixed.replace_range(tag_start + value.start..tag_start + value.end, "2.0");
            Some(fixed)
        }
        None => {
            let insert_at = tag_start + "<rss".len();
            let mut fixed = String::with_capacity(text.len() + 16);
            fixed.push_str(&text[..insert_at]);
            fixed.push_str(" version=\"2.0\"");
            fixed.push_str(&text[insert_at..]);
            Some(fixed)
        }
    }
}

/// Wraps the content of an `<rss>` root that has no `<channel>` in one: feed-rs finds no feed
/// without it, though the items (or the emptiness) are perfectly clear.
fn wrap_rss_channel(text: &str) -> Option<String> {
    let root = root_start_tag(text)?;
    let content_start = root.start + root.tag.len();
    if root.name != "rss" || !root.tag.ends_with('>') {
        return None;
    }
    let mut fixed = String::with_capacity(text.len() + 32);
    if let Some(open_tag) = root.tag.strip_suffix("/>") {
        fixed.push_str(&text[..root.start]);
        fixed.push_str(open_tag);
        fixed.push_str("><channel></channel></rss>");
        fixed.push_str(&text[content_start..]);
        return Some(fixed);
    }
    let has_channel = text[content_start..]
        .match_indices("<channel")
        .any(|(i, _)| starts_with_name(&text[content_start + i + 1..], "channel"));
    if has_channel {
        return None;
    }
    let content_end = text
        .rfind("</rss")
        .filter(|&end| end >= content_start)
        .unwrap_or(text.len());
    fixed.push_str(&text[..content_start]);
    fixed.push_str("<channel>");
    fixed.push_str(&text[content_start..content_end]);
    fixed.push_str("</channel>");
    fixed.push_str(&text[content_end..]);
    Some(fixed)
}

/// Byte range of a quoted attribute's value inside a start tag.
pub(crate) fn attribute_value_span(tag: &str, name: &str) -> Option<Range<usize>> {
    let bytes = tag.as_bytes();
    let mut search = 0;
    while let Some(offset) = tag.get(search..)?.find(name) {
        let start = search + offset;
        search = start + name.len();
        // `xml:version` or `myversion` are other attributes.
        if !(start > 0 && bytes[start - 1].is_ascii_whitespace()) {
            continue;
        }
        let Some(value_part) = tag[search..]
            .trim_start()
            .strip_prefix('=')
            .map(str::trim_start)
        else {
            continue;
        };
        let Some(quote) = value_part
            .chars()
            .next()
            .filter(|q| matches!(q, '"' | '\''))
        else {
            continue;
        };
        let value_start = tag.len() - value_part.len() + 1;
        let value_len = tag[value_start..].find(quote)?;
        return Some(value_start..value_start + value_len);
    }
    None
}

/// Atom 0.3's namespace; feed-rs only knows Atom 1.0 and silently ignores 0.3 elements.
const ATOM_0_3_NAMESPACE: &str = "http://purl.org/atom/ns#";
const ATOM_1_0_NAMESPACE: &str = "http://www.w3.org/2005/Atom";

/// Atom 0.3 element names and their Atom 1.0 equivalents.
const ATOM_0_3_RENAMES: &[(&str, &str)] = &[
    ("issued", "published"),
    ("modified", "updated"),
    ("tagline", "subtitle"),
    ("copyright", "rights"),
];

/// Atom elements that are text constructs (or content), whose `type` feed-rs is strict about.
const ATOM_TEXT_ELEMENTS: &[&str] = &["title", "subtitle", "summary", "content", "rights"];

/// RSS 0.90's namespace, in which an `rdf:RDF` root's items are RSS 1.0's.
const RSS_0_90_NAMESPACE: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS_1_0_NAMESPACE: &str = "http://purl.org/rss/1.0/";
/// A default namespace some RSS 2.0 generators put on `<rss>`; RSS 2.0 has none.
const USERLAND_RSS2_NAMESPACE: &str = "http://backend.userland.com/rss2";

/// The document with the root's namespace its parser reads, when it is RSS 0.90 (`rdf:RDF` in
/// Netscape's namespace: its `channel` and `item` are RSS 1.0's, in another namespace) or RSS
/// 2.0 with UserLand's default namespace; `None` otherwise. feed-rs skipped every element of
/// either as unknown: the feed "parsed" into no items, and no repair ran.
pub fn rss_namespace(text: &str) -> Option<String> {
    let root = root_start_tag(text)?;
    let local = root.name.rsplit(':').next().unwrap_or(root.name);
    let end = root.start + root.tag.len();
    let tag = match local {
        "RDF" if root.tag.contains(RSS_0_90_NAMESPACE) => {
            root.tag.replace(RSS_0_90_NAMESPACE, RSS_1_0_NAMESPACE)
        }
        "rss" => {
            let at = root.tag.find("xmlns=")?;
            let rest = &root.tag[at + "xmlns=".len()..];
            let quote = rest.chars().next().filter(|q| matches!(q, '"' | '\''))?;
            let value_len = rest[1..].find(quote)?;
            if rest[1..1 + value_len].trim_end_matches('/') != USERLAND_RSS2_NAMESPACE {
                return None;
            }
            let attr_end = at + "xmlns=".len() + 1 + value_len + 1;
            format!("{}{}", &root.tag[..at], &root.tag[attr_end..])
        }
        _ => return None,
    };
    Some(format!("{}{tag}{}", &text[..root.start], &text[end..]))
}

/// Rewrites an Atom 0.3 feed as Atom 1.0, or `None` if the text is not Atom 0.3.
///
/// Unlike the other repairs this runs before the first parse: an Atom 0.3 feed does not fail,
/// it parses into an empty feed.
pub fn upgrade_atom_0_3(text: &str) -> Option<String> {
    let root = root_start_tag(text)?;
    if root.name != "feed" || !root.tag.contains(ATOM_0_3_NAMESPACE) {
        return None;
    }
    let upgraded = rename_elements(
        &text.replace(ATOM_0_3_NAMESPACE, ATOM_1_0_NAMESPACE),
        ATOM_0_3_RENAMES,
    );
    Some(normalize_atom_text_types(&upgraded).unwrap_or(upgraded))
}

/// Renames elements (start and end tags, unprefixed).
fn rename_elements(text: &str, renames: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(offset) = text[pos..].find('<') {
        let name_start = pos + offset + 1 + usize::from(text[pos + offset + 1..].starts_with('/'));
        out.push_str(&text[pos..name_start]);
        pos = name_start;
        let rest = &text[name_start..];
        if let Some((old, new)) = renames.iter().find(|(old, _)| starts_with_name(rest, old)) {
            out.push_str(new);
            pos += old.len();
        }
    }
    out.push_str(&text[pos..]);
    out
}

/// `text` with each edit's range replaced by its text, edits taken by where they start; an edit
/// that starts inside one already made is skipped (the parts of an element cut whole go with
/// it).
pub(crate) fn splice<S: AsRef<str>>(text: &str, mut edits: Vec<(Range<usize>, S)>) -> String {
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (range, with) in edits {
        if range.start < copied {
            continue;
        }
        out.push_str(&text[copied..range.start]);
        out.push_str(with.as_ref());
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// True when `rest` starts with the element name `name` followed by a delimiter.
pub(crate) fn starts_with_name(rest: &str, name: &str) -> bool {
    rest.starts_with(name)
        && rest
            .as_bytes()
            .get(name.len())
            .is_none_or(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))
}

/// Maps `type` values of Atom text constructs to what feed-rs accepts (`text`, `html`,
/// `xhtml`); feed-rs rejects the whole feed on anything else.
fn normalize_atom_text_types(text: &str) -> Option<String> {
    if root_start_tag(text)?.name != "feed" {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut pos = 0;
    while let Some(offset) = text[pos..].find('<') {
        let name_start = pos + offset + 1;
        let rest = &text[name_start..];
        let Some(element) = ATOM_TEXT_ELEMENTS
            .iter()
            .find(|name| starts_with_name(rest, name))
        else {
            out.push_str(&text[pos..name_start]);
            pos = name_start;
            continue;
        };
        let tag_end = rest.find('>').map_or(text.len(), |i| name_start + i);
        let tag = &text[name_start..tag_end];
        out.push_str(&text[pos..name_start]);
        match attribute_value_span(tag, "type")
            .and_then(|v| atom_type(element, &tag[v.clone()]).map(|t| (v, t)))
        {
            Some((value, normalized)) => {
                out.push_str(&tag[..value.start]);
                out.push_str(normalized);
                out.push_str(&tag[value.end..]);
                changed = true;
            }
            None => out.push_str(tag),
        }
        pos = tag_end;
    }
    out.push_str(&text[pos..]);
    changed.then_some(out)
}

/// The Atom 1.0 `type` for a text construct's value, or `None` when it is fine as is (or, for
/// `content`, a real media type of embedded data).
fn atom_type(element: &str, value: &str) -> Option<&'static str> {
    let normalized = match value.trim().to_ascii_lowercase().as_str() {
        "text" | "text/plain" | "plain" => "text",
        "html" | "text/html" | "escaped" => "html",
        "xhtml" | "application/xhtml+xml" | "text/xhtml" => "xhtml",
        _ if element != "content" => "text",
        _ => return None,
    };
    (normalized != value).then_some(normalized)
}

#[cfg(test)]
mod tests;
