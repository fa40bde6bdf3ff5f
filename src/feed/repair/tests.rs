//! Unit tests of the XML repair pass: each repair and the warning it leaves.

use super::*;

fn applied(text: &str) -> (String, Vec<Repair>) {
    let repaired = repair(text);
    (repaired.text.into_owned(), repaired.applied)
}

#[test]
fn nothing_to_do_borrows() {
    let text = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel/></rss>";
    let repaired = repair(text);
    assert!(matches!(repaired.text, Cow::Borrowed(_)));
    assert!(repaired.applied.is_empty());
}

#[test]
fn bare_ampersand_escaped() {
    let (text, kinds) =
        applied("<rss version=\"2.0\"><channel><t>A & B &C D &amp; &#38;</t></channel></rss>");
    assert_eq!(
        text,
        "<rss version=\"2.0\"><channel><t>A &amp; B &amp;C D &amp; &#38;</t></channel></rss>"
    );
    assert_eq!(kinds, [Repair::BareAmpersand]);
}

#[test]
fn ampersand_in_attribute_escaped() {
    let (text, _) =
        applied("<rss version=\"2.0\"><channel><link href=\"?a=1&b=2\"/></channel></rss>");
    assert_eq!(
        text,
        "<rss version=\"2.0\"><channel><link href=\"?a=1&amp;b=2\"/></channel></rss>"
    );
}

#[test]
fn html_entities_become_numeric() {
    let (text, kinds) = applied(
        "<rss version=\"2.0\"><channel><t>caf&eacute;&nbsp;&mdash;&lt;</t></channel></rss>",
    );
    assert_eq!(
        text,
        "<rss version=\"2.0\"><channel><t>caf&#xE9;&#xA0;&#x2014;&lt;</t></channel></rss>"
    );
    assert_eq!(kinds, [Repair::HtmlEntity]);
}

#[test]
fn invalid_char_refs_dropped() {
    let (text, kinds) =
        applied("<rss version=\"2.0\"><channel><t>a&#0;b&#x1F;c&#65;</t></channel></rss>");
    assert_eq!(
        text,
        "<rss version=\"2.0\"><channel><t>abc&#65;</t></channel></rss>"
    );
    assert_eq!(kinds, [Repair::InvalidCharRef]);
}

#[test]
fn cdata_and_comments_untouched() {
    let text = "<rss version=\"2.0\"><channel><t><![CDATA[a & b &nbsp;]]></t><!-- x & y --></channel></rss>";
    assert_eq!(applied(text), (text.to_owned(), vec![]));
}

#[test]
fn unknown_entities_kept_for_the_parser() {
    let text = "<rss version=\"2.0\"><channel><t>&custom;</t></channel></rss>";
    assert_eq!(applied(text), (text.to_owned(), vec![]));
}

#[test]
fn rss_version_added_or_normalized() {
    let (text, kinds) = applied("<?xml version=\"1.0\"?>\n<rss xmlns:a=\"b\"><channel/></rss>");
    assert_eq!(
        text,
        "<?xml version=\"1.0\"?>\n<rss version=\"2.0\" xmlns:a=\"b\"><channel/></rss>"
    );
    assert_eq!(kinds, [Repair::RssVersion]);
    let (text, _) = applied("<rss><channel/></rss>");
    assert_eq!(text, "<rss version=\"2.0\"><channel/></rss>");
    let (text, _) = applied("<rss version='2.01'><channel/></rss>");
    assert_eq!(text, "<rss version='2.0'><channel/></rss>");
    let text = "<rss version=\"0.91\"><channel/></rss>";
    assert_eq!(applied(text), (text.to_owned(), vec![]));
}

#[test]
fn control_characters_removed() {
    let (text, kinds) =
        applied("<rss version=\"2.0\"><channel><t>a\u{1}b\u{1B}c\td\u{FFFF}</t></channel></rss>");
    assert_eq!(
        text,
        "<rss version=\"2.0\"><channel><t>abc\td</t></channel></rss>"
    );
    assert_eq!(kinds, [Repair::ControlCharacters]);
}

