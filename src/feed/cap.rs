//! The cap on items per document, applied to the text before it is parsed.
//!
//! Owns [`MAX_ITEMS`] and [`cap_items`]. The body cap (`max_body_size`) bounds a document's
//! bytes, not its items: 16 MiB of `<item/>` is 2.3 million items, which the parser turned
//! into 2.3 GB of memory and 11 s of work, enough to get the daemon killed on a small host.
//! (JSON Feed was worse: 15 MB of `{}` items, 5.2 GB.) A document with more items than
//! [`MAX_ITEMS`] is cut before the first item past the cap: XML is left for the repair pass to
//! close ([`crate::feed::repair`]), a JSON Feed's `items` array is closed here. The cut is
//! reported as [`crate::feed::repair::Repair::TooManyItems`].

use std::borrow::Cow;

/// Items kept from one document: far more than any news feed carries (a few hundred at most;
/// archives a few thousand), few enough that a hostile one costs little.
pub const MAX_ITEMS: usize = 10_000;

/// How many times [`MAX_ITEMS`] item tags an XML document may hold, quoted or not, before it
/// is cut whatever its markup says (see [`tag_cut_at`]).
const TAGS_PER_ITEM: usize = 4;

/// `text` cut before its `(max + 1)`-th item, or `None` when it has no more than `max`.
/// XML: `<item>` and `<entry>` elements (any namespace prefix); comments, CDATA sections and
/// processing instructions are skipped, so markup quoted in them is not counted; and however
/// the markup reads, no more than `TAGS_PER_ITEM × max` item tags are kept. JSON (text
/// starting with `{`): the objects of the top-level `items` array, which is closed after the
/// last one kept.
pub fn cap_items(text: &str, max: usize) -> Option<Cow<'_, str>> {
    // Each item opens with a `{` or a `<`: a text with no more of them than `max` is not read
    // (nearly every feed).
    let json = text.trim_start().starts_with('{');
    let opener = if json { b'{' } else { b'<' };
    if crate::feed::repair::lexical::at_most(text, opener, max) {
        return None;
    }
    if json {
        return json_cut_at(text, max).map(|(at, end)| {
            let kept = text[..at].trim_end().trim_end_matches(',');
            match end {
                // The feed's keys after `items` (a `next_url`, an extension) are kept.
                Some(end) => Cow::Owned(format!("{kept}{}", &text[end..])),
                None => Cow::Owned(format!("{kept}]}}")),
            }
        });
    }
    let cut = match tag_cut_at(text, max.saturating_mul(TAGS_PER_ITEM)) {
        // The bound cut first: at the start of the last item counted before it, so the cut
        // does not fall inside a comment or CDATA section.
        Some(bound) => Some(
            item_starts(text)
                .take(max.saturating_add(1))
                .take_while(|&at| at <= bound)
                .last()
                .unwrap_or(bound),
        ),
        None => item_starts(text).nth(max),
    };
    cut.map(|at| Cow::Borrowed(&text[..at]))
}

/// Where the `(max + 1)`-th object of the top-level `items` array starts, and where the
/// array's closing `]` is (`None` when the text ends first).
fn json_cut_at(text: &str, max: usize) -> Option<(usize, Option<usize>)> {
    let at = items_past(text, max)?;
    Some((at, array_end(&text[at..]).map(|e| at + e)))
}

/// Where the `(max + 1)`-th object of the top-level `items` array starts.
fn items_past(text: &str, max: usize) -> Option<usize> {
    let (mut depth, mut key_is_items, mut in_items, mut seen) = (0usize, false, false, 0usize);
    for tok in json_tokens(text) {
        let (i, c) = match tok {
            Tok::Str(from, to) => {
                if depth == 1 {
                    key_is_items = is_items(&text[from..to]);
                }
                continue;
            }
            Tok::Byte(i, c) => (i, c),
        };
        match c {
            b'{' | b'[' => {
                if in_items && depth == 2 && c == b'{' {
                    seen += 1;
                    if seen > max {
                        return Some(i);
                    }
                }
                if depth == 1 && c == b'[' && key_is_items {
                    in_items = true;
                }
                depth += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    in_items = false;
                }
            }
            b',' if depth == 1 => key_is_items = false,
            _ => {}
        }
    }
    None
}

