//! A document cut off by the end of its download (a server that timed out mid-body, a
//! connection closed early): the tag cut in half is dropped, an item or entry left open is
//! dropped whole, and the elements around it are closed.
//!
//! Owns [`drop_truncated_tag`], [`drop_partial_item`] and [`close_open_elements`], repairs
//! tried (in that order) after a failed parse: the parser refuses a document that ends with
//! elements open.

use super::tags::{MAX_DEPTH, Tag, tags};
use crate::feed::cap::is_item_name;

/// Drops a final `<...` that never reaches its `>`, or a CDATA section or comment that never
/// ends, from its start on. The parser tolerates elements left open at the end of input, but
/// not a tag cut in half, nor a cut inside a CDATA section ("CDATA not closed": most of a
/// WordPress feed's bytes are in `<content:encoded><![CDATA[…`, so that is where most cuts
/// fall, and the whole feed was lost).
pub(super) fn drop_truncated_tag(text: &str) -> Option<String> {
    // Not in a document that ends with its root's end tag, which no cut does: there a `<!--`
    // is text written bare (`Type <!-- to open a comment`), which the raw-markup repair reads
    // as such (cut there, every item after it was lost).
    if let Some(open) = unended_section(text)
        && !ends_with_its_root(text)
    {
        return Some(text[..open].trim_end().to_owned());
    }
    let trimmed = text.trim_end();
    let last_lt = trimmed.rfind('<')?;
    let tail = &trimmed[last_lt..];
    if tail.contains('>') || tail.starts_with("<![CDATA[") || tail.starts_with("<!--") {
        return None;
    }
    Some(trimmed[..last_lt].to_owned())
}

/// Whether `text` ends with the end tag of its first element (its root).
fn ends_with_its_root(text: &str) -> bool {
    let Some(start) = text
        .match_indices('<')
        .map(|(i, _)| i)
        .find(|&i| text[i + 1..].starts_with(|c: char| c.is_alphabetic() || c == '_'))
    else {
        return false;
    };
    let name: String = text[start + 1..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '>' | '/'))
        .collect();
    text.trim_end()
        .strip_suffix('>')
        .map(str::trim_end)
        .and_then(|t| t.strip_suffix(name.as_str()))
        .is_some_and(|t| t.ends_with("</"))
}

/// Where the CDATA section or comment that runs to the end of `text` starts, if one does.
/// Each section is skipped whole, so a `<!--` inside CDATA (or the reverse) is text.
fn unended_section(text: &str) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'<', &text.as_bytes()[at..]) {
        let start = at + i;
        let rest = &text[start..];
        let (open, close) = if rest.starts_with("<![CDATA[") {
            ("<![CDATA[", "]]>")
        } else if rest.starts_with("<!--") {
            ("<!--", "-->")
        } else {
            at = start + 1;
            continue;
        };
        match memchr::memmem::find(&rest.as_bytes()[open.len()..], close.as_bytes()) {
            Some(end) => at = start + open.len() + end + close.len(),
            None => return Some(start),
        }
    }
    None
}

/// Drops an item or entry left open at the end of the document, from its start tag on: kept
/// and closed, it was stored as seen with half its text, and the whole item a later poll
/// brought was taken as known (see [`super::Repair::PartialItem`]). `None` when none is open
/// or the document has other syntax errors.
pub(super) fn drop_partial_item(text: &str) -> Option<String> {
    let open = open_at_end(text)?;
    // Not the root: a document that is one Atom entry keeps what it has.
    let (_, start) = open.iter().skip(1).find(|(name, _)| is_item_name(name))?;
    Some(text[..*start].trim_end().to_owned())
}

/// Appends end tags for elements still open at the end of input. Gives up (`None`) when the
/// document has other syntax errors: then there is no reliable element stack to close.
pub(super) fn close_open_elements(text: &str) -> Option<String> {
    let open = open_at_end(text)?;
    if open.is_empty() {
        return None;
    }
    let mut fixed = text.trim_end().to_owned();
    for (name, _) in open.iter().rev() {
        fixed.push_str("</");
        fixed.push_str(name);
        fixed.push('>');
    }
    Some(fixed)
}

