//! The nesting estimate against the pages that fooled it.

use super::*;

#[test]
fn counts_nested_divs_and_ignores_closed_ones() {
    assert!(exceeds(&"<div>".repeat(20), 10));
    assert!(!exceeds(&"<div>a</div>".repeat(1000), 10));
    assert!(!exceeds(&"<div>".repeat(10), 10));
}

#[test]
fn implicitly_closed_and_void_elements_do_not_count() {
    assert!(!exceeds(
        &"<p>para<li>item<td>cell<br><img src=x>".repeat(1000),
        5
    ));
}

#[test]
fn tables_count_for_the_levels_they_imply() {
    assert!(exceeds(&"<table><tr><td>".repeat(3), 10));
    assert!(!exceeds(&"<table><tr><td>x</table>".repeat(100), 10));
}

#[test]
fn self_closing_counts_in_html_but_not_in_svg() {
    assert!(exceeds(&"<div/>".repeat(20), 10));
    let icons = format!("<svg>{}</svg>", "<path d='M0 0'/>".repeat(1000)).repeat(50);
    assert!(!exceeds(&icons, 10));
    // An HTML element inside <svg> leaves it: its `/` is ignored again.
    assert!(exceeds(&format!("<svg>{}", "<div/>".repeat(20)), 10));
}

#[test]
fn raw_text_and_comments_are_skipped() {
    let page = format!(
        "<script>{}</script><style>{}</STYLE><!--{}-->",
        "<div>".repeat(100),
        "<div>".repeat(100),
        "<div>".repeat(100)
    );
    assert!(!exceeds(&page, 10));
    assert!(!exceeds("<script>never closed <div><div><div>", 1));
}

/// Regression: a comment ended only at `-->`, so `<!-->` (a whole comment to the parser)
/// hid every tag after it from the estimate: 800,000 nested `<div>` went to the parser.
#[test]
fn a_comment_the_tokenizer_ends_early_hides_nothing_after_it() {
    let divs = "<div>".repeat(20);
    for opener in ["<!-->", "<!--->", "<!-- a --!>", "<!-- a -- b -->"] {
        assert!(exceeds(&format!("<body>{opener}{divs}"), 10), "{opener}");
    }
    // The earliest end of either kind ends it.
    assert!(exceeds(&format!("<!-- a --!>{divs}<!-- b -->"), 10));
    assert!(!exceeds(&format!("<!-- {divs} -->"), 10));
    // A page of comments is one pass, not a search to the end at each.
    assert!(!exceeds(&"<!--a--><p>".repeat(300_000), 10));
}

/// Regression: every end tag lowered the estimate, also one the parser ignores, so
/// `<div></x>` repeated 45,000 times nested 45,000 deep (58 s of extraction) while the
/// estimate stayed at 1.
#[test]
fn stray_end_tags_close_nothing() {
    assert!(exceeds(&"<div></x>".repeat(20), 10));
    // Stopped by a special element on the way down: `</span>` does not close through a
    // `<div>`.
    assert!(exceeds(&"<span><div></span>".repeat(10), 10));
    // A special element's end tag stops at a table.
    assert!(exceeds(&"<div><table></div>".repeat(3), 10));
    // What the parser does close still closes.
    assert!(!exceeds(&"<div><span></div>".repeat(1000), 10));
    assert!(!exceeds(&"<b><i>x</i></b>".repeat(1000), 10));
    // A formatting element closed by another's end tag is reopened by the parser.
    assert!(exceeds(&"<span><b>x</span>".repeat(20), 10));
    let ids: String = (0..20).map(|n| format!("<div><b id={n}>x</div>")).collect();
    assert!(exceeds(&ids, 10));
    assert!(!exceeds(&"<section><div><div></section>".repeat(1000), 10));
    assert!(!exceeds(&"<svg><g><g></svg>".repeat(1000), 10));
    assert!(!exceeds(&"<DIV>x</div>".repeat(1000), 10));
}

