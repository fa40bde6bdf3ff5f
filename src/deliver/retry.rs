//! Backoff for failed deliveries: exponential with full jitter, 1 s doubling to a 10 min cap,
//! never sooner than the receiver asked (`Retry-After`).
//!
//! Owns [`delivery_backoff`].

use std::time::Duration;

use rand::Rng;

/// First retry delay.
pub const BASE: Duration = Duration::from_secs(1);
/// Largest retry delay.
pub const CAP: Duration = Duration::from_secs(600);

/// Longest wait a receiver's retry hint can impose: a `Retry-After` of ten years (or a date far
/// in the future) must not park a sink for good.
pub const MAX_HINT: Duration = Duration::from_secs(6 * 3600);

/// Delay before attempt `attempts + 1`, given `attempts` failures so far.
pub fn delivery_backoff(attempts: u32, retry_after: Option<Duration>) -> Duration {
    let exp = BASE.saturating_mul(1u32 << attempts.min(20)).min(CAP);
    // Full jitter spreads retries of many alerts; at least 1 s so a hot loop is impossible.
    let jittered = rand::rng().random_range(BASE..=exp.max(BASE));
    match retry_after {
        Some(ra) => jittered.max(ra.min(MAX_HINT)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The delay's range doubles with each failure: a backoff stuck at 1 s would hammer a
    /// receiver that is down (every other test passed with `exp` fixed at `BASE`).
    #[test]
    fn backoff_grows_with_each_failure() {
        let longest = |attempts| {
            (0..400)
                .map(|_| delivery_backoff(attempts, None))
                .max()
                .unwrap_or_default()
        };
        // Full jitter over [1 s, 2^n s]: 400 draws all in the lower half has odds of 2^-400.
        assert!(longest(3) > Duration::from_secs(4), "{:?}", longest(3));
        assert!(longest(6) > Duration::from_secs(32), "{:?}", longest(6));
        assert!(longest(9) > Duration::from_secs(300), "{:?}", longest(9));
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        for _ in 0..100 {
            let d = delivery_backoff(0, None);
            assert!(d >= BASE && d <= Duration::from_secs(1));
            let d = delivery_backoff(30, None);
            assert!(d >= BASE && d <= CAP);
            let d = delivery_backoff(0, Some(Duration::from_secs(7)));
            assert!(d >= Duration::from_secs(7));
            let d = delivery_backoff(0, Some(Duration::from_secs(u64::MAX)));
            assert_eq!(d, MAX_HINT);
        }
    }

    /// A receiver's retry hint is honoured up to the 6 h the README promises, exactly: the cap
    /// was only ever compared with itself, so a wrong constant passed every test.
    #[test]
    fn a_retry_hint_is_honoured_up_to_six_hours() {
        let six_hours = Duration::from_secs(6 * 3600);
        let ten_years = Duration::from_secs(10 * 365 * 24 * 3600);
        assert_eq!(delivery_backoff(0, Some(ten_years)), six_hours);
        let just_under = six_hours - Duration::from_secs(1);
        assert_eq!(delivery_backoff(0, Some(just_under)), just_under);
    }
}
