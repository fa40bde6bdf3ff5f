//! Each platform's markup for the pieces every chat sink is built from: bold, links, the linked
//! title, the meta line, the matched terms, the snippet, and what feed text may not form.
//! Exact outputs, so a change to any of them fails here and not only in a sink's payload test.
//! Written against mutation testing (docs/testing.md).

use chrono::{TimeZone, Utc};

use super::*;
use crate::deliver::alert::AlertHit;

const ALL: [Markup; 8] = [
    Markup::Slack,
    Markup::Mattermost,
    Markup::Discord,
    Markup::Teams,
    Markup::GoogleChat,
    Markup::Html,
    Markup::Plain,
    Markup::NtfyMarkdown,
];

fn alert(title: &str, link: Option<&str>, terms: &[&str]) -> Alert {
    Alert {
        watch: "w&1".into(),
        feed: "feed<x>".into(),
        item_key: "k".into(),
        title: title.into(),
        link: link.map(str::to_string),
        published: Utc.with_ymd_and_hms(2024, 10, 20, 9, 30, 0).single(),
        hits: terms
            .iter()
            .map(|t| AlertHit {
                term: (*t).into(),
                field: "title".into(),
                start: 0,
                end: 1,
            })
            .collect(),
        snippet: AlertSnippet::default(),
        matched_at: Utc.with_ymd_and_hms(2024, 10, 20, 9, 41, 0).unwrap(),
        story: None,
        meaning: None,
    }
}

#[test]
fn bold_and_links_in_each_markup() {
    let want = [
        (Markup::Slack, "*x*", "<https://u.example/|t>"),
        (Markup::Mattermost, "**x**", "[t](https://u.example/)"),
        (Markup::Discord, "**x**", "[t](https://u.example/)"),
        (Markup::Teams, "**x**", "[t](https://u.example/)"),
        (Markup::GoogleChat, "*x*", "<https://u.example/|t>"),
        (
            Markup::Html,
            "<b>x</b>",
            "<a href=\"https://u.example/\">t</a>",
        ),
        (Markup::Plain, "x", "t (https://u.example/)"),
        (Markup::NtfyMarkdown, "**x**", "[t](https://u.example/)"),
    ];
    for (m, bold, link) in want {
        assert_eq!(m.bold("x"), bold, "{m:?}");
        assert_eq!(m.link("https://u.example/", "t"), link, "{m:?}");
    }
    // Google Chat has no escape for `>` inside link text, which would end the link early.
    assert_eq!(
        Markup::GoogleChat.link("https://u.example/", "a>b"),
        "<https://u.example/|a›b>"
    );
}

#[test]
fn the_title_is_escaped_cut_and_linked_only_to_a_safe_url() {
    let a = alert("A & <B> *c*", Some("https://x.example/a"), &[]);
    assert_eq!(
        Markup::Slack.linked_title(&a, 100),
        "<https://x.example/a|A &amp; &lt;B&gt; *c*>"
    );
    assert_eq!(
        Markup::Discord.linked_title(&a, 100),
        "[A & \\<B\\> \\*c\\*](https://x.example/a)"
    );
    assert_eq!(
        Markup::Slack.linked_title(&a, 5),
        "<https://x.example/a|A &amp;…>"
    );
    let unsafe_link = alert("A & B", Some("javascript:alert(1)"), &[]);
    assert_eq!(Markup::Html.linked_title(&unsafe_link, 100), "A &amp; B");
}

#[test]
fn the_meta_line_is_watch_feed_and_date_escaped() {
    let a = alert("t", None, &[]);
    assert_eq!(
        Markup::Slack.meta_line(&a, true),
        "*w&amp;1* · feed&lt;x&gt; · 2024-10-20 09:30 UTC"
    );
    assert_eq!(
        Markup::Html.meta_line(&a, false),
        "w&amp;1 · feed&lt;x&gt; · 2024-10-20 09:30 UTC"
    );
    let undated = Alert {
        published: None,
        ..a
    };
    assert_eq!(Markup::Plain.meta_line(&undated, false), "w&1 · feed<x>");
}

#[test]
fn matched_terms_are_joined_and_escaped_or_absent() {
    let a = alert("t", None, &["A&B", "C", "A&B"]);
    assert_eq!(
        Markup::Html.matched_terms(&a).as_deref(),
        Some("A&amp;B, C")
    );
    assert_eq!(Markup::Plain.matched_terms(&a).as_deref(), Some("A&B, C"));
    assert_eq!(Markup::Html.matched_terms(&alert("t", None, &[])), None);
}

#[test]
fn a_snippet_is_one_line_with_its_hits_in_bold_and_its_text_escaped() {
    let text = "line one\nhit <tag>\tend";
    let s = AlertSnippet {
        text: text.into(),
        marks: vec![(9, 12)],
    };
    assert_eq!(
        Markup::Html.snippet(&s),
        "line one <b>hit</b> &lt;tag&gt; end"
    );
    assert_eq!(Markup::Slack.snippet(&s), "line one *hit* &lt;tag&gt; end");
    assert_eq!(Markup::Plain.snippet(&s), "line one hit <tag> end");
}

