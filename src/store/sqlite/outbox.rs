//! The outbox half of the SQLite store: claiming, recording and listing deliveries.
//!
//! Free functions over the pool, called by [`super::SqliteStore`]'s [`crate::store::Store`]
//! impl. Results of one send (one alert, or a digest's rows) are written in one transaction;
//! counts come from the trigger-kept `outbox_counts` and `watch_alerts` tables and the
//! `(state, …)` indexes, so summaries cost the same with a million sent rows as with ten.

use sqlx::{Row, SqlitePool};

use super::marks;
use crate::store::{Delivery, DeliveryRow, Millis, OutboxSummary, StoreError};

/// Run `sql` (with one `{ids}` list of placeholders) for `ids`, after the leading `binds`, in
/// one transaction, in chunks SQLite accepts.
async fn for_ids(
    pool: &SqlitePool,
    sql: &str,
    lead: &[LeadValue<'_>],
    ids: &[i64],
) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let mut n = 0;
    for chunk in ids.chunks(super::BATCH) {
        let text = sql.replace("{ids}", &marks(chunk.len()));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(text));
        for v in lead {
            q = match v {
                LeadValue::Int(i) => q.bind(*i),
                LeadValue::Text(t) => q.bind(*t),
            };
        }
        for id in chunk {
            q = q.bind(*id);
        }
        n += q.execute(&mut *tx).await?.rows_affected();
    }
    tx.commit().await?;
    Ok(n)
}

/// A value bound before the id list.
enum LeadValue<'a> {
    Int(i64),
    Text(&'a str),
}

/// A sink's claim of its due rows (see [`claim_due`]).
pub(super) const CLAIM: &str = "WITH first AS (
           SELECT id, group_key, story_key FROM deliveries d INDEXED BY deliveries_pending_by_sink
           WHERE sink = ?1 AND state = 'pending' AND next_attempt_at <= ?2
             AND (lease_until IS NULL OR lease_until <= ?2)
             AND (story_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o
                    WHERE o.idem_key = d.story_key AND o.state = 'pending'))
             AND (story_key IS NULL OR d.created_at <= ?5 OR EXISTS (SELECT 1 FROM deliveries o
                    WHERE o.idem_key = d.story_key))
           ORDER BY id LIMIT ?4),
         tops AS (
           SELECT story_key, MAX(id) AS top FROM first WHERE story_key IS NOT NULL
           GROUP BY story_key),
         candidates AS (
           SELECT id FROM first
           UNION
           SELECT d.id FROM deliveries d
           WHERE d.group_key IN (SELECT group_key FROM first WHERE group_key IS NOT NULL)
           UNION
           SELECT d.id FROM tops t CROSS JOIN deliveries d ON d.story_key = t.story_key
           WHERE d.state = 'pending' AND d.id < t.top
           UNION
           SELECT d.id FROM deliveries d
           WHERE d.group_key IN (SELECT o.group_key FROM tops t CROSS JOIN deliveries o
                                   ON o.story_key = t.story_key
                                 WHERE o.state = 'pending' AND o.group_key IS NOT NULL
                                   AND o.id < t.top))
         UPDATE deliveries SET lease_until = ?3
         WHERE id IN (SELECT id FROM candidates)
           AND (id IN (SELECT id FROM first)
            OR (sink = ?1 AND state = 'pending' AND group_key IN
                  (SELECT group_key FROM first WHERE group_key IS NOT NULL))
            OR (sink = ?1 AND state = 'pending' AND (lease_until IS NULL OR lease_until <= ?2)
                AND id < (SELECT MAX(f.id) FROM first f WHERE f.story_key = deliveries.story_key))
            OR (sink = ?1 AND state = 'pending' AND group_key IN
                  (SELECT o.group_key FROM tops t CROSS JOIN deliveries o
                     ON o.story_key = t.story_key
                   WHERE o.sink = ?1 AND o.state = 'pending' AND o.group_key IS NOT NULL
                     AND (o.lease_until IS NULL OR o.lease_until <= ?2)
                     AND o.id < t.top)))
         RETURNING id, idem_key, sink, alert, attempts, created_at, group_key, story_key,
           (SELECT o.message_ref FROM deliveries o WHERE o.idem_key = deliveries.story_key)
             AS message_ref,
           (story_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM deliveries o
              WHERE o.idem_key = deliveries.story_key AND o.state = 'sent')) AS orphan";

