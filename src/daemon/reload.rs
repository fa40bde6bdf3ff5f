//! SIGHUP: the configuration re-read, validated and swapped in whole, or refused whole.
//!
//! Owns [`reload`] and the rules of what a reload may change: [`keep_start_settings`] (the
//! `[daemon]` settings read at start only keep their running values and are named in a
//! warning) and [`keep_listener`] (the status page's address stays, and a reload that would
//! leave a listener beyond this machine without its token is refused). Takes the new file's
//! path and the running [`Plan`]; publishes the new [`Plan`] on the daemon's watch channel.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;

use crate::deliver::dispatcher::Dispatcher;
use crate::plan::Plan;
use crate::store::Store;

/// Re-read and validate the configuration; swap it in only if it is entirely valid (its
/// semantic model, when it names one, loaded).
pub(super) async fn reload<S: Store>(
    path: &Path,
    plan_tx: &watch::Sender<Arc<Plan>>,
    dispatcher: &Dispatcher<S>,
    semantic: &crate::semantic::runtime::Semantic,
) -> bool {
    tracing::info!(config = %path.display(), "SIGHUP: reloading configuration");
    let plan = match crate::plan::load(path) {
        Ok(p) => p,
        Err(errors) => {
            for e in &errors.0 {
                tracing::error!(error = %e, "reload rejected; the previous configuration keeps running");
            }
            return false;
        }
    };
    let mut plan = plan;
    if let Err(e) = keep_listener(&plan_tx.borrow(), &mut plan) {
        tracing::error!(error = %e, "reload rejected; the previous configuration keeps running");
        return false;
    }
    let kept = keep_start_settings(&plan_tx.borrow(), &mut plan);
    if let Err(errors) = dispatcher.build_sinks(&plan) {
        for e in errors {
            tracing::error!(error = %e, "reload rejected; the previous configuration keeps running");
        }
        return false;
    }
    if let Some(sp) = &plan.semantic
        && let Err(e) = semantic.prepare_async(sp).await
    {
        tracing::error!(error = %e, "reload rejected; the previous configuration keeps running");
        return false;
    }
    // Said only of a reload that is applied: a rejected one changes nothing anyway.
    for setting in kept {
        tracing::warn!(setting, config = %path.display(),
            "a setting read at start only changed: it takes effect at the next restart, the running value stays until then");
    }
    crate::ops::logging::config_warnings(&plan.warnings);
    tracing::info!(
        feeds = plan.feeds.len(),
        watches = plan.watches.specs().len(),
        sinks = plan.sinks.len(),
        "configuration reloaded"
    );
    let _ = plan_tx.send(Arc::new(plan));
    true
}

/// The `[daemon]` settings read at start only (the store, its leases, the fetcher and its
/// limits, the stop's grace, the log filter): the reloaded plan keeps the running values, so
/// what it publishes is what runs, and the names of those the file changed are returned to
/// be logged (a reload that silently kept them looked like it had applied them).
pub(super) fn keep_start_settings(running: &Plan, new: &mut Plan) -> Vec<&'static str> {
    let (old, d) = (&running.daemon, &mut new.daemon);
    let mut changed = Vec::new();
    macro_rules! keep {
        ($name:literal, $($field:ident),+) => {
            if $(old.$field != d.$field)||+ {
                changed.push($name);
                $(d.$field = old.$field.clone();)+
            }
        };
    }
    keep!("state", state, postgres);
    keep!("lease", lease);
    keep!("max_concurrent_fetches", max_concurrent_fetches);
    keep!("per_host_concurrency", per_host_concurrency);
    keep!("fetch_timeout", fetch_timeout);
    keep!("user_agent", user_agent);
    keep!("max_body_size", max_body_size);
    keep!("shutdown_grace", shutdown_grace);
    keep!("log_level", log_level);
    changed
}

/// `listen` is read at start only: the reloaded plan keeps the address the listener is bound
/// to (the file's or `run --listen`'s), and is refused when that address is beyond this
/// machine and the new configuration has no `listen_token` (the token is read per request,
/// so dropping it would open the status page and /api/* to the network).
pub(super) fn keep_listener(running: &Plan, new: &mut Plan) -> Result<(), String> {
    new.daemon.listen = running.daemon.listen;
    match running.daemon.listen {
        Some(addr) if !addr.ip().is_loopback() && new.daemon.listen_token.is_none() => {
            Err(format!(
                "the status page listens on {addr}, beyond this machine, and the new configuration \
             has no `listen_token` ([daemon] listen is read at start only)"
            ))
        }
        _ => Ok(()),
    }
}