/// The elements open at the end of `text`, outermost first, each with where its start tag
/// begins; `None` when the document has other syntax errors or nests deeper than
/// [`MAX_DEPTH`].
fn open_at_end(text: &str) -> Option<Vec<(String, usize)>> {
    let mut open: Vec<(String, usize)> = Vec::new();
    for tag in tags(text) {
        if open.len() > MAX_DEPTH {
            return None;
        }
        match tag.ok()? {
            Tag::Start(name, span) => open.push((name, span.start)),
            Tag::End(_) => {
                open.pop();
            }
            Tag::Empty(..) => {}
        }
    }
    Some(open)
}

#[cfg(test)]
mod tests {
    use crate::feed::repair::{Repair, repair};

    /// Regression: a download cut inside a CDATA section or a comment was not repaired ("CDATA
    /// not closed"), and the whole feed was lost with the items before the cut.
    #[test]
    fn a_cut_inside_cdata_or_a_comment_drops_the_item_it_cuts() {
        let head = "<rss version=\"2.0\"><channel><title>t</title>\
                    <item><title>troops one</title><guid>1</guid>\
                    <description><![CDATA[<p>whole</p>]]></description><!-- c --></item>";
        for cut in [
            "<item><title>troops two</title><guid>2</guid><description><![CDATA[<p>Body cut he",
            "<item><title>troops two</title><guid>2</guid><!-- a comment cut",
            "<item><title>two</title><description><![CDATA[a <!-- b",
        ] {
            let text = format!("{head}{cut}");
            let repaired = repair(&text);
            assert_eq!(repaired.text, format!("{head}</channel></rss>"), "{cut}");
            assert!(repaired.applied.contains(&Repair::PartialItem), "{cut}");
        }
        // A whole document with a bare `<!--` in its text is no cut (the raw-markup repair
        // reads it); nor are sections that end.
        let whole = format!(
            "{head}<item><title>b</title><description>Type <!-- to open</description></item>\
             <item><title>troops three</title></item></channel></rss>\n"
        );
        assert!(!repair(&whole).applied.contains(&Repair::PartialItem));
        assert!(super::ends_with_its_root(&whole));
        assert!(!super::ends_with_its_root("<rss><channel></channel>"));
        assert_eq!(
            super::unended_section("<a><![CDATA[ <!-- ]]><!-- <![CDATA[ --></a>"),
            None
        );
    }

    /// Regression: a download cut mid-item (`…<item><guid>g5</guid><title>North Korean tr`)
    /// was repaired by closing the item, which was then stored as seen with half its title:
    /// when the whole document came, `g5` was known and "North Korean troops" never matched.
    #[test]
    fn an_item_cut_off_by_the_end_of_the_document_is_dropped_whole() {
        let head = "<rss version=\"2.0\"><channel><title>t</title>\
                    <item><guid>g4</guid><title>kept</title></item>";
        let whole = "<rss version=\"2.0\"><channel><title>t</title>\
                     <item><guid>g4</guid><title>kept</title></item></channel></rss>";
        for tail in [
            "<item><guid>g5</guid><title>North Korean tr",
            "\n<item><guid>g5</guid><title>North Korean troops</tit",
            "<item><guid>g5</gu",
            "<item>",
        ] {
            let text = format!("{head}{tail}");
            let repaired = repair(&text);
            assert_eq!(repaired.text, whole, "{tail}");
            assert!(
                repaired.applied.contains(&Repair::PartialItem),
                "{tail}: {:?}",
                repaired.applied
            );
        }
        let atom = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>1</id></entry>\
                    <a:entry xmlns:a=\"http://www.w3.org/2005/Atom\"><id>2";
        assert_eq!(
            repair(atom).text,
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>1</id></entry></feed>"
        );
    }

    /// A document that is one Atom entry, cut off: closed, as before (dropping the root
    /// left nothing to read).
    #[test]
    fn a_lone_entry_cut_off_is_closed_not_dropped() {
        let repaired = repair("<entry xmlns=\"http://www.w3.org/2005/Atom\"><id>1</id><title>cu");
        assert_eq!(
            repaired.text,
            "<entry xmlns=\"http://www.w3.org/2005/Atom\"><id>1</id><title>cu</title></entry>"
        );
    }

    /// Cut between items: nothing was half read; the elements around are closed.
    #[test]
    fn a_document_cut_between_items_keeps_its_items() {
        let repaired = repair("<rss version=\"2.0\"><channel><item><title>a</title></item>");
        assert_eq!(
            repaired.text,
            "<rss version=\"2.0\"><channel><item><title>a</title></item></channel></rss>"
        );
        assert_eq!(repaired.applied, [Repair::UnclosedElements]);
    }
}
