//! The shape parse against ordinary pages and against every page that fooled the nesting
//! estimate it replaced (a scan of the tags that modelled the parser): the parser's own tree
//! must measure each as deep as it is.

use super::*;

/// Limits of `depth` and `elements`, any number of markup errors, a minute of CPU.
fn limits(depth: usize, elements: usize) -> Limits {
    Limits {
        depth,
        elements,
        nodes: usize::MAX,
        errors: usize::MAX,
        cpu: Duration::from_secs(60),
        merges: u64::MAX,
    }
}

/// True when the parse stops `page` for nesting deeper than `max` levels.
fn deeper(page: &str, max: usize) -> bool {
    check(page, limits(max, usize::MAX)) == Err(Overrun::Depth)
}

#[test]
fn ordinary_pages_pass_and_deep_ones_stop_early() {
    let page = format!(
        "<html><body>{}</body></html>",
        "<div><p>text <b>bold</b></p><ul><li>a<li>b</ul></div>".repeat(500)
    );
    assert_eq!(check(&page, limits(256, 50_000)), Ok(()));
    assert_eq!(
        check(&"<div>".repeat(300), limits(256, 50_000)),
        Err(Overrun::Depth)
    );
    assert_eq!(check(&"<div>".repeat(250), limits(256, 50_000)), Ok(()));
    assert_eq!(
        check(&"<p>x</p>".repeat(1000), limits(256, 500)),
        Err(Overrun::Elements(501))
    );
}

/// The holes a review found in the cheap scan, each a page the parser nests deep: here
/// the parser's own tree says so.
#[test]
fn pages_the_scan_misjudged_are_stopped() {
    let divs = "<div>".repeat(300);
    for page in [
        "<rt>".repeat(300),
        "<optgroup>".repeat(300),
        "<li><dd>".repeat(300),
        format!("<title></titlex><!--</title>{divs}"),
        format!("<script><!--<script></script><!--</script>{divs}"),
        "<svg><foreignObject><p></svg>".repeat(300),
        format!("<p><svg></p>{}", "<section/>".repeat(300)),
        format!("<math><mi><mglyph><style>{divs}"),
        format!("<svg><![CDATA[><!--]]>{divs}"),
        // Scripting is off in the extractor's parse: `<noscript>` holds markup.
        format!("<noscript>{}", "<rt>".repeat(300)),
        "<template>".repeat(300),
        format!("<template>{}", "<rt>".repeat(190)).repeat(3),
    ] {
        assert_eq!(
            check(&page, limits(256, 50_000)),
            Err(Overrun::Depth),
            "{page:.60}"
        );
    }
}

