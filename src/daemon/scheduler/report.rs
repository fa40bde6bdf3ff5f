//! How a finished poll is reported: its log line and its metrics. Owns [`log_outcome`] and
//! [`record_metrics`]; [`Refreshed`] crosses in from the refresh.

use std::time::Duration;

use crate::daemon::refresh::Refreshed;

/// `fetched_in`: the feed's fetch and parse only (a poll's article pages and commit are not
/// what `newswatch_fetch_duration_seconds` says it measures).
pub(super) fn record_metrics(outcome: &Refreshed, fetched_in: Duration) {
    use crate::ops::metrics::{record_items, record_poll};
    match outcome {
        Refreshed::NotModified => record_poll("not_modified", fetched_in),
        Refreshed::Ok {
            items,
            new_items,
            suppressed,
            ..
        } => {
            record_poll("ok", fetched_in);
            record_items(*items, *new_items, *suppressed);
        }
        Refreshed::Failed { .. } => record_poll("error", fetched_in),
    }
}

pub(super) fn log_outcome(feed: &str, outcome: &Refreshed, took: Duration) {
    let ms = took.as_millis() as u64;
    match outcome {
        Refreshed::NotModified => tracing::debug!(feed, ms, "not modified"),
        Refreshed::Ok {
            items,
            new_items,
            enqueued,
            suppressed,
            baseline,
        } => tracing::info!(
            feed, ms, items, new_items, enqueued, suppressed, baseline, "polled"
        ),
        Refreshed::Failed { error } => tracing::warn!(feed, ms, error = %error, "poll failed"),
    }
}
