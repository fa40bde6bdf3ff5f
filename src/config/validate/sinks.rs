//! The `[[sink]]` half of validation: names, duplicates and the `type` key. What a sink of a
//! given type accepts is not known here: each declared sink is handed, with its raw table and
//! every location in it, to a [`SinkTypes`] supplied by the caller, which types it and reports
//! its errors into the same list.
//!
//! Owns [`SinkTypes`], [`SinkDecl`], [`sinks`] and [`unused`], called by [`super::validate`].

use std::collections::HashMap;
use std::path::Path;

use crate::config::error::ConfigError;
use crate::config::plan::SinkPlan;
use crate::config::raw::{Loc, RawScalar, RawSink, Sp};

use super::file_dir;

/// One declared sink as `config/` sees it: a name, a type and a table of settings, each with
/// where it was written.
#[derive(Debug, Clone, Copy)]
pub struct SinkDecl<'a> {
    pub name: &'a str,
    pub kind: &'a Sp<String>,
    /// The `[[sink]]` table itself (errors about a missing key point here).
    pub loc: &'a Loc,
    /// Every key but `name` and `type`, in file order.
    pub settings: &'a [(Sp<String>, Sp<RawScalar>)],
    /// Keys written with a value the reader refused (reported by it already): not missing.
    pub mistyped: &'a [String],
    /// The folder of the file the sink is written in: relative paths (`file:` secrets,
    /// `template_file`) are relative to it.
    pub dir: &'a Path,
}

impl<'a> SinkDecl<'a> {
    /// A setting's value, if it is written.
    pub fn get(&self, key: &str) -> Option<&'a Sp<RawScalar>> {
        self.settings
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(_, v)| v)
    }

    /// Where a setting is written (the sink's table when it is not).
    pub fn loc_of(&self, key: &str) -> &'a Loc {
        self.get(key).map_or(self.loc, |v| &v.loc)
    }
}

/// Whoever knows the sink types: turns one declared sink into its typed configuration, or
/// pushes every problem with it (file:line:column) and answers `None`.
pub trait SinkTypes {
    type Config;
    fn parse(&self, sink: &SinkDecl<'_>, errors: &mut Vec<ConfigError>) -> Option<Self::Config>;
}

fn sink<T: SinkTypes>(
    s: &RawSink,
    base: &Path,
    types: &T,
    errors: &mut Vec<ConfigError>,
) -> Option<SinkPlan<T::Config>> {
    // Without a name the sink is still checked (every error at once), then left out.
    let (name, named) = match &s.name {
        Some(n) if !n.value.trim().is_empty() => {
            super::control_in_name("sink", n, errors);
            (n.value.clone(), true)
        }
        Some(n) => {
            errors.push(n.loc.error("sink `name` must not be empty"));
            (String::from("(unnamed)"), false)
        }
        None => {
            if !s.mistyped.iter().any(|k| k == "name") {
                errors.push(s.loc.error("[[sink]] needs a `name`"));
            }
            (String::from("(unnamed)"), false)
        }
    };
    let Some(kind) = &s.kind else {
        if !s.mistyped.iter().any(|k| k == "type") {
            errors.push(s.loc.error(format!("sink `{name}` needs a `type`")));
        }
        return None;
    };
    let decl = SinkDecl {
        name: &name,
        kind,
        loc: &s.loc,
        settings: &s.settings,
        mistyped: &s.mistyped,
        dir: file_dir(&s.loc, base),
    };
    let config = types.parse(&decl, errors)?;
    named.then_some(SinkPlan { name, config })
}

pub(super) fn sinks<T: SinkTypes>(
    raw: &[RawSink],
    base: &Path,
    types: &T,
    errors: &mut Vec<ConfigError>,
) -> Vec<SinkPlan<T::Config>> {
    let mut out = Vec::new();
    let mut seen: HashMap<String, Loc> = HashMap::new();
    for s in raw {
        if let Some(n) = &s.name
            && let Some(prev) = seen.get(&n.value)
        {
            errors.push(n.loc.error(format!(
                "duplicate sink name `{}` (first defined at {}:{})",
                n.value,
                prev.file.display(),
                prev.line
            )));
            // Its settings are still checked, then it is left out.
            let _ = sink(s, base, types, errors);
            continue;
        }
        if let Some(n) = &s.name {
            seen.insert(n.value.clone(), n.loc.clone());
        }
        if let Some(p) = sink(s, base, types, errors) {
            out.push(p);
        }
    }
    out
}

/// A sink no watch sends to (every watch names its `sinks`, none this one) and that gets no
/// health alerts either: it is sent nothing, which its author hardly meant (a sink added
/// without adding it to the watches' lists). A warning at its name: `send-test` still uses it.
pub fn unused(
    raw: &[RawSink],
    watch_sinks: &std::collections::HashSet<&str>,
    health_sinks: &[String],
) -> Vec<ConfigError> {
    raw.iter()
        .filter_map(|s| s.name.as_ref())
        .filter(|n| !watch_sinks.contains(n.value.as_str()) && !health_sinks.contains(&n.value))
        .map(|n| {
            n.loc.error(format!(
                "sink `{}` is sent nothing: no watch names it in its `sinks` (nor \
                 `[daemon] health_sinks`)",
                n.value
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    fn warnings(text: &str) -> Vec<String> {
        crate::plan::load_str(std::path::Path::new("t.toml"), text.to_string())
            .unwrap()
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const SINKS: &str = "[[sink]]\nname = \"a\"\ntype = \"stdout\"\n\n\
                         [[sink]]\nname = \"b\"\ntype = \"stdout\"\n\n";

    /// A sink is sent something when a watch names it, when a watch names no `sinks` (it
    /// sends to every sink), or when it gets health alerts; else it is warned of.
    #[test]
    fn a_sink_no_watch_names_is_a_warning() {
        let named =
            format!("{SINKS}[[watch]]\nname = \"w\"\nterms = [\"Kursk\"]\nsinks = [\"a\"]\n");
        assert_eq!(
            warnings(&named),
            [
                "t.toml:6:8: sink `b` is sent nothing: no watch names it in its `sinks` (nor \
              `[daemon] health_sinks`)"
            ]
        );
        let health = format!("[daemon]\nhealth_sinks = [\"b\"]\n\n{named}");
        assert!(warnings(&health).is_empty());
        let every = format!("{SINKS}[[watch]]\nname = \"w\"\nterms = [\"Kursk\"]\n");
        assert!(warnings(&every).is_empty());
    }
}
