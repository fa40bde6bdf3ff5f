//! The feed half of the SQLite store: one poll's commit (seen keys, cross-feed link memory,
//! deliveries, archived item text, feed state, in one transaction) and the feed row it needs.
//!
//! Free functions over the pool, called by [`super::SqliteStore`]'s [`crate::store::Store`]
//! impl and its commit writer ([`crate::store::batch`]): the commits queued within a tick (a first
//! round's baselines, above all) are one transaction, applied one after the other exactly as
//! they would be alone; if that transaction fails, each commit is retried in its own, so
//! each poll hears its own commit's result and none is lost with a neighbour's.

use std::collections::HashSet;

use sqlx::SqlitePool;

use sqlx::Row;

use crate::store::{
    CommitOutcome, FeedState, Millis, NewDelivery, PollCommit, StoreError, StoryItemRow,
};

/// A `feeds` row as the state a poll starts from.
pub(super) fn feed_state(r: &sqlx::sqlite::SqliteRow) -> Result<FeedState, sqlx::Error> {
    Ok(FeedState {
        feed: r.try_get("feed")?,
        config_url: r.try_get("config_url")?,
        moved_url: r.try_get("moved_url")?,
        etag: r.try_get("etag")?,
        last_modified: r.try_get("last_modified")?,
        last_poll_at: r.try_get("last_poll_at")?,
        last_success_at: r.try_get("last_success_at")?,
        last_result: r.try_get("last_result")?,
        last_error: r.try_get("last_error")?,
        failures: super::count(r, "failures")?,
        next_poll_at: r.try_get("next_poll_at")?,
        baselined: r.try_get::<i64, _>("baselined")? != 0,
        items_seen: r.try_get("items_seen")?,
        suppressed: r.try_get("suppressed")?,
        html_streak: super::count(r, "html_streak")?,
        shared_ids: crate::store::shared_ids_of(r.try_get("shared_ids")?),
    })
}

/// The feeds last configured with a URL (`?1`), by name.
pub(super) const FEEDS_AT_URL: &str = "SELECT * FROM feeds WHERE config_url = ?1 ORDER BY feed";

/// The states of the feeds last configured with `config_url`, by name (the lookup of a
/// renamed feed's first poll; `feeds_by_config_url` keeps it off a scan of every feed).
pub async fn feeds_at_url(
    pool: &SqlitePool,
    config_url: &str,
) -> Result<Vec<FeedState>, StoreError> {
    let rows = sqlx::query(FEEDS_AT_URL)
        .bind(config_url)
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(feed_state).collect::<Result<_, _>>()?)
}

/// Insert the feed row if missing; a changed config URL forgets a redirect's `moved_url` and
/// the validators, which belonged to the old URL.
pub async fn ensure_feed(
    tx: &mut sqlx::SqliteConnection,
    feed: &str,
    config_url: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO feeds (feed, config_url) VALUES (?1, ?2)
         ON CONFLICT(feed) DO UPDATE SET
           moved_url = CASE WHEN feeds.config_url = excluded.config_url THEN feeds.moved_url END,
           etag = CASE WHEN feeds.config_url = excluded.config_url THEN feeds.etag END,
           last_modified = CASE WHEN feeds.config_url = excluded.config_url THEN feeds.last_modified END,
           baselined = CASE WHEN feeds.config_url = excluded.config_url THEN feeds.baselined ELSE 0 END,
           config_url = excluded.config_url",
    )
    .bind(feed)
    .bind(config_url)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Queue one delivery due at `now`, unless its idempotency key is queued already: an alert, or
/// (with the key of the story's alert it updates) a story update. Returns the rows inserted
/// (0 or 1).
pub async fn enqueue(
    tx: &mut sqlx::SqliteConnection,
    feed: &str,
    d: &NewDelivery,
    story_key: Option<&str>,
    now: Millis,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO deliveries (idem_key, sink, watch, feed, item_key, alert, created_at,
           next_attempt_at, kind, story_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, CASE WHEN ?8 IS NULL THEN 'alert' ELSE 'update' END, ?8)
         ON CONFLICT(idem_key) DO NOTHING",
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

async fn insert_story_item(
    tx: &mut sqlx::SqliteConnection,
    r: &StoryItemRow,
    sent: bool,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO story_items (watch, story, feed, item_key, title, lead, link, published, at, alert)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
pub async fn story_items(
    pool: &SqlitePool,
    since: Millis,
) -> Result<Vec<StoryItemRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT watch, story, feed, item_key, title, lead, link, published, alert, at
         FROM story_items WHERE at >= ?1 ORDER BY id",
    )
    .bind(since)
    .fetch_all(pool)
    .await?)
}

/// Write a batch of poll commits; one result per commit, in order.
pub async fn write(
    pool: &SqlitePool,
    commits: Vec<PollCommit>,
) -> Vec<Result<CommitOutcome, StoreError>> {
    let distinct = commits
        .iter()
        .map(|c| c.feed.as_str())
        .collect::<HashSet<_>>()
        .len();
    // Two commits of one feed in a batch cannot come from the scheduler (one poll per feed
    // in flight); alone, each keeps its own transaction.
    if commits.len() > 1 && distinct == commits.len() {
        match together(pool, &commits).await {
            Ok(outs) => return outs.into_iter().map(Ok).collect(),
            Err(e) => {
                tracing::warn!(commits = commits.len(), error = %e, "batched poll commit failed; committing each poll alone");
            }
        }
    }
    let mut out = Vec::with_capacity(commits.len());
    for c in &commits {
        out.push(commit_poll(pool, c).await);
    }
    out
}

