//! The shape every chat sink shares: [`ChatSink`] owns the scaffolding, a [`Platform`]
//! supplies only what differs.
//!
//! Owns [`Platform`], [`ChatSink`], [`Text`], the shared settings ([`ChatOptions`],
//! [`CHAT_KEYS`], [`WebhookUrlConfig`]) and small helpers (lengths, [`digest_text`],
//! [`post_json`], [`wait_or_defer`]). `ChatSink` holds the HTTP client and the template; it
//! picks the template's output or the platform's default text, and fits the body to the
//! platform's limits: first by shortening the snippet before it is escaped
//! ([`render::fit`]), then, when even no snippet is too long (a template's own text, a very
//! long link), by cutting the text on a safe boundary ([`cut_markup`]). A platform module
//! (slack, mattermost, discord, teams, googlechat, matrix, telegram, ntfy) implements
//! [`Platform`]: its default text, its limits (`fits`), its payload (`wrap`), its digests and
//! one `post` that knows its transport and classifies its replies.

use std::time::Duration;

use serde_json::Value;

use crate::config::Secret;
use crate::deliver::alert::Alert;
use crate::deliver::config::SinkKind;
use crate::deliver::cut::cut_markup;
use crate::deliver::digest::{self, Digest};
use crate::deliver::http;
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::{SendError, SendFuture, SendOk, Sink};
use crate::deliver::template::Template;
use crate::deliver::update::{self, StoryUpdates};

mod options;

pub use options::{CHAT_KEYS, ChatOptions, WEBHOOK_URL_KEYS, WebhookUrlConfig};

/// One alert's message text, in the platform's markup.
#[derive(Debug, Clone)]
pub struct Text {
    pub text: String,
    /// Written by the user's template (else the platform's default text).
    pub templated: bool,
    /// The snippet budget (characters) the text was made with; a platform whose default
    /// message is not one text (Teams' runs) builds it from this.
    pub budget: usize,
}

/// A chat platform: what differs from the others.
pub trait Platform: Send + Sync + 'static {
    const KIND: SinkKind;
    /// The markup of message texts and templates.
    const MARKUP: Markup;

    /// The built-in message text of one alert, its snippet cut to `budget` characters.
    fn default_text(&self, alert: &Alert, budget: usize) -> String;

    /// The request body carrying one alert's message text.
    fn wrap(&self, alert: &Alert, text: &Text) -> Value;

    /// Whether a body is within the platform's limits.
    fn fits(&self, body: &Value) -> bool;

    /// One digest message carrying all of `d`'s lines, or `None` when they do not fit in one.
    fn digest_body(&self, d: &Digest) -> Option<Value>;

    /// Post a body rendered by this platform, classifying the answer. A platform that can
    /// edit its messages returns the sent message's id in [`SendOk::message_ref`].
    fn post<'a>(
        &'a self,
        client: &'a reqwest::Client,
        body: Value,
        idempotency_key: &'a str,
    ) -> SendFuture<'a>;

    /// Whether [`Platform::edit`] can edit the sent message `message_ref` (an id
    /// [`Platform::post`] returned): never, on a platform that cannot edit; not a message
    /// sent through another webhook (the sink's `url` changed since), whose token is gone.
    fn edits(&self, message_ref: &str) -> bool {
        let _ = message_ref;
        false
    }

    /// Replace the message `message_ref` (an id [`Platform::post`] returned) with `body`, a
    /// body of [`Platform::wrap`]; `None` when the platform cannot edit a sent message. An
    /// edit sent twice leaves the same message: retries are safe.
    fn edit<'a>(
        &'a self,
        client: &'a reqwest::Client,
        body: Value,
        message_ref: &'a str,
        idempotency_key: &'a str,
    ) -> Option<SendFuture<'a>> {
        let _ = (client, body, message_ref, idempotency_key);
        None
    }
}

/// A chat sink: a named [`Platform`] with its client and template.
pub struct ChatSink<P> {
    name: String,
    client: reqwest::Client,
    template: Option<Template>,
    story_updates: StoryUpdates,
    platform: P,
}

impl<P: Platform> ChatSink<P> {
    /// Whether an update of the message `message_ref` is an edit of it (see
    /// [`Platform::edits`]).
    fn edits(&self, message_ref: Option<&str>) -> bool {
        message_ref.is_some_and(|r| self.platform.edits(r))
    }

