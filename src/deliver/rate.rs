//! Per-sink rate limits: `rate = "1/s"`, `"60/min"`, `"5/2s"` or `"off"`, with a default per
//! platform from its documented limits.
//!
//! Owns [`default_rate`] and [`Bucket`], a token bucket the dispatcher's per-sink worker waits
//! on before each send ([`Rate`] itself is parsed by the configuration). This is on top of 429 handling: a
//! receiver that still says "slow down" pauses the sink until its retry hint has passed.

use std::time::Duration;

use tokio::time::Instant;

pub use crate::config::rate::{Rate, RateError};
use crate::deliver::config::SinkKind;

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

/// A token bucket: up to `count` sends at once, refilled at `count` per `per`.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: Rate,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub fn new(rate: Rate) -> Bucket {
        Bucket {
            rate,
            tokens: f64::from(rate.count),
            at: Instant::now(),
        }
    }

    /// This bucket under `rate` from now on, with what it has spent kept (never more tokens
    /// than `rate` holds): a sink's new worker goes on from its old one's bucket.
    pub fn with_rate(mut self, rate: Rate) -> Bucket {
        self.refill(Instant::now());
        self.tokens = self.tokens.min(f64::from(rate.count));
        self.rate = rate;
        self
    }

    /// This bucket with at most what `sent` messages in the last `per` leave of `count` (none
    /// below empty), whatever it held: a worker that takes its sink's queue (a daemon's
    /// start, `run --once`, a takeover from another instance) goes on from the messages the
    /// sink received ([`crate::store::Store::sends_since`]). Started full, a daemon restarted
    /// by systemd every few seconds sent a full burst each time.
    pub fn spent(mut self, sent: u32) -> Bucket {
        self.refill(Instant::now());
        let left = (f64::from(self.rate.count) - f64::from(sent)).max(0.0);
        self.tokens = self.tokens.min(left);
        self
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        let per_sec = f64::from(self.rate.count) / self.rate.per.as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_sec).min(f64::from(self.rate.count));
        self.at = now;
    }

    /// How long until a token is available (zero: now). Does not take it.
    pub fn wait_time(&mut self) -> Duration {
        self.refill(Instant::now());
        if self.tokens >= 1.0 {
            return Duration::ZERO;
        }
        let per_sec = f64::from(self.rate.count) / self.rate.per.as_secs_f64();
        Duration::from_secs_f64(((1.0 - self.tokens) / per_sec).max(0.0)) + Duration::from_millis(1)
    }

    /// Take a token; call when [`Bucket::wait_time`] is zero (else the bucket goes into debt
    /// and the next wait is longer).
    pub fn take(&mut self) {
        self.tokens -= 1.0;
    }

    /// Wait for a token and take it.
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

    #[tokio::test(start_paused = true)]
    async fn a_bucket_with_sends_spent_waits_for_them_to_refill() {
        // 10 per 60 s with 9 of them spent: one left, then one every 6 s.
        let mut b = Bucket::new(Rate::new(10, Duration::from_secs(60))).spent(9);
        assert_eq!(b.wait_time(), Duration::ZERO);
        b.take();
        let wait = b.wait_time();
        assert!(
            wait > Duration::from_secs(5)
                && wait <= Duration::from_secs(6) + Duration::from_millis(1),
            "{wait:?}"
        );
        // More spent than the bucket holds is empty, not in debt.
        let mut over = Bucket::new(Rate::new(2, Duration::from_secs(2))).spent(50);
        assert!(over.wait_time() <= Duration::from_secs(1) + Duration::from_millis(1));
    }

    /// A bucket recounted when its worker takes the queue again keeps the lower of what it
    /// holds and what the counted sends leave: a count that misses sends does not refill it.
    #[tokio::test(start_paused = true)]
    async fn a_recounted_bucket_keeps_the_lower_of_its_tokens_and_the_count() {
        let mut b = Bucket::new(Rate::new(3, Duration::from_secs(3000)));
        b.take();
        b.take();
        // One token left; one send counted would leave two.
        let mut b = b.spent(1);
        assert_eq!(b.wait_time(), Duration::ZERO);
        b.take();
        assert!(b.wait_time() > Duration::from_secs(900));
        // A bucket emptied, then refilled over a whole period, is refilled before the count
        // caps it: not topped up past what the count leaves afterwards.
        let mut b = Bucket::new(Rate::new(3, Duration::from_secs(3000)));
        for _ in 0..3 {
            b.take();
        }
        tokio::time::advance(Duration::from_secs(3000)).await;
        let mut b = b.spent(3);
        assert!(b.wait_time() > Duration::from_secs(900));
        // Three tokens; two sends counted leave one.
        let mut b = Bucket::new(Rate::new(3, Duration::from_secs(3000))).spent(2);
        b.take();
        assert!(b.wait_time() > Duration::from_secs(900));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_under_a_new_rate_keeps_what_it_spent() {
        let mut b = Bucket::new(Rate::new(3, Duration::from_secs(3)));
        for _ in 0..3 {
            b.acquire().await;
        }
        // Empty: under a rate of 10 per 10 s the next token is a second away, as before.
        let mut b = b.with_rate(Rate::new(10, Duration::from_secs(10)));
        let wait = b.wait_time();
        assert!(wait > Duration::from_millis(900), "{wait:?}");
        // A full bucket moved to a smaller rate holds that rate's burst, not its own.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut b = b.with_rate(Rate::new(1, Duration::from_secs(3)));
        b.take();
        assert!(
            b.wait_time() > Duration::from_secs(2),
            "{:?}",
            b.wait_time()
        );
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
