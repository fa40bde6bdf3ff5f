//! The embedded SQLite store: WAL journal, a busy timeout, one connection (one writer).
//!
//! Owns [`SqliteStore`]. Migrations under `migrations/sqlite` run at open. One connection
//! serialises every statement, which is what SQLite wants for writes anyway. The commonest
//! write, a 304's feed state, goes through a writer task (`batch`, `polls`) that stores the
//! 304s of each 200 ms in one transaction: per poll, a transaction and a round trip to the
//! connection's thread cost more than the poll's HTTP. Poll commits (baselines and new
//! items) go through a second writer (`batch`, `feeds`) the same way, every 20 ms.
//!
//! The [`Store`] impl here is thin where the work is long: `feeds` holds one poll's commit,
//! `outbox` the claiming, recording and listing of deliveries, `history` the daily series and
//! feed health.

use std::collections::HashSet;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::store::batch;
use crate::store::{
    CommitOutcome, Delivery, DeliveryRow, FailureRecord, FeedDay, FeedHealth, FeedState,
    HealthChange, Millis, OutboxSummary, PollCommit, PruneRules, Store, StoreError, WatchDay,
};

mod archive;
mod feeds;
mod history;
mod outbox;
mod polls;
mod upkeep;

/// The migrations, embedded when this file is compiled (`build.rs` makes a change to the
/// folder rebuild it).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite limits bound parameters per statement; batch `IN (...)` lists below it.
const BATCH: usize = 500;

/// `?,?,…` for `n` bound values. Only placeholders are ever formatted into SQL.
fn marks(n: usize) -> String {
    vec!["?"; n].join(",")
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// 304s, written by one writer task a batch at a time (see [`crate::store::batch`]).
    not_modified: batch::Batcher<polls::NotModified>,
    /// Poll commits (baselines, new items), written the same way on a shorter tick.
    commits: batch::Batcher<PollCommit, CommitOutcome>,
    /// Held for the daemon's lifetime by [`SqliteStore::open_exclusive`]; the OS releases it
    /// when the process ends, however it ends.
    _lock: Option<std::sync::Arc<Vec<std::fs::File>>>,
}

impl SqliteStore {
    /// Open (creating if needed) the state file and run migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        create_parent(path)?;
        create_private(path)?;
        let opts = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode survives a process crash (kill -9) without losing commits;
            // only an OS crash or power loss can drop the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // A ping before every statement is a round trip to the connection's thread for
            // nothing: the connection is a local file, not a socket that can go away.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore::with_pool(pool))
    }

    /// The database, for tests that make it refuse a statement.
    #[cfg(test)]
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The store over an open pool, with its feed-state writer started.
    fn with_pool(pool: SqlitePool) -> SqliteStore {
        let writer = pool.clone();
        let not_modified = batch::Batcher::spawn(batch::TICK, batch::MAX_ROWS, move |rows| {
            let pool = writer.clone();
            async move { polls::write(&pool, rows).await }
        });
        let writer = pool.clone();
        let commits =
            batch::Batcher::spawn(batch::COMMIT_TICK, batch::COMMIT_MAX_ROWS, move |rows| {
                let pool = writer.clone();
                async move { feeds::write(&pool, rows).await }
            });
        SqliteStore {
            pool,
            not_modified,
            commits,
            _lock: None,
        }
    }

    /// Open the state file for the one daemon that owns it: takes an exclusive lock on
    /// `STATE.lock` next to it (a second `newswatch run` on the same state would poll and send everything
    /// twice), then runs the migrations and releases the delivery leases a previous process left
    /// behind (killed or stopped mid-send; honouring them would only delay those alerts).
    /// The lock comes first: a process that does not own the state must not migrate it under
    /// the daemon that does (an older release still running on the old schema).
    pub async fn open_exclusive(path: &Path) -> Result<SqliteStore, StoreError> {
        create_parent(path)?;
        let mut locks = Vec::new();
        for lock_path in lock_paths(path) {
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&lock_path)
                .map_err(|source| StoreError::LockFile {
                    path: lock_path.display().to_string(),
                    source,
                })?;
            match lock.try_lock() {
                Ok(()) => locks.push(lock),
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(StoreError::Locked {
                        path: path.display().to_string(),
                    });
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(StoreError::LockFile {
                        path: lock_path.display().to_string(),
                        source,
                    });
                }
            }
        }
        let mut store = SqliteStore::open(path).await?;
        store._lock = Some(std::sync::Arc::new(locks));
        sqlx::query("UPDATE deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL")
            .execute(&store.pool)
            .await?;
        Ok(store)
    }

    /// Open a state file that must already exist, for an operator command that changes rows
    /// (`deliveries retry`): never creates one (a command run in the wrong folder would
    /// otherwise work on a new empty file and report nothing to do) and never migrates (the
    /// daemon that owns the file does, under its lock). Refused on a state of another
    /// release (see [`super::schema`]).
    pub async fn open_existing(path: &Path) -> Result<SqliteStore, StoreError> {
        let opts = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(false)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        super::schema::same_as_this_release(&applied(&pool).await?, &MIGRATOR)?;
        Ok(SqliteStore::with_pool(pool))
    }

    /// Open an existing state file without writing to it (`newswatch status` while the daemon
    /// may be running): no migrations, no lease reset.
    pub async fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        let opts = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .read_only(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        Ok(SqliteStore::with_pool(pool))
    }

    /// Open an in-memory store (tests).
    pub async fn in_memory() -> Result<SqliteStore, StoreError> {
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")?;
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore::with_pool(pool))
    }
}

