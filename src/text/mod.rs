//! Text processing shared by ingestion and matching.
//!
//! - [`html`]: HTML → plain text, entity decoding.
//! - [`fold`]: the matching fold (NFKC, case fold, diacritics, separators) with a map back to
//!   the original bytes.
//! - [`script`]: character classes for word boundaries (unspaced scripts, Hangul).

pub mod fold;
pub mod html;
pub mod script;
