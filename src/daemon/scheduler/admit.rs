//! Which due feeds get a poll task now, and which wait in line for one.
//!
//! Owns [`Admission`]; feed names and host keys go in and out, nothing else crosses. A poll
//! task waits for its host's permit, a poll slot and a global fetch permit (see
//! `feed::limits`). When the daemon falls behind (a first round of 100,000 new feeds, each a
//! baseline, takes longer than one interval), spawning a task for every due feed made tens of
//! thousands of tasks wait for those permits, each holding its feed's configuration: 88 MB at
//! 100,000 feeds. Here a due feed waits as its name in a queue instead, and becomes a task only
//! when the task has a chance to run soon:
//!
//! - at most [`Admission::host_cap`] tasks per host (the host's permits times the polls a
//!   fetch slot may have between fetch and store), so one slow host never holds the tasks
//!   every other host needs; its other feeds wait in its own line, in due order;
//! - at most [`Admission::total_cap`] tasks in all, so the tasks waiting for a global permit
//!   are bounded by the configuration, not by the number of feeds.
//!
//! A finished poll frees its place; a feed waiting on that host comes first, then the common
//! line. Feeds leave in due order per host.

use std::collections::{HashMap, VecDeque};

/// The lines of due feeds not yet started, and the count of tasks started and not finished.
#[derive(Debug)]
pub(super) struct Admission {
    host_cap: usize,
    total_cap: usize,
    /// Tasks started and not finished, per host (plus feeds promoted to `resume`).
    running: HashMap<String, usize>,
    /// Tasks started and not finished, in all.
    total: usize,
    /// Feeds pushed and not yet handed out by `next`.
    queued: usize,
    /// Due feeds, in due order, not yet looked at.
    ready: VecDeque<String>,
    /// Feeds held back because their host had `host_cap` tasks, per host, in due order.
    waiting: HashMap<String, VecDeque<String>>,
    /// Feeds whose host freed a place (already counted in `running`), started first.
    resume: VecDeque<(String, String)>,
}

/// The next feed to start, and its host; `host` is `None` when the feed is no longer
/// configured (the caller forgets it).
pub(super) type Next = (String, Option<String>);

impl Admission {
    pub(super) fn new(host_cap: usize, total_cap: usize) -> Admission {
        Admission {
            host_cap: host_cap.max(1),
            total_cap: total_cap.max(1),
            running: HashMap::new(),
            total: 0,
            queued: 0,
            ready: VecDeque::new(),
            waiting: HashMap::new(),
            resume: VecDeque::new(),
        }
    }

    /// A feed fell due: it joins the common line.
    pub(super) fn push(&mut self, feed: String) {
        self.ready.push_back(feed);
        self.queued += 1;
    }

    /// The next feed to start now, counted as running; `None` when none may start.
    /// `host_of` gives a feed's host key, `None` if the feed is gone.
    pub(super) fn next(&mut self, host_of: impl Fn(&str) -> Option<String>) -> Option<Next> {
        while self.total < self.total_cap {
            if let Some((feed, host)) = self.resume.pop_front() {
                self.total += 1;
                self.queued -= 1;
                return Some((feed, Some(host)));
            }
            let feed = self.ready.pop_front()?;
            let Some(host) = host_of(&feed) else {
                self.queued -= 1;
                return Some((feed, None));
            };
            let running = self.running.entry(host.clone()).or_insert(0);
            if *running >= self.host_cap {
                self.waiting.entry(host).or_default().push_back(feed);
                continue;
            }
            *running += 1;
            self.total += 1;
            self.queued -= 1;
            return Some((feed, Some(host)));
        }
        None
    }

