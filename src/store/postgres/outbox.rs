//! The outbox half of the PostgreSQL store: claiming, recording and listing deliveries.
//!
//! Free functions over the pool, called by [`super::PgStore`]'s [`crate::store::Store`] impl.
//! A claim locks its rows with `FOR UPDATE SKIP LOCKED`, so two claims running at once never
//! take the same delivery; an id list is one array parameter, so the results of one send are
//! one statement.

use sqlx::{PgPool, Row};

use crate::store::{Delivery, DeliveryRow, Millis, OutboxSummary, StoreError};

/// The first `limit` due, unclaimed deliveries of `sink` in outbox order, plus every pending
/// partner of a group among them (a digest is retried whole), leased until `lease_until`.
pub async fn claim_due(
    pool: &PgPool,
    sink: &str,
    now: Millis,
    lease_until: Millis,
    limit: i64,
    orphans_until: Millis,
) -> Result<Vec<Delivery>, StoreError> {
    // A row being sent (marked by `begin_send`) is not claimed, whoever cleared its claim,
    // until its mark passes. A story update waits while the story's alert to the same sink
    // is pending: the edit must not overtake the message it edits; while that alert is not in
    // the outbox yet, until `orphans_until` (its poll may still be committing it); and while
    // an older update of the story is claimed or being sent elsewhere (a holder that stopped
    // mid-send): sent after the newer one, it would set the message back. The older pending
    // updates of a story claimed come with it, due or not: the newest carries every source,
    // and one of them retried after it would set the message back. Such an older update in a digest of
    // notes brings the digest's other rows (other stories' notes): a digest goes whole, or its
    // key would carry fewer notes.
    //
    // The rows to update are first gathered by index (`candidates`: the rows claimed, their
    // digests', their stories' older updates and those updates' digests), then the conditions
    // are applied to those alone (and checked again on a row another transaction changed).
    // The conditions alone, an `IN (subquery)` inside an `OR`, made PostgreSQL read the whole
    // table at every claim: 81 ms for an idle sink and 1.1 s for a sink with 50,000 waiting,
    // among 400,000 rows; 0.5 ms and 3.7 ms gathered first (README, Performance).
    let rows = sqlx::query(
        "WITH first AS (
           SELECT id, group_key, story_key FROM deliveries d
           WHERE sink = $1 AND state = 'pending' AND next_attempt_at <= $2
             AND (lease_until IS NULL OR lease_until <= $2)
             AND (sending_until IS NULL OR sending_until <= $2)
             AND (story_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o
                    WHERE o.idem_key = d.story_key AND o.state = 'pending'))
             AND (story_key IS NULL OR d.created_at <= $5 OR EXISTS (SELECT 1 FROM deliveries o
                    WHERE o.idem_key = d.story_key))
             AND (story_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o
                    WHERE o.story_key = d.story_key AND o.state = 'pending' AND o.id < d.id
                      AND (o.lease_until > $2 OR o.sending_until > $2)))
           ORDER BY id LIMIT $4
           FOR UPDATE SKIP LOCKED),
         tops AS (
           SELECT story_key, MAX(id) AS top FROM first WHERE story_key IS NOT NULL
           GROUP BY story_key),
         candidates AS (
           SELECT id FROM first
           UNION
           SELECT d.id FROM deliveries d
           WHERE d.group_key IN (SELECT group_key FROM first WHERE group_key IS NOT NULL)
           UNION
           SELECT d.id FROM deliveries d JOIN tops t ON d.story_key = t.story_key
           WHERE d.state = 'pending' AND d.id < t.top
           UNION
           SELECT d.id FROM deliveries d
           WHERE d.group_key IN (SELECT o.group_key FROM deliveries o JOIN tops t
                                   ON o.story_key = t.story_key
                                 WHERE o.state = 'pending' AND o.group_key IS NOT NULL
                                   AND o.id < t.top))
         UPDATE deliveries SET lease_until = $3
         WHERE id IN (SELECT id FROM candidates)
           AND (id IN (SELECT id FROM first)
            OR (sink = $1 AND state = 'pending' AND group_key IN
                  (SELECT group_key FROM first WHERE group_key IS NOT NULL))
            OR (sink = $1 AND state = 'pending' AND (lease_until IS NULL OR lease_until <= $2)
                AND (sending_until IS NULL OR sending_until <= $2)
                AND id < (SELECT MAX(f.id) FROM first f WHERE f.story_key = deliveries.story_key))
            OR (sink = $1 AND state = 'pending' AND group_key IN
                  (SELECT o.group_key FROM deliveries o
                   WHERE o.story_key IN (SELECT story_key FROM first)
                     AND o.sink = $1 AND o.state = 'pending' AND o.group_key IS NOT NULL
                     AND (o.lease_until IS NULL OR o.lease_until <= $2)
                     AND (o.sending_until IS NULL OR o.sending_until <= $2)
                     AND o.id < (SELECT MAX(f.id) FROM first f WHERE f.story_key = o.story_key))))
         RETURNING id, idem_key, sink, alert, attempts, created_at, group_key, story_key,
           (SELECT o.message_ref FROM deliveries o WHERE o.idem_key = deliveries.story_key)
             AS message_ref,
           (story_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM deliveries o
              WHERE o.idem_key = deliveries.story_key AND o.state = 'sent')) AS orphan",
    )
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

