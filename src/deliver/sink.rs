//! The sink interface: one destination's wire format and error classification.
//!
//! Owns [`Sink`], [`SendOk`], [`SendError`], [`SinkMemory`] and [`build_sink`]. The
//! dispatcher calls [`Sink::send`] with a stored [`Alert`] and its idempotency key (or
//! [`Sink::send_digest`] with a burst of them); each sink renders its own payload at send time
//! and classifies failures as retryable (with the platform's retry hint) or permanent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::deliver::alert::Alert;
use crate::deliver::config::SinkConfig;
use crate::deliver::digest::Digest;
use crate::plan::SinkPlan;

/// The longest one send may take, everything included: the longest a sink's send can run is
/// a Telegram message moved to a migrated chat and resent as plain text (three requests of up
/// to 30 s each), or a wait the platform announced (up to 30 s) and a request after it
/// (Discord; a Matrix alias lookup and the send are two requests); a test ties this to them.
/// Past it the send counts as failed and is retried under the same key. The daemon's default
/// shutdown grace is longer, so a stop lets a send in flight finish instead of cutting it off
/// halfway (a cut-off send may have arrived, and platforms that ignore the key would show it
/// twice).
pub const SEND_LIMIT: Duration = Duration::from_secs(120);

/// What the receiver answered, for logs and `send-test`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOk {
    pub status: Option<u16>,
    pub detail: String,
    /// The platform's id of the message sent (Discord message id, Matrix event id, Telegram
    /// message id), kept with the delivery so a story update can edit that message.
    pub message_ref: Option<String>,
    /// Nothing was sent: a story update with nothing to show on this sink. Done all the
    /// same, but counted apart from what reached the platform.
    pub skipped: bool,
}

impl SendOk {
    /// A story update a sink chose not to send (its platform cannot edit, and follow-up
    /// notes are off): done, with why for the logs.
    pub fn skipped(why: impl Into<String>) -> SendOk {
        SendOk {
            status: None,
            detail: why.into(),
            message_ref: None,
            skipped: true,
        }
    }
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: network errors, timeouts, 5xx, 408, 429.
    #[error("{message}")]
    Retryable {
        message: String,
        /// The receiver's own hint (`Retry-After`, `retry_after`...), a lower bound.
        retry_after: Option<Duration>,
    },
    /// Will never succeed as is: other 4xx, a payload the receiver rejects, a deleted webhook.
    #[error("{message}")]
    Permanent { message: String },
}

impl SendError {
    pub fn retryable(message: impl Into<String>) -> Self {
        SendError::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        SendError::Permanent {
            message: message.into(),
        }
    }

    /// Classify an HTTP status the generic way: 408 and 429 and 5xx retry, other 4xx do not.
    pub fn from_status(status: u16, body: &str, retry_after: Option<Duration>) -> Self {
        let snippet: String = body.chars().take(200).collect();
        let message = if snippet.trim().is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {}", snippet.trim())
        };
        if status == 408 || status == 429 || status >= 500 {
            SendError::Retryable {
                message,
                retry_after,
            }
        } else {
            SendError::Permanent { message }
        }
    }
}

/// A boxed send future; sinks are used as trait objects, one per configured sink.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<SendOk, SendError>> + Send + 'a>>;

/// A destination for alerts.
pub trait Sink: Send + Sync {
    /// The configured sink name.
    fn name(&self) -> &str;

    /// Deliver one alert. `idempotency_key` is the same on every attempt for this alert and sink.
    fn send<'a>(&'a self, alert: &'a Alert, idempotency_key: &'a str) -> SendFuture<'a>;

    /// Whether this sink can combine a burst of alerts into digest messages (chat sinks can;
    /// webhook and stdout receivers get every alert as its own event).
    fn digests(&self) -> bool {
        false
    }

    /// How many of the leading lines of `digest` one digest message carries within the
    /// platform's limits: at least 1 (1 meaning "send the first one alone").
    fn digest_fit(&self, digest: &Digest) -> usize {
        let _ = digest;
        1
    }

    /// Deliver `digest` as one message; `idempotency_key` is derived from its rows' keys
    /// ([`crate::deliver::digest::digest_key`]).
    fn send_digest<'a>(
        &'a self,
        digest: &'a Digest<'a>,
        idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        let _ = (digest, idempotency_key);
        Box::pin(async { Err(SendError::permanent("this sink sends no digests")) })
    }

    /// Deliver a story update: `alert` is the story's first alert with
    /// [`Alert::story`](crate::deliver::alert::Alert::story) naming every source so far, and
    /// `message_ref` the platform's id of the message that first alert was sent as, when the
    /// sink returned one. `idempotency_key` is this update's own (the same on every attempt).
    /// Sinks that can edit a sent message do; the others do what their `story_updates`
    /// setting says (nothing, by default). The default: nothing, done.
    fn update<'a>(
        &'a self,
        alert: &'a Alert,
        message_ref: Option<&'a str>,
        idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        let _ = (alert, message_ref, idempotency_key);
        Box::pin(async { Ok(SendOk::skipped("this sink shows no story updates")) })
    }

    /// Whether [`Sink::update`] may make a request for `alert`'s update of the message
    /// `message_ref`. `false` only when it certainly makes none (it cannot edit, and sends no
    /// notes or has none to send): such an update takes none of the sink's rate and is listed
    /// as done without a message. The default: it may.
    fn update_sends(&self, alert: &Alert, message_ref: Option<&str>) -> bool {
        let _ = (alert, message_ref);
        true
    }

    /// Whether [`Sink::update`] of the message `message_ref` would post a follow-up note (the
    /// platform cannot edit it, and the sink's `story_updates` is `"reply"`): such notes
    /// waiting in a burst go out together, as a digest of notes ([`Digest::notes`]). The
    /// default: never.
    fn update_is_note(&self, message_ref: Option<&str>) -> bool {
        let _ = message_ref;
        false
    }

    /// The JSON body [`Sink::send`] would post for `alert`, without sending it (snapshot tests,
    /// `send-test`); `None` for sinks that have no single body.
    fn preview(&self, alert: &Alert) -> Option<serde_json::Value> {
        let _ = alert;
        None
    }

    /// The JSON body of `digest`, if it fits in one message.
    fn preview_digest(&self, digest: &Digest) -> Option<serde_json::Value> {
        let _ = digest;
        None
    }
}

