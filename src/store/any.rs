//! Either store behind one type: what `[daemon] state` chose, opened for the daemon or for an
//! operator command.
//!
//! Owns [`AnyStore`] and [`StateLocation`]. The daemon and the CLI hold an `AnyStore`, so
//! nothing above the store is generic over the backend; each [`Store`] call is one `match`
//! away from the backend's own.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::secret::Secret;
use crate::store::lease::{Claim, FeedClaim, InstanceRow, SinkHold};
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{
    CommitOutcome, Delivery, DeliveryRow, FailureRecord, FeedDay, FeedHealth, FeedState,
    HealthChange, Millis, OutboxSummary, PollCommit, PruneRules, Store, StoreError, StoryItemRow,
    WatchDay, archive,
};

/// Where the state lives, as `[daemon] state` says.
#[derive(Debug, Clone)]
pub enum StateLocation {
    /// The embedded SQLite file.
    File(PathBuf),
    /// A PostgreSQL database (the URL may carry a password: never printed).
    Postgres(Secret),
}

impl std::fmt::Display for StateLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateLocation::File(p) => write!(f, "{}", p.display()),
            StateLocation::Postgres(_) => f.write_str("PostgreSQL"),
        }
    }
}

#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl AnyStore {
    /// Open the state for a daemon, migrated: the SQLite file for the one daemon that owns it
    /// (its lock file; stale delivery leases released), or the PostgreSQL database as one of
    /// its instances (feeds and sinks leased for `lease` at a time).
    pub async fn open_daemon(at: &StateLocation, lease: Duration) -> Result<AnyStore, StoreError> {
        Ok(match at {
            StateLocation::File(p) => AnyStore::Sqlite(SqliteStore::open_exclusive(p).await?),
            StateLocation::Postgres(url) => {
                AnyStore::Postgres(PgStore::open_instance(url.expose(), lease).await?)
            }
        })
    }

    /// This daemon's instance id on a shared PostgreSQL database; `None` for a SQLite file.
    pub fn instance_id(&self) -> Option<&str> {
        match self {
            AnyStore::Sqlite(_) => None,
            AnyStore::Postgres(s) => s.instance_id(),
        }
    }

    /// Create or migrate the state and close it (`newswatch migrate`). The SQLite file is
    /// refused while a daemon holds it; PostgreSQL migrations run under sqlx's advisory lock
    /// while instances run.
    pub async fn migrate(at: &StateLocation) -> Result<(), StoreError> {
        match at {
            StateLocation::File(p) => SqliteStore::open_exclusive(p).await.map(drop),
            StateLocation::Postgres(url) => PgStore::migrate(url.expose()).await,
        }
    }

    /// Open existing state for an operator command that only reads (`status`, `backtest`)
    /// while the daemon may be running: the SQLite file read-only; PostgreSQL unmigrated.
    pub async fn open_read_only(at: &StateLocation) -> Result<AnyStore, StoreError> {
        Ok(match at {
            StateLocation::File(p) => AnyStore::Sqlite(SqliteStore::open_read_only(p).await?),
            StateLocation::Postgres(url) => {
                AnyStore::Postgres(PgStore::open_existing(url.expose()).await?)
            }
        })
    }

    /// Open existing state for an operator command that changes rows (`deliveries retry`):
    /// never creates it, never migrates it (the daemon that owns it does).
    /// Refused on a state of another release (see [`super::schema`]).
    pub async fn open_existing(at: &StateLocation) -> Result<AnyStore, StoreError> {
        Ok(match at {
            StateLocation::File(p) => AnyStore::Sqlite(SqliteStore::open_existing(p).await?),
            StateLocation::Postgres(url) => {
                let store = PgStore::open_existing(url.expose()).await?;
                store.same_schema_as_this_release().await?;
                AnyStore::Postgres(store)
            }
        })
    }
}

