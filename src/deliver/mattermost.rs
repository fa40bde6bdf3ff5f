//! Mattermost incoming webhooks: Markdown `text` of at most 16,383 characters.
//!
//! Owns [`Mattermost`] (a [`Platform`]), [`MattermostConfig`] and [`KEYS`]. Feed text has
//! `& < >` as entities (Mattermost's Slack compatibility would turn a literal `<!channel>`
//! into `@channel`), Markdown backslash-escaped, and U+200B after every `@` that does not
//! follow a letter or digit (Mattermost splits mentions on `.` and `_` too).

use serde_json::{Value, json};

use crate::config::Secret;
use crate::deliver::alert::Alert;
use crate::deliver::chat::{self, Platform, Text, WEBHOOK_URL_KEYS, WebhookUrlConfig};
use crate::deliver::config::{KeyDoc, SinkKind};
use crate::deliver::digest::Digest;
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::SendFuture;
use crate::deliver::slack::head;

/// The settings of `type = "mattermost"`, after [`crate::deliver::chat::CHAT_KEYS`].
pub const KEYS: &[KeyDoc] = WEBHOOK_URL_KEYS;

/// A mattermost sink's configuration: its webhook URL.
pub type MattermostConfig = WebhookUrlConfig;

/// Characters in a post.
pub const TEXT_MAX: usize = 16_383;

const M: Markup = Markup::Mattermost;

pub struct Mattermost {
    url: Secret,
}

impl Mattermost {
    pub fn new(c: &MattermostConfig) -> Self {
        Mattermost { url: c.url.clone() }
    }
}

impl Platform for Mattermost {
    const KIND: SinkKind = SinkKind::Mattermost;
    const MARKUP: Markup = M;

    fn default_text(&self, alert: &Alert, budget: usize) -> String {
        let (head, meta) = head(M, alert);
        let snippet = M.snippet(&render::shorten_snippet(&alert.snippet, budget));
        if snippet.is_empty() {
            format!("{head}\n{meta}")
        } else {
            format!("{head}\n{meta}\n> {snippet}")
        }
    }

    fn wrap(&self, _alert: &Alert, text: &Text) -> Value {
        json!({"text": text.text})
    }

    fn fits(&self, body: &Value) -> bool {
        chat::chars(body["text"].as_str().unwrap_or_default()) <= TEXT_MAX
    }

    fn digest_body(&self, d: &Digest) -> Option<Value> {
        let body = json!({"text": chat::digest_text(M, d)});
        self.fits(&body).then_some(body)
    }

    fn post<'a>(
        &'a self,
        client: &'a reqwest::Client,
        body: Value,
        _idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        chat::post_json(client, &self.url, body, "Mattermost")
    }
}
