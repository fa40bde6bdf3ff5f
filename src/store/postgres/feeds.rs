//! The feed half of the PostgreSQL store: one poll's commit (seen keys, cross-feed link
//! memory, deliveries, archived item text, story items, feed state, in one transaction), 304s
//! and failures, and the feed row they need.
//!
//! Free functions over the pool, called by [`super::PgStore`]'s [`crate::store::Store`] impl.
//! The rules are the SQLite store's (`store/sqlite/feeds.rs`); the conformance suite holds
//! both to them.

use std::collections::{HashMap, HashSet};

use sqlx::{PgConnection, PgPool};

use crate::store::batch::NotModified;
use crate::store::{
    CommitOutcome, FailureRecord, Millis, NewDelivery, PollCommit, StoreError, StoryItemRow,
};

/// Insert the feed row if missing; a changed config URL forgets a redirect's `moved_url` and
/// the validators, which belonged to the old URL.
pub async fn ensure_feed(
    tx: &mut PgConnection,
    feed: &str,
    config_url: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO feeds AS f (feed, config_url) VALUES ($1, $2)
         ON CONFLICT (feed) DO UPDATE SET
           moved_url = CASE WHEN f.config_url = EXCLUDED.config_url THEN f.moved_url END,
           etag = CASE WHEN f.config_url = EXCLUDED.config_url THEN f.etag END,
           last_modified = CASE WHEN f.config_url = EXCLUDED.config_url THEN f.last_modified END,
           baselined = CASE WHEN f.config_url = EXCLUDED.config_url THEN f.baselined ELSE FALSE END,
           config_url = EXCLUDED.config_url
         WHERE f.config_url IS DISTINCT FROM EXCLUDED.config_url",
    )
    .bind(feed)
    .bind(config_url)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Queue one delivery due at `now`, unless its idempotency key is queued already: an alert, or
/// (with the key of the story's alert it updates) a story update. Returns the rows inserted.
pub async fn enqueue(
    tx: &mut PgConnection,
    feed: &str,
    d: &NewDelivery,
    story_key: Option<&str>,
    now: Millis,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO deliveries (idem_key, sink, watch, feed, item_key, alert, created_at,
           next_attempt_at, kind, story_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7,
           CASE WHEN $8::text IS NULL THEN 'alert' ELSE 'update' END, $8)
         ON CONFLICT (idem_key) DO NOTHING",
    )
    .bind(&d.idem_key)
    .bind(&d.sink)
    .bind(&d.watch)
    .bind(feed)
    .bind(&d.item_key)
    .bind(&d.alert_json)
    .bind(now)
    .bind(story_key)
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// Record a successful poll in one transaction.
/// With `owner` (an instance id), the feed's lease must still be that instance's, or nothing
/// is committed ([`StoreError::LeaseLost`]).
pub async fn commit_poll(
    pool: &PgPool,
    c: &PollCommit,
    owner: Option<&str>,
) -> Result<CommitOutcome, StoreError> {
    let mut tx = pool.begin().await?;
    let out = apply(&mut tx, c, owner).await?;
    tx.commit().await?;
    Ok(out)
}

/// The transaction lock every transaction that enqueues deliveries takes first.
const OUTBOX_KEY: i64 = 0x6e77_6f75_7462_6f78;

