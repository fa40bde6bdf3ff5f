//! `newswatch status` and `newswatch deliveries retry`: the operator's view of the state.
//!
//! `status` asks the running daemon (`GET /api/status` on `[daemon] listen`, with the
//! `listen_token` when one is set) and falls back to
//! reading the state file read-only, so it works whether the daemon runs or not. Neither
//! command ever creates a state file: a missing one is an error naming the path tried.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::ops::http::time;
use crate::ops::status::{DeliveryStatus, StatusReport, collect, listed_count};
use crate::plan::Plan;
use crate::store::Store;
use crate::store::any::{AnyStore, StateLocation};

/// The plan as these commands need it: they never send, so sink secrets may be missing.
fn load(path: &Path) -> Option<Plan> {
    match crate::plan::load_never_sending(path) {
        Ok(p) => Some(p),
        Err(e) => {
            tell!("{e}");
            None
        }
    }
}

async fn from_daemon(plan: &Plan) -> Option<StatusReport> {
    let addr = plan.daemon.listen?;
    // Never through a proxy: the request carries the listen_token, and an `http_proxy` in
    // the environment (reqwest honours it, loopback included) would hand it to that host.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .no_proxy()
        .build()
        .ok()?;
    let mut req = client.get(format!("http://{addr}/api/status"));
    if let Some(token) = &plan.daemon.listen_token {
        req = req.bearer_auth(token.expose());
    }
    let resp = req.send().await.ok()?;
    if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
        tell!(
            "newswatch: the daemon at {addr} refused the request (401): `listen_token` in {} is \
             missing or differs from the daemon's; reading the state file instead",
            plan.path.display()
        );
        return None;
    }
    if !resp.status().is_success() {
        return None;
    }
    let bytes = resp.bytes().await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Write `text` to stdout. A closed pipe (`status | head`) is the reader's choice: success,
/// not the panic `print!` makes of it.
fn print_out(text: &str) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    super::after_output(written, ExitCode::SUCCESS)
}

/// The state of `plan`, which must exist: operator commands never create it. A missing state
/// file is an error naming the path tried and the rule that chose it. (A PostgreSQL database
/// without the schema is reported when opened.)
pub(super) fn existing_state(plan: &Plan) -> Result<StateLocation, String> {
    if let Some(url) = &plan.daemon.postgres {
        return Ok(StateLocation::Postgres(url.clone()));
    }
    let (path, origin) = plan.daemon.state_path_and_origin();
    if path.exists() {
        return Ok(StateLocation::File(path));
    }
    let shown = std::path::absolute(&path).unwrap_or(path);
    Err(format!(
        "no state file at {} ({origin}; the state file is `[daemon] state`, else \
         $STATE_DIRECTORY/newswatch.db, else ./newswatch.db). Set `state` in {} or run where \
         the daemon runs",
        shown.display(),
        plan.path.display()
    ))
}

/// [`existing_state`] for the `deliveries` commands, which print the error themselves.
fn existing_state_or_say(plan: &Plan) -> Option<StateLocation> {
    existing_state(plan)
        .map_err(|e| tell!("newswatch: {e}"))
        .ok()
}

async fn report(plan: &Plan) -> Result<StatusReport, String> {
    if let Some(r) = from_daemon(plan).await {
        return Ok(r);
    }
    // With `listen = "off"` no daemon was asked: saying it "is not answering" sent the
    // reader looking for a daemon that was never meant to listen.
    let at = existing_state(plan).map_err(|e| match plan.daemon.listen {
        Some(addr) => format!("the daemon is not answering on {addr} and {e}"),
        None => format!("`listen` is off (no daemon to ask) and {e}"),
    })?;
    let store = AnyStore::open_read_only(&at)
        .await
        .map_err(|e| format!("cannot read {at}: {e}"))?;
    let source = match at {
        StateLocation::File(_) => "state file",
        StateLocation::Postgres(_) => "database",
    };
    // Named with the state: a file that is no database, or of no release, said only "state
    // database: file is not a database".
    collect(&store, plan, source)
        .await
        .map_err(|e| format!("cannot read {at}: {e}"))
}

