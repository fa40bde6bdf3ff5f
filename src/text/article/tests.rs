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
    let a = extract_article(&page(STORY), Some("https://news.example/bridge")).unwrap();
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

#[test]
fn a_relative_or_bad_url_is_ignored() {
    for url in [None, Some("/bridge"), Some("not a url"), Some("")] {
        assert!(extract_article(&page(STORY), url).is_ok(), "{url:?}");
    }
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
        let e = extract_article(html, None).unwrap_err();
        assert!(e.is_no_article(), "{html:?}: {e:?}");
    }
}

#[test]
fn a_page_over_the_cap_is_cut_at_a_character_boundary() {
    let filler = "é".repeat(MAX_PAGE_BYTES); // two bytes each: the cap falls inside one
    let html = page(&format!("{STORY}<div hidden>{filler}</div>"));
    let (cut, truncated) = cut_to_cap(&html, MAX_PAGE_BYTES + 1);
    assert!(truncated && cut.len() <= MAX_PAGE_BYTES + 1);
    let a = extract_article(&html, None).unwrap();
    assert!(a.truncated);
    assert!(a.text.contains("Construction is expected"));
}

#[test]
fn deeply_nested_pages_are_refused_before_parsing() {
    let html = format!("<html><body>{}{STORY}", "<div>".repeat(200_000));
    let started = std::time::Instant::now();
    assert_eq!(
        extract_article(&html, None),
        Err(ExtractError::TooDeep { max: MAX_NESTING })
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn a_page_with_too_many_elements_is_refused() {
    let html = page(&"<span>x</span>".repeat(MAX_ELEMENTS + 1));
    assert!(matches!(
        extract_article(&html, None),
        Err(ExtractError::TooManyElements {
            max: MAX_ELEMENTS,
            ..
        })
    ));
}

#[test]
fn paragraphs_puts_every_line_in_its_own_paragraph() {
    assert_eq!(paragraphs("a\nb\n\n\n c \n"), "a\n\nb\n\nc");
}
