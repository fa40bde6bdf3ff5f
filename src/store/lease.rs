//! Leases: how several instances on one database share the feeds and the sinks.
//!
//! Owns the types that cross the [`crate::store::Store`] boundary for it: [`FeedClaim`] (a feed
//! the scheduler wants to poll, with the host key it counts under), [`Claim`] (granted, or busy
//! until when), [`SinkHold`] (whether this instance sends a sink's queue) and [`InstanceRow`]
//! (what `status` shows of each running instance). A store that serves one daemon (SQLite,
//! under its lock file) grants every claim and every sink; the PostgreSQL store keeps the
//! leases in rows (`store/postgres/leases.rs`).
//!
//! [`first_choice`] orders the instances' asking: every instance schedules every feed (any of
//! them must take a feed the others do not poll), but one, chosen by hashing the feed's name
//! with each live instance's id, asks as soon as it is due and the others [`CLAIM_GRACE`]
//! later, when it has usually been polled: they find it busy until its next poll, from a plain
//! read, instead of racing for its row.

use std::time::Duration;

use crate::store::Millis;

/// How much later than a feed's first-choice instance the others ask for it: longer than the
/// claim and a 304 poll take, short beside the lease (a feed whose first choice died is
/// polled this much later).
pub const CLAIM_GRACE: Duration = Duration::from_secs(2);

/// The longest `[daemon] lease`, and how long after its last heartbeat an instance counts as
/// live for another's sweep of unconfigured sinks: each beats every third of its own lease,
/// so no live instance is silent this long, whatever lease each of them runs with (a
/// rolling restart may give them different ones). One fact, read by the configuration's
/// check and by the sweep.
pub const MAX_LEASE: Duration = Duration::from_secs(10 * 60);

/// The instance (of `live`, the ids of the instances whose heartbeat is current) that asks
/// for `feed` first: the highest hash of (instance, feed), so that when an instance comes or
/// goes only the feeds it is or becomes the first choice of change hands. Stable across
/// processes and versions (FNV-1a, mixed): the instances must agree.
pub fn first_choice<'a>(feed: &str, live: &'a [String]) -> Option<&'a str> {
    live.iter()
        .max_by_key(|id| (score(id, feed), id.as_str()))
        .map(String::as_str)
}

fn score(instance: &str, feed: &str) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in instance.bytes().chain([0xff]).chain(feed.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    // FNV's low bits mix poorly for near-identical names ("feed-1", "feed-2"): finish with
    // splitmix64's mixer.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A feed the scheduler is about to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedClaim<'a> {
    pub feed: &'a str,
    /// The URL the config gives it now (a new or changed feed's row is made with it).
    pub config_url: &'a str,
    /// The host key its per-host limit counts under.
    pub host: &'a str,
}

/// The answer to one [`FeedClaim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Poll it: this instance holds its lease until the poll's commit (which checks it).
    Granted,
    /// Not now: another instance polls it, polled it since this one scheduled it, or its host
    /// is at its limit across instances. Ask again at `until`.
    Busy { until: Millis },
}

/// The answer to [`crate::store::Store::hold_sink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkHold {
    /// This instance sends the sink's queue until `until` (renew before then).
    Held { until: Millis },
    /// Another instance does, until `until` unless it renews.
    Busy { until: Millis },
}

/// One running instance, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InstanceRow {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub version: String,
    pub started_at: Millis,
    pub heartbeat_at: Millis,
    /// Feeds it is polling now.
    pub feeds_leased: i64,
    /// Sinks whose queues it sends.
    pub sinks: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("host-{}-{i:04x}", 1000 + i))
            .collect()
    }

    #[test]
    fn first_choice_spreads_feeds_evenly_over_the_instances() {
        let live = ids(3);
        let mut counts = [0usize; 3];
        for f in 0..30_000 {
            let feed = format!("feed-{f}");
            let chosen = first_choice(&feed, &live).unwrap();
            counts[live.iter().position(|i| i == chosen).unwrap()] += 1;
        }
        for c in counts {
            assert!((9_000..=11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn an_instance_leaving_moves_only_its_own_feeds() {
        let live = ids(3);
        let fewer: Vec<String> = live[..2].to_vec();
        let mut moved = 0;
        for f in 0..3_000 {
            let feed = format!("feed-{f}");
            let before = first_choice(&feed, &live).unwrap();
            let after = first_choice(&feed, &fewer).unwrap();
            if before != after {
                assert_eq!(before, live[2], "{feed} moved from a live instance");
                moved += 1;
            }
        }
        assert!(moved > 800, "{moved}");
    }

    #[test]
    fn first_choice_is_the_same_in_every_order_and_none_without_instances() {
        let live = ids(4);
        let mut reversed = live.clone();
        reversed.reverse();
        for f in 0..200 {
            let feed = format!("feed-{f}");
            assert_eq!(first_choice(&feed, &live), first_choice(&feed, &reversed));
        }
        assert_eq!(first_choice("feed-1", &[]), None);
        // Pinned: instances of different builds must agree.
        assert_eq!(score("a", "b"), score("a", "b"));
        assert_ne!(score("a", "b"), score("b", "a"));
        assert_eq!(
            score("host-1-00ff", "kyiv-independent"),
            3_976_059_354_527_833_434
        );
    }
}