/// Whether a key's raw text is `items`, escapes decoded (`"\u0069tems"` is `items` to the
/// JSON parser, and must be to the cap).
fn is_items(raw: &str) -> bool {
    is_key(raw, "items")
}

/// Whether a JSON string's raw text (between its quotes) is `name`, escapes decoded.
pub(crate) fn is_key(raw: &str, name: &str) -> bool {
    if !raw.contains('\\') {
        return raw == name;
    }
    serde_json::from_str::<String>(&format!("\"{raw}\"")).is_ok_and(|k| k == name)
}

/// More than `max` JSON values in `text` (counted by the brackets and commas outside strings,
/// an upper estimate: one per value but the first of each container)? Read in one pass,
/// without building them.
pub(crate) fn json_values_exceed(text: &str, max: usize) -> bool {
    json_tokens(text)
        .filter(|t| matches!(t, Tok::Byte(_, b'{' | b'[' | b',')))
        .nth(max)
        .is_some()
}

/// In `rest` (inside an array, between its elements), the index of the `]` that closes it.
fn array_end(rest: &str) -> Option<usize> {
    let mut depth = 0usize;
    for tok in json_tokens(rest) {
        let Tok::Byte(i, c) = tok else {
            continue;
        };
        match c {
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return (c == b']').then_some(i),
            b'}' | b']' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// A piece of JSON text: a byte outside strings, or a string's contents (byte range, escapes
/// left as written; an unterminated string runs to the end).
pub(crate) enum Tok {
    Byte(usize, u8),
    Str(usize, usize),
}

/// JSON text as [`Tok`]s, so brackets and quotes inside strings are never read as structure.
pub(crate) fn json_tokens(text: &str) -> impl Iterator<Item = Tok> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        let (at, c) = (i, *bytes.get(i)?);
        i += 1;
        if c != b'"' {
            return Some(Tok::Byte(at, c));
        }
        let mut escaped = false;
        while let Some(&b) = bytes.get(i) {
            i += 1;
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                return Some(Tok::Str(at + 1, i - 1));
            }
        }
        Some(Tok::Str(at + 1, bytes.len()))
    })
}

/// Where each item element starts, comments, CDATA sections and processing instructions
/// skipped. One whose end is missing is not skipped: it is read on as markup, so the count can
/// only be too high (a cut too early), never hide items. A marker found missing once is not
/// looked for again: a text of unclosed `<!--` took a search to its end for each.
fn item_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    const QUOTES: [(&str, &str); 3] = [("![CDATA[", "]]>"), ("!--", "-->"), ("?", "?>")];
    let mut missing = [false; QUOTES.len()];
    let mut i = 0;
    std::iter::from_fn(move || {
        while let Some(off) = text[i..].find('<') {
            let at = i + off;
            let rest = &text[at + 1..];
            let quoted = QUOTES
                .iter()
                .position(|(open, _)| rest.starts_with(open))
                .filter(|&q| !missing[q]);
            if let Some(q) = quoted {
                let (open, close) = QUOTES[q];
                match rest[open.len()..].find(close) {
                    Some(e) => {
                        i = at + 1 + open.len() + e;
                        continue;
                    }
                    None => missing[q] = true,
                }
            }
            let name_len = tag_name_len(rest);
            i = at + 1 + name_len;
            if is_item_tag(rest, name_len) {
                return Some(at);
            }
        }
        None
    })
}

