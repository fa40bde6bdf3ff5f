//! Rendering shared by the chat sinks: each platform's markup ([`Markup`]), escaping of feed
//! text, mention neutralising, safe links, and truncation that never breaks a character.
//!
//! Owns [`Markup`], [`defuse`], [`safe_link`], [`truncate_chars`],
//! [`truncate_bytes`], [`shorten_snippet`], [`fit`] and [`published_text`]. Feed text is
//! hostile input: everything taken from an item goes through [`Markup::text`] before it meets
//! the platform's markup, and nothing here fails — limits are met by cutting the snippet and
//! adding an ellipsis.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::deliver::alert::{Alert, AlertSnippet};

/// What marks a cut.
pub const ELLIPSIS: &str = "…";

/// The markup a platform reads, and so how feed text is escaped for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// Slack mrkdwn: `*bold*`, `<url|text>`; `& < >` are entities.
    Slack,
    /// Mattermost Markdown; `& < >` as entities too, since its Slack compatibility turns a
    /// literal `<!channel>` into `@channel`.
    Mattermost,
    /// Discord Markdown: backslash escapes.
    Discord,
    /// The Markdown subset of Adaptive Card `TextBlock`s (what a Teams template writes); `& < >`
    /// as entities, and backslashes only before what that subset reads (`* _ [ ]`). The
    /// built-in Teams message needs none of this: it is made of `TextRun`s ([`inert_text`]).
    Teams,
    /// Google Chat text: `*bold*`, `<url|text>`. Chat does not decode entities in webhook
    /// text (`S&amp;P` would show as such), so `&` and `>` go as they are, and a zero-width
    /// space after every `<` keeps `<users/all>` (a mention) and `<url|…>` from forming.
    GoogleChat,
    /// HTML (Matrix `formatted_body`, Telegram `parse_mode: HTML`).
    Html,
    /// Plain text: nothing is interpreted (Matrix `body`, ntfy without markdown).
    Plain,
    /// ntfy's Markdown (web app), backslash escapes.
    NtfyMarkdown,
}

impl Markup {
    /// Feed text made inert for this platform: markup escaped and mentions defused.
    pub fn text(self, s: &str) -> String {
        let s = defuse(s);
        match self {
            Markup::Slack => escape_entities(&s, false),
            Markup::GoogleChat => inert_text(&s),
            Markup::Mattermost => backslash(&escape_entities(&s, false), MD_SPECIALS),
            Markup::Html => escape_entities(&s, true),
            Markup::Discord => backslash(&s, DISCORD_SPECIALS),
            // Teams decodes entities in card text: `<at>` mentions and tags cannot form.
            Markup::Teams => backslash(&escape_entities(&s, false), TEAMS_SPECIALS),
            Markup::NtfyMarkdown => backslash(&s, NTFY_SPECIALS),
            Markup::Plain => s.into_owned(),
        }
    }

    /// Bold around already-escaped text.
    pub fn bold(self, escaped: &str) -> String {
        let (open, close) = self.bold_marks();
        format!("{open}{escaped}{close}")
    }

    /// The opening and closing marks of bold text (snippet highlights use them).
    pub fn bold_marks(self) -> (&'static str, &'static str) {
        match self {
            Markup::Slack | Markup::GoogleChat => ("*", "*"),
            Markup::Mattermost | Markup::Discord | Markup::Teams | Markup::NtfyMarkdown => {
                ("**", "**")
            }
            Markup::Html => ("<b>", "</b>"),
            Markup::Plain => ("", ""),
        }
    }

    /// A link with already-escaped text; `url` must come from [`safe_link`].
    pub fn link(self, url: &str, escaped_text: &str) -> String {
        match self {
            Markup::Slack => format!("<{url}|{escaped_text}>"),
            // A `>` would end Chat's link early and there is no escape for it: inside link
            // text it becomes `›`.
            Markup::GoogleChat => format!("<{url}|{}>", escaped_text.replace('>', "›")),
            Markup::Mattermost | Markup::Discord | Markup::Teams | Markup::NtfyMarkdown => {
                format!("[{escaped_text}]({url})")
            }
            Markup::Html => format!("<a href=\"{}\">{escaped_text}</a>", self.link_target(url)),
            Markup::Plain => format!("{escaped_text} ({url})"),
        }
    }

