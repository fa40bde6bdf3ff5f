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
use crate::deliver::chat::{self, Body, Platform};
use crate::deliver::config::{KeyDoc, SinkKind, Table};
use crate::deliver::cut::cut_markup;
use crate::deliver::digest;
use crate::deliver::http;
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::SendFuture;
use crate::deliver::template::Template;

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

pub struct Ntfy {
    server: String,
    topic: String,
    token: Option<Secret>,
    priority: Option<i64>,
    tags: Vec<String>,
    client: reqwest::Client,
    template: Option<Template>,
}

impl Ntfy {
    pub fn new(c: &NtfyConfig, client: reqwest::Client) -> Self {
        Ntfy {
            server: c.server.clone(),
            topic: c.topic.clone(),
            token: c.token.clone(),
            priority: c.priority,
            tags: c.tags.clone(),
            client,
            template: c.chat.template.clone(),
        }
    }

    fn message(&self, alert: &Alert, budget: usize) -> String {
        let m = Markup::NtfyMarkdown;
        let body = Body {
            kind: SinkKind::Ntfy,
            markup: m,
            template: self.template.as_ref(),
        };
        if let Some(t) = body.templated(alert, budget) {
            return t;
        }
        let mut parts = vec![m.meta_line(alert, true)];
        if let Some(terms) = m.matched_terms(alert) {
            parts.push(format!("Matched: {terms}"));
        }
        let snippet = m.snippet(&render::shorten_snippet(&alert.snippet, budget));
        if !snippet.is_empty() {
            parts.push(format!("\n{snippet}"));
        }
        parts.join("\n")
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

impl Platform for Ntfy {
    fn body(&self, alert: &Alert) -> Value {
        // The title is plain text in every ntfy client: mentions defused, nothing escaped.
        let title =
            render::defuse_mentions(&render::truncate_chars(&alert.title, TITLE_MAX)).into_owned();
        let click = render::safe_link(alert.link.as_deref()).filter(|u| u.len() <= CLICK_MAX);
        let build = |message: &str| self.publish(&title, message.to_string(), click.clone());
        let fits = |v: &Value| {
            v["message"].as_str().map_or(0, str::len) <= MESSAGE_MAX
                && chat::json_len(v) <= BODY_MAX
        };
        let body = render::fit(
            render::snippet_len(alert),
            |b| build(&self.message(alert, b)),
            fits,
        );
        if fits(&body) {
            return body;
        }
        // Only a template's own text can get here: cut the message until the body fits.
        let mut message = self.message(alert, 0);
        let mut max = MESSAGE_MAX;
        loop {
            let cut = cut_markup(Markup::NtfyMarkdown, &message, |t| t.len() <= max);
            let v = build(&cut);
            let over = chat::json_len(&v).saturating_sub(BODY_MAX);
            if over == 0 || max == 0 {
                return v;
            }
            message = cut;
            max = max.saturating_sub(over.max(16));
        }
    }

    fn digest_body(&self, alerts: &[Alert]) -> Option<Value> {
        let m = Markup::NtfyMarkdown;
        let message = alerts
            .iter()
            .map(|a| digest::line(a, m))
            .collect::<Vec<_>>()
            .join("\n");
        let title = render::defuse_mentions(&render::truncate_chars(
            &digest::headline(alerts),
            TITLE_MAX,
        ))
        .into_owned();
        let body = self.publish(&title, message, None);
        (body["message"].as_str().map_or(0, str::len) <= MESSAGE_MAX
            && chat::json_len(&body) <= BODY_MAX)
            .then_some(body)
    }

    fn post<'a>(&'a self, body: Value, _idempotency_key: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            let mut req = http::with_json(self.client.post(format!("{}/", self.server)), &body);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t.expose());
            }
            let secrets: Vec<&str> = self.token.iter().map(Secret::expose).collect();
            http::outcome(http::execute(req).await?, &secrets)
        })
    }
}
