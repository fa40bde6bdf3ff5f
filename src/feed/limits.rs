//! How many fetches run at once: per host (`per_host_concurrency`, feed polls and article
//! pages together: politeness is per host) and in all (`max_concurrent_fetches`, once for
//! feed polls and once more for article pages).
//!
//! Owns [`FetchLimits`] and [`Permits`]. The scheduler takes a feed's permits before its poll
//! and hands them to the refresh, which drops them as soon as the feed's bytes are in: the
//! article pages it fetches next take their own, per page host, so a feed waiting on its pages
//! holds no slot another feed could poll with (and a page on the feed's own host cannot wait
//! for a permit its own feed holds). Pages have their own global slots: a burst of slow pages
//! never keeps a feed from being polled.
//!
//! A third budget, [`PollSlot`]s, bounds the polls between their fetch and their store
//! commit: a poll takes a slot after its host's permit and before the global one, and holds
//! it (in the scheduler) until its result is stored. When the store is slower than the
//! fetches (a first round of 100,000 new feeds, each a baseline), fetching waits for the
//! store instead of piling fetched and parsed feeds up in memory: memory follows the budget,
//! not the number of feeds. The host's permit comes first, so a slow host's feeds wait
//! without a slot, as they wait without a global permit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Polls between fetch and stored result, per global fetch slot: enough that the store's
/// batches (a tick's worth of polls) fill while the next fetches run, few enough that
/// their parsed documents stay a few MB.
pub const POLLS_PER_FETCH_SLOT: usize = 8;

/// The global and per-host semaphores.
#[derive(Debug)]
pub struct FetchLimits {
    global: Arc<Semaphore>,
    /// How many global fetch permits there are.
    global_slots: usize,
    /// Polls fetched (or fetching) and not yet stored.
    polls: Arc<Semaphore>,
    /// The global slots of article pages.
    pages: Arc<Semaphore>,
    per_host: usize,
    /// One semaphore per host name (lowercase), made on first use with `per_host` permits.
    hosts: Mutex<Hosts>,
}

/// The per-host semaphores, and the size at which those not in use are forgotten.
#[derive(Debug)]
struct Hosts {
    map: HashMap<String, Arc<Semaphore>>,
    prune_at: usize,
}

/// Hosts kept before those not in use are forgotten between reloads: article pages bring
/// hosts no feed names (a feed can link every item to a host of its own).
const HOSTS_BEFORE_PRUNE: usize = 1024;

/// Permits held for one fetch; dropping them lets the next fetch start.
#[derive(Debug, Default)]
pub struct Permits {
    _host: Option<OwnedSemaphorePermit>,
    _global: Option<OwnedSemaphorePermit>,
}

impl Permits {
    /// No permits: for callers outside the scheduler (`try`, tests).
    pub fn none() -> Permits {
        Permits::default()
    }
}

/// One poll's place in the fetched-but-not-stored budget; dropped once its result is stored.
#[derive(Debug)]
pub struct PollSlot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl FetchLimits {
    pub fn new(global: usize, per_host: usize) -> FetchLimits {
        FetchLimits {
            global: Arc::new(Semaphore::new(global.max(1))),
            global_slots: global.max(1),
            polls: Arc::new(Semaphore::new(
                global.max(1).saturating_mul(POLLS_PER_FETCH_SLOT),
            )),
            pages: Arc::new(Semaphore::new(global.max(1))),
            per_host: per_host.max(1),
            hosts: Mutex::new(Hosts {
                map: HashMap::new(),
                prune_at: HOSTS_BEFORE_PRUNE,
            }),
        }
    }

    fn host(&self, host: &str) -> Arc<Semaphore> {
        // A poisoned lock only means another task panicked while inserting: the map is intact.
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let key = host.to_ascii_lowercase();
        if let Some(sem) = hosts.map.get(&key) {
            return sem.clone();
        }
        // A semaphore no permit or waiter holds is at rest, all its permits free: forgetting
        // it changes nothing but memory. Amortised: pruned when the map has doubled.
        if hosts.map.len() >= hosts.prune_at {
            hosts.map.retain(|_, sem| Arc::strong_count(sem) > 1);
            hosts.prune_at = HOSTS_BEFORE_PRUNE.max(2 * hosts.map.len());
        }
        let sem = Arc::new(Semaphore::new(self.per_host));
        hosts.map.insert(key, sem.clone());
        sem
    }

    /// Forget the semaphores of hosts not in `keep` and not in use (after a reload, so
    /// per-host memory follows the configuration; article page hosts come and go with them).
    pub fn retain_hosts(&self, keep: &std::collections::HashSet<String>) {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .map
            .retain(|h, sem| keep.contains(h) || Arc::strong_count(sem) > 1);
    }

    /// The hosts with a semaphore, sorted (for tests of the forgetting).
    #[cfg(test)]
    pub(crate) fn hosts(&self) -> Vec<String> {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<String> = hosts.map.keys().cloned().collect();
        v.sort_unstable();
        v
    }

