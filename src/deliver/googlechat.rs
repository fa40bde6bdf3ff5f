//! Google Chat incoming webhooks: a `{"text": ...}` message.
//!
//! Owns [`GoogleChat`] (a [`Platform`]), its configuration and `KEYS`. Text uses Chat's formatting (`*bold*`,
//! `<url|text>`); webhook text is not entity-decoded, so `&` and `>` in feed text go as they
//! are and a zero-width space follows every `<`: `<users/all>` and `<users/123>` stay inert. The idempotency key goes in the `requestId` query parameter: Chat answers a repeated
//! request id with the message already created instead of posting it twice. Text is at most
//! 4,096 characters. Chat's quota is 60 messages per minute per space (see `rate`).

use serde_json::{Value, json};

use crate::config::Secret;
use crate::deliver::alert::Alert;
use crate::deliver::chat::{self, Platform, Text, WEBHOOK_URL_KEYS, WebhookUrlConfig};
use crate::deliver::config::{KeyDoc, SinkKind};
use crate::deliver::digest::Digest;
use crate::deliver::http;
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::{SendError, SendFuture};

/// The settings of `type = "googlechat"`, after [`crate::deliver::chat::CHAT_KEYS`].
pub const KEYS: &[KeyDoc] = WEBHOOK_URL_KEYS;

/// A googlechat sink's configuration: its webhook URL.
pub type GoogleChatConfig = WebhookUrlConfig;

/// Characters of `text`.
pub const TEXT_MAX: usize = 4096;

const M: Markup = Markup::GoogleChat;

pub struct GoogleChat {
    url: Secret,
}

impl GoogleChat {
    pub fn new(c: &GoogleChatConfig) -> Self {
        GoogleChat { url: c.url.clone() }
    }
}

impl Platform for GoogleChat {
    const KIND: SinkKind = SinkKind::GoogleChat;
    const MARKUP: Markup = M;

    fn default_text(&self, alert: &Alert, budget: usize) -> String {
        let mut lines = vec![
            M.bold(&M.linked_title(alert, 250)),
            M.meta_line(alert, true),
        ];
        if let Some(terms) = M.matched_terms(alert) {
            lines.push(format!("Matched: {terms}"));
        }
        let snippet = M.snippet(&render::shorten_snippet(&alert.snippet, budget));
        if !snippet.is_empty() {
            lines.push(snippet);
        }
        lines.join("\n")
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
        idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        Box::pin(async move {
            let mut url = url::Url::parse(self.url.expose())
                .map_err(|_| SendError::permanent("the webhook URL is not valid"))?;
            url.query_pairs_mut()
                .append_pair("requestId", idempotency_key);
            let req = http::with_json(client.post(url), &body);
            // Chat's 429 (RESOURCE_EXHAUSTED) usually has no hint: backoff applies. Every
            // success is the created message, named `spaces/…/messages/…`.
            http::outcome_naming(
                http::execute(req).await?,
                "/name",
                "Google Chat",
                "message name",
                &[self.url.expose()],
            )
        })
    }
}