/// The migrations a state file lists, each with whether it finished (none in a file no
/// release migrated).
async fn applied(pool: &SqlitePool) -> Result<Vec<(i64, bool)>, StoreError> {
    let migrated: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(pool)
    .await?;
    if migrated.is_none() {
        return Ok(vec![]);
    }
    Ok(
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await?,
    )
}

/// Creates the state file, if it is missing, readable by its owner only: it holds feed URLs
/// with their credentials and the alerts waiting to be sent, and SQLite gives its `-wal` and
/// `-shm` files the database's mode. Run from a shell (umask 022) it was readable by every
/// local user; the systemd unit's `UMask=0077` covered only the service.
fn create_private(path: &Path) -> Result<(), StoreError> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::File {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Create the state file's folder if needed (systemd's StateDirectory= usually has).
fn create_parent(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// The locks the owner of the state at `path` takes: `STATE.lock` beside the path as written,
/// and, when the state file is a symbolic link, the one beside the file it names. Beside the
/// link alone, a configuration naming the file itself (or by another link) took a lock of
/// its own, and two daemons polled and sent everything twice; beside the real file alone, a
/// release that locked beside the link would run next to this one during an upgrade. (A
/// link to a folder above the file needs nothing: the lock opened through it is the same.)
fn lock_paths(path: &Path) -> Vec<std::path::PathBuf> {
    let with_suffix = |p: &Path| {
        let mut lock = p.as_os_str().to_owned();
        lock.push(".lock");
        std::path::PathBuf::from(lock)
    };
    let mut paths = vec![with_suffix(path)];
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        && let Ok(real) = std::fs::canonicalize(path)
    {
        paths.push(with_suffix(&real));
    }
    paths
}

/// A stored count as `u32`, clamped (a hand-edited row must not wrap it).
fn count(r: &sqlx::sqlite::SqliteRow, column: &str) -> Result<u32, sqlx::Error> {
    Ok(r.try_get::<i64, _>(column)?.clamp(0, u32::MAX as i64) as u32)
}

impl Store for SqliteStore {
    async fn feed_states(&self) -> Result<Vec<FeedState>, StoreError> {
        let rows = sqlx::query("SELECT * FROM feeds ORDER BY feed")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(feeds::feed_state)
            .collect::<Result<_, _>>()?)
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
        let row = sqlx::query("SELECT * FROM feeds WHERE feed = ?1")
            .bind(feed)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(feeds::feed_state).transpose()?)
    }

    async fn feed_states_of(&self, feeds: &[String]) -> Result<Vec<FeedState>, StoreError> {
        let mut states = Vec::with_capacity(feeds.len());
        for chunk in feeds.chunks(BATCH) {
            let placeholders = marks(chunk.len());
            let sql = format!("SELECT * FROM feeds WHERE feed IN ({placeholders})");
            // Only `?` placeholders are formatted in; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for f in chunk {
                q = q.bind(f);
            }
            for r in q.fetch_all(&self.pool).await? {
                states.push(feeds::feed_state(&r)?);
            }
        }
        Ok(states)
    }

    async fn feeds_at_url(&self, config_url: &str) -> Result<Vec<FeedState>, StoreError> {
        feeds::feeds_at_url(&self.pool, config_url).await
    }

    async fn known_items(
        &self,
        feed: &str,
        keys: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let mut known = HashSet::new();
        for chunk in keys.chunks(BATCH) {
            let placeholders = marks(chunk.len());
            let sql = format!(
                "SELECT item_key FROM seen WHERE feed = ? AND item_key IN ({placeholders})"
            );
            // Only `?` placeholders are formatted in; every value is bound.
            let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(feed);
            for k in chunk {
                q = q.bind(k);
            }
            known.extend(q.fetch_all(&self.pool).await?);
        }
        Ok(known)
    }

    async fn commit_poll(&self, c: &PollCommit) -> Result<CommitOutcome, StoreError> {
        // Queued and committed with the other polls of the same tick: a first round's
        // baselines, each its own transaction, were more than the one connection could take.
        self.commits.write(c.clone()).await
    }

    async fn record_not_modified(
        &self,
        feed: &str,
        config_url: &str,
        now: Millis,
        next_poll_at: Millis,
    ) -> Result<(), StoreError> {
        // The common case (most polls are 304s): queued, and written with the other 304s of
        // the same tick in one transaction.
        self.not_modified
            .write(polls::NotModified {
                feed: feed.to_string(),
                config_url: config_url.to_string(),
                now,
                next_poll_at,
            })
            .await
    }

    async fn record_failure(&self, f: &FailureRecord<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        feeds::ensure_feed(&mut tx, f.feed, f.config_url).await?;
        sqlx::query(
            "UPDATE feeds SET last_poll_at = ?2, last_result = 'error', last_error = ?3,
               failures = ?4, next_poll_at = ?5, html_streak = ?6, removed_at = NULL
             WHERE feed = ?1",
        )
        .bind(f.feed)
        .bind(f.now)
        .bind(f.error)
        .bind(f.failures as i64)
        .bind(f.next_poll_at)
        .bind(f.html_streak as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
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
        outbox::release_sink(&self.pool, sink).await
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
        outbox::alert_counts(&self.pool).await
    }

    async fn dead_letter_unconfigured(&self, sinks: &[String]) -> Result<u64, StoreError> {
        outbox::dead_letter_unconfigured(&self.pool, sinks, crate::store::now_millis()).await
    }

    async fn retry_pending_now(&self, now: Millis) -> Result<u64, StoreError> {
        outbox::retry_pending_now(&self.pool, now).await
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

    async fn clamp_times(&self, now: Millis, horizon: Millis) -> Result<(), StoreError> {
        upkeep::clamp_times(&self.pool, now, horizon).await
    }

    async fn shift_times(&self, step: Millis) -> Result<(), StoreError> {
        upkeep::shift_times(&self.pool, step).await
    }

    async fn sink_state(&self, sink: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM sink_state WHERE sink = ?1 AND key = ?2")
                .bind(sink)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_sink_state(&self, sink: &str, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sink_state (sink, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT(sink, key) DO UPDATE SET value = excluded.value",
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

    async fn story_items(
        &self,
        since: Millis,
    ) -> Result<Vec<crate::store::StoryItemRow>, StoreError> {
        feeds::story_items(&self.pool, since).await
    }

    // ---- Item archive ----

    async fn archive_page(
        &self,
        since: Millis,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<crate::store::archive::ArchiveRow>, StoreError> {
        archive::page(&self.pool, since, after_id, limit).await
    }

    async fn archive_totals(
        &self,
        since: Millis,
    ) -> Result<crate::store::archive::ArchiveTotals, StoreError> {
        archive::totals(&self.pool, since).await
    }

    async fn prune_archive(&self, before: Millis) -> Result<u64, StoreError> {
        upkeep::prune_archive(&self.pool, before).await
    }
}

#[cfg(test)]
mod tests;
