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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Plan;
use crate::deliver::dispatcher::Dispatcher;
use crate::feed::fetch::{FetchOptions, Fetcher};
use crate::ops::http::HttpState;
use crate::ops::notify::Notifier;
use crate::store::Store;
use crate::store::sqlite::SqliteStore;
use scheduler::{PollContext, Scheduler};

/// Why the daemon could not start or finish. Printed by the CLI.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
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

/// Run the daemon (or one pass with `once`).
/// `plan` is the configuration already loaded from `path` (the file SIGHUP re-reads).
pub async fn run(path: &Path, plan: Plan, once: bool) -> Result<RunEnd, DaemonError> {
    let plan = Arc::new(plan);
    let state_path = plan.daemon.state_path();
    let store = Arc::new(SqliteStore::open_exclusive(&state_path).await?);
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
    dead_letter_removed_sinks(store.as_ref(), &plan).await;
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
    let notifier = Arc::new(Notifier::from_env());
    let ready = Arc::new(AtomicBool::new(false));
    // The listener binds before anything runs: a taken port is a startup error, not a surprise.
    if let Some(addr) = plan.daemon.listen {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            DaemonError::Setup(format!("cannot listen on {addr} ([daemon] listen): {e}"))
        })?;
        tracing::info!(%addr, "status, health and metrics listening");
        let state = HttpState {
            store: store.clone(),
            plan: plan_rx.clone(),
            metrics: crate::ops::metrics::install(),
            ready: ready.clone(),
        };
        tracker.spawn(crate::ops::http::serve(listener, state, token.clone()));
    }
    let sched_progress = ctx.progress.clone();
    let sched = Scheduler::new(ctx, plan_rx.clone()).await?;
    tracker.spawn(sched.run(token.clone(), tracker.clone()));
    tracker.spawn(
        dispatcher
            .clone()
            .run(plan_rx.clone(), token.clone(), tracker.clone()),
    );
    tracker.spawn(prune_loop(store.clone(), plan.clone(), token.clone()));
    tracker.spawn(status_loop(
        store.clone(),
        plan_rx.clone(),
        notifier.clone(),
        token.clone(),
    ));
    if let Some(interval) = notifier.watchdog_interval() {
        tracker.spawn(watchdog_loop(
            notifier.clone(),
            interval,
            STALL,
            sched_progress,
            dispatcher.progress.clone(),
            plan_rx.clone(),
            token.clone(),
        ));
    }
    ready.store(true, Ordering::Relaxed);
    let summary = crate::ops::status::summarize(store.as_ref(), &plan)
        .await
        .map(|s| s.line())
        .unwrap_or_default();
    notifier.ready(&summary);

    signals(path, plan_tx, &dispatcher, &notifier, token.clone()).await?;
    notifier.stopping();
    ready.store(false, Ordering::Relaxed);

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
    notifier: &Notifier,
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
            _ = hup.recv() => {
                notifier.reloading();
                let ok = reload(path, &plan_tx, dispatcher);
                notifier.ready(if ok { "configuration reloaded" } else { "reload rejected; previous configuration running" });
            }
        }
    }
    token.cancel();
    Ok(())
}

/// Re-read and validate the configuration; swap it in only if it is entirely valid.
fn reload<S: Store>(
    path: &Path,
    plan_tx: &watch::Sender<Arc<Plan>>,
    dispatcher: &Dispatcher<S>,
) -> bool {
    tracing::info!(config = %path.display(), "SIGHUP: reloading configuration");
    let plan = match crate::config::load(path) {
        Ok(p) => p,
        Err(errors) => {
            for e in &errors.0 {
                tracing::error!(error = %e, "reload rejected; the previous configuration keeps running");
            }
            return false;
        }
    };
    if let Err(errors) = dispatcher.build_sinks(&plan) {
        for e in errors {
            tracing::error!(error = %e, "reload rejected; the previous configuration keeps running");
        }
        return false;
    }
    tracing::info!(
        feeds = plan.feeds.len(),
        watches = plan.watches.specs().len(),
        sinks = plan.sinks.len(),
        "configuration reloaded"
    );
    let plan = Arc::new(plan);
    let _ = plan_tx.send(plan.clone());
    let store = dispatcher.store.clone();
    tokio::spawn(async move { dead_letter_removed_sinks(store.as_ref(), &plan).await });
    true
}