/// The first `limit` due, unclaimed deliveries of `sink` in outbox order, plus every pending
/// partner of a group among them (a digest is retried whole), leased until `lease_until`.
pub async fn claim_due(
    pool: &SqlitePool,
    sink: &str,
    now: Millis,
    lease_until: Millis,
    limit: i64,
    orphans_until: Millis,
) -> Result<Vec<Delivery>, StoreError> {
    // A story update waits while the story's alert to the same sink is pending: the edit must
    // not overtake the message it edits; and while that alert is not in the outbox yet, until
    // `orphans_until` (its poll may still be committing it). The older pending updates of a story claimed come
    // with it, due or not: the newest carries every source, and one of them retried after it
    // would set the message back. Such an older update in a digest of notes brings the digest's other rows
    // (other stories' notes): a digest goes whole, or its key would carry fewer notes.
    // The rows to update are first gathered by index (`candidates`: the first rows, walked
    // in id order by `deliveries_pending_by_sink` until the limit; their digests'; their
    // stories' older updates and those updates' digests), then the conditions are applied to
    // those alone. The conditions alone let the planner walk every pending row of the sink
    // through `deliveries_due`, sort them, and ask each for its story's newest claimed row:
    // 85 ms a claim with 50,000 waiting (45 ms with statistics), on the one connection, for
    // each of the thousands of claims that drain them; 1 ms gathered first. (`CROSS JOIN`
    // keeps the stories found first, each looked up by its index: without statistics the
    // planner walked every pending row to join them.)
    let rows = sqlx::query(CLAIM)
        .bind(sink)
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .bind(orphans_until)
        .fetch_all(pool)
        .await?;
    let mut out = rows
        .iter()
        .map(|r| {
            Ok(Delivery {
                id: r.try_get("id")?,
                idem_key: r.try_get("idem_key")?,
                sink: r.try_get("sink")?,
                alert_json: r.try_get("alert")?,
                attempts: super::count(r, "attempts")?,
                created_at: r.try_get("created_at")?,
                group_key: r.try_get("group_key")?,
                story_key: r.try_get("story_key")?,
                message_ref: r.try_get("message_ref")?,
                orphan: r.try_get("orphan")?,
                claimed_until: lease_until,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // RETURNING does not promise an order; per-sink order is the outbox order.
    out.sort_by_key(|d| d.id);
    Ok(out)
}

pub async fn begin_attempt(pool: &SqlitePool, ids: &[i64], key: &str) -> Result<(), StoreError> {
    for_ids(
        pool,
        "UPDATE deliveries SET group_key = ? WHERE id IN ({ids})",
        &[LeadValue::Text(key)],
        ids,
    )
    .await?;
    Ok(())
}

/// Mark `ids` sent; `quiet`: done without a message (see `Store::mark_quiet`).
pub async fn mark_sent(
    pool: &SqlitePool,
    ids: &[i64],
    now: Millis,
    quiet: bool,
) -> Result<(), StoreError> {
    for_ids(
        pool,
        "UPDATE deliveries SET state = 'sent', sent_at = ?, quiet = ?, attempts = attempts + 1,
           lease_until = NULL, last_error = NULL WHERE id IN ({ids})",
        &[LeadValue::Int(now), LeadValue::Int(i64::from(quiet))],
        ids,
    )
    .await?;
    Ok(())
}

/// One alert sent alone, with the platform's id of its message.
pub async fn mark_sent_ref(
    pool: &SqlitePool,
    id: i64,
    now: Millis,
    message_ref: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deliveries SET state = 'sent', sent_at = ?2, attempts = attempts + 1,
           lease_until = NULL, last_error = NULL, message_ref = ?3 WHERE id = ?1",
    )
    .bind(id)
    .bind(now)
    .bind(message_ref)
    .execute(pool)
    .await?;
    Ok(())
}

/// The alerts (JSON) of the story updates under `story_key` already sent.
pub async fn sent_updates(pool: &SqlitePool, story_key: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT alert FROM deliveries WHERE story_key = ?1 AND state = 'sent' ORDER BY id",
    )
    .bind(story_key)
    .fetch_all(pool)
    .await?)
}

pub async fn sends_since(
    pool: &SqlitePool,
    sink: &str,
    since: Millis,
) -> Result<Vec<Millis>, StoreError> {
    Ok(sqlx::query_scalar(
        // One request each: a digest's rows share their key, and so do the updates of one
        // story sent together (one edit or note); those sent by an earlier version have no
        // stored key but share their story and moment.
        "SELECT MAX(sent_at) AS at
           FROM deliveries
           WHERE state = 'sent' AND sent_at >= ?2 AND sink = ?1 AND quiet = 0
           GROUP BY COALESCE(group_key,
             CASE WHEN story_key IS NULL THEN idem_key ELSE story_key || ' ' || sent_at END)
           ORDER BY at",
    )
    .bind(sink)
    .bind(since)
    .fetch_all(pool)
    .await?)
}

pub async fn mark_retry(
    pool: &SqlitePool,
    ids: &[i64],
    error: &str,
    at: Millis,
    claim: Millis,
) -> Result<bool, StoreError> {
    let n = for_ids(
        pool,
        "UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
           lease_until = NULL WHERE state = 'pending' AND lease_until = ? AND id IN ({ids})",
        &[
            LeadValue::Text(error),
            LeadValue::Int(at),
            LeadValue::Int(claim),
        ],
        ids,
    )
    .await?;
    Ok(usize::try_from(n).is_ok_and(|n| n == ids.len()))
}

/// `sent_at` of a dead letter is when it died: `dead_retention` counts from there.
pub async fn mark_dead(
    pool: &SqlitePool,
    ids: &[i64],
    error: &str,
    now: Millis,
    claim: Millis,
    apart: bool,
) -> Result<bool, StoreError> {
    let n = for_ids(
        pool,
        "UPDATE deliveries SET state = 'dead', attempts = attempts + 1, last_error = ?,
           sent_at = ?, lease_until = NULL,
           group_key = CASE WHEN ? THEN idem_key ELSE group_key END
         WHERE state = 'pending' AND lease_until = ? AND id IN ({ids})",
        &[
            LeadValue::Text(error),
            LeadValue::Int(now),
            LeadValue::Int(i64::from(apart)),
            LeadValue::Int(claim),
        ],
        ids,
    )
    .await?;
    Ok(usize::try_from(n).is_ok_and(|n| n == ids.len()))
}

pub async fn release(pool: &SqlitePool, ids: &[i64], claim: Millis) -> Result<(), StoreError> {
    for_ids(
        pool,
        "UPDATE deliveries SET lease_until = NULL
         WHERE state = 'pending' AND lease_until = ? AND id IN ({ids})",
        &[LeadValue::Int(claim)],
        ids,
    )
    .await?;
    Ok(())
}

pub async fn release_sink(pool: &SqlitePool, sink: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deliveries SET lease_until = NULL
         WHERE state = 'pending' AND sink = ?1 AND lease_until IS NOT NULL",
    )
    .bind(sink)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn outbox_summary(pool: &SqlitePool) -> Result<OutboxSummary, StoreError> {
    // Both are index or tiny-table lookups (see the 0005 migration); the test
    // `summary_queries_use_indexes` pins the plans.
    let counts: Vec<(String, i64)> = sqlx::query_as("SELECT state, n FROM outbox_counts")
        .fetch_all(pool)
        .await?;
    let oldest: Option<Millis> =
        sqlx::query_scalar("SELECT MIN(created_at) FROM deliveries WHERE state = 'pending'")
            .fetch_one(pool)
            .await?;
    let n = |state: &str| {
        counts
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| *n)
    };
    Ok(OutboxSummary {
        pending: n("pending"),
        dead: n("dead"),
        sent: n("sent"),
        oldest_pending: oldest,
    })
}

