//! The scheduler's side of a reload: the schedule synced with a new plan (feeds added
//! spread out, removed ones forgotten, changed ones scheduled again), and the next time of a
//! feed a reload changed while it was being polled.
//!
//! An `impl` block of [`Scheduler`]: the schedule's maps are its own.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use super::hosts::{self, host_key};
use super::{Done, Scheduler};
use crate::config::FeedPlan;
use crate::plan::Plan;
use crate::store::{FeedState, Store, now_millis};

impl<S: Store> Scheduler<S> {
    /// Schedule feeds the plan has and we do not; forget feeds (and hosts) it no longer has.
    /// At startup, `stored` holds the schedules of the last run; a reload passes `None` (a feed
    /// it adds is spread like a new one, whatever the store says).
    pub(super) fn sync_plan(&mut self, stored: Option<&HashMap<String, FeedState>>) {
        let plan = self.plan.borrow_and_update().clone();
        let now = now_millis();
        let start = Instant::now();
        self.index = plan
            .feeds
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        let index = &self.index;
        self.due.retain(|k, _| index.contains_key(k));
        self.moved_hosts.retain(|k, _| index.contains_key(k));
        self.failing.retain(|k| index.contains_key(k));
        self.stale_times.retain(|k| index.contains_key(k));
        // At start, the moves the last run stored (of feeds whose URL is unchanged).
        for f in &plan.feeds {
            let moved = stored
                .and_then(|m| m.get(&f.name))
                .map(|s| hosts::lives_on(f, Some(s)))
                .filter(|h| *h != host_key(&f.source));
            if let Some(h) = moved {
                self.moved_hosts.insert(f.name.clone(), h);
            }
        }
        // A feed whose address or interval a reload changed is scheduled again like a new one:
        // its old time (a backoff earned by the old address, an hour of a longer interval)
        // says nothing of it. Unless only its interval changed while it is failing: its time
        // is then a backoff or the server's `Retry-After`, earned by the same address (a
        // reload of `poll_interval` re-polled every failing feed within seconds). One being
        // polled is scheduled anew when its poll ends (see `finished`).
        if let Some(old) = self.synced.replace(plan.clone()) {
            let before: HashMap<&str, &FeedPlan> =
                old.feeds.iter().map(|f| (f.name.as_str(), f)).collect();
            for f in &plan.feeds {
                let changed = before.get(f.name.as_str()).is_some_and(|o| {
                    o.source != f.source
                        || (crate::daemon::refresh::interval(&old, o)
                            != crate::daemon::refresh::interval(&plan, f)
                            && !self.failing.contains(&f.name))
                });
                if changed && self.in_flight.contains(&f.name) {
                    self.stale_times.insert(f.name.clone());
                } else if changed {
                    self.due.remove(&f.name);
                }
                // A new address forgets the move (the poll fetches from the new address).
                if before
                    .get(f.name.as_str())
                    .is_some_and(|o| o.source != f.source)
                {
                    self.moved_hosts.remove(&f.name);
                }
            }
        }
        // Per-feed and per-host memory follows the configuration, so reloads do not grow it;
        // a host's semaphore still held by a poll in flight is kept until the next reload.
        let hosts: HashSet<String> = plan
            .feeds
            .iter()
            .map(|f| host_key(&f.source))
            .chain(self.moved_hosts.values().cloned())
            .collect();
        self.heap
            .retain(|Reverse((_, name))| index.contains_key(name));
        self.ctx.limits.retain_hosts(&hosts);
        // Feeds without a stored schedule start spread out: over 10 s for a few, over up to a
        // whole interval for thousands, so a big new config does not poll in one burst.
        let unscheduled = plan
            .feeds
            .iter()
            .filter(|f| !self.due.contains_key(&f.name))
            .count() as u64;
        let spread_all = Duration::from_secs(10).max(Duration::from_millis(6 * unscheduled));
        for f in &plan.feeds {
            if self.due.contains_key(&f.name) {
                continue;
            }
            let restored = stored
                .and_then(|m| m.get(&f.name))
                .filter(|s| s.config_url == f.source.to_string())
                .and_then(|s| s.next_poll_at);
            let every = crate::daemon::refresh::interval(&plan, f);
            let at = match restored {
                // A restart keeps the persisted schedule (already jittered), but never further
                // ahead than a feed can legitimately wait.
                Some(at) => {
                    let horizon = every.max(plan.daemon.backoff_cap).as_millis() as i64;
                    start + Duration::from_millis((at - now).clamp(0, horizon) as u64)
                }
                _ => {
                    let spread = every.min(spread_all).as_millis() as u64;
                    start + Duration::from_millis(rand::rng().random_range(0..=spread))
                }
            };
            self.schedule(&f.name, at);
        }
    }

    /// The wait before the next poll of a feed a reload changed while it was being polled
    /// (`done`: that poll). Another address is polled like a new feed, within seconds (what
    /// the old one earned, a backoff or a long interval, says nothing of it); another interval
    /// at most that interval from now, unless the poll failed (its backoff or the server's
    /// `Retry-After` was earned by the same address, as [`Self::sync_plan`] keeps it). A poll
    /// that polled nothing (its state unreadable, or the feed another instance's) keeps its
    /// own wait: it says nothing of either address.
    pub(super) fn anew(&self, plan: &Plan, feed: &FeedPlan, done: &Done) -> Option<Duration> {
        let Some((polled, _)) = &done.lives_on else {
            return done.next_in;
        };
        let every = crate::daemon::refresh::interval(plan, feed);
        match done.next_in {
            Some(next_in) if *polled == feed.source && done.failed => Some(next_in),
            Some(next_in) if *polled == feed.source => Some(next_in.min(every)),
            _ => {
                let spread = every.min(Duration::from_secs(10)).as_millis() as u64;
                Some(Duration::from_millis(rand::rng().random_range(0..=spread)))
            }
        }
    }
}
