//! Upkeep of the SQLite state file: which feeds are configured, clock repairs, pruning.
//!
//! Free functions over the pool, called by [`super::SqliteStore`]'s [`crate::store::Store`]
//! impl: `sync_feeds`, `clamp_times`, `shift_times`, `prune`, `prune_archive`. Nothing here
//! runs on a poll's path; the daemon's upkeep loop and its clock watch call them.

use sqlx::SqlitePool;

use super::{BATCH, history, marks};
use crate::store::{Millis, PruneRules, StoreError};

/// Rows one prune statement deletes before it gives the connection back.
pub(super) const PRUNE_BATCH: i64 = 5_000;

pub async fn sync_feeds(
    pool: &SqlitePool,
    configured: &[String],
    now: Millis,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    for chunk in configured.chunks(BATCH) {
        let placeholders = marks(chunk.len());
        // Only `?` placeholders are formatted in; every name is bound.
        let sql = format!("UPDATE feeds SET removed_at = -1 WHERE feed IN ({placeholders})");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for f in chunk {
            q = q.bind(f);
        }
        q.execute(&mut *tx).await?;
    }
    // Marked -1 = configured; everything else unmarked is removed as of now (an earlier
    // removal keeps its time, so a reload does not restart the retention).
    sqlx::query(
        "UPDATE feeds SET removed_at =
           CASE WHEN removed_at = -1 THEN NULL ELSE COALESCE(removed_at, ?1) END",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn clamp_times(
    pool: &SqlitePool,
    now: Millis,
    horizon: Millis,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    // Days of history written while the clock ran ahead are counted on today: left in the
    // future, they made the prune (which keeps a month behind the newest day) delete the real
    // history, and a feed's last item day stayed ahead of now, so it was never judged silent.
    let today = now.div_euclid(crate::store::DAY_MILLIS);
    let ahead: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM feed_days WHERE day > ?1)")
        .bind(today)
        .fetch_one(&mut *tx)
        .await?;
    for sql in [
        "INSERT INTO feed_days (feed, day, ok, not_modified, failed, items)
           SELECT feed, ?1, SUM(ok), SUM(not_modified), SUM(failed), SUM(items)
           FROM feed_days WHERE day > ?1 GROUP BY feed
         ON CONFLICT (feed, day) DO UPDATE SET ok = ok + excluded.ok,
           not_modified = not_modified + excluded.not_modified,
           failed = failed + excluded.failed, items = items + excluded.items",
        "INSERT INTO watch_days (watch, day, alerts)
           SELECT watch, ?1, SUM(alerts) FROM watch_days WHERE day > ?1 GROUP BY watch
         ON CONFLICT (watch, day) DO UPDATE SET alerts = alerts + excluded.alerts",
        "DELETE FROM feed_days WHERE day > ?1",
        "DELETE FROM watch_days WHERE day > ?1",
    ] {
        sqlx::query(sql).bind(today).execute(&mut *tx).await?;
    }
    // So are the times items arrived and feed health's times: silence is judged from them.
    // (SQLite's MIN of a NULL is NULL: a feed not failing stays so.) Only when the history
    // was ahead: every poll counts on its day, so a time ahead left a day ahead, and the
    // history is small where `seen` (no index on its times) is read whole.
    for sql in [
        "UPDATE seen SET first_seen = ?1 WHERE first_seen > ?1",
        "UPDATE feed_health SET baselined_at = MIN(baselined_at, ?1),
           failing_since = MIN(failing_since, ?1), reported_at = MIN(reported_at, ?1)
         WHERE baselined_at > ?1 OR failing_since > ?1 OR reported_at > ?1",
    ] {
        if ahead {
            sqlx::query(sql).bind(now).execute(&mut *tx).await?;
        }
    }
    sqlx::query(
        "UPDATE deliveries SET next_attempt_at = MIN(next_attempt_at, ?1 + ?2),
           created_at = MIN(created_at, ?1), lease_until = MIN(lease_until, ?1 + ?3)
         WHERE state = 'pending'
           AND (next_attempt_at > ?1 + ?2 OR created_at > ?1 OR lease_until > ?1 + ?3)",
    )
    .bind(now)
    .bind(horizon)
    .bind(crate::store::MAX_CLAIM)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn shift_times(pool: &SqlitePool, step: Millis) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE deliveries SET next_attempt_at = next_attempt_at + ?1,
           created_at = created_at + ?1, lease_until = lease_until + ?1
         WHERE state = 'pending'",
    )
    .bind(step)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE feeds SET next_poll_at = next_poll_at + ?1")
        .bind(step)
        .execute(&mut *tx)
        .await?;
    // What feed health measures failure against (the feed's polls after the step are on
    // the new clock): unmoved, a step forward of `health_after` reported every failing
    // feed as failing for that long, and then recovered.
    sqlx::query(
        "UPDATE feed_health SET failing_since = failing_since + ?1,
           reported_at = reported_at + ?1",
    )
    .bind(step)
    .execute(&mut *tx)
    .await?;
    if step.abs() >= crate::store::ARRIVALS_STEP {
        // Not `last_seen`: it must stay equal to the feed's `last_fetch_at` for the latest
        // document to be spared by the prune, and `last_fetch_at` moves only with a poll
        // (moving `last_poll_at` here would count a poll in the day's history).
        sqlx::query("UPDATE seen SET first_seen = first_seen + ?1")
            .bind(step)
            .execute(&mut *tx)
            .await?;
        // Arrivals are the items after the baseline's: it moves with them.
        sqlx::query("UPDATE feed_health SET baselined_at = baselined_at + ?1")
            .bind(step)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn prune(pool: &SqlitePool, r: PruneRules) -> Result<u64, StoreError> {
    let mut n = 0;
    let mut run = async |sql: &'static str, at: Millis| -> Result<(), StoreError> {
        n += delete_in_batches(pool, sql, at).await?;
        Ok(())
    };
    // Items of a feed's latest full document are kept whatever their age (their
    // last_seen equals the feed's last_fetch_at): a feed answering 304, or failing, for
    // longer than the retention must not forget what it still lists.
    run(
        "DELETE FROM seen WHERE (feed, item_key) IN (SELECT feed, item_key FROM seen
           WHERE last_seen < ?1 AND last_seen < COALESCE(
             (SELECT f.last_fetch_at FROM feeds f WHERE f.feed = seen.feed), ?1 + 1)
           LIMIT ?2)",
        r.seen_before,
    )
    .await?;
    run(
        "DELETE FROM link_seen WHERE (watch, link) IN
           (SELECT watch, link FROM link_seen WHERE at < ?1 LIMIT ?2)",
        r.links_before,
    )
    .await?;
    run(
        "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries
           WHERE state = 'sent' AND sent_at < ?1 LIMIT ?2)",
        r.sent_before,
    )
    .await?;
    run(
        "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries
           WHERE state = 'dead' AND COALESCE(sent_at, created_at) < ?1 LIMIT ?2)",
        r.dead_before,
    )
    .await?;
    // A feed gone from the configuration for longer than the retention: its seen keys
    // (it would be a new feed, baselined, if it came back) and its row.
    run(
        "DELETE FROM seen WHERE (feed, item_key) IN (SELECT feed, item_key FROM seen WHERE feed IN
           (SELECT feed FROM feeds WHERE removed_at IS NOT NULL AND removed_at < ?1)
           LIMIT ?2)",
        r.removed_before,
    )
    .await?;
    run(
        "DELETE FROM feeds WHERE rowid IN (SELECT rowid FROM feeds
           WHERE removed_at IS NOT NULL AND removed_at < ?1 LIMIT ?2)",
        r.removed_before,
    )
    .await?;
    run(
        "DELETE FROM story_items WHERE id IN
           (SELECT id FROM story_items WHERE at < ?1 LIMIT ?2)",
        r.stories_before,
    )
    .await?;
    n += history::prune(pool).await?;
    // Hand the freed pages back and keep the journal from growing without bound.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(pool)
        .await?;
    Ok(n)
}

pub async fn prune_archive(pool: &SqlitePool, before: Millis) -> Result<u64, StoreError> {
    delete_in_batches(
        pool,
        "DELETE FROM archive WHERE id IN
           (SELECT id FROM archive WHERE first_seen < ?1 LIMIT ?2)",
        before,
    )
    .await
}

/// Run a `DELETE ... LIMIT ?2` with `at` as ?1 until it deletes fewer than a batch. In
/// batches: the store has one connection, and a prune of a large backlog (a first start after
/// an upgrade) must not hold it for seconds while polls, deliveries and `/metrics` wait.
async fn delete_in_batches(
    pool: &SqlitePool,
    sql: &'static str,
    at: Millis,
) -> Result<u64, StoreError> {
    let mut n = 0;
    loop {
        let done = sqlx::query(sql)
            .bind(at)
            .bind(PRUNE_BATCH)
            .execute(pool)
            .await?
            .rows_affected();
        n += done;
        if done < PRUNE_BATCH as u64 {
            return Ok(n);
        }
        tokio::task::yield_now().await;
    }
}
