//! `newswatch send-test SINK [-c FILE] [--dry-run]`: deliver a sample alert (the seed article)
//! to one configured sink and print what the platform answered.
//!
//! Uses the sink exactly as the daemon does (same payload, template, escaping and error
//! classification) but no state: a Telegram chat migration learnt here is not saved. Exit 0
//! when delivered, 1 when the platform refused or could not be reached (with the classified
//! error), 2 when the configuration is invalid or names no such sink.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::deliver::sink::{MemoryOnly, SendError};
use crate::deliver::template::sample_alert;

pub fn run(path: &Path, sink_name: &str, dry_run: bool) -> ExitCode {
    // Only this sink sends: the others' secrets may be missing from this shell. A dry run
    // sends nothing, so it needs none (the payload holds no secret).
    let loaded = if dry_run {
        crate::plan::load_never_sending(path)
    } else {
        crate::plan::load_for_sink(path, sink_name)
    };
    let plan = match loaded {
        Ok(p) => p,
        Err(e) => {
            tell!("{e}");
            return ExitCode::from(2);
        }
    };
    let Some(sp) = plan.sinks.iter().find(|s| s.name == sink_name) else {
        let names: Vec<&str> = plan.sinks.iter().map(|s| s.name.as_str()).collect();
        tell!(
            "newswatch: no sink named `{sink_name}` in {} (sinks: {})",
            path.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
        return ExitCode::from(2);
    };
    // Exactly the daemon's client policy (no redirects, same time limits).
    let client = match crate::deliver::http::client(&plan.daemon.user_agent) {
        Ok(c) => c,
        Err(e) => {
            tell!("newswatch: cannot build the HTTP client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sink = match crate::deliver::build_sink(sp, &client, Arc::new(MemoryOnly::default())) {
        Ok(s) => s,
        Err(e) => {
            tell!("newswatch: {e}");
            return ExitCode::from(2);
        }
    };
    let alert = sample_alert();
    if dry_run {
        match sink.preview(&alert) {
            Some(body) => say!(
                "{}",
                super::json_c1_escaped(&serde_json::to_string_pretty(&body).unwrap_or_default())
            ),
            None => say!(
                "(a {} sink has no JSON body to show)",
                sp.config.kind().name()
            ),
        }
        return ExitCode::SUCCESS;
    }
    // A fresh key per run, so a platform that deduplicates (Matrix, Google Chat) shows every test.
    let key = crate::deliver::idempotency_key(
        "send-test",
        sink_name,
        &chrono::Utc::now().timestamp_millis().to_string(),
        &alert.item_key,
    );
    let Some(rt) = super::current_thread_runtime() else {
        return ExitCode::FAILURE;
    };
    let kind = sp.config.kind().name();
    match rt.block_on(sink.send(&alert, &key)) {
        Ok(ok) => {
            let status = ok
                .status
                .map_or("done".to_string(), |s| format!("HTTP {s}"));
            let detail = if ok.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", ok.detail)
            };
            say!("sink `{sink_name}` ({kind}): delivered, {status}{detail}");
            ExitCode::SUCCESS
        }
        Err(SendError::Retryable {
            message,
            retry_after,
        }) => {
            let hint = retry_after
                .map(|d| format!(" (retry after {})", humantime::format_duration(d)))
                .unwrap_or_default();
            tell!(
                "newswatch: sink `{sink_name}` ({kind}): temporary failure{hint}, the daemon would retry: {message}"
            );
            ExitCode::FAILURE
        }
        Err(SendError::Permanent { message }) => {
            tell!(
                "newswatch: sink `{sink_name}` ({kind}): permanent failure, the daemon would keep it as a dead letter: {message}"
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exit code is the command's answer to a script (`send-test … && deploy`): delivered,
    /// refused or unreachable, or a configuration at fault are three codes.
    #[test]
    fn exit_codes_tell_delivered_failed_and_misconfigured() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("n.toml");
        std::fs::write(
            &cfg,
            format!(
                "[[sink]]\nname = \"console\"\ntype = \"stdout\"\n\n\
                 [[sink]]\nname = \"down\"\ntype = \"slack\"\nurl = \"http://{closed}/services/x\"\n"
            ),
        )
        .unwrap();
        assert_eq!(run(&cfg, "console", false), ExitCode::SUCCESS);
        assert_eq!(run(&cfg, "down", true), ExitCode::SUCCESS);
        assert_eq!(run(&cfg, "down", false), ExitCode::FAILURE);
        assert_eq!(run(&cfg, "nosuch", false), ExitCode::from(2));
        assert_eq!(
            run(&dir.path().join("missing.toml"), "console", false),
            ExitCode::from(2)
        );
    }
}