/// `Store` for the enum: each method calls the same one on the backend.
macro_rules! delegate {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        impl Store for AnyStore {
            fn claim_delay(&self, feed: &str) -> std::time::Duration {
                match self {
                    AnyStore::Sqlite(s) => s.claim_delay(feed),
                    AnyStore::Postgres(s) => s.claim_delay(feed),
                }
            }
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$ret, StoreError> {
                    match self {
                        AnyStore::Sqlite(s) => s.$name($($arg),*).await,
                        AnyStore::Postgres(s) => s.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

delegate! {
    fn feed_states(&self) -> Vec<FeedState>;
    fn feed_days(&self, from_day: i64) -> Vec<FeedDay>;
    fn watch_days(&self, from_day: i64) -> Vec<WatchDay>;
    fn feed_health(&self) -> Vec<FeedHealth>;
    fn arrivals(&self, feed: &str, since: Millis) -> Vec<Millis>;
    fn record_health(&self, change: &HealthChange) -> bool;
    fn feed_state(&self, feed: &str) -> Option<FeedState>;
    fn feed_states_of(&self, feeds: &[String]) -> Vec<FeedState>;
    fn feeds_at_url(&self, config_url: &str) -> Vec<FeedState>;
    fn known_items(&self, feed: &str, keys: &[String]) -> HashSet<String>;
    fn commit_poll(&self, c: &PollCommit) -> CommitOutcome;
    fn record_not_modified(&self, feed: &str, config_url: &str, now: Millis, next_poll_at: Millis) -> ();
    fn record_failure(&self, f: &FailureRecord<'_>) -> ();
    fn claim_due_orphans(&self, sink: &str, now: Millis, lease_until: Millis, limit: i64, orphans_until: Millis) -> Vec<Delivery>;
    fn begin_attempt(&self, ids: &[i64], group_key: &str) -> ();
    fn begin_send(&self, sink: &str, ids: &[i64], key: Option<&str>, claim: Millis, until: Millis) -> bool;
    fn mark_sent(&self, ids: &[i64], now: Millis) -> ();
    fn mark_quiet(&self, ids: &[i64], now: Millis) -> ();
    fn mark_sent_ref(&self, id: i64, now: Millis, message_ref: &str) -> ();
    fn sent_updates(&self, story_key: &str) -> Vec<String>;
    fn sends_since(&self, sink: &str, since: Millis) -> Vec<Millis>;
    fn mark_retry(&self, ids: &[i64], error: &str, next_attempt_at: Millis, claim: Millis) -> bool;
    fn mark_dead(&self, ids: &[i64], error: &str, now: Millis, claim: Millis) -> bool;
    fn mark_dead_apart(&self, ids: &[i64], error: &str, now: Millis, claim: Millis) -> bool;
    fn release(&self, ids: &[i64], claim: Millis) -> ();
    fn release_sink(&self, sink: &str) -> ();
    fn leave_sink(&self, sink: &str) -> ();
    fn leave_feed(&self, feed: &str) -> ();
    fn outbox_summary(&self) -> OutboxSummary;
    fn list_deliveries(&self, state: &str, limit: i64) -> Vec<DeliveryRow>;
    fn oldest_pending(&self, limit: i64) -> Vec<DeliveryRow>;
    fn alert_counts(&self) -> Vec<(String, i64)>;
    fn retry_pending_now(&self, now: Millis) -> u64;
    fn dead_letter_unconfigured(&self, sinks: &[String]) -> u64;
    fn retry_dead(&self, now: Millis, sinks: &[String]) -> (u64, u64);
    fn purge_dead(&self, before: Millis) -> u64;
    fn sync_feeds(&self, configured: &[String], now: Millis) -> ();
    fn shift_times(&self, step: Millis) -> ();
    fn clamp_times(&self, now: Millis, horizon: Millis) -> ();
    fn sink_state(&self, sink: &str, key: &str) -> Option<String>;
    fn set_sink_state(&self, sink: &str, key: &str, value: &str) -> ();
    fn prune(&self, rules: PruneRules) -> u64;
    fn story_items(&self, since: Millis) -> Vec<StoryItemRow>;
    fn archive_page(&self, since: Millis, after_id: i64, limit: i64) -> Vec<archive::ArchiveRow>;
    fn archive_totals(&self, since: Millis) -> archive::ArchiveTotals;
    fn prune_archive(&self, before: Millis) -> u64;
    fn claim_feeds(&self, feeds: &[FeedClaim<'_>], now: Millis, per_host: usize) -> Vec<Claim>;
    fn hold_sink(&self, sink: &str, now: Millis) -> SinkHold;
    fn instances(&self) -> Vec<InstanceRow>;
    fn release_leases(&self) -> ();
}
