//! The shape every chat sink shares: a platform renders bodies within its limits and posts
//! them; [`ChatSink`] turns that into a [`Sink`] with digests and previews.
//!
//! Owns [`Platform`], [`ChatSink`] and [`Body`]. A platform module (slack, discord, teams,
//! googlechat, matrix, telegram, ntfy) implements [`Platform`]: pure rendering (what the
//! snapshot tests see) plus one `post` that knows the platform's transport and error shapes.

use std::time::Duration;

use crate::deliver::alert::Alert;
use crate::deliver::config::SinkKind;
use crate::deliver::digest;
use crate::deliver::render::Markup;
use crate::deliver::sink::{SendError, SendFuture, Sink};
use crate::deliver::template::Template;

mod options;

pub use options::{CHAT_KEYS, ChatOptions, WEBHOOK_URL_KEYS, WebhookUrlConfig};

/// A chat platform: how it renders and how it is reached.
pub trait Platform: Send + Sync + 'static {
    /// The request body for one alert, always within the platform's limits.
    fn body(&self, alert: &Alert) -> serde_json::Value;

    /// One digest message carrying all of `alerts`, or `None` when they do not fit in one.
    fn digest_body(&self, alerts: &[Alert]) -> Option<serde_json::Value>;

    /// Post a body rendered by this platform, classifying the answer.
    fn post<'a>(&'a self, body: serde_json::Value, idempotency_key: &'a str) -> SendFuture<'a>;
}

/// A chat sink: a named [`Platform`].
pub struct ChatSink<P> {
    name: String,
    platform: P,
}

impl<P: Platform> ChatSink<P> {
    pub fn new(name: &str, platform: P) -> Self {
        ChatSink {
            name: name.to_string(),
            platform,
        }
    }
}

impl<P: Platform> Sink for ChatSink<P> {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, alert: &'a Alert, idempotency_key: &'a str) -> SendFuture<'a> {
        self.platform
            .post(self.platform.body(alert), idempotency_key)
    }

    fn digests(&self) -> bool {
        true
    }

    fn digest_fit(&self, alerts: &[Alert]) -> usize {
        digest::largest_fit(alerts.len(), |n| {
            n >= 2 && self.platform.digest_body(&alerts[..n]).is_some()
        })
    }

    fn send_digest<'a>(&'a self, alerts: &'a [Alert], idempotency_key: &'a str) -> SendFuture<'a> {
        match self.platform.digest_body(alerts) {
            Some(body) => self.platform.post(body, idempotency_key),
            None => Box::pin(async {
                Err(SendError::permanent(
                    "the digest does not fit in one message",
                ))
            }),
        }
    }

    fn preview(&self, alert: &Alert) -> Option<serde_json::Value> {
        Some(self.platform.body(alert))
    }

    fn preview_digest(&self, alerts: &[Alert]) -> Option<serde_json::Value> {
        self.platform.digest_body(alerts)
    }
}

/// The message text of one alert: the user's template if the sink has one, else the
/// platform's default, with the snippet cut to a budget so the caller can fit limits.
pub struct Body<'a> {
    pub kind: SinkKind,
    pub markup: Markup,
    pub template: Option<&'a Template>,
}

impl Body<'_> {
    /// The template's output, or `None` when there is no template or it failed on this alert
    /// (logged: the default message is sent instead, since an alert must not be lost to a
    /// template that worked on the sample but not on this item).
    pub fn templated(&self, alert: &Alert, snippet_chars: usize) -> Option<String> {
        let t = self.template?;
        match t.render(alert, self.markup, self.kind, snippet_chars) {
            Ok(s) if !s.trim().is_empty() => Some(s),
            Ok(_) => {
                tracing::warn!(sink_type = self.kind.name(), watch = %alert.watch,
                    "template rendered an empty message; sending the default one");
                None
            }
            Err(e) => {
                tracing::warn!(sink_type = self.kind.name(), watch = %alert.watch, error = %e,
                    "template failed on this alert; sending the default message");
                None
            }
        }
    }
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
    if left <= Duration::from_secs(30) {
        tokio::time::sleep(left).await;
        return Ok(());
    }
    Err(SendError::Retryable {
        message: "rate limited by the platform".into(),
        retry_after: Some(left),
    })
}
