//! ntfy: a JSON publish to the server root.
//!
//! Owns [`Ntfy`] (a [`Platform`]). POSTs `{"topic", "title", "message", "markdown": true,
//! "click", "tags", "priority"}` to `{server}/` (default `https://ntfy.sh`), with
//! `Authorization: Bearer {token}` when a token is set. The message is Markdown (feed text
//! backslash-escaped, hits in bold) of at most 4,096 bytes: ntfy turns longer messages into
//! attachments. The server also refuses (413, for good) a JSON publish body over twice its
//! message limit, so the *serialized* body, title and click URL included, is kept within
//! 8,192 bytes: JSON escaping can double a Markdown message's size.

use serde_json::{Value, json};

use crate::config::Secret;
use crate::deliver::alert::Alert;
use crate::deliver::chat::ChatOptions;
use crate::deliver::chat::{self, Platform, Text};
use crate::deliver::config::{KeyDoc, SinkKind, Table};
use crate::deliver::digest::Digest;
use crate::deliver::http;
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::SendFuture;

/// Bytes of `message`.
pub const MESSAGE_MAX: usize = 4096;
/// Characters of `title` (ntfy has no hard limit; phones show one line).
pub const TITLE_MAX: usize = 250;
/// Bytes of the serialized JSON body: ntfy answers 413 above twice its message limit.
pub const BODY_MAX: usize = 2 * MESSAGE_MAX;
/// A click URL longer than this is left out rather than crowd out the message.
pub const CLICK_MAX: usize = 2000;
pub const DEFAULT_SERVER: &str = "https://ntfy.sh";

/// The settings of `type = "ntfy"`, after [`crate::deliver::chat::CHAT_KEYS`].
pub const KEYS: &[KeyDoc] = &[
    KeyDoc::new("server", "URL", "https://ntfy.sh", "The ntfy server."),
    KeyDoc::new("topic", "string", "required", "The topic to publish to."),
    KeyDoc::new(
        "token",
        "secret",
        "—",
        "An access token, sent as `Authorization: Bearer`.",
    ),
    KeyDoc::new("priority", "integer 1–5", "—", "The message priority."),
    KeyDoc::new(
        "tags",
        "list of strings",
        "[]",
        "Tags (emoji short codes) shown with the message.",
    ),
];

/// An ntfy sink's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NtfyConfig {
    /// Without a trailing `/`.
    pub server: String,
    pub topic: String,
    pub token: Option<Secret>,
    pub priority: Option<i64>,
    pub tags: Vec<String>,
    pub chat: ChatOptions,
}

impl NtfyConfig {
    pub fn parse(t: &mut Table<'_, '_>, chat: ChatOptions) -> Option<Self> {
        let server = t.url("server");
        let topic = t.string("topic");
        let token = t.secret("token");
        let priority = t.int("priority", 1, 5);
        let tags = t.list("tags").unwrap_or_default();
        let topic = t.need("topic", topic)?;
        Some(NtfyConfig {
            server: server
                .as_deref()
                .unwrap_or(DEFAULT_SERVER)
                .trim_end_matches('/')
                .to_string(),
            topic,
            token,
            priority,
            tags,
            chat,
        })
    }
}

const M: Markup = Markup::NtfyMarkdown;

pub struct Ntfy {
    server: String,
    topic: String,
    token: Option<Secret>,
    priority: Option<i64>,
    tags: Vec<String>,
}

impl Ntfy {
    pub fn new(c: &NtfyConfig) -> Self {
        Ntfy {
            server: c.server.clone(),
            topic: c.topic.clone(),
            token: c.token.clone(),
            priority: c.priority,
            tags: c.tags.clone(),
        }
    }

    fn publish(&self, title: &str, message: String, click: Option<String>) -> Value {
        let mut v = json!({
            "topic": self.topic,
            "title": title,
            "message": message,
            "markdown": true,
        });
        if let Some(url) = click {
            v["click"] = json!(url);
        }
        if !self.tags.is_empty() {
            v["tags"] = json!(self.tags);
        }
        if let Some(p) = self.priority {
            v["priority"] = json!(p);
        }
        v
    }
}

/// The title is plain text in every ntfy client: mentions defused, nothing escaped.
fn title(text: &str) -> String {
    render::defuse(&render::truncate_chars(text, TITLE_MAX)).into_owned()
}

impl Platform for Ntfy {
    const KIND: SinkKind = SinkKind::Ntfy;
    const MARKUP: Markup = M;

    fn default_text(&self, alert: &Alert, budget: usize) -> String {
        let mut parts = vec![M.meta_line(alert, true)];
        if let Some(terms) = M.matched_terms(alert) {
            parts.push(format!("Matched: {terms}"));
        }
        let snippet = M.snippet(&render::shorten_snippet(&alert.snippet, budget));
        if !snippet.is_empty() {
            parts.push(format!("\n{snippet}"));
        }
        parts.join("\n")
    }

    fn wrap(&self, alert: &Alert, text: &Text) -> Value {
        let click = render::safe_link(alert.link.as_deref()).filter(|u| u.len() <= CLICK_MAX);
        self.publish(&title(alert.shown_title()), text.text.clone(), click)
    }

    /// The message within its byte limit, and the serialized body (JSON escaping can double
    /// a Markdown message's size) within the server's.
    fn fits(&self, body: &Value) -> bool {
        body["message"].as_str().map_or(0, str::len) <= MESSAGE_MAX
            && chat::json_len(body) <= BODY_MAX
    }

    fn digest_body(&self, d: &Digest) -> Option<Value> {
        let message = d
            .items()
            .iter()
            .map(|a| d.line(a, M))
            .collect::<Vec<_>>()
            .join("\n");
        let body = self.publish(&title(&d.headline()), message, None);
        self.fits(&body).then_some(body)
    }

    fn post<'a>(
        &'a self,
        client: &'a reqwest::Client,
        body: Value,
        _idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        Box::pin(async move {
            let mut req = http::with_json(client.post(format!("{}/", self.server)), &body);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t.expose());
            }
            let secrets: Vec<&str> = self.token.iter().map(Secret::expose).collect();
            // Every success is the published message, with its `id`.
            http::outcome_naming(
                http::execute(req).await?,
                "/id",
                "ntfy",
                "message id",
                &secrets,
            )
        })
    }
}
