//! `newswatch run [--once]`: start the daemon on a multi-threaded runtime and map its end to
//! an exit code.

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
            eprintln!("newswatch: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(crate::daemon::run(path, plan, once)) {
        Ok(RunEnd::Clean) => ExitCode::SUCCESS,
        Ok(RunEnd::Undelivered) => {
            eprintln!("newswatch: some alerts were not delivered; they stay queued (see the log)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("newswatch: {e}");
            ExitCode::FAILURE
        }
    }
}
