//! What the configuration asks of semantic watches: the model folder and each watch's example
//! sentences, threshold and how its meaning combines with its keywords.
//!
//! Built by the config layer (`[semantic]` and the watches' `about`, `not_about`, `similarity`,
//! `mode`), read by `try`, `check` and the daemon. Types crossing the boundary:
//! [`SemanticPlan`], [`SemanticWatch`], [`Mode`].

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The default `similarity`: the best F1 of the labelled set (README "Semantic watches").
pub const DEFAULT_SIMILARITY: f32 = 0.42;

/// Whether this build can run semantic watches (cargo feature `semantic`).
pub const BUILT_IN: bool = cfg!(feature = "semantic");

/// How a watch's meaning combines with its `terms` or `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No keywords: the meaning alone decides.
    Alone,
    /// Keywords or meaning: either one alerts (adding `about` never hides a keyword match).
    Any,
    /// Keywords and meaning: the keywords find candidates, the meaning confirms them.
    All,
}

impl Mode {
    /// Whether a watch in this mode alerts, given whether its keywords matched and whether
    /// the meaning did.
    pub fn alerts(self, keyword: bool, meaning: bool) -> bool {
        match self {
            Mode::Alone => meaning,
            Mode::Any => keyword || meaning,
            Mode::All => keyword && meaning,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Alone => "alone",
            Mode::Any => "any",
            Mode::All => "all",
        }
    }
}

/// One semantic watch's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticWatch {
    pub about: Vec<String>,
    pub not_about: Vec<String>,
    pub similarity: f32,
    pub mode: Mode,
}

/// The `[semantic]` table and every watch with `about`, by watch name.
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticPlan {
    /// The model folder (`config.json`, `vocab.txt`, `model.safetensors`).
    pub model: PathBuf,
    /// Where the configuration names it (`file:line:column`), for the errors of loading it;
    /// empty for a plan made in code.
    pub model_at: String,
    /// Threads that embed items (default 1: one core, off the polling path).
    pub threads: usize,
    pub watches: BTreeMap<String, SemanticWatch>,
}

#[cfg(test)]
mod tests {
    use super::Mode;

    #[test]
    fn modes_combine_keywords_and_meaning() {
        let table = |m: Mode| {
            [(false, false), (true, false), (false, true), (true, true)]
                .map(|(k, s)| m.alerts(k, s))
        };
        assert_eq!(table(Mode::Alone), [false, false, true, true]);
        assert_eq!(table(Mode::Any), [false, true, true, true]);
        assert_eq!(table(Mode::All), [false, false, false, true]);
    }
}
