//! Unit tests of article extraction: the main text kept, boilerplate and hostile pages refused.

use super::*;

fn page(body: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>Council  votes on the bridge &amp; tunnel</title></head>\
         <body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>{body}\
         <footer>© 2024 The Daily Example. All rights reserved.</footer></body></html>"
    )
}

const STORY: &str = "<article><h1>Council votes on the bridge</h1>\
    <p>The city council voted on Tuesday to replace the old bridge over the river, ending a \
    debate that has lasted for more than a decade.</p>\
    <p>Engineers said the new structure would carry twice as many vehicles &amp; include a \
    protected lane for bicycles.</p>\
    <p>Construction is expected to begin next spring and to take about three years, the mayor \
    told reporters after the vote.</p></article>";

#[test]
fn extracts_paragraphs_as_plain_text_with_the_title() {
    let a = extract_article(&page(STORY)).unwrap();
    assert_eq!(
        a.title.as_deref(),
        Some("Council votes on the bridge & tunnel")
    );
    assert!(!a.truncated);
    let paras: Vec<&str> = a.text.split("\n\n").collect();
    assert!(paras.contains(&"Engineers said the new structure would carry twice as many vehicles & include a protected lane for bicycles."), "{:?}", a.text);
    assert!(
        a.text.starts_with("The city council voted") || a.text.starts_with("Council votes"),
        "{:?}",
        a.text
    );
    assert!(!a.text.contains("Home"), "navigation kept: {:?}", a.text);
    assert!(
        !a.text.contains("rights reserved"),
        "footer kept: {:?}",
        a.text
    );
    assert!(
        !a.text.contains("  ") && !a.text.contains("\n\n\n"),
        "{:?}",
        a.text
    );
}

