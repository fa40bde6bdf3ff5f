//! When a feed is polled next: its interval, the jitter, the publisher's cache hints and the
//! backoff of a failing feed.
//!
//! Owns [`interval`], [`next_after_success`], [`next_after_failure`] and [`HINT_CAP`]; used by
//! the poll ([`super::refresh_feed`]) and the scheduler.

use std::time::Duration;

use rand::Rng;

use super::ms;
use crate::config::FeedPlan;
use crate::plan::Plan;
use crate::store::Millis;

/// The feed's effective interval: its own, else the daemon's, never below the floor.
pub fn interval(plan: &Plan, feed: &FeedPlan) -> Duration {
    feed.interval
        .unwrap_or(plan.daemon.poll_interval)
        .max(plan.daemon.min_poll_interval)
}

/// Up to 10% early, never late: feeds with one interval drift apart instead of firing
/// together, and no feed waits longer than its interval (the latency promise).
fn jitter(d: Duration) -> Duration {
    let f = rand::rng().random_range(0.9..=1.0);
    d.mul_f64(f)
}

/// Longest delay a publisher's cache hint can add when the feed's interval is shorter.
pub const HINT_CAP: Duration = Duration::from_secs(15 * 60);

/// Next poll after a success: the interval (jittered early), but not before the publisher's
/// `Cache-Control: max-age` or RSS `<ttl>`, each capped at max(interval, 15 min). A CDN's
/// `max-age=3600` must not turn a 2-minute feed into an hourly one whose items scroll away
/// unseen; `Retry-After` on 429/503 (a refusal, not a hint) is honoured on failure up to
/// `backoff_cap` (a failing feed is retried at least that often, whatever a server asks).
///
/// After a `baseline` (a new feed's first fetch) the wait is anywhere from 5 % of the interval
/// to all of it: new feeds' first fetches come in a burst (a new config of 30,000 feeds is
/// fetched within 3 minutes, not 5), and with the usual jitter the later rounds kept that
/// shape for hours (400 polls/s, then none); a uniform offset over one interval spreads them
/// evenly at once, never later than the interval.
pub fn next_after_success(
    plan: &Plan,
    feed: &FeedPlan,
    now: Millis,
    hints: &[Option<Duration>],
    baseline: bool,
) -> Millis {
    let every = interval(plan, feed);
    let base = if baseline {
        every.mul_f64(rand::rng().random_range(0.05..=1.0))
    } else {
        jitter(every)
    };
    let cap = every.max(HINT_CAP);
    let floor = hints.iter().flatten().map(|d| (*d).min(cap)).max();
    now.saturating_add(ms(floor.map_or(base, |f| base.max(f))))
}

/// Next poll after `failures` consecutive failures: exponential from the interval, full
/// jitter over the upper half, capped at `backoff_cap`, never sooner than `Retry-After`.
/// Never "disabled": the cap keeps it coming back.
pub fn next_after_failure(
    plan: &Plan,
    feed: &FeedPlan,
    now: Millis,
    failures: u32,
    retry_after: Option<Duration>,
) -> Millis {
    let cap = plan.daemon.backoff_cap;
    let exp = interval(plan, feed)
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(cap);
    // No sooner than `min_poll_interval`, failing or not.
    let d = exp
        .mul_f64(rand::rng().random_range(0.5..=1.0))
        .max(plan.daemon.min_poll_interval);
    let d = retry_after.map_or(d, |ra| d.max(ra.min(cap)));
    now.saturating_add(ms(d))
}
