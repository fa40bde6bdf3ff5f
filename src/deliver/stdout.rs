//! The stdout sink: one JSON line per alert (and per story update), the webhook payload plus
//! the idempotency key.
//!
//! Owns [`StdoutSink`]. Used by the offline demo and for piping alerts into other tools.

use std::io::Write;

use crate::deliver::alert::Alert;
use crate::deliver::sink::{SendError, SendFuture, SendOk, Sink};
use crate::deliver::webhook::Event;

/// `type = "stdout"` takes no settings.
pub const KEYS: &[crate::deliver::config::KeyDoc] = &[];

/// A stdout sink's configuration: there is nothing to configure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StdoutConfig;

/// One alert's line: the webhook payload plus `id`, the idempotency key.
pub fn line(alert: &Alert, idempotency_key: &str) -> serde_json::Value {
    event_line(alert, idempotency_key, Event::Matched)
}

/// The line of an event of either type (`alert.matched`, `alert.updated`).
pub fn event_line(alert: &Alert, idempotency_key: &str, event: Event) -> serde_json::Value {
    let mut v = crate::deliver::webhook::event_payload(alert, event);
    v["id"] = serde_json::Value::String(idempotency_key.to_string());
    v
}

pub struct StdoutSink {
    name: String,
}

impl StdoutSink {
    pub fn new(name: &str) -> Self {
        StdoutSink {
            name: name.to_string(),
        }
    }
}

/// Write one event as one line.
async fn print(v: serde_json::Value) -> Result<SendOk, SendError> {
    let line = serde_json::to_string(&v)
        .map_err(|e| SendError::permanent(format!("cannot encode alert: {e}")))?;
    // One write of the whole line, so concurrent writers never interleave within it.
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|_| out.flush())
        .map_err(|e| SendError::retryable(format!("cannot write to stdout: {e}")))?;
    Ok(SendOk::default())
}

impl Sink for StdoutSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, alert: &'a Alert, idempotency_key: &'a str) -> SendFuture<'a> {
        Box::pin(print(event_line(alert, idempotency_key, Event::Matched)))
    }

    fn update<'a>(
        &'a self,
        alert: &'a Alert,
        _message_ref: Option<&'a str>,
        idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        Box::pin(print(event_line(alert, idempotency_key, Event::Updated)))
    }

    /// The line without its `id` (which is per delivery).
    fn preview(&self, alert: &Alert) -> Option<serde_json::Value> {
        Some(crate::deliver::webhook::payload(alert))
    }
}
