//! User message templates: `template = "..."` / `template_file = "..."` on a chat sink,
//! rendered with minijinja, undefined variables being errors.
//!
//! Owns [`Template`], [`TemplateError`], [`check`] and [`sample_alert`]. The configuration
//! validator calls [`check`], which compiles the template and test-renders it against sample
//! alerts, so a syntax error or an unknown variable is a `newswatch check` error, not a runtime
//! surprise. Sinks call [`Template::render`] with the alert and their [`Markup`]: every variable
//! taken from the feed is already escaped for that platform, so the template author writes the
//! platform's own markup around it and feed text can never inject markup or mentions.
//!
//! Variables: `watch`, `feed`, `title`, `link` (none when the item has no http(s) link),
//! `title_link` (the title linked to the item in the platform's markup), `published` (e.g.
//! `2024-10-20 09:30 UTC`, or none), `published_iso`, `matched_at` (RFC 3339), `terms` (list),
//! `terms_text` (`"a, b"`), `hits` (list of `{term, field}`), `snippet` (hits in bold),
//! `snippet_text` (no highlighting), `item_key`, `platform` (the sink type).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::deliver::alert::{Alert, AlertHit, AlertSnippet};
use crate::deliver::config::SinkKind;
use crate::deliver::render::{self, Markup};

const NAME: &str = "template";

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct TemplateError {
    /// 1-based line within the template text.
    pub line: Option<usize>,
    pub message: String,
}

impl TemplateError {
    fn from_minijinja(e: &minijinja::Error, source: &str) -> Self {
        let mut message = e.kind().to_string();
        if let Some(d) = e.detail() {
            message.push_str(": ");
            message.push_str(d);
        }
        // Point at the failing expression (`{{ tilte }}` → `tilte`) when minijinja knows it.
        let syntax = e.kind() == minijinja::ErrorKind::SyntaxError;
        if let Some(expr) = e.range().and_then(|r| source.get(r)).filter(|_| !syntax) {
            let expr = expr.trim();
            if !expr.is_empty() && expr.len() <= 80 {
                message.push_str(&format!(" in `{expr}`"));
            }
        }
        TemplateError {
            line: e.line(),
            message,
        }
    }
}

/// A compiled template.
#[derive(Clone)]
pub struct Template {
    env: Arc<minijinja::Environment<'static>>,
    source: Arc<str>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("source", &self.source)
            .finish()
    }
}

/// Two templates are the same when their sources are (a reload that changes nothing keeps
/// the sink's worker).
impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// One hit as a template sees it.
#[derive(Serialize)]
struct HitVar {
    term: String,
    field: String,
}

/// Everything a template can use; built per render because escaping depends on the markup.
#[derive(Serialize)]
struct Vars {
    watch: String,
    feed: String,
    title: String,
    link: Option<String>,
    title_link: String,
    published: Option<String>,
    published_iso: Option<String>,
    matched_at: String,
    terms: Vec<String>,
    terms_text: String,
    hits: Vec<HitVar>,
    snippet: String,
    snippet_text: String,
    item_key: String,
    platform: &'static str,
}

