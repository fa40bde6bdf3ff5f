//! The configuration as the program runs it: [`crate::config`]'s validated plan, with each
//! sink's settings typed by [`crate::deliver::config`].
//!
//! Owns the aliases [`Plan`] and [`SinkPlan`] and the loaders [`load`] and [`load_str`]. This
//! is where the two meet, so that `config/` never imports `deliver/`: `config/` knows that a
//! sink has a name, a type and a table; the sink modules know what the table holds.

use std::path::Path;

use crate::config::ConfigErrors;
use crate::deliver::config::{Registry, Secrets, SinkConfig};

/// The validated configuration, sinks typed.
pub type Plan = crate::config::Plan<SinkConfig>;
/// One `[[sink]]`, typed.
pub type SinkPlan = crate::config::SinkPlan<SinkConfig>;

/// Load, include and validate a configuration, reporting every error found (sinks' included).
pub fn load(path: &Path) -> Result<Plan, ConfigErrors> {
    crate::config::load(path, &Registry::default())
}

/// Like [`load`], for commands that never send (`status`, `deliveries`, `migrate`, `try`,
/// `backtest`): a sink secret that cannot be resolved in this shell (the daemon's `env:` file
/// not loaded, no `$CREDENTIALS_DIRECTORY`) is not an error, and such a plan's sinks must
/// never be built. `[daemon]` secrets (`state`, `listen_token`) are still needed: these
/// commands use them.
pub fn load_never_sending(path: &Path) -> Result<Plan, ConfigErrors> {
    let types = Registry {
        secrets: Secrets::Unused,
    };
    crate::config::load(path, &types)
}

/// Like [`load`], for `send-test SINK`: only that sink's secrets must resolve.
pub fn load_for_sink(path: &Path, sink: &str) -> Result<Plan, ConfigErrors> {
    let types = Registry {
        secrets: Secrets::NeededBy(sink.to_string()),
    };
    crate::config::load(path, &types)
}

/// Like [`load`], with the main file's text given (tests, stdin).
pub fn load_str(path: &Path, text: String) -> Result<Plan, ConfigErrors> {
    crate::config::load_str(path, text, &Registry::default())
}
