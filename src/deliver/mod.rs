//! Delivery: alerts out of the outbox and into sinks.
//!
//! - [`alert`]: the stored [`Alert`] and its idempotency key.
//! - [`config`]: the sink types ([`SinkKind`]) and their typed configurations
//!   ([`SinkConfig`]), each parsed and checked by its sink's module; the registry `config/`
//!   is handed to type every `[[sink]]`.
//! - [`sink`]: the [`Sink`] trait every destination implements, [`SendError`] classification
//!   and [`build_sink`] from a [`crate::plan::SinkPlan`].
//! - [`webhook`]: generic JSON webhook, signed per Standard Webhooks.
//! - [`stdout`]: one JSON line per alert (demos, piping).
//! - Chat sinks, each a [`chat::Platform`] wrapped in a [`chat::ChatSink`] (which holds the
//!   client and template and fits every body to the platform's limits): [`slack`],
//!   [`mattermost`], [`discord`], [`teams`], [`googlechat`], [`matrix`], [`telegram`],
//!   [`ntfy`]; what they share: [`render`] (escaping, mentions, truncation), [`cut`] (cutting
//!   on safe boundaries), [`template`] (user templates), [`digest`] (bursts as one message)
//!   and [`http`] (the one HTTP client constructor, requests, replies).
//! - [`rate`]: per-sink rate limits.
//! - [`retry`]: backoff for failed deliveries.
//! - [`dispatcher`]: per-sink workers that claim due deliveries from the store and send them,
//!   rate-limited, as digests when they pile up.

pub mod alert;
pub mod chat;
pub mod config;
pub mod cut;
pub mod digest;
pub mod discord;
pub mod dispatcher;
pub mod googlechat;
pub mod http;
pub mod matrix;
pub mod mattermost;
pub mod ntfy;
pub mod rate;
pub mod render;
pub mod retry;
pub mod sink;
pub mod slack;
pub mod stdout;
pub mod teams;
pub mod telegram;
pub mod template;
pub mod update;
pub mod webhook;

pub use alert::{Alert, AlertHit, AlertSnippet, idempotency_key};
pub use config::{SinkConfig, SinkKind};
pub use sink::{SendError, SendOk, Sink, build_sink};
