//! Telegram Bot API: `sendMessage` with `parse_mode: HTML`.
//!
//! Owns [`Telegram`] (a [`Platform`]), its configuration and `KEYS`. Posts to `{api_base}/bot{token}/sendMessage` (the token
//! is in the path, so errors never show the URL). Feed text has `& < > "` escaped and U+200B
//! after `@`, so it can neither inject tags nor mention anyone; text is at most 4,096 UTF-16
//! units; `link_preview_options` previews the item's link (`link_preview = false`: none).
//! `message_thread_id` posts into a forum topic, `disable_notification` sends silently. A 429 is retried no sooner than
//! its `parameters.retry_after`. When a group was upgraded to a supergroup, Telegram answers
//! with `parameters.migrate_to_chat_id`: the new id is used at once, remembered in the
//! [`SinkMemory`] (keys `chat_id`, and `migrated_from` = the configured id, so changing the
//! configuration wins), and the message is sent again. A message Telegram "can't parse
//! entities" of (a template's broken HTML) is sent again as plain text. A story update edits
//! the alert's message in place (`editMessageText`, with the `message_id` Telegram returned).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::Secret;
use crate::deliver::alert::Alert;
use crate::deliver::chat::ChatOptions;
use crate::deliver::chat::{self, Platform, Text, utf16_len};
use crate::deliver::config::{KeyDoc, SinkKind, Table};
use crate::deliver::digest::Digest;
use crate::deliver::http::{self, Reply};
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::{SendError, SendFuture, SendOk, SinkMemory};

/// Requests one send may make: the message, again in the migrated chat, again as plain text.
pub(crate) const CALLS: u32 = 3;

/// UTF-16 units of `text`.
pub const TEXT_MAX: usize = 4096;
pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";
/// The [`SinkMemory`] key of the chat id learnt from a migration.
pub const MEMORY_CHAT_ID: &str = "chat_id";
/// The configured chat id that migration replaced.
pub const MEMORY_MIGRATED_FROM: &str = "migrated_from";

/// The settings of `type = "telegram"`, after [`crate::deliver::chat::CHAT_KEYS`].
pub const KEYS: &[KeyDoc] = &[
    KeyDoc::new("bot_token", "secret", "required", "The bot's token."),
    KeyDoc::new(
        "chat_id",
        "string or integer",
        "required",
        "The chat: a number (`-100…` for groups) or `@channelusername`.",
    ),
    KeyDoc::new(
        "api_base",
        "URL",
        "https://api.telegram.org",
        "The Bot API server (a local one, or a test double).",
    ),
    KeyDoc::new(
        "message_thread_id",
        "integer",
        "—",
        "The forum topic of a supergroup.",
    ),
    KeyDoc::new(
        "disable_notification",
        "boolean",
        "false",
        "`true`: silent alerts.",
    ),
    KeyDoc::new(
        "link_preview",
        "boolean",
        "true",
        "Whether the item's link is previewed.",
    ),
];

/// A Telegram sink's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct TelegramConfig {
    pub bot_token: Secret,
    pub chat_id: String,
    /// Without a trailing `/`.
    pub api_base: String,
    pub message_thread_id: Option<i64>,
    pub disable_notification: bool,
    pub link_preview: bool,
    pub chat: ChatOptions,
}

impl TelegramConfig {
    pub fn parse(t: &mut Table<'_, '_>, chat: ChatOptions) -> Option<Self> {
        let bot_token = t.secret("bot_token");
        let chat_id = t.string_or_int("chat_id");
        let api_base = t.url("api_base");
        let message_thread_id = t.int("message_thread_id", 1, i64::MAX);
        let disable_notification = t.bool("disable_notification").unwrap_or(false);
        let link_preview = t.bool("link_preview").unwrap_or(true);
        let bot_token = t.need("bot_token", bot_token);
        let chat_id = t.need("chat_id", chat_id);
        Some(TelegramConfig {
            bot_token: bot_token?,
            chat_id: chat_id?.trim().to_string(),
            api_base: api_base
                .as_deref()
                .unwrap_or(DEFAULT_API_BASE)
                .trim_end_matches('/')
                .to_string(),
            message_thread_id,
            disable_notification,
            link_preview,
            chat,
        })
    }
}

const M: Markup = Markup::Html;

pub struct Telegram {
    name: String,
    api_base: String,
    token: Secret,
    chat_id: String,
    memory: Arc<dyn SinkMemory>,
    /// The chat id in use, once known (configured, or learnt from a migration).
    current: tokio::sync::Mutex<Option<String>>,
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
    pub fn new(name: &str, c: &TelegramConfig, memory: Arc<dyn SinkMemory>) -> Self {
        Telegram {
            name: name.to_string(),
            api_base: c.api_base.clone(),
            token: c.bot_token.clone(),
            chat_id: c.chat_id.clone(),
            memory,
            current: tokio::sync::Mutex::new(None),
            message_thread_id: c.message_thread_id,
            disable_notification: c.disable_notification,
            link_preview: c.link_preview,
        }
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
    body["text"] = json!(render::defuse(&text));
    if let Some(o) = body.as_object_mut() {
        o.remove("parse_mode");
    }
}

/// The chat (`None`: the sink's, as an earlier release stored a bare id) and the message id of
/// a stored `CHAT:MESSAGE_ID`; `None` for what is no message id.
fn message_of(message_ref: &str) -> Option<(Option<&str>, i64)> {
    let (chat, id) = match message_ref.rsplit_once(':') {
        Some((chat, id)) => (Some(chat), id),
        None => (None, message_ref),
    };
    Some((chat, id.parse::<i64>().ok()?))
}

impl Platform for Telegram {
    const KIND: SinkKind = SinkKind::Telegram;
    const MARKUP: Markup = M;
    fn edits(&self, message_ref: &str) -> bool {
        message_of(message_ref).is_some()
    }

