//! Recording what one send of a unit came to, on all its rows at once: sent (with the
//! platform's message id), a dead letter, or a retry with the sink's pause (see [`Health`]).
//!
//! Owns [`record`] and [`unrecorded`], called by [`super::send`] only.

use std::time::Duration;

use super::health::{After, Health};
use super::outbox::Outbox;
use super::send::{BatchContext, DrainReport, LEASE, ms, sends_nothing};
use super::units::{Claimed, Unit};
use crate::deliver::retry::delivery_backoff;
use crate::deliver::sink::{SendError, SendOk};
use crate::store::{Millis, StoreError, now_millis};

/// Record a unit's result on all its rows at once; returns a pause time when the sink should
/// stop sending for a while.
pub(super) async fn record<S: Outbox>(
    cx: &BatchContext<'_, S>,
    items: &[Claimed],
    unit: &Unit,
    (result, started): (&Result<SendOk, SendError>, Millis),
    health: &mut Health,
    report: &mut DrainReport,
) -> Option<Millis> {
    let sink = cx.sink.name();
    let rows: Vec<&Claimed> = unit.members.iter().map(|&i| &items[i]).collect();
    let mut ids: Vec<i64> = rows.iter().map(|c| c.d.id).collect();
    let first = &rows[0];
    // Every row of a batch was claimed at once, under one claim.
    let claim = first.d.claimed_until;
    let attempts = rows.iter().map(|c| c.d.attempts).max().unwrap_or(0);
    let now = now_millis();
    let n = rows.len();
    let (outcome, pause) = match result {
        Ok(ok) => {
            if unit.digest && unit.update {
                tracing::info!(sink, updates = n, id = %unit.key, status = ?ok.status,
                    attempts = attempts + 1, "delivered a digest of story-update notes");
            } else if unit.digest {
                tracing::info!(sink, alerts = n, id = %unit.key, status = ?ok.status,
                    attempts = attempts + 1, "delivered a digest");
            } else if unit.update {
                tracing::info!(sink, watch = %first.alert.watch, updates = n, id = %unit.key,
                    status = ?ok.status, detail = %ok.detail, "delivered a story update");
            } else {
                tracing::info!(sink, watch = %first.alert.watch, feed = %first.alert.feed,
                    id = %unit.key, status = ?ok.status, attempts = attempts + 1, "delivered");
            }
            health.success();
            // The message id of an alert sent alone is kept: a story update edits it.
            // One done without a request is told apart: it spent none of the sink's rate. (An
            // edit the platform answered "not modified" or "unknown message" was a request.)
            let r = match ok.message_ref.as_deref() {
                _ if ok.skipped && sends_nothing(cx.sink, items, unit) => {
                    cx.store.mark_quiet(&ids, now).await
                }
                Some(m) if !unit.digest && !unit.update => {
                    cx.store.mark_sent_ref(ids[0], now, m).await
                }
                _ => cx.store.mark_sent(&ids, now).await,
            };
            (r.map(|_| if ok.skipped { "skipped" } else { "sent" }), None)
        }
        Err(SendError::Permanent { message }) => {
            tracing::warn!(sink, watch = %first.alert.watch, id = %unit.key,
                error = %message, "delivery failed permanently; kept as a dead letter");
            let r = cx.store.mark_dead(&ids, message, now, claim).await;
            (r.map(|all| if all { "dead" } else { "unrecorded" }), None)
        }
        Err(SendError::Retryable {
            message,
            retry_after,
        }) => {
            // Each row's own age: a digest formed after a pause holds alerts queued hours
            // apart, and an edit folds an old update with a fresh one. The unit judged by its
            // oldest row gave up on alerts queued hours before their `max_delivery_age`.
            let expired: Vec<i64> = rows
                .iter()
                .filter(|c| now - c.d.created_at > ms(cx.max_age))
                .map(|c| c.d.id)
                .collect();
            let all_expired = expired.len() == rows.len();
            if !expired.is_empty() && !all_expired {
                let msg = format!("gave up after {} attempts: {message}", attempts + 1);
                tracing::warn!(sink, watch = %first.alert.watch, id = %unit.key,
                    error = %msg, rows = expired.len(),
                    "deliveries too old; kept as dead letters, the rest of the unit retried");
                let r = cx.store.mark_dead_apart(&expired, &msg, now, claim).await;
                let r = r.map(|all| if all { "dead" } else { "unrecorded" });
                tally(sink, &expired, &r, &[], report);
                ids.retain(|id| !expired.contains(id));
            }
            if all_expired {
                let msg = format!("gave up after {} attempts: {message}", attempts + 1);
                tracing::warn!(sink, watch = %first.alert.watch, id = %unit.key,
                    error = %msg, "delivery too old; kept as a dead letter");
                let r = cx.store.mark_dead(&ids, &msg, now, claim).await;
                (r.map(|all| if all { "dead" } else { "unrecorded" }), None)
            } else {
                // `now` is truncated to the millisecond and read after the answer arrived;
                // one more millisecond keeps a receiver's Retry-After from being cut short by
                // the rounding (seen: the retry reached the receiver 1999.6 ms after its 429).
                let at = now.saturating_add(1 + ms(delivery_backoff(attempts, *retry_after)));
                // The unit by what its retries keep: its key (a digest's, after some of its
                // rows expired, too), or a story's edit by its story (its key is the newest
                // update's, which a new source changes). Another number would read as another
                // unit failing, an outage that pauses the whole sink.
                let id = match first.d.story_key.as_deref() {
                    Some(story) if unit.update && !unit.digest => {
                        unit_id(&format!("story {story}"))
                    }
                    _ => unit_id(&unit.key),
                };
                let after = health.failure(id, attempts + 1, *retry_after, at, (started, now));
                if retry_after.is_some() {
                    cx.store.keep_hint(sink, health.hinted_until()).await;
                }
                // The unit goes again once the sink's pause ends, not before: its stored time
                // says when (`status` showed the unit's own backoff, long past while the sink
                // paused for minutes).
                let at = match after {
                    After::Pause(p) => at.max(p),
                    After::MoveOn => at,
                };
                tracing::warn!(sink, watch = %first.alert.watch, id = %unit.key,
                    error = %message, retry_in_ms = at - now,
                    queue = if after == After::MoveOn { "moves on" } else { "pauses" },
                    "delivery failed; will retry");
                let r = cx.store.mark_retry(&ids, message, at, claim).await;
                let pause = match after {
                    After::Pause(p) => Some(p),
                    After::MoveOn => None,
                };
                (r.map(|all| if all { "retry" } else { "unrecorded" }), pause)
            }
        }
    };
    // From the match to the send, each row's own (a digest's oldest row's for all of them
    // put every sample of a digest at its oldest); an update carries its story's first alert,
    // matched maybe hours before, so it counts from when it was queued.
    let latencies: Vec<u64> = rows
        .iter()
        .map(|c| {
            let from = if unit.update {
                c.d.created_at
            } else {
                c.alert.matched_at.timestamp_millis()
            };
            (now - from).max(0) as u64
        })
        .collect();
    if tally(sink, &ids, &outcome, &latencies, report) {
        pause
    } else {
        // The lease expires and the unit is retried: at worst a repeat with the same key,
        // never a loss.
        Some(now + ms(LEASE))
    }
}

