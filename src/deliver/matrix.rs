//! Matrix: a client-server API `m.text` (or, on request, `m.notice`) event, sent idempotently.
//!
//! `m.text` by default: the default push rule `.m.rule.suppress_notices` silences `m.notice`,
//! so notices never notify anyone, and an alert is meant to be seen. `msgtype = "notice"` is
//! for rooms where alerts should be read, not pushed (the Matrix convention for bots).
//!
//! Owns [`Matrix`] (a [`Platform`]), its configuration and `KEYS`. `PUT {homeserver}/_matrix/client/v3/rooms/{room}/send/
//! m.room.message/{txnId}` with `Authorization: Bearer {access_token}`; the `txnId` is the
//! alert's idempotency key, so a retry after a lost answer is deduplicated by the homeserver.
//! A room alias (`#news:example.org`) is resolved to its id once, through the room directory.
//! Ids and aliases are percent-encoded in paths. The event has `body` (plain text) and
//! `formatted_body` (HTML, feed text escaped), and `m.mentions: {}` always, which switches off
//! the legacy body-based `@room` and display-name mentions. `M_LIMIT_EXCEEDED` is retried no
//! sooner than its `retry_after_ms` (or `Retry-After`). A story update edits the alert's
//! event in place: an `m.replace` event naming the `event_id` the homeserver returned.

use std::sync::Mutex;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::config::Secret;
use crate::deliver::alert::Alert;
use crate::deliver::chat::ChatOptions;
use crate::deliver::chat::{self, Platform, Text};
use crate::deliver::config::{KeyDoc, SinkKind, Table};
use crate::deliver::cut::cut_markup;
use crate::deliver::digest::Digest;
use crate::deliver::http::{self, Reply};
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::{SendError, SendFuture, SendOk};
use crate::deliver::update;

/// Bytes of event content. Homeservers refuse events over 65,536 bytes, signatures and
/// metadata included.
pub const CONTENT_MAX: usize = 40_000;
/// Bytes of the new text an edit's fallback `body` carries.
pub const EDIT_FALLBACK_MAX: usize = 1_000;

/// Everything but unreserved characters is encoded: `!`, `#`, `:` and `/` included.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, PATH_SEGMENT).to_string()
}

/// The settings of `type = "matrix"`, after [`crate::deliver::chat::CHAT_KEYS`].
pub const KEYS: &[KeyDoc] = &[
    KeyDoc::new(
        "homeserver",
        "URL",
        "required",
        "The homeserver's client-server API base, e.g. `https://matrix.example.org`.",
    ),
    KeyDoc::new(
        "room",
        "string",
        "required",
        "`!id:server` or `#alias:server`.",
    ),
    KeyDoc::new(
        "access_token",
        "secret",
        "required",
        "The sending account's access token.",
    ),
    KeyDoc::new(
        "msgtype",
        "`\"text\"` or `\"notice\"`",
        "\"text\"",
        "Notices are silenced by Matrix's default push rules, so nobody is notified.",
    ),
];

/// A Matrix sink's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixConfig {
    /// Without a trailing `/`.
    pub homeserver: String,
    pub room: String,
    pub access_token: Secret,
    /// `m.text` or `m.notice`.
    pub msgtype: &'static str,
    pub chat: ChatOptions,
}

impl MatrixConfig {
    pub fn parse(t: &mut Table<'_, '_>, chat: ChatOptions) -> Option<Self> {
        let homeserver = t.url("homeserver");
        let room = t.string("room");
        let access_token = t.secret("access_token");
        let msgtype = match t.one_of("msgtype", &["text", "notice"]) {
            Some("notice") => "m.notice",
            _ => "m.text",
        };
        let homeserver = t.need("homeserver", homeserver);
        let room = t.need("room", room);
        let access_token = t.need("access_token", access_token);
        Some(MatrixConfig {
            homeserver: homeserver?.trim_end_matches('/').to_string(),
            room: room?.trim().to_string(),
            access_token: access_token?,
            msgtype,
            chat,
        })
    }
}