    fn default_text(&self, alert: &Alert, budget: usize) -> String {
        let mut lines = vec![
            M.bold(&M.linked_title(alert, 300)),
            format!("<i>{}</i>", M.meta_line(alert, false)),
        ];
        if let Some(terms) = M.matched_terms(alert) {
            lines.push(format!("Matched: {terms}"));
        }
        let snippet = M.snippet(&render::shorten_snippet(&alert.snippet, budget));
        if !snippet.is_empty() {
            lines.push(format!("<blockquote>{snippet}</blockquote>"));
        }
        lines.join("\n")
    }

    fn wrap(&self, alert: &Alert, text: &Text) -> Value {
        let preview = match render::safe_link(alert.link.as_deref()) {
            Some(url) if self.link_preview => json!({"url": url, "prefer_small_media": true}),
            _ => json!({"is_disabled": true}),
        };
        self.message(&text.text, preview)
    }

    fn fits(&self, body: &Value) -> bool {
        utf16_len(body["text"].as_str().unwrap_or_default()) <= TEXT_MAX
    }

    fn digest_body(&self, d: &Digest) -> Option<Value> {
        let body = self.message(&chat::digest_text(M, d), json!({"is_disabled": true}));
        self.fits(&body).then_some(body)
    }

    fn post<'a>(
        &'a self,
        client: &'a reqwest::Client,
        body: Value,
        _idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        Box::pin(self.call(client, "sendMessage", body, None))
    }

    /// `editMessageText` of the message `message_ref` (`CHAT:MESSAGE_ID`, as a send stored
    /// it; a bare `MESSAGE_ID` from an earlier release is in the sink's chat) with the new
    /// text and the same options, in the chat the message was sent to. Telegram answers an
    /// edit that changes nothing ("message is not modified", a retried edit) with an error;
    /// that is a success here, and so is an edit of a message deleted in the chat (nothing
    /// left to update).
    fn edit<'a>(
        &'a self,
        client: &'a reqwest::Client,
        mut body: Value,
        message_ref: &'a str,
        _idempotency_key: &'a str,
    ) -> Option<SendFuture<'a>> {
        let (chat, id) = message_of(message_ref)?;
        if let Some(o) = body.as_object_mut() {
            // A new message's options only.
            o.remove("message_thread_id");
            o.remove("disable_notification");
            o.insert("message_id".into(), Value::from(id));
        }
        Some(Box::pin(self.call(client, "editMessageText", body, chat)))
    }
}

impl Telegram {
    /// Call a Bot API method that carries a message (`sendMessage`, `editMessageText`):
    /// follow a group's migration, fall back to plain text when Telegram cannot parse the
    /// HTML, classify the rest. `message_chat`: the chat of the message an edit is for (else
    /// the sink's chat). A message sent is referred to as `CHAT:MESSAGE_ID`: message ids
    /// count per chat, so an id alone, edited in the sink's chat after `chat_id` changed (or
    /// the group became a supergroup), overwrote whichever other alert had that number there.
    async fn call(
        &self,
        client: &reqwest::Client,
        method: &str,
        mut body: Value,
        message_chat: Option<&str>,
    ) -> Result<SendOk, SendError> {
        let url = format!("{}/bot{}/{method}", self.api_base, self.token.expose());
        // A migration and a plain-text resend may both happen; more means a loop.
        for _ in 0..CALLS {
            let chat = match message_chat {
                Some(chat) => chat.to_string(),
                None => self.chat().await,
            };
            body["chat_id"] = chat_value(&chat);
            let reply = http::execute(http::with_json(client.post(&url), &body)).await?;
            let json = reply.json();
            let ok = json
                .as_ref()
                .and_then(|j| j.get("ok"))
                .and_then(Value::as_bool);
            if reply.success() && ok != Some(false) {
                let mut sent = reply.ok_naming("/result/message_id", "Telegram", "message_id")?;
                sent.message_ref = sent.message_ref.map(|id| format!("{chat}:{id}"));
                return Ok(sent);
            }
            let migrate_to = json
                .as_ref()
                .and_then(|j| j.pointer("/parameters/migrate_to_chat_id"))
                .and_then(|v| v.as_i64().map(|n| n.to_string()));
            if let Some(to) = migrate_to {
                self.migrate(&to).await;
                if method == "editMessageText" {
                    // The message stays in the group's old chat, which takes no more edits:
                    // its id in the new one is another message.
                    return Ok(SendOk::skipped(
                        "the alert's Telegram message is in the chat the group left: nothing to \
                         update",
                    ));
                }
                continue;
            }
            let description = json
                .as_ref()
                .and_then(|j| j.get("description"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if reply.status == 400 && description.contains("message is not modified") {
                return Ok(SendOk::skipped("the message already says this"));
            }
            // The alert's message was deleted in the chat (or is too old to edit): there is
            // nothing to update, which is no failure of the update (Discord's alike).
            if reply.status == 400
                && method == "editMessageText"
                && (description.contains("message to edit not found")
                    || description.contains("message can't be edited"))
            {
                return Ok(SendOk::skipped(
                    "the alert's Telegram message is gone or cannot be edited: nothing to update",
                ));
            }
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
    }
}