    /// Permits `host` has free now.
    #[cfg(test)]
    pub(crate) fn available(&self, host: &str) -> usize {
        self.host(host).available_permits()
    }

    /// Wait for a permit for `host` (empty for local files), then a global one. The host's
    /// first: a task waiting for a slow host must not sit on a global permit (60 feeds of one
    /// dead publisher would otherwise starve every other host).
    pub async fn acquire(&self, host: &str) -> Permits {
        let h = self.host(host).acquire_owned().await.ok();
        let g = self.global.clone().acquire_owned().await.ok();
        Permits {
            _host: h,
            _global: g,
        }
    }

    /// A feed poll's permits and its [`PollSlot`]: the host's permit, the slot, then a global
    /// fetch permit (see the module comment for the order).
    pub async fn acquire_poll(&self, host: &str) -> (Permits, PollSlot) {
        let h = self.host(host).acquire_owned().await.ok();
        let slot = PollSlot {
            _permit: self.polls.clone().acquire_owned().await.ok(),
        };
        let g = self.global.clone().acquire_owned().await.ok();
        let permits = Permits {
            _host: h,
            _global: g,
        };
        (permits, slot)
    }

    /// The most poll tasks the scheduler keeps, per host and in all, started and not finished
    /// (its other due feeds wait as names in a queue): the host's permits times the polls a
    /// fetch slot may have between fetch and store, and four times the poll slots, so the tasks
    /// of a few slow hosts waiting for their permits never hold back the others.
    pub fn task_caps(&self) -> (usize, usize) {
        let slots = self.global_slots.saturating_mul(POLLS_PER_FETCH_SLOT);
        (
            self.per_host.saturating_mul(POLLS_PER_FETCH_SLOT),
            slots.saturating_mul(4),
        )
    }

    /// Poll slots free now.
    #[cfg(test)]
    pub(crate) fn free_poll_slots(&self) -> usize {
        self.polls.available_permits()
    }

    /// The same for an article page: its host's permit, then one of the pages' global slots.
    pub async fn acquire_page(&self, host: &str) -> Permits {
        let h = self.host(host).acquire_owned().await.ok();
        let g = self.pages.clone().acquire_owned().await.ok();
        Permits {
            _host: h,
            _global: g,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Regression: every article page host got a semaphore kept until the next reload, so a
    /// feed linking each item to a host of its own grew memory poll after poll.
    #[tokio::test]
    async fn page_hosts_at_rest_are_forgotten_without_a_reload() {
        let l = FetchLimits::new(4, 1);
        // A host in use keeps its semaphore (its permit is held), and with it its limit.
        let held = l.acquire_page("held.example").await;
        for i in 0..10 * HOSTS_BEFORE_PRUNE {
            drop(l.acquire_page(&format!("h{i}.example")).await);
        }
        let hosts = l.hosts();
        assert!(
            hosts.len() <= 2 * HOSTS_BEFORE_PRUNE,
            "{} page hosts kept",
            hosts.len()
        );
        assert!(hosts.contains(&"held.example".to_string()));
        assert_eq!(
            l.available("held.example"),
            0,
            "the held permit still counts"
        );
        drop(held);
        assert_eq!(l.available("held.example"), 1);
    }

    #[tokio::test]
    async fn hosts_are_limited_apart_and_all_together() {
        let l = Arc::new(FetchLimits::new(3, 2));
        let a1 = l.acquire("A.example").await;
        let _a2 = l.acquire("a.example").await;
        // A third for the same host (names compare without case) waits...
        let l2 = l.clone();
        let third = tokio::spawn(async move { l2.acquire("a.example").await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!third.is_finished());
        // ...while another host gets the last global permit...
        let _b = l.acquire("b.example").await;
        // ...and then a fourth fetch waits for a global one.
        let l3 = l.clone();
        let fourth = tokio::spawn(async move { l3.acquire("c.example").await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!fourth.is_finished());
        drop(a1);
        // The host permit goes to the waiting a.example fetch, which then waits for the global
        // permit the c.example fetch may have taken first: one of the two proceeds.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(third.is_finished() ^ fourth.is_finished());
    }

    /// Pages share a host's permits with polls, but not the polls' global slots.
    #[tokio::test]
    async fn pages_take_host_permits_but_not_the_polls_global_slots() {
        let l = Arc::new(FetchLimits::new(1, 1));
        let page = l.acquire_page("a.example").await;
        // The only global poll slot is free for another host...
        let poll = tokio::time::timeout(Duration::from_millis(200), l.acquire("b.example")).await;
        assert!(poll.is_ok(), "a page took the polls' global slot");
        // ...but a poll of the page's host waits for the host permit.
        let l2 = l.clone();
        let same = tokio::spawn(async move { l2.acquire("a.example").await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!same.is_finished());
        drop((page, poll));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(same.is_finished());
    }
}
