//! This process as one of several instances on the database: its row and its heartbeat.
//!
//! Owns [`Instance`]: the id (host, pid and a random part, never reused), the lease time, and
//! a task that every third of the lease refreshes the instance's heartbeat and extends the
//! leases of the feeds it is polling and the sinks it sends (a slow poll keeps its feed; a
//! dead instance's leases run out within the lease time, and the others take its work). Dropping the store's last clone
//! ends the task; [`Instance::leave`] removes the row and frees every lease at once.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::store::{Millis, StoreError, now_millis};

/// One running instance.
#[derive(Debug)]
pub struct Instance {
    pub id: String,
    pub lease: Duration,
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
        let id = format!("{host}-{pid}-{:04x}", rand::random::<u16>());
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
        let stop = CancellationToken::new();
        tokio::spawn(beat(pool.clone(), id.clone(), host, lease, stop.clone()));
        Ok(Instance { id, lease, stop })
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
        // Its claimed deliveries go back to the queue with the sink.
        sqlx::query(
            "UPDATE deliveries SET lease_until = NULL
             WHERE state = 'pending' AND lease_until IS NOT NULL
               AND sink IN (SELECT sink FROM sink_leases WHERE owner = $1)",
        )
        .bind(&self.id)
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

/// Every third of the lease: heartbeat, extend the leases of feeds being polled, forget long
/// silent instances. A failed beat is logged and tried again at the next.
async fn beat(pool: PgPool, id: String, host: String, lease: Duration, stop: CancellationToken) {
    let every = (lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = beat_once(&pool, &id, &host, lease).await {
            tracing::warn!(instance = %id, error = %e, "instance heartbeat failed");
        }
    }
}

async fn beat_once(
    pool: &PgPool,
    id: &str,
    host: &str,
    lease: Duration,
) -> Result<(), sqlx::Error> {
    let now = now_millis();
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
    // the worker renews as well, between batches.
    sqlx::query("UPDATE sink_leases SET until = $2 WHERE owner = $1 AND until > $3")
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