    /// A task of `host` finished (or was never spawned after `next` counted it).
    pub(super) fn done(&mut self, host: &str) {
        self.total = self.total.saturating_sub(1);
        if let Some(line) = self.waiting.get_mut(host)
            && let Some(feed) = line.pop_front()
        {
            // The freed place goes to the host's next feed: `running` stays as it is.
            if line.is_empty() {
                self.waiting.remove(host);
            }
            self.resume.push_back((feed, host.to_string()));
            return;
        }
        if let Some(n) = self.running.get_mut(host) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.running.remove(host);
            }
        }
    }

    /// Tasks started and not finished.
    pub(super) fn started(&self) -> usize {
        self.total
    }

    /// Feeds due and not started.
    pub(super) fn queued(&self) -> usize {
        self.queued
    }

    #[cfg(test)]
    pub(super) fn host_cap(&self) -> usize {
        self.host_cap
    }

    #[cfg(test)]
    pub(super) fn total_cap(&self) -> usize {
        self.total_cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds "h{host}-{n}" belong to host "h{host}".
    fn host_of(feed: &str) -> Option<String> {
        feed.split('-').next().map(str::to_string)
    }

    fn drain(a: &mut Admission) -> Vec<String> {
        std::iter::from_fn(|| a.next(host_of))
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn a_slow_host_takes_its_cap_and_the_others_still_start() {
        let mut a = Admission::new(2, 10);
        for n in 0..5 {
            a.push(format!("slow-{n}"));
        }
        a.push("fast-0".into());
        assert_eq!(drain(&mut a), ["slow-0", "slow-1", "fast-0"]);
        assert_eq!((a.started(), a.queued()), (3, 3));
        // A slow poll finishes: the host's next feed, in due order, takes its place.
        a.done("slow");
        assert_eq!(drain(&mut a), ["slow-2"]);
        a.done("fast");
        assert_eq!(drain(&mut a), Vec::<String>::new(), "no fast feed is due");
        a.done("slow");
        a.done("slow");
        assert_eq!(drain(&mut a), ["slow-3", "slow-4"]);
        assert_eq!((a.started(), a.queued()), (2, 0));
        for _ in 0..2 {
            a.done("slow");
        }
        assert_eq!((a.started(), a.queued()), (0, 0));
        assert!(a.running.is_empty() && a.waiting.is_empty(), "{a:?}");
    }

    #[test]
    fn the_total_cap_holds_across_hosts_and_frees_in_due_order() {
        let mut a = Admission::new(8, 3);
        for h in 0..5 {
            a.push(format!("h{h}-0"));
        }
        assert_eq!(drain(&mut a), ["h0-0", "h1-0", "h2-0"]);
        a.done("h1");
        assert_eq!(drain(&mut a), ["h3-0"]);
        a.done("h0");
        a.done("h2");
        assert_eq!(drain(&mut a), ["h4-0"]);
        assert_eq!((a.started(), a.queued()), (2, 0));
    }

    #[test]
    fn a_gone_feed_is_handed_back_uncounted() {
        let mut a = Admission::new(1, 1);
        a.push("gone".into());
        a.push("h-0".into());
        let gone = a.next(|f| (f != "gone").then(|| host_of(f)).flatten());
        assert_eq!(gone, Some(("gone".to_string(), None)));
        assert_eq!(a.started(), 0);
        assert_eq!(a.next(host_of), Some(("h-0".into(), Some("h".into()))));
    }

    /// Whatever the order of due feeds and finished polls, no host ever has more than its cap
    /// started, the total never exceeds its cap, and every feed starts exactly once.
    #[test]
    fn caps_hold_and_every_feed_starts_once_under_any_interleaving() {
        use proptest::prelude::*;
        let cases = proptest::collection::vec((0u8..4, any::<bool>()), 1..200);
        proptest!(|(steps in cases, host_cap in 1usize..4, total_cap in 1usize..6)| {
            let mut a = Admission::new(host_cap, total_cap);
            let mut started: Vec<String> = Vec::new();
            let mut live: Vec<String> = Vec::new();
            let mut pushed = 0;
            for (i, (h, finish)) in steps.iter().enumerate() {
                if *finish && !live.is_empty() {
                    let host = live.remove(i % live.len());
                    a.done(&host);
                } else {
                    a.push(format!("h{h}-{i}"));
                    pushed += 1;
                }
                while let Some((f, host)) = a.next(host_of) {
                    let host = host.unwrap();
                    live.push(host.clone());
                    started.push(f);
                    prop_assert!(live.iter().filter(|x| **x == host).count() <= host_cap);
                }
                prop_assert!(live.len() <= total_cap);
                prop_assert_eq!(a.started(), live.len());
                prop_assert_eq!(a.queued(), pushed - started.len());
            }
            // Finish everything: every pushed feed starts, once.
            while let Some(host) = live.pop() {
                a.done(&host);
                while let Some((f, host)) = a.next(host_of) {
                    live.push(host.unwrap());
                    started.push(f);
                }
            }
            let mut unique = started.clone();
            unique.sort();
            unique.dedup();
            prop_assert_eq!(unique.len(), started.len());
            prop_assert_eq!(started.len(), pushed);
            prop_assert_eq!(a.queued(), 0);
            prop_assert!(a.ready.is_empty() && a.resume.is_empty() && a.waiting.is_empty());
        });
    }
}