/// Regression: a vertical tab (Word's manual line break) or a form feed between two words was
/// removed, gluing them: "Victory\vPlan" became "VictoryPlan" and the term "Victory Plan"
/// missed it. They become spaces.
#[test]
fn control_characters_between_words_become_spaces() {
    let (text, _) = applied(
        "<rss version=\"2.0\"><channel><t>Victory\u{B}Plan\u{C}x\u{1F}y</t></channel></rss>",
    );
    assert_eq!(
        text,
        "<rss version=\"2.0\"><channel><t>Victory Plan x y</t></channel></rss>"
    );
    // Inside markup it goes, as before: the tag's name stays whole.
    let (text, _) = applied("<rss version=\"2.0\"><channel><ti\u{B}tle>x</title></channel></rss>");
    assert_eq!(
        text,
        "<rss version=\"2.0\"><channel><title>x</title></channel></rss>"
    );
    assert_eq!(
        crate::text::html::html_to_text("Victory\u{B}Plan &#11;now\u{1E}here"),
        "Victory Plan now here"
    );
}

#[test]
fn leading_garbage_removed() {
    let (text, kinds) = applied(
        "\n\n  Notice: x<br/>\n<?xml version=\"1.0\"?><rss version=\"2.0\"><channel/></rss>",
    );
    assert_eq!(
        text,
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel/></rss>"
    );
    assert_eq!(kinds, [Repair::LeadingGarbage]);
    let (text, _) = applied("junk <rss version=\"2.0\"><channel/></rss>");
    assert_eq!(text, "<rss version=\"2.0\"><channel/></rss>");
}

#[test]
fn doctype_dropped_including_internal_subset() {
    let (text, kinds) = applied(
        "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY a \"b\">]>\n<rss version=\"2.0\"><channel/></rss>",
    );
    assert_eq!(
        text,
        "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel/></rss>"
    );
    assert_eq!(kinds, [Repair::Doctype]);
    let (text, _) =
        applied("<!doctype html PUBLIC \"x\" \"y\"><rss version=\"2.0\"><channel/></rss>");
    assert_eq!(text, "<rss version=\"2.0\"><channel/></rss>");
}

#[test]
fn truncated_final_tag_dropped() {
    let (text, kinds) = applied("<rss version=\"2.0\"><channel></channel>\n</rss \n");
    assert_eq!(text, "<rss version=\"2.0\"><channel></channel></rss>");
    assert_eq!(kinds, [Repair::TruncatedTag, Repair::UnclosedElements]);
    // The item cut off is dropped whole (see `Repair::PartialItem`).
    let (text, _) = applied("<rss version=\"2.0\"><channel><item><tit");
    assert_eq!(text, "<rss version=\"2.0\"><channel></channel></rss>");
}

#[test]
fn unclosed_elements_closed() {
    let (text, kinds) = applied("<rdf:RDF><channel><title>t</title>\n");
    assert_eq!(
        text,
        "<rdf:RDF><channel><title>t</title></channel></rdf:RDF>"
    );
    assert_eq!(kinds, [Repair::UnclosedElements]);
    let (text, kinds) = applied("<rdf:RDF><item><title>t</title></item></rdf:R");
    assert_eq!(text, "<rdf:RDF><item><title>t</title></item></rdf:RDF>");
    assert_eq!(kinds, [Repair::TruncatedTag, Repair::UnclosedElements]);
    // An item left open is dropped whole.
    let (text, _) = applied("<rdf:RDF><item><title>t</title>\n");
    assert_eq!(text, "<rdf:RDF></rdf:RDF>");
}

#[test]
fn missing_rss_channel_added() {
    let (text, kinds) = applied("<rss version=\"2.0\">\n</rss>");
    assert_eq!(text, "<rss version=\"2.0\"><channel>\n</channel></rss>");
    assert_eq!(kinds, [Repair::RssChannel]);
    let (text, _) = applied("<rss version=\"2.0\"><item><title>t</title></item></rss>");
    assert_eq!(
        text,
        "<rss version=\"2.0\"><channel><item><title>t</title></item></channel></rss>"
    );
    let (text, _) = applied("<rss version=\"2.0\"/>");
    assert_eq!(text, "<rss version=\"2.0\"><channel></channel></rss>");
    let text = "<rss version=\"2.0\"><channel/></rss>";
    assert_eq!(applied(text), (text.to_owned(), vec![]));
}

