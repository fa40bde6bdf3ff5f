//! The history half of the SQLite store: daily series and feed health.
//!
//! Free functions over the pool, called by [`super::SqliteStore`]'s [`crate::store::Store`]
//! impl. The day tables and `feed_health`'s `failing_since` / `baselined_at` are kept by the
//! triggers of the 0007 migration; only the reported health state is written here.

use sqlx::{Row, SqlitePool};

use crate::store::{
    FeedDay, FeedHealth, HealthChange, HealthState, KEEP_DAYS, Millis, StoreError, WatchDay,
};

pub async fn feed_days(pool: &SqlitePool, from_day: i64) -> Result<Vec<FeedDay>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT feed, day, ok, not_modified, failed, items FROM feed_days
         WHERE day >= ?1 ORDER BY feed, day",
    )
    .bind(from_day)
    .fetch_all(pool)
    .await?)
}

pub async fn watch_days(pool: &SqlitePool, from_day: i64) -> Result<Vec<WatchDay>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT watch, day, alerts FROM watch_days WHERE day >= ?1 ORDER BY watch, day",
    )
    .bind(from_day)
    .fetch_all(pool)
    .await?)
}

pub async fn feed_health(pool: &SqlitePool) -> Result<Vec<FeedHealth>, StoreError> {
    let rows = sqlx::query(
        "SELECT f.feed, f.last_result, f.last_error, f.last_poll_at, h.failing_since, h.reported,
           h.reported_at,
           (SELECT MAX(d.day) FROM feed_days d WHERE d.feed = f.feed AND d.items > 0)
             AS last_item_day
         FROM feeds f LEFT JOIN feed_health h ON h.feed = f.feed ORDER BY f.feed",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(FeedHealth {
                feed: r.try_get("feed")?,
                last_result: r.try_get("last_result")?,
                last_error: r.try_get("last_error")?,
                last_poll_at: r.try_get("last_poll_at")?,
                failing_since: r.try_get("failing_since")?,
                reported: HealthState::parse(
                    r.try_get::<Option<String>, _>("reported")?
                        .as_deref()
                        .unwrap_or("ok"),
                ),
                reported_at: r.try_get("reported_at")?,
                last_item_day: r.try_get("last_item_day")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

pub async fn arrivals(
    pool: &SqlitePool,
    feed: &str,
    since: Millis,
) -> Result<Vec<Millis>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT first_seen FROM seen
         WHERE feed = ?1 AND first_seen >= ?2 AND first_seen >
           COALESCE((SELECT baselined_at FROM feed_health WHERE feed = ?1), -1)
         ORDER BY first_seen",
    )
    .bind(feed)
    .bind(since)
    .fetch_all(pool)
    .await?)
}

pub async fn record_health(pool: &SqlitePool, c: &HealthChange) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT OR IGNORE INTO feed_health (feed) VALUES (?1)")
        .bind(&c.feed)
        .execute(&mut *tx)
        .await?;
    let changed = sqlx::query(
        "UPDATE feed_health SET reported = ?3, reported_at = ?4 WHERE feed = ?1 AND reported = ?2",
    )
    .bind(&c.feed)
    .bind(c.from.as_str())
    .bind(c.to.as_str())
    .bind(c.at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(false);
    }
    for d in &c.deliveries {
        super::feeds::enqueue(&mut tx, &c.feed, d, None, c.at).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Forget days more than [`KEEP_DAYS`] before the newest recorded one. Relative to the data
/// rather than the clock, so a daemon stopped for a month still shows its last weeks. One
/// statement each: a day is one row per feed (or watch), and the prune runs hourly.
pub async fn prune(pool: &SqlitePool) -> Result<u64, StoreError> {
    let mut n = 0;
    for sql in [
        "DELETE FROM feed_days WHERE day < (SELECT MAX(day) FROM feed_days) - ?1",
        "DELETE FROM watch_days WHERE day < (SELECT MAX(day) FROM watch_days) - ?1",
    ] {
        n += sqlx::query(sql)
            .bind(KEEP_DAYS)
            .execute(pool)
            .await?
            .rows_affected();
    }
    Ok(n)
}
