//! Upkeep of the PostgreSQL database: which feeds are configured, clock repairs, pruning.
//!
//! Free functions over the pool, called by [`super::PgStore`]'s [`crate::store::Store`] impl:
//! `sync_feeds`, `clamp_times`, `shift_times`, `prune`, `prune_archive`. Nothing here runs on
//! a poll's path; the daemon's upkeep loop and its clock watch call them.

use sqlx::PgPool;

use super::history;
use crate::store::{Millis, PruneRules, StoreError};

/// Rows one prune statement deletes before it gives the pool's connection back.
pub(super) const PRUNE_BATCH: i64 = 5_000;

pub async fn sync_feeds(
    pool: &PgPool,
    configured: &[String],
    now: Millis,
) -> Result<(), StoreError> {
    // An earlier removal keeps its time, so a reload does not restart the retention.
    sqlx::query(
        "UPDATE feeds SET removed_at =
           CASE WHEN feed = ANY($1) THEN NULL ELSE COALESCE(removed_at, $2) END
         WHERE removed_at IS DISTINCT FROM
           CASE WHEN feed = ANY($1) THEN NULL ELSE COALESCE(removed_at, $2) END",
    )
    .bind(configured)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn clamp_times(pool: &PgPool, now: Millis, horizon: Millis) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    // Days of history written while the clock ran ahead are counted on today: left in the
    // future, they made the prune (which keeps a month behind the newest day) delete the real
    // history, and a feed's last item day stayed ahead of now, so it was never judged silent.
    let today = now.div_euclid(crate::store::DAY_MILLIS);
    let ahead: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM feed_days WHERE day > $1)")
        .bind(today)
        .fetch_one(&mut *tx)
        .await?;
    for sql in [
        "INSERT INTO feed_days AS d (feed, day, ok, not_modified, failed, items)
           SELECT feed, $1, SUM(ok)::BIGINT, SUM(not_modified)::BIGINT, SUM(failed)::BIGINT,
             SUM(items)::BIGINT
           FROM feed_days WHERE day > $1 GROUP BY feed
         ON CONFLICT (feed, day) DO UPDATE SET ok = d.ok + EXCLUDED.ok,
           not_modified = d.not_modified + EXCLUDED.not_modified,
           failed = d.failed + EXCLUDED.failed, items = d.items + EXCLUDED.items",
        "INSERT INTO watch_days AS w (watch, day, alerts)
           SELECT watch, $1, SUM(alerts)::BIGINT FROM watch_days WHERE day > $1 GROUP BY watch
         ON CONFLICT (watch, day) DO UPDATE SET alerts = w.alerts + EXCLUDED.alerts",
        "DELETE FROM feed_days WHERE day > $1",
        "DELETE FROM watch_days WHERE day > $1",
    ] {
        sqlx::query(sql).bind(today).execute(&mut *tx).await?;
    }
    // So are the times items arrived and feed health's times: silence is judged from them.
    // (Not LEAST: it skips a NULL, and a feed not failing would come out failing since now.)
    // Only when the history was ahead: every poll counts on its day, so a time ahead left a
    // day ahead, and the history is small where `seen` is read whole.
    for sql in [
        "UPDATE seen SET first_seen = $1 WHERE first_seen > $1",
        "UPDATE feed_health SET
           baselined_at = CASE WHEN baselined_at > $1 THEN $1 ELSE baselined_at END,
           failing_since = CASE WHEN failing_since > $1 THEN $1 ELSE failing_since END,
           reported_at = CASE WHEN reported_at > $1 THEN $1 ELSE reported_at END
         WHERE baselined_at > $1 OR failing_since > $1 OR reported_at > $1",
    ] {
        if ahead {
            sqlx::query(sql).bind(now).execute(&mut *tx).await?;
        }
    }
    sqlx::query(
        // Not LEAST for the claims: it skips a NULL, and an unclaimed row would come out
        // claimed (and being sent) for MAX_CLAIM.
        "UPDATE deliveries SET next_attempt_at = LEAST(next_attempt_at, $1 + $2),
           created_at = LEAST(created_at, $1),
           lease_until = CASE WHEN lease_until > $1 + $3 THEN $1 + $3 ELSE lease_until END,
           sending_until =
             CASE WHEN sending_until > $1 + $3 THEN $1 + $3 ELSE sending_until END
         WHERE state = 'pending'
           AND (next_attempt_at > $1 + $2 OR created_at > $1 OR lease_until > $1 + $3
                OR sending_until > $1 + $3)",
    )
    .bind(now)
    .bind(horizon)
    .bind(crate::store::MAX_CLAIM)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn shift_times(pool: &PgPool, step: Millis) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE deliveries SET next_attempt_at = next_attempt_at + $1,
           created_at = created_at + $1, lease_until = lease_until + $1,
           sending_until = sending_until + $1
         WHERE state = 'pending'",
    )
    .bind(step)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE feeds SET next_poll_at = next_poll_at + $1")
        .bind(step)
        .execute(&mut *tx)
        .await?;
    // What feed health measures failure against (the feed's polls after the step are on
    // the new clock): unmoved, a step forward of `health_after` reported every failing
    // feed as failing for that long, and then recovered.
    sqlx::query(
        "UPDATE feed_health SET failing_since = failing_since + $1,
           reported_at = reported_at + $1",
    )
    .bind(step)
    .execute(&mut *tx)
    .await?;
    if step.abs() >= crate::store::ARRIVALS_STEP {
        // Not `last_seen`: it must stay equal to the feed's `last_fetch_at` for the latest
        // document to be spared by the prune, and `last_fetch_at` moves only with a poll
        // (moving `last_poll_at` here would count a poll in the day's history).
        sqlx::query("UPDATE seen SET first_seen = first_seen + $1")
            .bind(step)
            .execute(&mut *tx)
            .await?;
        // Arrivals are the items after the baseline's: it moves with them.
        sqlx::query("UPDATE feed_health SET baselined_at = baselined_at + $1")
            .bind(step)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn prune(pool: &PgPool, r: PruneRules) -> Result<u64, StoreError> {
    let mut n = 0;
    let mut run = async |sql: &'static str, at: Millis| -> Result<(), StoreError> {
        n += delete_in_batches(pool, sql, at).await?;
        Ok(())
    };
    // Items of a feed's latest full document are kept whatever their age (see the SQLite
    // store): a feed answering 304 for longer than the retention still lists them.
    run(
        "DELETE FROM seen WHERE (feed, item_key) IN (SELECT s.feed, s.item_key FROM seen s
           WHERE s.last_seen < $1 AND s.last_seen < COALESCE(
             (SELECT f.last_fetch_at FROM feeds f WHERE f.feed = s.feed), $1 + 1)
           LIMIT $2)",
        r.seen_before,
    )
    .await?;
    run(
        "DELETE FROM link_seen WHERE (watch, link) IN
           (SELECT watch, link FROM link_seen WHERE at < $1 LIMIT $2)",
        r.links_before,
    )
    .await?;
    run(
        "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries
           WHERE state = 'sent' AND sent_at < $1 LIMIT $2)",
        r.sent_before,
    )
    .await?;
    run(
        "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries
           WHERE state = 'dead' AND COALESCE(sent_at, created_at) < $1 LIMIT $2)",
        r.dead_before,
    )
    .await?;
    run(
        "DELETE FROM seen WHERE (feed, item_key) IN (SELECT feed, item_key FROM seen WHERE feed IN
           (SELECT feed FROM feeds WHERE removed_at IS NOT NULL AND removed_at < $1)
           LIMIT $2)",
        r.removed_before,
    )
    .await?;
    run(
        "DELETE FROM feeds WHERE feed IN (SELECT feed FROM feeds
           WHERE removed_at IS NOT NULL AND removed_at < $1 LIMIT $2)",
        r.removed_before,
    )
    .await?;
    run(
        "DELETE FROM story_items WHERE id IN
           (SELECT id FROM story_items WHERE at < $1 LIMIT $2)",
        r.stories_before,
    )
    .await?;
    n += history::prune(pool).await?;
    Ok(n)
}

pub async fn prune_archive(pool: &PgPool, before: Millis) -> Result<u64, StoreError> {
    delete_in_batches(
        pool,
        "DELETE FROM archive WHERE id IN
           (SELECT id FROM archive WHERE first_seen < $1 LIMIT $2)",
        before,
    )
    .await
}

/// Run a `DELETE … LIMIT $2` with `at` as `$1` until it deletes fewer than a batch.
async fn delete_in_batches(
    pool: &PgPool,
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
