//! The history half of the PostgreSQL store: daily series, feed health and the item archive.
//!
//! Free functions over the pool, called by [`super::PgStore`]'s [`crate::store::Store`] impl.
//! The day tables and `feed_health`'s `failing_since` / `baselined_at` are kept by the
//! migration's triggers; only the reported health state and archive rows are written here.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::store::archive::{ArchiveRecord, ArchiveRow, ArchiveTotals};
use crate::store::{
    FeedDay, FeedHealth, HealthChange, HealthState, KEEP_DAYS, Millis, StoreError, WatchDay,
};

pub async fn feed_days(pool: &PgPool, from_day: i64) -> Result<Vec<FeedDay>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT feed, day, ok, not_modified, failed, items FROM feed_days
         WHERE day >= $1 ORDER BY feed, day",
    )
    .bind(from_day)
    .fetch_all(pool)
    .await?)
}

pub async fn watch_days(pool: &PgPool, from_day: i64) -> Result<Vec<WatchDay>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT watch, day, alerts FROM watch_days WHERE day >= $1 ORDER BY watch, day",
    )
    .bind(from_day)
    .fetch_all(pool)
    .await?)
}

pub async fn feed_health(pool: &PgPool) -> Result<Vec<FeedHealth>, StoreError> {
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

pub async fn arrivals(pool: &PgPool, feed: &str, since: Millis) -> Result<Vec<Millis>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT first_seen FROM seen
         WHERE feed = $1 AND first_seen >= $2 AND first_seen >
           COALESCE((SELECT baselined_at FROM feed_health WHERE feed = $1), -1)
         ORDER BY first_seen",
    )
    .bind(feed)
    .bind(since)
    .fetch_all(pool)
    .await?)
}

pub async fn record_health(pool: &PgPool, c: &HealthChange) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    if !c.deliveries.is_empty() {
        super::feeds::enqueuers_turn(&mut tx).await?;
    }
    sqlx::query("INSERT INTO feed_health (feed) VALUES ($1) ON CONFLICT (feed) DO NOTHING")
        .bind(&c.feed)
        .execute(&mut *tx)
        .await?;
    let changed = sqlx::query(
        "UPDATE feed_health SET reported = $3, reported_at = $4 WHERE feed = $1 AND reported = $2",
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

/// Forget days more than [`KEEP_DAYS`] before the newest recorded one (relative to the data,
/// as the SQLite store does).
pub async fn prune(pool: &PgPool) -> Result<u64, StoreError> {
    let mut n = 0;
    for sql in [
        "DELETE FROM feed_days WHERE day < (SELECT MAX(day) FROM feed_days) - $1",
        "DELETE FROM watch_days WHERE day < (SELECT MAX(day) FROM watch_days) - $1",
    ] {
        n += sqlx::query(sql)
            .bind(KEEP_DAYS)
            .execute(pool)
            .await?
            .rows_affected();
    }
    Ok(n)
}

/// Store one poll's archive record; part of the poll's transaction.
pub async fn insert_archive(
    tx: &mut PgConnection,
    feed: &str,
    now: Millis,
    r: &ArchiveRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO archive (feed, first_seen, items, raw_len, blob) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(feed)
    .bind(now)
    .bind(i64::from(r.items))
    .bind(i64::from(r.raw_len))
    .bind(&r.blob)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn archive_page(
    pool: &PgPool,
    since: Millis,
    after_id: i64,
    limit: i64,
) -> Result<Vec<ArchiveRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, feed, first_seen, items, raw_len, blob FROM archive
         WHERE id > $1 AND first_seen >= $2 ORDER BY id LIMIT $3",
    )
    .bind(after_id)
    .bind(since)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let row = |r: &PgRow| -> Result<ArchiveRow, sqlx::Error> {
        Ok(ArchiveRow {
            id: r.try_get("id")?,
            feed: r.try_get("feed")?,
            first_seen: r.try_get("first_seen")?,
            items: super::count(r, "items")?,
            raw_len: super::count(r, "raw_len")?,
            blob: r.try_get("blob")?,
        })
    };
    Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
}

pub async fn archive_totals(pool: &PgPool, since: Millis) -> Result<ArchiveTotals, StoreError> {
    let r = sqlx::query(
        "SELECT COUNT(*) AS records, COALESCE(SUM(items), 0)::BIGINT AS items,
           COALESCE(SUM(octet_length(blob)), 0)::BIGINT AS bytes, MIN(first_seen) AS oldest
         FROM archive WHERE first_seen >= $1",
    )
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok(ArchiveTotals {
        records: r.try_get("records")?,
        items: r.try_get("items")?,
        bytes: r.try_get("bytes")?,
        oldest: r.try_get("oldest")?,
    })
}