/// Where the `(max + 1)`-th `<item` or `<entry` tag starts, counting every one in the text,
/// quoted in a comment or not. Skipping quoted markup has to find where the quote ends, and
/// markup can lie about that (a comment opened inside a processing instruction or an entity
/// value hid every item after it from [`item_starts`]); this count has nothing to be fooled by.
fn tag_cut_at(text: &str, max: usize) -> Option<usize> {
    let mut seen = 0usize;
    for (at, _) in text.match_indices('<') {
        let rest = &text[at + 1..];
        if is_item_tag(rest, tag_name_len(rest)) {
            seen += 1;
            if seen > max {
                return Some(at);
            }
        }
    }
    None
}

/// The length of the tag name at the start of `rest` (the text after a `<`).
fn tag_name_len(rest: &str) -> usize {
    rest.bytes()
        .position(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'>' | b'/' | b'<'))
        .unwrap_or(rest.len())
}

/// Whether the name of `name_len` bytes at the start of `rest` is `item` or `entry` in any
/// namespace. A name cut off by the end of the text is no element.
fn is_item_tag(rest: &str, name_len: usize) -> bool {
    // The name ends at an ASCII delimiter: a char boundary.
    name_len < rest.len() && rest.get(..name_len).is_some_and(is_item_name)
}

