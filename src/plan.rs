//! The configuration as the program runs it: [`crate::config`]'s validated plan, with each
//! sink's settings typed by [`crate::deliver::config`].
//!
//! Owns the aliases [`Plan`] and [`SinkPlan`] and the loaders [`load`] and [`load_str`]. This
//! is where the two meet, so that `config/` never imports `deliver/`: `config/` knows that a
//! sink has a name, a type and a table; the sink modules know what the table holds.

use std::path::Path;

use crate::config::ConfigErrors;
use crate::deliver::config::{Registry, SinkConfig};

/// The validated configuration, sinks typed.
pub type Plan = crate::config::Plan<SinkConfig>;
/// One `[[sink]]`, typed.
pub type SinkPlan = crate::config::SinkPlan<SinkConfig>;

/// Load, include and validate a configuration, reporting every error found (sinks' included).
pub fn load(path: &Path) -> Result<Plan, ConfigErrors> {
    crate::config::load(path, &Registry)
}

/// Like [`load`], with the main file's text given (tests, stdin).
pub fn load_str(path: &Path, text: String) -> Result<Plan, ConfigErrors> {
    crate::config::load_str(path, text, &Registry)
}
