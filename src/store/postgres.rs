//! The PostgreSQL store: the same [`Store`] as the embedded SQLite one, on a shared server.
//!
//! Owns [`PgStore`]. Migrations under `migrations/postgres` run at open, under sqlx's
//! advisory lock, so two processes starting together do not race. Where SQLite needs one
//! connection, PostgreSQL takes a pool: each poll's commit is its own transaction, and id
//! lists travel as one array parameter (`= ANY($1)`), never as formatted SQL. The 304s, the
//! commonest write, are batched as on SQLite (`polls`, [`crate::store::batch`]): one
//! transaction, one statement, per 200 ms.
//!
//! Several daemons share one database: [`PgStore::open_instance`] registers this one
//! (`instance`: its row and heartbeat), and feeds and sinks are leased to one instance at a
//! time (`leases`; the types are [`crate::store::lease`]'s). Each poll's commit checks that
//! its instance still holds the feed's lease.
//!
//! The [`Store`] impl here is thin where the work is long: `feeds` holds a poll's commit and
//! the other feed-state writes, `outbox` the deliveries, `history` the daily series, feed
//! health and the archive.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};

use crate::store::archive::{ArchiveRow, ArchiveTotals};
use crate::store::batch::{self, Batcher, NotModified};
use crate::store::lease::{Claim, FeedClaim, InstanceRow, SinkHold};
use crate::store::{
    CommitOutcome, Delivery, DeliveryRow, FailureRecord, FeedDay, FeedHealth, FeedState,
    HealthChange, Millis, OutboxSummary, PollCommit, PruneRules, Store, StoreError, StoryItemRow,
    WatchDay,
};

mod feeds;
mod history;
mod instance;
mod leases;
mod outbox;
mod polls;
#[cfg(test)]
pub(crate) mod testing;
mod upkeep;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections in the pool: polls commit and deliveries are claimed at the same time.
const POOL_SIZE: u32 = 8;

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// 304s, written by one writer task a batch at a time ([`crate::store::batch`]).
    not_modified: Batcher<NotModified>,
    /// This daemon as one of the instances ([`PgStore::open_instance`]); `None` for operator
    /// commands and tests, whose claims are all granted and whose commits check no lease.
    instance: Option<Arc<instance::Instance>>,
}

/// Not derived: nothing of the connection (its URL may carry a password) is printed.
impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// Parse a `postgres://` URL. Errors never quote the URL: it may carry a password.
fn options(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url).map_err(|e| StoreError::Url(e.to_string()))
}

/// Why `url` is no PostgreSQL URL the store can open, if it is not (never quoting it): for
/// `check`, which passed a URL that `run` then refused.
pub fn url_error(url: &str) -> Option<String> {
    PgConnectOptions::from_str(url).err().map(|e| e.to_string())
}

/// How long a statement of the daemon or a command waits for a lock, and how long a session
/// may sit idle inside a transaction. No transaction here waits for anything but the database
/// between its statements, and the claim and outbox locks are held for milliseconds. Without
/// them, a host that died (power, network) inside such a transaction kept its lock until TCP
/// gave up on it (about 2 h on Linux), and every instance's claims and commits queued behind
/// it, each holding a pooled connection, until polling and delivery stopped everywhere. Now
/// the server ends that session after a minute, and a waiter gives up first and retries.
const LOCK_TIMEOUT: &str = "20s";
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "60s";

/// Run the migrations on a connection of their own, without [`LOCK_TIMEOUT`]: an instance
/// waits for another's migration (under sqlx's advisory lock) however long it takes.
async fn migrate_on(opts: &PgConnectOptions) -> Result<(), StoreError> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect_with(opts).await?;
    MIGRATOR.run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

async fn pool(opts: PgConnectOptions) -> Result<PgPool, StoreError> {
    let opts = opts.options([
        ("lock_timeout", LOCK_TIMEOUT),
        (
            "idle_in_transaction_session_timeout",
            IDLE_IN_TRANSACTION_TIMEOUT,
        ),
    ]);
    Ok(PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(Duration::from_secs(60))
        .connect_with(opts)
        .await?)
}

