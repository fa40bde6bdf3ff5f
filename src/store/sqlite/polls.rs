//! The feed-state writes of polls that found nothing new: a 304's state, written together.
//!
//! Free functions over the pool, called by [`super::SqliteStore`]'s writer task
//! ([`crate::store::batch`]). A batch is one transaction with one UPDATE for all its feeds (the rows
//! travel as one JSON parameter); the 0007 history triggers still fire once per feed. Feeds
//! the UPDATE does not find (no row yet, or a changed URL) take the one-row path inside the
//! same transaction. If the batch fails as a whole, each row is written alone, so each
//! caller gets its own row's error.

use std::collections::HashSet;

use sqlx::SqlitePool;

use crate::store::StoreError;
pub use crate::store::batch::NotModified;

/// Write a batch of 304s; one result per row, in order. If the batch cannot be one statement
/// or fails as a whole, each row is written alone, so each caller gets its own row's error.
pub async fn write(pool: &SqlitePool, rows: Vec<NotModified>) -> Vec<Result<(), StoreError>> {
    if crate::store::batch::one_per_feed(&rows) {
        match together(pool, &rows).await {
            Ok(()) => return rows.iter().map(|_| Ok(())).collect(),
            Err(e) => {
                tracing::warn!(rows = rows.len(), error = %e, "batched feed-state write failed; writing each feed alone");
            }
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(one(pool, r).await);
    }
    out
}

async fn together(pool: &SqlitePool, rows: &[NotModified]) -> Result<(), StoreError> {
    let json = serde_json::to_string(rows).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let mut tx = pool.begin().await?;
    let updated: Vec<String> = sqlx::query_scalar(
        "UPDATE feeds SET last_poll_at = v.now, last_success_at = v.now,
           last_result = 'not_modified', last_error = NULL, failures = 0, html_streak = 0,
           next_poll_at = v.next_poll_at, removed_at = NULL
         FROM (SELECT value ->> '$.feed' AS feed, value ->> '$.config_url' AS config_url,
                 value ->> '$.now' AS now, value ->> '$.next_poll_at' AS next_poll_at
               FROM json_each(?1)) AS v
         WHERE feeds.feed = v.feed AND feeds.config_url = v.config_url
         RETURNING feeds.feed",
    )
    .bind(json)
    .fetch_all(&mut *tx)
    .await?;
    if updated.len() < rows.len() {
        let updated: HashSet<&str> = updated.iter().map(String::as_str).collect();
        for r in rows.iter().filter(|r| !updated.contains(r.feed.as_str())) {
            missing(&mut tx, r).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// One 304 alone: the common case is one UPDATE; a feed without a row for this URL takes
/// [`missing`] in a transaction.
pub async fn one(pool: &SqlitePool, r: &NotModified) -> Result<(), StoreError> {
    let updated = sqlx::query(
        "UPDATE feeds SET last_poll_at = ?2, last_success_at = ?2, last_result = 'not_modified',
           last_error = NULL, failures = 0, html_streak = 0, next_poll_at = ?3, removed_at = NULL
         WHERE feed = ?1 AND config_url = ?4",
    )
    .bind(&r.feed)
    .bind(r.now)
    .bind(r.next_poll_at)
    .bind(&r.config_url)
    .execute(pool)
    .await?
    .rows_affected();
    if updated > 0 {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    missing(&mut tx, r).await?;
    tx.commit().await?;
    Ok(())
}

/// A 304 for a feed whose row is missing or names another URL (it changed since the
/// validators were stored): the row is made or reset first.
async fn missing(tx: &mut sqlx::SqliteConnection, r: &NotModified) -> Result<(), sqlx::Error> {
    super::feeds::ensure_feed(tx, &r.feed, &r.config_url).await?;
    sqlx::query(
        "UPDATE feeds SET last_poll_at = ?2, last_success_at = ?2, last_result = 'not_modified',
           last_error = NULL, failures = 0, html_streak = 0, next_poll_at = ?3, removed_at = NULL
         WHERE feed = ?1",
    )
    .bind(&r.feed)
    .bind(r.now)
    .bind(r.next_poll_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
