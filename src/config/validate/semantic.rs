//! Semantic watches' settings: the `[semantic]` table and each watch's `about`, `not_about`,
//! `similarity` and `mode`.
//!
//! Owns [`semantic`], which turns them into the [`SemanticPlan`] (`None` when no watch has
//! `about`), every error located at its key. The model itself is not read here (it takes a
//! second and 100 MB): `check` and `run` load it and say what is missing.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::error::ConfigError;
use crate::config::raw::{RawSemantic, RawWatch, Sp};
use crate::matcher::{Condition, WatchSpec};
use crate::semantic::plan::{BUILT_IN, DEFAULT_SIMILARITY, Mode, SemanticPlan, SemanticWatch};

/// Threads a `[semantic]` table may ask for: more than the cores only adds switching.
const MAX_THREADS: i64 = 64;

pub fn semantic(
    table: Option<&RawSemantic>,
    raw: &[RawWatch],
    specs: &[WatchSpec],
    base: &Path,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigError>,
) -> Option<SemanticPlan> {
    let mut watches = BTreeMap::new();
    for w in raw {
        let Some(name) = &w.name else { continue };
        let name = &name.value;
        let Some(about) = &w.about else {
            if let Some(loc) = [
                w.not_about.as_ref().map(|x| &x.loc),
                w.similarity.as_ref().map(|x| &x.loc),
                w.mode.as_ref().map(|x| &x.loc),
            ]
            .into_iter()
            .flatten()
            .next()
            {
                errors.push(loc.error(format!(
                    "watch `{name}`: `not_about`, `similarity` and `mode` belong to a semantic \
                     watch; add `about = [\"an example sentence\", …]`"
                )));
            }
            continue;
        };
        if !BUILT_IN {
            errors.push(about.loc.error(format!(
                "watch `{name}`: this newswatch was built without semantic watches \
                 (build it with `cargo build --release --features semantic`)"
            )));
            continue;
        }
        let before = errors.len();
        let about = sentences(about, "about", name, errors);
        if about.is_empty() && errors.len() == before {
            errors.push(w.about.as_ref().map_or(&w.loc, |a| &a.loc).error(format!(
                "watch `{name}`: `about` is empty; give one or more example sentences"
            )));
        }
        let not_about = w
            .not_about
            .as_ref()
            .map(|n| sentences(n, "not_about", name, errors))
            .unwrap_or_default();
        let similarity = match &w.similarity {
            None => DEFAULT_SIMILARITY,
            Some(s) if s.value > 0.0 && s.value < 1.0 => s.value as f32,
            Some(s) => {
                errors.push(s.loc.error(format!(
                    "watch `{name}`: `similarity` must be above 0 and below 1 (a cosine; \
                     {DEFAULT_SIMILARITY} by default), got {}",
                    s.value
                )));
                DEFAULT_SIMILARITY
            }
        };
        let keywords = w.terms.is_some() || w.query.is_some();
        let mode = match (&w.mode, keywords) {
            (None, false) => Mode::Alone,
            (None, true) => Mode::Any,
            (Some(m), true) if m.value == "any" => Mode::Any,
            (Some(m), true) if m.value == "all" => Mode::All,
            (Some(m), true) => {
                errors.push(m.loc.error(format!(
                    "watch `{name}`: `mode` is \"any\" (keywords or meaning) or \"all\" \
                     (keywords and meaning), not {:?}",
                    m.value
                )));
                Mode::Any
            }
            (Some(m), false) => {
                errors.push(m.loc.error(format!(
                    "watch `{name}`: `mode` combines `about` with `terms` or `query`, and this \
                     watch has neither"
                )));
                Mode::Alone
            }
        };
        // What the meaning cannot honour is an error, never silently ignored.
        if let Some(x) = w.exclude.first().filter(|_| mode != Mode::All) {
            errors.push(x.loc.error(format!(
                "watch `{name}`: `exclude` vetoes keyword matches only, and a match by meaning \
                 would ignore it; use `not_about` sentences (or `mode = \"all\"`, where every \
                 alert is a keyword match)"
            )));
        }
        // The query as the watch validation parsed it (absent when it did not parse).
        let negates = specs
            .iter()
            .any(|s| s.name == *name && matches!(&s.condition, Condition::Query(e) if e.negates()));
        if let Some(q) = w.query.as_ref().filter(|_| mode == Mode::Any && negates) {
            errors.push(q.loc.error(format!(
                "watch `{name}`: a `NOT` in `query` vetoes keyword matches only, and a match by \
                 meaning would ignore it; use `not_about` sentences (or `mode = \"all\"`, where \
                 every alert is a keyword match)"
            )));
        }
        if let Some(f) = w
            .fields
            .as_ref()
            .and_then(|f| f.first())
            .filter(|_| mode == Mode::Alone)
        {
            errors.push(f.loc.error(format!(
                "watch `{name}`: `fields` chooses where keywords are searched; a watch with \
                 `about` alone reads the title and lead"
            )));
        }
        watches.insert(
            name.clone(),
            SemanticWatch {
                about,
                not_about,
                similarity,
                mode,
            },
        );
    }
    let threads = match table.and_then(|t| t.threads.as_ref()) {
        None => 1,
        Some(t) if (1..=MAX_THREADS).contains(&t.value) => t.value as usize,
        Some(t) => {
            errors.push(t.loc.error(format!(
                "[semantic] `threads` must be 1 to {MAX_THREADS}, got {}",
                t.value
            )));
            1
        }
    };
    if watches.is_empty() {
        // Its model is neither loaded nor checked: a wrong path would go unnoticed until a
        // watch with `about` is added.
        if let Some(t) = table {
            warnings.push(t.loc.error(
                "[semantic] is not used: no watch has `about`, so its model is not loaded \
                 (nor checked)",
            ));
        }
        return None;
    }
    let (model, model_at) = match table.and_then(|t| t.model.as_ref()) {
        Some(m) if !m.value.trim().is_empty() => {
            let at = m.loc.error(String::new());
            (
                base.join(m.value.trim()),
                format!("{}:{}:{}", at.file.display(), at.line, at.column),
            )
        }
        other => {
            let loc = other
                .map(|m| &m.loc)
                .or(table.map(|t| &t.loc))
                .or(raw.iter().find_map(|w| w.about.as_ref().map(|a| &a.loc)));
            if let Some(loc) = loc {
                errors.push(loc.error(
                    "semantic watches need a model: set `[semantic] model = \"/path/to/model\"`, \
                     a folder with config.json, vocab.txt and model.safetensors \
                     (README \"Semantic watches\" says where to get one)",
                ));
            }
            return None;
        }
    };
    Some(SemanticPlan {
        model,
        model_at,
        threads,
        watches,
    })
}

