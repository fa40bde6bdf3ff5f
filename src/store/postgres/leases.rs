//! Feed and sink leases on PostgreSQL: which instance polls a feed, which sends a sink's queue.
//!
//! Free functions over the pool for [`super::PgStore`]'s [`crate::store::Store`] impl; the
//! types are [`crate::store::lease`]'s. A claim reads the feeds' rows first, locking nothing
//! (a feed another instance holds or has polled since is busy: most answers end there);
//! the feeds that look free are claimed in one transaction: the claim lock (so two instances
//! count a host's leases one after the other), the rows locked with `FOR UPDATE SKIP LOCKED`
//! (a row another instance is committing right now is busy, not waited for), the per-host
//! counts, then the leases written. A poll's commit checks and clears its lease (`feeds.rs`,
//! `polls.rs`).

use std::collections::HashMap;

use sqlx::{PgPool, Row};

use crate::store::lease::{Claim, FeedClaim, InstanceRow, SinkHold};
use crate::store::{Millis, StoreError};

/// The transaction lock every claim takes first ("nwclaim").
const CLAIM_KEY: i64 = 0x6e77_636c_6169_6d00;

/// A feed due this much later than the scheduler thought was polled by another instance
/// since; within it, clocks and the scheduler's early start are forgiven.
const SLACK: Millis = 1_000;

/// How soon to ask again for a feed whose row another instance is writing, or whose host is
/// at its limit.
const RETRY: Millis = 1_000;