/// Regression: the extractor resolved the article's links against the page's base, parsing
/// the base again for each: a 1 MB `<base href>` over 4,000 links took a minute (release). It
/// is given no base: the links stay as written (the text keeps none of them).
#[test]
fn a_long_base_over_many_links_is_not_resolved_against() {
    let links = r#"<p>The council's minutes, published this week, give the <a href="x">vote</a> by member and the engineers' report in full.</p>"#.repeat(50);
    let html = format!(
        r#"<html><head><base href="https://news.example/{}/"></head><body><article>{STORY}{links}</article></body></html>"#,
        "a".repeat(1_000)
    );
    let (content, _) = readability(&html).unwrap();
    assert_eq!(content.matches(r#"href="x""#).count(), 50, "{content}");
    assert!(!content.contains("news.example/aaa"), "{content}");
}

#[test]
fn a_page_without_an_article_is_no_article_not_a_failure() {
    for html in [
        "",
        "   ",
        "<html></html>",
        &page("<p>Too short.</p>"),
        "plain text only",
    ] {
        let e = extract_article(html).unwrap_err();
        assert!(e.is_no_article(), "{html:?}: {e:?}");
    }
}

#[test]
fn a_page_over_the_cap_is_cut_at_a_character_boundary() {
    let filler = "é".repeat(MAX_PAGE_BYTES); // two bytes each: the cap falls inside one
    let html = page(&format!("{STORY}<div hidden>{filler}</div>"));
    let (cut, truncated) = cut_to_cap(&html, MAX_PAGE_BYTES + 1);
    assert!(truncated && cut.len() <= MAX_PAGE_BYTES + 1);
    let a = extract_article(&html).unwrap();
    assert!(a.truncated);
    assert!(a.text.contains("Construction is expected"));
}

#[test]
fn deeply_nested_pages_are_refused_before_parsing() {
    let html = format!("<html><body>{}{STORY}", "<div>".repeat(200_000));
    let started = std::time::Instant::now();
    assert_eq!(
        extract_article(&html),
        Err(ExtractError::TooDeep { max: MAX_NESTING })
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn a_page_with_too_many_elements_is_refused() {
    let html = page(&"<span>x</span>".repeat(MAX_ELEMENTS + 1));
    assert!(matches!(
        extract_article(&html),
        Err(ExtractError::TooManyElements {
            max: MAX_ELEMENTS,
            ..
        })
    ));
}

/// Regression: the element limit was the extractor's, checked after it had built the whole
/// tree (43 s for 100,000 `<div></x>`): the shape parse stops at the first element past it.
#[test]
fn a_page_with_too_many_elements_is_refused_before_parsing() {
    let html = page(&"<div></div>".repeat(300_000));
    let started = std::time::Instant::now();
    assert_eq!(
        extract_article(&html),
        Err(ExtractError::TooManyElements {
            max: MAX_ELEMENTS,
            // Counted up to the first element past the limit.
            found: MAX_ELEMENTS + 1
        })
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

/// Regression: the article text had no cap. A 4 MB article (a few KB gzipped) was copied
/// into every item linking it and kept in the page cache.
#[test]
fn the_article_text_is_cut_at_its_cap() {
    let para = format!(
        "<p>{}</p>",
        "Council voted on the bridge again today. ".repeat(20)
    );
    let a = extract_article(&page(&format!("<article>{}</article>", para.repeat(2000)))).unwrap();
    assert!(a.truncated);
    assert!(a.text.len() <= MAX_ARTICLE_BYTES, "{}", a.text.len());
    assert!(a.text.len() > MAX_ARTICLE_BYTES / 2, "{}", a.text.len());
    assert!(a.text.ends_with("again today."), "cut at a paragraph break");
    let (short, cut) = cut_text("para.\n\n".repeat(10), 31);
    assert_eq!(
        (short.as_str(), cut),
        ("para.\n\npara.\n\npara.\n\npara.", true)
    );
    let (one, cut) = cut_text("é".repeat(100), 31);
    assert!(cut && one.len() == 30, "{one:?}");
    assert_eq!(cut_text("short".into(), 31), ("short".into(), false));
}

#[test]
fn paragraphs_puts_every_line_in_its_own_paragraph() {
    assert_eq!(paragraphs("a\nb\n\n\n c \n"), "a\n\nb\n\nc");
}

/// Runs `extract_article` on a thread with a 2 MiB stack (what tokio's blocking threads get),
/// so that a page that recursed deeply would overflow here rather than pass by luck.
fn extract_on_small_stack(html: String) -> Result<Article, ExtractError> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || extract_article(&html))
        .expect("spawn")
        .join()
        .expect("extract_article panicked")
}

/// The text invariants every extracted article keeps.
fn assert_clean(a: &Article) {
    assert!(a.text.chars().count() >= MIN_ARTICLE_CHARS);
    assert_eq!(a.text.trim(), a.text);
    assert!(
        !a.text.contains("\n\n\n") && !a.text.contains("  "),
        "{:?}",
        a.text
    );
    assert!(
        a.text
            .split("\n\n")
            .all(|p| !p.is_empty() && !p.contains('\n'))
    );
}

#[test]
fn hostile_pages_neither_panic_nor_overflow_the_stack() {
    let story = page(STORY);
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("nul bytes", format!("{story}\0\0<p>\0</p>")),
        (
            "huge attribute",
            format!("<div class=\"{}\">{STORY}</div>", "a".repeat(3 << 20)),
        ),
        (
            "many attributes",
            format!("<div {}>{STORY}</div>", "a=b ".repeat(100_000)),
        ),
        (
            "broken tags",
            format!("{}{STORY}", "<<<div</p></div><a href='>".repeat(10_000)),
        ),
        (
            "unclosed comment",
            format!("{STORY}<!-- {}", "<div>".repeat(1000)),
        ),
        (
            "unclosed script",
            format!("{STORY}<script>{}", "<div>".repeat(100_000)),
        ),
        (
            "nested within the limit",
            format!("{}{STORY}", "<div>".repeat(MAX_NESTING - 10)),
        ),
        (
            "nested formatting",
            format!("{}{STORY}", "<b><i>".repeat(1000)),
        ),
        (
            "nested tables",
            format!("{}{STORY}", "<table><tr><td>".repeat(100_000)),
        ),
        (
            "nested lists",
            format!("{}{STORY}", "<ul><li>".repeat(100_000)),
        ),
        (
            "nested svg",
            format!("{}{STORY}", "<svg><g>".repeat(100_000)),
        ),
        (
            "self-closing divs",
            format!("{}{STORY}", "<div/>".repeat(100_000)),
        ),
        (
            "frameset",
            format!("<frameset>{}</frameset>{STORY}", "<frame>".repeat(1000)),
        ),
        ("plaintext", format!("<plaintext>{STORY}")),
        (
            "entities",
            format!(
                "<p>{}</p>{STORY}",
                "&#xD800;&#99999999999;&amp&lt;&;".repeat(10_000)
            ),
        ),
    ];
    for (name, html) in cases {
        match extract_on_small_stack(html) {
            Ok(a) => assert_clean(&a),
            Err(ExtractError::Crashed) => panic!("{name}: the extractor crashed"),
            Err(_) => {}
        }
    }
}

mod hostile {
    use super::*;
    use proptest::prelude::*;

    /// Pieces of markup, valid and broken, that pages and attackers are made of.
    const PIECES: &[&str] = &[
        "<div>",
        "</div>",
        "<p>",
        "</p>",
        "<article>",
        "</article>",
        "<table>",
        "<tr>",
        "<td>",
        "</table>",
        "<ul>",
        "<li>",
        "<svg>",
        "<path/>",
        "</svg>",
        "<math>",
        "<script>",
        "</script>",
        "<style>",
        "</style>",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "<b>",
        "</b>",
        "<i>",
        "<a href='",
        "'>",
        "</a>",
        "<br/>",
        "<template>",
        "<select>",
        "<option>",
        "<noscript>",
        "<textarea>",
        "<title>",
        "</title>",
        "<body>",
        "<html>",
        "<head>",
        "<frameset>",
        "<",
        ">",
        "/",
        "\"",
        "'",
        "=",
        "&amp;",
        "&#x0;",
        "&#xD800;",
        "&",
        "\0",
        "é",
        "文字",
        "\u{202e}",
        " ",
        "\n",
        "The council voted on the bridge today. ",
        "Engineers said the new structure would carry twice as many vehicles. ",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn random_markup_never_panics(picks in prop::collection::vec(0..PIECES.len(), 0..400)) {
            let html: String = picks.iter().map(|&i| PIECES[i]).collect();
            match extract_article(&html) {
                Ok(a) => assert_clean(&a),
                Err(e) => prop_assert_ne!(e, ExtractError::Crashed),
            }
        }
    }
}

/// Regression: pages the scan of the tags this module had before its shape parse misjudged
/// (elements it took for closed by a sibling, raw text ended where the tokenizer does not end
/// it) reached the extractor nested thousands deep; the shape parse refuses them.
#[test]
fn pages_nested_past_the_scan_are_refused_by_the_parse() {
    for page in [
        format!("{}{STORY}", "<rt>".repeat(5000)),
        format!("{}{STORY}", "<li><dd>".repeat(5000)),
        format!(
            "<title></titlex><!--</title>{}{STORY}",
            "<div>".repeat(5000)
        ),
    ] {
        assert!(
            matches!(extract_article(&page), Err(ExtractError::TooDeep { .. })),
            "{page:.50}"
        );
    }
}

/// Regression: pages that make the parser work without making elements reached the
/// extractor: 800,000 stray end tags under 250 open elements (2.6 s of the two parses), one
/// tag of 300,000 distinct attributes (two minutes).
#[test]
fn pages_that_make_the_parser_work_are_refused() {
    // Few open elements, so that even a debug build reaches the error limit within the
    // parse's CPU budget.
    let stray = format!("{}{}{STORY}", "<span>".repeat(10), "</x>".repeat(60_000));
    assert_eq!(
        extract_article(&stray),
        Err(ExtractError::TooBroken {
            max: MAX_MARKUP_ERRORS
        })
    );
    let attrs: String = (0..300_000).map(|n| format!("a{n}=1 ")).collect();
    let page = format!("<div {attrs}>{STORY}</div>");
    assert_eq!(
        extract_article(&page),
        Err(ExtractError::TooSlow { max: MAX_PARSE_CPU })
    );
}
