//! Property tests: `parse` and `html_to_text` never panic, and script content never leaks.

use newswatch::feed::parse;
use newswatch::text::html::{decode_entities, html_to_text};
use proptest::prelude::*;

/// Marker that only ever appears inside `<script>` elements in the generated HTML.
const SECRET: &str = "XSCRIPTX";

/// Fragments of realistic (and broken) HTML that never contain the marker themselves and never
/// hide a following `<script>` inside another tag.
fn html_token() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ,.;:!?'\"()\\-]{0,20}",
        Just("<p>".to_owned()),
        Just("</p>".to_owned()),
        Just("<br/>".to_owned()),
        Just("<div class=\"a > b\">".to_owned()),
        Just("</div>".to_owned()),
        Just("<a href='x?a=1&amp;b=2'>".to_owned()),
        Just("</a>".to_owned()),
        Just("<!-- comment -->".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("]]>".to_owned()),
        Just("&amp;".to_owned()),
        Just("&nbsp;".to_owned()),
        Just("&#8217;".to_owned()),
        Just("&bogus;".to_owned()),
        // A lone `<` before a letter would open a tag that swallows the next `<script>` (as in a
        // browser); as text it is written `< `.
        Just("1 < 2".to_owned()),
        Just(">".to_owned()),
        Just("&".to_owned()),
        Just("<style>p { x: 1 }</style>".to_owned()),
        "[a-z ]{0,10}".prop_map(|s| format!("<script>var a = '{s}</p>'; {SECRET}</script>")),
        "[a-z ]{0,10}"
            .prop_map(|s| format!("<SCRIPT type=\"text/javascript\">{SECRET}{s}</Script >")),
        Just(format!("<script>{SECRET}")), // unclosed: drops the rest
    ]
}

fn rss_skeleton(title: &str, description: &str) -> String {
    format!(
        "<rss version=\"2.0\"><channel><item><title>{title}</title><description>{description}</description></item></channel></rss>"
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        content_type in proptest::option::of("[a-z/+]{0,20}(; charset=[a-zA-Z0-9_-]{0,12})?"),
    ) {
        match parse(&body, content_type.as_deref(), None) {
            Ok(_) => {}
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text_in_an_rss_skeleton(title in any::<String>(), description in any::<String>()) {
        let body = rss_skeleton(&title, &description);
        match parse(body.as_bytes(), None, None) {
            Ok(_) => {}
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn parse_never_panics_on_markup_like_text_in_an_rss_skeleton(
        title in "[<>&;#a-z0-9 !\\[\\]\\-/\"'=?]{0,40}",
        description in "[<>&;#a-zA-Z0-9 !\\[\\]\\-/\"'=?\u{0}-\u{1f}\u{80}-\u{9f}]{0,80}",
    ) {
        let body = rss_skeleton(&title, &description);
        if let Err(error) = parse(body.as_bytes(), Some("text/xml"), None) {
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn html_to_text_never_panics(input in any::<String>()) {
        let _ = html_to_text(&input);
        let _ = decode_entities(&input);
    }

    #[test]
    fn html_to_text_drops_script_content(tokens in proptest::collection::vec(html_token(), 0..30)) {
        let html = tokens.concat();
        let text = html_to_text(&html);
        prop_assert!(!text.contains(SECRET), "script content leaked from {html:?}: {text:?}");
    }

    #[test]
    fn html_to_text_output_is_normalized(tokens in proptest::collection::vec(html_token(), 0..30)) {
        let text = html_to_text(&tokens.concat());
        prop_assert_eq!(text.trim(), text.as_str());
        prop_assert!(!text.contains("\n\n\n"));
        prop_assert!(!text.contains("  "));
        prop_assert!(!text.contains('\t'));
    }
}
