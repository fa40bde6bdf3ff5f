//! Configuration errors that point at a file, line and column.
//!
//! Owns [`ConfigError`] (one problem) and [`ConfigErrors`] (all problems of one load, reported at
//! once, sorted by file and position). Produced by the reader and the validator; printed by
//! `newswatch check` and logged on a failed reload.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One configuration problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: Arc<Path>,
    /// 1-based line and column; 0 when the problem concerns the whole file.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// Every problem found while loading a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        let n = self.0.len();
        write!(f, "{n} error{}", if n == 1 { "" } else { "s" })
    }
}

/// A source file being read: its path and text, for turning byte spans into line:column.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: Arc<Path>,
    pub text: Arc<str>,
    /// Byte offset of each line's start, made on the first lookup.
    line_starts: Arc<std::sync::OnceLock<Vec<usize>>>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
            line_starts: Arc::default(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset. Every located value of the
    /// file asks: a scan from the top each time made loading 100,000 feeds take minutes.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        // The last line start at or before the offset (the first is 0, so there is one).
        let line = starts.partition_point(|&s| s <= offset).max(1);
        let line_start = starts[line - 1];
        let column = self
            .text
            .get(line_start..offset)
            .map_or(0, |t| t.chars().count())
            + 1;
        (line, column)
    }

    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        let (line, column) = self.line_col(span.start);
        ConfigError {
            file: self.path.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    pub fn file_error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.path.clone(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let f = SourceFile::new("x.toml".into(), "a = 1\nné = \"x\"\n".into());
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(6), (2, 1));
        // "né = " is 6 bytes but 5 characters.
        assert_eq!(f.line_col(12), (2, 6));
        // The end of the file, and past it.
        assert_eq!(f.line_col(17), (3, 1));
        assert_eq!(f.line_col(99), (3, 1));
    }

    /// Regression: line_col scanned the text from the top on every call, and the reader asks
    /// for every located value, so a file of 100,000 feeds took minutes to load.
    #[test]
    fn loading_a_config_of_many_feeds_was_quadratic_in_line_col() {
        let text: String = (0..20_000)
            .map(|i| format!("[[feed]]\nname = \"f{i}\"\nurl = \"https://x.example/{i}\"\n"))
            .collect();
        let f = SourceFile::new("x.toml".into(), text.clone());
        // Lookups agree with counting by hand...
        for offset in (0..text.len()).step_by(4999) {
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            assert_eq!(f.line_col(offset), (line, col), "offset {offset}");
        }
        // ...and one per line of a 1.1 MB file takes milliseconds (scanning from the top
        // each time: tens of seconds).
        let started = std::time::Instant::now();
        let lines: usize = text.match_indices('\n').map(|(i, _)| f.line_col(i).0).sum();
        assert!(lines > 0);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
