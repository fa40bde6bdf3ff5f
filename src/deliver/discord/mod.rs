//! Discord webhooks: one embed per alert, no mention can ever fire.
//!
//! Owns [`Discord`] (a [`Platform`]). Posts to the webhook URL with `?wait=true` (so Discord
//! answers with the created message, or an error we can classify) and `thread_id` when set.
//! Forum and media channels refuse a post without `thread_id` or `thread_name`: `thread_name`
//! (a template rendered as plain text, cut to 100 characters) opens one forum post per alert.
//! `username` and `avatar_url` override the webhook's own; `silent` sets the message flag
//! SUPPRESS_NOTIFICATIONS (1 << 12) and `suppress_embeds` SUPPRESS_EMBEDS (1 << 2), which hides
//! embeds, so the alert is then sent as message `content` (2,000 characters) instead.
//! Every body carries `allowed_mentions: {"parse": []}`; feed text is Markdown-escaped and has
//! U+200B after `@`. Limits: title 256, description 4,096, the whole embed 6,000 (UTF-16 units,
//! as Discord counts). Rate limits: `X-RateLimit-Remaining: 0` makes the next send wait for
//! `X-RateLimit-Reset-After`; a 429's JSON `retry_after` (float seconds) is the retry hint; a
//! 404 means the webhook was deleted (code 10015) or the thread does not exist (code 10003),
//! which no retry fixes. A story update edits the alert's message in place
//! (`PATCH {webhook}/messages/{id}`, the id Discord returned for the post).

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::Secret;
use crate::deliver::alert::Alert;
use crate::deliver::chat::ChatOptions;
use crate::deliver::chat::{self, Platform, Text, utf16_len};
use crate::deliver::config::{KeyDoc, SinkKind, Table};
use crate::deliver::cut::cut_markup;
use crate::deliver::digest::Digest;
use crate::deliver::http::{self, Reply};
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::{SendError, SendFuture, SendOk};
use crate::deliver::template::Template;

pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 4096;
pub const FOOTER_MAX: usize = 2048;
/// Longest embed `url` Discord accepts, in characters (counted here in bytes, never fewer).
pub const URL_MAX: usize = 2048;
/// Title, description, footer, fields and author together.
pub const EMBED_TOTAL_MAX: usize = 6000;
/// Message `content` (used instead of an embed with `suppress_embeds`).
pub const CONTENT_MAX: usize = 2000;
/// A forum post's title (`thread_name`).
pub const THREAD_NAME_MAX: usize = 100;
/// Message flag SUPPRESS_EMBEDS.
pub const FLAG_SUPPRESS_EMBEDS: u64 = 1 << 2;
/// Message flag SUPPRESS_NOTIFICATIONS (a "silent" message).
pub const FLAG_SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;
/// Longest webhook `username`.
pub const USERNAME_MAX: usize = 80;

/// A webhook `username` Discord accepts: 1 to 80 characters, without "discord" or "clyde"
/// (Discord answers 400 to every message under such a name).
pub fn check_username(name: &str) -> Result<(), String> {
    let lower = name.to_lowercase();
    if let Some(word) = ["discord", "clyde"].iter().find(|w| lower.contains(*w)) {
        return Err(format!(
            "`username` = \"{name}\": Discord refuses webhook names containing \"{word}\""
        ));
    }
    if name.trim().is_empty() || name.chars().count() > USERNAME_MAX {
        return Err(format!(
            "`username` must be 1 to {USERNAME_MAX} characters (Discord's limit)"
        ));
    }
    Ok(())
}

/// The settings of `type = "discord"`, after [`crate::deliver::chat::CHAT_KEYS`].
pub const KEYS: &[KeyDoc] = &[
    KeyDoc::new("url", "secret URL", "required", "The webhook URL."),
    KeyDoc::new(
        "thread_id",
        "string or integer",
        "—",
        "Post into this thread. A `?thread_id=…` written in the `url` is the same (story updates edit their message in that thread); this setting wins over it.",
    ),
    KeyDoc::new(
        "thread_name",
        "template",
        "—",
        "Rendered as plain text and cut to 100 characters: forum and media channels refuse \
         posts without `thread_id` or `thread_name`; `\"{{ title }}\"` opens one forum post per \
         alert, a digest's post is titled with its headline. Ignored when `thread_id` is set; \
         checked by `check` like `template`.",
    ),
    KeyDoc::new(
        "username",
        "string",
        "the webhook's",
        "Overrides the webhook's name: 1–80 characters, not containing \"discord\" or \
         \"clyde\" (Discord refuses those).",
    ),
    KeyDoc::new(
        "avatar_url",
        "URL",
        "the webhook's",
        "Overrides the webhook's picture (an http(s) URL).",
    ),
    KeyDoc::new(
        "suppress_embeds",
        "boolean",
        "false",
        "`true`: flag SUPPRESS_EMBEDS; embeds are hidden, so the alert is sent as message \
         text (2,000 characters).",
    ),
    KeyDoc::new(
        "silent",
        "boolean",
        "false",
        "`true`: no push notification (flag SUPPRESS_NOTIFICATIONS).",
    ),
];