pub async fn claim_feeds(
    pool: &PgPool,
    me: &str,
    lease: Millis,
    feeds: &[FeedClaim<'_>],
    now: Millis,
    per_host: usize,
) -> Result<Vec<Claim>, StoreError> {
    if feeds.is_empty() {
        return Ok(Vec::new());
    }
    // First a plain read, no lock taken or waited for: most answers need nothing else (the
    // others' instances ask for each feed too, after its first choice has polled it: busy
    // until its next poll). Only feeds that look free go on to the locked claim.
    let names: Vec<&str> = feeds.iter().map(|f| f.feed).collect();
    let seen = feed_rows(pool, &names, false).await?;
    let missing: Vec<&FeedClaim<'_>> = feeds
        .iter()
        .filter(|f| !seen.contains_key(f.feed))
        .collect();
    if !missing.is_empty() {
        // New feeds get their row, in a statement of their own: two instances making the same
        // rows wait for each other at most (in name order, never in a cycle), and never while
        // either holds the claim lock.
        let (new_names, new_urls): (Vec<&str>, Vec<&str>) =
            missing.iter().map(|f| (f.feed, f.config_url)).unzip();
        sqlx::query(
            "INSERT INTO feeds (feed, config_url)
             SELECT v.feed, v.config_url FROM UNNEST($1::text[], $2::text[]) AS v(feed, config_url)
             WHERE NOT EXISTS (SELECT 1 FROM feeds f WHERE f.feed = v.feed)
             ORDER BY v.feed
             ON CONFLICT (feed) DO NOTHING",
        )
        .bind(&new_names)
        .bind(&new_urls)
        .execute(pool)
        .await?;
    }
    let busy: Vec<Option<Claim>> = feeds
        .iter()
        .map(|f| seen.get(f.feed).and_then(|r| r.busy(me, now, f.config_url)))
        .collect();
    let open: Vec<&FeedClaim<'_>> = feeds
        .iter()
        .zip(&busy)
        .filter(|(_, c)| c.is_none())
        .map(|(f, _)| f)
        .collect();
    let mut locked = if open.is_empty() {
        HashMap::new()
    } else {
        claim_open(pool, me, lease, &open, now, per_host).await?
    };
    Ok(feeds
        .iter()
        .zip(busy)
        .map(|(f, busy)| {
            busy.or_else(|| locked.remove(f.feed))
                .unwrap_or(Claim::Busy { until: now + RETRY })
        })
        .collect())
}

/// The locked part of a claim, for feeds that looked free: one transaction that takes the
/// claim lock first and then waits for nothing (rows another transaction is writing are
/// skipped, busy for a moment), so the lock is held for a few statements only. Waiting for
/// the lock while holding row locks made polls' commits wait on the claims, and the claims
/// on each other: a convoy that stalled three instances on two cores.
async fn claim_open(
    pool: &PgPool,
    me: &str,
    lease: Millis,
    feeds: &[&FeedClaim<'_>],
    now: Millis,
    per_host: usize,
) -> Result<HashMap<String, Claim>, StoreError> {
    let names: Vec<&str> = feeds.iter().map(|f| f.feed).collect();
    let hosts: Vec<&str> = feeds.iter().map(|f| f.host).collect();
    let mut tx = pool.begin().await?;
    // Host counts are read and leases written under one lock, so two instances cannot both
    // take a host's last place. The lock is held until the commit ends: waiting there for the
    // WAL to reach the disk serialised every instance's claims on the disk's flush time
    // (about 40 claims a second on this machine's virtual disk). A lease lost with the last
    // moments before a server crash costs nothing: the poll's commit checks its lease and
    // commits nothing.
    sqlx::query("SELECT set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock($1)")
        .bind(CLAIM_KEY)
        .execute(&mut *tx)
        .await?;
    let found = feed_rows(&mut *tx, &names, true).await?;
    // A changed URL resets the row (as a poll's commit would); the rows are ours now.
    let changed: Vec<(&str, &str)> = feeds
        .iter()
        .filter(|f| {
            found
                .get(f.feed)
                .is_some_and(|r| r.config_url.as_str() != f.config_url)
        })
        .map(|f| (f.feed, f.config_url))
        .collect();
    if !changed.is_empty() {
        let (c_names, c_urls): (Vec<&str>, Vec<&str>) = changed.into_iter().unzip();
        sqlx::query(
            "UPDATE feeds SET moved_url = NULL, etag = NULL, last_modified = NULL,
               baselined = FALSE, config_url = v.config_url
             FROM UNNEST($1::text[], $2::text[]) AS v(feed, config_url)
             WHERE feeds.feed = v.feed",
        )
        .bind(&c_names)
        .bind(&c_urls)
        .execute(&mut *tx)
        .await?;
    }
    let mut held: HashMap<String, usize> = HashMap::new();
    for r in sqlx::query(
        "SELECT lease_host, count(*) AS n FROM feeds
         WHERE lease_host = ANY($1) AND lease_owner IS NOT NULL AND lease_until > $2
         GROUP BY lease_host",
    )
    .bind(&hosts)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?
    {
        let n: i64 = r.try_get("n")?;
        held.insert(
            r.try_get("lease_host")?,
            usize::try_from(n).unwrap_or(usize::MAX),
        );
    }
    let mut out = HashMap::with_capacity(feeds.len());
    let (mut granted, mut granted_hosts) = (Vec::new(), Vec::new());
    for f in feeds {
        let claim = match found.get(f.feed) {
            // Being written by another transaction right now.
            None => Claim::Busy { until: now + RETRY },
            Some(row) => match row.busy(me, now, f.config_url) {
                Some(busy) => busy,
                None => {
                    let n = held.entry(f.host.to_string()).or_default();
                    // Its own lease (a poll whose commit failed) does not count twice.
                    let mine = row.owner.as_deref() == Some(me);
                    if *n >= per_host && !mine {
                        Claim::Busy { until: now + RETRY }
                    } else {
                        if !mine {
                            *n += 1;
                        }
                        granted.push(f.feed);
                        granted_hosts.push(f.host);
                        Claim::Granted
                    }
                }
            },
        };
        out.insert(f.feed.to_string(), claim);
    }
    if !granted.is_empty() {
        sqlx::query(
            "UPDATE feeds SET lease_owner = $3, lease_until = $4, lease_host = v.host
             FROM UNNEST($1::text[], $2::text[]) AS v(feed, host)
             WHERE feeds.feed = v.feed",
        )
        .bind(&granted)
        .bind(&granted_hosts)
        .bind(me)
        .bind(now + lease)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(out)
}

/// A feed row as a claim sees it.
struct FeedRow {
    config_url: String,
    owner: Option<String>,
    until: Option<Millis>,
    next: Option<Millis>,
}

impl FeedRow {
    /// Why `me` cannot have the feed at `config_url` now, if it cannot: another instance's
    /// lease runs, or another instance polled it since this one scheduled it (due again
    /// later). A stored next poll earned by another address says nothing of this one: a URL
    /// corrected by a reload is polled at once, not after the backoff the typo earned.
    fn busy(&self, me: &str, now: Millis, config_url: &str) -> Option<Claim> {
        match (&self.owner, self.until, self.next) {
            (Some(owner), Some(until), _) if owner != me && until > now => {
                Some(Claim::Busy { until })
            }
            (_, _, Some(next)) if next > now + SLACK && self.config_url == config_url => {
                Some(Claim::Busy { until: next })
            }
            _ => None,
        }
    }
}

/// Read the rows of `names`; with `lock`, only those no other transaction holds, locked
/// (`FOR UPDATE SKIP LOCKED`) until the transaction `db` is in ends.
async fn feed_rows<'c, E: sqlx::PgExecutor<'c>>(
    db: E,
    names: &[&str],
    lock: bool,
) -> Result<HashMap<String, FeedRow>, StoreError> {
    let sql = if lock {
        "SELECT feed, config_url, lease_owner, lease_until, next_poll_at FROM feeds
         WHERE feed = ANY($1) FOR UPDATE SKIP LOCKED"
    } else {
        "SELECT feed, config_url, lease_owner, lease_until, next_poll_at FROM feeds
         WHERE feed = ANY($1)"
    };
    let rows = sqlx::query(sql).bind(names).fetch_all(db).await?;
    let mut found = HashMap::with_capacity(rows.len());
    for r in &rows {
        found.insert(
            r.try_get("feed")?,
            FeedRow {
                config_url: r.try_get("config_url")?,
                owner: r.try_get("lease_owner")?,
                until: r.try_get("lease_until")?,
                next: r.try_get("next_poll_at")?,
            },
        );
    }
    Ok(found)
}

/// Take or renew the sink's lease; a takeover releases what the previous holder had claimed.
pub async fn hold_sink(
    pool: &PgPool,
    me: &str,
    lease: Millis,
    sink: &str,
    now: Millis,
) -> Result<SinkHold, StoreError> {
    let until = now + lease;
    let mut tx = pool.begin().await?;
    // The row is made first (owned by no one, long run out), so the `FOR UPDATE` below
    // always has a row to lock: on a missing row it locked nothing, and two instances
    // starting together both wrote their lease and both sent the queue. A second instance's
    // insert waits for the first's commit, then finds its row and its lease.
    sqlx::query(
        "INSERT INTO sink_leases (sink, owner, until) VALUES ($1, '', 0)
         ON CONFLICT (sink) DO NOTHING",
    )
    .bind(sink)
    .execute(&mut *tx)
    .await?;
    let (owner, their_until): (String, Millis) =
        sqlx::query_as("SELECT owner, until FROM sink_leases WHERE sink = $1 FOR UPDATE")
            .bind(sink)
            .fetch_one(&mut *tx)
            .await?;
    if owner != me && their_until > now {
        return Ok(SinkHold::Busy { until: their_until });
    }
    if owner != me {
        // The previous holder's lease ran out: it is gone or cut off, and what it claimed
        // would otherwise wait out the claims' own, longer lease. It may have sent some of
        // them; they go again under the same idempotency keys.
        super::outbox::release_sink(&mut *tx, sink, now).await?;
    }
    sqlx::query("UPDATE sink_leases SET owner = $2, until = $3 WHERE sink = $1")
        .bind(sink)
        .bind(me)
        .bind(until)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(SinkHold::Held { until })
}

/// Stop sending `sink` (gone from this instance's configuration): its lease is freed at
/// once, for an instance that still has it, and its claims go back to the queue.
pub async fn leave_sink(pool: &PgPool, me: &str, sink: &str) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let mine: Option<String> =
        sqlx::query_scalar("DELETE FROM sink_leases WHERE sink = $1 AND owner = $2 RETURNING sink")
            .bind(sink)
            .bind(me)
            .fetch_optional(&mut *tx)
            .await?;
    if mine.is_some() {
        super::outbox::release_sink(&mut *tx, sink, crate::store::now_millis()).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn instances(pool: &PgPool, now: Millis) -> Result<Vec<InstanceRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT i.id, i.host, i.pid, i.version, i.started_at, i.heartbeat_at,
           (SELECT count(*) FROM feeds f WHERE f.lease_owner = i.id AND f.lease_until > $1)
             AS feeds_leased,
           ARRAY(SELECT s.sink FROM sink_leases s WHERE s.owner = i.id AND s.until > $1
                 ORDER BY s.sink) AS sinks
         FROM instances i ORDER BY i.started_at, i.id",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(InstanceRow {
            id: r.try_get("id")?,
            host: r.try_get("host")?,
            pid: r.try_get("pid")?,
            version: r.try_get("version")?,
            started_at: r.try_get("started_at")?,
            heartbeat_at: r.try_get("heartbeat_at")?,
            feeds_leased: r.try_get("feeds_leased")?,
            sinks: r.try_get("sinks")?,
        });
    }
    Ok(out)
}

/// Give up `owner`'s lease on `feed`, if it still holds it.
pub async fn leave_feed(pool: &PgPool, owner: &str, feed: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE feeds SET lease_owner = NULL, lease_until = NULL, lease_host = NULL
         WHERE feed = $1 AND lease_owner = $2",
    )
    .bind(feed)
    .bind(owner)
    .execute(pool)
    .await?;
    Ok(())
}