fn sentences(
    list: &Sp<Vec<Sp<String>>>,
    key: &str,
    name: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<String> {
    let mut out = Vec::new();
    for s in &list.value {
        let text = s.value.trim();
        if text.is_empty() {
            errors.push(
                s.loc
                    .error(format!("watch `{name}`: an empty sentence in `{key}`")),
            );
        } else {
            out.push(text.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "semantic")]
    use crate::semantic::plan::{DEFAULT_SIMILARITY, Mode};

    fn load(top: &str, watch: &str) -> Result<crate::plan::Plan, String> {
        crate::plan::load_str(
            std::path::Path::new("/etc/nw/t.toml"),
            format!(
                "{top}\n[[feed]]\nname = \"f\"\nurl = \"https://x.example/rss\"\n\n\
                 [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
                 [[watch]]\nname = \"w\"\n{watch}\n"
            ),
        )
        .map_err(|e| e.to_string())
    }

    const MODEL: &str = "[semantic]\nmodel = \"models/minilm\"\n";

    #[test]
    fn settings_of_a_semantic_watch_without_about_are_an_error() {
        let e = load("", "terms = [\"Kursk\"]\nsimilarity = 0.5").unwrap_err();
        assert!(e.contains("t.toml:13:") && e.contains("add `about"), "{e}");
        assert!(load("", "terms = [\"Kursk\"]").unwrap().semantic.is_none());
    }

    #[cfg(not(feature = "semantic"))]
    #[test]
    fn without_the_feature_about_says_how_to_build_it() {
        let e = load(MODEL, "about = [\"troops abroad\"]").unwrap_err();
        assert!(e.contains("built without semantic watches"), "{e}");
        assert!(e.contains("--features semantic"), "{e}");
    }

    #[cfg(feature = "semantic")]
    #[test]
    fn a_semantic_watch_is_planned_with_its_defaults() {
        let p = load(MODEL, "about = [\"troops abroad\", \" soldiers sent \"]").unwrap();
        let sp = p.semantic.unwrap();
        assert_eq!(sp.model, std::path::Path::new("/etc/nw/models/minilm"));
        assert_eq!(sp.threads, 1);
        let w = &sp.watches["w"];
        assert_eq!(w.about, ["troops abroad", "soldiers sent"]);
        assert_eq!((w.mode, w.similarity), (Mode::Alone, DEFAULT_SIMILARITY));
        // No keyword condition: only the meaning can match it.
        assert_eq!(p.watches.term_count(), 0);

        let p = load(
            &format!("{MODEL}threads = 2\n"),
            "terms = [\"Kursk\"]\nabout = [\"x\"]\nnot_about = [\"y\"]\nsimilarity = 0.6",
        )
        .unwrap();
        let sp = p.semantic.unwrap();
        let w = &sp.watches["w"];
        assert_eq!((w.mode, w.similarity, sp.threads), (Mode::Any, 0.6, 2));
        assert_eq!(w.not_about, ["y"]);
        let p = load(
            MODEL,
            "query = \"Kursk NOT sport\"\nabout = [\"x\"]\nmode = \"all\"\nexclude = [\"sport\"]",
        )
        .unwrap();
        assert_eq!(p.semantic.unwrap().watches["w"].mode, Mode::All);
        // Keyword fields beside a meaning: they scope the keywords.
        let scoped = load(
            MODEL,
            "terms = [\"Kursk\"]\nabout = [\"x\"]\nfields = [\"title\"]",
        );
        assert!(scoped.is_ok(), "{scoped:?}");
    }

    #[cfg(feature = "semantic")]
    #[test]
    fn every_mistake_is_reported_at_its_key() {
        for (top, watch, line, needle) in [
            ("", "about = [\"x\"]", 12, "need a model"),
            (
                "[semantic]\nthreads = 1\n",
                "about = [\"x\"]",
                1,
                "need a model",
            ),
            (MODEL, "about = []", 14, "`about` is empty"),
            (MODEL, "about = [\"\"]", 14, "an empty sentence in `about`"),
            (
                MODEL,
                "about = [\"x\"]\nsimilarity = 1.5",
                15,
                "above 0 and below 1",
            ),
            (MODEL, "about = [\"x\"]\nmode = \"all\"", 15, "has neither"),
            (
                MODEL,
                "terms = [\"a\"]\nabout = [\"x\"]\nmode = \"both\"",
                16,
                "\"any\"",
            ),
            (
                "[semantic]\nmodel = \"m\"\nthreads = 0\n",
                "about = [\"x\"]",
                3,
                "`threads`",
            ),
            (
                MODEL,
                "about = [\"x\"]\nexclude = [\"sport\"]",
                15,
                "use `not_about`",
            ),
            (
                MODEL,
                "terms = [\"a\"]\nabout = [\"x\"]\nexclude = [\"sport\"]",
                16,
                "use `not_about`",
            ),
            (
                MODEL,
                "query = \"troops NOT football\"\nabout = [\"x\"]",
                14,
                "a `NOT` in `query`",
            ),
            (
                MODEL,
                "about = [\"x\"]\nfields = [\"title\"]",
                15,
                "title and lead",
            ),
        ] {
            let e = load(top, watch).unwrap_err();
            assert!(
                e.contains(&format!("t.toml:{line}:")) && e.contains(needle),
                "{watch}: {e}"
            );
        }
    }
}