/// A boxed future for [`SinkMemory`].
pub type MemFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Facts a sink learns at run time and must keep across restarts (a Telegram group's new chat
/// id after migration). Backed by the store; errors are logged by the implementation and
/// reported as "not found" / "not saved" because a sink must keep delivering regardless.
pub trait SinkMemory: Send + Sync {
    fn get<'a>(&'a self, sink: &'a str, key: &'a str) -> MemFuture<'a, Option<String>>;
    fn set<'a>(&'a self, sink: &'a str, key: &'a str, value: &'a str) -> MemFuture<'a, bool>;
}

/// [`SinkMemory`] on top of any [`crate::store::Store`].
pub struct StoreMemory<S>(pub Arc<S>);

impl<S: crate::store::Store> SinkMemory for StoreMemory<S> {
    fn get<'a>(&'a self, sink: &'a str, key: &'a str) -> MemFuture<'a, Option<String>> {
        Box::pin(async move {
            match self.0.sink_state(sink, key).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(sink, key, error = %e, "cannot read sink state");
                    None
                }
            }
        })
    }

    fn set<'a>(&'a self, sink: &'a str, key: &'a str, value: &'a str) -> MemFuture<'a, bool> {
        Box::pin(async move {
            match self.0.set_sink_state(sink, key, value).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(sink, key, error = %e, "cannot save sink state");
                    false
                }
            }
        })
    }
}

/// An in-memory [`SinkMemory`] (tests, `send-test`).
#[derive(Default)]
pub struct MemoryOnly(std::sync::Mutex<std::collections::HashMap<(String, String), String>>);

impl SinkMemory for MemoryOnly {
    fn get<'a>(&'a self, sink: &'a str, key: &'a str) -> MemFuture<'a, Option<String>> {
        let v = self
            .0
            .lock()
            .ok()
            .and_then(|m| m.get(&(sink.to_string(), key.to_string())).cloned());
        Box::pin(async move { v })
    }

    fn set<'a>(&'a self, sink: &'a str, key: &'a str, value: &'a str) -> MemFuture<'a, bool> {
        let ok = self
            .0
            .lock()
            .map(|mut m| m.insert((sink.to_string(), key.to_string()), value.to_string()))
            .is_ok();
        Box::pin(async move { ok })
    }
}

/// Build the sink for a validated plan entry. `client` is shared by all HTTP sinks; `memory`
/// keeps what sinks learn across restarts (a migrated Telegram chat id).
pub fn build_sink(
    plan: &SinkPlan,
    client: &reqwest::Client,
    memory: Arc<dyn SinkMemory>,
) -> Result<Arc<dyn Sink>, String> {
    use crate::deliver::chat::ChatSink;
    use crate::deliver::{discord, googlechat, matrix, mattermost, ntfy, slack, teams, telegram};
    let c = client.clone();
    let name = plan.name.as_str();
    Ok(match &plan.config {
        SinkConfig::Stdout(_) => Arc::new(crate::deliver::stdout::StdoutSink::new(name)),
        SinkConfig::Webhook(w) => Arc::new(crate::deliver::webhook::WebhookSink::new(name, w, c)),
        SinkConfig::Slack(s) => Arc::new(ChatSink::new(name, c, &s.chat, slack::Slack::new(s))),
        SinkConfig::Mattermost(m) => Arc::new(ChatSink::new(
            name,
            c,
            &m.chat,
            mattermost::Mattermost::new(m),
        )),
        SinkConfig::Discord(d) => Arc::new(ChatSink::new(
            name,
            c,
            &d.chat,
            discord::Discord::new(name, d).map_err(|e| format!("sink `{name}`: {e}"))?,
        )),
        SinkConfig::Teams(t) => Arc::new(ChatSink::new(name, c, &t.chat, teams::Teams::new(t))),
        SinkConfig::GoogleChat(g) => Arc::new(ChatSink::new(
            name,
            c,
            &g.chat,
            googlechat::GoogleChat::new(g),
        )),
        SinkConfig::Matrix(m) => Arc::new(ChatSink::new(name, c, &m.chat, matrix::Matrix::new(m))),
        SinkConfig::Telegram(t) => Arc::new(ChatSink::new(
            name,
            c,
            &t.chat,
            telegram::Telegram::new(name, t, memory),
        )),
        SinkConfig::Ntfy(n) => Arc::new(ChatSink::new(name, c, &n.chat, ntfy::Ntfy::new(n))),
    })
}
