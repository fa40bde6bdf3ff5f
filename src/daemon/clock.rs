//! Wall-clock steps: noticing them and moving the stored schedule along.
//!
//! Owns [`ClockWatch`] and [`clock_loop`]. The scheduler waits on the monotonic clock, but the
//! store keeps wall-clock times (retries, leases, delivery ages, next polls) so they survive a
//! restart. When the wall clock is stepped (an administrator, a VM resumed, NTP correcting a
//! bad start) those times would mean something else: stepped back an hour, every retry would
//! wait an extra hour; stepped forward a day, every failing delivery would look too old and
//! die. Every few seconds the loop compares how far the wall clock moved with how much
//! steady time passed ([`steady_millis`]: time that also runs while the machine sleeps), and
//! shifts the stored times by the difference.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::{Millis, Store, now_millis};

/// Differences below this are drift or scheduling noise, not a step (NTP slews at most
/// 0.5 ms per second).
const TOLERANCE_MS: Millis = 2_000;
/// How often the clocks are compared.
const EVERY: Duration = Duration::from_secs(5);

/// Milliseconds of a clock that only runs forward, steadily, and also while the machine is
/// suspended: `CLOCK_BOOTTIME` on Linux. `Instant` (`CLOCK_MONOTONIC`) stops during a
/// suspend, so waking from 8 hours of sleep looked like the wall clock stepped 8 hours
/// forward, and every stored retry and next poll, written by a correct clock, was pushed 8
/// hours back. Elsewhere, `Instant` from the first call.
pub fn steady_millis() -> Millis {
    #[cfg(target_os = "linux")]
    if let Some(t) = crate::aside::read_clock(libc::CLOCK_BOOTTIME) {
        return i64::try_from(t.as_millis()).unwrap_or(i64::MAX);
    }
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// The last (steady, wall) pair seen.
#[derive(Debug, Clone, Copy)]
pub struct ClockWatch {
    steady: Millis,
    wall: Millis,
}

impl ClockWatch {
    pub fn new(steady: Millis, wall: Millis) -> ClockWatch {
        ClockWatch { steady, wall }
    }

    /// The step of the wall clock since the last observation (positive: forward), if it is
    /// more than drift.
    pub fn observe(&mut self, steady: Millis, wall: Millis) -> Option<Millis> {
        let elapsed = steady.saturating_sub(self.steady).max(0);
        let step = wall.saturating_sub(self.wall).saturating_sub(elapsed);
        *self = ClockWatch { steady, wall };
        (step.abs() > TOLERANCE_MS).then_some(step)
    }
}

/// The steps observed and not yet moved into the store: a shift the store refused (busy,
/// unreachable) is tried again at the next look, with any step seen since. Dropped, a forward
/// step left pending deliveries a whole step older, and one failed send made them dead
/// letters past `max_delivery_age`.
///
/// Tried [`SHIFT_TRIES`] times at most: rows written after the step are on the new clock
/// already, and a shift that comes late moves them too (the store refusing for a minute, a
/// minute's worth); past that the step is given up, said, and the start's clamp is what
/// bounds the stored times.
#[derive(Debug, Default)]
struct Owed {
    step: Millis,
    tries: u32,
}

/// Looks (5 s apart) at which a step the store refused is tried again.
const SHIFT_TRIES: u32 = 12;

impl Owed {
    /// Adds the step just observed, if any; the whole step owed, if any.
    fn add(&mut self, step: Option<Millis>) -> Option<Millis> {
        if let Some(step) = step {
            self.step = self.step.saturating_add(step);
        }
        (self.step != 0).then_some(self.step)
    }

    /// `shifted` was moved into the store.
    fn paid(&mut self, shifted: Millis) {
        self.step = self.step.saturating_sub(shifted);
        self.tries = 0;
    }

    /// The store refused the shift: whether it is tried again (else it is given up).
    fn refused(&mut self) -> bool {
        self.tries += 1;
        if self.tries < SHIFT_TRIES {
            return true;
        }
        *self = Owed::default();
        false
    }
}

/// How far ahead of now a stored retry time may be: the longest wait a receiver can ask for.
/// Times beyond it (and history days ahead of today) are brought back by the store's
/// `clamp_times`, at start and after a step back.
pub(super) fn horizon() -> Millis {
    i64::try_from(crate::deliver::retry::MAX_HINT.as_millis()).unwrap_or(i64::MAX)
}

/// Watch for wall-clock steps until `token` is cancelled; shift the store's times by each.
pub async fn clock_loop<S: Store>(store: Arc<S>, token: CancellationToken) {
    let mut watch = ClockWatch::new(steady_millis(), now_millis());
    let mut owed = Owed::default();
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(EVERY) => {}
        }
        let step = watch.observe(steady_millis(), now_millis());
        if let Some(step) = step {
            tracing::warn!(
                step_ms = step,
                "the wall clock was stepped; moving stored poll and retry times along"
            );
        }
        let Some(due) = owed.add(step) else {
            continue;
        };
        match store.shift_times(due).await {
            Ok(()) => {
                owed.paid(due);
                // A step back leaves the history written meanwhile ahead of the clock.
                if due < 0
                    && let Err(e) = store.clamp_times(now_millis(), horizon()).await
                {
                    tracing::error!(error = %e, "cannot bring stored times back after a clock step back");
                }
            }
            Err(e) if owed.refused() => tracing::error!(error = %e, step_ms = due,
                "cannot move stored times after a clock step; trying again in a moment"),
            Err(e) => tracing::error!(error = %e, step_ms = due,
                "cannot move stored times after a clock step; given up: poll and retry times stay off by the step until the next start"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a step whose shift the store refused was forgotten (the new reading was
    /// already taken), so the stored times stayed a whole step off for good.
    #[test]
    fn a_step_the_store_refused_is_shifted_at_the_next_look() {
        let mut owed = Owed::default();
        assert_eq!(owed.add(None), None);
        assert_eq!(owed.add(Some(86_400_000)), Some(86_400_000));
        // The store refused it: owed still, with the next step added.
        assert_eq!(owed.add(None), Some(86_400_000));
        assert_eq!(owed.add(Some(-400_000)), Some(86_000_000));
        owed.paid(86_000_000);
        assert_eq!(owed.add(None), None);
        // A store that keeps refusing: the step is given up after SHIFT_TRIES looks (a late
        // shift moves rows written on the new clock too).
        assert_eq!(owed.add(Some(60_000)), Some(60_000));
        for _ in 1..SHIFT_TRIES {
            assert!(owed.refused());
            assert_eq!(owed.add(None), Some(60_000));
        }
        assert!(!owed.refused());
        assert_eq!(owed.add(None), None);
    }

    #[test]
    fn steps_are_told_from_elapsed_time_and_drift() {
        let t0 = 50_000;
        let mut w = ClockWatch::new(t0, 1_000_000);
        // 5 s pass on both clocks: nothing.
        assert_eq!(w.observe(t0 + 5_000, 1_005_000), None);
        // Slight drift: nothing.
        assert_eq!(w.observe(t0 + 10_000, 1_010_900), None);
        // 5 s pass, but the wall clock went back an hour.
        assert_eq!(
            w.observe(t0 + 15_000, 1_015_900 - 3_600_000),
            Some(-3_600_000)
        );
        // And forward a day.
        assert_eq!(
            w.observe(t0 + 20_000, 1_020_900 - 3_600_000 + 86_400_000),
            Some(86_400_000)
        );
    }

    /// Regression: elapsed time was read from `Instant`, which stops while the machine is
    /// suspended, so a resume looked like a forward step and pushed every stored retry back
    /// by the time slept. The steady clock is the boot clock, which counts a suspend: the
    /// kernel's uptime (`/proc/uptime`, also boot time) agrees with it.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_steady_clock_is_the_boot_clock_which_counts_a_suspend() {
        let uptime: f64 = std::fs::read_to_string("/proc/uptime")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let steady = steady_millis() as f64 / 1000.0;
        assert!(
            (steady - uptime).abs() < 2.0,
            "{steady} s against {uptime} s"
        );
        let a = steady_millis();
        std::thread::sleep(Duration::from_millis(20));
        assert!(steady_millis() >= a + 20);
    }
}
