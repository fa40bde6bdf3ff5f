//! Wall-clock steps: noticing them and moving the stored schedule along.
//!
//! Owns [`ClockWatch`] and [`clock_loop`]. The scheduler waits on the monotonic clock, but the
//! store keeps wall-clock times (retries, leases, delivery ages, next polls) so they survive a
//! restart. When the wall clock is stepped (an administrator, a VM resumed, NTP correcting a
//! bad start) those times would mean something else: stepped back an hour, every retry would
//! wait an extra hour; stepped forward a day, every failing delivery would look too old and
//! die. Every few seconds the loop compares how far the wall clock moved with how much
//! monotonic time passed, and shifts the stored times by the difference.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::store::{Millis, Store, now_millis};

/// Differences below this are drift or scheduling noise, not a step (NTP slews at most
/// 0.5 ms per second).
const TOLERANCE_MS: Millis = 2_000;
/// How often the clocks are compared.
const EVERY: Duration = Duration::from_secs(5);

/// The last (monotonic, wall) pair seen.
#[derive(Debug, Clone, Copy)]
pub struct ClockWatch {
    mono: Instant,
    wall: Millis,
}

impl ClockWatch {
    pub fn new(mono: Instant, wall: Millis) -> ClockWatch {
        ClockWatch { mono, wall }
    }

    /// The step of the wall clock since the last observation (positive: forward), if it is
    /// more than drift.
    pub fn observe(&mut self, mono: Instant, wall: Millis) -> Option<Millis> {
        let elapsed = i64::try_from(mono.saturating_duration_since(self.mono).as_millis())
            .unwrap_or(i64::MAX);
        let step = wall.saturating_sub(self.wall).saturating_sub(elapsed);
        *self = ClockWatch { mono, wall };
        (step.abs() > TOLERANCE_MS).then_some(step)
    }
}

/// Watch for wall-clock steps until `token` is cancelled; shift the store's times by each.
pub async fn clock_loop<S: Store>(store: Arc<S>, token: CancellationToken) {
    let mut watch = ClockWatch::new(Instant::now(), now_millis());
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(EVERY) => {}
        }
        let Some(step) = watch.observe(Instant::now(), now_millis()) else {
            continue;
        };
        tracing::warn!(
            step_ms = step,
            "the wall clock was stepped; moving stored poll and retry times along"
        );
        if let Err(e) = store.shift_times(step).await {
            tracing::error!(error = %e, "cannot move stored times after a clock step");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_told_from_elapsed_time_and_drift() {
        let t0 = Instant::now();
        let mut w = ClockWatch::new(t0, 1_000_000);
        // 5 s pass on both clocks: nothing.
        assert_eq!(w.observe(t0 + Duration::from_secs(5), 1_005_000), None);
        // Slight drift: nothing.
        assert_eq!(w.observe(t0 + Duration::from_secs(10), 1_010_900), None);
        // 5 s pass, but the wall clock went back an hour.
        assert_eq!(
            w.observe(t0 + Duration::from_secs(15), 1_015_900 - 3_600_000),
            Some(-3_600_000)
        );
        // And forward a day.
        assert_eq!(
            w.observe(
                t0 + Duration::from_secs(20),
                1_020_900 - 3_600_000 + 86_400_000
            ),
            Some(86_400_000)
        );
    }
}
