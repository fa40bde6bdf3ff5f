//! Cutting text that is already in a platform's markup, on a safe boundary.
//!
//! Owns [`cut_markup`]. Sinks first fit a message by shortening the snippet *before* it is
//! escaped ([`crate::deliver::render::fit`]); what is still too long (a template's own text, a
//! very long link) is cut here. A cut never lands inside an entity (`&amp;`), a backslash
//! escape (`\*`), a link (`<url|…>`, `[t](url)`), an HTML tag or a defused `@`/`<`; bold
//! marks and HTML elements left open by the cut are closed, and an ellipsis marks it.

use crate::deliver::render::{self, ELLIPSIS, Markup};

/// The zero-width space that defuses `@` and `<`.
const ZWSP: char = '\u{200B}';

/// `s` (text in `markup`) unchanged when `fits` accepts it, else its longest prefix of whole
/// atoms that, with open elements closed and an ellipsis added, `fits` accepts (empty when
/// none does).
pub fn cut_markup(markup: Markup, s: &str, fits: impl Fn(&str) -> bool) -> String {
    if fits(s) {
        return s.to_string();
    }
    let ends = atom_ends(markup, s);
    let build = |n: usize| {
        let end = if n == 0 { 0 } else { ends[n - 1] };
        let prefix = s[..end].trim_end();
        format!("{prefix}{}{ELLIPSIS}", closers(markup, &ends, n, s))
    };
    // The most atoms that fit: output grows with their number, as `fit` needs.
    let out = render::fit(ends.len(), build, |t| fits(t));
    if fits(&out) { out } else { String::new() }
}

/// What must follow the first `n` atoms to close what they opened: bold marks (Markdown
/// platforms) and HTML elements, innermost first.
fn closers(markup: Markup, ends: &[usize], n: usize, s: &str) -> String {
    let mut out = String::new();
    let mut start = 0;
    match markup {
        Markup::Html => {
            let mut open: Vec<&str> = Vec::new();
            for &end in &ends[..n] {
                let atom = &s[start..end];
                start = end;
                let Some(tag) = atom.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
                    continue;
                };
                if let Some(name) = tag.strip_prefix('/') {
                    if open.last() == Some(&name.trim()) {
                        open.pop();
                    }
                } else {
                    let name = tag.split_whitespace().next().unwrap_or_default();
                    if !name.is_empty() && name != "br" && !tag.ends_with('/') {
                        open.push(name);
                    }
                }
            }
            for name in open.iter().rev() {
                out.push_str(&format!("</{name}>"));
            }
        }
        Markup::Mattermost | Markup::Discord | Markup::Teams | Markup::NtfyMarkdown => {
            let bold = ends[..n]
                .iter()
                .filter(|&&end| {
                    let atom = &s[start..end];
                    start = end;
                    atom == "**"
                })
                .count();
            if bold % 2 == 1 {
                out.push_str("**");
            }
        }
        Markup::Slack | Markup::GoogleChat | Markup::Plain => {}
    }
    out
}

/// The byte ends of the atoms of `s`: pieces a cut must not split.
fn atom_ends(markup: Markup, s: &str) -> Vec<usize> {
    let backslashes = matches!(
        markup,
        Markup::Discord | Markup::Mattermost | Markup::Teams | Markup::NtfyMarkdown
    );
    let entities = matches!(
        markup,
        Markup::Slack | Markup::Mattermost | Markup::Teams | Markup::Html
    );
    let angles = matches!(markup, Markup::Slack | Markup::GoogleChat | Markup::Html);
    let md_links = backslashes;
    let mut ends = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let mut chars = rest.chars();
        let c = chars.next().unwrap_or_default();
        let next = chars.next();
        let one = c.len_utf8();
        let len = if (c == '@' || c == '<') && next == Some(ZWSP) {
            one + ZWSP.len_utf8()
        } else if backslashes && c == '\\' {
            one + next.map_or(0, char::len_utf8)
        } else if entities && c == '&' {
            entity_len(rest).unwrap_or(one)
        } else if angles && c == '<' {
            rest.find('>').map_or(rest.len(), |j| j + 1)
        } else if md_links && c == '[' {
            link_len(rest).unwrap_or(one)
        } else if md_links && rest.starts_with("**") {
            2
        } else {
            one
        };
        i += len;
        ends.push(i);
    }
    ends
}