/// Take the enqueuers' turn. Each enqueueing transaction locks the outbox counter row (a
/// trigger) and link, day and health rows in an order that depends on its content; two of
/// them running at once could each hold what the other waits for (a deadlock, one poll's
/// commit aborted). Taken first, this lock lets them run one after another, as the counter
/// row made them do anyway; 304s and polls with nothing to send do not take it.
pub async fn enqueuers_turn(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(OUTBOX_KEY)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// One poll's commit inside an open transaction.
async fn apply(
    tx: &mut PgConnection,
    c: &PollCommit,
    owner: Option<&str>,
) -> Result<CommitOutcome, StoreError> {
    if !c.deliveries.is_empty() || !c.updates.is_empty() {
        enqueuers_turn(&mut *tx).await?;
    }
    ensure_feed(&mut *tx, &c.feed, &c.config_url).await?;
    check_lease(&mut *tx, &c.feed, owner).await?;
    // All keys in two statements: new keys first (their count is the new items), then every
    // known key's last_seen.
    if let Some(from) = &c.seen_from {
        // As in the SQLite store: the old name's latest full document is this poll's too.
        sqlx::query(
            "INSERT INTO seen (feed, item_key, first_seen, last_seen)
             SELECT $1, item_key, first_seen,
               CASE WHEN last_seen = (SELECT last_fetch_at FROM feeds WHERE feed = $2)
                 THEN $3 ELSE last_seen END
             FROM seen WHERE feed = $2
             ON CONFLICT (feed, item_key) DO NOTHING",
        )
        .bind(&c.feed)
        .bind(from)
        .bind(c.now)
        .execute(&mut *tx)
        .await?;
    }
    let new_items = sqlx::query(
        "INSERT INTO seen (feed, item_key, first_seen, last_seen)
         SELECT $1, k, $3, $3 FROM UNNEST($2::text[]) AS k
         ON CONFLICT (feed, item_key) DO NOTHING",
    )
    .bind(&c.feed)
    .bind(&c.item_keys)
    .bind(c.now)
    .execute(&mut *tx)
    .await?
    .rows_affected() as usize;
    let mut out = CommitOutcome {
        new_items,
        ..CommitOutcome::default()
    };
    if out.new_items < c.item_keys.len() {
        sqlx::query(
            "UPDATE seen SET last_seen = $3
             WHERE feed = $1 AND item_key = ANY($2) AND last_seen <> $3",
        )
        .bind(&c.feed)
        .bind(&c.item_keys)
        .bind(c.now)
        .execute(&mut *tx)
        .await?;
    }
    // Cross-feed repeats are judged once per (watch, link), not per sink.
    let mut judged: HashMap<(&str, &str), bool> = HashMap::new();
    // One alert per watch and item, however many sinks it goes to.
    let mut counted: HashSet<(&str, &str)> = HashSet::new();
    // (watch, item) whose alert was suppressed as a repeat: no story is opened by it.
    let mut unsent: HashSet<(&str, &str)> = HashSet::new();
    for d in &c.deliveries {
        if let Some(link) = &d.canonical_link {
            let suppressed = match judged.get(&(d.watch.as_str(), link.as_str())) {
                Some(s) => *s,
                None => {
                    // One statement: remember the link unless it was alerted within the
                    // window; no row back means a recent alert holds it.
                    let fresh = sqlx::query(
                        "INSERT INTO link_seen AS l (watch, link, at) VALUES ($1, $2, $3)
                         ON CONFLICT (watch, link) DO UPDATE SET at = EXCLUDED.at
                         WHERE l.at <= $4
                         RETURNING 1",
                    )
                    .bind(&d.watch)
                    .bind(link)
                    .bind(c.now)
                    .bind(c.now - c.repeat_window_ms)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let s = fresh.is_none();
                    judged.insert((d.watch.as_str(), link.as_str()), s);
                    s
                }
            };
            if suppressed {
                // An alert, counted once whatever the number of its sinks.
                if unsent.insert((d.watch.as_str(), d.item_key.as_str())) {
                    out.suppressed += 1;
                }
                continue;
            }
        }
        let n = enqueue(&mut *tx, &c.feed, d, None, c.now).await?;
        out.enqueued += n as usize;
        if n > 0 && counted.insert((d.watch.as_str(), d.item_key.as_str())) {
            sqlx::query(
                "INSERT INTO watch_alerts AS w (watch, n) VALUES ($1, 1)
                 ON CONFLICT (watch) DO UPDATE SET n = w.n + 1",
            )
            .bind(&d.watch)
            .execute(&mut *tx)
            .await?;
        }
    }
    // After the alerts: an update of a story opened in this same commit comes later in the
    // outbox than the alert it edits. An update whose alert's item is stored with no delivery
    // under its story key is dropped: that alert never went to the sink (a repeat, a sink
    // added since), and waiting for it would only hold the update `ALERT_WAIT` for nothing.
    for u in &c.updates {
        if let Some((feed, item)) = &u.alert_item {
            let never: bool = sqlx::query_scalar(
                "SELECT NOT EXISTS (SELECT 1 FROM deliveries WHERE idem_key = $1)
                   AND EXISTS (SELECT 1 FROM seen WHERE feed = $2 AND item_key = $3)",
            )
            .bind(&u.story_key)
            .bind(feed)
            .bind(item)
            .fetch_one(&mut *tx)
            .await?;
            if never {
                continue;
            }
        }
        let story = Some(u.story_key.as_str());
        let at = c.now.max(c.grouped_at);
        out.enqueued += enqueue(&mut *tx, &c.feed, &u.delivery, story, at).await? as usize;
    }
    for r in &c.story_items {
        let sent = !unsent.contains(&(r.watch.as_str(), r.item_key.as_str()));
        if r.alert.is_some() && !sent {
            out.unsent_story_alerts += 1;
        }
        insert_story_item(&mut *tx, r, sent, c.now).await?;
    }
    if let Some(a) = &c.archive {
        super::history::insert_archive(&mut *tx, &c.feed, c.now, a).await?;
    }
    sqlx::query(
        "UPDATE feeds SET moved_url = CASE WHEN $9 THEN NULL ELSE COALESCE($2, moved_url) END,
           etag = $3, last_modified = $4,
           last_poll_at = $5, last_success_at = $5, last_fetch_at = $5, last_result = 'ok',
           last_error = NULL, failures = 0, html_streak = 0, next_poll_at = $6, baselined = NOT $10, shared_ids = $11,
           items_seen = items_seen + $7, suppressed = suppressed + $8,
           lease_owner = NULL, lease_until = NULL, lease_host = NULL, removed_at = NULL
         WHERE feed = $1",
    )
    .bind(&c.feed)
    .bind(&c.moved_url)
    .bind(&c.etag)
    .bind(&c.last_modified)
    .bind(c.now)
    .bind(c.next_poll_at)
    .bind(out.new_items as i64)
    .bind(out.suppressed as i64)
    .bind(c.back_to_config)
    .bind(c.baseline_incomplete)
    .bind(crate::store::shared_ids_text(&c.shared_ids))
    .execute(&mut *tx)
    .await?;
    Ok(out)
}

async fn insert_story_item(
    tx: &mut PgConnection,
    r: &StoryItemRow,
    sent: bool,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO story_items (watch, story, feed, item_key, title, lead, link, published, at, alert)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&r.watch)
    .bind(r.story)
    .bind(&r.feed)
    .bind(&r.item_key)
    .bind(&r.title)
    .bind(&r.lead)
    .bind(&r.link)
    .bind(r.published)
    // A story opened by an alert suppressed as a repeat is stored without it: that alert
    // was never sent, and an update of it would be dropped, and with it every later report
    // of the story. Without one, its next report alerts in its place.
    .bind(now)
    .bind(r.alert.as_ref().filter(|_| sent))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Items grouped into stories and stored at or after `since`, in grouping order.
pub async fn story_items(pool: &PgPool, since: Millis) -> Result<Vec<StoryItemRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT watch, story, feed, item_key, title, lead, link, published, alert, at
         FROM story_items WHERE at >= $1 ORDER BY id",
    )
    .bind(since)
    .fetch_all(pool)
    .await?)
}

