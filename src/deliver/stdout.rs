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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::template::sample_alert;

    /// A line is the webhook's event payload plus the idempotency key as `id`, for both event
    /// types.
    #[test]
    fn a_line_is_the_event_payload_under_its_key() {
        let alert = sample_alert();
        for (event, name) in [
            (Event::Matched, "alert.matched"),
            (Event::Updated, "alert.updated"),
        ] {
            let mut expected = crate::deliver::webhook::event_payload(&alert, event);
            expected["id"] = serde_json::Value::String("nw_key".into());
            let got = event_line(&alert, "nw_key", event);
            assert_eq!(got, expected);
            assert_eq!(got["type"], name);
            assert_eq!(got["data"]["title"], alert.title.as_str());
        }
        assert_eq!(line(&alert, "nw_key")["type"], "alert.matched");
    }
}