pub async fn list_deliveries(
    pool: &SqlitePool,
    state: &str,
    limit: i64,
    oldest_first: bool,
) -> Result<Vec<DeliveryRow>, StoreError> {
    macro_rules! listed {
        ($order:literal) => {
            concat!(
                "SELECT id, idem_key, sink, watch, feed, item_key, state, attempts, created_at,
                        next_attempt_at, last_error, sent_at, alert, quiet
                 FROM deliveries WHERE state = ?1 ORDER BY ",
                $order,
                " LIMIT ?2"
            )
        };
    }
    // Oldest by when they were queued (a revived dead letter is queued anew, under its old
    // id), newest by id.
    let sql = if oldest_first {
        listed!("created_at, id")
    } else {
        listed!("id DESC")
    };
    let rows = sqlx::query(sql)
        .bind(state)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(DeliveryRow {
                id: r.try_get("id")?,
                idem_key: r.try_get("idem_key")?,
                sink: r.try_get("sink")?,
                watch: r.try_get("watch")?,
                feed: r.try_get("feed")?,
                item_key: r.try_get("item_key")?,
                state: r.try_get("state")?,
                attempts: super::count(r, "attempts")?,
                created_at: r.try_get("created_at")?,
                next_attempt_at: r.try_get("next_attempt_at")?,
                last_error: r.try_get("last_error")?,
                sent_at: r.try_get("sent_at")?,
                alert_json: r.try_get("alert")?,
                quiet: r.try_get::<i64, _>("quiet")? != 0,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

pub async fn alert_counts(pool: &SqlitePool) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT watch, n FROM watch_alerts ORDER BY watch")
            .fetch_all(pool)
            .await?,
    )
}

pub async fn dead_letter_unconfigured(
    pool: &SqlitePool,
    sinks: &[String],
    now: Millis,
) -> Result<u64, StoreError> {
    // Only `?` placeholders are formatted in; every sink name is bound.
    let sql = format!(
        "UPDATE deliveries SET state = 'dead', lease_until = NULL, sent_at = ?,
           last_error = 'sink `' || sink || '` is no longer configured'
         WHERE state = 'pending' AND (lease_until IS NULL OR lease_until <= ?) AND sink NOT IN ({})",
        marks(sinks.len())
    );
    // A delivery claimed is in flight: its worker records how it went (it was counted a dead
    // letter, then sent, or its failure went unrecorded); the worker's end sweeps it after.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(now);
    for s in sinks {
        q = q.bind(s);
    }
    Ok(q.execute(pool).await?.rows_affected())
}

pub async fn retry_pending_now(pool: &SqlitePool, now: Millis) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE deliveries SET next_attempt_at = ?1 WHERE state = 'pending' AND next_attempt_at > ?1",
    )
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected())
}