    /// `url` as [`Self::link`] writes it: in HTML an attribute value, whose `&` is written
    /// `&amp;` (entity-decoded, `?a=1&lt=2` would reach the reader as `?a=1<=2` in Telegram
    /// and Matrix clients).
    pub fn link_target(self, url: &str) -> String {
        match self {
            Markup::Html => url.replace('&', "&amp;"),
            _ => url.to_string(),
        }
    }

    /// The snippet with hits in bold, feed text escaped.
    pub fn snippet(self, snippet: &AlertSnippet) -> String {
        let (open, close) = self.bold_marks();
        // One line, whatever the feed's paragraphs: a snippet sits in a quote or a list line.
        // Same byte lengths, so the marks stay valid.
        let flat = AlertSnippet {
            text: snippet.text.replace(['\n', '\r', '\t'], " "),
            marks: snippet.marks.clone(),
        };
        flat.render(open, close, |t| self.text(t))
    }

    /// The item's title, escaped and cut to `max` characters, linked to the item when it has
    /// a safe http(s) link.
    pub fn linked_title(self, alert: &Alert, max: usize) -> String {
        let title = self.text(&truncate_chars(alert.shown_title(), max));
        match safe_link(alert.link.as_deref()) {
            Some(url) => self.link(&url, &title),
            None => title,
        }
    }

    /// `watch · feed · published`, escaped; the watch in bold where the platform shows it so.
    pub fn meta_line(self, alert: &Alert, bold_watch: bool) -> String {
        let watch = self.text(&truncate_chars(&alert.watch, 200));
        let mut meta = vec![
            if bold_watch { self.bold(&watch) } else { watch },
            self.text(&truncate_chars(&alert.feed, 200)),
        ];
        meta.extend(published_text(alert.published));
        meta.join(" · ")
    }

    /// The matched terms (`"A, B"`), escaped and cut to 1,000 characters; `None` when none.
    pub fn matched_terms(self, alert: &Alert) -> Option<String> {
        let terms = truncate_chars(&terms_text(alert), 1000).into_owned();
        (!terms.is_empty()).then(|| self.text(&terms))
    }
}

const MD_SPECIALS: &[char] = &['\\', '*', '_', '~', '`', '[', ']', '#', '|'];
const DISCORD_SPECIALS: &[char] = &['\\', '*', '_', '~', '`', '[', ']', '<', '>', '#', '|'];
/// Adaptive Card Markdown is bold, italic, lists and links: nothing else needs a backslash
/// (older Teams mobile clients show every backslash literally, so none is spent needlessly).
const TEAMS_SPECIALS: &[char] = &['\\', '*', '_', '[', ']'];
const NTFY_SPECIALS: &[char] = &['\\', '*', '_', '~', '`', '[', ']', '<', '>', '#', '|'];

/// Mentions defused and a zero-width space after every `<`, so neither `<users/all>`,
/// `<url|…>` nor `<at>` can form: for text shown as written, with no escapes (Google Chat
/// text, Adaptive Card `TextRun`s).
pub fn inert_text(s: &str) -> String {
    defuse(s).replace('<', "<\u{200B}")
}