/// A Discord sink's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscordConfig {
    pub url: Secret,
    pub thread_id: Option<String>,
    /// The forum post title template, checked to render as plain text.
    pub thread_name: Option<Template>,
    pub username: Option<String>,
    pub avatar_url: Option<String>,
    pub suppress_embeds: bool,
    pub silent: bool,
    pub chat: ChatOptions,
}

impl DiscordConfig {
    pub fn parse(t: &mut Table<'_, '_>, chat: ChatOptions) -> Option<Self> {
        let name = t.name();
        let url = t.secret_url("url");
        let thread_id = t.string_or_int("thread_id").map(|s| s.trim().to_string());
        // A forum post's title is a template too: checked now like `template`.
        let thread_name = t.string("thread_name").and_then(|src| {
            crate::deliver::template::check_plain(&src, SinkKind::Discord)
                .inspect_err(|e| {
                    t.error_at(
                        "thread_name",
                        format!("sink `{name}`: thread_name template {e}"),
                    );
                })
                .ok()
        });
        // Discord refuses every message under a name it does not allow: a dead letter each.
        let username = t.string("username").and_then(|u| {
            check_username(&u)
                .inspect_err(|e| t.error_at("username", format!("sink `{name}`: {e}")))
                .ok()
                .map(|()| u)
        });
        let avatar_url = t.url("avatar_url");
        let suppress_embeds = t.bool("suppress_embeds").unwrap_or(false);
        let silent = t.bool("silent").unwrap_or(false);
        let url = t.need("url", url)?;
        Some(DiscordConfig {
            url,
            thread_id,
            thread_name,
            username,
            avatar_url,
            suppress_embeds,
            silent,
            chat,
        })
    }
}

/// Discord's error code for a channel (here: the thread) that does not exist.
const UNKNOWN_CHANNEL: i64 = 10003;
/// Discord's error code for a message that does not exist (deleted).
const UNKNOWN_MESSAGE: i64 = 10008;
/// The embed's accent colour.
const COLOUR: u32 = 0x002B_6CB0;

const M: Markup = Markup::Discord;

pub struct Discord {
    /// The sink's name, for its log lines.
    name: String,
    /// The webhook URL with `wait=true` (and `thread_id`) added: a secret.
    url: Secret,
    /// The webhook URL as configured (edits address its `/messages/{id}`): a secret.
    webhook: Secret,
    /// The webhook's id (`…/webhooks/{id}/{token}`), not a secret: a sent message is stored
    /// as `WEBHOOK_ID/MESSAGE_ID`, and only its own webhook can edit it.
    webhook_id: Option<String>,
    thread_id: Option<String>,
    /// The forum post title template, rendered as plain text.
    thread_name: Option<Template>,
    username: Option<String>,
    avatar_url: Option<String>,
    /// Message flags (SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS), 0 for none.
    flags: u64,
    /// Set when Discord said the bucket is empty: the next send waits until then.
    paused_until: Mutex<Option<Instant>>,
}

