//! Text processing shared by ingestion and matching.
//!
//! - [`html`]: HTML → plain text, entity decoding.
//! - [`fold`]: the matching fold (NFKC, case fold, diacritics, separators) with a map back to
//!   the original bytes.
//! - [`mojibake`]: undoing double-encoded UTF-8 (`Ã©` → `é`) in whole fields.
//! - [`script`]: character classes for word boundaries (unspaced scripts, Hangul).

pub mod fold;
pub mod html;
pub mod mojibake;
pub mod script;