pub async fn begin_attempt(pool: &PgPool, ids: &[i64], key: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE deliveries SET group_key = $1 WHERE id = ANY($2)")
        .bind(key)
        .bind(ids)
        .execute(pool)
        .await?;
    Ok(())
}

/// Record a first attempt's `key` and mark `ids` as being sent until `until`, if `me` (an
/// instance; `None`: the only one) holds `sink`'s lease and every row is still pending; false
/// and still under `claim` (the `lease_until` the batch claimed them with); false otherwise,
/// and nothing is written. The lease row is read `FOR SHARE`: a takeover locks it
/// `FOR UPDATE`, so either the mark lands first and the takeover's release (a later
/// statement) sees it, or the takeover commits first and the mark sees the new owner. The
/// rows are locked before they are counted, so a row recorded elsewhere meanwhile makes the
/// whole start fail instead of marking the rest (lease row first, then deliveries, the order
/// `hold_sink` takes them in). The key
/// is written under the same fence: an old holder's late write never replaces the key a new
/// holder sends under.
pub async fn begin_send(
    pool: &PgPool,
    me: Option<&str>,
    sink: &str,
    ids: &[i64],
    key: Option<&str>,
    claim: Millis,
    until: Millis,
) -> Result<bool, StoreError> {
    // The claim check keeps out a batch that outlived its lease and got the lease back: a
    // takeover meanwhile may have claimed its rows and be sending them, under another key.
    let marked = sqlx::query(
        "WITH mine AS MATERIALIZED (
           SELECT 1 FROM sink_leases WHERE sink = $1 AND owner = $2 FOR SHARE),
         pending AS MATERIALIZED (
           SELECT id FROM deliveries
           WHERE id = ANY($4) AND state = 'pending' AND lease_until = $6 FOR UPDATE)
         UPDATE deliveries SET sending_until = $3, group_key = COALESCE($5, group_key)
         WHERE id IN (SELECT id FROM pending)
           AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM mine))
           AND (SELECT count(*) FROM pending) = cardinality($4::bigint[])",
    )
    .bind(sink)
    .bind(me)
    .bind(until)
    .bind(ids)
    .bind(key)
    .bind(claim)
    .execute(pool)
    .await?;
    Ok(all(marked.rows_affected(), ids))
}

/// Mark `ids` sent; `quiet`: done without a message (see `Store::mark_quiet`).
pub async fn mark_sent(
    pool: &PgPool,
    ids: &[i64],
    now: Millis,
    quiet: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deliveries SET state = 'sent', sent_at = $1, quiet = $3, attempts = attempts + 1,
           lease_until = NULL, sending_until = NULL, last_error = NULL WHERE id = ANY($2)",
    )
    .bind(now)
    .bind(ids)
    .bind(quiet)
    .execute(pool)
    .await?;
    Ok(())
}