    pub fn new(name: &str, client: reqwest::Client, options: &ChatOptions, platform: P) -> Self {
        ChatSink {
            name: name.to_string(),
            client,
            template: options.template.clone(),
            story_updates: options.story_updates,
            platform,
        }
    }

    /// The template's output, or `None` when there is no template or it failed on this alert
    /// (logged: the default message is sent instead, since an alert must not be lost to a
    /// template that worked on the sample but not on this item).
    fn templated(&self, alert: &Alert, budget: usize) -> Option<String> {
        let t = self.template.as_ref()?;
        let kind = P::KIND.name();
        match t.render(alert, P::MARKUP, P::KIND, budget) {
            Ok(s) if !s.trim().is_empty() => Some(s),
            Ok(_) => {
                tracing::warn!(sink = %self.name, sink_type = kind, watch = %alert.watch,
                    "template rendered an empty message; sending the default one");
                None
            }
            Err(e) => {
                tracing::warn!(sink = %self.name, sink_type = kind, watch = %alert.watch,
                    error = %e, "template failed on this alert; sending the default message");
                None
            }
        }
    }

    /// The message text: the template's or the default, then, on a story update, the line
    /// naming the story's other sources (so an edited message says who else reported it).
    fn text(&self, alert: &Alert, budget: usize) -> Text {
        let (mut text, templated) = match self.templated(alert, budget) {
            Some(text) => (text, true),
            None => (self.platform.default_text(alert, budget), false),
        };
        if let Some(line) = update::sources_line(alert, P::MARKUP) {
            text.push_str("\n\n");
            text.push_str(&line);
        }
        Text {
            text,
            templated,
            budget,
        }
    }

    /// The body of one alert, always within the platform's limits.
    pub fn body(&self, alert: &Alert) -> Value {
        let p = &self.platform;
        let fitted = |a: &Alert| {
            render::fit(
                render::snippet_len(a),
                |b| p.wrap(a, &self.text(a, b)),
                |v| p.fits(v),
            )
        };
        let body = fitted(alert);
        if p.fits(&body) {
            return body;
        }
        // Too long even without a snippet: cut the text itself between whole atoms.
        let text = self.text(alert, 0);
        let cut = self.cut_text(alert, &text);
        // (Only where the text holds the link: a platform may put the title outside it.)
        let kept_link = render::safe_link(alert.link.as_deref()).is_none_or(|url| {
            let target = P::MARKUP.link_target(&url);
            !text.text.contains(&target) || cut.contains(&target)
        });
        if kept_link {
            return p.wrap(alert, &Text { text: cut, ..text });
        }
        // The cut took the title's link, and the title with it (a link and its text are one
        // atom): a link too long for the message, such as a tracking URL of thousands of
        // characters, would leave next to nothing. The title goes unlinked instead, and the
        // room the link took goes back to the text.
        let bare = Alert {
            link: None,
            ..alert.clone()
        };
        let body = fitted(&bare);
        if p.fits(&body) {
            return body;
        }
        self.cut_to_fit(&bare, self.text(&bare, 0))
    }

    /// The body of `t`, its text cut between whole atoms until the body fits.
    fn cut_to_fit(&self, alert: &Alert, t: Text) -> Value {
        let text = self.cut_text(alert, &t);
        self.platform.wrap(alert, &Text { text, ..t })
    }

    /// `t`'s text cut between whole atoms until its body fits.
    fn cut_text(&self, alert: &Alert, t: &Text) -> String {
        let p = &self.platform;
        let with = |text: &str| Text {
            text: text.to_string(),
            ..t.clone()
        };
        cut_markup(P::MARKUP, &t.text, |c| p.fits(&p.wrap(alert, &with(c))))
    }
}

impl<P: Platform> Sink for ChatSink<P> {
    fn name(&self) -> &str {
        &self.name
    }

    fn update_sends(&self, alert: &Alert, message_ref: Option<&str>) -> bool {
        self.edits(message_ref)
            || (self.story_updates == StoryUpdates::Reply && update::names_others(alert))
    }

    fn update_is_note(&self, message_ref: Option<&str>) -> bool {
        !self.edits(message_ref) && self.story_updates == StoryUpdates::Reply
    }

