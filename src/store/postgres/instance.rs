//! This process as one of several instances on the database: its row and its heartbeat.
//!
//! Owns [`Instance`]: the id (host, pid and a random part, never reused), the lease time, and
//! a task that every third of the lease refreshes the instance's heartbeat and extends the
//! leases of the feeds it is polling and the sinks it sends (a slow poll keeps its feed; a
//! dead instance's leases run out within the lease time, and the others take its work). Dropping the store's last clone
//! ends the task; [`Instance::leave`] removes the row and frees every lease at once. Each beat
//! also reads which instances are live, for [`Instance::claim_delay`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::store::lease::{CLAIM_GRACE, first_choice};
use crate::store::{Millis, StoreError, now_millis};

/// One running instance.
#[derive(Debug)]
pub struct Instance {
    pub id: String,
    pub lease: Duration,
    /// The ids of the instances whose heartbeat is within the lease, sorted; as of the last
    /// beat.
    live: Arc<RwLock<Vec<String>>>,
    stop: CancellationToken,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The machine's name, for `status` (Linux's; "unknown" elsewhere).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

pub fn lease_ms(lease: Duration) -> Millis {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)
}

impl Instance {
    /// Register this process and start its heartbeat.
    pub async fn join(pool: &PgPool, lease: Duration) -> Result<Instance, StoreError> {
        let host = host_name();
        let pid = std::process::id();
        // 64 random bits: two instances of one process (or of a reused pid) never share an id.
        let id = format!("{host}-{pid}-{:016x}", rand::random::<u64>());
        let now = now_millis();
        sqlx::query(
            "INSERT INTO instances (id, host, pid, version, started_at, heartbeat_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(&host)
        .bind(i64::from(pid))
        .bind(env!("CARGO_PKG_VERSION"))
        .bind(now)
        .execute(pool)
        .await?;
        let live = Arc::new(RwLock::new(live_instances(pool, now, lease).await?));
        let stop = CancellationToken::new();
        let me = Beat {
            id: id.clone(),
            host,
            lease,
            live: live.clone(),
        };
        tokio::spawn(beat(pool.clone(), me, stop.clone()));
        Ok(Instance {
            id,
            lease,
            live,
            stop,
        })
    }

    /// How long after `feed` falls due this instance waits before asking for it: nothing when
    /// it is the feed's first choice among the live instances, [`CLAIM_GRACE`] otherwise.
    pub fn claim_delay(&self, feed: &str) -> Duration {
        // A poisoned lock only means a beat panicked mid-write of a plain Vec: still usable.
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        match first_choice(feed, &live) {
            Some(first) if first != self.id => CLAIM_GRACE,
            _ => Duration::ZERO,
        }
    }

    /// Free every lease this instance holds and remove its row (a clean stop).
    pub async fn leave(&self, pool: &PgPool) -> Result<(), StoreError> {
        self.stop.cancel();
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE feeds SET lease_owner = NULL, lease_until = NULL, lease_host = NULL
             WHERE lease_owner = $1",
        )
        .bind(&self.id)
        .execute(&mut *tx)
        .await?;
        // Its claimed deliveries go back to the queue with the sink, except those it is still
        // sending (a send that outlasted the shutdown grace): until their mark passes.
        sqlx::query(
            "UPDATE deliveries SET lease_until = CASE WHEN sending_until > $2 THEN sending_until END
             WHERE state = 'pending' AND lease_until IS NOT NULL
               AND sink IN (SELECT sink FROM sink_leases WHERE owner = $1)",
        )
        .bind(&self.id)
        .bind(crate::store::now_millis())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sink_leases WHERE owner = $1")
            .bind(&self.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(&self.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Instances silent for this long are forgotten (their leases ran out long before); until
/// then `status` lists them with their last heartbeat, so a killed one is seen.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

/// The ids of the instances whose last heartbeat is within `lease` of `now`, sorted.
async fn live_instances(
    pool: &PgPool,
    now: Millis,
    lease: Duration,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM instances WHERE heartbeat_at > $1 ORDER BY id")
        .bind(now - lease_ms(lease))
        .fetch_all(pool)
        .await
}

/// What the heartbeat task keeps.
struct Beat {
    id: String,
    host: String,
    lease: Duration,
    live: Arc<RwLock<Vec<String>>>,
}

/// Every third of the lease: heartbeat, extend the leases of feeds being polled, forget long
/// silent instances, read the live ones. A failed beat is logged and tried again at the next.
async fn beat(pool: PgPool, me: Beat, stop: CancellationToken) {
    let every = (me.lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let now = now_millis();
        if let Err(e) = beat_once(&pool, &me.id, &me.host, me.lease, now).await {
            tracing::warn!(instance = %me.id, error = %e, "instance heartbeat failed");
            continue;
        }
        match live_instances(&pool, now, me.lease).await {
            Ok(live) => *me.live.write().unwrap_or_else(|e| e.into_inner()) = live,
            Err(e) => {
                tracing::warn!(instance = %me.id, error = %e, "cannot read the live instances")
            }
        }
    }
}

async fn beat_once(
    pool: &PgPool,
    id: &str,
    host: &str,
    lease: Duration,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO instances AS i (id, host, pid, version, started_at, heartbeat_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at",
    )
    .bind(id)
    .bind(host)
    .bind(i64::from(std::process::id()))
    .bind(env!("CARGO_PKG_VERSION"))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // Rows being written right now are skipped, not waited for: their commit clears the
    // lease anyway, and waiting here while a batch of 304s waits on another row could
    // deadlock.
    sqlx::query(
        "UPDATE feeds SET lease_until = $2 WHERE feed IN (SELECT feed FROM feeds
           WHERE lease_owner = $1 AND lease_until > $3 FOR UPDATE SKIP LOCKED)",
    )
    .bind(id)
    .bind(now + lease_ms(lease))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // Sinks too: a batch of sends slower than the lease (a strict rate limit) keeps its sink;
    // the worker renews as well, between batches. Only the sinks this instance's configuration
    // has (as it last recorded them; all while it has recorded none): a sink a reload removed,
    // whose lease its ending worker failed to give up (a lock timeout, logged once), was kept
    // for this instance at every beat, and no instance that still has it sent its queue
    // until this one restarted.
    sqlx::query(
        "UPDATE sink_leases l SET until = $2 WHERE owner = $1 AND until > $3
           AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = $1
                             AND i.sinks IS NOT NULL AND NOT (l.sink = ANY(i.sinks)))",
    )
    .bind(id)
    .bind(now + lease_ms(lease))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM instances WHERE heartbeat_at < $1")
        .bind(now - lease_ms(FORGET_AFTER))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