fn escape_entities(s: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

fn backslash(s: &str, specials: &[char]) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if specials.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Feed text defused for every platform: U+200B after every `@` that may start a mention, and
/// the bidirectional embedding, override and isolate controls dropped.
///
/// An `@` is kept as it is only after an ASCII letter or digit (an e-mail address): after
/// anything else, and followed by a word character or by nothing, it gets U+200B, so no feed
/// text can address a person or a whole room (`@channel`, `@everyone`, `@here`, `@room`,
/// `@all`, `@username`). Mattermost's and Telegram's mention parsers split words at anything
/// but letters and digits of their own (`.`, `_`, and symbols such as `Ⓐ` or a vowel sign,
/// which Rust counts as alphanumeric), so `.@channel` and `Ⓐ@here` are mentions there. An `@`
/// ending the text is defused because a highlighted hit may follow it in the message
/// (`@<b>name</b>` reads `@name`).
///
/// A right-to-left override (U+202E) in a title reversed the rest of its line: in a digest,
/// the watch and feed names after it. Dropped, the controls cannot reach past the feed's text;
/// right-to-left script is shown by its letters' own direction.
pub fn defuse(s: &str) -> Cow<'_, str> {
    if !s.contains(['@', '＠']) && !s.contains(is_direction_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev: Option<char> = None;
    let mut chars = s.chars().filter(|&c| !is_direction_control(c)).peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        let at_word_start = prev.is_none_or(|p| !p.is_ascii_alphanumeric());
        if (c == '@' || c == '＠')
            && at_word_start
            && chars
                .peek()
                .is_none_or(|n| n.is_alphanumeric() || *n == '_')
        {
            out.push('\u{200B}');
        }
        prev = Some(c);
    }
    Cow::Owned(out)
}

/// The bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), whose
/// effect lasts past the character until a closing control or the end of the paragraph.
fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The item's link if it is an absolute http(s) URL, with the characters that would end a link
/// in some markup (`| < > ( ) " \\`, backtick and spaces) percent-encoded. Anything else
/// (`javascript:`, relative, garbage) is not linked at all.
pub fn safe_link(link: Option<&str>) -> Option<String> {
    let u = url::Url::parse(link?.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return None;
    }
    let mut out = String::with_capacity(u.as_str().len());
    for c in u.as_str().chars() {
        match c {
            '|' => out.push_str("%7C"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '"' => out.push_str("%22"),
            '`' => out.push_str("%60"),
            ' ' => out.push_str("%20"),
            // `\)` in a Markdown link's target is an escaped parenthesis: the link never ended.
            '\\' => out.push_str("%5C"),
            _ => out.push(c),
        }
    }
    Some(out)
}

/// At most `max` characters: cut on a character boundary with [`ELLIPSIS`] as the last one.
pub fn truncate_chars(s: &str, max: usize) -> Cow<'_, str> {
    if s.chars().count() <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let keep: String = s.chars().take(max - 1).collect();
    Cow::Owned(format!("{}{ELLIPSIS}", keep.trim_end()))
}

