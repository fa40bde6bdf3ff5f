//! `newswatch check`: validate a configuration and list every error at once.

use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path) -> ExitCode {
    match crate::plan::load(path) {
        Ok(plan) => {
            // A semantic watch's model is read now, as `run` would: a missing or broken file
            // is named here, not at the daemon's start.
            if let Some(sp) = &plan.semantic {
                if let Err(e) = crate::semantic::runtime::Semantic::new().prepare(sp) {
                    // Located at the `[semantic] model` key, like the configuration's errors.
                    eprintln!("{e}\n1 error");
                    return ExitCode::FAILURE;
                }
                println!(
                    "semantic model {} loaded: {} semantic watches",
                    sp.model.display(),
                    sp.watches.len()
                );
            }
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
