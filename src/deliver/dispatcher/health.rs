//! Telling a sink-wide outage from one failing alert.
//!
//! Owns [`Health`]. A sink's worker pauses after a retryable failure, since the next alert
//! would usually meet the same outage. But a receiver that answers 500 to one payload only
//! (a poison alert) must not hold every later alert for a day: once an alert has failed
//! [`SUSPECT_AFTER`] times and no other alert has failed since the last success, the queue
//! moves on and that alert keeps its own backoff. Two different alerts failing in a row is an
//! outage: the sink pauses on its own growing backoff. A receiver's retry hint
//! (`Retry-After`, a platform's `retry_after`) always pauses the sink.

use std::collections::HashSet;
use std::time::Duration;

use crate::deliver::retry::delivery_backoff;
use crate::store::Millis;

/// Failures of one alert (or digest) after which, with others succeeding, it no longer holds
/// back the queue.
pub const SUSPECT_AFTER: u32 = 3;

/// What one sink's worker remembers of its failures since the last success.
#[derive(Debug, Default, Clone)]
pub struct Health {
    /// Consecutive failed attempts of this sink, any alert.
    streak: u32,
    /// The units (by a number their retries keep: see `record`) that failed since the last
    /// success.
    failed: HashSet<i64>,
    /// Until when the receiver asked the sink to wait (0: it did not).
    hinted_until: Millis,
    /// When the last failure that counted in `streak` was answered: a request sent before
    /// then failed in the same outage, and does not count again.
    counted_at: Millis,
}

/// What the worker does after a retryable failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Stop sending until this time.
    Pause(Millis),
    /// Go on with the next alert; the failed one waits for its own retry time.
    MoveOn,
}

