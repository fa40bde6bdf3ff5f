//! Telegram Bot API: `sendMessage` with `parse_mode: HTML`.
//!
//! Owns [`Telegram`] (a [`Platform`]). Posts to `{api_base}/bot{token}/sendMessage` (the token
//! is in the path, so errors never show the URL). Feed text has `& < > "` escaped and U+200B
//! after `@`, so it can neither inject tags nor mention anyone; text is at most 4,096 UTF-16
//! units; `link_preview_options` previews the item's link (`link_preview = false`: none).
//! `message_thread_id` posts into a forum topic, `disable_notification` sends silently. A 429 is retried no sooner than
//! its `parameters.retry_after`. When a group was upgraded to a supergroup, Telegram answers
//! with `parameters.migrate_to_chat_id`: the new id is used at once, remembered in the
//! [`SinkMemory`] (keys `chat_id`, and `migrated_from` = the configured id, so changing the
//! configuration wins), and the message is sent again. A message Telegram "can't parse
//! entities" of (a template's broken HTML) is sent again as plain text.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::{Secret, SinkKind, SinkPlan};
use crate::deliver::alert::Alert;
use crate::deliver::chat::{self, Body, Platform, utf16_len};
use crate::deliver::cut::cut_markup;
use crate::deliver::digest;
use crate::deliver::http::{self, Reply};
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::{SendError, SendFuture, SinkMemory};
use crate::deliver::template::Template;

/// UTF-16 units of `text`.
pub const TEXT_MAX: usize = 4096;
pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";
/// The [`SinkMemory`] key of the chat id learnt from a migration.
pub const MEMORY_CHAT_ID: &str = "chat_id";
/// The configured chat id that migration replaced.
pub const MEMORY_MIGRATED_FROM: &str = "migrated_from";

pub struct Telegram {
    name: String,
    api_base: String,
    token: Secret,
    chat_id: String,
    memory: Arc<dyn SinkMemory>,
    /// The chat id in use, once known (configured, or learnt from a migration).
    current: tokio::sync::Mutex<Option<String>>,
    client: reqwest::Client,
    template: Option<Template>,
    /// Forum topic of a supergroup.
    message_thread_id: Option<i64>,
    disable_notification: bool,
    /// Whether the item's link is previewed (default yes).
    link_preview: bool,
}

/// A chat id as Telegram wants it: a number, or an `@channelusername` string.
fn chat_value(id: &str) -> Value {
    id.trim()
        .parse::<i64>()
        .map_or_else(|_| Value::String(id.to_string()), Value::from)
}

impl Telegram {
    pub fn from_plan(
        plan: &SinkPlan,
        client: reqwest::Client,
        memory: Arc<dyn SinkMemory>,
    ) -> Result<Self, String> {
        Ok(Telegram {
            name: plan.name.clone(),
            api_base: plan
                .get_str("api_base")
                .unwrap_or(DEFAULT_API_BASE)
                .trim_end_matches('/')
                .to_string(),
            token: Secret::new(chat::required(plan, "bot_token")?),
            chat_id: chat::required(plan, "chat_id")?.trim().to_string(),
            memory,
            current: tokio::sync::Mutex::new(None),
            client,
            template: chat::template_of(plan)?,
            message_thread_id: plan.get_int("message_thread_id"),
            disable_notification: plan.get_bool("disable_notification") == Some(true),
            link_preview: plan.get_bool("link_preview") != Some(false),
        })
    }

    fn text(&self, alert: &Alert, budget: usize) -> String {
        let m = Markup::Html;
        let body = Body {
            kind: SinkKind::Telegram,
            markup: m,
            template: self.template.as_ref(),
        };
        if let Some(t) = body.templated(alert, budget) {
            return t;
        }
        let mut lines = vec![
            m.bold(&m.linked_title(alert, 300)),
            format!("<i>{}</i>", m.meta_line(alert, false)),
        ];
        if let Some(terms) = m.matched_terms(alert) {
            lines.push(format!("Matched: {terms}"));
        }
        let snippet = m.snippet(&render::shorten_snippet(&alert.snippet, budget));
        if !snippet.is_empty() {
            lines.push(format!("<blockquote>{snippet}</blockquote>"));
        }
        lines.join("\n")
    }

    /// The chat id to send to: a migrated one remembered for the configured id, else that.
    async fn chat(&self) -> String {
        let mut current = self.current.lock().await;
        if let Some(id) = current.as_ref() {
            return id.clone();
        }
        let from = self.memory.get(&self.name, MEMORY_MIGRATED_FROM).await;
        let learnt = match from {
            Some(from) if from == self.chat_id => self.memory.get(&self.name, MEMORY_CHAT_ID).await,
            _ => None,
        };
        let id = learnt.unwrap_or_else(|| self.chat_id.clone());
        *current = Some(id.clone());
        id
    }

