//! The instance lock: one daemon per database, held as a PostgreSQL session advisory lock.
//!
//! Owns [`InstanceLock`]. The lock lives as long as its connection, so the server releases it
//! when the daemon's process ends, however it ends. The other way round matters too: when the
//! connection goes (a server restart, a network cut), the lock goes with it. A task of the
//! lock's own probes the connection every [`CHECK`]; a lost connection is replaced and the
//! lock taken again, and if another daemon holds it by then, [`InstanceLock::lost`] fires and
//! the daemon stops (two daemons on one database would poll and send everything twice).

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;
use tokio_util::sync::CancellationToken;

use crate::store::StoreError;

/// The advisory lock key of the one daemon per database ("newswatc" as ASCII); sqlx's
/// migration lock uses another key.
const KEY: i64 = 0x6e65_7773_7761_7463;

/// How often the lock's connection is probed.
pub const CHECK: Duration = Duration::from_secs(5);

/// How long a probe may take before the connection counts as lost.
const PING_LIMIT: Duration = Duration::from_secs(5);

/// A held instance lock. Dropping it (the store's last clone) ends its task, which closes
/// the connection and so releases the lock.
#[derive(Debug)]
pub struct InstanceLock {
    lost: CancellationToken,
    stop: CancellationToken,
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Take the lock on a new connection; `Ok(None)`: another session holds it.
async fn take(opts: &PgConnectOptions) -> Result<Option<sqlx::PgConnection>, sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect_with(opts).await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(KEY)
        .fetch_one(&mut conn)
        .await?;
    Ok(got.then_some(conn))
}

impl InstanceLock {
    /// Take the lock, or fail with [`StoreError::DbLocked`]; then keep it, probing every
    /// `check`.
    pub async fn acquire(
        opts: &PgConnectOptions,
        check: Duration,
    ) -> Result<InstanceLock, StoreError> {
        let conn = take(opts).await?.ok_or(StoreError::DbLocked)?;
        let lock = InstanceLock {
            lost: CancellationToken::new(),
            stop: CancellationToken::new(),
        };
        tokio::spawn(keep(
            conn,
            opts.clone(),
            check,
            lock.lost.clone(),
            lock.stop.clone(),
        ));
        Ok(lock)
    }

    /// Fires when the lock was lost to another daemon.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }
}

async fn keep(
    mut conn: sqlx::PgConnection,
    opts: PgConnectOptions,
    check: Duration,
    lost: CancellationToken,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(check) => {}
        }
        // Bounded: on a network black hole a ping would wait for TCP to give up (minutes).
        if let Ok(Ok(())) = tokio::time::timeout(check.max(PING_LIMIT), conn.ping()).await {
            continue;
        }
        tracing::warn!(
            "the PostgreSQL connection holding the instance lock was lost; taking the lock again"
        );
        // Until a new connection answers, keep trying: a restarting server takes a while, and
        // while it is down no other daemon can take the lock either.
        let taken = loop {
            match take(&opts).await {
                Ok(t) => break t,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reconnect for the instance lock; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(check) => {}
                    }
                }
            }
        };
        match taken {
            Some(c) => {
                tracing::info!("instance lock taken again");
                conn = c;
            }
            None => {
                tracing::error!(
                    "another newswatch took this PostgreSQL database's instance lock while \
                     the connection was lost; stopping"
                );
                lost.cancel();
                return;
            }
        }
    }
}
