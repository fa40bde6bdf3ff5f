//! The daemon: scheduler + dispatcher + signals, under one cancellation token.
//!
//! - [`refresh`]: one poll of one feed, fetch to outbox.
//! - [`scheduler`]: when each feed is polled, within concurrency limits.
//! - [`clock`]: wall-clock steps noticed and the stored schedule moved along.
//! - [`health`]: feed health alerts (failing, recovered, silent) through the outbox.
//! - [`reload`](mod@reload): SIGHUP: the configuration swapped in whole or refused whole.
//! - [`run`]: the lifecycle: load, open state, start loops, reload on SIGHUP, stop on
//!   SIGTERM/SIGINT with a grace period for in-flight sends; `--once` for one pass.

pub mod clock;
pub mod health;
pub mod refresh;
mod reload;
pub mod scheduler;
pub mod stories;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::deliver::dispatcher::Dispatcher;
use crate::feed::fetch::{FetchOptions, Fetcher};
use crate::ops::http::HttpState;
use crate::ops::liveness::Liveness;
use crate::ops::notify::Notifier;
use crate::plan::Plan;
use crate::store::Store;
use crate::store::any::AnyStore;
use reload::reload;
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Stopped by a signal (or, with `--once`, every feed was polled and everything was
    /// delivered).
    Clean,
    /// `--once` left deliveries pending or dead, or could not poll some feeds (named, in the
    /// configuration's order).
    Incomplete {
        /// Deliveries still queued (to be retried).
        pending: i64,
        /// Deliveries that failed for good in this run (dead letters: never retried unless
        /// asked to).
        dead: usize,
        failed_feeds: Vec<String>,
    },
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
    crate::deliver::http::client(&plan.daemon.user_agent)
        .map_err(|e| DaemonError::Setup(format!("cannot build HTTP client: {e}")))
}

