//! Per-sink rate limits: `rate = "1/s"`, `"60/min"`, `"5/2s"` or `"off"`, with a default per
//! platform from its documented limits.
//!
//! Owns [`default_rate`] and [`Bucket`], the window of recent sends the dispatcher's per-sink
//! worker waits on before each send ([`Rate`] itself is parsed by the configuration). This is on top of 429 handling: a
//! receiver that still says "slow down" pauses the sink until its retry hint has passed.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

pub use crate::config::rate::{Rate, RateError};
use crate::deliver::config::SinkKind;
use crate::store::Millis;

/// The platform's documented limit, or a polite one where it documents none.
pub fn default_rate(kind: SinkKind) -> Option<Rate> {
    let s = Duration::from_secs;
    match kind {
        SinkKind::Stdout | SinkKind::Webhook => None,
        // Slack: 1 message per second per incoming webhook.
        SinkKind::Slack => Some(Rate::new(1, s(1))),
        // Discord: 5 per 2 s per webhook; one per second leaves room for other senders.
        SinkKind::Discord => Some(Rate::new(1, s(1))),
        // Telegram: at most 20 messages per minute to one group, one per second per chat
        // (core.telegram.org/bots/faq, "broadcasting"). One per 3 s never exceeds 20 in any
        // minute; a bucket of 20 per minute would allow 40 in the first one.
        SinkKind::Telegram => Some(Rate::new(1, s(3))),
        // Google Chat: 60 per minute per space. One per second never exceeds 60 in any
        // minute; a bucket of 60 per minute would allow 120 in the first one.
        SinkKind::GoogleChat => Some(Rate::new(1, s(1))),
        // Teams Workflows throttle at a few per second.
        SinkKind::Teams => Some(Rate::new(1, s(1))),
        // Synapse's default `rc_message`: 0.2 messages per second with a burst of 10. A
        // burst of 10 refilled at one per 6 s stays inside it.
        SinkKind::Matrix => Some(Rate::new(10, s(60))),
        // Mattermost's default server limit is 10/s per IP, shared with its users.
        SinkKind::Mattermost => Some(Rate::new(2, s(1))),
        // ntfy.sh allows bursts of 60 then one request per 5 s per visitor.
        SinkKind::Ntfy => Some(Rate::new(12, s(60))),
    }
}

/// A sink's sends within its rate's period: a send waits until fewer than `count` were made in
/// the last `per`, so no period of that length ever holds more than `count` (a token bucket
/// that starts full and refills as it goes lets through almost twice that within one: 119
/// messages in a minute under `"60/min"`).
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: Rate,
    /// When the latest sends were made, oldest first; at most `rate.count` of them.
    sent: VecDeque<Instant>,
}

impl Bucket {
    pub fn new(rate: Rate) -> Bucket {
        Bucket {
            rate,
            sent: VecDeque::new(),
        }
    }

    /// This bucket under `rate` from now on, with its sends kept (as many as `rate` counts):
    /// a sink's new worker goes on from its old one's sends.
    pub fn with_rate(mut self, rate: Rate) -> Bucket {
        self.rate = rate;
        self.trim();
        self
    }

    /// This bucket with the sends the store counted (`sent_at`: when each message the sink
    /// received in the last `per` went, as [`crate::store::Store::sends_since`] gives them,
    /// `now` the same clock's present) taken as well as its own: of the two, the later time at
    /// each rank from the newest, so neither a send it missed nor one the store does not know
    /// (a failed request) is forgotten. A worker that takes its sink's queue (a daemon's
    /// start, `run --once`, a takeover from another instance) goes on from the messages the
    /// sink received: started empty, a daemon restarted by systemd every few seconds sent a
    /// full burst each time.
    pub fn spent(mut self, sent_at: &[Millis], now: Millis) -> Bucket {
        let here = Instant::now();
        let mut counted: Vec<Instant> = sent_at
            .iter()
            .map(|&t| {
                let ago = u64::try_from(now.saturating_sub(t)).unwrap_or(0);
                here.checked_sub(Duration::from_millis(ago)).unwrap_or(here)
            })
            .collect();
        counted.sort();
        let own: Vec<Instant> = self.sent.iter().copied().collect();
        let ranks = own.len().max(counted.len());
        let newest = |v: &[Instant], rank: usize| v.len().checked_sub(rank + 1).map(|k| v[k]);
        let mut merged: Vec<Instant> = (0..ranks)
            .filter_map(|rank| newest(&own, rank).max(newest(&counted, rank)))
            .collect();
        merged.reverse();
        self.sent = merged.into();
        self.trim();
        self
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Keeps the latest `count` sends.
    fn trim(&mut self) {
        let keep = usize::try_from(self.rate.count).unwrap_or(usize::MAX);
        while self.sent.len() > keep {
            self.sent.pop_front();
        }
    }

    /// How long until a send is allowed (zero: now). Does not take it.
    pub fn wait_time(&mut self) -> Duration {
        let now = Instant::now();
        while self
            .sent
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= self.rate.per)
        {
            self.sent.pop_front();
        }
        let full = u32::try_from(self.sent.len()).unwrap_or(u32::MAX) >= self.rate.count;
        match self.sent.front() {
            Some(&oldest) if full => (oldest + self.rate.per).saturating_duration_since(now),
            _ => Duration::ZERO,
        }
    }

