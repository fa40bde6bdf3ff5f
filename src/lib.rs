//! newswatch: watches news feeds for the stories you cannot miss.
//!
//! Module map, in pipeline order:
//!
//! - [`config`]: TOML files → `RawConfig` → validated [`config::Plan`] (every error at once,
//!   with file:line:column); secrets by reference. Sinks there are a name, a type and a table.
//! - [`plan`]: that plan with each sink's settings typed by [`deliver::config`]: [`plan::Plan`]
//!   and [`plan::load`], what the rest of the program runs on.
//! - [`feed`]: fetching ([`feed::fetch`]), charset decoding, repair of broken XML, parsing RSS /
//!   Atom / JSON Feed into [`feed::FeedItem`]s with stable keys, HTML page autodiscovery, and
//!   [`feed::poll`], which strings those together.
//! - [`text`]: text folding with a map back to the original ([`text::fold`]), script classes for
//!   word boundaries, and HTML → plain text.
//! - [`matcher`]: the query language and [`matcher::WatchSet`], all watches in one automaton.
//! - [`story`]: grouping items into stories (same event, other outlet and title): signatures,
//!   the per-watch window index and the same-story decision; pure, not yet wired in.
//! - [`semantic`]: the local sentence-embedding model for watches by meaning (cargo feature
//!   `semantic`) and its tokenizer.
//! - [`store`]: durable state behind the [`store::Store`] trait (SQLite embedded): feeds, seen
//!   items, the delivery outbox.
//! - [`deliver`]: alerts, sinks (webhook, stdout, and the chat platforms), rendering, templates,
//!   rate limits, digests, retries and the per-sink dispatcher.
//! - [`ops`]: systemd notifications, logs, metrics and the HTTP status listener.
//! - [`daemon`]: the scheduler, one feed's refresh, and the lifecycle (signals, reload, `--once`).
//! - [`backtest`]: replaying the item archive through watches (`newswatch backtest`).
//! - `aside`: CPU-heavy work (large parses, large matching batches) on the blocking pool, one
//!   task per core.
//! - [`cli`]: the command line (`run`, `check`, `try`, `status`, `deliveries`, `send-test`,
//!   `backtest`).

mod aside;
pub mod backtest;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod deliver;
pub mod feed;
pub mod matcher;
pub mod ops;
mod panics;
pub mod plan;
pub mod semantic;
pub mod store;
pub mod story;
pub mod text;