fn ms(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Health {
    pub fn success(&mut self) {
        self.streak = 0;
        self.failed.clear();
        self.hinted_until = 0;
        self.counted_at = 0;
    }

    /// Until when the receiver's last retry hint asked the sink to wait (0: no hint since the
    /// last success).
    pub fn hinted_until(&self) -> Millis {
        self.hinted_until
    }

    /// After unit `unit` failed for the `failures`-th time (this one included), with the
    /// receiver's `hint` if any, and will be retried at `retry_at`; its request went out at
    /// `started` and was answered at `now`.
    ///
    /// The streak (which the outage's pause grows with) counts one failure per round of
    /// requests: those sent together, before the first of them failed, meet one outage
    /// once. Counted one by one, eight requests of a sink with `concurrency = 8` failing
    /// together took the pause to its 10-minute cap at once, and a receiver down for 35 s
    /// got nothing for 9 minutes.
    pub fn failure(
        &mut self,
        unit: i64,
        failures: u32,
        hint: Option<Duration>,
        retry_at: Millis,
        (started, now): (Millis, Millis),
    ) -> After {
        if started >= self.counted_at || self.streak == 0 {
            self.streak = self.streak.saturating_add(1);
            self.counted_at = now;
        }
        self.failed.insert(unit);
        if hint.is_some() {
            // The receiver said when: every alert would get the same answer before then.
            self.hinted_until = self.hinted_until.max(retry_at);
            return After::Pause(retry_at);
        }
        if self.failed.len() >= 2 {
            // Different alerts fail: an outage. Back off on the sink's own streak.
            let wait = delivery_backoff(self.streak.saturating_sub(1), None);
            return After::Pause(now.saturating_add(ms(wait)));
        }
        if failures < SUSPECT_AFTER {
            After::Pause(retry_at)
        } else {
            After::MoveOn
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poison_alert_stops_pausing_the_sink_after_three_failures() {
        let mut h = Health::default();
        assert_eq!(h.failure(1, 1, None, 1_000, (0, 0)), After::Pause(1_000));
        assert_eq!(h.failure(1, 2, None, 2_000, (0, 0)), After::Pause(2_000));
        assert_eq!(h.failure(1, 3, None, 4_000, (0, 0)), After::MoveOn);
        h.success();
        // Later failures of the same alert never pause the queue again while others succeed.
        assert_eq!(h.failure(1, 7, None, 600_000, (0, 0)), After::MoveOn);
    }

    /// An outage's pause grows with the sink's streak of failures: a pause stuck at its
    /// first 1-2 s probed a down receiver every second through the whole backlog (the test
    /// above checks the first pause only).
    #[test]
    fn an_outages_pause_grows_with_the_streak() {
        let mut h = Health::default();
        for unit in 0..12 {
            h.failure(unit, 1, None, 1_000, (0, 0));
        }
        // Twelve failures in a row: the backoff's range reaches its 10-minute cap, and its
        // full jitter stays under a minute in fewer than one draw in ten.
        let mut draws = Vec::new();
        for unit in 12..40 {
            if let After::Pause(at) = h.failure(unit, 1, None, 1_000, (0, 0)) {
                draws.push(at);
            }
        }
        let over_a_minute = draws.iter().filter(|&&at| at > 60_000).count();
        assert!(
            over_a_minute > draws.len() / 2,
            "pauses after twelve failures: {draws:?}"
        );
    }

    /// Regression: a webhook sink with `concurrency = 8` had eight requests out when its
    /// receiver went down; their eight failures counted as eight rounds, the pause reached
    /// its 10-minute cap at once, and a receiver down for 35 s got nothing for 9 minutes. A
    /// round of requests sent together counts once; the next round, sent after the pause,
    /// counts again.
    #[test]
    fn requests_sent_together_fail_as_one_round_of_the_outage() {
        let mut h = Health::default();
        // Eight requests went out at 100 and fail from 1,000 on.
        let mut pauses = Vec::new();
        for unit in 0..8 {
            pauses.push(h.failure(unit, 1, None, 2_000, (100, 1_000 + unit)));
        }
        assert_eq!(h.streak, 1, "one round");
        // Every pause of the round is the first step's (1-2 s), none a minute.
        for p in &pauses[1..] {
            let After::Pause(at) = *p else {
                panic!("{pauses:?}")
            };
            assert!(at <= 1_007 + 2_000, "{pauses:?}");
        }
        // The next round, sent after the first failure was answered, counts again.
        h.failure(8, 1, None, 5_000, (3_000, 3_500));
        h.failure(9, 1, None, 5_000, (3_000, 3_600));
        assert_eq!(h.streak, 2);
        // Twelve rounds of eight reach what twelve single failures reach.
        let mut h = Health::default();
        for round in 0..12 {
            for unit in 0..8 {
                let at = round * 10_000;
                h.failure(round * 8 + unit, 1, None, at + 5_000, (at, at + 500 + unit));
            }
        }
        assert_eq!(h.streak, 12);
    }

    #[test]
    fn a_success_forgets_which_alerts_failed() {
        let mut h = Health::default();
        assert_eq!(h.failure(1, 1, None, 1_000, (0, 0)), After::Pause(1_000));
        h.success();
        // Another alert failing after a success is no outage: it waits for its own retry time.
        assert_eq!(h.failure(2, 1, None, 5_000, (0, 0)), After::Pause(5_000));
    }

    #[test]
    fn different_alerts_failing_is_an_outage_and_a_hint_always_pauses() {
        let mut h = Health::default();
        assert_eq!(h.failure(1, 5, None, 300_000, (0, 0)), After::MoveOn);
        match h.failure(2, 1, None, 1_000, (0, 0)) {
            After::Pause(at) => assert!((1_000..=2_000).contains(&at), "{at}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(h.hinted_until(), 0, "an outage is no receiver's hint");
        let mut h = Health::default();
        assert_eq!(
            h.failure(1, 9, Some(Duration::from_secs(30)), 30_000, (0, 0)),
            After::Pause(30_000)
        );
        assert_eq!(h.hinted_until(), 30_000);
        h.success();
        assert_eq!(h.hinted_until(), 0);
    }
}