pub struct Matrix {
    homeserver: String,
    room: String,
    token: Secret,
    /// `m.text` or `m.notice`.
    msgtype: &'static str,
    /// The room id an alias resolved to.
    room_id: Mutex<Option<String>>,
}

impl Matrix {
    pub fn new(c: &MatrixConfig) -> Self {
        Matrix {
            homeserver: c.homeserver.clone(),
            room: c.room.clone(),
            token: c.access_token.clone(),
            msgtype: c.msgtype,
            room_id: Mutex::new(None),
        }
    }

    fn meta(&self, alert: &Alert, m: Markup) -> String {
        let mut meta = m.meta_line(alert, true);
        if let Some(terms) = m.matched_terms(alert) {
            meta.push_str(&format!(" · matched: {terms}"));
        }
        meta
    }

    /// `body`, the plain-text version of the built-in message.
    fn plain(&self, alert: &Alert, budget: usize) -> String {
        let m = Markup::Plain;
        let mut lines = vec![m.text(&render::truncate_chars(alert.shown_title(), 300))];
        lines.extend(render::safe_link(alert.link.as_deref()));
        lines.push(self.meta(alert, m));
        let snippet = m.snippet(&render::shorten_snippet(&alert.snippet, budget));
        if !snippet.is_empty() {
            lines.push(format!("> {snippet}"));
        }
        // A story update's sources, as the HTML version has them.
        if let Some(line) = update::sources_line(alert, m) {
            lines.push(String::new());
            lines.push(line);
        }
        lines.join("\n")
    }

    fn content(&self, body: String, html: String) -> Value {
        json!({
            "msgtype": self.msgtype,
            "body": body,
            "format": "org.matrix.custom.html",
            "formatted_body": html,
            "m.mentions": {},
        })
    }

    /// The room id, resolving an alias through the directory the first time.
    async fn room_id(&self, client: &reqwest::Client) -> Result<String, SendError> {
        if !self.room.starts_with('#') {
            return Ok(self.room.clone());
        }
        if let Some(id) = self.room_id.lock().ok().and_then(|r| r.clone()) {
            return Ok(id);
        }
        let url = format!(
            "{}/_matrix/client/v3/directory/room/{}",
            self.homeserver,
            encode_segment(&self.room)
        );
        let reply = http::execute(client.get(url).bearer_auth(self.token.expose())).await?;
        if !reply.success() {
            return Err(self.error(&reply));
        }
        let id = reply
            .json()
            .and_then(|j| j.get("room_id").and_then(Value::as_str).map(str::to_string))
            .ok_or_else(|| {
                SendError::retryable(format!(
                    "the room directory gave no room_id for {}",
                    self.room
                ))
            })?;
        if let Ok(mut r) = self.room_id.lock() {
            *r = Some(id.clone());
        }
        Ok(id)
    }

    fn error(&self, reply: &Reply) -> SendError {
        let json = reply.json();
        let errcode = json
            .as_ref()
            .and_then(|j| j.get("errcode").and_then(Value::as_str))
            .unwrap_or_default();
        let hint = match (reply.status, errcode) {
            (429, _) | (_, "M_LIMIT_EXCEEDED") => json
                .as_ref()
                .and_then(retry_after_ms)
                .or_else(|| reply.retry_after_header()),
            _ => None,
        };
        if errcode == "M_LIMIT_EXCEEDED" {
            return SendError::Retryable {
                message: format!("HTTP {}: M_LIMIT_EXCEEDED", reply.status),
                retry_after: hint,
            };
        }
        http::classify(reply, hint, &[self.token.expose()])
    }
}

/// The room (`None`: the sink's, as an earlier release stored a bare event id) and the event id
/// of a stored `ROOM EVENT_ID`; `None` for what is no event id.
fn event_of(message_ref: &str) -> Option<(Option<&str>, &str)> {
    let (room, event) = match message_ref.rsplit_once(' ') {
        Some((room, event)) => (Some(room), event),
        None => (None, message_ref),
    };
    event.starts_with('$').then_some((room, event))
}