impl PgStore {
    #[cfg(test)]
    pub(crate) async fn open_with(opts: PgConnectOptions) -> Result<PgStore, StoreError> {
        migrate_on(&opts).await?;
        let pool = pool(opts).await?;
        Ok(PgStore::with_pool(pool, None))
    }

    /// Open the database for a daemon, one of any number of instances on it: migrates (under
    /// sqlx's advisory lock), registers the instance and starts its heartbeat. Feeds and
    /// sinks are leased for `lease` at a time.
    pub async fn open_instance(url: &str, lease: Duration) -> Result<PgStore, StoreError> {
        PgStore::open_instance_with(options(url)?, lease).await
    }

    pub(crate) async fn open_instance_with(
        opts: PgConnectOptions,
        lease: Duration,
    ) -> Result<PgStore, StoreError> {
        migrate_on(&opts).await?;
        let pool = pool(opts).await?;
        let me = instance::Instance::join(&pool, lease).await?;
        Ok(PgStore::with_pool(pool, Some(Arc::new(me))))
    }

    /// Run the migrations and return (`newswatch migrate`).
    pub async fn migrate(url: &str) -> Result<(), StoreError> {
        migrate_on(&options(url)?).await
    }

    /// This instance's id, when the store was opened for a daemon.
    pub fn instance_id(&self) -> Option<&str> {
        self.instance.as_deref().map(|i| i.id.as_str())
    }

    /// Connect to a database the daemon has set up, for operator commands (`status`,
    /// `deliveries retry`, `backtest`): never migrates (the daemon does, under its lock), and
    /// says so when the schema is missing rather than failing on the first query.
    pub async fn open_existing(url: &str) -> Result<PgStore, StoreError> {
        PgStore::open_existing_with(options(url)?).await
    }

    pub(crate) async fn open_existing_with(opts: PgConnectOptions) -> Result<PgStore, StoreError> {
        use sqlx::Connection;
        // One connection first, for its error: the pool retries a refused or failed
        // connection until its acquire timeout, so an unreachable database cost a minute and
        // was reported as "pool timed out", its cause lost.
        let mut conn = sqlx::PgConnection::connect_with(&opts).await?;
        let ready: Option<String> = sqlx::query_scalar("SELECT to_regclass('feeds')::text")
            .fetch_one(&mut conn)
            .await?;
        conn.close().await?;
        if ready.is_none() {
            return Err(StoreError::NoSchema);
        }
        Ok(PgStore::with_pool(pool(opts).await?, None))
    }

    /// Is the database's schema this release's? For operator commands that change rows
    /// (see [`super::schema`]); reading ones go on (`status` beside a newer instance).
    pub async fn same_schema_as_this_release(&self) -> Result<(), StoreError> {
        let applied: Vec<(i64, bool)> =
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&self.pool)
                .await?;
        super::schema::same_as_this_release(&applied, &MIGRATOR)
    }

    /// The store over an open pool, with its 304 writer started.
    fn with_pool(pool: PgPool, instance: Option<Arc<instance::Instance>>) -> PgStore {
        let writer = pool.clone();
        let owner = instance.as_ref().map(|i| i.id.clone());
        let not_modified = Batcher::spawn(batch::TICK, batch::MAX_ROWS, move |rows| {
            let pool = writer.clone();
            let owner = owner.clone();
            async move { polls::write(&pool, rows, owner.as_deref()).await }
        });
        PgStore {
            pool,
            not_modified,
            instance,
        }
    }
}

/// A stored count as `u32`, clamped (a hand-edited row must not wrap it).
fn count(r: &PgRow, column: &str) -> Result<u32, sqlx::Error> {
    Ok(r.try_get::<i64, _>(column)?.clamp(0, u32::MAX as i64) as u32)
}