#[test]
fn atom_text_types_normalized() {
    let text = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="text/plain">a</title><entry><summary type='TEXT/HTML'>b</summary><content type="application/xhtml+xml"><div/></content><content type="image/png">x</content><link type="text/html"/></entry></feed>"#;
    let (fixed, kinds) = applied(text);
    assert_eq!(
        fixed,
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">a</title><entry><summary type='html'>b</summary><content type="xhtml"><div/></content><content type="image/png">x</content><link type="text/html"/></entry></feed>"#
    );
    assert_eq!(kinds, [Repair::AtomTextType]);
}

#[test]
fn atom_0_3_upgraded() {
    let text = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><tagline>t</tagline><modified>m</modified><entry><issued>i</issued><content type="text/html" mode="escaped">c</content></entry></feed>"#;
    assert_eq!(
        upgrade_atom_0_3(text).as_deref(),
        Some(
            r#"<feed version="0.3" xmlns="http://www.w3.org/2005/Atom"><subtitle>t</subtitle><updated>m</updated><entry><published>i</published><content type="html" mode="escaped">c</content></entry></feed>"#
        )
    );
    assert_eq!(
        upgrade_atom_0_3("<feed xmlns=\"http://www.w3.org/2005/Atom\"/>"),
        None
    );
    assert_eq!(upgrade_atom_0_3("<rss/>"), None);
}

#[test]
fn root_tag_found_after_prolog() {
    let root = root_start_tag("<?xml?><!-- <no> --><!DOCTYPE x [<!ENTITY a '>'>]><rdf:RDF a='1'>");
    assert_eq!(
        root.map(|r| (r.name, r.tag)),
        Some(("rdf:RDF", "<rdf:RDF a='1'>"))
    );
    assert_eq!(root_start_tag("no markup"), None);
}

#[test]
fn odd_inputs_do_not_panic() {
    for text in [
        "",
        "&",
        "&#",
        "&#x;",
        "<",
        "<!",
        "<!DOCTYPE",
        "<!DOCTYPE [",
        "<rss",
        "<rss version=",
        "<rss version=\"",
        "é&é;<é",
    ] {
        let _ = repair(text);
    }
}

/// A body of bare ampersands: each `&` looked for its `;` through the whole rest of the text,
/// so 1 MB took minutes of CPU. Now the look-ahead is the 65 bytes a reference can span.
#[test]
fn bare_ampersands_by_the_megabyte_were_quadratic() {
    let text = format!(
        "<rss version=\"2.0\"><channel><t>{}</t></channel></rss>",
        "&".repeat(1 << 20)
    );
    let started = std::time::Instant::now();
    let (fixed, kinds) = applied(&text);
    assert_eq!(kinds, [Repair::BareAmpersand]);
    assert_eq!(fixed.matches("&amp;").count(), 1 << 20);
    // Linear work takes a few seconds unoptimised; the quadratic scan took minutes.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// `<!x>` or `<![>` repeated before any element: looking for the root element searched the rest
/// of the text for `[` (and then `]`) at every `<!`.
#[test]
fn declarations_by_the_megabyte_before_the_root_were_quadratic() {
    for junk in ["<!x>", "<![>", "<![x"] {
        let text = format!(
            "{}<rss version=\"2.0\"><channel/></rss>",
            junk.repeat(1 << 20)
        );
        let started = std::time::Instant::now();
        let root = root_start_tag(&text);
        if junk == "<![x" {
            // An unterminated internal subset ends the declaration at its first `>` (as it
            // always did), here the root's own, so the next element is taken for the root.
            assert_eq!(root.map(|r| r.name), Some("channel"), "{junk}");
        } else {
            assert_eq!(root.map(|r| r.name), Some("rss"), "{junk}");
        }
        let _ = repair(&text);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{junk}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn an_internal_subset_still_ends_the_doctype_at_its_bracket() {
    let text = "<!DOCTYPE rss [<!ENTITY a \"b\">]><rss version=\"2.0\"><channel/></rss>";
    assert_eq!(root_start_tag(text).map(|r| r.name), Some("rss"));
    let (fixed, _) = applied(text);
    assert!(!fixed.contains("DOCTYPE"), "{fixed}");
    assert!(fixed.starts_with("<rss"), "{fixed}");
}
