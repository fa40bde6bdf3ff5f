//! The daemon: scheduler + dispatcher + signals, under one cancellation token.
//!
//! - [`refresh`]: one poll of one feed, fetch to outbox.
//! - [`scheduler`]: when each feed is polled, within concurrency limits.
//! - [`run`]: the lifecycle: load, open state, start loops, reload on SIGHUP, stop on
//!   SIGTERM/SIGINT with a grace period for in-flight sends; `--once` for one pass.

pub mod refresh;
pub mod scheduler;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Plan;
use crate::deliver::dispatcher::Dispatcher;
use crate::feed::fetch::{FetchOptions, Fetcher};
use crate::store::Store;
use crate::store::sqlite::SqliteStore;
use scheduler::{PollContext, Scheduler};

/// Why the daemon could not start or finish. Printed by the CLI.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigErrors),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Setup(String),
}

/// How a `run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Stopped by a signal (or, with `--once`, everything was delivered).
    Clean,
    /// `--once` left deliveries pending or dead.
    Undelivered,
}

fn fetcher_for(plan: &Plan) -> Result<Fetcher, DaemonError> {
    Fetcher::new(FetchOptions {
        user_agent: plan.daemon.user_agent.clone(),
        timeout: plan.daemon.fetch_timeout,
        max_body_size: plan.daemon.max_body_size,
        ..FetchOptions::default()
    })
    .map_err(|e| DaemonError::Setup(e.to_string()))
}

fn http_client(plan: &Plan) -> Result<reqwest::Client, DaemonError> {
    reqwest::Client::builder()
        .user_agent(plan.daemon.user_agent.clone())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|e| DaemonError::Setup(format!("cannot build HTTP client: {e}")))
}

/// Run the daemon (or one pass with `once`) on the configuration at `path`.
pub async fn run(path: &Path, once: bool) -> Result<RunEnd, DaemonError> {
    let plan = Arc::new(crate::config::load(path)?);
    let state_path = plan.daemon.state_path();
    let store = Arc::new(SqliteStore::open(&state_path).await?);
    tracing::info!(
        config = %path.display(),
        state = %state_path.display(),
        feeds = plan.feeds.len(),
        watches = plan.watches.specs().len(),
        sinks = plan.sinks.len(),
        "starting"
    );
    let wake = Arc::new(Notify::new());
    let dispatcher = Arc::new(Dispatcher {
        store: store.clone(),
        client: http_client(&plan)?,
        wake: wake.clone(),
        progress: Arc::new(AtomicU64::new(0)),
    });
    // Refuse to start with a sink we cannot deliver to, rather than queue alerts forever.
    dispatcher
        .build_sinks(&plan)
        .map_err(|e| DaemonError::Setup(e.join("\n")))?;
    let ctx = Arc::new(PollContext {
        store: store.clone(),
        fetcher: fetcher_for(&plan)?,
        wake_dispatch: wake,
        progress: Arc::new(AtomicU64::new(0)),
    });
    let (plan_tx, plan_rx) = watch::channel(plan.clone());
    let tracker = TaskTracker::new();

    if once {
        let sched = Scheduler::new(ctx, plan_rx).await?;
        sched.run_once(&tracker).await;
        let report = dispatcher
            .drain_once(&plan)
            .await
            .map_err(|e| DaemonError::Setup(e.join("\n")))?;
        let summary = store.outbox_summary().await?;
        tracing::info!(
            sent = report.sent,
            retry = report.retry,
            dead = report.dead,
            pending = summary.pending,
            "run --once finished"
        );
        return Ok(if report.dead == 0 && summary.pending == 0 {
            RunEnd::Clean
        } else {
            RunEnd::Undelivered
        });
    }

    let token = CancellationToken::new();
    let sched = Scheduler::new(ctx, plan_rx.clone()).await?;
    tracker.spawn(sched.run(token.clone(), tracker.clone()));
    tracker.spawn(
        dispatcher
            .clone()
            .run(plan_rx, token.clone(), tracker.clone()),
    );
    tracker.spawn(prune_loop(store.clone(), plan.clone(), token.clone()));

    signals(path, plan_tx, &dispatcher, token.clone()).await?;

    // Stop: no new polls or claims; in-flight sends get the grace period to finish.
    let grace = plan.daemon.shutdown_grace;
    tracker.close();
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!(
            grace_s = grace.as_secs(),
            "grace period over; unsent alerts stay queued for the next start"
        );
    }
    tracing::info!("stopped");
    Ok(RunEnd::Clean)
}

/// Wait for signals: SIGHUP reloads, SIGTERM/SIGINT return (after cancelling `token`).
async fn signals<S: Store>(
    path: &Path,
    plan_tx: watch::Sender<Arc<Plan>>,
    dispatcher: &Dispatcher<S>,
    token: CancellationToken,
) -> Result<(), DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let sig = |k| {
        signal(k).map_err(|e| DaemonError::Setup(format!("cannot install signal handler: {e}")))
    };
    let mut term = sig(SignalKind::terminate())?;
    let mut int = sig(SignalKind::interrupt())?;
    let mut hup = sig(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: stopping"); break; }
            _ = hup.recv() => reload(path, &plan_tx, dispatcher),
        }
    }
    token.cancel();
    Ok(())
}

/// Re-read and validate the configuration; swap it in only if it is entirely valid.
fn reload<S: Store>(path: &Path, plan_tx: &watch::Sender<Arc<Plan>>, dispatcher: &Dispatcher<S>) {
    tracing::info!(config = %path.display(), "SIGHUP: reloading configuration");
    let plan = match crate::config::load(path) {
        Ok(p) => p,
        Err(errors) => {
            for e in &errors.0 {
                tracing::error!(error = %e, "reload rejected; the previous configuration keeps running");
            }
            return;
        }
    };
    if let Err(errors) = dispatcher.build_sinks(&plan) {
        for e in errors {
            tracing::error!(error = %e, "reload rejected; the previous configuration keeps running");
        }
        return;
    }
    tracing::info!(
        feeds = plan.feeds.len(),
        watches = plan.watches.specs().len(),
        sinks = plan.sinks.len(),
        "configuration reloaded"
    );
    let _ = plan_tx.send(Arc::new(plan));
}

/// Forget old seen items and sent deliveries, hourly.
async fn prune_loop<S: Store>(store: Arc<S>, plan: Arc<Plan>, token: CancellationToken) {
    let retention = i64::try_from(plan.daemon.retention.as_millis()).unwrap_or(i64::MAX);
    let week = 7 * 24 * 3600 * 1000;
    loop {
        let now = crate::store::now_millis();
        match store.prune(now.saturating_sub(retention), now - week).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, "pruned old state"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "prune failed"),
        }
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}