/// `&name;`, `&#123;` or `&#x1F;` at the start of `s`: its length.
fn entity_len(s: &str) -> Option<usize> {
    let end = s.char_indices().take(12).find(|&(_, c)| c == ';')?.0;
    let name = &s[1..end];
    let ok = !name.is_empty()
        && (name.chars().all(|c| c.is_ascii_alphanumeric())
            || name
                .strip_prefix('#')
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric())));
    ok.then_some(end + 1)
}

/// A Markdown link `[text](url)` at the start of `s` (escapes in the text skipped): its length.
fn link_len(s: &str) -> Option<usize> {
    let mut it = s.char_indices().skip(1);
    while let Some((i, c)) = it.next() {
        match c {
            '\\' => {
                it.next();
            }
            ']' => {
                let after = &s[i + 1..];
                let url = after.strip_prefix('(')?;
                let close = url.find(')')?;
                return Some(i + 1 + 1 + close + 1);
            }
            '[' => return None,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_never_split_an_atom() {
        let within = |n: usize| move |t: &str| t.chars().count() <= n;
        assert_eq!(cut_markup(Markup::Slack, "a &amp; b", within(4)), "a…");
        assert_eq!(cut_markup(Markup::Discord, "ab\\*cd", within(4)), "ab…");
        assert_eq!(
            cut_markup(Markup::Slack, "x <https://a.example|title> y", within(10)),
            "x…"
        );
        assert_eq!(
            cut_markup(
                Markup::Discord,
                "**[t](https://a.example)** rest",
                within(28)
            ),
            "**[t](https://a.example)**…"
        );
        assert_eq!(
            cut_markup(Markup::Discord, "**bold text**", within(9)),
            "**bold**…"
        );
        assert_eq!(
            cut_markup(
                Markup::Html,
                "<b><a href=\"u\">title</a></b> &quot;x",
                within(27)
            ),
            "<b><a href=\"u\">tit</a></b>…"
        );
        assert_eq!(cut_markup(Markup::Html, "ok", within(1)), "…");
        assert_eq!(cut_markup(Markup::Html, "ok", within(0)), "");
    }

    /// `s` split where [`atom_ends`] says a cut may fall.
    fn atoms(markup: Markup, s: &str) -> Vec<&str> {
        let mut start = 0;
        atom_ends(markup, s)
            .into_iter()
            .map(|end| {
                let atom = &s[start..end];
                start = end;
                atom
            })
            .collect()
    }

    /// Each markup's atoms, exactly: which escapes, entities, links, tags and defused
    /// mentions it keeps whole, and that the others' are single characters there.
    #[test]
    fn each_markup_keeps_its_own_constructs_whole() {
        let z = "\u{200B}";
        let mixed = format!("@{z}a<{z}\\*&amp;[t](u)**<b>x\u{200B}");
        let at = format!("@{z}");
        let lt = format!("<{z}");
        let chars = |s: &'static str| s.split("").filter(|c| !c.is_empty());
        // Backslash escapes, Markdown links and bold marks; no entities, no tags.
        let mut discord: Vec<&str> = vec![at.as_str(), "a", lt.as_str(), "\\*"];
        discord.extend(chars("&amp;"));
        discord.extend(["[t](u)", "**", "<", "b", ">", "x", z]);
        assert_eq!(atoms(Markup::Discord, &mixed), discord);
        assert_eq!(atoms(Markup::NtfyMarkdown, &mixed), discord);
        // The same with entities.
        let mut mattermost: Vec<&str> = vec![at.as_str(), "a", lt.as_str(), "\\*", "&amp;"];
        mattermost.extend(["[t](u)", "**", "<", "b", ">", "x", z]);
        assert_eq!(atoms(Markup::Mattermost, &mixed), mattermost);
        assert_eq!(atoms(Markup::Teams, &mixed), mattermost);
        // Entities and tags; backslashes, links and bold marks are plain characters.
        let mut slack: Vec<&str> = vec![at.as_str(), "a", lt.as_str(), "\\", "*", "&amp;"];
        slack.extend(chars("[t](u)**"));
        slack.extend(["<b>", "x", z]);
        assert_eq!(atoms(Markup::Slack, &mixed), slack);
        assert_eq!(atoms(Markup::Html, &mixed), slack);
        // Tags only.
        let mut chat: Vec<&str> = vec![at.as_str(), "a", lt.as_str(), "\\", "*"];
        chat.extend(chars("&amp;[t](u)**"));
        chat.extend(["<b>", "x", z]);
        assert_eq!(atoms(Markup::GoogleChat, &mixed), chat);
        // Nothing but the defused mentions.
        let mut plain: Vec<&str> = vec![at.as_str(), "a", lt.as_str(), "\\", "*"];
        plain.extend(chars("&amp;[t](u)**<b>x"));
        plain.push(z);
        assert_eq!(atoms(Markup::Plain, &mixed), plain);
        // An `@` or `<` without the zero-width space is one character; a tag never closed
        // runs to the end; a backslash at the very end is alone.
        assert_eq!(atoms(Markup::Plain, "@<"), ["@", "<"]);
        assert_eq!(atoms(Markup::Html, "a<b c"), ["a", "<b c"]);
        assert_eq!(atoms(Markup::Discord, "a\\"), ["a", "\\"]);
        assert_eq!(atoms(Markup::Discord, ""), Vec::<&str>::new());
    }

    #[test]
    fn entities_are_named_or_numeric_and_end_within_twelve_characters() {
        assert_eq!(entity_len("&amp; x"), Some(5));
        assert_eq!(entity_len("&#123;"), Some(6));
        assert_eq!(entity_len("&#x1F;"), Some(6));
        assert_eq!(entity_len("&abcdefghij;"), Some(12));
        for not in [
            "&;",
            "&#;",
            "&#1-;",
            "&a b;",
            "&a-b;",
            "& x",
            "&abcdefghijk;",
        ] {
            assert_eq!(entity_len(not), None, "{not:?}");
        }
    }

    #[test]
    fn a_markdown_link_ends_at_the_parenthesis_after_its_unescaped_bracket() {
        assert_eq!(link_len("[abc](xyz) rest"), Some(10));
        assert_eq!(link_len("[a\\]b](u) rest"), Some(9));
        for not in ["[a[b](u)", "[t] (u)", "[t](u", "[t]", "[no close"] {
            assert_eq!(link_len(not), None, "{not:?}");
        }
    }

    #[test]
    fn closers_close_what_the_kept_atoms_left_open_innermost_first() {
        let close = |markup, s: &str, n: usize| closers(markup, &atom_ends(markup, s), n, s);
        let html = "<b><i><a href=\"u\">t</a><br><img/><>";
        assert_eq!(close(Markup::Html, html, 4), "</a></i></b>");
        assert_eq!(
            close(Markup::Html, html, atom_ends(Markup::Html, html).len()),
            "</i></b>"
        );
        // A closing tag that does not match the innermost open one closes nothing.
        assert_eq!(close(Markup::Html, "<b><i></b>", 3), "</i></b>");
        assert_eq!(close(Markup::Html, "<b>x", 0), "");
        let md = "**a** **b** **c";
        for (n, want) in [(1, "**"), (4, ""), (5, "**"), (7, ""), (9, "**")] {
            assert_eq!(close(Markup::Discord, md, n), want, "after {n} atoms");
        }
        assert_eq!(close(Markup::Slack, "<b>*x*", 2), "");
    }
}