/// Run the daemon (or one pass with `once`).
/// `plan` is the configuration already loaded from `path` (the file SIGHUP re-reads).
pub async fn run(path: &Path, plan: Plan, once: bool) -> Result<RunEnd, DaemonError> {
    // First: until a handler is installed, SIGHUP's default action ends the process, and
    // systemd counts that a clean exit (no restart). Startup (a migration, loading a model) can
    // take a while; a reload asked for meanwhile is applied once the daemon runs.
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| DaemonError::Setup(format!("cannot install signal handler: {e}")))?;
    let plan = Arc::new(plan);
    let state = plan.daemon.state_location();
    let store = AnyStore::open_daemon(&state, plan.daemon.lease)
        .await
        .map_err(|e| match e {
            e if e.names_the_state() => DaemonError::Store(e),
            e => DaemonError::Setup(format!("{state}: {e}")),
        })?;
    let store = Arc::new(store);
    tracing::info!(
        config = %path.display(),
        %state,
        feeds = plan.feeds.len(),
        watches = plan.watches.specs().len(),
        sinks = plan.sinks.len(),
        "starting"
    );
    if let Some(id) = store.instance_id() {
        tracing::info!(
            instance = id,
            lease_s = plan.daemon.lease.as_secs(),
            "one of the instances on this PostgreSQL database"
        );
    }
    let wake = Arc::new(Notify::new());
    let dispatcher = Arc::new(Dispatcher::new(
        store.clone(),
        http_client(&plan)?,
        wake.clone(),
    ));
    // Refuse to start with a sink we cannot deliver to, rather than queue alerts forever.
    dispatcher
        .build_sinks(&plan)
        .map_err(|e| DaemonError::Setup(e.join("\n")))?;
    sweep(store.as_ref(), &plan).await;
    store
        .clamp_times(crate::store::now_millis(), clock::horizon())
        .await?;
    let sweep_now = Arc::new(Notify::new());
    let fetcher = fetcher_for(&plan)?;
    let limits = Arc::new(crate::feed::limits::FetchLimits::new(
        plan.daemon.max_concurrent_fetches,
        plan.daemon.per_host_concurrency,
    ));
    // The model is loaded before the first poll: a missing or broken file stops the start
    // with its name, instead of failing every poll that finds new items.
    let semantic = Arc::new(crate::semantic::runtime::Semantic::new());
    if let Some(sp) = &plan.semantic {
        semantic
            .prepare(sp)
            .map_err(|e| DaemonError::Setup(e.to_string()))?;
    }
    let ctx = Arc::new(PollContext {
        sweep: sweep_now.clone(),
        store: store.clone(),
        pages: crate::feed::page::Pages::new(fetcher.clone(), limits.clone()),
        limits,
        fetcher,
        wake_dispatch: wake.clone(),
        beat: dispatcher.liveness.register("scheduler"),
        stories: Default::default(),
        semantic: semantic.clone(),
    });
    let (plan_tx, plan_rx) = watch::channel(plan.clone());
    let tracker = TaskTracker::new();

    if once {
        let sched = Scheduler::new(ctx, plan_rx).await?;
        let failed_feeds = sched.run_once(&tracker).await;
        let report = dispatcher
            .drain_once(&plan)
            .await
            .map_err(|e| DaemonError::Setup(e.join("\n")))?;
        prune_once(store.as_ref(), &plan).await;
        let summary = store.outbox_summary().await?;
        release(store.as_ref()).await;
        tracing::info!(
            sent = report.sent,
            skipped = report.skipped,
            retry = report.retry,
            dead = report.dead,
            pending = summary.pending,
            failed_polls = failed_feeds.len(),
            "run --once finished"
        );
        let undelivered = report.dead > 0 || summary.pending > 0;
        return Ok(if !undelivered && failed_feeds.is_empty() {
            RunEnd::Clean
        } else {
            RunEnd::Incomplete {
                pending: summary.pending,
                dead: report.dead,
                failed_feeds,
            }
        });
    }

    let token = CancellationToken::new();
    // Installed before any task starts: a failure here stops a daemon that runs nothing yet.
    // (Installed at the wait, it returned from a running daemon without its grace period.)
    let stop = StopSignals::install()?;
    let notifier = Arc::new(Notifier::from_env());
    let ready = Arc::new(AtomicBool::new(false));
    let stopping = Arc::new(AtomicBool::new(false));
    // The listener answers until the daemon exits, not until a stop begins: `/healthz` went
    // dark while a stop still waited for a send in flight, and monitoring saw a dead process.
    let http_token = CancellationToken::new();
    let http_tasks = TaskTracker::new();
    // The listener binds before anything runs: a taken port is a startup error, not a surprise.
    if let Some(addr) = plan.daemon.listen {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            let setting = plan.daemon.listen_setting;
            DaemonError::Setup(format!("cannot listen on {addr} ({setting}): {e}"))
        })?;
        tracing::info!(%addr, "status, health and metrics listening");
        let metrics = crate::ops::metrics::install(store.instance_id());
        if let Some(handle) = &metrics {
            // Kept up while the listener answers (a stop may take minutes).
            http_tasks.spawn(crate::ops::metrics::upkeep(
                handle.clone(),
                http_token.clone(),
            ));
        }
        let state = HttpState {
            store: store.clone(),
            plan: plan_rx.clone(),
            metrics,
            ready: ready.clone(),
            stopping: stopping.clone(),
        };
        http_tasks.spawn(crate::ops::http::serve(listener, state, http_token.clone()));
    }
    let sched = Scheduler::new(ctx, plan_rx.clone()).await?;
    tracker.spawn(sched.run(token.clone(), tracker.clone()));
    // Sends have a tracker of their own: a stop waits for them longer than for the rest.
    let sends = TaskTracker::new();
    sends.spawn(
        dispatcher
            .clone()
            .run(plan_rx.clone(), token.clone(), sends.clone()),
    );
    tracker.spawn(prune_loop(store.clone(), plan_rx.clone(), token.clone()));
    // Several instances on one database would each move the shared schedule for their own
    // clock's step; there, the scheduler's clamp on load and NTP-kept hosts must do.
    if !matches!(*store, AnyStore::Postgres(_)) {
        tracker.spawn(clock::clock_loop(store.clone(), token.clone()));
    }
    tracker.spawn(health::health_loop(
        store.clone(),
        plan_rx.clone(),
        wake,
        sweep_now.clone(),
        token.clone(),
    ));
    tracker.spawn(sweep_loop(
        store.clone(),
        plan_rx.clone(),
        sweep_now.clone(),
        SWEEP_EVERY,
        token.clone(),
    ));
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
            dispatcher.liveness.clone(),
            token.clone(),
        ));
    }
    ready.store(true, Ordering::Relaxed);
    let summary = crate::ops::status::status_line(store.as_ref(), &plan).await;
    notifier.ready(&summary);

    signals(
        path,
        hup,
        stop,
        plan_tx,
        &dispatcher,
        &semantic,
        &sweep_now,
        &notifier,
        token.clone(),
    )
    .await;
    notifier.stopping();
    stopping.store(true, Ordering::Relaxed);
    ready.store(false, Ordering::Relaxed);

    // Stop: no new polls or claims. A send in flight gets the whole grace period: cut off,
    // it may have arrived and is sent again (twice on platforms that ignore the key). Polls
    // in flight are waited for at most POLL_GRACE (they may go on while sends finish): one
    // cut off by the exit has stored nothing and is simply polled again at the next start.
    let grace = plan.daemon.shutdown_grace;
    tracker.close();
    sends.close();
    let (sent, polled) = tokio::join!(
        tokio::time::timeout(grace, sends.wait()),
        tokio::time::timeout(grace.min(POLL_GRACE), tracker.wait()),
    );
    if sent.is_err() {
        tracing::warn!(
            grace_s = grace.as_secs(),
            "grace period over with a send in flight; it stays queued and is sent again \
             (same key) at the next start"
        );
    }
    if polled.is_err() {
        tracing::info!(
            "stopped waiting for the polls in flight; one still running at the exit has stored \
             nothing and runs again at the next start"
        );
    }
    release(store.as_ref()).await;
    http_token.cancel();
    http_tasks.close();
    // Connections still open (a scrape, a status page) are given a moment to finish.
    let _ = tokio::time::timeout(HTTP_GRACE, http_tasks.wait()).await;
    tracing::info!("stopped");
    Ok(RunEnd::Clean)
}