pub async fn retry_dead(
    pool: &SqlitePool,
    now: Millis,
    sinks: &[String],
) -> Result<(u64, u64), StoreError> {
    // `created_at` restarts too, so max_delivery_age counts from the operator's decision.
    // A story update a newer edit of the same message has gone out since stays dead: that
    // edit shows every source it had, and sent after it, it would set the message back.
    // A revived story update counts as attempted alone (its own key stored): it goes as its
    // story's edit or note, never folded into a digest of notes (it may have arrived), and a
    // digest of notes partly revived is not sent again under its key with fewer notes.
    // Nor is a digest of alerts some of which died (too old) while the rest went under its
    // key: a platform that keeps its keys (Google Chat's `requestId`, Matrix's `txnId`)
    // answered the revived ones with the message already sent, without them, and they were
    // marked sent unseen. They go under their own keys (a copy, should an early attempt of
    // the digest have arrived with them, rather than a loss). An
    // alert a release before the outbox's groups tried (attempts, no key) keeps its own key:
    // its attempts start again at 0, and without a key it was folded into a digest under a
    // new one (it may have arrived under its own).
    let sql = format!(
        "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?,
           created_at = ?, lease_until = NULL, sent_at = NULL,
           group_key = CASE WHEN story_key IS NOT NULL THEN idem_key
                             WHEN group_key IS NULL AND attempts > 0 THEN idem_key
                             WHEN EXISTS (SELECT 1 FROM deliveries g
                                           WHERE g.group_key = deliveries.group_key
                                             AND g.state = 'sent') THEN idem_key
                             ELSE group_key END
         WHERE state = 'dead' AND sink IN ({})
           AND NOT (story_key IS NOT NULL AND EXISTS (SELECT 1 FROM deliveries o
                      WHERE o.story_key = deliveries.story_key AND o.state = 'sent'
                        AND o.id > deliveries.id))",
        marks(sinks.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(now);
    for s in sinks {
        q = q.bind(s);
    }
    let mut tx = pool.begin().await?;
    let revived = q.execute(&mut *tx).await?.rows_affected();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'dead'")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((revived, left.max(0) as u64))
}

pub async fn purge_dead(pool: &SqlitePool, before: Millis) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM deliveries WHERE state = 'dead' AND COALESCE(sent_at, created_at) < ?1",
    )
    .bind(before)
    .execute(pool)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests;