/// STATUS= for systemd every 30 s: feeds ok/failing, outbox pending.
async fn status_loop<S: Store>(
    store: Arc<S>,
    plan: watch::Receiver<Arc<Plan>>,
    notifier: Arc<Notifier>,
    token: CancellationToken,
) {
    if !notifier.enabled() {
        return;
    }
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
        }
        let p = plan.borrow().clone();
        if let Ok(s) = crate::ops::status::summarize(store.as_ref(), &p).await {
            notifier.status(&s.line());
        }
    }
}

/// A loop that has not turned for this long is stuck. The scheduler turns at least every 5 s
/// and each delivery worker every second (a send is bounded by its 30 s timeout).
const STALL: Duration = Duration::from_secs(45);

/// WATCHDOG=1 at half the interval, but only while the scheduler and the dispatcher loops keep
/// turning: a loop stuck for longer than `stall` stops the pings and systemd restarts us.
async fn watchdog_loop(
    notifier: Arc<Notifier>,
    interval: Duration,
    stall: Duration,
    scheduler: Arc<AtomicU64>,
    dispatcher: Arc<AtomicU64>,
    plan: watch::Receiver<Arc<Plan>>,
    token: CancellationToken,
) {
    use tokio::time::Instant;
    let period = (interval / 2).max(Duration::from_millis(50));
    let tick = period.min(Duration::from_millis(250));
    let start = Instant::now();
    let (mut seen_s, mut seen_d) = (
        scheduler.load(Ordering::Relaxed),
        dispatcher.load(Ordering::Relaxed),
    );
    let (mut moved_s, mut moved_d) = (start, start);
    let mut last_ping: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let (s, d) = (
            scheduler.load(Ordering::Relaxed),
            dispatcher.load(Ordering::Relaxed),
        );
        if s != seen_s {
            (seen_s, moved_s) = (s, now);
        }
        if d != seen_d {
            (seen_d, moved_d) = (d, now);
        }
        if last_ping.is_none_or(|t| now - t >= period) {
            let has_sinks = !plan.borrow().sinks.is_empty();
            let sched_ok = now - moved_s <= stall;
            let disp_ok = !has_sinks || now - moved_d <= stall;
            if sched_ok && disp_ok {
                notifier.watchdog();
            } else {
                tracing::error!(
                    scheduler_stuck = !sched_ok,
                    dispatcher_stuck = !disp_ok,
                    "a loop made no progress; withholding the watchdog ping"
                );
            }
            last_ping = Some(now);
        }
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(tick) => {}
        }
    }
}

/// Pending deliveries of sinks the configuration no longer has become dead letters, visible in
/// `status` and re-queueable, instead of waiting forever for a worker that will not come.
async fn dead_letter_removed_sinks<S: Store>(store: &S, plan: &Plan) {
    let names: Vec<String> = plan.sinks.iter().map(|s| s.name.clone()).collect();
    match store.dead_letter_unconfigured(&names).await {
        Ok(n) if n > 0 => tracing::warn!(
            deliveries = n,
            "deliveries for sinks no longer configured are now dead letters"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "cannot check for removed sinks"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    async fn pings(advance: bool) -> usize {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_nonblocking(true).unwrap();
        let notifier = Arc::new(Notifier::to_socket(
            &path.display().to_string(),
            Some(Duration::from_millis(100)),
        ));
        let plan = Arc::new(
            crate::config::load_str(
                Path::new("t.toml"),
                "[[sink]]\nname = \"s\"\ntype = \"stdout\"\n".into(),
            )
            .unwrap(),
        );
        let (_tx, rx) = watch::channel(plan);
        let (s, d) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let token = CancellationToken::new();
        let task = tokio::spawn(watchdog_loop(
            notifier,
            Duration::from_millis(100),
            Duration::from_millis(120),
            s.clone(),
            d.clone(),
            rx,
            token.clone(),
        ));
        for _ in 0..10 {
            if advance {
                s.fetch_add(1, Ordering::Relaxed);
                d.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        token.cancel();
        let _ = task.await;
        let mut n = 0;
        let mut buf = [0u8; 64];
        while let Ok(len) = sock.recv(&mut buf) {
            if &buf[..len] == b"WATCHDOG=1" {
                n += 1;
            }
        }
        n
    }

    #[tokio::test]
    async fn the_watchdog_pings_only_while_the_loops_turn() {
        let alive = pings(true).await;
        assert!(alive >= 5, "{alive} pings while both loops advance");
        // Stuck loops: pings stop once the stall window (120 ms) has passed.
        let stuck = pings(false).await;
        assert!((1..=3).contains(&stuck), "{stuck} pings from stuck loops");
    }
}
