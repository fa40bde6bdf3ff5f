//! Leases: how several instances on one database share the feeds and the sinks.
//!
//! Owns the types that cross the [`crate::store::Store`] boundary for it: [`FeedClaim`] (a feed
//! the scheduler wants to poll, with the host key it counts under), [`Claim`] (granted, or busy
//! until when), [`SinkHold`] (whether this instance sends a sink's queue) and [`InstanceRow`]
//! (what `status` shows of each running instance). A store that serves one daemon (SQLite,
//! under its lock file) grants every claim and every sink; the PostgreSQL store keeps the
//! leases in rows (`store/postgres/leases.rs`).

use crate::store::Millis;

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