impl Discord {
    pub fn new(name: &str, c: &DiscordConfig) -> Result<Self, String> {
        let mut url = url::Url::parse(c.url.expose())
            // The URL holds the webhook token: never echo it.
            .map_err(|_| "`url` is not a valid URL".to_string())?;
        // A thread written into the URL (`…?thread_id=…`, as Discord's documentation shows
        // it) is the sink's thread as `thread_id` is: its edits must name it too (without,
        // Discord answered "unknown message" and every story update was dropped as deleted).
        let in_url = url
            .query_pairs()
            .find(|(k, _)| k == "thread_id")
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty());
        let thread_id = c.thread_id.clone().or(in_url);
        let rest: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "thread_id" && k != "wait")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        {
            let mut query = url.query_pairs_mut();
            query.extend_pairs(&rest).append_pair("wait", "true");
            if let Some(thread) = &thread_id {
                query.append_pair("thread_id", thread);
            }
        }
        let flag = |on: bool, bit| if on { bit } else { 0 };
        let webhook_id = url.path_segments().and_then(|mut s| {
            s.find(|seg| *seg == "webhooks")?;
            s.next().filter(|id| is_snowflake(id)).map(str::to_string)
        });
        Ok(Discord {
            name: name.to_string(),
            url: Secret::new(url.to_string()),
            webhook: c.url.clone(),
            webhook_id,
            thread_id,
            thread_name: c.thread_name.clone(),
            username: c.username.clone(),
            avatar_url: c.avatar_url.clone(),
            flags: flag(c.suppress_embeds, FLAG_SUPPRESS_EMBEDS)
                | flag(c.silent, FLAG_SUPPRESS_NOTIFICATIONS),
            paused_until: Mutex::new(None),
        })
    }

    /// The forum post title of one alert: the `thread_name` template as plain text (the item
    /// title when it fails or renders nothing), one line, at most 100 characters.
    fn thread_title(&self, t: &Template, alert: &Alert) -> String {
        let rendered = t
            .render(alert, Markup::Plain, SinkKind::Discord, 300)
            .inspect_err(|e| {
                tracing::warn!(sink = %self.name, watch = %alert.watch, error = %e,
                    "thread_name template failed on this alert; using the item title");
            })
            .ok()
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|s| !s.is_empty());
        let title = rendered.unwrap_or_else(|| Markup::Plain.text(alert.shown_title()));
        cut_markup(Markup::Plain, &title, |t| chat::chars(t) <= THREAD_NAME_MAX)
    }

    /// The settings every message carries: thread title, username, avatar, flags.
    fn finish(&self, mut body: Value, thread_title: impl FnOnce() -> String) -> Value {
        body["allowed_mentions"] = json!({"parse": []});
        if self.thread_name.is_some() && self.thread_id.is_none() {
            body["thread_name"] = Value::String(thread_title());
        }
        if let Some(u) = &self.username {
            body["username"] = Value::String(u.clone());
        }
        if let Some(a) = &self.avatar_url {
            body["avatar_url"] = Value::String(a.clone());
        }
        if self.flags != 0 {
            body["flags"] = Value::from(self.flags);
        }
        body
    }

    fn embeds_hidden(&self) -> bool {
        self.flags & FLAG_SUPPRESS_EMBEDS != 0
    }

    /// The alert as message content (when embeds are suppressed): title, meta line, text.
    /// Over the limit it is left for the caller to shorten the text, unless the head alone
    /// (a very long link) leaves no room: then the whole is cut.
    fn content(&self, alert: &Alert, text: &str) -> String {
        let head = format!(
            "{}\n{}",
            M.bold(&M.linked_title(alert, TITLE_MAX)),
            M.meta_line(alert, true)
        );
        let content = format!("{head}\n\n{text}");
        if utf16_len(&head) + 2 < CONTENT_MAX {
            return content;
        }
        // A link too long for the message cannot be cut inside: the title goes unlinked, so
        // what is cut is text, never the whole title.
        let bare = Alert {
            link: None,
            ..alert.clone()
        };
        let head = format!(
            "{}\n{}",
            M.bold(&M.linked_title(&bare, TITLE_MAX)),
            M.meta_line(&bare, true)
        );
        let content = format!("{head}\n\n{text}");
        cut_markup(M, &content, |c| utf16_len(c) <= CONTENT_MAX)
    }

    /// The embed's title and footer, cut to their limits.
    fn title_footer(alert: &Alert) -> (String, String) {
        let title = cut_markup(M, &M.text(alert.shown_title()), |t| {
            utf16_len(t) <= TITLE_MAX
        });
        let footer_text = format!("{} · {}", alert.watch, alert.feed);
        // Footers are not Markdown: only mentions need defusing there.
        let footer = cut_markup(Markup::Plain, &render::defuse(&footer_text), |t| {
            utf16_len(t) <= FOOTER_MAX
        });
        (title, footer)
    }

    /// The message id of a stored `WEBHOOK_ID/MESSAGE_ID` this sink's webhook can edit (a
    /// bare id, stored by an earlier release, is taken as its own); `None` for a message of
    /// another webhook (the sink's `url` changed since: Discord answered its edit "unknown
    /// message", and the update was dropped as if the message were deleted) or no id at all.
    fn message_of<'r>(&self, message_ref: &'r str) -> Option<&'r str> {
        let id = match message_ref.split_once('/') {
            Some((webhook, id)) if self.webhook_id.as_deref() == Some(webhook) => id,
            Some(_) => return None,
            None => message_ref,
        };
        is_snowflake(id).then_some(id)
    }

    /// `{webhook}/messages/{id}` (with the message's `thread_id`), the address of one sent message; a
    /// secret, as it holds the webhook token. `None` for an id that is not a snowflake.
    fn edit_url(&self, message_id: &str) -> Option<Secret> {
        if !is_snowflake(message_id) {
            return None;
        }
        let mut url = url::Url::parse(self.webhook.expose()).ok()?;
        url.set_query(None);
        url.path_segments_mut()
            .ok()?
            .pop_if_empty()
            .push("messages")
            .push(message_id);
        // A forum post (`thread_name`, no `thread_id`) is a thread of its own, whose id is its
        // starter message's: Discord finds the message only inside it (without, it answers
        // "unknown message", and every update of the story was dropped as "deleted").
        let thread = match (&self.thread_id, &self.thread_name) {
            (Some(t), _) => Some(t.as_str()),
            (None, Some(_)) => Some(message_id),
            (None, None) => None,
        };
        if let Some(thread) = thread {
            url.query_pairs_mut().append_pair("thread_id", thread);
        }
        Some(Secret::new(url.to_string()))
    }

    /// What an answer to a post or an edit means; a success keeps the message's id.
    fn outcome(&self, reply: &Reply) -> Result<SendOk, SendError> {
        let secrets = [self.url.expose(), self.webhook.expose()];
        match reply.status {
            s if (200..300).contains(&s) => reply.ok_naming("/id", "Discord", "message id"),
            429 => Err(http::classify(reply, Self::hint(reply), &secrets)),
            404 => {
                let said = http::redact(reply.text.trim(), &secrets)
                    .chars()
                    .take(200)
                    .collect::<String>();
                let code = reply
                    .json()
                    .and_then(|j| j.get("code").and_then(Value::as_i64));
                let what = match (code, &self.thread_id) {
                    (Some(UNKNOWN_CHANNEL), Some(t)) => {
                        format!("the thread `{t}` (thread_id) does not exist")
                    }
                    (Some(UNKNOWN_CHANNEL), None) => {
                        "the webhook's channel or thread does not exist".to_string()
                    }
                    _ => "the Discord webhook does not exist (deleted?)".to_string(),
                };
                Err(SendError::permanent(format!("HTTP 404: {what}: {said}")))
            }
            _ => Err(http::classify(reply, None, &secrets)),
        }
    }

    fn set_pause(&self, reply: &Reply) {
        let remaining = reply
            .headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok());
        let until = match (remaining, reply.header_seconds("x-ratelimit-reset-after")) {
            (Some(0), Some(after)) => Some(Instant::now() + after),
            _ => None,
        };
        if let Ok(mut p) = self.paused_until.lock() {
            *p = until;
        }
    }

    /// The retry hint of a 429: the body's `retry_after` (float seconds), else the headers.
    fn hint(reply: &Reply) -> Option<Duration> {
        reply
            .json()
            .and_then(|j| j.get("retry_after").and_then(Value::as_f64))
            .and_then(http::seconds)
            .or_else(|| reply.header_seconds("x-ratelimit-reset-after"))
            .or_else(|| reply.retry_after_header())
    }
}