/// A 304's feed state; with an owner (`$5`), only while that instance holds the lease.
const NOT_MODIFIED: &str = "UPDATE feeds SET last_poll_at = $2, last_success_at = $2,
       last_result = 'not_modified', last_error = NULL, failures = 0, html_streak = 0,
       next_poll_at = $3, lease_owner = NULL, lease_until = NULL, lease_host = NULL,
       removed_at = NULL
     WHERE feed = $1 AND config_url = $4 AND ($5::text IS NULL OR lease_owner = $5)";

/// Lock the feed's row for the commit and, with an owner, check that it holds the lease.
async fn check_lease(
    tx: &mut PgConnection,
    feed: &str,
    owner: Option<&str>,
) -> Result<(), StoreError> {
    let Some(owner) = owner else {
        return Ok(());
    };
    let holder: Option<Option<String>> =
        sqlx::query_scalar("SELECT lease_owner FROM feeds WHERE feed = $1 FOR UPDATE")
            .bind(feed)
            .fetch_optional(&mut *tx)
            .await?;
    if holder.flatten().as_deref() == Some(owner) {
        Ok(())
    } else {
        Err(StoreError::LeaseLost { feed: feed.into() })
    }
}

/// A 304 alone: one UPDATE when the row exists for this URL; otherwise the row is made (or
/// reset, for a changed URL) first, in one transaction.
pub async fn record_not_modified(
    pool: &PgPool,
    feed: &str,
    config_url: &str,
    now: Millis,
    next_poll_at: Millis,
    owner: Option<&str>,
) -> Result<(), StoreError> {
    let updated = sqlx::query(NOT_MODIFIED)
        .bind(feed)
        .bind(now)
        .bind(next_poll_at)
        .bind(config_url)
        .bind(owner)
        .execute(pool)
        .await?
        .rows_affected();
    if updated > 0 {
        return Ok(());
    }
    if owner.is_some() {
        // The claim made the row with this URL: not found means the lease is gone.
        return Err(StoreError::LeaseLost { feed: feed.into() });
    }
    let mut tx = pool.begin().await?;
    not_modified_in(
        &mut tx,
        &NotModified {
            feed: feed.into(),
            config_url: config_url.into(),
            now,
            next_poll_at,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A 304 inside an open transaction, for a feed whose row is missing or names another URL
/// (a store without leases): the row is made or reset first.
pub async fn not_modified_in(tx: &mut PgConnection, r: &NotModified) -> Result<(), sqlx::Error> {
    ensure_feed(&mut *tx, &r.feed, &r.config_url).await?;
    sqlx::query(NOT_MODIFIED)
        .bind(&r.feed)
        .bind(r.now)
        .bind(r.next_poll_at)
        .bind(&r.config_url)
        .bind(None::<&str>)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A failed poll with its consecutive-failure count; with an owner, only under its lease.
pub async fn record_failure(
    pool: &PgPool,
    f: &FailureRecord<'_>,
    owner: Option<&str>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    ensure_feed(&mut tx, f.feed, f.config_url).await?;
    check_lease(&mut tx, f.feed, owner).await?;
    sqlx::query(
        "UPDATE feeds SET last_poll_at = $2, last_result = 'error', last_error = $3,
           failures = $4, next_poll_at = $5, html_streak = $6,
           lease_owner = NULL, lease_until = NULL, lease_host = NULL, removed_at = NULL
         WHERE feed = $1",
    )
    .bind(f.feed)
    .bind(f.now)
    .bind(f.error)
    .bind(i64::from(f.failures))
    .bind(f.next_poll_at)
    .bind(i64::from(f.html_streak))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
