//! `newswatch run [--once]`: start the daemon on a multi-threaded runtime and map its end to
//! an exit code.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use crate::daemon::RunEnd;

pub fn run(path: &Path, plan: crate::plan::Plan, once: bool) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("newswatch")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::ops::logging::fatal(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(crate::daemon::run(path, plan, once)) {
        Ok(RunEnd::Clean) => ExitCode::SUCCESS,
        Ok(RunEnd::Incomplete {
            pending,
            dead,
            failed_feeds,
        }) => {
            if !failed_feeds.is_empty() {
                tell!(
                    "newswatch: {} of the feeds could not be polled: {} (see the log; \
                     `newswatch status` shows each one's error)",
                    failed_feeds.len(),
                    failed_feeds.join(", ")
                );
            }
            // Told apart: a queued alert goes at the next run by itself, a dead letter only
            // when asked (it said "they stay queued" of dead letters too).
            if pending > 0 {
                tell!(
                    "newswatch: {pending} {} not delivered yet; queued, retried at the next run \
                     (see the log)",
                    if pending == 1 {
                        "delivery"
                    } else {
                        "deliveries"
                    }
                );
            }
            if dead > 0 {
                tell!(
                    "newswatch: {dead} {} failed for good and became dead letters (`newswatch \
                     status` shows why; `newswatch deliveries retry --dead` sends them again)",
                    if dead == 1 { "delivery" } else { "deliveries" }
                );
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            crate::ops::logging::fatal(&e.to_string());
            ExitCode::FAILURE
        }
    }
}

/// The address `run --listen` gives (`None` for "off"), held to `[daemon] listen`'s rule: an
/// address beyond this machine needs `listen_token`.
pub fn listen_override(value: &str, has_token: bool) -> Result<Option<SocketAddr>, String> {
    if value.trim() == "off" {
        return Ok(None);
    }
    let addr: SocketAddr = value
        .trim()
        .parse()
        .map_err(|_| "not an address like 127.0.0.1:9480 (or off)".to_string())?;
    if !addr.ip().is_loopback() && !has_token {
        return Err(
            "not a loopback address: set `listen_token` in [daemon] so /api/* and the status \
             page need it"
                .into(),
        );
    }
    Ok(Some(addr))
}

#[cfg(test)]
mod tests {
    use super::listen_override;

    #[test]
    fn listen_override_takes_loopback_or_off_and_refuses_open_addresses_without_a_token() {
        assert_eq!(
            listen_override("127.0.0.1:9481", false),
            Ok(Some("127.0.0.1:9481".parse().unwrap()))
        );
        assert_eq!(listen_override("off", false), Ok(None));
        assert!(listen_override("0.0.0.0:9481", false).is_err());
        assert!(listen_override("0.0.0.0:9481", true).is_ok());
        assert!(listen_override("localhost", false).is_err());
    }
}