/// Whether `s` is a Discord id (a snowflake: decimal digits).
fn is_snowflake(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl Platform for Discord {
    const KIND: SinkKind = SinkKind::Discord;
    const MARKUP: Markup = M;
    fn edits(&self, message_ref: &str) -> bool {
        self.message_of(message_ref).is_some()
    }

    fn default_text(&self, alert: &Alert, budget: usize) -> String {
        let snippet = M.snippet(&render::shorten_snippet(&alert.snippet, budget));
        let terms = M.text(&render::truncate_chars(&render::terms_text(alert), 1000));
        match (snippet.is_empty(), terms.is_empty()) {
            (true, _) => format!("**Matched:** {terms}"),
            (false, true) => snippet,
            (false, false) => format!("{snippet}\n\n**Matched:** {terms}"),
        }
    }

    fn wrap(&self, alert: &Alert, text: &Text) -> Value {
        let thread_title = || {
            self.thread_name
                .as_ref()
                .map(|t| self.thread_title(t, alert))
                .unwrap_or_default()
        };
        if self.embeds_hidden() {
            let content = self.content(alert, &text.text);
            return self.finish(json!({"content": content}), thread_title);
        }
        let (title, footer) = Self::title_footer(alert);
        let mut embed = json!({
            "title": title,
            "description": text.text,
            "color": COLOUR,
            "footer": {"text": footer},
        });
        // Discord refuses an embed whose link is longer (400, the alert dead); without it the
        // title goes unlinked, as in other sinks, and the alert is sent.
        if let Some(url) = render::safe_link(alert.link.as_deref()).filter(|u| u.len() <= URL_MAX) {
            embed["url"] = Value::String(url);
        }
        if let Some(p) = alert.published {
            embed["timestamp"] =
                Value::String(p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        self.finish(json!({"embeds": [embed]}), thread_title)
    }

    /// Content within 2,000 units; an embed's description within 4,096, and title,
    /// description and footer together within 6,000 (UTF-16 units, as Discord counts).
    fn fits(&self, body: &Value) -> bool {
        let len = |v: &Value| utf16_len(v.as_str().unwrap_or_default());
        if let Some(content) = body.get("content") {
            return len(content) <= CONTENT_MAX;
        }
        let e = &body["embeds"][0];
        let description = len(&e["description"]);
        description <= DESCRIPTION_MAX
            && len(&e["title"]) + description + len(&e["footer"]["text"]) <= EMBED_TOTAL_MAX
    }

    fn digest_body(&self, d: &Digest) -> Option<Value> {
        let m = M;
        let title = cut_markup(m, &m.text(&d.headline()), |t| utf16_len(t) <= TITLE_MAX);
        let description = d
            .items()
            .iter()
            .map(|a| d.line(a, m))
            .collect::<Vec<_>>()
            .join("\n");
        let thread_title = || {
            let headline = Markup::Plain.text(&d.headline());
            cut_markup(Markup::Plain, &headline, |t| {
                chat::chars(t) <= THREAD_NAME_MAX
            })
        };
        if self.embeds_hidden() {
            let content = format!("**{title}**\n{description}");
            return (utf16_len(&content) <= CONTENT_MAX)
                .then(|| self.finish(json!({"content": content}), thread_title));
        }
        let fits = utf16_len(&description) <= DESCRIPTION_MAX
            && utf16_len(&title) + utf16_len(&description) <= EMBED_TOTAL_MAX;
        fits.then(|| {
            self.finish(
                json!({"embeds": [{"title": title, "description": description, "color": COLOUR}]}),
                thread_title,
            )
        })
    }

    fn post<'a>(
        &'a self,
        client: &'a reqwest::Client,
        body: Value,
        _idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        Box::pin(async move {
            let until = self.paused_until.lock().ok().and_then(|p| *p);
            chat::wait_or_defer(until).await?;
            let req = http::with_json(client.post(self.url.expose()), &body);
            let reply = http::execute(req).await?;
            self.set_pause(&reply);
            let mut sent = self.outcome(&reply)?;
            if let Some(webhook) = &self.webhook_id {
                sent.message_ref = sent.message_ref.map(|id| format!("{webhook}/{id}"));
            }
            Ok(sent)
        })
    }

    /// `PATCH {webhook}/messages/{id}` (in the thread, when one is set) with the message's new
    /// embed or content; the settings only a new message takes (name, avatar, forum title,
    /// the silent flag) are left out. A message deleted meanwhile is not an error: there is
    /// nothing left to update.
    fn edit<'a>(
        &'a self,
        client: &'a reqwest::Client,
        mut body: Value,
        message_ref: &'a str,
        _idempotency_key: &'a str,
    ) -> Option<SendFuture<'a>> {
        let url = self.edit_url(self.message_of(message_ref)?)?;
        if let Some(o) = body.as_object_mut() {
            for key in ["thread_name", "username", "avatar_url", "flags"] {
                o.remove(key);
            }
            if self.embeds_hidden() {
                o.insert("flags".into(), Value::from(FLAG_SUPPRESS_EMBEDS));
            }
        }
        Some(Box::pin(async move {
            let until = self.paused_until.lock().ok().and_then(|p| *p);
            chat::wait_or_defer(until).await?;
            let reply = http::execute(http::with_json(client.patch(url.expose()), &body)).await?;
            self.set_pause(&reply);
            let code = reply
                .json()
                .and_then(|j| j.get("code").and_then(Value::as_i64));
            // A forum post is a thread of its own: deleted, Discord says its thread is
            // unknown rather than its message (a configured thread gone is the sink's fault,
            // said as for any post).
            let own_thread = self.thread_id.is_none() && self.thread_name.is_some();
            let gone = match code {
                Some(UNKNOWN_MESSAGE) => true,
                Some(UNKNOWN_CHANNEL) => own_thread,
                _ => false,
            };
            if reply.status == 404 && gone {
                return Ok(SendOk::skipped(
                    "the alert's Discord message was deleted: nothing to update",
                ));
            }
            self.outcome(&reply)
        }))
    }
}

#[cfg(test)]
mod tests;