/// One alert sent alone, with the platform's id of its message.
pub async fn mark_sent_ref(
    pool: &PgPool,
    id: i64,
    now: Millis,
    message_ref: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deliveries SET state = 'sent', sent_at = $2, attempts = attempts + 1,
           lease_until = NULL, sending_until = NULL, last_error = NULL, message_ref = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(message_ref)
    .execute(pool)
    .await?;
    Ok(())
}

/// The alerts (JSON) of the story updates under `story_key` already sent.
pub async fn sent_updates(pool: &PgPool, story_key: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT alert FROM deliveries WHERE story_key = $1 AND state = 'sent' ORDER BY id",
    )
    .bind(story_key)
    .fetch_all(pool)
    .await?)
}

pub async fn sends_since(
    pool: &PgPool,
    sink: &str,
    since: Millis,
) -> Result<Vec<Millis>, StoreError> {
    Ok(sqlx::query_scalar(
        // One request each: a digest's rows share their key, and so do the updates of one
        // story sent together (one edit or note); those sent by an earlier version have no
        // stored key but share their story and moment.
        // Rows another instance is sending right now (a takeover while its sends are in
        // flight) count too, as sent now: they will be marked sent after this count.
        "SELECT MAX(COALESCE(sent_at, $3)) AS at
           FROM deliveries
           WHERE sink = $1 AND ((state = 'sent' AND sent_at >= $2 AND NOT quiet)
                 OR (state = 'pending' AND sending_until > $3))
           GROUP BY COALESCE(group_key,
             CASE WHEN story_key IS NULL THEN idem_key ELSE story_key || ' ' || sent_at::text END)
           ORDER BY at",
    )
    .bind(sink)
    .bind(since)
    .bind(crate::store::now_millis())
    .fetch_all(pool)
    .await?)
}

pub async fn mark_retry(
    pool: &PgPool,
    ids: &[i64],
    error: &str,
    at: Millis,
    claim: Millis,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE deliveries SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2,
           lease_until = NULL, sending_until = NULL
         WHERE state = 'pending' AND id = ANY($3) AND lease_until = $4",
    )
    .bind(error)
    .bind(at)
    .bind(ids)
    .bind(claim)
    .execute(pool)
    .await?;
    Ok(all(done.rows_affected(), ids))
}

/// `sent_at` of a dead letter is when it died: `dead_retention` counts from there.
pub async fn mark_dead(
    pool: &PgPool,
    ids: &[i64],
    error: &str,
    now: Millis,
    claim: Millis,
    apart: bool,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'dead', attempts = attempts + 1, last_error = $1,
           sent_at = $2, lease_until = NULL, sending_until = NULL,
           group_key = CASE WHEN $5 THEN idem_key ELSE group_key END
         WHERE state = 'pending' AND id = ANY($3) AND lease_until = $4",
    )
    .bind(error)
    .bind(now)
    .bind(ids)
    .bind(claim)
    .bind(apart)
    .execute(pool)
    .await?;
    Ok(all(done.rows_affected(), ids))
}

/// Whether a statement changed every row of `ids`.
fn all(changed: u64, ids: &[i64]) -> bool {
    usize::try_from(changed).is_ok_and(|n| n == ids.len())
}

pub async fn release(pool: &PgPool, ids: &[i64], claim: Millis) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deliveries SET lease_until = NULL
         WHERE state = 'pending' AND id = ANY($1) AND lease_until = $2",
    )
    .bind(ids)
    .bind(claim)
    .execute(pool)
    .await?;
    Ok(())
}