/// How long the status listener's open requests may take to finish once the daemon is done.
const HTTP_GRACE: Duration = Duration::from_secs(2);

/// Give this instance's leases back (PostgreSQL), so the other instances take its feeds and
/// sinks now, not after the lease time. A failure only costs that wait: logged, not fatal.
async fn release(store: &AnyStore) {
    if let Err(e) = store.release_leases().await {
        tracing::warn!(error = %e, "cannot release leases; they run out after the lease time");
    }
}

/// The signals that stop the daemon (SIGTERM, SIGINT), caught from before its tasks start: one
/// that comes during the rest of the start-up stops it once it runs, with its grace period.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> Result<StopSignals, DaemonError> {
        use tokio::signal::unix::{SignalKind, signal};
        let sig = |k| {
            signal(k).map_err(|e| DaemonError::Setup(format!("cannot install signal handler: {e}")))
        };
        Ok(StopSignals {
            term: sig(SignalKind::terminate())?,
            int: sig(SignalKind::interrupt())?,
        })
    }
}

/// Wait for signals: SIGHUP reloads, SIGTERM/SIGINT return (after cancelling `token`).
#[allow(clippy::too_many_arguments)]
async fn signals<S: Store>(
    path: &Path,
    mut hup: tokio::signal::unix::Signal,
    stop: StopSignals,
    plan_tx: watch::Sender<Arc<Plan>>,
    dispatcher: &Dispatcher<S>,
    semantic: &crate::semantic::runtime::Semantic,
    sweep_now: &Notify,
    notifier: &Notifier,
    token: CancellationToken,
) {
    let StopSignals { mut term, mut int } = stop;
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: stopping"); break; }
            _ = hup.recv() => {
                notifier.reloading();
                let ok = reload(path, &plan_tx, dispatcher, semantic).await;
                if ok {
                    sweep_now.notify_one();
                }
                notifier.ready(if ok { "configuration reloaded" } else { "reload rejected; previous configuration running" });
            }
        }
    }
    token.cancel();
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
        notifier.status(&crate::ops::status::status_line(store.as_ref(), &p).await);
    }
}

