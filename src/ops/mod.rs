//! Operations: what an operator sees and what systemd talks to.
//!
//! - [`notify`]: `sd_notify` (READY, STATUS, WATCHDOG, RELOADING, STOPPING).
//! - [`liveness`]: per-loop progress counters for the watchdog.
//! - [`logging`]: journald-friendly, plain or JSON logs.
//! - [`metrics`]: Prometheus metric names and recording.
//! - [`status`]: the status report shared by the HTTP API, the page and `newswatch status`.
//! - [`charts`]: the status page's 14-day charts, as inline SVG.
//! - [`http`]: the listener serving `/metrics`, `/healthz`, `/readyz`, `/api/status` and `/`.
//! - [`listen`]: its sockets: at most 64 at once, each closed after 30 s without a byte or
//!   60 s without an answer to a request it began.
//! - [`guard`]: the names a tokenless listener answers to, and the headers of every answer.

pub mod charts;
pub mod guard;
pub mod http;
pub mod listen;
pub mod liveness;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod status;