/// Whether an element name is `item` or `entry`, in any namespace: what counts as an item for
/// the cap and for the repairs that cut or drop items.
pub(crate) fn is_item_name(name: &str) -> bool {
    let local = name.rsplit(':').next().unwrap_or(name);
    local == "item" || local == "entry"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss(items: usize) -> String {
        let mut s = String::from("<rss version=\"2.0\"><channel><title>t</title>");
        for i in 0..items {
            s.push_str(&format!("<item><title>n{i}</title></item>"));
        }
        s.push_str("</channel></rss>");
        s
    }

    #[test]
    fn a_document_within_the_cap_is_left_alone() {
        assert!(cap_items(&rss(3), 3).is_none());
        assert!(cap_items("{\"items\":[{},{},{}]}", 3).is_none());
    }

    #[test]
    fn a_document_past_the_cap_is_cut_before_the_first_item_past_it() {
        let text = rss(5);
        let cut = cap_items(&text, 3).unwrap();
        assert!(cut.ends_with("<title>n2</title></item>"), "{cut}");
        let atom =
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><a:entry/><entry>x</entry><entry/></feed>";
        assert_eq!(
            cap_items(atom, 2).as_deref(),
            Some("<feed xmlns=\"http://www.w3.org/2005/Atom\"><a:entry/><entry>x</entry>")
        );
    }

    #[test]
    fn a_json_feed_past_the_cap_keeps_its_first_items_in_a_closed_array() {
        let json = r#"{"title":"t","items" : [ {"id":"a","x":{"items":[{},{}]}}, {"id":"b\"}{"}, {"id":"c"} ]}"#;
        let cut = cap_items(json, 2).unwrap();
        assert_eq!(
            cut,
            r#"{"title":"t","items" : [ {"id":"a","x":{"items":[{},{}]}}, {"id":"b\"}{"}]}"#
        );
        assert!(serde_json::from_str::<serde_json::Value>(&cut).is_ok());
        assert!(cap_items(json, 3).is_none());
        // A key written with escapes is the same key.
        let escaped = r#"{"\u0069tems":[{"id":"a"},{"id":"b"}]}"#;
        assert_eq!(
            cap_items(escaped, 1).unwrap(),
            r#"{"\u0069tems":[{"id":"a"}]}"#
        );
        // A document that ends inside the array is closed here.
        let open = r#"{"items":[{"id":"a"},{"id":"b"},{"id":"c""#;
        assert_eq!(cap_items(open, 1).unwrap(), r#"{"items":[{"id":"a"}]}"#);
        // Objects elsewhere are not items.
        assert!(cap_items(r#"{"authors":[{},{},{}],"items":[{}]}"#, 1).is_none());
    }

    /// The cut closed the array and the object at once: a JSON Feed's keys after `items`
    /// (`next_url`, a `_` extension) were lost.
    #[test]
    fn a_json_feed_cut_at_the_cap_keeps_its_keys_after_the_items() {
        let json = r#"{"items":[{"id":"a"},{"id":"b","t":"]}"},{"id":"c","x":[1,{"y":"]"}]}],"next_url":"https://e.x/2","_ext":{"k":[1]}}"#;
        let cut = cap_items(json, 1).unwrap();
        assert_eq!(
            cut,
            r#"{"items":[{"id":"a"}],"next_url":"https://e.x/2","_ext":{"k":[1]}}"#
        );
        let v: serde_json::Value = serde_json::from_str(&cut).unwrap();
        assert_eq!(v["next_url"], "https://e.x/2");
    }

    /// Regression: a comment opened inside a processing instruction (or an entity value, or
    /// any quote the skipping misreads) and closed after the last item hid every item from the
    /// cap: a well-formed feed of 2.3 million items went to the parser whole, gigabytes of
    /// memory. However the quotes read, no more than `TAGS_PER_ITEM` × the cap of item tags
    /// are kept.
    #[test]
    fn items_hidden_from_the_count_by_a_misread_quote_are_cut_all_the_same() {
        let items = "<item/>".repeat(1000);
        for head in [
            "<?xml version=\"1.0\"?><?x <!-- ?>",
            "<!DOCTYPE rss [<!ENTITY e \"<!--\">]>",
            "<!DOCTYPE rss [<!ENTITY e \"<![CDATA[\">]>",
        ] {
            let text = format!("{head}<rss><channel>{items}<!-- -->]]></channel></rss>");
            let cut = cap_items(&text, 10).unwrap();
            let kept = cut.matches("<item/>").count();
            assert!(kept <= 10 * TAGS_PER_ITEM, "{head}: {kept} items kept");
        }
    }

    /// Regression: each unclosed `<!--` (or `<?`, `<![CDATA[`) searched the rest of the text
    /// for its end, so a text of them cost the square of its length; a marker found missing is
    /// not looked for again. And a cut by the bound on item tags falls at the start of a real
    /// item, not inside the comment that held the quoted tags.
    #[test]
    fn unclosed_quotes_are_searched_once_and_the_bound_cuts_at_a_real_item() {
        for opener in ["<!--", "<?", "<![CDATA["] {
            let text = format!("<rss><item/>{}<item/><item/>", opener.repeat(200_000));
            assert_eq!(cap_items(&text, 1).map(|c| c.len()), Some(text.len() - 14));
        }
        let quoted = "<item/>".repeat(50);
        let text = format!("<rss><item>a</item><item>b<!-- {quoted} --></item><item/></rss>");
        assert_eq!(cap_items(&text, 10).as_deref(), Some("<rss><item>a</item>"));
    }

    #[test]
    fn markup_in_comments_and_cdata_and_look_alike_names_is_not_counted() {
        let text = "<rss><channel><!-- <item> <item> --><items/><itemx/>\
            <item><description><![CDATA[<item><entry>]]></description></item>\
            <item/></channel></rss>";
        assert!(cap_items(text, 2).is_none());
        assert!(cap_items(text, 1).is_some());
        // Regression: an unterminated comment or CDATA section hid the rest, so nothing was
        // cut; now its text is counted (a cut too early at worst, in a broken document).
        assert!(cap_items("<rss><item/><!-- <item/><item/>", 1).is_some());
        assert!(cap_items("<rss><item/><![CDATA[ <item/><item/>", 1).is_some());
        // A processing instruction is skipped like a comment.
        assert!(cap_items("<?x <item/> ?><rss><item/></rss>", 1).is_none());
        // A name cut off by the end of the text.
        assert!(cap_items("<rss><item/><item", 1).is_none());
        // A text that ends with `<` (found by the parser's property test: the scan stepped
        // past the end).
        assert!(cap_items("<rss><item/><", 1).is_none());
    }
}