/// How long a stop waits for polls in flight (at most `shutdown_grace`).
const POLL_GRACE: Duration = Duration::from_secs(10);

/// A loop that has not turned for this long is stuck. The scheduler turns at least every 5 s;
/// each delivery worker beats every second while it waits, for a rate limit or for its sends
/// (each cut at [`SEND_LIMIT`](crate::deliver::sink::SEND_LIMIT)), so only a store call or a
/// thread that hangs stops it.
const STALL: Duration = Duration::from_secs(45);

/// WATCHDOG=1 at half the interval, but only while every registered loop (the scheduler and
/// each sink's delivery worker, see [`Liveness`]) keeps turning: one loop stuck for longer
/// than `stall` stops the pings, and systemd restarts us.
async fn watchdog_loop(
    notifier: Arc<Notifier>,
    interval: Duration,
    stall: Duration,
    liveness: Liveness,
    token: CancellationToken,
) {
    use std::collections::HashMap;
    use tokio::time::Instant;
    let period = (interval / 2).max(Duration::from_millis(50));
    let tick = period.min(Duration::from_millis(250));
    // Per loop: the counter last seen and when it last moved.
    let mut seen: HashMap<String, (u64, Instant)> = HashMap::new();
    let mut last_ping: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let snapshot = liveness.snapshot();
        seen.retain(|name, _| snapshot.iter().any(|(n, _)| n == name));
        for (name, count) in snapshot {
            let e = seen.entry(name).or_insert((count, now));
            if e.0 != count {
                *e = (count, now);
            }
        }
        if last_ping.is_none_or(|t| now - t >= period) {
            let stuck: Vec<&str> = seen
                .iter()
                .filter(|(_, (_, moved))| now - *moved > stall)
                .map(|(n, _)| n.as_str())
                .collect();
            if stuck.is_empty() {
                notifier.watchdog();
            } else {
                tracing::error!(
                    stuck = %stuck.join(", "),
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

/// One sweeper, so sweeps run one at a time and each uses the configuration current when it
/// runs (two quick reloads cannot sweep out of order). It runs after every reload and after
/// every poll that started under an older configuration has committed, so rows such a poll
/// wrote for a removed sink do not stay pending forever.
async fn sweep_loop<S: Store>(
    store: Arc<S>,
    plan: watch::Receiver<Arc<Plan>>,
    sweep_now: Arc<Notify>,
    every: Duration,
    token: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = sweep_now.notified() => {}
            // Also now and then: a delivery to a removed sink still claimed when a sweep ran
            // (in flight at a kill, on PostgreSQL, whose claims outlive a restart) is left to
            // its claim, and would wait for the next reload once the claim ran out.
            _ = tokio::time::sleep(every) => {}
        }
        let p = plan.borrow().clone();
        sweep(store.as_ref(), &p).await;
    }
}

/// How often the sweep runs without being asked: a delivery claim's lease.
const SWEEP_EVERY: Duration = crate::deliver::dispatcher::LEASE;

/// Bring stored state in line with the configuration: deliveries of removed sinks become
/// dead letters; removed feeds are stamped for pruning after the retention.
async fn sweep<S: Store>(store: &S, plan: &Plan) {
    dead_letter_removed_sinks(store, plan).await;
    let feeds: Vec<String> = plan.feeds.iter().map(|f| f.name.clone()).collect();
    if let Err(e) = store.sync_feeds(&feeds, crate::store::now_millis()).await {
        tracing::error!(error = %e, "cannot record removed feeds");
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

/// Forget old state hourly: seen items after `retention`, link memory after the repeat window
/// (and a day: [`prune_rules`]), sent deliveries
/// after a week (a month with stories: [`prune_rules`]), dead letters after `dead_retention`, feeds gone from the configuration
/// (and their seen keys) after `retention`, archived items after `archive`; then checkpoint
/// the journal.
async fn prune_loop<S: Store>(
    store: Arc<S>,
    plan: watch::Receiver<Arc<Plan>>,
    token: CancellationToken,
) {
    loop {
        let p = plan.borrow().clone();
        prune_once(store.as_ref(), &p).await;
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

/// What [`prune_once`] forgets at `now`.
///
/// Sent deliveries go after a week, unless a watch groups stories: then after the stories'
/// own rows ([`VOCABULARY_HORIZON`](crate::story::index::VOCABULARY_HORIZON)). A story takes
/// items for up to [`MAX_JOIN_GAP`](crate::story::index::MAX_JOIN_GAP) after its alert, and
/// each update edits or follows up that alert's row (its message id, its sent updates): with
/// the row pruned after a week, a report joining on day 8 found no alert and was dropped
/// quietly.
fn prune_rules(p: &Plan, now: crate::store::Millis) -> crate::store::PruneRules {
    use crate::story::index::VOCABULARY_HORIZON;
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let week = Duration::from_secs(7 * 24 * 3600);
    let sent_kept = if p.stories.is_empty() {
        week
    } else {
        VOCABULARY_HORIZON.max(week)
    };
    crate::store::PruneRules {
        seen_before: now.saturating_sub(ms(p.daemon.retention)),
        // A day past the window: a commit judges repeats at its poll's start (a poll may run
        // past a prune) and instances' clocks differ; cut at the edge, a link alerted nearly
        // a week before could alert again minutes early.
        links_before: now
            .saturating_sub(ms(crate::daemon::refresh::REPEAT_WINDOW))
            .saturating_sub(ms(Duration::from_secs(24 * 3600))),
        sent_before: now.saturating_sub(ms(sent_kept)),
        dead_before: now.saturating_sub(ms(p.daemon.dead_retention)),
        removed_before: now.saturating_sub(ms(p.daemon.retention)),
        stories_before: now.saturating_sub(ms(VOCABULARY_HORIZON)),
    }
}

/// One pass of [`prune_loop`]'s forgetting (also at the end of `run --once`: a setup that
/// runs it from a timer never runs the loop).
async fn prune_once<S: Store>(store: &S, p: &Plan) {
    let now = crate::store::now_millis();
    let rules = prune_rules(p, now);
    // Before the prune: its journal checkpoint then hands the freed pages back too.
    match store
        .prune_archive(p.daemon.archive.prune_before(now))
        .await
    {
        Ok(n) if n > 0 => tracing::info!(records = n, "pruned old archived items"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "archive prune failed"),
    }
    match store.prune(rules).await {
        Ok(n) if n > 0 => tracing::info!(rows = n, "pruned old state"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "prune failed"),
    }
}

/// `key=Ns` of each systemd unit the project ships, for tests that tie the daemon's timing
/// to its units'.
#[cfg(test)]
pub(crate) fn unit_durations(key: &str) -> Vec<(&'static str, Duration)> {
    ["newswatch.service", "newswatch@.service"]
        .into_iter()
        .map(|unit| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("systemd")
                .join(unit);
            let text = std::fs::read_to_string(&path).unwrap();
            let secs: u64 = text
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .and_then(|v| v.trim().strip_suffix('s'))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{unit}: no {key}=Ns"));
            (unit, Duration::from_secs(secs))
        })
        .collect()
}

#[cfg(test)]
mod tests;