/// Regression: each end tag walked down the stack of open elements, so 250 open `<span>`s
/// and then 800,000 `</x>` took 7 s to scan (release build); what nothing open names
/// is stray at once. (Timed only loosely: the bug was seconds, the scan is milliseconds.)
#[test]
fn stray_end_tags_do_not_walk_the_stack() {
    let page = format!("{}{}", "<span>".repeat(250), "</x>".repeat(800_000));
    let started = std::time::Instant::now();
    assert_eq!(shape(&page, 256), Shape::StartTags(250));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

/// Regression: a list whose links were left unclosed (`<li><a href=…>x</li>` repeated)
/// counted a level per link, and a long one was refused; the parser closes the open link
/// when the next one starts.
#[test]
fn a_new_link_closes_the_open_one() {
    assert!(!exceeds(
        &format!("<ul>{}</ul>", "<li><a href=x>x</li>".repeat(1000)),
        10
    ));
    assert!(!exceeds(&"<nobr>x".repeat(1000), 10));
    // A block opened inside the link: the parser nests a copy of the link in it.
    assert!(exceeds(&"<a href=x><div>".repeat(6), 10));
    // Other formatting elements left open are still counted: with distinct attributes
    // the parser reopens every earlier one inside each new item (only identical ones
    // are capped at three), so they nest as deep.
    assert!(exceeds(&"<li><b>x</li>".repeat(20), 10));
}

/// Regression: `<script>`, `<style>` and `<title>` inside `<svg>` were skipped to their
/// end tag as raw text, which the parser does not do there: with none, the scan stopped.
#[test]
fn raw_text_names_in_svg_are_elements() {
    let page = format!("<svg><script>{}", "<div>".repeat(300));
    assert_eq!(shape(&page, 256), Shape::TooDeep);
    let page = format!("<math><style>{}", "<div>".repeat(300));
    assert_eq!(shape(&page, 256), Shape::TooDeep);
    // Outside them, still raw text.
    let page = format!("<script>{}</script>", "<div>".repeat(300));
    assert_eq!(shape(&page, 256), Shape::StartTags(1));
}

#[test]
fn counts_start_tags() {
    let page = "<div><br><img src=x></div><script><div><div></script><!--<p>-->";
    assert_eq!(shape(page, 10), Shape::StartTags(4));
    assert_eq!(shape(&"<div>".repeat(11), 10), Shape::TooDeep);
}

#[test]
fn never_panics_on_truncated_tags() {
    for s in [
        "<", "</", "<!--", "<div", "</div", "<a/", "<script", "<<<>>>",
    ] {
        exceeds(s, 0);
    }
}

/// Regression: a tag ended at its first `>`, also one inside a quoted attribute value, so
/// `<div title="x><!--">` showed the estimate a comment never closed (and `'><script>'` a
/// script) while the parser built every `<div>` after it: 800,000 nested ones took hours.
#[test]
fn a_quoted_greater_than_sign_hides_no_tag_after_it() {
    let divs = "<div>".repeat(300);
    for opener in [
        r#"<div title="x><!--">"#,
        "<a title='><script>'>",
        r#"<p class="a>b<style>">"#,
        r#"<section data-x="></section>">"#,
    ] {
        assert_eq!(
            shape(&format!("{opener}{divs}"), 256),
            Shape::TooDeep,
            "{opener}"
        );
    }
    // An end tag's attributes are read the same way.
    assert_eq!(
        shape(&format!(r#"<div></div title="><!--">{divs}"#), 256),
        Shape::TooDeep
    );
    // A `/` inside a quoted value does not close the tag; one after it does (in `<svg>`).
    assert!(!exceeds(
        &format!("<svg>{}</svg>", r#"<path d="M0 0 L1/1"/>"#.repeat(1000)),
        10
    ));
    assert!(exceeds(&r#"<div data-end="/>">"#.repeat(20), 10));
}

/// Regression: inside `<svg>`/`<math>` every self-closing tag was taken as closed, also in
/// `<foreignObject>` (and MathML's `<mtext>` ...), where the parser reads HTML again and
/// ignores the `/`, and after `<font color>`, which leaves foreign content: 50,000
/// `<section/>` nested 50,000 deep while the estimate stayed at 2.
#[test]
fn html_inside_an_integration_point_nests() {
    let sections = "<section/>".repeat(300);
    for opener in [
        "<svg><foreignObject>",
        "<svg><g><desc>",
        "<svg><title>",
        "<math><mtext>",
        "<math><mi>",
        "<svg><font color=red>",
    ] {
        assert_eq!(
            shape(&format!("{opener}{sections}"), 256),
            Shape::TooDeep,
            "{opener}"
        );
    }
    // Out of the island, back in `<svg>`: its self-closing elements close again.
    let paths = "<path d='M0 0'/>".repeat(1000);
    let page = format!("<svg><foreignObject><p>x</p></foreignObject>{paths}</svg>");
    assert!(!exceeds(&page.repeat(20), 10));
    // An `<svg>` inside the island, closed, leaves the island as it was.
    let page = format!("<svg><foreignObject><svg>{paths}</svg>{sections}");
    assert_eq!(shape(&page, 256), Shape::TooDeep);
}

/// Regression (review of the two above): the scan read as attributes what the tokenizer reads
/// as the tag's name (`<a.b="x>`), or as a tag what is a bogus comment to it (`<!x <script>`),
/// and then met a quote or a raw-text element the parser never sees: every tag after it was
/// hidden. A tag that never ends is read from its first `>` on.
#[test]
fn the_scan_keeps_in_step_with_the_tokenizer() {
    let divs = "<div>".repeat(300);
    for opener in [
        r#"<a.b="x>"#,
        "<!x <script>",
        "<?x <style>",
        "</1 <script>",
        "<!DOCTYPE html><title>t</title>",
        r#"<div title="never closed>"#,
    ] {
        assert_eq!(
            shape(&format!("{opener}{divs}"), 256),
            Shape::TooDeep,
            "{opener}"
        );
    }
}

/// Regression (review): `<font>` left `<svg>` content whatever its attributes, and an island
/// was opened by name whatever the namespace (`<mi>` in `<svg>`), so a `<script>` the parser
/// reads as an SVG element was skipped as raw text; and an island closed by `</svg>` came
/// back at its own end tag.
#[test]
fn foreign_content_is_left_only_as_the_parser_leaves_it() {
    let divs = "<div>".repeat(300);
    for opener in [
        "<svg><font><script>",
        "<svg><mi><script>",
        "<math><title><style>",
        "<math><annotation-xml><x-a><script>",
        "<svg><image><script>",
    ] {
        assert_eq!(
            shape(&format!("{opener}{divs}"), 256),
            Shape::TooDeep,
            "{opener}"
        );
    }
    let sections = "<section/>".repeat(300);
    let page = format!("<svg><foreignObject></svg></foreignObject>{sections}");
    assert_eq!(shape(&page, 256), Shape::TooDeep);
    // In `<svg>` every element nests, void names too (`<image>` needs its end tag there).
    assert_eq!(
        shape(&format!("<svg>{}", "<image>".repeat(300)), 256),
        Shape::TooDeep
    );
    // A `<font color>` does leave it; its `<script>` is raw text again.
    let page = format!("<svg><font color=red><script>{divs}</script>");
    assert!(!exceeds(&page, 10));
    // Links nest in SVG (no adoption agency there).
    assert!(exceeds(&format!("<svg>{}", "<a>".repeat(20)), 10));
}