impl Platform for Matrix {
    const KIND: SinkKind = SinkKind::Matrix;
    const MARKUP: Markup = Markup::Html;
    fn edits(&self, message_ref: &str) -> bool {
        event_of(message_ref).is_some()
    }

    /// `formatted_body`, with the snippet cut to `budget`.
    fn default_text(&self, alert: &Alert, budget: usize) -> String {
        let m = Markup::Html;
        let mut html = format!(
            "<p>{}<br>{}</p>",
            m.bold(&m.linked_title(alert, 300)),
            self.meta(alert, m)
        );
        let snippet = m.snippet(&render::shorten_snippet(&alert.snippet, budget));
        if !snippet.is_empty() {
            html.push_str(&format!("<blockquote>{snippet}</blockquote>"));
        }
        html
    }

    fn wrap(&self, alert: &Alert, text: &Text) -> Value {
        let html = text.text.clone();
        let plain = if text.templated {
            // The template writes HTML; its plain version is that HTML's text.
            let t = crate::text::html::html_to_text(&html.replace('\n', "<br>"));
            render::defuse(&t).into_owned()
        } else {
            self.plain(alert, text.budget)
        };
        let content = self.content(plain, html);
        if text.budget > 0 || self.fits(&content) {
            return content;
        }
        // Too long without any snippet (a very long link, in both versions): the plain one
        // is cut too, to a third of the limit, while the caller cuts the HTML.
        let plain = content["body"].as_str().unwrap_or_default();
        let plain = cut_markup(Markup::Plain, plain, |t| t.len() <= CONTENT_MAX / 3);
        self.content(plain, text.text.clone())
    }

    fn fits(&self, body: &Value) -> bool {
        chat::json_len(body) <= CONTENT_MAX
    }

    fn digest_body(&self, d: &Digest) -> Option<Value> {
        let headline = d.headline();
        let h = Markup::Html;
        let items: String = d
            .items()
            .iter()
            .map(|a| format!("<li>{}</li>", d.line(a, h).trim_start_matches("• ")))
            .collect();
        let html = format!("<p>{}</p><ul>{items}</ul>", h.bold(&h.text(&headline)));
        let mut plain = Markup::Plain.text(&headline);
        for a in d.items() {
            plain.push('\n');
            plain.push_str(&d.line(a, Markup::Plain));
        }
        let content = self.content(plain, html);
        (chat::json_len(&content) <= CONTENT_MAX).then_some(content)
    }

    /// Sends `body` to the sink's room; the message is referred to as `ROOM EVENT_ID` (see
    /// [`Matrix::send_to`]).
    fn post<'a>(
        &'a self,
        client: &'a reqwest::Client,
        body: Value,
        idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        Box::pin(async move {
            let room = self.room_id(client).await?;
            self.send_to(client, &room, &body, idempotency_key).await
        })
    }

    /// An `m.replace` event for the event `message_ref`: the new content in `m.new_content`,
    /// and, for clients that do not show edits, a fallback `body` of "* " and the start of the
    /// new text (not the whole of it: the event carries the content twice otherwise, and
    /// would outgrow the homeserver's event size). Sent like any message, so the update's
    /// idempotency key is its `txnId` and a retried edit is deduplicated.
    ///
    /// The edit goes to the room the message is in (`ROOM EVENT_ID`; a bare `EVENT_ID` from an
    /// earlier release is in the sink's room): after a reload moved the sink to another room,
    /// the edit of an alert sent before went to the new room, relating to an event that is
    /// not there (refused, and the alert never updated).
    fn edit<'a>(
        &'a self,
        client: &'a reqwest::Client,
        body: Value,
        message_ref: &'a str,
        idempotency_key: &'a str,
    ) -> Option<SendFuture<'a>> {
        let (room, message_ref) = event_of(message_ref)?;
        let new_text = body["body"].as_str().unwrap_or_default();
        let fallback = cut_markup(Markup::Plain, new_text, |t| t.len() <= EDIT_FALLBACK_MAX);
        let event = json!({
            "msgtype": self.msgtype,
            "body": format!("* {fallback}"),
            "m.new_content": body,
            "m.relates_to": {"rel_type": "m.replace", "event_id": message_ref},
            "m.mentions": {},
        });
        Some(Box::pin(async move {
            let room = match room {
                Some(r) => r.to_string(),
                None => self.room_id(client).await?,
            };
            self.send_to(client, &room, &event, idempotency_key).await
        }))
    }
}

