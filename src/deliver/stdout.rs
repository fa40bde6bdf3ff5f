//! The stdout sink: one JSON line per alert, the webhook payload plus the idempotency key.
//!
//! Owns [`StdoutSink`]. Used by the offline demo and for piping alerts into other tools.

use std::io::Write;

use crate::deliver::alert::Alert;
use crate::deliver::sink::{SendError, SendFuture, SendOk, Sink};

/// `type = "stdout"` takes no settings.
pub const KEYS: &[crate::deliver::config::KeyDoc] = &[];

/// A stdout sink's configuration: there is nothing to configure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StdoutConfig;

/// One alert's line: the webhook payload plus `id`, the idempotency key.
pub fn line(alert: &Alert, idempotency_key: &str) -> serde_json::Value {
    let mut v = crate::deliver::webhook::payload(alert);
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

impl Sink for StdoutSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, alert: &'a Alert, idempotency_key: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            let v = line(alert, idempotency_key);
            let line = serde_json::to_string(&v)
                .map_err(|e| SendError::permanent(format!("cannot encode alert: {e}")))?;
            // One write of the whole line, so concurrent writers never interleave within it.
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}")
                .and_then(|_| out.flush())
                .map_err(|e| SendError::retryable(format!("cannot write to stdout: {e}")))?;
            Ok(SendOk {
                status: None,
                detail: String::new(),
            })
        })
    }

    /// The line without its `id` (which is per delivery).
    fn preview(&self, alert: &Alert) -> Option<serde_json::Value> {
        Some(crate::deliver::webhook::payload(alert))
    }
}
