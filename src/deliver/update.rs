//! Story updates as sinks show them: the "also reported by" line an edited message carries,
//! the follow-up note of a platform that cannot edit, and the setting that chooses between
//! that note and silence.
//!
//! Owns [`StoryUpdates`] (the `story_updates` setting of chat sinks, parsed once here),
//! [`sources_line`] and [`note_text`]. An update's [`Alert`] is the story's first alert with
//! [`Alert::story`] naming every source so far, the first alert's own feed first; these
//! functions read nothing else, and return text already escaped for the given [`Markup`].

use crate::deliver::alert::Alert;
use crate::deliver::render::Markup;

/// What a chat sink whose platform cannot edit a sent message (or that has no id of the
/// message to edit) does with a story update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StoryUpdates {
    /// Nothing: the channel already has the story's alert (the default).
    #[default]
    Silent,
    /// A short follow-up message naming the new sources, under the story's title.
    Reply,
}

impl StoryUpdates {
    /// The setting's values, as `check` lists them.
    pub const VALUES: &'static str = "\"silent\" or \"reply\"";

    pub fn parse(s: &str) -> Option<StoryUpdates> {
        match s {
            "silent" => Some(StoryUpdates::Silent),
            "reply" => Some(StoryUpdates::Reply),
            _ => None,
        }
    }
}

/// Sources named one by one before "and N more": a story told by fifty feeds must still fit
/// in a line.
pub const NAMED_SOURCES: usize = 8;

/// Whether the story of `alert` has sources past its first alert's own: only then has an
/// update a note to show ([`sources_line`], [`note_text`]).
pub fn names_others(alert: &Alert) -> bool {
    alert.story.as_ref().is_some_and(|s| s.sources.len() > 1)
}

/// "Also reported by Reuters, BBC (3 sources)": the sources after the first alert's own,
/// escaped for `markup`; `None` while the story has one source.
pub fn sources_line(alert: &Alert, markup: Markup) -> Option<String> {
    let sources = &alert.story.as_ref()?.sources;
    let others = sources.get(1..).filter(|o| !o.is_empty())?;
    let mut names: Vec<String> = others
        .iter()
        .take(NAMED_SOURCES)
        .map(|s| markup.text(s))
        .collect();
    if others.len() > NAMED_SOURCES {
        names.push(format!("{} more", others.len() - NAMED_SOURCES));
    }
    let named = match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    };
    Some(format!(
        "Also reported by {named} ({} sources)",
        sources.len()
    ))
}

/// The follow-up note of a platform that cannot edit: the story's title (linked where the
/// markup links) and its sources line; `None` while the story has one source.
pub fn note_text(alert: &Alert, markup: Markup) -> Option<String> {
    let line = sources_line(alert, markup)?;
    Some(format!(
        "{}\n{line}",
        markup.bold(&markup.linked_title(alert, 300))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::alert::{AlertSnippet, StoryRef};
    use chrono::{TimeZone, Utc};

    fn alert(sources: &[&str]) -> Alert {
        let at = Utc.with_ymd_and_hms(2024, 10, 20, 9, 41, 0).unwrap();
        Alert {
            watch: "dprk".into(),
            feed: "first".into(),
            item_key: "k".into(),
            title: "Troops <b>seen</b> & more".into(),
            link: Some("https://news.example/a".into()),
            published: Some(at),
            hits: vec![],
            snippet: AlertSnippet::default(),
            matched_at: at,
            story: (!sources.is_empty()).then(|| StoryRef {
                id: "s1".into(),
                sources: sources.iter().map(|s| s.to_string()).collect(),
                updated_at: None,
            }),
            meaning: None,
        }
    }

    #[test]
    fn a_story_with_one_source_has_no_line_and_no_note() {
        assert_eq!(sources_line(&alert(&[]), Markup::Plain), None);
        assert_eq!(sources_line(&alert(&["first"]), Markup::Plain), None);
        assert_eq!(note_text(&alert(&["first"]), Markup::Html), None);
    }

    #[test]
    fn the_line_names_the_other_sources_and_counts_all_of_them() {
        let line = |s: &[&str]| sources_line(&alert(s), Markup::Plain).unwrap();
        assert_eq!(line(&["a", "b"]), "Also reported by b (2 sources)");
        assert_eq!(
            line(&["a", "b", "c"]),
            "Also reported by b and c (3 sources)"
        );
        assert_eq!(
            line(&["a", "b", "c", "d"]),
            "Also reported by b, c and d (4 sources)"
        );
    }

    #[test]
    fn past_eight_named_sources_the_rest_are_counted() {
        let names: Vec<String> = (0..12).map(|i| format!("f{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(
            sources_line(&alert(&refs), Markup::Plain).unwrap(),
            "Also reported by f1, f2, f3, f4, f5, f6, f7, f8 and 3 more (12 sources)"
        );
        // Exactly eight others are all named, with no "and 0 more".
        assert_eq!(
            sources_line(&alert(&refs[..9]), Markup::Plain).unwrap(),
            "Also reported by f1, f2, f3, f4, f5, f6, f7 and f8 (9 sources)"
        );
    }

    #[test]
    fn source_names_are_escaped_and_defused_for_the_markup() {
        let a = alert(&["a", "<b>BBC</b> & @everyone"]);
        let html = sources_line(&a, Markup::Html).unwrap();
        assert!(
            html.contains("&lt;b&gt;BBC&lt;/b&gt; &amp; @\u{200B}everyone"),
            "{html}"
        );
        let note = note_text(&a, Markup::Html).unwrap();
        assert!(
            note.starts_with("<b><a href=\"https://news.example/a\">Troops &lt;b&gt;seen"),
            "{note}"
        );
        assert!(note.ends_with("(2 sources)"), "{note}");
    }

    #[test]
    fn story_updates_reads_its_two_values_only() {
        assert_eq!(StoryUpdates::parse("silent"), Some(StoryUpdates::Silent));
        assert_eq!(StoryUpdates::parse("reply"), Some(StoryUpdates::Reply));
        assert_eq!(StoryUpdates::parse("edit"), None);
        assert_eq!(StoryUpdates::default(), StoryUpdates::Silent);
    }
}