pub fn run(path: &Path, json: bool) -> ExitCode {
    let (Some(plan), Some(rt)) = (load(path), super::current_thread_runtime()) else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(report(&plan)) {
        Ok(r) if json => match serde_json::to_string_pretty(&r) {
            Ok(s) => print_out(&format!("{}\n", super::json_c1_escaped(&s))),
            Err(e) => {
                tell!("newswatch: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(r) => print_out(&terminal_safe(&render(&r))),
        Err(e) => {
            tell!("newswatch: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `text` for a terminal: every control character but the line breaks the report is laid out
/// with written as `\u{…}`. Titles, names, sink answers and feed errors come from outside
/// (a title's C1 `\u{9b}` is a terminal's CSI): none of them may drive the terminal.
fn terminal_safe(text: &str) -> String {
    super::escape_controls(text, &['\n'])
}

fn deliveries(out: &mut String, title: &str, rows: &[DeliveryStatus]) {
    out.push_str(&format!("\n{title}\n"));
    if rows.is_empty() {
        out.push_str("  none\n");
    }
    for d in rows {
        // A story update marked done without a message: nothing reached the channel.
        let tried = if d.state == "skipped" {
            "skipped (a story update with nothing to show on this sink)".to_string()
        } else {
            format!("attempts={}", d.attempts)
        };
        out.push_str(&format!(
            "  #{:<5} {:<16} {:<12} {} {}{}\n    {}\n",
            d.id,
            d.watch,
            d.sink,
            time(d.sent_at.or(Some(d.next_attempt_at))),
            tried,
            d.last_error
                .as_deref()
                .map(|e| format!(" error: {e}"))
                .unwrap_or_default(),
            d.title
        ));
    }
}

/// The report as terminal text.
pub fn render(r: &StatusReport) -> String {
    let mut out = format!(
        "newswatch {} ({}): {}\n\nFEEDS\n",
        r.version,
        r.source,
        r.summary()
    );
    for f in &r.feeds {
        let result = match f.last_result.as_deref() {
            Some("error") => format!("ERROR ×{}", f.failures),
            Some(x) => x.to_string(),
            None => "not polled yet".into(),
        };
        out.push_str(&format!(
            "  {:<24} {:<14} last {}  next {}  seen {}\n",
            f.name,
            result,
            time(f.last_poll_at),
            time(f.next_poll_at),
            f.items_seen
        ));
        if let Some(e) = &f.last_error {
            out.push_str(&format!("    {e}\n"));
        }
    }
    out.push_str("\nWATCHES\n");
    for w in &r.watches {
        out.push_str(&format!(
            "  {:<24} alerts {:<6} → {}\n",
            w.name,
            w.alerts,
            w.sinks.join(", ")
        ));
    }
    if !r.instances.is_empty() {
        out.push_str("\nINSTANCES\n");
        for i in &r.instances {
            let beat = (r.generated_at - i.heartbeat_at).max(0) / 1000;
            let sinks = if i.sinks.is_empty() {
                "-".to_string()
            } else {
                i.sinks.join(", ")
            };
            out.push_str(&format!(
                "  {:<32} host {} pid {} heartbeat {beat}s ago, polling {} feeds, sending {sinks}\n",
                i.id, i.host, i.pid, i.feeds_leased
            ));
        }
    }
    if !r.stories.is_empty() {
        out.push_str("\nOPEN STORIES\n");
        for s in &r.stories {
            out.push_str(&format!(
                "  {:<24} {} ({} sources: {})\n",
                s.watch,
                s.title,
                s.sources.len(),
                s.sources.join(", ")
            ));
        }
    }
    deliveries(
        &mut out,
        &format!(
            "PENDING ({})",
            listed_count(r.pending, r.pending_deliveries.len(), "oldest")
        ),
        &r.pending_deliveries,
    );
    deliveries(
        &mut out,
        &format!(
            "DEAD LETTERS ({})",
            listed_count(r.dead, r.dead_letters.len(), "newest")
        ),
        &r.dead_letters,
    );
    deliveries(&mut out, "RECENT ALERTS", &r.recent_alerts);
    out
}

pub fn retry(path: &Path, dead: bool) -> ExitCode {
    let (Some(plan), Some(rt)) = (load(path), super::current_thread_runtime()) else {
        return ExitCode::FAILURE;
    };
    let Some(at) = existing_state_or_say(&plan) else {
        return ExitCode::FAILURE;
    };
    let sinks: Vec<String> = plan.sinks.iter().map(|s| s.name.clone()).collect();
    let result = rt.block_on(async {
        // A second connection beside the daemon's is fine: the database serialises the writes.
        let store = AnyStore::open_existing(&at).await?;
        let now = crate::store::now_millis();
        if dead {
            store.retry_dead(now, &sinks).await
        } else {
            store.retry_pending_now(now).await.map(|n| (n, 0))
        }
    });
    match result {
        Ok((n, left)) if dead => {
            say!("{n} dead letters back in the queue");
            if left > 0 {
                say!(
                    "{left} dead letters stay: their sinks are no longer configured, or \
                     they are story updates a newer edit of the same message already shows \
                     (`deliveries purge --dead` deletes them)"
                );
            }
            ExitCode::SUCCESS
        }
        Ok((n, _)) => {
            say!("{n} pending deliveries due now");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tell!("newswatch: {at}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `deliveries purge --dead [--older-than D]`.
pub fn purge_dead(path: &Path, older_than: Option<std::time::Duration>) -> ExitCode {
    let (Some(plan), Some(rt)) = (load(path), super::current_thread_runtime()) else {
        return ExitCode::FAILURE;
    };
    let Some(at) = existing_state_or_say(&plan) else {
        return ExitCode::FAILURE;
    };
    let age = older_than.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let result = rt.block_on(async {
        let store = AnyStore::open_existing(&at).await?;
        let before = crate::store::now_millis().saturating_sub(age);
        store.purge_dead(before).await
    });
    match result {
        Ok(n) => {
            say!("{n} dead letters deleted");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tell!("newswatch: {at}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `newswatch migrate`: bring the state's tables to this release (creating them if needed)
/// and exit. A SQLite file is refused while a daemon holds its lock; PostgreSQL migrations run
/// under sqlx's advisory lock, beside running instances (each runs them at start anyway).
pub fn migrate(path: &Path) -> ExitCode {
    let (Some(plan), Some(rt)) = (load(path), super::current_thread_runtime()) else {
        return ExitCode::FAILURE;
    };
    let at = plan.daemon.state_location();
    let result = rt.block_on(AnyStore::migrate(&at));
    match result {
        Ok(()) => {
            say!("{at}: the state's tables are up to date");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tell!("newswatch: {at}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;
    use crate::cli::json_c1_escaped;
    use crate::ops::status::listed_count;

    /// A heading says how many there are, and which of them it lists when not all.
    #[test]
    fn a_cut_list_says_which_part_it_shows() {
        assert_eq!(
            listed_count(1234, 50, "oldest"),
            "1234; the oldest 50 listed"
        );
        assert_eq!(listed_count(3, 3, "oldest"), "3");
        assert_eq!(listed_count(0, 0, "newest"), "0");
    }

    /// Regression: `status` printed stored titles, names and sink answers as they were: an
    /// answer holding ESC sequences, or a title holding a C1 CSI (U+009B), drove the terminal.
    #[test]
    fn the_report_reaches_the_terminal_without_control_characters() {
        let text = "FEEDS\n  a\u{1b}[31mred\u{7} \u{9b}2J\ttab\n";
        assert_eq!(
            terminal_safe(text),
            "FEEDS\n  a\\u{1b}[31mred\\u{7} \\u{9b}2J\\u{9}tab\n"
        );
        let json = serde_json::to_string(&serde_json::json!({"title": "x\u{9b}2J\u{1b}"})).unwrap();
        let safe = json_c1_escaped(&json);
        assert_eq!(safe, "{\"title\":\"x\\u009b2J\\u001b\"}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["title"], "x\u{9b}2J\u{1b}");
    }
}
