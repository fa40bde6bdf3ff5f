//! Slack and Mattermost incoming webhooks: one payload family.
//!
//! Owns [`Slack`] (a [`Platform`] for `type = "slack"` and `type = "mattermost"`). Slack gets a
//! `text` notification fallback plus Block Kit: a `section` (mrkdwn, `verbatim` so nothing in
//! it is auto-linked) and a `context` line; `& < >` in feed text are entities, so
//! `<!channel>`, `<!here>` and `<@U…>` stay inert, and `link_names` is never set. Limits:
//! section text 3,000 characters, 50 blocks. Mattermost gets Markdown `text` (16,383
//! characters), with `& < >` as entities too (its Slack compatibility would turn a literal
//! `<!channel>` into `@channel`) and U+200B after `@` in feed text.

use serde_json::{Value, json};

use crate::config::Secret;
use crate::deliver::alert::Alert;
use crate::deliver::chat::{self, Body, Platform};
use crate::deliver::chat::{ChatOptions, WEBHOOK_URL_KEYS, WebhookUrlConfig};
use crate::deliver::config::{KeyDoc, SinkKind};
use crate::deliver::cut::cut_markup;
use crate::deliver::digest;
use crate::deliver::http;
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::SendFuture;
use crate::deliver::template::Template;

/// Slack: characters in a section's text (and in a context element).
pub const SECTION_MAX: usize = 3000;
/// Slack: blocks in one message.
pub const BLOCKS_MAX: usize = 50;
/// Slack: the notification fallback `text`; the full limit is 40,000 but it is only a preview.
pub const FALLBACK_MAX: usize = 300;
/// Mattermost: characters in a post.
pub const MATTERMOST_MAX: usize = 16_383;

/// The settings of `type = "slack"`, after [`crate::deliver::chat::CHAT_KEYS`].
pub const KEYS: &[KeyDoc] = WEBHOOK_URL_KEYS;

/// A slack sink's configuration: its webhook URL.
pub type SlackConfig = WebhookUrlConfig;

pub struct Slack {
    kind: SinkKind,
    url: Secret,
    client: reqwest::Client,
    template: Option<Template>,
}

impl Slack {
    pub fn new(kind: SinkKind, url: &Secret, chat: &ChatOptions, client: reqwest::Client) -> Self {
        Slack {
            kind,
            url: url.clone(),
            client,
            template: chat.template.clone(),
        }
    }

    fn markup(&self) -> Markup {
        if self.kind == SinkKind::Mattermost {
            Markup::Mattermost
        } else {
            Markup::Slack
        }
    }

    fn text_body(&self) -> Body<'_> {
        Body {
            kind: self.kind,
            markup: self.markup(),
            template: self.template.as_ref(),
        }
    }

    /// `*<link|title>*` and the `watch · feed · published · matched` line.
    fn head(&self, alert: &Alert) -> (String, String) {
        let m = self.markup();
        let mut meta = m.meta_line(alert, true);
        if let Some(terms) = m.matched_terms(alert) {
            meta.push_str(&format!(" · matched: {terms}"));
        }
        (m.bold(&m.linked_title(alert, 250)), meta)
    }

    /// The main text with the snippet cut to `budget` characters.
    fn main_text(&self, alert: &Alert, budget: usize) -> String {
        if let Some(t) = self.text_body().templated(alert, budget) {
            return t;
        }
        let m = self.markup();
        let (head, meta) = self.head(alert);
        let snippet = m.snippet(&render::shorten_snippet(&alert.snippet, budget));
        match (self.kind, snippet.is_empty()) {
            (SinkKind::Mattermost, true) => format!("{head}\n{meta}"),
            (SinkKind::Mattermost, false) => format!("{head}\n{meta}\n> {snippet}"),
            (_, true) => head,
            (_, false) => format!("{head}\n>{snippet}"),
        }
    }

    fn fallback(&self, alert: &Alert) -> String {
        let m = self.markup();
        let text = format!("[{}] {}", alert.watch, alert.title);
        m.text(&render::truncate_chars(&text, FALLBACK_MAX))
    }

    fn slack_body(&self, alert: &Alert) -> Value {
        let (_, meta) = self.head(alert);
        let templated = self.template.is_some();
        let build = |budget: usize| {
            let text = self.main_text(alert, budget);
            let mut blocks = vec![section(&text)];
            if !templated {
                blocks.push(json!({
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": meta, "verbatim": true}],
                }));
            }
            (text, blocks)
        };
        let (text, mut blocks) = render::fit(render::snippet_len(alert), build, |(t, _)| {
            chat::chars(t) <= SECTION_MAX
        });
        if chat::chars(&text) > SECTION_MAX {
            // Only a template can get here (its own text is too long): cut the output.
            let fits = |t: &str| chat::chars(t) <= SECTION_MAX;
            blocks[0] = section(&cut_markup(self.markup(), &text, fits));
        }
        json!({"text": self.fallback(alert), "blocks": blocks})
    }

    fn mattermost_body(&self, alert: &Alert) -> Value {
        let text = render::fit(
            render::snippet_len(alert),
            |b| self.main_text(alert, b),
            |t| chat::chars(t) <= MATTERMOST_MAX,
        );
        let fits = |t: &str| chat::chars(t) <= MATTERMOST_MAX;
        json!({"text": cut_markup(self.markup(), &text, fits)})
    }
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": true}})
}

impl Platform for Slack {
    fn body(&self, alert: &Alert) -> Value {
        match self.kind {
            SinkKind::Mattermost => self.mattermost_body(alert),
            _ => self.slack_body(alert),
        }
    }

    fn digest_body(&self, alerts: &[Alert]) -> Option<Value> {
        let m = self.markup();
        let headline = m.text(&digest::headline(alerts));
        let lines = alerts.iter().map(|a| digest::line(a, m));
        if self.kind == SinkKind::Mattermost {
            let mut text = m.bold(&headline);
            for l in lines {
                text.push('\n');
                text.push_str(&l);
            }
            return (chat::chars(&text) <= MATTERMOST_MAX).then(|| json!({"text": text}));
        }
        // Lines packed into sections of at most SECTION_MAX characters, after a header section.
        let mut blocks = vec![section(&m.bold(&headline))];
        let mut current = String::new();
        for l in lines {
            let l = cut_markup(m, &l, |t| chat::chars(t) <= SECTION_MAX);
            if !current.is_empty() && chat::chars(&current) + 1 + chat::chars(&l) > SECTION_MAX {
                blocks.push(section(&current));
                current.clear();
            }
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(&l);
        }
        if !current.is_empty() {
            blocks.push(section(&current));
        }
        let fallback = cut_markup(m, &headline, |t| chat::chars(t) <= FALLBACK_MAX);
        (blocks.len() <= BLOCKS_MAX).then(|| json!({"text": fallback, "blocks": blocks}))
    }

    fn post<'a>(&'a self, body: Value, _idempotency_key: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            // Neither Slack nor Mattermost webhooks take an idempotency key.
            let req = http::with_json(self.client.post(self.url.expose()), &body);
            // 404 `no_service` / 410 `channel_is_archived` are permanent like any other 4xx.
            http::outcome(http::execute(req).await?, &[self.url.expose()])
        })
    }
}
