//! Configuration: TOML files → [`RawConfig`] → validated [`Plan`].
//!
//! - [`duration`]: durations as settings write them (a capital `M` alone is refused).
//! - [`error`]: [`ConfigError`] with file:line:column, [`ConfigErrors`] for all of them at once.
//! - [`raw`]: reads TOML (main file and `include` globs) into span-carrying raw structs; an
//!   `include` pattern that matches no file is an error, an `include_optional` one is not.
//! - [`validate`]: checks meaning and references and builds the [`Plan`]. Sinks are declared
//!   here (name, type, table); their settings are typed by a [`SinkTypes`] the caller passes
//!   (the sink modules own them: `config/` knows no platform's keys).
//! - [`secret`]: `env:` / `file:` / `credential:` references and the redacting [`Secret`].
//! - [`plan`]: the typed, validated configuration the daemon and `try` run on.

pub mod duration;
pub mod error;
pub mod plan;
pub mod rate;
pub mod raw;
pub mod secret;
pub mod validate;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, ConfigErrors, SourceFile};
pub use plan::{DaemonPlan, FeedPlan, FeedSource, OnNewFeed, Plan, SinkPlan};
pub use raw::{Loc, RawConfig, RawScalar, Sp, closest};
pub use secret::Secret;
pub use validate::{SinkDecl, SinkTypes};

/// The config path used when none is given: `$NEWSWATCH_CONFIG`, else
/// `/etc/newswatch/newswatch.toml`. An empty variable counts as unset (it named no file, and
/// the error said so with an empty name).
pub fn default_path() -> PathBuf {
    std::env::var_os("NEWSWATCH_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/newswatch/newswatch.toml"))
}

/// Load, include and validate a configuration, reporting every error found; `types` types
/// each sink's settings.
pub fn load<T: SinkTypes>(path: &Path, types: &T) -> Result<Plan<T::Config>, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.into(),
            line: 0,
            column: 0,
            message: format!("cannot read configuration: {e}"),
        }])
    })?;
    load_str(path, text, types)
}

/// Like [`load`], with the main file's text given (tests, stdin).
pub fn load_str<T: SinkTypes>(
    path: &Path,
    text: String,
    types: &T,
) -> Result<Plan<T::Config>, ConfigErrors> {
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let main = SourceFile::new(path.to_path_buf(), text);
    let mut raw = RawConfig::default();
    let mut errors = Vec::new();
    raw::read_file(&main, true, &mut raw, &mut errors);
    let includes: Vec<(Sp<String>, bool)> = raw
        .daemon
        .as_ref()
        .map(|d| {
            let required = d.include.iter().map(|p| (p.clone(), false));
            let optional = d.include_optional.iter().map(|p| (p.clone(), true));
            required.chain(optional).collect()
        })
        .unwrap_or_default();
    // Each file is read once, compared by its canonical path: overlapping patterns, or a
    // pattern matching the main file under another spelling (`./main.toml`, an absolute
    // path), read a file twice and reported its feeds as duplicates of themselves.
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let main_file = canonical(path);
    let mut read: Vec<PathBuf> = vec![main_file.clone()];
    for (pattern, optional) in includes {
        let full = base.join(&pattern.value);
        let Some(base_text) = base.to_str() else {
            errors.push(pattern.loc.error("include path is not valid UTF-8"));
            continue;
        };
        // The folder is a path, not a pattern: a `[`, `*` or `?` in its name (`/srv/nw[prod]/`)
        // matched nothing.
        let full_pattern = if Path::new(&pattern.value).is_absolute() {
            pattern.value.clone()
        } else {
            Path::new(&glob::Pattern::escape(base_text))
                .join(&pattern.value)
                .to_string_lossy()
                .into_owned()
        };
        let paths = match glob::glob(&full_pattern) {
            Ok(p) => p,
            Err(e) => {
                errors.push(pattern.loc.error(format!(
                    "include \"{}\" is not a valid glob: {e}",
                    pattern.value
                )));
                continue;
            }
        };
        // A folder the pattern crosses that cannot be read hid its files: an optional
        // include dropped them silently, a required one said it matched nothing.
        let mut files: Vec<PathBuf> = Vec::new();
        for p in paths {
            match p {
                Ok(p) if p.is_file() => files.push(p),
                Ok(_) => {}
                Err(e) => errors.push(pattern.loc.error(format!(
                    "include \"{}\": cannot read `{}`: {}",
                    pattern.value,
                    e.path().display(),
                    e.error()
                ))),
            }
        }
        files.sort();
        // A pattern that matches nothing (a renamed `sinks.toml`) would silently drop the
        // sinks or watches it was meant to bring in.
        if files.is_empty() && !optional {
            errors.push(pattern.loc.error(format!(
                "include \"{}\" matches no file (looked for {}); list the pattern under \
                 `include_optional` if it may match nothing",
                pattern.value,
                full.display()
            )));
        } else if !optional && files.iter().all(|f| canonical(f) == main_file) {
            errors.push(pattern.loc.error(format!(
                "include \"{}\" matches only this main configuration file itself",
                pattern.value
            )));
        }
        for f in files {
            let c = canonical(&f);
            if read.contains(&c) {
                continue;
            }
            read.push(c);
            match std::fs::read_to_string(&f) {
                Ok(t) => {
                    let src = SourceFile::new(f, t);
                    raw::read_file(&src, false, &mut raw, &mut errors);
                }
                Err(e) => {
                    raw.incomplete = true;
                    errors.push(
                        pattern
                            .loc
                            .error(format!("cannot read included file `{}`: {e}", f.display())),
                    );
                }
            }
        }
    }
    let result = if errors.is_empty() {
        validate::validate(raw, path, &base, types)
    } else {
        // Still validate what could be read, so one run lists every problem; the plan is
        // discarded because the raw config is incomplete.
        match validate::validate(raw, path, &base, types) {
            Ok(_) => Err(Vec::new()),
            Err(more) => Err(more),
        }
    };
    match result {
        Ok(mut plan) if errors.is_empty() => {
            plan.warnings = sorted(std::mem::take(&mut plan.warnings)).0;
            Ok(plan)
        }
        Ok(_) => Err(sorted(errors)),
        Err(more) => {
            errors.extend(more);
            Err(sorted(errors))
        }
    }
}

fn sorted(mut errors: Vec<ConfigError>) -> ConfigErrors {
    errors.sort_by(|a, b| {
        (a.file.as_ref(), a.line, a.column).cmp(&(b.file.as_ref(), b.line, b.column))
    });
    errors.dedup();
    ConfigErrors(errors)
}
