//! The feed-state writes of polls that found nothing new, in batches: a 304's state.
//!
//! Called by [`super::PgStore`]'s writer task ([`crate::store::batch`]). A batch is one
//! transaction with one UPDATE for all its feeds (the rows travel as arrays); the history
//! triggers still fire once per feed. Feeds the UPDATE does not find (no row yet, or a changed
//! URL) are written one by one inside the same transaction. If the batch fails as a whole, each
//! row is written alone, so each caller gets its own row's error. Batching matters more here
//! than on SQLite: each transaction is a flush of the server's write-ahead log.

use std::collections::HashSet;

use sqlx::PgPool;

use crate::store::StoreError;
use crate::store::batch::NotModified;

/// Write a batch of 304s; one result per row, in order. If the batch cannot be one statement
/// or fails as a whole, each row is written alone, so each caller gets its own row's error.
/// With `owner` (an instance id), a feed whose lease that instance no longer holds is not
/// written: its row's result is [`StoreError::LeaseLost`].
pub async fn write(
    pool: &PgPool,
    rows: Vec<NotModified>,
    owner: Option<&str>,
) -> Vec<Result<(), StoreError>> {
    if crate::store::batch::one_per_feed(&rows) {
        match together(pool, &rows, owner).await {
            Ok(out) => return out,
            Err(e) => {
                tracing::warn!(rows = rows.len(), error = %e, "batched feed-state write failed; writing each feed alone");
            }
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(
            super::feeds::record_not_modified(
                pool,
                &r.feed,
                &r.config_url,
                r.now,
                r.next_poll_at,
                owner,
            )
            .await,
        );
    }
    out
}

async fn together(
    pool: &PgPool,
    rows: &[NotModified],
    owner: Option<&str>,
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let column = |f: fn(&NotModified) -> &str| rows.iter().map(f).collect::<Vec<_>>();
    let feeds = column(|r| &r.feed);
    let urls = column(|r| &r.config_url);
    let nows: Vec<i64> = rows.iter().map(|r| r.now).collect();
    let nexts: Vec<i64> = rows.iter().map(|r| r.next_poll_at).collect();
    let mut tx = pool.begin().await?;
    let updated: Vec<String> = sqlx::query_scalar(
        "UPDATE feeds SET last_poll_at = v.now, last_success_at = v.now,
           last_result = 'not_modified', last_error = NULL, failures = 0, html_streak = 0,
           next_poll_at = v.next_poll_at,
           lease_owner = NULL, lease_until = NULL, lease_host = NULL, removed_at = NULL
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[])
           AS v(feed, config_url, now, next_poll_at)
         WHERE feeds.feed = v.feed AND feeds.config_url = v.config_url
           AND ($5::text IS NULL OR feeds.lease_owner = $5)
         RETURNING feeds.feed",
    )
    .bind(&feeds)
    .bind(&urls)
    .bind(&nows)
    .bind(&nexts)
    .bind(owner)
    .fetch_all(&mut *tx)
    .await?;
    let updated: HashSet<&str> = updated.iter().map(String::as_str).collect();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        if updated.contains(r.feed.as_str()) {
            out.push(Ok(()));
        } else if owner.is_some() {
            // The claim made the row with this URL: not found means the lease is gone.
            out.push(Err(StoreError::LeaseLost {
                feed: r.feed.clone(),
            }));
        } else {
            super::feeds::not_modified_in(&mut tx, r).await?;
            out.push(Ok(()));
        }
    }
    tx.commit().await?;
    Ok(out)
}
