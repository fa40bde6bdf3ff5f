//! Media RSS (`xmlns:media="http://search.yahoo.com/mrss/"`) text elements that feed-rs rejects.
//!
//! feed-rs refuses a whole feed when one `media:title` or `media:description` is empty (YouTube
//! writes `<media:description></media:description>` for every video without a description) or
//! has a `type` other than `plain`/`html`. [`fix_media_text`] is one of the repairs tried after a
//! failed parse: it drops the empty elements (they carry nothing) and maps other types to the two
//! feed-rs knows. Only the conventional `media:` prefix is recognised. Crossing the boundary:
//! decoded text in, the fixed text out (or `None` when nothing needed fixing).

/// The Media RSS text elements feed-rs reads with a strict `type` and required content.
const TEXT_ELEMENTS: [&str; 2] = ["media:description", "media:title"];

/// Drops empty Media RSS text elements and normalises their `type`; `None` if none needed it.
pub(crate) fn fix_media_text(text: &str) -> Option<String> {
    if !text.contains("<media:") {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut pos = 0;
    while let Some(offset) = text[pos..].find("<media:") {
        let lt = pos + offset;
        let rest = &text[lt + 1..];
        let Some(name) = TEXT_ELEMENTS
            .iter()
            .find(|name| crate::feed::repair::starts_with_name(rest, name))
        else {
            out.push_str(&text[pos..lt + 1]);
            pos = lt + 1;
            continue;
        };
        out.push_str(&text[pos..lt]);
        let Some(tag_len) = rest.find('>') else {
            // A cut-off tag: the truncation repair deals with it.
            out.push_str(&text[lt..]);
            return changed.then_some(out);
        };
        let tag = &text[lt..lt + 1 + tag_len + 1];
        let after_tag = lt + tag.len();
        if tag.ends_with("/>") {
            changed = true;
            pos = after_tag;
            continue;
        }
        if let Some(end) = blank_content_end(&text[after_tag..], name) {
            changed = true;
            pos = after_tag + end;
            continue;
        }
        match normalized_type(tag) {
            Some(fixed) => {
                out.push_str(&fixed);
                changed = true;
            }
            None => out.push_str(tag),
        }
        pos = after_tag;
    }
    out.push_str(&text[pos..]);
    changed.then_some(out)
}

/// When the element's content is blank (whitespace, possibly in empty CDATA sections), the
/// length of that content plus the end tag; looks only at what follows the start tag, so a
/// document of many unclosed elements stays linear.
fn blank_content_end(after: &str, name: &str) -> Option<usize> {
    let mut rest = after.trim_start();
    while let Some(inner) = rest.strip_prefix("<![CDATA[") {
        rest = inner.trim_start().strip_prefix("]]>")?.trim_start();
    }
    let close = rest
        .strip_prefix("</")?
        .strip_prefix(name)?
        .strip_prefix('>')?;
    Some(after.len() - close.len())
}

/// The start tag with its `type` mapped to `plain` or `html`, or `None` when it is fine.
fn normalized_type(tag: &str) -> Option<String> {
    let span = crate::feed::repair::attribute_value_span(tag, "type")?;
    let value = tag[span.clone()].trim().to_ascii_lowercase();
    let normalized = match value.as_str() {
        "plain" | "html" => return None,
        "text/html" | "xhtml" | "application/xhtml+xml" | "escaped" => "html",
        _ => "plain",
    };
    Some(format!(
        "{}{normalized}{}",
        &tag[..span.start],
        &tag[span.end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_media_text_elements_dropped() {
        let text = "<entry><media:group><media:title>T</media:title>\
                    <media:description></media:description><media:description/>\
                    <media:description type=\"plain\"> <![CDATA[]]> </media:description>\
                    <media:content url=\"u\"/></media:group></entry>";
        assert_eq!(
            fix_media_text(text).as_deref(),
            Some(
                "<entry><media:group><media:title>T</media:title><media:content url=\"u\"/>\
                 </media:group></entry>"
            )
        );
    }

    #[test]
    fn media_text_types_normalized() {
        let text = "<media:title type=\"text\">a</media:title>\
                    <media:description type='text/html'>b</media:description>\
                    <media:description type=\"html\">c</media:description>";
        assert_eq!(
            fix_media_text(text).as_deref(),
            Some(
                "<media:title type=\"plain\">a</media:title>\
                 <media:description type='html'>b</media:description>\
                 <media:description type=\"html\">c</media:description>"
            )
        );
    }

    #[test]
    fn many_unclosed_media_texts_stay_linear() {
        // Each start tag once searched the rest of the document for its end tag.
        let mut text = "<media:title type=\"text\">x".repeat(20_000);
        text.push_str(&" ".repeat(1 << 20));
        let started = std::time::Instant::now();
        let fixed = fix_media_text(&text).unwrap_or_default();
        assert_eq!(fixed.matches("type=\"plain\"").count(), 20_000);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn nothing_to_fix_is_none() {
        assert_eq!(
            fix_media_text("<rss><media:content url=\"u\"/></rss>"),
            None
        );
        assert_eq!(
            fix_media_text("<media:description>x</media:description><media:descriptionx>"),
            None
        );
        // Cut off inside a tag: left for the truncation repair, no panic.
        assert_eq!(fix_media_text("<a><media:title"), None);
        assert_eq!(fix_media_text("<media:title type=\""), None);
    }
}