/// Counts what recording `ids` came to (`outcome`: the kind recorded, or the store's error)
/// in the metrics and the report; `false` when it could not be recorded. A sent row's
/// latency (ms) is `latencies`' entry beside its id.
fn tally(
    sink: &str,
    ids: &[i64],
    outcome: &Result<&'static str, StoreError>,
    latencies: &[u64],
    report: &mut DrainReport,
) -> bool {
    let n = ids.len();
    match outcome {
        Ok("unrecorded") => {
            unrecorded(sink, ids);
            report.retry += n;
            true
        }
        Ok(kind) => {
            for i in 0..n {
                let l = latencies.get(i).filter(|_| *kind == "sent");
                crate::ops::metrics::record_delivery(
                    sink,
                    kind,
                    l.map(|&l| Duration::from_millis(l)),
                );
            }
            match *kind {
                "sent" => report.sent += n,
                "skipped" => report.skipped += n,
                "dead" => report.dead += n,
                _ => report.retry += n,
            }
            true
        }
        Err(e) => {
            tracing::error!(sink, delivery = ?ids.first(), error = %e, "cannot record delivery result");
            report.retry += n;
            false
        }
    }
}

/// A number for the unit under `key`, the same at each of its retries (see [`Health::failure`]).
fn unit_id(key: &str) -> i64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish() as i64
}

/// A failure's result not recorded: the rows had been claimed again (the sink passed to
/// another instance while this one was sending) or recorded there. Whoever holds them now
/// retries them; overwriting that claim would let a third batch send them again.
pub(super) fn unrecorded(sink: &str, ids: &[i64]) {
    tracing::warn!(sink, delivery = ?ids.first(), rows = ids.len(),
        "failure not recorded: the deliveries were claimed again elsewhere, which retries them");
}