fn vars(alert: &Alert, markup: Markup, kind: SinkKind, snippet_chars: usize) -> Vars {
    let snippet = render::shorten_snippet(&alert.snippet, snippet_chars);
    let title = markup.text(&render::truncate_chars(alert.shown_title(), 300));
    let link = render::safe_link(alert.link.as_deref());
    let title_link = match &link {
        Some(url) => markup.link(url, &title),
        None => title.clone(),
    };
    let terms: Vec<String> = alert.terms().iter().map(|t| markup.text(t)).collect();
    Vars {
        watch: markup.text(&alert.watch),
        feed: markup.text(&alert.feed),
        title,
        // As the platform's own links write it: in HTML `&` is `&amp;`, in an `href` as in text.
        link: link.as_deref().map(|u| markup.link_target(u)),
        title_link,
        published: render::published_text(alert.published),
        published_iso: alert
            .published
            .map(|p| p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        matched_at: alert
            .matched_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        // The terms (and a match by meaning's score and example), escaped as one text: `, ` and
        // `; ` need no escaping, so this is the escaped terms joined.
        terms_text: markup.text(&render::terms_text(alert)),
        terms,
        hits: alert
            .hits
            .iter()
            .map(|h| HitVar {
                term: markup.text(&h.term),
                field: h.field.to_string(),
            })
            .collect(),
        snippet: markup.snippet(&snippet),
        // One line, as `snippet` is: a line of `===` or `- ` from the feed would become a
        // heading or a list in the message.
        snippet_text: markup.text(&snippet.text.replace(['\n', '\r', '\t'], " ")),
        item_key: markup.text(&alert.item_key),
        platform: kind.name(),
    }
}

impl Template {
    /// Compile `source`; syntax errors carry the template line.
    pub fn compile(source: &str) -> Result<Template, TemplateError> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        // No auto-escaping: variables are escaped for the platform before rendering, and the
        // template's own text is the platform's markup.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_debug(true);
        env.add_template_owned(NAME, source.to_string())
            .map_err(|e| TemplateError::from_minijinja(&e, source))?;
        Ok(Template {
            env: Arc::new(env),
            source: source.into(),
        })
    }

    /// Render for one alert, with the snippet cut to at most `snippet_chars` characters.
    pub fn render(
        &self,
        alert: &Alert,
        markup: Markup,
        kind: SinkKind,
        snippet_chars: usize,
    ) -> Result<String, TemplateError> {
        let tmpl = self
            .env
            .get_template(NAME)
            .map_err(|e| TemplateError::from_minijinja(&e, &self.source))?;
        let ctx = minijinja::Value::from_serialize(vars(alert, markup, kind, snippet_chars));
        tmpl.render(ctx)
            .map(|s| s.trim().to_string())
            .map_err(|e| TemplateError::from_minijinja(&e, &self.source))
    }
}

/// The markup a sink type's template writes.
pub fn markup_for(kind: SinkKind) -> Markup {
    match kind {
        SinkKind::Slack => Markup::Slack,
        SinkKind::Mattermost => Markup::Mattermost,
        SinkKind::Discord => Markup::Discord,
        SinkKind::Teams => Markup::Teams,
        SinkKind::GoogleChat => Markup::GoogleChat,
        SinkKind::Matrix | SinkKind::Telegram => Markup::Html,
        SinkKind::Ntfy => Markup::NtfyMarkdown,
        SinkKind::Stdout | SinkKind::Webhook => Markup::Plain,
    }
}

/// Compile `source` and render it against sample alerts (one complete, one without link or
/// date), so that unknown variables on either branch of a `{% if link %}` are found now.
pub fn check(source: &str, kind: SinkKind) -> Result<Template, TemplateError> {
    check_as(source, kind, markup_for(kind))
}

/// [`check`] for a template rendered as plain text, whatever the platform's markup (a
/// Discord forum post's `thread_name`).
pub fn check_plain(source: &str, kind: SinkKind) -> Result<Template, TemplateError> {
    check_as(source, kind, Markup::Plain)
}

fn check_as(source: &str, kind: SinkKind, markup: Markup) -> Result<Template, TemplateError> {
    let t = Template::compile(source)?;
    let full = sample_alert();
    let bare = Alert {
        link: None,
        published: None,
        ..full.clone()
    };
    for alert in [&full, &bare] {
        let out = t.render(alert, markup, kind, usize::MAX)?;
        if out.trim().is_empty() && alert == &full {
            return Err(TemplateError {
                line: None,
                message: "renders an empty message".into(),
            });
        }
    }
    Ok(t)
}