fn feed_state(r: &PgRow) -> Result<FeedState, sqlx::Error> {
    Ok(FeedState {
        feed: r.try_get("feed")?,
        config_url: r.try_get("config_url")?,
        moved_url: r.try_get("moved_url")?,
        etag: r.try_get("etag")?,
        last_modified: r.try_get("last_modified")?,
        last_poll_at: r.try_get("last_poll_at")?,
        last_success_at: r.try_get("last_success_at")?,
        last_result: r.try_get("last_result")?,
        last_error: r.try_get("last_error")?,
        failures: count(r, "failures")?,
        next_poll_at: r.try_get("next_poll_at")?,
        baselined: r.try_get("baselined")?,
        items_seen: r.try_get("items_seen")?,
        suppressed: r.try_get("suppressed")?,
        html_streak: count(r, "html_streak")?,
        shared_ids: crate::store::shared_ids_of(r.try_get("shared_ids")?),
    })
}

impl Store for PgStore {
    async fn feed_states(&self) -> Result<Vec<FeedState>, StoreError> {
        let rows = sqlx::query("SELECT * FROM feeds ORDER BY feed")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(feed_state).collect::<Result<_, _>>()?)
    }

    async fn feed_days(&self, from_day: i64) -> Result<Vec<FeedDay>, StoreError> {
        history::feed_days(&self.pool, from_day).await
    }

    async fn watch_days(&self, from_day: i64) -> Result<Vec<WatchDay>, StoreError> {
        history::watch_days(&self.pool, from_day).await
    }

    async fn feed_health(&self) -> Result<Vec<FeedHealth>, StoreError> {
        history::feed_health(&self.pool).await
    }

    async fn arrivals(&self, feed: &str, since: Millis) -> Result<Vec<Millis>, StoreError> {
        history::arrivals(&self.pool, feed, since).await
    }

    async fn record_health(&self, change: &HealthChange) -> Result<bool, StoreError> {
        history::record_health(&self.pool, change).await
    }

    async fn feed_state(&self, feed: &str) -> Result<Option<FeedState>, StoreError> {
        let row = sqlx::query("SELECT * FROM feeds WHERE feed = $1")
            .bind(feed)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(feed_state).transpose()?)
    }

    async fn feed_states_of(&self, feeds: &[String]) -> Result<Vec<FeedState>, StoreError> {
        let rows = sqlx::query("SELECT * FROM feeds WHERE feed = ANY($1)")
            .bind(feeds)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(feed_state).collect::<Result<_, _>>()?)
    }

    async fn feeds_at_url(&self, config_url: &str) -> Result<Vec<FeedState>, StoreError> {
        let rows = sqlx::query("SELECT * FROM feeds WHERE config_url = $1 ORDER BY feed")
            .bind(config_url)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(feed_state).collect::<Result<_, _>>()?)
    }

    async fn known_items(
        &self,
        feed: &str,
        keys: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let known: Vec<String> =
            sqlx::query_scalar("SELECT item_key FROM seen WHERE feed = $1 AND item_key = ANY($2)")
                .bind(feed)
                .bind(keys)
                .fetch_all(&self.pool)
                .await?;
        Ok(known.into_iter().collect())
    }

    async fn commit_poll(&self, c: &PollCommit) -> Result<CommitOutcome, StoreError> {
        feeds::commit_poll(&self.pool, c, self.instance_id()).await
    }

    async fn record_not_modified(
        &self,
        feed: &str,
        config_url: &str,
        now: Millis,
        next_poll_at: Millis,
    ) -> Result<(), StoreError> {
        // Queued, and written with the other 304s of the same tick in one transaction.
        self.not_modified
            .write(NotModified {
                feed: feed.to_string(),
                config_url: config_url.to_string(),
                now,
                next_poll_at,
            })
            .await
    }

    async fn record_failure(&self, f: &FailureRecord<'_>) -> Result<(), StoreError> {
        feeds::record_failure(&self.pool, f, self.instance_id()).await
    }

    async fn claim_feeds(
        &self,
        feeds: &[FeedClaim<'_>],
        now: Millis,
        per_host: usize,
    ) -> Result<Vec<Claim>, StoreError> {
        match &self.instance {
            Some(me) => {
                let lease = instance::lease_ms(me.lease);
                leases::claim_feeds(&self.pool, &me.id, lease, feeds, now, per_host).await
            }
            None => Ok(vec![Claim::Granted; feeds.len()]),
        }
    }

    fn claim_delay(&self, feed: &str) -> Duration {
        self.instance
            .as_ref()
            .map_or(Duration::ZERO, |me| me.claim_delay(feed))
    }

    async fn hold_sink(&self, sink: &str, now: Millis) -> Result<SinkHold, StoreError> {
        match &self.instance {
            Some(me) => {
                let lease = instance::lease_ms(me.lease);
                leases::hold_sink(&self.pool, &me.id, lease, sink, now).await
            }
            None => Ok(SinkHold::Held { until: Millis::MAX }),
        }
    }

    async fn instances(&self) -> Result<Vec<InstanceRow>, StoreError> {
        leases::instances(&self.pool, crate::store::now_millis()).await
    }

    async fn release_leases(&self) -> Result<(), StoreError> {
        match &self.instance {
            Some(me) => me.leave(&self.pool).await,
            None => Ok(()),
        }
    }

    async fn claim_due_orphans(
        &self,
        sink: &str,
        now: Millis,
        lease_until: Millis,
        limit: i64,
        orphans_until: Millis,
    ) -> Result<Vec<Delivery>, StoreError> {
        outbox::claim_due(&self.pool, sink, now, lease_until, limit, orphans_until).await
    }

    async fn begin_attempt(&self, ids: &[i64], group_key: &str) -> Result<(), StoreError> {
        outbox::begin_attempt(&self.pool, ids, group_key).await
    }

    async fn begin_send(
        &self,
        sink: &str,
        ids: &[i64],
        key: Option<&str>,
        claim: Millis,
        until: Millis,
    ) -> Result<bool, StoreError> {
        let me = self.instance.as_ref().map(|me| me.id.as_str());
        outbox::begin_send(&self.pool, me, sink, ids, key, claim, until).await
    }

    async fn mark_sent(&self, ids: &[i64], now: Millis) -> Result<(), StoreError> {
        outbox::mark_sent(&self.pool, ids, now, false).await
    }

    async fn mark_quiet(&self, ids: &[i64], now: Millis) -> Result<(), StoreError> {
        outbox::mark_sent(&self.pool, ids, now, true).await
    }

    async fn mark_sent_ref(
        &self,
        id: i64,
        now: Millis,
        message_ref: &str,
    ) -> Result<(), StoreError> {
        outbox::mark_sent_ref(&self.pool, id, now, message_ref).await
    }

    async fn sent_updates(&self, story_key: &str) -> Result<Vec<String>, StoreError> {
        outbox::sent_updates(&self.pool, story_key).await
    }

    async fn sends_since(&self, sink: &str, since: Millis) -> Result<Vec<Millis>, StoreError> {
        outbox::sends_since(&self.pool, sink, since).await
    }

    async fn mark_retry(
        &self,
        ids: &[i64],
        error: &str,
        at: Millis,
        claim: Millis,
    ) -> Result<bool, StoreError> {
        outbox::mark_retry(&self.pool, ids, error, at, claim).await
    }

    async fn mark_dead(
        &self,
        ids: &[i64],
        error: &str,
        now: Millis,
        claim: Millis,
    ) -> Result<bool, StoreError> {
        outbox::mark_dead(&self.pool, ids, error, now, claim, false).await
    }

    async fn mark_dead_apart(
        &self,
        ids: &[i64],
        error: &str,
        now: Millis,
        claim: Millis,
    ) -> Result<bool, StoreError> {
        outbox::mark_dead(&self.pool, ids, error, now, claim, true).await
    }

    async fn release(&self, ids: &[i64], claim: Millis) -> Result<(), StoreError> {
        outbox::release(&self.pool, ids, claim).await
    }

    async fn release_sink(&self, sink: &str) -> Result<(), StoreError> {
        outbox::release_sink(&self.pool, sink, crate::store::now_millis()).await
    }

    async fn leave_feed(&self, feed: &str) -> Result<(), StoreError> {
        match &self.instance {
            Some(me) => leases::leave_feed(&self.pool, &me.id, feed).await,
            None => Ok(()),
        }
    }

    async fn leave_sink(&self, sink: &str) -> Result<(), StoreError> {
        match &self.instance {
            Some(me) => leases::leave_sink(&self.pool, &me.id, sink).await,
            None => outbox::release_sink(&self.pool, sink, crate::store::now_millis()).await,
        }
    }

    async fn outbox_summary(&self) -> Result<OutboxSummary, StoreError> {
        outbox::outbox_summary(&self.pool).await
    }

    async fn list_deliveries(
        &self,
        state: &str,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        outbox::list_deliveries(&self.pool, state, limit, false).await
    }

    async fn oldest_pending(&self, limit: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        outbox::list_deliveries(&self.pool, "pending", limit, true).await
    }

    async fn alert_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT watch, n FROM watch_alerts ORDER BY watch")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn retry_pending_now(&self, now: Millis) -> Result<u64, StoreError> {
        outbox::retry_pending_now(&self.pool, now).await
    }

    async fn dead_letter_unconfigured(&self, sinks: &[String]) -> Result<u64, StoreError> {
        let me = self.instance.as_ref().map(|me| me.id.as_str());
        outbox::dead_letter_unconfigured(&self.pool, me, sinks, crate::store::now_millis()).await
    }

    async fn retry_dead(&self, now: Millis, sinks: &[String]) -> Result<(u64, u64), StoreError> {
        outbox::retry_dead(&self.pool, now, sinks).await
    }

    async fn purge_dead(&self, before: Millis) -> Result<u64, StoreError> {
        outbox::purge_dead(&self.pool, before).await
    }

    async fn sync_feeds(&self, configured: &[String], now: Millis) -> Result<(), StoreError> {
        upkeep::sync_feeds(&self.pool, configured, now).await
    }

    async fn shift_times(&self, step: Millis) -> Result<(), StoreError> {
        upkeep::shift_times(&self.pool, step).await
    }

    async fn clamp_times(&self, now: Millis, horizon: Millis) -> Result<(), StoreError> {
        upkeep::clamp_times(&self.pool, now, horizon).await
    }

    async fn sink_state(&self, sink: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM sink_state WHERE sink = $1 AND key = $2")
                .bind(sink)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_sink_state(&self, sink: &str, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sink_state (sink, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (sink, key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(sink)
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn prune(&self, r: PruneRules) -> Result<u64, StoreError> {
        upkeep::prune(&self.pool, r).await
    }

    async fn story_items(&self, since: Millis) -> Result<Vec<StoryItemRow>, StoreError> {
        feeds::story_items(&self.pool, since).await
    }

    async fn archive_page(
        &self,
        since: Millis,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ArchiveRow>, StoreError> {
        history::archive_page(&self.pool, since, after_id, limit).await
    }

    async fn archive_totals(&self, since: Millis) -> Result<ArchiveTotals, StoreError> {
        history::archive_totals(&self.pool, since).await
    }

    async fn prune_archive(&self, before: Millis) -> Result<u64, StoreError> {
        upkeep::prune_archive(&self.pool, before).await
    }
}

#[cfg(test)]
mod lease_tests;
#[cfg(test)]
mod send_mark_tests;
#[cfg(test)]
mod tests;
