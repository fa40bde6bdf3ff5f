//! The per-host page rate: article pages to one host are spaced out, whichever feeds they come
//! from, and a host that answered `Retry-After` is left alone until then.
//!
//! Owns [`Pacer`]. A page reserves its host's next turn before it is fetched; a turn that
//! would come after the page's deadline is not reserved at all (the page is skipped and its
//! item matched on the feed's text), so skipped pages never push back the ones after them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Hosts' next free turns. Entries whose turn has passed are forgotten now and then, so the
/// map holds only hosts with pages in the last few seconds.
#[derive(Debug, Default)]
pub struct Pacer {
    next: Mutex<HashMap<String, Instant>>,
    /// Hosts that answered `Retry-After`, until when: turns reserved before the answer came
    /// are checked against it too.
    held: Mutex<HashMap<String, Instant>>,
}

/// Hosts kept before the ones whose turn has passed are swept out.
const SWEEP_AT: usize = 1024;

impl Pacer {
    /// Reserve `host`'s next turn, at least `gap` after the previous one, if it comes no later
    /// than `latest`. Returns when to start (possibly now).
    pub fn reserve(&self, host: &str, gap: Duration, latest: Instant) -> Option<Instant> {
        let now = Instant::now();
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        if next.len() >= SWEEP_AT {
            next.retain(|_, t| *t > now);
        }
        let turn = next.get(host).map_or(now, |t| (*t).max(now));
        if turn > latest {
            return None;
        }
        next.insert(host.to_string(), turn + gap);
        Some(turn)
    }

    /// The host asked us to wait (`Retry-After` on 429/503): no turn before `until`.
    pub fn hold(&self, host: &str, until: Instant) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let t = next.entry(host.to_string()).or_insert(until);
        *t = (*t).max(until);
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        held.retain(|_, t| *t > now);
        let t = held.entry(host.to_string()).or_insert(until);
        *t = (*t).max(until);
    }

    /// Until when `host` asked us to wait, if that is still ahead.
    pub fn held_until(&self, host: &str) -> Option<Instant> {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(host).copied().filter(|t| *t > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn turns_are_spaced_per_host_and_late_ones_are_not_reserved() {
        let p = Pacer::default();
        let s = Duration::from_secs(1);
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(10);
        let turns: Vec<_> = (0..15).map(|_| p.reserve("a", s, deadline)).collect();
        // Eleven turns fit in [0 s, 10 s]; the rest are refused without moving the next turn.
        let got: Vec<Duration> = turns.iter().flatten().map(|t| *t - t0).collect();
        let want: Vec<Duration> = (0..=10).map(Duration::from_secs).collect();
        assert_eq!(got, want);
        assert!(turns[11..].iter().all(Option::is_none));
        // Another host is not held up by the first.
        assert_eq!(p.reserve("b", s, deadline), Some(t0));
        // Time passes: a's next turn is where the last reserved one left it.
        tokio::time::advance(Duration::from_secs(30)).await;
        let now = Instant::now();
        assert_eq!(p.reserve("a", s, now + s), Some(now));
        assert_eq!(p.reserve("a", s, now + s), Some(now + s));
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_host_gets_no_turn_before_its_retry_after() {
        let p = Pacer::default();
        let now = Instant::now();
        p.hold("a", now + Duration::from_secs(120));
        // A shorter hold does not shorten a longer one.
        p.hold("a", now + Duration::from_secs(5));
        let s = Duration::from_secs(1);
        assert_eq!(p.reserve("a", s, now + Duration::from_secs(60)), None);
        let later = now + Duration::from_secs(120);
        assert_eq!(p.reserve("a", s, later), Some(later));
        assert_eq!(p.held_until("a"), Some(later));
        assert_eq!(p.held_until("b"), None);
        tokio::time::advance(Duration::from_secs(121)).await;
        assert_eq!(p.held_until("a"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn hosts_whose_turn_has_passed_are_swept_out() {
        let p = Pacer::default();
        let far = Instant::now() + Duration::from_secs(3600);
        for i in 0..SWEEP_AT {
            p.reserve(&format!("h{i}"), Duration::from_millis(10), far);
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        p.reserve("x", Duration::from_secs(1), far);
        assert_eq!(p.next.lock().unwrap().len(), 1);
    }

    /// The sweep kept only hosts whose turn was exactly now (`==` for `>`) unnoticed: a host
    /// with a turn still ahead must keep it, or its pages bunch up after every sweep.
    #[tokio::test(start_paused = true)]
    async fn a_sweep_keeps_hosts_whose_turn_is_still_ahead() {
        let p = Pacer::default();
        let t0 = Instant::now();
        let far = t0 + Duration::from_secs(7200);
        let hour = Duration::from_secs(3600);
        assert_eq!(p.reserve("slow", hour, far), Some(t0));
        for i in 0..SWEEP_AT {
            p.reserve(&format!("h{i}"), Duration::from_millis(10), far);
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        p.reserve("x", Duration::from_secs(1), far);
        assert_eq!(p.next.lock().unwrap().len(), 2, "slow and x are left");
        assert_eq!(p.reserve("slow", hour, far), Some(t0 + hour));
    }

    /// A hold ends at the time the host gave: asking at that very instant is allowed.
    #[tokio::test(start_paused = true)]
    async fn a_hold_ends_at_its_retry_after() {
        let p = Pacer::default();
        let until = Instant::now() + Duration::from_secs(120);
        p.hold("a", until);
        tokio::time::advance(Duration::from_secs(120)).await;
        assert_eq!(p.held_until("a"), None);
    }
}