/// Stopped within a chunk of the limit: 800,000 nested `<div>`s (4 MiB) take no longer
/// than the first few thousand.
#[test]
fn a_huge_deep_page_is_stopped_at_once() {
    let page = "<div>".repeat(800_000);
    let started = std::time::Instant::now();
    assert_eq!(check(&page, limits(256, 50_000)), Err(Overrun::Depth));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn nested_elements_count_and_closed_ones_do_not() {
    assert!(deeper(&"<div>".repeat(20), 10));
    assert!(!deeper(&"<div>a</div>".repeat(1000), 10));
    assert!(!deeper(&"<div>".repeat(10), 10));
    assert!(deeper(&"<div>".repeat(11), 10));
}

#[test]
fn implicitly_closed_and_void_elements_do_not_count() {
    assert!(!deeper(
        &"<p>para<li>item<td>cell<br><img src=x>".repeat(1000),
        5
    ));
}

#[test]
fn tables_count_for_the_levels_they_imply() {
    assert!(deeper(&"<table><tr><td>".repeat(3), 10));
    assert!(!deeper(&"<table><tr><td>x</table>".repeat(100), 10));
}

#[test]
fn self_closing_nests_in_html_but_not_in_svg() {
    assert!(deeper(&"<div/>".repeat(20), 10));
    let icons = format!("<svg>{}</svg>", "<path d='M0 0'/>".repeat(1000)).repeat(50);
    assert!(!deeper(&icons, 10));
    // An HTML element inside <svg> leaves it: its `/` is ignored again.
    assert!(deeper(&format!("<svg>{}", "<div/>".repeat(20)), 10));
}

#[test]
fn raw_text_and_comments_hold_no_elements() {
    let page = format!(
        "<script>{}</script><style>{}</STYLE><!--{}-->",
        "<div>".repeat(100),
        "<div>".repeat(100),
        "<div>".repeat(100)
    );
    assert!(!deeper(&page, 10));
    assert!(!deeper("<script>never closed <div><div><div>", 1));
    // Counted as elements they are not.
    assert_eq!(check(&page, limits(256, 10)), Ok(()));
}

/// Regression (of the scan): a comment ended only at `-->`, so `<!-->` (a whole comment to
/// the parser) hid every tag after it: 800,000 nested `<div>` went to the extractor.
#[test]
fn a_comment_the_tokenizer_ends_early_hides_nothing_after_it() {
    let divs = "<div>".repeat(20);
    for opener in ["<!-->", "<!--->", "<!-- a --!>", "<!-- a -- b -->"] {
        assert!(deeper(&format!("<body>{opener}{divs}"), 10), "{opener}");
    }
    assert!(deeper(&format!("<!-- a --!>{divs}<!-- b -->"), 10));
    assert!(!deeper(&format!("<!-- {divs} -->"), 10));
}

/// Regression (of the scan): every end tag lowered the estimate, also one the parser
/// ignores, so `<div></x>` repeated 45,000 times nested 45,000 deep (58 s of extraction).
#[test]
fn stray_end_tags_close_nothing() {
    assert!(deeper(&"<div></x>".repeat(20), 10));
    // `</span>` does not close through a `<div>`.
    assert!(deeper(&"<span><div></span>".repeat(10), 10));
    // `</div>` does not close through a table either, but each `<table>` inside the first
    // one's fostered `<div>` ends the open table: the page stays two levels deep.
    assert!(!deeper(&"<div><table></div>".repeat(1000), 2));
    assert!(deeper(&"<div><table></div>".repeat(1000), 1));
    // What the parser does close still closes.
    assert!(!deeper(&"<div><span></div>".repeat(1000), 10));
    assert!(!deeper(&"<b><i>x</i></b>".repeat(1000), 10));
    // A formatting element closed by another's end tag is reopened by the parser.
    assert!(deeper(&"<span><b>x</span>".repeat(20), 10));
    let ids: String = (0..20).map(|n| format!("<div><b id={n}>x</div>")).collect();
    assert!(deeper(&ids, 10));
    assert!(!deeper(&"<section><div><div></section>".repeat(1000), 10));
    assert!(!deeper(&"<svg><g><g></svg>".repeat(1000), 10));
    assert!(!deeper(&"<DIV>x</div>".repeat(1000), 10));
}

/// Regression (of the scan): a list whose links were left unclosed counted a level per
/// link; the parser closes the open link when the next one starts.
#[test]
fn a_new_link_closes_the_open_one() {
    assert!(!deeper(
        &format!("<ul>{}</ul>", "<li><a href=x>x</li>".repeat(1000)),
        10
    ));
    assert!(!deeper(&"<nobr>x".repeat(1000), 10));
    // A block opened inside the link stays open: each pair nests a level deeper.
    assert!(deeper(&"<a href=x><div>".repeat(12), 10));
    assert!(!deeper(&"<a href=x><div>".repeat(9), 10));
    // Formatting elements left open are reopened inside each new item: all of them when
    // their attributes differ, at most three alike (the parser's cap).
    let ids: String = (0..20).map(|n| format!("<li><b id={n}>x</li>")).collect();
    assert!(deeper(&ids, 10));
    assert!(!deeper(&"<li><b>x</li>".repeat(1000), 10));
}

/// Regression (of the scan): `<script>`, `<style>` and `<title>` inside `<svg>` or `<math>`
/// were skipped as raw text, which the parser does not do there.
#[test]
fn raw_text_names_in_svg_are_elements() {
    let divs = "<div>".repeat(300);
    assert!(deeper(&format!("<svg><script>{divs}"), 256));
    assert!(deeper(&format!("<math><style>{divs}"), 256));
    // Outside them, still raw text.
    assert!(!deeper(&format!("<script>{divs}</script>"), 256));
}

#[test]
fn truncated_tags_never_panic() {
    for s in [
        "<", "</", "<!--", "<div", "</div", "<a/", "<script", "<<<>>>",
    ] {
        assert_eq!(check(s, limits(1, 10)), Ok(()), "{s}");
    }
}

/// Regression (of the scan): a tag ended at its first `>`, also one inside a quoted
/// attribute value, so `<div title="x><!--">` hid every `<div>` after it: 800,000 nested ones
/// took hours.
#[test]
fn a_quoted_greater_than_sign_hides_no_tag_after_it() {
    let divs = "<div>".repeat(300);
    for opener in [
        r#"<div title="x><!--">"#,
        "<a title='><script>'>",
        r#"<p class="a>b<style>">"#,
        r#"<section data-x="></section>">"#,
        r#"<div></div title="><!--">"#,
    ] {
        assert!(deeper(&format!("{opener}{divs}"), 256), "{opener}");
    }
    // A `/` inside a quoted value does not close the tag; one after it does (in `<svg>`).
    assert!(!deeper(
        &format!("<svg>{}</svg>", r#"<path d="M0 0 L1/1"/>"#.repeat(1000)),
        10
    ));
    assert!(deeper(&r#"<div data-end="/>">"#.repeat(20), 10));
}

/// Regression (of the scan): HTML inside an integration point (`<foreignObject>`, MathML's
/// `<mtext>`, after `<font color>`) ignores the self-closing `/`: 50,000 `<section/>` nested
/// 50,000 deep.
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
        assert!(deeper(&format!("{opener}{sections}"), 256), "{opener}");
    }
    let paths = "<path d='M0 0'/>".repeat(1000);
    let page = format!("<svg><foreignObject><p>x</p></foreignObject>{paths}</svg>");
    assert!(!deeper(&page.repeat(20), 10));
    let page = format!("<svg><foreignObject><svg>{paths}</svg>{sections}");
    assert!(deeper(&page, 256));
}

/// Regression (of the scan): what the tokenizer reads as a tag name (`<a.b="x>`) or a bogus
/// comment (`<!x <script>`) was read as attributes or a tag, and every tag after it hidden.
#[test]
fn tags_are_read_as_the_tokenizer_reads_them() {
    let divs = "<div>".repeat(300);
    for opener in [
        r#"<a.b="x>"#,
        "<!x <script>",
        "<?x <style>",
        "</1 <script>",
        "<!DOCTYPE html><title>t</title>",
    ] {
        assert!(deeper(&format!("{opener}{divs}"), 256), "{opener}");
    }
    // A quote that never closes holds the rest of the page: no element after it is made.
    let page = format!(r#"<div title="never closed>{divs}"#);
    assert!(!deeper(&page, 0));
}

/// Regression (of the scan): foreign content left by the wrong elements, islands opened by
/// name in the wrong namespace, and an island closed by `</svg>` coming back.
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
        assert!(deeper(&format!("{opener}{divs}"), 256), "{opener}");
    }
    let sections = "<section/>".repeat(300);
    assert!(deeper(
        &format!("<svg><foreignObject></svg></foreignObject>{sections}"),
        256
    ));
    assert!(deeper(&format!("<svg>{}", "<image>".repeat(300)), 256));
    assert!(!deeper(
        &format!("<svg><font color=red><script>{divs}</script>"),
        10
    ));
    assert!(deeper(&format!("<svg>{}", "<a>".repeat(20)), 10));
}

/// A page of stray end tags makes no element, but each is work for the tree builder (a walk
/// down its stack of open elements): 800,000 under 250 open `<span>`s took 1.1 s to parse.
#[test]
fn stray_end_tags_past_the_error_limit_stop_the_parse() {
    let page = format!("{}{}", "<span>".repeat(250), "</x>".repeat(800_000));
    let limits = Limits {
        errors: 50_000,
        ..limits(256, 50_000)
    };
    assert_eq!(check(&page, limits), Err(Overrun::Errors));
    // Markup with fewer errors passes.
    let page = format!("{}{}", "<span>".repeat(250), "</x>".repeat(1000));
    assert_eq!(check(&page, limits), Ok(()));
}

/// Regression: one tag of 300,000 distinct attributes took 60 s to parse (the tokenizer
/// compares each attribute's name with every one before it) and as long again in the
/// extractor; no bound on elements, depth or errors sees it. The CPU budget stops it.
#[test]
fn a_parse_past_its_cpu_budget_is_stopped() {
    let attrs: String = (0..300_000).map(|n| format!("a{n}=1 ")).collect();
    let page = format!("<div {attrs}>x</div>");
    let limits = Limits {
        cpu: Duration::from_millis(200),
        ..limits(256, 50_000)
    };
    assert_eq!(check(&page, limits), Err(Overrun::Slow));
    assert_eq!(check("<p>an ordinary page</p>", limits), Ok(()));
}

/// Regression (review): text inside a table is held back by the tree builder and placed all
/// at once at the next tag or at the end, each character fostered out of the table with the
/// open formatting elements rebuilt around it: here a second of work (release build) inside
/// the parser's last call, after the last look between chunks. The sink looks at the clock
/// every few calls and stops the parse there, soon after its budget.
#[test]
fn work_the_tree_builder_held_back_is_stopped_mid_call() {
    let page = format!(
        "<b>{}<table>x{}",
        "<div>".repeat(5_000),
        "\n".repeat(100_000)
    );
    let budget = crate::text::article::MAX_PARSE_CPU;
    let limits = Limits {
        cpu: budget,
        ..limits(100_000, 50_000)
    };
    let started = thread_cpu_time();
    assert_eq!(check(&page, limits), Err(Overrun::Slow));
    let used = thread_cpu_time().saturating_sub(started);
    assert!(used < budget * 2, "{used:?} for a budget of {budget:?}");
}

/// Regression (review): each repeated `<html>` (or `<body>`) tag merges its attributes into
/// the first one; the extractor's tree compares every new name with every name there, which
/// this parse does not do: 5,000 tags of 100 new names each passed here and took minutes
/// there.
#[test]
fn attribute_merges_of_repeated_html_tags_are_counted() {
    let tags: String = (0..5_000)
        .map(|t| {
            let names: String = (0..100).map(|a| format!(" a{t}x{a}")).collect();
            format!("<html{names}>")
        })
        .collect();
    let page = format!("<html>{tags}<p>x</p>");
    let limits = Limits {
        merges: 10_000_000,
        ..limits(256, 50_000)
    };
    assert_eq!(check(&page, limits), Err(Overrun::Merges));
    // A few repeats, as a template system may leave them, pass.
    let page = "<html lang=en><html class=x><body><body id=y><p>x</p>";
    assert_eq!(check(page, limits), Ok(()));
}

/// Comments make no element but take memory: they count as nodes, against a bound of their
/// own.
#[test]
fn comments_past_the_node_limit_stop_the_parse() {
    let page = "<!--x-->".repeat(1_000);
    let limits = Limits {
        nodes: 500,
        ..limits(256, 50_000)
    };
    assert!(matches!(check(&page, limits), Err(Overrun::Nodes(n)) if n > 500));
}