/// Quotes matter only inside HTML attributes: elsewhere `&quot;` would show as written.
#[test]
fn quotes_are_entities_only_in_html() {
    assert_eq!(Markup::Slack.text("say \"hi\""), "say \"hi\"");
    assert_eq!(Markup::Mattermost.text("say \"hi\""), "say \"hi\"");
    assert_eq!(Markup::Html.text("say \"hi\""), "say &quot;hi&quot;");
}

/// Whatever the markup, feed text cannot form a mention, a tag or a link of its own.
#[test]
fn no_markup_lets_feed_text_mention_tag_or_link() {
    let hostile = "@here <at>x</at> <!channel> [x](javascript:y) <users/all> ＠everyone";
    for m in ALL {
        let out = m.text(hostile);
        assert!(!out.contains("@here"), "{m:?}: {out}");
        assert!(!out.contains("＠everyone"), "{m:?}: {out}");
        if m != Markup::Plain {
            assert!(!out.contains("<at>"), "{m:?}: {out}");
            assert!(!out.contains("<!channel>"), "{m:?}: {out}");
            assert!(!out.contains("<users/all>"), "{m:?}: {out}");
        }
        if matches!(
            m,
            Markup::Mattermost | Markup::Discord | Markup::Teams | Markup::NtfyMarkdown
        ) {
            assert!(out.contains("\\[x\\](javascript:y)"), "{m:?}: {out}");
        }
    }
    // Text shown as written (Google Chat, Adaptive Card runs): `<` can start nothing.
    assert_eq!(inert_text("a <b> @all"), "a <\u{200B}b> @\u{200B}all");
}

#[test]
fn a_full_width_at_sign_is_defused_like_an_ascii_one() {
    assert_eq!(defuse("＠channel"), "＠\u{200B}channel");
    assert_eq!(defuse("x ＠_all"), "x ＠\u{200B}_all");
    // Not a mention: a space follows.
    assert_eq!(defuse("a @ b"), "a @ b");
}

/// Regression: a snippet is escaped piece by piece between its highlights, and an `@` ending
/// the piece before a hit was left alone (nothing followed it in the piece): Telegram got
/// `@<b>elonmusk</b>`, which reads as the mention `@elonmusk`.
#[test]
fn an_at_sign_just_before_a_highlighted_hit_is_defused() {
    let s = AlertSnippet {
        text: "says @elonmusk today".into(),
        marks: vec![(6, 14)],
    };
    assert_eq!(
        Markup::Html.snippet(&s),
        "says @\u{200B}<b>elonmusk</b> today"
    );
    assert_eq!(defuse("mail me @"), "mail me @\u{200B}");
}

/// Regression: a right-to-left override (U+202E) in a title reversed the rest of its line,
/// in a digest the watch and feed names after it. Embedding, override and isolate controls
/// are dropped from feed text; right-to-left letters keep their own direction.
#[test]
fn direction_controls_are_dropped_from_feed_text() {
    let title = "Breaking\u{202E} news \u{2067}x\u{2069} \u{202A}y\u{202C} שלום";
    for m in [Markup::Slack, Markup::Html, Markup::Plain, Markup::Discord] {
        assert_eq!(m.text(title), "Breaking news x y שלום", "{m:?}");
    }
    assert_eq!(inert_text("a\u{202E}b"), "ab");
}

/// Regression: a `\` survives URL parsing in a query, and `[t](https://x/?q=a\)` in Markdown
/// is a link whose `)` is escaped: it never ends, and the raw markup shows.
#[test]
fn a_backslash_in_a_link_is_percent_encoded() {
    assert_eq!(
        safe_link(Some("https://x.example/a?q=a\\")).as_deref(),
        Some("https://x.example/a?q=a%5C")
    );
}

/// Only http(s) is linked, even when another scheme has a host: `javascript://host/%0A…` runs
/// script in a browser that opens it, and nothing but a web page belongs in an alert's link.
#[test]
fn a_link_with_a_host_but_another_scheme_is_not_linked() {
    assert_eq!(safe_link(Some("javascript://x.example/%0Aalert(1)")), None);
    assert_eq!(safe_link(Some("ftp://x.example/file")), None);
    assert_eq!(
        safe_link(Some(" https://x.example/ok ")).as_deref(),
        Some("https://x.example/ok")
    );
}

/// A backtick survives URL parsing in a query (the `url` crate leaves it there) and would end
/// inline code in Markdown: it is percent-encoded like the other characters that end a link.
#[test]
fn a_backtick_in_a_query_is_percent_encoded() {
    assert_eq!(
        safe_link(Some("https://x.example/s?q=`x`")).as_deref(),
        Some("https://x.example/s?q=%60x%60")
    );
}

/// A `"` survives URL parsing in a host (the `url` crate accepts `https://a"b.example/`) and
/// would end an HTML `href` or a Markdown link title: it is percent-encoded.
#[test]
fn a_quote_in_a_host_is_percent_encoded() {
    assert_eq!(
        safe_link(Some("https://a\"b.example/")).as_deref(),
        Some("https://a%22b.example/")
    );
}