    fn send<'a>(&'a self, alert: &'a Alert, idempotency_key: &'a str) -> SendFuture<'a> {
        self.platform
            .post(&self.client, self.body(alert), idempotency_key)
    }

    fn update<'a>(
        &'a self,
        alert: &'a Alert,
        message_ref: Option<&'a str>,
        idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        let p = &self.platform;
        if let Some(edit) =
            message_ref.and_then(|r| p.edit(&self.client, self.body(alert), r, idempotency_key))
        {
            return edit;
        }
        let note = update::note_text(alert, P::MARKUP);
        match (self.story_updates, note) {
            (StoryUpdates::Reply, Some(note)) => {
                let text = Text {
                    text: note,
                    templated: true,
                    budget: 0,
                };
                let body = p.wrap(alert, &text);
                let body = if p.fits(&body) {
                    body
                } else {
                    self.cut_to_fit(alert, text)
                };
                p.post(&self.client, body, idempotency_key)
            }
            (StoryUpdates::Reply, None) => {
                Box::pin(async { Ok(SendOk::skipped("the story has one source: no note to send")) })
            }
            (StoryUpdates::Silent, _) => Box::pin(async {
                Ok(SendOk::skipped(
                    "story update not shown: this platform cannot edit the sent message \
                     (story_updates = \"reply\" posts a note)",
                ))
            }),
        }
    }

    fn digests(&self) -> bool {
        true
    }

    fn digest_fit(&self, d: &Digest) -> usize {
        digest::largest_fit(d.items().len(), |n| {
            n >= 2 && self.platform.digest_body(&d.first(n)).is_some()
        })
    }

    fn send_digest<'a>(&'a self, d: &'a Digest<'a>, idempotency_key: &'a str) -> SendFuture<'a> {
        match self.platform.digest_body(d) {
            Some(body) => self.platform.post(&self.client, body, idempotency_key),
            None => Box::pin(async {
                Err(SendError::permanent(
                    "the digest does not fit in one message",
                ))
            }),
        }
    }

    fn preview(&self, alert: &Alert) -> Option<Value> {
        Some(self.body(alert))
    }

    fn preview_digest(&self, d: &Digest) -> Option<Value> {
        self.platform.digest_body(d)
    }
}

/// A digest as one text: the headline in bold, then one line per alert
/// ([`Digest::line`]), in `markup`.
pub fn digest_text(markup: Markup, d: &Digest) -> String {
    let mut text = markup.bold(&markup.text(&d.headline()));
    for a in d.items() {
        text.push('\n');
        text.push_str(&d.line(a, markup));
    }
    text
}

/// POST a JSON body to a webhook URL that is a secret, classifying the reply the generic way
/// (Slack, Mattermost, Teams: none takes an idempotency key; `platform` names it in errors).
pub fn post_json<'a>(
    client: &'a reqwest::Client,
    url: &'a Secret,
    body: Value,
    platform: &'a str,
) -> SendFuture<'a> {
    Box::pin(async move {
        let req = http::with_json(client.post(url.expose()), &body);
        http::chat_outcome(http::execute(req).await?, platform, &[url.expose()])
    })
}

/// Length in UTF-16 code units, the unit JavaScript-based platforms (Discord, Telegram) count.
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Length in characters.
pub fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Serialized size in bytes.
pub fn json_len(v: &serde_json::Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

/// The longest pause a send waits out itself; a longer one is a retry later.
pub const WAIT_IN_SEND: Duration = Duration::from_secs(30);

/// Wait out a pause the platform announced on its last answer (rate-limit headers), or say
/// "retry later" if it is long; used by sinks that track their own bucket.
pub async fn wait_or_defer(until: Option<tokio::time::Instant>) -> Result<(), SendError> {
    let Some(until) = until else {
        return Ok(());
    };
    let left = until.saturating_duration_since(tokio::time::Instant::now());
    if left.is_zero() {
        return Ok(());
    }
    if left <= WAIT_IN_SEND {
        tokio::time::sleep(left).await;
        return Ok(());
    }
    Err(SendError::Retryable {
        message: "rate limited by the platform".into(),
        retry_after: Some(left),
    })
}

#[cfg(test)]
mod tests;
