//! `newswatch check`: validate a configuration and list every error at once.

use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path) -> ExitCode {
    match crate::plan::load(path) {
        Ok(plan) => {
            println!(
                "{}: ok — {} feeds, {} sinks, {} watches ({} distinct terms)",
                path.display(),
                plan.feeds.len(),
                plan.sinks.len(),
                plan.watches.specs().len(),
                plan.watches.term_count()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}
