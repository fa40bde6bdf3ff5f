//! Google Chat incoming webhooks: a `{"text": ...}` message.
//!
//! Owns [`GoogleChat`] (a [`Platform`]). Text uses Chat's formatting (`*bold*`,
//! `<url|text>`); webhook text is not entity-decoded, so `&` and `>` in feed text go as they
//! are and a zero-width space follows every `<`: `<users/all>` and `<users/123>` stay inert. The idempotency key goes in the `requestId` query parameter: Chat answers a repeated
//! request id with the message already created instead of posting it twice. Text is at most
//! 4,096 characters. Chat's quota is 60 messages per minute per space (see `rate`).

use serde_json::{Value, json};

use crate::config::Secret;
use crate::deliver::alert::Alert;
use crate::deliver::chat::{self, Body, Platform};
use crate::deliver::chat::{WEBHOOK_URL_KEYS, WebhookUrlConfig};
use crate::deliver::config::{KeyDoc, SinkKind};
use crate::deliver::cut::cut_markup;
use crate::deliver::digest;
use crate::deliver::http;
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::{SendError, SendFuture};
use crate::deliver::template::Template;

/// Characters of `text`.
pub const TEXT_MAX: usize = 4096;

/// The settings of `type = "googlechat"`, after [`crate::deliver::chat::CHAT_KEYS`].
pub const KEYS: &[KeyDoc] = WEBHOOK_URL_KEYS;

/// A googlechat sink's configuration: its webhook URL.
pub type GoogleChatConfig = WebhookUrlConfig;

pub struct GoogleChat {
    url: Secret,
    client: reqwest::Client,
    template: Option<Template>,
}

impl GoogleChat {
    pub fn new(c: &GoogleChatConfig, client: reqwest::Client) -> Self {
        GoogleChat {
            url: c.url.clone(),
            client,
            template: c.chat.template.clone(),
        }
    }

    fn text(&self, alert: &Alert, budget: usize) -> String {
        let m = Markup::GoogleChat;
        let body = Body {
            kind: SinkKind::GoogleChat,
            markup: m,
            template: self.template.as_ref(),
        };
        if let Some(t) = body.templated(alert, budget) {
            return t;
        }
        let mut lines = vec![
            m.bold(&m.linked_title(alert, 250)),
            m.meta_line(alert, true),
        ];
        if let Some(terms) = m.matched_terms(alert) {
            lines.push(format!("Matched: {terms}"));
        }
        let snippet = m.snippet(&render::shorten_snippet(&alert.snippet, budget));
        if !snippet.is_empty() {
            lines.push(snippet);
        }
        lines.join("\n")
    }
}

impl Platform for GoogleChat {
    fn body(&self, alert: &Alert) -> Value {
        let text = render::fit(
            render::snippet_len(alert),
            |b| self.text(alert, b),
            |t| chat::chars(t) <= TEXT_MAX,
        );
        let fits = |t: &str| chat::chars(t) <= TEXT_MAX;
        json!({"text": cut_markup(Markup::GoogleChat, &text, fits)})
    }

    fn digest_body(&self, alerts: &[Alert]) -> Option<Value> {
        let m = Markup::GoogleChat;
        let mut text = m.bold(&m.text(&digest::headline(alerts)));
        for a in alerts {
            text.push('\n');
            text.push_str(&digest::line(a, m));
        }
        (chat::chars(&text) <= TEXT_MAX).then(|| json!({"text": text}))
    }

    fn post<'a>(&'a self, body: Value, idempotency_key: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            let mut url = url::Url::parse(self.url.expose())
                .map_err(|_| SendError::permanent("the webhook URL is not valid"))?;
            url.query_pairs_mut()
                .append_pair("requestId", idempotency_key);
            let req = http::with_json(self.client.post(url), &body);
            // Chat's 429 (RESOURCE_EXHAUSTED) usually has no hint: backoff applies.
            http::outcome(http::execute(req).await?, &[self.url.expose()])
        })
    }
}
