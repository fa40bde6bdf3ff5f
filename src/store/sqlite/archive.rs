//! The archive half of the SQLite store: writing one poll's record (inside the poll's
//! transaction) and reading records back in commit order for `newswatch backtest`.
//!
//! Free functions over the pool or the open transaction, called by [`super::SqliteStore`]
//! and [`super::feeds::commit_poll`].

use sqlx::{Row, SqlitePool};

use crate::store::archive::{ArchiveRecord, ArchiveRow, ArchiveTotals};
use crate::store::{Millis, StoreError};

/// Store one poll's record; part of the poll's transaction.
pub async fn insert(
    tx: &mut sqlx::SqliteConnection,
    feed: &str,
    now: Millis,
    r: &ArchiveRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO archive (feed, first_seen, items, raw_len, blob) VALUES (?1, ?2, ?3, ?4, ?5)",
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

pub async fn page(
    pool: &SqlitePool,
    since: Millis,
    after_id: i64,
    limit: i64,
) -> Result<Vec<ArchiveRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, feed, first_seen, items, raw_len, blob FROM archive
         WHERE id > ?1 AND first_seen >= ?2 ORDER BY id LIMIT ?3",
    )
    .bind(after_id)
    .bind(since)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let row = |r: &sqlx::sqlite::SqliteRow| -> Result<ArchiveRow, sqlx::Error> {
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

pub async fn totals(pool: &SqlitePool, since: Millis) -> Result<ArchiveTotals, StoreError> {
    let r = sqlx::query(
        "SELECT COUNT(*) AS records, COALESCE(SUM(items), 0) AS items,
           COALESCE(SUM(LENGTH(blob)), 0) AS bytes, MIN(first_seen) AS oldest
         FROM archive WHERE first_seen >= ?1",
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