impl Matrix {
    /// `PUT …/rooms/{room}/send/m.room.message/{txnId}`; the event sent is referred to as
    /// `ROOM EVENT_ID` (neither holds a space), so that its edits go to its room.
    async fn send_to(
        &self,
        client: &reqwest::Client,
        room: &str,
        body: &Value,
        idempotency_key: &str,
    ) -> Result<SendOk, SendError> {
        let url = format!(
            "{}/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
            self.homeserver,
            encode_segment(room),
            encode_segment(idempotency_key)
        );
        let req = client.put(url).bearer_auth(self.token.expose());
        let req = http::with_json(req, body);
        let reply = http::execute(req).await?;
        if !reply.success() {
            return Err(self.error(&reply));
        }
        let mut sent = reply.ok_naming("/event_id", "Matrix", "event_id")?;
        sent.message_ref = sent.message_ref.map(|id| format!("{room} {id}"));
        Ok(sent)
    }
}

/// `retry_after_ms` of a Matrix error body.
fn retry_after_ms(body: &Value) -> Option<Duration> {
    body.get("retry_after_ms")
        .and_then(Value::as_f64)
        .and_then(|ms| http::seconds(ms / 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::template::sample_alert;

    fn matrix() -> Matrix {
        Matrix {
            homeserver: "https://matrix.example/".into(),
            room: "!r:matrix.example".into(),
            token: Secret::new("syt_token"),
            msgtype: "m.text",
            room_id: Mutex::new(None),
        }
    }

    fn text(m: &Matrix, alert: &Alert, budget: usize) -> Text {
        Text {
            text: m.default_text(alert, budget),
            templated: false,
            budget,
        }
    }

    /// The plain `body` is cut to a third of the limit only when the message is too long
    /// without any snippet (a very long link, in both versions); with a snippet budget left
    /// the caller shortens the snippet, so nothing is cut here; the HTML is never cut here.
    #[test]
    fn wrap_cuts_the_plain_body_only_when_nothing_else_can_be_shortened() {
        let m = matrix();
        let short = sample_alert();
        for budget in [0, 300] {
            let t = text(&m, &short, budget);
            let body = m.wrap(&short, &t);
            assert_eq!(body["msgtype"], "m.text");
            assert_eq!(body["formatted_body"], Value::String(t.text.clone()));
            assert_eq!(
                body["body"],
                Value::String(m.plain(&short, budget)),
                "{budget}"
            );
            assert!(m.fits(&body));
        }
        let mut long = sample_alert();
        long.link = Some(format!("https://news.example/{}", "p".repeat(CONTENT_MAX)));
        // With a budget the body is whole, even over the limit: the caller shortens it.
        let t = text(&m, &long, 300);
        let body = m.wrap(&long, &t);
        assert_eq!(body["body"], Value::String(m.plain(&long, 300)));
        assert!(!m.fits(&body));
        // Without one the plain version is cut to a third of the limit.
        let t = text(&m, &long, 0);
        let body = m.wrap(&long, &t);
        assert_eq!(body["formatted_body"], Value::String(t.text.clone()));
        let plain = body["body"].as_str().unwrap_or_default();
        assert!(plain.starts_with("NATO warns"), "{plain}");
        assert!(
            plain.len() <= CONTENT_MAX / 3 && plain.len() > CONTENT_MAX / 3 - 8,
            "{}",
            plain.len()
        );
    }
}