    /// The `sendMessage` body: chat, text, HTML, the preview choice and the sink's options.
    fn message(&self, text: &str, preview: Value) -> Value {
        let mut body = json!({
            "chat_id": chat_value(&self.chat_id),
            "text": text,
            "parse_mode": "HTML",
            "link_preview_options": preview,
        });
        if let Some(t) = self.message_thread_id {
            body["message_thread_id"] = Value::from(t);
        }
        if self.disable_notification {
            body["disable_notification"] = Value::Bool(true);
        }
        body
    }

    async fn migrate(&self, to: &str) {
        tracing::warn!(sink = %self.name, from = %self.chat_id, to,
            "Telegram group became a supergroup; using its new chat id (update chat_id in the configuration)");
        if !self.memory.set(&self.name, MEMORY_CHAT_ID, to).await
            || !self
                .memory
                .set(&self.name, MEMORY_MIGRATED_FROM, &self.chat_id)
                .await
        {
            tracing::warn!(sink = %self.name, "the new chat id is used but could not be saved");
        }
        *self.current.lock().await = Some(to.to_string());
    }

    fn error(&self, reply: &Reply, json: Option<&Value>) -> SendError {
        let hint = json
            .and_then(|j| j.pointer("/parameters/retry_after"))
            .and_then(Value::as_f64)
            .and_then(http::seconds);
        http::classify(reply, hint, &[self.token.expose()])
    }
}

/// The plain-text version of an HTML message body.
fn to_plain(body: &mut Value) {
    let html = body["text"].as_str().unwrap_or_default();
    let text = crate::text::html::html_to_text(&html.replace('\n', "<br>"));
    body["text"] = json!(render::defuse_mentions(&text));
    if let Some(o) = body.as_object_mut() {
        o.remove("parse_mode");
    }
}

impl Platform for Telegram {
    fn body(&self, alert: &Alert) -> Value {
        let text = render::fit(
            render::snippet_len(alert),
            |b| self.text(alert, b),
            |t| utf16_len(t) <= TEXT_MAX,
        );
        let preview = match render::safe_link(alert.link.as_deref()) {
            Some(url) if self.link_preview => json!({"url": url, "prefer_small_media": true}),
            _ => json!({"is_disabled": true}),
        };
        let fits = |t: &str| utf16_len(t) <= TEXT_MAX;
        self.message(&cut_markup(Markup::Html, &text, fits), preview)
    }

    fn digest_body(&self, alerts: &[Alert]) -> Option<Value> {
        let m = Markup::Html;
        let mut text = m.bold(&m.text(&digest::headline(alerts)));
        for a in alerts {
            text.push('\n');
            text.push_str(&digest::line(a, m));
        }
        (utf16_len(&text) <= TEXT_MAX).then(|| self.message(&text, json!({"is_disabled": true})))
    }

    fn post<'a>(&'a self, body: Value, _idempotency_key: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            let url = format!("{}/bot{}/sendMessage", self.api_base, self.token.expose());
            let mut body = body;
            // A migration and a plain-text resend may both happen; more means a loop.
            for _ in 0..3 {
                body["chat_id"] = chat_value(&self.chat().await);
                let reply = http::execute(http::with_json(self.client.post(&url), &body)).await?;
                let json = reply.json();
                let ok = json
                    .as_ref()
                    .and_then(|j| j.get("ok"))
                    .and_then(Value::as_bool);
                if reply.success() && ok != Some(false) {
                    return Ok(reply.ok());
                }
                let migrate_to = json
                    .as_ref()
                    .and_then(|j| j.pointer("/parameters/migrate_to_chat_id"))
                    .and_then(|v| v.as_i64().map(|n| n.to_string()));
                if let Some(to) = migrate_to {
                    self.migrate(&to).await;
                    continue;
                }
                let description = json
                    .as_ref()
                    .and_then(|j| j.get("description"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if reply.status == 400
                    && description.contains("can't parse entities")
                    && body.get("parse_mode").is_some()
                {
                    tracing::warn!(sink = %self.name, error = description,
                        "Telegram rejected the HTML; sending as plain text");
                    to_plain(&mut body);
                    continue;
                }
                return Err(self.error(&reply, json.as_ref()));
            }
            Err(SendError::permanent(
                "Telegram kept asking to resend the message; giving up",
            ))
        })
    }
}