    /// Count a send; call when [`Bucket::wait_time`] is zero (else the period that held
    /// `count` sends holds one more).
    pub fn take(&mut self) {
        self.sent.push_back(Instant::now());
        self.trim();
    }

    /// Wait for a send to be allowed and count it.
    pub async fn acquire(&mut self) {
        loop {
            let wait = self.wait_time();
            if wait.is_zero() {
                self.take();
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_allows_a_burst_then_the_rate() {
        let mut b = Bucket::new(Rate::new(2, Duration::from_secs(1)));
        let start = Instant::now();
        for _ in 0..6 {
            b.acquire().await;
        }
        // Two at once, then four more at two per second.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_millis(2100),
            "{took:?}"
        );
    }

    /// Regression: Google Chat's default was a bucket of 60 per minute, which sends 60 at
    /// once and then one a second: 119 in the first minute, twice the platform's limit.
    #[tokio::test(start_paused = true)]
    async fn default_rates_keep_to_the_platforms_limit_in_the_first_minute() {
        for (kind, most) in [
            (SinkKind::GoogleChat, 60),
            (SinkKind::Telegram, 20),
            (SinkKind::Slack, 60),
        ] {
            let mut b = Bucket::new(default_rate(kind).unwrap());
            let start = Instant::now();
            let mut sent = 0;
            loop {
                b.acquire().await;
                if start.elapsed() >= Duration::from_secs(60) {
                    break;
                }
                sent += 1;
            }
            assert!(sent <= most, "{kind:?}: {sent} in the first minute");
        }
    }

    /// `n` send times `spacing` apart, the last one `last_ago` before now, in the store's
    /// milliseconds (now: `NOW`).
    const NOW: Millis = 1_000_000_000;
    fn sent_before(n: i64, spacing: Millis, last_ago: Millis) -> Vec<Millis> {
        (0..n).map(|k| NOW - last_ago - k * spacing).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_with_sends_counted_waits_for_the_oldest_to_leave_the_period() {
        // 10 per 60 s with 9 counted, the oldest 50 s ago: one left, then the next when the
        // oldest is 60 s old.
        let mut b = Bucket::new(Rate::new(10, Duration::from_secs(60)))
            .spent(&sent_before(9, 5_000, 10_000), NOW);
        assert_eq!(b.wait_time(), Duration::ZERO);
        b.take();
        assert_eq!(b.wait_time(), Duration::from_secs(10));
        // More counted than the rate holds: the newest `count` of them matter.
        let mut over = Bucket::new(Rate::new(2, Duration::from_secs(2)))
            .spent(&sent_before(50, 10, 1_000), NOW);
        assert_eq!(over.wait_time(), Duration::from_millis(1_000 - 10));
        // Counted sends older than the period hold nothing back.
        let mut old =
            Bucket::new(Rate::new(1, Duration::from_secs(2))).spent(&sent_before(3, 1, 5_000), NOW);
        assert_eq!(old.wait_time(), Duration::ZERO);
    }

    /// A bucket recounted when its worker takes the queue again keeps, at each rank from the
    /// newest, the later of its own send and the counted one: a count that misses sends (or
    /// its own failed requests, which the store does not count) does not free it early.
    #[tokio::test(start_paused = true)]
    async fn a_recounted_bucket_keeps_the_later_of_its_sends_and_the_count() {
        let mut b = Bucket::new(Rate::new(3, Duration::from_secs(3000)));
        b.take();
        b.take();
        // Its own two sends are newer than the one counted (which may be one of them): two
        // of three spent, not three.
        let mut b = b.spent(&sent_before(1, 0, 1_000_000), NOW);
        assert_eq!(b.wait_time(), Duration::ZERO);
        b.take();
        assert_eq!(b.wait_time(), Duration::from_secs(3000));
        // Its one send is newer than the newest counted, the older counted one stays.
        let mut b = Bucket::new(Rate::new(3, Duration::from_secs(3000)));
        b.take();
        let mut b = b.spent(&sent_before(2, 1_000_000, 1_000_000), NOW);
        b.take();
        assert_eq!(b.wait_time(), Duration::from_secs(1000));
        // The count knows more sends than the worker: it holds the worker back.
        let mut b = Bucket::new(Rate::new(3, Duration::from_secs(3000)))
            .spent(&sent_before(3, 1_000, 0), NOW);
        assert_eq!(b.wait_time(), Duration::from_secs(2998));
        // Emptied, then a whole period later recounted with three sends just made.
        let mut b = Bucket::new(Rate::new(3, Duration::from_secs(3000)));
        for _ in 0..3 {
            b.take();
        }
        tokio::time::advance(Duration::from_secs(3000)).await;
        let mut b = b.spent(&sent_before(3, 0, 0), NOW);
        assert_eq!(b.wait_time(), Duration::from_secs(3000));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_under_a_new_rate_keeps_what_it_spent() {
        let mut b = Bucket::new(Rate::new(3, Duration::from_secs(3)));
        for _ in 0..3 {
            b.acquire().await;
        }
        // Under 10 per 10 s, the three sends leave seven; the eleventh waits for the first
        // to be 10 s old.
        let mut b = b.with_rate(Rate::new(10, Duration::from_secs(10)));
        for _ in 0..7 {
            assert_eq!(b.wait_time(), Duration::ZERO);
            b.take();
        }
        assert_eq!(b.wait_time(), Duration::from_secs(10));
        // Moved to a smaller rate, it holds that rate's count, not its own.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut b = b.with_rate(Rate::new(1, Duration::from_secs(3)));
        b.take();
        assert_eq!(b.wait_time(), Duration::from_secs(3));
    }

    /// Regression: the rate was a token bucket that started full and refilled as it went, so
    /// `rate = "60/min"` sent 119 messages in the first minute and `"20/min"` 39, against a
    /// README that says each sink sends at most `rate` messages: no period of the rate's
    /// length may hold more than its count.
    #[tokio::test(start_paused = true)]
    async fn no_period_holds_more_sends_than_the_rate_counts() {
        for (count, per) in [(60, 60), (20, 60), (5, 2), (1, 1)] {
            let per = Duration::from_secs(per);
            let mut b = Bucket::new(Rate::new(count, per));
            let mut at = Vec::new();
            for k in 0..(4 * count) {
                b.acquire().await;
                at.push(Instant::now());
                if k % 7 == 3 {
                    // Idle now and then, so the period's start falls anywhere.
                    tokio::time::advance(Duration::from_millis(333)).await;
                }
            }
            for (i, t) in at.iter().enumerate() {
                let within = at[i..]
                    .iter()
                    .take_while(|u| u.duration_since(*t) < per)
                    .count();
                assert!(
                    within <= count as usize,
                    "{count}/{per:?}: {within} sends within one period"
                );
            }
            // And the sends keep flowing: 4 × count within about four periods.
            assert!(
                at[at.len() - 1].duration_since(at[0]) <= 4 * per,
                "{count}/{per:?}"
            );
        }
    }

    /// Send times of `n` messages through the default bucket of `kind`.
    async fn sends(kind: SinkKind, n: usize) -> Vec<Instant> {
        let mut b = Bucket::new(default_rate(kind).unwrap());
        let mut at = Vec::new();
        for _ in 0..n {
            b.acquire().await;
            at.push(Instant::now());
        }
        at
    }

    /// Regression: Telegram (20 per minute per group) and Matrix (Synapse's default 0.2 per
    /// second with a burst of 10) defaulted to 1/s, so every burst met 429s.
    #[tokio::test(start_paused = true)]
    async fn default_rates_stay_inside_the_platforms_limits() {
        let tg = sends(SinkKind::Telegram, 100).await;
        for (i, t) in tg.iter().enumerate() {
            let in_minute = tg[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < Duration::from_secs(60))
                .count();
            assert!(
                in_minute <= 20,
                "{in_minute} Telegram messages within a minute"
            );
        }
        // Synapse's leaky bucket: capacity 10, drains 0.2 per second; a send that finds it
        // full is refused.
        let mx = sends(SinkKind::Matrix, 100).await;
        let (mut level, mut last) = (0.0f64, mx[0]);
        for t in &mx {
            level = (level - t.duration_since(last).as_secs_f64() * 0.2).max(0.0);
            last = *t;
            assert!(
                level + 1.0 <= 10.0 + 1e-9,
                "Synapse would refuse: level {level}"
            );
            level += 1.0;
        }
    }
}
