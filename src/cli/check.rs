//! `newswatch check`: validate a configuration and list every error at once.

use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path) -> ExitCode {
    match crate::plan::load(path) {
        Ok(plan) => {
            // On stderr, like errors, so that `check > /dev/null` still shows them.
            for w in &plan.warnings {
                tell!("warning: {w}");
            }
            // A semantic watch's model is read now, as `run` would: a missing or broken file
            // is named here, not at the daemon's start.
            if let Some(sp) = &plan.semantic {
                if let Err(e) = crate::semantic::runtime::Semantic::new().prepare(sp) {
                    // Located at the `[semantic] model` key, like the configuration's errors.
                    tell!("{e}\n1 error");
                    return ExitCode::FAILURE;
                }
                say!(
                    "semantic model {} loaded: {} semantic watches",
                    sp.model.display(),
                    sp.watches.len()
                );
            }
            say!(
                "{}: ok — {}, {}, {} ({})",
                path.display(),
                super::counted(plan.feeds.len(), "feed", "feeds"),
                super::counted(plan.sinks.len(), "sink", "sinks"),
                super::counted(plan.watches.specs().len(), "watch", "watches"),
                super::counted(plan.watches.term_count(), "distinct term", "distinct terms")
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            tell!("{errors}");
            ExitCode::FAILURE
        }
    }
}
