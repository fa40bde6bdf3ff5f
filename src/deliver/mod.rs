//! Delivery: alerts out of the outbox and into sinks.
//!
//! - [`alert`]: the stored [`Alert`] and its idempotency key.
//! - [`sink`]: the [`Sink`] trait every destination implements, [`SendError`] classification
//!   and [`build_sink`] from a [`crate::config::SinkPlan`].
//! - [`webhook`]: generic JSON webhook, signed per Standard Webhooks.
//! - [`stdout`]: one JSON line per alert (demos, piping).
//! - [`retry`]: backoff for failed deliveries.
//! - [`dispatcher`]: per-sink workers that claim due deliveries from the store and send them.

pub mod alert;
pub mod dispatcher;
pub mod retry;
pub mod sink;
pub mod stdout;
pub mod webhook;

pub use alert::{Alert, AlertHit, AlertSnippet, idempotency_key};
pub use sink::{SendError, SendOk, Sink, build_sink};
