//! The settings every chat sink shares: its message template, rate limit and digest threshold.
//!
//! Owns [`ChatOptions`] and [`CHAT_KEYS`]. A template (inline or from `template_file`,
//! relative to the config file it is named in) is compiled and test-rendered while the
//! configuration is checked, so a syntax error or an unknown variable is reported by `check`
//! at the setting's file:line.

use crate::config::Secret;
use crate::deliver::config::{DIGEST_AFTER, KeyDoc, Table};
use crate::deliver::rate::Rate;
use crate::deliver::template::{self, Template};
use crate::deliver::update::StoryUpdates;

/// The settings of every chat sink, after the type's own.
pub const CHAT_KEYS: &[KeyDoc] = &[
    KeyDoc::new(
        "template",
        "template",
        "built-in message",
        "A minijinja template for the message body (variables in the README). Output longer \
         than the platform allows, even with the snippet left out, is cut between whole \
         entities, escapes, links and tags, with open bold and HTML elements closed.",
    ),
    KeyDoc::new(
        "template_file",
        "path",
        "—",
        "The same, read from a file (relative to this config file). Not with `template`.",
    ),
    KeyDoc::new(
        "rate",
        "rate",
        "per platform",
        "Most messages per period: `\"1/s\"`, `\"60/min\"`, `\"5/2s\"`, `\"off\"`.",
    ),
    KeyDoc::new(
        "digest_after",
        "integer 1–10000",
        "5",
        "When more alerts than this wait, they are combined into digest messages (and the \
         follow-up notes of `story_updates = \"reply\"` into digests of notes).",
    ),
    KeyDoc::new(
        "story_updates",
        "`\"silent\"` or `\"reply\"`",
        "\"silent\"",
        "When later items of a story come in and the platform cannot edit the sent message \
         (Slack, Mattermost, Teams, Google Chat, ntfy): `\"silent\"` sends nothing, \
         `\"reply\"` a short follow-up naming the new sources (in a burst, one digest for \
         the notes of several stories). Discord, Matrix and Telegram edit the message in \
         place either way (an alert that went out in a digest has no message of its own to \
         edit: this setting applies to its story).",
    ),
];

/// The configuration of a platform reached through one incoming-webhook URL and nothing else
/// (Slack, Mattermost, Google Chat, Teams): each names it as its own `…Config`.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookUrlConfig {
    pub url: Secret,
    pub chat: ChatOptions,
}

/// `url`, the one own setting of a [`WebhookUrlConfig`] platform.
pub const WEBHOOK_URL_KEYS: &[KeyDoc] = &[KeyDoc::new(
    "url",
    "secret URL",
    "required",
    "The incoming-webhook URL.",
)];

impl WebhookUrlConfig {
    pub fn parse(t: &mut Table<'_, '_>, chat: ChatOptions) -> Option<Self> {
        let url = t.secret_url("url");
        let url = t.need("url", url)?;
        Some(WebhookUrlConfig { url, chat })
    }
}

/// What every chat sink is configured with besides its platform's own settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatOptions {
    /// The user's message template (its source is kept, also when read from a file, so
    /// editing the file and reloading rebuilds the sink).
    pub template: Option<Template>,
    /// The rate limit: `rate`, else the platform's default; `None` is unlimited.
    pub rate: Option<Rate>,
    pub digest_after: usize,
    /// What a story update does where the message cannot be edited.
    pub story_updates: StoryUpdates,
}

impl ChatOptions {
    pub fn parse(t: &mut Table<'_, '_>) -> ChatOptions {
        let rate = t.rate();
        let digest_after = t
            .int("digest_after", 1, 10_000)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(DIGEST_AFTER);
        let story_updates = t.string("story_updates").and_then(|v| {
            let parsed = StoryUpdates::parse(v.trim());
            if parsed.is_none() {
                let name = t.name();
                t.error_at(
                    "story_updates",
                    format!(
                        "sink `{name}`: story_updates = \"{v}\": expected {}",
                        StoryUpdates::VALUES
                    ),
                );
            }
            parsed
        });
        let inline = t.string("template");
        let file = t.string("template_file");
        let name = t.name();
        let (source, origin, key) = match (file, inline) {
            (Some(_), Some(_)) => {
                t.error_at(
                    "template_file",
                    format!("sink `{name}`: set `template` or `template_file`, not both"),
                );
                (None, String::new(), "template_file")
            }
            (Some(file), None) => {
                let path = t.decl.dir.join(&file);
                match std::fs::read_to_string(&path) {
                    Ok(text) => (
                        Some(text),
                        format!("template file `{}`", path.display()),
                        "template_file",
                    ),
                    Err(e) => {
                        t.error_at(
                            "template_file",
                            format!(
                                "sink `{name}`: cannot read template file `{}`: {e}",
                                path.display()
                            ),
                        );
                        (None, String::new(), "template_file")
                    }
                }
            }
            (None, inline) => (inline, "template".to_string(), "template"),
        };
        let template = source.and_then(|src| match template::check(&src, t.kind) {
            Ok(tpl) => Some(tpl),
            Err(e) => {
                t.error_at(key, format!("sink `{name}`: {origin} {e}"));
                None
            }
        });
        ChatOptions {
            template,
            rate,
            digest_after,
            story_updates: story_updates.unwrap_or_default(),
        }
    }
}