/// Give back every claim on `sink`'s pending deliveries (in a transaction of the caller's,
/// or on the pool), except those being sent at `now` ([`begin_send`]): they stay claimed
/// until their send is surely over, then go back to the queue if it was never recorded.
pub async fn release_sink<'c, E: sqlx::PgExecutor<'c>>(
    db: E,
    sink: &str,
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deliveries
         SET lease_until = CASE WHEN sending_until > $2 THEN sending_until END
         WHERE state = 'pending' AND sink = $1 AND lease_until IS NOT NULL",
    )
    .bind(sink)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn outbox_summary(pool: &PgPool) -> Result<OutboxSummary, StoreError> {
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
    pool: &PgPool,
    state: &str,
    limit: i64,
    oldest_first: bool,
) -> Result<Vec<DeliveryRow>, StoreError> {
    macro_rules! listed {
        ($order:literal) => {
            concat!(
                "SELECT id, idem_key, sink, watch, feed, item_key, state, attempts, created_at,
                        next_attempt_at, last_error, sent_at, alert, quiet
                 FROM deliveries WHERE state = $1 ORDER BY ",
                $order,
                " LIMIT $2"
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
                quiet: r.try_get("quiet")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

/// Dead-letter the pending deliveries of sinks `sinks` lacks, except those another live
/// instance's configuration still has. `me` (this instance's id, when it is one of several)
/// first records `sinks` as its own, for the other instances' sweeps.
pub async fn dead_letter_unconfigured(
    pool: &PgPool,
    me: Option<&str>,
    sinks: &[String],
    now: Millis,
) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let id = me.unwrap_or("");
    if me.is_some() {
        sqlx::query("UPDATE instances SET sinks = $2 WHERE id = $1")
            .bind(id)
            .bind(sinks)
            .execute(&mut *tx)
            .await?;
    }
    // An instance counts while its heartbeat is recent (a killed one stops counting then);
    // one that has not said which sinks it has protects them all; a sink another instance
    // holds the lease of is its own. "Recent" is within the longest lease (`MAX_LEASE`), not
    // this instance's: each beats every third of *its* lease, which a rolling restart may
    // have made longer than this one's (30 s here, 2 min there: its sinks' rows were made
    // dead letters between its beats). A sink left by all waits a few minutes more for its
    // dead letters; nothing is lost.
    let n = sqlx::query(
        "UPDATE deliveries SET state = 'dead', lease_until = NULL, sent_at = $1,
           last_error = 'sink `' || sink || '` is no longer configured'
         WHERE state = 'pending' AND NOT (sink = ANY($2))
           AND (lease_until IS NULL OR lease_until <= $1)
           AND NOT EXISTS (SELECT 1 FROM instances i
                           WHERE i.id <> $3 AND i.heartbeat_at > $1 - $4
                             AND (i.sinks IS NULL OR deliveries.sink = ANY(i.sinks)))
           AND NOT EXISTS (SELECT 1 FROM sink_leases l
                           WHERE l.sink = deliveries.sink AND l.owner <> $3 AND l.until > $1)",
    )
    .bind(now)
    .bind(sinks)
    .bind(id)
    .bind(super::instance::lease_ms(crate::store::lease::MAX_LEASE))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n)
}

pub async fn retry_pending_now(pool: &PgPool, now: Millis) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE deliveries SET next_attempt_at = $1 WHERE state = 'pending' AND next_attempt_at > $1",
    )
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected())
}

pub async fn retry_dead(
    pool: &PgPool,
    now: Millis,
    sinks: &[String],
) -> Result<(u64, u64), StoreError> {
    let mut tx = pool.begin().await?;
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
    // the digest have arrived with them, rather than a loss).
    let revived = sqlx::query(
        "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1,
           created_at = $1, lease_until = NULL, sent_at = NULL,
           group_key = CASE WHEN story_key IS NOT NULL THEN idem_key
                             WHEN group_key IS NULL AND attempts > 0 THEN idem_key
                             WHEN EXISTS (SELECT 1 FROM deliveries g
                                           WHERE g.group_key = deliveries.group_key
                                             AND g.state = 'sent') THEN idem_key
                             ELSE group_key END
         WHERE state = 'dead' AND sink = ANY($2)
           AND NOT (story_key IS NOT NULL AND EXISTS (SELECT 1 FROM deliveries o
                      WHERE o.story_key = deliveries.story_key AND o.state = 'sent'
                        AND o.id > deliveries.id))",
    )
    .bind(now)
    .bind(sinks)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'dead'")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((revived, left.max(0) as u64))
}

pub async fn purge_dead(pool: &PgPool, before: Millis) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM deliveries WHERE state = 'dead' AND COALESCE(sent_at, created_at) < $1",
    )
    .bind(before)
    .execute(pool)
    .await?
    .rows_affected())
}