/// At most `max` UTF-16 code units (what Discord and Telegram count), ending in [`ELLIPSIS`]
/// when cut.
pub fn truncate_utf16(s: &str, max: usize) -> Cow<'_, str> {
    if s.encode_utf16().count() <= max {
        return Cow::Borrowed(s);
    }
    let mut out = String::new();
    let mut used = 1; // the ellipsis
    for c in s.chars() {
        if used + c.len_utf16() > max {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    out.push_str(ELLIPSIS);
    Cow::Owned(out)
}

/// At most `max` UTF-8 bytes, cut on a character boundary, ending in [`ELLIPSIS`] when cut.
pub fn truncate_bytes(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    if max < ELLIPSIS.len() {
        return Cow::Borrowed("");
    }
    let mut end = max - ELLIPSIS.len();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{ELLIPSIS}", &s[..end]))
}

/// The snippet cut to at most `max_chars` characters (ellipsis included); marks past the cut
/// are dropped and a mark across it is clipped.
pub fn shorten_snippet(snippet: &AlertSnippet, max_chars: usize) -> AlertSnippet {
    if snippet.text.chars().count() <= max_chars {
        return snippet.clone();
    }
    if max_chars == 0 {
        return AlertSnippet::default();
    }
    let end = snippet
        .text
        .char_indices()
        .nth(max_chars - 1)
        .map_or(snippet.text.len(), |(i, _)| i);
    let mut text = snippet.text[..end].to_string();
    let marks = snippet
        .marks
        .iter()
        .filter(|&&(s, e)| s < end && s <= e)
        .map(|&(s, e)| (s, e.min(end)))
        .collect();
    text.push_str(ELLIPSIS);
    AlertSnippet { text, marks }
}

/// The largest snippet budget (in characters, from `full` down to 0) whose output `ok` accepts,
/// found by bisection since output grows with the budget; the budget-0 output when even that
/// fails (callers then cut the output itself).
pub fn fit<T>(full: usize, build: impl Fn(usize) -> T, ok: impl Fn(&T) -> bool) -> T {
    let whole = build(full);
    if ok(&whole) {
        return whole;
    }
    let (mut lo, mut hi) = (0usize, full);
    // Invariant: `hi` fails; `lo` is the best candidate known (0 when none passed yet).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(&build(mid)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    build(lo)
}

/// `2024-10-20 09:30 UTC`: short, unambiguous, the same in every platform.
pub fn published_text(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// The snippet's length in characters: the full budget for [`fit`].
pub fn snippet_len(alert: &Alert) -> usize {
    alert.snippet.text.chars().count()
}

/// `"A, B, C"`: the matched terms, as written in the configuration; for a match by meaning,
/// its score and closest example (`meaning 0.66, like "…"`).
pub fn terms_text(alert: &Alert) -> String {
    let terms = alert.terms().join(", ");
    let Some(m) = &alert.meaning else {
        return terms;
    };
    let by = format!("meaning {:.2}, like \"{}\"", m.score, m.example);
    if terms.is_empty() {
        by
    } else {
        format!("{terms}; {by}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_match_by_meaning_names_its_score_and_example() {
        let mut a = crate::deliver::template::sample_alert();
        let terms = terms_text(&a);
        a.meaning = Some(crate::deliver::alert::Meaning {
            score: 0.6612,
            example: "North Korean soldiers fighting for Russia".into(),
            sentence: "Kim's army units arrive.".into(),
        });
        let like = "meaning 0.66, like \"North Korean soldiers fighting for Russia\"";
        assert_eq!(terms_text(&a), format!("{terms}; {like}"));
        a.hits.clear();
        assert_eq!(terms_text(&a), like);
    }

    #[test]
    fn mentions_are_defused_but_addresses_kept() {
        let s = defuse("@everyone hi @here, mail press@nato.int (@room) @channel @all");
        assert!(!s.contains("@everyone") && !s.contains("@here") && !s.contains("@room"));
        assert!(!s.contains("@channel") && !s.contains("@all"));
        assert!(s.contains("press@nato.int"));
        assert_eq!(defuse("no at"), "no at");
    }

    /// Regression: `@` after `.` or `_` was left live, and Mattermost's mention parser splits
    /// words there, so a title with `.@channel`, `x.@all` or `_@here` pinged the whole channel
    /// (and `.@username` mentioned a user on Telegram).
    #[test]
    fn mentions_after_a_dot_or_underscore_are_defused() {
        for s in [
            ".@channel",
            "x.@all",
            "_@here",
            "Hi .@username",
            "a_b_@room",
            // Regression: an `@` was left alone after any character Rust counts as
            // alphanumeric, but Mattermost's and Telegram's parsers split words at symbols
            // such as `Ⓐ` and at vowel signs: `Ⓐ@channel` notified a whole Mattermost
            // channel. Only an ASCII letter or digit keeps an `@` (an e-mail address).
            "Ⓐ@channel",
            "🅰@here",
            "\u{093E}@all",
            "é@username",
        ] {
            let d = defuse(s);
            let at = d.find('@').unwrap();
            assert_eq!(&d[at + 1..at + 4], "\u{200B}", "{s:?} -> {d:?}");
        }
        assert_eq!(defuse("first.last@example.org"), "first.last@example.org");
        assert_eq!(defuse("desk2@example.org"), "desk2@example.org");
    }

    #[test]
    fn escaping_per_markup() {
        let t = "<!channel> & <users/all> *x*";
        assert_eq!(
            Markup::Slack.text(t),
            "&lt;!channel&gt; &amp; &lt;users/all&gt; *x*"
        );
        assert_eq!(
            Markup::Html.text("<b>\"q\"</b>"),
            "&lt;b&gt;&quot;q&quot;&lt;/b&gt;"
        );
        assert_eq!(Markup::Discord.text("*a* <@1>"), "\\*a\\* \\<@\u{200B}1\\>");
    }

    /// Regression: `&` in an HTML link's `href` was written raw, and Telegram decodes
    /// entities there, so `?a=1&lt=2` opened `?a=1<=2`.
    #[test]
    fn ampersands_in_html_hrefs_are_entities() {
        let url = safe_link(Some("https://x.example/q?a=1&lt=2")).unwrap();
        assert_eq!(
            Markup::Html.link(&url, "t"),
            "<a href=\"https://x.example/q?a=1&amp;lt=2\">t</a>"
        );
    }

    #[test]
    fn links_are_http_only_and_markup_safe() {
        assert_eq!(safe_link(Some("javascript:alert(1)")), None);
        assert_eq!(safe_link(Some("/relative")), None);
        assert_eq!(
            safe_link(Some("https://x.example/a|b>(c)")).as_deref(),
            Some("https://x.example/a%7Cb%3E%28c%29")
        );
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate_chars("héllo world", 5), "héll…");
        assert_eq!(truncate_chars("short", 10), "short");
        assert_eq!(truncate_utf16("a😀😀", 4), "a😀…");
        let t = truncate_bytes("ééééé", 7);
        assert!(t.len() <= 7 && t.ends_with(ELLIPSIS), "{t}");
        let s = AlertSnippet {
            text: "aaa bbb ccc".into(),
            marks: vec![(4, 7), (8, 11)],
        };
        let cut = shorten_snippet(&s, 6);
        assert_eq!(cut.text, "aaa b…");
        assert_eq!(cut.marks, vec![(4, 5)]);
    }

    /// Each cut exactly at its limit (pinned against mutation testing: docs/testing.md).
    #[test]
    fn each_truncation_is_exact_at_its_limit() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_chars("abc", 0), "");
        assert_eq!(truncate_utf16("ab", 2), "ab");
        // Every character counts: one unit each for ASCII, two for an emoji.
        assert_eq!(truncate_utf16("abcd", 3), "ab…");
        assert_eq!(truncate_utf16("😀😀", 3), "😀…");
        assert_eq!(truncate_utf16("abc", 0), "");
        assert_eq!(truncate_bytes("ab", 2), "ab");
        assert_eq!(truncate_bytes("ééééé", 7), "éé…");
        // A cut inside a character steps back to its start.
        assert_eq!(truncate_bytes("ééééé", 6), "é…");
        // Room for the ellipsis alone, and not even that.
        assert_eq!(truncate_bytes("ééééé", 3), "…");
        assert_eq!(truncate_bytes("ééééé", 2), "");
    }

    #[test]
    fn a_snippet_mark_starting_at_the_cut_is_dropped() {
        let s = AlertSnippet {
            text: "aaa bbb ccc".into(),
            marks: vec![(0, 3), (4, 7), (5, 7)],
        };
        let cut = shorten_snippet(&s, 6);
        assert_eq!(cut.text, "aaa b…");
        assert_eq!(cut.marks, vec![(0, 3), (4, 5)]);
        assert_eq!(shorten_snippet(&s, 0), AlertSnippet::default());
        assert_eq!(shorten_snippet(&s, 11), s);
    }

    #[test]
    fn the_snippet_budget_is_its_length_in_characters() {
        let mut a = crate::deliver::template::sample_alert();
        a.snippet = AlertSnippet {
            text: "é😀ab".into(),
            marks: vec![],
        };
        assert_eq!(snippet_len(&a), 4);
    }

    #[test]
    fn fit_finds_the_largest_budget() {
        let out = fit(100, |n| "x".repeat(n), |s| s.len() <= 37);
        assert_eq!(out.len(), 37);
        let out = fit(10, |n| "x".repeat(n + 50), |s| s.len() <= 37);
        assert_eq!(out.len(), 50);
    }
}

/// Every markup's pieces, exactly (pinned against mutation testing: docs/testing.md).
#[cfg(test)]
mod markup_tests;