fn fixed_time(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// The sample alert of `check` and `send-test`: the seed article (North Korean troops in
/// Russia), as the `dprk-troops` watch of the demo configuration matches it.
pub fn sample_alert() -> Alert {
    let text = "…- PHOTO/Ukrinform/Kaniuka Ruslan/via AFP According to Kiev, around 10,000 \
                North Korean troops are being trained to join Russian forces in Ukraine 1. \
                Biden Administration reiterates support for…";
    let term = "North Korean troops";
    let marks = text
        .find(term)
        .map(|s| vec![(s, s + term.len())])
        .unwrap_or_default();
    Alert {
        watch: "dprk-troops".into(),
        feed: "demo-world".into(),
        item_key: "atalayar-2024-10-20-nk-troops".into(),
        title: "NATO warns North Korean troop transfers to Ukraine would \"escalate conflict\""
            .into(),
        link: Some(
            "https://www.atalayar.com/en/articles/nato-warns-north-korean-troop-transfers".into(),
        ),
        published: Some(fixed_time(2024, 10, 20, 9, 30)),
        hits: vec![
            AlertHit {
                term: term.into(),
                field: "summary".into(),
                start: 245,
                end: 264,
            },
            AlertHit {
                term: "North Korean soldiers".into(),
                field: "summary".into(),
                start: 423,
                end: 444,
            },
        ],
        snippet: AlertSnippet {
            text: text.into(),
            marks,
        },
        matched_at: fixed_time(2024, 10, 20, 9, 41),
        story: None,
        meaning: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_escaped_variables() {
        let t = check(
            "{{ title_link }} — {{ terms_text }}\n{{ snippet }}",
            SinkKind::Slack,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut a = sample_alert();
        a.title = "<!channel> & co".into();
        let out = t.render(&a, Markup::Slack, SinkKind::Slack, 500).unwrap();
        assert!(out.starts_with("<https://www.atalayar.com/"), "{out}");
        assert!(out.contains("|&lt;!channel&gt; &amp; co>"), "{out}");
        assert!(out.contains("*North Korean troops*"), "{out}");
    }

    /// Regression: the built-in HTML link writes `&` as `&amp;`, but the template variable
    /// `link` was the raw URL: `<a href="{{ link }}">` gave Telegram and Matrix clients
    /// `?a=1&lt=2`, which they decode to `?a=1<=2`.
    #[test]
    fn the_link_variable_is_escaped_for_html() {
        let t = check("<a href=\"{{ link }}\">{{ title }}</a>", SinkKind::Telegram)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut a = sample_alert();
        a.link = Some("https://x.example/a?b=1&lt=2".into());
        let out = t.render(&a, Markup::Html, SinkKind::Telegram, 500).unwrap();
        assert!(
            out.starts_with("<a href=\"https://x.example/a?b=1&amp;lt=2\">"),
            "{out}"
        );
        let out = t.render(&a, Markup::Slack, SinkKind::Slack, 500).unwrap();
        assert!(
            out.starts_with("<a href=\"https://x.example/a?b=1&lt=2\">"),
            "{out}"
        );
    }

    /// Regression: `snippet` was one line but `snippet_text` kept the feed's line breaks, so
    /// a summary line of `===` or `- ` became a heading or a list in a Markdown message.
    #[test]
    fn snippet_text_is_one_line_like_snippet() {
        let t = check("{{ snippet_text }}", SinkKind::Mattermost).unwrap_or_else(|e| panic!("{e}"));
        let mut a = sample_alert();
        a.snippet.text = "Troops\n===\n- one\r\n\tcode".into();
        a.snippet.marks.clear();
        let out = t
            .render(&a, Markup::Mattermost, SinkKind::Mattermost, 500)
            .unwrap();
        assert_eq!(out, "Troops === - one   code");
    }

    #[test]
    fn unknown_variables_and_syntax_errors_are_found_at_check_time() {
        let e = check("{{ tilte }}", SinkKind::Slack).unwrap_err();
        assert!(e.to_string().contains("tilte"), "{e}");
        let e = check(
            "ok\n{% if link %}{{ link }}{% else %}{{ nope }}{% endif %}",
            SinkKind::Discord,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = check("{{ title ", SinkKind::Matrix).unwrap_err();
        assert!(e.message.contains("syntax error"), "{e}");
        assert!(check("   ", SinkKind::Ntfy).is_err());
    }
}
