//! A receiver's retry hint (`Retry-After`, a platform's `retry_after`) kept in the store, beside
//! the worker's own copy in [`super::health::Health`].
//!
//! Why: the worker's copy lives as long as the process. A daemon restarted during a long hint
//! (Telegram's flood control asks for minutes), each `run --once` from cron, or another
//! instance taking the sink over (PostgreSQL) sent into the pause at once and met another 429,
//! each costing an attempt. The time is stored under the sink's name ([`Store::sink_state`]) and
//! read whenever a worker takes the sink's queue ([`wait_out`]).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::send::nap;
use crate::ops::liveness::Beat;
use crate::store::{Millis, Store, now_millis};

/// The key under the sink's stored state; sinks' own keys (a Telegram group's chat id) do not
/// start with `newswatch.`.
const KEY: &str = "newswatch.retry_hint_until";

/// Keep `until` as the sink's retry hint. A store that cannot say is logged and passed over:
/// the worker's own copy still pauses it.
pub(super) async fn save<S: Store>(store: &S, sink: &str, until: Millis) {
    if let Err(e) = store.set_sink_state(sink, KEY, &until.to_string()).await {
        tracing::warn!(sink, error = %e, "cannot store the receiver's retry hint");
    }
}

/// Until when the sink's receiver asked for a pause, 0 when it did not (or the store cannot
/// say).
pub(super) async fn load<S: Store>(store: &S, sink: &str) -> Millis {
    match store.sink_state(sink, KEY).await {
        Ok(v) => v.and_then(|v| v.parse().ok()).unwrap_or(0),
        Err(e) => {
            tracing::warn!(sink, error = %e, "cannot read the receiver's stored retry hint");
            0
        }
    }
}

/// Whenever a worker takes the sink's queue (first, or over from another instance): a hint
/// stored by whoever sent before (another instance, PostgreSQL) is waited out. The worker read
/// it once, at its start, usually before there was one, so an instance taking a paused sink
/// over in a rolling restart sent into the pause at once. False: the daemon stops.
pub(super) async fn wait_out<S: Store>(
    store: &S,
    sink: &str,
    beat: &Beat,
    token: &CancellationToken,
) -> bool {
    let until = load(store, sink).await;
    let wait = Duration::from_millis((until - now_millis()).max(0) as u64);
    if wait.is_zero() {
        return true;
    }
    tracing::info!(
        sink,
        wait_s = wait.as_secs(),
        "waiting out the receiver's retry hint before sending"
    );
    nap(wait, Some(beat), token).await
}