/// Every commit of a batch in one transaction, or none of them.
async fn together(
    pool: &SqlitePool,
    commits: &[PollCommit],
) -> Result<Vec<CommitOutcome>, StoreError> {
    let mut tx = pool.begin().await?;
    let mut outs = Vec::with_capacity(commits.len());
    for c in commits {
        outs.push(apply(&mut tx, c).await?);
    }
    tx.commit().await?;
    Ok(outs)
}

/// Record a successful poll: items seen, deliveries enqueued, feed state, in one transaction.
pub async fn commit_poll(pool: &SqlitePool, c: &PollCommit) -> Result<CommitOutcome, StoreError> {
    let mut tx = pool.begin().await?;
    let out = apply(&mut tx, c).await?;
    tx.commit().await?;
    Ok(out)
}

/// One poll's commit inside an open transaction.
async fn apply(
    tx: &mut sqlx::SqliteConnection,
    c: &PollCommit,
) -> Result<CommitOutcome, StoreError> {
    ensure_feed(&mut *tx, &c.feed, &c.config_url).await?;
    let mut out = CommitOutcome::default();
    // All keys in two statements, not two per key: a first round stores 20 keys for each of
    // thousands of feeds. New keys first (their count is the new items), then every key's
    // last_seen (the new ones already have it).
    if let Some(from) = &c.seen_from {
        // The old name's latest full document (its rows' last_seen is its last_fetch_at,
        // which spares them from the prune) is this poll's as well: they are stamped with
        // this fetch, else the prune took them as soon as they were older than the retention.
        sqlx::query(
            "INSERT INTO seen (feed, item_key, first_seen, last_seen)
             SELECT ?1, item_key, first_seen,
               CASE WHEN last_seen = (SELECT last_fetch_at FROM feeds WHERE feed = ?2)
                 THEN ?3 ELSE last_seen END
             FROM seen WHERE feed = ?2
             ON CONFLICT(feed, item_key) DO NOTHING",
        )
        .bind(&c.feed)
        .bind(from)
        .bind(c.now)
        .execute(&mut *tx)
        .await?;
    }
    let keys = serde_json::to_string(&c.item_keys).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    out.new_items = sqlx::query(
        "INSERT INTO seen (feed, item_key, first_seen, last_seen)
         SELECT ?1, value, ?3, ?3 FROM json_each(?2) WHERE true
         ON CONFLICT(feed, item_key) DO NOTHING",
    )
    .bind(&c.feed)
    .bind(&keys)
    .bind(c.now)
    .execute(&mut *tx)
    .await?
    .rows_affected() as usize;
    if out.new_items < c.item_keys.len() {
        sqlx::query(
            "UPDATE seen SET last_seen = ?3
             WHERE feed = ?1 AND item_key IN (SELECT value FROM json_each(?2))",
        )
        .bind(&c.feed)
        .bind(&keys)
        .bind(c.now)
        .execute(&mut *tx)
        .await?;
    }
    // Cross-feed repeats are judged once per (watch, link), not per sink.
    let mut judged: std::collections::HashMap<(&str, &str), bool> = Default::default();
    // One alert per watch and item, however many sinks it goes to.
    let mut counted: HashSet<(&str, &str)> = HashSet::new();
    // (watch, item) whose alert was suppressed as a repeat: no story is opened by it.
    let mut unsent: HashSet<(&str, &str)> = HashSet::new();
    for d in &c.deliveries {
        if let Some(link) = &d.canonical_link {
            let suppressed = match judged.get(&(d.watch.as_str(), link.as_str())) {
                Some(s) => *s,
                None => {
                    let recent: Option<Millis> = sqlx::query_scalar(
                        "SELECT at FROM link_seen WHERE watch = ?1 AND link = ?2 AND at > ?3",
                    )
                    .bind(&d.watch)
                    .bind(link)
                    .bind(c.now - c.repeat_window_ms)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let s = recent.is_some();
                    if !s {
                        sqlx::query(
                            "INSERT INTO link_seen (watch, link, at) VALUES (?1, ?2, ?3)
                             ON CONFLICT(watch, link) DO UPDATE SET at = excluded.at",
                        )
                        .bind(&d.watch)
                        .bind(link)
                        .bind(c.now)
                        .execute(&mut *tx)
                        .await?;
                    }
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
                "INSERT INTO watch_alerts (watch, n) VALUES (?1, 1)
                 ON CONFLICT(watch) DO UPDATE SET n = n + 1",
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
                "SELECT NOT EXISTS (SELECT 1 FROM deliveries WHERE idem_key = ?1)
                   AND EXISTS (SELECT 1 FROM seen WHERE feed = ?2 AND item_key = ?3)",
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
        super::archive::insert(&mut *tx, &c.feed, c.now, a).await?;
    }
    sqlx::query(
        "UPDATE feeds SET moved_url = CASE WHEN ?9 THEN NULL ELSE COALESCE(?2, moved_url) END,
           etag = ?3, last_modified = ?4,
           last_poll_at = ?5, last_success_at = ?5, last_fetch_at = ?5, last_result = 'ok', last_error = NULL,
           failures = 0, html_streak = 0, next_poll_at = ?6, baselined = NOT ?10, shared_ids = ?11,
           items_seen = items_seen + ?7, suppressed = suppressed + ?8, removed_at = NULL
         WHERE feed = ?1",
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

#[cfg(test)]
mod tests;
